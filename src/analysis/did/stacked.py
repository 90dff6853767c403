r"""Stacked 2×2 difference-in-differences of the first treated period.

The textbook comparison, once per cohort and stacked: for each cohort :math:`g`, the units
first treated in :math:`g` and the never-treated units observed (with the outcome) in both
:math:`g-1` and :math:`g`, two rows per unit.  On the stack

.. math:: Y = a_s + b_s T + c_s P + \delta\,T P + \varepsilon

(stack-specific levels :math:`a_s`, group gaps :math:`b_s` and period effects :math:`c_s`; one
common :math:`\delta`), estimated by OLS with CR1 standard errors clustered by ``cluster`` (by
unit when ``None``; t with :math:`G-1` df).  :math:`\delta` is a weighted mean of the cohorts'
first-period effects :math:`ATT(g,g)` (weights proportional to each stack's variance of
:math:`TP` after the stack effects), identified under parallel trends between :math:`g-1` and
:math:`g` and no anticipation.  Because no already-treated unit is ever a control, the
"forbidden comparisons" of TWFE cannot enter.

The regression has few parameters, so it is also the natural candidate for the restricted
wild cluster bootstrap when there are few clusters (:func:`stacked_first_year_bootstrap`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import pandas as pd

from analysis import inference
from analysis.did import _checks
from analysis.did.two_by_two import did_2x2
from analysis.errors import fail
from analysis.estimate import Estimate

__all__ = [
    "first_year_stack",
    "stack_controls",
    "stacked_bootstrap",
    "stacked_first_year",
    "stacked_first_year_bootstrap",
    "stacked_fit",
]

#: The columns every stack of :func:`first_year_stack` has (besides the stack dummies).
STACK_COLUMNS = ("y", "treat", "post", "treat_post", "stack", "pair", "_cl")


def first_year_stack(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    cluster: str | None = None,
) -> pd.DataFrame:
    """Stack the 2×2 comparisons of each cohort's first treated period with the one before.

    Parameters
    ----------
    df
        Long panel, one row per unit and period.
    outcome, unit, time
        Column names (numeric outcome and time).
    cohort
        First treated period (``0`` or missing = never treated), constant within unit.
    cluster
        Cluster column (units nested in clusters); ``None``: the unit.

    Returns
    -------
    pandas.DataFrame
        Columns ``y``, ``treat``, ``post``, ``treat_post``, ``stack`` (the cohort), the stack
        dummies ``s_<g>``, ``post_s_<g>``, ``treat_s_<g>`` (every cohort but the first),
        ``pair`` (unit × stack) and ``_cl`` (the cluster as text).

    Raises
    ------
    DataValidationError
        Missing columns, non-numeric outcome/time/cohort, missing unit or time, duplicated
        unit-period rows, a cohort or cluster that changes within a unit, or no cohort with
        units observed in its first treated period and the period before.
    """
    _checks.require_frame(df)
    _checks.require_columns(df, [outcome, unit, time, cohort, cluster])
    for col in (outcome, time):
        _checks.require_numeric(df, col)
    _checks.require_no_missing(df, unit)
    _checks.require_no_missing(df, time)
    _checks.require_unique_unit_time(df, unit, time)
    g_all = _checks.normalise_cohort(df, unit=unit, cohort=cohort)
    if cluster is not None and cluster != unit:
        _checks.require_nested(df, unit=unit, cluster=cluster)
    return _stack(df, g_all, outcome=outcome, unit=unit, time=time, cluster=cluster)


def _stack(
    df: pd.DataFrame,
    g_all: pd.Series,
    *,
    outcome: str,
    unit: str,
    time: str,
    cluster: str | None,
) -> pd.DataFrame:
    ok = df[outcome].notna()
    cl = cluster or unit
    # only the columns the stack is made of (a register's other columns were most of the copying)
    obs, coh = df.loc[ok, list(dict.fromkeys([outcome, unit, time, cl]))], g_all.loc[ok]
    parts = []
    for g in sorted(c for c in coh.unique() if c > 0):
        sel = obs[time].isin([g - 1, g]) & coh.isin([0, g])
        two, two_g = obs[sel], coh[sel]
        n = two.groupby(unit)[time].transform("nunique")
        two, two_g = two[n == 2], two_g[n == 2]
        if two_g.eq(g).sum() == 0:
            continue
        parts.append(
            pd.DataFrame(
                {
                    "y": two[outcome].to_numpy(float),
                    "treat": (two_g == g).astype(float).to_numpy(),
                    "post": (two[time] == g).astype(float).to_numpy(),
                    "stack": int(g),
                    "pair": (two[unit].astype(str) + f"_{int(g)}").to_numpy(),
                    "_cl": two[cl].astype(str).to_numpy(),
                }
            )
        )
    if not parts:
        raise fail(
            _checks.SOURCE,
            "no cohort has treated units observed in their first treated period and the "
            "period before",
            column=outcome,
        )
    st = pd.concat(parts, ignore_index=True)
    st["treat_post"] = st["treat"] * st["post"]
    for g in sorted(st["stack"].unique())[1:]:
        s = (st["stack"] == g).astype(float)
        st[f"s_{g}"] = s
        st[f"post_s_{g}"] = s * st["post"]
        st[f"treat_s_{g}"] = s * st["treat"]
    return st


def stack_controls(stack: pd.DataFrame) -> list[str]:
    """The stack-specific dummies of :func:`first_year_stack` (the model's :math:`a_s, b_s, c_s`)."""
    return [c for c in stack.columns if c.startswith(("s_", "post_s_", "treat_s_"))]


def stacked_first_year(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    cluster: str | None = None,
) -> Estimate:
    r"""The first-period effect :math:`\delta` of the stacked 2×2 (module docstring).

    OLS on :func:`first_year_stack` (:func:`analysis.did.did_2x2` with the stack dummies as
    covariates), CR1 standard errors clustered by ``cluster`` (by unit when ``None``).

    Returns
    -------
    analysis.estimate.Estimate
    """
    st = first_year_stack(df, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster)
    return stacked_fit(st)


def _require_stack(stack: pd.DataFrame) -> None:
    _checks.require_frame(stack)
    missing = [c for c in STACK_COLUMNS if c not in stack.columns]
    if missing:
        raise fail(
            "stacked 2×2 input",
            "not a stack of first_year_stack (build it with analysis.did.first_year_stack)",
            column=missing[0],
        )


def stacked_fit(stack: pd.DataFrame) -> Estimate:
    r""":func:`stacked_first_year` on a stack already built by :func:`first_year_stack`.

    For a caller that also bootstraps the same regression (:func:`stacked_bootstrap`): the
    stack is built once (at a million pupils building it takes longer than the fit).  Same
    numbers as :func:`stacked_first_year` of the data the stack was built from.

    Raises
    ------
    DataValidationError
        ``stack`` lacks a column of :func:`first_year_stack`'s result.
    """
    _require_stack(stack)
    st = stack
    est = did_2x2(
        st, outcome="y", treated="treat", post="post", cluster="_cl", covariates=stack_controls(st)
    )
    return replace(
        est,
        method="2x2 DiD, first treated period vs the period before "
        "(stacked by cohort, never-treated units as controls)",
    )


def stacked_first_year_bootstrap(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    cluster: str | None = None,
    reps: int = 999,
    seed: int | None = None,
    weights_type: Literal["rademacher", "webb", "auto"] = "auto",
) -> Estimate:
    r"""Restricted wild cluster bootstrap of the stacked 2×2's :math:`\delta`.

    :func:`analysis.inference.wild_cluster_bootstrap` (WCR) of the same regression as
    :func:`stacked_first_year`, by ``cluster`` (by unit when ``None``): tests
    :math:`H_0: \delta = 0` with errors correlated within clusters; the CI inverts the test.
    ``weights_type="auto"``: Webb weights below
    :data:`analysis.inference.WEBB_BELOW_CLUSTERS` clusters, Rademacher otherwise.

    Returns
    -------
    analysis.estimate.Estimate
        ``estimate`` and ``se`` (CR1) as :func:`stacked_first_year`; bootstrap p-value and CI.
    """
    st = first_year_stack(df, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster)
    return stacked_bootstrap(st, reps=reps, seed=seed, weights_type=weights_type)


def stacked_bootstrap(
    stack: pd.DataFrame,
    *,
    reps: int = 999,
    seed: int | None = None,
    weights_type: Literal["rademacher", "webb", "auto"] = "auto",
) -> Estimate:
    r""":func:`stacked_first_year_bootstrap` on a stack already built by :func:`first_year_stack`.

    The stack of :func:`stacked_fit` reused (built once per page); same numbers as
    :func:`stacked_first_year_bootstrap` of the data the stack was built from.

    Raises
    ------
    DataValidationError
        ``stack`` lacks a column of :func:`first_year_stack`'s result.
    """
    _require_stack(stack)
    st = stack
    return inference.wild_cluster_bootstrap(
        st,
        outcome="y",
        regressors=["treat", "post", "treat_post", *stack_controls(st)],
        param="treat_post",
        cluster="_cl",
        reps=reps,
        weights_type=weights_type,
        seed=seed,
    )
