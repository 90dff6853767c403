"""Example inputs shipped with an ILLUSTRATIVE agreement (for notebooks and tests).

The ``illustrative_example`` block of ``config/siinc.yaml`` holds made-up verified metrics,
impact estimates and sensitivity scenarios, so that the payment mechanism can be shown
before any real verification has taken place. None of these numbers is an observation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.errors import DataValidationError
from analysis.estimate import Estimate
from analysis.siinc.agreement import Agreement, KeyViolation


@dataclass(frozen=True)
class IllustrativeInputs:
    """Made-up inputs for an ILLUSTRATIVE agreement."""

    verified_metrics: pd.DataFrame
    estimates: Mapping[str, Estimate]
    alternatives: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    records: tuple[Mapping[str, Any], ...] = ()


def illustrative_inputs(agreement: Agreement) -> IllustrativeInputs:
    """Return the agreement's ``illustrative_example`` as engine inputs.

    ``verified_metrics`` is a list of ``{metric, period, value, source}``; ``estimates`` maps
    an id to ``{estimate, se}`` (a normal 95 % CI is built with
    :meth:`~analysis.estimate.Estimate.from_se`) or to ``{estimate, se, ci_low, ci_high}``;
    ``alternatives`` is passed to :func:`~analysis.siinc.sensitivity` as is;
    ``verification_records`` (record counts per population and period, read by the checks of
    :func:`analysis.siinc.dossier.verification_checks`) is returned as ``records``.  The shipped
    agreement carries no ``estimates``: its impact estimate is a named result of the evaluation
    (:func:`analysis.siinc.dossier.read_impact_inputs`), never a number typed into the file.

    Raises
    ------
    DataValidationError
        If the agreement has no example block or the block is malformed.
    """
    src = f"{agreement.source}: illustrative_example"
    ex = agreement.illustrative_example
    if not isinstance(ex, Mapping):
        raise DataValidationError(src, "the agreement carries no illustrative example")
    v: list[KeyViolation] = []
    rows = ex.get("verified_metrics")
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        v.append(
            KeyViolation(
                rule="must be a list of {metric, period, value, source}", column="verified_metrics"
            )
        )
        rows = []
    estimates: dict[str, Estimate] = {}
    for eid, spec in (ex.get("estimates") or {}).items():
        if not isinstance(spec, Mapping) or "estimate" not in spec or "se" not in spec:
            v.append(
                KeyViolation(
                    rule="must be a mapping with estimate and se", column=f"estimates.{eid}"
                )
            )
            continue
        e = Estimate.from_se(
            float(spec["estimate"]),
            float(spec["se"]),
            method=str(spec.get("method", "ILLUSTRATIVE")),
            backend="illustrative_example (made-up numbers)",
            unit=str(spec["unit"]) if "unit" in spec else None,
        )
        if "ci_low" in spec or "ci_high" in spec:
            e = Estimate(
                **{
                    **e.to_dict(),
                    "ci_low": float(spec.get("ci_low", e.ci_low)),
                    "ci_high": float(spec.get("ci_high", e.ci_high)),
                }
            )
        estimates[str(eid)] = e
    alts = ex.get("alternatives") or {}
    if not isinstance(alts, Mapping):
        v.append(KeyViolation(rule="must be a mapping {scenario: changes}", column="alternatives"))
        alts = {}
    if v:
        raise DataValidationError(src, v)
    recs = ex.get("verification_records") or []
    if not isinstance(recs, list) or not all(isinstance(r, Mapping) for r in recs):
        raise DataValidationError(
            src,
            [KeyViolation(rule="must be a list of record counts", column="verification_records")],
        )
    cols = ["metric", "period", "value", "source"]
    if any("source_it" in r for r in rows):  # the evidence in Italian, for the report
        cols.append("source_it")
    df = pd.DataFrame([dict(r) for r in rows], columns=cols)
    return IllustrativeInputs(
        verified_metrics=df,
        estimates=estimates,
        alternatives={str(k): dict(s) for k, s in alts.items()},
        records=tuple(dict(r) for r in recs),
    )
