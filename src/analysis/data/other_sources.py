"""Readers for the two CSV exports of R package data (pspatreg ``unemp_it``; SchoolDataIT INVALSI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data._io import duplicates_violation, require_columns, source_name
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


def _read_csv(path: Path) -> pd.DataFrame:
    # Only empty cells are missing: "NA" is Napoli's province initials, not a missing value.
    src = source_name(path)
    try:
        df = pd.read_csv(path, encoding="utf-8", keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as exc:
        raise DataValidationError(src, f"file is not UTF-8 text ({exc.reason})") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(src, "file is empty") from exc
    except pd.errors.ParserError as exc:
        raise DataValidationError(src, f"not a comma-separated file: {exc}") from exc
    return df


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
    line = pd.Series(df.index + 2, index=df.index)
    for col in ["unrate", "partrate"]:
        bad = df[col].notna() & ~df[col].between(0, 100)
        if bad.any():
            violations.append(
                Violation(rule="percentage outside [0, 100]", column=col, rows=line[bad].tolist())
            )
    dup = duplicates_violation(df, ["prov", "year"], line)
    if dup is not None:
        violations.append(dup)
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
    line = pd.Series(df.index + 2, index=df.index)
    dup = duplicates_violation(df, ["Grade", "Subject", "Province_code"], line)
    if dup is not None:
        raise DataValidationError(src, [dup])
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
    return out
