"""Helpers of the design/power report (notebook 04) and the SIINC payment report (notebook 05).

Reference numbers: the docs/references.md §3.5 (published tables), statsmodels' power classes
(an independent implementation), hand-computed payments of the illustrative agreement
(config/siinc.yaml).  The simulated power of the DiD (method) is tested in
tests/test_power_simulation.py.
"""

from __future__ import annotations

import json
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
from analysis._util import to_jsonable
from analysis.errors import DataValidationError
from analysis.facts import programme_facts
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
    # spot checks against the published tables: 180 vs 180 -> 0.30 SD; base 3 %, 180 vs 180 -> 5.0 pp
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
        ref = dr.NOTE_CONTINUOUS[(row.n_treated, row.n_control)]
        np.testing.assert_allclose(
            [getattr(row, c) for c in dr.CONTINUOUS_VARIANTS], ref, atol=0.01
        )


def test_design_table_did_and_ancova_factors():
    t = dr.design_mde_table(dr.comparisons(), autocorr_values=[0.7])
    r = t[(t["n_treated"] == 180) & (t["n_control"] == 720)].iloc[0]
    # DiD factor 2(1 - 0.7) = 0.6, ANCOVA 1 - 0.49 = 0.51 (McKenzie 2012), M = 2.8016
    base = 2.8016 * math.sqrt(1 / 180 + 1 / 720)
    assert r["post"] == pytest.approx(base, rel=1e-3)
    assert r["did"] == pytest.approx(base * math.sqrt(0.6), rel=1e-3)
    assert r["ancova"] == pytest.approx(base * math.sqrt(0.51), rel=1e-3)


def test_binary_table_flags_rates_below_the_mde():
    t = dr.binary_mde_table(dr.comparisons())
    at = t.set_index(["n_treated", "n_control", "base_rate_pct"])
    assert at.loc[(180, 720, 3.0), "mde_pp"] == pytest.approx(4.0, abs=0.1)
    # 3 %: every comparison's MDE exceeds the base rate; 10 %: only Volare Alto's
    assert not t[t["base_rate_pct"] == 3.0]["fall_detectable"].any()
    ten = t[t["base_rate_pct"] == 10.0]
    assert ten.loc[~ten["fall_detectable"], "n_treated"].tolist() == [41, 41]


def test_sample_sizes_one_group_vs_two_groups_statsmodels():
    t = dr.sample_size_table(control_ratio=4)
    r = t.iloc[0]
    assert (r["from_pct"], r["to_pct"]) == pytest.approx((21.1, 13.0))
    assert r["published"] == 167
    assert r["one_group"] == 167
    h = proportion_effectsize(0.211, 0.13)
    sm = NormalIndPower()
    assert (
        r["two_groups_per_arm"]
        == math.ceil(sm.solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1))
        == 334
    )
    n1 = sm.solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=4)
    assert r["unequal_treated"] == math.ceil(n1) == 209
    assert r["unequal_controls"] == math.ceil(4 * n1 - 1e-9)
    assert t["one_group"].tolist() == [167, 212, 441, 746]


def _detect():
    return dr.detectability_table(n_treated=180, n_control=720, n_volare=41, n_volare_control=123)


def test_detectability_table_values():
    t = _detect()
    grade = t.iloc[1]
    assert grade["mde_courses"] == pytest.approx(0.17, abs=0.01)  # published table
    assert grade["mde_volare"] == pytest.approx(0.36, abs=0.01)
    drop = t.iloc[4]
    assert drop["mde_courses"] == pytest.approx(4.0, abs=0.1)
    # Campbell OR 1.72 at 3 %: odds 0.03/0.97 / 1.72 -> 1.766 %, a fall of 1.23 pp
    assert drop["benchmark"] == pytest.approx(1.234, abs=0.002)
    assert drop["benchmark_detectable"] is False
    assert t.iloc[0]["benchmark_detectable"] is None


def test_recommendation_quotes_the_numbers():
    det = _detect()
    msg = dr.recommendation(
        detect=det, sample_sizes=dr.sample_size_table(), courses=(180, 720), volare=(41, 123)
    )
    text = msg.render("en")
    for s in (
        "0.17 SD",
        "0.28 SD",
        "0.36 SD",
        "4.0 pp",
        "334 pupils per arm",
        "167",
        "feasibility or pilot",
        "descriptively",
    ):
        assert s in text, s
    assert "SIMULATED" not in text
    italian = msg.render("it")
    for s in ("0,17 DS", "0,28 DS", "4,0 p.p.", "334 alunni per braccio", "fattibilità"):
        assert s in italian, s


def test_analytic_figures_return_figures_in_each_language():
    c = dr.comparisons()
    for lang in ("it", "en"):
        for fig in (dr.power_curve_figure(c, lang=lang), dr.binary_mde_figure(c, lang=lang)):
            assert isinstance(fig, Figure)
            matplotlib.pyplot.close(fig)
    fig = dr.binary_mde_figure(c, lang="it")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Effetto minimo rilevabile (punti percentuali)"
    assert "corsi STEAM: 180 contro 720" in [t.get_text() for t in ax.get_legend().get_texts()]
    matplotlib.pyplot.close(fig)


# --------------------------------------------------------------------------------------
# The page: DesignAnalysis (a small SIMULATED run; the method is tested in
# tests/test_power_simulation.py)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def study():
    return dr.DesignAnalysis.build(seed=5, n_sims=3, effects=[0.0, 0.6])


def test_main_comparisons_and_facts(study):
    facts = programme_facts()
    main = study.main
    assert list(main) == ["STEAM courses", "Volare Alto"]
    assert (main["STEAM courses"].n_treated, main["STEAM courses"].n_control) == (180, 720)
    assert main["STEAM courses"].n_treated == facts.courses.pupils
    assert main["Volare Alto"].n_treated == facts.day_centre.youths
    assert main["Volare Alto"].comparison == "41 vs 123"
    text = str(study.groups_text())
    assert f"{facts.courses.pupils} pupils" in text and f"{facts.day_centre.youths} youths" in text


def test_views_carry_tables_figures_and_captions(study):
    tables = [
        study.comparisons_view(),
        study.reproduction_view(),
        study.continuous_view(),
        study.design_view(),
        study.binary_view(),
        study.sample_size_view(),
        study.simulation_design_view(),
        study.simulated_power_view(),
        study.simulated_mde_view(),
        study.detectability_view(),
    ]
    for view in tables:
        assert isinstance(view["df"], pd.DataFrame) and not view["df"].empty
        assert len(str(view["caption"])) > 40
        # human headers only: every header is a catalog id (no machine names)
        assert all("_" not in c for c in view["df"].columns), view["df"].columns
    for view in (
        study.power_curve_view(),
        study.binary_figure_view(),
        study.simulated_power_figure_view(),
    ):
        for lang in ("it", "en"):
            fig = view["fig"](lang)
            assert isinstance(fig, Figure)
            matplotlib.pyplot.close(fig)
        assert str(view["caption"])
    assert "9 courses × 20 pupils; 41 Volare Alto youths" in str(
        study.comparisons_view()["caption"]
    )
    assert study.comparisons_view()["collapsed"] and study.simulation_design_view()["collapsed"]
    note = study.reproduction_note()
    assert str(note["text"]) == (
        "All 39 numbers of the published power tables are reproduced within rounding."
    )
    assert note["kind"] == "info"
    note = str(study.sample_size_note()["text"])
    assert "167 pupils" in note and "334 per arm (668 in total)" in note
    caption = str(study.simulation_design_view()["caption"])
    assert "20,000 simulated pupils" in caption and "“power” of seed 5" in caption
    summary = study.reproduction_view()["df"]
    assert summary["Numbers"].tolist() == [20, 15, 4]


def test_simulation_uses_the_run_streams(study):
    (pilot, draws), _ = P.design_seeds(5, 2)
    sim = study.sims[0]
    assert sim.sim.seed == {"entropy": 5, "spawn_key": list(draws.spawn_key)}
    assert draws.spawn_key == (5, 0) and pilot.spawn_key == (0, 0)  # streams "power", "data"
    again = P.simulate_did_power(
        sim.design, effects=[0.0, 0.6], n_sims=3, seed=draws, progress=False
    )
    pd.testing.assert_frame_equal(sim.sim.estimates, again.sim.estimates)
    assert dr.design_table(study.sims)["group"].tolist() == ["STEAM courses", "Volare Alto"]


def test_headline_and_results(study):
    head = study.headline()
    assert head["MDE courses 180 vs 720, R² 0.5 (SD)"] == pytest.approx(0.165, abs=0.001)
    assert head["MDE Volare Alto 41 vs 123, R² 0.5 (SD)"] == pytest.approx(0.357, abs=0.001)
    assert head["pupils per arm for 21.1 % → 13 % (two groups)"] == 334
    assert study.headline_text().render("it") == "MDE 0,17 DS (corsi STEAM), 0,36 DS (Volare Alto)"
    res = study.results()
    assert set(res["simulated_power"]) == {"STEAM courses", "Volare Alto"}
    assert "SIMULATED" in res["recommendation"]
    assert len(res["simulated_mde"]) == 2
    json.dumps(to_jsonable(res), allow_nan=False)


def test_summary_box_answers_first_from_the_numbers(study):
    box = study.summary()
    assert set(box) == {"question", "answer", "certainty", "would_change", "not_this"}
    answer = str(box["answer"])
    assert "0.17 standard deviations (SD)" in answer and "4.0 pp" in answer
    assert "0.36 SD" in answer and "8.6 pp" in answer
    assert "cannot be shown" in answer  # 4.0 pp MDE >= 3 % annual dropout
    certainty = str(box["certainty"])
    assert "39 of the 39" in certainty and "ICC = 0.10" in certainty
    assert "9 courses as clusters" in certainty
    assert "SIMULATED" in str(box["not_this"])
    assert "0.12 SD" in str(box["would_change"])  # twice the sample: 0.165 / sqrt(2)


# --------------------------------------------------------------------------------------
# SIINC report helpers (illustrative agreement, hand-computed)
# --------------------------------------------------------------------------------------


def _programme_results(folder):
    """The keys of a programme run's results that the SIINC agreement reads (+2.4 pp)."""
    (folder / "programme_did_absence.json").write_text(
        json.dumps(
            {
                "parameters": {"control": "never", "covariates": []},
                "results": {
                    "headline_estimate": {
                        "estimate": -0.024,
                        "ci_low": -0.042,
                        "ci_high": -0.006,
                        "method": "Callaway-Sant'Anna (dr, never controls), simple",
                        "extra": {"base_period": "universal", "anticipation": 0},
                    },
                    "few_clusters": [
                        {"inference": "wild cluster bootstrap", "p_value": 0.01},
                        {"inference": "randomization inference", "p_value": 0.01},
                    ],
                },
            }
        ),
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def payments(tmp_path_factory):
    a = sr.load_for_report("config/siinc.yaml")
    inp = siinc.illustrative_inputs(a)
    return siinc.assemble(
        a,
        inp.verified_metrics,
        inp.records,
        alternatives=inp.alternatives,
        results_dir=_programme_results(tmp_path_factory.mktemp("results")),
    )


def test_audit_tables_sum_to_hand_computed_total(payments):
    t = sr.audit_amounts_table(payments)
    # 16 x 400 + 5 x 1000 + 176 x 0.6 x 60 + 11 x 250 x 0.925 + 0.75 x 20000 + 5000
    hand = 6400 + 5000 + 6336 + 2543.75 + 15000 + 5000
    assert t["Payable (€)"].sum() == pytest.approx(hand, abs=1e-9) == 40279.75
    terms = sr.audit_terms_table(payments)
    assert list(terms.columns[:5]) == ["Metric", "Period", "Y", "B", "Y − B"]
    row = terms.set_index("Metric").loc["volare_attendance_75"]
    assert (row["Y"], row["B"], row["Y − B"]) == (36, 20, 16)
    tot = sr.totals_table(payments.result)
    assert tot.iloc[-1]["Payable (€)"] == pytest.approx(40279.75)
    assert tot.iloc[-1]["Period"] == "total"


def test_sensitivity_range_hand_computed(payments):
    r = sr.sensitivity_range(payments.sensitivity)
    # earlier Volare baselines (24, 35): -(4 x 400) - (2 x 1000) = -3,600
    assert r["min"] == pytest.approx(36679.75) and r["min_scenario"] == "volare_baselines_earlier"
    # point estimate 2.4: 176 x 2.4 x 60 = 25,344 capped at the metric cap 20,000: +13,664
    assert r["max"] == pytest.approx(53943.75) and r["max_scenario"] == "estimates: point"
    assert r["spread"] == pytest.approx(17264.0)
    t = sr.sensitivity_table(payments.sensitivity)
    assert t.iloc[0]["Scenario"] == "agreement"


def test_recap_verified_and_design_tables(payments):
    a = payments.agreement
    recap = sr.recap_table(a).set_index("Metric")
    assert len(recap) == 9
    assert recap.loc["course_attendance_impact", "Price, amount or bonus (€)"] == 60.0
    assert recap.loc["course_attendance_impact", "Payment rule"] == "impact-based"
    assert recap.loc["course_attendance_impact", "Role"] == "primary"
    assert pd.isna(recap.loc["volare_completion_rate", "Price, amount or bonus (€)"])
    v = sr.verified_table(payments).set_index("Metric")
    assert v.loc["volare_completion_rate", "Role in the payment"] == "quality gate"
    assert v.loc["course_participants", "Role in the payment"] == "N of an impact-based rule"
    design = sr.design_table(payments.impact["att_course_attendance"])
    assert design["Same"].all() and len(design) == 5


def test_plain_words_sheets_and_figures(payments):
    lines = [str(x) for x in sr.arithmetic_lines(payments)]
    assert len(lines) == 6
    assert lines[0].startswith(
        "`volare_attendance_75` (S1): verified 36 against a baseline of 20: 16 above the "
        "baseline × €400.00 = €6,400.00 eligible"
    )
    assert "quality gate 0.9250" in lines[3]
    assert "verified < 10" in lines[4]  # 8 of 10 organisations: banded, amount exact
    text = str(sr.auditor_paragraph(payments))
    for s in ("ILLUSTRATIVE", "€40,279.75", "€36,679.75", "€53,943.75", "€17,264.00"):
        assert s in text, s
    sheet = str(sr.indicator_sheet(payments, payments.agreement.metric("orgs_active_12m"), "4.8"))
    for field in (
        "Role",
        "Definition",
        "Formula",
        "Unit and population",
        "owner",
        "extraction date",
        "Periodicity",
        "Baseline, comparison or threshold",
        "Target",
        "Payment rule",
        "Price and cap",
        "Quality gates",
        "Privacy rule",
        "Values by period",
        "Amount payable",
    ):
        assert field in sheet, field
    assert "S3: €15,000.00" in sheet and "fewer than 10" in sheet
    for lang in ("it", "en"):
        for fig in (
            sr.payable_vs_cap_figure(payments.result, lang=lang),
            sr.sensitivity_figure(payments.sensitivity, lang=lang),
        ):
            assert isinstance(fig, Figure)
            matplotlib.pyplot.close(fig)


def test_load_for_report_rounding(payments):
    a = sr.load_for_report("config/siinc.yaml", rounding="half_up")
    assert a.rounding == "half_up" and payments.agreement.rounding == "half_even"
    with pytest.raises(DataValidationError, match="rounding"):
        sr.load_for_report("config/siinc.yaml", rounding="up")
