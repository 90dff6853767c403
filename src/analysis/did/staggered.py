r"""Callaway & Sant'Anna (2021) group-time effects and their aggregations.

Model and estimand
------------------
Units :math:`i` are first treated in period :math:`G_i = g` (cohort; :math:`G_i = 0` never
treated).  For every cohort :math:`g` and period :math:`t` the group-time average treatment
effect is

.. math:: ATT(g,t) = E[Y_t(g) - Y_t(0) \mid G = g],

identified under (conditional) parallel trends from the 2×2 comparison of cohort :math:`g`
with a control group ("never" treated units, or units "not yet" treated by :math:`t` plus
anticipation), between :math:`t` and the base period :math:`b` (``g - 1 - anticipation`` for
post-treatment cells; ``t - 1`` for pre-treatment cells when ``base_period="varying"``):

.. math:: ATT(g,t) = E[Y_t - Y_b \mid G=g] - E[Y_t - Y_b \mid C]

estimated by outcome regression (``"reg"``), inverse probability weighting (``"ipw"``) or
the doubly robust estimator of Sant'Anna & Zhao (2020) (``"dr"``).

Aggregations (R ``did::aggte``) weight post-treatment cells (:math:`g \le t`) by cohort size
:math:`P(G=g)`:

* ``simple``   :math:`\theta = \sum_{g \le t} ATT(g,t) P(G=g) / \sum_{g \le t} P(G=g)`;
* ``group``    :math:`\theta(g)` = mean of :math:`ATT(g,t)` over :math:`t \ge g`; overall
  :math:`\sum_g \theta(g) P(G=g \mid \text{treated})`;
* ``dynamic``  :math:`\theta(e) = \sum_g 1\{t-g=e\} ATT(g,g+e) P(G=g \mid t-g=e)`; overall
  the mean of :math:`\theta(e)` over :math:`e \ge 0`;
* ``calendar`` :math:`\theta(t)` = cohort-size weighted mean of :math:`ATT(g,t)` over
  :math:`g \le t`; overall the mean over periods.

Computation
-----------
ATT(g,t) and their influence functions come from diff-diff's ``CallawaySantAnna``, which
reproduces R ``did`` 2.x exactly (estimators, control groups, base periods, anticipation).
The aggregation layer is written here, from those influence functions, because diff-diff
has no calendar aggregation, no overall ATT for the group and dynamic aggregations and no
Wald pre-test, and because clustering at a level coarser than the unit is applied here to
every quantity in the same way.  It follows R's ``compute.aggte`` line by line, including
the extra influence-function term for estimated cohort-size weights (``wif``).

Standard errors are analytic: :math:`\widehat{V} = \sum_c \big(\sum_{i \in c} \psi_i\big)
\big(\sum_{i \in c} \psi_i\big)'` with :math:`\psi_i` the influence function of unit
:math:`i` scaled by :math:`1/n`.  With one unit per cluster (the default) this is R's
``sqrt(mean(IF^2)/n)``, the population variance of the influence function.  With
``cluster=`` coarser than the unit, influence functions are summed within clusters, as R's
clustered multiplier bootstrap does, without a small-sample factor (diff-diff's own
``cluster=`` multiplies by :math:`\sqrt{G/(G-1)}`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis._util import readonly, version
from analysis.did import _checks
from analysis.did._inference import multiplier_sup_t_crit, quiet_backend, z_crit
from analysis.errors import fail
from analysis.estimate import Estimate

Control = Literal["never", "notyet"]
Method = Literal["dr", "ipw", "reg"]
AggregationType = Literal["simple", "group", "dynamic", "calendar"]

_CONTROL = {"never": "never_treated", "notyet": "not_yet_treated"}
_LABEL = {"simple": None, "group": "cohort", "dynamic": "event_time", "calendar": "time"}


def _as_int_if_integral(a: np.ndarray) -> np.ndarray:
    """Return ``a`` as integers when every value is a whole number (periods, cohorts)."""
    a = np.asarray(a)
    if (
        a.size
        and np.issubdtype(a.dtype, np.floating)
        and np.all(np.isfinite(a))
        and np.all(a == np.round(a))
    ):
        return a.astype(np.int64)
    return a


@dataclass(frozen=True, eq=False)
class PretrendTest:
    r"""Wald test that every pre-treatment ATT(g,t) (t < g) is zero (R ``did``'s pre-test).

    ``statistic`` is :math:`W = \hat a' \hat V^{-1} \hat a` over the pre-treatment cells,
    compared with :math:`\\chi^2` with ``df`` = number of cells.
    """

    statistic: float
    df: int
    p_value: float
    cells: tuple[tuple[float, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "statistic": self.statistic,
            "df": self.df,
            "p_value": self.p_value,
            "cells": [list(c) for c in self.cells],
        }

    def summary(self) -> str:
        """Return one line of text."""
        return (
            f"Wald pre-test of parallel trends: W = {self.statistic:.3f}, df = {self.df}, "
            f"p = {self.p_value:.4f}"
        )


@dataclass(frozen=True, eq=False)
class Aggregation:
    """One aggregation of ATT(g,t) (``simple``, ``group``, ``dynamic`` or ``calendar``).

    Attributes
    ----------
    type
        The aggregation.
    overall
        Overall summary effect (see the module docstring for its definition).
    labels
        Cohorts, event times or calendar periods of the per-cell effects (empty for simple).
    att, se
        Per-cell effects and standard errors.
    vcov
        Covariance of the per-cell effects (from the influence functions).
    crit_value
        Sup-t critical value of the uniform band (``None`` when not requested).
    """

    type: str
    overall: Estimate
    labels: np.ndarray
    att: np.ndarray
    se: np.ndarray
    vcov: np.ndarray
    level: float = 0.95
    crit_value: float | None = None
    notes: tuple[str, ...] = ()

    def table(self) -> pd.DataFrame:
        """Return the per-cell effects with pointwise CIs (and uniform bands if computed)."""
        label = _LABEL[self.type]
        if label is None:
            return self.overall.tidy()[["estimate", "se", "ci_low", "ci_high"]].rename(
                columns={"estimate": "att"}
            )
        z = z_crit(self.level)
        out = pd.DataFrame(
            {
                label: _as_int_if_integral(self.labels),
                "att": self.att,
                "se": self.se,
                "ci_low": self.att - z * self.se,
                "ci_high": self.att + z * self.se,
            }
        )
        if self.crit_value is not None:
            out["cband_low"] = self.att - self.crit_value * self.se
            out["cband_high"] = self.att + self.crit_value * self.se
        return out

    def tidy(self) -> pd.DataFrame:
        """Return the per-cell table plus a final ``overall`` row, with a ``term`` column."""
        label = _LABEL[self.type]
        tab = self.table()
        if label is None:
            return tab.assign(term="overall")[["term", *tab.columns]]
        tab.insert(0, "term", [f"{label}={v}" for v in tab[label]])
        tab = tab.drop(columns=label)
        o = self.overall
        row = pd.DataFrame(
            [
                {
                    "term": "overall",
                    "att": o.estimate,
                    "se": o.se,
                    "ci_low": o.ci_low,
                    "ci_high": o.ci_high,
                }
            ]
        )
        return pd.concat([tab, row], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        tab = self.table()
        return {
            "type": self.type,
            "overall": self.overall.to_dict(),
            "table": tab.astype(object).where(tab.notna(), None).to_dict("records"),
            "crit_value": self.crit_value,
            "level": self.level,
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """Return a short text summary (overall effect and the per-cell table)."""
        lines = [f"Callaway-Sant'Anna aggregation: {self.type}", self.overall.summary()]
        if _LABEL[self.type] is not None:
            lines.append(self.table().to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class StaggeredResult:
    """Group-time ATTs with their influence functions; aggregate with :meth:`aggregate`.

    The per-unit influence functions (``psi``, scaled by 1/n, one column per cell) and the
    cluster of every unit are kept so that any aggregation and its covariance can be
    computed after the fit.
    """

    cohort: np.ndarray
    time: np.ndarray
    att: np.ndarray
    is_reference: np.ndarray
    psi: np.ndarray = field(repr=False)
    unit_cohort: np.ndarray = field(repr=False)
    unit_cluster: np.ndarray = field(repr=False)
    control: str = "never"
    method: str = "dr"
    base_period: str = "varying"
    anticipation: int = 0
    covariates: tuple[str, ...] = ()
    level: float = 0.95
    n_obs: int = 0
    n_units: int = 0
    n_clusters: int = 0
    cluster: str | None = None
    backend: str = ""
    notes: tuple[str, ...] = ()

    # ------------------------------------------------------------------ variance helpers
    def _cluster_sum(self, f: np.ndarray) -> np.ndarray:
        """Sum per-unit influence functions within clusters (rows: clusters)."""
        f = np.asarray(f, dtype=float)
        if self.n_clusters == len(self.unit_cluster):  # one unit per cluster
            return f
        out = np.zeros((self.n_clusters,) + f.shape[1:])
        np.add.at(out, self.unit_cluster, f)
        return out

    def _vcov(self, f: np.ndarray) -> np.ndarray:
        s = self._cluster_sum(f.reshape(len(f), -1))
        return s.T @ s

    def _se(self, f: np.ndarray) -> float:
        s = self._cluster_sum(f)
        return float(np.sqrt(np.sum(s**2)))

    @property
    def se(self) -> np.ndarray:
        """Standard errors of the ATT(g,t) (NaN for reference cells)."""
        se = np.sqrt(np.diag(self._vcov(self.psi)))
        return np.where(self.is_reference | (se <= np.sqrt(np.finfo(float).eps) * 10), np.nan, se)

    # ------------------------------------------------------------------ R's aggte pieces
    def _pg(self, groups: np.ndarray) -> np.ndarray:
        """P(G = g) for each entry of ``groups`` (share of units in the estimation sample)."""
        return np.array([np.mean(self.unit_cohort == g) for g in groups])

    def _wif(self, keep: np.ndarray, pg: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Influence function of estimated weights ``pg[keep]/sum(pg[keep])`` (R ``wif``)."""
        ind = (self.unit_cohort[:, None] == groups[keep][None, :]).astype(float) - pg[keep]
        s = pg[keep].sum()
        if1 = ind / s
        if2 = ind.sum(axis=1, keepdims=True) * (pg[keep] / s**2)[None, :]
        return (if1 - if2) / len(self.unit_cohort)

    def _combine(
        self,
        att: np.ndarray,
        psi: np.ndarray,
        keep: np.ndarray,
        w: np.ndarray,
        wif: np.ndarray | None,
    ) -> tuple[float, np.ndarray]:
        est = float(att[keep] @ w)
        f = psi[:, keep] @ w
        if wif is not None:
            f = f + wif @ att[keep]
        return est, f

    # ------------------------------------------------------------------ public API
    def group_time(self) -> pd.DataFrame:
        """Return ATT(g,t): columns cohort, time, att, se, ci_low, ci_high."""
        z = z_crit(self.level)
        se = self.se
        return pd.DataFrame(
            {
                "cohort": _as_int_if_integral(self.cohort),
                "time": _as_int_if_integral(self.time),
                "att": self.att,
                "se": se,
                "ci_low": self.att - z * se,
                "ci_high": self.att + z * se,
            }
        )

    def aggregate(
        self,
        type: AggregationType = "simple",
        *,
        min_e: float = -np.inf,
        max_e: float = np.inf,
        balance_e: int | None = None,
        cband: bool = False,
        n_boot: int = 999,
        seed: int | None = 0,
    ) -> Aggregation:
        """Aggregate ATT(g,t) as R ``did::aggte(type=...)`` does.

        Parameters
        ----------
        type
            ``"simple"``, ``"group"``, ``"dynamic"`` (event study) or ``"calendar"``.
        min_e, max_e, balance_e
            Event-time window and balancing of the dynamic aggregation (R semantics:
            ``balance_e`` keeps only cohorts observed at least ``balance_e`` periods after
            treatment and event times in ``[balance_e - (T_max - T_min), balance_e]``).
            ``max_e`` also caps the post-treatment cells used by ``simple``/``group``.
        cband, n_boot, seed
            Add a uniform (sup-t) band over the per-cell effects, with the critical value
            from a Rademacher multiplier bootstrap of the (cluster-summed) influence
            functions, as R ``did`` does (``n_boot`` draws, ``seed``).
        """
        if type not in _LABEL:
            raise ValueError(f"type must be one of {list(_LABEL)}, got {type!r}")
        g, t, att, psi = self.cohort, self.time, self.att, self.psi
        pg = self._pg(g)
        post = (g <= t) & (t <= g + max_e)
        notes: list[str] = []
        labels = np.array([])
        cell_att: list[float] = []
        cell_if: list[np.ndarray] = []
        if type == "simple":
            keep = np.flatnonzero(post)
            est, f = self._combine(
                att, psi, keep, pg[keep] / pg[keep].sum(), self._wif(keep, pg, g)
            )
        elif type == "group":
            glist = np.unique(g[post])
            dropped = np.setdiff1d(np.unique(g), glist)
            if len(dropped):
                notes.append(f"cohorts without post-treatment cells left out: {list(dropped)}")
            for gg in glist:
                keep = np.flatnonzero((g == gg) & post)
                a, f_g = self._combine(att, psi, keep, pg[keep] / pg[keep].sum(), None)
                cell_att.append(a)
                cell_if.append(f_g)
            labels = glist
            pgg = self._pg(glist)
            ag, fg = np.array(cell_att), np.column_stack(cell_if)
            idx = np.arange(len(glist))
            est, f = self._combine(ag, fg, idx, pgg / pgg.sum(), self._wif(idx, pgg, glist))
        elif type == "dynamic":
            e_all = t - g
            include = np.ones(len(g), dtype=bool)
            eseq = np.unique(e_all)
            if balance_e is not None:
                include = (t.max() - g) >= balance_e
                eseq = np.unique(e_all[include])
                eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t.max() + t.min())]
            eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
            for e in eseq:
                keep = np.flatnonzero((e_all == e) & include)
                a, f_e = self._combine(
                    att, psi, keep, pg[keep] / pg[keep].sum(), self._wif(keep, pg, g)
                )
                cell_att.append(a)
                cell_if.append(f_e)
            labels = eseq
            pos = np.flatnonzero(eseq >= 0)
            if len(pos) == 0:
                raise ValueError("no post-treatment event times in the requested window")
            ae, fe = np.array(cell_att), np.column_stack(cell_if)
            est, f = self._combine(ae, fe, pos, np.full(len(pos), 1 / len(pos)), None)
        else:  # calendar
            tlist = np.unique(t[t >= g.min()])
            for tt in tlist:
                keep = np.flatnonzero((t == tt) & (g <= t))
                a, f_t = self._combine(
                    att, psi, keep, pg[keep] / pg[keep].sum(), self._wif(keep, pg, g)
                )
                cell_att.append(a)
                cell_if.append(f_t)
            labels = tlist
            at, ft = np.array(cell_att), np.column_stack(cell_if)
            idx = np.arange(len(tlist))
            est, f = self._combine(at, ft, idx, np.full(len(idx), 1 / len(idx)), None)

        overall = Estimate.from_se(
            est,
            self._se(f),
            level=self.level,
            n_obs=self.n_obs,
            n_units=self.n_units,
            n_clusters=self.n_clusters,
            method=f"Callaway-Sant'Anna ({self.method}, {self.control} controls), {type}",
            backend=self.backend,
            extra={
                "aggregation": type,
                "control": self.control,
                "base_period": self.base_period,
                "anticipation": self.anticipation,
                "cluster": self.cluster,
                "notes": list(self.notes) + notes,
            },
        )
        if cell_if:
            vcov = self._vcov(np.column_stack(cell_if))
            se = np.sqrt(np.diag(vcov))
            se = np.where(se <= np.sqrt(np.finfo(float).eps) * 10, np.nan, se)
        else:
            vcov, se = np.zeros((0, 0)), np.array([])
        crit = None
        if cband and len(se):
            scores = self._cluster_sum(np.column_stack(cell_if))
            crit = multiplier_sup_t_crit(scores, se, level=self.level, n_boot=n_boot, seed=seed)
        return Aggregation(
            type=type,
            overall=overall,
            labels=readonly(labels),
            att=readonly(np.array(cell_att)),
            se=readonly(se),
            vcov=readonly(vcov),
            level=self.level,
            crit_value=crit,
            notes=tuple(notes),
        )

    def pretrend_test(self) -> PretrendTest:
        """Wald pre-test of parallel trends on all ATT(g,t) with ``t < g`` (R ``did``).

        Cells with zero variance (the reference cells of ``base_period="universal"``) are
        left out, as in R.
        """
        se = self.se
        pre = np.flatnonzero((self.cohort > self.time) & np.isfinite(se))
        if len(pre) == 0:
            raise ValueError("no pre-treatment ATT(g,t) to test")
        v = self._vcov(self.psi[:, pre])
        a = self.att[pre]
        if np.linalg.cond(v) > 1 / np.finfo(float).eps:
            raise ValueError("singular covariance of the pre-treatment ATT(g,t)")
        w = float(a @ np.linalg.solve(v, a))
        return PretrendTest(
            statistic=w,
            df=len(pre),
            p_value=float(stats.chi2.sf(w, len(pre))),
            cells=tuple((float(self.cohort[i]), float(self.time[i])) for i in pre),
        )

    def tidy(self) -> pd.DataFrame:
        """Return the group-time table with a ``term`` column (``ATT(g,t)``)."""
        tab = self.group_time()
        tab.insert(
            0, "term", [f"ATT({g:g},{t:g})" for g, t in zip(tab.cohort, tab.time, strict=True)]
        )
        return tab

    def summary(self) -> str:
        """Return a text summary: settings, simple ATT, pre-test and the ATT(g,t) table."""
        simple = self.aggregate("simple").overall
        lines = [
            f"Callaway-Sant'Anna ATT(g,t): method={self.method}, control={self.control}, "
            f"base_period={self.base_period}, anticipation={self.anticipation}, "
            f"covariates={list(self.covariates)}",
            f"units={self.n_units}, obs={self.n_obs}, clusters={self.n_clusters}",
            f"simple ATT: {simple.summary()}",
        ]
        try:
            lines.append(self.pretrend_test().summary())
        except ValueError as exc:
            lines.append(f"pre-test not available: {exc}")
        lines.append(self.group_time().to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def effect_summary(self) -> str:
        """Describe the overall effect in plain words."""
        o = self.aggregate("simple").overall
        sig = (
            "statistically different from zero"
            if o.p_value < 1 - self.level
            else "not statistically different from zero"
        )
        return (
            f"Averaged over treated cohorts and post-treatment periods, the estimated "
            f"effect is {o.estimate:.3g} (SE {o.se:.3g}; {self.level:.0%} CI "
            f"{o.ci_low:.3g} to {o.ci_high:.3g}), {sig} at the {1 - self.level:.0%} level."
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (settings, ATT(g,t), aggregations, pre-test)."""
        gt = self.group_time()
        out: dict[str, Any] = {
            "estimator": "callaway_santanna",
            "method": self.method,
            "control": self.control,
            "base_period": self.base_period,
            "anticipation": self.anticipation,
            "covariates": list(self.covariates),
            "cluster": self.cluster,
            "n_obs": self.n_obs,
            "n_units": self.n_units,
            "n_clusters": self.n_clusters,
            "backend": self.backend,
            "level": self.level,
            "notes": list(self.notes),
            "group_time": gt.astype(object).where(gt.notna(), None).to_dict("records"),
            "aggregations": {k: self.aggregate(k).to_dict() for k in _LABEL},
        }
        try:
            out["pretrend_test"] = self.pretrend_test().to_dict()
        except ValueError:
            out["pretrend_test"] = None
        return out


def _check_options(*, control: str, method: str, base_period: str) -> None:
    """Reject unknown estimator options (shared by the balanced and unbalanced paths)."""
    if control not in _CONTROL:
        raise ValueError(f"control must be 'never' or 'notyet', got {control!r}")
    if method not in ("dr", "ipw", "reg"):
        raise ValueError(f"method must be 'dr', 'ipw' or 'reg', got {method!r}")
    if base_period not in ("varying", "universal"):
        raise ValueError(f"base_period must be 'varying' or 'universal', got {base_period!r}")


# ---------------------------------------------------------------------- data preparation
def _prepare(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str],
    cluster: str | None,
    control: str,
    anticipation: int,
    notes: _checks.Notes,
    balance: bool = True,
) -> pd.DataFrame:
    """Validate and clean the panel (see :func:`staggered` for the rules).

    ``balance=False`` keeps units not observed in every period (``allow_unbalanced``).
    """
    _checks.require_frame(df)
    _checks.require_columns(df, [outcome, unit, time, cohort, cluster, *covariates])
    for col in (outcome, time, *covariates):
        _checks.require_numeric(df, col)
    _checks.require_no_missing(df, unit)
    _checks.require_no_missing(df, time)
    _checks.require_unique_unit_time(df, unit, time)
    g = _checks.normalise_cohort(df, unit=unit, cohort=cohort)
    if cluster is not None and cluster != unit:
        _checks.require_nested(df, unit=unit, cluster=cluster)
    cols = list(
        dict.fromkeys(
            [unit, time, outcome, *covariates] + ([cluster] if cluster and cluster != unit else [])
        )
    )
    d = df[cols].copy()
    d["_cohort"] = g.to_numpy()
    d = _checks.drop_missing_rows(d, [outcome, *covariates], notes)
    if balance:
        d = _checks.balance_panel(d, unit=unit, time=time, notes=notes)
    periods = np.sort(d[time].unique())
    ucoh = d.groupby(unit)["_cohort"].first()
    late = ucoh.index[ucoh > periods[-1]]
    if len(late):
        notes.add(
            f"{len(late)} unit(s) have a cohort after the last period ({periods[-1]:g}); "
            "they are treated as never treated within the data window (R did's rule)"
        )
        d.loc[d[unit].isin(late), "_cohort"] = 0.0
    early = ucoh.index[(ucoh > 0) & (ucoh - anticipation <= periods[0])]
    if len(early):
        notes.add(
            f"dropped {len(early)} unit(s) already treated (cohort - anticipation <= "
            f"first period {periods[0]:g}): no untreated period to compare (R did's rule)"
        )
        d = d.loc[~d[unit].isin(early)]
    gvals = set(np.unique(d["_cohort"])) - {0.0}
    off_grid = sorted(x for x in gvals if x not in set(periods))
    if off_grid:
        notes.add(
            f"cohort value(s) {off_grid} are not observed periods; their ATT(g,t) use "
            "the nearest observed base period (R did's positional rule)"
        )
    if not gvals:
        raise fail(_checks.SOURCE, "no treated cohort left in the data window", column=cohort)
    if control == "never" and not (d["_cohort"] == 0).any():
        raise fail(
            _checks.SOURCE,
            "control='never' needs never-treated units (cohort 0 or "
            "missing) and there are none; use control='notyet'",
            column=cohort,
            rows=list(df.index[:5]),
        )
    if d.empty:
        raise fail(_checks.SOURCE, "no rows left after removing missing values")
    return d


def staggered(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    control: Control = "never",
    method: Method = "dr",
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    anticipation: int = 0,
    base_period: Literal["varying", "universal"] = "varying",
    level: float = 0.95,
    allow_unbalanced: bool = False,
) -> StaggeredResult:
    """Estimate Callaway & Sant'Anna (2021) group-time average treatment effects.

    Parameters
    ----------
    df
        Long panel, one row per unit and period.
    outcome, unit, time
        Column names; ``time`` must be numeric (e.g. school year).
    cohort
        First treated period of the unit; ``0`` or missing (or ``inf``) = never treated.
        Must be constant within unit.
    control
        ``"never"`` (never-treated units) or ``"notyet"`` (never and not-yet treated).
    method
        ``"dr"`` (doubly robust, Sant'Anna-Zhao), ``"ipw"`` or ``"reg"``.
    covariates
        Pre-treatment covariates for conditional parallel trends (diff-diff uses each
        unit's base-period values, as R ``did`` does for panel data).
    cluster
        Column of a level coarser than the unit (e.g. school) to cluster on; units must be
        nested in clusters.  ``None``: unit level, R's analytic standard errors.
    anticipation
        Periods of anticipation (base period ``g - 1 - anticipation``).
    base_period
        ``"varying"`` (R default) or ``"universal"`` (every cell relative to ``g - 1 -
        anticipation``; needed for event studies fed to HonestDiD).
    allow_unbalanced
        ``False`` (R ``did``'s default): keep only units observed in every period.
        ``True`` (R's ``allow_unbalanced_panel``): each ATT(g,t) uses the units observed in its
        base period and in ``t`` (:func:`analysis.did.unbalanced.staggered_unbalanced`); needed
        for school registers, where pupils are enrolled for 3–5 years only.
    level
        Confidence level of the intervals.

    Returns
    -------
    StaggeredResult

    Notes
    -----
    Data rules (R ``did``'s, each warned about and recorded in ``result.notes``): rows with a
    missing outcome/covariate are dropped and the panel is then balanced by dropping units
    not observed in every period (R's default ``allow_unbalanced_panel = FALSE``); units
    whose cohort is after the last period are treated as never treated; units treated in
    or before the first period (allowing for anticipation) are dropped.  Errors
    (:class:`~analysis.errors.DataValidationError`): missing columns, non-numeric outcome,
    time or covariates, duplicated unit-period rows, a cohort that changes within a unit,
    no never-treated unit with ``control="never"``.
    """
    if allow_unbalanced:
        from analysis.did.unbalanced import staggered_unbalanced

        return staggered_unbalanced(
            df,
            outcome=outcome,
            unit=unit,
            time=time,
            cohort=cohort,
            control=control,
            method=method,
            covariates=covariates,
            cluster=cluster,
            anticipation=anticipation,
            base_period=base_period,
            level=level,
        )
    import diff_diff

    _check_options(control=control, method=method, base_period=base_period)
    covariates = list(covariates or [])
    notes = _checks.Notes()
    d = _prepare(
        df,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        cluster=cluster,
        control=control,
        anticipation=anticipation,
        notes=notes,
    )

    est = diff_diff.CallawaySantAnna(
        control_group=_CONTROL[control],
        estimation_method=method,
        anticipation=anticipation,
        base_period=base_period,
        alpha=1 - level,
        n_bootstrap=0,
    )
    with quiet_backend():
        res = est.fit(
            d,
            outcome=outcome,
            unit=unit,
            time=time,
            first_treat="_cohort",
            covariates=covariates or None,
        )
    kit = getattr(res, "_aggregation_kit", None)
    if kit is None:  # pragma: no cover - guards a diff-diff upgrade
        raise RuntimeError(
            "diff-diff result carries no influence functions "
            "(_aggregation_kit); the pinned diff-diff 3.13 is required"
        )
    book = kit.bookkeeping
    # diff-diff orders units as ``groupby(unit)`` does (sorted ids); the kit only keeps
    # positions, so rebuild the ids and check the alignment through the cohorts.
    by_unit = d.groupby(unit)["_cohort"].first()
    all_units = by_unit.index.to_numpy()
    unit_cohort = np.asarray(book["unit_cohorts"], dtype=float)
    unit_cohort = np.where(np.isfinite(unit_cohort), unit_cohort, 0.0)
    if len(unit_cohort) != len(all_units) or not np.array_equal(
        unit_cohort, by_unit.to_numpy(float)
    ):
        raise RuntimeError("cannot align diff-diff's influence functions with the units")

    cells = sorted(res.group_time_effects)
    effects = [res.group_time_effects[c]["effect"] for c in cells]
    finite = np.isfinite(effects)
    if not finite.all():
        skipped = [c for c, ok in zip(cells, finite, strict=True) if not ok]
        notes.add(
            f"{len(skipped)} ATT(g,t) could not be estimated and are left out "
            f"(first: {skipped[:5]})"
        )
        cells = [c for c, ok in zip(cells, finite, strict=True) if ok]
    psi = np.zeros((len(all_units), len(cells)))
    for j, c in enumerate(cells):
        info = kit.influence.get(c)
        if info is None:
            continue
        psi[np.asarray(info["treated_idx"], dtype=int), j] += info["treated_inf"]
        psi[np.asarray(info["control_idx"], dtype=int), j] += info["control_inf"]
    is_ref = np.array([bool(res.group_time_effects[c].get("is_reference", False)) for c in cells])

    if cluster is not None and cluster != unit:
        cl = d.groupby(unit)[cluster].first().reindex(all_units)
        codes, uniq = pd.factorize(cl.to_numpy())
        n_clusters = len(uniq)
    else:
        codes, n_clusters = np.arange(len(all_units)), len(all_units)

    return StaggeredResult(
        cohort=readonly(np.array([c[0] for c in cells], dtype=float)),
        time=readonly(np.array([c[1] for c in cells], dtype=float)),
        att=readonly(np.array([res.group_time_effects[c]["effect"] for c in cells], dtype=float)),
        is_reference=readonly(is_ref),
        psi=readonly(psi),
        unit_cohort=readonly(unit_cohort),
        unit_cluster=readonly(np.asarray(codes)),
        control=control,
        method=method,
        base_period=base_period,
        anticipation=anticipation,
        covariates=tuple(covariates),
        level=level,
        n_obs=len(d),
        n_units=len(all_units),
        n_clusters=int(n_clusters),
        cluster=cluster,
        backend=version("diff-diff"),
        notes=tuple(notes),
    )
