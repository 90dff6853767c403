"""Structural lint of the committed notebooks (the silent papermill failures)."""

from __future__ import annotations

import ast
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


# --- Notebook thinness: notebooks narrate; src/analysis computes (issue 9) ---------------------

MAX_CODE_LINES = 80
MAX_BRANCH_POINTS = 5
_BRANCHES = (ast.If, ast.For, ast.While, ast.Try, ast.With, ast.IfExp, ast.comprehension, ast.Match)


def notebook_shape(path: Path) -> dict[str, int]:
    """Code lines, branch points, definitions and positional reads outside the parameters cell."""
    nb = nbformat.read(path, as_version=4)
    shape = {"code_lines": 0, "branch_points": 0, "definitions": 0, "iloc": 0}
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        lines = [ln.strip() for ln in cell.source.splitlines()]
        shape["code_lines"] += sum(1 for ln in lines if ln and not ln.startswith("#"))
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            shape["branch_points"] += isinstance(node, _BRANCHES)
            shape["definitions"] += isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
            )
        shape["iloc"] += cell.source.count(".iloc[")
    return shape


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_thin(path: Path):
    shape = notebook_shape(path)
    assert shape["code_lines"] <= MAX_CODE_LINES, shape
    assert shape["branch_points"] <= MAX_BRANCH_POINTS, shape
    assert shape["definitions"] == 0, "no def/class/lambda in notebooks: put them in src/analysis"
    assert shape["iloc"] == 0, "no positional .iloc[ reads of display tables in notebooks"


def test_thinness_check_can_fail(tmp_path: Path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('run_id = "x"')
    params.metadata["tags"] = ["parameters"]
    fat = "\n".join(f"x{i} = {i}" for i in range(MAX_CODE_LINES + 1))
    branchy = "\n".join(f"if x{i}:\n    pass" for i in range(MAX_BRANCH_POINTS + 1))
    nb.cells = [
        nbformat.v4.new_markdown_cell("# t"),
        params,
        nbformat.v4.new_code_cell(fat),
        nbformat.v4.new_code_cell(branchy + "\ndef f():\n    return t.iloc[0]"),
    ]
    p = tmp_path / "fat.ipynb"
    nbformat.write(nb, p)
    shape = notebook_shape(p)
    assert shape["code_lines"] > MAX_CODE_LINES
    assert shape["branch_points"] > MAX_BRANCH_POINTS
    assert shape["definitions"] == 1 and shape["iloc"] == 1


def test_report_module_per_notebook():
    """ONE report module per notebook, with the notebook's stem (00_data_build -> data_build)."""
    stems = {p.stem.split("_", 1)[1] for p in NOTEBOOKS}
    modules = {
        p.stem for p in (REPO / "src" / "analysis" / "reports").glob("*.py") if p.stem != "__init__"
    }
    assert stems == modules
