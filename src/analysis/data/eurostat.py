r"""Readers for Eurostat SDMX-TSV files (``edat_lfse_16`` ELET, ``ilc_peps11`` AROPE).

The format (see the PROVENANCE.md beside each file): the first column holds the comma-joined
dimension codes (header ``freq,unit,...,geo\\TIME_PERIOD``), then one tab-separated column per
year; each cell is ``"<value> <flags>"`` with ``:`` for not available and flags ``b`` (break in
series), ``u`` (low reliability), ``d`` (definition differs), ``e`` (estimated).  Flags are kept
in a ``flags`` column and rows are never dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data import geography
from analysis.data._io import duplicates_violation, source_name
from analysis.errors import DataValidationError, Violation

_CELL = re.compile(r"^\s*(?P<value>:|-?\d+(?:\.\d+)?)\s*(?P<flags>[a-z]*)\s*$")
KNOWN_FLAGS = set("bcdefnpsuz")


def read_sdmx_tsv(path: Path, *, dimensions: tuple[str, ...]) -> pd.DataFrame:
    """Read one Eurostat SDMX-TSV file into a long table.

    Parameters
    ----------
    path
        The ``.tsv`` file.
    dimensions
        The expected dimension names in the first header cell, e.g. ``("freq", "unit", "sex",
        "age", "geo")``.  A file with other dimensions is rejected.

    Returns
    -------
    pandas.DataFrame
        One row per series × year with the dimension columns, ``year`` (int), ``value``
        (float, NaN where Eurostat prints ``:``), ``flags`` (str, possibly empty) and ``line``
        (the line number in the file, for error messages).
    """
    src = source_name(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataValidationError(src, f"file is not UTF-8 text ({exc.reason})") from exc
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DataValidationError(src, "file is empty")
    header = lines[0].split("\t")
    first = header[0].strip()
    expected = ",".join(dimensions) + "\\TIME_PERIOD"
    if first != expected:
        raise DataValidationError(
            src,
            [
                Violation(
                    rule=f"first header cell must be {expected!r} (is {first!r}); wrong table or separator",
                    column=first,
                    rows=[1],
                )
            ],
        )
    years: list[int] = []
    bad_years = []
    for cell in header[1:]:
        try:
            years.append(int(cell.strip()))
        except ValueError:
            bad_years.append(cell)
    if bad_years or not years:
        raise DataValidationError(
            src,
            [
                Violation(
                    rule="year header cells must be integers", column=str(bad_years[:3]), rows=[1]
                )
            ],
        )

    records = []
    violations: dict[tuple[str, str], list[int]] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            violations.setdefault(
                ("(row)", f"expected {len(header)} tab-separated cells"), []
            ).append(lineno)
            continue
        keys = cells[0].strip().split(",")
        if len(keys) != len(dimensions):
            violations.setdefault(
                (first, f"expected {len(dimensions)} comma-separated codes"), []
            ).append(lineno)
            continue
        for year, cell in zip(years, cells[1:], strict=True):
            m = _CELL.match(cell)
            flags = m.group("flags") if m else ""
            if m is None or not set(flags) <= KNOWN_FLAGS:
                violations.setdefault(
                    (str(year), "cell must be '<number> <flags>' or ':'"), []
                ).append(lineno)
                continue
            raw = m.group("value")
            value = np.nan if raw == ":" else float(raw)
            records.append((*keys, year, value, flags, lineno))
    if violations:
        raise DataValidationError(
            src,
            [
                Violation(rule=rule, column=col, rows=rows, n_rows=len(rows))
                for (col, rule), rows in violations.items()
            ],
        )
    df = pd.DataFrame.from_records(records, columns=[*dimensions, "year", "value", "flags", "line"])
    dup = duplicates_violation(df, [*dimensions, "year"], df["line"])
    if dup is not None:
        raise DataValidationError(src, [dup])
    return df


def _percent_range(df: pd.DataFrame, src: str) -> None:
    bad = df["value"].notna() & ~df["value"].between(0, 100)
    if bad.any():
        raise DataValidationError(
            src,
            [
                Violation(
                    rule="percentage outside [0, 100]",
                    column="value",
                    rows=df.loc[bad, "line"].tolist(),
                    n_rows=int(bad.sum()),
                )
            ],
        )


def _unknown_geo(df: pd.DataFrame, src: str) -> None:
    unknown = ~df["geo"].isin(list(geography.NUTS))
    if unknown.any():
        raise DataValidationError(
            src,
            [
                Violation(
                    rule=f"unknown geo code(s) {sorted(df.loc[unknown, 'geo'].unique())[:5]}",
                    column="geo",
                    rows=df.loc[unknown, "line"].unique().tolist(),
                )
            ],
        )


def read_elet(files: list[Path]) -> pd.DataFrame:
    """Read edat_lfse_16 files into the tidy ``elet_regions`` panel.

    Returns
    -------
    pandas.DataFrame
        Columns ``geo``, ``region_name``, ``level``, ``sex`` (F/M/T), ``year``, ``value`` (% of
        the population aged 18–24), ``flags``.
    """
    parts = []
    for f in files:
        df = read_sdmx_tsv(f, dimensions=("freq", "unit", "sex", "age", "geo"))
        src = source_name(f)
        wrong = (df["unit"] != "PC") | (df["age"] != "Y18-24") | (df["freq"] != "A")
        if wrong.any():
            raise DataValidationError(
                src,
                [
                    Violation(
                        rule="expected freq=A, unit=PC, age=Y18-24",
                        column="freq,unit,age",
                        rows=df.loc[wrong, "line"].unique().tolist(),
                    )
                ],
            )
        bad_sex = ~df["sex"].isin(["F", "M", "T"])
        if bad_sex.any():
            raise DataValidationError(
                src,
                [
                    Violation(
                        rule="sex must be F, M or T",
                        column="sex",
                        rows=df.loc[bad_sex, "line"].unique().tolist(),
                    )
                ],
            )
        _unknown_geo(df, src)
        _percent_range(df, src)
        parts.append(df)
    out = pd.concat(parts, ignore_index=True)
    out["region_name"] = out["geo"].map(geography.nuts_name)
    out["level"] = out["geo"].map(geography.nuts_level)
    cols = ["geo", "region_name", "level", "sex", "year", "value", "flags"]
    return out[cols].sort_values(["geo", "sex", "year"]).reset_index(drop=True)


def read_arope(path: Path) -> pd.DataFrame:
    """Read ilc_peps11 into the tidy ``arope_regions`` panel (% of total population)."""
    df = read_sdmx_tsv(path, dimensions=("freq", "unit", "geo"))
    src = source_name(path)
    _unknown_geo(df, src)
    _percent_range(df, src)
    df["region_name"] = df["geo"].map(geography.nuts_name)
    df["level"] = df["geo"].map(geography.nuts_level)
    df["sex"] = "T"
    cols = ["geo", "region_name", "level", "sex", "year", "value", "flags"]
    return df[cols].sort_values(["geo", "year"]).reset_index(drop=True)
