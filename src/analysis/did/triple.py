r"""Triple differences (Ortiz-Villavicencio & Sant'Anna 2025), group-time and event-study effects.

Design
------
For when the comparison pupils' trends are doubtful: a second, within-group comparison removes
trends shared by a *partition* that the programme cannot reach.  Units belong to a cohort
:math:`g` (first treated period; 0 = never treated) and to a partition :math:`Q \in \{0, 1\}`
(e.g. eligible grades or schools = 1).  With never-treated units as the comparison group and
the universal base period :math:`g - 1`,

.. math::
   ATT(g, t) = \big[\Delta_{g,1} - \Delta_{g,0}\big] - \big[\Delta_{\infty,1} - \Delta_{\infty,0}\big],
   \qquad \Delta_{c,q} = E[Y_t - Y_{g-1} \mid G = c, Q = q],

identified when the *difference* between eligible and ineligible units' trends is the same in
cohort :math:`g` and in the never-treated (a weaker condition than parallel trends in either
partition).  Each cell is estimated by the doubly robust (``"dr"``), regression (``"reg"``) or
IPW (``"ipw"``) 2×2×2 estimator of Ortiz-Villavicencio & Sant'Anna, with covariates entering
the outcome and propensity-score models, on the rows of cohort :math:`g` and the never-treated
observed in :math:`g - 1` and :math:`t`.  As in R ``triplediff`` with
``allow_unbalanced_panel = TRUE``, the rows are used as repeated cross-sections (a unit needs
not be observed in every period), and standard errors are clustered by unit (so a unit
observed in both periods counts once).

Backend: diff-diff's ``TripleDifference`` (the 2×2×2 DR/REG/IPW estimator with influence-
function standard errors) cell by cell; this module builds the cells, the event-study and the
overall aggregations.  Written by hand because diff-diff's staggered class requires a balanced
panel and moderndid's R-parity version needs Python ≥ 3.12.  Validated against R
``triplediff`` through moderndid 0.4.1 on the Cai (2016) panel
(``tests/test_did_triple_reference.py``): every ATT(g, t) to 1e-12.

Aggregation: the event-study effect at :math:`e` is the average of :math:`ATT(g, g+e)` over
cohorts weighted by cohort size; the overall effect is the simple mean of the event-study
effects for :math:`e \ge 0` (R ``agg_ddd(type = "eventstudy")``'s overall).  With one cohort,
their standard errors are not computed here (the cells' influence functions are not exposed
by the backend): the cell standard errors are.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis._util import version
from analysis.did import _checks

__all__ = ["TripleDiffResult", "triple_differences"]

Method = Literal["dr", "reg", "ipw"]


@dataclass(frozen=True)
class TripleDiffResult:
    """Group-time triple-difference effects and their aggregations (read-only tables)."""

    cells: pd.DataFrame  # cohort, time, event_time, att, se, ci_low, ci_high, n_obs
    outcome: str
    method: str
    covariates: tuple[str, ...]
    level: float
    backend: str
    notes: tuple[str, ...] = field(default=())

    def event_study(self) -> pd.DataFrame:
        """Effects by event time :math:`e = t - g` (cohort-size weighted over cohorts)."""
        c = self.cells
        rows = []
        for e, grp in c.groupby("event_time", sort=True):
            w = grp["n_treated"] / grp["n_treated"].sum()
            att = float((w * grp["att"]).sum())
            se = float(grp["se"].iloc[0]) if len(grp) == 1 else np.nan
            rows.append({"event_time": int(e), "att": att, "se": se})
        return pd.DataFrame(rows)

    @property
    def overall(self) -> float:
        """Mean of the event-study effects for e ≥ 0."""
        es = self.event_study()
        return float(es.loc[es["event_time"] >= 0, "att"].mean())

    def tidy(self) -> pd.DataFrame:
        """The group-time cells."""
        return self.cells.copy()

    def summary(self) -> str:
        """One line per event time and the overall effect."""
        es = self.event_study()
        lines = [
            f"Triple differences ({self.method}), outcome {self.outcome}: overall {self.overall:.4f}"
        ]
        lines += [f"  e={r.event_time:+d}: {r.att:.4f} (se {r.se:.4f})" for r in es.itertuples()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        return {
            "cells": self.cells.to_dict(orient="records"),
            "event_study": self.event_study().to_dict(orient="records"),
            "overall": self.overall,
            "method": self.method,
            "covariates": list(self.covariates),
            "backend": self.backend,
            "notes": list(self.notes),
        }


def triple_differences(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    partition: str,
    covariates: Sequence[str] | None = None,
    control: Literal["never"] = "never",
    base_period: Literal["universal"] = "universal",
    method: Method = "dr",
    level: float = 0.95,
) -> TripleDiffResult:
    r"""Estimate every :math:`ATT(g, t)` of a staggered triple-difference design.

    Parameters
    ----------
    df
        Long data, one row per unit and period (units may miss periods).
    outcome, unit, time
        Column names (numeric outcome and time).
    cohort
        First treated period of the unit's group; 0 or missing for never treated.
    partition
        0/1 indicator of the partition the programme can reach (e.g. eligible grades).
    covariates
        Columns for the outcome and propensity-score models (rows with missing values in them
        are dropped, with a note).
    control
        Only ``"never"`` (never-treated comparison): the not-yet-treated version needs the
        GMM combination of comparison groups, which is not implemented here — refused.
    base_period
        Only ``"universal"`` (:math:`g - 1` for every cell) — other values are refused.
    method
        ``"dr"``, ``"reg"`` or ``"ipw"``.
    level
        Confidence level of the cell intervals.

    Returns
    -------
    TripleDiffResult
    """
    if control != "never":
        raise _checks.fail(
            _checks.SOURCE,
            "control must be 'never': the not-yet-treated triple difference (GMM-combined "
            "comparison groups) is not implemented",
            column="control",
        )
    if base_period != "universal":
        raise _checks.fail(_checks.SOURCE, "base_period must be 'universal'", column="base_period")
    if method not in ("dr", "reg", "ipw"):
        raise _checks.fail(_checks.SOURCE, "method must be 'dr', 'reg' or 'ipw'", column="method")
    if not 0 < level < 1:
        raise _checks.fail(_checks.SOURCE, "level must lie in (0, 1)", column="level")
    covs = list(covariates or [])
    df = _checks.require_frame(df)
    _checks.require_columns(df, [outcome, unit, time, cohort, partition, *covs])
    for c in (outcome, time, *covs):
        _checks.require_numeric(df, c)
    _checks.require_binary(df, partition)
    _checks.require_unique_unit_time(df, unit, time)
    _checks.require_constant_within(df, unit, partition, "the partition must be fixed per unit")
    notes = _checks.Notes()
    cols = [outcome, unit, time, cohort, partition, *covs]
    data = pd.DataFrame(
        {c: df[c] for c in cols}, index=df.index
    )  # not df[cols].copy(): 1/4 the time
    data[cohort] = _checks.normalise_cohort(data, unit=unit, cohort=cohort)
    data = _checks.drop_missing_rows(data, [outcome, *covs], notes)
    times = sorted(data[time].unique())
    cohorts = sorted(g for g in data[cohort].unique() if g > 0)
    if not cohorts or not (data[cohort] == 0).any():
        raise _checks.fail(
            _checks.SOURCE, "needs treated cohorts and never-treated units", column=cohort
        )
    import diff_diff as dd

    crit = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    for g in cohorts:
        base = g - 1
        if base not in times:
            notes.add(f"cohort {g:g} left out: its base period {base:g} is not in the data")
            continue
        for t in times:
            if t == base:
                continue
            cell = data[data[cohort].isin([0, g]) & data[time].isin([base, t])].copy()
            cell["_treated"] = (cell[cohort] == g).astype(int)
            cell["_post"] = (cell[time] == t).astype(int)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = dd.TripleDifference(estimation_method=method, cluster=unit).fit(
                    cell,
                    outcome=outcome,
                    group="_treated",
                    partition=partition,
                    post="_post",
                    covariates=covs or None,
                )
            att, se = float(r.att), float(r.se)
            rows.append(
                {
                    "cohort": int(g),
                    "time": int(t),
                    "event_time": int(t - g),
                    "att": att,
                    "se": se,
                    "ci_low": att - crit * se,
                    "ci_high": att + crit * se,
                    "n_obs": len(cell),
                    "n_treated": int(cell.loc[cell["_treated"] == 1, unit].nunique()),
                }
            )
    return TripleDiffResult(
        cells=pd.DataFrame(rows),
        outcome=outcome,
        method=method,
        covariates=tuple(covs),
        level=level,
        backend=f"{version('diff-diff')} (TripleDifference, cell by cell)",
        notes=tuple(notes),
    )
