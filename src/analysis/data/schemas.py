"""pandera schemas of the tidy panels written to ``data/processed/``.

The raw-file readers check the *inputs* (and name file, column and rows); these schemas check
the *outputs* before they are written, so a bug in a reader cannot produce a silently wrong
panel.
"""

from __future__ import annotations

import pandera.pandas as pa

_flags = pa.Column(str, nullable=False)
_year = pa.Column(int, pa.Check.in_range(1990, 2030))
_sex = pa.Column(str, pa.Check.isin(["F", "M", "T"]))

REGIONAL_PERCENT = pa.DataFrameSchema(
    {
        "geo": pa.Column(str),
        "region_name": pa.Column(str),
        "level": pa.Column(str, pa.Check.isin(["country", "macro_area", "region", "eu"])),
        "sex": _sex,
        "year": _year,
        "value": pa.Column(float, pa.Check.in_range(0, 100), nullable=True),
        "flags": _flags,
    },
    unique=["geo", "sex", "year"],
    strict=True,
    coerce=False,
)

BES_PROVINCES = pa.DataFrameSchema(
    {
        "province_code": pa.Column(str),
        "province_name": pa.Column(str),
        "region": pa.Column(str),
        "macro_area": pa.Column(str),
        "level": pa.Column(str, pa.Check.isin(["country", "macro_area", "region", "province"])),
        "indicator_code": pa.Column(str),
        "series_code": pa.Column(str),
        "indicator_name": pa.Column(str),
        "unit": pa.Column(str),
        "sex": _sex,
        "year": _year,
        "value": pa.Column(float, nullable=True),
        "flag": pa.Column(str),
        "edition": pa.Column(str, pa.Check.isin(["2021", "2025"])),
    },
    unique=["indicator_code", "edition", "province_code", "sex", "year"],
    strict=True,
)

BES_SPLICED = pa.DataFrameSchema(
    {
        "series_code": pa.Column(str),
        "province_code": pa.Column(str),
        "sex": _sex,
        "province_name": pa.Column(str),
        "region": pa.Column(str),
        "macro_area": pa.Column(str),
        "level": pa.Column(str),
        "indicator_name": pa.Column(str),
        "unit": pa.Column(str),
        "year": _year,
        "value": pa.Column(float),
        "flag": pa.Column(str),
        "source": pa.Column(str, pa.Check.isin(["ed.2025", "ed.2021+shift", "ed.2021 only"])),
        "shift": pa.Column(float),
    },
    unique=["series_code", "province_code", "sex", "year"],
    strict=True,
)

BES_REGIONS = pa.DataFrameSchema(
    {
        "geo": pa.Column(str),
        "region_name": pa.Column(str),
        "level": pa.Column(str, pa.Check.isin(["country", "macro_area", "region"])),
        "indicator_code": pa.Column(str),
        "series_code": pa.Column(str),
        "indicator_name": pa.Column(str),
        "unit": pa.Column(str),
        "sex": _sex,
        "year": _year,
        "value": pa.Column(float, nullable=True),
        "flag": pa.Column(str),
    },
    unique=["indicator_code", "region_name", "sex", "year"],
    strict=True,
)

UNEMPLOYMENT = pa.DataFrameSchema(
    {
        "prov": pa.Column(int),
        "province_name": pa.Column(str),
        "region": pa.Column(str),
        "year": _year,
        "unrate": pa.Column(float, pa.Check.in_range(0, 100)),
        "partrate": pa.Column(float, pa.Check.in_range(0, 100)),
        "popdens": pa.Column(float),
        "south": pa.Column(int, pa.Check.isin([0, 1])),
        "series_break": pa.Column(bool),
    },
    unique=["prov", "year"],
    strict=True,
)

INVALSI = pa.DataFrameSchema(
    {
        "school_year": pa.Column(str),
        "grade": pa.Column(int),
        "subject": pa.Column(str),
        "province_code": pa.Column(int),
        # Napoli's initials "NA" were written as an empty cell by the R-to-CSV export: kept missing.
        "province_initials": pa.Column(str, nullable=True),
        "province_name": pa.Column(str),
        "pct_sufficient": pa.Column(float, pa.Check.in_range(0, 100), nullable=True),
        "wle_mean": pa.Column(float),
        "coverage": pa.Column(float, nullable=True),
    },
    unique=["grade", "subject", "province_code"],
    strict=True,
)

_school_code = pa.Column(str, pa.Check.str_matches(r"^[A-Z]{2}[A-Z0-9]{8}$"))

SCHOOL_SITES = pa.DataFrameSchema(
    {
        "school_code": _school_code,
        "province": pa.Column(str, pa.Check.str_matches(r"^[A-Z]{2}$")),
        "year": pa.Column(int, pa.Check.in_range(2018, 2030)),
        "pupils": pa.Column("Int64", pa.Check.ge(0), nullable=True),
        "suppressed": pa.Column(bool),
        "source": pa.Column(str),
    },
    checks=[
        pa.Check(
            lambda df: df["pupils"].isna() == df["suppressed"],
            error="pupils is missing exactly where the MIM suppressed a count of 3 or fewer",
        )
    ],
    unique=["school_code", "year"],
    strict=True,
)

SCHOOL_GRADES = pa.DataFrameSchema(
    {
        "school_code": _school_code,
        "year": pa.Column("Int64"),
        "order": pa.Column(str, pa.Check.isin(["Primary", "Middle", "High"])),
        "grade": pa.Column("Int64", pa.Check.in_range(1, 13)),
        "classes": pa.Column("Int64", pa.Check.ge(0)),
        "male": pa.Column("Int64", pa.Check.ge(0)),
        "female": pa.Column("Int64", pa.Check.ge(0)),
        "pupils": pa.Column("Int64", pa.Check.ge(0)),
    },
    unique=["school_code", "grade"],
    strict=True,
)

SCHOOL_REGISTRY = pa.DataFrameSchema(
    {
        "school_code": _school_code,
        "institute_code": _school_code,
        "region": pa.Column(str),
        "province": pa.Column(str),
        "municipality": pa.Column(str),
        "cadastral_code": pa.Column(str),
    },
    unique=["school_code"],
    strict=True,
)
