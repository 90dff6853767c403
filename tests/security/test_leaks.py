"""check-publish finds leaks in every file under reports/, in any layout (issues 10, 11).

A reports folder is written by hand with files made to leak — pupil ids in the index and in
run-state files, derivable small numerators, row positions in notes, unsuppressed small
records in a results JSON, small cells in a download — next to safe twins that must pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from analysis import paths
from analysis.pipeline.publish_check import check_published, scan
from analysis.privacy import K_MIN, suppress_results

IDS = ["P000003", "P000117", "P001234"]
RUNS = ["programme_a", "territorial_b"]


def _table(rows: list[tuple], header: tuple) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join(
        '<tr data-privacy="checked">' + "".join(f"<td>{v}</td>" for v in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(body: str) -> str:
    return f"<html><head><style>p {{ margin: 0 }}</style></head><body>{body}</body></html>"


SAFE_PAGE = _page(
    "<p>Hazards by years since the edition.</p>"
    + _table(
        [("participants", "0", 174, "< 10"), ("participants", "1", 250, 10.0)],
        ("group", "years_since", "pupils", "hazard_pct"),
    )
    + "<p>Estimator notes: dropped 152 row(s) with missing values in grade_avg; editions "
    "[2021, 2022, 2023]; event times [0, 1, 2].</p>"
)


def _results(records: list[dict], *, pupil: bool = True) -> dict:
    return {
        "run_id": "programme_a",
        "pupil_data": pupil,
        "headline": {"ATT": 0.2},
        "results": {"by_edition": records},
    }


SMALL = [
    {"cohort": 2021, "att": 0.3, "se": 0.1, "n_pupils": 65},
    {"cohort": 2022, "att": 0.1, "se": 0.2, "n_pupils": 54},
    {"cohort": 2024, "att": 0.9, "se": 0.5, "n_pupils": 3},
]


def _notebook(output_text: str, source: str = "x = 1") -> str:
    nb = new_notebook()
    cell = new_code_cell(source)
    cell.outputs = [new_output("stream", name="stderr", text=output_text)]
    nb.cells = [new_markdown_cell("# Programme"), cell]
    return nbformat.writes(nb)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A safe reports folder in the new layout (reports/it, reports/en, downloads, .state)."""
    monkeypatch.setattr(paths, "PRIVATE_DIR", tmp_path / "private")
    ids = tmp_path / "private" / "pupil_ids" / "programme_a.txt"
    ids.parent.mkdir(parents=True)
    ids.write_text("\n".join(IDS) + "\n")
    root = tmp_path / "reports"
    files = {
        "index.html": _page("<p>Programme: success</p><p>Territorial: success</p>"),
        "it/index.html": _page("<p>Programma: riuscito</p>"),
        "it/programme_a.html": SAFE_PAGE,
        "en/programme_a.html": SAFE_PAGE,
        "it/territorial_b.html": _page(
            "<p>first rows [3, 17, 52] of the ISTAT file</p>"
            + _table([("Lecce", 3)], ("province", "n"))
        ),
        "results/programme_a.json": json.dumps(_results(suppress_results({"r": SMALL})["r"])),
        "results/territorial_b.json": json.dumps(
            {"run_id": "territorial_b", "pupil_data": False, "results": {"n": 3}}
        ),
        "executed/programme_a.ipynb": _notebook(
            "UserWarning: dropped 12 row(s) with missing values", "rows = [1, 2, 3]  # code"
        ),
        ".state/programme_a.json": json.dumps({"status": "success", "error": None}),
        ".state/programme_a.context.json": json.dumps({"parameters": {"seed": 1}}),
        "it/downloads/programme_a/cohorts.csv": "cohort,pupils\n2021,65\n2022,54\n",
    }
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def _findings(root: Path) -> list:
    return check_published(RUNS, reports_dir=root)


def test_a_safe_tree_passes(tree):
    assert _findings(tree) == []


@pytest.mark.parametrize(
    ("rel", "text", "where", "rule"),
    [
        # pupil ids in the indexes, in any language folder, and in run-state files
        (
            "index.html",
            _page("<td>failed: line 12 (P000003/2021)</td>"),
            "index.html",
            "pupil identifier",
        ),
        ("it/index.html", _page("<td>P001234</td>"), "it/index.html", "pupil identifier"),
        (
            ".state/programme_a.json",
            json.dumps({"status": "failed", "error": "line 12 (P000117/2021): bad grade"}),
            ".state/programme_a.json",
            "pupil identifier",
        ),
        (
            ".state/programme_a.context.json",
            json.dumps({"note": "pupil P000117"}),
            ".state/programme_a.context.json",
            "pupil identifier",
        ),
        # derivable numerators: 3.4 % of 174 participants = 6 dropouts
        (
            "it/programme_a.html",
            _page(
                _table(
                    [("participants", "0", 174, 3.4), ("participants", "1", 123, 0.8)],
                    ("group", "years_since", "pupils", "hazard_pct"),
                )
            ),
            "it/programme_a.html",
            "fewer than k = 10 pupils with the event",
        ),
        # row positions and integer lists in notes of a pupil-data page
        (
            "en/programme_a.html",
            _page("<p>Estimator notes: dropped 152 row(s) (first rows [24, 36, 62]).</p>"),
            "en/programme_a.html",
            "row positions",
        ),
        (
            "en/programme_a.html",
            _page("<p>Warning: row 12 has a missing grade.</p>"),
            "en/programme_a.html",
            "row positions",
        ),
        (
            "it/programme_a.html",
            _page("<p>Excluded: [3, 17, 52]</p>"),
            "it/programme_a.html",
            "list of integers",
        ),
        # results JSON of a pupil-data run: an unsuppressed 3-pupil edition, a rate × n
        (
            "results/programme_a.json",
            json.dumps(_results(SMALL)),
            "results/programme_a.json",
            "counts fewer than k",
        ),
        (
            "results/programme_a.json",
            json.dumps(_results([{"group": "p", "pupils": 174, "hazard_pct": 3.448}])),
            "results/programme_a.json",
            "with the event",
        ),
        (
            "results/programme_a.json",
            json.dumps(_results([{"school": "A", "n": 120, "dropouts": 4}])),
            "results/programme_a.json",
            "with an event",
        ),
        # executed notebook outputs (warnings reach the page)
        (
            "executed/programme_a.ipynb",
            _notebook("UserWarning: dropped 3 row(s) (first rows [1, 7, 82])"),
            "executed/programme_a.ipynb",
            "row positions",
        ),
        # run state: the error of a failed pupil-data run names rows
        (
            ".state/programme_a.json",
            json.dumps({"status": "failed", "error": "DataFrame argument: rows [4, 9]: bad"}),
            ".state/programme_a.json",
            "row positions",
        ),
        # downloads, attributed to their run by folder
        (
            "it/downloads/programme_a/cohorts.csv",
            "cohort,pupils\n2021,65\n2024,3\n",
            "it/downloads/programme_a/cohorts.csv",
            "fewer than k = 10 pupils",
        ),
    ],
)
def test_each_leak_is_found_and_named(tree, rel, text, where, rule):
    (tree / rel).write_text(text, encoding="utf-8")
    found = _findings(tree)
    assert found, f"{rel} leaked unnoticed"
    assert all(f.file == where for f in found), [str(f) for f in found]
    assert any(rule in f.rule for f in found), [str(f) for f in found]
    assert not any(i in str(f) for f in found for i in IDS)  # findings never repeat an id


def test_non_pupil_reports_may_show_small_counts_and_row_numbers(tree):
    # territorial_b is public data: its "first rows [3, 17, 52]" and n = 3 are not findings
    assert not [f for f in _findings(tree) if f.report == "territorial_b"]
    # ... but a pupil id there is
    (tree / "it" / "territorial_b.html").write_text(_page("<p>P000003</p>"))
    assert [f.file for f in _findings(tree)] == ["it/territorial_b.html"]


def test_scan_numerators_and_rows_directly():
    page = _page(_table([(40, "5.0%")], ("n", "dropout rate")))  # 2 of 40 pupils
    assert len(scan("r", html=page, pupil_data=True)) == 1
    page = _page(_table([(400, "5.0%")], ("n", "dropout rate")))  # 20 of 400
    assert scan("r", html=page, pupil_data=True) == []
    assert scan("r", html=page.replace("400", "40"), pupil_data=False) == []
    k_rows = _page(_table([(K_MIN, 100.0)], ("pupils", "share (%)")))  # all 10: not a leak
    assert scan("r", html=k_rows, pupil_data=True) == []


def test_italian_pages_are_read_in_italian():
    """2.000 is two thousand on an Italian page (not 2); translated headers still count pupils."""
    from analysis import i18n
    from analysis.pipeline.publish_check import scan

    header = next(
        (it for en, it in i18n.catalog("it").items() if en in ("Pupils", "pupils", "n_pupils")),
        "n_pupils",
    )
    page = (
        '<html lang="it"><body><table><thead><tr><th>{h}</th><th>Quota</th></tr></thead>'
        "<tbody><tr><td>2.000</td><td>1,5</td></tr><tr><td>{small}</td><td>2,0</td></tr>"
        "</tbody></table></body></html>"
    )
    assert scan("r", html=page.format(h=header, small="2.500"), pupil_data=True) == []
    found = scan("r", html=page.format(h=header, small="4"), pupil_data=True)
    assert [f.cell.split(" = ")[-1] for f in found] == ["4"]
