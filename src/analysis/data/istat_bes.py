"""Readers for ISTAT BES workbooks (Bes dei territori by province, and the regional workbook).

Provincial editions 2021 and 2025, and the
regional BES workbook (Rapporto BES 2021).

Each workbook has one row per indicator × sex × territory and one column per year.  Cells are
numbers, text with a comma decimal (ed. 2025), or ISTAT conventional signs (``....`` not
available, ``..`` below the reliability threshold, ``-`` phenomenon absent); signs are kept in
``flag`` with a missing ``value`` and no row is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data import geography
from analysis.data._io import (
    ISTAT_SIGNS,
    duplicates_violation,
    parse_number_cells,
    read_workbook,
    require_columns,
    source_name,
)
from analysis.errors import DataValidationError, Violation

SHEET_PROVINCES = "Indicatori_per_provincia_sesso"
SHEET_REGIONS = "Foglio1"
ID_COLUMNS = ["DOMINIO", "CODICE", "INDICATORE", "SESSO", "TERRITORIO", "UNITA_MISURA", "FONTE"]
SEX = {"Maschi": "M", "Femmine": "F", "Totale": "T"}
PERCENT_UNIT = "Valori percentuali"
# Columns besides the id and year columns that ISTAT's workbooks carry (notes, ed. 2025 codes).
KNOWN_OTHER_COLUMNS = frozenset(
    [*ID_COLUMNS, "NOTA", "NOTE", "W_DOMINIO", "W_INDICATORE", "W_SESSO", "W_GEO"]
)
MACRO_BY_W_GEO = {"01": "Nord-ovest", "02": "Nord-est", "03": "Centro", "04": "Sud", "05": "Isole"}

# Indicators whose code changed between editions without a change of definition (ISTAT renumbered
# the INVALSI grade-8 indicators in ed. 2025): ed.2021 code -> ed.2025 code.
CODE_ALIASES = {"02IST008P": "02IST011P", "02IST009P": "02IST010P"}
_SUFFIX = re.compile(r"-N\d\d$")

# Indicators published in "Valori percentuali" that are ratios and can legitimately exceed 100:
# prison overcrowding (inmates per 100 places), children in pre-school (enrolled per 100 resident
# children, incl. non-residents), renewable electricity (production per 100 of consumption),
# urban waste sent to landfill (a region may take in waste from others).
PERCENT_CAN_EXCEED_100 = {"06POL012P", "06POL012", "02IST001", "10AMB016", "10AMB004"}


def series_code(code: str) -> str:
    """Return the edition-independent series code (``02IST006-N22`` -> ``02IST006``)."""
    code = CODE_ALIASES.get(code, code)
    return _SUFFIX.sub("", code)


def series_codes(codes: pd.Series) -> pd.Series:
    """:func:`series_code` of every element, computed once per distinct code."""
    lookup = {c: series_code(c) for c in codes.unique()}
    return codes.map(lookup)


def _year_columns(columns: pd.Index) -> dict[object, int]:
    out = {}
    for c in columns:
        m = re.fullmatch(r"V_?([0-9]{4})", str(c)) or re.fullmatch(r"([0-9]{4})", str(c))
        if m:
            out[c] = int(m.group(1))
    return out


def read_bes_workbook(path: Path, *, sheet: str, edition: str) -> pd.DataFrame:
    """Read one BES workbook into a long table with validation.

    Parameters
    ----------
    path
        The ``.xlsx`` workbook.
    sheet
        The ISTAT sheet to read (other sheets, e.g. third-party annotations, are ignored).
    edition
        Label stored in the ``edition`` column (``"2021"``, ``"2025"``).

    Returns
    -------
    pandas.DataFrame
        Columns: the ISTAT id columns renamed (``indicator_code``, ``indicator_name``, ``unit``,
        ``domain``, ``territory``, ``sex`` as F/M/T), ``w_geo`` (ed. 2025 territorial code or
        empty), ``year``, ``value``, ``flag``, ``edition``, ``row`` (the Excel row number).
    """
    return _read_sheet(path, sheet=sheet, edition=edition).long()


def _read_sheet(path: Path, *, sheet: str, edition: str) -> _Sheet:
    src = source_name(path)
    # calamine (Rust) reads these workbooks 6-7x faster than openpyxl and gives the same cells
    # (same values and Python types under dtype=object; checked on the three ISTAT workbooks
    # by tests/test_data_loaders.py); read_workbook gives pandas.read_excel's frame
    raw = read_workbook(path, sheets=[sheet], header=True, missing="pandas", label=src)[sheet]
    return _parse_sheet(raw, source=src, edition=edition)


def parse_bes_sheet(raw: pd.DataFrame, *, source: str, edition: str) -> pd.DataFrame:
    """Validate one BES sheet already read as text/objects (the second half of the reader).

    :func:`read_bes_workbook` reads the sheet as ``pandas.read_excel(..., dtype=object)`` does and
    passes it here; the property-based tests call it directly so that they can try many
    malformed sheets without writing a workbook for each.  Parameters and result as in
    :func:`read_bes_workbook` (``source`` names the file in messages).
    """
    return _parse_sheet(raw, source=source, edition=edition).long()


@dataclass(frozen=True)
class _Sheet:
    """A validated BES sheet: its id columns once per sheet row, its cells once per row × year.

    The long table (:meth:`long`) repeats the id columns for every year; the provincial panel
    is built from the parts instead (:func:`read_bes_provinces`), so that each text column is
    laid out once, in the panel's order.
    """

    ids: pd.DataFrame  # per sheet row: the cleaned id columns of the long table
    has_w_geo: bool
    pos: np.ndarray  # per cell: its sheet row (0-based), cells in DataFrame.melt order
    year: pd.Series
    value: pd.Series
    flag: pd.Series
    row: np.ndarray  # per cell: its Excel row
    edition: str

    def long(self) -> pd.DataFrame:
        """The long table of :func:`read_bes_workbook`."""

        def per_row(column: pd.Series) -> pd.Series:  # a wide column repeated for every year
            return column.take(self.pos).reset_index(drop=True)

        ids = self.ids
        return pd.DataFrame(
            {
                "domain": per_row(ids["domain"]),
                "indicator_code": per_row(ids["indicator_code"]),
                "indicator_name": per_row(ids["indicator_name"]),
                "unit": per_row(ids["unit"]),
                "territory": per_row(ids["territory"]),
                "sex": per_row(ids["sex"]),
                "w_geo": per_row(ids["w_geo"]) if self.has_w_geo else "",
                "year": self.year,
                "value": self.value,
                "flag": self.flag,
                "edition": self.edition,
                "row": pd.Series(self.row).astype(int),
            }
        )


def _parse_sheet(raw: pd.DataFrame, *, source: str, edition: str) -> _Sheet:
    """The checks of :func:`parse_bes_sheet`, and the sheet's parts."""
    src = source
    require_columns(raw, ID_COLUMNS, src)
    years = _year_columns(raw.columns)
    if not years:
        raise DataValidationError(src, "no year columns (V_YYYY, VYYYY or YYYY) found")
    # A renamed or mangled header must not silently drop a year or an id column.
    unknown = [c for c in raw.columns if c not in years and c not in KNOWN_OTHER_COLUMNS]
    if unknown:
        raise DataValidationError(
            src,
            [
                Violation(
                    rule="unexpected column (neither an ISTAT id column, a year column "
                    f"V_YYYY/VYYYY/YYYY, nor one of {sorted(KNOWN_OTHER_COLUMNS - set(ID_COLUMNS))})",
                    column=str(c),
                    rows=[1],
                )
                for c in unknown[:5]
            ],
        )
    # in file order: swapped year headers would silently attach values to the wrong years
    ys = list(years.values())
    if ys != list(range(ys[0], ys[0] + len(ys))):
        raise DataValidationError(
            src,
            [
                Violation(
                    rule=f"year columns must be consecutive increasing years (found {ys})",
                    column=", ".join(str(c) for c in years),
                    rows=[1],
                )
            ],
        )
    if raw.empty:  # a header without data rows would give a silently empty table
        raise DataValidationError(src, "sheet has a header but no data rows")
    raw = raw.reset_index(drop=True)
    raw["row"] = raw.index + 2  # Excel row (1 = header)
    violations: list[Violation] = []
    # every id column that enters the output must be filled (an empty cell would become "nan")
    for col in ["CODICE", "SESSO", "TERRITORIO", "DOMINIO", "INDICATORE", "UNITA_MISURA"]:
        empty = raw[col].isna() | (raw[col].astype(str).str.strip() == "")
        if empty.any():
            violations.append(
                Violation(
                    rule="must not be empty",
                    column=col,
                    rows=raw.loc[empty, "row"].tolist(),
                    n_rows=int(empty.sum()),
                )
            )
    bad_sex = ~raw["SESSO"].isin(list(SEX))
    if bad_sex.any():
        violations.append(
            Violation(
                rule=f"must be one of {list(SEX)}",
                column="SESSO",
                rows=raw.loc[bad_sex, "row"].tolist(),
                n_rows=int(bad_sex.sum()),
            )
        )
    dup = duplicates_violation(raw, ["CODICE", "SESSO", "TERRITORIO"], raw["row"])
    if dup is not None:
        violations.append(dup)

    # The long table has one row per sheet row x year column, year columns in file order (the
    # order of DataFrame.melt); it is built by position, so that the text columns are cleaned
    # once per sheet row rather than once per row and year (a fifth of the build time).
    n, cols = len(raw), list(years)
    pos = np.tile(np.arange(n), len(cols))
    year_col = pd.Series(np.repeat(np.array(cols, dtype=object), n), dtype=object)
    cell = pd.Series(raw[cols].to_numpy(dtype=object).ravel(order="F"), dtype=object)
    row = raw["row"].to_numpy()[pos]
    value, flag, bad = parse_number_cells(cell, decimal_comma=(edition == "2025"))
    if bad.any():
        b = bad.to_numpy()
        cells = pd.DataFrame({"year_col": year_col[b], "cell": cell[b], "row": row[b]})
        for col, grp in cells.groupby("year_col", sort=False):
            examples = sorted({str(v) for v in grp["cell"]})[:3]
            violations.append(
                Violation(
                    rule=f"cell is neither a number nor an ISTAT conventional sign {sorted(ISTAT_SIGNS)}"
                    f" (found {examples})",
                    column=str(col),
                    rows=grp["row"].tolist(),
                    n_rows=len(grp),
                )
            )
    if violations:
        raise DataValidationError(src, violations)

    # ed. 2025 writes some units with a non-breaking space ("Valori\xa0percentuali"): compare
    # with normalised spaces, or the range check is silently skipped for those rows.
    unit = raw["UNITA_MISURA"].astype(str).str.replace("\xa0", " ").str.strip()
    ratio = series_codes(raw["CODICE"].astype(str)).isin(PERCENT_CAN_EXCEED_100)
    is_pct = (unit == PERCENT_UNIT).to_numpy()[pos] & value.notna().to_numpy()
    v = value.to_numpy()
    pct = is_pct & ((v < 0) | ((v > 100) & ~ratio.to_numpy()[pos]))
    if pct.any():
        rows = row[pct].tolist()
        raise DataValidationError(
            src,
            [
                Violation(
                    rule="percentage outside [0, 100]",
                    column=", ".join(sorted({str(c) for c in year_col[pct]})),
                    rows=rows,
                    n_rows=len(rows),
                )
            ],
        )
    inf = np.isinf(v)
    if inf.any():
        raise DataValidationError(
            src,
            [Violation(rule="infinite value", column="(year columns)", rows=row[inf].tolist())],
        )

    ids = pd.DataFrame(
        {
            "domain": raw["DOMINIO"].astype(str),
            "indicator_code": raw["CODICE"].astype(str).str.strip(),
            "indicator_name": raw["INDICATORE"].astype(str).str.strip(),
            "unit": raw["UNITA_MISURA"].astype(str),
            "territory": raw["TERRITORIO"].astype(str).str.strip(),
            "sex": raw["SESSO"].map(SEX),
            "w_geo": raw["W_GEO"].astype(str) if "W_GEO" in raw else "",
        }
    )
    return _Sheet(
        ids=ids,
        has_w_geo="W_GEO" in raw,
        pos=pos,
        year=year_col.map(years).astype(int),
        value=value.astype(float),
        flag=flag,
        row=row,
        edition=edition,
    )


def territory_table(bes2025: pd.DataFrame) -> pd.DataFrame:
    """Derive the territory classification from the ed. 2025 ``W_GEO`` codes.

    ``W_GEO`` has the form ``RR-RR-PPP``: the first two digits give the macro-area (01 Nord-ovest …
    05 Isole, 10/20/30/90 for Nord/Centro/Mezzogiorno/Italia), the second pair the region, and
    ``PPP`` the province (``000`` for the region itself; macro-areas end in a/b/c).  Note that
    ``PPP`` is ISTAT's BES ordering code, not the ISTAT province code (Lecce is ``04-17-085``).
    """
    geo = bes2025[["territory", "w_geo"]].drop_duplicates().reset_index(drop=True)
    region_rows = geo[geo["w_geo"].str.fullmatch(r"0\d-\d\d-000")]
    region_of = dict(zip(region_rows["w_geo"].str[3:5], region_rows["territory"], strict=True))
    # The two autonomous provinces of Trentino-Alto Adige are numbered as regions 05 (Bolzano,
    # with the region row 02-05-000) and 06 (Trento, 02-06-001) and no row 02-06-000 exists:
    # Trento belongs to the region of row 05.
    if "06" not in region_of and "05" in region_of:
        region_of["06"] = region_of["05"]
    records = []
    for terr, code in zip(geo["territory"], geo["w_geo"], strict=True):
        if terr == geography.COUNTRY:
            level, region, macro = "country", "", ""
        elif terr in geography.MACRO_AREAS:
            level, region, macro = "macro_area", "", terr
        elif re.fullmatch(r"0\d-\d\d-000", code):
            level, region, macro = "region", terr, MACRO_BY_W_GEO[code[:2]]
        elif re.fullmatch(r"0\d-\d\d-\d\d\d", code):
            level, region, macro = (
                "province",
                region_of.get(code[3:5], ""),
                MACRO_BY_W_GEO[code[:2]],
            )
        else:
            level, region, macro = "other", "", ""
        records.append((terr, code, level, region, macro))
    return pd.DataFrame.from_records(
        records, columns=["territory", "w_geo", "level", "region", "macro_area"]
    )


def read_bes_provinces(file_2021: Path, file_2025: Path) -> pd.DataFrame:
    """Build the tidy ``bes_provinces`` panel (both editions stacked, every indicator).

    Returns
    -------
    pandas.DataFrame
        Columns ``province_code`` (ed. 2025 ``W_GEO``), ``province_name``, ``region``,
        ``macro_area``, ``level`` (province/region/macro_area/country), ``indicator_code``,
        ``series_code`` (edition-independent, used for the splice), ``indicator_name``, ``unit``,
        ``sex``, ``year``, ``value``, ``flag``, ``edition``.
    """
    p25 = _read_sheet(file_2025, sheet=SHEET_PROVINCES, edition="2025")
    p21 = _read_sheet(file_2021, sheet=SHEET_PROVINCES, edition="2021")
    terr = territory_table(p25.ids)  # the territories of the sheet rows, as of the long table
    unknown = sorted(set(p21.ids["territory"].unique()) - set(terr["territory"]))
    if unknown:
        excel_row = p21.row[: len(p21.ids)]  # the first year's cells: one per sheet row
        rows = excel_row[p21.ids["territory"].isin(unknown).to_numpy()].tolist()
        raise DataValidationError(
            source_name(file_2021),
            [
                Violation(
                    rule=f"territory not found in the ed. 2025 territory list: {unknown[:5]}",
                    column="TERRITORIO",
                    rows=rows,
                )
            ],
        )
    # The id columns of both sheets, one row per sheet row (ed. 2025 first, as the cells): the
    # territory classification and series codes are joined here, and the panel's order (by
    # series, edition, territory, sex and year; cells of tied sheet rows in their file order,
    # as a stable sort of the long tables gives) is computed on these rows, so that each text
    # column is laid out once for the ~520,000 cells.
    n25 = len(p25.ids)
    ids = pd.concat([p25.ids.drop(columns="w_geo"), p21.ids.drop(columns="w_geo")])
    ids = ids.reset_index(drop=True)
    ids["edition"] = np.repeat(["2025", "2021"], [n25, len(p21.ids)])
    ids = ids.merge(terr, on="territory", how="left", validate="many_to_one")
    ids["series_code"] = series_codes(ids["indicator_code"])
    keys = ["series_code", "edition", "w_geo", "sex"]
    by_key = ids[keys].sort_values(keys, kind="stable")
    starts = (by_key != by_key.shift()).any(axis=1).to_numpy()
    group = np.empty(len(ids), dtype=np.int64)
    group[by_key.index.to_numpy()] = np.cumsum(starts)
    at = np.concatenate([p25.pos, n25 + p21.pos])  # the sheet row of every cell
    year = np.concatenate([p25.year.to_numpy(), p21.year.to_numpy()])
    order = np.lexsort((at, year, group[at]))
    at = at[order]

    def per_cell(column: str) -> pd.Series:
        return ids[column].take(at).reset_index(drop=True)

    return pd.DataFrame(
        {
            "province_code": per_cell("w_geo"),
            "province_name": per_cell("territory"),
            "region": per_cell("region"),
            "macro_area": per_cell("macro_area"),
            "level": per_cell("level"),
            "indicator_code": per_cell("indicator_code"),
            "series_code": per_cell("series_code"),
            "indicator_name": per_cell("indicator_name"),
            "unit": per_cell("unit"),
            "sex": per_cell("sex"),
            "year": year[order],
            "value": np.concatenate([p25.value.to_numpy(), p21.value.to_numpy()])[order],
            "flag": pd.concat([p25.flag, p21.flag]).take(order).reset_index(drop=True),
            "edition": per_cell("edition"),
        }
    ).reset_index(drop=True)


def read_bes_regions(path: Path) -> pd.DataFrame:
    """Build the tidy ``bes_regions`` panel from the regional BES workbook (Rapporto BES 2021)."""
    df = read_bes_workbook(path, sheet=SHEET_REGIONS, edition="2021-regional")
    name_to_nuts = {name: code for code, (name, _lvl) in geography.NUTS.items()}
    df["geo"] = df["territory"].map(name_to_nuts).fillna("")
    df["level"] = np.select(
        [df["territory"] == geography.COUNTRY, df["territory"].isin(geography.MACRO_AREAS)],
        ["country", "macro_area"],
        default="region",
    )
    df["series_code"] = series_codes(df["indicator_code"])
    out = df.rename(columns={"territory": "region_name"})
    cols = [
        "geo",
        "region_name",
        "level",
        "indicator_code",
        "series_code",
        "indicator_name",
        "unit",
        "sex",
        "year",
        "value",
        "flag",
    ]
    return (
        out[cols]
        .sort_values(["series_code", "region_name", "sex", "year"], kind="stable")
        .reset_index(drop=True)
    )
