"""The programme panel: the data contract for pupil records, and its loader.

One row per **pupil × school year**.  The panel is what the school registers (registro
elettronico, scrutini, INVALSI, Anagrafe Nazionale Studenti) give the evaluator, after
pseudonymisation, for participants of the programme and for non-participating pupils of the
same schools (the comparison pool).  Real files live in ``data/raw/programme/`` (git-ignored);
:func:`analysis.data.simulate.programme_panel` draws panels that satisfy the same contract.

Columns
-------
================ ========= ========= ==============================================================
column           type      missing   meaning
================ ========= ========= ==============================================================
pupil_id         str       never     pseudonymous pupil identifier (never a name or codice fiscale)
school_id        str       never     school (istituto) attended in that school year
year             int       never     school year, by its first calendar year (2021 = 2021/22)
cohort           int       → 0       first school year of participation; 0 = never participated
course           str       → ""      programme edition / course type; empty for never-treated
dropped_out      0/1       never     1 in the school year the pupil abandons (MIM definition)
absence_rate     [0, 1]    dropout   share of school hours absent in that year
repeated_grade   0/1       dropout   1 if not admitted to the next grade at the end of that year
grade_avg        [1, 10]   dropout   average final grade (Italian 1–10 scale)
invalsi_score    [50, 400] yes       INVALSI scale score (mean 200, SD 40); optional column
sex              F/M       never     sex as recorded by the school
birth_year       int       never     year of birth; age = year − birth_year must lie in 9–25
grade_level      6..13     never     grade (classe) in that year: 6–8 lower, 9–13 upper secondary
foreign_born     0/1       never     born abroad
baseline_absence [0, 1]    never     absence rate in the year before the pupil's first row
ses_index        float     yes       socio-economic index (standardised); optional column
================ ========= ========= ==============================================================

"missing": *never*; *→ 0* / *→ ""* (missing values are normalised); *dropout* (missing
only in the pupil's dropout year); *yes* (may be missing).

``treated`` (0/1) is optional on input and always present on output:
``treated = 1{cohort > 0 and year ≥ cohort}``.  Treatment is **absorbing** (staggered
adoption): once a pupil has taken part, all later years are post-treatment years.  Any other
column is kept unchanged, except columns that look like direct identifiers (names, codice
fiscale, e-mail, address, full date of birth), which are refused.

Conventions
-----------
* **Dropout.** ``dropped_out`` is the annual event indicator of the MIM "abbandono": it is 1 in
  the school year the pupil abandons (in-year, or between that year and the next) and 0 in every
  other row.  A pupil has **no rows after** the dropout year.  In the dropout year the other
  outcomes (``absence_rate``, ``repeated_grade``, ``grade_avg``, ``invalsi_score``) may be
  missing; in any other year ``absence_rate``, ``repeated_grade`` and ``grade_avg`` must be
  present.  A pupil who leaves for another reason (completes the school's last grade, moves
  away) simply has no further rows.  A pupil who re-enrols after abandoning must be recoded by
  the data supplier (the contract refuses rows after a dropout).
* **Schools.** ``school_id`` is the school of that year; pupils may change school between years
  (e.g. from lower to upper secondary).  Within one pupil-year there is one row, hence one
  school.  Analyses that cluster on schools should use the school of the pupil's first row
  (``LoadedPanel.pupils()`` gives it as ``baseline_school``).
* **Baseline characteristics** (``sex``, ``birth_year``, ``foreign_born``,
  ``baseline_absence``, ``ses_index``) and ``cohort``/``course`` are constant within a pupil.
* **Cohorts** are 0 or a school year inside the data's years.

Exclusion rules (rows that pass the contract but cannot enter the analysis)
-------------------------------------------------------------------------
``no_pre_period``
    A participant whose first row is in or after their cohort year: no pre-treatment year, so
    no within-pupil comparison is possible.
``no_post_period``
    A participant with no row in or after their cohort year (left before taking part).

By default (``exclusions="raise"``) such rows are an error, so nothing is ever dropped
silently.  ``exclusions="report"`` drops them and returns a :class:`LoadedPanel` whose
``.exclusions`` table says which rule removed how many rows and pupils.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from pandera.errors import SchemaErrors

from analysis.errors import DataValidationError, Violation

__all__ = [
    "BASELINE_COLUMNS",
    "COLUMNS",
    "EXCLUSION_RULES",
    "OUTCOMES",
    "PANEL_SCHEMA",
    "ColumnSpec",
    "LoadedPanel",
    "data_dictionary",
    "load_panel",
    "sample_flow",
    "validate_panel",
]


# --------------------------------------------------------------------------------------------
# Column specifications
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the programme panel.

    Attributes
    ----------
    name
        Column name.
    kind
        ``"str"`` (text), ``"int"`` (integer), ``"binary"`` (0/1), ``"float"`` (real).
    required
        Whether the column must be present in the input.
    nullable
        Whether missing values are allowed anywhere (``"dropout"`` outcomes are additionally
        checked: missing only in the dropout year).
    low, high
        Inclusive range for numeric columns.
    allowed
        Allowed codes for a text column.
    description
        Meaning, for the data dictionary.
    """

    name: str
    kind: Literal["str", "int", "binary", "float"]
    required: bool
    nullable: bool
    low: float | None = None
    high: float | None = None
    allowed: tuple[str, ...] | None = None
    description: str = ""

    @property
    def dtype(self) -> str:
        """Canonical pandas dtype of the column in a loaded panel."""
        if self.kind == "str":
            return "str"
        if self.kind == "int" or (
            self.kind == "binary" and not self.nullable and self.name not in OUTCOMES
        ):
            return "int64"
        return "float64"


OUTCOMES: tuple[str, ...] = (
    "dropped_out",
    "absence_rate",
    "repeated_grade",
    "grade_avg",
    "invalsi_score",
)
"""Outcome columns (``invalsi_score`` optional).  Outcomes are stored as float64."""

BASELINE_COLUMNS: tuple[str, ...] = (
    "sex",
    "birth_year",
    "foreign_born",
    "baseline_absence",
    "ses_index",
)
"""Pupil characteristics that must be constant within a pupil."""

_OUTCOMES_MISSING_ONLY_IN_DROPOUT_YEAR = ("absence_rate", "repeated_grade", "grade_avg")

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("pupil_id", "str", True, False, description="pseudonymous pupil identifier"),
    ColumnSpec("school_id", "str", True, False, description="school attended in that year"),
    ColumnSpec(
        "year",
        "int",
        True,
        False,
        2000,
        2040,
        description="school year by its first calendar year (2021 = 2021/22)",
    ),
    ColumnSpec(
        "cohort",
        "int",
        True,
        False,
        0,
        2040,
        description="first school year of participation; 0 = never (missing → 0)",
    ),
    ColumnSpec(
        "course",
        "str",
        True,
        False,
        description="programme edition / course type; empty for never-treated",
    ),
    ColumnSpec(
        "dropped_out",
        "binary",
        True,
        False,
        0,
        1,
        description="1 in the school year of abandonment (no rows afterwards)",
    ),
    ColumnSpec(
        "absence_rate",
        "float",
        True,
        True,
        0,
        1,
        description="share of school hours absent (missing only in the dropout year)",
    ),
    ColumnSpec(
        "repeated_grade",
        "binary",
        True,
        True,
        0,
        1,
        description="1 if not admitted to the next grade (missing only in dropout year)",
    ),
    ColumnSpec(
        "grade_avg",
        "float",
        True,
        True,
        1,
        10,
        description="average final grade, 1–10 (missing only in the dropout year)",
    ),
    ColumnSpec(
        "invalsi_score",
        "float",
        False,
        True,
        50,
        400,
        description="INVALSI scale score (mean 200, SD 40); optional",
    ),
    ColumnSpec("sex", "str", True, False, allowed=("F", "M"), description="F or M"),
    ColumnSpec("birth_year", "int", True, False, 1980, 2035, description="year of birth"),
    ColumnSpec(
        "grade_level",
        "int",
        True,
        False,
        6,
        13,
        description="grade (classe): 6–8 lower secondary, 9–13 upper secondary",
    ),
    ColumnSpec("foreign_born", "binary", True, False, 0, 1, description="1 if born abroad"),
    ColumnSpec(
        "baseline_absence",
        "float",
        True,
        False,
        0,
        1,
        description="absence rate in the year before the pupil's first row",
    ),
    ColumnSpec(
        "ses_index", "float", False, True, description="standardised socio-economic index; optional"
    ),
    ColumnSpec(
        "treated",
        "binary",
        False,
        False,
        0,
        1,
        description="1{cohort > 0 and year ≥ cohort}; derived if absent",
    ),
)

_SPECS: dict[str, ColumnSpec] = {c.name: c for c in COLUMNS}
_MIN_AGE, _MAX_AGE = 9, 25

_NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "."})

_IDENTIFIER_COLUMNS = frozenset(
    {
        "name",
        "nome",
        "first_name",
        "surname",
        "cognome",
        "last_name",
        "full_name",
        "codice_fiscale",
        "cf",
        "fiscal_code",
        "tax_code",
        "email",
        "e_mail",
        "mail",
        "phone",
        "telefono",
        "cellulare",
        "address",
        "indirizzo",
        "date_of_birth",
        "data_nascita",
        "data_di_nascita",
        "birth_date",
        "dob",
    }
)
_CODICE_FISCALE = re.compile(r"^[A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z]$", re.IGNORECASE)
_CODICE_FISCALE_ANYWHERE = re.compile(
    r"(?<![A-Z0-9])[A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z](?![A-Z0-9])", re.IGNORECASE
)
# The same two patterns without look-arounds or flags, for pyarrow's RE2 engine: pandas runs a
# pattern with look-arounds or flags through Python's ``re`` one cell at a time (35 M calls on
# a 1 M-pupil register), RE2 runs over the whole column (issue 14).
_CODICE_FISCALE_RE2 = r"(?i)^[A-Z]{6}[0-9]{2}[A-EHLMPRST][0-9]{2}[A-Z][0-9]{3}[A-Z]$"
_CODICE_FISCALE_ANYWHERE_RE2 = (
    r"(?i)(?:^|[^A-Z0-9])[A-Z]{6}[0-9]{2}[A-EHLMPRST][0-9]{2}[A-Z][0-9]{3}[A-Z](?:[^A-Z0-9]|$)"
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_EMAIL_RE2 = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"
_PLAIN_NUMBER_RE2 = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_YEAR_TEXT = re.compile(r"^\d{4}$")

#: Pupil ids the privacy scanner can find on a page without matching years, counts or words:
#: 6–64 letters, digits, ``_`` or ``-``, at least one letter (e.g. ``P000123`` or an HMAC key).
_PUPIL_ID = re.compile(r"^(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{6,64}$")
# _PUPIL_ID as two RE2 patterns (no look-ahead): the characters and length, and a letter.
_PUPIL_ID_CHARS_RE2, _PUPIL_ID_LETTER_RE2 = r"^[A-Za-z0-9_\-]{6,64}$", r"[A-Za-z]"
PUPIL_ID_RULE = (
    "pupil_id must be a pseudonymous code of 6–64 letters, digits, '_' or '-' with at least one "
    "letter (purely numeric or short ids cannot be told apart from years and counts when "
    "published pages are scanned for identifiers; 'NA' and other missing-value words are not ids)"
)

#: Words that make a column name a direct identifier, after normalisation (lower case, accents
#: and punctuation removed, split into words): the contract takes pseudonymised data only.
_IDENTIFIER_WORDS = frozenset(
    {
        "nome",
        "cognome",
        "nominativo",
        "surname",
        "firstname",
        "lastname",
        "fullname",
        "forename",
        "givenname",
        "fiscale",
        "codicefiscale",
        "cf",
        "codfisc",
        "codfiscale",
        "taxcode",
        "fiscalcode",
        "ssn",
        "email",
        "mail",
        "pec",
        "phone",
        "telefono",
        "tel",
        "cellulare",
        "mobile",
        "indirizzo",
        "address",
        "residenza",
        "domicilio",
        "via",
        "nascita",
        "birthdate",
        "dob",
        "luogonascita",
        "birthplace",
    }
)
_IDENTIFIER_PHRASES = (
    ("first", "name"),
    ("last", "name"),
    ("full", "name"),
    ("given", "name"),
    ("pupil", "name"),
    ("student", "name"),
    ("codice", "fiscale"),
    ("date", "of", "birth"),
    ("data", "di", "nascita"),
    ("birth", "date"),
    ("e", "mail"),
    ("tax", "code"),
    ("fiscal", "code"),
)


def data_dictionary() -> pd.DataFrame:
    """Return the data dictionary of the programme panel (one row per column)."""
    rows = []
    for c in COLUMNS:
        if c.allowed:
            values = ", ".join(c.allowed)
        elif c.low is not None:
            values = f"{c.low:g} to {c.high:g}"
        else:
            values = ""
        rows.append(
            {
                "column": c.name,
                "dtype": c.dtype,
                "required": c.required,
                "missing_allowed": c.nullable,
                "values": values,
                "description": c.description,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Cross-row rules (pandera DataFrame-level checks)
# --------------------------------------------------------------------------------------------


def _has(df: pd.DataFrame, *cols: str) -> bool:
    return all(c in df.columns for c in cols)


# Integer codes of ``pupil_id`` in sorted-id order (-1 = missing), computed once per frame while
# the rules run: every rule used to group by the text column and re-factorise it (19 times per
# load; 5 s on a 1 M-pupil register).  Keyed by the frame's identity, which the cache keeps
# alive, and only inside :func:`_shared_codes`.
_CODES: contextvars.ContextVar[dict[tuple[int, str], tuple[pd.DataFrame, np.ndarray]] | None] = (
    contextvars.ContextVar("programme_pupil_codes", default=None)
)


@contextlib.contextmanager
def _shared_codes() -> Iterator[None]:
    if _CODES.get() is not None:  # already inside: share the outer cache
        yield
        return
    token = _CODES.set({})
    try:
        yield
    finally:
        _CODES.reset(token)


def _pupil_codes(df: pd.DataFrame) -> np.ndarray:
    """``pupil_id`` as int64 codes ordered like the sorted ids; -1 where missing."""
    return _cached(df, "codes", _factorize_pupils)


def _factorize_pupils(df: pd.DataFrame) -> np.ndarray:
    codes, _ = pd.factorize(df["pupil_id"], sort=True)
    return codes.astype("int64", copy=False)


def _cached(df: pd.DataFrame, name: str, fn: Callable[[pd.DataFrame], np.ndarray]) -> np.ndarray:
    """``fn(df)``, computed once per frame inside :func:`_shared_codes`."""
    cache = _CODES.get()
    if cache is not None and (id(df), name) in cache:
        return cache[(id(df), name)][1]
    value = fn(df)
    if cache is not None:
        cache[(id(df), name)] = (df, value)
    return value


def _group_key(codes: np.ndarray) -> np.ndarray:
    """Codes as floats with NaN for missing ids (pandas' groupby drops them, as for text)."""
    key = codes.astype("float64")
    key[codes < 0] = np.nan
    return key


def _pupil_year_order(df: pd.DataFrame) -> np.ndarray:
    """Row order by pupil id then year (stable), as ``sort_values([pupil_id, year])``."""
    codes = _pupil_codes(df)
    year = df["year"].to_numpy(dtype="float64", na_value=np.nan)
    # missing ids and years sort last, as in sort_values(na_position="last")
    c = np.where(codes < 0, np.iinfo(np.int64).max, codes)
    y = np.where(np.isnan(year), np.inf, year)
    return np.lexsort((y, c))


def _ok(df: pd.DataFrame) -> pd.Series:
    return pd.Series(True, index=df.index)


def _not_constant_within_pupil(col: str) -> Callable[[pd.DataFrame], pd.Series]:
    def check(df: pd.DataFrame) -> pd.Series:
        if not _has(df, "pupil_id", col):
            return _ok(df)
        pupil = _pupil_codes(df)
        value, _ = pd.factorize(df[col])  # missing values get their own code (-1)
        g = pd.Series(value).groupby(pupil, sort=False)
        same = (g.transform("min").to_numpy() == g.transform("max").to_numpy()) | (pupil < 0)
        return pd.Series(same, index=df.index)

    return check


def _pupil_year_duplicated(df: pd.DataFrame) -> np.ndarray:
    """Rows whose (pupil_id, year) occurs more than once, both known (one hash of two ints)."""
    return _cached(df, "pupil_year_duplicated", _find_pupil_year_duplicates)


def _find_pupil_year_duplicates(df: pd.DataFrame) -> np.ndarray:
    codes = _pupil_codes(df)
    year = df["year"].to_numpy(dtype="float64", na_value=np.nan)
    known = (codes >= 0) & ~np.isnan(year)
    out = np.zeros(len(df), dtype=bool)
    if known.any():
        pair = pd.DataFrame({"p": codes[known], "y": year[known]})
        out[known] = pair.duplicated(keep=False).to_numpy()
    return out


def _duplicate_pupil_year(df: pd.DataFrame) -> pd.Series:
    if not _has(df, "pupil_id", "year"):
        return _ok(df)
    return pd.Series(~_pupil_year_duplicated(df), index=df.index)


def _two_schools_in_pupil_year(df: pd.DataFrame) -> pd.Series:
    if not _has(df, "pupil_id", "year", "school_id"):
        return _ok(df)
    dup = _pupil_year_duplicated(df)
    ok = np.ones(len(df), dtype=bool)
    if dup.any():  # only repeated pupil-years can have two schools
        sub = df.loc[dup, ["pupil_id", "year", "school_id"]]
        n = sub.groupby(["pupil_id", "year"], dropna=True)["school_id"].transform("nunique")
        ok[dup] = (n.fillna(1) <= 1).to_numpy()
    return pd.Series(ok, index=df.index)


def _cohort_in_data_years(df: pd.DataFrame) -> pd.Series:
    if not _has(df, "cohort", "year") or df["year"].notna().sum() == 0:
        return _ok(df)
    lo, hi = df["year"].min(), df["year"].max()
    c = df["cohort"]
    return c.isna() | (c == 0) | ((c >= lo) & (c <= hi)) | (c < 0)


def _course_empty_for_never_treated(df: pd.DataFrame) -> pd.Series:
    if not _has(df, "cohort", "course"):
        return _ok(df)
    return ~((df["cohort"] == 0) & (df["course"].fillna("") != ""))


def _course_given_for_treated(df: pd.DataFrame) -> pd.Series:
    if not _has(df, "cohort", "course"):
        return _ok(df)
    return ~((df["cohort"] > 0) & (df["course"].fillna("") == ""))


def _treatment_reversal(df: pd.DataFrame) -> pd.Series:
    if not _has(df, "pupil_id", "year", "treated"):
        return _ok(df)
    order = _pupil_year_order(df)
    key = _group_key(_pupil_codes(df))[order]
    treated = pd.Series(df["treated"].to_numpy(dtype="float64", na_value=np.nan)[order])
    prev_max = treated.groupby(key, dropna=True, sort=False).cummax()
    prev_max = prev_max.groupby(key, dropna=True, sort=False).shift(1)
    bad_sorted = ((prev_max == 1) & (treated == 0)).to_numpy()
    bad = np.zeros(len(df), dtype=bool)
    bad[order] = bad_sorted
    return pd.Series(~bad, index=df.index)


def _treated_matches_cohort(df: pd.DataFrame) -> pd.Series:
    if not _has(df, "year", "cohort", "treated"):
        return _ok(df)
    expected = ((df["cohort"] > 0) & (df["year"] >= df["cohort"])).astype(float)
    known = df[["year", "cohort", "treated"]].notna().all(axis=1)
    return ~known | (df["treated"] == expected)


def _rows_after_dropout(df: pd.DataFrame) -> pd.Series:
    if not _has(df, "pupil_id", "year", "dropped_out"):
        return _ok(df)
    drop_year = df["year"].where(df["dropped_out"] == 1)
    key = _group_key(_pupil_codes(df))
    first_drop = drop_year.groupby(key, dropna=True, sort=False).transform("min")
    return ~(df["year"] > first_drop.to_numpy())


def _outcome_missing_outside_dropout(col: str) -> Callable[[pd.DataFrame], pd.Series]:
    def check(df: pd.DataFrame) -> pd.Series:
        if not _has(df, col, "dropped_out"):
            return _ok(df)
        return ~(df[col].isna() & (df["dropped_out"] == 0))

    return check


def _age_plausible(df: pd.DataFrame) -> pd.Series:
    if not _has(df, "year", "birth_year"):
        return _ok(df)
    age = df["year"] - df["birth_year"]
    return age.isna() | ((age >= _MIN_AGE) & (age <= _MAX_AGE))


@dataclass(frozen=True)
class _Rule:
    key: str
    column: str
    rule: str | Callable[[pd.DataFrame], str]
    fn: Callable[[pd.DataFrame], pd.Series]
    needs: tuple[str, ...] = ()


def _cohort_rule_text(df: pd.DataFrame) -> str:
    lo, hi = int(df["year"].min()), int(df["year"].max())
    return (
        f"cohort outside the data's years: must be 0 (never treated) or a school year "
        f"from {lo} to {hi}"
    )


_RULES: tuple[_Rule, ...] = (
    _Rule(
        "duplicate_pupil_year",
        "pupil_id, year",
        "duplicate (pupil_id, year): the panel has one row per pupil and school year",
        _duplicate_pupil_year,
    ),
    _Rule(
        "school_within_pupil_year",
        "school_id",
        "school not constant within pupil-year (a pupil in two schools in the same year)",
        _two_schools_in_pupil_year,
    ),
    _Rule(
        "cohort_constant",
        "cohort",
        "cohort not constant within pupil",
        _not_constant_within_pupil("cohort"),
    ),
    _Rule(
        "course_constant",
        "course",
        "course not constant within pupil",
        _not_constant_within_pupil("course"),
    ),
    *(
        _Rule(
            f"{c}_constant",
            c,
            f"{c} not constant within pupil (a baseline characteristic)",
            _not_constant_within_pupil(c),
            needs=(c,),
        )
        for c in BASELINE_COLUMNS
    ),
    _Rule("cohort_in_years", "cohort", _cohort_rule_text, _cohort_in_data_years),
    _Rule(
        "course_never_treated",
        "course",
        "course must be empty for never-treated pupils (cohort 0)",
        _course_empty_for_never_treated,
    ),
    _Rule(
        "course_treated",
        "course",
        "course missing for a participant (cohort > 0)",
        _course_given_for_treated,
    ),
    _Rule(
        "treatment_reversal",
        "treated",
        "treatment reversal: treated goes from 1 back to 0 within a pupil "
        "(participation is absorbing)",
        _treatment_reversal,
        needs=("treated",),
    ),
    _Rule(
        "treated_cohort",
        "treated",
        "treated disagrees with cohort (treated must be 1 exactly from the cohort year on)",
        _treated_matches_cohort,
        needs=("treated",),
    ),
    _Rule(
        "rows_after_dropout",
        "dropped_out",
        "rows after dropout: a pupil has no rows after the year with dropped_out = 1",
        _rows_after_dropout,
    ),
    *(
        _Rule(
            f"{c}_missing",
            c,
            "missing value (NaN) not allowed in a year without dropout "
            "(outcomes may be missing only in the dropout year)",
            _outcome_missing_outside_dropout(c),
        )
        for c in _OUTCOMES_MISSING_ONLY_IN_DROPOUT_YEAR
    ),
    _Rule(
        "age",
        "birth_year",
        f"out of range: age (year − birth_year) must be between {_MIN_AGE} and {_MAX_AGE}",
        _age_plausible,
    ),
)
_RULES_BY_KEY = {r.key: r for r in _RULES}


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------


def _finite(s: pd.Series) -> pd.Series:
    return pd.Series(np.isfinite(s.to_numpy(dtype=float)), index=s.index)


def _column_checks(spec: ColumnSpec) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if spec.kind in ("int", "binary", "float"):
        checks.append(pa.Check(_finite, error="infinite value (inf or -inf)"))
    if spec.kind == "binary":
        checks.append(
            pa.Check(lambda s: s.isin([0, 1]) | ~_finite(s), error="out of range: must be 0 or 1")
        )
    elif spec.low is not None and spec.high is not None:
        lo, hi = spec.low, spec.high
        checks.append(
            pa.Check(
                lambda s, lo=lo, hi=hi: ((s >= lo) & (s <= hi)) | ~_finite(s),
                error=f"out of range: must be between {lo:g} and {hi:g}",
            )
        )
    if spec.allowed is not None:
        allowed = list(spec.allowed)
        codes = ", ".join(repr(a) for a in allowed)
        checks.append(
            pa.Check(
                lambda s, a=allowed: s.isin(a),
                error=f"unknown {spec.name} code: allowed codes are {codes}",
            )
        )
    if spec.name in ("pupil_id", "school_id"):
        checks.append(pa.Check(lambda s: s.str.strip() != "", error="empty identifier"))
        checks.append(
            pa.Check(
                lambda s: ~s.str.contains(r"[\x00-\x1f\x7f]", regex=True),
                error="identifier contains a line break or control character (a quoted newline?)",
            )
        )
    if spec.name == "pupil_id":
        checks.append(
            pa.Check(
                lambda s: (
                    s.str.match(_PUPIL_ID_CHARS_RE2)
                    & s.str.contains(_PUPIL_ID_LETTER_RE2)
                    & ~_is_na_token(s)
                ),
                error=PUPIL_ID_RULE,
            )
        )
        checks.append(
            pa.Check(
                lambda s: ~s.str.match(_CODICE_FISCALE_RE2),
                error="pupil_id looks like a codice fiscale: only pseudonymous "
                "identifiers are allowed",
            )
        )
    return checks


def _build_schema(*, dtypes: bool, rules: bool = True) -> pa.DataFrameSchema:
    columns = {}
    for spec in COLUMNS:
        dtype = spec.dtype if dtypes else None
        columns[spec.name] = pa.Column(
            dtype,
            checks=_column_checks(spec),
            nullable=spec.nullable,
            required=spec.required,
            coerce=False,
            title=spec.name,
            description=spec.description,
        )
    # one DataFrame-level check per cross-row rule; failure cases are limited because each
    # failing row is otherwise reported once per column (counts are recomputed from the rule)
    checks = [pa.Check(r.fn, error=r.key, name=r.key, n_failure_cases=1) for r in _RULES]
    if not rules:  # the loader evaluates the cross-row rules itself, once each
        checks = []
    return pa.DataFrameSchema(
        columns, checks=checks, strict=False, ordered=False, name="programme_panel"
    )


PANEL_SCHEMA: pa.DataFrameSchema = _build_schema(dtypes=True)
"""Pandera schema of a loaded (canonical) programme panel, dtypes included."""

_INPUT_SCHEMA = _build_schema(dtypes=False)
# Column checks only: _validate_frame evaluates _RULES directly (once each, on the shared pupil
# codes) instead of through pandera, which hands every check a copy of the frame and whose
# failure cases the loader recomputed anyway to count the rows.
_PANEL_COLUMNS = _build_schema(dtypes=True, rules=False)
_INPUT_COLUMNS = _build_schema(dtypes=False, rules=False)


# --------------------------------------------------------------------------------------------
# Reading and coercion
# --------------------------------------------------------------------------------------------


def _read(source: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str, bool]:
    """Return (frame, source label, rows-are-csv-lines)."""
    if isinstance(source, pd.DataFrame):
        return source.copy(), "DataFrame argument", False
    if not isinstance(source, str | Path):
        raise DataValidationError(
            f"{type(source).__name__} argument",
            [Violation(rule="the panel must be a path to a .csv or .parquet file, or a DataFrame")],
        )
    path = Path(source)
    label = str(path)
    if not path.exists():
        raise DataValidationError(label, [Violation(rule="file not found")])
    suffix = path.suffix.lower()
    # Unreadable files are bad input like any other: name the file and the rule instead of
    # letting a pandas/pyarrow/codec exception escape (found by tests/test_fuzz_programme.py).
    try:
        if suffix == ".csv":
            fast = _read_csv_fast(path, label)
            if fast is not None:
                return fast, label, True
            text = path.read_bytes().decode("utf-8")
            # pandas pads a line with too few fields with missing values and reads a first
            # line with too many as an index, shifting every value to the next column: check
            # the field count of every line first, streaming (holding every line as a list
            # took 5 GB on a 1 M-pupil register).
            width: int | None = None
            ragged: list[int] = []
            n_ragged = 0
            records = (r for r in csv.reader(io.StringIO(text)) if r)
            for i, r in enumerate(records, start=1):
                if width is None:
                    _check_header(r, label)
                    width = len(r)
                elif len(r) != width:
                    n_ragged += 1
                    if len(ragged) < 5:
                        ragged.append(i)
            if n_ragged:
                raise DataValidationError(label, [_ragged_violation(width or 0, ragged, n_ragged)])
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
            return df, label, True
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path), label, False
    except DataValidationError:
        raise
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            label, [Violation(rule=f"file is not UTF-8 text ({exc.reason} at byte {exc.start})")]
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(label, [Violation(rule="file is empty")]) from exc
    except (pd.errors.ParserError, csv.Error) as exc:
        raise DataValidationError(
            label, [Violation(rule=f"not a well-formed comma-separated file: {exc}".strip())]
        ) from exc
    except OSError as exc:  # a directory, no permission, truncated parquet (pyarrow's OSError)
        raise DataValidationError(
            label, [Violation(rule=f"cannot read the file ({type(exc).__name__}: {exc})")]
        ) from exc
    except Exception as exc:  # pyarrow.ArrowInvalid etc.: not a parquet file
        raise DataValidationError(
            label, [Violation(rule=f"not a readable {suffix} file ({type(exc).__name__}: {exc})")]
        ) from exc
    raise DataValidationError(
        label, [Violation(rule=f"unsupported file type {suffix!r}: expected .csv or .parquet")]
    )


def _check_header(header: Sequence[str], label: str) -> None:
    """Refuse a repeated column name or a semicolon-separated file (from the header line)."""
    names = [h.strip() for h in header]
    repeated = sorted({h for h in names if names.count(h) > 1})
    if repeated:  # pandas would rename the second one "x.1" and keep the first
        raise DataValidationError(
            label,
            [
                Violation(rule="column name appears more than once in the header", column=h)
                for h in repeated
            ],
        )
    if len(names) == 1 and ";" in names[0]:
        raise DataValidationError(
            label,
            [
                Violation(
                    rule="the file looks semicolon-separated (the Italian Excel default, "
                    "often with decimal commas): this loader reads comma-separated files "
                    "with '.' decimals: save it as 'CSV UTF-8 (comma-separated)'"
                )
            ],
        )


def _ragged_violation(width: int, lines: Sequence[int], n: int) -> Violation:
    return Violation(
        rule=f"line has another number of fields than the header ({width})",
        rows=tuple(f"line {i}" for i in lines),
        n_rows=n,
    )


def _read_csv_fast(path: Path, label: str) -> pd.DataFrame | None:
    """Read a plain CSV with pyarrow's multi-threaded reader; None if it needs the careful path.

    The fast path takes files without byte-order mark or ragged lines whose header decodes as
    UTF-8 (a register exported by a database or by R: the 1 M-pupil case).  pyarrow splits
    its blocks at line breaks, so a file with a quoted line break in any cell goes to the
    careful path (which reads it as one cell, as before).  Anything else — a line with
    another number of fields, invalid UTF-8, an empty file — returns ``None``, and the
    csv-module path reads the file and words every error as before, with its line numbers.
    """
    data = path.read_bytes()
    if not data or data.startswith(b"\xef\xbb\xbf"):
        return None
    if data.count(b"\r") != data.count(b"\r\n"):  # a lone carriage return
        return None
    first = data.split(b"\n", 1)[0].removesuffix(b"\r")
    try:
        header = next(csv.reader([first.decode("utf-8")]))
    except (UnicodeDecodeError, StopIteration, csv.Error):
        return None
    if not first.strip():
        return None
    _check_header(header, label)
    invalid: list[int] = []

    def on_invalid(row: Any) -> str:
        invalid.append(1)
        return "skip"

    try:
        table = pa_csv.read_csv(
            pa_arrow.py_buffer(data),
            read_options=pa_csv.ReadOptions(use_threads=True),
            parse_options=pa_csv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pa_csv.ConvertOptions(
                column_types={h: pa_arrow.string() for h in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa_arrow.ArrowInvalid, pa_arrow.ArrowNotImplementedError):
        return None
    if invalid or table.num_columns != len(header):
        return None
    # A quoted line break sends the file to the csv module, which reads it as before.  When
    # the file has exactly one line per record (and the header), no cell holds one: the
    # per-cell scan (0.5 s a column at 1 M pupils) runs only when the counts differ.
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if lines != table.num_rows + 1:
        for column in table.columns:
            if pc.any(pc.match_substring_regex(column, r"[\r\n]")).as_py():
                return None
    del data
    df = table.to_pandas(split_blocks=True, self_destruct=True)
    return df


def _is_na_token(s: pd.Series) -> pd.Series:
    if s.dtype.kind in "biufc":
        return s.isna()
    return s.isna() | s.astype("str").str.strip().str.lower().isin(_NA_TOKENS)


def _to_float(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Coerce to float64; return (values, mask of unparseable cells)."""
    if s.dtype.kind == "b":
        return s.astype("float64"), pd.Series(False, index=s.index)
    if s.dtype.kind in "iuf":
        return s.astype("float64"), pd.Series(False, index=s.index)
    fast = _arrow_float(s)
    if fast is not None:  # every cell a plain number or empty: one pass of pyarrow's parser
        return pd.Series(fast, index=s.index), pd.Series(False, index=s.index)
    missing = _is_na_token(s)
    text = s.astype("str").str.strip().where(~missing)
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = values.isna() & ~missing
    return values, bad


def _to_text(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Coerce to str (integers allowed); return (values, mask of unusable cells)."""
    if s.dtype.kind in "iub":
        return s.astype("str"), pd.Series(False, index=s.index)
    if s.dtype.kind == "f":
        integral = s.isna() | (np.isfinite(s) & (s == np.round(s)))
        out = s.where(integral).astype("Int64").astype("str").where(s.notna())
        return out.astype("str"), ~integral
    out = s.where(s.isna(), s.astype("str").str.strip())
    return out.astype("str"), pd.Series(False, index=s.index)


def _coerce(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Coerce known columns for validation; return frame and unparseable-cell masks."""
    out = df.copy(deep=False)  # copy-on-write: replacing columns never touches ``df``
    bad: dict[str, pd.Series] = {}
    for spec in COLUMNS:
        if spec.name not in out.columns:
            continue
        col = out[spec.name]
        if spec.kind == "str":
            values, mask = _to_text(col)
            if spec.name == "course":
                # "NA", "null" ... are missing values (as documented for CSV cells) → "";
                # before, they were read as a course named "NA" (found by the fuzz tests)
                values = values.mask(_is_na_token(values), "").fillna("")
            elif spec.name != "pupil_id" and spec.name != "school_id":
                values = values.where(~_is_na_token(values))
        else:
            values, mask = _to_float(col)
            if spec.kind in ("int", "binary"):
                non_integral = np.isfinite(values) & (values != np.round(values))
                mask = mask | non_integral
            if spec.name == "cohort":
                values = values.where(values.notna() | mask, 0.0)
        if mask.any():
            bad[spec.name] = mask
        out[spec.name] = values
    return out, bad


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Cast validated columns to canonical dtypes, derive ``treated``, sort, order columns."""
    order = _pupil_year_order(df)  # = sort_values(["pupil_id", "year"], kind="stable")
    out = df.copy(deep=False)
    if "treated" not in out.columns:
        out["treated"] = ((out["cohort"] > 0) & (out["year"] >= out["cohort"])).astype("int64")
    for spec in COLUMNS:
        if spec.name in out.columns:
            out[spec.name] = out[spec.name].astype(spec.dtype)
    known = [c.name for c in COLUMNS if c.name in out.columns]
    extra = [c for c in out.columns if c not in _SPECS]
    # keep the input's row labels (for messages); the caller resets the index
    return out[known + extra].take(order)


# --------------------------------------------------------------------------------------------
# Violations
# --------------------------------------------------------------------------------------------


class _RowLabeller:
    """Name rows by their position in the file (CSV line or frame row) and school year only.

    Never by ``pupil_id`` or any other value of an identifying column: error messages reach
    logs, run states and failed pages (issue 10), so they carry positions, never identities.
    """

    def __init__(self, df: pd.DataFrame, csv_lines: bool):
        self.year = df["year"] if "year" in df.columns else None
        self.csv_lines = csv_lines

    def __call__(self, idx: Sequence[int]) -> list[str]:
        labels = []
        for i in idx:
            where = f"line {i + 2}" if self.csv_lines else f"row {i}"
            year = None
            if self.year is not None and pd.notna(self.year.iloc[i]):
                y = self.year.iloc[i]
                year = str(int(y)) if isinstance(y, float) and y.is_integer() else str(y)
                if not _YEAR_TEXT.match(year):
                    year = None  # a malformed year cell is data, not a label
            labels.append(f"{where} (year {year})" if year else where)
        return labels


def _violation(
    rule: str,
    column: str,
    mask_or_idx: pd.Series | Sequence[int],
    label: _RowLabeller,
    max_rows: int = 5,
) -> Violation:
    if isinstance(mask_or_idx, pd.Series) and mask_or_idx.dtype == bool:
        idx = np.flatnonzero(mask_or_idx.to_numpy())
    else:
        idx = np.sort(np.unique(np.asarray(mask_or_idx, dtype=int)))
    return Violation(rule=rule, column=column, rows=tuple(label(idx[:max_rows])), n_rows=len(idx))


def _validate_frame(
    df: pd.DataFrame,
    schema: pa.DataFrameSchema,
    label: _RowLabeller,
    skip: Mapping[str, pd.Series] | None = None,
) -> list[Violation]:
    """Run the pandera column checks lazily, then the cross-row rules; return the violations.

    ``schema`` is :data:`_INPUT_COLUMNS` or :data:`_PANEL_COLUMNS` (column checks only); the
    cross-row rules of :data:`_RULES` are evaluated here, once each, sharing the pupil codes.
    """
    violations: list[Violation] = []
    skip = skip or {}
    try:
        # inplace: the column checks change nothing, and a copy of a 6 M-row frame costs 6 s
        schema.validate(df, lazy=True, inplace=True)
    except SchemaErrors as exc:
        fc = exc.failure_cases
    else:
        fc = None
    if fc is not None:
        violations += _column_violations(fc, label, skip)
    with _shared_codes():
        for rule in _RULES:
            mask = ~np.asarray(rule.fn(df), dtype=bool)
            if rule.column in skip:
                mask &= ~skip[rule.column].to_numpy()
            if not mask.any():
                continue
            text = rule.rule(df) if callable(rule.rule) else rule.rule
            violations.append(_violation(text, rule.column, mask, label))
    return violations


def _column_violations(
    fc: pd.DataFrame, label: _RowLabeller, skip: Mapping[str, pd.Series]
) -> list[Violation]:
    """Violations from pandera's failure cases of the column checks."""
    violations: list[Violation] = []
    column_level = fc[fc["schema_context"] != "DataFrameSchema"]
    for (column, check), group in column_level.groupby(
        ["column", "check"], sort=False, dropna=False
    ):
        idx = group["index"].dropna().astype(int).to_numpy()
        if column in skip:
            idx = idx[~skip[column].to_numpy()[idx]]
            if len(idx) == 0 and len(group["index"].dropna()):
                continue
        check = str(check)
        if check == "column_in_dataframe":
            continue  # reported by _structural_violations
        if check == "not_nullable":
            rule = "missing value (NaN) not allowed"
        elif check.startswith("dtype("):
            rule = f"wrong type: expected {check[6:-1]}"
        else:
            rule = check
        if len(idx) == 0:
            violations.append(Violation(rule=rule, column=str(column)))
        else:
            violations.append(_violation(rule, str(column), idx, label))
    return violations


def _looks_like_identifier_name(name: str) -> bool:
    """Whether a column name denotes a direct identifier (name, codice fiscale, e-mail …)."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = [w for w in re.split(r"[^a-z0-9]+", plain) if w]
    if name.strip().lower() in _IDENTIFIER_COLUMNS or set(words) & _IDENTIFIER_WORDS:
        return True
    if "".join(words) in _IDENTIFIER_WORDS | {"name"}:
        return True
    return any(
        words[i : i + len(p)] == list(p) for p in _IDENTIFIER_PHRASES for i in range(len(words))
    )


def _identifier_values(s: pd.Series) -> str | None:
    """``"codice fiscale"`` / ``"e-mail"`` when a text column holds such values, else ``None``."""
    if s.dtype.kind not in "OSU" and str(s.dtype) not in ("string", "str"):
        return None
    if _cannot_hold_identifier(s):
        return None
    text = s.dropna().astype("str")
    if text.empty:
        return None
    if _all_numbers(text):  # digits, signs, '.', 'e': neither a codice fiscale nor an e-mail
        return None
    if len(text) > 1000:  # low-cardinality text (school, course, sex): test each value once
        uniq = pd.unique(text)
        if len(uniq) < len(text) // 4:
            text = pd.Series(uniq, dtype="str")
    if text.str.contains(_CODICE_FISCALE_ANYWHERE_RE2).any():
        return "codice fiscale"
    if text.str.contains("@", regex=False).any() and text.str.contains(_EMAIL_RE2).any():
        return "e-mail"
    return None


def _arrow_strings(s: pd.Series) -> pa_arrow.Array | None:
    """The column as one pyarrow string array (no copy for pandas' ``str`` dtype), or None."""
    try:
        arr = pa_arrow.array(s.array if str(s.dtype) == "str" else s, from_pandas=True)
    except (pa_arrow.ArrowInvalid, pa_arrow.ArrowTypeError):
        return None
    if isinstance(arr, pa_arrow.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa_arrow.types.is_string(arr.type) or pa_arrow.types.is_large_string(arr.type)):
        return None
    return arr


def _arrow_float(s: pd.Series) -> np.ndarray | None:
    """Text cells as float64 when every non-empty cell is a plain finite number, else None.

    pyarrow's parser over the whole column; ``""`` becomes missing.  ``None`` (so the caller
    takes the careful cell-by-cell path and its messages) as soon as a cell is anything else:
    a missing-value word, spaces, a NaN or infinity spelling, or text.
    """
    arr = _arrow_strings(s)
    if arr is None:
        return None
    # the regular expression on the first cells: a text column leaves at once
    head = arr.slice(0, 1000)
    head = pc.if_else(pc.equal(head, ""), pa_arrow.scalar(None, head.type), head)
    if pc.any(pc.invert(pc.match_substring_regex(head, _PLAIN_NUMBER_RE2))).as_py():
        return None
    # Every cell: only the characters of a plain number (one pass over the bytes instead of
    # the regular expression over 6 M cells, issue 14).  Over these characters pyarrow's cast
    # accepts exactly the cells _PLAIN_NUMBER_RE2 matches, overflows to infinity aside, which
    # the check below refuses (tests/test_programme.py compares the two on every string
    # of up to 6 characters and on random longer ones).
    if _string_bytes(arr).translate(None, _PLAIN_NUMBER_BYTES):
        return None
    if pc.any(pc.equal(arr, "")).as_py():
        arr = pc.if_else(pc.equal(arr, ""), pa_arrow.scalar(None, arr.type), arr)
    try:
        values = pc.cast(arr, pa_arrow.float64())
    except (pa_arrow.ArrowInvalid, pa_arrow.ArrowNotImplementedError):
        return None
    out = values.to_numpy(zero_copy_only=False)
    if not np.isfinite(out[~np.isnan(out)]).all() or values.null_count != int(np.isnan(out).sum()):
        return None  # an infinity, or a NaN spelled out: the careful path decides
    return out


def _all_numbers(text: pd.Series) -> bool:
    return _arrow_float(text) is not None


_PLAIN_NUMBER_BYTES = b"0123456789.+-eE"
# Bytes that may be part of a letter matched by the identifier patterns: ASCII letters, and
# every byte of a non-ASCII character (RE2's and Python's case-insensitive [A-Z] also match
# letters such as the Kelvin sign K or the long s).
_LETTERISH = bytes(
    ord("L") if (chr(i).isascii() and chr(i).isalpha()) or i >= 0x80 else ord(".")
    for i in range(256)
)


def _string_bytes(arr: pa_arrow.Array) -> bytes:
    """The characters of every cell of a pyarrow string array, concatenated (nulls: none)."""
    offsets_type = np.int64 if pa_arrow.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=offsets_type)
    first, last = int(offsets[arr.offset]), int(offsets[arr.offset + len(arr)])
    data = arr.buffers()[2]
    if data is None or last <= first:
        return b""
    return memoryview(data)[first:last].tobytes()


def _cannot_hold_identifier(s: pd.Series) -> bool:
    """True when no cell can match the codice-fiscale or e-mail patterns (one pass over bytes).

    A codice fiscale needs six letters in a row and an e-mail an ``@``: a column whose
    concatenated cells hold neither (a run across two cells counts too, which only sends the
    column to the patterns) cannot match them.  Exact, and about 20 times quicker than the
    patterns over millions of numeric cells (issue 14).
    """
    arr = _arrow_strings(s)
    if arr is None:
        return False
    raw = _string_bytes(arr)
    return b"@" not in raw and b"LLLLLL" not in raw.translate(_LETTERISH)


def _structural_violations(df: pd.DataFrame) -> list[Violation]:
    out = []
    missing = [c.name for c in COLUMNS if c.required and c.name not in df.columns]
    for name in missing:
        out.append(Violation(rule="required column missing", column=name))
    for j, col in enumerate(df.columns):
        if _looks_like_identifier_name(str(col)):
            out.append(
                Violation(
                    rule="direct identifier column not allowed (pseudonymised data only)",
                    column=str(col),
                )
            )
        elif col != "pupil_id" and (kind := _identifier_values(df.iloc[:, j])):
            out.append(
                Violation(
                    rule=f"column holds {kind} values: direct identifiers are not allowed under "
                    "any column name (pseudonymised data only)",
                    column=str(col),
                )
            )
    dup = df.columns[df.columns.duplicated()]
    for col in dup:
        out.append(Violation(rule="duplicate column name", column=str(col)))
    return out


def validate_panel(df: pd.DataFrame, *, source: str = "DataFrame argument") -> pd.DataFrame:
    """Validate a canonical panel (dtypes included) against :data:`PANEL_SCHEMA`.

    Parameters
    ----------
    df
        A panel with canonical dtypes (e.g. ``load_panel(...).data`` or a simulated panel).
    source
        Name used in error messages.

    Returns
    -------
    pandas.DataFrame
        ``df`` itself (unchanged) if it satisfies the contract.

    Raises
    ------
    DataValidationError
        Listing every broken rule (column, first rows, rule).
    """
    violations = _structural_violations(df)
    if not df.columns.duplicated().any():
        frame = df.reset_index(drop=True)
        violations += _validate_frame(frame, _PANEL_COLUMNS, _RowLabeller(frame, False))
    if violations:
        raise DataValidationError(source, violations)
    return df


# --------------------------------------------------------------------------------------------
# Exclusions
# --------------------------------------------------------------------------------------------

EXCLUSION_RULES: Mapping[str, str] = {
    "no_pre_period": "participant first observed in or after their cohort year "
    "(no pre-treatment year)",
    "no_post_period": "participant not observed in or after their cohort year "
    "(left before taking part)",
}
"""Documented exclusion rules: key → description."""


def _exclusion_masks(df: pd.DataFrame) -> dict[str, pd.Series]:
    g = df["year"].groupby(_group_key(_pupil_codes(df)), sort=False)
    first, last = g.transform("min"), g.transform("max")
    treated_pupil = df["cohort"] > 0
    return {
        "no_pre_period": treated_pupil & (first >= df["cohort"]),
        "no_post_period": treated_pupil & (last < df["cohort"]),
    }


def _exclusion_table(df: pd.DataFrame, masks: Mapping[str, pd.Series]) -> pd.DataFrame:
    rows = []
    for key, mask in masks.items():
        rows.append(
            {
                "rule": key,
                "description": EXCLUSION_RULES[key],
                "n_rows": int(mask.sum()),
                "n_pupils": int(df.loc[mask, "pupil_id"].nunique()),
            }
        )
    return pd.DataFrame(rows, columns=["rule", "description", "n_rows", "n_pupils"])


# --------------------------------------------------------------------------------------------
# Loaded panel
# --------------------------------------------------------------------------------------------


def _counts(df: pd.DataFrame) -> dict[str, int]:
    pupils = df.drop_duplicates("pupil_id")
    return {
        "pupils": int(len(pupils)),
        "pupil_years": int(len(df)),
        "schools": int(df["school_id"].nunique()),
        "participants": int((pupils["cohort"] > 0).sum()),
        "never_treated": int((pupils["cohort"] == 0).sum()),
        "cohorts": int(pupils.loc[pupils["cohort"] > 0, "cohort"].nunique()),
    }


@dataclass(frozen=True)
class LoadedPanel:
    """A validated programme panel with the record of what was excluded.

    Attributes
    ----------
    data
        The analysis panel (canonical dtypes, sorted by pupil and year).
    exclusions
        One row per exclusion rule: ``rule``, ``description``, ``n_rows``, ``n_pupils``.
    excluded
        The excluded rows (canonical dtypes) with a column ``exclusion_rule``; for audit only.
    source
        The file (or ``"DataFrame argument"``) the panel came from.
    input_counts
        Pupils, pupil-years, schools, participants, never-treated and cohorts before exclusions.
    """

    data: pd.DataFrame
    exclusions: pd.DataFrame
    excluded: pd.DataFrame
    source: str
    input_counts: Mapping[str, int]

    def sample_flow(self) -> pd.DataFrame:
        """Return the CONSORT-style sample flow (see :func:`sample_flow`)."""
        return sample_flow(self)

    def cohorts(self) -> pd.DataFrame:
        """Return one row per cohort (0 = never treated): courses, pupils, rows, schools."""
        d = self.data
        g = d.groupby("cohort")
        out = pd.DataFrame(
            {
                "courses": g["course"].agg(lambda s: ", ".join(sorted(set(s) - {""}))),
                "pupils": g["pupil_id"].nunique(),
                "pupil_years": g.size(),
                "schools": g["school_id"].nunique(),
                "first_year": g["year"].min(),
                "last_year": g["year"].max(),
            }
        )
        return out.reset_index()

    def pupils(self) -> pd.DataFrame:
        """Return one row per pupil: cohort, course, first/last year, baseline school, covariates."""
        d = self.data
        first = d.drop_duplicates("pupil_id", keep="first").set_index("pupil_id")
        g = d.groupby("pupil_id")
        cols = ["cohort", "course"] + [c for c in BASELINE_COLUMNS if c in d.columns]
        out = first[cols].copy()
        out["baseline_school"] = first["school_id"]
        out["first_year"] = g["year"].min()
        out["last_year"] = g["year"].max()
        out["n_years"] = g.size()
        out["dropped_out"] = g["dropped_out"].max()
        return out.reset_index()

    def tidy(self) -> pd.DataFrame:
        """Return the sample flow (the table a report shows)."""
        return self.sample_flow()

    def summary(self) -> str:
        """Return a few lines: source, sizes, exclusions."""
        c = _counts(self.data)
        lines = [
            f"Programme panel from {self.source}",
            f"  {c['pupils']} pupils ({c['participants']} participants in {c['cohorts']} "
            f"cohort(s), {c['never_treated']} never treated), {c['pupil_years']} "
            f"pupil-years, {c['schools']} schools",
        ]
        for r in self.exclusions.itertuples():
            lines.append(f"  excluded by {r.rule}: {r.n_rows} rows, {r.n_pupils} pupils")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable description (no pupil-level data)."""
        return {
            "source": self.source,
            "input": dict(self.input_counts),
            "analysis": _counts(self.data),
            "exclusions": self.exclusions.to_dict(orient="records"),
            "sample_flow": sample_flow(self).to_dict(orient="records"),
        }


def sample_flow(panel: LoadedPanel) -> pd.DataFrame:
    """Return the sample flow: input → each exclusion rule → analysis panel.

    Columns are ``step``, ``pupils``, ``pupil_years``, ``schools``, ``participants``,
    ``never_treated`` and ``cohorts``.  Exclusion steps give what the rule removed (pupils and
    rows; the other columns are left empty).  The counts are exact: check them with
    :func:`analysis.privacy.suppress_small_cells` before publishing a breakdown finer than
    this table.
    """
    rows = [{"step": "input", **panel.input_counts}]
    for r in panel.exclusions.itertuples():
        rows.append(
            {"step": f"excluded: {r.description}", "pupils": r.n_pupils, "pupil_years": r.n_rows}
        )
    rows.append({"step": "analysis panel", **_counts(panel.data)})
    cols = ["step", "pupils", "pupil_years", "schools", "participants", "never_treated", "cohorts"]
    out = pd.DataFrame(rows, columns=cols)
    for c in cols[1:]:
        out[c] = out[c].astype("Int64")
    return out


# --------------------------------------------------------------------------------------------
# Loader
# --------------------------------------------------------------------------------------------


@overload
def load_panel(
    source: str | Path | pd.DataFrame, *, exclusions: Literal["raise"] = ...
) -> pd.DataFrame: ...


@overload
def load_panel(
    source: str | Path | pd.DataFrame, *, exclusions: Literal["report"]
) -> LoadedPanel: ...


def load_panel(
    source: str | Path | pd.DataFrame, *, exclusions: Literal["raise", "report"] = "raise"
) -> pd.DataFrame | LoadedPanel:
    """Read, validate and canonicalise a programme panel.

    Parameters
    ----------
    source
        A ``.csv`` or ``.parquet`` file, or a DataFrame (left unchanged; a copy is validated).
        CSV cells are parsed by this function: numbers may be written ``2021`` or ``2021.0``;
        ``""``, ``NA``, ``NaN``, ``null`` and ``None`` are missing values.
    exclusions
        ``"raise"`` (default): rows that an exclusion rule (:data:`EXCLUSION_RULES`) would
        remove are an error, and the validated panel is returned as a DataFrame.
        ``"report"``: such rows are removed and a :class:`LoadedPanel` is returned, whose
        ``.exclusions`` says which rule removed how many rows and pupils.

    Returns
    -------
    pandas.DataFrame or LoadedPanel
        A new DataFrame with canonical dtypes (see the module docstring), sorted by
        ``pupil_id`` and ``year``; or a :class:`LoadedPanel` wrapping it.

    Raises
    ------
    DataValidationError
        Every broken rule at once (pandera lazy validation): missing required column,
        unparseable value, out-of-range value, missing value where not allowed, infinite
        value, duplicate (pupil_id, year), pupil in two schools in one year, cohort/course/
        baseline characteristic not constant within pupil, cohort outside the data's years,
        treatment reversal, unknown sex code, rows after dropout, implausible age, direct
        identifiers.  Each entry names the column, the first rows (CSV line or row number with
        pupil/year) and the rule.
    """
    if exclusions not in ("raise", "report"):
        raise ValueError(f"exclusions must be 'raise' or 'report', not {exclusions!r}")
    raw, label, csv_lines = _read(source)
    violations = _structural_violations(raw)
    if raw.columns.duplicated().any():
        raise DataValidationError(label, violations)
    if len(raw) == 0:  # a header-only file or an empty frame is not an (empty) panel
        violations.append(Violation(rule="the panel has no rows"))
        raise DataValidationError(label, violations)
    raw = raw.reset_index(drop=True)
    with _shared_codes():
        return _load_frame(raw, label, csv_lines, violations, exclusions)


def _load_frame(
    raw: pd.DataFrame,
    label: str,
    csv_lines: bool,
    violations: list[Violation],
    exclusions: str,
) -> pd.DataFrame | LoadedPanel:
    """Coerce, validate, apply the exclusion rules and canonicalise (see :func:`load_panel`)."""
    frame, bad = _coerce(raw)
    del raw
    labeller = _RowLabeller(frame, csv_lines)
    for col, mask in bad.items():
        kind = _SPECS[col].kind
        expected = {
            "int": "an integer",
            "binary": "0 or 1",
            "float": "a number",
            "str": "text or an integer",
        }[kind]
        violations.append(
            _violation(f"wrong type: value cannot be read as {expected}", col, mask, labeller)
        )
    violations += _validate_frame(frame, _INPUT_COLUMNS, labeller, skip=bad)
    if violations:
        raise DataValidationError(label, violations)

    masks = _exclusion_masks(frame)  # input row order, for messages
    if exclusions == "raise":
        exc = [
            _violation(
                f"{EXCLUSION_RULES[k]}; pass exclusions='report' to exclude and report",
                "cohort",
                m,
                labeller,
            )
            for k, m in masks.items()
            if m.any()
        ]
        if exc:
            raise DataValidationError(label, exc)
        return _canonical(frame).reset_index(drop=True)
    panel = _canonical(frame)
    masks = {k: m.loc[panel.index].reset_index(drop=True) for k, m in masks.items()}
    panel = panel.reset_index(drop=True)
    table = _exclusion_table(panel, masks)
    any_mask = pd.Series(False, index=panel.index)
    rule_of = pd.Series("", index=panel.index, dtype="str")
    for key, mask in masks.items():
        rule_of = rule_of.mask(mask & ~any_mask, key)
        any_mask |= mask
    excluded = panel.loc[any_mask].assign(exclusion_rule=rule_of[any_mask]).reset_index(drop=True)
    kept = panel.loc[~any_mask].reset_index(drop=True)
    return LoadedPanel(
        data=kept, exclusions=table, excluded=excluded, source=label, input_counts=_counts(panel)
    )
