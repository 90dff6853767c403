"""Input validation shared by the DiD estimators.

Every rule broken by the caller's data raises :class:`analysis.errors.DataValidationError`
naming the source (``"DataFrame argument"``), the column, the first offending rows (index
labels of the DataFrame) and the rule.  Conditions that are legitimate but change the sample
(rows with a missing outcome, units observed in only some periods, cohorts outside the
observed time range) are *not* errors: they are handled by a documented rule, announced with a
``UserWarning`` and recorded in the result's ``notes`` so that nothing is dropped silently.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from analysis.errors import fail

SOURCE = "DataFrame argument"
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def _caller_stacklevel() -> int:
    """Return the ``stacklevel`` that points a warning at the first frame outside the package."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        level += 1
        frame = frame.f_back
    return level


class Notes(list[str]):
    """Sample decisions taken while preparing the data (recorded and warned about)."""

    def add(self, message: str) -> None:
        """Record ``message`` and emit it as a ``UserWarning``."""
        self.append(message)
        warnings.warn(message, UserWarning, stacklevel=_caller_stacklevel())


def require_frame(df: object) -> pd.DataFrame:
    """Check that ``df`` is a non-empty pandas DataFrame."""
    if not isinstance(df, pd.DataFrame):
        raise fail(SOURCE, f"expected a pandas DataFrame, got {type(df).__name__}")
    if df.empty:
        raise fail(SOURCE, "the DataFrame has no rows")
    return df


def require_columns(df: pd.DataFrame, columns: Iterable[str | None]) -> None:
    """Check that every named column exists (``None`` entries are skipped)."""
    wanted = [c for c in columns if c is not None]
    missing = [c for c in dict.fromkeys(wanted) if c not in df.columns]
    if missing:
        raise fail(
            SOURCE,
            f"required column(s) missing: {missing}; columns present: {list(df.columns)[:20]}",
            column=missing[0],
        )


def _numpy_kind(s: pd.Series) -> str:
    """The numpy dtype kind of a column (``""`` for an extension dtype)."""
    return s.dtype.kind if isinstance(s.dtype, np.dtype) else ""


def isna(s: pd.Series) -> np.ndarray | None:
    """Missing-value mask of a column; ``None`` when its dtype cannot hold a missing value.

    ``s.isna()`` without the Series it builds: the checks run on every estimator call, and
    for the numpy dtypes of most panels this is a no-op (integers) or one ``np.isnan``.
    """
    kind = _numpy_kind(s)
    if kind in ("i", "u", "b"):
        return None
    if kind in ("f", "c"):
        return np.isnan(s.to_numpy())
    return s.isna().to_numpy()


def require_numeric(df: pd.DataFrame, column: str) -> None:
    """Check that ``column`` holds numbers (booleans count as 0/1)."""
    s = df[column]
    if _numpy_kind(s) in ("i", "u", "f", "c", "b"):
        return
    if ptypes.is_numeric_dtype(s) or ptypes.is_bool_dtype(s):
        return
    coerced = pd.to_numeric(s, errors="coerce")
    bad = s.index[coerced.isna() & s.notna()]
    raise fail(
        SOURCE,
        f"must be numeric (dtype is {s.dtype})",
        column=column,
        rows=list(bad[:10]) if len(bad) else list(s.index[:5]),
    )


def require_no_missing(df: pd.DataFrame, column: str) -> None:
    """Check that ``column`` has no missing values."""
    na = isna(df[column])
    if na is None or not na.any():
        return
    bad = df.index[na]
    if len(bad):
        raise fail(
            SOURCE,
            f"must not contain missing values ({len(bad)} missing)",
            column=column,
            rows=list(bad),
        )


def require_binary(df: pd.DataFrame, column: str) -> None:
    """Check that ``column`` is a complete 0/1 (or boolean) indicator."""
    require_numeric(df, column)
    require_no_missing(df, column)
    vals = df[column].to_numpy(dtype=float)
    ok = (vals == 0.0) | (vals == 1.0)
    if ok.all():
        return
    bad = df.index[~ok]
    if len(bad):
        raise fail(SOURCE, "must be a 0/1 indicator", column=column, rows=list(bad))


def require_unique_unit_time(df: pd.DataFrame, unit: str, time: str) -> None:
    """Check that each (unit, time) pair appears at most once."""
    if not _has_duplicated_pairs(df[unit], df[time]):
        return
    dup = df.index[df.duplicated([unit, time], keep=False)]
    if len(dup):
        raise fail(
            SOURCE,
            f"duplicated ({unit}, {time}) rows: each unit must appear at most once per period",
            column=unit,
            rows=list(dup),
        )


def sorted_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, sort=True)``; for integer ids of a compact range without hashing.

    A unit id column of integers (the counties of mpdta, numbered pupils) is ranked with a
    presence table over its range instead of a hash table and a sort: 1.4 ms instead of
    19 ms on 500k rows, twice per call (issue 14: the wrapper's own work on a 100k-unit
    panel).  Same codes and uniques (tests/test_programme.py compares them through
    :mod:`.staggered`, which imports it as ``_sorted_codes``).
    """
    v = values.to_numpy() if isinstance(values.dtype, np.dtype) else None
    if v is None or v.dtype.kind not in "iu" or len(v) == 0:
        codes, uniq = pd.factorize(values, sort=True)
        return codes, np.asarray(uniq)
    lo, hi = int(v.min()), int(v.max())
    if hi - lo > 4 * len(v) + 16 or hi >= 2**63:  # sparse ids: a table larger than the data
        codes, uniq = pd.factorize(values, sort=True)
        return codes, np.asarray(uniq)
    # in int64 (int8 ids from -100 to 100 would wrap); no copy of int64 ids before the offset
    offset = v.astype(np.int64, copy=False) - lo
    present = np.zeros(hi - lo + 1, dtype=bool)
    present[offset] = True
    uniq = (np.flatnonzero(present) + lo).astype(v.dtype)
    if len(uniq) == len(present):  # every id of the range: the offset is the rank
        return offset.astype(np.intp, copy=False), uniq
    rank = np.cumsum(present) - 1
    return rank[offset].astype(np.intp, copy=False), uniq


def _has_duplicated_pairs(a: pd.Series, b: pd.Series) -> bool:
    """Whether some (a, b) pair appears twice: codes of each column and a presence table.

    A pre-check for :func:`require_unique_unit_time` (which finds and words the rows only
    when there are some): 0.13 ms instead of pandas' ``duplicated`` 0.19 ms on mpdta, 3.7 ms
    instead of 26 ms on 500k rows with integer ids (minimum of 30, a busy 2-core machine).
    Missing values (code -1) and sparse grids defer to pandas.
    """
    ca, ua = sorted_codes(a)
    cb, ub = sorted_codes(b)
    if len(ca) and (ca.min() < 0 or cb.min() < 0):
        return bool(pd.DataFrame({"a": a, "b": b}).duplicated().any())
    key = np.multiply(ca, max(len(ub), 1), dtype=np.int64)
    key += cb
    if len(ua) * max(len(ub), 1) > 8 * len(key) + 2**20:  # a sparse grid: hash the keys
        return bool(pd.Series(key).duplicated().any())
    seen = np.zeros(len(ua) * max(len(ub), 1), dtype=bool)
    seen[key] = True
    return bool(np.count_nonzero(seen) < len(key))


def require_constant_within(df: pd.DataFrame, unit: str, column: str, rule: str) -> None:
    """Check that ``column`` takes one value per unit (missing values count as a value)."""
    if _constant_within(df[unit], df[column]):
        return
    key = (
        df[column].astype(float).fillna(-np.inf)
        if ptypes.is_numeric_dtype(df[column])
        else df[column].astype(str)
    )
    n_values = key.groupby(df[unit]).nunique()
    bad_units = n_values.index[n_values > 1]
    if len(bad_units):
        rows = df.index[df[unit].isin(bad_units)]
        # a count, not the units: in a pupil panel the units are pupils (issue 10)
        raise fail(SOURCE, f"{rule} ({len(bad_units)} unit(s))", column=column, rows=list(rows))


def _constant_within(unit: pd.Series, values: pd.Series) -> bool:
    """Whether ``values`` is constant within ``unit`` (a pre-check on codes, no groupby).

    The rule of :func:`require_constant_within` (numeric: missing = one more value; other
    columns compared as text, where pandas' ``nunique`` skips a missing value): each unit's
    value written at its code, read back for every row.  ``False`` also when a unit id is
    missing, so that pandas decides and words it.
    """
    ucodes, units = sorted_codes(unit)
    if len(ucodes) and ucodes.min() < 0:
        return False
    if ptypes.is_numeric_dtype(values):
        v = values.to_numpy(dtype=float, na_value=np.nan)
        v = np.where(np.isnan(v), -np.inf, v)
    else:
        v = pd.factorize(values.astype(str))[0]  # -1: missing, skipped
        ucodes, v = ucodes[v >= 0], v[v >= 0]
    of_unit = np.empty(len(units), dtype=v.dtype)
    of_unit[ucodes] = v
    return bool(np.array_equal(of_unit[ucodes], v))


def normalise_cohort(df: pd.DataFrame, *, unit: str, cohort: str) -> pd.Series:
    """Return the cohort column with never-treated coded 0 (from 0, NaN or +inf).

    The cohort (first treated period) must be numeric, non-negative and constant within unit:
    a unit whose cohort changes over time is a treatment reversal / inconsistent record.
    """
    require_numeric(df, cohort)
    s = df[cohort]
    if _numpy_kind(s) in ("i", "u", "f", "b"):  # on arrays; pandas below words a failure
        v = s.to_numpy(dtype=float)
        g = np.where(np.isfinite(v), v, 0.0)  # NaN and ±inf: never treated
        codes, units = sorted_codes(df[unit])
        if not (g < 0).any() and (len(codes) == 0 or codes.min() >= 0):
            of_unit = np.zeros(len(units))
            of_unit[codes] = g
            if np.array_equal(of_unit[codes], g):
                return pd.Series(g, index=df.index, name=s.name)
    g = s.astype(float)
    g = g.where(np.isfinite(g) | g.isna(), np.nan)  # +inf -> NaN (never treated)
    neg = df.index[g < 0]
    if len(neg):
        raise fail(
            SOURCE,
            "cohort (first treated period) must be >= 0; use 0 or missing for never treated",
            column=cohort,
            rows=list(neg),
        )
    g = g.fillna(0.0)
    tmp = pd.DataFrame({unit: df[unit], cohort: g}, index=df.index)
    require_constant_within(
        tmp,
        unit,
        cohort,
        "treatment reversal / inconsistent cohort: the first treated "
        "period changes within unit (it must be fixed per unit)",
    )
    return g


def cohort_from_indicator(df: pd.DataFrame, *, unit: str, time: str, treated: str) -> pd.Series:
    """Return each row's cohort (first period with ``treated == 1``; 0 if never).

    Raises if the indicator is not absorbing, i.e. a unit goes from treated (1) back to
    untreated (0): staggered-adoption estimators assume treatment, once on, stays on.
    """
    require_binary(df, treated)
    d = df[[unit, time]].copy()
    d["_d"] = df[treated].astype(float)
    d = d.sort_values([unit, time])
    prev_max = d.groupby(unit)["_d"].cummax()
    reversal = d.index[(prev_max == 1) & (d["_d"] == 0)]
    if len(reversal):
        raise fail(
            SOURCE,
            "treatment reversal: the treated indicator goes from 1 back to 0 "
            "within a unit (treatment must be absorbing)",
            column=treated,
            rows=list(reversal),
        )
    first = d.loc[d["_d"] == 1].groupby(unit)[time].min()
    return df[unit].map(first).fillna(0.0).astype(float)


def require_absorbing(df: pd.DataFrame, *, unit: str, time: str, treated: str) -> None:
    """Check that ``treated`` is a 0/1 indicator that never goes from 1 back to 0 in a unit.

    The check of :func:`cohort_from_indicator` without building the cohorts (no sort, no
    groupby: the first treated period of every unit on integer codes); that function words
    the error when the check fails.  Expects unique unit-time rows without a missing unit or
    time (:func:`prepare_panel` checks both).
    """
    require_binary(df, treated)
    codes, units = sorted_codes(df[unit])
    t = df[time].to_numpy(dtype=float)
    on = df[treated].to_numpy(dtype=float) == 1.0
    if len(codes) and codes.min() < 0:  # a missing unit: the general path
        cohort_from_indicator(df, unit=unit, time=time, treated=treated)
        return
    first = np.full(len(units), np.inf)
    np.minimum.at(first, codes[on], t[on])
    if np.any(~on & (t > first[codes])):  # untreated after the unit's first treated period
        cohort_from_indicator(df, unit=unit, time=time, treated=treated)  # raises
        raise RuntimeError("cohort_from_indicator found no reversal where its check did")


def drop_missing_rows(df: pd.DataFrame, columns: Sequence[str], notes: Notes) -> pd.DataFrame:
    """Drop rows with a missing value in ``columns`` (recorded in ``notes``)."""
    mask: np.ndarray | None = None
    missing = []
    for c in columns:
        na = isna(df[c])
        if na is not None and na.any():
            mask = na if mask is None else mask | na
            missing.append(c)
    if mask is not None:
        record_missing_rows(int(mask.sum()), missing, notes)
        return df.loc[~mask]
    return df


def record_missing_rows(n_rows: int, columns: Sequence[str], notes: Notes) -> None:
    """Record (and warn) that ``n_rows`` rows with a missing value in ``columns`` were dropped.

    The wording of :func:`drop_missing_rows`, for estimators that find the rows on arrays.
    """
    # a count, never row positions: notes reach the pages, and rows of a pupil file
    # point at pupils (issue 11)
    notes.add(f"dropped {n_rows} row(s) with missing values in {', '.join(map(str, columns))}")


def balance_panel(df: pd.DataFrame, *, unit: str, time: str, notes: Notes) -> pd.DataFrame:
    """Keep only units observed in every period (R ``did``'s default for unbalanced panels)."""
    n_periods = df[time].nunique()
    counts = df.groupby(unit)[time].transform("nunique")
    keep = counts == n_periods
    if not keep.all():
        dropped = df.loc[~keep, unit].unique()
        record_balancing(
            n_dropped=len(dropped),
            n_periods=n_periods,
            nothing_left=bool(keep.sum() == 0),
            unit=unit,
            notes=notes,
        )
        df = df.loc[keep]
    return df


def record_balancing(
    *, n_dropped: int, n_periods: int, nothing_left: bool, unit: str, notes: Notes
) -> None:
    """Record the balancing of :func:`balance_panel` (or raise when it leaves no data).

    The wording of :func:`balance_panel`, for estimators that count the units on arrays.
    """
    if nothing_left:
        raise fail(
            SOURCE,
            f"no unit is observed in all {n_periods} periods, so the "
            "balanced-panel rule (R did's default) leaves no data; use "
            "allow_unbalanced=True (e.g. pupil registers)",
            column=unit,
        )
    # counts only: unit ids could be pupil ids, which must never reach a report
    notes.add(
        f"unbalanced panel: dropped {n_dropped} unit(s) not observed in all "
        f"{n_periods} periods (R did's default)"
    )


def require_nested(df: pd.DataFrame, *, unit: str, cluster: str) -> None:
    """Check that each unit belongs to exactly one cluster."""
    require_no_missing(df, cluster)
    require_constant_within(
        df, unit, cluster, "cluster must be constant within unit (units nested in clusters)"
    )


def prepare_panel(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    columns: Sequence[str | None],
    numeric: Sequence[str],
    notes: Notes,
) -> pd.DataFrame:
    """Check a long panel for the estimators and return the needed columns only.

    Errors: not a DataFrame, missing columns, non-numeric outcome/time/``numeric`` columns,
    missing unit or time, duplicated unit-time rows.  Rows with a missing outcome or
    ``numeric`` value are dropped (recorded in ``notes``).
    """
    require_frame(df)
    require_columns(df, [outcome, unit, time, *columns])
    for col in (outcome, time, *numeric):
        require_numeric(df, col)
    require_no_missing(df, unit)
    require_no_missing(df, time)
    require_unique_unit_time(df, unit, time)
    cols = list(dict.fromkeys([unit, time, outcome, *[c for c in columns if c]]))
    # a new frame of the columns (a quarter of the time of ``df[cols].copy()``)
    return drop_missing_rows(
        pd.DataFrame({c: df[c] for c in cols}, index=df.index), [outcome, *numeric], notes
    )


def prepare_cohort_panel(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    columns: Sequence[str | None] = (),
    numeric: Sequence[str] = (),
    notes: Notes,
    require_never_treated: bool = False,
) -> pd.DataFrame:
    """Validate a staggered-adoption panel and add a normalised ``_cohort`` column.

    Never treated = 0.  Units whose cohort lies after the last observed period are treated
    as never treated within the window; units treated in or before the first period (no
    untreated observation) are dropped.  Both are recorded in ``notes``.
    """
    g = (
        normalise_cohort(require_frame(df), unit=unit, cohort=cohort)
        if cohort in df.columns
        else None
    )
    if g is None:
        require_columns(df, [cohort])
    d = prepare_panel(
        df,
        outcome=outcome,
        unit=unit,
        time=time,
        columns=[cohort, *columns],
        numeric=numeric,
        notes=notes,
    )
    # every row kept (the usual case): the rows of d are those of df, in order
    d["_cohort"] = g.to_numpy() if len(d) == len(df) else g.loc[d.index].to_numpy()
    periods = np.sort(d[time].unique())
    c = d["_cohort"].to_numpy()
    if (c > periods[-1]).any():  # the units counted only when there are some
        late = d[unit][c > periods[-1]].unique()
        notes.add(
            f"{len(late)} unit(s) have a cohort after the last period ({periods[-1]:g}); "
            "they are treated as never treated within the data window"
        )
        d.loc[d["_cohort"] > periods[-1], "_cohort"] = 0.0
        c = d["_cohort"].to_numpy()
    if ((c > 0) & (c <= periods[0])).any():
        early = d[unit][(c > 0) & (c <= periods[0])].unique()
        notes.add(
            f"dropped {len(early)} unit(s) treated in or before the first period "
            f"({periods[0]:g}): no untreated observation"
        )
        d = d.loc[~d[unit].isin(early)]
        c = d["_cohort"].to_numpy()
    if not (c > 0).any():
        raise fail(SOURCE, "no treated cohort within the data window", column=cohort)
    if require_never_treated and not (c == 0).any():
        raise fail(
            SOURCE,
            "this estimator needs never-treated units (cohort 0 or missing) and there are none",
            column=cohort,
            rows=list(df.index[:5]),
        )
    return d
