"""The privacy scanner run before anything is published (``python -m analysis check-publish``).

Pupil records are personal data.  Before a report reaches ``reports/`` its HTML, its results
JSON and its executed notebook are scanned for

* **pupil identifiers**: any value of the ``pupil_id`` column of the data the run read (the
  notebook registers them with :meth:`analysis.display.Report.register_pupil_ids`; the list is
  kept outside ``reports/``);
* **small cells** (reports built from pupil data only): a table column or results-JSON key that
  counts pupils (``n``, ``n_pupils``, ``pupils``, ``count``, ``n_obs`` …) holding a value from 1
  to k − 1, or a table rendered by :func:`analysis.display.show_pupil_table` with a row that
  was not checked.

A finding names the report, the file and the cell.  :func:`analysis.pipeline.publish.publish`
refuses to write a report with findings and the command exits non-zero.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.pipeline.state import executed_path, page_path, registered_pupil_ids, results_path
from analysis.privacy import K_MIN, find_pupil_ids

COUNT_NAME = re.compile(
    r"^(n|n_pupils|pupils|n_students|students|count|counts|n_obs|n_units|n_treated|n_control|"
    r"n_participants|participants|n_never_treated|pupil_years|n_pupil_years|frequency|freq)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Finding:
    """One privacy problem in a report."""

    report: str
    file: str
    cell: str
    rule: str

    def __str__(self) -> str:
        return f"{self.report}: {self.file}: {self.cell}: {self.rule}"


def _id_findings(report: str, file: str, text: str, ids: Iterable[str]) -> list[Finding]:
    ids = list(ids)
    if not ids:
        return []
    return [
        Finding(
            report,
            file,
            f"line {m.line}, column {m.column}",
            "contains a pupil identifier (pupil-level data must never be published)",
        )
        for m in find_pupil_ids(text, ids)[:20]
    ]


def _small(v: Any, k: int) -> bool:
    try:
        f = float(str(v).replace(",", ""))
    except ValueError:
        return False
    return 1 <= f < k and f == int(f)


def _html_table_findings(report: str, file: str, text: str, k: int) -> list[Finding]:
    out: list[Finding] = []
    if "<table" not in text:
        return out
    try:
        tables = pd.read_html(io.StringIO(text))
    except ValueError:
        return out
    for t_i, table in enumerate(tables):
        cols = [" ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in table.columns]
        for c_i, name in enumerate(cols):
            if COUNT_NAME.match(name.strip()):
                for r_i, v in enumerate(table.iloc[:, c_i]):
                    if _small(v, k):
                        out.append(
                            Finding(
                                report,
                                file,
                                f"table {t_i + 1}, column {name!r}, row {r_i + 1} = {v}",
                                f"a cell counts fewer than k = {k} pupils",
                            )
                        )
    for m in re.finditer(r'<tr[^>]*data-privacy="unchecked"', text):
        out.append(
            Finding(
                report,
                file,
                f"offset {m.start()}",
                "pupil table row not checked by small-cell suppression",
            )
        )
    return out


def _json_findings(report: str, file: str, obj: Any, k: int, path: str = "") -> list[Finding]:
    out: list[Finding] = []
    if isinstance(obj, Mapping):
        for key, v in obj.items():
            sub = f"{path}.{key}" if path else str(key)
            if (
                COUNT_NAME.match(str(key))
                and isinstance(v, int | float)
                and not isinstance(v, bool)
                and _small(v, k)
            ):
                out.append(Finding(report, file, sub, f"counts fewer than k = {k} pupils ({v})"))
            out += _json_findings(report, file, v, k, sub)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _json_findings(report, file, v, k, f"{path}[{i}]")
    return out


def scan(
    report: str,
    *,
    html: str | None = None,
    results: Mapping[str, Any] | None = None,
    executed: str | None = None,
    pupil_ids: Iterable[str] = (),
    k: int = K_MIN,
) -> list[Finding]:
    """Scan one report's artefacts; return the findings (empty = safe to publish).

    Parameters
    ----------
    report
        The run id (for messages).
    html, results, executed
        The published HTML, the results JSON (parsed) and the executed notebook (text).
    pupil_ids
        Identifiers that must not appear.
    k
        Minimum pupils per cell.
    """
    ids = list(pupil_ids)
    pupil_data = bool(results and results.get("pupil_data")) or bool(ids)
    findings: list[Finding] = []
    if html is not None:
        findings += _id_findings(report, f"{report}.html", html, ids)
        if pupil_data:
            findings += _html_table_findings(report, f"{report}.html", html, k)
    if results is not None:
        findings += _id_findings(
            report, f"results/{report}.json", json.dumps(results, ensure_ascii=False, indent=1), ids
        )
        if pupil_data:
            findings += _json_findings(
                report, f"results/{report}.json", results.get("results", {}), k
            )
    if executed is not None:
        findings += _id_findings(report, f"executed/{report}.ipynb", executed, ids)
    return findings


def check_published(run_ids: Iterable[str], *, k: int = K_MIN) -> list[Finding]:
    """Scan what is in ``reports/`` for the given runs (the ``check-publish`` command)."""
    findings: list[Finding] = []
    for rid in run_ids:
        html_p, res_p, exe_p = page_path(rid), results_path(rid), executed_path(rid)
        findings += scan(
            rid,
            html=html_p.read_text(encoding="utf-8") if html_p.exists() else None,
            results=json.loads(res_p.read_text(encoding="utf-8")) if res_p.exists() else None,
            executed=exe_p.read_text(encoding="utf-8") if exe_p.exists() else None,
            pupil_ids=registered_pupil_ids(rid),
            k=k,
        )
    return findings
