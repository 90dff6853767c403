r"""Placebo and robustness analyses shared by the three estimators.

* :func:`placebo_in_space` -- ADH (2010) permutation test.  Each donor in turn is treated as if
  it were the treated unit; its counterfactual is built by the *same estimator* from the
  *other donors* (the real treated unit is never a control, as in ``SCtools`` and the ADH
  Figures 4-7), re-estimated from scratch (tuning such as the synthetic-DiD regularisation is
  recomputed on each placebo panel, as a fresh analysis of that unit would).  For every unit

  .. math::

      \mathrm{MSPE}_{\mathrm{pre}} = \frac{1}{T_0}\sum_{t \le T_0} \hat u_t^2, \quad
      \mathrm{MSPE}_{\mathrm{post}} = \frac{1}{T_1}\sum_{t > T_0} \hat u_t^2, \quad
      r = \mathrm{MSPE}_{\mathrm{post}} / \mathrm{MSPE}_{\mathrm{pre}},

  with :math:`\hat u_t` the gap between the unit and its counterfactual.  The permutation
  p-value is the rank of the treated unit's ratio (1 = largest; ties count against the
  treated unit) divided by the number of units considered.  Optionally, placebos whose
  pre-period MSPE exceeds ``k`` times the treated unit's are left out of the comparison
  (ADH 2010 use k = 20, 5, 2).
* :func:`placebo_in_time` -- the data are cut at the real start and a fake start inside the
  pre-period is analysed with the same estimator; an effect there signals a poor design.
* :func:`leave_one_out` -- re-estimation dropping, in turn, each donor with positive weight.
* :func:`placebo_draws` -- the draws of the placebo variance of Arkhangelsky et al. (2021,
  Algorithm 4) for one treated unit, taken from the in-space placebo estimates.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from analysis._util import to_jsonable
from analysis.replicate import run_tasks
from analysis.synth._fit import PointFit, Spec
from analysis.synth._panel import PanelData

if TYPE_CHECKING:  # pragma: no cover
    from analysis.synth.result import SynthResult

#: Weight above which a donor counts as "used" (leave-one-out).
POSITIVE_WEIGHT = 1e-6

_FAIL = (ValueError, ArithmeticError, np.linalg.LinAlgError)

T = TypeVar("T")

#: Seconds under which a placebo or leave-one-out loop without ``n_jobs`` runs in this process
#: (its duration estimated from its first re-fit; see :func:`_map`).
SERIAL_BELOW = 1.0


def _mspe(gap: np.ndarray) -> float:
    return float(np.mean(gap**2)) if gap.size else float("nan")


def _ratio(pre: float, post: float) -> float:
    if pre > 0:
        return post / pre
    return float("inf") if post > 0 else float("nan")


@dataclass(frozen=True, eq=False)
class PlaceboInSpace:
    """In-space placebo test: every donor in turn as the treated unit.

    Attributes
    ----------
    method
        Estimator used (same as the real analysis).
    treated_unit
        The real treated unit.
    max_pre_rmspe_ratio
        ``k`` of the pre-fit filter (placebos with pre-period MSPE above ``k`` times the
        treated unit's are left out), or ``None``.
    """

    method: str
    treated_unit: Hashable
    max_pre_rmspe_ratio: float | None
    _table: pd.DataFrame
    _gaps: pd.DataFrame
    _post: np.ndarray

    @property
    def table(self) -> pd.DataFrame:
        """One row per unit (treated unit included).

        Columns ``unit, is_treated, att, pre_mspe, post_mspe, pre_rmspe, post_rmspe, ratio``
        (post/pre MSPE), ``status`` (``"ok"`` or why the fit failed), ``warnings`` (messages
        the library emitted for that fit, e.g. a poor pre-treatment fit), ``kept``, ``note``
        (why a placebo was left out) and ``rank`` (among kept units, 1 = largest ratio).
        """
        return self._table.copy()

    @property
    def kept(self) -> pd.DataFrame:
        """Rows of :attr:`table` that enter the comparison, sorted by rank."""
        t = self._table[self._table["kept"]]
        return t.sort_values("rank", kind="stable").reset_index(drop=True)

    @property
    def n_units(self) -> int:
        """Number of units considered (treated unit included)."""
        return int(self._table["kept"].sum())

    @property
    def n_dropped(self) -> int:
        """Placebos left out (pre-fit filter or failed fits)."""
        return int((~self._table["kept"]).sum())

    @property
    def treated_rank(self) -> int:
        """Rank of the treated unit's post/pre MSPE ratio (1 = largest)."""
        return int(self._table.loc[self._table["is_treated"], "rank"].iloc[0])

    @property
    def treated_ratio(self) -> float:
        """Post/pre MSPE ratio of the treated unit."""
        return float(self._table.loc[self._table["is_treated"], "ratio"].iloc[0])

    @property
    def p_value(self) -> float:
        """Permutation p-value: ``treated_rank / n_units``."""
        return self.treated_rank / self.n_units

    @property
    def gaps(self) -> pd.DataFrame:
        """Gap series (periods x units) of the kept units, treated unit first."""
        cols = self._table.loc[self._table["kept"], "unit"].tolist()
        return self._gaps[cols].copy()

    @property
    def post(self) -> np.ndarray:
        """Post-period mask aligned with the rows of :attr:`gaps`."""
        return self._post.copy()

    def filtered(self, max_pre_rmspe_ratio: float | None) -> PlaceboInSpace:
        """Return the same placebo runs with another pre-fit filter ``k`` (or none)."""
        return _rank(
            self._table, self._gaps, self._post, self.method, self.treated_unit, max_pre_rmspe_ratio
        )

    def tidy(self) -> pd.DataFrame:
        """Return :attr:`table`."""
        return self.table

    def summary(self) -> str:
        """Return a few lines: rank, p-value, units considered and dropped."""
        filt = (
            "no pre-fit filter"
            if self.max_pre_rmspe_ratio is None
            else f"placebos with pre-period MSPE > {self.max_pre_rmspe_ratio:g} x the treated "
            "unit's left out"
        )
        return (
            f"In-space placebo test ({self.method}), treated unit {self.treated_unit!r}\n"
            f"post/pre MSPE ratio {self.treated_ratio:.3g}, rank {self.treated_rank} of "
            f"{self.n_units} units -> permutation p = {self.p_value:.3f}\n"
            f"{filt}; {self.n_dropped} placebo(s) left out"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (table and test result; gap series omitted)."""
        return to_jsonable(
            {
                "method": self.method,
                "treated_unit": self.treated_unit,
                "max_pre_rmspe_ratio": self.max_pre_rmspe_ratio,
                "treated_rank": self.treated_rank,
                "n_units": self.n_units,
                "p_value": self.p_value,
                "treated_ratio": self.treated_ratio,
                "table": self._table.to_dict(orient="records"),
            }
        )

    def __repr__(self) -> str:
        return (
            f"PlaceboInSpace(method={self.method!r}, rank={self.treated_rank}/"
            f"{self.n_units}, p={self.p_value:.3f})"
        )


def _rank(
    table: pd.DataFrame,
    gaps: pd.DataFrame,
    post: np.ndarray,
    method: str,
    treated: Hashable,
    k: float | None,
) -> PlaceboInSpace:
    if k is not None and not k > 0:
        raise ValueError(f"max_pre_rmspe_ratio must be positive, got {k!r}")
    t = table.copy()
    ok = t["status"] == "ok"
    kept = ok.copy()
    note = pd.Series("", index=t.index, dtype=object)
    note[~ok] = "fit failed"
    if k is not None:
        treated_pre = float(t.loc[t["is_treated"], "pre_mspe"].iloc[0])
        too_poor = ok & ~t["is_treated"] & (t["pre_mspe"] > k * treated_pre)
        kept &= ~too_poor
        note[too_poor] = f"pre-period MSPE > {k:g} x treated unit's"
    t["kept"] = kept
    t["note"] = note
    t["rank"] = t["ratio"].where(kept).rank(ascending=False, method="max")
    t["rank"] = t["rank"].astype("Int64")
    return PlaceboInSpace(
        method=method, treated_unit=treated, max_pre_rmspe_ratio=k, _table=t, _gaps=gaps, _post=post
    )


def placebo_in_space(
    res: SynthResult, max_pre_rmspe_ratio: float | None = None, *, n_jobs: int | None = None
) -> PlaceboInSpace:
    """Run the estimator with each donor as the treated unit (see module docstring).

    ``n_jobs``: workers re-fitting the donors (:func:`analysis.replicate.run_tasks`;
    ``None``: :func:`analysis.replicate.default_jobs`, env ``ANALYSIS_JOBS`` or 1; a loop that
    would take less than :data:`SERIAL_BELOW` seconds runs in this process, see :func:`_map`).
    The fits involve no random numbers and come back in donor order, so the result is
    identical for any value.
    """
    panel: PanelData = res._panel
    spec: Spec = res._spec
    rows: list[dict[str, Any]] = []
    gaps: dict[Hashable, np.ndarray] = {}
    treated_gap = panel.y_treated - res._fit.counterfactual
    for unit, gap, att, status, warned in [
        (panel.treated, treated_gap, res.att, "ok", ""),
        *_placebo_runs(panel, spec, n_jobs=n_jobs),
    ]:
        pre = _mspe(gap[: panel.n_pre]) if gap is not None else np.nan
        post = _mspe(gap[panel.n_pre :]) if gap is not None else np.nan
        rows.append(
            {
                "unit": unit,
                "is_treated": unit == panel.treated,
                "att": att,
                "pre_mspe": pre,
                "post_mspe": post,
                "pre_rmspe": np.sqrt(pre),
                "post_rmspe": np.sqrt(post),
                "ratio": _ratio(pre, post),
                "status": status,
                "warnings": warned,
            }
        )
        if gap is not None:
            gaps[unit] = gap
    table = pd.DataFrame(rows)
    gap_df = pd.DataFrame(gaps, index=pd.Index(panel.times, name="time"))
    return _rank(table, gap_df, panel.post, spec.method, panel.treated, max_pre_rmspe_ratio)


def _refit(spec: Spec, panel: PanelData) -> tuple[PointFit | None, str, str]:
    """Re-fit quietly: returns (fit or None, status, library warnings joined)."""
    with warnings.catch_warnings(record=True) as caught:
        # warnings of the many re-fits (e.g. diff-diff's "pre-treatment fit is poor") are
        # kept in the result table instead of being printed once per placebo
        warnings.simplefilter("always")
        try:
            fit, status = spec.refit(panel), "ok"
        except _FAIL as exc:  # recorded in the table, never dropped silently
            fit, status = None, f"failed: {type(exc).__name__}: {exc}"
    msgs = dict.fromkeys(str(w.message) for w in caught)
    return fit, status, " | ".join(msgs)


def _map(
    func: Callable[[Hashable, PanelData, Spec], T],
    donors: list[Hashable],
    panel: PanelData,
    spec: Spec,
    n_jobs: int | None,
) -> list[T]:
    """``func(donor, panel, spec)`` for each donor, in donor order.

    ``n_jobs`` given: :func:`analysis.replicate.run_tasks` with it.  ``None``: the first donor
    is re-fitted here and timed; when the loop would take less than :data:`SERIAL_BELOW`
    seconds at that pace, the others are too, else they go to ``run_tasks`` (default
    workers).  A pool of worker processes takes seconds to start (each worker imports the
    package), far more than the whole loop of an estimator that re-fits in milliseconds.
    The results are the same either way (the re-fits are deterministic and come back in
    order; ``tests/test_synth_simulated.py`` checks 1 against 2 workers to the last bit).
    """
    if n_jobs is not None or not donors:
        return run_tasks(func, donors, n_jobs=n_jobs, args=(panel, spec))
    start = time.perf_counter()
    first = func(donors[0], panel, spec)
    if (time.perf_counter() - start) * len(donors) < SERIAL_BELOW:
        return [first, *(func(d, panel, spec) for d in donors[1:])]
    return [first, *run_tasks(func, donors[1:], n_jobs=None, args=(panel, spec))]


def _placebo_runs(
    panel: PanelData, spec: Spec, *, n_jobs: int | None = None
) -> list[tuple[Hashable, np.ndarray | None, float, str, str]]:
    return _map(_placebo_run, list(panel.donors), panel, spec, n_jobs)


def _placebo_run(
    donor: Hashable, panel: PanelData, spec: Spec
) -> tuple[Hashable, np.ndarray | None, float, str, str]:
    """The in-space placebo of one donor: (unit, gap, att, status, warnings)."""
    if panel.n_donors < 2:
        return donor, None, np.nan, "failed: no other donor to build a counterfactual", ""
    sub = panel.as_treated(donor)
    fit, status, warned = _refit(spec, sub)
    gap = None if fit is None else sub.y_treated - fit.counterfactual
    return donor, gap, (np.nan if fit is None else fit.att), status, warned


def _without_donor_fit(
    donor: Hashable, panel: PanelData, spec: Spec
) -> tuple[PointFit | None, str, str]:
    return _refit(spec, panel.without_donor(donor, record=False))


def placebo_draws(space: PlaceboInSpace, *, replications: int, seed: int) -> np.ndarray:
    """Draws of the placebo variance (Arkhangelsky et al. 2021, Algorithm 4), one treated unit.

    Each replication permutes the donors (``np.random.default_rng(seed)``) and takes the last
    one as pseudo-treated, as ``synthdid`` and diff-diff do; with one treated unit the placebo
    estimate depends only on that donor, so it is read from the in-space placebo table instead
    of being re-estimated.  Failed placebo fits are skipped.
    """
    t = space._table
    placebo = t[~t["is_treated"]].reset_index(drop=True)
    n = len(placebo)
    if n < 1:
        return np.array([])
    rng = np.random.default_rng(seed)
    att = placebo["att"].to_numpy(dtype=float)
    idx = np.array([rng.permutation(n)[-1] for _ in range(replications)], dtype=int)
    draws = att[idx]
    return draws[np.isfinite(draws)]


@dataclass(frozen=True, eq=False)
class LeaveOneOut:
    """Re-estimates dropping, in turn, each donor with positive weight."""

    method: str
    att_full: float
    _table: pd.DataFrame
    _paths: pd.DataFrame

    @property
    def table(self) -> pd.DataFrame:
        """One row per dropped donor.

        Columns ``unit, weight, att, delta_att, pre_rmspe, status, warnings`` (messages of the
        re-fit, if any).
        """
        return self._table.copy()

    @property
    def paths(self) -> pd.DataFrame:
        """Counterfactual paths (periods x dropped donor), plus ``observed`` and ``full``."""
        return self._paths.copy()

    @property
    def att_range(self) -> tuple[float, float]:
        """Smallest and largest leave-one-out ATT."""
        a = self._table["att"].dropna()
        return (float(a.min()), float(a.max())) if len(a) else (np.nan, np.nan)

    def tidy(self) -> pd.DataFrame:
        """Return :attr:`table`."""
        return self.table

    def summary(self) -> str:
        """Return a line: range of the leave-one-out ATTs."""
        lo, hi = self.att_range
        return (
            f"Leave-one-out ({self.method}): ATT {self.att_full:.3f} with all donors; "
            f"{len(self._table)} re-estimates, ATT from {lo:.3f} to {hi:.3f}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (table only)."""
        return to_jsonable(
            {
                "method": self.method,
                "att_full": self.att_full,
                "table": self._table.to_dict(orient="records"),
            }
        )


def leave_one_out(res: SynthResult, *, n_jobs: int | None = None) -> LeaveOneOut:
    """Re-estimate without each donor of weight > ``POSITIVE_WEIGHT`` (same estimator).

    ``n_jobs``: workers of the re-fits (as :func:`placebo_in_space`; identical results).
    """
    panel: PanelData = res._panel
    spec: Spec = res._spec
    w = res._fit.weights
    rows, paths = [], {"observed": panel.y_treated, "full": res._fit.counterfactual}
    order = [j for j in np.argsort(-w, kind="stable") if w[j] > POSITIVE_WEIGHT]
    refits = (
        _map(_without_donor_fit, [panel.donors[j] for j in order], panel, spec, n_jobs)
        if panel.n_donors >= 2
        else [None] * len(order)
    )
    for j, refit in zip(order, refits, strict=True):
        donor = panel.donors[j]
        row = {"unit": donor, "weight": float(w[j])}
        if panel.n_donors < 2:
            rows.append(
                {
                    **row,
                    "att": np.nan,
                    "delta_att": np.nan,
                    "pre_rmspe": np.nan,
                    "status": "failed: no other donor",
                    "warnings": "",
                }
            )
            continue
        fit, status, warned = refit
        if fit is None:
            rows.append(
                {
                    **row,
                    "att": np.nan,
                    "delta_att": np.nan,
                    "pre_rmspe": np.nan,
                    "status": status,
                    "warnings": warned,
                }
            )
            continue
        gap = panel.y_treated - fit.counterfactual
        rows.append(
            {
                **row,
                "att": fit.att,
                "delta_att": fit.att - res.att,
                "pre_rmspe": float(np.sqrt(_mspe(gap[: panel.n_pre]))),
                "status": status,
                "warnings": warned,
            }
        )
        paths[donor] = fit.counterfactual
    table = pd.DataFrame(
        rows, columns=["unit", "weight", "att", "delta_att", "pre_rmspe", "status", "warnings"]
    )
    return LeaveOneOut(
        method=spec.method,
        att_full=res.att,
        _table=table,
        _paths=pd.DataFrame(paths, index=pd.Index(panel.times, name="time")),
    )


def placebo_in_time(res: SynthResult, fake_start: Any) -> SynthResult:
    """Re-run the estimator on the pre-period only, with treatment moved to ``fake_start``."""
    return res._spec.run(res._panel.truncated(fake_start))
