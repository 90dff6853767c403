r"""Power, minimum detectable effects (MDE) and required sample sizes.

Three questions, one variance model:

* :func:`mde`: what is the smallest effect the design can detect?
* :func:`power`: with what probability does the design detect a given effect?
* :func:`sample_size`: how many units per arm are needed to detect a given effect?

For the evaluation's real design (pupils in classes in schools) :func:`mde_three_level` and
:func:`power_three_level` give the PowerUp! answers for three-level designs (see
"Three-level designs" below).

and a generic Monte Carlo version, :func:`simulate_power`, for designs (staggered adoption,
few clusters, non-normal outcomes) that no closed form covers.  :func:`simulate_did_power`
applies it to the evaluation's own estimator, the staggered DiD of Callaway & Sant'Anna
(2021), on SIMULATED programme panels, next to the exact analytic standard error of that
estimator (:func:`cs_simple_se`).

Variance model
--------------
The estimator of the effect :math:`\hat\delta` is taken to be approximately normal with

.. math::

    \operatorname{Var}(\hat\delta) = \sigma^2\,(1-R^2)\,\mathrm{DEFF}\,f(\text{design})
        \left(\frac{1}{n_T} + \frac{1}{n_C}\right),
    \qquad \mathrm{DEFF} = 1 + (m-1)\,\rho_{\mathrm{ICC}}

where :math:`\sigma^2` is the outcome variance (1 for continuous outcomes in SD units,
:math:`p_0(1-p_0)` for a binary outcome with base rate :math:`p_0`), :math:`R^2` the share of
outcome variance explained by covariates, :math:`m` the cluster size, and :math:`f` the
variance factor of the design with :math:`m_{pre}` pre- and :math:`r` post-periods whose
outcomes are equicorrelated with autocorrelation :math:`\rho` (McKenzie 2012, eqs. 1-3):

===============  ==========================================================================
``two_group``    :math:`f = \frac{1 + (r-1)\rho}{r}` (difference of post-period means;
                 :math:`f = 1` when ``n_post = 1``)
``did``          :math:`f = \frac{1 + (m_{pre}-1)\rho}{m_{pre}} + \frac{1 + (r-1)\rho}{r} - 2\rho`
``ancova``       :math:`f = \frac{1 + (r-1)\rho}{r} - \frac{m_{pre}\,\rho^2}{1 + (m_{pre}-1)\rho}`
``one_sample``   as ``two_group`` but :math:`1/n_C` is dropped: the treated mean is compared
                 with a *known* benchmark (an official rate), which carries no sampling error
===============  ==========================================================================

With one pre- and one post-period the DiD factor is :math:`2(1-\rho)`, the ANCOVA factor
:math:`1-\rho^2`. The DiD factor equals the equicorrelated case of Burlig, Preonas & Woerman
(2020, eq. 2) used by ``diff_diff.PowerAnalysis``, :math:`(1/m_{pre} + 1/r)(1-\rho)`.

The MDE is :math:`M\cdot\mathrm{SE}` with :math:`M = z_{1-\alpha/2} + z_{1-\beta}`
(:math:`z_{1-\alpha}` one-sided; Bloom 1995). For :math:`\alpha = 0.05`, power 0.8,
:math:`M = 2.80`, which gives the formula of docs/references.md §3.5
:math:`\mathrm{MDE} = 2.80\sqrt{(1-R^2)\,\mathrm{DEFF}\,(1/n_T + 1/n_C)}` in SD units.
With ``dist="t"`` the critical values come from Student's t with ``df`` degrees of freedom and
power from the noncentral t (the convention of ``statsmodels.stats.power.TTestIndPower``);
``df`` is :math:`n_T + n_C - 2`, or the number of clusters minus 2 when ``cluster_size > 1``
(:math:`n_T - 1` for ``one_sample``), minus the number of cluster-level covariates
(``n_cluster_covariates``, below).

Two-level designs: covariates at pupil and school level
-------------------------------------------------------
With pupils (level 1) in clusters of :math:`m` (schools, level 2) and intra-cluster
correlation :math:`\rho`, covariates explain a share :math:`R^2_1` (``r2``) of the pupil-level
and a share :math:`R^2_2` (``r2_cluster``) of the school-level variance (Bloom, Richburg-Hayes &
Black 2007; Dong & Maynard 2013, two-level cluster-random assignment). The factor
:math:`(1-R^2)\,\mathrm{DEFF}` above becomes

.. math::

    V = m\rho\,(1-R^2_2) + (1-\rho)(1-R^2_1),

which equals :math:`(1-R^2)(1 + (m-1)\rho)` when :math:`R^2_1 = R^2_2 = R^2`. With :math:`J`
clusters, a share :math:`P` of them treated, :math:`n_T = PJm` and :math:`n_C = (1-P)Jm`,
:math:`V(1/n_T + 1/n_C)` is PowerUp!'s
:math:`\frac{\rho(1-R^2_2)}{P(1-P)J} + \frac{(1-\rho)(1-R^2_1)}{P(1-P)Jm}`. Each of
:math:`g` school-level covariates (``n_cluster_covariates``) costs a degree of freedom:
:math:`df = J - g - 2` (with ``dist="t"``; the option is refused with the normal
approximation, which has no degrees of freedom).

Three-level designs (PowerUp!)
------------------------------
Pupils (level 1, :math:`n` per class) in classes (level 2, :math:`J` per school) in schools
(level 3, :math:`K`). :math:`\rho_2`, :math:`\rho_3` are the shares of the outcome variance
between classes and between schools, :math:`R^2_1, R^2_2, R^2_3` the shares of the pupil-,
class- and school-level variance explained by covariates, :math:`g_3` the number of
school-level covariates, :math:`P` the treated share. Standardised standard error and degrees
of freedom (Dong & Maynard 2013; PowerUpR 1.1.0 ``mdes.cra3``, ``mdes.bcra3r2``):

``cra3``: schools randomised (cluster-random assignment at level 3), :math:`P` = share of
schools treated

.. math::

    SE^2 = \frac{\rho_3(1-R^2_3)}{P(1-P)K} + \frac{\rho_2(1-R^2_2)}{P(1-P)JK}
         + \frac{(1-\rho_2-\rho_3)(1-R^2_1)}{P(1-P)JKn},\qquad df = K - g_3 - 2

``bcra3r2``: classes randomised within schools, schools are random blocks (blocked
cluster-random assignment, treatment at level 2, random block effects), :math:`P` = share of
classes treated in each school, :math:`\omega_3` = variance of the school-specific treatment
effects relative to the school-level variance :math:`\tau^2_3`, :math:`R^2_{T3}` = share of that
effect variance explained by school-level covariates

.. math::

    SE^2 = \frac{\rho_3\,\omega_3(1-R^2_{T3})}{K} + \frac{\rho_2(1-R^2_2)}{P(1-P)JK}
         + \frac{(1-\rho_2-\rho_3)(1-R^2_1)}{P(1-P)JKn},\qquad df = K - g_3 - 1

The minimum detectable effect size is :math:`\mathrm{MDES} = M \cdot SE` with
:math:`M = t_{1-\alpha/2,df} + t_{\text{power},df}` (:math:`t_{1-\alpha,df}` one-sided): Bloom's
multiplier with central-t quantiles, the PowerUp! convention (so the power at the MDES is close
to, not exactly, the target; :func:`mde` with ``dist="t"`` solves the noncentral t instead).
Its confidence interval is PowerUpR's :math:`\mathrm{MDES}\,(1 \mp t_{1-\alpha/2,df}/M)
= \mathrm{MDES} \mp t_{1-\alpha/2,df}\,SE`: the interval an estimate equal to the MDES would
have. Power against an effect :math:`\delta` is
:math:`1 - T_{df,\lambda}(t_{1-\alpha/2,df}) + T_{df,\lambda}(-t_{1-\alpha/2,df})` with
:math:`\lambda = \delta/SE` and :math:`T_{df,\lambda}` the noncentral t distribution function.

Neither statsmodels (``statsmodels.stats.power`` covers one- and two-sample t/z, F and
chi-square tests, no multilevel designs) nor any other installed library implements these
designs, so the formulas are written by hand; ``tests/test_power_three_level_reference.py``
checks them against PowerUpR's published examples (``data/reference/powerupr_mdes3``).

Binary outcomes
---------------
Effects and MDEs are in **percentage points** (pp); ``base_rate`` is a proportion in (0, 1).

``binary_method="variance"`` (default)
    :math:`\sigma^2 = p_0(1-p_0)` in both arms, so
    :math:`\mathrm{MDE_{pp}} = 100\,M\sqrt{p_0(1-p_0)(1-R^2)\,\mathrm{DEFF}\,(1/n_T + 1/n_C)}`.
    This is the formula behind the binary MDE table of docs/references.md §3.5, reproduced
    to 0.1 pp. It is symmetric (same MDE for an increase or a decrease), which is a poor
    approximation for rare outcomes.
``binary_method="arcsine"``
    Cohen's arcsine transformation :math:`\varphi = 2\arcsin\sqrt{p}` has variance
    :math:`1/n` whatever :math:`p`, so the calculation is done for
    :math:`h = \varphi(p_1) - \varphi(p_0)` with :math:`\sigma = 1` and converted back
    (:math:`p_1 = \sin^2(\arcsin\sqrt{p_0} \pm h/2)`). This is the convention of
    ``statsmodels.stats.proportion.proportion_effectsize`` with ``NormalIndPower``. It is
    asymmetric: :func:`mde` needs ``direction`` ("decrease" by default, the dropout case).

The "required sample per arm" figures of docs/references.md §3.5, namely (21.1 % → 13 %: 167; 10 → 5 %: 212;
5 → 2.5 %: 441; 3 → 1.5 %: 746) equal :math:`((z_{1-\alpha/2}+z_{1-\beta})/h)^2`, which is the
arcsine sample size for **one group compared with a known rate** (``design="one_sample"``).
For two groups of equal size each arm needs twice that (334, 424, 882, 1,492 per arm),
as ``statsmodels``' ``NormalIndPower`` also gives; see ``tests/test_power.py``.

Simulated power of the staggered DiD (SIMULATED panels)
-------------------------------------------------------
:func:`calibrate_design` fixes a :class:`PanelDesign` (how programme panels are drawn from
:func:`analysis.data.simulate.programme_panel`) from one large pilot panel without effects;
:func:`draw_panel` draws one analysis sample with exactly ``n_treated`` participants and
``n_control`` never-participants observed in every year and a true effect of ``effect_sd``
outcome SDs in every post-participation year; :func:`did_estimate` runs
:func:`analysis.did.staggered` (never-treated controls, doubly robust, simple aggregation) on it
in SD units; :func:`simulate_did_power` repeats both ``n_sims`` times per effect through
:func:`simulate_power` and returns a :class:`DiDPowerSimulation` (rejection rates with Monte
Carlo standard errors, simulated and analytic MDEs).

*Analytic SE of the Callaway-Sant'Anna simple aggregation* (:func:`cs_simple_se`).  Outcomes
in SD units, equicorrelated over years (variance 1, correlation :math:`\rho` between any two
years of a pupil; time-constant school effects cancel in differences).  For cohort :math:`g`
(base year :math:`b_g = g-1`, post years :math:`P_g = \{t \ge g\}`) the simple aggregation
with cohort-size weights :math:`w_g = n_g / \sum_h n_h |P_h|` per cell is

.. math::

    \hat\theta = \sum_g \frac{w_g}{n_g} \sum_{i \in g} c_g' Y_i
        - \frac{1}{n_C} \sum_{i \in C} \Big(\sum_g w_g c_g\Big)' Y_i,
    \qquad c_g = \sum_{t \in P_g} (e_t - e_{b_g}),

so :math:`\operatorname{Var}(\hat\theta) = \sum_g w_g^2\, c_g'\Sigma c_g / n_g
+ d'\Sigma d / n_C` with :math:`d = \sum_g w_g c_g` and
:math:`\Sigma = (1-\rho) I + \rho \mathbf{1}\mathbf{1}'`.  With one cohort and one post year
this is the two-period DiD variance :math:`2(1-\rho)(1/n_T + 1/n_C)` of :func:`mde`
(``design="did"``).  Weights are treated as known (their estimation adds nothing to the
variance when the effect is the same in every cell).  The power against a true effect
:math:`\delta` (SD units) is :math:`\Phi(\delta/\mathrm{SE} - z_{1-\alpha/2}) +
\Phi(-\delta/\mathrm{SE} - z_{1-\alpha/2})`.

Randomness
----------
:func:`simulate_power` takes a root ``seed`` (an integer or a
:class:`numpy.random.SeedSequence`): simulation ``i`` of effect ``j`` draws from
``root.spawn(n_effects)[j].spawn(n_sims)[i]``.  A run of the design report has one ``seed``
split into named streams (:class:`analysis.seeds.SeedStreams`); :func:`design_seeds` gives
design ``k`` of the run its pilot-panel root ``SeedStreams(seed).sequence("data").spawn(n)[k]``
and its simulation root ``SeedStreams(seed).sequence("power").spawn(n)[k]``.  Inside a
simulation, :func:`draw_panel` seeds the simulated panel from a child spawned off the
simulation's own seed sequence (never from numbers drawn by the generator), so no two
panels, designs or procedures share random numbers and no seed arithmetic is needed.  The
simulations run in parallel through :func:`analysis.replicate.run_replications` (``n_jobs``);
because each has its own seed sequence, the results are identical for any number of workers.

References
----------
Bloom, H. S. (1995). Minimum detectable effects. *Evaluation Review* 19(5), 547-556.
McKenzie, D. (2012). Beyond baseline and follow-up: the case for more T in experiments.
*Journal of Development Economics* 99(2), 210-221.
Burlig, F., Preonas, L. & Woerman, M. (2020). Panel data and experimental design.
*Journal of Development Economics* 144, 102458.
Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, ch. 6.
Callaway, B. & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time periods.
*Journal of Econometrics* 225(2), 200-230.
Bloom, H. S., Richburg-Hayes, L. & Black, A. R. (2007). Using covariates to improve precision
for studies that randomize schools to evaluate educational interventions. *Educational
Evaluation and Policy Analysis* 29(1), 30-59.
Dong, N. & Maynard, R. (2013). PowerUp!: A tool for calculating minimum detectable effect sizes
and minimum required sample sizes for experimental and quasi-experimental design studies.
*Journal of Research on Educational Effectiveness* 6(1), 24-67.
Bulus, M., Dong, N., Kelcey, B. & Spybrook, J. (2021). *PowerUpR: Power analysis tools for
multilevel randomized experiments*, R package version 1.1.0.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats
from tqdm import tqdm

from analysis.errors import fail
from analysis.estimate import Estimate
from analysis.replicate import resolve_jobs, run_replications
from analysis.seeds import SeedStreams

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Outcome = Literal["continuous", "binary"]
Design = Literal["two_group", "did", "ancova", "one_sample"]
BinaryMethod = Literal["variance", "arcsine"]
Dist = Literal["normal", "t"]

_DESIGNS = ("two_group", "did", "ancova", "one_sample")

__all__ = [
    "DiDPowerSimulation",
    "MDEResult",
    "PanelDesign",
    "PowerResult",
    "SampleSizeResult",
    "SimulatedPower",
    "ThreeLevelMDE",
    "ThreeLevelPower",
    "calibrate_design",
    "cs_simple_balanced",
    "cs_simple_se",
    "design_seeds",
    "did_estimate",
    "draw_panel",
    "mde",
    "mde_three_level",
    "power",
    "power_three_level",
    "sample_size",
    "simulate_did_power",
    "simulate_power",
]

#: What a root seed of a simulation may be: an integer or a numpy SeedSequence.
Seed = int | np.random.SeedSequence


# --------------------------------------------------------------------------------------
# The design: validated inputs and the variance they imply
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Design:
    """Validated design inputs (everything except the sample size and the effect)."""

    outcome: str
    base_rate: float | None
    alpha: float
    target_power: float
    r2: float
    cluster_size: float
    icc: float
    two_sided: bool
    design: str
    n_pre: int
    n_post: int
    autocorr: float | None
    binary_method: str
    dist: str
    r2_cluster: float | None = None
    n_cluster_covariates: int = 0

    @property
    def design_effect(self) -> float:
        """Moulton/Kish design effect ``1 + (m - 1) ICC``."""
        return 1.0 + (self.cluster_size - 1.0) * self.icc

    @property
    def period_factor(self) -> float:
        """McKenzie (2012) variance factor ``f`` of the design (see module docstring)."""
        r, m = self.n_post, self.n_pre
        rho = self.autocorr or 0.0
        post = (1 + (r - 1) * rho) / r
        if self.design in ("two_group", "one_sample"):
            return post
        if self.design == "did":
            return (1 + (m - 1) * rho) / m + post - 2 * rho
        return post - m * rho**2 / (1 + (m - 1) * rho)  # ancova

    @property
    def sigma2(self) -> float:
        """Per-observation outcome variance on the scale the calculation is done on."""
        if self.outcome == "continuous" or self.binary_method == "arcsine":
            return 1.0
        assert self.base_rate is not None
        return self.base_rate * (1 - self.base_rate)

    @property
    def variance_factor(self) -> float:
        """How much the design inflates (or deflates) the variance of a mean.

        ``(1 - R²) · DEFF · f`` with one R² for both levels; with a separate cluster-level
        ``R²_2`` (``r2_cluster``), ``[(1 - ICC)(1 - R²_1) + m · ICC · (1 - R²_2)] · f``
        (module docstring, "Two-level designs").
        """
        if self.r2_cluster is None:
            return (1 - self.r2) * self.design_effect * self.period_factor
        m, icc = self.cluster_size, self.icc
        within = (1 - icc) * (1 - self.r2)
        between = m * icc * (1 - self.r2_cluster)
        return (within + between) * self.period_factor

    @property
    def units(self) -> str:
        """``"SD"`` for continuous outcomes, ``"pp"`` for binary ones."""
        return "SD" if self.outcome == "continuous" else "pp"

    def inverse_n(self, n_treated: float, n_control: float | None) -> float:
        """``1/n_T + 1/n_C`` (``1/n_T`` for the one-sample design)."""
        if self.design == "one_sample":
            return 1.0 / n_treated
        assert n_control is not None
        return 1.0 / n_treated + 1.0 / n_control

    def se(self, n_treated: float, n_control: float | None) -> float:
        """Return the standard error of the effect estimate on the calculation scale."""
        return math.sqrt(self.sigma2 * self.variance_factor * self.inverse_n(n_treated, n_control))

    def raw_df(self, n_treated: float, n_control: float | None) -> float:
        """Clusters minus 2 (minus 1 for ``one_sample``) minus cluster-level covariates."""
        g = self.n_cluster_covariates
        if self.design == "one_sample":
            return n_treated / self.cluster_size - 1 - g
        assert n_control is not None
        return (n_treated + n_control) / self.cluster_size - 2 - g

    def df(self, n_treated: float, n_control: float | None) -> float | None:
        """Degrees of freedom for ``dist="t"`` (``None`` for the normal approximation)."""
        if self.dist == "normal":
            return None
        return max(self.raw_df(n_treated, n_control), 1.0)

    def critical(self, df: float | None) -> float:
        """Critical value of the test."""
        q = 1 - self.alpha / 2 if self.two_sided else 1 - self.alpha
        return float(stats.norm.ppf(q) if df is None else stats.t.ppf(q, df))

    def multiplier(self, df: float | None) -> float:
        """``M = crit + quantile(power)`` (the Bloom MDE multiplier)."""
        q = self.target_power
        z_b = float(stats.norm.ppf(q) if df is None else stats.t.ppf(q, df))
        return self.critical(df) + z_b

    def power_at(self, ncp: float, df: float | None) -> float:
        """Rejection probability for a standardised effect ``ncp = effect / SE``.

        Two-sided: both rejection regions count (as in statsmodels). One-sided: the test is
        taken to be in the direction of the effect.
        """
        ncp = abs(ncp)
        crit = self.critical(df)
        if df is None:
            p = stats.norm.sf(crit - ncp)
            if self.two_sided:
                p += stats.norm.cdf(-crit - ncp)
        else:
            p = _nct_power(ncp, df, crit, two_sided=self.two_sided)
        return float(p)

    def to_dict(self) -> dict[str, Any]:
        """Return the inputs as a JSON-serialisable dict."""
        return {
            "outcome": self.outcome,
            "base_rate": self.base_rate,
            "alpha": self.alpha,
            "power": self.target_power,
            "r2": self.r2,
            "cluster_size": self.cluster_size,
            "icc": self.icc,
            "two_sided": self.two_sided,
            "design": self.design,
            "n_pre": self.n_pre,
            "n_post": self.n_post,
            "autocorr": self.autocorr,
            "binary_method": self.binary_method if self.outcome == "binary" else None,
            "dist": self.dist,
            "r2_cluster": self.r2_cluster,
            "n_cluster_covariates": self.n_cluster_covariates,
        }


def _nct_power(ncp: float, df: float, crit: float, *, two_sided: bool) -> float:
    """Rejection probability of a t test with critical value ``crit`` under noncentrality ncp.

    ``1 - T_{df,ncp}(crit)`` plus, two-sided, ``T_{df,ncp}(-crit)`` (noncentral t cdf ``T``).
    """
    # scipy's nctdtr returns NaN deep in the far tail (probabilities < 1e-19):
    # those terms are zero to double precision.
    p = float(np.nan_to_num(stats.nct.sf(crit, df, ncp), nan=1.0))
    if two_sided:
        p += float(np.nan_to_num(stats.nct.cdf(-crit, df, ncp), nan=0.0))
    return p


def _check(cond: bool, source: str, column: str, rule: str) -> None:
    if not cond:
        raise fail(source, rule, column=column)


def _make_design(
    source: str,
    *,
    outcome: str,
    base_rate: float | None,
    alpha: float,
    target_power: float,
    r2: float,
    cluster_size: float,
    icc: float,
    two_sided: bool,
    design: str,
    n_pre: int | None,
    n_post: int,
    autocorr: float | None,
    binary_method: str | None,
    dist: str,
    r2_cluster: float | None = None,
    n_cluster_covariates: int = 0,
) -> _Design:
    _check(
        outcome in ("continuous", "binary"),
        source,
        "outcome",
        f"must be 'continuous' or 'binary', got {outcome!r}",
    )
    _check(design in _DESIGNS, source, "design", f"must be one of {_DESIGNS}, got {design!r}")
    _check(0 < alpha < 1, source, "alpha", f"must lie in (0, 1), got {alpha}")
    _check(0 < target_power < 1, source, "power", f"must lie in (0, 1), got {target_power}")
    _check(0 <= r2 < 1, source, "r2", f"must lie in [0, 1), got {r2}")
    _check(cluster_size >= 1, source, "cluster_size", f"must be >= 1, got {cluster_size}")
    _check(0 <= icc <= 1, source, "icc", f"must lie in [0, 1], got {icc}")
    # Options that only some designs use: None (the default) means "not set"; a value set
    # where it has no effect is refused rather than silently ignored.
    _check(
        n_pre is None or design in ("did", "ancova"),
        source,
        "n_pre",
        f"pre-periods enter only designs 'did' and 'ancova'; design={design!r} uses post-period "
        f"outcomes only, so n_pre={n_pre!r} would be ignored (leave it unset)",
    )
    _check(
        binary_method is None or outcome == "binary",
        source,
        "binary_method",
        f"applies to binary outcomes only; with outcome={outcome!r}, "
        f"binary_method={binary_method!r} would be ignored (leave it unset)",
    )
    n_pre = 1 if n_pre is None else n_pre
    binary_method = "variance" if binary_method is None else binary_method
    _check(
        isinstance(n_pre, int | np.integer) and n_pre >= 1,
        source,
        "n_pre",
        f"must be an integer >= 1, got {n_pre!r}",
    )
    _check(
        isinstance(n_post, int | np.integer) and n_post >= 1,
        source,
        "n_post",
        f"must be an integer >= 1, got {n_post!r}",
    )
    _check(dist in ("normal", "t"), source, "dist", f"must be 'normal' or 't', got {dist!r}")
    _check(
        binary_method in ("variance", "arcsine"),
        source,
        "binary_method",
        f"must be 'variance' or 'arcsine', got {binary_method!r}",
    )
    needs_rho = design in ("did", "ancova") or n_post > 1
    _check(
        not needs_rho or autocorr is not None,
        source,
        "autocorr",
        f"design={design!r} with n_pre={n_pre}, n_post={n_post} needs the autocorrelation "
        "of the outcome between periods (McKenzie 2012); pass autocorr=",
    )
    _check(
        needs_rho or autocorr is None,
        source,
        "autocorr",
        f"design={design!r} with n_post=1 compares single post-period outcomes, so "
        f"autocorr={autocorr!r} would be ignored (leave it unset, or use design='did'/'ancova' "
        "or n_post > 1)",
    )
    if autocorr is not None:
        t = (n_pre + n_post) if design in ("did", "ancova") else n_post
        lo = -1.0 / (t - 1) if t > 1 else -1.0
        _check(
            lo <= autocorr < 1,
            source,
            "autocorr",
            f"must lie in [{lo:.3g}, 1) for an equicorrelated panel of {t} periods, got {autocorr}",
        )
    if outcome == "binary":
        _check(
            base_rate is not None and 0 < base_rate < 1,
            source,
            "base_rate",
            f"a binary outcome needs base_rate in (0, 1) (a proportion), got {base_rate!r}",
        )
    else:
        _check(base_rate is None, source, "base_rate", "base_rate applies to binary outcomes only")
    if r2_cluster is not None:
        _check(0 <= r2_cluster < 1, source, "r2_cluster", f"must lie in [0, 1), got {r2_cluster}")
        _check(
            icc > 0,
            source,
            "r2_cluster",
            "explains the between-cluster variance share icc, which is 0 here; "
            "pass icc > 0 or leave r2_cluster=None",
        )
    _check(
        isinstance(n_cluster_covariates, int | np.integer)
        and not isinstance(n_cluster_covariates, bool)
        and n_cluster_covariates >= 0,
        source,
        "n_cluster_covariates",
        f"must be an integer >= 0, got {n_cluster_covariates!r}",
    )
    _check(
        n_cluster_covariates == 0 or dist == "t",
        source,
        "n_cluster_covariates",
        "cluster-level covariates only change the degrees of freedom, which are used with "
        "dist='t' only; pass dist='t'",
    )
    d = _Design(
        outcome=outcome,
        base_rate=base_rate,
        alpha=float(alpha),
        target_power=float(target_power),
        r2=float(r2),
        cluster_size=float(cluster_size),
        icc=float(icc),
        two_sided=bool(two_sided),
        design=design,
        n_pre=int(n_pre),
        n_post=int(n_post),
        autocorr=None if autocorr is None else float(autocorr),
        binary_method=binary_method,
        dist=dist,
        r2_cluster=None if r2_cluster is None else float(r2_cluster),
        n_cluster_covariates=int(n_cluster_covariates),
    )
    _check(
        d.period_factor > 0,
        source,
        "autocorr",
        f"gives a non-positive variance factor ({d.period_factor:.3g})",
    )
    return d


def _check_n(source: str, design: _Design, n_treated: float, n_control: float | None) -> None:
    _check(
        n_treated is not None and n_treated > 0,
        source,
        "n_treated",
        f"must be > 0, got {n_treated!r}",
    )
    if design.design == "one_sample":
        _check(
            n_control is None,
            source,
            "n_control",
            "design='one_sample' compares the treated group with a known rate; "
            "leave n_control=None",
        )
    else:
        _check(
            n_control is not None and n_control > 0,
            source,
            "n_control",
            f"must be > 0, got {n_control!r}",
        )
    if design.n_cluster_covariates > 0:
        df = design.raw_df(n_treated, n_control)
        _check(
            df >= 1,
            source,
            "n_cluster_covariates",
            f"leaves {df:.3g} degrees of freedom (clusters - 2 - covariates); need >= 1",
        )


# --------------------------------------------------------------------------------------
# Effects on the calculation scale and back
# --------------------------------------------------------------------------------------


def _phi(p: float) -> float:
    return 2.0 * math.asin(math.sqrt(p))


def _effect_to_scale(
    source: str, d: _Design, effect: float | None, treated_rate: float | None
) -> tuple[float, float | None]:
    """Return (effect on the calculation scale, treated rate) for a user effect."""
    if d.outcome == "continuous":
        _check(treated_rate is None, source, "treated_rate", "applies to binary outcomes only")
        _check(
            effect is not None and math.isfinite(effect),
            source,
            "effect",
            f"must be a finite number (SD units), got {effect!r}",
        )
        return float(effect), None
    assert d.base_rate is not None
    _check(
        (effect is None) != (treated_rate is None),
        source,
        "effect",
        "a binary outcome needs exactly one of effect (pp change from base_rate) "
        "or treated_rate (a proportion)",
    )
    p1 = d.base_rate + effect / 100.0 if effect is not None else float(treated_rate)
    _check(
        0 < p1 < 1,
        source,
        "effect",
        f"the treated rate base_rate + effect/100 = {p1:.4g} must lie in (0, 1)",
    )
    if d.binary_method == "arcsine":
        return _phi(p1) - _phi(d.base_rate), p1
    return p1 - d.base_rate, p1


def _mde_to_units(d: _Design, mde_scale: float, direction: str) -> tuple[float, float | None]:
    """Convert an MDE on the calculation scale to (value in SD or pp, treated rate)."""
    if d.outcome == "continuous":
        return mde_scale, None
    assert d.base_rate is not None
    sign = -1.0 if direction == "decrease" else 1.0
    if d.binary_method == "variance":
        p1 = d.base_rate + sign * mde_scale
        return 100.0 * mde_scale, p1
    a0 = math.asin(math.sqrt(d.base_rate))
    a1 = a0 + sign * mde_scale / 2.0
    if a1 < 0 or a1 > math.pi / 2:
        # No rate in [0, 1] is far enough from base_rate in this direction.
        return math.inf, None
    p1 = math.sin(a1) ** 2
    return 100.0 * abs(p1 - d.base_rate), p1


# --------------------------------------------------------------------------------------
# Result objects
# --------------------------------------------------------------------------------------


def _fmt_inputs(d: _Design) -> str:
    bits = [
        f"design={d.design}",
        f"alpha={d.alpha:g}" + ("" if d.two_sided else " one-sided"),
        f"power={d.target_power:g}",
    ]
    if d.r2_cluster is not None:
        bits.append(f"R² individual={d.r2:g}, cluster={d.r2_cluster:g}")
    elif d.r2:
        bits.append(f"R²={d.r2:g}")
    if d.n_cluster_covariates:
        bits.append(f"{d.n_cluster_covariates} cluster-level covariate(s) in the df")
    if d.cluster_size > 1:
        bits.append(f"m={d.cluster_size:g}, ICC={d.icc:g} (DEFF {d.design_effect:.3g})")
    if d.design in ("did", "ancova") or d.n_post > 1:
        bits.append(f"pre={d.n_pre}, post={d.n_post}, autocorr={d.autocorr:g}")
    if d.outcome == "binary":
        bits.append(f"base rate {100 * d.base_rate:g}% ({d.binary_method})")
    if d.dist == "t":
        bits.append("t-distribution")
    return ", ".join(bits)


@dataclass(frozen=True)
class _PowerCalc:
    """Fields shared by the three analytic results."""

    n_treated: float
    n_control: float | None
    se: float
    design_effect: float
    variance_factor: float
    df: float | None
    inputs: Mapping[str, Any]
    _design: _Design = field(repr=False, compare=False)

    @property
    def units(self) -> str:
        """``"SD"`` (continuous outcome) or ``"pp"`` (binary outcome)."""
        return self._design.units

    @property
    def effective_n_treated(self) -> float:
        """Treated sample divided by the design effect (independent-observation equivalent)."""
        return self.n_treated / self._design.design_effect

    @property
    def effective_n_control(self) -> float | None:
        """Control sample divided by the design effect."""
        return None if self.n_control is None else self.n_control / self._design.design_effect

    def _common_dict(self) -> dict[str, Any]:
        return {
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "effective_n_treated": self.effective_n_treated,
            "effective_n_control": self.effective_n_control,
            "se": self.se,
            "design_effect": self.design_effect,
            "variance_factor": self.variance_factor,
            "df": self.df,
            "units": self.units,
            "inputs": dict(self.inputs),
        }

    def tidy(self) -> pd.DataFrame:
        """Return a one-row DataFrame (inputs flattened)."""
        d = self.to_dict()
        inputs = d.pop("inputs")
        return pd.DataFrame([{**d, **inputs}])

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - overridden
        """Return a JSON-serialisable dict."""
        return self._common_dict()

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:  # pragma: no cover - overridden
        """Return a one-line description."""
        raise NotImplementedError


def _n_text(n_t: float, n_c: float | None) -> str:
    return f"{n_t:g} treated vs known rate" if n_c is None else f"{n_t:g} vs {n_c:g}"


@dataclass(frozen=True)
class MDEResult(_PowerCalc):
    """Minimum detectable effect of a design.

    Attributes
    ----------
    value
        The MDE, in SD units (continuous outcome) or percentage points (binary outcome);
        ``inf`` when no rate in [0, 1] is far enough from the base rate (arcsine, decrease).
    multiplier
        ``M = crit + quantile(power)``; 2.80 for two-sided 5 % and 80 % power (normal).
    treated_rate
        Binary outcomes: the treated-group rate at the MDE (``None`` otherwise).
    direction
        ``"increase"`` or ``"decrease"`` (matters for the arcsine method only).
    """

    value: float = math.nan
    multiplier: float = math.nan
    treated_rate: float | None = None
    direction: str = "decrease"

    @property
    def exceeds_base_rate(self) -> bool:
        """Binary outcome: a *decrease* of this size would be larger than the base rate."""
        d = self._design
        return bool(
            d.outcome == "binary" and d.base_rate is not None and self.value / 100.0 >= d.base_rate
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        out = {
            "quantity": "mde",
            "value": self.value,
            "multiplier": self.multiplier,
            "treated_rate": self.treated_rate,
            "direction": self.direction,
        }
        return {**out, **self._common_dict()}

    def summary(self) -> str:
        """Return one line: MDE, sample, design."""
        return (
            f"MDE = {self.value:.3g} {self.units} ({_n_text(self.n_treated, self.n_control)}; "
            f"{_fmt_inputs(self._design)})"
        )

    def effect_summary(self) -> str:
        """Say in plain words what the design can and cannot detect."""
        d = self._design
        n = _n_text(self.n_treated, self.n_control)
        if d.outcome == "continuous":
            return (
                f"With {n}, the design has {d.target_power:.0%} power to detect an effect of "
                f"{self.value:.2f} standard deviations or more at the {d.alpha:.0%} level; "
                "smaller true effects will often be missed."
            )
        txt = (
            f"With {n} and a base rate of {100 * d.base_rate:.3g}%, the smallest {self.direction} "
            f"detectable with {d.target_power:.0%} power is {self.value:.3g} percentage points."
        )
        if self.direction == "decrease" and self.exceeds_base_rate:
            txt += " That is larger than the base rate itself, so the outcome is not detectable."
        return txt


@dataclass(frozen=True)
class PowerResult(_PowerCalc):
    """Power of a design against a given effect.

    Attributes
    ----------
    power
        Probability of rejecting the null of no effect.
    effect
        The effect, in SD units or percentage points.
    treated_rate
        Binary outcomes: the treated-group rate implied by ``effect``.
    """

    power: float = math.nan
    effect: float = math.nan
    treated_rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        out = {
            "quantity": "power",
            "power": self.power,
            "effect": self.effect,
            "treated_rate": self.treated_rate,
        }
        return {**out, **self._common_dict()}

    def summary(self) -> str:
        """Return one line: power, effect, sample, design."""
        return (
            f"power = {self.power:.3f} for an effect of {self.effect:.3g} {self.units} "
            f"({_n_text(self.n_treated, self.n_control)}; {_fmt_inputs(self._design)})"
        )


@dataclass(frozen=True)
class SampleSizeResult(_PowerCalc):
    """Sample size needed to detect an effect with the target power.

    Attributes
    ----------
    effect
        The effect to detect, in SD units or percentage points.
    n_treated_exact, n_control_exact
        Unrounded solutions; ``n_treated``/``n_control`` are rounded up.
    achieved_power
        Power at the rounded sample sizes.
    treated_rate
        Binary outcomes: the treated-group rate implied by ``effect``.
    """

    effect: float = math.nan
    ratio: float = 1.0
    n_treated_exact: float = math.nan
    n_control_exact: float | None = None
    achieved_power: float = math.nan
    treated_rate: float | None = None

    @property
    def n_total(self) -> int:
        """Treated plus control units (rounded up per arm)."""
        return int(self.n_treated + (self.n_control or 0))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        out = {
            "quantity": "sample_size",
            "effect": self.effect,
            "ratio": self.ratio,
            "n_total": self.n_total,
            "n_treated_exact": self.n_treated_exact,
            "n_control_exact": self.n_control_exact,
            "achieved_power": self.achieved_power,
            "treated_rate": self.treated_rate,
        }
        return {**out, **self._common_dict()}

    def summary(self) -> str:
        """Return one line: required sample, effect, design."""
        arms = (
            f"{self.n_treated:g} treated (vs a known rate)"
            if self.n_control is None
            else f"{self.n_treated:g} treated + {self.n_control:g} control"
        )
        return f"n = {arms} to detect {self.effect:.3g} {self.units} ({_fmt_inputs(self._design)})"


# --------------------------------------------------------------------------------------
# Public analytic functions
# --------------------------------------------------------------------------------------


def mde(
    *,
    n_treated: float,
    n_control: float | None = None,
    outcome: Outcome = "continuous",
    base_rate: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    r2: float = 0.0,
    cluster_size: float = 1,
    icc: float = 0.0,
    two_sided: bool = True,
    design: Design = "two_group",
    n_pre: int | None = None,
    n_post: int = 1,
    autocorr: float | None = None,
    binary_method: BinaryMethod | None = None,
    direction: Literal["decrease", "increase"] = "decrease",
    dist: Dist = "normal",
    r2_cluster: float | None = None,
    n_cluster_covariates: int = 0,
) -> MDEResult:
    """Minimum detectable effect, ``MDE = M · SE`` (see the module docstring for ``SE``).

    Parameters
    ----------
    n_treated, n_control
        Units (individuals) per arm. ``n_control`` is ``None`` for ``design="one_sample"``.
    outcome
        ``"continuous"`` (MDE in SD units) or ``"binary"`` (MDE in percentage points).
    base_rate
        Binary outcomes: the control (base) rate as a proportion, e.g. ``0.10``.
    alpha, power
        Test size and target power.
    r2
        Share of outcome variance explained by covariates (for ``ancova``: by covariates
        other than the pre-period outcome).
    cluster_size, icc
        Units per cluster and intra-cluster correlation; ``DEFF = 1 + (m - 1) ICC``.
    two_sided
        Two-sided (default) or one-sided test.
    design
        ``"two_group"``, ``"did"``, ``"ancova"`` or ``"one_sample"`` (module docstring).
    n_pre, n_post, autocorr
        Pre- and post-periods and the between-period autocorrelation of the outcome
        (required for ``did``/``ancova`` and whenever ``n_post > 1``). ``n_pre`` (default
        1) is used by ``did``/``ancova`` only and ``autocorr`` only where it is required;
        setting either where it has no effect raises
        :class:`~analysis.errors.DataValidationError`.
    binary_method
        ``"variance"`` (default; ``p0(1-p0)``; reproduces docs/references.md §3.5) or
        ``"arcsine"``. Binary outcomes only: setting it for a continuous outcome is refused.
    direction
        For the arcsine method: MDE for a ``"decrease"`` (default) or an ``"increase"``.
    dist
        ``"normal"`` (closed form ``M · SE``) or ``"t"`` (noncentral t, solved numerically).
    r2_cluster
        Share of the *between-cluster* (school-level) variance explained by cluster-level
        covariates, ``R²_2`` of Dong & Maynard (2013); ``r2`` is then the pupil-level ``R²_1``.
        ``None`` (default): one ``r2`` for both levels. Needs ``icc > 0``.
    n_cluster_covariates
        Number of cluster-level covariates ``g``; each costs one degree of freedom
        (``df = clusters - 2 - g``; ``clusters - 1 - g`` for ``one_sample``). Used with
        ``dist="t"`` only (refused otherwise).

    Returns
    -------
    MDEResult
    """
    src = "argument to analysis.power.mde"
    d = _make_design(
        src,
        outcome=outcome,
        base_rate=base_rate,
        alpha=alpha,
        target_power=power,
        r2=r2,
        cluster_size=cluster_size,
        icc=icc,
        two_sided=two_sided,
        design=design,
        n_pre=n_pre,
        n_post=n_post,
        autocorr=autocorr,
        binary_method=binary_method,
        dist=dist,
        r2_cluster=r2_cluster,
        n_cluster_covariates=n_cluster_covariates,
    )
    _check_n(src, d, n_treated, n_control)
    _check(
        direction in ("decrease", "increase"),
        src,
        "direction",
        f"must be 'decrease' or 'increase', got {direction!r}",
    )
    se = d.se(n_treated, n_control)
    df = d.df(n_treated, n_control)
    mult = d.multiplier(df)
    if df is None:
        scale_mde = mult * se
    else:
        # Exact: the standardised effect at which the noncentral-t power equals the target.
        hi = 2.0 * mult + 1.0  # the approximate t multiplier is close to the exact value
        ncp = optimize.brentq(lambda x: d.power_at(x, df) - d.target_power, 1e-9, hi, xtol=1e-12)
        scale_mde = ncp * se
        mult = ncp  # the exact multiplier, so that value = multiplier * se holds
    value, p1 = _mde_to_units(d, scale_mde, direction)
    return MDEResult(
        n_treated=n_treated,
        n_control=n_control,
        se=_se_units(d, se),
        design_effect=d.design_effect,
        variance_factor=d.variance_factor,
        df=df,
        inputs=d.to_dict(),
        _design=d,
        value=value,
        multiplier=mult,
        treated_rate=p1,
        direction=direction,
    )


def _se_units(d: _Design, se: float) -> float:
    """SE in reporting units (SD, or pp for the variance method; arcsine units otherwise)."""
    if d.outcome == "binary" and d.binary_method == "variance":
        return 100.0 * se
    return se


def power(
    *,
    effect: float | None = None,
    n_treated: float,
    n_control: float | None = None,
    treated_rate: float | None = None,
    outcome: Outcome = "continuous",
    base_rate: float | None = None,
    alpha: float = 0.05,
    r2: float = 0.0,
    cluster_size: float = 1,
    icc: float = 0.0,
    two_sided: bool = True,
    design: Design = "two_group",
    n_pre: int | None = None,
    n_post: int = 1,
    autocorr: float | None = None,
    binary_method: BinaryMethod | None = None,
    dist: Dist = "normal",
    r2_cluster: float | None = None,
    n_cluster_covariates: int = 0,
) -> PowerResult:
    """Power to detect ``effect``: ``P(reject H0: δ = 0 | δ = effect)``.

    Two-sided: ``Φ(δ/SE − crit) + Φ(−δ/SE − crit)`` (noncentral t with ``dist="t"``).

    Parameters
    ----------
    effect
        Continuous outcomes: the effect in SD units. Binary outcomes: the change from
        ``base_rate`` in percentage points (e.g. ``-5`` for 10 % → 5 %); alternatively pass
        ``treated_rate`` (a proportion) instead.
    n_treated, n_control, treated_rate, outcome, base_rate, alpha, r2, cluster_size, icc
        As in :func:`mde`.
    two_sided, design, n_pre, n_post, autocorr, binary_method, dist
        As in :func:`mde`.
    r2_cluster, n_cluster_covariates
        As in :func:`mde`.

    Returns
    -------
    PowerResult
    """
    src = "argument to analysis.power.power"
    d = _make_design(
        src,
        outcome=outcome,
        base_rate=base_rate,
        alpha=alpha,
        target_power=0.8,
        r2=r2,
        cluster_size=cluster_size,
        icc=icc,
        two_sided=two_sided,
        design=design,
        n_pre=n_pre,
        n_post=n_post,
        autocorr=autocorr,
        binary_method=binary_method,
        dist=dist,
        r2_cluster=r2_cluster,
        n_cluster_covariates=n_cluster_covariates,
    )
    _check_n(src, d, n_treated, n_control)
    eff_scale, p1 = _effect_to_scale(src, d, effect, treated_rate)
    se = d.se(n_treated, n_control)
    df = d.df(n_treated, n_control)
    pw = d.power_at(eff_scale / se, df)
    eff_units = float(effect) if effect is not None else 100.0 * (p1 - d.base_rate)
    inputs = {k: v for k, v in d.to_dict().items() if k != "power"}
    return PowerResult(
        n_treated=n_treated,
        n_control=n_control,
        se=_se_units(d, se),
        design_effect=d.design_effect,
        variance_factor=d.variance_factor,
        df=df,
        inputs=inputs,
        _design=d,
        power=pw,
        effect=eff_units,
        treated_rate=p1,
    )


def sample_size(
    *,
    effect: float | None = None,
    ratio: float | None = None,
    treated_rate: float | None = None,
    outcome: Outcome = "continuous",
    base_rate: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    r2: float = 0.0,
    cluster_size: float = 1,
    icc: float = 0.0,
    two_sided: bool = True,
    design: Design = "two_group",
    n_pre: int | None = None,
    n_post: int = 1,
    autocorr: float | None = None,
    binary_method: BinaryMethod | None = None,
    dist: Dist = "normal",
    r2_cluster: float | None = None,
    n_cluster_covariates: int = 0,
) -> SampleSizeResult:
    r"""Units per arm needed to detect ``effect`` with the target power.

    Normal approximation (closed form): with ``n_C = ratio · n_T``,

    .. math:: n_T = \sigma^2 V\, (1 + 1/\text{ratio})\,M^2/\delta^2

    with ``V = (1-R²) DEFF f`` the variance factor (module docstring; two R² with
    ``r2_cluster``) and without the ``1/ratio`` term for ``one_sample``. With ``dist="t"``
    the equation ``power(n_T) = target`` is solved numerically. Each arm is rounded up.

    Parameters
    ----------
    effect
        Continuous outcomes: SD units. Binary outcomes: change from ``base_rate`` in
        percentage points (or pass ``treated_rate`` instead).
    ratio
        ``n_control / n_treated`` (the statsmodels convention); default 1. ``one_sample``
        has no control arm: setting ``ratio`` there is refused.
    treated_rate, outcome, base_rate, alpha, power, r2, cluster_size, icc, two_sided, design
        As in :func:`mde`.
    n_pre, n_post, autocorr, binary_method, dist, r2_cluster, n_cluster_covariates
        As in :func:`mde`.

    Returns
    -------
    SampleSizeResult
        ``n_treated`` and ``n_control`` (rounded up), the unrounded solutions and the power
        achieved at the rounded sizes.
    """
    src = "argument to analysis.power.sample_size"
    d = _make_design(
        src,
        outcome=outcome,
        base_rate=base_rate,
        alpha=alpha,
        target_power=power,
        r2=r2,
        cluster_size=cluster_size,
        icc=icc,
        two_sided=two_sided,
        design=design,
        n_pre=n_pre,
        n_post=n_post,
        autocorr=autocorr,
        binary_method=binary_method,
        dist=dist,
        r2_cluster=r2_cluster,
        n_cluster_covariates=n_cluster_covariates,
    )
    _check(
        ratio is None or design != "one_sample",
        src,
        "ratio",
        f"design='one_sample' has no control arm, so ratio={ratio!r} would be ignored "
        "(leave it unset)",
    )
    ratio = 1.0 if ratio is None else ratio
    _check(ratio > 0 and math.isfinite(ratio), src, "ratio", f"must be > 0, got {ratio!r}")
    eff_scale, p1 = _effect_to_scale(src, d, effect, treated_rate)
    _check(eff_scale != 0, src, "effect", "a zero effect cannot be detected with any sample")
    one = d.design == "one_sample"
    k = 1.0 if one else 1.0 + 1.0 / ratio
    v = d.sigma2 * d.variance_factor
    n_t = v * k * d.multiplier(None) ** 2 / eff_scale**2
    if d.dist == "t":

        def gap(n: float) -> float:
            nc = None if one else ratio * n
            return d.power_at(eff_scale / d.se(n, nc), d.df(n, nc)) - d.target_power

        hi = max(2 * n_t, 10.0)
        while gap(hi) < 0:
            hi *= 2
        lo = 1.0 + (2.0 + d.n_cluster_covariates) * d.cluster_size  # enough for df >= 1
        n_t = optimize.brentq(gap, lo, hi, xtol=1e-9) if gap(lo) < 0 else lo
    n_c = None if one else ratio * n_t
    # Round up; subtract a tiny tolerance so that exact integers are not bumped by float noise.
    nt_r = math.ceil(n_t - 1e-9)
    nc_r = None if n_c is None else math.ceil(n_c - 1e-9)
    se = d.se(nt_r, nc_r)
    df = d.df(nt_r, nc_r)
    achieved = d.power_at(eff_scale / se, df)
    eff_units = float(effect) if effect is not None else 100.0 * (p1 - d.base_rate)
    return SampleSizeResult(
        n_treated=nt_r,
        n_control=nc_r,
        se=_se_units(d, se),
        design_effect=d.design_effect,
        variance_factor=d.variance_factor,
        df=df,
        inputs=d.to_dict(),
        _design=d,
        effect=eff_units,
        ratio=float(ratio),
        n_treated_exact=n_t,
        n_control_exact=n_c,
        achieved_power=achieved,
        treated_rate=p1,
    )


# --------------------------------------------------------------------------------------
# Three-level designs (PowerUp!): pupils in classes in schools
# --------------------------------------------------------------------------------------

_THREE_LEVEL = ("cra3", "bcra3r2")


@dataclass(frozen=True)
class _ThreeLevel:
    """Validated inputs of a three-level design (module docstring, "Three-level designs")."""

    design: str
    pupils_per_class: float
    classes_per_school: float
    n_schools: float
    icc_class: float
    icc_school: float
    treated_share: float
    r2_pupil: float
    r2_class: float
    r2_school: float | None
    effect_heterogeneity: float | None
    r2_effect_heterogeneity: float | None
    n_school_covariates: int
    alpha: float
    two_sided: bool

    @property
    def df(self) -> float:
        """``K - g3 - 2`` (``cra3``) or ``K - g3 - 1`` (``bcra3r2``)."""
        lost = 2 if self.design == "cra3" else 1
        return self.n_schools - self.n_school_covariates - lost

    @property
    def variance_components(self) -> dict[str, float]:
        """The school, class and pupil terms of ``SE²``."""
        n, j, k = self.pupils_per_class, self.classes_per_school, self.n_schools
        pq = self.treated_share * (1 - self.treated_share)
        rho2, rho3 = self.icc_class, self.icc_school
        if self.design == "cra3":
            assert self.r2_school is not None
            school = rho3 * (1 - self.r2_school) / (pq * k)
        else:
            assert self.effect_heterogeneity is not None
            assert self.r2_effect_heterogeneity is not None
            school = rho3 * self.effect_heterogeneity * (1 - self.r2_effect_heterogeneity) / k
        return {
            "school": school,
            "class": rho2 * (1 - self.r2_class) / (pq * j * k),
            "pupil": (1 - rho2 - rho3) * (1 - self.r2_pupil) / (pq * j * k * n),
        }

    @property
    def se(self) -> float:
        """Standardised standard error of the effect (outcome SD units)."""
        return math.sqrt(sum(self.variance_components.values()))

    @property
    def critical(self) -> float:
        """``t_{1-α/2, df}`` (two-sided) or ``t_{1-α, df}``."""
        q = 1 - self.alpha / 2 if self.two_sided else 1 - self.alpha
        return float(stats.t.ppf(q, self.df))

    def multiplier(self, power: float) -> float:
        """PowerUp!'s ``M = t_crit + t_{power, df}`` (central t quantiles)."""
        return self.critical + float(stats.t.ppf(power, self.df))

    def power_at(self, effect: float) -> float:
        """Noncentral-t power against ``effect`` (in the direction of the effect, one-sided)."""
        return _nct_power(abs(effect) / self.se, self.df, self.critical, two_sided=self.two_sided)

    def to_dict(self) -> dict[str, Any]:
        """Return the inputs as a JSON-serialisable dict."""
        return {
            "design": self.design,
            "pupils_per_class": self.pupils_per_class,
            "classes_per_school": self.classes_per_school,
            "n_schools": self.n_schools,
            "icc_class": self.icc_class,
            "icc_school": self.icc_school,
            "treated_share": self.treated_share,
            "r2_pupil": self.r2_pupil,
            "r2_class": self.r2_class,
            "r2_school": self.r2_school,
            "effect_heterogeneity": self.effect_heterogeneity,
            "r2_effect_heterogeneity": self.r2_effect_heterogeneity,
            "n_school_covariates": self.n_school_covariates,
            "alpha": self.alpha,
            "two_sided": self.two_sided,
        }

    def powerupr_args(self) -> str:
        """The PowerUpR 1.1.0 arguments of the same design (for cross-checks in R)."""
        a = [
            f"alpha={self.alpha:g}",
            f"two.tailed={'TRUE' if self.two_sided else 'FALSE'}",
            f"rho2={self.icc_class:g}",
            f"rho3={self.icc_school:g}",
        ]
        if self.design == "bcra3r2":
            a.append(f"omega3={self.effect_heterogeneity:g}")
        a += [
            f"p={self.treated_share:g}",
            f"g3={self.n_school_covariates}",
            f"r21={self.r2_pupil:g}",
            f"r22={self.r2_class:g}",
        ]
        if self.design == "cra3":
            a.append(f"r23={self.r2_school:g}")
        else:
            a.append(f"r2t3={self.r2_effect_heterogeneity:g}")
        a += [
            f"n={self.pupils_per_class:g}",
            f"J={self.classes_per_school:g}",
            f"K={self.n_schools:g}",
        ]
        return ", ".join(a)


def _make_three_level(
    source: str,
    *,
    design: str,
    pupils_per_class: float,
    classes_per_school: float,
    n_schools: float,
    icc_class: float,
    icc_school: float,
    treated_share: float,
    r2_pupil: float,
    r2_class: float,
    r2_school: float | None,
    effect_heterogeneity: float | None,
    r2_effect_heterogeneity: float | None,
    n_school_covariates: int,
    alpha: float,
    two_sided: bool,
) -> _ThreeLevel:
    _check(
        design in _THREE_LEVEL, source, "design", f"must be one of {_THREE_LEVEL}, got {design!r}"
    )

    def number(x: Any) -> bool:
        return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)

    for name, value in (
        ("pupils_per_class", pupils_per_class),
        ("classes_per_school", classes_per_school),
        ("n_schools", n_schools),
    ):
        _check(
            number(value) and math.isfinite(value) and value >= 1,
            source,
            name,
            f"must be a finite number >= 1 (an average size may be fractional), got {value!r}",
        )
    if design == "bcra3r2":
        _check(
            classes_per_school > 1,
            source,
            "classes_per_school",
            "design='bcra3r2' randomises classes within each school, which needs more than "
            f"one class per school, got {classes_per_school!r}",
        )
    for name, value in (("icc_class", icc_class), ("icc_school", icc_school)):
        _check(number(value) and 0 <= value < 1, source, name, f"must lie in [0, 1), got {value!r}")
    _check(
        icc_class + icc_school < 1,
        source,
        "icc_school",
        f"icc_class + icc_school must be < 1 (the pupil-level share is 1 minus both), "
        f"got {icc_class} + {icc_school}",
    )
    _check(
        number(treated_share) and 0 < treated_share < 1,
        source,
        "treated_share",
        f"must lie in (0, 1), got {treated_share!r}",
    )
    _check(0 < alpha < 1, source, "alpha", f"must lie in (0, 1), got {alpha}")
    for name, value in (("r2_pupil", r2_pupil), ("r2_class", r2_class)):
        _check(number(value) and 0 <= value < 1, source, name, f"must lie in [0, 1), got {value!r}")
    if design == "cra3":
        for name, value in (
            ("effect_heterogeneity", effect_heterogeneity),
            ("r2_effect_heterogeneity", r2_effect_heterogeneity),
        ):
            _check(
                value is None,
                source,
                name,
                "applies to design='bcra3r2' only (schools as random blocks); with 'cra3' "
                "whole schools are randomised and school-level variance enters through "
                "icc_school and r2_school",
            )
        r2_school = 0.0 if r2_school is None else r2_school
        _check(0 <= r2_school < 1, source, "r2_school", f"must lie in [0, 1), got {r2_school}")
    else:
        _check(
            r2_school is None,
            source,
            "r2_school",
            "does not enter design='bcra3r2': the school means are shared by both arms of a "
            "block; school-level covariates act through r2_effect_heterogeneity",
        )
        _check(
            effect_heterogeneity is not None and effect_heterogeneity >= 0,
            source,
            "effect_heterogeneity",
            "design='bcra3r2' needs omega3 >= 0, the variance of the school-specific "
            "treatment effects relative to the school-level variance, "
            f"got {effect_heterogeneity!r}",
        )
        r2_effect_heterogeneity = (
            0.0 if r2_effect_heterogeneity is None else r2_effect_heterogeneity
        )
        _check(
            0 <= r2_effect_heterogeneity < 1,
            source,
            "r2_effect_heterogeneity",
            f"must lie in [0, 1), got {r2_effect_heterogeneity}",
        )
    _check(
        isinstance(n_school_covariates, int | np.integer)
        and not isinstance(n_school_covariates, bool)
        and n_school_covariates >= 0,
        source,
        "n_school_covariates",
        f"must be an integer >= 0, got {n_school_covariates!r}",
    )
    d = _ThreeLevel(
        design=design,
        pupils_per_class=float(pupils_per_class),
        classes_per_school=float(classes_per_school),
        n_schools=float(n_schools),
        icc_class=float(icc_class),
        icc_school=float(icc_school),
        treated_share=float(treated_share),
        r2_pupil=float(r2_pupil),
        r2_class=float(r2_class),
        r2_school=None if r2_school is None else float(r2_school),
        effect_heterogeneity=None if effect_heterogeneity is None else float(effect_heterogeneity),
        r2_effect_heterogeneity=(
            None if r2_effect_heterogeneity is None else float(r2_effect_heterogeneity)
        ),
        n_school_covariates=int(n_school_covariates),
        alpha=float(alpha),
        two_sided=bool(two_sided),
    )
    _check(
        d.df >= 1,
        source,
        "n_schools",
        f"leaves {d.df:g} degrees of freedom (K - g3 - {2 if design == 'cra3' else 1}); need >= 1",
    )
    return d


@dataclass(frozen=True)
class _ThreeLevelCalc:
    """Fields shared by the three-level results."""

    design: str
    se: float
    df: float
    critical: float
    variance_components: Mapping[str, float]
    inputs: Mapping[str, Any]
    _design: _ThreeLevel = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "variance_components", MappingProxyType(dict(self.variance_components))
        )
        object.__setattr__(self, "inputs", MappingProxyType(dict(self.inputs)))

    def _common_dict(self) -> dict[str, Any]:
        return {
            "design": self.design,
            "se": self.se,
            "df": self.df,
            "critical": self.critical,
            "variance_components": dict(self.variance_components),
            "inputs": dict(self.inputs),
        }

    def tidy(self) -> pd.DataFrame:
        """Return a one-row DataFrame (inputs and variance components flattened)."""
        d = self.to_dict()
        inputs = d.pop("inputs")
        comp = {f"var_{k}": v for k, v in d.pop("variance_components").items()}
        inputs.pop("design")
        return pd.DataFrame([{**d, **comp, **inputs}])

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - overridden
        """Return a JSON-serialisable dict."""
        return self._common_dict()

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:  # pragma: no cover - overridden
        """Return a one-line description."""
        raise NotImplementedError

    def _sizes(self) -> str:
        d = self._design
        return (
            f"{d.design}: {d.n_schools:g} schools × {d.classes_per_school:g} classes × "
            f"{d.pupils_per_class:g} pupils"
        )


@dataclass(frozen=True)
class ThreeLevelMDE(_ThreeLevelCalc):
    """Minimum detectable effect size of a three-level design (PowerUpR ``mdes.*``).

    Attributes
    ----------
    value
        The MDES in outcome SD units, ``M · se``.
    ci_lower, ci_upper
        PowerUpR's ``(1 - alpha)`` interval ``value ∓ critical · se``.
    multiplier
        ``M = critical + t_{power, df}``.
    power, alpha
        Target power and test size.
    se, df, critical
        Standardised standard error, degrees of freedom and critical value of the test.
    variance_components
        The school, class and pupil terms of ``se²``.
    """

    value: float = math.nan
    ci_lower: float = math.nan
    ci_upper: float = math.nan
    multiplier: float = math.nan
    power: float = math.nan
    alpha: float = math.nan

    @property
    def confidence(self) -> float:
        """Coverage of the interval, ``1 - alpha``."""
        return 1.0 - self.alpha

    def powerupr_call(self) -> str:
        """The equivalent PowerUpR 1.1.0 call, e.g. ``mdes.cra3(power=0.8, ...)``."""
        return f"mdes.{self.design}(power={self.power:g}, {self._design.powerupr_args()})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        out = {
            "quantity": "mdes",
            "value": self.value,
            "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper,
            "confidence": self.confidence,
            "multiplier": self.multiplier,
            "power": self.power,
            "alpha": self.alpha,
        }
        return {**out, **self._common_dict()}

    def summary(self) -> str:
        """Return one line in PowerUpR's terms: MDES, interval, df, SE."""
        return (
            f"MDES = {self.value:.3f} SD, {self.confidence:.0%} CI [{self.ci_lower:.3f}, "
            f"{self.ci_upper:.3f}]; df {self.df:g}, SE {self.se:.3f} "
            f"({self._sizes()}; alpha={self.alpha:g}, power={self.power:g})"
        )


@dataclass(frozen=True)
class ThreeLevelPower(_ThreeLevelCalc):
    """Power of a three-level design against an effect (PowerUpR ``power.*``).

    Attributes
    ----------
    power
        Probability of rejecting the null of no effect (noncentral t).
    effect
        The effect in outcome SD units.
    ncp
        Noncentrality ``|effect| / se``.
    alpha
        Test size.
    """

    power: float = math.nan
    effect: float = math.nan
    ncp: float = math.nan
    alpha: float = math.nan

    def powerupr_call(self) -> str:
        """The equivalent PowerUpR 1.1.0 call, e.g. ``power.cra3(es=0.23, ...)``."""
        return f"power.{self.design}(es={self.effect:g}, {self._design.powerupr_args()})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        out = {
            "quantity": "power",
            "power": self.power,
            "effect": self.effect,
            "ncp": self.ncp,
            "alpha": self.alpha,
        }
        return {**out, **self._common_dict()}

    def summary(self) -> str:
        """Return one line: power, effect, df, SE."""
        return (
            f"power = {self.power:.3f} for an effect of {self.effect:.3g} SD; df {self.df:g}, "
            f"SE {self.se:.3f} ({self._sizes()}; alpha={self.alpha:g})"
        )


def mde_three_level(
    *,
    design: Literal["cra3", "bcra3r2"],
    pupils_per_class: float,
    classes_per_school: float,
    n_schools: float,
    icc_class: float,
    icc_school: float,
    treated_share: float = 0.5,
    r2_pupil: float = 0.0,
    r2_class: float = 0.0,
    r2_school: float | None = None,
    effect_heterogeneity: float | None = None,
    r2_effect_heterogeneity: float | None = None,
    n_school_covariates: int = 0,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
) -> ThreeLevelMDE:
    r"""Minimum detectable effect size of a three-level design, as PowerUpR ``mdes.*``.

    ``MDES = M · SE`` with ``M = t_{1-α/2,df} + t_{power,df}`` and, for ``design="cra3"``,

    .. math::

        SE^2 = \frac{\rho_3(1-R^2_3)}{P(1-P)K} + \frac{\rho_2(1-R^2_2)}{P(1-P)JK}
             + \frac{(1-\rho_2-\rho_3)(1-R^2_1)}{P(1-P)JKn},\qquad df = K - g_3 - 2;

    for ``design="bcra3r2"`` the school term is :math:`\rho_3\omega_3(1-R^2_{T3})/K` and
    :math:`df = K - g_3 - 1` (Dong & Maynard 2013; module docstring). The interval is
    PowerUpR's ``MDES ∓ t_{1-α/2,df} · SE``. Written by hand: no Python library has these
    designs.

    Parameters
    ----------
    design
        ``"cra3"``: whole schools randomised (PowerUpR ``cra3``). ``"bcra3r2"``: classes
        randomised within schools, schools as random blocks (PowerUpR ``bcra3r2``).
    pupils_per_class, classes_per_school, n_schools
        ``n``, ``J`` and ``K``: average pupils per class, average classes per school, schools.
    icc_class, icc_school
        ``rho2``, ``rho3``: shares of the outcome variance between classes (within schools) and
        between schools.
    treated_share
        ``p``: share of schools treated (``cra3``) or of classes treated within each school
        (``bcra3r2``).
    r2_pupil, r2_class
        ``r21``, ``r22``: shares of the pupil- and class-level variance explained by covariates.
    r2_school
        ``r23``, ``cra3`` only (``None`` = 0): share of the school-level variance explained by
        school-level covariates.
    effect_heterogeneity
        ``omega3``, ``bcra3r2`` only (required): variance of the school-specific treatment
        effects relative to the school-level variance ``tau²_3``.
    r2_effect_heterogeneity
        ``r2t3``, ``bcra3r2`` only (``None`` = 0): share of that effect variance explained by
        school-level covariates.
    n_school_covariates
        ``g3``: school-level covariates, each costing one degree of freedom.
    alpha, two_sided
        Test size; two-sided (default) or one-sided test.
    power
        Target power.

    Returns
    -------
    ThreeLevelMDE
        MDES with its interval, df, standardised SE, multiplier and variance components.
    """
    src = "argument to analysis.power.mde_three_level"
    _check(0 < power < 1, src, "power", f"must lie in (0, 1), got {power}")
    d = _make_three_level(
        src,
        design=design,
        pupils_per_class=pupils_per_class,
        classes_per_school=classes_per_school,
        n_schools=n_schools,
        icc_class=icc_class,
        icc_school=icc_school,
        treated_share=treated_share,
        r2_pupil=r2_pupil,
        r2_class=r2_class,
        r2_school=r2_school,
        effect_heterogeneity=effect_heterogeneity,
        r2_effect_heterogeneity=r2_effect_heterogeneity,
        n_school_covariates=n_school_covariates,
        alpha=alpha,
        two_sided=two_sided,
    )
    se, crit = d.se, d.critical
    mult = d.multiplier(power)
    value = mult * se
    return ThreeLevelMDE(
        design=d.design,
        se=se,
        df=d.df,
        critical=crit,
        variance_components=d.variance_components,
        inputs=d.to_dict(),
        _design=d,
        value=value,
        ci_lower=value - crit * se,
        ci_upper=value + crit * se,
        multiplier=mult,
        power=float(power),
        alpha=d.alpha,
    )


def power_three_level(
    *,
    effect: float,
    design: Literal["cra3", "bcra3r2"],
    pupils_per_class: float,
    classes_per_school: float,
    n_schools: float,
    icc_class: float,
    icc_school: float,
    treated_share: float = 0.5,
    r2_pupil: float = 0.0,
    r2_class: float = 0.0,
    r2_school: float | None = None,
    effect_heterogeneity: float | None = None,
    r2_effect_heterogeneity: float | None = None,
    n_school_covariates: int = 0,
    alpha: float = 0.05,
    two_sided: bool = True,
) -> ThreeLevelPower:
    r"""Power of a three-level design against ``effect``, as PowerUpR ``power.*``.

    With :math:`\lambda = |\delta|/SE` (``SE`` and ``df`` as in :func:`mde_three_level`) and
    :math:`t_c = t_{1-\alpha/2,df}`, power is
    :math:`1 - T_{df,\lambda}(t_c) + T_{df,\lambda}(-t_c)` (one-sided: :math:`t_{1-\alpha,df}`
    and no second term), :math:`T_{df,\lambda}` the noncentral t distribution function.

    Parameters
    ----------
    effect
        The effect in outcome SD units (``es``).
    design, pupils_per_class, classes_per_school, n_schools, icc_class, icc_school
        As in :func:`mde_three_level`.
    treated_share, r2_pupil, r2_class, r2_school, effect_heterogeneity
        As in :func:`mde_three_level`.
    r2_effect_heterogeneity, n_school_covariates, alpha, two_sided
        As in :func:`mde_three_level`.

    Returns
    -------
    ThreeLevelPower
    """
    src = "argument to analysis.power.power_three_level"
    _check(
        isinstance(effect, int | float | np.integer | np.floating)
        and not isinstance(effect, bool)
        and math.isfinite(effect),
        src,
        "effect",
        f"must be a finite number (SD units), got {effect!r}",
    )
    d = _make_three_level(
        src,
        design=design,
        pupils_per_class=pupils_per_class,
        classes_per_school=classes_per_school,
        n_schools=n_schools,
        icc_class=icc_class,
        icc_school=icc_school,
        treated_share=treated_share,
        r2_pupil=r2_pupil,
        r2_class=r2_class,
        r2_school=r2_school,
        effect_heterogeneity=effect_heterogeneity,
        r2_effect_heterogeneity=r2_effect_heterogeneity,
        n_school_covariates=n_school_covariates,
        alpha=alpha,
        two_sided=two_sided,
    )
    se = d.se
    return ThreeLevelPower(
        design=d.design,
        se=se,
        df=d.df,
        critical=d.critical,
        variance_components=d.variance_components,
        inputs=d.to_dict(),
        _design=d,
        power=d.power_at(effect),
        effect=float(effect),
        ncp=abs(effect) / se,
        alpha=d.alpha,
    )


# --------------------------------------------------------------------------------------
# Simulation-based power
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedPower:
    """Monte Carlo power of an estimator, one row per true effect.

    Attributes
    ----------
    alpha
        Level of the test: a simulation rejects when the estimate's ``p_value < alpha``.
    seed
        Root seed as recorded: the integer, or ``{"entropy": ..., "spawn_key": [...]}`` of a
        :class:`numpy.random.SeedSequence` (e.g. a child of a run's ``"power"`` stream).
        Simulation ``i`` of effect ``j`` uses ``root.spawn(n_effects)[j].spawn(n_sims)[i]``.
    estimates
        Per-simulation results: effect, sim, estimate, se, ci_low, ci_high, p_value, reject.
    """

    alpha: float
    seed: int | dict[str, Any] | None
    n_sims: int
    estimates: pd.DataFrame = field(repr=False)

    def tidy(self) -> pd.DataFrame:
        """Return one row per effect.

        Columns: effect, n_sims, rejections, power, mc_se (``sqrt(p(1-p)/n)``),
        mean_estimate, bias, rmse, coverage (share of CIs that contain the true effect) and
        n_invalid (simulations with a missing estimate or p-value, counted as non-rejections).
        """
        rows = []
        for eff, g in self.estimates.groupby("effect", sort=False):
            n = len(g)
            rej = int(g["reject"].sum())
            p = rej / n
            est = g["estimate"].to_numpy(float)
            ok = np.isfinite(est)
            cover = (g["ci_low"] <= eff) & (eff <= g["ci_high"])
            rows.append(
                {
                    "effect": float(eff),
                    "n_sims": n,
                    "rejections": rej,
                    "power": p,
                    "mc_se": math.sqrt(p * (1 - p) / n),
                    "mean_estimate": float(est[ok].mean()) if ok.any() else math.nan,
                    "bias": float(est[ok].mean() - eff) if ok.any() else math.nan,
                    "rmse": float(np.sqrt(np.mean((est[ok] - eff) ** 2))) if ok.any() else math.nan,
                    "coverage": float(cover.mean()),
                    "n_invalid": int((~ok | g["p_value"].isna()).sum()),
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (the per-effect table, not the raw draws)."""
        return {
            "alpha": self.alpha,
            "seed": self.seed,
            "n_sims": self.n_sims,
            "table": self.tidy().to_dict(orient="records"),
        }

    def summary(self) -> str:
        """Return one line per effect: power ± MC standard error."""
        lines = [
            f"Simulated power (alpha={self.alpha:g}, {self.n_sims} simulations per effect, "
            f"seed={self.seed})"
        ]
        for r in self.tidy().itertuples():
            lines.append(
                f"  effect {r.effect:g}: power {r.power:.3f} (MC SE {r.mc_se:.3f}), "
                f"bias {r.bias:+.3g}, coverage {r.coverage:.3f}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(
        self, *, ax: Any = None, target: float | None = 0.8, effect_label: str = "true effect"
    ) -> Figure:
        """Power curve with ±1.96 Monte Carlo standard-error bars.

        Parameters
        ----------
        ax
            Matplotlib axes to draw on (a new figure otherwise).
        target
            Draw a horizontal line at this power (``None``: no line).
        effect_label
            x-axis label.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        t = self.tidy().sort_values("effect")
        if ax is None:
            fig, ax = plt.subplots(figsize=(6, 4))
        else:
            fig = ax.figure
        ax.errorbar(
            t["effect"],
            t["power"],
            yerr=1.96 * t["mc_se"],
            marker="o",
            capsize=3,
            label="simulated power (±1.96 MC SE)",
        )
        ax.axhline(
            self.alpha, color="grey", linestyle=":", linewidth=1, label=f"alpha = {self.alpha:g}"
        )
        if target is not None:
            ax.axhline(
                target, color="grey", linestyle="--", linewidth=1, label=f"target power {target:g}"
            )
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(effect_label)
        ax.set_ylabel("power")
        ax.set_title(f"Power curve ({self.n_sims} simulations per effect)")
        ax.legend(loc="lower right", fontsize="small")
        return fig


def simulate_power(
    *,
    draw: Callable[[float, np.random.Generator], Any],
    estimate: Callable[[Any], Estimate],
    effects: Sequence[float],
    n_sims: int,
    alpha: float = 0.05,
    seed: Seed | None,
    progress: bool = True,
    n_jobs: int | None = None,
) -> SimulatedPower:
    """Monte Carlo power of any estimator for any data-generating process.

    For each true effect ``δ`` in ``effects`` and each simulation ``i``, a dataset is drawn
    with ``draw(δ, rng)`` and passed to ``estimate``, which returns an
    :class:`~analysis.estimate.Estimate`. A simulation rejects ``H0: δ = 0`` when
    ``p_value < alpha``; power is the rejection share, with Monte Carlo standard error
    ``sqrt(p(1-p)/n_sims)``. Bias, RMSE and CI coverage of the true ``δ`` are reported too.

    Written here rather than taken from ``diff_diff.simulate_power`` because that function
    is tied to diff-diff's own estimators and data generators; this one takes any
    simulator and estimator of the project.

    Parameters
    ----------
    draw
        ``draw(effect, rng) -> data`` (a DataFrame, or any value ``estimate`` takes); must use
        only ``rng`` for randomness.
    estimate
        ``estimate(data) -> Estimate``.
    effects
        True effects to simulate (in the units ``draw`` understands).
    n_sims
        Simulations per effect.
    alpha
        Level of the test.
    seed
        Root seed: an integer or a :class:`numpy.random.SeedSequence` (e.g.
        ``SeedStreams(seed).sequence("power")`` or a child of it).  Every simulation gets its
        own independent generator (``root.spawn(n_effects)[j].spawn(n_sims)[i]``), so results
        are reproducible and the first ``k`` simulations of an effect do not change when
        ``n_sims`` grows.
    progress
        Show a text progress bar (tqdm) on stderr (advanced once per effect).
    n_jobs
        Workers of the simulations (:func:`analysis.replicate.run_replications`; ``None``:
        :func:`analysis.replicate.default_jobs`, i.e. env ``ANALYSIS_JOBS`` or 1).  The results
        are identical for any value; ``draw`` and ``estimate`` must be picklable (module-level
        functions or partials of them) when it is above 1.

    Returns
    -------
    SimulatedPower
    """
    src = "argument to analysis.power.simulate_power"
    _check(
        int(n_sims) == n_sims and n_sims >= 1,
        src,
        "n_sims",
        f"must be a positive integer, got {n_sims!r}",
    )
    _check(0 < alpha < 1, src, "alpha", f"must lie in (0, 1), got {alpha}")
    effects = [float(e) for e in effects]
    _check(len(effects) > 0, src, "effects", "must contain at least one effect")
    _check(len(set(effects)) == len(effects), src, "effects", "must not repeat an effect")
    n_sims = int(n_sims)
    jobs = resolve_jobs(n_jobs)
    children = _root(seed).spawn(len(effects))
    rows: list[dict[str, Any]] = []
    with tqdm(
        total=len(effects) * n_sims, disable=not progress, desc="simulate_power", leave=False
    ) as bar:
        for eff, child in zip(effects, children, strict=True):
            fits = run_replications(
                partial(_one_simulation, draw=draw, estimate=estimate, effect=eff),
                n_sims,
                seed=child.spawn(n_sims),
                n_jobs=jobs,
            )
            for i, (est, se, lo, hi, p) in enumerate(fits):
                rows.append(
                    {
                        "effect": eff,
                        "sim": i,
                        "estimate": est,
                        "se": se,
                        "ci_low": lo,
                        "ci_high": hi,
                        "p_value": p,
                        "reject": bool(p is not None and math.isfinite(p) and p < alpha),
                    }
                )
            bar.update(n_sims)
    return SimulatedPower(
        alpha=float(alpha), seed=_seed_record(seed), n_sims=n_sims, estimates=pd.DataFrame(rows)
    )


def _one_simulation(
    ss: np.random.SeedSequence,
    *,
    draw: Callable[[float, np.random.Generator], Any],
    estimate: Callable[[Any], Estimate],
    effect: float,
) -> tuple[float, float, float, float, float | None]:
    """One simulation of :func:`simulate_power`: draw with its own generator and estimate."""
    est = estimate(draw(effect, np.random.default_rng(ss)))
    return (est.estimate, est.se, est.ci_low, est.ci_high, est.p_value)


def _root(seed: Seed | None) -> np.random.SeedSequence:
    """The root :class:`~numpy.random.SeedSequence` of a simulation (a copy: spawning is stateful)."""
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key)
    return np.random.SeedSequence(seed)


def _seed_record(seed: Seed | None) -> int | dict[str, Any] | None:
    """A JSON-serialisable record of a root seed (see :attr:`SimulatedPower.seed`)."""
    if isinstance(seed, np.random.SeedSequence):
        ent = seed.entropy
        entropy = int(ent) if isinstance(ent, int | np.integer) else [int(e) for e in ent]
        return {"entropy": entropy, "spawn_key": [int(k) for k in seed.spawn_key]}
    return None if seed is None else int(seed)


# --------------------------------------------------------------------------------------
# Simulated power of the staggered DiD (SIMULATED programme panels)
# --------------------------------------------------------------------------------------

_SIM_SRC = "argument to analysis.power (simulated DiD power)"

#: Outcomes observed for a pupil in every panel year by the simulator (INVALSI is tested in
#: single grades; binary outcomes are not simulated here).
SIM_OUTCOMES = ("grade_avg", "absence_rate")


def design_seeds(
    seed: int, n_designs: int
) -> list[tuple[np.random.SeedSequence, np.random.SeedSequence]]:
    """Pilot-panel and simulation seed sequences of the ``n_designs`` designs of one run.

    Design ``k`` gets ``(SeedStreams(seed).sequence("data").spawn(n)[k],
    SeedStreams(seed).sequence("power").spawn(n)[k])``: its pilot panel
    (:func:`calibrate_design`) draws from the run's ``"data"`` stream and its power
    simulation (:func:`simulate_did_power`) from the ``"power"`` stream.
    """
    if isinstance(n_designs, bool) or not isinstance(n_designs, int | np.integer) or n_designs < 1:
        raise fail(_SIM_SRC, f"must be a positive integer, got {n_designs!r}", column="n_designs")
    streams = SeedStreams(seed)
    data = streams.sequence("data").spawn(int(n_designs))
    sims = streams.sequence("power").spawn(int(n_designs))
    return list(zip(data, sims, strict=True))


def _int_seed(seed: Seed) -> int:
    """An integer seed for :func:`~analysis.data.simulate.programme_panel` (which takes an int)."""
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(1, dtype=np.uint64)[0])
    return int(seed)


def cs_simple_se(
    cohort_sizes: Mapping[int, float], *, n_control: float, years: Sequence[int], autocorr: float
) -> float:
    r"""Analytic SE (SD units) of the Callaway-Sant'Anna simple aggregation.

    See the module docstring for the model.  Each cohort ``g`` must be a year of ``years``
    whose previous year is also in ``years`` (the base period).  Written here because
    ``diff_diff.PowerAnalysis`` covers the equicorrelated two-group panel of Burlig, Preonas &
    Woerman (2020) (as :func:`mde` with ``design="did"`` does), not the cohort-weighted simple
    aggregation of Callaway & Sant'Anna.

    Parameters
    ----------
    cohort_sizes
        ``{first treated year: number of treated units}`` (non-integer expected sizes allowed).
    n_control
        Never-treated units.
    years
        The panel years (consecutive).
    autocorr
        Correlation of a unit's outcome between any two years.

    Returns
    -------
    float
        :math:`\sqrt{\operatorname{Var}(\hat\theta)}` in SD units of the outcome.

    Raises
    ------
    DataValidationError
        ``autocorr`` outside ``[-1/(T-1), 1)``, a cohort without its base year in ``years``
        or with a non-positive size, ``n_control`` not positive.
    """
    years = [int(y) for y in years]
    pos = {y: i for i, y in enumerate(years)}
    t = len(years)
    if not -1.0 / max(t - 1, 1) <= autocorr < 1:
        raise fail(_SIM_SRC, f"must lie in [-1/(T-1), 1), got {autocorr}", column="autocorr")
    if not n_control > 0:
        raise fail(_SIM_SRC, f"must be > 0, got {n_control!r}", column="n_control")
    sigma = (1 - autocorr) * np.eye(t) + autocorr * np.ones((t, t))
    cells = {}
    for g, n in cohort_sizes.items():
        g = int(g)
        if g not in pos or g - 1 not in pos or n <= 0:
            raise fail(
                _SIM_SRC,
                f"cohort {g} needs a base year {g - 1} in the panel and a positive size, got {n}",
                column="cohort_sizes",
            )
        c = np.zeros(t)
        post = [y for y in years if y >= g]
        for y in post:
            c[pos[y]] += 1.0
        c[pos[g - 1]] -= len(post)
        cells[g] = (float(n), c, len(post))
    denom = sum(n * k for n, _, k in cells.values())
    var = 0.0
    d = np.zeros(t)
    for n, c, _ in cells.values():
        w = n / denom
        var += w**2 * float(c @ sigma @ c) / n
        d += w * c
    var += float(d @ sigma @ d) / n_control
    return math.sqrt(var)


@dataclass(frozen=True)
class PanelDesign:
    """How simulated programme panels are drawn for one power simulation.

    SIMULATED: panels come from :func:`analysis.data.simulate.programme_panel`.  Build it with
    :func:`calibrate_design`, which measures ``outcome_sd``, ``autocorr`` and the share of
    drawn pupils usable as treated or control units on a large pilot panel.

    Attributes
    ----------
    label
        Name of the group (e.g. ``"STEAM courses"``).
    n_treated, n_control
        Participants and never-participants in each simulated analysis sample; all observed
        (with the outcome) in every panel year, as the Callaway-Sant'Anna estimator requires.
    outcome
        Simulated outcome (one of :data:`SIM_OUTCOMES`).
    years, cohorts
        Panel years and programme editions (first year of participation).
    outcome_sd
        SD of the outcome within a year among never-participants (natural units per SD).
    autocorr
        Correlation of a never-participant's outcome between two years (pilot estimate).
    cohort_shares
        Expected share of each edition among usable participants (read-only mapping).
    n_pupils
        Pupils drawn per panel (enough usable ones, with a margin).
    share_treated, n_schools
        Passed to :func:`~analysis.data.simulate.programme_panel`.
    pilot_pupils
        Pupils of the pilot panel the design was calibrated on.
    """

    label: str
    n_treated: int
    n_control: int
    outcome: str
    years: tuple[int, ...]
    cohorts: tuple[int, ...]
    outcome_sd: float
    autocorr: float
    cohort_shares: Mapping[int, float]
    n_pupils: int
    share_treated: float = 0.2
    n_schools: int = 20
    pilot_pupils: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cohort_shares", MappingProxyType(dict(self.cohort_shares)))

    def analytic_se(self) -> float:
        """Analytic SE (SD units) of the DiD for this design (:func:`cs_simple_se`)."""
        sizes = {g: s * self.n_treated for g, s in self.cohort_shares.items() if s > 0}
        return cs_simple_se(
            sizes, n_control=self.n_control, years=self.years, autocorr=self.autocorr
        )

    def analytic_power(self, effect_sd: float, *, alpha: float = 0.05) -> float:
        """Normal-approximation power of the DiD against ``effect_sd`` (two-sided)."""
        z = stats.norm.ppf(1 - alpha / 2)
        ncp = abs(effect_sd) / self.analytic_se()
        return float(stats.norm.sf(z - ncp) + stats.norm.cdf(-z - ncp))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "label": self.label,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "outcome": self.outcome,
            "years": list(self.years),
            "cohorts": list(self.cohorts),
            "outcome_sd": self.outcome_sd,
            "autocorr": self.autocorr,
            "cohort_shares": {str(k): v for k, v in self.cohort_shares.items()},
            "n_pupils": self.n_pupils,
            "share_treated": self.share_treated,
            "n_schools": self.n_schools,
            "pilot_pupils": self.pilot_pupils,
            "analytic_se_sd": self.analytic_se(),
        }


def _usable(
    df: pd.DataFrame,
    *,
    outcome: str,
    n_years: int,
    unit: str = "pupil_id",
    time: str = "year",
    cohort: str = "cohort",
    cluster: str = "school_id",
) -> pd.DataFrame:
    """Units observed with the outcome in every panel year (the estimator's sample)."""
    d = df.loc[df[outcome].notna(), [unit, cluster, time, cohort, outcome]]
    counts = d.groupby(unit)[time].transform("nunique")
    return d.loc[counts == n_years]


def _usable_rows(
    pupil: np.ndarray, values: np.ndarray, cohort: np.ndarray, n_years: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_usable` on the arrays of a simulator panel (one row per pupil and year).

    ``pupil``: every row's pupil number (rows by pupil, as
    :func:`~analysis.data.simulate.panel_arrays` gives them); ``values``: the outcome of every
    row; ``cohort``: every pupil's cohort.  Returns the position among usable pupils of every
    row's pupil (``-1`` for a row of an unusable pupil or without the outcome) and the positions
    of the usable participants and never-participants, in pupil order (the order of
    ``pupil_id``, zero-padded numbers, so of ``groupby("pupil_id")``, which :func:`draw_panel`
    samples from: a draw is the same as with the DataFrame version).
    """
    observed = ~np.isnan(values)
    n_obs = np.bincount(pupil, weights=observed, minlength=len(cohort))
    usable = n_obs == n_years
    # positions among usable pupils, so that ``keep[rows]`` selects rows of the chosen pupils
    rank = np.cumsum(usable) - 1
    rows = np.where(usable[pupil] & observed, rank[pupil], -1)
    treated = rank[usable & (cohort > 0)]
    never = rank[usable & (cohort == 0)]
    return rows, treated, never


def calibrate_design(
    label: str,
    *,
    n_treated: int,
    n_control: int,
    seed: Seed,
    outcome: str = "grade_avg",
    years: Sequence[int] = (2022, 2023, 2024),
    cohorts: Sequence[int] = (2023, 2024),
    share_treated: float = 0.2,
    n_schools: int = 20,
    pilot_pupils: int = 20_000,
    margin: float = 1.3,
) -> PanelDesign:
    """Fix the simulation design from one large pilot panel without effects (SIMULATED).

    Measures, among pupils observed in every year: the within-year SD of the outcome and its
    year-to-year correlation among never-participants, the share of drawn pupils that are
    usable participants / never-participants, and the mix of editions among participants.
    ``n_pupils`` is then ``margin`` times what is needed on average for ``n_treated``
    participants and ``n_control`` never-participants.

    Parameters
    ----------
    label
        Name of the group.
    n_treated, n_control
        Participants and never-participants of each simulated analysis sample (>= 2 each).
    seed
        Root of the pilot panel: an integer or a :class:`numpy.random.SeedSequence` (in a
        report run, the design's child of the ``"data"`` stream, :func:`design_seeds`).
    outcome
        One of :data:`SIM_OUTCOMES`.
    years, cohorts
        Panel years and programme editions.
    share_treated, n_schools
        Passed to :func:`~analysis.data.simulate.programme_panel`.
    pilot_pupils
        Pupils of the pilot panel.
    margin
        Safety factor on the pupils drawn per simulated panel.

    Returns
    -------
    PanelDesign

    Raises
    ------
    DataValidationError
        An outcome not simulated in every year, fewer than 2 treated or control units, or a
        pilot panel without usable participants or controls.
    """
    from analysis.data.simulate import programme_panel

    if outcome not in SIM_OUTCOMES:
        raise fail(
            _SIM_SRC,
            f"must be one of {SIM_OUTCOMES} (INVALSI is tested in single grades, "
            "so no pupil has it in every year; binary outcomes are not simulated here)",
            column="outcome",
        )
    if n_treated < 2 or n_control < 2:
        raise fail(_SIM_SRC, "need at least 2 treated and 2 control units", column="n_treated")
    years = tuple(int(y) for y in years)
    cohorts = tuple(int(c) for c in cohorts)
    sim = programme_panel(
        seed=_int_seed(seed),
        n_pupils=pilot_pupils,
        n_schools=n_schools,
        years=years,
        cohorts=cohorts,
        share_treated=share_treated,
        effects={},
    )
    d = _usable(sim.data, outcome=outcome, n_years=len(years))
    never = d[d["cohort"] == 0]
    dev = never[outcome] - never.groupby("year")[outcome].transform("mean")
    sd = float(dev.std(ddof=1))
    wide = never.pivot(index="pupil_id", columns="year", values=outcome)
    corr = wide.corr().to_numpy()
    rho = float(corr[np.triu_indices_from(corr, k=1)].mean())
    per_pupil = d.groupby("pupil_id")["cohort"].first()
    f_t = float((per_pupil > 0).sum()) / pilot_pupils
    f_c = float((per_pupil == 0).sum()) / pilot_pupils
    if f_t <= 0 or f_c <= 0:
        raise fail(
            _SIM_SRC,
            "the pilot panel has no usable participants or controls; check "
            "years, cohorts and share_treated",
            column="cohorts",
        )
    shares = per_pupil[per_pupil > 0].value_counts(normalize=True).sort_index()
    n_pupils = int(math.ceil(margin * max(n_treated / f_t, n_control / f_c)))
    return PanelDesign(
        label=label,
        n_treated=int(n_treated),
        n_control=int(n_control),
        outcome=outcome,
        years=years,
        cohorts=cohorts,
        outcome_sd=sd,
        autocorr=rho,
        cohort_shares={int(k): float(v) for k, v in shares.items()},
        n_pupils=max(n_pupils, n_schools),
        share_treated=float(share_treated),
        n_schools=int(n_schools),
        pilot_pupils=int(pilot_pupils),
    )


def draw_panel(
    design: PanelDesign, effect_sd: float, rng: np.random.Generator, *, max_tries: int = 4
) -> pd.DataFrame:
    """Draw one SIMULATED analysis sample with a true effect of ``effect_sd`` SD.

    A programme panel is drawn (effect ``effect_sd × outcome_sd`` on ``design.outcome`` in
    every post-participation year, no effect on other outcomes), restricted to pupils observed
    with the outcome in every year, and ``n_treated`` participants and ``n_control``
    never-participants are sampled from it without replacement.  If a draw has too few usable
    pupils, a panel twice as large is drawn (at most ``max_tries`` times).

    Randomness: the panel of try ``k`` is seeded from child ``k`` of ``max_tries`` children
    spawned off ``rng``'s seed sequence (as :meth:`numpy.random.Generator.spawn` does); the
    sampling of pupils draws from ``rng`` itself.  Both are fixed by ``rng``'s seed and
    independent of each other, and no seed is drawn from the generator's own numbers.

    Returns
    -------
    pandas.DataFrame
        ``pupil_id, school_id, year, cohort, <outcome>``, balanced.
    """
    sim, sel = _draw_rows(design, effect_sd, rng, max_tries=max_tries)
    return sim.frame(rows=sel, columns=["pupil_id", "school_id", "year", "cohort", design.outcome])


def _draw_rows(
    design: PanelDesign, effect_sd: float, rng: np.random.Generator, *, max_tries: int
) -> tuple[Any, np.ndarray]:
    """The draw of :func:`draw_panel`: the simulator's arrays and the mask of the rows kept."""
    from analysis.data.simulate import panel_arrays

    seq = rng.bit_generator.seed_seq
    if not isinstance(seq, np.random.SeedSequence):
        raise fail(
            _SIM_SRC,
            "the generator must be built from a numpy SeedSequence (np.random.default_rng)",
            column="rng",
        )
    panel_seeds = seq.spawn(max_tries)  # like Generator.spawn: new children on every call
    n_pupils = design.n_pupils
    for panel_seed in panel_seeds:
        sim = panel_arrays(  # the rows of programme_panel(...).data, without its truth
            seed=_int_seed(panel_seed),
            outcomes=(design.outcome,),
            n_pupils=n_pupils,
            n_schools=design.n_schools,
            years=design.years,
            cohorts=design.cohorts,
            share_treated=design.share_treated,
            effects={design.outcome: effect_sd * design.outcome_sd},
        )
        rows, treated, never = _usable_rows(
            sim.pupil, sim.outcomes[design.outcome], sim.cohort, len(design.years)
        )
        if len(treated) >= design.n_treated and len(never) >= design.n_control:
            keep = np.zeros(len(treated) + len(never) + 1, dtype=bool)  # last: unusable rows
            keep[rng.choice(treated, design.n_treated, replace=False)] = True
            keep[rng.choice(never, design.n_control, replace=False)] = True
            return sim, keep[rows]
        n_pupils *= 2
    raise fail(
        _SIM_SRC,
        f"could not draw {design.n_treated} usable participants and "
        f"{design.n_control} never-participants in {max_tries} tries (last panel: "
        f"{n_pupils // 2} pupils)",
        column="n_pupils",
    )


@dataclass(frozen=True)
class _Sample:
    """A drawn sample as arrays (one entry per row): what :func:`draw_panel` puts in a frame.

    ``pupil``: the simulator's pupil numbers (their order is that of the zero-padded
    ``pupil_id`` strings); ``year``, ``cohort`` and ``values`` (the outcome) of every row.
    """

    pupil: np.ndarray
    year: np.ndarray
    cohort: np.ndarray
    values: np.ndarray
    outcome: str


def _draw_sample(design: PanelDesign, effect: float, rng: np.random.Generator) -> _Sample:
    """:func:`draw_panel` without the frame: the same rows, as arrays (the power loop's draw).

    Why: building the frame (pupil and school ids as strings) and factorising the ids again in
    :func:`cs_simple_balanced` were a third of a replication of the design report; the
    numbers are the same (``tests/test_power_simulation.py``).
    """
    sim, sel = _draw_rows(design, effect, rng, max_tries=4)
    pupil = sim.pupil[sel]
    return _Sample(
        pupil=pupil,
        year=sim.year[sel],
        cohort=sim.cohort[pupil],
        values=sim.outcomes[design.outcome][sel],
        outcome=design.outcome,
    )


def _estimate_sample(sample: _Sample, *, scale: float) -> Estimate:
    """:func:`cs_simple_balanced` of the frame of ``sample`` (same numbers, bit for bit)."""
    if not (math.isfinite(scale) and scale > 0):
        raise fail(_SIM_SRC, f"must be a positive number, got {scale!r}", column="scale")
    # the order of pupil numbers is that of their zero-padded ids, as factorize(sort=True)
    pupil = sample.pupil
    if len(pupil) and np.all(pupil[1:] >= pupil[:-1]):  # rows by pupil, as drawn: rank runs
        new = np.empty(len(pupil), dtype=bool)
        new[0] = True
        np.not_equal(pupil[1:], pupil[:-1], out=new[1:])
        codes = np.cumsum(new) - 1
        n_units = int(codes[-1]) + 1
    else:
        units, codes = np.unique(pupil, return_inverse=True)
        n_units = len(units)
    years, tcodes = np.unique(sample.year, return_inverse=True)
    return _cs_simple(
        codes,
        n_units,
        tcodes,
        years,
        np.asarray(sample.values, dtype=float),
        np.asarray(sample.cohort, dtype=float),
        scale=scale,
        unit="pupil_id",
        outcome=sample.outcome,
        cohort="cohort",
    )


def did_estimate(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str = "pupil_id",
    time: str = "year",
    cohort: str = "cohort",
    cluster: str | None = None,
    scale: float = 1.0,
    validate: bool = True,
) -> Estimate:
    r"""Callaway-Sant'Anna DiD (never-treated controls, simple aggregation) in SD units.

    Runs :func:`analysis.did.staggered` (doubly robust, no covariates, unit-level analytic SEs
    unless ``cluster``) on a unit × year panel and divides the overall ATT, its SE and CI by
    ``scale`` (the outcome's SD), so that effects are in SD units:
    :math:`\hat\theta / \sigma_Y` with :math:`\hat\theta = \sum_{g,t \ge g} w_{gt}
    \widehat{ATT}(g, t)` (cohort-size weights).  The column names default to those of the
    simulator (:func:`draw_panel`).  ``validate=False`` is passed on to
    :func:`analysis.did.staggered` (its checks skipped): for the draws of a power simulation,
    whose first panel was checked once (:func:`simulate_did_power`).

    Raises
    ------
    DataValidationError
        ``scale`` not positive; bad panels as :func:`analysis.did.staggered` raises them.
    """
    from analysis import did

    if not (math.isfinite(scale) and scale > 0):
        raise fail(_SIM_SRC, f"must be a positive number, got {scale!r}", column="scale")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = did.staggered(
            df,
            outcome=outcome,
            unit=unit,
            time=time,
            cohort=cohort,
            control="never",
            cluster=cluster,
            validate=validate,
        )
        o = res.aggregate("simple").overall
    return Estimate(
        estimate=o.estimate / scale,
        se=o.se / scale,
        ci_low=o.ci_low / scale,
        ci_high=o.ci_high / scale,
        p_value=o.p_value,
        n_obs=o.n_obs,
        n_units=o.n_units,
        n_clusters=o.n_clusters,
        method=o.method + " (SD units)",
        backend=o.backend,
        level=o.level,
    )


def cs_simple_balanced(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str = "pupil_id",
    time: str = "year",
    cohort: str = "cohort",
    scale: float = 1.0,
) -> Estimate:
    r""":func:`did_estimate` (unit-level SEs) on a balanced panel, computed on arrays.

    The Callaway-Sant'Anna simple aggregation with never-treated controls and no covariates
    has a closed form on a balanced panel: :math:`\widehat{ATT}(g,t) = \overline{\Delta Y}_g -
    \overline{\Delta Y}_C` with :math:`\Delta Y_i = Y_{it} - Y_{i,g-1}` (the doubly robust
    estimator without covariates reduces to it), unit influence functions
    :math:`(\Delta Y_i - \overline{\Delta Y}_g)/n_g` for the cohort's units and
    :math:`-(\Delta Y_i - \overline{\Delta Y}_C)/n_C` for the controls, cohort-size weights
    and their ``wif`` term as in :meth:`analysis.did.StaggeredResult.aggregate`.

    Why it is written here: a power simulation fits thousands of small panels, and the general
    wrapper (:func:`analysis.did.staggered` over diff-diff) costs about 20 ms per fit in
    checks, reshaping and bookkeeping, more than the simulated panel itself.  The result equals
    :func:`did_estimate` with ``cluster=None`` to rounding (tested to 1e-10 relative).

    Raises
    ------
    DataValidationError
        ``scale`` not positive, a panel that is not balanced (one row per unit and year), a
        cohort without its base year ``g - 1`` in the panel, or no never-treated unit.
    """
    if not (math.isfinite(scale) and scale > 0):
        raise fail(_SIM_SRC, f"must be a positive number, got {scale!r}", column="scale")
    codes, units = pd.factorize(df[unit], sort=True)
    tcodes, years = pd.factorize(df[time], sort=True)
    return _cs_simple(
        codes,
        len(units),
        tcodes,
        years,
        df[outcome].to_numpy(float),
        df[cohort].to_numpy(float),
        scale=scale,
        unit=unit,
        outcome=outcome,
        cohort=cohort,
    )


def _cs_simple(
    codes: np.ndarray,
    n: int,
    tcodes: np.ndarray,
    years: Any,
    values: np.ndarray,
    cohort_rows: np.ndarray,
    *,
    scale: float,
    unit: str,
    outcome: str,
    cohort: str,
) -> Estimate:
    """The computation of :func:`cs_simple_balanced` from the rows' unit and year codes.

    ``codes``/``tcodes``: every row's unit and year rank (``n`` units, ``years`` sorted);
    ``values`` and ``cohort_rows``: every row's outcome and cohort (floats); the names are
    those of the columns, for the errors.
    """
    t = len(years)
    n_rows = len(codes)
    key = codes * t + tcodes
    if n_rows == n * t and n_rows and key.min() >= 0:  # a presence table, not a sort
        seen = np.zeros(n_rows, dtype=bool)
        seen[key] = True
        repeated = np.count_nonzero(seen) != n_rows
    else:
        repeated = len(np.unique(key)) != n_rows
    if n_rows != n * t or repeated:
        raise fail(_SIM_SRC, "the panel must have exactly one row per unit and year", column=unit)
    y = np.full((n, t), np.nan)
    y[codes, tcodes] = values
    if np.isnan(y).any():
        raise fail(_SIM_SRC, "the panel must have the outcome in every row", column=outcome)
    g_unit = np.zeros(n)
    g_unit[codes] = cohort_rows
    year_list = [float(v) for v in years]
    never = g_unit == 0
    n_c = int(never.sum())
    if n_c == 0:
        raise fail(_SIM_SRC, "no never-treated unit", column=cohort)
    groups = np.unique(g_unit[~never])
    atts, psis, cell_g = [], [], []
    for g in groups:
        if g - 1 not in year_list:
            raise fail(_SIM_SRC, f"cohort {g:g} has no base year in the panel", column=cohort)
        base = year_list.index(g - 1)
        member = g_unit == g
        n_g = int(member.sum())
        for k, yr in enumerate(year_list):
            if yr < g:
                continue
            dy = y[:, k] - y[:, base]
            m_g, m_c = dy[member].mean(), dy[never].mean()
            psi = np.zeros(n)
            psi[member] = (dy[member] - m_g) / n_g
            psi[never] = -(dy[never] - m_c) / n_c
            atts.append(m_g - m_c)
            psis.append(psi)
            cell_g.append(g)
    att, psi, cell_g = np.array(atts), np.column_stack(psis), np.array(cell_g)
    pg = np.array([np.mean(g_unit == g) for g in cell_g])
    w = pg / pg.sum()
    ind = (g_unit[:, None] == cell_g[None, :]).astype(float) - pg
    wif = (ind / pg.sum() - ind.sum(axis=1, keepdims=True) * (pg / pg.sum() ** 2)) / n
    f = psi @ w + wif @ att
    est, se = float(att @ w), float(np.sqrt(np.sum(f**2)))
    return _normal_estimate(
        est / scale,
        se / scale,
        n_obs=n_rows,
        n_units=n,
        n_clusters=n,
        method="Callaway-Sant'Anna (dr, never controls, balanced panel on arrays), simple "
        "(SD units)",
        backend="numpy",
    )


def _normal_estimate(estimate: float, se: float, *, level: float = 0.95, **kwargs: Any) -> Estimate:
    """:meth:`analysis.estimate.Estimate.from_se` with its normal CI and p-value (no ``df``)."""
    return Estimate.from_se(estimate, se, level=level, **kwargs)


def _crossing(effects: np.ndarray, powers: np.ndarray, target: float) -> float:
    """Smallest effect at which the (linearly interpolated) power curve reaches ``target``."""
    order = np.argsort(effects)
    e, p = effects[order], powers[order]
    for i in range(len(e)):
        if p[i] >= target:
            if i == 0:
                return float(e[0])
            return float(e[i - 1] + (target - p[i - 1]) * (e[i] - e[i - 1]) / (p[i] - p[i - 1]))
    return math.nan


@dataclass(frozen=True)
class DiDPowerSimulation:
    """Simulated power of the staggered DiD for one design. SIMULATED.

    Attributes
    ----------
    design
        The :class:`PanelDesign`.
    sim
        The :class:`SimulatedPower` (per-simulation estimates in SD units).
    target
        Target power (for :meth:`simulated_mde`).
    """

    design: PanelDesign
    sim: SimulatedPower = field(repr=False)
    target: float = 0.8

    def tidy(self) -> pd.DataFrame:
        """One row per true effect: simulated power ± MC SE next to the analytic power.

        Columns: group, comparison, effect (SD), effect (natural units), n_sims, rejections,
        power, mc_se, analytic_power, mean_se (mean estimated SE), analytic_se, bias,
        coverage, n_invalid.
        """
        t = self.sim.tidy()
        se = self.sim.estimates.groupby("effect", sort=False)["se"].mean()
        d = self.design
        t.insert(0, "group", d.label)
        t.insert(1, "comparison", f"{d.n_treated} vs {d.n_control}")
        t.insert(2, "effect (natural units)", t["effect"] * d.outcome_sd)
        t["analytic_power"] = [d.analytic_power(e, alpha=self.sim.alpha) for e in t["effect"]]
        t["mean_se"] = t["effect"].map(se).to_numpy()
        t["analytic_se"] = d.analytic_se()
        cols = [
            "group",
            "comparison",
            "effect",
            "effect (natural units)",
            "n_sims",
            "rejections",
            "power",
            "mc_se",
            "analytic_power",
            "mean_se",
            "analytic_se",
            "bias",
            "coverage",
            "n_invalid",
        ]
        return t[cols]

    def simulated_mde(self) -> float:
        """Effect (SD) at which the simulated power curve reaches the target (interpolated).

        ``nan`` if no simulated effect reaches it.
        """
        t = self.sim.tidy()
        return _crossing(t["effect"].to_numpy(float), t["power"].to_numpy(float), self.target)

    def analytic_mde(self) -> float:
        """Effect (SD) with analytic power equal to the target (normal approximation)."""
        z = stats.norm.ppf(1 - self.sim.alpha / 2) + stats.norm.ppf(self.target)
        return float(z * self.design.analytic_se())

    def size(self) -> float:
        """Rejection rate at a zero effect (``nan`` if 0 was not simulated)."""
        t = self.sim.tidy()
        row = t.loc[t["effect"] == 0, "power"]
        return float(row.to_numpy()[0]) if len(row) else math.nan

    def mde_row(self) -> dict[str, Any]:
        """Simulated and analytic MDE and the size, as one table row."""
        d = self.design
        return {
            "group": d.label,
            "comparison": f"{d.n_treated} vs {d.n_control}",
            "simulated MDE (SD)": self.simulated_mde(),
            "analytic MDE (SD)": self.analytic_mde(),
            "rejection rate at zero effect": self.size(),
        }

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (design, per-effect table, MDEs)."""
        return {
            "simulated": True,
            "design": self.design.to_dict(),
            "alpha": self.sim.alpha,
            "seed": self.sim.seed,
            "n_sims": self.sim.n_sims,
            "target": self.target,
            "table": self.tidy().to_dict(orient="records"),
            "simulated_mde_sd": self.simulated_mde(),
            "analytic_mde_sd": self.analytic_mde(),
        }

    def summary(self) -> str:
        """Return a few lines: design, power per effect, MDEs."""
        d = self.design
        lines = [
            f"SIMULATED — {d.label}: {d.n_treated} vs {d.n_control}, outcome {d.outcome} "
            f"(1 SD = {d.outcome_sd:.3g}), autocorr {d.autocorr:.2f}"
        ]
        for r in self.tidy().itertuples():
            lines.append(
                f"  {r.effect:.2f} SD: power {r.power:.2f} (MC SE {r.mc_se:.2f}), "
                f"analytic {r.analytic_power:.2f}"
            )
        lines.append(
            f"  MDE (power {self.target:g}): simulated {self.simulated_mde():.2f} SD, "
            f"analytic {self.analytic_mde():.2f} SD"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def simulate_did_power(
    design: PanelDesign,
    *,
    effects: Sequence[float],
    n_sims: int,
    seed: Seed,
    alpha: float = 0.05,
    target: float = 0.8,
    cluster: str | None = None,
    progress: bool = True,
    n_jobs: int | None = None,
) -> DiDPowerSimulation:
    """Monte Carlo power of the staggered DiD on SIMULATED programme panels.

    For each true effect (SD units) and each of ``n_sims`` simulations, draws a sample with
    :func:`draw_panel` and estimates it with :func:`did_estimate` (with ``cluster=None``, by
    its array form :func:`cs_simple_balanced` on the drawn arrays, which gives the same
    numbers; with a ``cluster``, the first simulation's panel is validated once and the draws
    are estimated with ``validate=False``); rejection when ``p < alpha``.  Reproducible from ``seed`` (an integer or a
    :class:`numpy.random.SeedSequence`; in a report run, the design's child of the
    ``"power"`` stream, :func:`design_seeds`), see :func:`simulate_power`.

    Parameters
    ----------
    design
        From :func:`calibrate_design`.
    effects
        True effects in SD units of the outcome.
    n_sims
        Simulations per effect.
    seed
        Root seed of the simulations.
    alpha
        Level of the test.
    target
        Target power of the MDEs.
    cluster
        Cluster column of the DiD standard errors (``None``: pupil level).
    progress
        Show a progress bar.
    n_jobs
        Workers of the simulations (``None``: :func:`analysis.replicate.default_jobs`); the
        results are identical for any value (see :func:`simulate_power`).

    Returns
    -------
    DiDPowerSimulation
    """
    if not 0 < target < 1:
        raise fail(_SIM_SRC, f"must lie in (0, 1), got {target}", column="target")
    draw: Callable[[float, np.random.Generator], Any]
    estimate: Callable[[Any], Estimate]
    if cluster is None:
        # the frame of draw_panel and cs_simple_balanced on it, as arrays: the same numbers
        draw = partial(_draw_sample, design)
        estimate = partial(_estimate_sample, scale=design.outcome_sd)
    else:
        # the input is validated once, on the first simulation's panel (the simulator's
        # panels differ only in their random draws), not once per draw
        effects = list(effects)
        if effects:
            first = _root(seed).spawn(1)[0].spawn(1)[0]  # simulation 0 of the first effect
            did_estimate(
                draw_panel(design, float(effects[0]), np.random.default_rng(first)),
                outcome=design.outcome,
                cluster=cluster,
            )
        draw = partial(_draw_for, design)
        estimate = partial(
            did_estimate,
            outcome=design.outcome,
            scale=design.outcome_sd,
            cluster=cluster,
            validate=False,
        )
    sim = simulate_power(
        draw=draw,
        estimate=estimate,
        effects=effects,
        n_sims=n_sims,
        alpha=alpha,
        seed=seed,
        progress=progress,
        n_jobs=n_jobs,
    )
    return DiDPowerSimulation(design=design, sim=sim, target=target)


def _draw_for(design: PanelDesign, effect: float, rng: np.random.Generator) -> pd.DataFrame:
    return draw_panel(design, effect, rng)
