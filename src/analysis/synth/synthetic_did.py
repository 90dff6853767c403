r"""Synthetic difference-in-differences (Arkhangelsky et al. 2021), wrapping ``diff_diff.SyntheticDiD``.

Model and estimand
------------------
Outcomes :math:`Y_{it} = L_{it} + \tau W_{it} + \varepsilon_{it}` with one treated unit
(:math:`i = 1`) treated from period :math:`T_0 + 1`.  The estimator is the weighted DiD

.. math::

    \hat\tau = \Big(\bar Y_{1,\mathrm{post}} - \sum_{s \le T_0} \hat\lambda_s Y_{1s}\Big)
             - \sum_j \hat\omega_j \Big(\bar Y_{j,\mathrm{post}}
                                        - \sum_{s \le T_0} \hat\lambda_s Y_{js}\Big),

with unit weights :math:`\hat\omega` (simplex, with intercept and ridge penalty
:math:`\zeta_\omega^2 T_0 \|\omega\|^2`, :math:`\zeta_\omega = (N_1 T_1)^{1/4} \hat\sigma`,
:math:`\hat\sigma` = sd of first differences of the donors' pre-period outcomes) and time
weights :math:`\hat\lambda` (simplex, with intercept, :math:`\zeta_\lambda = 10^{-6}\hat\sigma`),
both by Frank-Wolfe with the two-pass sparsification of R ``synthdid``.  The estimand is the
average effect on the treated unit over the post-periods.

The per-period path reported in ``.effects`` is
:math:`\hat Y_{1t}(0) = \sum_j \hat\omega_j Y_{jt} + (\hat\lambda' Y_{1,\mathrm{pre}}
- \hat\lambda' Y_{\mathrm{pre}} \hat\omega)`, whose mean post-period gap equals
:math:`\hat\tau`; pre-period gaps measure the fit after the level shift.

Implementation
--------------
The reported fit (ATT, weights, standard error) is ``diff_diff.SyntheticDiD`` with
``variance_method="placebo"``: Algorithm 4 of the paper for one treated unit, as in R
``synthdid::vcov(method = "placebo")`` (pseudo-treated unit drawn from the donors by random
permutation, weights re-estimated with the original :math:`\zeta`'s, ``replications`` draws,
``seed``).  It reproduces the R ``synthdid`` vignette: ATT -15.60383, weights Nevada 0.124,
New Hampshire 0.105, ...; time weights 1988 0.427, 1986 0.366, 1987 0.206.

Placebo and leave-one-out re-estimations need only the point estimate, many times; they use
:func:`sdid_point`, which calls diff-diff's own Frank-Wolfe weight solvers
(``compute_sdid_unit_weights``, ``compute_time_weights``) with the same normalisation and
regularisation as ``SyntheticDiD.fit`` but skips its variance loop (a full fit costs ~0.5-1 s,
a point fit a few milliseconds).  ``tests/test_synth_prop99.py`` checks the two agree.

On the standard error: with one treated unit the placebo draws take only ``J`` distinct values
(one per donor), so 200 draws estimate their standard deviation with Monte Carlo noise: on
Proposition 99 the exhaustive value is 9.37, and seeds give 8.0 to 10.5 (R's seed 12345 gave
the published 8.4).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from analysis.synth._fit import EstimatorSpec, PointFit, did_path
from analysis.synth._panel import TIME, UNIT, PanelData, Y, build_panel
from analysis.synth.result import SynthResult

_D = "_treated_unit"


def _noise_level(y_pre_donors: np.ndarray) -> float:
    """Sd of the first differences of the donors' pre-period outcomes (R ``synthdid``)."""
    d = np.diff(y_pre_donors, axis=0)
    return float(np.std(d, ddof=1)) if d.size > 1 else 0.0


def sdid_point(panel: PanelData) -> PointFit:
    r"""Synthetic DiD point estimate without variance (same numbers as ``SyntheticDiD.fit``).

    Replicates the steps of ``diff_diff.SyntheticDiD.fit`` for one treated unit: outcomes
    normalised by the donors' pre-period mean and sd, :math:`\zeta_\omega =
    (N_1 T_1)^{1/4}\hat\sigma`, :math:`\zeta_\lambda = 10^{-6}\hat\sigma`, Frank-Wolfe
    stopping rule ``1e-5 * sigma``, then diff-diff's weight solvers.  Written here (rather than
    calling ``SyntheticDiD.fit``) only to skip the variance loop inside placebo loops.
    """
    from diff_diff.utils import compute_sdid_unit_weights, compute_time_weights

    n_pre = panel.n_pre
    y0, y1 = panel.y_donors, panel.y_treated
    shift = float(np.mean(y0[:n_pre]))
    scale = float(np.std(y0[:n_pre]))
    if not np.isfinite(scale) or scale <= 1e-12 * max(abs(shift), 1.0):
        scale = 1.0
    y0n, y1n = (y0 - shift) / scale, (y1 - shift) / scale
    sigma = _noise_level(y0n[:n_pre])
    zeta_omega = (1 * panel.n_post) ** 0.25 * sigma
    zeta_lambda = 1e-6 * sigma
    min_decrease = 1e-5 * sigma if sigma > 0 else 1e-5
    omega = np.asarray(
        compute_sdid_unit_weights(
            y0n[:n_pre], y1n[:n_pre], zeta_omega=zeta_omega, min_decrease=min_decrease
        ),
        dtype=float,
    )
    lam = np.asarray(
        compute_time_weights(
            y0n[:n_pre], y0n[n_pre:], zeta_lambda=zeta_lambda, min_decrease=min_decrease
        ),
        dtype=float,
    )
    return PointFit(
        att=_att(y1, y0, n_pre, omega, lam),
        weights=omega,
        counterfactual=did_path(y1, y0, n_pre, omega, lam),
        time_weights=lam,
        extra={
            "zeta_omega": zeta_omega * scale,
            "zeta_lambda": zeta_lambda * scale,
            "noise_level": sigma * scale,
        },
    )


def _att(y1: np.ndarray, y0: np.ndarray, n_pre: int, omega: np.ndarray, lam: np.ndarray) -> float:
    gap = y1 - did_path(y1, y0, n_pre, omega, lam)
    return float(np.mean(gap[n_pre:]))


@dataclass(frozen=True)
class SDIDSpec(EstimatorSpec):
    """Options of a synthetic DiD run (see :func:`synthetic_did`)."""

    method: ClassVar[str] = "synthetic_did"
    label: ClassVar[str] = "Synthetic difference-in-differences"
    package: ClassVar[str] = "diff-diff"

    def method_options(self) -> dict[str, Any]:
        """The variance method."""
        return {"variance_method": "placebo (Arkhangelsky et al. 2021, Algorithm 4)"}

    def fit(self, panel: PanelData) -> PointFit:
        """Full fit with ``diff_diff.SyntheticDiD`` (weights, ATT, placebo standard error)."""
        from diff_diff import SyntheticDiD

        long = panel.long_frame(indicator=(_D, False, int))
        est = SyntheticDiD(
            variance_method="placebo",
            n_bootstrap=self.replications,
            seed=self.seed,
            alpha=1 - self.level,
        )
        res = est.fit(
            long, outcome=Y, treatment=_D, unit=UNIT, time=TIME, post_periods=list(panel.post_times)
        )
        omega = np.array([res.unit_weights.get(d, 0.0) for d in panel.donors], dtype=float)
        lam = np.array([res.time_weights.get(t, 0.0) for t in panel.pre_times], dtype=float)
        draws = np.asarray(res.variance_effects if res.variance_effects is not None else [])
        se = float(res.se) if draws.size >= 2 and np.isfinite(res.se) else float("nan")
        cf = did_path(panel.y_treated, panel.y_donors, panel.n_pre, omega, lam)
        return PointFit(
            att=float(res.att),
            weights=omega,
            counterfactual=cf,
            time_weights=lam,
            se=se,
            extra={
                "zeta_omega": _f(res.zeta_omega),
                "zeta_lambda": _f(res.zeta_lambda),
                "noise_level": _f(res.noise_level),
                "placebo_draws": int(draws.size),
            },
        )

    def refit(self, panel: PanelData) -> PointFit:
        """Point estimate only (:func:`sdid_point`)."""
        return sdid_point(panel)


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def synthetic_did(
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
    """Estimate the effect on one treated unit by synthetic difference-in-differences.

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
    replications, seed
        Placebo replications and seed of the standard error (Algorithm 4).
    level
        Confidence level of ``ci_low``/``ci_high`` (normal approximation).

    Returns
    -------
    SynthResult
        With ``att``, ``se``, ``ci_low``, ``ci_high``, ``weights``, ``time_weights``,
        ``effects`` and inference methods.

    Raises
    ------
    DataValidationError
        Bad input (see :func:`analysis.synth._panel.build_panel`).
    """
    spec = SDIDSpec(replications=replications, seed=seed, level=level)
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
