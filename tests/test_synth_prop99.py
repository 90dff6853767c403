"""Proposition 99 (California, 1989): the three estimators against published numbers.

References (see /work/shared/reference/REFERENCE.md, "Proposition 99"):
R ``synthdid`` vignette / Arkhangelsky et al. (2021) Table 1 for synthetic DiD and DiD; the
outcome-only synthetic control (19 pre-years, simplex weights, no intercept) as computed by
R ``synthdid::sc_estimate`` (-19.62) and Stata ``sdid`` (-19.48); ADH (2010) for the in-space
placebo convention.
"""

import json

import numpy as np
import pandas as pd
import pytest

from analysis import paths, synth
from analysis.estimate import Estimate
from analysis.synth.synthetic_did import sdid_point

pytestmark = pytest.mark.reference

KW = dict(outcome="packs", unit="state", time="year", treated_unit="California", start=1989)


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    wide = pd.read_csv(paths.REFERENCE_DIR / "california_prop99.csv")
    long = wide.melt(id_vars="Year", var_name="state", value_name="packs")
    return long.rename(columns={"Year": "year"})


@pytest.fixture(scope="module")
def sdid(prop99):
    return synth.synthetic_did(prop99, **KW)


@pytest.fixture(scope="module")
def did(prop99):
    return synth.panel_did(prop99, **KW)


@pytest.fixture(scope="module")
def sc(prop99):
    return synth.synthetic_control(prop99, **KW)


# --------------------------------------------------------------------------- synthetic DiD
def test_sdid_att(sdid):
    assert sdid.att == pytest.approx(-15.60383, abs=0.01)
    assert (sdid.n_pre, sdid.n_post, len(sdid.donors)) == (19, 12, 38)
    assert sdid.excluded.empty


@pytest.mark.parametrize(
    "state, weight",
    [
        ("Nevada", 0.124),
        ("New Hampshire", 0.105),
        ("Connecticut", 0.078),
        ("Delaware", 0.070),
        ("Colorado", 0.058),
    ],
)
def test_sdid_unit_weights(sdid, state, weight):
    assert sdid.weights[state] == pytest.approx(weight, abs=0.005)


def test_sdid_unit_weights_order_and_simplex(sdid):
    top = sdid.weights.sort_values(ascending=False).index[:5].tolist()
    assert top == ["Nevada", "New Hampshire", "Connecticut", "Delaware", "Colorado"]
    assert sdid.weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert (sdid.weights >= 0).all()


@pytest.mark.parametrize("year, weight", [(1988, 0.427), (1986, 0.366), (1987, 0.206)])
def test_sdid_time_weights(sdid, year, weight):
    assert sdid.time_weights[year] == pytest.approx(weight, abs=0.005)


def test_sdid_time_weights_only_three_years(sdid):
    tw = sdid.time_weights
    assert tw.drop([1986, 1987, 1988]).sum() < 0.005


def test_sdid_placebo_se(sdid):
    # published 8.4 (R, set.seed(12345), 200 reps); the exhaustive value over the 38 possible
    # pseudo-treated states is 9.37 and 200 seeded draws land between about 8 and 10.5.
    assert 6 < sdid.se < 11
    z = 1.959963984540054
    assert sdid.ci_low == pytest.approx(sdid.att - z * sdid.se)
    assert sdid.ci_high == pytest.approx(sdid.att + z * sdid.se)
    est = sdid.to_estimate()
    assert isinstance(est, Estimate)
    assert est.se == sdid.se and est.estimate == sdid.att
    assert est.extra["replications"] == 200


def test_sdid_se_is_seeded(prop99, sdid):
    again = synth.synthetic_did(prop99, **KW, seed=0)
    other = synth.synthetic_did(prop99, **KW, seed=1, replications=50)
    assert again.se == sdid.se
    assert other.se != sdid.se
    assert other.att == pytest.approx(sdid.att, abs=1e-10)


def test_sdid_fast_refit_matches_library(sdid):
    # the point-only re-fit used in placebo loops reproduces diff-diff's SyntheticDiD.fit
    point = sdid_point(sdid._panel)
    assert point.att == pytest.approx(sdid.att, abs=1e-8)
    np.testing.assert_allclose(point.weights, sdid.weights.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(point.time_weights, sdid.time_weights.to_numpy(), atol=1e-8)


def test_sdid_effects_average_to_att(sdid):
    eff = sdid.effects
    assert list(eff.columns) == ["time", "observed", "counterfactual", "gap", "post"]
    assert eff.loc[eff["post"], "gap"].mean() == pytest.approx(sdid.att, abs=1e-9)
    assert eff["post"].sum() == 12


# -------------------------------------------------------------------------------- DiD
def test_did_att(did):
    assert did.att == pytest.approx(-27.349, abs=0.01)


def test_did_pyfixest_equals_closed_form(did):
    assert did._fit.extra["closed_form_att"] == pytest.approx(did.att, abs=1e-8)
    eff = did.effects
    assert eff.loc[eff["post"], "gap"].mean() == pytest.approx(did.att, abs=1e-8)
    np.testing.assert_allclose(did.weights.to_numpy(), 1 / 38)
    np.testing.assert_allclose(did.time_weights.to_numpy(), 1 / 19)


def test_did_placebo_se(did):
    # paper Table 1: 17.7; exhaustive value over the 38 pseudo-treated states 17.3
    assert 14 < did.se < 21
    est = did.to_estimate()
    assert est.se == did.se
    assert 0 < est.p_value < 1
    assert est.extra["permutation_n_units"] == 39


# ------------------------------------------------------------------- synthetic control
def test_sc_att_and_gap(sc):
    assert sc.att == pytest.approx(-19.5, abs=0.2)
    eff = sc.effects.set_index("time")
    assert eff.loc[2000, "gap"] == pytest.approx(-26.6, abs=0.3)
    assert eff.loc[eff["post"], "gap"].mean() == pytest.approx(sc.att, abs=1e-9)


@pytest.mark.parametrize(
    "state, weight", [("Utah", 0.39), ("Montana", 0.23), ("Nevada", 0.21), ("Connecticut", 0.11)]
)
def test_sc_weights(sc, state, weight):
    assert sc.weights[state] == pytest.approx(weight, abs=0.02)


def test_sc_weights_largest_four(sc):
    top = sc.weights.sort_values(ascending=False).index[:4].tolist()
    assert top == ["Utah", "Montana", "Nevada", "Connecticut"]
    assert sc.weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert sc.time_weights is None


def test_sc_placebo_in_space_rank(sc):
    p = sc.placebo_in_space()
    assert (p.treated_rank, p.n_units) == (3, 39)
    assert p.p_value == pytest.approx(3 / 39)
    assert p.treated_ratio == pytest.approx(155, rel=0.03)
    assert p.kept["unit"].tolist()[:3] == ["Missouri", "Virginia", "California"]
    table = p.table
    for col in ("unit", "pre_rmspe", "post_rmspe", "ratio", "rank"):
        assert col in table.columns
    np.testing.assert_allclose(table["ratio"], (table["post_rmspe"] / table["pre_rmspe"]) ** 2)
    assert p.gaps.shape == (31, 39)


@pytest.mark.parametrize("k", [2, 5, 20])
def test_sc_placebo_rank_with_prefit_filter(sc, k):
    p = sc.placebo_in_space(max_pre_rmspe_ratio=k)
    assert p.treated_rank == 3
    treated_pre = p.table.query("is_treated")["pre_mspe"].iloc[0]
    kept = p.kept
    assert (kept["pre_mspe"] <= k * treated_pre).all()
    assert p.n_units < 39 and p.p_value == pytest.approx(3 / p.n_units)
    assert p.n_dropped == 39 - p.n_units


def test_sc_placebo_excludes_treated_from_donor_pool(prop99, sc):
    # Missouri's placebo = a synthetic control for Missouri from the other 37 control states
    p = sc.placebo_in_space().table.set_index("unit")
    alone = synth.synthetic_control(
        prop99[prop99["state"] != "California"], **{**KW, "treated_unit": "Missouri"}
    )
    assert p.loc["Missouri", "att"] == pytest.approx(alone.att, abs=1e-10)


def test_sc_to_estimate_uses_permutation_p(sc):
    est = sc.to_estimate()
    assert est.p_value == pytest.approx(3 / 39)
    assert np.isfinite(est.se) and est.se > 0
    assert "permutation" in est.extra["p_value_method"]


def test_sc_leave_one_out(prop99, sc):
    loo = sc.leave_one_out()
    positive = sc.weights[sc.weights > 1e-6]
    assert set(loo.table["unit"]) == set(positive.index)
    row = loo.table.set_index("unit").loc["Utah"]
    alone = synth.synthetic_control(prop99, **KW, donors=[d for d in sc.donors if d != "Utah"])
    assert row["att"] == pytest.approx(alone.att, abs=1e-10)
    assert loo.paths.shape == (31, len(positive) + 2)


def test_sc_placebo_in_time(prop99, sc):
    fake = sc.placebo_in_time(1980)
    assert (fake.n_pre, fake.n_post) == (10, 9)
    assert (fake.excluded["level"] == "period").sum() == 12
    cut = prop99[prop99["year"] < 1989]
    alone = synth.synthetic_control(cut, **{**KW, "start": 1980})
    assert fake.att == pytest.approx(alone.att, abs=1e-10)


def test_reporting_is_json_serialisable_and_readonly(sc, sdid, did):
    for res in (sc, sdid, did):
        d = res.to_dict()
        json.dumps(d, allow_nan=False)
        assert d["att"] == pytest.approx(res.att)
        assert len(res.tidy()) == 1
        assert "ATT" in res.summary()
        assert "12 post-treatment period(s)" in res.effect_summary()
        with pytest.raises(AttributeError):
            res.att = 0.0  # type: ignore[misc]
        w = res.weights
        w.iloc[0] = 99.0
        assert res.weights.iloc[0] != 99.0
    assert "ranks 3 of 39" in sc.effect_summary()
