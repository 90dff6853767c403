"""The array pre-checks of did._checks (issue 14) agree with the pandas checks they front.

Each fast path decides only whether a rule is broken; the pandas version still finds and words
the rows.  These tests compare the decisions with pandas on random panels, including missing
values, float and string ids and sparse grids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.did import _checks
from analysis.errors import DataValidationError


def _ids(rng: np.random.Generator, kind: str, n: int) -> pd.Series:
    v = rng.integers(0, max(n // 3, 1), n)
    if kind == "int":
        return pd.Series(v)
    if kind == "sparse":
        return pd.Series(v * 10**9 + 7)
    if kind == "float":
        s = pd.Series(v / 2.0)
        s[rng.random(n) < 0.05] = np.nan
        return s
    return pd.Series([f"id{x}" for x in v])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["int", "sparse", "float", "str"])
def test_duplicated_pairs_decision_equals_pandas(seed, kind):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    a = _ids(rng, kind, n)
    b = pd.Series(rng.integers(2000, 2000 + int(rng.integers(1, 8)), n))
    want = bool(pd.DataFrame({"a": a, "b": b}).duplicated().any())
    assert _checks._has_duplicated_pairs(a, b) == want
    # deduplicated: never a false alarm
    d = pd.DataFrame({"a": a, "b": b}).drop_duplicates()
    assert not _checks._has_duplicated_pairs(d["a"], d["b"])


@pytest.mark.parametrize("seed", range(20))
def test_absorbing_check_raises_exactly_when_cohort_from_indicator_does(seed):
    rng = np.random.default_rng(seed)
    units, years = 30, 6
    df = pd.DataFrame(
        {"u": np.repeat(np.arange(units) * 3 + 1, years), "t": np.tile(np.arange(years), units)}
    )
    first = rng.choice([99, 1, 2, 3, 4], units)
    df["d"] = (df["t"] >= np.repeat(first, years)).astype(int)
    if seed % 2:  # a reversal somewhere
        i = rng.integers(len(df))
        df.loc[i, "d"] = 1 - df.loc[i, "d"]
    df = df.sample(frac=1, random_state=seed).drop(index=df.index[rng.random(len(df)) < 0.1])
    try:
        _checks.cohort_from_indicator(df, unit="u", time="t", treated="d")
        broken = None
    except DataValidationError as exc:
        broken = str(exc)
    if broken is None:
        _checks.require_absorbing(df, unit="u", time="t", treated="d")
    else:
        with pytest.raises(DataValidationError) as info:
            _checks.require_absorbing(df, unit="u", time="t", treated="d")
        assert str(info.value) == broken  # the same rows and wording


def test_isna_and_missing_rows_equal_pandas():
    df = pd.DataFrame(
        {
            "i": [1, 2, 3, 4],
            "f": [1.0, np.nan, 3.0, 4.0],
            "s": ["a", None, "c", "d"],
            "n": pd.array([1, None, 3, None], dtype="Int64"),
            "b": [True, False, True, True],
        }
    )
    for c in df.columns:
        na = _checks.isna(df[c])
        got = np.zeros(len(df), bool) if na is None else na
        np.testing.assert_array_equal(got, df[c].isna().to_numpy())
    notes = _checks.Notes()
    with pytest.warns(UserWarning, match="dropped 2 row"):
        out = _checks.drop_missing_rows(df, ["i", "f", "n"], notes)
    pd.testing.assert_frame_equal(out, df.loc[~df[["i", "f", "n"]].isna().any(axis=1)])
    assert notes == ["dropped 2 row(s) with missing values in f, n"]
    assert _checks.drop_missing_rows(df, ["i", "b"], _checks.Notes()) is df


def test_binary_check_equals_isin():
    ok = pd.DataFrame({"d": [0, 1, 1, 0], "b": [True, False, True, True]})
    _checks.require_binary(ok, "d")
    _checks.require_binary(ok, "b")
    bad = pd.DataFrame({"d": [0.0, 1.0, 0.5, 2.0]})
    with pytest.raises(DataValidationError, match="0/1 indicator") as info:
        _checks.require_binary(bad, "d")
    assert list(info.value.violations[0].rows) == [2, 3]


@pytest.mark.parametrize("seed", range(8))
def test_normalise_cohort_equals_the_pandas_rule(seed):
    """Never treated = 0 from 0, NaN or ±inf; negative or changing cohorts are errors."""
    rng = np.random.default_rng(seed)
    units = np.repeat(rng.permutation(40) * 7, 4)
    g = np.repeat(rng.choice([0.0, 2004.0, 2006.0, np.nan, np.inf], 40), 4)
    df = pd.DataFrame({"u": units, "g": g}).sample(frac=1, random_state=seed)
    if seed % 4 == 1:
        df.iloc[3, 1] = -1.0  # negative
    if seed % 4 == 2:
        df.iloc[5, 1] = 1999.0  # changes within a unit
    want = df["g"].where(np.isfinite(df["g"]), np.nan).fillna(0.0)
    broken = (want < 0).any() or (want.groupby(df["u"]).nunique() > 1).any()
    if broken:
        with pytest.raises(DataValidationError):
            _checks.normalise_cohort(df, unit="u", cohort="g")
    else:
        got = _checks.normalise_cohort(df, unit="u", cohort="g")
        pd.testing.assert_series_equal(got, want.rename("g"))


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("kind", ["float", "str", "Int64"])
def test_constant_within_decision_equals_groupby(seed, kind):
    rng = np.random.default_rng(seed)
    n_units = 25
    unit = np.repeat(np.arange(n_units) * 3, 3)
    per_unit = rng.choice([1.0, 2.0, np.nan], n_units)
    v = pd.Series(per_unit[unit // 3])
    if seed % 3:  # a unit with two values (missing counts as one)
        v.iloc[int(rng.integers(len(v)))] = 7.0 if seed % 3 == 1 else np.nan
    if kind == "str":
        v = v.map(lambda x: None if pd.isna(x) else f"s{x:g}").astype("str")
    elif kind == "Int64":
        v = v.astype("Int64")
    df = pd.DataFrame({"u": unit, "v": v}).sample(frac=1, random_state=seed)
    key = df["v"].astype(float).fillna(-np.inf) if kind != "str" else df["v"].astype(str)
    constant = bool((key.groupby(df["u"]).nunique() <= 1).all())
    assert _checks._constant_within(df["u"], df["v"]) == constant
    if constant:
        _checks.require_constant_within(df, "u", "v", "rule")
    else:
        with pytest.raises(DataValidationError, match="rule"):
            _checks.require_constant_within(df, "u", "v", "rule")
