"""SIINC (Social Impact Incentives) outcome payments: agreement, engine, sensitivity.

The evaluator's first job under FIS Intervento II is outcome verification for payment
(docs/references.md §2.2): audit each verified metric, apply the agreement's definitions,
baselines, quality gates and caps, and certify the payable amount. This package does the
arithmetic, reproducibly and to the cent:

* :func:`load_agreement` reads and validates ``config/siinc.yaml`` (schema in
  :mod:`analysis.siinc.agreement`);
* :func:`compute_payments` turns verified metrics (and impact estimates) into an audit table
  (:mod:`analysis.siinc.engine`);
* :func:`sensitivity` shows how much money depends on the baseline or on the estimate's
  bound (:mod:`analysis.siinc.sensitivity`).

The shipped agreement is **ILLUSTRATIVE**: the parameters of the signed Officine Mezzogiorno
SIINC agreement are not public, so every number in it is an assumption.
"""

from analysis.siinc.agreement import (
    Agreement,
    Baseline,
    Metric,
    Period,
    QualityGate,
    load_agreement,
    parse_agreement,
)
from analysis.siinc.dossier import (
    Check,
    Dossier,
    DossierSpec,
    ImpactInput,
    assemble,
    dossier_spec,
    read_impact_inputs,
    shown_count,
    validate_records,
    verification_checks,
)
from analysis.siinc.engine import (
    PaymentCell,
    PaymentResult,
    PeriodTotal,
    compute_payments,
    validate_estimates,
    validate_verified_metrics,
)
from analysis.siinc.example import IllustrativeInputs, illustrative_inputs
from analysis.siinc.money import allocate
from analysis.siinc.sensitivity import sensitivity

__all__ = [
    "Agreement",
    "Check",
    "Dossier",
    "DossierSpec",
    "ImpactInput",
    "assemble",
    "dossier_spec",
    "read_impact_inputs",
    "shown_count",
    "validate_records",
    "verification_checks",
    "Baseline",
    "IllustrativeInputs",
    "Metric",
    "PaymentCell",
    "PaymentResult",
    "Period",
    "PeriodTotal",
    "QualityGate",
    "allocate",
    "compute_payments",
    "illustrative_inputs",
    "load_agreement",
    "parse_agreement",
    "sensitivity",
    "validate_estimates",
    "validate_verified_metrics",
]
