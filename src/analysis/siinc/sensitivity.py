"""How much money depends on a modelling choice ("counterfactual risk").

:func:`sensitivity` recomputes the payments under alternative baselines and under different
bounds of the impact estimates, and reports the total payable in each scenario next to the
agreement as written (docs/references.md §1.4, counterfactual risk; Social Finance & CIFF 2016).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from analysis.errors import DataValidationError
from analysis.i18n import N_
from analysis.siinc.agreement import (
    BASELINE_USES,
    IMPACT_USES,
    Agreement,
    ImpactBased,
    KeyViolation,
    PerUnitAboveBaseline,
    parse_baseline_override,
)
from analysis.siinc.engine import compute_payments
from analysis.siinc.money import cents_to_euros

_SCENARIO_KEYS = ("description", "baselines", "impact_use", "baseline_use", "estimates", "it")
_SOURCE = "alternatives (argument to analysis.siinc.sensitivity)"


def _uses_estimates(agreement: Agreement) -> tuple[bool, bool]:
    impact = any(isinstance(m.rule, ImpactBased) for m in agreement.metrics if m.pays)
    cf = any(
        isinstance(m.rule, PerUnitAboveBaseline)
        and agreement.baselines[m.rule.baseline].type == "counterfactual"
        for m in agreement.metrics
    )
    return impact, cf


def _default_scenarios(agreement: Agreement) -> dict[str, dict[str, Any]]:
    impact, cf = _uses_estimates(agreement)
    if not (impact or cf):
        return {}
    return {
        N_("estimates: point"): {
            "description": N_(
                "every impact estimate and counterfactual baseline at its point estimate"
            ),
            "impact_use": "point" if impact else None,
            "baseline_use": "point" if cf else None,
        },
        N_("estimates: conservative CI bound"): {
            "description": N_(
                "impact estimates at their lower CI bound, counterfactual baselines at their "
                "upper CI bound (pays least)"
            ),
            "impact_use": "lower_ci" if impact else None,
            "baseline_use": "upper_ci" if cf else None,
        },
        N_("estimates: optimistic CI bound"): {
            "description": N_(
                "impact estimates at their upper CI bound, counterfactual baselines at their "
                "lower CI bound (pays most)"
            ),
            "impact_use": "upper_ci" if impact else None,
            "baseline_use": "lower_ci" if cf else None,
        },
    }


def sensitivity(
    agreement: Agreement,
    verified_metrics: pd.DataFrame,
    estimates: Mapping[str, Any] | None = None,
    *,
    alternatives: Mapping[str, Mapping[str, Any]] | None = None,
    include_estimate_bounds: bool = True,
) -> pd.DataFrame:
    """Total payable under the agreement and under alternative modelling choices.

    Parameters
    ----------
    agreement, verified_metrics, estimates
        As in :func:`~analysis.siinc.compute_payments`.
    alternatives
        ``{scenario name: changes}``; ``changes`` may contain

        ``baselines``
            ``{baseline id: replacement}``: a number (fixed baseline in every period), a
            mapping ``{period: number}``, or a full baseline mapping as in the YAML file
            (e.g. ``{"type": "counterfactual", "estimate": "att_sc", "use": "point"}``).
        ``impact_use``
            ``point``, ``lower_ci`` or ``upper_ci`` for every ``impact_based`` rule.
        ``baseline_use``
            ``point``, ``lower_ci`` or ``upper_ci`` for every counterfactual baseline.
        ``estimates``
            ``{estimate id: Estimate}`` replacing supplied estimates (e.g. another method).
        ``description``
            Free text for the table.
        ``it``
            ``{description: ...}``: the Italian of the description (shown by the report).
    include_estimate_bounds
        Add three scenarios when the agreement uses estimates: all at the point estimate,
        all at the conservative CI bound (impact lower bound, counterfactual upper bound),
        all at the optimistic bound.

    Returns
    -------
    pandas.DataFrame
        One row per scenario (the first is ``"agreement"``, the agreement as written):
        scenario, description, total_payable (EUR), total_payable_cents,
        change_vs_agreement (EUR), change_pct, and ``payable_<metric>`` (EUR) per paid
        metric.
    """
    scenarios: dict[str, Mapping[str, Any]] = {
        N_("agreement"): {"description": N_("the agreement as written")}
    }
    if include_estimate_bounds:
        scenarios.update(_default_scenarios(agreement))
    for name, spec in (alternatives or {}).items():
        if name in scenarios:
            raise DataValidationError(
                _SOURCE,
                [
                    KeyViolation(
                        rule="scenario name already used (built-in scenarios: "
                        f"{', '.join(scenarios)})",
                        column=name,
                    )
                ],
            )
        if not isinstance(spec, Mapping) or any(k not in _SCENARIO_KEYS for k in spec):
            raise DataValidationError(
                _SOURCE,
                [
                    KeyViolation(
                        rule=f"must be a mapping with keys among {', '.join(_SCENARIO_KEYS)}",
                        column=name,
                    )
                ],
            )
        scenarios[name] = spec
    rows = []
    base_total = None
    paying = [m.id for m in agreement.metrics if m.pays]
    for name, spec in scenarios.items():
        src = f"{_SOURCE}[{name!r}]"
        impact_use, baseline_use = spec.get("impact_use"), spec.get("baseline_use")
        if impact_use is not None and impact_use not in IMPACT_USES:
            raise DataValidationError(
                src,
                [
                    KeyViolation(
                        rule=f"must be one of {', '.join(IMPACT_USES)}", column="impact_use"
                    )
                ],
            )
        if baseline_use is not None and baseline_use not in BASELINE_USES:
            raise DataValidationError(
                src,
                [
                    KeyViolation(
                        rule=f"must be one of {', '.join(BASELINE_USES)}", column="baseline_use"
                    )
                ],
            )
        new_bases = {
            bid: parse_baseline_override(v, baseline_id=bid, agreement=agreement, source=src)
            for bid, v in (spec.get("baselines") or {}).items()
        }
        a = agreement.with_changes(
            baselines=new_bases, impact_use=impact_use, baseline_use=baseline_use
        )
        est = dict(estimates or {})
        est.update(spec.get("estimates") or {})
        res = compute_payments(a, verified_metrics, est)
        total = res.total_payable_cents
        if base_total is None:
            base_total = total
        by_metric = {m: 0 for m in paying}
        for c in res.cells:
            by_metric[c.metric] += c.payable_cents
        rows.append(
            {
                "scenario": name,
                "description": spec.get("description", ""),
                "total_payable": float(cents_to_euros(total)),
                "total_payable_cents": total,
                "change_vs_agreement": float(cents_to_euros(total - base_total)),
                "change_pct": (total - base_total) / base_total if base_total else float("nan"),
                **{f"payable_{m}": float(cents_to_euros(v)) for m, v in by_metric.items()},
            }
        )
    return pd.DataFrame(rows)
