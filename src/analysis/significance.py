"""One significance rule for every headline, conclusion, the index and the SIINC impact input.

The rule is pre-specified in ``config/analysis_plan.yaml`` (``significance``):

- **distinguishable from zero** — the primary inference rejects zero at ``alpha`` (its
  interval excludes zero) *and* every few-cluster check that was run (wild cluster bootstrap,
  randomization inference) gives ``p <= alpha``;
- **borderline** — the primary inference rejects zero but at least one few-cluster check does
  not (with 20 schools, cluster-robust standard errors are known to be too small);
- **not distinguishable from zero** — the primary inference does not reject zero;
- **undefined** — the primary statistic could not be computed (``NaN``; or an infinite
  post/pre ratio when the pre-period fit is exact, whose permutation p-value is meaningless).

:func:`classify` returns a read-only :class:`Significance` whose :meth:`~Significance.words`
is what pages print; nothing else in the repository decides how to call an effect.

One treated unit (a territory, the partner school) has no cluster-robust interval and no
few-cluster checks: its inference is by placebos.  :func:`classify_placebo` states that rule once,
with the same levels and the same ``alpha``, and returns a read-only
:class:`PlaceboSignificance` (the territorial and school pages both call it).

Why written here: the rule is the project's pre-specification, not a statistical method that a
library offers; it only combines p-values and intervals that the methods modules compute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from analysis import paths
from analysis.errors import DataValidationError, Violation
from analysis.i18n import N_, Msg, integer, join, num, pct, t
from analysis.yamlfile import read_yaml

ANALYSIS_PLAN_FILE = paths.ROOT / "config" / "analysis_plan.yaml"

LEVELS = ("distinguishable", "borderline", "not distinguishable", "undefined")
CHECK_NAMES = {
    "wild_cluster_bootstrap": N_("wild cluster bootstrap"),
    "randomization_inference": N_("randomization inference"),
}


@lru_cache(maxsize=4)
def analysis_plan(path: str | None = None) -> Mapping[str, Any]:
    """The pre-specified analysis plan (``config/analysis_plan.yaml``), validated."""
    p = Path(path) if path else ANALYSIS_PLAN_FILE
    plan = read_yaml(p)
    sig = plan.get("significance") if isinstance(plan, dict) else None
    alpha = sig.get("alpha") if isinstance(sig, dict) else None
    if not isinstance(alpha, float) or not 0 < alpha < 0.5:
        raise DataValidationError(
            paths.relative(p),
            [
                Violation(
                    column="significance.alpha", rule="must be a number strictly between 0 and 0.5"
                )
            ],
        )
    checks = sig.get("few_cluster_checks", [])
    unknown = [c for c in checks if c not in CHECK_NAMES]
    if unknown:
        raise DataValidationError(
            paths.relative(p),
            [
                Violation(
                    column="significance.few_cluster_checks",
                    rule=f"unknown check(s) {unknown}; known: {sorted(CHECK_NAMES)}",
                )
            ],
        )
    return plan


def alpha() -> float:
    """The pre-specified significance level."""
    return float(analysis_plan()["significance"]["alpha"])


def headline_design(outcome: str) -> Mapping[str, Any]:
    """The pre-specified headline design of ``outcome`` (estimator, controls, covariates, why)."""
    designs = analysis_plan().get("headline_designs", {})
    if outcome not in designs:
        raise KeyError(
            f"config/analysis_plan.yaml has no headline design for {outcome!r}; "
            f"it has {sorted(designs)}"
        )
    return designs[outcome]


@dataclass(frozen=True)
class Significance:
    """How an effect is called under the pre-specified rule (read-only).

    Attributes
    ----------
    level
        One of :data:`LEVELS`.
    primary_rejects
        Whether the primary inference rejects zero (None when undefined).
    checks
        Few-cluster check name → its p-value (``None``: not run; ``nan``: undefined).
    failing
        The checks that were run and do not reject zero at ``alpha``.
    alpha
        The level used.
    """

    level: str
    primary_rejects: bool | None
    checks: Mapping[str, float | None] = field(default_factory=dict)
    failing: tuple[str, ...] = ()
    alpha: float = 0.05

    @property
    def distinguishable(self) -> bool:
        """True only for the level ``distinguishable``."""
        return self.level == "distinguishable"

    def words(self) -> Msg:
        """The sentence pages print about it (generated from the result, in every language)."""
        a = num(self.alpha, 2)
        run = {k: v for k, v in self.checks.items() if v is not None}
        if self.level == "undefined":
            return t(
                "Whether it differs from zero cannot be said: the test statistic is undefined."
            )
        if self.level == "not distinguishable":
            return t(
                "It is not statistically distinguishable from zero (the {alpha} interval "
                "includes zero).",
                alpha=pct(100 * (1 - self.alpha), 0),
            )
        if self.level == "borderline":
            names = join([Msg(CHECK_NAMES[c]) for c in self.failing], ", ")
            return t(
                "It is borderline: the cluster-robust interval excludes zero, but the "
                "few-cluster check(s) ({checks}) give p above {alpha} or no p-value, so it is "
                "not called distinguishable from zero.",
                checks=names,
                alpha=a,
            )
        if run:
            return t(
                "It is statistically distinguishable from zero: the cluster-robust interval "
                "excludes zero and the few-cluster checks agree (p at most {alpha}).",
                alpha=a,
            )
        return t(
            "It is statistically distinguishable from zero (the interval excludes zero; no "
            "few-cluster check applies).",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (for the results JSON and the methodology note)."""
        return {
            "level": self.level,
            "primary_rejects": self.primary_rejects,
            "checks": {
                k: (None if v is None or math.isnan(v) else float(v))
                for k, v in self.checks.items()
            },
            "failing": list(self.failing),
            "alpha": self.alpha,
            "rule": "config/analysis_plan.yaml#significance",
        }


def _nan(x: float | None) -> bool:
    """None, or a NaN of any numeric type (Python, numpy)."""
    if x is None:
        return True
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def classify(
    *,
    ci_low: float | None = None,
    ci_high: float | None = None,
    p_value: float | None = None,
    wild_cluster_bootstrap: float | None = None,
    randomization_inference: float | None = None,
    alpha: float | None = None,
) -> Significance:
    """Call an effect under the pre-specified rule.

    Parameters
    ----------
    ci_low, ci_high
        The primary interval (at level ``1 - alpha``).  Either the interval or ``p_value``
        must be given; when both are, the interval decides.
    p_value
        The primary p-value.
    wild_cluster_bootstrap, randomization_inference
        The few-cluster checks' p-values; ``None`` when that check was not run for this
        estimate (the rule asks the checks *that were run* to agree; a page says which ran),
        ``nan`` when it was run but is undefined (which makes the call borderline at best: an
        undefined check cannot agree).  The interval must be at level ``1 - alpha``.
    alpha
        Default: ``config/analysis_plan.yaml``.
    """
    level_alpha = alpha if alpha is not None else globals()["alpha"]()
    if not 0 < level_alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {level_alpha!r}")
    checks = {
        "wild_cluster_bootstrap": wild_cluster_bootstrap,
        "randomization_inference": randomization_inference,
    }
    if ci_low is not None or ci_high is not None:
        if (ci_low is None) != (ci_high is None):
            raise ValueError("classify() needs both ends of the interval (ci_low and ci_high)")
        if _nan(ci_low) or _nan(ci_high):
            return Significance("undefined", None, checks, (), level_alpha)
        lo, hi = float(ci_low), float(ci_high)  # type: ignore[arg-type]
        if math.isinf(lo) or math.isinf(hi):
            return Significance("undefined", None, checks, (), level_alpha)
        if lo > hi:
            raise ValueError(f"the interval is inverted: ci_low {lo} > ci_high {hi}")
        rejects = bool(lo > 0 or hi < 0)
    elif p_value is not None:
        if _nan(p_value):
            return Significance("undefined", None, checks, (), level_alpha)
        rejects = bool(p_value <= level_alpha)
    else:
        raise ValueError("classify() needs the primary interval (ci_low, ci_high) or p_value")
    if not rejects:
        return Significance("not distinguishable", False, checks, (), level_alpha)
    failing = tuple(
        name for name, p in checks.items() if p is not None and (_nan(p) or p > level_alpha)
    )
    level = "borderline" if failing else "distinguishable"
    return Significance(level, True, checks, failing, level_alpha)


# --------------------------------------------------------------------------------------------
# One treated unit: the placebo rule
# --------------------------------------------------------------------------------------------
#: A pre-period fit is exact when its RMSPE is below this times ``max(pre_scale, 1)`` (the
#: criterion of :func:`analysis.synth.triangulate`'s note).
EXACT_FIT_TOLERANCE = 1e-6
#: A treated post/pre MSPE ratio above this is taken as infinite (exact pre-period fit).
RATIO_INFINITE = 1e8
#: Why a permutation p-value can be undefined.
PLACEBO_UNDEFINED = ("exact_fit", "too_few_placebos")


def is_exact_fit(pre_rmspe: float, *, pre_scale: float = 1.0) -> bool:
    """Whether a pre-period fit is exact (its post/pre ratio is then infinite).

    Parameters
    ----------
    pre_rmspe
        The pre-period RMSPE; a value that is not finite counts as exact (no usable ratio).
    pre_scale
        The scale of the treated unit's pre-period values (their standard deviation); the
        tolerance is :data:`EXACT_FIT_TOLERANCE` times ``max(pre_scale, 1)``.
    """
    r = float(pre_rmspe)
    scale = float(pre_scale) if math.isfinite(float(pre_scale)) else 1.0
    return bool(not math.isfinite(r) or r < EXACT_FIT_TOLERANCE * max(scale, 1.0))


@dataclass(frozen=True)
class PlaceboSignificance:
    """How a one-treated-unit estimate is called under :func:`classify_placebo` (read-only).

    Attributes
    ----------
    level
        One of :data:`LEVELS`.
    att, ci_low, ci_high
        The estimate and its placebo-SE interval.
    p_permutation
        The in-space permutation p-value (``rank / n_units``), ``None`` when undefined (see
        ``undefined_because``).
    rank, n_units
        The treated unit's rank (1 = largest post/pre MSPE ratio) among ``n_units`` units.
    undefined_because
        ``"exact_fit"`` (the treated unit's pre-period fit is exact: its post/pre ratio is
        infinite), ``"too_few_placebos"`` (``1 / n_units > alpha``: no rank can reach
        ``alpha``) or ``None``.
    alpha
        The level used.
    """

    level: str
    att: float
    ci_low: float
    ci_high: float
    p_permutation: float | None
    rank: int
    n_units: int
    undefined_because: str | None
    alpha: float

    @property
    def distinguishable(self) -> bool:
        """True only for the level ``distinguishable``."""
        return self.level == "distinguishable"

    @property
    def interval_includes_zero(self) -> bool | None:
        """Whether the interval includes zero (``None`` when it is undefined)."""
        if not (math.isfinite(self.ci_low) and math.isfinite(self.ci_high)):
            return None
        return bool(self.ci_low <= 0 <= self.ci_high)

    @property
    def p_rank(self) -> float:
        """``rank / n_units`` whether or not the rule can use it (see ``p_permutation``)."""
        return self.rank / self.n_units

    @property
    def smallest_p(self) -> float:
        """The smallest permutation p-value ``n_units`` units allow (``1 / n_units``)."""
        return 1.0 / self.n_units

    def permutation_words(self) -> Msg:
        """The permutation p-value in words (undefined ones are said to be undefined)."""
        if self.undefined_because == "exact_fit":
            return t(
                "The permutation p-value is undefined: the pre-period fit is exact, so the "
                "post/pre ratio of mean squared gaps is infinite and its rank means nothing."
            )
        if self.undefined_because == "too_few_placebos":
            return t(
                "The permutation p-value is undefined: with {n} units the smallest attainable "
                "value is {pmin}, above {alpha}.",
                n=integer(self.n_units),
                pmin=num(self.smallest_p, 2),
                alpha=num(self.alpha, 2),
            )
        return t(
            "Among {n} units its post/pre ratio ranks {rank} (1 = largest): permutation p = {p}.",
            n=integer(self.n_units),
            rank=integer(self.rank),
            p=num(self.p_permutation, 2),
        )

    def permutation_short(self) -> Msg:
        """The permutation test in a phrase (for a list of checks)."""
        if self.undefined_because == "exact_fit":
            return t("permutation p undefined (exact pre-period fit, infinite post/pre ratio)")
        if self.undefined_because == "too_few_placebos":
            return t(
                "permutation p undefined (too few placebos: {n} units)", n=integer(self.n_units)
            )
        return t(
            "rank {rank} of {n}, permutation p = {p}",
            rank=integer(self.rank),
            n=integer(self.n_units),
            p=num(self.p_permutation, 2),
        )

    def words(self) -> Msg:
        """The sentence pages print about the estimate (the only place that calls it)."""
        lvl = pct(100 * (1 - self.alpha), 0)
        if self.level == "undefined":
            return t(
                "Whether it differs from zero cannot be said: the placebo interval is undefined."
            )
        if self.level == "not distinguishable":
            return t(
                "It is not statistically distinguishable from zero: the {level} placebo "
                "interval includes zero.",
                level=lvl,
            )
        if self.level == "borderline":
            return t(
                "It is borderline: the {level} placebo interval excludes zero, but the "
                "permutation test does not confirm it (p above {alpha} or undefined), so it is "
                "not called distinguishable from zero.",
                level=lvl,
                alpha=num(self.alpha, 2),
            )
        return t(
            "It is statistically distinguishable from zero: the {level} placebo interval "
            "excludes zero and the permutation p-value is at most {alpha}.",
            level=lvl,
            alpha=num(self.alpha, 2),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (numbers as numbers; an undefined p as ``null`` with its reason)."""
        return {
            "level": self.level,
            "att": self.att,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_permutation": self.p_permutation,
            "p_permutation_defined": self.p_permutation is not None,
            "rank": self.rank,
            "n_units": self.n_units,
            "undefined_because": self.undefined_because,
            "alpha": self.alpha,
            "rule": "analysis.significance.classify_placebo",
        }


def classify_placebo(
    *,
    att: float,
    ci_low: float,
    ci_high: float,
    rank: int,
    n_units: int,
    pre_rmspe: float,
    pre_scale: float = 1.0,
    treated_ratio: float | None = None,
    alpha: float | None = None,
) -> PlaceboSignificance:
    """Call a one-treated-unit estimate by its placebo interval and its permutation test.

    :func:`classify` is written for programme effects (a cluster-robust interval and
    few-cluster checks); with one treated unit the inference is by placebos, with the same
    levels and the same ``alpha``:

    - the permutation p-value (``rank / n_units``: rank of the treated unit's post/pre MSPE
      ratio among all units, ADH 2010) is **undefined** when the treated unit's pre-period fit
      is exact (:func:`is_exact_fit`, or a ratio that is not finite or above
      :data:`RATIO_INFINITE`: the ratio is infinite and its rank means nothing) or when there
      are too few placebos for any rank to reach ``alpha`` (``1 / n_units > alpha``);
    - **undefined**: the placebo interval cannot be computed (not finite);
    - **not distinguishable**: the placebo interval includes zero;
    - **distinguishable**: the interval excludes zero and the permutation p is defined and at
      most ``alpha``;
    - **borderline**: the interval excludes zero but the permutation p is above ``alpha`` or
      undefined.

    Parameters
    ----------
    att
        The estimate.
    ci_low, ci_high
        Its placebo interval (at level ``1 - alpha``).
    rank, n_units
        The treated unit's rank (1 = largest post/pre ratio) among ``n_units`` units (treated
        unit included) of the unfiltered in-space placebo test.
    pre_rmspe, pre_scale
        The pre-period RMSPE and the scale of the treated pre-period values (see
        :func:`is_exact_fit`).
    treated_ratio
        The treated unit's post/pre MSPE ratio, when known (``None``: not used).
    alpha
        Default: ``config/analysis_plan.yaml``.
    """
    a = float(alpha) if alpha is not None else globals()["alpha"]()
    if not 0 < a < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha!r}")
    n, r = int(n_units), int(rank)
    if n < 1 or not 1 <= r <= n:
        raise ValueError(f"the rank must be between 1 and n_units; got rank {r} of {n} units")
    why: str | None = None
    exact = is_exact_fit(pre_rmspe, pre_scale=pre_scale)
    if treated_ratio is not None:
        ratio = float(treated_ratio)
        exact = exact or not math.isfinite(ratio) or ratio > RATIO_INFINITE
    if exact:
        why = "exact_fit"
    elif 1 / n > a:
        why = "too_few_placebos"
    p = None if why else r / n
    lo, hi = float(ci_low), float(ci_high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        level = "undefined"
    elif lo > hi:
        raise ValueError(f"the interval is inverted: ci_low {lo} > ci_high {hi}")
    elif lo <= 0 <= hi:
        level = "not distinguishable"
    elif p is not None and p <= a:
        level = "distinguishable"
    else:
        level = "borderline"
    return PlaceboSignificance(
        level=level,
        att=float(att),
        ci_low=lo,
        ci_high=hi,
        p_permutation=p,
        rank=r,
        n_units=n,
        undefined_because=why,
        alpha=a,
    )


__all__ = [
    "ANALYSIS_PLAN_FILE",
    "EXACT_FIT_TOLERANCE",
    "LEVELS",
    "PLACEBO_UNDEFINED",
    "RATIO_INFINITE",
    "PlaceboSignificance",
    "Significance",
    "alpha",
    "analysis_plan",
    "classify",
    "classify_placebo",
    "headline_design",
    "is_exact_fit",
]
