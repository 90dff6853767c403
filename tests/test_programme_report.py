"""Fast tests of the programme-report glue (notebook 03_programme).

Reference values are computed here by hand (difference of mean changes, variance of a
difference of means) or by the package's validated functions (``did.staggered``, which
matches R ``did`` on mpdta, ``did.twfe``, ``did.did_2x2``); tolerances are stated per test.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis import did, power
from analysis.data.programme import load_panel
from analysis.data.simulate import programme_panel
from analysis.did import datasets
from analysis.errors import DataValidationError
from analysis.estimate import Estimate
from analysis.privacy import K_MIN
from analysis.reports import programme as pr

KW_MPDTA = {"outcome": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}


@pytest.fixture(scope="module")
def sim():
    return programme_panel(seed=3)


@pytest.fixture(scope="module")
def frame(sim):
    return pr.analysis_frame(load_panel(sim.data, exclusions="report").data)


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


# ------------------------------------------------------------------ CS on unbalanced panels
@pytest.mark.parametrize(
    ("method", "covariates", "cluster"),
    [
        ("dr", None, None),
        ("reg", None, "state"),
        ("ipw", ["lpop"], None),
        ("dr", ["lpop"], None),
    ],
)
def test_staggered_pupils_equals_did_staggered_on_balanced_mpdta(method, covariates, cluster):
    """On a balanced panel the cell-wise estimator is did.staggered (R-validated): 1e-12."""
    m = datasets.mpdta()
    m["state"] = m["countyreal"] // 1000
    a = _quiet(did.staggered, m, **KW_MPDTA, method=method, covariates=covariates, cluster=cluster)
    b = _quiet(
        pr.staggered_pupils, m, **KW_MPDTA, method=method, covariates=covariates, cluster=cluster
    )
    np.testing.assert_allclose(b.att, a.att, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.se, a.se, rtol=1e-12, equal_nan=True)
    for agg in ("simple", "group", "dynamic", "calendar"):
        oa, ob = a.aggregate(agg).overall, b.aggregate(agg).overall
        assert ob.estimate == pytest.approx(oa.estimate, abs=1e-12)
        assert ob.se == pytest.approx(oa.se, rel=1e-12)
    assert b.pretrend_test().statistic == pytest.approx(a.pretrend_test().statistic, rel=1e-10)


def test_did_staggered_drops_every_pupil_of_a_school_register(frame):
    """Why allow_unbalanced exists: no simulated pupil is observed in all six years, so the
    balanced rule leaves nothing -- a clear DataValidationError pointing to the option."""
    n_years = frame["year"].nunique()
    assert n_years == 6
    assert frame.groupby("pupil_id")["year"].nunique().max() < n_years
    with pytest.raises(DataValidationError, match="allow_unbalanced=True"):
        _quiet(
            did.staggered, frame, outcome="grade_avg", unit="pupil_id", time="year", cohort="cohort"
        )
    res = _quiet(
        did.staggered,
        frame,
        outcome="grade_avg",
        unit="pupil_id",
        time="year",
        cohort="cohort",
        allow_unbalanced=True,
    )
    assert res.aggregate("simple").overall.n_units > 0.9 * frame["pupil_id"].nunique()


@pytest.mark.parametrize(("g", "t"), [(2022, 2023), (2021, 2024), (2023, 2021)])
def test_cell_is_difference_of_mean_changes_of_pupils_observed_in_both_years(frame, g, t):
    """ATT(g,t) (reg, no covariates) = mean change of cohort g minus never-treated, over pupils
    observed in the base year and t; its pupil-level SE = sqrt(var_T/n_T + var_C/n_C) with
    population variances (R did's convention).  Both to 1e-12."""
    cs = pr.unit_level(pr.staggered_pupils(frame, outcome="grade_avg", method="reg"))
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


def test_staggered_pupils_equals_did_staggered_on_balanced_subpanel(frame):
    sub, win, _ = pr.balanced_subpanel(frame, outcome="absence_rate")
    a = _quiet(
        did.staggered,
        sub,
        outcome="absence_rate",
        unit="pupil_id",
        time="year",
        cohort="cohort",
        cluster="baseline_school",
    )
    b = _quiet(pr.staggered_pupils, sub, outcome="absence_rate", cluster="baseline_school")
    np.testing.assert_allclose(b.att, a.att, atol=1e-12)
    assert b.aggregate("simple").overall.se == pytest.approx(
        a.aggregate("simple").overall.se, rel=1e-12
    )
    assert win[1] - win[0] >= 2


def test_cs_truth_is_the_constant_simulated_effect(sim, frame):
    cs = _quiet(pr.staggered_pupils, frame, outcome="grade_avg")
    assert pr.cs_truth(sim, cs, outcome="grade_avg") == pytest.approx(0.2, abs=1e-12)


def test_group_time_table_hides_small_cells_and_bands_are_wider(frame):
    cs = _quiet(pr.staggered_pupils, frame, outcome="absence_rate", cluster="baseline_school")
    counts = pr.treated_cell_counts(frame, outcome="absence_rate")
    gt = pr.group_time_table(cs, counts, seed=1)
    merged = gt.merge(counts, on=["cohort", "time"])
    assert len(merged) == len(gt) and (merged["n_treated"] >= K_MIN).all()
    all_cells = cs.group_time().merge(counts, on=["cohort", "time"])
    assert gt.attrs["hidden_cells"] == int((all_cells["n_treated"] < K_MIN).sum()) > 0
    assert len(gt) + gt.attrs["hidden_cells"] == len(cs.att)
    assert gt.attrs["crit_value"] > 1.96
    assert ((gt["cband_high"] - gt["cband_low"]) > (gt["ci_high"] - gt["ci_low"])).all()


def test_event_window_has_enough_participants_and_event_study_is_consistent(frame):
    lo, hi = pr.event_window(frame, outcome="grade_avg")
    assert lo <= -2 and hi >= 0
    es = pr.cs_event_study(frame, outcome="grade_avg", window=(lo, hi), seed=1)
    assert list(es.rel_times) == [e for e in range(lo, hi + 1) if e != -1]
    assert es.n_post == hi + 1 and es.crit_value > 1.96
    # e = 0 of the universal-base event study is the edition-size weighted mean of ATT(g,g)
    cs = _quiet(pr.staggered_pupils, frame, outcome="grade_avg", base_period="universal")
    gt = cs.group_time()
    first = gt[gt["cohort"] == gt["time"]]
    w = [np.mean(cs.unit_cohort == g) for g in first["cohort"]]
    assert es.coef[list(es.rel_times).index(0)] == pytest.approx(
        np.average(first["att"], weights=w), abs=1e-12
    )


def test_effect_horizon_keeps_event_times_with_enough_participants(sim, frame):
    h = pr.effect_horizon(frame, outcome="grade_avg", min_pupils=20)
    obs = frame[frame["grade_avg"].notna() & (frame["cohort"] > 0)]
    present = set(zip(obs["pupil_id"], obs["year"], strict=True))
    pupils = obs.drop_duplicates("pupil_id")

    def n(e):
        return sum(
            ((i, g - 1) in present) and ((i, g + e) in present)
            for i, g in zip(pupils["pupil_id"], pupils["cohort"], strict=True)
        )

    assert all(n(e) >= 20 for e in range(h + 1)) and n(h + 1) < 20
    cs = _quiet(pr.staggered_pupils, frame, outcome="grade_avg")
    o = cs.aggregate("simple", max_e=h).overall
    gt = cs.group_time()
    keep = (gt["time"] >= gt["cohort"]) & (gt["time"] - gt["cohort"] <= h)
    w = [np.mean(cs.unit_cohort == g) for g in gt.loc[keep, "cohort"]]
    assert o.estimate == pytest.approx(np.average(gt.loc[keep, "att"], weights=w), abs=1e-12)
    assert pr.cs_truth(sim, cs, outcome="absence_rate", max_e=h) != pr.cs_truth(
        sim, cs, outcome="absence_rate"
    )  # clipped binary-scale effects differ by cell


def test_pretrend_tests_use_only_large_cells(frame):
    cs = _quiet(pr.staggered_pupils, frame, outcome="grade_avg", cluster="baseline_school")
    counts = pr.treated_cell_counts(frame, outcome="grade_avg")
    pre = pr.pretrend_tests(cs, counts, min_pupils=20)
    n = counts.set_index(["cohort", "time"])["n_treated"]
    size = np.array([n[(int(g), int(t))] for g, t in zip(cs.cohort, cs.time, strict=True)])
    large_pre = (cs.cohort > cs.time) & (size >= 20)
    assert pre.cells == int(large_pre.sum()) >= 2
    assert list(pre.table["df"]) == [pre.cells, pre.cells]
    sub = pr.subset_cells(cs, (size >= 20) | (cs.cohort <= cs.time))
    w = sub.pretrend_test().statistic  # clustered Wald statistic
    g, q = cs.n_clusters, pre.cells
    f_row = pre.table.iloc[1]
    assert f_row["statistic"] == pytest.approx((g - q) / (q * (g - 1)) * w, rel=1e-12)
    from scipy import stats

    assert pre.p_value == pytest.approx(stats.f.sf(f_row["statistic"], q, g - q), rel=1e-12)
    assert pre.table.iloc[0]["p_value"] == pytest.approx(
        pr.unit_level(sub).pretrend_test().p_value, rel=1e-12
    )


# ------------------------------------------------------------------ triangulation
def test_first_year_2x2_equals_cell_means_for_one_edition(frame):
    """One edition only: the stacked 2×2 is the difference of mean changes, 1e-10."""
    one = frame[frame["cohort"].isin([0, 2022])]
    est = pr.first_year_2x2(one, outcome="grade_avg", cluster="baseline_school")
    obs = one[one["grade_avg"].notna() & one["year"].isin([2021, 2022])]
    wide = obs.pivot(index="pupil_id", columns="year", values="grade_avg").dropna()
    ch = wide[2022] - wide[2021]
    coh = obs.groupby("pupil_id")["cohort"].first().reindex(ch.index)
    assert est.estimate == pytest.approx(ch[coh == 2022].mean() - ch[coh == 0].mean(), abs=1e-10)


def test_triangulation_rows_and_truths(sim, frame):
    cs = _quiet(pr.staggered_pupils, frame, outcome="grade_avg", cluster="baseline_school")
    tab, extra = pr.triangulation(
        frame, outcome="grade_avg", cs=cs, cluster="baseline_school", sim=sim
    )
    assert len(tab) == 5
    direct = _quiet(
        did.twfe,
        frame,
        outcome="grade_avg",
        unit="pupil_id",
        time="year",
        treated="treated",
        cluster="baseline_school",
    )
    assert tab.iloc[1]["estimate"] == pytest.approx(direct.estimate, abs=1e-12)
    assert tab.iloc[2]["estimate"] == pytest.approx(cs.aggregate("simple").overall.estimate)
    np.testing.assert_allclose(tab["true_effect"], 0.2, atol=1e-9)
    # every estimator is within 4 standard errors of the truth on this draw
    assert ((tab["estimate"] - 0.2).abs() < 4 * tab["se"]).all()


def test_bacon_weights_add_up_to_twfe_on_the_subpanel(frame):
    b = pr.bacon_on_balanced_subpanel(frame, outcome="absence_rate", cluster="baseline_school")
    assert b.table["weight"].sum() == pytest.approx(1.0, abs=1e-10)
    assert (b.table["weight"] * b.table["estimate"]).sum() == pytest.approx(
        b.twfe.estimate, abs=1e-8
    )
    assert b.by_type["weight"].sum() == pytest.approx(1.0, abs=1e-10)
    assert (b.table[["n_treated", "n_control"]] >= K_MIN).all().all()
    assert "TWFE gives" in b.explanation(pr.OUTCOMES["absence_rate"])


# ------------------------------------------------------------------ few clusters
def test_reassignment_keeps_school_and_edition_counts_and_eligibility(frame):
    rng = np.random.default_rng(5)
    new = pr.reassign_participation(frame, rng)
    old_p = frame.drop_duplicates("pupil_id").set_index("pupil_id")
    new_p = new.drop_duplicates("pupil_id").set_index("pupil_id")
    for g in (2021, 2022, 2023):
        at_g = frame[frame["year"] == g].set_index("pupil_id")["school_id"]
        a = at_g[old_p["cohort"].reindex(at_g.index) == g].value_counts().sort_index()
        b = at_g[new_p["cohort"].reindex(at_g.index) == g].value_counts().sort_index()
        pd.testing.assert_series_equal(a, b, check_names=False)
    first = frame.groupby("pupil_id")["year"].min()
    part = new_p[new_p["cohort"] > 0]
    assert (first.reindex(part.index) < part["cohort"]).all()
    assert (new["treated"] == ((new["cohort"] > 0) & (new["year"] >= new["cohort"]))).all()
    assert not new_p["cohort"].equals(old_p["cohort"])
    again = pr.reassign_participation(frame, np.random.default_rng(5))
    pd.testing.assert_series_equal(again["cohort"], new["cohort"])


def test_wild_bootstrap_tests_the_same_regression_as_the_2x2(frame):
    cs = _quiet(pr.staggered_pupils, frame, outcome="absence_rate", cluster="baseline_school")
    tab, extra = pr.few_cluster_table(
        frame, outcome="absence_rate", cs=cs, cluster="baseline_school", reps=99, ri_reps=9, seed=2
    )
    wcb, two = extra["wild_bootstrap"], extra["two_by_two"]
    assert wcb.estimate == pytest.approx(two.estimate, abs=1e-12)
    assert wcb.se == pytest.approx(two.se, rel=1e-8)  # both CR1 by school
    assert wcb.n_clusters == 20
    assert len(tab) == 5
    assert tab.iloc[1]["se"] == pytest.approx(cs.aggregate("simple").overall.se)
    assert extra["randomization"].reps == 9


# ------------------------------------------------------------------ dropout
def test_risk_sets_and_dropout_regression(sim, frame):
    rs = pr.risk_sets(frame, cluster="baseline_school")
    first = frame.groupby("pupil_id")["year"].min()
    at_g = rs[rs["year"] == rs["stack"]]
    assert (first.reindex(at_g["pupil_id"]).to_numpy() < at_g["stack"].to_numpy()).all()
    assert set(rs.loc[rs["participant"] == 0, "cohort"]) == {0}
    assert (rs["year"] >= rs["stack"]).all()
    res = pr.dropout_effect(
        frame, covariates=["baseline_absence", "ses_index"], cluster="baseline_school"
    )
    stat = pr._dropout_ri_statistic(["baseline_absence", "ses_index"], "baseline_school")
    assert stat(frame) == pytest.approx(res.estimate.estimate, abs=1e-10)
    assert abs(res.estimate.estimate - sim.truth["dropped_out"]) < 4 * res.estimate.se
    assert 0.01 < res.base_rate < 0.05


def test_dropout_hazard_table_pools_late_years(frame):
    t = pr.dropout_hazard_table(frame)
    assert set(t["years_since"]) == {"0", "1", "2+"}
    assert set(t["group"]) == {"participants", "never-participants at risk"}
    assert ((t["hazard_pct"] >= 0) & (t["hazard_pct"] <= 100)).all()


# ------------------------------------------------------------------ privacy-safe outputs
def _small_counts(df: pd.DataFrame) -> list[str]:
    bad = []
    for c in ("pupils", "pupil_years", "participants", "never_treated"):
        for v in df[c]:
            s = str(v).replace(",", "")
            if re.fullmatch(r"\d+", s) and 1 <= int(s) < K_MIN:
                bad.append(f"{c}={v}")
    return bad


@pytest.mark.parametrize("n_excluded", [3, 12])
def test_sample_flow_suppresses_small_exclusions(sim, n_excluded):
    d = sim.data.drop(columns="treated").copy()
    firsts = d.groupby("pupil_id")["year"].transform("min")
    part_ids = d.loc[(d["cohort"] > 0) & (d["cohort"] > firsts), "pupil_id"].unique()[:n_excluded]
    sel = d["pupil_id"].isin(part_ids)
    d.loc[sel, "cohort"] = firsts[sel]  # participants with no pre-participation year
    d.loc[sel, "course"] = "STEAMcamp x"
    panel = load_panel(d, exclusions="report")
    flow = pr.sample_flow_table(panel)
    assert _small_counts(flow) == []
    if n_excluded < K_MIN:
        assert flow.iloc[1]["pupils"] == f"< {K_MIN}"
        assert flow.iloc[0]["pupils"] == "withheld"
    else:
        assert flow.iloc[1:-1]["pupils"].str.replace(",", "").astype(int).sum() == n_excluded
        assert flow.iloc[0]["pupils"] == f"{sim.data['pupil_id'].nunique():,}"


def test_overlap_figure_bars_represent_at_least_k_pupils(frame):
    bal = pr.balance(frame, covariates=["baseline_absence", "ses_index", "female"])
    assert bal.table["smd_weighted"].abs().max() < bal.table["smd_unweighted"].abs().max()
    fig = pr.overlap_figure(bal.ps, bal.participant, bins=40)
    n = {1: int(bal.participant.sum()), -1: int((bal.participant == 0).sum())}
    total = {1: 0.0, -1: 0.0}
    for p in fig.axes[0].patches:
        h, w = p.get_height(), p.get_width()
        side = 1 if h > 0 else -1
        pupils = abs(h) * w * n[side]
        assert pupils >= K_MIN - 1e-6
        total[side] += pupils
    assert total[1] == pytest.approx(n[1]) and total[-1] == pytest.approx(n[-1])


def test_load_refuses_panels_too_small_to_publish():
    with pytest.raises(DataValidationError, match="at least 10 participants"):
        pr.load("simulated", seed=1, n_schools=2, n_pupils=60)


# ------------------------------------------------------------------ MDE and words
def test_mde_matches_power_module_and_conclusion_words(frame):
    pupils = frame.drop_duplicates("pupil_id")
    nt, nc = int((pupils["cohort"] > 0).sum()), int((pupils["cohort"] == 0).sum())
    res, value = pr.mde_for(frame, outcome="grade_avg", n_treated=nt, n_control=nc)
    ref = power.mde(n_treated=nt, n_control=nc, design="did", autocorr=res.inputs["autocorr"])
    assert res.value == pytest.approx(ref.value, rel=1e-12)
    assert 0 < value < 1  # grade points
    assert pr.realised_mde(0.1) == pytest.approx(0.28016, abs=1e-4)
    spec = pr.OUTCOMES["dropped_out"]
    est = Estimate.from_se(-0.01, 0.012)
    text = pr.conclusion(
        spec=spec,
        estimate=est,
        mde=0.028,
        mde_realised=0.034,
        simulated=True,
        truth=-0.0095,
        dropout=True,
    )
    assert "SIMULATED" in text and "descriptively" in text and "covers" in text
    assert "not statistically distinguishable" in text
