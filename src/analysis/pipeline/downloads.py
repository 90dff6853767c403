"""The tables of every page as files: CSV and XLSX per table, a data package per run, one archive.

``analysis.display.show_table`` stores each table's data in its output's metadata
(:data:`analysis.display.TABLE_KEY`) when the notebook runs; publishing writes, per language,

- ``reports/<lang>/downloads/<run>/table-NN.csv`` — UTF-8, ``.`` decimals, headers in ``lang``;
- ``reports/<lang>/downloads/<run>/table-NN.xlsx`` — headers in ``lang``, numbers as numbers;
- ``reports/<lang>/downloads/<run>/datapackage.json`` — a Frictionless Data Package describing
  the run's tables (title, caption, fields with types and, where the header states one, units);
- ``reports/<lang>/downloads/all-tables.zip`` — every table of every page, one archive.

Pupil tables are stored already suppressed (the page and the download carry the same cells).
Files are written deterministically (sorted, fixed archive timestamps), so an unchanged run
gives byte-identical downloads.  The data-package descriptor is plain JSON following the
Frictionless v1 specification; the ``frictionless`` package (a large framework) is not needed to
write it, and the tests check the descriptor against the specification's required fields.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from analysis import i18n, paths
from analysis.pipeline.state import atomic_write_text

_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_UNIT = re.compile(r"\(([^()]{1,24})\)\s*$")


def downloads_dir(lang: str, run_id: str | None = None) -> Path:
    """``reports/<lang>/downloads[/<run_id>]``."""
    base = paths.REPORTS_DIR / lang / "downloads"
    return base / run_id if run_id else base


def tables_of(nb: Any) -> list[dict[str, Any]]:
    """The table payloads stored in an executed notebook, in page order."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            payload = out.get("metadata", {}).get(i18n.TABLE_KEY)
            if payload:
                found.append(payload)
    return found


def frame_of(payload: Mapping[str, Any], lang: str) -> pd.DataFrame:
    """A table payload as a DataFrame with the headers of ``lang`` (duplicates made unique)."""
    import pandas as pd

    headers = list(payload["headers"].get(lang) or payload["columns"])
    seen: dict[str, int] = {}
    unique = []
    for h in headers:
        seen[h] = seen.get(h, 0) + 1
        unique.append(h if seen[h] == 1 else f"{h} [{seen[h]}]")
    rows = (payload.get("data_by_lang") or {}).get(lang) or payload["data"]
    frame = pd.DataFrame(rows, columns=unique)
    for col in frame.columns:  # text cells in the file's language where the catalog has them
        if frame[col].dtype == object:
            frame[col] = frame[col].map(
                lambda v: (
                    i18n.gettext(v, lang)
                    if isinstance(v, str) and i18n.has_translation(v, lang)
                    else v
                )
            )
    for col in frame.columns:  # whole numbers stay integers (suppressed cells made them floats)
        values = frame[col]
        if values.dtype.kind == "f" and values.notna().any():
            finite = values.dropna()
            if ((finite % 1) == 0).all() and finite.abs().max() < 2**53:
                frame[col] = values.astype("Int64")
    return frame


_FORMULA_START = ("=", "+", "@", "\t", "\r")


def _inert(v: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe (CSV)."""
    if isinstance(v, str) and (
        v.startswith(_FORMULA_START) or (v[:1] == "-" and not v[1:2].isdigit())
    ):
        return "'" + v
    return v


def _csv_bytes(df: pd.DataFrame) -> bytes:
    safe = df.map(_inert) if len(df) else df
    return safe.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _xlsx_bytes(df: pd.DataFrame, *, sheet: str, caption: str) -> bytes:
    import pandas as pd
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = sheet[:31]
    ws.append([caption])
    ws["A1"].font = Font(italic=True)
    ws.append(list(df.columns))
    for c in ws[2]:
        c.font = Font(bold=True)
    for row in df.itertuples(index=False, name=None):
        ws.append([None if (v is pd.NA or (isinstance(v, float) and v != v)) else v for v in row])
    for cells in ws.iter_rows():
        for cell in cells:  # text is text: a cell starting with "=" is never a live formula
            if isinstance(cell.value, str):
                cell.data_type = "s"
    wb.properties.creator = "analysis"
    buf = io.BytesIO()
    wb.save(buf)
    return _normalise_zip(buf.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip (XLSX) with fixed timestamps and sorted members: reproducible bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(src.namelist()):
            content = src.read(name)
            if name == "docProps/core.xml":
                content = re.sub(
                    rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>", b"", content
                )
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, content)
    return out.getvalue()


def _field(name: str, dtype: str) -> dict[str, Any]:
    kind = (
        "integer"
        if dtype.startswith(("int", "Int", "uint", "UInt"))
        else "number"
        if dtype.startswith(("float", "Float"))
        else "boolean"
        if dtype == "bool"
        else "string"
    )
    field: dict[str, Any] = {"name": name, "type": kind}
    unit = _UNIT.search(name)
    if unit:
        field["unit"] = unit.group(1)
    return field


def datapackage(run_id: str, title: str, tables: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """The Frictionless Data Package descriptor of one run's tables in ``lang``."""
    resources = []
    for p in tables:
        df = frame_of(p, lang)
        resources.append(
            {
                "name": f"{run_id}-{p['name']}".lower().replace("_", "-"),
                "profile": "tabular-data-resource",
                "path": f"{p['name']}.csv",
                "title": p["caption"].get(lang, ""),
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "dialect": {"delimiter": ",", "decimalChar": "."},
                "schema": {"fields": [_field(str(c), str(df[c].dtype)) for c in df.columns]},
            }
        )
    return {
        "profile": "tabular-data-package",
        "name": run_id.lower().replace("_", "-"),
        "title": title,
        "language": lang,
        "licenses": [{"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0"}],
        "resources": resources,
    }


def write_run(run: Any, nb: Any, lang: str, *, results: Mapping[str, Any]) -> list[Path]:
    """Write one run's downloads in ``lang`` (replacing the old ones); returns the files."""
    tables = tables_of(nb)
    target = downloads_dir(lang, run.id)
    remove(run.id, lang)
    if not tables:
        return []
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for p in tables:
        df = frame_of(p, lang)
        for suffix, data in (
            ("csv", _csv_bytes(df)),
            ("xlsx", _xlsx_bytes(df, sheet=p["name"], caption=p["caption"].get(lang, ""))),
        ):
            f = target / f"{p['name']}.{suffix}"
            f.write_bytes(data)
            written.append(f)
    descriptor = datapackage(run.id, i18n.gettext(run.title, lang), tables, lang)
    pkg = target / "datapackage.json"
    atomic_write_text(pkg, json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n")
    written.append(pkg)
    return written


def remove(run_id: str, lang: str) -> None:
    """Remove a run's downloads in ``lang`` (withheld or failed runs keep none)."""
    shutil.rmtree(downloads_dir(lang, run_id), ignore_errors=True)


def write_archive(lang: str) -> list[Path]:
    """``reports/<lang>/downloads/all-tables.zip``: every run's downloads (reproducible bytes)."""
    base = downloads_dir(lang)
    archive = base / "all-tables.zip"
    members = (
        sorted(f for f in base.rglob("*") if f.is_file() and f != archive and f.suffix != ".zip")
        if base.exists()
        else []
    )
    if not members:
        archive.unlink(missing_ok=True)
        return []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in members:
            info = zipfile.ZipInfo(f.relative_to(base).as_posix(), _FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, f.read_bytes())
    data = buf.getvalue()
    if archive.exists() and archive.read_bytes() == data:
        return []
    archive.write_bytes(data)
    return [archive]
