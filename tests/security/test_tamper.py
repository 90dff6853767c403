"""Numbers that must never be wrong silently (issue 10): edited or corrupted artefacts.

A run records the SHA-256 of its executed notebook and results JSON; an artefact edited or
corrupted afterwards is never treated as cached, never published as the run's page, and a
corrupt results file does not crash ``publish``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from analysis.pipeline.plan import load_plan
from analysis.pipeline.publish import publish
from analysis.pipeline.runner import run_plan
from analysis.pipeline.state import executed_path, index_path, page_path, read_state, results_path

PROBE = """
from analysis import display
report = display.start(run_id, title="probe")
report.save(headline={"value": value}, results={"value": value})
"""


@pytest.fixture
def probe(sandbox: Path) -> Path:
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    }
    params = new_code_cell('run_id = "interactive"\nvalue = 1')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [new_markdown_cell("# Probe"), params, new_code_cell(PROBE)]
    nbformat.write(nb, sandbox / "notebooks" / "99_probe.ipynb")
    p = sandbox / "config" / "probe_plan.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "runs": [
                    {
                        "id": "probe_t",
                        "notebook": "99_probe",
                        "title": "T",
                        "parameters": {"value": 7},
                    }
                ]
            }
        )
    )
    return p


def test_edited_results_are_neither_cached_nor_published(probe):
    plan = load_plan(probe)
    assert [o.status for o in run_plan(plan, progress=False)] == ["success"]
    assert read_state("probe_t")["artefacts"]["results"]
    publish(plan)
    assert page_path("probe_t").exists()
    tampered = json.loads(results_path("probe_t").read_text())
    tampered["results"]["value"] = 8
    results_path("probe_t").write_text(json.dumps(tampered))
    publish(plan)
    assert not page_path("probe_t").exists()
    assert "changed after the run" in index_path().read_text()
    assert [o.status for o in run_plan(plan, progress=False)] == ["success"]  # re-executed
    assert json.loads(results_path("probe_t").read_text())["results"]["value"] == 7


def test_edited_executed_notebook_is_not_cached(probe):
    plan = load_plan(probe)
    run_plan(plan, progress=False)
    nb = nbformat.read(executed_path("probe_t"), as_version=4)
    nb.cells[0].source += " (edited)"
    nbformat.write(nb, executed_path("probe_t"))
    assert [o.status for o in run_plan(plan, progress=False)] == ["success"]


def test_corrupt_results_json_does_not_crash_publish(probe):
    plan = load_plan(probe)
    run_plan(plan, progress=False)
    results_path("probe_t").write_bytes(b'{"run_id": "probe_t", "res')
    written, _ = publish(plan)  # survives, and rewrites the index
    assert index_path() in written and not page_path("probe_t").exists()


def test_a_second_run_into_the_same_reports_folder_stops_with_a_clear_message(probe, capsys):
    from analysis.__main__ import main
    from analysis.pipeline.state import reports_lock

    with reports_lock("a test holding the folder"):
        assert main(["run", "--plan", str(probe), "--no-progress"]) == 2
        assert main(["publish", "--plan", str(probe)]) == 2
    err = capsys.readouterr().err
    assert "another run is in progress (a test holding the folder" in err
    assert main(["run", "--plan", str(probe), "--no-progress"]) == 0  # free again
