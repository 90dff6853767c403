"""Helpers of the design/power report (notebook 04) and the SIINC payment report (notebook 05).

Reference numbers: the background note's §3.5 (published tables), statsmodels' power classes
(an independent implementation), hand-computed payments of the illustrative agreement
(config/siinc.yaml), and the analytic variance of the DiD estimator against its simulation.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from analysis import power as P
from analysis import siinc
from analysis.errors import DataValidationError
from analysis.reports import design as dr
from analysis.reports import siinc as sr

matplotlib.use("Agg")


# --------------------------------------------------------------------------------------
# Analytic tables
# --------------------------------------------------------------------------------------


def test_comparisons_default_sizes():
    c = dr.comparisons()
    assert c["n_treated"].tolist() == [180, 180, 180, 41, 41]
    assert c["n_control"].tolist() == [180, 360, 720, 41, 123]
    assert c["comparison"].iloc[2] == "180 vs 720"


def test_comparisons_reject_bad_ratio():
    with pytest.raises(DataValidationError, match="control ratios"):
        dr.comparisons(course_control_ratios=[0])


def test_note_reproduction_every_number_within_rounding():
    r = dr.note_reproduction()
    assert len(r) == 20 + 15 + 4
    assert r["ok"].all(), r[~r["ok"]]
    # spot checks against the note's text: 180 vs 180 -> 0.30 SD; base 3 %, 180 vs 180 -> 5.0 pp
    row = r[(r["row"] == "180 vs 180") & (r["column"] == "no covariates")].iloc[0]
    assert row["computed"] == pytest.approx(0.30, abs=0.01)
    row = r[(r["row"] == "base rate 3%") & (r["column"] == "180 vs 180")].iloc[0]
    assert row["computed"] == pytest.approx(5.0, abs=0.1)


def test_note_reproduction_can_fail():
    r = dr.note_reproduction(tol_sd=0.0, tol_pp=0.0, tol_n=0)
    assert not r["ok"].all()


def test_continuous_table_reproduces_note_columns():
    t = dr.continuous_mde_table(dr.comparisons())
    for row in t.itertuples(index=False):
        n_t, n_c = (int(x) for x in row.comparison.split(" vs "))
        ref = dr.NOTE_CONTINUOUS[(n_t, n_c)]
        np.testing.assert_allclose(row[2:], ref, atol=0.01)


def test_design_table_did_and_ancova_factors():
    t = dr.design_mde_table(dr.comparisons(), autocorr_values=[0.7])
    r = t[t["comparison"] == "180 vs 720"].iloc[0]
    # DiD factor 2(1 - 0.7) = 0.6, ANCOVA 1 - 0.49 = 0.51 (McKenzie 2012), M = 2.8016
    base = 2.8016 * math.sqrt(1 / 180 + 1 / 720)
    assert r["post-period comparison"] == pytest.approx(base, rel=1e-3)
    assert r["DiD (1 pre, 1 post)"] == pytest.approx(base * math.sqrt(0.6), rel=1e-3)
    assert r["ANCOVA (1 pre, 1 post)"] == pytest.approx(base * math.sqrt(0.51), rel=1e-3)


def test_binary_table_flags_rates_below_the_mde():
    t = dr.binary_mde_table(dr.comparisons())
    assert t.iloc[0]["STEAM courses: 180 vs 720"] == pytest.approx(4.0, abs=0.1)
    # 3 %: every comparison's MDE exceeds the base rate; 10 %: only Volare Alto's
    assert t.iloc[0]["decrease undetectable in"].count(" vs ") == 5
    assert t.iloc[2]["decrease undetectable in"] == "41 vs 41, 41 vs 123"


def test_sample_sizes_one_group_vs_two_groups_statsmodels():
    t = dr.sample_size_table(control_ratio=4)
    r = t.iloc[0]
    assert r["change"] == "21.1 % → 13 %"
    assert r["note's figure"] == 167
    assert r["one group vs known rate"] == 167
    h = proportion_effectsize(0.211, 0.13)
    sm = NormalIndPower()
    assert (
        r["two groups 1:1 (per arm)"]
        == math.ceil(sm.solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1))
        == 334
    )
    n1 = sm.solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=4)
    assert r["two groups 1:4 treated"] == math.ceil(n1) == 209
    assert r["two groups 1:4 controls"] == math.ceil(4 * n1 - 1e-9)
    assert t["one group vs known rate"].tolist() == [167, 212, 441, 746]


def test_detectability_table_values():
    t = dr.detectability_table(n_treated=180, n_control=720, n_volare=41, n_volare_control=123)
    grade = t.iloc[1]
    assert grade["MDE courses (180 vs 720)"] == pytest.approx(0.17, abs=0.01)  # note §3.5
    assert grade["MDE Volare Alto (41 vs 123)"] == pytest.approx(0.36, abs=0.01)
    drop = t.iloc[4]
    assert drop["MDE courses (180 vs 720)"] == pytest.approx(4.0, abs=0.1)
    # Campbell OR 1.72 at 3 %: odds 0.03/0.97 / 1.72 -> 1.766 %, a fall of 1.23 pp
    assert drop["benchmark effect"] == pytest.approx(1.234, abs=0.002)
    assert drop["benchmark ≥ MDE courses"] == "no"
    assert t.iloc[0]["benchmark ≥ MDE courses"] == "—"


def test_recommendation_quotes_the_numbers():
    det = dr.detectability_table(n_treated=180, n_control=720, n_volare=41, n_volare_control=123)
    text = dr.recommendation(detect=det, sample_sizes=dr.sample_size_table())
    for s in (
        "0.17 SD",
        "0.28 SD",
        "0.36 SD",
        "4.0 pp",
        "334 pupils per arm",
        "167",
        "feasibility / pilot",
        "descriptively",
    ):
        assert s in text, s
    assert "SIMULATED" not in text


def test_analytic_figures_return_figures():
    c = dr.comparisons()
    for fig in (dr.power_curve_figure(c), dr.binary_mde_figure(c)):
        assert isinstance(fig, Figure)
        matplotlib.pyplot.close(fig)


# --------------------------------------------------------------------------------------
# Analytic SE of the staggered DiD and its simulation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.55, 0.8])
def test_cs_simple_se_equals_mckenzie_did(rho):
    two = dr.cs_simple_se({2023: 180}, n_control=720, years=[2022, 2023], autocorr=rho)
    ref = P.mde(n_treated=180, n_control=720, design="did", autocorr=rho)
    assert two == pytest.approx(ref.se, rel=1e-12)
    # one cohort, base year + two post years: McKenzie with 1 pre and 2 post periods
    three = dr.cs_simple_se({2023: 180}, n_control=720, years=[2022, 2023, 2024], autocorr=rho)
    ref = P.mde(n_treated=180, n_control=720, design="did", n_pre=1, n_post=2, autocorr=rho)
    assert three == pytest.approx(ref.se, rel=1e-12)


def test_cs_simple_se_two_cohorts_by_hand():
    # cohorts 2023 (n=100: cells 2023, 2024 vs base 2022) and 2024 (n=50: cell 2024 vs 2023),
    # rho = 0. Weights per cell w = n_g / (100*2 + 50*1): 0.4 and 0.2.
    # c_2023 = (-2, 1, 1): c'c = 6; c_2024 = (0, -1, 1): c'c = 2.
    # treated: 0.4² * 6 / 100 + 0.2² * 2 / 50 = 0.0096 + 0.0016 = 0.0112
    # control: d = 0.4 c_2023 + 0.2 c_2024 = (-0.8, 0.2, 0.6): d'd = 1.04, / 200 = 0.0052
    se = dr.cs_simple_se(
        {2023: 100, 2024: 50}, n_control=200, years=[2022, 2023, 2024], autocorr=0.0
    )
    assert se == pytest.approx(math.sqrt(0.0112 + 0.0052), rel=1e-12)


def test_cs_simple_se_rejects_cohort_without_base_year():
    with pytest.raises(DataValidationError, match="base year"):
        dr.cs_simple_se({2022: 10}, n_control=10, years=[2022, 2023], autocorr=0.5)


@pytest.fixture(scope="module")
def small_design():
    return dr.calibrate_design("test", n_treated=60, n_control=120, seed=11, pilot_pupils=8000)


def test_calibrated_design_is_plausible(small_design):
    d = small_design
    # grade_avg: calibration SD 0.9 grade points; pupils observed in all years are a
    # selected, less dispersed group; autocorr = icc + pupil share = 0.55 before selection
    assert 0.7 < d.outcome_sd < 0.95
    assert 0.35 < d.autocorr < 0.6
    assert sum(d.cohort_shares.values()) == pytest.approx(1.0)
    assert set(d.cohort_shares) <= {2023, 2024}


def test_draw_panel_exact_sizes_balanced_and_seeded(small_design):
    a = dr.draw_panel(small_design, 0.3, np.random.default_rng(5))
    b = dr.draw_panel(small_design, 0.3, np.random.default_rng(5))
    pd.testing.assert_frame_equal(a, b)
    per = a.groupby("pupil_id").agg(n=("year", "nunique"), cohort=("cohort", "first"))
    assert (per["n"] == 3).all()
    assert int((per["cohort"] > 0).sum()) == 60
    assert int((per["cohort"] == 0).sum()) == 120
    assert a["grade_avg"].notna().all()


def test_simulated_did_matches_analytic_se_ci_size(small_design):
    # 15 draws per effect: the mean estimated SE is within 10 % of the analytic SE and the
    # mean estimate at 0.5 SD is within 4 Monte Carlo SEs of the truth.
    res = dr.simulate_did_power(small_design, effects=[0.0, 0.5], n_sims=15, seed=3, progress=False)
    t = res.tidy()
    se = small_design.analytic_se()
    assert t["mean_se"].to_numpy() == pytest.approx([se, se], rel=0.10)
    big = t[t["effect"] == 0.5].iloc[0]
    assert abs(big["bias"]) < 4 * se / math.sqrt(15)
    assert t["n_invalid"].sum() == 0
    again = dr.simulate_did_power(
        small_design, effects=[0.0, 0.5], n_sims=15, seed=3, progress=False
    )
    pd.testing.assert_frame_equal(res.sim.estimates, again.sim.estimates)
    d = res.to_dict()
    assert d["simulated"] is True and d["n_sims"] == 15
    fig = dr.simulated_power_figure([res])
    assert isinstance(fig, Figure)
    matplotlib.pyplot.close(fig)
    assert "SIMULATED" in res.summary()


def test_crossing_interpolates():
    e = np.array([0.0, 0.1, 0.2, 0.3])
    p = np.array([0.05, 0.4, 0.7, 0.9])
    assert dr._crossing(e, p, 0.8) == pytest.approx(0.25)
    assert math.isnan(dr._crossing(e, p, 0.95))


@pytest.mark.slow
def test_simulated_did_power_matches_analytic_full_size():
    # 180 vs 720, 200 draws per effect: size within [0.02, 0.09] and power at 0.2 SD within
    # 3 Monte Carlo SEs of the analytic power of the same estimator.
    d = dr.calibrate_design("STEAM courses", n_treated=180, n_control=720, seed=1)
    res = dr.simulate_did_power(d, effects=[0.0, 0.2], n_sims=200, seed=7, progress=False)
    t = res.tidy().set_index("effect")
    assert 0.02 <= t.loc[0.0, "power"] <= 0.09
    r = t.loc[0.2]
    assert abs(r["power"] - r["analytic_power"]) < 3 * math.sqrt(
        r["analytic_power"] * (1 - r["analytic_power"]) / 200
    )


# --------------------------------------------------------------------------------------
# SIINC report helpers (illustrative agreement, hand-computed)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def payments():
    a = sr.load_for_report("config/siinc.yaml")
    inp = siinc.illustrative_inputs(a)
    res = siinc.compute_payments(a, inp.verified_metrics, inp.estimates)
    sens = siinc.sensitivity(a, inp.verified_metrics, inp.estimates, alternatives=inp.alternatives)
    return a, inp, res, sens


def test_audit_table_sums_to_hand_computed_total(payments):
    _, _, res, _ = payments
    t = sr.audit_table(res)
    # 16 x 400 + 5 x 1000 + 176 x 0.6 x 60 + 11 x 250 x 0.925 + 0.75 x 20000 + 5000
    hand = 6400 + 5000 + 6336 + 2543.75 + 15000 + 5000
    assert t["payable (€)"].sum() == pytest.approx(hand, abs=1e-9) == 40279.75
    assert list(t.columns[:7]) == ["metric", "period", "Y", "B", "Y − B", "gate Q", "price (€)"]
    tot = sr.totals_table(res)
    assert tot.iloc[-1]["payable (€)"] == pytest.approx(40279.75)


def test_sensitivity_range_hand_computed(payments):
    _, _, _, sens = payments
    r = sr.sensitivity_range(sens)
    # earlier Volare baselines (24, 35): -(4 x 400) - (2 x 1000) = -3,600
    assert r["min"] == pytest.approx(36679.75) and "Volare" in r["min_scenario"]
    # point estimate 2.4: 176 x 2.4 x 60 = 25,344 capped at the metric cap 20,000: +13,664
    assert r["max"] == pytest.approx(53943.75) and r["max_scenario"] == "estimates: point"
    assert r["spread"] == pytest.approx(17264.0)
    t = sr.sensitivity_table(sens)
    assert t.iloc[0]["scenario"] == "agreement"


def test_recap_verified_and_estimate_tables(payments):
    a, inp, _, _ = payments
    recap = sr.recap_table(a).set_index("metric")
    assert len(recap) == 9
    assert recap.loc["course_attendance_impact", "price"] == "€60.00 per unit"
    assert "lower 95 % bound" in recap.loc["course_attendance_impact", "baseline / threshold"]
    assert pd.isna(recap.loc["volare_completion_rate", "price"])
    v = sr.verified_table(a, inp.verified_metrics).set_index("metric")
    assert v.loc["volare_completion_rate", "role"] == "quality gate of volare_enrolled_12m"
    assert v.loc["course_participants", "role"] == "N of course_attendance_impact"
    e = sr.estimates_table(a, inp.estimates).iloc[0]
    assert (e["point"], e["ci_low"], e["ci_high"]) == (2.4, 0.6, 4.2)


def test_plain_words_and_figures(payments):
    a, _, res, sens = payments
    lines = sr.arithmetic_lines(res)
    assert len(lines) == 6
    assert lines[0].startswith(
        "volare_attendance_75 (S1): verified 36 youths against a "
        "baseline of 20: 16 above baseline × €400.00 = €6,400.00"
    )
    assert "quality gate 0.925" in lines[3]
    text = sr.auditor_paragraph(res, sens)
    for s in ("ILLUSTRATIVE", "€40,279.75", "€36,679.75", "€53,943.75", "€13,664.00"):
        assert s in text, s
    for fig in (sr.payable_vs_cap_figure(res), sr.sensitivity_figure(sens)):
        assert isinstance(fig, Figure)
        matplotlib.pyplot.close(fig)


def test_load_for_report_rounding(payments):
    a = sr.load_for_report("config/siinc.yaml", rounding="half_up")
    assert a.rounding == "half_up" and payments[0].rounding == "half_even"
    with pytest.raises(DataValidationError, match="rounding"):
        sr.load_for_report("config/siinc.yaml", rounding="up")
