"""Small shared helpers for the raw-file readers: number parsing and error collection."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

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
    is_num = np.fromiter(
        (isinstance(v, int | float) and not isinstance(v, bool) for v in cells),
        dtype=bool,
        count=len(cells),
    )
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
