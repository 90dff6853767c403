r"""Synthetic control (Abadie, Diamond & Hainmueller 2010), wrapping ``diff_diff.SyntheticControl``.

Model and estimand
------------------
One treated unit :math:`1` and donors :math:`j = 2, \dots, J+1`, observed in periods
:math:`t = 1, \dots, T`, treated from :math:`T_0 + 1` (``start``).  The counterfactual is a
convex combination of donors,

.. math::

    \hat Y_{1t}(0) = \sum_j w_j Y_{jt}, \qquad w_j \ge 0, \ \sum_j w_j = 1,

with :math:`w = \arg\min_w (X_1 - X_0 w)' V (X_1 - X_0 w)` over the simplex (no intercept).
The effect in period :math:`t > T_0` is the gap :math:`Y_{1t} - \hat Y_{1t}(0)` and the reported
``att`` is its mean over the post-periods (the ATT on the treated unit).

* **Outcome only** (default, ``predictors=None``): :math:`X` holds the pre-period outcomes
  (all of them, or those in ``pre_periods``) and :math:`V = I`, i.e. plain simplex least
  squares on the pre-period path.  Solved exactly by diff-diff's non-negative least squares
  (``v_method="custom"`` with uniform :math:`V`, ``standardize="none"``).
* **With predictors**: :math:`X` holds the pre-period means of the ``predictors`` columns (and
  the outcomes of ``pre_periods``, if given), standardised, with :math:`V` chosen by
  diff-diff's nested search minimising the pre-period outcome MSPE (ADH 2010, R ``Synth``),
  or set to the inverse variances of the predictors (``v_method="inverse_variance"``).

Validation: on Proposition 99 (outcome only, 19 pre-years) this gives ATT -19.51, 2000 gap
-26.60 and weights Utah 0.394, Montana 0.232, Nevada 0.205, Connecticut 0.109 (published:
-19.5 +- 0.15 across solvers; see ``tests/test_synth_prop99.py``).

Inference (on the result object): in-space placebos with the post/pre MSPE-ratio permutation
p-value (ADH 2010, donor pool of each placebo = the other donors), and the placebo standard
error of Arkhangelsky et al. (2021, Algorithm 4) for ``to_estimate()``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from analysis.errors import fail
from analysis.synth._fit import EstimatorSpec, PointFit
from analysis.synth._panel import (
    SOURCE,
    TIME,
    UNIT,
    PanelData,
    Y,
    build_panel,
    concat_excluded,
)
from analysis.synth.result import SynthResult

_D = "_d"


@dataclass(frozen=True)
class SCSpec(EstimatorSpec):
    """Options of a synthetic-control run (see :func:`synthetic_control`)."""

    method: ClassVar[str] = "synthetic_control"
    label: ClassVar[str] = "Synthetic control"
    package: ClassVar[str] = "diff-diff"

    predictors: tuple[str, ...] = ()
    pre_periods: tuple[Any, ...] | None = None
    v_method: str = "nested"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.v_method not in ("nested", "inverse_variance"):
            raise ValueError(
                f"v_method must be 'nested' or 'inverse_variance', got {self.v_method!r}"
            )

    def method_options(self) -> dict[str, Any]:
        """Predictors, matched pre-periods and the choice of ``V``."""
        return {
            "predictors": list(self.predictors),
            "pre_periods": None if self.pre_periods is None else [_py(p) for p in self.pre_periods],
            "v_method": self.v_method if self.predictors else "uniform (outcome only)",
        }

    def _lags(self, panel: PanelData) -> list[Any]:
        pre = list(panel.pre_times)
        if self.pre_periods is None:
            return [] if self.predictors else pre
        lags = [p for p in self.pre_periods if p in set(pre)]
        return lags if (lags or self.predictors) else pre

    def fit(self, panel: PanelData) -> PointFit:
        """Fit with ``diff_diff.SyntheticControl`` (exact simplex least squares)."""
        from diff_diff import SyntheticControl

        lags = self._lags(panel)
        long = panel.long_frame(with_covariates=bool(self.predictors))
        treated_row = (long[UNIT] == panel.treated).to_numpy()
        post_row = np.repeat(panel.post, panel.n_donors + 1)
        long[_D] = (treated_row & post_row).astype(int)
        if self.predictors:
            est = SyntheticControl(v_method=self.v_method, standardize="std", seed=self.seed)
            kw: dict[str, Any] = {
                "predictors": list(self.predictors),
                "pre_period_outcomes": lags or None,
            }
        else:
            est = SyntheticControl(
                v_method="custom", custom_v=np.ones(len(lags)), standardize="none"
            )
            kw = {"pre_period_outcomes": lags}
        res = est.fit(
            long,
            outcome=Y,
            treatment=_D,
            unit=UNIT,
            time=TIME,
            post_periods=list(panel.post_times),
            **kw,
        )
        gap = np.array([res.gap_path[t] for t in panel.times], dtype=float)
        w = np.array([res.donor_weights.get(d, 0.0) for d in panel.donors], dtype=float)
        extra: dict[str, Any] = {"pre_period_outcomes_used": len(lags)}
        if self.predictors:
            extra["v_weights"] = {
                str(k).replace(Y, panel.outcome, 1): float(v) for k, v in res.v_weights.items()
            }
        return PointFit(
            att=float(res.att), weights=w, counterfactual=panel.y_treated - gap, extra=extra
        )


def _py(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def synthetic_control(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    treated_unit: Hashable,
    start: Any,
    donors: Sequence[Hashable] | None = None,
    predictors: Sequence[str] | None = None,
    pre_periods: Sequence[Any] | None = None,
    v_method: str = "nested",
    replications: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> SynthResult:
    """Estimate the effect on one treated unit with a synthetic control.

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
        Donor pool; default every other unit.  Units left out are listed in ``.excluded``.
    predictors
        Covariate columns whose pre-period means are matched (ADH 2010); ``V`` is then chosen
        by a nested search.  Default: match on the pre-period outcomes only, ``V = I``.
    pre_periods
        Pre-periods whose outcomes are matched.  Default: all pre-periods when ``predictors``
        is ``None``, none otherwise.  Periods excluded for missing data are skipped.
    v_method
        With ``predictors`` only: ``"nested"`` (ADH data-driven ``V``; slow, about 10 s per
        fit with four predictors and 30 donors, so a placebo run takes minutes) or
        ``"inverse_variance"`` (``v_h = 1 / Var(X_h)``, closed form, fast).
    replications, seed
        Draws and seed of the placebo standard error (``to_estimate()``).
    level
        Confidence level of the interval.

    Returns
    -------
    SynthResult
        With ``att``, ``effects``, ``weights``, fit diagnostics and inference methods.

    Raises
    ------
    DataValidationError
        Bad input (see :func:`analysis.synth._panel.build_panel`), or ``pre_periods`` naming
        periods that are not pre-treatment periods of the data.
    """
    predictors = tuple(predictors or ())
    spec = SCSpec(
        predictors=predictors,
        pre_periods=None if pre_periods is None else tuple(pre_periods),
        v_method=v_method,
        replications=replications,
        seed=seed,
        level=level,
    )
    panel = build_panel(
        df,
        outcome=outcome,
        unit=unit,
        time=time,
        treated_unit=treated_unit,
        start=start,
        donors=donors,
        covariates=predictors,
    )
    if spec.pre_periods is not None:
        pre_periods = spec.pre_periods
        all_pre = set(pd.unique(df.loc[df[time] < start, time]))
        bad = [p for p in pre_periods if p not in all_pre]
        if bad:
            raise fail(
                SOURCE,
                f"pre_periods must be periods of the data before start={start!r}",
                column=time,
                rows=bad,
            )
        dropped = [p for p in pre_periods if p not in set(panel.pre_times)]
        if dropped:
            rows = pd.DataFrame(
                [
                    {
                        "level": "period",
                        "unit": None,
                        "time": p,
                        "reason": "requested in pre_periods but excluded from the "
                        "fit (treated outcome missing)",
                    }
                    for p in dropped
                ]
            )
            panel = replace(panel, excluded=concat_excluded(panel.excluded, rows))
    return spec.run(panel)
