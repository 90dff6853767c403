"""Territorial counterfactual estimators for one treated unit, with placebo inference.

Three estimators share one input contract and one result type (:class:`SynthResult`):

* :func:`synthetic_control` -- Abadie, Diamond & Hainmueller (2010), via diff-diff;
* :func:`synthetic_did` -- Arkhangelsky et al. (2021), via diff-diff;
* :func:`panel_did` -- DiD with unit and time fixed effects, via pyfixest.

``df`` is a long panel (one row per unit x period); ``start`` is the first treated period.
Results offer ``placebo_in_space()``, ``placebo_in_time()``, ``leave_one_out()`` and
``to_estimate()``; :func:`triangulate` runs the three side by side with their placebos and
leave-one-out re-estimates (:class:`Triangulation`); figures are in :mod:`analysis.synth.plots`;
a simulated panel with a known effect is in :mod:`analysis.synth.simulate`.

The three estimators share one options class (:class:`analysis.synth._fit.EstimatorSpec`:
placebo replications, seed, level, their validation and serialisation).

Example
-------
>>> from analysis import synth
>>> res = synth.synthetic_did(df, outcome="packs", unit="state", time="year",
...                           treated_unit="California", start=1989)  # doctest: +SKIP
>>> res.att, res.se  # doctest: +SKIP
"""

from analysis.synth.panel_did import panel_did
from analysis.synth.placebo import LeaveOneOut, PlaceboInSpace
from analysis.synth.result import SynthResult
from analysis.synth.synthetic_control import synthetic_control
from analysis.synth.synthetic_did import synthetic_did
from analysis.synth.triangulation import (
    ESTIMATORS,
    Triangulation,
    default_fake_start,
    period_span,
    triangulate,
)

__all__ = [
    "ESTIMATORS",
    "LeaveOneOut",
    "PlaceboInSpace",
    "SynthResult",
    "Triangulation",
    "default_fake_start",
    "panel_did",
    "period_span",
    "synthetic_control",
    "synthetic_did",
    "triangulate",
]
