"""The publish scanner: reports deliberately made to leak are withheld, safe ones published."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from analysis import paths
from analysis.__main__ import main
from analysis.pipeline.plan import load_plan
from analysis.pipeline.publish import publish
from analysis.pipeline.publish_check import scan
from analysis.pipeline.runner import run_plan

LEAKY = """
import pandas as pd
from analysis import display
from analysis.data.simulate import programme_panel
from IPython.display import display as show_raw
report = display.start(run_id, title="leak probe", simulated=True)
panel = programme_panel(seed=1, n_schools=4, n_pupils=120).data
report.register_pupil_ids(panel["pupil_id"])
if mode == "rows":
    show_raw(panel.head(3))                                # pupil-level rows
elif mode == "small_cell":
    counts = panel.groupby("school_id").pupil_id.nunique().rename("n_pupils").reset_index()
    counts.loc[0, "n_pupils"] = 4                          # a cell built on 4 pupils
    display.show_table(counts, caption="schools")
elif mode == "json_id":
    pass
elif mode == "safe":
    by_school = (panel.groupby("school_id").agg(n_pupils=("pupil_id", "nunique"),
                                               absence=("absence_rate", "mean")).reset_index())
    by_school.loc[0, "n_pupils"] = 4
    display.show_pupil_table(by_school, count_col="n_pupils", caption="absence by school")
extra = {"first_pupil": panel["pupil_id"].iloc[0]} if mode == "json_id" else {}
report.save(headline={"rows": 1.0}, results={"mode": mode, **extra})
"""


def _notebook(path: Path) -> None:
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    }
    params = new_code_cell('run_id = "interactive"\nmode = "safe"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [new_markdown_cell("# Leak probe"), params, new_code_cell(LEAKY)]
    nbformat.write(nb, path)


@pytest.fixture
def leak_plan(sandbox: Path) -> Path:
    _notebook(sandbox / "notebooks" / "98_leak.ipynb")
    runs = [
        {"id": f"leak_{m}", "notebook": "98_leak", "title": m, "parameters": {"mode": m}}
        for m in ("rows", "small_cell", "json_id", "safe")
    ]
    p = sandbox / "config" / "leak_plan.yaml"
    p.write_text(yaml.safe_dump({"runs": runs}))
    return p


@pytest.mark.notebooks
def test_leaking_reports_are_withheld_and_named(leak_plan, capsys):
    plan = load_plan(leak_plan)
    assert all(o.status == "success" for o in run_plan(plan, progress=False))
    written, findings = publish(plan)
    by_report = {f.report for f in findings}
    assert by_report == {"leak_rows", "leak_small_cell", "leak_json_id"}
    assert any("leak_rows.html" in f.file and "pupil identifier" in f.rule for f in findings)
    assert any("column 'n_pupils'" in f.cell and "= 4" in f.cell for f in findings)
    assert any(
        f.file == "results/leak_json_id.json" and "pupil identifier" in f.rule for f in findings
    )
    for rid in ("leak_rows", "leak_small_cell", "leak_json_id"):
        for lang in ("it", "en"):
            assert not (paths.REPORTS_DIR / lang / f"{rid}.html").exists()
    safe = (paths.REPORTS_DIR / "en" / "leak_safe.html").read_text()
    assert "&lt; 10" in safe and "SIMULATED" in safe
    assert "SIMULATO" in (paths.REPORTS_DIR / "it" / "leak_safe.html").read_text()
    for rid in ("leak_rows", "leak_small_cell", "leak_json_id"):  # nothing of theirs in reports/
        assert not (paths.RESULTS_DIR / f"{rid}.json").exists(), rid
        assert not (paths.EXECUTED_DIR / f"{rid}.ipynb").exists(), rid
        assert not list((paths.REPORTS_DIR / "it").rglob(f"{rid}*")), rid
        assert (paths.PRIVATE_DIR / "withheld" / rid / f"{rid}.json").exists()
    index = (paths.REPORTS_DIR / "en" / "index.html").read_text()
    assert index.count("withheld: privacy check failed") == 3
    # a withheld run stays withheld: publishing again fails and says so
    capsys.readouterr()
    assert main(["publish", "--plan", str(leak_plan), "--no-pdf"]) == 1
    assert "leak_rows" in capsys.readouterr().err
    # the next run reruns the withheld reports; the CLI withholds them again, naming the cell
    again = {o.run_id: o.status for o in run_plan(plan, progress=False)}
    assert again["leak_rows"] == "success" and again["leak_safe"] == "cached"
    assert main(["publish", "--plan", str(leak_plan), "--no-pdf"]) == 1
    err = capsys.readouterr().err
    assert re.search(
        r"PRIVACY leak_small_cell: (it/|en/)?leak_small_cell\.html: table \d+, column 'n_pupils', "
        r"row 1 = 4: a cell counts fewer than k = 10 pupils",
        err,
    )


def test_scan_unit_cases():
    ids = ["P000123", "P000456"]
    assert scan("r", html="<p>all good</p>", pupil_ids=ids) == []
    assert len(scan("r", html="<td>P000456</td>", pupil_ids=ids)) == 1
    small = "<table><tr><th>school</th><th>n</th></tr><tr><td>A</td><td>9</td></tr></table>"
    assert len(scan("r", html=small, results={"pupil_data": True})) == 1
    # territorial (non-pupil) reports may show small counts such as numbers of years
    assert scan("r", html=small, results={"pupil_data": False}) == []
    nested = {"pupil_data": True, "results": {"flow": [{"stage": "excluded", "n_pupils": 3}]}}
    found = scan("r", results=nested)
    assert [f.cell for f in found] == ["flow[0].n_pupils"]
