r"""Difference-in-differences with unit and time fixed effects, for one treated unit (pyfixest).

Model and estimand
------------------
.. math::

    Y_{it} = \alpha_i + \gamma_t + \tau D_{it} + \varepsilon_{it}, \qquad
    D_{it} = 1\{i = 1,\ t \ge \text{start}\},

estimated by OLS (``pyfixest.feols("y ~ d | unit + time")``).  On the balanced panel built by
:func:`~analysis.synth._panel.build_panel` the coefficient equals the difference of means

.. math::

    \hat\tau = (\bar Y_{1,\mathrm{post}} - \bar Y_{1,\mathrm{pre}})
             - (\bar Y_{0,\mathrm{post}} - \bar Y_{0,\mathrm{pre}}),

i.e. synthetic DiD with equal unit weights :math:`1/J` and equal time weights :math:`1/T_0`;
``.weights`` are therefore :math:`1/J` and ``.time_weights`` :math:`1/T_0`.  The estimand is
the average effect on the treated unit over the post-periods, under parallel trends between the
treated unit and the donors' average.  Proposition 99: -27.349 (Arkhangelsky et al. 2021,
Table 1).

Inference
---------
With a single treated unit the cluster-robust standard error of the regression is not usable
(one treated cluster), so the reported standard error is the placebo standard error of
Arkhangelsky et al. (2021, Algorithm 4): each draw makes a randomly chosen donor the
pseudo-treated unit and re-estimates the DiD on the donors only.  With one treated unit a draw
is fully determined by the pseudo-treated donor, so the draws are taken from the in-space
placebo estimates (same result as re-estimating, without the repeated fits).  The interval is
normal, ``att +- z * se``; ``to_estimate()`` also reports the permutation p-value in ``extra``.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from analysis._util import pyfixest_coefficient
from analysis.synth._fit import EstimatorSpec, PointFit, did_path
from analysis.synth._panel import TIME, UNIT, PanelData, Y, build_panel
from analysis.synth.result import SynthResult

_D = "_d"


def did_point(panel: PanelData) -> PointFit:
    """Closed-form DiD (equal unit and time weights); equal to the TWFE coefficient.

    Used for placebo and leave-one-out re-estimations, where the regression would be refitted
    many times; ``tests/test_synth_prop99.py`` checks it against pyfixest.
    """
    w = np.full(panel.n_donors, 1.0 / panel.n_donors)
    lam = np.full(panel.n_pre, 1.0 / panel.n_pre)
    cf = did_path(panel.y_treated, panel.y_donors, panel.n_pre, w, lam)
    att = float(np.mean(panel.y_treated[panel.n_pre :] - cf[panel.n_pre :]))
    return PointFit(att=att, weights=w, counterfactual=cf, time_weights=lam)


@dataclass(frozen=True)
class DiDSpec(EstimatorSpec):
    """Options of a panel DiD run (see :func:`panel_did`)."""

    method: ClassVar[str] = "panel_did"
    label: ClassVar[str] = "Difference-in-differences (unit and time fixed effects)"
    package: ClassVar[str] = "pyfixest"

    def method_options(self) -> dict[str, Any]:
        """The regression and its standard error."""
        return {
            "formula": "y ~ d | unit + time",
            "se": "placebo (Arkhangelsky et al. 2021, Algorithm 4)",
        }

    def fit(self, panel: PanelData) -> PointFit:
        """Two-way fixed-effects regression with pyfixest; path from the closed form."""
        import pyfixest as pf

        long = panel.long_frame(indicator=(_D, True, float))
        with warnings.catch_warnings():
            # pandas-4 deprecation notices raised inside pyfixest, not about the data
            warnings.simplefilter("ignore", category=DeprecationWarning)
            fit = pf.feols(f"{Y} ~ {_D} | {UNIT} + {TIME}", data=long)
        att, _ = pyfixest_coefficient(fit, _D)  # fit.coef()[_D], without rebuilding a table
        closed = did_point(panel)
        return PointFit(
            att=att,
            weights=closed.weights,
            counterfactual=closed.counterfactual,
            time_weights=closed.time_weights,
            extra={"closed_form_att": closed.att},
        )

    def refit(self, panel: PanelData) -> PointFit:
        """Closed-form point estimate (:func:`did_point`)."""
        return did_point(panel)


def panel_did(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    treated_unit: Hashable,
    start: Any,
    donors: Sequence[Hashable] | None = None,
    replications: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> SynthResult:
    """Estimate the effect on one treated unit by DiD with unit and time fixed effects.

    Parameters
    ----------
    df
        Long panel, one row per unit x period.
    outcome, unit, time
        Column names.
    treated_unit
        The treated unit (a value of ``unit``).
    start
        First treated period (periods ``>= start`` are post-treatment).
    donors
        Control units; default every other unit.  Units left out are listed in ``.excluded``.
    replications, seed
        Draws and seed of the placebo standard error.
    level
        Confidence level of the interval.

    Returns
    -------
    SynthResult
        ``weights`` are equal (``1/J``), ``time_weights`` equal (``1/T_0``).

    Raises
    ------
    DataValidationError
        Bad input (see :func:`analysis.synth._panel.build_panel`).
    """
    spec = DiDSpec(replications=replications, seed=seed, level=level)
    panel = build_panel(
        df,
        outcome=outcome,
        unit=unit,
        time=time,
        treated_unit=treated_unit,
        start=start,
        donors=donors,
    )
    return spec.run(panel)
