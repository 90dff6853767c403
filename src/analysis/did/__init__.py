"""Difference-in-differences estimators for pupil-level panels.

* :func:`did_2x2` — canonical 2×2 DiD regression (statsmodels);
* :func:`twfe` — static two-way fixed effects (pyfixest);
* :func:`staggered` — Callaway & Sant'Anna group-time effects and their aggregations
  (diff-diff + R ``aggte`` aggregation), on balanced or (``allow_unbalanced=True``) unbalanced
  panels; :func:`treated_cell_counts`, :func:`pretrend_tests` and :func:`simple_att` around it;
  :func:`shared_propensity_scores` lets several fits of the same cells share their logits;
* :func:`event_study` — dynamic effects with TWFE, Sun-Abraham, Callaway-Sant'Anna,
  imputation or two-stage estimators; :func:`event_window` and :func:`effect_horizon` choose
  the event times with enough treated units;
* :func:`imputation`, :func:`two_stage`, :func:`etwfe` — static ATT from the imputation
  family (Borusyak-Jaravel-Spiess, Gardner, Wooldridge / fixest ``sunab(att=TRUE)``);
* :func:`stacked_first_year` — the 2×2 of each cohort's first treated period, stacked
  (:mod:`analysis.did.stacked`); :func:`first_year_stack` builds the stack once for
  :func:`stacked_fit` and :func:`stacked_bootstrap`;
* :class:`SimpleATT` — the simple-aggregation ATT as a statistic for randomization inference
  (draws on arrays); :func:`cs_event_study` — the event study of a fitted
  :class:`StaggeredResult`;
* :mod:`analysis.did.dropout` — an absorbing exit (dropout) is not a DiD outcome: risk-set
  comparison of hazards.

Every function takes a long DataFrame and keyword-only column names, validates its input
(:class:`analysis.errors.DataValidationError`) and returns read-only result objects.
"""

from analysis.did import datasets, dropout
from analysis.did._inference import SimpleATT
from analysis.did.dose import DoseResponseResult, dose_response, first_year_dose_panel
from analysis.did.event_study import (
    EventStudy,
    cs_event_study,
    effect_horizon,
    event_study,
    event_time_counts,
    event_window,
)
from analysis.did.imputation import etwfe, imputation, two_stage
from analysis.did.stacked import (
    first_year_stack,
    stacked_bootstrap,
    stacked_first_year,
    stacked_first_year_bootstrap,
    stacked_fit,
)
from analysis.did.staggered import (
    Aggregation,
    PretrendSummary,
    PretrendTest,
    StaggeredResult,
    pretrend_tests,
    shared_propensity_scores,
    simple_att,
    staggered,
    treated_cell_counts,
)
from analysis.did.twfe import twfe
from analysis.did.two_by_two import did_2x2

__all__ = [
    "DoseResponseResult",
    "dose_response",
    "first_year_dose_panel",
    "Aggregation",
    "EventStudy",
    "PretrendSummary",
    "PretrendTest",
    "SimpleATT",
    "StaggeredResult",
    "cs_event_study",
    "datasets",
    "did_2x2",
    "dropout",
    "effect_horizon",
    "etwfe",
    "event_study",
    "event_time_counts",
    "event_window",
    "first_year_stack",
    "imputation",
    "pretrend_tests",
    "shared_propensity_scores",
    "simple_att",
    "stacked_bootstrap",
    "stacked_first_year",
    "stacked_first_year_bootstrap",
    "stacked_fit",
    "staggered",
    "treated_cell_counts",
    "twfe",
    "two_stage",
]
