"""The methodology note claims only what results back (issue 11, item 1; issue 10: --plan, states).

The note's content is built from crafted results JSONs in a sandbox reports folder: a check
whose backing key is missing is reported "not run", never claimed; every claimed check names a
key that exists in a run's results; every "section N" reference points to the section it names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from analysis.reports import methodology as m

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "06_methodology.ipynb"

PLAN = {
    "runs": [
        {"id": "ctx", "notebook": "01_context", "title": "Context"},
        {"id": "terr", "notebook": "02_territorial", "title": "Territory"},
        {"id": "terr_failed", "notebook": "02_territorial", "title": "Territory, failed"},
        {
            "id": "prog",
            "notebook": "03_programme",
            "title": "Programme",
            "parameters": {"outcome": "absence_rate", "control": "never", "covariates": []},
        },
        {
            "id": "prog_cov",
            "notebook": "03_programme",
            "title": "Programme with covariates",
            "parameters": {"outcome": "grade_avg", "control": "never", "covariates": ["x"]},
        },
        {"id": "power", "notebook": "04_design", "title": "Power"},
        {"id": "methodology", "notebook": "06_methodology", "title": "Note"},
    ]
}

TERR = {
    "banners": [],
    "page": {
        "question": "territory",
        "verdict": {"en": "Lecce moved −0.2 pp.", "it": "Lecce si è mossa di −0,2 p.p."},
        "headline": {"en": "−0.2 pp [−6.7; 6.3]", "it": "−0,2 p.p. [−6,7; 6,3]"},
    },
    "results": {
        "triangulation": {"estimates": {"sc": {"extra": {"pre_rmspe": 0.8}}, "did": {}}},
        "robustness": {
            "placebo_in_space": {"agrees_with_headline": True, "p_permutation": 0.6},
            "placebo_in_time": {"agrees_with_headline": False},
            "leave_one_out": {"agrees_with_headline": None},
            "donor_pool:all_provinces": {"run": True, "agrees_with_headline": True},
            "pre_window:2015": {
                "run": False,
                "reason": "too few years",
                "agrees_with_headline": None,
            },
            "something_new": {"agrees_with_headline": True},
        },
    },
}
PROG = {
    "banners": ["SIMULATED — NOT PROGRAMME RESULTS"],
    "page": {"question": "effect", "verdict": {"en": "No effect.", "it": "Nessun effetto."}},
    "results": {
        "headline_estimate": {"estimate": -1.0, "p_value": 0.2},
        "wild_bootstrap": {"p_value": 0.31},
        "honest_did": {"method": "relative_magnitude", "breakdown": 0.5},
        "significance": {"level": "borderline", "checks": {}},
        "robustness": {"control_group:not_yet_treated": {"agrees_with_headline": True}},
    },
}


def _write(run_id: str, payload: dict[str, Any], status: str = "success") -> None:
    from analysis.pipeline.state import atomic_write_text, results_path, write_state

    atomic_write_text(results_path(run_id), json.dumps(payload))
    write_state(run_id, {"run_id": run_id, "status": status})


@pytest.fixture
def note(sandbox):
    """A plan of six reports: two with results, one failed (stale file), one interrupted."""
    from analysis.pipeline.state import write_state

    plan_file = sandbox / "config" / "small_plan.yaml"
    plan_file.write_text(yaml.safe_dump(PLAN, allow_unicode=True), encoding="utf-8")
    _write("terr", TERR)
    _write("terr_failed", TERR, status="failed")  # a stale file must back nothing
    _write("prog", PROG)
    write_state("prog_cov", {"run_id": "prog_cov", "status": "running"})  # cut short
    plan = m.plan_that_ran({"plan": "config/small_plan.yaml"})
    checked = m.evaluate_checks(plan, exclude="methodology")
    return {
        "plan": plan,
        "states": m.run_states(plan, exclude="methodology"),
        "checked": checked,
        "by_id": {c.check.id: c for c in checked},
        "extra": m.unlisted_checks(plan, checked, exclude="methodology"),
    }


def _resolve(tree: Any, dotted: str) -> Any:
    node = tree
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"{dotted}: no {part!r}"
        node = node[part]
    return node


def test_a_check_whose_key_is_missing_is_not_run_never_claimed(note):
    by_id = note["by_id"]
    for cid in ("placebo_in_space", "placebo_in_time", "leave_one_out", "donor_pool", "pre_fit"):
        assert by_id[cid].backed and by_id[cid].runs == ("terr",), cid
    # missing keys, or a record saying the check was not run, back nothing
    for cid in ("pre_window", "ipw", "anticipation", "honest_smoothness", "overlap", "balance"):
        assert not by_id[cid].backed, cid
    assert [e.outcome for e in by_id["pre_window"].evidence] == ["not run"]
    # outcomes as recorded
    outcome = {c: by_id[c].evidence[0].outcome for c in ("placebo_in_space", "placebo_in_time")}
    assert outcome == {"placebo_in_space": "agrees", "placebo_in_time": "disagrees"}
    assert by_id["leave_one_out"].evidence[0].outcome == "undetermined"
    assert by_id["wild_cluster_bootstrap"].evidence[0].p_value == pytest.approx(0.31)
    assert by_id["significance_rule"].evidence[0].outcome == "borderline"
    assert by_id["not_yet_treated"].backed and by_id["honest_relative_magnitude"].backed
    # a record no listed check covers is shown as run, not lost
    assert [(e.run, e.key) for e in note["extra"]] == [("terr", "results.robustness.something_new")]


def test_every_claimed_check_names_an_existing_key(note):
    results = {"terr": TERR, "prog": PROG}
    claimed = [c for c in note["checked"] if c.backed]
    assert claimed
    for c in claimed:
        for e in c.evidence:
            assert e.run in results, f"{c.check.id} claims a run without current results"
            _resolve(results[e.run], e.key)
    # the table a reader sees says "backed" exactly for these
    table = m.checks_table(note["checked"]).set_index("Check")
    backed_labels = {c.check.label for c in claimed}
    for label, row in table.iterrows():
        expected = "backed by results" if label in backed_labels else "pre-specified, not yet run"
        assert row["Status"] == expected, label
        assert (row["Reports"] > 0) == (label in backed_labels)
    annex = m.evidence_table(note["checked"], note["extra"])
    for row in annex.itertuples(index=False):
        if row[3] != "not run in this report":
            _resolve(results[row[1]], row[2])


def test_the_test_fails_for_a_check_with_no_backing(note):
    ghost = m.Check("ghost", "robustness", "Ghost check", (m.Backing("02_territorial", "x.y"),))
    (res,) = m.evaluate_checks(note["plan"], exclude="methodology", checks=[ghost])
    assert not res.backed and res.evidence == ()
    assert m.checks_table([res]).iloc[0]["Status"] == "pre-specified, not yet run"
    # a backing in another notebook's runs does not count either
    wrong = m.Check("w", "robustness", "W", (m.Backing("03_programme", "results.robustness.*"),))
    (res,) = m.evaluate_checks(
        note["plan"], exclude="methodology", checks=[wrong], results_of={"terr": TERR}
    )
    assert not res.backed


def test_registry_is_well_formed():
    ids = [c.id for c in m.CHECKS]
    assert len(ids) == len(set(ids))
    notebooks = {p.stem for p in (REPO / "notebooks").glob("*.ipynb")}
    for c in m.CHECKS:
        assert c.kind in m.KIND_WORDS and c.backing, c.id
        assert all(b.notebook in notebooks and b.key.startswith("results.") for b in c.backing)
    named = {i for q in m.QUESTIONS for i in q["design"]} | {
        i for a in m.ASSUMPTIONS for i in a["checks"]
    }
    assert named <= set(ids)


def test_states_name_failed_interrupted_and_missing_runs(note):
    states = note["states"].set_index("run")["status"].to_dict()
    assert states == {
        "ctx": "not run",
        "terr": "success",
        "terr_failed": "failed",
        "prog": "success",
        "prog_cov": "interrupted",
        "power": "not run",
    }
    assert not any(e.run == "terr_failed" for c in note["checked"] for e in c.evidence)
    warning = m.state_note(note["states"]).render("en")
    assert "4 of the 6 other reports" in warning
    assert "failed: terr_failed" in warning and "interrupted: prog_cov" in warning
    assert "not run: ctx, power" in warning


def test_the_note_describes_the_plan_it_was_run_with(note):
    # --plan: the runner records the plan file in the context; the note reads that one
    assert [r.id for r in note["plan"].runs][-1] == "methodology"
    assert set(note["states"]["run"]) == {r.id for r in note["plan"].runs} - {"methodology"}
    assert "`config/small_plan.yaml`: 6 reports" in m.plan_text(
        note["plan"], note["states"]
    ).render("en")
    saved = m.results(note["plan"], note["states"], note["checked"], note["extra"], "X")
    assert saved["plan"] == "config/small_plan.yaml"
    assert {c["id"]: c["status"] for c in saved["checks"]}["pre_window"] == "not run"


def test_design_use_names_deviations_from_the_prespecified_design(note):
    use = m.design_use_table(note["plan"]).set_index("Report")["Design"].to_dict()
    assert use == {"prog": "follows the pre-specified design", "prog_cov": "deviates: covariates"}
    design = m.design_table()
    assert set(design["Covariates"]) == {"none"}  # as config/analysis_plan.yaml says today


def test_findings_are_the_reports_verdicts_grouped_by_question(note):
    found = m.findings(note["plan"], exclude="methodology")
    groups = {qid: [f.run for f in fs] for qid, _title, fs in found}
    assert groups["territory"] == ["terr"] and groups["effect"] == ["prog"]
    assert groups["method"] == []
    en, it = m.findings_html(found)("en"), m.findings_html(found)("it")
    assert "Lecce moved −0.2 pp." in en and "Lecce si è mossa di −0,2 p.p." in it
    assert "[SIMULATED — NOT PROGRAMME RESULTS]" in en and "SIMULATO" in it
    assert "No report of this plan has answered it yet." in en


def test_summary_counts_come_from_the_results(note):
    box = m.summary(note["states"], note["checked"], m.document())
    backed = sum(c.backed for c in note["checked"])
    answer = box["answer"].render("en")
    assert "2 of 6 reports have current results" in answer
    assert f"{backed} of the {len(m.CHECKS)} pre-specified checks" in answer
    assert f"(not yet run: {len(m.CHECKS) - backed})" in answer
    assert "without current results when the note was built: 4" in box["certainty"].render("en")
    head = m.headline(note["states"], note["checked"], "ILLUSTRATIVE")
    assert head["checks backed"] == backed and head["reports succeeded"] == 2


# --- internal references ------------------------------------------------------------------------


def _notebook_headings() -> list[tuple[int, str]]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    out = []
    for cell in nb.cells:
        first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
        if cell.cell_type == "markdown" and first.startswith("## "):
            num, title = re.fullmatch(r"## (\d+)\. (.+)", first).groups()
            out.append((int(num), title))
    return out


def test_notebook_headings_follow_the_section_ids():
    headings = _notebook_headings()
    assert [n for n, _ in headings] == list(range(1, len(headings) + 1))
    assert [title for _, title in headings] == [title for _sid, title in m.SECTIONS]
    assert [m.heading(sid) for sid, _ in m.SECTIONS] == [f"## {n}. {t}" for n, t in headings]


def test_every_section_reference_points_to_the_section_it_names(sandbox):
    headings = dict(_notebook_headings())
    texts = [
        m.intro_text(),
        m.assumptions_caption(),
        m.design_caption(),
        m.questions_caption(),
        *m.limitations(),
    ]
    refs = []
    for text in texts:
        for lang, pattern in (
            ("en", r"section (\d+), “([^”]+)”"),
            ("it", r"sezione (\d+), «([^»]+)»"),
        ):
            found = re.findall(pattern, text.render(lang))
            refs += [(lang, int(n), title) for n, title in found]
    assert len([r for r in refs if r[0] == "en"]) >= 8
    from analysis import i18n

    for lang, n, title in refs:
        assert title == i18n.gettext(headings[n], lang), (lang, n, title)
    # no section number is typed anywhere: references are generated from ids
    source = (REPO / "src" / "analysis" / "reports" / "methodology.py").read_text()
    assert not re.search(r"(?i)\bsections? \d", source)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert not re.search(r"(?i)\bsections? \d", prose)
    with pytest.raises(KeyError):
        m.ref("no_such_section")


# --- the document: version, status, evaluator, signature -------------------------------------


def test_document_and_signature_from_the_evaluation_config(sandbox):
    ctx = {"started_utc": "2026-12-01T09:00:00+00:00"}
    doc = m.document()
    text = m.document_text(doc, ctx).render("en")
    assert "**Version** 0.9" in text and "December 1, 2026" in text and "draft" in text
    assert "Independent evaluator (to be appointed)" in text
    assert "Valutatore indipendente (da nominare)" in m.document_text(doc, ctx).render("it")
    sig = m.signature_text(doc, ctx).render("en")
    assert "Place and date: Lecce, December 1, 2026" in sig and "Signature:" in sig
    assert "draft" in sig
    p = sandbox / "config" / "evaluation.yaml"
    cfg = yaml.safe_load(p.read_text(encoding="utf-8"))
    cfg["document"].update(status="final", version="1.0", place="Bari")
    cfg["evaluator"]["name"] = "Dott.ssa Maria Rossi"
    p.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    final = m.document()
    sig = m.signature_text(final, ctx).render("it")
    assert "Bari, 1 dicembre 2026" in sig and "Dott.ssa Maria Rossi" in sig
    assert "bozza" not in sig
    cfg["document"]["status"] = "approved"
    p.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    from analysis.errors import DataValidationError

    with pytest.raises(DataValidationError, match="document.status"):
        m.document()
