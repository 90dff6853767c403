"""The methodology note in two languages (issue 12): every text renders in Italian with no missing id.

The note is built from crafted results in a sandbox (one report succeeded, one failed, the rest
not run), so every branch with words is taken: the state warning, backed and not-run checks,
deviations from the pre-specified design, findings with banners, the draft signature block.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd

from analysis import i18n
from analysis.reports import methodology as m

REPO = Path(__file__).resolve().parents[1]

TERR = {
    "banners": ["QUICK RUN — reduced simulation/bootstrap sizes; numbers are for checking only"],
    "page": {"question": "territory", "verdict": {"en": "V.", "it": "V."}, "headline": {}},
    "results": {
        "robustness": {
            "placebo_in_space": {"agrees_with_headline": True},
            "placebo_in_time": {"agrees_with_headline": False},
            "leave_one_out": {"agrees_with_headline": None},
            "pre_window:2015": {"run": False, "agrees_with_headline": None},
            "unknown": {"p_value": 0.2},
        }
    },
}


def _text_cells(df: pd.DataFrame) -> list[str]:
    cells = []
    for col in df.columns:
        cells += [v for v in df[col] if isinstance(v, str) and any(ch.isalpha() for ch in v)]
    return cells


def test_methodology_texts_render_in_italian_without_missing_ids(sandbox):
    from analysis.pipeline.state import atomic_write_text, results_path, write_state

    atomic_write_text(results_path("counterfactual_neet_lecce_2021"), json.dumps(TERR))
    write_state("counterfactual_neet_lecce_2021", {"status": "success"})
    write_state("programme_did_absence", {"status": "failed"})
    ctx = {"started_utc": "2026-12-01T09:00:00+00:00"}
    plan = m.plan_that_ran({})
    i18n.reset_missing()
    states = m.run_states(plan, exclude="methodology")
    checked = m.evaluate_checks(plan, exclude="methodology")
    extra = m.unlisted_checks(plan, checked, exclude="methodology")
    doc = m.document()
    texts = [
        *m.summary(states, checked, doc).values(),
        m.document_text(doc, ctx),
        m.plan_text(plan, states),
        m.state_note(states),
        m.intro_text(),
        m.questions_caption(),
        m.design_caption(),
        m.design_use_caption(),
        m.significance_text(),
        m.checks_caption(checked),
        m.evidence_caption(),
        m.assumptions_caption(),
        m.definitions_caption(),
        m.data_sources_caption(),
        m.power_missing_note(),
        m.outcomes_caption(),
        m.siinc_status_note("ILLUSTRATIVE"),
        m.siinc_caption("config/siinc.yaml", "ILLUSTRATIVE"),
        m.limitations_text(),
        m.signature_text(doc, ctx),
        m.headline_text(states, checked),
        *(m.outcome_text(e) for c in checked for e in c.evidence),
    ]
    rendered = [i18n.render(x, "it") for x in texts]
    tables = [
        m.questions_table(plan),
        m.design_table(),
        m.design_use_table(plan),
        m.checks_table(checked),
        m.evidence_table(checked, extra),
        m.assumptions_table(checked),
        m.definitions_table(),
        m.outcomes(),
        m.siinc_recap("config/siinc.yaml")[1],
    ]
    from analysis.pipeline import catalogs

    marked = {i for i, _ in catalogs.python_ids([Path(m.__file__)])}
    for df in tables:
        for header in df.columns:
            i18n.gettext(str(header), "it")  # every header is looked up
        for cell in _text_cells(df):
            if cell in marked:  # a word of the note (names, codes and keys stay as they are)
                i18n.gettext(cell, "it")
    found = m.findings(plan, exclude="methodology")
    html_it = m.findings_html(found)("it") + m.reports_html(states)("it")
    assert not i18n.missing("it"), sorted(i18n.missing("it"))
    # Italian words, locale formats, and no English sentence of the note on the Italian page
    joined = "\n".join(rendered)
    assert "sezione 4, «Elementi del disegno" in joined
    assert "1 dicembre 2026" in joined and "bozza" in joined
    assert "fallito" in joined or "non riuscito" in joined
    assert "ESECUZIONE RAPIDA" in html_it and "non eseguito" in html_it
    for english in ("not yet run", "backed by", "Signature", "section "):
        assert english not in joined, english


def test_markdown_cells_of_the_notebook_are_translated():
    nb = nbformat.read(REPO / "notebooks" / "06_methodology.ipynb", as_version=4)
    cells = [c.source.strip() for c in nb.cells if c.cell_type == "markdown" and c.source.strip()]
    untranslated = [c[:60] for c in cells if not i18n.has_translation(c, "it")]
    assert untranslated == []


def test_every_text_of_the_analysis_plan_is_shown_in_italian():
    """The design table shows config/analysis_plan.yaml's ``why`` and primary inference."""
    from analysis import significance

    plan = significance.analysis_plan()
    texts = [d.get("why", "") for d in plan["headline_designs"].values()]
    texts.append(plan["significance"]["primary"])
    lacking = [x[:60] for x in texts if x and not i18n.has_translation(x, "it")]
    assert lacking == [], "mark them with N_ (methodology.PLAN_TEXTS or programme.DESIGN_WHY)"
