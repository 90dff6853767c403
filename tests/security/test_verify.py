"""verify rebuilds from raw and compares data, numbers, pages and notebooks (issue 10).

A modified processed panel, an edited executed notebook and an edited page must each be
reported; a clean rebuild must report nothing.  The fast tests use a one-run plan with
``data=False`` and the comparison functions directly; the full rebuild from raw (about 30 s
per ``verify``) is marked slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from analysis import paths
from analysis.pipeline.plan import load_plan
from analysis.pipeline.publish import publish
from analysis.pipeline.runner import run_plan
from analysis.pipeline.verify import (
    compare_pages,
    compare_processed,
    mask_volatile,
    notebook_text,
    verify,
)

PROBE = """
from analysis import display
report = display.start(run_id, title="verify probe")
print(f"value is {value}")
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
    nb.cells = [new_markdown_cell("# Verify probe"), params, new_code_cell(PROBE)]
    nbformat.write(nb, sandbox / "notebooks" / "96_verify.ipynb")
    p = sandbox / "config" / "verify_plan.yaml"
    run = {"id": "verify_t", "notebook": "96_verify", "title": "T", "parameters": {"value": 7}}
    p.write_text(yaml.safe_dump({"runs": [run]}))
    return p


def _pages(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("verify_t.html"))


def _tamper_page(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "value is 7" in text
    page.write_text(text.replace("value is 7", "value is 8"), encoding="utf-8")


def _tamper_notebook(executed: Path) -> None:
    nb = json.loads(executed.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out["text"] = [t.replace("value is 7", "value is 8") for t in out["text"]]
    executed.write_text(json.dumps(nb), encoding="utf-8")


# ------------------------------------------------------------------ building blocks (fast)
def test_mask_volatile_keeps_content_and_masks_builds():
    a = (
        '<div class="provenance">commit 7abaab4804699065d252db6c81051dcae7494e73, '
        "2026-12-01T08:44:15+00:00</div><p>ATT 0.20 [0.01, 0.39]</p>"
        "<p>ran in 12.3 s from /work/main/x</p><footer>Built on 2026-12-01 · commit 7abaab4</footer>"
    )
    b = (
        '<div class="provenance">commit unknown, 2027-01-02T10:00:00+00:00</div>'
        "<p>ATT 0.20 [0.01, 0.39]</p><p>ran in 40.1 s from /tmp/analysis-verify-abc/root/x</p>"
        "<footer>Built on 2027-01-02 · commit unknown</footer>"
    )
    roots = ("/work/main", "/tmp/analysis-verify-abc/root")
    assert mask_volatile(a, roots=roots) == mask_volatile(b, roots=roots)
    assert mask_volatile(a.replace("0.20", "0.21"), roots=roots) != mask_volatile(b, roots=roots)


def test_compare_processed_catches_a_modified_panel(tmp_path):
    rec, new = tmp_path / "rec", tmp_path / "new"
    rec.mkdir(), new.mkdir()
    df = pd.DataFrame({"province": ["Lecce", "Bari"], "year": [2023, 2023], "neet": [20.1, 18.4]})
    for d in (rec, new):
        df.to_parquet(d / "bes.parquet")
    assert compare_processed(rec, new) == []
    df.assign(neet=[20.1, 18.5]).to_parquet(rec / "bes.parquet")  # one value edited
    found = compare_processed(rec, new)
    assert [m.path for m in found] == ["data/processed/bes.parquet"]
    df.to_parquet(new / "built_later.parquet")  # never built in the record: not a mismatch
    (rec / "extra.parquet").write_bytes(b"not parquet")
    assert {m.path for m in compare_processed(rec, new)} == {
        "data/processed/bes.parquet",
        "data/processed/extra.parquet",
    }


def test_compare_pages_any_layout_and_notebooks(tmp_path):
    rec, new = tmp_path / "rec", tmp_path / "new"
    nb = new_notebook()
    cell = new_code_cell("print(1)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="value is 7\n")]
    cell.execution_count = 3
    nb.cells = [cell]
    for d in (rec, new):
        for rel, text in {
            "index.html": "<p>index</p>",
            "it/r.html": "<p>pagina 7</p>",
            "en/r.html": "<p>page 7</p>",
            "executed/r.ipynb": nbformat.writes(nb),
        }.items():
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_text(text)
    assert compare_pages(rec, new, run_ids=["r"], include_unowned=True) == []
    (rec / "en" / "r.html").write_text("<p>page 8</p>")
    (rec / "executed" / "r.ipynb").write_text(nbformat.writes(nb).replace("value is 7", "value 8"))
    found = compare_pages(rec, new, run_ids=["r"], include_unowned=True)
    assert sorted(m.path for m in found) == ["en/r.html", "executed/r.ipynb"]
    # execution counts and metadata are not content
    moved = json.loads(nbformat.writes(nb))
    moved["cells"][0]["execution_count"] = 9
    moved["metadata"]["papermill"] = {"duration": 1.0}
    assert notebook_text(json.dumps(moved)) == notebook_text(nbformat.writes(nb))


# ------------------------------------------------------------------ end to end
@pytest.mark.notebooks
def test_verify_reports_an_edited_page_and_notebook(probe):
    plan = load_plan(probe)
    assert [o.status for o in run_plan(plan, progress=False)] == ["success"]
    publish(plan)
    pages = _pages(paths.REPORTS_DIR)
    assert pages, "the probe was not published"
    mismatches, problems = verify(plan, data=False)
    assert problems == [] and mismatches == [], [str(m) for m in mismatches]
    _tamper_page(pages[0])
    _tamper_notebook(paths.EXECUTED_DIR / "verify_t.ipynb")
    mismatches, problems = verify(plan, data=False)
    assert problems == []
    where = {m.path for m in mismatches}
    assert pages[0].relative_to(paths.REPORTS_DIR).as_posix() in where
    assert "executed/verify_t.ipynb" in where
    assert not any(m.path.startswith("results") for m in mismatches)  # numbers agree


@pytest.mark.slow
@pytest.mark.notebooks
def test_verify_rebuilds_processed_data_from_raw(probe):
    plan = load_plan(probe)
    assert [o.status for o in run_plan(plan, progress=False)] == ["success"]
    publish(plan)
    mismatches, problems = verify(plan)
    assert problems == [] and mismatches == [], [str(m) for m in mismatches]
    from analysis.data import panels

    name = sorted(panels.PANELS)[0]
    panels.build(name)  # a fresh clone has no processed panels yet
    panel = paths.processed(name)
    df = pd.read_parquet(panel)
    num = df.select_dtypes("number").columns[0]
    df.loc[df.index[0], num] = df[num].iloc[0] + 1
    df.to_parquet(panel)
    _tamper_page(_pages(paths.REPORTS_DIR)[0])
    mismatches, problems = verify(plan)
    assert problems == []
    where = {m.path for m in mismatches}
    assert f"data/processed/{panel.name}" in where
    assert any(p.endswith("verify_t.html") for p in where)
