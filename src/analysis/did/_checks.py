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


def require_numeric(df: pd.DataFrame, column: str) -> None:
    """Check that ``column`` holds numbers (booleans count as 0/1)."""
    s = df[column]
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
    bad = df.index[df[column].isna()]
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
    vals = df[column].astype(float)
    bad = df.index[~vals.isin([0.0, 1.0])]
    if len(bad):
        raise fail(SOURCE, "must be a 0/1 indicator", column=column, rows=list(bad))


def require_unique_unit_time(df: pd.DataFrame, unit: str, time: str) -> None:
    """Check that each (unit, time) pair appears at most once."""
    dup = df.index[df.duplicated([unit, time], keep=False)]
    if len(dup):
        raise fail(
            SOURCE,
            f"duplicated ({unit}, {time}) rows: each unit must appear at most once per period",
            column=unit,
            rows=list(dup),
        )


def require_constant_within(df: pd.DataFrame, unit: str, column: str, rule: str) -> None:
    """Check that ``column`` takes one value per unit (missing values count as a value)."""
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


def normalise_cohort(df: pd.DataFrame, *, unit: str, cohort: str) -> pd.Series:
    """Return the cohort column with never-treated coded 0 (from 0, NaN or +inf).

    The cohort (first treated period) must be numeric, non-negative and constant within unit:
    a unit whose cohort changes over time is a treatment reversal / inconsistent record.
    """
    require_numeric(df, cohort)
    g = df[cohort].astype(float)
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


def drop_missing_rows(df: pd.DataFrame, columns: Sequence[str], notes: Notes) -> pd.DataFrame:
    """Drop rows with a missing value in ``columns`` (recorded in ``notes``)."""
    mask = df[list(columns)].isna().any(axis=1)
    if mask.any():
        missing = [c for c in columns if df[c].isna().any()]
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
    return drop_missing_rows(df[cols].copy(), [outcome, *numeric], notes)


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
    d["_cohort"] = g.loc[d.index].to_numpy()
    periods = np.sort(d[time].unique())
    late = d[unit][d["_cohort"] > periods[-1]].unique()
    if len(late):
        notes.add(
            f"{len(late)} unit(s) have a cohort after the last period ({periods[-1]:g}); "
            "they are treated as never treated within the data window"
        )
        d.loc[d["_cohort"] > periods[-1], "_cohort"] = 0.0
    early = d[unit][(d["_cohort"] > 0) & (d["_cohort"] <= periods[0])].unique()
    if len(early):
        notes.add(
            f"dropped {len(early)} unit(s) treated in or before the first period "
            f"({periods[0]:g}): no untreated observation"
        )
        d = d.loc[~d[unit].isin(early)]
    if not (d["_cohort"] > 0).any():
        raise fail(SOURCE, "no treated cohort within the data window", column=cohort)
    if require_never_treated and not (d["_cohort"] == 0).any():
        raise fail(
            SOURCE,
            "this estimator needs never-treated units (cohort 0 or missing) and there are none",
            column=cohort,
            rows=list(df.index[:5]),
        )
    return d
