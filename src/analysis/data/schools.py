"""Pupils per school site (plesso): MIM counts 2018/19–2024/25, grade profile and registry 2022/23.

Sources (``data/raw/``, each with ``PROVENANCE.md``):

``ondata_alunni_per_scuola_2018_2021/alunni-scuole.csv``
    2018/19–2020/21: total pupils per plesso summed by ondata from the MIM open data
    ALUCORSOETASTA/PAR (state and *paritarie* schools, primary to upper secondary; evening
    sections have their own codes).
``mim_alunni_frequentanti_2021_2025/*.xlsx``
    2021/22–2024/25: "Alunni frequentanti totali" per plesso, the MIM's replies to *accesso
    civico* requests, as received.  Counts of 3 or fewer are printed ``<=3`` (privacy): they
    are kept as missing with ``suppressed = True``, never guessed.  Evening courses (*serali*)
    are excluded by the MIM.  Two layouts: one sheet per year with a header on row 1 (2021/22,
    2022/23), or a title block and a header on row 3 (2023/24, 2024/25).
``mim_alunni_frequentanti_2021_2025/DATIPRECEDENTI202021.csv``
    UAAR's earlier synthesis for 2020/21: a cross-check of the ondata file only.
``schooldatait_scuole_2022_23/*.rda``
    SchoolDataIT 0.2.7: pupils and classes per plesso and grade (state schools of Molise,
    Campania, Puglia, Basilicata, 2022/23) and the school registry (institute, municipality).

The two count sources are spliced at 2020/21 → 2021/22 (:func:`school_site_panel`); they never
cover the same year, so the splice is checked (:func:`splice_checks`) by (a) the agreement of
UAAR's 2020/21 file with ondata's, (b) MIM 2022/23 totals against the grade file of the same
year, and (c) the year-on-year change across the splice against the changes within each source.

Codes: a plesso code has 10 characters (``LETD042013``); the 8th character ``5`` marks an
evening-course code (``LERI04251T``), which :func:`is_evening` recognises and the panel excludes
(the MIM totals from 2021/22 exclude evening courses, so keeping them before 2021 would make a
jump that is not in the schools).  Readers are written here because every file has its own
layout and privacy markers; parsing is pandas' (``read_csv``), calamine's
(:func:`analysis.data._io.read_workbook`) and pyreadr's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data._io import read_workbook, repeated_header_violations, source_name
from analysis.errors import DataValidationError, Violation

__all__ = [
    "CODE",
    "DONOR_POOLS",
    "MIM_SOURCE",
    "OUTCOMES",
    "SUPPRESSED_MARK",
    "ComparisonPanel",
    "comparison_panel",
    "is_evening",
    "read_grade_profile",
    "read_mim_counts",
    "read_ondata_counts",
    "read_registry",
    "read_uaar_2020",
    "school_site_panel",
    "splice_checks",
]

#: A plesso / institute code (codice meccanografico): 2 letters of the province, 8 characters.
CODE = re.compile(r"^[A-Z]{2}[A-Z0-9]{8}$")
#: How the MIM prints counts of 3 or fewer.
SUPPRESSED_MARK = "<=3"
_SCHOOL_YEAR = re.compile(r"a\.s\.\s*(\d{4})/(\d{2})")
_SCHOOL_YEAR_DASH = re.compile(r"^(\d{4})-(\d{4})$")

PANEL_COLUMNS = ("school_code", "year", "pupils", "suppressed", "source")
#: The ``source`` of the rows read from the MIM workbooks.
MIM_SOURCE = "MIM, Alunni frequentanti totali (accesso civico, via UAAR)"


def is_evening(codes: pd.Series | Iterable[str]) -> pd.Series:
    """Whether each plesso code is an evening-course (*serale*) code: 8th character ``5``."""
    s = pd.Series(list(codes) if not isinstance(codes, pd.Series) else codes, dtype="string")
    ten = s.str.len().eq(10).fillna(False).astype(bool)
    eighth = s.str[7].eq("5").fillna(False).astype(bool)
    return ten & eighth


def _fail(src: str, rule: str, *, column: str | None = None, rows: Sequence[object] = ()) -> None:
    raise DataValidationError(
        src, [Violation(rule=rule, column=column, rows=tuple(rows[:5]), n_rows=len(rows))]
    )


def _check_codes(df: pd.DataFrame, col: str, src: str, line_of: pd.Series) -> None:
    bad = ~df[col].astype("string").str.fullmatch(CODE.pattern).fillna(False)
    if bad.any():
        _fail(
            src,
            "school code must be 2 letters and 8 letters/digits (codice meccanografico)",
            column=col,
            rows=list(line_of[bad]),
        )


def _check_unique(df: pd.DataFrame, keys: list[str], src: str, line_of: pd.Series) -> None:
    dup = df.duplicated(keys, keep=False)
    if dup.any():
        _fail(src, f"duplicated key {keys}", column=",".join(keys), rows=list(line_of[dup]))


def _counts(
    values: pd.Series, src: str, column: str, line_of: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """Parse a count column: integers ≥ 0, ``<=3`` kept as missing + suppressed; else an error.

    The cells a workbook gives as whole numbers (Python ``int``: nearly every cell of the MIM
    sheets) are taken as they are; the others (texts, the privacy mark, anything else) are
    parsed as text.
    """
    cells = values.to_numpy(dtype=object)
    kinds = np.fromiter(map(type, cells), dtype=object, count=len(cells))
    whole = kinds == int  # noqa: E721 - elementwise, on an array of types (a bool is not an int)
    num = np.zeros(len(cells), dtype=np.int64)
    try:
        num[whole] = cells[whole].tolist()
    except OverflowError:  # beyond 64 bits: parsed as text below, and refused there
        whole[:] = False
    missing = ~whole
    suppressed = np.zeros(len(cells), dtype=bool)
    bad = whole & (num < 0)
    if missing.any():
        text = values[missing].astype("string").str.strip()
        sup = text.eq(SUPPRESSED_MARK).fillna(False)
        parsed = pd.to_numeric(text.where(~sup), errors="coerce").astype("Float64")
        wrong = (
            (parsed.isna() & ~sup)
            | (parsed < 0)
            | (parsed >= 2.0**63)
            | (parsed.notna() & (parsed != parsed.round()))
        ).fillna(False)
        ok = (parsed.notna() & ~wrong).to_numpy(dtype=bool)
        at = np.flatnonzero(missing)
        num[at[ok]] = parsed[ok].astype("int64").to_numpy()
        missing[at[ok]] = False
        suppressed[at] = sup.to_numpy(dtype=bool)
        bad[at] = wrong.to_numpy(dtype=bool)
    if bad.any():
        _fail(
            src,
            f"count must be a whole number ≥ 0 or the privacy mark {SUPPRESSED_MARK!r}",
            column=column,
            rows=list(line_of[bad]),
        )
    index = values.index
    return (
        pd.Series(pd.arrays.IntegerArray(num, missing), index=index, name=values.name),
        pd.Series(suppressed, index=index, name=values.name),
    )


def _read_text(path: Path, src: str) -> str:
    try:
        return Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataValidationError(src, f"file is not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise DataValidationError(src, f"cannot read the file ({exc.strerror or exc})") from exc


def _read_csv(path: Path, required: Sequence[str]) -> tuple[pd.DataFrame, str]:
    src = source_name(path)
    text = _read_text(path, src)
    header = text.split("\n", 1)[0].strip().split(",")
    if repeated := repeated_header_violations(header):
        raise DataValidationError(src, repeated)
    missing = [c for c in required if c not in header]
    if missing:
        raise DataValidationError(
            src, [Violation(rule="required column missing", column=c) for c in missing]
        )
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataValidationError(src, f"not a well-formed comma-separated file: {exc}") from exc
    if df.empty:
        raise DataValidationError(src, "file has a header but no data rows")
    df["line"] = np.arange(2, len(df) + 2)
    return df, src


def read_ondata_counts(path: Path) -> pd.DataFrame:
    """Read ondata's ``alunni-scuole.csv`` (pupils per plesso, 2018/19–2020/21).

    Returns
    -------
    pandas.DataFrame
        ``school_code``, ``year`` (first calendar year: 2018 = 2018/19), ``pupils`` (Int64),
        ``suppressed`` (always False: the open data are not suppressed), ``source``.

    Raises
    ------
    DataValidationError
        Naming the file, column, lines and rule (bad codes, years, counts, duplicates).
    """
    df, src = _read_csv(path, ("ANNOSCOLASTICO", "CODICESCUOLA", "ALUNNI"))
    years = df["ANNOSCOLASTICO"].str.fullmatch(r"(\d{4})(\d{2})")
    y0 = pd.to_numeric(df["ANNOSCOLASTICO"].str[:4], errors="coerce")
    y1 = pd.to_numeric(df["ANNOSCOLASTICO"].str[4:], errors="coerce")
    bad = ~years.fillna(False) | ((y0 + 1) % 100 != y1)
    if bad.any():
        _fail(
            src,
            "ANNOSCOLASTICO must be YYYYyy with yy = YYYY + 1 (e.g. 201819)",
            column="ANNOSCOLASTICO",
            rows=list(df.loc[bad, "line"]),
        )
    out = pd.DataFrame({"school_code": df["CODICESCUOLA"].str.strip(), "year": y0.astype(int)})
    _check_codes(out, "school_code", src, df["line"])
    out["pupils"], sup = _counts(df["ALUNNI"], src, "ALUNNI", df["line"])
    if sup.any():
        _fail(
            src,
            "unexpected privacy mark in the open data",
            column="ALUNNI",
            rows=list(df.loc[sup, "line"]),
        )
    _check_unique(out, ["school_code", "year"], src, df["line"])
    out["suppressed"] = False
    out["source"] = "MIM open data ALUCORSOETASTA/PAR, summed by ondata"
    return out.reset_index(drop=True)


def read_uaar_2020(path: Path) -> pd.DataFrame:
    """Read UAAR's ``DATIPRECEDENTI202021.csv`` (2020/21 pupils per plesso; a cross-check)."""
    df, src = _read_csv(path, ("CODICESCUOLA", "NUMEROSTUDENTI"))
    out = pd.DataFrame({"school_code": df["CODICESCUOLA"].str.strip(), "year": 2020})
    _check_codes(out, "school_code", src, df["line"])
    out["pupils"], out["suppressed"] = _counts(
        df["NUMEROSTUDENTI"], src, "NUMEROSTUDENTI", df["line"]
    )
    _check_unique(out, ["school_code"], src, df["line"])
    return out.reset_index(drop=True)


def _sheet_year(values: Iterable[object], src: str, sheet: str) -> int:
    for v in values:
        s = str(v)
        if m := _SCHOOL_YEAR.search(s):
            return int(m.group(1))
        m = _SCHOOL_YEAR_DASH.match(s.strip())
        if m and int(m.group(2)) == int(m.group(1)) + 1:
            return int(m.group(1))
    _fail(src, f"sheet {sheet!r}: no school year (a.s. YYYY/YY or YYYY-YYYY) in its header")
    raise AssertionError  # unreachable


def _read_mim_sheet(path: Path, sheet: str, raw: pd.DataFrame) -> pd.DataFrame:
    src = f"{source_name(path)} [sheet {sheet}]"
    # find the header row: the first row naming the school code column
    header_row = next(
        (
            i
            for i in range(min(len(raw), 10))
            if any(
                str(v).strip() in ("Codice Scuola", "Codice Sede scolastica") for v in raw.iloc[i]
            )
        ),
        None,
    )
    if header_row is None:
        _fail(
            src,
            "no header row with 'Codice Scuola' or 'Codice Sede scolastica' in the first 10 rows",
        )
    header = [str(v).strip() for v in raw.iloc[header_row]]
    if repeated := repeated_header_violations(header):
        raise DataValidationError(src, repeated)
    code_col = next(h for h in header if h in ("Codice Scuola", "Codice Sede scolastica"))
    total_cols = [
        h for h in header if h.startswith("Alunni frequentanti totali") or h == "n° Alunni"
    ]
    if len(total_cols) != 1:
        _fail(
            src, "expected one total-pupils column ('Alunni frequentanti totali …' or 'n° Alunni')"
        )
    year = _sheet_year(
        [total_cols[0], *raw.iloc[:header_row].to_numpy().ravel().tolist()], src, sheet
    )
    body = raw.iloc[header_row + 1 :].copy()
    body.columns = header
    body["line"] = np.arange(header_row + 2, header_row + 2 + len(body))  # Excel row numbers
    body = body[body[code_col].notna() & body[code_col].astype(str).str.strip().ne("")]
    out = pd.DataFrame({"school_code": body[code_col].astype(str).str.strip(), "year": year})
    _check_codes(out, "school_code", src, body["line"])
    out["pupils"], out["suppressed"] = _counts(
        body[total_cols[0]], src, total_cols[0], body["line"]
    )
    if "sigla prov." in body.columns:
        prov = body["sigla prov."].astype(str).str.strip()
        mismatch = prov.ne(out["school_code"].str[:2])
        if mismatch.any():
            _fail(
                src,
                "province initials differ from the first two letters of the school code",
                column="sigla prov.",
                rows=list(body.loc[mismatch, "line"]),
            )
    _check_unique(out, ["school_code", "year"], src, body["line"])
    out["source"] = MIM_SOURCE
    return out.reset_index(drop=True)


def read_mim_counts(files: Sequence[Path]) -> pd.DataFrame:
    """Read the MIM workbooks (pupils attending per plesso, 2021/22–2024/25), every sheet.

    Returns
    -------
    pandas.DataFrame
        ``school_code``, ``year``, ``pupils`` (Int64; missing where suppressed),
        ``suppressed`` (True for the MIM's ``<=3``), ``source``.
    """
    frames = []
    for path in files:
        # "NA" is Napoli's province initials, not a missing value
        sheets = read_workbook(Path(path), missing="empty")
        frames += [_read_mim_sheet(Path(path), name, raw) for name, raw in sheets.items()]
    out = pd.concat(frames, ignore_index=True)
    dup = out.duplicated(["school_code", "year"], keep=False)
    if dup.any():
        _fail(
            "MIM workbooks",
            "the same school year appears in two sheets or files",
            column="year",
            rows=sorted(out.loc[dup, "year"].unique().tolist()),
        )
    return out


def _read_rda(path: Path, name: str) -> pd.DataFrame:
    import pyreadr

    src = source_name(path)
    try:
        objects = pyreadr.read_r(str(path))
    except Exception as exc:  # pyreadr raises LibrdataError / PyreadrError
        raise DataValidationError(
            src, f"not a readable .rda file ({type(exc).__name__}: {exc})"
        ) from exc
    if name not in objects:
        raise DataValidationError(src, f"object {name!r} not found (objects: {sorted(objects)})")
    return objects[name]


def read_grade_profile(path: Path) -> pd.DataFrame:
    """Read SchoolDataIT's ``example_input_nstud23`` (pupils and classes per plesso and grade).

    Returns
    -------
    pandas.DataFrame
        ``school_code``, ``year`` (2022), ``order`` (Primary/Middle/High), ``grade`` (1–13),
        ``classes``, ``male``, ``female``, ``pupils`` (male + female); state schools only.
    """
    src = source_name(path)
    df = _read_rda(path, "example_input_nstud23")
    need = ["Year", "School_code", "Order", "Grade", "Classes", "Male_students", "Female_students"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise DataValidationError(
            src, [Violation(rule="required column missing", column=c) for c in missing]
        )
    rows = pd.Series(np.arange(1, len(df) + 1), index=df.index)
    out = pd.DataFrame(
        {
            "school_code": df["School_code"].astype("string").str.strip(),
            "year": (df["Year"] // 100).astype("Int64"),
            "order": df["Order"].astype("string"),
            "grade": df["Grade"].astype("Int64"),
            "classes": df["Classes"].astype("Int64"),
            "male": df["Male_students"].astype("Int64"),
            "female": df["Female_students"].astype("Int64"),
        }
    )
    _check_codes(out, "school_code", src, rows)
    bad = ~out["grade"].between(1, 13).fillna(False)
    if bad.any():
        _fail(src, "grade must be 1–13", column="Grade", rows=list(rows[bad]))
    neg = (out[["classes", "male", "female"]] < 0).any(axis=1).fillna(True)
    if neg.any():
        _fail(src, "classes and pupils must be whole numbers ≥ 0", rows=list(rows[neg]))
    _check_unique(out, ["school_code", "grade"], src, rows)
    out["pupils"] = out["male"] + out["female"]
    return out


def read_registry(path: Path) -> pd.DataFrame:
    """Read SchoolDataIT's ``example_input_Registry23`` (plesso → institute, province, comune)."""
    src = source_name(path)
    df = _read_rda(path, "example_input_Registry23")
    rename = {
        "School_code": "school_code",
        "Reference_institute_code": "institute_code",
        "Region_description": "region",
        "Province_description": "province",
        "Municipality_description": "municipality",
        "Cadastral_code": "cadastral_code",
    }
    missing = [c for c in rename if c not in df.columns]
    if missing:
        raise DataValidationError(
            src, [Violation(rule="required column missing", column=c) for c in missing]
        )
    out = df[list(rename)].rename(columns=rename).astype("string")
    for c in out.columns:
        out[c] = out[c].str.strip()
    rows = pd.Series(np.arange(1, len(out) + 1), index=out.index)
    _check_codes(out, "school_code", src, rows)
    _check_unique(out, ["school_code"], src, rows)
    return out.reset_index(drop=True)


def school_site_panel(ondata: pd.DataFrame, mim: pd.DataFrame) -> pd.DataFrame:
    """Splice the two count sources into one daytime panel per plesso and school year.

    Evening-course codes are dropped from both sources (the MIM totals exclude evening
    courses); the sources never overlap in a year, so each row keeps its ``source``.

    Returns
    -------
    pandas.DataFrame
        ``school_code``, ``province`` (first two letters), ``year``, ``pupils`` (Int64, missing
        where suppressed), ``suppressed``, ``source``; sorted by code and year.
    """
    both = pd.concat([ondata[list(PANEL_COLUMNS)], mim[list(PANEL_COLUMNS)]], ignore_index=True)
    overlap = set(ondata["year"]) & set(mim["year"])
    if overlap:
        raise DataValidationError(
            "school-site splice", f"the sources overlap in year(s) {sorted(overlap)}"
        )
    out = both[~is_evening(both["school_code"]).to_numpy()].copy()
    out.insert(1, "province", out["school_code"].str[:2])
    return out.sort_values(["school_code", "year"], kind="stable").reset_index(drop=True)


def splice_checks(
    ondata: pd.DataFrame,
    mim: pd.DataFrame,
    uaar_2020: pd.DataFrame,
    grades: pd.DataFrame,
    *,
    sites: pd.Series | None = None,
) -> pd.DataFrame:
    """How well the two sources join at 2020/21 → 2021/22: three checks, one row each.

    Parameters
    ----------
    ondata, mim, uaar_2020, grades
        The frames of :func:`read_ondata_counts`, :func:`read_mim_counts`,
        :func:`read_uaar_2020` and :func:`read_grade_profile`.
    sites
        Daytime plesso codes to use for checks (b) and (c) (e.g. the upper-secondary sites of
        Puglia in the grade file); all codes in ``grades`` with grades 9–13 if ``None``.

    Returns
    -------
    pandas.DataFrame
        ``check``, ``n`` (sites compared), ``value`` and ``reading`` (what the value says).
    """
    rows = []
    u = uaar_2020.merge(ondata[ondata["year"] == 2020], on="school_code", suffixes=("_uaar", ""))
    equal = int((u["pupils_uaar"] == u["pupils"]).sum())
    rows.append(
        {
            "check": "UAAR 2020/21 file equals ondata 2020/21 (same MIM base)",
            "n": len(u),
            "value": equal / len(u) if len(u) else np.nan,
            "reading": f"{equal:,} of {len(u):,} sites equal",
        }
    )
    if sites is None:
        hs = grades[grades["grade"].between(9, 13)]
        sites = pd.Series(
            sorted(
                set(hs["school_code"])
                - set(hs.loc[is_evening(hs["school_code"]).to_numpy(), "school_code"])
            )
        )
    per_site = grades[grades["school_code"].isin(sites)].groupby("school_code")["pupils"].sum()
    m22 = mim[(mim["year"] == 2022) & mim["school_code"].isin(per_site.index)].set_index(
        "school_code"
    )
    m22 = m22[m22["pupils"].notna()]
    both = pd.DataFrame({"grade_file": per_site, "mim": m22["pupils"]}).dropna().astype(float)
    ratio = both["mim"].sum() / both["grade_file"].sum() if len(both) else np.nan
    within = (
        float(((both["mim"] / both["grade_file"] - 1).abs() <= 0.05).mean())
        if len(both)
        else np.nan
    )
    corr = float(both.corr().iloc[0, 1]) if len(both) > 2 else np.nan
    rows.append(
        {
            "check": "MIM 2022/23 totals vs the grade file of 2022/23 (ratio of totals)",
            "n": len(both),
            "value": ratio,
            "reading": f"correlation {corr:.4f}; {within:.0%} of sites within ±5%",
        }
    )
    panel = school_site_panel(ondata, mim)
    sel = panel[panel["school_code"].isin(sites)].pivot(
        index="school_code", columns="year", values="pupils"
    )
    sel = sel.dropna().astype(float)
    changes = {}
    years = sorted(sel.columns)
    for a, b in zip(years[:-1], years[1:], strict=True):
        changes[(a, b)] = float(np.median(sel[b] / sel[a] - 1)) if len(sel) else np.nan
    splice = changes.get((2020, 2021), np.nan)
    others = [v for k, v in changes.items() if k != (2020, 2021)]
    rows.append(
        {
            "check": "median year-on-year change across the splice (2020/21 → 2021/22)",
            "n": len(sel),
            "value": splice,
            "reading": "within-source changes: "
            + ", ".join(
                f"{a}→{b}: {v:+.1%}" for (a, b), v in changes.items() if (a, b) != (2020, 2021)
            )
            + f" (range {min(others):+.1%} to {max(others):+.1%})"
            if others
            else "",
        }
    )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# The comparison panel of one school against other school sites
# --------------------------------------------------------------------------------------------

#: Donor pools: which school sites a school is compared with.  Upper-secondary = a site with
#: pupils in grades 9–13 in the 2022/23 grade file (state schools); technical / vocational = the
#: third character of the code is ``T`` (istituto tecnico) or ``R`` (istituto professionale),
#: the ministry's convention for codici meccanografici.
DONOR_POOLS = {
    "lecce_upper_secondary": "upper-secondary daytime sites in the municipality of Lecce",
    "puglia_technical_vocational": "technical and vocational upper-secondary daytime sites in Puglia",
}
OUTCOMES = {
    "index": "daytime pupils, index (base year = 100)",
    "pupils": "daytime pupils (number)",
}


@dataclass(frozen=True)
class ComparisonPanel:
    """One school (the sum of its daytime sites) and candidate donor sites, year by year.

    Attributes
    ----------
    data
        Long panel ``unit``, ``year``, ``value`` (the outcome) and ``pupils``.
    treated_unit
        Label of the treated unit (the institute code and "daytime sites").
    treated_sites
        The sites summed into the treated unit, with their pupils by year (wide).
    donors
        Donor site codes kept (complete series, not the same institute).
    excluded
        Candidate donors left out, with the rule: ``unit``, ``rule``, ``reason``.
    outcome, base_year, donor_pool
        The choices that built the panel.
    """

    data: pd.DataFrame
    treated_unit: str
    treated_sites: pd.DataFrame
    donors: tuple[str, ...]
    excluded: pd.DataFrame
    outcome: str
    base_year: int
    donor_pool: str

    @property
    def years(self) -> list[int]:
        """School years in the panel (first calendar year)."""
        return sorted(self.data["year"].unique().tolist())


_DEFAULT_BASE_YEAR = 2020


def comparison_panel(
    sites: pd.DataFrame,
    grades: pd.DataFrame,
    registry: pd.DataFrame,
    *,
    treated_sites: Sequence[str],
    institute: str,
    donor_pool: str,
    outcome: str = "index",
    base_year: int = _DEFAULT_BASE_YEAR,
) -> ComparisonPanel:
    """Build the panel that compares one school's daytime enrolment with other school sites.

    Parameters
    ----------
    sites, grades, registry
        The processed panels ``school_sites``, ``school_grades_2022``, ``school_registry_2022``.
    treated_sites
        Daytime plesso codes of the school (summed into one treated unit).
    institute
        The school's institute code; every site of the institute is kept out of the donors.
    donor_pool
        A key of :data:`DONOR_POOLS`.
    outcome
        ``"index"`` (pupils relative to ``base_year`` × 100: sites of different size are
        compared on their change) or ``"pupils"``.
    base_year
        The index base (a pre-programme school year).  Used by ``outcome="index"`` only:
        with ``outcome="pupils"`` a base year other than the default 2020 is refused (it
        would be ignored).

    Raises
    ------
    DataValidationError
        On an unknown pool or outcome, a treated site without a complete daytime series, or a
        base year outside the data.
    """
    src = "school comparison parameters"
    problems = []
    if donor_pool not in DONOR_POOLS:
        problems.append(
            Violation(rule=f"unknown donor pool; known: {sorted(DONOR_POOLS)}", column="donor_pool")
        )
    if outcome not in OUTCOMES:
        problems.append(
            Violation(rule=f"unknown outcome; known: {sorted(OUTCOMES)}", column="outcome")
        )
    if outcome == "pupils" and base_year != _DEFAULT_BASE_YEAR:
        problems.append(
            Violation(
                rule=f"base_year is the base of outcome='index' only; outcome='pupils' is not "
                f"rescaled, so base_year={base_year!r} would be ignored (leave the default "
                f"{_DEFAULT_BASE_YEAR})",
                column="base_year",
                rows=(base_year,),
            )
        )
    years = sorted(sites["year"].unique().tolist())
    if base_year not in years:
        problems.append(Violation(rule=f"base year must be one of {years}", column="base_year"))
    treated = list(dict.fromkeys(treated_sites))
    evening = [c for c in treated if is_evening([c]).iloc[0]]
    if evening:
        problems.append(
            Violation(
                rule="evening-course codes are not daytime sites",
                column="treated_sites",
                rows=tuple(evening),
            )
        )
    wide = sites.pivot(index="school_code", columns="year", values="pupils")
    incomplete = [c for c in treated if c not in wide.index or wide.loc[c].isna().any()]
    if incomplete:
        problems.append(
            Violation(
                rule="treated site without a complete daytime series 2018–2024",
                column="treated_sites",
                rows=tuple(incomplete),
            )
        )
    if problems:
        raise DataValidationError(src, problems)

    upper = set(grades.loc[grades["grade"].between(9, 13), "school_code"])
    reg = registry.set_index("school_code")
    same_institute = set(reg.index[reg["institute_code"] == institute]) | set(treated)
    if donor_pool == "lecce_upper_secondary":
        pool = set(reg.index[reg["municipality"].str.lower() == "lecce"]) & upper
    else:
        pool = {c for c in set(reg.index[reg["region"] == "Puglia"]) & upper if c[2] in "TR"}
    rows = []
    donors = []
    for code in sorted(pool):
        if code in same_institute:
            rows.append((code, "same_school", f"a site of {institute} (the treated school)"))
        elif is_evening([code]).iloc[0]:
            rows.append((code, "evening", "evening-course code (not in the MIM totals from 2021)"))
        elif code not in wide.index or wide.loc[code].isna().any():
            rows.append(
                (code, "incomplete", "no complete daytime series 2018–2024 (missing or ≤3)")
            )
        else:
            donors.append(code)
    treated_label = f"{institute} (daytime sites)"
    t_wide = wide.loc[treated].astype("Int64")
    values = pd.concat([t_wide.sum().rename(treated_label).to_frame().T, wide.loc[donors]]).astype(
        float
    )
    scaled = values.div(values[base_year], axis=0) * 100 if outcome == "index" else values
    long = scaled.stack().rename("value").reset_index()
    long.columns = ["unit", "year", "value"]
    long["pupils"] = values.stack().to_numpy()
    long["year"] = long["year"].astype(int)
    return ComparisonPanel(
        data=long,
        treated_unit=treated_label,
        treated_sites=t_wide,
        donors=tuple(donors),
        excluded=pd.DataFrame(rows, columns=["unit", "rule", "reason"]),
        outcome=outcome,
        base_year=int(base_year),
        donor_pool=donor_pool,
    )


def puglia_splice_checks(
    *, grades: pd.DataFrame, registry: pd.DataFrame, sites: pd.DataFrame | None = None
) -> pd.DataFrame:
    """:func:`splice_checks` on the upper-secondary sites of Puglia.

    Parameters
    ----------
    grades, registry
        The processed panels ``school_grades_2022`` and ``school_registry_2022``.
    sites
        The processed panel ``school_sites`` (loaded when ``None``).  Its rows of source
        :data:`MIM_SOURCE` are the counts :func:`read_mim_counts` reads: the MIM's totals
        exclude evening courses, so the panel drops none of them (checked on the workbooks by
        tests/test_schools.py, with the equality of the two ways).  Using them saves reading
        the three workbooks again (about 2 s) in each school report.  The ondata and UAAR
        files are read from ``data/raw`` (check (a) uses ondata's evening-course codes, which
        the panel leaves out).
    """
    from analysis import paths
    from analysis.data import panels  # here: panels builds its school panel with this module

    raw = paths.RAW_DIR
    mim_dir = raw / "mim_alunni_frequentanti_2021_2025"
    ondata = read_ondata_counts(raw / "ondata_alunni_per_scuola_2018_2021" / "alunni-scuole.csv")
    panel = panels.load("school_sites") if sites is None else sites
    mim = panel.loc[panel["source"] == MIM_SOURCE, list(PANEL_COLUMNS)]
    if mim.empty:
        raise DataValidationError(
            "school_sites panel", f"no rows with source {MIM_SOURCE!r} (the MIM counts)"
        )
    puglia = set(registry.loc[registry["region"] == "Puglia", "school_code"])
    upper = grades[grades["grade"].between(9, 13) & grades["school_code"].isin(puglia)]
    return splice_checks(
        ondata,
        mim.reset_index(drop=True),
        read_uaar_2020(mim_dir / "DATIPRECEDENTI202021.csv"),
        grades,
        sites=pd.Series(sorted(upper["school_code"].unique())),
    )
