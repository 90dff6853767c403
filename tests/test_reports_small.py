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
    assert str(data_build.raw_files_caption(hashes)).startswith(f"The {len(hashes)} raw files")
    assert list(data_build.raw_files_table(hashes).columns) == ["File", "SHA-256"]
    head = data_build.headline(built_panels, hashes)
    assert head["Puglia ELET 2025 (%)"] == 8.6  # Eurostat edat_lfse_16, ITF4, both sexes
    assert head["panels built"] == len(built_panels)
    summary = data_build.splice_summary(built_panels)
    assert "neet" in set(summary["indicator"])
    assert (summary["min_diff"] <= summary["mean_diff"]).all()
    assert (summary["mean_diff"] <= summary["max_diff"]).all()
    shown = data_build.splice_table(built_panels)
    assert "Mean difference (pp)" in shown and "neet" not in set(shown["Indicator"])
    res = data_build.results(built_panels, hashes)
    assert isinstance(res["neet_splice_shift_lecce"], float)
    assert data_build.eurostat_flags(built_panels)["Cells"].sum() == len(
        built_panels["elet_regions"]
    )
    signs = data_build.bes_signs(built_panels)
    assert signs["Cells"].sum() == len(built_panels["bes_provinces"])
    inv = data_build.inventory_table(built_panels)
    assert str(inv["Rows"].dtype) == "int64" and str(inv["First year"].dtype) == "Int64"


# --- 01_context -------------------------------------------------------------------------------


def test_pages_import_only_what_they_use():
    """Kernel start-up is paid by every run: a page without figures does not import pyplot,
    and reading current panels does not import pandera (imported when a panel is built)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from analysis import display\n"
        "from analysis.reports import data_build, methodology\n"
        "from analysis.data import indicators, panels\n"
        "print(sorted(m for m in ('matplotlib.pyplot', 'pandera') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_context_words_tables_and_headline():
    cs = context.load("neet", focus_unit="Lecce", comparison_units=["Puglia", "Italia"])
    assert cs.units == ["Lecce", "Puglia", "Italia"] and cs.reference_unit == "Italia"
    table = context.levels_and_changes(cs.data, units=cs.units, baseline_year=2020)
    head = context.headline(table, cs, baseline_year=2020)
    assert head["Lecce 2024"] == 20.0  # ISTAT Bes dei territori ed. 2025
    assert set(head) == {"Lecce 2024", "Italia 2024", "Lecce change since 2020 (pp)"}
    facts = programme_facts()
    box = context.summary(table, cs, baseline_year=2020, start_year=2021)
    assert f"reaches about {facts.courses.pupils} pupils" in str(box["not_this"])
    assert f"reached {facts.day_centre.youths} young people" in str(box["not_this"])
    assert "Lecce is a province of about 780,000 inhabitants." in str(box["not_this"])
    assert "**Source:** ISTAT" in str(context.indicator_text(cs))
    assert "Shaded: years from 2021." in str(context.trajectory_caption(cs, start_year=2021))
    assert str(context.headline_text(table, cs, baseline_year=2020)) == (
        "Lecce 2024: 20.0% (−10.0 pp since 2020)"
    )
    shown = context.levels_table(table, baseline_year=2020)
    assert list(shown.columns[:3]) == ["Territory", "First year", "First value"]
    assert "Change since baseline" in shown and "value_2020" not in shown
    flagged = context.flagged_observations(cs)
    assert list(flagged.columns) == ["Year", "Territories", "What it marks"]  # no flag, no cause
    assert list(flagged["Year"]) == [2018]  # the first year of the ISTAT 2025 edition
    assert set(context.results(table, cs)) == {"indicator", "levels_and_changes", "series"}


def test_context_quotes_programme_facts_from_the_config(sandbox):
    _edit_programme_facts(sandbox)
    cs = context.load("neet", focus_unit="Lecce", comparison_units=["Puglia", "Italia"])
    table = context.levels_and_changes(cs.data, units=cs.units, baseline_year=2020)
    not_this = str(context.summary(table, cs, baseline_year=2020, start_year=2021)["not_this"])
    assert "Lecce is a province of about 812,000 inhabitants." in not_this
    assert "about 225 pupils" in not_this and "reached 52 young people" in not_this
    region = context.load("elet", focus_unit="Puglia", comparison_units=["Italia"])
    table = context.levels_and_changes(region.data, units=region.units, baseline_year=2020)
    words = str(context.summary(table, region, baseline_year=2020, start_year=2021)["not_this"])
    assert "Puglia is a region of about 3.9 million inhabitants." in words


# --- 05_siinc ---------------------------------------------------------------------------------


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
def payment(tmp_path_factory):
    agr = sr.load_for_report("config/siinc.yaml")
    inputs = siinc.illustrative_inputs(agr)
    return siinc.assemble(
        agr,
        inputs.verified_metrics,
        inputs.records,
        alternatives=inputs.alternatives,
        results_dir=_programme_results(tmp_path_factory.mktemp("results")),
    )


def test_siinc_opening_notes_name_a_rounding_override():
    agr = sr.load_for_report("config/siinc.yaml")
    notes = sr.opening_notes(agr, path="config/siinc.yaml")
    assert [k for _, k in notes] == ["warning"]  # the shipped agreement is illustrative
    assert str(notes[0][0]).startswith("ILLUSTRATIVE agreement: every parameter is an assumption")
    over = sr.load_for_report("config/siinc.yaml", rounding="half_up")
    notes = sr.opening_notes(over, path="config/siinc.yaml", rounding="half_up")
    assert len(notes) == 2 and notes[1][1] == "warning"
    assert "half up (the agreement says half to even)" in str(notes[1][0])
    assert "arrotondamento modificata" in notes[1][0].render("it")
    text = str(sr.agreement_text(agr))
    assert agr.title in text and f"status **{agr.status}**" in text
    assert "pagamenti sui risultati SIINC" in sr.agreement_text(agr).render("it")


def test_siinc_captions_words_and_saved_numbers(payment):
    d = payment
    agr = d.agreement
    for caption in (
        sr.recap_caption(agr),
        sr.calendar_caption(agr),
        sr.audit_caption(agr),
        sr.payable_figure_caption(agr),
    ):
        assert agr.source in str(caption) and agr.status in str(caption)
    assert str(sr.verified_caption(d)).startswith("Verified metrics per period")
    assert "€60,000.00" in str(sr.totals_caption(agr))
    assert "60.000,00\xa0€" in sr.totals_caption(agr).render("it")
    rng = sr.sensitivity_range(d.sensitivity)
    cap = str(sr.sensitivity_figure_caption(agr, d.sensitivity))
    assert f"€{rng['min']:,.2f} – €{rng['max']:,.2f}" in cap
    assert list(sr.recap_table(agr)["Metric"]) == [m.id for m in agr.metrics]
    text = str(sr.arithmetic_text(d))
    assert text.startswith("**The arithmetic, line by line**")
    assert text.count("\n- ") == len(d.result.cells)
    head = sr.headline(d)
    assert head["total payable (€)"] == float(d.result.total_payable) == 40279.75
    assert head["lowest total across scenarios (€)"] == rng["min"]
    res = sr.results(d, inputs={"config/siinc.yaml": "0" * 64})
    assert res["total_payable_cents"] == d.result.total_payable_cents
    assert res["sensitivity_range"] == rng
    assert [p["period"] for p in res["dossier"]] == ["S1", "S2", "S3"]
    assert res["dossier"][0]["inputs_sha256"]["config/siinc.yaml"] == "0" * 64
    assert str(sr.headline_text(d)) == "€40,279.75 (scenarios €36,679.75 – €53,943.75)"
    box = sr.summary_fields(d)
    assert set(box) == {"question", "answer", "certainty", "would_change", "not_this"}
    assert "€40,279.75 is payable over 3 verification periods" in str(box["answer"])
    assert str(box["certainty"]).startswith("All 30 applicable checks passed")
    assert "ILLUSTRATIVE" in str(box["not_this"]) and "SIMULATED" not in str(box["not_this"])


# --- 06_methodology ---------------------------------------------------------------------------


def test_methodology_types_no_programme_fact():
    source = (REPO / "src" / "analysis" / "reports" / "methodology.py").read_text()
    assert not re.search(r"\b(180|41|120)\b", source), "read programme facts from facts.py"


def test_methodology_quotes_programme_facts_from_the_config(sandbox):
    _edit_programme_facts(sandbox)
    first = methodology.limitations()[0].render("en")
    assert "about 225 course participants and 52 Volare Alto youths" in first
    assert methodology.limitations_text().render("en").count("\n- ") == (
        len(methodology.limitations()) - 1
    )


def test_methodology_questions_name_existing_notebooks():
    notebooks = {p.stem for p in (REPO / "notebooks").glob("*.ipynb")}
    assert {q["notebook"] for q in methodology.QUESTIONS} <= notebooks


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
    plan = methodology.plan_that_ran({"plan": "config/other_plan.yaml"})
    states = methodology.run_states(plan, exclude="methodology")
    assert states[["run", "notebook", "status"]].to_dict(orient="records") == [
        {"run": "data_build", "notebook": "00_data_build", "status": "not run"}
    ]
    assert "`config/other_plan.yaml`" in methodology.plan_text(plan, states).render("en")


def test_methodology_reads_results_and_states_and_escapes_links(sandbox):
    from analysis.pipeline.plan import load_plan
    from analysis.pipeline.state import atomic_write_text, results_path, write_state

    plan = load_plan()
    atomic_write_text(
        results_path("design_power"),
        json.dumps(
            {
                "headline": {"MDE": 0.25},
                "banners": ["QUICK <b>"],
                "page": {
                    "question": "design",
                    "verdict": {"en": "MDE <courses> 0.25", "it": "MDE <corsi> 0,25"},
                    "headline": {"en": "0.25 <sd>", "it": "0,25 <sd>"},
                },
            }
        ),
    )
    write_state("design_power", {"status": "success"})
    atomic_write_text(results_path("siinc_payments"), "{not json")  # corrupt: not current
    write_state("siinc_payments", {"status": "success"})
    states = methodology.run_states(plan, exclude="methodology").set_index("run")
    assert states.loc["design_power", "status"] == "success"
    assert states.loc["siinc_payments", "status"] == "results missing"
    power = methodology.notebook_findings(plan, "04_design", exclude="methodology")
    assert [f.run for f in power] == ["design_power"]
    html_en = methodology.verdicts_html(power)("en")
    assert '<a href="design_power.html">' in html_en and "MDE &lt;courses&gt; 0.25" in html_en
    assert "<courses>" not in html_en and "<b>" not in html_en
    listing = methodology.reports_html(states.reset_index())("it")
    assert "0,25 &lt;sd&gt;" in listing and "<sd>" not in listing
    checked = methodology.evaluate_checks(plan, exclude="methodology")
    head = methodology.headline(states.reset_index(), checked, "ILLUSTRATIVE")
    assert head == {
        "reports described": len(plan.runs) - 1,
        "reports succeeded": 1,
        "checks listed": len(methodology.CHECKS),
        "checks backed": 0,  # the results above record no check
        "SIINC agreement illustrative (1 = yes)": 1,
    }
