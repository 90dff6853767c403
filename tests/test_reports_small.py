"""The report modules of the small notebooks: 00_data_build, 01_context, 05_siinc, 06_methodology.

They hold the tables, captions and words their notebooks show; programme facts come from
``config/programme.yaml`` and the methodology note describes the plan that ran.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import paths, siinc
from analysis.facts import programme_facts
from analysis.reports import context, data_build, methodology
from analysis.reports import siinc as sr

REPO = Path(__file__).resolve().parents[1]


def _edit_programme_facts(root: Path) -> None:
    """Change the facts the reports quote (consistently, so the file still validates)."""
    p = root / "config" / "programme.yaml"
    doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    doc["pro_officine_mezzogiorno"]["pupils_per_course"] = 25
    doc["pro_officine_mezzogiorno"]["pupils"] = 225
    doc["fis_experimentation"]["youths"] = 52
    doc["territory"]["Lecce"]["inhabitants_approx"] = 812000
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


# --- 00_data_build ----------------------------------------------------------------------------


def test_data_build_inventory_counts_rows_units_years_and_missing():
    frames = {
        "elet_regions": pd.DataFrame(
            {"geo": ["ITF4", "ITF4", "ITC1"], "year": [2020, 2021, 2021], "value": [1.0, np.nan, 2]}
        ),
        "bes_overlap": pd.DataFrame({"province_code": ["075"], "n_overlap": [3]}),
    }
    inv = data_build.inventory(frames).set_index("panel")
    assert list(inv.columns[:2]) == ["description", "rows"]
    assert inv.loc["elet_regions", "rows"] == 3 and inv.loc["elet_regions", "units"] == 2
    assert (inv.loc["elet_regions", "first_year"], inv.loc["elet_regions", "last_year"]) == (
        2020,
        2021,
    )
    assert inv.loc["elet_regions", "missing_values"] == 1
    assert inv.loc["elet_regions", "share_missing_%"] == pytest.approx(100 / 3)
    assert np.isnan(inv.loc["bes_overlap", "first_year"])  # no year column


def test_data_build_tables_and_numbers_from_the_built_panels(built_panels):
    hashes = data_build.verify_raw_files()
    assert data_build.raw_files_caption(hashes).startswith(f"{len(hashes)} raw files")
    assert list(data_build.raw_files_table(hashes).columns) == ["file", "sha256"]
    head = data_build.headline(built_panels, hashes)
    assert head["Puglia ELET 2025 (%)"] == 8.6  # Eurostat edat_lfse_16, ITF4, both sexes
    assert head["panels built"] == len(built_panels)
    summary = data_build.splice_summary(built_panels)
    assert "neet" in set(summary["indicator"])
    assert (summary["min_diff"] <= summary["mean_diff"]).all()
    assert (summary["mean_diff"] <= summary["max_diff"]).all()
    res = data_build.results(built_panels, hashes)
    assert isinstance(res["neet_splice_shift_lecce"], float)
    assert data_build.eurostat_flags(built_panels)["cells"].sum() == len(
        built_panels["elet_regions"]
    )
    signs = data_build.bes_signs(built_panels)
    assert signs["cells"].sum() == len(built_panels["bes_provinces"])


# --- 01_context -------------------------------------------------------------------------------


def test_context_words_tables_and_headline():
    cs = context.load("neet", focus_unit="Lecce", comparison_units=["Puglia", "Italia"])
    assert cs.units == ["Lecce", "Puglia", "Italia"] and cs.reference_unit == "Italia"
    table = context.levels_and_changes(cs.data, units=cs.units, baseline_year=2020)
    head = context.headline(table, cs, baseline_year=2020)
    assert head["Lecce 2024"] == 20.0  # ISTAT Bes dei territori ed. 2025
    assert set(head) == {"Lecce 2024", "Italia 2024", "Lecce change since 2020 (pp)"}
    facts = programme_facts()
    words = context.summary_text(table, cs, baseline_year=2020)
    assert f"about {facts.courses.pupils} course pupils" in words
    assert f"{facts.day_centre.youths} day-centre youths" in words
    assert "Lecce is a province of about 780,000 inhabitants" in context.scale_text(cs)
    assert "**Source:** ISTAT" in context.indicator_text(cs)
    assert "Shaded: years from 2021." in context.trajectory_caption(cs, start_year=2021)
    flagged = context.flagged_observations(cs)
    assert list(flagged.columns) == ["unit", "year", "value", "flag", "source", "break"]
    assert set(context.results(table, cs)) == {"indicator", "levels_and_changes", "series"}


def test_context_quotes_programme_facts_from_the_config(sandbox):
    _edit_programme_facts(sandbox)
    cs = context.load("neet", focus_unit="Lecce", comparison_units=["Puglia", "Italia"])
    assert "province of about 812,000 inhabitants" in context.scale_text(cs)
    assert "about 225 pupils" in context.scale_text(cs)
    table = context.levels_and_changes(cs.data, units=cs.units, baseline_year=2020)
    words = context.summary_text(table, cs, baseline_year=2020)
    assert "about 225 course pupils and 52 day-centre youths" in words
    region = context.load("elet", focus_unit="Puglia", comparison_units=["Italia"])
    assert "Puglia is a region of about 3.9 million inhabitants" in context.scale_text(region)


# --- 05_siinc ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def payment():
    agr = sr.load_for_report("config/siinc.yaml")
    inputs = siinc.illustrative_inputs(agr)
    result = siinc.compute_payments(agr, inputs.verified_metrics, inputs.estimates)
    sens = siinc.sensitivity(
        agr, inputs.verified_metrics, inputs.estimates, alternatives=inputs.alternatives
    )
    return agr, inputs, result, sens


def test_siinc_opening_notes_name_a_rounding_override():
    agr = sr.load_for_report("config/siinc.yaml")
    notes = sr.opening_notes(agr, path="config/siinc.yaml")
    assert notes == [(agr.status_line(), "warning")]  # the shipped agreement is illustrative
    over = sr.load_for_report("config/siinc.yaml", rounding="half_up")
    notes = sr.opening_notes(over, path="config/siinc.yaml", rounding="half_up")
    assert len(notes) == 2 and notes[1][1] == "warning"
    assert f"half_up (the agreement says {agr.rounding})" in notes[1][0]
    text = sr.agreement_text(agr)
    assert agr.title in text and f"status **{agr.status}**" in text


def test_siinc_captions_words_and_saved_numbers(payment):
    agr, inputs, result, sens = payment
    for caption in (
        sr.recap_what_caption(agr),
        sr.recap_rules_caption(agr),
        sr.calendar_caption(agr),
        sr.audit_caption(agr),
        sr.payable_figure_caption(agr),
    ):
        assert agr.source in caption and agr.status in caption
    assert sr.verified_caption(agr).startswith("Verified metrics per period")
    assert "ILLUSTRATIVE" in sr.estimates_caption()
    assert siinc.money.format_eur(agr.caps.total_cents) in sr.totals_caption(agr)
    rng = sr.sensitivity_range(sens)
    assert f"€{rng['min']:,.2f}–€{rng['max']:,.2f}" in sr.sensitivity_figure_caption(agr, sens)
    what, rules = sr.recap_parts(agr)
    assert list(what["metric"]) == list(rules["metric"]) == [m.id for m in agr.metrics]
    text = sr.arithmetic_text(result)
    assert text.startswith("**The arithmetic, line by line**")
    assert text.count("\n- ") == len(result.cells)
    head = sr.headline(result, sens)
    assert head[f"total payable ({agr.status}, €)"] == float(result.total_payable)
    assert head["lowest total across scenarios (€)"] == rng["min"]
    res = sr.results(agr, inputs, result, sens)
    assert res["total_payable_cents"] == result.total_payable_cents
    assert res["sensitivity_range"] == rng


# --- 06_methodology ---------------------------------------------------------------------------


def test_methodology_types_no_programme_fact():
    source = (REPO / "src" / "analysis" / "reports" / "methodology.py").read_text()
    assert not re.search(r"\b(180|41|120)\b", source), "read programme facts from facts.py"


def test_methodology_quotes_programme_facts_from_the_config(sandbox):
    _edit_programme_facts(sandbox)
    assert "about 225 course participants and 52 Volare Alto youths" in methodology.limitations()[0]
    why = methodology.outcomes().set_index("role").loc["secondary, descriptive", "why"]
    assert "with 225 participants" in why
    assert methodology.limitations_text().count("\n- ") == len(methodology.limitations()) - 1


def test_methodology_questions_name_existing_notebooks():
    notebooks = {p.stem for p in (REPO / "notebooks").glob("*.ipynb")}
    assert set(methodology.QUESTIONS["notebook"]) <= notebooks


def test_methodology_describes_the_plan_that_ran(sandbox):
    default = methodology.plan_that_ran({})  # run interactively: the default plan
    assert default.source == paths.PLAN_FILE
    other = sandbox / "config" / "other_plan.yaml"
    other.write_text(
        yaml.safe_dump(
            {
                "runs": [
                    {"id": "data_build", "notebook": "00_data_build", "title": "Data"},
                    {"id": "methodology", "notebook": "06_methodology", "title": "Note"},
                ]
            }
        )
    )
    for recorded in ("config/other_plan.yaml", str(other)):  # as the runner records it, or absolute
        plan = methodology.plan_that_ran({"plan": recorded})
        assert [r.id for r in plan.runs] == ["data_build", "methodology"]
    table = methodology.reports_table(
        methodology.plan_that_ran({"plan": "config/other_plan.yaml"}), exclude="methodology"
    )
    assert table.to_dict(orient="records") == [
        {
            "report": "Data",
            "link": "data_build.html",
            "notebook": "00_data_build",
            "status": "not run",
            "flags": "",
            "headline numbers": "",
        }
    ]


def test_methodology_reads_results_and_states_and_escapes_links(sandbox):
    from analysis.pipeline.plan import load_plan
    from analysis.pipeline.state import atomic_write_text, results_path, write_state

    plan = load_plan()
    atomic_write_text(
        results_path("design_power"),
        json.dumps({"headline": {"MDE <courses>": 0.25, "n": 12000}, "banners": ["QUICK"]}),
    )
    write_state("design_power", {"status": "success"})
    power = methodology.headline_numbers(plan, "04_design")
    assert power.to_dict(orient="records") == [
        {"run": "design_power", "number": "MDE <courses>", "value": 0.25},
        {"run": "design_power", "number": "n", "value": 12000},
    ]
    table = methodology.reports_table(plan, exclude="methodology")
    row = table.set_index("link").loc["design_power.html"]
    assert row["status"] == "success" and row["flags"] == "QUICK"
    assert row["headline numbers"] == "MDE <courses>: 0.25; n: 12,000"
    links = methodology.links_html(table)
    assert '<a href="design_power.html">' in links and "MDE &lt;courses&gt;: 0.25" in links
    assert "<courses>" not in links
    head = methodology.headline(table, "ILLUSTRATIVE")
    assert head == {
        "reports described": len(plan.runs) - 1,
        "reports succeeded": 1,
        "SIINC agreement status": "ILLUSTRATIVE",
    }
