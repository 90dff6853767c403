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
from analysis.i18n import N_, Msg, join, num, pct, t
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


__all__ = [
    "ANALYSIS_PLAN_FILE",
    "LEVELS",
    "Significance",
    "alpha",
    "analysis_plan",
    "classify",
    "headline_design",
]
