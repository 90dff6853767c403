"""Propensity scores, IPW weights and balance diagnostics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import DataValidationError
from analysis.weighting import balance_table, ipw_weights, overlap_plot, propensity_scores


@pytest.fixture(scope="module")
def selected() -> pd.DataFrame:
    """Selection on observables: P(D=1 | x) = logistic(-0.3 + 0.8 x1 - 0.6 x2 + 0.5 urban);
    outcome y = 1 * D + x1 - x2 + noise, so the ATT is 1 and the raw difference is biased."""
    rng = np.random.default_rng(42)
    n = 3000
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    urban = rng.random(n) < 0.4
    p = 1 / (1 + np.exp(-(-0.3 + 0.8 * x1 - 0.6 * x2 + 0.5 * urban)))
    d = (rng.random(n) < p).astype(int)
    y = 1.0 * d + x1 - x2 + rng.normal(size=n)
    area = np.where(urban, "urban", "rural")
    return pd.DataFrame({"d": d, "x1": x1, "x2": x2, "area": area, "y": y})


def test_smd_hand_computed():
    # treated x = 1, 2, 3 (mean 2, var 1); controls 2, 4, 6, 8 (mean 5, var 20/3)
    df = pd.DataFrame({"d": [1, 1, 1, 0, 0, 0, 0], "x": [1, 2, 3, 2, 4, 6, 8.0]})
    pooled = np.sqrt((1 + 20 / 3) / 2)
    tab = balance_table(df, treatment="d", covariates=["x"])
    row = tab.iloc[0]
    assert list(tab.columns[:6]) == [
        "covariate",
        "mean_treated",
        "mean_control",
        "smd_unweighted",
        "smd_weighted",
        "variance_ratio",
    ]
    assert row["mean_treated"] == 2 and row["mean_control"] == 5
    assert row["smd_unweighted"] == pytest.approx(-3 / pooled)  # -1.53225
    assert row["smd_unweighted"] == pytest.approx(-1.532262, abs=1e-6)
    assert np.isnan(row["smd_weighted"])
    assert row["variance_ratio"] == pytest.approx(0.15)
    # weights drop the control with x = 8: weighted control mean 4, weighted variance 4
    w = [1, 1, 1, 1, 1, 1, 0]
    row = balance_table(df, treatment="d", covariates=["x"], weights=w).iloc[0]
    assert row["mean_control_weighted"] == pytest.approx(4.0)
    assert row["smd_weighted"] == pytest.approx(-2 / pooled)  # same denominator as before
    assert row["variance_ratio"] == pytest.approx(1 / 4)


def test_ipw_weights_formulas():
    ps = pd.Series([0.2, 0.5, 0.8, 0.25], index=list("abcd"))
    d = pd.Series([1, 0, 0, 1], index=list("abcd"))
    np.testing.assert_allclose(ipw_weights(ps, d, "att"), [1, 1, 4, 1])
    np.testing.assert_allclose(ipw_weights(ps, d, "ate"), [5, 2, 5, 4])
    np.testing.assert_allclose(ipw_weights(ps, d, "atc"), [4, 1, 1, 3])
    wn = ipw_weights(ps, d, "ate", normalize=True)
    assert wn[["a", "d"]].sum() == pytest.approx(2) and wn[["b", "c"]].sum() == pytest.approx(2)
    assert list(ipw_weights(ps, d).index) == list("abcd")


def test_propensity_scores_logit_properties(selected):
    ps = propensity_scores(selected, treatment="d", covariates=["x1", "x2", "area"])
    assert ps.name == "propensity_score" and ps.index.equals(selected.index)
    # logit MLE with an intercept: fitted probabilities average to the treated share
    assert ps.mean() == pytest.approx(selected["d"].mean(), abs=1e-8)
    coef = ps.attrs["coefficients"]
    assert coef["x1"] == pytest.approx(0.8, abs=0.15)
    assert coef["x2"] == pytest.approx(-0.6, abs=0.15)
    assert coef["area=urban"] == pytest.approx(0.5, abs=0.2)
    assert ps.attrs["backend"].startswith("statsmodels")


@pytest.mark.parametrize("estimand", ["att", "ate"])
def test_weighting_balances_covariates(selected, estimand):
    covs = ["x1", "x2", "area"]
    ps = propensity_scores(selected, treatment="d", covariates=covs)
    w = ipw_weights(ps, selected["d"], estimand)
    tab = balance_table(selected, treatment="d", covariates=covs, weights=w).set_index("covariate")
    assert abs(tab.loc["x1", "smd_unweighted"]) > 0.4  # selection creates imbalance
    assert abs(tab.loc["x2", "smd_unweighted"]) > 0.3
    assert (tab["smd_weighted"].abs() < 0.1).all()
    assert set(tab.index) == {"x1", "x2", "area=rural", "area=urban"}


def test_att_weights_recover_effect(selected):
    ps = propensity_scores(selected, treatment="d", covariates=["x1", "x2", "area"])
    w = ipw_weights(ps, selected["d"], "att")
    t = selected["d"] == 1
    naive = selected.loc[t, "y"].mean() - selected.loc[~t, "y"].mean()
    att = selected.loc[t, "y"].mean() - np.average(selected.loc[~t, "y"], weights=w[~t])
    assert abs(naive - 1) > 0.3
    assert att == pytest.approx(1.0, abs=0.15)


def test_unit_level_propensity():
    rng = np.random.default_rng(1)
    units = pd.DataFrame({"school": np.arange(60), "x": rng.normal(size=60)})
    units["d"] = (rng.random(60) < 1 / (1 + np.exp(-units["x"]))).astype(int)
    panel = units.loc[units.index.repeat(3)].reset_index(drop=True)
    panel["year"] = np.tile([1, 2, 3], 60)
    ps = propensity_scores(panel, treatment="d", covariates=["x"], unit="school")
    direct = propensity_scores(units.set_index("school"), treatment="d", covariates=["x"])
    assert ps.index.name == "school" and len(ps) == 60
    np.testing.assert_allclose(ps.to_numpy(), direct.to_numpy())
    panel.loc[panel.index[1], "x"] = 99.0  # x varies within school 0
    with pytest.raises(DataValidationError, match="constant within each school"):
        propensity_scores(panel, treatment="d", covariates=["x"], unit="school")


def test_overlap_plot_returns_figure(selected):
    import matplotlib.figure
    import matplotlib.pyplot as plt

    ps = propensity_scores(selected, treatment="d", covariates=["x1", "x2"])
    fig = overlap_plot(ps, selected["d"])
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 1
    bars = fig.axes[0].patches
    assert sum(b.get_height() for b in bars if b.get_height() > 0) == selected["d"].sum()
    plt.close(fig)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda df: propensity_scores(df, treatment="d", covariates=["nope"]), "not found"),
        (
            lambda df: propensity_scores(
                df.assign(d=df["d"] * 2), treatment="d", covariates=["x1"]
            ),
            "0/1",
        ),
        (
            lambda df: propensity_scores(df.assign(d=1), treatment="d", covariates=["x1"]),
            "both treated",
        ),
        (
            lambda df: propensity_scores(
                df.assign(x3=df["x1"] * 2), treatment="d", covariates=["x1", "x3"]
            ),
            "collinear",
        ),
        (
            lambda df: propensity_scores(
                df.assign(z=df["d"] + 0.0), treatment="d", covariates=["z"]
            ),
            "perfect separation",
        ),
        (lambda df: ipw_weights([0.5, 1.0], [1, 0]), "strictly between 0 and 1"),
        (lambda df: ipw_weights([0.5, 0.4], [1, 0], "atx"), "estimand"),
        (
            lambda df: balance_table(df, treatment="d", covariates=["x1"], weights=np.ones(3)),
            "one value per row",
        ),
        (
            lambda df: balance_table(
                df, treatment="d", covariates=["x1"], weights=-np.ones(len(df))
            ),
            "non-negative",
        ),
        (lambda df: overlap_plot([0.2, 1.3], [1, 0]), r"\[0, 1\]"),
    ],
)
def test_bad_input_raises(selected, call, match):
    with pytest.raises(DataValidationError, match=match):
        call(selected.head(200))


def test_missing_values_name_column_and_rows(selected):
    df = selected.head(50).copy()
    df.loc[[4, 9], "x2"] = np.nan
    with pytest.raises(DataValidationError) as err:
        balance_table(df, treatment="d", covariates=["x1", "x2"])
    msg = str(err.value)
    assert "DataFrame argument" in msg and "'x2'" in msg and "4, 9" in msg
