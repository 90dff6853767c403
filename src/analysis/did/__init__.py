"""Difference-in-differences estimators for pupil-level panels.

* :func:`did_2x2` — canonical 2×2 DiD regression (statsmodels);
* :func:`twfe` — static two-way fixed effects (pyfixest);
* :func:`staggered` — Callaway & Sant'Anna group-time effects and their aggregations
  (diff-diff + R ``aggte`` aggregation);
* :func:`event_study` — dynamic effects with TWFE, Sun-Abraham, Callaway-Sant'Anna,
  imputation or two-stage estimators;
* :func:`imputation`, :func:`two_stage`, :func:`etwfe` — static ATT from the imputation
  family (Borusyak-Jaravel-Spiess, Gardner, Wooldridge / fixest ``sunab(att=TRUE)``).

Every function takes a long DataFrame and keyword-only column names, validates its input
(:class:`analysis.errors.DataValidationError`) and returns read-only result objects.
"""

from analysis.did import datasets
from analysis.did.event_study import EventStudy, event_study
from analysis.did.imputation import etwfe, imputation, two_stage
from analysis.did.staggered import Aggregation, PretrendTest, StaggeredResult, staggered
from analysis.did.twfe import twfe
from analysis.did.two_by_two import did_2x2

__all__ = [
    "Aggregation",
    "EventStudy",
    "PretrendTest",
    "StaggeredResult",
    "datasets",
    "did_2x2",
    "etwfe",
    "event_study",
    "imputation",
    "staggered",
    "twfe",
    "two_stage",
]
