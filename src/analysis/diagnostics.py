r"""Diagnostics of difference-in-differences designs.

:func:`bacon_decomposition` — Goodman-Bacon (2021): in a balanced panel with staggered,
absorbing treatment, the static TWFE coefficient is a weighted average of all 2×2 DiD
comparisons between timing groups,

.. math:: \hat\beta^{TWFE} = \sum_k s_k \hat\beta^{2\times2}_k, \qquad \sum_k s_k = 1,

where the comparisons are treated vs never treated, earlier- vs later-treated (later group
not yet treated) and later- vs earlier-treated (the "forbidden" comparison that uses
already-treated units as controls).  The weights depend on group sizes and the variance of
treatment within each pair.  Computed with diff-diff's ``BaconDecomposition`` (exact
variance weights).

Pupil registers are not balanced panels, so :func:`balanced_subpanel` chooses the window of
school years whose balanced sub-panel best supports the decomposition, and
:func:`bacon_on_balanced_subpanel` runs it there next to TWFE and Callaway-Sant'Anna
(:class:`BaconSummary`).

Design diagnostics around a DiD:

* :func:`baseline_balance` — selection into treatment on baseline covariates: propensity
  scores, ATT weights and standardised mean differences (:class:`Balance`);
* :func:`did_mde` — the ex-ante minimum detectable effect of the realised design, from
  :func:`analysis.power.mde` with the outcome's year-to-year correlation measured among
  never-treated units (:func:`outcome_autocorrelation`); :func:`realised_mde` — the MDE
  implied by an estimate's standard error.

(The HonestDiD sensitivity analysis lives in :mod:`analysis.honest`.)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis import did, power, weighting
from analysis.did import _checks
from analysis.did._inference import quiet_backend
from analysis.errors import fail
from analysis.estimate import Estimate
from analysis.privacy import K_MIN

__all__ = [
    "Balance",
    "BaconSummary",
    "Subpanel",
    "bacon_decomposition",
    "bacon_on_balanced_subpanel",
    "balanced_subpanel",
    "baseline_balance",
    "did_mde",
    "outcome_autocorrelation",
    "realised_mde",
]


def bacon_decomposition(
    df: pd.DataFrame, *, outcome: str, unit: str, time: str, treated: str
) -> pd.DataFrame:
    """Decompose the static TWFE coefficient into 2×2 comparisons (Goodman-Bacon 2021).

    Parameters
    ----------
    df
        Balanced long panel (the decomposition theorem needs one).
    outcome, unit, time
        Column names.
    treated
        0/1 treated-and-post indicator, absorbing within unit.

    Returns
    -------
    pandas.DataFrame
        One row per comparison: ``comparison`` (``treated_vs_never``, ``earlier_vs_later``,
        ``later_vs_earlier``), ``treated_cohort``, ``control_cohort`` (``"never"`` for
        never-treated), ``weight``, ``estimate``, ``n_treated``, ``n_control``.
        ``attrs["twfe_estimate"]`` holds the TWFE coefficient the weighted estimates add up
        to, ``attrs["decomposition_error"]`` the numerical gap.

    Raises
    ------
    DataValidationError
        Missing columns, non-numeric outcome, duplicated unit-time rows, a non-absorbing
        treatment, an unbalanced panel or missing outcomes.
    """
    import diff_diff

    notes = _checks.Notes()
    d = _checks.prepare_panel(
        df, outcome=outcome, unit=unit, time=time, columns=[treated], numeric=[], notes=notes
    )
    if notes:
        raise fail(
            _checks.SOURCE,
            "the Bacon decomposition needs a complete balanced panel; "
            "the outcome has missing values",
            column=outcome,
            rows=list(df.index[df[outcome].isna()]),
        )
    n_periods = d[time].nunique()
    counts = d.groupby(unit)[time].transform("nunique")
    if (counts < n_periods).any():
        raise fail(
            _checks.SOURCE,
            "the Bacon decomposition needs a balanced panel (every unit observed in every period)",
            column=unit,
            rows=list(d.index[counts < n_periods]),
        )
    d["_cohort"] = _checks.cohort_from_indicator(
        d, unit=unit, time=time, treated=treated
    ).to_numpy()
    with quiet_backend():
        res = diff_diff.BaconDecomposition(weights="exact").fit(
            d, outcome=outcome, unit=unit, time=time, first_treat="_cohort"
        )
    raw = res.to_dataframe()

    def _label(v: object) -> object:
        return "never" if v == "never_treated" else v

    out = pd.DataFrame(
        {
            "comparison": raw["comparison_type"].to_numpy(),
            "treated_cohort": raw["treated_group"].map(_label).to_numpy(),
            "control_cohort": raw["control_group"].map(_label).to_numpy(),
            "weight": raw["weight"].to_numpy(float),
            "estimate": raw["estimate"].to_numpy(float),
            "n_treated": raw["n_treated"].to_numpy(),
            "n_control": raw["n_control"].to_numpy(),
        }
    )
    out.attrs["twfe_estimate"] = float(res.twfe_estimate)
    out.attrs["decomposition_error"] = float(res.decomposition_error)
    return out


# ============================================================================================
# Goodman-Bacon on the best balanced sub-panel of an unbalanced panel
# ============================================================================================


@dataclass(frozen=True)
class Subpanel:
    """A balanced window of an unbalanced panel (see :func:`balanced_subpanel`).

    Attributes
    ----------
    data
        The sub-panel: every column of the input, cohorts recoded (0 after the window), and a
        0/1 ``treated`` column (cohort reached).
    window
        First and last period of the window.
    dropped_cohorts
        Cohorts left out because fewer than ``min_group`` of their units are observed in every
        period of the window.
    """

    data: pd.DataFrame = field(repr=False)
    window: tuple[int, int]
    dropped_cohorts: tuple[int, ...] = ()


def balanced_subpanel(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    min_years: int = 3,
    min_group: int = K_MIN,
) -> Subpanel | None:
    """Choose the window of periods whose balanced sub-panel best supports a decomposition.

    Candidates: contiguous windows of at least ``min_years`` periods.  In each, keep units
    observed (with ``outcome``) in every period, drop those already treated in the first
    period, recode cohorts after the window as never treated, and drop timing groups with
    fewer than ``min_group`` units.  Preferred: two or more treated cohorts, then most treated
    units, then most units.

    Returns
    -------
    Subpanel or None
        ``None`` when no window has a treated and a never-treated group of ``min_group``.
    """
    _checks.require_frame(df)
    _checks.require_columns(df, [outcome, unit, time, cohort])
    _checks.require_numeric(df, time)
    _checks.require_numeric(df, cohort)
    _checks.require_unique_unit_time(df, unit, time)
    obs = df.loc[df[outcome].notna()]
    years = np.sort(obs[time].unique())
    # Each window is judged on arrays (no copy of the rows per window: at a million pupils
    # the ten candidate windows copied the whole frame ten times); only the chosen one is
    # built as a frame, with the same operations as before.  A unit's rows in a window are
    # its distinct periods there (unique unit-period rows, checked above).
    t = obs[time].to_numpy(dtype=float, na_value=np.nan)
    codes, _ = pd.factorize(obs[unit])
    known = codes >= 0
    n_units = int(codes.max()) + 1 if len(codes) else 0
    coh = obs[cohort]
    best, best_key = None, None
    for i in range(len(years)):
        for j in range(i + min_years - 1, len(years)):
            win = years[i : j + 1]
            if not np.array_equal(win, np.arange(win[0], win[-1] + 1)):
                continue
            in_win = known & (t >= win[0]) & (t <= win[-1])
            seen = np.bincount(codes[in_win], minlength=n_units)
            keep = in_win & (seen[np.where(known, codes, 0)] == len(win))
            keep &= (~((coh > 0) & (coh <= win[0]))).to_numpy(dtype=bool, na_value=False)
            recoded = coh[keep].mask((coh[keep] > win[-1]).to_numpy(dtype=bool, na_value=False), 0)
            first = ~pd.Series(codes[keep]).duplicated().to_numpy()
            sizes = recoded[first].value_counts()
            small = sizes.index[sizes < min_group]
            sizes = sizes[sizes >= min_group]
            n_groups = int((sizes.index > 0).sum())
            if n_groups == 0 or 0 not in sizes.index:
                continue
            key = (min(n_groups, 2), int(sizes[sizes.index > 0].sum()), int(sizes.sum()))
            if best_key is None or key > best_key:
                best = (keep, win, small)
                best_key = key
    if best is None:
        return None
    keep, win_, small = best
    sub = obs[keep].copy()
    sub.loc[sub[cohort] > win_[-1], cohort] = 0
    sub = sub[~sub[cohort].isin(small)]
    win, dropped = (int(win_[0]), int(win_[-1])), tuple(int(x) for x in small)
    sub = sub.copy()
    sub["treated"] = ((sub[cohort] > 0) & (sub[time] >= sub[cohort])).astype(int)
    return Subpanel(data=sub.reset_index(drop=True), window=win, dropped_cohorts=dropped)


@dataclass(frozen=True)
class BaconSummary:
    """Goodman-Bacon decomposition of TWFE on a balanced sub-panel, with TWFE and CS.

    Attributes
    ----------
    window
        First and last period of the sub-panel (:func:`balanced_subpanel`).
    n_units, n_treated
        Units in the sub-panel and how many of them are ever treated.
    table
        One row per 2×2 comparison (:func:`bacon_decomposition`).
    by_type
        ``comparison``, total ``weight``, weighted mean ``estimate`` and number of
        ``comparisons`` per comparison type.
    twfe, cs
        TWFE (:func:`analysis.did.twfe`) and Callaway-Sant'Anna (:func:`analysis.did.staggered`,
        R-validated, simple aggregation) on the same sub-panel.
    dropped_cohorts, min_group
        Cohorts left out of the sub-panel and the size rule that dropped them.
    """

    window: tuple[int, int]
    n_units: int
    n_treated: int
    table: pd.DataFrame
    by_type: pd.DataFrame
    twfe: Estimate
    cs: Estimate
    dropped_cohorts: tuple[int, ...] = ()
    min_group: int = K_MIN

    def weight(self, comparison: str) -> float:
        """Total TWFE weight of one comparison type (0 when absent)."""
        bt = self.by_type.set_index("comparison")
        return float(bt["weight"].get(comparison, 0.0))

    def estimate(self, comparison: str) -> float:
        """Weighted mean 2×2 estimate of one comparison type (NaN when absent)."""
        bt = self.by_type.set_index("comparison")
        return float(bt["estimate"].get(comparison, np.nan))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "window": list(self.window),
            "n_units": self.n_units,
            "n_treated": self.n_treated,
            "table": self.table.to_dict(orient="records"),
            "by_type": self.by_type.to_dict(orient="records"),
            "twfe": self.twfe.to_dict(),
            "cs": self.cs.to_dict(),
            "dropped_cohorts": list(self.dropped_cohorts),
            "min_group": self.min_group,
        }


def bacon_on_balanced_subpanel(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    cluster: str | None = None,
    min_years: int = 3,
    min_group: int = K_MIN,
) -> BaconSummary | None:
    """Goodman-Bacon decomposition of TWFE, with TWFE and CS, on the best balanced sub-panel.

    The decomposition theorem needs a balanced panel, which pupil registers are not
    (:func:`balanced_subpanel` picks the window).  On that sub-panel TWFE equals the weighted
    sum of the 2×2 comparisons exactly, and Callaway-Sant'Anna is the package's R-validated
    :func:`analysis.did.staggered`; the gap between the two is explained by the weight on
    "later vs earlier" comparisons (already-treated units as controls).  Standard errors are
    clustered by ``cluster`` (by unit when ``None``).

    Returns
    -------
    BaconSummary or None
        ``None`` when no window qualifies.
    """
    # only the columns the three fits use: the sub-panel is built from a copy of the rows
    # (at a million pupils the other columns of the analysis frame were most of the copying)
    _checks.require_frame(df)
    used = list(dict.fromkeys(c for c in (outcome, unit, time, cohort, cluster) if c is not None))
    _checks.require_columns(df, used)
    found = balanced_subpanel(
        df[used],
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        min_years=min_years,
        min_group=min_group,
    )
    if found is None:
        return None
    sub = found.data
    cl = cluster or unit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = bacon_decomposition(sub, outcome=outcome, unit=unit, time=time, treated="treated")
        tw = did.twfe(sub, outcome=outcome, unit=unit, time=time, treated="treated", cluster=cl)
        cs = (
            did.staggered(
                sub, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster
            )
            .aggregate("simple")
            .overall
        )
    g = tab.groupby("comparison")
    by_type = pd.DataFrame(
        {
            "weight": g["weight"].sum(),
            "estimate": g.apply(_weighted_mean, include_groups=False),
            "comparisons": g.size(),
        }
    ).reset_index()
    units = sub.drop_duplicates(unit)
    return BaconSummary(
        window=found.window,
        n_units=len(units),
        n_treated=int((units[cohort] > 0).sum()),
        table=tab,
        by_type=by_type,
        twfe=tw,
        cs=cs,
        dropped_cohorts=found.dropped_cohorts,
        min_group=int(min_group),
    )


def _weighted_mean(x: pd.DataFrame) -> float:
    if x["weight"].sum() > 0:
        return float(np.average(x["estimate"], weights=x["weight"]))
    return np.nan


# ============================================================================================
# Selection on baseline covariates
# ============================================================================================


@dataclass(frozen=True)
class Balance:
    """Selection into treatment on baseline characteristics (one row per unit).

    Attributes
    ----------
    table
        :func:`analysis.weighting.balance_table`: SMD before and after ATT weighting.
    ps
        Propensity score of each unit (indexed by unit id).
    participant
        1 for ever-treated units, 0 for the others (same index).
    covariates
        Covariates used.
    """

    table: pd.DataFrame
    ps: pd.Series = field(repr=False)
    participant: pd.Series = field(repr=False)
    covariates: tuple[str, ...] = ()

    def max_smd(self) -> tuple[float, float]:
        """Largest absolute SMD before and after weighting."""
        t = self.table
        return float(t["smd_unweighted"].abs().max()), float(t["smd_weighted"].abs().max())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (the balance table only, no unit-level values)."""
        return {
            "covariates": list(self.covariates),
            "table": self.table.to_dict(orient="records"),
            "max_abs_smd": list(self.max_smd()),
        }


def baseline_balance(
    df: pd.DataFrame, *, unit: str, treatment: str, covariates: Sequence[str]
) -> Balance:
    r"""Compare ever-treated with never-treated units on baseline covariates.

    One row per unit (the first row of each).  Propensity score :math:`e(X)`: logit of
    ``treatment`` (0/1, constant within unit) on ``covariates``
    (:func:`analysis.weighting.propensity_scores`); ATT weights (treated 1, others
    :math:`e/(1-e)`); standardised mean differences before and after weighting
    (:func:`analysis.weighting.balance_table`).  Describes selection on observables; a
    difference-in-differences needs parallel trends, not balance in levels.
    """
    covariates = list(covariates)
    _checks.require_frame(df)
    _checks.require_columns(df, [unit, treatment, *covariates])
    units = df.drop_duplicates(unit).set_index(unit)
    ps = weighting.propensity_scores(units, treatment=treatment, covariates=covariates)
    part = units[treatment].astype(int)
    w = weighting.ipw_weights(ps, part, "att")
    tab = weighting.balance_table(units, treatment=treatment, covariates=covariates, weights=w)
    return Balance(table=tab, ps=ps, participant=part, covariates=tuple(covariates))


# ============================================================================================
# Minimum detectable effect of the realised design
# ============================================================================================


def outcome_autocorrelation(
    df: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str
) -> float:
    """Correlation of a never-treated unit's outcome between consecutive periods (pooled).

    Outcomes are demeaned by period; the correlation is clipped to ``[0, 0.99]`` (0 when
    fewer than three consecutive pairs exist).
    """
    _checks.require_columns(df, [outcome, unit, time, cohort])
    nv = df.loc[(df[cohort] == 0) & df[outcome].notna(), [unit, time, outcome]]
    nxt = nv.assign(**{time: nv[time] - 1}).rename(columns={outcome: "_next"})
    pair = nv.merge(nxt, on=[unit, time])
    if len(pair) < 3:
        return 0.0
    y0 = pair[outcome] - pair.groupby(time)[outcome].transform("mean")
    y1 = pair["_next"] - pair.groupby(time)["_next"].transform("mean")
    return float(np.clip(np.corrcoef(y0, y1)[0, 1], 0.0, 0.99))


def did_mde(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    n_treated: int,
    n_control: int,
    binary: bool,
    alpha: float = 0.05,
    target_power: float = 0.8,
) -> tuple[power.MDEResult, float]:
    r"""Ex-ante minimum detectable effect of a DiD design, in the outcome's natural units.

    :func:`analysis.power.mde` with ``n_treated`` and ``n_control`` units, one pre- and one
    post-period (``design="did"``, variance factor :math:`2(1-\rho)`) and the year-to-year
    correlation :math:`\rho` of the outcome among never-treated units
    (:func:`outcome_autocorrelation`).  Continuous outcomes: the MDE in SD units times the
    outcome's within-period SD among never-treated units; binary outcomes: their base rate
    among never-treated units, MDE in probability points.  No clustering (cluster effects
    cancel in within-unit changes).

    Returns
    -------
    (MDEResult, float)
        The calculation and the MDE in natural units.
    """
    rho = outcome_autocorrelation(df, outcome=outcome, unit=unit, time=time, cohort=cohort)
    nv = df.loc[(df[cohort] == 0) & df[outcome].notna()]
    if binary:
        base = float(nv[outcome].mean())
        res = power.mde(
            n_treated=n_treated,
            n_control=n_control,
            outcome="binary",
            base_rate=base,
            alpha=alpha,
            power=target_power,
            design="did",
            autocorr=rho,
        )
        return res, res.value / 100
    sd = float((nv[outcome] - nv.groupby(time)[outcome].transform("mean")).std(ddof=1))
    res = power.mde(
        n_treated=n_treated,
        n_control=n_control,
        alpha=alpha,
        power=target_power,
        design="did",
        autocorr=rho,
    )
    return res, res.value * sd


def realised_mde(se: float, *, alpha: float = 0.05, target_power: float = 0.8) -> float:
    r"""The MDE implied by an estimate's standard error: :math:`(z_{1-\alpha/2} + z_{power})\,SE`.

    2.80 × SE at the defaults (5 % two-sided, 80 % power).
    """
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(target_power)) * se)
