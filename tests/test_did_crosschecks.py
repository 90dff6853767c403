"""Internal consistency of the DiD estimators (identities that must hold on any data).

Run on mpdta (500 counties x 5 years), and on a simulated pupil register (unbalanced, the
programme's case) for the unbalanced Callaway-Sant'Anna path; every check goes through the
package's public functions and compares with a library fit or an algebraic identity.
"""

from __future__ import annotations

import json
import warnings
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


# ------------------------------------------------------------------ unbalanced pupil panels
# School registers (programme simulator): no pupil is observed in every year, so the programme
# report runs did.staggered(..., allow_unbalanced=True); these identities check that path and
# the helpers around it (cell sizes, pre-trend tests, bands, event windows).
PK = {"unit": "pupil_id", "time": "year", "cohort": "cohort"}


@cache
def pupils():
    from analysis.data.simulate import programme_panel

    sim = programme_panel(seed=3)
    d = sim.data.sort_values(["pupil_id", "year"], kind="stable").reset_index(drop=True)
    d["baseline_school"] = d.groupby("pupil_id")["school_id"].transform("first")
    return sim, d


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


@cache
def pupil_cs(outcome: str, cluster: str | None = None, base_period: str = "varying"):
    return _quiet(
        did.staggered,
        pupils()[1],
        outcome=outcome,
        **PK,
        cluster=cluster,
        base_period=base_period,
        allow_unbalanced=True,
    )


@pytest.mark.parametrize(
    ("method", "covariates", "cluster"),
    [("dr", None, None), ("reg", None, "state"), ("ipw", ["lpop"], None), ("dr", ["lpop"], None)],
)
def test_unbalanced_path_equals_balanced_path_on_balanced_mpdta(method, covariates, cluster):
    """On a balanced panel the cell-wise estimator is did.staggered (R-validated): 1e-12."""
    kw = {**KWC, "method": method, "covariates": covariates, "cluster": cluster}
    a = _quiet(did.staggered, mpdta(), **kw)
    b = _quiet(did.staggered, mpdta(), **kw, allow_unbalanced=True)
    np.testing.assert_allclose(b.att, a.att, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.se, a.se, rtol=1e-12, equal_nan=True)
    for agg in ("simple", "group", "dynamic", "calendar"):
        oa, ob = a.aggregate(agg).overall, b.aggregate(agg).overall
        assert ob.estimate == pytest.approx(oa.estimate, abs=1e-12)
        assert ob.se == pytest.approx(oa.se, rel=1e-12)
    assert b.pretrend_test().statistic == pytest.approx(a.pretrend_test().statistic, rel=1e-10)
    assert b.backend.endswith("(unbalanced, cell-wise)")


def test_balanced_rule_drops_every_pupil_of_a_school_register():
    """Why allow_unbalanced exists: no simulated pupil is observed in all six years, so the
    balanced rule leaves nothing -- a clear DataValidationError pointing to the option."""
    from analysis.errors import DataValidationError

    frame = pupils()[1]
    assert frame["year"].nunique() == 6
    assert frame.groupby("pupil_id")["year"].nunique().max() < 6
    with pytest.raises(DataValidationError, match="allow_unbalanced=True"):
        _quiet(did.staggered, frame, outcome="grade_avg", **PK)
    res = pupil_cs("grade_avg")
    assert res.aggregate("simple").overall.n_units > 0.9 * frame["pupil_id"].nunique()
    assert any("unbalanced panel used cell by cell" in n for n in res.notes)


@pytest.mark.parametrize(("g", "t"), [(2022, 2023), (2021, 2024), (2023, 2021)])
def test_unbalanced_cell_is_difference_of_mean_changes(g, t):
    """ATT(g,t) (reg, no covariates) = mean change of cohort g minus never-treated, over pupils
    observed in the base year and t; its unit-level SE = sqrt(var_T/n_T + var_C/n_C) with
    population variances (R did's convention).  Both to 1e-12."""
    frame = pupils()[1]
    cs = _quiet(
        did.staggered, frame, outcome="grade_avg", **PK, method="reg", allow_unbalanced=True
    ).unit_level()
    gt = cs.group_time().set_index(["cohort", "time"])
    obs = frame[frame["grade_avg"].notna()]
    wide = obs.pivot(index="pupil_id", columns="year", values="grade_avg")
    coh = obs.groupby("pupil_id")["cohort"].first()
    base = g - 1 if t >= g else t - 1
    change = (wide[t] - wide[base]).dropna()
    tr, co = change[coh.reindex(change.index) == g], change[coh.reindex(change.index) == 0]
    assert gt.loc[(g, t), "att"] == pytest.approx(tr.mean() - co.mean(), abs=1e-12)
    se = np.sqrt(tr.var(ddof=0) / len(tr) + co.var(ddof=0) / len(co))
    assert gt.loc[(g, t), "se"] == pytest.approx(se, rel=1e-12)


def test_unit_level_and_subset_re_express_the_fit():
    cs = pupil_cs("absence_rate", "baseline_school")
    assert cs.n_clusters == 20 and cs.cluster == "baseline_school"
    pu = cs.unit_level()
    assert pu.n_clusters == pu.n_units and pu.cluster is None
    np.testing.assert_array_equal(pu.att, cs.att)
    unclustered = pupil_cs("absence_rate")
    np.testing.assert_allclose(pu.se, unclustered.se, rtol=1e-12, equal_nan=True)
    post = cs.cohort <= cs.time
    sub = cs.subset(post)
    assert len(sub.att) == int(post.sum())
    assert sub.aggregate("simple").overall.estimate == pytest.approx(
        cs.aggregate("simple").overall.estimate, abs=1e-14
    )
    with pytest.raises(ValueError, match="boolean mask"):
        cs.subset(post[:-1])


def test_uniform_band_over_chosen_cells():
    cs = pupil_cs("absence_rate", "baseline_school")
    ok = np.isfinite(cs.se)
    one = np.flatnonzero(ok)[:1]
    # one cell, many (pupil) clusters: the band is the pointwise interval, |b|/se ~ |N(0,1)|
    pu = pupil_cs("absence_rate")
    assert pu.uniform_band(one, n_boot=4999, seed=1) == pytest.approx(1.96, abs=0.1)
    all_cells = cs.uniform_band(ok, n_boot=999, seed=1)
    assert all_cells > 2.3
    assert cs.uniform_band(ok, n_boot=999, seed=1) == all_cells  # reproducible
    seq = np.random.SeedSequence(7).spawn(2)[0]  # a child of a run's stream is accepted
    assert np.isfinite(cs.uniform_band(ok, n_boot=99, seed=seq))
    assert np.isnan(cs.uniform_band(np.zeros(len(ok), bool)))


def test_pretrend_tests_use_only_large_cells():
    frame = pupils()[1]
    cs = pupil_cs("grade_avg", "baseline_school")
    counts = did.treated_cell_counts(frame, outcome="grade_avg", **PK)
    pre = did.pretrend_tests(cs, sizes=counts, min_treated=20)
    n = counts.set_index(["cohort", "time"])["n_treated"]
    size = np.array([n[(int(g), int(t))] for g, t in zip(cs.cohort, cs.time, strict=True)])
    large_pre = (cs.cohort > cs.time) & (size >= 20)
    assert pre.cells == int(large_pre.sum()) >= 2
    tab = pre.table(unit="pupil", cluster="school")
    assert list(tab["df"]) == [pre.cells, pre.cells]
    assert tab["test"].iloc[1].endswith("clustered by school (Hotelling scaling)")
    sub = cs.subset((size >= 20) | (cs.cohort <= cs.time))
    w = sub.pretrend_test().statistic  # clustered Wald statistic
    g, q = cs.n_clusters, pre.cells
    assert pre.f_statistic == pytest.approx((g - q) / (q * (g - 1)) * w, rel=1e-12)
    assert pre.p_value == pytest.approx(stats.f.sf(pre.f_statistic, q, g - q), rel=1e-12)
    assert pre.unit_level.p_value == pytest.approx(
        sub.unit_level().pretrend_test().p_value, rel=1e-12
    )
    unclustered = did.pretrend_tests(pupil_cs("grade_avg"), sizes=counts, min_treated=20)
    assert unclustered.clustered is None and len(unclustered.table()) == 1
    assert did.pretrend_tests(cs, sizes=counts, min_treated=10_000) is None
    json.dumps(pre.to_dict())


def test_treated_cell_counts_universal_base_and_privacy_use():
    frame = pupils()[1]
    v = did.treated_cell_counts(frame, outcome="grade_avg", **PK)
    u = did.treated_cell_counts(frame, outcome="grade_avg", **PK, base_period="universal")
    assert ((u["time"] - u["cohort"]) != -1).all()
    post_v = v[v["time"] >= v["cohort"]].reset_index(drop=True)
    post_u = u[u["time"] >= u["cohort"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(post_v, post_u)  # same base (g - 1) after participation
    assert (v["event_time"] == v["time"] - v["cohort"]).all()


def test_event_window_and_unbalanced_cs_event_study():
    frame = pupils()[1]
    lo, hi = did.event_window(frame, outcome="grade_avg", **PK)
    assert lo <= -2 and hi >= 0
    counts = did.event_time_counts(frame, outcome="grade_avg", **PK)
    assert all(counts[e] >= 10 for e in range(lo, hi + 1) if e != -1)
    es = _quiet(
        did.event_study,
        frame,
        outcome="grade_avg",
        **PK,
        estimator="cs",
        window=(lo, hi),
        seed=1,
        n_boot=499,
        allow_unbalanced=True,
    )
    assert list(es.rel_times) == [e for e in range(lo, hi + 1) if e != -1]
    assert es.n_post == hi + 1 and es.crit_value > 1.96
    # e = 0 of the universal-base event study is the edition-size weighted mean of ATT(g,g)
    cs = pupil_cs("grade_avg", base_period="universal")
    gt = cs.group_time()
    first = gt[gt["cohort"] == gt["time"]]
    w = [np.mean(cs.unit_cohort == g) for g in first["cohort"]]
    assert es.coef[list(es.rel_times).index(0)] == pytest.approx(
        np.average(first["att"], weights=w), abs=1e-12
    )
    from analysis.errors import DataValidationError

    with pytest.raises(DataValidationError, match="fewer than 10000 treated units"):
        did.event_window(frame, outcome="grade_avg", **PK, min_units=10_000)


def test_effect_horizon_keeps_event_times_with_enough_units():
    sim, frame = pupils()
    h = did.effect_horizon(frame, outcome="grade_avg", **PK, min_units=20)
    obs = frame[frame["grade_avg"].notna() & (frame["cohort"] > 0)]
    present = set(zip(obs["pupil_id"], obs["year"], strict=True))
    first = obs.drop_duplicates("pupil_id")

    def n(e):
        return sum(
            ((i, g - 1) in present) and ((i, g + e) in present)
            for i, g in zip(first["pupil_id"], first["cohort"], strict=True)
        )

    assert all(n(e) >= 20 for e in range(h + 1)) and n(h + 1) < 20
    cs = pupil_cs("grade_avg")
    o = cs.aggregate("simple", max_e=h).overall
    gt = cs.group_time()
    keep = (gt["time"] >= gt["cohort"]) & (gt["time"] - gt["cohort"] <= h)
    w = [np.mean(cs.unit_cohort == g) for g in gt.loc[keep, "cohort"]]
    assert o.estimate == pytest.approx(np.average(gt.loc[keep, "att"], weights=w), abs=1e-12)


def test_simple_estimand_and_simple_att():
    sim, frame = pupils()
    cs = pupil_cs("grade_avg")
    cells = sim.truth_gt[sim.truth_gt["outcome"] == "grade_avg"].rename(columns={"year": "time"})
    assert cs.simple_estimand(cells) == pytest.approx(0.2, abs=1e-12)  # constant effect
    # the estimand of the estimates themselves is the simple aggregation
    own = cs.group_time()[["cohort", "time", "att"]]
    assert cs.simple_estimand(own, max_e=1) == pytest.approx(
        cs.aggregate("simple", max_e=1).overall.estimate, abs=1e-12
    )
    absence = sim.truth_gt[sim.truth_gt["outcome"] == "absence_rate"].rename(
        columns={"year": "time"}
    )
    assert cs.simple_estimand(absence, max_e=1) != cs.simple_estimand(absence)
    stat = _quiet(did.simple_att, frame, outcome="grade_avg", **PK, max_e=1, allow_unbalanced=True)
    assert stat == pytest.approx(cs.aggregate("simple", max_e=1).overall.estimate, abs=1e-12)


def test_estimate_from_se_student_t_equals_scipy_stats_bit_for_bit():
    """``Estimate.from_se(df=...)`` uses scipy.special; the numbers are scipy.stats.t's."""
    from analysis.estimate import Estimate

    rng = np.random.default_rng(14)
    cases = [(float(rng.integers(1, 3000)), rng.normal(0, 3), abs(rng.normal(1, 0.5)) + 1e-3)]
    cases += [(df, 0.7, 0.3) for df in (1, 2, 9, 1e6, np.inf, np.int64(49), 0, -2, np.nan)]
    cases += [(float(rng.integers(1, 500)), rng.normal(0, 2), 0.5) for _ in range(300)]
    for df, est, se in cases:
        for level in (0.8, 0.9, 0.95, 0.99):
            got = Estimate.from_se(est, se, df=df, level=level)
            q = 0.5 + level / 2
            crit = float(stats.t.ppf(q, df))
            p = float(2 * stats.t.sf(abs(est / se), df))
            np.testing.assert_array_equal(
                [got.ci_low, got.ci_high, got.p_value], [est - crit * se, est + crit * se, p]
            )


def test_twfe_coefficient_reads_the_numbers_of_pyfixest_tidy(monkeypatch):
    import importlib

    from analysis.did.twfe import coefficient

    twfe_module = importlib.import_module("analysis.did.twfe")  # did.twfe is the function

    df = mpdta()
    fit = pf.feols("lemp ~ D + lpop | countyreal + year", data=df, vcov={"CRV1": "state"})
    tab = fit.tidy()
    assert coefficient(fit, "D") == (tab.loc["D", "Estimate"], tab.loc["D", "Std. Error"])
    with pytest.raises(ValueError):
        coefficient(fit, "not_a_term")
    # the wrapper reports the numbers of tidy() of the fit it makes
    fits = []
    real = twfe_module.fit_feols
    monkeypatch.setattr(twfe_module, "fit_feols", lambda *a: fits.append(real(*a)) or fits[-1])
    est = did.twfe(df, **KW, treated="D", cluster="state")
    ref = fits[0].tidy()
    assert (est.estimate, est.se) == (ref.loc["_d", "Estimate"], ref.loc["_d", "Std. Error"])
