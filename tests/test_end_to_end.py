"""The whole plan, end to end, with --quick (as CI does): every run succeeds and is published."""

from __future__ import annotations

import json

import pytest

from analysis import paths
from analysis.__main__ import main


@pytest.mark.notebooks
def test_quick_run_of_the_whole_plan(sandbox):
    assert main(["run", "--quick", "--no-progress"]) == 0
    assert main(["publish"]) == 0
    from analysis.plan import load_plan

    plan = load_plan()
    index = (paths.REPORTS_DIR / "index.html").read_text()
    for run in plan.runs:
        html = (paths.REPORTS_DIR / f"{run.id}.html").read_text()
        assert "QUICK RUN" in html.split("Provenance")[0], f"{run.id}: quick banner on first screen"
        assert "<img" in html or run.notebook.startswith("00_"), f"{run.id}: figures embedded"
        assert f"{run.id}.html" in index
        res = json.loads((paths.RESULTS_DIR / f"{run.id}.json").read_text())
        assert res["headline"], run.id
    # Known published values reach the reports
    elet = json.loads((paths.RESULTS_DIR / "context_elet_puglia.json").read_text())
    assert elet["headline"]["Puglia 2025"] == 8.6
    neet = json.loads((paths.RESULTS_DIR / "context_neet_lecce.json").read_text())
    assert neet["headline"]["Lecce 2024"] == 20.0
