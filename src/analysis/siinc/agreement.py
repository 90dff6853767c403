"""The SIINC agreement: its schema, the YAML loader and its validation.

The agreement file (``config/siinc.yaml``) holds everything the payment engine needs and
nothing it computes. Top-level keys:

``metadata``
    ``status`` (``ILLUSTRATIVE``, ``DRAFT`` or ``SIGNED``), ``title``, ``note`` (required
    unless signed: what the numbers are and where they come from), ``currency`` (``EUR``),
    optional ``rounding`` (``half_even`` default, or ``half_up``), ``allocation``
    (``pro_rata`` default, or ``metric_order``; how a binding period cap or total ceiling is
    shared among metrics), ``source_document`` (required when ``SIGNED``), ``version``,
    ``programme``, ``prepared_by``, ``last_updated``, ``notes``.
``periods``
    The verification calendar, in order: ``id``, ``start``, ``end``, ``verification_date``.
``metrics``
    ``id``, ``definition``, ``unit``, ``data_source``, ``eligible_cohort``, ``rule``;
    optional ``cap`` (EUR over all periods), ``periods`` (ids where the metric is verified;
    all by default), ``range`` (``[min, max]`` of admissible verified values), ``notes``.
``baselines``
    ``id``, ``type`` and, by type: ``fixed`` (``value``), ``historical`` (``value`` and its
    ``source``), ``counterfactual`` (``estimate`` id, ``use``: ``point``/``lower_ci``/
    ``upper_ci``, optional ``scale_metric``: the baseline is the estimate times that
    verified metric, e.g. a counterfactual rate times the cohort size). ``value`` and
    ``estimate`` are a scalar or a mapping ``{period id: value}``.
``quality_gates``
    ``id``, ``metric`` (a verified metric), ``type``: ``threshold`` (``Q = 1`` if the gate
    metric ``>= threshold``, else 0) or ``proportional`` (``Q = min(1, q / target)``).
``estimates``
    Declared impact estimates (``id``, ``description``): the ids that ``impact_based``
    rules and ``counterfactual`` baselines may use; the values are supplied at payment time.
``caps``
    ``total`` (the ceiling, EUR, required) and optional ``per_period`` (a scalar for every
    period or ``{period id: EUR}``).
``illustrative_example``
    Optional example inputs (verified metrics, record counts, sensitivity alternatives) used
    by notebooks and tests; see :func:`analysis.siinc.illustrative_inputs`.
``evaluator``, ``populations``, ``verification_rules``, ``suppression``
    The verification dossier's blocks (who signs; the populations whose records the checks
    read; the checks' limits; the small-count rule ``k``), validated by
    :func:`analysis.siinc.dossier.dossier_spec`.

Texts for the dossier: a metric's optional ``dossier`` (``name``, ``role`` primary/secondary,
``formula``, ``population``, ``data_owner``, ``extraction_date``, ``periodicity``) and, on
metrics, baselines, estimates and ``metadata``, an optional ``it`` mapping with the Italian of
their texts. An estimate's ``source`` names the result of the evaluation it is read from
(``run``, ``key``, ``outcome``, ``unit``, ``scale``, ``conversion``;
:func:`analysis.siinc.dossier.read_impact_inputs`): impact numbers are never typed here.

Rules (the ``rule`` of a metric; ``gates`` is an optional list of quality-gate ids whose
multipliers ``Q`` are applied to every rule):

``per_unit_above_baseline``  ``price × max(0, Y − B) × Q`` (``price``, ``baseline``)
``linear_band``              ``amount × clip((Y − θ)/(τ − θ), 0, 1) × Q`` (``threshold`` θ,
                             ``target`` τ, optional ``amount``: the metric cap if omitted)
``step``                     ``bonus × 1{Y ≥ τ} × Q`` (``target`` τ, ``bonus``)
``impact_based``             ``price × N × max(0, effect) × Q`` (``price``, ``estimate``,
                             ``use``: ``point``/``lower_ci`` (``upper_ci`` is accepted for
                             sensitivity analyses), and ``n`` or ``n_metric`` for ``N``;
                             ``require_significance: true``: the effect counts only when the
                             pre-specified rule calls it distinguishable from zero)
``none``                     verified but not paid (a quality-gate metric or a count ``N``)

Validation is hand-written (not pandera or a JSON-schema library) because its messages must
name the file, the key path (``metrics[2].rule.price``) and the rule broken, and because most
rules are cross-references (a metric's baseline, a gate's metric, a period id).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from analysis import paths
from analysis.errors import DataValidationError, Violation
from analysis.siinc.money import (
    ALLOCATIONS,
    ROUNDINGS,
    euros_to_cents,
    format_eur,
    to_decimal,
)
from analysis.yamlfile import read_yaml

STATUSES = ("ILLUSTRATIVE", "DRAFT", "SIGNED")
RULE_TYPES = ("per_unit_above_baseline", "linear_band", "step", "impact_based", "none")
BASELINE_TYPES = ("fixed", "historical", "counterfactual")
GATE_TYPES = ("threshold", "proportional")
IMPACT_USES = ("point", "lower_ci", "upper_ci")
BASELINE_USES = ("point", "lower_ci", "upper_ci")
#: Largest magnitude accepted for any number or amount (EUR). Nothing in an outcome agreement
#: comes near it; a value such as ``"1e999999999"`` (a typo or a corrupted file) would
#: otherwise overflow the exact decimal arithmetic with an unhandled ``decimal.Overflow``.
MAX_ABS = Decimal("1e15")
#: Top-level blocks read by the verification dossier (:mod:`analysis.siinc.dossier`, which
#: validates them): who signs, the populations counted, the checks' rules, the suppression rule.
DOSSIER_BLOCKS = ("evaluator", "populations", "verification_rules", "suppression")


# --------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One verification period."""

    id: str
    start: dt.date
    end: dt.date
    verification_date: dt.date


@dataclass(frozen=True)
class PerUnitAboveBaseline:
    """``price × max(0, Y − B) × Q``."""

    price_cents: int
    baseline: str
    gates: tuple[str, ...] = ()
    type: ClassVar[str] = "per_unit_above_baseline"

    def describe(self, unit: str = "unit") -> str:
        """Plain-words rule."""
        return f"{format_eur(self.price_cents)} per unit ({unit}) above baseline '{self.baseline}'"


@dataclass(frozen=True)
class LinearBand:
    """``amount × clip((Y − θ)/(τ − θ), 0, 1) × Q``; ``amount`` defaults to the metric cap."""

    threshold: Decimal
    target: Decimal
    amount_cents: int | None = None
    gates: tuple[str, ...] = ()
    type: ClassVar[str] = "linear_band"

    def describe(self, unit: str = "unit") -> str:
        """Plain-words rule."""
        amount = format_eur(self.amount_cents) if self.amount_cents is not None else "the cap"
        return (
            f"{amount} × share of the way from {self.threshold} to {self.target} {unit} "
            "(0 below the threshold, all of it at the target)"
        )


@dataclass(frozen=True)
class Step:
    """``bonus × 1{Y ≥ τ} × Q``."""

    target: Decimal
    bonus_cents: int
    gates: tuple[str, ...] = ()
    type: ClassVar[str] = "step"

    def describe(self, unit: str = "unit") -> str:
        """Plain-words rule."""
        return f"bonus {format_eur(self.bonus_cents)} if at least {self.target} {unit}"


@dataclass(frozen=True)
class ImpactBased:
    """``price × N × max(0, effect) × Q`` with the effect's point estimate or a CI bound."""

    price_cents: int
    estimate: Mapping[str, str]  # period id -> estimate id
    use: str
    n: Decimal | None = None
    n_metric: str | None = None
    gates: tuple[str, ...] = ()
    require_significance: bool = False
    type: ClassVar[str] = "impact_based"

    def describe(self, unit: str = "unit") -> str:
        """Plain-words rule."""
        ids = sorted(set(self.estimate.values()))
        n = f"'{self.n_metric}'" if self.n_metric else f"{self.n}"
        bound = {
            "point": "point estimate",
            "lower_ci": "lower CI bound",
            "upper_ci": "upper CI bound",
        }[self.use]
        return f"{format_eur(self.price_cents)} × N ({n}) × max(0, {bound} of {', '.join(ids)})"


@dataclass(frozen=True)
class NoPayment:
    """A verified metric that is not paid (a quality-gate metric or a count ``N``)."""

    gates: tuple[str, ...] = ()
    type: ClassVar[str] = "none"

    def describe(self, unit: str = "unit") -> str:
        """Plain-words rule."""
        return "not paid (verified input to another rule)"


Rule = PerUnitAboveBaseline | LinearBand | Step | ImpactBased | NoPayment


@dataclass(frozen=True)
class Metric:
    """One verified metric and its payment rule."""

    id: str
    definition: str
    unit: str
    data_source: str
    eligible_cohort: str
    rule: Rule
    periods: tuple[str, ...]
    cap_cents: int | None = None
    value_range: tuple[Decimal | None, Decimal | None] = (None, None)
    notes: str = ""
    dossier: Mapping[str, Any] = field(default_factory=dict, repr=False)
    texts_it: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def pays(self) -> bool:
        """Whether the metric carries a payment rule (``rule.type != "none"``)."""
        return self.rule.type != "none"


@dataclass(frozen=True)
class Baseline:
    """A baseline ``B[k, t]``: fixed, historical or counterfactual."""

    id: str
    type: str
    values: Mapping[str, Decimal] | None = None  # fixed / historical, per period
    source: str = ""
    estimate: Mapping[str, str] | None = None  # counterfactual: period id -> estimate id
    use: str | None = None
    scale_metric: str | None = None
    description: str = ""
    texts_it: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        """Plain-words baseline."""
        if self.type == "counterfactual":
            ids = ", ".join(sorted(set((self.estimate or {}).values())))
            scale = f" × '{self.scale_metric}'" if self.scale_metric else ""
            return f"counterfactual: {self.use} of {ids}{scale}"
        vals = sorted({str(v) for v in (self.values or {}).values()})
        src = f" (source: {self.source})" if self.source else ""
        return f"{self.type}: {', '.join(vals)}{src}"


@dataclass(frozen=True)
class QualityGate:
    """``Q = 1{q ≥ threshold}`` or ``Q = min(1, q / target)`` for gate metric ``q``."""

    id: str
    metric: str
    type: str
    level: Decimal  # the threshold or the target

    def describe(self) -> str:
        """Plain-words gate."""
        if self.type == "threshold":
            return f"pays only if '{self.metric}' ≥ {self.level}"
        return f"multiplied by min(1, '{self.metric}' / {self.level})"


def _within(value: Decimal, vrange: tuple[Decimal | None, Decimal | None]) -> bool:
    lo, hi = vrange
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _range_text(vrange: tuple[Decimal | None, Decimal | None]) -> str:
    lo, hi = vrange
    return f"[{'−∞' if lo is None else lo}, {'∞' if hi is None else hi}]"


@dataclass(frozen=True)
class DeclaredEstimate:
    """An impact estimate the agreement refers to (its value is supplied at payment time)."""

    id: str
    description: str
    units: str = ""
    source: Mapping[str, Any] = field(default_factory=dict, repr=False)
    texts_it: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Caps:
    """Total ceiling and per-period caps, in cents."""

    total_cents: int
    per_period: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Agreement:
    """A validated SIINC agreement. Build it with :func:`load_agreement`."""

    source: str
    status: str
    title: str
    note: str
    currency: str
    rounding: str
    allocation: str
    periods: tuple[Period, ...]
    metrics: tuple[Metric, ...]
    baselines: Mapping[str, Baseline]
    gates: Mapping[str, QualityGate]
    estimates: Mapping[str, DeclaredEstimate]
    caps: Caps
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)
    illustrative_example: Mapping[str, Any] | None = field(default=None, repr=False)
    dossier: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_illustrative(self) -> bool:
        """True unless the agreement is the signed one."""
        return self.status != "SIGNED"

    @property
    def period_ids(self) -> tuple[str, ...]:
        """Period ids in calendar order."""
        return tuple(p.id for p in self.periods)

    def metric(self, metric_id: str) -> Metric:
        """Return the metric with this id."""
        for m in self.metrics:
            if m.id == metric_id:
                return m
        raise KeyError(metric_id)

    def status_line(self) -> str:
        """One line that a report must show next to any payment figure."""
        if self.status == "SIGNED":
            return f"SIGNED agreement ({self.metadata.get('source_document', '')})."
        return (
            f"{self.status} agreement: every parameter is an assumption. The parameters of "
            "the signed SIINC agreement are not public; these figures show how the "
            "mechanism works and are not payment amounts."
        )

    def tidy(self) -> pd.DataFrame:
        """One row per metric: the contract recap a report shows (docs/references.md §5.2, item 1)."""
        rows = []
        for m in self.metrics:
            r = m.rule
            base = None
            if isinstance(r, PerUnitAboveBaseline):
                base = self.baselines[r.baseline].describe()
            rows.append(
                {
                    "metric": m.id,
                    "definition": m.definition,
                    "unit": m.unit,
                    "eligible_cohort": m.eligible_cohort,
                    "data_source": m.data_source,
                    "rule": r.type,
                    "rule_text": r.describe(m.unit),
                    "baseline": base,
                    "gates": "; ".join(self.gates[g].describe() for g in r.gates) or None,
                    "cap": format_eur(m.cap_cents) if m.cap_cents is not None else None,
                    "periods": ", ".join(m.periods),
                }
            )
        return pd.DataFrame(rows)

    def calendar(self) -> pd.DataFrame:
        """Return the verification calendar with each period's cap."""
        return pd.DataFrame(
            [
                {
                    "period": p.id,
                    "start": p.start,
                    "end": p.end,
                    "verification_date": p.verification_date,
                    "period_cap": format_eur(self.caps.per_period.get(p.id)),
                    "metrics_verified": ", ".join(m.id for m in self.metrics if p.id in m.periods),
                }
                for p in self.periods
            ]
        )

    def summary(self) -> str:
        """Return a few lines: status, metrics, caps."""
        paying = [m for m in self.metrics if m.pays]
        return "\n".join(
            [
                f"{self.title} [{self.status}]",
                self.status_line(),
                f"{len(self.periods)} periods ({self.periods[0].start} to {self.periods[-1].end}), "
                f"{len(paying)} paid metrics, {len(self.metrics) - len(paying)} verified-only; "
                f"total ceiling {format_eur(self.caps.total_cents)}.",
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable recap (no example inputs)."""
        return {
            "source": self.source,
            "status": self.status,
            "title": self.title,
            "note": self.note,
            "currency": self.currency,
            "rounding": self.rounding,
            "allocation": self.allocation,
            "periods": [
                {
                    "id": p.id,
                    "start": p.start.isoformat(),
                    "end": p.end.isoformat(),
                    "verification_date": p.verification_date.isoformat(),
                }
                for p in self.periods
            ],
            "metrics": self.tidy().to_dict(orient="records"),
            "caps": {
                "total_cents": self.caps.total_cents,
                "per_period_cents": dict(self.caps.per_period),
            },
        }

    def with_changes(
        self,
        *,
        baselines: Mapping[str, Baseline] | None = None,
        impact_use: str | None = None,
        baseline_use: str | None = None,
    ) -> Agreement:
        """Return a copy with replaced baselines and/or estimate bounds (for sensitivity)."""
        new_baselines = dict(self.baselines)
        if baselines:
            new_baselines.update(baselines)
        if baseline_use is not None:
            new_baselines = {
                k: (replace(b, use=baseline_use) if b.type == "counterfactual" else b)
                for k, b in new_baselines.items()
            }
        metrics = self.metrics
        if impact_use is not None:
            metrics = tuple(
                replace(m, rule=replace(m.rule, use=impact_use))
                if isinstance(m.rule, ImpactBased)
                else m
                for m in metrics
            )
        return replace(self, baselines=new_baselines, metrics=metrics)


# --------------------------------------------------------------------------------------
# Parsing helpers that collect violations with key paths
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyViolation(Violation):
    """A broken rule in a YAML/mapping input; ``column`` holds the key path."""

    def describe(self, max_rows: int = 5) -> str:
        """Return ``key 'metrics[2].rule.price': <rule>``."""
        return f"key {self.column!r}: {self.rule}" if self.column else self.rule


class _Checker:
    """Collects violations (``column`` holds the key path) and raises them together."""

    def __init__(self, source: str):
        self.source = source
        self.violations: list[Violation] = []

    def add(self, path: str, rule: str) -> None:
        self.violations.append(KeyViolation(rule=rule, column=path))

    def raise_if_any(self) -> None:
        if self.violations:
            raise DataValidationError(self.source, self.violations)

    # -- shapes -------------------------------------------------------------------------
    def mapping(
        self, obj: Any, path: str, *, required: Sequence[str], optional: Sequence[str] = ()
    ) -> Mapping[str, Any] | None:
        if not isinstance(obj, Mapping):
            self.add(path, f"must be a mapping (key: value), got {type(obj).__name__}")
            return None
        for k in required:
            if k not in obj or obj[k] is None:
                self.add(f"{path}.{k}" if path else k, "required key missing")
        allowed = set(required) | set(optional)
        for k in obj:
            if k not in allowed:
                self.add(
                    f"{path}.{k}" if path else str(k),
                    f"unknown key (allowed: {', '.join(sorted(allowed))})",
                )
        return obj

    def seq(self, obj: Any, path: str, *, min_len: int = 0) -> list[Any]:
        if obj is None:
            obj = []
        if not isinstance(obj, list):
            self.add(path, f"must be a list, got {type(obj).__name__}")
            return []
        if len(obj) < min_len:
            self.add(path, f"must list at least {min_len} item(s)")
        return obj

    def text(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        choices: Sequence[str] | None = None,
    ) -> str | None:
        v = obj.get(key)
        if v is None:
            return None  # a missing required key was reported by mapping()
        if not isinstance(v, str) or not v.strip():
            self.add(f"{path}.{key}", f"must be a non-empty string, got {v!r}")
            return None
        if choices is not None and v not in choices:
            self.add(f"{path}.{key}", f"must be one of {', '.join(choices)}; got {v!r}")
            return None
        return v

    def ident(self, obj: Mapping[str, Any], key: str, path: str) -> str | None:
        v = obj.get(key)
        if v is None:
            return None
        if not isinstance(v, str) or not v or any(c.isspace() for c in v):
            self.add(f"{path}.{key}", f"must be an identifier (a string without spaces), got {v!r}")
            return None
        return v

    def number(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        *,
        positive: bool = False,
        nonneg: bool = False,
    ) -> Decimal | None:
        v = obj.get(key)
        if v is None:
            return None
        return self.number_value(v, f"{path}.{key}", positive=positive, nonneg=nonneg)

    def number_value(
        self, v: Any, path: str, *, positive: bool = False, nonneg: bool = False
    ) -> Decimal | None:
        try:
            d = to_decimal(v)
        except ValueError:
            self.add(path, f"must be a finite number, got {v!r}")
            return None
        if d.copy_abs() >= MAX_ABS:  # copy_abs: no context, cannot overflow
            self.add(path, f"must be a number within ±{MAX_ABS:.0E}, got {v!r}")
            return None
        if positive and d <= 0:
            self.add(path, f"must be > 0, got {v!r}")
            return None
        if nonneg and d < 0:
            self.add(path, f"must not be negative, got {v!r}")
            return None
        return d

    def money(
        self, obj: Mapping[str, Any], key: str, path: str, *, what: str = "amount"
    ) -> int | None:
        v = obj.get(key)
        if v is None:
            return None
        return self.money_value(v, f"{path}.{key}", what=what)

    def money_value(self, v: Any, path: str, *, what: str = "amount") -> int | None:
        try:
            d = to_decimal(v)
            if d.copy_abs() >= MAX_ABS:  # copy_abs: no context, cannot overflow
                raise ValueError(f"{v!r} is not within ±{MAX_ABS:.0E}")
            cents = euros_to_cents(d)
        except ValueError as err:
            self.add(
                path, f"{what} must be a finite amount in EUR with at most two decimals ({err})"
            )
            return None
        if cents < 0:
            self.add(path, f"{what} must not be negative, got {v!r}")
            return None
        return cents

    def date(self, obj: Mapping[str, Any], key: str, path: str) -> dt.date | None:
        v = obj.get(key)
        if v is None:
            return None
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        if isinstance(v, str):
            try:
                return dt.date.fromisoformat(v)
            except ValueError:
                pass
        self.add(f"{path}.{key}", f"must be a date YYYY-MM-DD, got {v!r}")
        return None

    def per_period(
        self,
        v: Any,
        path: str,
        period_ids: Sequence[str],
        conv: Any,
    ) -> dict[str, Any] | None:
        """Read a scalar (every period) or a mapping ``{period id: value}``."""
        if isinstance(v, Mapping):
            out = {}
            for k, x in v.items():
                if k not in period_ids:
                    self.add(f"{path}.{k}", f"unknown period id (periods: {', '.join(period_ids)})")
                    continue
                c = conv(x, f"{path}.{k}")
                if c is not None:
                    out[k] = c
            return out
        c = conv(v, path)
        return None if c is None else dict.fromkeys(period_ids, c)


def _text_map(ck: _Checker, raw: Any, path: str, *, scalars: bool = False) -> dict[str, Any]:
    """An optional mapping of texts (``dossier``, ``it``): string keys, string values.

    ``scalars``: numbers and booleans are accepted as values too (an estimate's ``source``).
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        ck.add(path, f"must be a mapping (key: text), got {type(raw).__name__}")
        return {}
    ok = (str, int, float, bool) if scalars else (str,)
    out = {}
    for k, v in raw.items():
        if (
            not isinstance(k, str)
            or not isinstance(v, ok)
            or (isinstance(v, str) and not v.strip())
        ):
            ck.add(f"{path}.{k}", f"must be a non-empty {'value' if scalars else 'text'}")
            continue
        out[k] = v
    return out


def _gates(ck: _Checker, rule: Mapping[str, Any], path: str) -> tuple[str, ...]:
    g = rule.get("gates")
    if g is None:
        return ()
    if isinstance(g, str):
        g = [g]
    if not isinstance(g, list) or not all(isinstance(x, str) for x in g):
        ck.add(f"{path}.gates", "must be a quality-gate id or a list of them")
        return ()
    return tuple(g)


def _parse_rule(ck: _Checker, raw: Any, path: str, period_ids: Sequence[str]) -> Rule | None:
    if not isinstance(raw, Mapping):
        ck.add(path, f"must be a mapping with a 'type' (one of {', '.join(RULE_TYPES)})")
        return None
    rtype = raw.get("type")
    if rtype not in RULE_TYPES:
        ck.add(f"{path}.type", f"unknown rule {rtype!r} (known rules: {', '.join(RULE_TYPES)})")
        return None
    n_bad = len(ck.violations)
    if rtype == "per_unit_above_baseline":
        r = ck.mapping(raw, path, required=("type", "price", "baseline"), optional=("gates",))
        if r is None:
            return None
        price = ck.money(r, "price", path, what="price per unit")
        base = ck.ident(r, "baseline", path)
        gates = _gates(ck, r, path)
        if len(ck.violations) > n_bad or price is None or base is None:
            return None
        return PerUnitAboveBaseline(price_cents=price, baseline=base, gates=gates)
    if rtype == "linear_band":
        r = ck.mapping(
            raw, path, required=("type", "threshold", "target"), optional=("amount", "gates")
        )
        if r is None:
            return None
        th = ck.number(r, "threshold", path)
        tg = ck.number(r, "target", path)
        amount = ck.money(r, "amount", path, what="band amount")
        gates = _gates(ck, r, path)
        if th is not None and tg is not None and th == tg:
            ck.add(f"{path}.target", f"must differ from threshold ({th}): the band has no width")
        if len(ck.violations) > n_bad or th is None or tg is None:
            return None
        return LinearBand(threshold=th, target=tg, amount_cents=amount, gates=gates)
    if rtype == "step":
        r = ck.mapping(raw, path, required=("type", "target", "bonus"), optional=("gates",))
        if r is None:
            return None
        tg = ck.number(r, "target", path)
        bonus = ck.money(r, "bonus", path, what="bonus")
        gates = _gates(ck, r, path)
        if len(ck.violations) > n_bad or tg is None or bonus is None:
            return None
        return Step(target=tg, bonus_cents=bonus, gates=gates)
    if rtype == "impact_based":
        r = ck.mapping(
            raw,
            path,
            required=("type", "price", "estimate", "use"),
            optional=("n", "n_metric", "gates", "require_significance"),
        )
        if r is None:
            return None
        price = ck.money(r, "price", path, what="price per unit of impact")
        use = ck.text(r, "use", path, choices=IMPACT_USES)
        est = None
        if r.get("estimate") is not None:
            est = ck.per_period(
                r["estimate"],
                f"{path}.estimate",
                period_ids,
                lambda v, p: (
                    v
                    if isinstance(v, str) and v
                    else ck.add(p, f"must be an estimate id, got {v!r}")
                ),
            )
        n = ck.number(r, "n", path, nonneg=True)
        n_metric = ck.ident(r, "n_metric", path)
        if (r.get("n") is None) == (r.get("n_metric") is None):
            ck.add(
                f"{path}.n",
                "give exactly one of n (a fixed number of participants) or "
                "n_metric (a verified metric holding N)",
            )
        gates = _gates(ck, r, path)
        if len(ck.violations) > n_bad or price is None or use is None or est is None:
            return None
        req_sig = r.get("require_significance", False)
        if not isinstance(req_sig, bool):
            ck.add(f"{path}.require_significance", f"must be true or false, got {req_sig!r}")
            return None
        return ImpactBased(
            price_cents=price,
            estimate=est,
            use=use,
            n=n,
            n_metric=n_metric,
            gates=gates,
            require_significance=req_sig,
        )
    r = ck.mapping(raw, path, required=("type",), optional=("gates",))
    if r is None:
        return None
    gates = _gates(ck, r, path)
    if gates:
        ck.add(f"{path}.gates", "a metric that is not paid cannot have quality gates")
    return NoPayment()


def _parse_baseline(
    ck: _Checker, raw: Any, path: str, period_ids: Sequence[str], *, require_id: bool = True
) -> Baseline | None:
    btype = raw.get("type") if isinstance(raw, Mapping) else None
    if btype not in BASELINE_TYPES:
        ck.add(
            f"{path}.type", f"unknown baseline type {btype!r} (known: {', '.join(BASELINE_TYPES)})"
        )
        return None
    idkey = ("id",) if require_id else ()
    n_bad = len(ck.violations)

    def num(v: Any, p: str) -> Decimal | None:
        return ck.number_value(v, p)

    if btype in ("fixed", "historical"):
        req = (*idkey, "type", "value") + (("source",) if btype == "historical" else ())
        b = ck.mapping(raw, path, required=req, optional=("description", "source", "id", "it"))
        if b is None:
            return None
        values = (
            ck.per_period(b["value"], f"{path}.value", period_ids, num)
            if b.get("value") is not None
            else None
        )
        src = ck.text(b, "source", path) if b.get("source") is not None else ""
        if len(ck.violations) > n_bad or values is None:
            return None
        return Baseline(
            id=str(b.get("id", "")),
            type=btype,
            values=values,
            source=src or "",
            description=str(b.get("description", "")),
            texts_it=_text_map(ck, b.get("it"), f"{path}.it"),
        )
    b = ck.mapping(
        raw,
        path,
        required=(*idkey, "type", "estimate", "use"),
        optional=("scale_metric", "description", "source", "id"),
    )
    if b is None:
        return None
    est = (
        ck.per_period(
            b["estimate"],
            f"{path}.estimate",
            period_ids,
            lambda v, p: (
                v if isinstance(v, str) and v else ck.add(p, f"must be an estimate id, got {v!r}")
            ),
        )
        if b.get("estimate") is not None
        else None
    )
    use = ck.text(b, "use", path, choices=BASELINE_USES)
    scale = ck.ident(b, "scale_metric", path)
    if len(ck.violations) > n_bad or est is None or use is None:
        return None
    return Baseline(
        id=str(b.get("id", "")),
        type="counterfactual",
        estimate=est,
        use=use,
        scale_metric=scale,
        source=str(b.get("source", "")),
        description=str(b.get("description", "")),
    )


def _unique_ids(ck: _Checker, items: Sequence[Any], path: str, what: str) -> None:
    seen: dict[str, int] = {}
    for i, raw in enumerate(items):
        if isinstance(raw, Mapping) and isinstance(raw.get("id"), str):
            k = raw["id"]
            if k in seen:
                ck.add(
                    f"{path}[{i}].id", f"{what} ids must be unique; {k!r} is also {path}[{seen[k]}]"
                )
            else:
                seen[k] = i


# --------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------


def parse_agreement(data: Any, *, source: str = "agreement mapping") -> Agreement:
    """Validate a mapping (e.g. the parsed YAML) and return an :class:`Agreement`.

    Raises
    ------
    DataValidationError
        Listing every broken rule with its key path.
    """
    ck = _Checker(source)
    top = ck.mapping(
        data,
        "",
        required=("metadata", "periods", "metrics", "caps"),
        optional=(
            "baselines",
            "quality_gates",
            "estimates",
            "illustrative_example",
            *DOSSIER_BLOCKS,
        ),
    )
    ck.raise_if_any()
    assert top is not None

    # -- metadata ------------------------------------------------------------------------
    meta = (
        ck.mapping(
            top["metadata"],
            "metadata",
            required=("status", "title", "currency"),
            optional=(
                "note",
                "rounding",
                "allocation",
                "source_document",
                "version",
                "programme",
                "prepared_by",
                "last_updated",
                "notes",
                "it",
            ),
        )
        or {}
    )
    status = ck.text(meta, "status", "metadata", choices=STATUSES)
    title = ck.text(meta, "title", "metadata") or ""
    currency = ck.text(meta, "currency", "metadata", choices=("EUR",)) or "EUR"
    rounding = ck.text(meta, "rounding", "metadata", choices=tuple(ROUNDINGS)) or "half_even"
    allocation = ck.text(meta, "allocation", "metadata", choices=ALLOCATIONS) or "pro_rata"
    note = ck.text(meta, "note", "metadata") or ""
    if status is not None and status != "SIGNED" and not note:
        ck.add(
            "metadata.note",
            f"a {status} agreement needs a note saying that its "
            "parameters are assumptions and that the signed agreement's are not public",
        )
    if status == "SIGNED" and not meta.get("source_document"):
        ck.add(
            "metadata.source_document",
            "a SIGNED agreement must name the signed document its parameters were copied from",
        )

    # -- periods -------------------------------------------------------------------------
    periods: list[Period] = []
    raw_periods = ck.seq(top["periods"], "periods", min_len=1)
    _unique_ids(ck, raw_periods, "periods", "period")
    for i, raw in enumerate(raw_periods):
        p = f"periods[{i}]"
        m = ck.mapping(
            raw, p, required=("id", "start", "end", "verification_date"), optional=("notes",)
        )
        if m is None:
            continue
        pid = ck.ident(m, "id", p)
        start, end = ck.date(m, "start", p), ck.date(m, "end", p)
        ver = ck.date(m, "verification_date", p)
        if None in (pid, start, end, ver):
            continue
        if end < start:
            ck.add(f"{p}.end", f"ends ({end}) before it starts ({start})")
        if ver < end:
            ck.add(f"{p}.verification_date", f"verification ({ver}) before the period ends ({end})")
        if periods and start <= periods[-1].end:
            ck.add(
                f"{p}.start",
                f"periods must be listed in calendar order without overlap; "
                f"starts {start}, previous period ends {periods[-1].end}",
            )
        periods.append(Period(id=pid, start=start, end=end, verification_date=ver))
    period_ids = tuple(p.id for p in periods)

    # -- estimates -----------------------------------------------------------------------
    estimates: dict[str, DeclaredEstimate] = {}
    raw_est = ck.seq(top.get("estimates"), "estimates")
    _unique_ids(ck, raw_est, "estimates", "estimate")
    for i, raw in enumerate(raw_est):
        p = f"estimates[{i}]"
        m = ck.mapping(raw, p, required=("id", "description", "units"), optional=("source", "it"))
        if m is None:
            continue
        eid = ck.ident(m, "id", p)
        desc = ck.text(m, "description", p)
        if eid and desc:
            estimates[eid] = DeclaredEstimate(
                id=eid,
                description=desc,
                units=str(m.get("units", "")),
                source=_text_map(ck, m.get("source"), f"{p}.source", scalars=True),
                texts_it=_text_map(ck, m.get("it"), f"{p}.it"),
            )

    # -- baselines -----------------------------------------------------------------------
    baselines: dict[str, Baseline] = {}
    raw_base = ck.seq(top.get("baselines"), "baselines")
    _unique_ids(ck, raw_base, "baselines", "baseline")
    base_paths: dict[str, str] = {}
    for i, raw in enumerate(raw_base):
        p = f"baselines[{i}]"
        if isinstance(raw, Mapping):
            ck.ident(raw, "id", p)
        b = _parse_baseline(ck, raw, p, period_ids)
        if b is not None and b.id:
            baselines[b.id] = b
            base_paths[b.id] = p

    # -- quality gates -------------------------------------------------------------------
    gates: dict[str, QualityGate] = {}
    raw_gates = ck.seq(top.get("quality_gates"), "quality_gates")
    _unique_ids(ck, raw_gates, "quality_gates", "quality gate")
    gate_paths: dict[str, str] = {}
    for i, raw in enumerate(raw_gates):
        p = f"quality_gates[{i}]"
        gtype = raw.get("type") if isinstance(raw, Mapping) else None
        if gtype not in GATE_TYPES:
            ck.add(
                f"{p}.type", f"unknown quality-gate type {gtype!r} (known: {', '.join(GATE_TYPES)})"
            )
            continue
        level_key = "threshold" if gtype == "threshold" else "target"
        m = ck.mapping(
            raw, p, required=("id", "metric", "type", level_key), optional=("description",)
        )
        if m is None:
            continue
        gid, metric = ck.ident(m, "id", p), ck.ident(m, "metric", p)
        level = ck.number(m, level_key, p, positive=(gtype == "proportional"))
        if gid and metric and level is not None:
            gates[gid] = QualityGate(id=gid, metric=metric, type=gtype, level=level)
            gate_paths[gid] = p

    # -- metrics -------------------------------------------------------------------------
    metrics: list[Metric] = []
    raw_metrics = ck.seq(top["metrics"], "metrics", min_len=1)
    _unique_ids(ck, raw_metrics, "metrics", "metric")
    metric_paths: dict[str, str] = {}
    for i, raw in enumerate(raw_metrics):
        p = f"metrics[{i}]"
        m = ck.mapping(
            raw,
            p,
            required=("id", "definition", "unit", "data_source", "eligible_cohort", "rule"),
            optional=("cap", "periods", "range", "notes", "dossier", "it"),
        )
        if m is None:
            continue
        mid = ck.ident(m, "id", p)
        texts = {
            k: ck.text(m, k, p) for k in ("definition", "unit", "data_source", "eligible_cohort")
        }
        rule = _parse_rule(ck, m.get("rule"), f"{p}.rule", period_ids) if "rule" in m else None
        cap = ck.money(m, "cap", p, what="metric cap")
        mperiods = period_ids
        if m.get("periods") is not None:
            lst = m["periods"]
            if not isinstance(lst, list) or not lst or not all(isinstance(x, str) for x in lst):
                ck.add(f"{p}.periods", "must be a non-empty list of period ids")
            else:
                for x in lst:
                    if x not in period_ids:
                        ck.add(
                            f"{p}.periods",
                            f"unknown period id {x!r} (periods: {', '.join(period_ids)})",
                        )
                if len(set(lst)) != len(lst):
                    ck.add(f"{p}.periods", "lists a period twice")
                mperiods = tuple(x for x in period_ids if x in lst)
        vrange: tuple[Decimal | None, Decimal | None] = (None, None)
        if m.get("range") is not None:
            rg = m["range"]
            if not isinstance(rg, list) or len(rg) != 2:
                ck.add(f"{p}.range", "must be [min, max] (use null for an open end)")
            else:
                lo = None if rg[0] is None else ck.number_value(rg[0], f"{p}.range[0]")
                hi = None if rg[1] is None else ck.number_value(rg[1], f"{p}.range[1]")
                if lo is not None and hi is not None and lo > hi:
                    ck.add(f"{p}.range", f"min {lo} is above max {hi}")
                vrange = (lo, hi)
        if isinstance(rule, LinearBand) and rule.amount_cents is None and cap is None:
            ck.add(
                f"{p}.rule.amount",
                "a linear_band rule needs an amount, or the metric "
                "needs a cap (the amount defaults to the cap)",
            )
        if mid is None or rule is None or None in texts.values():
            continue
        metric_paths[mid] = p
        metrics.append(
            Metric(
                id=mid,
                definition=texts["definition"],
                unit=texts["unit"],
                data_source=texts["data_source"],
                eligible_cohort=texts["eligible_cohort"],
                rule=rule,
                periods=tuple(mperiods),
                cap_cents=cap,
                value_range=vrange,
                notes=str(m.get("notes", "")),
                dossier=_text_map(ck, m.get("dossier"), f"{p}.dossier"),
                texts_it=_text_map(ck, m.get("it"), f"{p}.it"),
            )
        )
    metric_ids = {m.id for m in metrics}

    # -- caps ----------------------------------------------------------------------------
    caps_raw = (
        ck.mapping(top["caps"], "caps", required=("total",), optional=("per_period", "notes")) or {}
    )
    total = ck.money(caps_raw, "total", "caps", what="total ceiling")
    per_period: dict[str, int] = {}
    if caps_raw.get("per_period") is not None:
        per_period = (
            ck.per_period(
                caps_raw["per_period"],
                "caps.per_period",
                period_ids,
                lambda v, p: ck.money_value(v, p, what="period cap"),
            )
            or {}
        )

    # -- cross references ----------------------------------------------------------------
    for m in metrics:
        p = metric_paths[m.id]
        r = m.rule
        for g in r.gates:
            if g not in gates:
                ck.add(
                    f"{p}.rule.gates",
                    f"refers to unknown quality gate {g!r} (declared: "
                    f"{', '.join(gates) or 'none'})",
                )
        if isinstance(r, PerUnitAboveBaseline):
            b = baselines.get(r.baseline)
            if b is None:
                ck.add(
                    f"{p}.rule.baseline",
                    f"refers to unknown baseline {r.baseline!r} "
                    f"(declared: {', '.join(baselines) or 'none'})",
                )
            else:
                table = b.values if b.type != "counterfactual" else b.estimate
                if b.type != "counterfactual":
                    outside = sorted(
                        f"{t}: {v}"
                        for t, v in (b.values or {}).items()
                        if t in m.periods and not _within(v, m.value_range)
                    )
                    if outside:
                        ck.add(
                            f"{base_paths[b.id]}",
                            f"value(s) {', '.join(outside)} outside the declared range "
                            f"{_range_text(m.value_range)} of metric {m.id!r} "
                            f"(unit: {m.unit or 'unstated'}), which uses this baseline",
                        )
                missing = [t for t in m.periods if t not in (table or {})]
                if missing:
                    ck.add(
                        f"{base_paths[b.id]}",
                        f"has no value for period(s) "
                        f"{', '.join(missing)}, where metric {m.id!r} uses it",
                    )
        if isinstance(r, ImpactBased):
            for t in m.periods:
                eid = r.estimate.get(t)
                if eid is None:
                    ck.add(f"{p}.rule.estimate", f"no estimate id for period {t!r}")
                elif eid not in estimates:
                    ck.add(
                        f"{p}.rule.estimate",
                        f"refers to unknown estimate {eid!r} "
                        f"(declared under 'estimates': {', '.join(estimates) or 'none'})",
                    )
            if r.n_metric is not None:
                if r.n_metric not in metric_ids:
                    ck.add(f"{p}.rule.n_metric", f"refers to unknown metric {r.n_metric!r}")
                else:
                    nm = next(x for x in metrics if x.id == r.n_metric)
                    gap = [t for t in m.periods if t not in nm.periods]
                    if gap:
                        ck.add(
                            f"{p}.rule.n_metric",
                            f"metric {r.n_metric!r} is not verified in period(s) {', '.join(gap)}",
                        )
    for gid, g in gates.items():
        if g.metric not in metric_ids:
            ck.add(f"{gate_paths[gid]}.metric", f"refers to unknown metric {g.metric!r}")
            continue
        gm = next(x for x in metrics if x.id == g.metric)
        # A threshold or target outside the gate metric's declared range can never (or always)
        # be met: the premium would silently be €0 (or unconditional).  Refuse it.
        if not _within(g.level, gm.value_range) or (g.type == "proportional" and g.level <= 0):
            ck.add(
                f"{gate_paths[gid]}.{'threshold' if g.type == 'threshold' else 'target'}",
                f"{g.level} lies outside the declared range {_range_text(gm.value_range)} of "
                f"metric {g.metric!r} (unit: {gm.unit or 'unstated'})"
                + (" or is not positive" if g.type == "proportional" else ""),
            )
        users = [m for m in metrics if gid in m.rule.gates]
        for m in users:
            gap = [t for t in m.periods if t not in gm.periods]
            if gap:
                ck.add(
                    f"{gate_paths[gid]}.metric",
                    f"gate metric {g.metric!r} is not verified "
                    f"in period(s) {', '.join(gap)}, where metric {m.id!r} is paid",
                )
    for bid, b in baselines.items():
        if b.type == "counterfactual":
            for t, eid in (b.estimate or {}).items():
                if eid not in estimates:
                    ck.add(
                        f"{base_paths[bid]}.estimate",
                        f"refers to unknown estimate {eid!r} "
                        f"in period {t} (declared: {', '.join(estimates) or 'none'})",
                    )
            if b.scale_metric is not None and b.scale_metric not in metric_ids:
                ck.add(
                    f"{base_paths[bid]}.scale_metric",
                    f"refers to unknown metric {b.scale_metric!r}",
                )
            elif b.scale_metric is not None:
                sm = next(x for x in metrics if x.id == b.scale_metric)
                for m in metrics:
                    if isinstance(m.rule, PerUnitAboveBaseline) and m.rule.baseline == bid:
                        gap = [t for t in m.periods if t not in sm.periods]
                        if gap:
                            ck.add(
                                f"{base_paths[bid]}.scale_metric",
                                f"metric {b.scale_metric!r} is not verified in period(s) "
                                f"{', '.join(gap)}, where metric {m.id!r} uses the baseline",
                            )
    if total is not None:
        for m in metrics:
            if m.cap_cents is not None and m.cap_cents > total:
                ck.add(
                    f"{metric_paths[m.id]}.cap",
                    f"metric cap {format_eur(m.cap_cents)} "
                    f"exceeds the total ceiling {format_eur(total)}",
                )
        for t, c in per_period.items():
            if c > total:
                ck.add(
                    f"caps.per_period.{t}",
                    f"period cap {format_eur(c)} exceeds the total ceiling {format_eur(total)}",
                )
    if not any(m.pays for m in metrics) and metrics:
        ck.add("metrics", "no metric carries a payment rule")
    example = top.get("illustrative_example")
    if example is not None:
        if status == "SIGNED":
            ck.add(
                "illustrative_example",
                "a SIGNED agreement must not carry illustrative example inputs",
            )
        elif not isinstance(example, Mapping):
            ck.add("illustrative_example", "must be a mapping")
    ck.raise_if_any()
    assert status is not None and total is not None
    return Agreement(
        source=source,
        status=status,
        title=title,
        note=note,
        currency=currency,
        rounding=rounding,
        allocation=allocation,
        periods=tuple(periods),
        metrics=tuple(metrics),
        baselines=baselines,
        gates=gates,
        estimates=estimates,
        caps=Caps(total_cents=total, per_period=per_period),
        metadata=dict(meta),
        illustrative_example=example,
        dossier={k: top[k] for k in DOSSIER_BLOCKS if top.get(k) is not None},
    )


def load_agreement(path: str | Path | None = None) -> Agreement:
    """Read and validate a SIINC agreement YAML file (default ``config/siinc.yaml``).

    Raises
    ------
    DataValidationError
        If the file is missing, is not valid YAML, or breaks a rule of the schema (see the
        module docstring); the message names the file, the key path and the rule.
    """
    path = Path(path) if path is not None else paths.SIINC_FILE
    source = paths.relative(path)
    data = read_yaml(path)  # repeated keys, bad dates, encodings: DataValidationError
    return parse_agreement(data, source=source)


def parse_baseline_override(
    spec: Any, *, baseline_id: str, agreement: Agreement, source: str
) -> Baseline:
    """Build a replacement baseline for a sensitivity scenario.

    ``spec`` is a number (a fixed baseline for every period), a mapping ``{period: number}``
    or a full baseline mapping as in the YAML file (``type`` etc.; ``id`` not needed).
    """
    ck = _Checker(source)
    path = f"baselines.{baseline_id}"
    if baseline_id not in agreement.baselines:
        ck.add(path, f"unknown baseline id (declared: {', '.join(agreement.baselines)})")
        ck.raise_if_any()
    if isinstance(spec, Mapping) and "type" in spec:
        b = _parse_baseline(ck, spec, path, agreement.period_ids, require_id=False)
    else:
        values = ck.per_period(
            spec, f"{path}", agreement.period_ids, lambda v, p: ck.number_value(v, p)
        )
        b = (
            Baseline(
                id=baseline_id, type="fixed", values=values, description="sensitivity override"
            )
            if values is not None
            else None
        )
    if b is not None and b.type == "counterfactual":
        for t, eid in (b.estimate or {}).items():
            if eid not in agreement.estimates:
                ck.add(f"{path}.estimate", f"unknown estimate {eid!r} in period {t}")
    ck.raise_if_any()
    assert b is not None
    return replace(b, id=baseline_id)
