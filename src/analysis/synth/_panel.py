"""Input checks and reshaping: a long unit x time panel into the matrices the estimators use.

Every estimator in :mod:`analysis.synth` starts from :func:`build_panel`, which

* checks the DataFrame (columns present, numeric and finite outcome, no duplicated unit-time
  rows, treated unit present, ``start`` inside the data, at least two pre-periods, at least
  one donor) and raises :class:`~analysis.errors.DataValidationError` naming the rule broken;
* handles missing outcome values without dropping anything silently:

  - a period in which the **treated unit** has no outcome is removed from the fit (for every
    unit), with a recorded reason; if fewer than two pre-periods remain it is an error;
  - a **donor** with a missing outcome in any retained period (pre or post) is removed from
    the donor pool, with a recorded reason; it is an error only if no donor is left;
  - units that are in the data but not in a user-supplied ``donors`` list are recorded too;
  - **covariates** (predictors of the synthetic control) are carried along *with* their
    missing values: they are averaged over time windows later, over the years observed in
    each window (see :mod:`analysis.synth._predictors`), so a gap in one year is not a reason
    to drop a unit here.

The result, :class:`PanelData`, is a balanced, complete matrix ``Y`` (periods x donors) plus
the treated unit's series; every exclusion is a row of :attr:`PanelData.excluded`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import DataValidationError, fail

SOURCE = "DataFrame argument"

#: Columns of the ``excluded`` table.
EXCLUDED_COLUMNS = ("level", "unit", "time", "reason")

# Canonical column names of the long frame handed to the libraries (user column names may
# contain spaces or clash with formula syntax).
Y, UNIT, TIME = "_y", "_unit", "_time"


def _empty_excluded() -> pd.DataFrame:
    return pd.DataFrame({c: np.empty(0, dtype=object) for c in EXCLUDED_COLUMNS})


def _fmt_periods(periods: Sequence[Any], max_shown: int = 6) -> str:
    shown = ", ".join(str(p) for p in periods[:max_shown])
    more = f" (+{len(periods) - max_shown} more)" if len(periods) > max_shown else ""
    return shown + more


def _frozen_array(arr: np.ndarray) -> np.ndarray:
    """``arr`` C-contiguous (copied only if it is not) and read-only."""
    out = np.ascontiguousarray(arr)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class PanelData:
    """A validated, balanced and complete panel: one treated unit and ``J`` donors.

    Attributes
    ----------
    outcome, unit, time
        Column names in the user's DataFrame (kept for labels and messages).
    treated
        Identifier of the treated unit.
    start
        First treated period, as given by the user.
    times
        Retained periods, sorted, shape ``(T,)``.
    y_treated
        Outcome of the treated unit, shape ``(T,)``.
    y_donors
        Outcomes of the donors, shape ``(T, J)`` (periods in rows, donors in columns).
    donors
        Donor identifiers, in the column order of ``y_donors``.
    n_pre
        Number of retained pre-treatment periods (the first ``n_pre`` of ``times``).
    excluded
        Units and periods left out, and why (columns ``level, unit, time, reason``).
    covariates
        Predictor covariates (for synthetic control with predictors): name -> array of shape
        ``(T, J + 1)``, column 0 the treated unit, then the donors.  May contain NaN (a
        predictor not observed in a period).
    """

    outcome: str
    unit: str
    time: str
    treated: Hashable
    start: Any
    times: np.ndarray
    y_treated: np.ndarray
    y_donors: np.ndarray
    donors: tuple[Hashable, ...]
    n_pre: int
    excluded: pd.DataFrame = field(default_factory=_empty_excluded)
    covariates: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every array is stored C-contiguous: a worker receives the panel pickled, and pickling
        # makes a strided view contiguous; BLAS sums a strided vector in another order (one ulp
        # in the leave-one-out ATTs), so a view here made results depend on the worker count.
        for name in ("times", "y_treated", "y_donors"):
            object.__setattr__(self, name, _frozen_array(getattr(self, name)))
        object.__setattr__(
            self, "covariates", {k: _frozen_array(v) for k, v in self.covariates.items()}
        )

    # -- shapes ---------------------------------------------------------------------------
    @property
    def n_periods(self) -> int:
        """Number of retained periods ``T``."""
        return len(self.times)

    @property
    def n_post(self) -> int:
        """Number of retained post-treatment periods."""
        return self.n_periods - self.n_pre

    @property
    def n_donors(self) -> int:
        """Number of donors ``J``."""
        return len(self.donors)

    @property
    def post(self) -> np.ndarray:
        """Boolean mask of post-treatment periods, shape ``(T,)``."""
        return np.arange(self.n_periods) >= self.n_pre

    @property
    def pre_times(self) -> np.ndarray:
        """Retained pre-treatment periods."""
        return self.times[: self.n_pre]

    @property
    def post_times(self) -> np.ndarray:
        """Retained post-treatment periods."""
        return self.times[self.n_pre :]

    # -- derived panels (used by the placebo and leave-one-out analyses) -------------------
    def as_treated(self, donor: Hashable) -> PanelData:
        """Return the panel in which ``donor`` is treated and the *other donors* are donors.

        The real treated unit is not part of the new panel (it is not a valid control).
        """
        j = self.donors.index(donor)
        keep = [k for k in range(self.n_donors) if k != j]
        cov = {
            name: np.column_stack([m[:, 1 + j], m[:, [1 + k for k in keep]]])
            for name, m in self.covariates.items()
        }
        return replace(
            self,
            treated=donor,
            y_treated=self.y_donors[:, j].copy(),
            y_donors=self.y_donors[:, keep].copy(),
            donors=tuple(self.donors[k] for k in keep),
            covariates=cov,
        )

    def without_donor(self, donor: Hashable, *, record: bool = True) -> PanelData:
        """Return the panel with ``donor`` removed from the donor pool.

        ``record=False``: without the row of :attr:`excluded` saying so (the leave-one-out
        loop re-fits such panels only for their estimates, and building that one-row table is
        most of the cost of this method).
        """
        j = self.donors.index(donor)
        keep = [k for k in range(self.n_donors) if k != j]
        cov = {name: m[:, [0] + [1 + k for k in keep]] for name, m in self.covariates.items()}
        if not record:
            return replace(
                self,
                y_donors=self.y_donors[:, keep].copy(),
                donors=tuple(self.donors[k] for k in keep),
                covariates=cov,
            )
        row = pd.DataFrame(
            [
                {
                    "level": "unit",
                    "unit": donor,
                    "time": None,
                    "reason": "left out (leave-one-out re-estimate)",
                }
            ]
        )
        return replace(
            self,
            y_donors=self.y_donors[:, keep].copy(),
            donors=tuple(self.donors[k] for k in keep),
            covariates=cov,
            excluded=concat_excluded(self.excluded, row),
        )

    def excluding_donors(self, reasons: Mapping[Hashable, str]) -> PanelData:
        """Return the panel without the donors in ``reasons`` (donor -> recorded reason).

        Raises
        ------
        DataValidationError
            If no donor would be left.
        """
        if not reasons:
            return self
        keep = [k for k, d in enumerate(self.donors) if d not in reasons]
        if not keep:
            raise fail(
                SOURCE,
                f"no donors left after excluding units with missing values "
                f"({self.n_donors} candidate(s); e.g. {list(reasons.values())[:3]})",
                column=self.unit,
                rows=list(reasons),
            )
        cov = {name: m[:, [0] + [1 + k for k in keep]] for name, m in self.covariates.items()}
        rows = pd.DataFrame(
            [
                {"level": "unit", "unit": d, "time": None, "reason": "donor excluded: " + r}
                for d, r in reasons.items()
            ]
        )
        return replace(
            self,
            y_donors=self.y_donors[:, keep].copy(),
            donors=tuple(self.donors[k] for k in keep),
            covariates=cov,
            excluded=concat_excluded(self.excluded, rows),
        )

    def truncated(self, fake_start: Any) -> PanelData:
        """Return the pre-period only, with a fake treatment date ``fake_start`` inside it.

        Raises
        ------
        DataValidationError
            If ``fake_start`` leaves fewer than two pre-periods or no post-period inside the
            real pre-period.
        """
        pre_times = self.pre_times
        n_fake_pre = int(np.sum(pre_times < fake_start))
        if n_fake_pre < 2:
            raise fail(
                SOURCE,
                f"fake_start={fake_start!r} leaves {n_fake_pre} retained "
                "pre-period(s) before it; at least 2 are needed",
                column=self.time,
                rows=[str(t) for t in pre_times[:n_fake_pre]],
            )
        if n_fake_pre >= self.n_pre:
            raise fail(
                SOURCE,
                f"fake_start={fake_start!r} must lie inside the real pre-period "
                f"(before start={self.start!r}) so that some pre-period data are "
                "treated as 'post'",
                column=self.time,
            )
        dropped = self.post_times
        row = pd.DataFrame(
            [
                {
                    "level": "period",
                    "unit": None,
                    "time": t,
                    "reason": f"at or after the real start {self.start!r}: "
                    "dropped for the in-time placebo",
                }
                for t in dropped
            ]
        )
        cov = {name: m[: self.n_pre].copy() for name, m in self.covariates.items()}
        return replace(
            self,
            start=fake_start,
            times=pre_times.copy(),
            y_treated=self.y_treated[: self.n_pre].copy(),
            y_donors=self.y_donors[: self.n_pre].copy(),
            n_pre=n_fake_pre,
            covariates=cov,
            excluded=concat_excluded(self.excluded, row),
        )

    def long_frame(
        self,
        *,
        with_covariates: bool = False,
        indicator: tuple[str, bool, type] | None = None,
    ) -> pd.DataFrame:
        """Return the panel in long form with canonical columns ``_unit, _time, _y``.

        Rows run period by period, the treated unit first.  ``indicator=(name, post_only,
        dtype)`` adds the treatment indicator the libraries take: 1 on the treated unit's
        rows (its post-period rows only when ``post_only``), built from the row layout rather
        than by comparing the unit column (a column added at construction, not inserted).
        """
        units = (self.treated, *self.donors)
        y = np.column_stack([self.y_treated, self.y_donors])  # (T, J+1)
        columns = {
            UNIT: np.tile(np.array(units, dtype=object), self.n_periods),
            TIME: np.repeat(self.times, len(units)),
            Y: y.ravel(),
        }
        if with_covariates:
            for name, m in self.covariates.items():
                columns[name] = m.ravel()
        if indicator is not None:
            name, post_only, dtype = indicator
            on = np.zeros((self.n_periods, len(units)), dtype=bool)
            on[self.n_pre if post_only else 0 :, 0] = True
            columns[name] = on.ravel().astype(dtype)
        return pd.DataFrame(columns)


def concat_excluded(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Append exclusion rows ``b`` to the table ``a``."""
    if b.empty:
        return a
    if a.empty:
        return b.reset_index(drop=True)
    return pd.concat([a, b], ignore_index=True)


def _numpy_kind(s: pd.Series) -> str:
    """The numpy dtype kind of a column (``""`` for an extension dtype)."""
    return s.dtype.kind if isinstance(s.dtype, np.dtype) else ""


def _check_numeric(df: pd.DataFrame, col: str) -> None:
    s = df[col]
    kind = _numpy_kind(s)
    if kind in ("i", "u"):  # numeric, and integers are finite
        return
    if kind == "f" and not np.isinf(s.to_numpy()).any():
        return
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        coerced = pd.to_numeric(s, errors="coerce")
        bad = s.index[coerced.isna() & s.notna()].tolist()
        rows = bad if bad else s.index[:5].tolist()
        raise fail(
            SOURCE,
            f"must be numeric (found dtype {s.dtype}); offending values "
            f"e.g. {[s.loc[r] for r in rows[:3]]!r}",
            column=col,
            rows=rows,
        )
    vals = s.to_numpy(dtype=float, na_value=np.nan)
    inf = s.index[np.isinf(vals)].tolist()
    if inf:
        raise fail(SOURCE, "must be finite (infinite values found)", column=col, rows=inf)


def build_panel(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    treated_unit: Hashable,
    start: Any,
    donors: Sequence[Hashable] | None = None,
    covariates: Sequence[str] = (),
) -> PanelData:
    """Validate a long panel and turn it into a :class:`PanelData`.

    Parameters
    ----------
    df
        Long panel, one row per unit x period.
    outcome, unit, time
        Column names.
    treated_unit
        Identifier (value of ``unit``) of the treated unit.
    start
        First treated period; periods ``>= start`` are post-treatment.
    donors
        Candidate control units; default: every unit except the treated one.
    covariates
        Extra numeric columns carried along (predictors of the synthetic control), missing
        values included; they must be numeric and finite where observed.

    Returns
    -------
    PanelData

    Raises
    ------
    DataValidationError
        Missing columns, non-numeric or infinite outcome, missing unit/time identifiers,
        duplicated unit-time rows, treated unit absent, ``start`` outside the data, fewer
        than two pre-periods, a donor list naming unknown units or the treated unit, no
        donor left after exclusions.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(SOURCE, f"expected a pandas DataFrame, got {type(df).__name__}")
    covariates = list(covariates)
    needed = [outcome, unit, time, *covariates]
    missing = [c for c in dict.fromkeys(needed) if c not in df.columns]
    if missing:
        raise fail(
            SOURCE,
            f"required column(s) {missing} not found; columns present: {list(df.columns)[:20]}",
            column=missing[0],
        )
    if df.empty:
        raise DataValidationError(SOURCE, "the DataFrame has no rows")
    for col in (unit, time):
        if _numpy_kind(df[col]) in ("i", "u", "b"):  # cannot hold a missing value
            continue
        isna = df[col].isna()
        if isna.any():
            na = df.index[isna].tolist()
            raise fail(SOURCE, "identifier must not be missing", column=col, rows=na)
    for col in (outcome, *covariates):
        _check_numeric(df, col)
    # one factorisation of each identifier serves the duplicate check and the reshaping
    ucodes, ulabels = pd.factorize(df[unit])  # in order of appearance, as pd.unique
    tcodes, tlabels = pd.factorize(df[time], sort=True)
    n_t = max(len(tlabels), 1)
    cell = np.multiply(ucodes, n_t, dtype=np.int64)
    cell += tcodes
    seen = np.zeros(len(ulabels) * n_t, dtype=bool)
    seen[cell] = True
    if np.count_nonzero(seen) < len(cell):  # a (unit, time) pair twice: find and word it
        dup = df.duplicated(subset=[unit, time], keep=False)
        rows = df.index[dup].tolist()
        # by position: with repeated index labels .loc[label] is a frame, not a row
        first = df[[unit, time]].iloc[int(np.argmax(dup.to_numpy()))].tolist()
        raise fail(
            SOURCE,
            f"duplicated unit-time rows: each ({unit}, {time}) pair must appear "
            f"once (first duplicate: {first[0]!r}, {first[1]!r})",
            column=f"{unit}, {time}",
            rows=rows,
        )

    units_present = pd.unique(df[unit])
    if treated_unit not in set(units_present):
        raise fail(
            SOURCE,
            f"treated unit {treated_unit!r} not found in column {unit!r} "
            f"(units present, first 10: {list(units_present[:10])})",
            column=unit,
        )

    excluded_rows: list[dict[str, Any]] = []
    if donors is None:
        donor_list = [u for u in units_present if u != treated_unit]
    else:
        donor_list = list(dict.fromkeys(donors))
        unknown = [d for d in donor_list if d not in set(units_present)]
        if unknown:
            raise fail(
                SOURCE, f"donor(s) {unknown[:10]} not found in the data", column=unit, rows=unknown
            )
        if treated_unit in donor_list:
            raise fail(
                SOURCE,
                f"the treated unit {treated_unit!r} is in the donor list",
                column=unit,
                rows=[treated_unit],
            )
        keep = set(donor_list) | {treated_unit}
        for u in units_present:
            if u not in keep:
                excluded_rows.append(
                    {
                        "level": "unit",
                        "unit": u,
                        "time": None,
                        "reason": "not in the donor list supplied",
                    }
                )
    if not donor_list:
        raise fail(
            SOURCE,
            "no donor units: the donor list is empty or the data contain only the treated unit",
            column=unit,
        )

    # rows of the treated unit and the donors, on the codes (pandas' isin and pivot did the
    # same for 3-10 times the time; the matrices below are the pivot's, values and layout)
    if donors is None:  # every unit, the treated one first (codes follow pd.unique's order)
        t_code = ulabels.get_loc(treated_unit)
        chosen = np.r_[t_code, np.delete(np.arange(len(ulabels)), t_code)]
    else:
        chosen = ulabels.get_indexer([treated_unit, *donor_list])
    col_of = np.full(len(ulabels), -1)
    col_of[chosen] = np.arange(len(chosen))
    sel = col_of[ucodes] >= 0
    t_in = np.zeros(len(tlabels), dtype=bool)
    t_in[tcodes[sel]] = True
    if _numpy_kind(df[time]) in ("i", "u", "f"):
        all_times = np.asarray(tlabels)[t_in]  # sorted, as np.sort(pd.unique(...))
    else:
        all_times = np.sort(pd.unique(df[time][sel]))
    try:
        n_before = int(np.sum(all_times < start))
    except TypeError as exc:
        raise fail(
            SOURCE,
            f"start={start!r} cannot be compared with the values of {time!r} "
            f"(dtype {df[time].dtype})",
            column=time,
        ) from exc
    if n_before == 0 or n_before == len(all_times):
        raise fail(
            SOURCE,
            f"start={start!r} is outside the data: periods run from "
            f"{all_times[0]!r} to {all_times[-1]!r}; start must be after the first "
            "period and not after the last",
            column=time,
        )
    row_of = pd.Index(all_times).get_indexer(np.asarray(tlabels))
    rows, cols = row_of[tcodes[sel]], col_of[ucodes[sel]]

    def wide(column: str) -> np.ndarray:
        """Periods x (treated, *donors) matrix of ``column`` (NaN where not observed)."""
        out = np.full((len(all_times), len(chosen)), np.nan)
        out[rows, cols] = df[column].to_numpy(dtype=float, na_value=np.nan)[sel]
        return out

    y_all = wide(outcome)
    is_pre = all_times < start

    # 1. periods in which the treated unit has no outcome -> dropped for every unit
    y1 = y_all[:, 0]
    keep_t = ~np.isnan(y1)
    for t, pre in zip(all_times[~keep_t], is_pre[~keep_t], strict=True):
        phase = "pre" if pre else "post"
        excluded_rows.append(
            {
                "level": "period",
                "unit": None,
                "time": t,
                "reason": f"treated unit {treated_unit!r} has no {outcome!r} value in this "
                f"{phase}-period; period dropped from the fit for all units",
            }
        )
    n_pre = int(np.sum(keep_t & is_pre))
    n_post = int(np.sum(keep_t & ~is_pre))
    if n_pre < 2:
        raise fail(
            SOURCE,
            f"fewer than 2 pre-periods with an observed outcome for the treated "
            f"unit {treated_unit!r} before start={start!r} (found {n_pre})",
            column=outcome,
            rows=[str(t) for t in all_times[keep_t & is_pre]],
        )
    if n_post < 1:
        raise fail(
            SOURCE,
            f"no post-period (>= start={start!r}) with an observed outcome for "
            f"the treated unit {treated_unit!r}",
            column=outcome,
        )
    times = all_times[keep_t]
    y_all = y_all[keep_t]

    # 2. donors with missing outcome values -> excluded with reason
    missing_y = np.isnan(y_all[:, 1:])
    kept_donors, kept_cols = [], [0]
    for j, d in enumerate(donor_list):
        if not missing_y[:, j].any():
            kept_donors.append(d)
            kept_cols.append(j + 1)
            continue
        miss = missing_y[:, j]
        reasons = []
        if miss[:n_pre].any():
            reasons.append(
                f"missing {outcome!r} in pre-period(s) "
                f"{_fmt_periods(list(times[:n_pre][miss[:n_pre]]))}"
            )
        if miss[n_pre:].any():
            reasons.append(
                f"missing {outcome!r} in post-period(s) "
                f"{_fmt_periods(list(times[n_pre:][miss[n_pre:]]))}"
            )
        excluded_rows.append(
            {
                "level": "unit",
                "unit": d,
                "time": None,
                "reason": "donor excluded: " + "; ".join(reasons),
            }
        )
    if not kept_donors:
        why = [r["reason"] for r in excluded_rows if r["level"] == "unit"][:3]
        raise fail(
            SOURCE,
            f"no donors left after excluding units with missing values "
            f"({len(donor_list)} candidate(s); e.g. {why})",
            column=outcome,
            rows=list(donor_list),
        )

    excluded = (
        pd.DataFrame(excluded_rows, columns=list(EXCLUDED_COLUMNS))
        if excluded_rows
        else _empty_excluded()
    )
    # 3. covariates: carried with their gaps (averaged over observed years later)
    # C order, as before (np.column_stack, DataFrame.to_numpy): the fits' BLAS calls see the
    # same layout
    cov = {c: np.ascontiguousarray(wide(c)[keep_t][:, kept_cols]) for c in covariates}
    return PanelData(
        outcome=outcome,
        unit=unit,
        time=time,
        treated=treated_unit,
        start=start,
        times=np.asarray(times),
        y_treated=y_all[:, 0],  # copied C-contiguous by PanelData
        y_donors=np.ascontiguousarray(y_all[:, kept_cols[1:]]),
        donors=tuple(kept_donors),
        n_pre=n_pre,
        excluded=excluded,
        covariates=cov,
    )
