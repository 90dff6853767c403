"""Small shared helpers for the raw-file readers: spreadsheets, number parsing, error collection.

:func:`read_workbook` is the one spreadsheet reader of :mod:`analysis.data` (ISTAT BES, the MIM
pupil counts, the intake's registers): the cells ``pandas.read_excel(..., engine="calamine",
dtype=object)`` gives, read in a fraction of its time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from itertools import chain
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from analysis import paths
from analysis.errors import DataValidationError, Violation

# ASCII digits only: \d would also read other scripts' digits ("١٢") as a number.
_NUMBER = re.compile(r"^\s*(?P<num>-?[0-9]+(?:[.,][0-9]+)?)\s*(?P<note>\([a-z]\))?\s*$")

# ISTAT conventional signs (Segni convenzionali): kept as flags, never silently dropped.
ISTAT_SIGNS = {
    "....": "not available",
    "...": "not available",
    "..": "below reliability threshold",
    "-": "phenomenon does not exist",
    "....  (a)": "not available (see note a)",
    "\u2026.": "not available",
    "*": "suppressed: not significant or confidential",
}


#: The texts ``pandas.read_excel`` / ``read_csv`` read as missing by default
#: (``keep_default_na=True``; pandas' ``STR_NA_VALUES``, checked by tests/test_data_io.py).
PANDAS_NA_TEXTS = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)


def source_name(path: Path) -> str:
    """Name a raw file in messages: its path relative to the repository."""
    return paths.relative(path)


def parse_number_cells(
    values: pd.Series, *, decimal_comma: bool
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Split cells into (value, flag, bad) where bad marks unparseable cells.

    Numbers may be floats/ints already (openpyxl) or text with a comma decimal (ISTAT ed. 2025).
    ISTAT conventional signs become ``NaN`` with the sign kept as a flag.
    """
    s = values.astype(object)
    cells = s.to_numpy()
    # isinstance(v, int | float) and not a bool, decided once per type rather than per cell
    types = np.fromiter(map(type, cells), dtype=object, count=len(cells))
    is_num = np.zeros(len(cells), dtype=bool)
    for kind in set(types):
        if issubclass(kind, int | float) and not issubclass(kind, bool):
            is_num |= types == kind
    out = pd.Series(np.nan, index=s.index, dtype=float)
    flag = pd.Series("", index=s.index, dtype=object)
    bad = pd.Series(False, index=s.index)
    out[is_num] = s[is_num].astype(float)
    txt = s[~is_num]
    missing = txt.isna()
    txt = txt[~missing].astype(str).str.strip()
    # a sheet repeats few distinct texts ("....", "12,5"): each is parsed once
    codes, distinct = pd.factorize(txt)
    distinct = pd.Series(distinct)
    parts = distinct.str.extract(_NUMBER)
    num_txt = parts["num"].notna()
    conv = parts.loc[num_txt, "num"]
    if decimal_comma or conv.str.contains(",").any():
        conv = conv.str.replace(",", ".", regex=False)
    number = np.full(len(distinct), np.nan)
    number[num_txt.to_numpy()] = conv.astype(float).to_numpy()
    note = parts["note"].where(num_txt)  # a footnote marker such as "(a)" next to the value
    sign = distinct.where(~num_txt)
    known = sign.isin(list(ISTAT_SIGNS)) | (sign == "")
    text_flag = note.where(num_txt & note.notna(), sign.where(~num_txt & known))
    has_flag = text_flag.notna().to_numpy()[codes]
    at = txt.index
    is_number = num_txt.to_numpy()[codes]
    out.loc[at[is_number]] = number[codes][is_number]
    flag.loc[at[has_flag]] = text_flag.to_numpy()[codes][has_flag]
    bad.loc[at[(~num_txt & ~known).to_numpy()[codes]]] = True
    return out, flag.astype(str), bad


def require_columns(df: pd.DataFrame, required: Iterable[str], source: str) -> None:
    """Raise if any required column is missing (naming file and columns)."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataValidationError(
            source,
            [
                Violation(
                    rule=f"required column missing (found columns: {list(df.columns)[:12]})",
                    column=c,
                )
                for c in missing
            ],
        )


def duplicates_violation(
    df: pd.DataFrame, keys: list[str], row_label: pd.Series
) -> Violation | None:
    """Return a violation listing duplicated key rows, or ``None``."""
    dup = df.duplicated(keys, keep=False)
    if not dup.any():
        return None
    rows = row_label[dup].tolist()
    return Violation(
        rule=f"duplicated key {keys}", column=",".join(keys), rows=rows, n_rows=len(rows)
    )


def repeated_header_violations(header: Iterable[str]) -> list[Violation]:
    """One violation per column name that appears more than once in a header.

    pandas silently renames the second ``x`` to ``x.1`` and every reader would then use the
    first: a repeated name is an error in every reader instead (issue 10).
    """
    names = [str(h).strip() for h in header]
    return [
        Violation(rule="column name appears more than once in the header", column=name, rows=[1])
        for name in sorted({n for n in names if names.count(n) > 1})
    ]


# --------------------------------------------------------------------------------------------
# Spreadsheets
# --------------------------------------------------------------------------------------------


def read_workbook(
    path: Path,
    *,
    sheets: Sequence[str] | Literal["all", "first"] = "all",
    header: bool = False,
    missing: Literal["empty", "pandas"] = "empty",
    label: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Read worksheets of an ``.xlsx``/``.xls``/``.ods`` file as object cells, with calamine.

    The frames are those of ``pandas.read_excel(path, sheet_name=..., header=0 if header else
    None, dtype=object, engine="calamine")`` with ``keep_default_na=False, na_values=[""]``
    (``missing="empty"``) or pandas' default missing texts (``missing="pandas"``): the same
    values, Python types, column names and index (tests/test_data_io.py compares the two on
    every workbook of ``data/raw`` and on cells of every type).  Written here, on
    ``python_calamine`` (the parser pandas calls), because pandas converts the cells one by
    one in Python (an integral float becomes an ``int``, a ``date`` a ``datetime``) and then
    passes them through its CSV text parser: 1.8-2.2 s of the 2.5 s it takes for the MIM
    workbooks.  Here the conversion is done per type on whole arrays; only the rare cells
    that need it (``date``, integral floats beyond 62 bits) are converted one by one.

    Parameters
    ----------
    path
        The workbook.
    sheets
        Names of the worksheets to read, ``"all"`` (every worksheet, in workbook order) or
        ``"first"`` (the first worksheet).  Chart sheets are not worksheets.
    header
        Whether the first row holds the column names (empty names become ``Unnamed: i``,
        repeated names ``x.1``, ``x.2``, as pandas names them); otherwise columns are 0..n-1.
    missing
        ``"empty"``: only empty cells are missing (``NaN``); ``"NA"`` stays a text (Napoli's
        province initials).  ``"pandas"``: the texts of :data:`PANDAS_NA_TEXTS` too.
    label
        How the file is named in error messages (default: its path in the repository).

    Returns
    -------
    dict of str to pandas.DataFrame
        Sheet name to its cells (an empty sheet is an empty frame).

    Raises
    ------
    DataValidationError
        When the file is missing or not a readable workbook, or a sheet asked for is missing.
    """
    from python_calamine import SheetTypeEnum, load_workbook

    label = label or source_name(path)
    if missing not in ("empty", "pandas"):
        raise ValueError(f"missing must be 'empty' or 'pandas', not {missing!r}")
    kind = Path(path).suffix.lower() or "spreadsheet"
    try:
        with open(path, "rb") as fh:
            book = load_workbook(fh)
    except FileNotFoundError as exc:
        raise DataValidationError(label, "file not found") from exc
    except Exception as exc:  # calamine raises its own types for a file it cannot parse
        raise DataValidationError(
            label, f"not a readable {kind} workbook ({type(exc).__name__}: {exc})"
        ) from exc
    names = [m.name for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
    if sheets == "all":
        wanted = names
    elif sheets == "first":
        if not names:
            raise DataValidationError(label, "the workbook has no worksheet")
        wanted = names[:1]
    else:
        wanted = list(dict.fromkeys(sheets))
        absent = [s for s in wanted if s not in names]
        if absent:
            raise DataValidationError(label, f"no sheet {absent[0]!r} (sheets: {names})")
    na = frozenset({""}) if missing == "empty" else PANDAS_NA_TEXTS
    out = {}
    for name in wanted:
        try:
            rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            out[name] = _sheet_frame(rows, header=header, na=na)
        except Exception as exc:  # a corrupt sheet inside a readable workbook
            raise DataValidationError(
                label, f"sheet {name!r} is not readable ({type(exc).__name__}: {exc})"
            ) from exc
    return out


def _sheet_frame(rows: list[list[object]], *, header: bool, na: frozenset[str]) -> pd.DataFrame:
    """The frame pandas' text parser makes of calamine's rows (see :func:`read_workbook`)."""
    if not rows:
        return pd.DataFrame()
    width = len(rows[0])
    if any(len(r) != width for r in rows):  # calamine gives a rectangle; refuse anything else
        raise ValueError("rows of different lengths")
    cells, types = _excel_cells(list(chain.from_iterable(rows)))
    grid, kinds = cells.reshape(len(rows), width), types.reshape(len(rows), width)
    if header:
        names: list[object] = [f"Unnamed: {i}" if c == "" else c for i, c in enumerate(grid[0])]
        names = _mangle_names(names, [i for i, c in enumerate(grid[0]) if c == ""])
        grid, kinds = grid[1:], kinds[1:]
    else:
        names = list(range(width))
    columns = {j: _missing(grid[:, j].copy(), kinds[:, j], na) for j in range(width)}
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(grid)), dtype=object)
    frame.columns = pd.Index(names)
    return frame


def _excel_cells(flat: list[object]) -> tuple[np.ndarray, np.ndarray]:
    """Convert calamine's cells as pandas does (its ``_convert_cell``), per type on arrays.

    An integral float becomes an ``int`` (Excel stores every number as a float), a ``date`` a
    ``datetime``; every other value is kept.  Returns the cells and their types.
    """
    cells = np.empty(len(flat), dtype=object)
    cells[:] = flat
    types = np.fromiter(map(type, flat), dtype=object, count=len(flat))
    for kind in set(types):
        if issubclass(kind, float):
            at = np.flatnonzero(types == kind)
            values = cells[at].astype(float)
            whole = np.isfinite(values) & (values == np.trunc(values))
            small = whole & (np.abs(values) < 2.0**62)
            cells[at[small]] = values[small].astype(np.int64).tolist()
            for i in at[whole & ~small]:
                cells[i] = int(cells[i])
            types[at[whole]] = int
        elif issubclass(kind, date) and not issubclass(kind, datetime):
            for i in np.flatnonzero(types == kind):
                d = cells[i]
                cells[i] = datetime(d.year, d.month, d.day)
                types[i] = datetime
    return cells, types


def _missing(column: np.ndarray, types: np.ndarray, na: frozenset[str]) -> np.ndarray:
    """The missing texts of a column become ``NaN`` (pandas' ``sanitize_objects``)."""
    texts = np.flatnonzero(types == str)  # noqa: E721 - elementwise, on an array of types
    if len(texts):
        if na == {""}:
            is_na = column[texts] == ""
        else:
            is_na = pd.Index(column[texts], dtype=object).isin(list(na))
        column[texts[is_na]] = np.nan
    return column


def _mangle_names(names: list[object], unnamed: list[int]) -> list[object]:
    """Repeated column names numbered as pandas' parsers number them (``x``, ``x.1``, ...).

    A port of ``pandas.io.common.mangle_dupe_names``: named columns are numbered before the
    unnamed ones, and a number already taken by another column is skipped.
    """
    names = list(names)
    order = [i for i in range(len(names)) if i not in set(unnamed)] + list(unnamed)
    counts: dict[object, int] = {}
    for i in order:
        col = old = names[i]
        count = counts.get(col, 0)
        while count > 0:
            counts[old] = count + 1
            col = f"{old}.{count}"
            count = count + 1 if col in names else counts.get(col, 0)
        names[i] = col
        counts[col] = count + 1
    return names
