r"""Effect of taking part on an absorbing exit (dropout): risk sets, not difference-in-differences.

Why not DiD
-----------
After the exit year a unit has no rows, and a future participant has, by construction, not
exited before taking part: the pre-period exit rate of participants is zero ("immortal
time"), so any difference-in-differences of the exit indicator (unit fixed effects, CS, TWFE)
is biased.

Risk sets
---------
For each edition (cohort) :math:`g`, the *risk set* holds the units of cohort :math:`g` and the
never-participants who were observed in period :math:`g` and in an earlier one (as
participants must be) and whose age in :math:`g` lies within the participants' age range;
each contributes every period :math:`t \ge g` it is observed (the last one is the exit period
for those who exit).  :func:`risk_sets` stacks them.

Model
-----
:func:`dropout_effect` fits the linear probability model of the annual hazard

.. math:: D_{it} = \tau\,P_i + X_i'\beta + \gamma\,\mathrm{age}_{ig}
          + \mu_{s(i)} + \lambda_{g,t} + \varepsilon_{it}

with :math:`P_i` participation in edition :math:`g`, :math:`X_i` baseline covariates, cluster
(school) effects :math:`\mu` and edition × period effects :math:`\lambda` (pyfixest, CR1
standard errors by cluster, t with :math:`G-1` df).  :math:`\tau` is the ATT on the hazard
among units still enrolled, identified under selection on the covariates and the cluster
(not parallel trends) and overlap.

Few clusters
------------
:func:`dropout_wild_bootstrap` is the restricted wild cluster bootstrap of the same
regression (cluster effects nested in the clusters are absorbed; edition × period effects
enter as dummies); :func:`dropout_randomization` re-assigns participation within stratum and
edition (:func:`analysis.inference.reassign_participation`) and recomputes :math:`\tau` with a
fast normal-equations OLS (:func:`hazard_statistic`, the same coefficient).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis import inference, power
from analysis._util import version
from analysis.did import _checks
from analysis.did.twfe import fit_feols
from analysis.errors import fail
from analysis.estimate import Estimate

__all__ = [
    "DropoutResult",
    "dropout_effect",
    "dropout_randomization",
    "dropout_wild_bootstrap",
    "hazard_mde",
    "hazard_statistic",
    "hazard_table",
    "risk_sets",
]


def _validate(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    age: str,
    columns: Sequence[str | None] = (),
) -> None:
    """Input checks shared by the public functions (run once per call, not per draw)."""
    _checks.require_frame(df)
    _checks.require_columns(df, [unit, time, cohort, age, *columns])
    for col in (time, cohort, age):
        _checks.require_numeric(df, col)
    _checks.require_no_missing(df, unit)
    _checks.require_no_missing(df, time)
    _checks.require_no_missing(df, age)
    _checks.require_unique_unit_time(df, unit, time)
    _checks.require_constant_within(df, unit, cohort, "the cohort must be constant within unit")


def risk_sets(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    age: str,
    cluster: str | None = None,
) -> pd.DataFrame:
    r"""Stack, for each edition :math:`g`, its participants and the never-participants at risk.

    Risk set of edition :math:`g` (module docstring): units of cohort :math:`g` and
    never-participants (cohort 0) observed in period :math:`g` and in an earlier period, aged
    in :math:`g` within the participants' age range.  Rows: every period :math:`t \ge g` the
    unit is observed.

    Parameters
    ----------
    df
        Long panel, one row per unit and period, with a numeric ``age`` per period.
    unit, time, cohort, age
        Column names (cohort 0 = never took part).
    cluster
        Cluster column copied to ``_cl`` (``None``: the unit).

    Returns
    -------
    pandas.DataFrame
        The rows of ``df`` in each risk set, plus ``stack`` (:math:`g`), ``age_g`` (age in
        :math:`g`), ``participant`` (1 for units of cohort :math:`g`), ``years_since``
        (:math:`t - g`), ``stack_year`` and ``_cl``.  A never-participant appears once per risk
        set it belongs to.
    """
    _validate(df, unit=unit, time=time, cohort=cohort, age=age, columns=[cluster])
    return _risk_sets(df, unit=unit, time=time, cohort=cohort, age=age, cluster=cluster)


def _risk_sets(
    d: pd.DataFrame, *, unit: str, time: str, cohort: str, age: str, cluster: str | None
) -> pd.DataFrame:
    cl = cluster or unit
    codes, uniq = pd.factorize(d[unit])
    year = d[time].to_numpy()
    coh = d[cohort].to_numpy(float)
    a = d[age].to_numpy(float)
    first = np.full(len(uniq), np.iinfo(np.int64).max)
    np.minimum.at(first, codes, year)
    out = []
    for g in sorted(c for c in np.unique(coh) if c > 0):
        at_g = (year == g) & (first[codes] < g)
        part = at_g & (coh == g)
        if not part.any():
            continue
        lo, hi = a[part].min(), a[part].max()
        member = at_g & ((coh == g) | ((coh == 0) & (a >= lo) & (a <= hi)))
        age_g = np.full(len(uniq), np.nan)
        age_g[codes[member]] = a[member]
        keep = np.isfinite(age_g[codes]) & (year >= g)
        rows = d.loc[keep].copy()
        rows["stack"] = int(g)
        rows["age_g"] = age_g[codes[keep]]
        rows["participant"] = (coh[keep] == g).astype(float)
        out.append(rows)
    if not out:
        raise fail(
            _checks.SOURCE,
            "no cohort has treated units observed in an earlier period (no risk set)",
            column=cohort,
        )
    rs = pd.concat(out, ignore_index=True)
    rs["years_since"] = rs[time] - rs["stack"]
    rs["stack_year"] = rs["stack"].astype(str) + "_" + rs[time].astype(str)
    rs["_cl"] = rs[cl].astype(str)
    return rs


@dataclass(frozen=True)
class DropoutResult:
    r"""Risk-set comparison of annual dropout hazards (see :func:`dropout_effect`).

    Attributes
    ----------
    estimate
        Effect on the annual hazard :math:`\tau` (probability points), CR1 clustered.
    naive
        Unadjusted difference in hazards (same risk sets, edition × period effects only).
    formula
        The regression (pyfixest syntax).
    n_treated_years, n_control_years
        Unit-years (pupil-years) at risk of participants and of the risk-set controls.
    base_rate
        Hazard among the risk-set controls.
    covariates
        Baseline covariates adjusted for.
    """

    estimate: Estimate
    naive: Estimate
    formula: str
    n_treated_years: int
    n_control_years: int
    base_rate: float
    covariates: tuple[str, ...] = ()

    def tidy(self) -> pd.DataFrame:
        """Two rows (adjusted, unadjusted): estimate, se, ci_low, ci_high, p_value."""
        cols = ("estimate", "se", "ci_low", "ci_high", "p_value")
        return pd.DataFrame(
            [
                {"model": "adjusted", **{k: getattr(self.estimate, k) for k in cols}},
                {"model": "unadjusted", **{k: getattr(self.naive, k) for k in cols}},
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "estimate": self.estimate.to_dict(),
            "naive": self.naive.to_dict(),
            "formula": self.formula,
            "treated_pupil_years": self.n_treated_years,
            "control_pupil_years": self.n_control_years,
            "base_rate": self.base_rate,
            "covariates": list(self.covariates),
        }


def _feols_estimate(
    formula: str, data: pd.DataFrame, param: str, method: str, unit: str
) -> Estimate:
    fit = fit_feols(formula, data, "_cl")
    g = int(data["_cl"].nunique())
    return Estimate.from_se(
        float(fit.coef()[param]),
        float(fit.se()[param]),
        df=g - 1,
        n_obs=int(fit._N),
        n_units=int(data[unit].nunique()),
        n_clusters=g,
        method=method,
        backend=version("pyfixest"),
        extra={"formula": formula},
    )


def dropout_effect(
    df: pd.DataFrame,
    *,
    covariates: Sequence[str],
    unit: str,
    time: str,
    cohort: str,
    age: str,
    outcome: str = "dropped_out",
    cluster: str | None = None,
) -> DropoutResult:
    r"""Effect of participation on the annual dropout hazard (risk-set comparison).

    The linear probability model of the module docstring on :func:`risk_sets`: ``outcome``
    (0/1, 1 in the exit period) on participation, ``covariates`` (baseline, constant within
    unit) and the age in the edition's period, with cluster and edition × period fixed
    effects (cluster effects only when ``cluster`` is given), pyfixest, CR1 standard errors
    clustered by ``cluster`` (by unit when ``None``; t with :math:`G-1` df).  Also fits the
    unadjusted difference (edition × period effects only).

    Returns
    -------
    DropoutResult
    """
    covariates = list(covariates)
    _validate(df, unit=unit, time=time, cohort=cohort, age=age, columns=[outcome, cluster])
    _checks.require_numeric(df, outcome)
    for c in covariates:
        _checks.require_columns(df, [c])
        _checks.require_numeric(df, c)
    rs = _risk_sets(df, unit=unit, time=time, cohort=cohort, age=age, cluster=cluster)
    fe = "stack_year + _cl" if cluster else "stack_year"
    rhs = " + ".join(["participant", *covariates, "age_g"])
    formula = f"{outcome} ~ {rhs} | {fe}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _feols_estimate(
            formula,
            rs,
            "participant",
            "Risk-set comparison of annual dropout hazards (LPM, baseline "
            "covariates, school and edition x year FE)",
            unit,
        )
        naive = _feols_estimate(
            f"{outcome} ~ participant | stack_year",
            rs,
            "participant",
            "Unadjusted risk-set difference in hazards",
            unit,
        )
    t = rs["participant"] == 1
    return DropoutResult(
        estimate=est,
        naive=naive,
        formula=formula,
        n_treated_years=int(t.sum()),
        n_control_years=int((~t).sum()),
        base_rate=float(rs.loc[~t, outcome].mean()),
        covariates=tuple(covariates),
    )


def hazard_table(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    age: str,
    outcome: str = "dropped_out",
    pool_from: int = 2,
) -> pd.DataFrame:
    """Annual hazard by group and periods since the edition's period (risk sets, unadjusted).

    Returns
    -------
    pandas.DataFrame
        ``participant`` (1 = participants of the edition, 0 = never-participants at risk),
        ``years_since`` (text: ``"0"``, ``"1"``, ..., periods from ``pool_from`` on pooled as
        ``"<pool_from>+"``), ``units`` (distinct units at risk; a never-participant in several
        risk sets counts once per edition) and ``hazard`` (share exiting).
    """
    _validate(df, unit=unit, time=time, cohort=cohort, age=age, columns=[outcome])
    rs = _risk_sets(df, unit=unit, time=time, cohort=cohort, age=age, cluster=None)
    rs["participant"] = rs["participant"].astype(int)
    ys = rs["years_since"].clip(upper=pool_from)
    rs["years_since"] = ys.astype(int).astype(str).where(ys < pool_from, f"{pool_from}+")
    keys = ["participant", "years_since"]
    units = rs.drop_duplicates([unit, "stack", *keys]).groupby(keys).size()
    return pd.DataFrame({"units": units, "hazard": rs.groupby(keys)[outcome].mean()}).reset_index()


def hazard_statistic(
    *,
    covariates: Sequence[str],
    unit: str,
    time: str,
    cohort: str,
    age: str,
    outcome: str = "dropped_out",
    cluster: str | None = None,
) -> Callable[[pd.DataFrame], float]:
    r"""The :func:`dropout_effect` coefficient :math:`\tau` as a fast function of the data.

    Normal-equations OLS (numpy) of the same model, cluster and edition × period effects as
    dummies, for randomization inference (hundreds of re-fits): numpy's ``lstsq`` (gelsd) is
    ~50x slower here and the design is a well-conditioned set of dummies and
    standardised-scale covariates.  No input checks (the caller validated the data once).
    The returned statistic also has the array path of
    :func:`analysis.inference.participation_randomization` (``for_cohorts``).
    """
    return _HazardStatistic(
        covariates=tuple(covariates),
        unit=unit,
        time=time,
        cohort=cohort,
        age=age,
        outcome=outcome,
        cluster=cluster,
    )


@dataclass(frozen=True)
class _HazardStatistic:
    r""":func:`hazard_statistic`: :math:`\tau` of a frame, or of re-assigned cohorts on arrays.

    Why an array path: a re-assignment changes only the units' cohorts; building the risk sets
    as data frames (copies, new columns, ``get_dummies``) took 90 % of each of the 499 draws
    of the dropout page.  :meth:`for_cohorts` prepares the columns once and per draw selects
    the risk-set rows and fills the same design matrix (same rows, columns and order: the
    dummies of the edition × period labels and of the clusters in sorted label order, the
    first cluster dropped), so ``numpy.linalg.solve`` gets the same numbers as on the frame.
    """

    covariates: tuple[str, ...]
    unit: str
    time: str
    cohort: str
    age: str
    outcome: str = "dropped_out"
    cluster: str | None = None

    def __call__(self, d: pd.DataFrame) -> float:
        rs = _risk_sets(
            d,
            unit=self.unit,
            time=self.time,
            cohort=self.cohort,
            age=self.age,
            cluster=self.cluster,
        )
        parts = [
            rs[["participant", *self.covariates, "age_g"]].to_numpy(float),
            pd.get_dummies(rs["stack_year"], dtype=float).to_numpy(),
        ]
        if self.cluster:
            parts.append(pd.get_dummies(rs["_cl"], drop_first=True, dtype=float).to_numpy())
        x = np.column_stack(parts)
        y = rs[self.outcome].to_numpy(float)
        beta = np.linalg.solve(x.T @ x, x.T @ y)
        return float(beta[0])

    def for_cohorts(
        self, d: pd.DataFrame, *, codes: np.ndarray, n_units: int
    ) -> Callable[[np.ndarray], float | None]:
        """τ of ``d`` with the cohorts ``cohort_by_unit[codes]`` (``codes``: unit of each row)."""
        year = d[self.time].to_numpy()
        a = d[self.age].to_numpy(float)
        base = d[list(self.covariates)].to_numpy(float)
        y = d[self.outcome].to_numpy(float)
        first = np.full(n_units, np.iinfo(np.int64).max)
        np.minimum.at(first, codes, year)
        first_row = first[codes]
        # the edition × period labels are "<edition>_<period as text>", in sorted text order:
        # built per draw only for the few (edition, period) pairs present, from integer keys
        # (sorting a text label per row took a third of each draw)
        yt_labels, yt_code = np.unique(d[self.time].astype(str).to_numpy(), return_inverse=True)
        n_yt = len(yt_labels)
        if self.cluster:
            cl_code = np.unique(d[self.cluster].astype(str).to_numpy(), return_inverse=True)[1]
        else:
            cl_code = np.zeros(len(d), dtype=np.intp)

        def tau(cohort_by_unit: np.ndarray) -> float | None:
            coh = np.asarray(cohort_by_unit, dtype=float)[codes]
            blocks = []
            for g in sorted(c for c in np.unique(coh) if c > 0):
                at_g = (year == g) & (first_row < g)
                part = at_g & (coh == g)
                if not part.any():
                    continue
                lo, hi = a[part].min(), a[part].max()
                member = at_g & ((coh == g) | ((coh == 0) & (a >= lo) & (a <= hi)))
                age_g = np.full(n_units, np.nan)
                age_g[codes[member]] = a[member]
                rows = np.flatnonzero(np.isfinite(age_g[codes]) & (year >= g))
                blocks.append((int(g), rows, age_g[codes[rows]], coh[rows] == g))
            if not blocks:
                return None  # the frame path words the error
            rows = np.concatenate([b[1] for b in blocks])
            stack = np.concatenate([np.full(len(b[1]), b[0]) for b in blocks])
            keys, key_code = np.unique(stack * n_yt + yt_code[rows], return_inverse=True)
            pair_text = np.array([f"{k // n_yt}_{yt_labels[k % n_yt]}" for k in keys.tolist()])
            order = np.argsort(pair_text, kind="stable")
            rank = np.empty(len(keys), dtype=np.intp)
            rank[order] = np.arange(len(keys))
            sy_labels, sy_code = pair_text[order], rank[key_code]
            k_base = 2 + base.shape[1]
            n_cl = 0
            if self.cluster:
                present, cl_pos = np.unique(cl_code[rows], return_inverse=True)
                n_cl = len(present) - 1
            # Fortran order, as np.column_stack of the frame's columns makes it: the BLAS
            # products (x'x, x'y) then run the same kernels and sum in the same order
            x = np.zeros((len(rows), k_base + len(sy_labels) + n_cl), order="F")
            x[:, 0] = np.concatenate([b[3] for b in blocks])
            x[:, 1 : k_base - 1] = base[rows]
            x[:, k_base - 1] = np.concatenate([b[2] for b in blocks])
            r = np.arange(len(rows))
            x[r, k_base + sy_code] = 1.0
            if self.cluster:
                dummy = cl_pos > 0  # the first cluster (sorted label) is dropped
                x[r[dummy], k_base + len(sy_labels) + cl_pos[dummy] - 1] = 1.0
            beta = np.linalg.solve(x.T @ x, x.T @ y[rows])
            return float(beta[0])

        return tau


def dropout_wild_bootstrap(
    df: pd.DataFrame,
    *,
    covariates: Sequence[str],
    unit: str,
    time: str,
    cohort: str,
    age: str,
    outcome: str = "dropped_out",
    cluster: str | None = None,
    reps: int = 999,
    seed: int | None = None,
    weights_type: Literal["rademacher", "webb", "auto"] = "auto",
) -> Estimate:
    r"""Restricted wild cluster bootstrap of the :func:`dropout_effect` coefficient.

    :func:`analysis.inference.wild_cluster_bootstrap` (WCR, :math:`H_0: \tau = 0`) of the same
    regression on :func:`risk_sets`; cluster effects are nested in the clusters and absorbed,
    edition × period effects enter as dummies.  ``weights_type="auto"``: Webb weights below
    :data:`analysis.inference.WEBB_BELOW_CLUSTERS` clusters.
    """
    covariates = list(covariates)
    _validate(
        df, unit=unit, time=time, cohort=cohort, age=age, columns=[outcome, cluster, *covariates]
    )
    rs = _risk_sets(df, unit=unit, time=time, cohort=cohort, age=age, cluster=cluster)
    fes = ["stack_year", "_cl"] if cluster else ["stack_year"]
    return inference.wild_cluster_bootstrap(
        rs,
        outcome=outcome,
        regressors=["participant", *covariates, "age_g"],
        fixed_effects=fes,
        param="participant",
        cluster="_cl",
        reps=reps,
        weights_type=weights_type,
        seed=seed,
    )


def dropout_randomization(
    df: pd.DataFrame,
    *,
    covariates: Sequence[str],
    unit: str,
    time: str,
    cohort: str,
    age: str,
    strata: str,
    outcome: str = "dropped_out",
    cluster: str | None = None,
    reps: int = 499,
    seed: int | None = None,
    n_jobs: int | None = None,
) -> inference.RandomizationResult:
    """Randomization inference for the dropout hazard effect.

    :func:`analysis.inference.participation_randomization` (participation re-drawn within
    ``strata`` and edition, among eligible units of a participant's age) with
    :func:`hazard_statistic` as the statistic.  The data are validated once per call.

    ``n_jobs``: workers recomputing the statistic (``None``:
    :func:`analysis.replicate.default_jobs`, env ``ANALYSIS_JOBS`` or 1).  The re-assignments
    are drawn in sequence from ``np.random.default_rng(seed)`` in the calling process, so the
    result is identical for any value.
    """
    covariates = list(covariates)
    _validate(
        df, unit=unit, time=time, cohort=cohort, age=age, columns=[outcome, cluster, *covariates]
    )
    stat = hazard_statistic(
        covariates=covariates,
        unit=unit,
        time=time,
        cohort=cohort,
        age=age,
        outcome=outcome,
        cluster=cluster,
    )
    return inference.participation_randomization(
        df,
        statistic=stat,
        unit=unit,
        time=time,
        cohort=cohort,
        strata=strata,
        age=age,
        columns=[outcome, *covariates, cluster],
        reps=reps,
        seed=seed,
        n_jobs=n_jobs,
    )


def hazard_mde(
    df: pd.DataFrame,
    *,
    result: DropoutResult,
    cohort: str,
    outcome: str = "dropped_out",
    alpha: float = 0.05,
    target_power: float = 0.8,
) -> tuple[power.MDEResult, float]:
    """Ex-ante minimum detectable effect on the hazard, in probability points.

    :func:`analysis.power.mde` for a binary outcome, two groups (``design="two_group"``) of
    ``result``'s unit-years at risk (participants vs risk-set controls), base rate the
    ``outcome`` mean over the never-participants' rows.

    Returns
    -------
    (MDEResult, float)
        The calculation (percentage points) and the MDE as a probability.
    """
    _checks.require_columns(df, [cohort, outcome])
    nv = df.loc[(df[cohort] == 0) & df[outcome].notna()]
    base = float(nv[outcome].mean())
    res = power.mde(
        n_treated=result.n_treated_years,
        n_control=result.n_control_years,
        outcome="binary",
        base_rate=base,
        alpha=alpha,
        power=target_power,
    )
    return res, res.value / 100
