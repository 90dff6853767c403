"""The privacy scanner run before anything is published (``python -m analysis check-publish``).

Pupil records are personal data.  Before a report reaches ``reports/`` its HTML, its results
JSON and its executed notebook are scanned, and ``check-publish`` scans **every** file under
``reports/`` (recursively: pages in any layout such as ``reports/it/*.html``, the indexes, the
results JSON, executed notebooks, downloads, and the run-state files of ``reports/.state``),
for

* **pupil identifiers**: any value of the ``pupil_id`` column of the data the run read (the
  notebook registers them with :meth:`analysis.display.Report.register_pupil_ids`; the list is
  kept outside ``reports/``); ``check-publish`` looks for every run's ids in every file;
* **small cells** (reports built from pupil data only): a table column or results-JSON key that
  counts pupils (``n``, ``n_pupils``, ``pupils``, ``count``, ``n_obs`` …) holding a value from 1
  to k − 1, or a table rendered by :func:`analysis.display.show_pupil_table` with a row that
  was not checked;
* **derivable small numerators** (pupil data): a rate (``rate``, ``hazard``, ``share``, ``%`` …)
  and a count of pupils in the same table row or results record whose product (the number
  of pupils with the event) rounds to 1 … k − 1, and event counts (dropouts, repeaters) from 1
  to k − 1 in the results;
* **row positions** (pupil data): ``rows [3, 17, 52]``, ``row 12``, ``first rows (4, 9)`` in
  any note, warning or error, and Python list representations of three or more integers on a
  pupil-data page or notebook output (lists of years or of consecutive small numbers, such as
  event times, are not flagged unless a word such as "row", "index" or "pupil" precedes them).

A finding names the report, the file and the cell.  :func:`analysis.pipeline.publish.publish`
refuses to write a report with findings and the command exits non-zero.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import paths
from analysis.pipeline.state import registered_pupil_ids
from analysis.privacy import K_MIN, find_pupil_ids

RATE_NAME = re.compile(
    r"(^|[_\s(])(rate|hazard|share|proportion|percent|pct)($|[_\s)])|%|^hazard", re.IGNORECASE
)
"""Column names of a rate of pupils (the numerator is rate × n)."""

EVENT_NAME = re.compile(
    r"^(n_)?(dropouts|dropped|repeaters|repeated|events|exits|cases|failures)$", re.IGNORECASE
)
"""Results keys counting pupils with an event."""

ROW_POSITIONS = re.compile(
    r"\b(?:first\s+)?rows?(?:\s+positions?)?\s*[:=]?\s*[\[(]\s*\d+(?:\s*,\s*\d+)*\s*,?\s*[\])]"
    r"|\brows?\s+\d+(?:\s*(?:,|and|to|-|–)\s*\d+)*\b(?!\s*(?:rows?|pupils?|records?|%))",
    re.IGNORECASE,
)
"""Row positions named in text: ``rows [3, 17, 52]``, ``first rows (4, 9)``, ``row 12``."""

INT_LIST = re.compile(r"(?<![\w.\]])\[\s*\d+(?:\s*,\s*\d+){2,}\s*\]")
"""A Python/JSON list of three or more non-negative integers."""

POSITION_WORDS = re.compile(r"(row|index|position|pupil|unit|student|id)s?\W{0,20}$", re.IGNORECASE)

DENOMINATORS = ("pupils", "n_pupils", "n", "units", "n_units", "n_participants", "participants")
"""Count names taken as the denominator of a rate in the same row or record."""

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


def _float(v: Any, lang: str = "en") -> float | None:
    """A cell as a number, read in the page's language (Italian: 1.234,5; English: 1,234.5).

    A value the HTML/CSV reader already parsed as a number is taken as it is.
    """
    import numbers

    if isinstance(v, numbers.Number) and not isinstance(v, bool):
        f = float(v)
        return f if f == f and abs(f) != float("inf") else None
    text = str(v).replace("%", "").replace("−", "-").replace("\xa0", "").strip()
    text = text.replace(".", "").replace(",", ".") if lang == "it" else text.replace(",", "")
    try:
        f = float(text)
    except ValueError:
        return None
    return f if f == f and abs(f) != float("inf") else None


def _small(v: Any, k: int, lang: str = "en") -> bool:
    f = _float(v, lang)
    return f is not None and 1 <= f < k and f == int(f)


def _small_numerator(rate: float, n: float, *, percent: bool, k: int) -> bool:
    """``rate × n`` (rate in % when ``percent``) rounds to an event count from 1 to k − 1."""
    x = rate * n / (100.0 if percent else 1.0)
    return 0.5 <= x < k - 0.5


def _percent(name: str, values: Iterable[float]) -> bool:
    """Whether a rate column is in per cent: its name says so, or a value exceeds 1."""
    if re.search(r"%|pct|percent", name, re.IGNORECASE):
        return True
    return any(v > 1 for v in values)


def _visible_text(html: str) -> str:
    """The text a reader sees: no styles, no embedded images, no tags."""
    text = re.sub(r"<style\b.*?</style>", " ", html, flags=re.DOTALL | re.IGNORECASE)
    text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return text


def _row_position_findings(
    report: str, file: str, text: str, *, lists: bool, limit: int = 20
) -> list[Finding]:
    """Row positions in text (always) and integer lists (``lists=True``: pupil-data pages)."""
    out: list[Finding] = []
    for m in ROW_POSITIONS.finditer(text):
        out.append(
            Finding(
                report,
                file,
                f"offset {m.start()}",
                "names row positions of pupil data (give counts instead)",
            )
        )
    if lists:
        for m in INT_LIST.finditer(text):
            values = [int(v) for v in re.findall(r"\d+", m.group())]
            years = all(1900 <= v <= 2100 for v in values)
            consecutive = values == list(range(values[0], values[0] + len(values)))
            before = text[max(0, m.start() - 40) : m.start()]
            worded = bool(POSITION_WORDS.search(before))
            if worded or not (years or consecutive):
                out.append(
                    Finding(
                        report,
                        file,
                        f"offset {m.start()}",
                        "a list of integers (row positions or ids?) on a pupil-data page",
                    )
                )
    # one finding per place: ROW_POSITIONS and INT_LIST can both match "rows [3, 17, 52]"
    seen: set[int] = set()
    unique = []
    for f in out:
        off = int(f.cell.split()[-1])
        if not any(abs(off - o) <= 12 for o in seen):
            unique.append(f)
            seen.add(off)
    return unique[:limit]


def _english_header(name: str, lang: str) -> str:
    """A translated column header back to its English id (the rules are written in English)."""
    if lang == "en":
        return name
    return _reverse_catalog(lang).get(name.strip(), name)


@functools.lru_cache(maxsize=4)
def _reverse_catalog(lang: str) -> dict[str, str]:
    """Translation → English id for ``lang`` (built once, not once per header)."""
    from analysis import i18n

    return {v: k for k, v in i18n.catalog(lang).items()}


def _table_findings(
    report: str, file: str, table: pd.DataFrame, t_i: int, k: int, lang: str = "en"
) -> list[Finding]:
    """Small counts and derivable small numerators in one table (HTML or CSV)."""
    out: list[Finding] = []
    cols = [
        _english_header(" ".join(map(str, c)) if isinstance(c, tuple) else str(c), lang)
        for c in table.columns
    ]

    def parts(name: str) -> list[str]:  # two-level headers: "n · 2021" (any level counts)
        pieces = [name, *name.split(" · ")]
        return [_english_header(p.strip(), lang) for p in pieces]

    count_cols = [
        i
        for i, name in enumerate(cols)
        if any(COUNT_NAME.match(part.strip()) for part in parts(name))
    ]
    for c_i in count_cols:
        for r_i, v in enumerate(table.iloc[:, c_i]):
            if _small(v, k, lang):
                out.append(
                    Finding(
                        report,
                        file,
                        f"table {t_i + 1}, column {cols[c_i]!r}, row {r_i + 1} = {v}",
                        f"a cell counts fewer than k = {k} pupils",
                    )
                )
    rate_cols = [
        i for i, name in enumerate(cols) if RATE_NAME.search(name.strip()) and i not in count_cols
    ]
    if not count_cols or not rate_cols:
        return out
    named = [i for i in count_cols if cols[i].strip().lower() in DENOMINATORS]
    n_col = (named or count_cols)[0]
    for c_i in rate_cols:
        rates = [_float(v, lang) for v in table.iloc[:, c_i]]
        percent = _percent(cols[c_i], [r for r in rates if r is not None])
        for r_i, (rate, n) in enumerate(zip(rates, table.iloc[:, n_col], strict=True)):
            nf = _float(n, lang)
            if rate is None or nf is None:
                continue
            if _small_numerator(rate, nf, percent=percent, k=k):
                out.append(
                    Finding(
                        report,
                        file,
                        f"table {t_i + 1}, row {r_i + 1}: {cols[c_i]!r} {rate:g} × "
                        f"{cols[n_col]!r} {nf:g}",
                        f"the rate reveals fewer than k = {k} pupils with the event",
                    )
                )
    return out


def scan_table(
    report: str, file: str, table: pd.DataFrame, *, lang: str = "en", k: int = K_MIN
) -> list[Finding]:
    """The small-cell and small-numerator rules on one table (a download before it is written)."""
    return _table_findings(report, file, table, 0, k, lang)


def _html_table_findings(report: str, file: str, text: str, k: int) -> list[Finding]:
    out: list[Finding] = []
    if "<table" not in text:
        return out
    m = re.search(r'<html[^>]*\blang="([a-z]{2})"', text[:2000])
    lang = m.group(1) if m else "en"
    try:
        if lang == "it":  # Italian pages: 2.000 is two thousand, 2,5 two and a half
            tables = pd.read_html(io.StringIO(text), thousands=".", decimal=",")
        else:
            tables = pd.read_html(io.StringIO(text))
    except ValueError:
        return out
    for t_i, table in enumerate(tables):
        out += _table_findings(report, file, table, t_i, k, lang)
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
        counts = {
            str(key): v
            for key, v in obj.items()
            if COUNT_NAME.match(str(key)) and isinstance(v, int | float) and not isinstance(v, bool)
        }
        for key, v in obj.items():
            sub = f"{path}.{key}" if path else str(key)
            if str(key) in counts and _small(v, k):
                out.append(Finding(report, file, sub, f"counts fewer than k = {k} pupils ({v})"))
            elif (
                EVENT_NAME.match(str(key))
                and isinstance(v, int | float)
                and not isinstance(v, bool)
                and _small(v, k)
            ):
                out.append(
                    Finding(report, file, sub, f"counts fewer than k = {k} pupils with an event")
                )
            elif (
                any(d in counts for d in DENOMINATORS)
                and RATE_NAME.search(str(key))
                and isinstance(v, int | float)
                and not isinstance(v, bool)
            ):
                n_key = next(d for d in DENOMINATORS if d in counts)
                if _small_numerator(
                    float(v), float(counts[n_key]), percent=_percent(str(key), [v]), k=k
                ):
                    out.append(
                        Finding(
                            report,
                            file,
                            sub,
                            f"{key} × {n_key} reveals fewer than k = {k} pupils with the event",
                        )
                    )
            out += _json_findings(report, file, v, k, sub)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _json_findings(report, file, v, k, f"{path}[{i}]")
    return out


def _notebook_outputs(executed: str) -> str:
    """The text of a notebook's outputs (what reaches the page; code is not scanned)."""
    try:
        nb = json.loads(executed)
    except json.JSONDecodeError:
        return executed
    parts: list[str] = []
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        if cell.get("cell_type") == "markdown":
            src = cell.get("source", "")
            parts.append("".join(src) if isinstance(src, list) else str(src))
        for o in cell.get("outputs", []) or []:
            for key in ("text", "traceback", "evalue"):
                v = o.get(key)
                if v:
                    parts.append("".join(v) if isinstance(v, list) else str(v))
            for mime, v in (o.get("data") or {}).items():
                if mime.startswith("text/"):
                    txt = "".join(v) if isinstance(v, list) else str(v)
                    parts.append(_visible_text(txt) if "html" in mime else txt)
    return "\n".join(parts)


def scan(
    report: str,
    *,
    html: str | None = None,
    results: Mapping[str, Any] | None = None,
    executed: str | None = None,
    pupil_ids: Iterable[str] = (),
    k: int = K_MIN,
    pupil_data: bool | None = None,
    html_name: str | None = None,
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
    pupil_data
        Whether the report is built from pupil data (small cells, numerators and row
        positions are checked); default: the results say so or ``pupil_ids`` is not empty.
    html_name
        The page's file name in messages (default ``<report>.html``).
    """
    ids = list(pupil_ids)
    if pupil_data is None:
        pupil_data = bool(results and results.get("pupil_data")) or bool(ids)
    page = html_name or f"{report}.html"
    findings: list[Finding] = []
    if html is not None:
        findings += _id_findings(report, page, html, ids)
        if pupil_data:
            findings += _html_table_findings(report, page, html, k)
            findings += _row_position_findings(report, page, _visible_text(html), lists=True)
    if results is not None:
        res_file = f"results/{report}.json"
        findings += _id_findings(
            report, res_file, json.dumps(results, ensure_ascii=False, indent=1), ids
        )
        if pupil_data:
            findings += _json_findings(report, res_file, results.get("results", {}), k)
            findings += _json_findings(report, res_file, results.get("headline", {}), k)
    if executed is not None:
        exe_file = f"executed/{report}.ipynb"
        findings += _id_findings(report, exe_file, executed, ids)
        if pupil_data:
            findings += _row_position_findings(
                report, exe_file, _notebook_outputs(executed), lists=True
            )
    return findings


SCANNED_SUFFIXES = (".html", ".json", ".ipynb", ".csv", ".txt", ".md")
"""Files under ``reports/`` that ``check-publish`` reads (figures are embedded PNGs)."""


def _owner(path: Path, root: Path, run_ids: set[str]) -> str | None:
    """The run a file under ``reports/`` belongs to (by name or folder), or ``None``."""
    name = path.name.lstrip(".")
    for i in range(len(name)):
        if name[i] == "." and name[:i] in run_ids:
            return name[:i]
    for parent in path.relative_to(root).parents:
        if parent.name in run_ids:
            return parent.name
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _scan_file(
    rel: str, path: Path, text: str, *, owner: str | None, ids: list[str], pupil: bool, k: int
) -> list[Finding]:
    """Scan one file under ``reports/`` as what it is (page, results, notebook, state, table)."""
    report = owner or "(all reports)"
    suffix = path.suffix.lower()
    if suffix == ".html":
        out = _id_findings(report, rel, text, ids)
        if pupil and owner is not None:
            out += _html_table_findings(report, rel, text, k)
            out += _row_position_findings(report, rel, _visible_text(text), lists=True)
        elif pupil:  # an index: errors and headlines of several runs; no list heuristic
            out += _row_position_findings(report, rel, _visible_text(text), lists=False)
        return out
    if suffix == ".ipynb":
        found = scan(report, executed=text, pupil_ids=ids, k=k, pupil_data=pupil)
        return [Finding(f.report, rel, f.cell, f.rule) for f in found]
    out = _id_findings(report, rel, text, ids)
    if not pupil:
        return out
    if suffix == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, Mapping) and "results" in obj and "run_id" in obj:
            out += _json_findings(report, rel, obj.get("results", {}), k)
            out += _json_findings(report, rel, obj.get("headline", {}), k)
        out += _row_position_findings(report, rel, text, lists=False)
    elif suffix == ".csv":
        with contextlib.suppress(ValueError, pd.errors.ParserError):
            lang = "it" if rel.split("/")[0] == "it" else "en"
            out += _table_findings(report, rel, pd.read_csv(io.StringIO(text)), 0, k, lang)
        out += _row_position_findings(report, rel, text, lists=False)
    else:
        out += _row_position_findings(report, rel, text, lists=False)
    return out


def check_published(
    run_ids: Iterable[str], *, k: int = K_MIN, reports_dir: Path | None = None
) -> list[Finding]:
    """Scan everything under ``reports/`` (the ``check-publish`` command).

    Every page, index, results JSON, executed notebook, download and run-state file, in any
    folder layout (``reports/**``).  A file belongs to a run when its name starts with the run
    id (``<id>.html``, ``<id>.context.json``) or it sits in a folder named after it
    (``downloads/<id>/``); when that run read pupil data the file is scanned for small cells,
    numerators and row positions.  Other files (the indexes) are scanned for row positions
    when any run read pupil data.  Every file is scanned for the pupil ids of every run.

    Parameters
    ----------
    run_ids
        The plan's runs.
    k
        Minimum pupils per cell.
    reports_dir
        The reports folder (default :data:`analysis.paths.REPORTS_DIR`).
    """
    root = Path(reports_dir or paths.REPORTS_DIR)
    runs = list(dict.fromkeys(run_ids))
    ids = {rid: sorted(registered_pupil_ids(rid)) for rid in runs}
    pupil = {rid: bool(ids[rid]) for rid in runs}
    results_dir = root / "results"
    for rid in runs:
        res = results_dir / f"{rid}.json"
        if not pupil[rid] and res.exists():
            with contextlib.suppress(json.JSONDecodeError, OSError, AttributeError):
                pupil[rid] = bool(json.loads(res.read_text(encoding="utf-8")).get("pupil_data"))
    all_ids = sorted({i for v in ids.values() for i in v})
    any_pupil = any(pupil.values())
    findings: list[Finding] = []
    if not root.exists():
        return findings
    run_set = set(runs)
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in SCANNED_SUFFIXES:
            continue
        text = _read(path)
        if text is None:
            continue
        owner = _owner(path, root, run_set)
        rel = path.relative_to(root).as_posix()
        findings += _scan_file(
            rel,
            path,
            text,
            owner=owner,
            ids=all_ids,  # a pupil id is a leak on any page, whichever run read it
            pupil=pupil[owner] if owner else any_pupil,
            k=k,
        )
    return findings
