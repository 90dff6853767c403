"""Internal consistency of the DiD estimators (identities that must hold on any data).

Run on mpdta (500 counties x 5 years); every check goes through the package's public
functions and compares with a library fit or an algebraic identity.
"""

from __future__ import annotations

import json
from functools import cache

import diff_diff
import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.api as sm
from scipy import stats

from analysis import diagnostics, did
from analysis.did._inference import sup_t_crit

# pandas 3 deprecation raised inside pyfixest when it is called directly below
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

KW = {"outcome": "lemp", "unit": "countyreal", "time": "year"}
KWC = {**KW, "cohort": "first.treat"}


@cache
def mpdta() -> pd.DataFrame:
    df = did.datasets.mpdta()
    df["D"] = ((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).astype(int)
    df["state"] = df["countyreal"] // 1000
    return df


@cache
def cs(method: str = "dr", control: str = "never", base_period: str = "varying"):
    return did.staggered(mpdta(), **KWC, method=method, control=control, base_period=base_period)


def test_ipw_dr_reg_identical_without_covariates():
    gt = {m: cs(m).group_time() for m in ("dr", "ipw", "reg")}
    for m in ("ipw", "reg"):
        np.testing.assert_allclose(gt[m]["att"], gt["dr"]["att"], rtol=0, atol=1e-8)
        np.testing.assert_allclose(gt[m]["se"], gt["dr"]["se"], rtol=0, atol=1e-8)
        for agg in ("simple", "group", "dynamic", "calendar"):
            a, b = cs(m).aggregate(agg).overall, cs("dr").aggregate(agg).overall
            assert a.estimate == pytest.approx(b.estimate, abs=1e-8)
            assert a.se == pytest.approx(b.se, abs=1e-8)


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_aggregation_layer_matches_diff_diff_where_it_has_one(control):
    """Our R-aggte layer vs diff-diff's own simple / group / event-study aggregation."""
    res = cs(control=control)
    dd = diff_diff.CallawaySantAnna(
        control_group={"never": "never_treated", "notyet": "not_yet_treated"}[control]
    ).fit(mpdta(), **KW, first_treat="first.treat")
    simple = res.aggregate("simple").overall
    assert simple.estimate == pytest.approx(dd.overall_att, abs=1e-10)
    assert simple.se == pytest.approx(dd.overall_se, rel=1e-8)
    grp = dd.aggregate("group").to_dataframe()
    ours = res.aggregate("group").table()
    np.testing.assert_allclose(ours["att"], grp["att"], atol=1e-10)
    np.testing.assert_allclose(ours["se"], grp["se"], rtol=1e-8)
    es = dd.aggregate("event_study")
    dyn = res.aggregate("dynamic")
    np.testing.assert_array_equal(dyn.labels, es.event_time)
    np.testing.assert_allclose(dyn.att, es.att, atol=1e-10)
    np.testing.assert_allclose(dyn.se, es.se, rtol=1e-8)
    np.testing.assert_allclose(dyn.vcov, es.vcov, rtol=1e-7, atol=1e-14)


def test_clustered_se_equals_diff_diff_cr1_up_to_its_small_sample_factor():
    res = did.staggered(mpdta(), **KWC, cluster="state")
    dd = diff_diff.CallawaySantAnna(cluster="state").fit(mpdta(), **KW, first_treat="first.treat")
    g = res.n_clusters
    assert g == mpdta()["state"].nunique()
    factor = np.sqrt(g / (g - 1))
    se_dd = [
        dd.group_time_effects[(c, t)]["se"]
        for c, t in zip(res.cohort.astype(int), res.time.astype(int), strict=True)
    ]
    np.testing.assert_allclose(res.se * factor, se_dd, rtol=1e-8)
    assert res.aggregate("simple").overall.se * factor == pytest.approx(dd.overall_se, rel=1e-8)
    # clustering on the unit itself is R's unclustered analytic SE
    unit = did.staggered(mpdta(), **KWC, cluster="countyreal")
    np.testing.assert_allclose(unit.se, cs().se, rtol=1e-12)


def test_universal_base_period_keeps_post_cells_and_pretest():
    var, uni = cs(), cs(base_period="universal")
    gv = var.group_time().set_index(["cohort", "time"])
    gu = uni.group_time().set_index(["cohort", "time"])
    post = [i for i in gv.index if i[1] >= i[0]]
    np.testing.assert_allclose(gu.loc[post, "att"], gv.loc[post, "att"], atol=1e-12)
    ref_cells = gu[gu["se"].isna()]
    assert (ref_cells["att"] == 0).all()
    assert sorted(
        ref_cells.index.get_level_values("time") - ref_cells.index.get_level_values("cohort")
    ) == [-1, -1, -1]
    assert uni.pretrend_test().statistic == pytest.approx(var.pretrend_test().statistic, rel=1e-8)


def test_bacon_decomposition_adds_up_to_twfe():
    bacon = diagnostics.bacon_decomposition(mpdta(), **KW, treated="D")
    tw = did.twfe(mpdta(), **KW, treated="D")
    assert set(bacon.columns) >= {"comparison", "weight", "estimate"}
    assert bacon["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (bacon["weight"] * bacon["estimate"]).sum() == pytest.approx(tw.estimate, abs=1e-8)
    assert bacon.attrs["twfe_estimate"] == pytest.approx(tw.estimate, abs=1e-10)
    assert set(bacon["comparison"]) == {"treated_vs_never", "earlier_vs_later", "later_vs_earlier"}


def test_twfe_equals_pyfixest_and_dummy_ols():
    df = mpdta()
    tw = did.twfe(df, **KW, treated="D")
    ref = pf.feols("lemp ~ D | countyreal + year", data=df, vcov={"CRV1": "countyreal"})
    assert tw.estimate == pytest.approx(float(ref.coef()["D"]), abs=1e-10)
    assert tw.se == pytest.approx(float(ref.se()["D"]), rel=1e-8)
    assert tw.p_value == pytest.approx(float(ref.pvalue()["D"]), rel=1e-6)

    # balanced panel: two-way demeaning is the exact within transformation (FWL)
    def within(col: str) -> pd.Series:
        v = df[col].astype(float)
        return (
            v
            - v.groupby(df["countyreal"]).transform("mean")
            - v.groupby(df["year"]).transform("mean")
            + v.mean()
        )

    ols = sm.OLS(within("lemp"), within("D")).fit()
    assert tw.estimate == pytest.approx(ols.params.iloc[0], abs=1e-9)
    assert (tw.n_obs, tw.n_units, tw.n_clusters) == (2500, 500, 500)
    assert tw.backend.startswith("pyfixest ")


def test_imputation_two_stage_and_etwfe_agree_on_static_att():
    imp = did.imputation(mpdta(), **KWC)
    gardner = did.two_stage(mpdta(), **KWC)
    ext = did.etwfe(mpdta(), **KWC)
    assert imp.estimate == pytest.approx(gardner.estimate, abs=1e-6)
    assert imp.estimate == pytest.approx(ext.estimate, abs=1e-6)
    # and it is the equally-weighted mean of treated-observation effects, not TWFE
    assert abs(imp.estimate - did.twfe(mpdta(), **KW, treated="D").estimate) > 1e-3


def test_event_study_contract_cs_matches_dynamic_aggregation():
    es = did.event_study(mpdta(), **KWC, estimator="cs")
    dyn = cs(base_period="universal").aggregate("dynamic")
    assert es.reference == -1 and es.reference not in es.rel_times
    assert es.rel_times.dtype.kind == "i" and np.all(np.diff(es.rel_times) > 0)
    assert list(es.rel_times) == [-4, -3, -2, 0, 1, 2, 3]
    assert (es.n_pre, es.n_post) == (3, 4)
    keep = dyn.labels != -1
    np.testing.assert_allclose(es.coef, dyn.att[keep], atol=1e-12)
    np.testing.assert_allclose(es.vcov, dyn.vcov[np.ix_(keep, keep)], atol=1e-15)
    assert es.vcov.shape == (7, 7)
    np.testing.assert_allclose(es.vcov, es.vcov.T, atol=1e-15)
    assert np.linalg.eigvalsh(es.vcov).min() > -1e-12
    assert es.overall.estimate == pytest.approx(-0.0772398215, abs=1e-6)
    tab = es.table()
    assert list(tab.columns) == [
        "rel_time",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "cband_low",
        "cband_high",
    ]
    assert (tab["cband_high"] - tab["cband_low"] > tab["ci_high"] - tab["ci_low"]).all()
    json.dumps(es.to_dict())
    assert es.tidy()["is_reference"].sum() == 1
    import matplotlib.figure

    assert isinstance(es.plot(), matplotlib.figure.Figure)


def test_event_study_sun_abraham_equals_cs_never_treated_without_covariates():
    """Saturated cohort x event-time regression = CS with never-treated, universal base."""
    sa = did.event_study(mpdta(), **KWC, estimator="sun_abraham")
    es_cs = did.event_study(mpdta(), **KWC, estimator="cs")
    np.testing.assert_array_equal(sa.rel_times, es_cs.rel_times)
    np.testing.assert_allclose(sa.coef, es_cs.coef, atol=1e-8)
    dd = diff_diff.SunAbraham(cluster="countyreal").fit(mpdta(), **KW, first_treat="first.treat")
    np.testing.assert_allclose(
        sa.se, [dd.event_study_effects[e]["se"] for e in sa.rel_times], rtol=1e-8
    )


def test_event_study_imputation_and_did2s_share_post_coefficients():
    imp = did.event_study(mpdta(), **KWC, estimator="imputation")
    gardner = did.event_study(mpdta(), **KWC, estimator="did2s")
    post_i, post_g = imp.rel_times >= 0, gardner.rel_times >= 0
    np.testing.assert_allclose(imp.coef[post_i], gardner.coef[post_g], atol=1e-8)
    assert not imp.vcov_is_full and gardner.vcov_is_full
    assert imp.crit_value is None and gardner.crit_value is not None


def test_event_study_twfe_window_bins_and_reference():
    df = mpdta()
    es = did.event_study(df, **KWC, estimator="twfe")
    rel = np.where(df["first.treat"] > 0, df["year"] - df["first.treat"], np.nan)
    dummies = {
        f"e{int(e) + 10}": (rel == e).astype(float)
        for e in np.unique(rel[~np.isnan(rel)])
        if e != -1
    }
    data = df.assign(**dummies)
    ref = pf.feols(
        f"lemp ~ {' + '.join(dummies)} | countyreal + year", data=data, vcov={"CRV1": "countyreal"}
    )
    np.testing.assert_allclose(es.coef, ref.coef().to_numpy(), atol=1e-10)
    np.testing.assert_allclose(es.se, ref.se().to_numpy(), rtol=1e-8)
    binned = did.event_study(df, **KWC, estimator="twfe", window=(-2, 2), reference=-2)
    assert list(binned.rel_times) == [-1, 0, 1, 2]
    with pytest.raises(ValueError, match="reference"):
        did.event_study(df, **KWC, estimator="cs", reference=-2)


def test_sup_t_critical_value():
    # independent coordinates: c solves P(max|Z_k| <= c) = 0.95
    k = 4
    exact = stats.norm.ppf((1 + 0.95 ** (1 / k)) / 2)
    assert sup_t_crit(np.eye(k), seed=1) == pytest.approx(exact, abs=0.02)
    # perfectly correlated coordinates: the pointwise value
    assert sup_t_crit(np.ones((3, 3)), seed=1) == pytest.approx(1.96, abs=0.03)
    assert sup_t_crit(np.eye(3), seed=5) == sup_t_crit(np.eye(3), seed=5)


def test_result_objects_are_read_only_and_serialisable():
    res = cs()
    with pytest.raises(ValueError):
        res.att[0] = 1.0
    with pytest.raises(AttributeError):
        res.method = "ipw"
    d = res.to_dict()
    json.dumps(d)
    assert d["pretrend_test"]["df"] == 5
    assert set(d["aggregations"]) == {"simple", "group", "dynamic", "calendar"}
    assert "ATT(2004,2004)" in res.tidy()["term"].tolist()
    assert "Callaway-Sant'Anna" in res.summary()
    assert res.effect_summary().startswith("Averaged over treated cohorts")
    agg = res.aggregate("dynamic", cband=True, seed=3)
    assert agg.crit_value > stats.norm.ppf(0.975)
    assert agg.tidy()["term"].iloc[-1] == "overall"
