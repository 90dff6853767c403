"""Readers for the two CSV exports of R package data (pspatreg ``unemp_it``; SchoolDataIT INVALSI)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data._io import (
    duplicates_violation,
    repeated_header_violations,
    require_columns,
    source_name,
)
from analysis.errors import DataValidationError, Violation

UNEMP_COLUMNS = ["prov", "name", "reg", "year", "unrate", "partrate", "popdens", "South"]
INVALSI_COLUMNS = [
    "Year",
    "Grade",
    "Subject",
    "Province_initials",
    "Province_description",
    "Province_code",
    "Average_percentage_score",
    "WLE_average_score",
    "Students_coverage",
]
INVALSI_MISSING_CODE = 999
# Documented coverage of the two exports (PROVENANCE.md): a file with fewer units was cut.
UNEMP_PROVINCES, UNEMP_YEARS = 103, range(1996, 2020)
INVALSI_PROVINCES, INVALSI_TESTS = 15, 16  # 16 grade × subject tests per province


def _read_csv(path: Path) -> pd.DataFrame:
    # Only empty cells are missing: "NA" is Napoli's province initials, not a missing value.
    src = source_name(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataValidationError(src, f"file is not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:  # missing file, a directory: name the file (fuzz tests)
        raise DataValidationError(src, f"cannot read the file ({exc.strerror or exc})") from exc
    # pandas pads a line with too few fields with missing values (a truncated line looks like
    # empty optional cells) and reads a first line with too many as an index, shifting every
    # value one column to the right: check the field count of every line first.
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if r]
    except csv.Error as exc:  # e.g. an unbalanced quote swallowing the rest of the file
        raise DataValidationError(src, f"not a well-formed CSV file ({exc})") from exc
    if rows and (repeated := repeated_header_violations(rows[0])):
        raise DataValidationError(src, repeated)
    if rows:
        ragged = [i for i, r in enumerate(rows[1:], start=2) if len(r) != len(rows[0])]
        if ragged:
            raise DataValidationError(
                src,
                [
                    Violation(
                        rule=f"line has another number of fields than the header ({len(rows[0])})",
                        rows=ragged,
                        n_rows=len(ragged),
                    )
                ],
            )
    try:
        df = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(src, "file is empty") from exc
    except pd.errors.ParserError as exc:
        raise DataValidationError(src, f"not a comma-separated file: {exc}") from exc
    if df.empty:  # a header without data rows would give a silently empty panel
        raise DataValidationError(src, "file has a header but no data rows")
    return df


def _constant_within(
    df: pd.DataFrame, unit: str | None, cols: list[str], line: pd.Series
) -> list[Violation]:
    """Attributes of a unit (a province's name, region ...) must not change between its rows.

    ``unit=None``: constant over the whole file.  A corrupted copy of one cell is reported.
    """
    out = []
    group = df[unit] if unit is not None else pd.Series(0, index=df.index)
    for c in cols:
        n = df[c].groupby(group).nunique(dropna=False)
        bad = group.isin(n.index[n > 1])
        if bad.any():
            out.append(
                Violation(
                    rule=f"not constant within {unit or 'the file'}",
                    column=c,
                    rows=line[bad].tolist(),
                    n_rows=int(bad.sum()),
                )
            )
    return out


def _coverage(df: pd.DataFrame, unit: str, expected: int, what: str) -> Violation | None:
    """The documented number of units (see PROVENANCE.md); a missing unit is an error."""
    n = df[unit].nunique()
    if n == expected:
        return None
    return Violation(
        rule=f"incomplete or extended file: expected {expected} {what} (PROVENANCE.md), found {n}",
        column=unit,
    )


def _integers(df: pd.DataFrame, cols: list[str]) -> list[Violation]:
    """Integer columns (codes, years) must be present and whole numbers.

    Without this rule a missing cell (a truncated line) crashed the ``astype(int)`` below and a
    non-integral one (``1999.5``) was silently truncated to another year or code.
    """
    out = []
    for c in cols:
        v = df[c]
        bad = v.isna() | (v != np.round(v))
        if bad.any():
            out.append(
                Violation(
                    rule="must be a whole number (no missing value)",
                    column=c,
                    rows=(df.index[bad] + 2).tolist(),
                    n_rows=int(bad.sum()),
                )
            )
    return out


def _required(df: pd.DataFrame, cols: list[str]) -> list[Violation]:
    """Cells that must not be missing (a missing name would become the text ``"nan"``)."""
    out = []
    for c in cols:
        bad = df[c].isna() | (df[c].astype(str).str.strip() == "")
        if bad.any():
            out.append(
                Violation(
                    rule="missing value not allowed",
                    column=c,
                    rows=(df.index[bad] + 2).tolist(),
                    n_rows=int(bad.sum()),
                )
            )
    return out


def _balanced(df: pd.DataFrame, unit: str, within: list[str], line: pd.Series) -> Violation | None:
    """Every ``unit`` must have the same set of ``within`` keys (a balanced panel).

    The sources are balanced panels; a file truncated at a line boundary loses the last
    unit's rows, which this rule reports instead of returning a silently shorter panel.
    Call only when ``unit`` + ``within`` has no duplicates.
    """
    # (unit, within) is unique (checked before), so a unit with as many rows as there are
    # distinct ``within`` keys in the file has all of them.
    n_keys = len(df[within].drop_duplicates())
    size = df.groupby(unit).size()
    short = size[size != n_keys]
    if short.empty:
        return None
    rows = line[df[unit].isin(short.index)].tolist()
    return Violation(
        rule=f"unbalanced panel: every {unit} needs the same {within} as the others "
        f"({len(short)} {unit}(s) lack some, e.g. {short.index[0]})",
        column=unit,
        rows=rows,
        n_rows=len(rows),
    )


def _numeric(df: pd.DataFrame, cols: list[str], src: str) -> list[Violation]:
    out = []
    for c in cols:
        conv = pd.to_numeric(df[c], errors="coerce")
        bad = conv.isna() & df[c].notna()
        if bad.any():
            out.append(
                Violation(
                    rule="not a number",
                    column=c,
                    rows=(df.index[bad] + 2).tolist(),
                    n_rows=int(bad.sum()),
                )
            )
        inf = np.isinf(conv)
        if inf.any():
            out.append(
                Violation(rule="infinite value", column=c, rows=(df.index[inf] + 2).tolist())
            )
        df[c] = conv
    return out


def read_unemployment(path: Path) -> pd.DataFrame:
    """Build ``unemployment_provinces`` (pspatreg ``unemp_it``: 103 provinces × 1996–2019).

    Returns columns ``prov`` (ISTAT province code), ``province_name``, ``region``, ``year``,
    ``unrate`` and ``partrate`` (%), ``popdens``, ``south`` (0/1) and ``series_break``
    (True from 2015: the package joined two ISTAT series there, see PROVENANCE.md).
    """
    src = source_name(path)
    df = _read_csv(path)
    require_columns(df, UNEMP_COLUMNS, src)
    violations = _numeric(df, ["prov", "year", "unrate", "partrate", "popdens", "South"], src)
    if violations:
        raise DataValidationError(src, violations)
    violations = _integers(df, ["prov", "year", "South"])
    violations += _required(df, ["name", "reg", "unrate", "partrate", "popdens"])
    if violations:
        raise DataValidationError(src, violations)
    line = pd.Series(df.index + 2, index=df.index)
    bad_south = ~df["South"].isin([0, 1])
    if bad_south.any():
        violations.append(
            Violation(rule="must be 0 or 1", column="South", rows=line[bad_south].tolist())
        )
    for col in ["unrate", "partrate"]:
        bad = df[col].notna() & ~df[col].between(0, 100)
        if bad.any():
            violations.append(
                Violation(rule="percentage outside [0, 100]", column=col, rows=line[bad].tolist())
            )
    dup = duplicates_violation(df, ["prov", "year"], line)
    if dup is not None:
        violations.append(dup)
    else:
        unbalanced = _balanced(df, "prov", ["year"], line)
        if unbalanced is not None:
            violations.append(unbalanced)
    violations += _constant_within(df, "prov", ["name", "reg", "South"], line)
    cover = _coverage(df, "prov", UNEMP_PROVINCES, "provinces")
    if cover is not None:
        violations.append(cover)
    years = sorted(df["year"].unique())
    if years != list(UNEMP_YEARS):
        violations.append(
            Violation(
                rule=f"expected the years {UNEMP_YEARS.start}–"
                f"{UNEMP_YEARS.stop - 1} (found {years[:3]}…{years[-3:]})",
                column="year",
            )
        )
    if violations:
        raise DataValidationError(src, violations)
    out = pd.DataFrame(
        {
            "prov": df["prov"].astype(int),
            "province_name": df["name"].astype(str),
            "region": df["reg"].astype(str),
            "year": df["year"].astype(int),
            "unrate": df["unrate"].astype(float),
            "partrate": df["partrate"].astype(float),
            "popdens": df["popdens"].astype(float),
            "south": df["South"].astype(int),
        }
    )
    out["series_break"] = out["year"] >= 2015
    return out.sort_values(["prov", "year"]).reset_index(drop=True)


def read_invalsi(path: Path) -> pd.DataFrame:
    """Build ``invalsi_provinces`` (INVALSI 2022/23, 15 southern provinces; 999 → missing)."""
    src = source_name(path)
    df = _read_csv(path)
    require_columns(df, INVALSI_COLUMNS, src)
    num = [
        "Grade",
        "Province_code",
        "Average_percentage_score",
        "WLE_average_score",
        "Students_coverage",
    ]
    violations = _numeric(df, num, src)
    if violations:
        raise DataValidationError(src, violations)
    violations = _integers(df, ["Grade", "Province_code"])
    # Province_initials may be empty: Napoli's "NA" was written as an empty cell by the export.
    violations += _required(df, ["Year", "Subject", "Province_description", "WLE_average_score"])
    if violations:
        raise DataValidationError(src, violations)
    line = pd.Series(df.index + 2, index=df.index)
    dup = duplicates_violation(df, ["Grade", "Subject", "Province_code"], line)
    if dup is not None:
        raise DataValidationError(src, [dup])
    tests = df["Grade"].astype(str) + " " + df["Subject"].astype(str)
    violations = [
        v
        for v in [
            _balanced(df, "Province_code", ["Grade", "Subject"], line),
            _coverage(df, "Province_code", INVALSI_PROVINCES, "provinces"),
            _coverage(df.assign(test=tests), "test", INVALSI_TESTS, "grade × subject tests"),
        ]
        if v is not None
    ]
    violations += _constant_within(
        df, "Province_code", ["Province_initials", "Province_description"], line
    )
    violations += _constant_within(df, None, ["Year"], line)
    if violations:
        raise DataValidationError(src, violations)
    pct = df["Average_percentage_score"].replace(INVALSI_MISSING_CODE, np.nan)
    out = pd.DataFrame(
        {
            "school_year": df["Year"].astype(str),
            "grade": df["Grade"].astype(int),
            "subject": df["Subject"].astype(str),
            "province_code": df["Province_code"].astype(int),
            "province_initials": df["Province_initials"].astype("str"),
            "province_name": df["Province_description"].astype(str),
            "pct_sufficient": pct.astype(float),
            "wle_mean": df["WLE_average_score"].astype(float),
            "coverage": df["Students_coverage"].astype(float),
        }
    )
    # sorted by key like the other readers, so that the panel does not depend on row order
    return out.sort_values(["grade", "subject", "province_code"]).reset_index(drop=True)
