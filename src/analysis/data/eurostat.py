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
from analysis.data._io import duplicates_violation, repeated_header_violations, source_name
from analysis.errors import DataValidationError, Violation

# ASCII digits only ([0-9], not \d, which also matches other scripts' digits).
_CELL = re.compile(r"^\s*(?P<value>:|-?[0-9]+(?:\.[0-9]+)?)\s*(?P<flags>[a-z]*)\s*$")
KNOWN_FLAGS = set("bcdefnpsuz")
_YEAR = re.compile(r"[0-9]{4}")


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
    except OSError as exc:  # missing file, a directory, unreadable: name the file (fuzz tests)
        raise DataValidationError(src, f"cannot read the file ({exc.strerror or exc})") from exc
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DataValidationError(src, "file is empty")
    header = lines[0].split("\t")
    if repeated := repeated_header_violations(header):
        raise DataValidationError(src, repeated)
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
        # Four ASCII digits only: int() would also accept "2_005", "+2005" or non-ASCII digits
        # (a corrupted header read as a plausible year).
        if _YEAR.fullmatch(cell.strip()):
            years.append(int(cell.strip()))
        else:
            bad_years.append(cell)
    if not bad_years and years != sorted(set(years)):
        # Eurostat lists years in increasing order; swapped headers would silently attach
        # values to the wrong years (a repeated year is caught here too).
        bad_years = [str(nxt) for y, nxt in zip(years, years[1:], strict=False) if nxt <= y]
    if bad_years or not years:
        raise DataValidationError(
            src,
            [
                Violation(
                    rule="year header cells must be four-digit years in increasing order",
                    column=str(bad_years[:3]),
                    rows=[1],
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
    if not records:  # a header without data lines would give a silently empty table
        raise DataValidationError(src, "file has a header but no data lines")
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


def _all_italian_geos(df: pd.DataFrame, src: str) -> None:
    """Every Italian unit of :data:`geography.NUTS` (country, macro-areas, regions) is present.

    Both tables cover all of them; a missing line (deleted, or lost to a file truncated at a
    line boundary) is reported instead of giving a panel without that region.
    """
    italian = [g for g in geography.NUTS if g.startswith("IT")]
    missing = [g for g in italian if g not in set(df["geo"])]
    if missing:
        raise DataValidationError(
            src,
            [
                Violation(
                    rule=f"incomplete table: no series for {len(missing)} Italian unit(s) "
                    f"{missing[:5]} (every NUTS 0/1/2 unit of Italy is expected)",
                    column="geo",
                )
            ],
        )


def _sexes_balanced(df: pd.DataFrame, src: str) -> None:
    """Every geo needs the total (``T``) and the same set of sexes as the other geos.

    A file truncated at a line boundary loses whole series (lines are ordered F, M, T); this
    rule turns such a file into an error instead of a panel with silently missing series.
    """
    sexes = df.groupby("geo")["sex"].agg(lambda s: tuple(sorted(set(s))))
    full = tuple(sorted(set(df["sex"])))
    bad = sexes[(sexes != full) | ~sexes.map(lambda t: "T" in t)]
    if len(bad):
        raise DataValidationError(
            src,
            [
                Violation(
                    rule=f"unbalanced file: every geo needs the series for sex {list(full)} "
                    f"incl. the total T (found {dict(bad.head(3))})",
                    column="sex",
                    rows=df.loc[df["geo"].isin(bad.index), "line"].unique().tolist(),
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
    if not files:
        raise DataValidationError("read_elet(files=[])", "no edat_lfse_16 file given")
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
        _sexes_balanced(df, src)
        parts.append(df.assign(source=src))
    out = pd.concat(parts, ignore_index=True)
    _all_italian_geos(out, ", ".join(source_name(f) for f in files))
    # The same series in two files (each file is checked for duplicates on its own).
    dup = out.duplicated(["geo", "sex", "year"], keep=False)
    if dup.any():
        where = out.loc[dup].drop_duplicates(["source", "line"])
        raise DataValidationError(
            ", ".join(sorted(where["source"].unique())),
            [
                Violation(
                    rule="the same series (geo, sex) appears in more than one file",
                    column="geo,sex",
                    rows=[
                        f"{s}:{ln}" for s, ln in zip(where["source"], where["line"], strict=True)
                    ],
                )
            ],
        )
    out["region_name"] = out["geo"].map(geography.nuts_name)
    out["level"] = out["geo"].map(geography.nuts_level)
    cols = ["geo", "region_name", "level", "sex", "year", "value", "flags"]
    return out[cols].sort_values(["geo", "sex", "year"]).reset_index(drop=True)


def read_arope(path: Path) -> pd.DataFrame:
    """Read ilc_peps11 into the tidy ``arope_regions`` panel (% of total population)."""
    df = read_sdmx_tsv(path, dimensions=("freq", "unit", "geo"))
    src = source_name(path)
    # Another unit (e.g. THS_PER, thousands of persons) would pass the [0, 100] range check
    # and silently change the meaning of the values.
    wrong = (df["unit"] != "PC") | (df["freq"] != "A")
    if wrong.any():
        raise DataValidationError(
            src,
            [
                Violation(
                    rule="expected freq=A, unit=PC",
                    column="freq,unit",
                    rows=df.loc[wrong, "line"].unique().tolist(),
                )
            ],
        )
    _unknown_geo(df, src)
    _percent_range(df, src)
    _all_italian_geos(df, src)
    df["region_name"] = df["geo"].map(geography.nuts_name)
    df["level"] = df["geo"].map(geography.nuts_level)
    df["sex"] = "T"
    cols = ["geo", "region_name", "level", "sex", "year", "value", "flags"]
    return df[cols].sort_values(["geo", "year"]).reset_index(drop=True)
