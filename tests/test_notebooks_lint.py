"""Structural lint of the committed notebooks (the silent papermill failures)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from analysis.pipeline.plan import RUNNER_PARAMETERS, load_plan, notebook_parameters

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), (
        "outputs must be stripped"
    )
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), (
        "title first"
    )
    assert code[0] is tagged[0], "the parameters cell is the first code cell"
    assert not any("matplotlib.use(" in c.source for c in code), "matplotlib.use hides figures"
    assert not any("open(" in c.source and "json" in c.source for c in code), (
        "results are written through report.save, not by hand"
    )
    assert set(RUNNER_PARAMETERS) <= notebook_parameters(path)
    assert "report.save(" in "".join(c.source for c in code), "every notebook saves its results"


def test_plan_is_valid_and_uses_every_notebook():
    plan = load_plan()
    used = {r.notebook for r in plan.runs}
    assert used == {p.stem for p in NOTEBOOKS}
    ids = [r.id for r in plan.runs]
    assert len(ids) == len(set(ids))


def test_readme_maps_every_run_and_notebook():
    readme = (REPO / "README.md").read_text()
    for run in load_plan().runs:
        assert f"`{run.id}`" in readme, f"README's report map lacks {run.id}"
        assert f"`{run.notebook}`" in readme
