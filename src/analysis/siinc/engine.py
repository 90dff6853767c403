r"""The SIINC payment engine: verified metrics in, an auditable payment table out.

For metric :math:`k` and period :math:`t` (docs/references.md §1.4):

.. math::

    E_{k,t} &= \text{rule}_k(Y_{k,t}, B_{k,t}, \hat\tau_{k,t}) \cdot Q_{k,t}
        && \text{eligible amount, rounded once to the cent}\\
    E'_{k,t} &= \min\bigl(E_{k,t},\ \mathrm{Cap}_k - \mathrm{Paid}_{k,<t}\bigr)
        && \text{metric cap (over all periods)}\\
    P_t &= \min\bigl(\mathrm{Cap}_t,\ C - \textstyle\sum_{s<t} P_s,\ \sum_k E'_{k,t}\bigr)
        && \text{period cap, then total ceiling}

with the rules of :mod:`analysis.siinc.agreement` (``per_unit_above_baseline``,
``linear_band``, ``step``, ``impact_based``) and :math:`Q` the product of the metric's quality
gates. ``Paid`` counts what was actually paid, after every cap.

When :math:`P_t < \sum_k E'_{k,t}` (the period cap or the total ceiling binds), :math:`P_t` is
shared among the period's metrics by the agreement's ``allocation``: ``pro_rata`` (default;
shares proportional to :math:`E'_{k,t}` in whole cents, the leftover cents to the largest
remainders, ties to the metric listed first) or ``metric_order`` (metrics served in the
order of the file). See :func:`analysis.siinc.money.allocate`.

All amounts are integer cents; see :mod:`analysis.siinc.money` for the rounding rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import DataValidationError, Violation
from analysis.siinc.agreement import (
    MAX_ABS,
    Agreement,
    Baseline,
    ImpactBased,
    KeyViolation,
    LinearBand,
    Metric,
    PerUnitAboveBaseline,
    Step,
)
from analysis.siinc.money import (
    allocate,
    cents_to_euros,
    divide,
    format_eur,
    product_cents,
    to_decimal,
)

VERIFIED_COLUMNS = ("metric", "period", "value", "source")
_ZERO, _ONE = Decimal(0), Decimal(1)


# --------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Verified:
    value: Decimal
    source: str


def _scalar(x: Any) -> Any:
    """A numpy scalar as the number a reader of the table sees.

    ``float32``/``float16`` values go through their own shortest repr (``np.float32(0.68)`` is
    ``0.68``, not ``0.6800000071525574``); other numpy scalars become Python scalars.
    """
    if isinstance(x, np.floating) and x.dtype.itemsize < 8:
        return str(x) if np.isfinite(x) else float(x)
    return x.item() if isinstance(x, np.generic) else x


def _required_pairs(agreement: Agreement) -> dict[tuple[str, str], str]:
    """Every (metric, period) whose verified value a payment needs, with the reason."""
    need: dict[tuple[str, str], str] = {}
    for m in agreement.metrics:
        if not m.pays:
            continue
        r = m.rule
        for t in m.periods:
            if not isinstance(r, ImpactBased):
                need.setdefault((m.id, t), f"metric {m.id!r} is paid in {t}")
            else:
                if r.n_metric is not None:
                    need.setdefault((r.n_metric, t), f"N of metric {m.id!r} in {t}")
            for g in r.gates:
                gm = agreement.gates[g].metric
                need.setdefault((gm, t), f"quality gate {g!r} of metric {m.id!r} in {t}")
            if isinstance(r, PerUnitAboveBaseline):
                b = agreement.baselines[r.baseline]
                if b.type == "counterfactual" and b.scale_metric is not None:
                    need.setdefault(
                        (b.scale_metric, t), f"scale of baseline {b.id!r} of metric {m.id!r} in {t}"
                    )
    return need


def validate_verified_metrics(
    verified_metrics: Any,
    agreement: Agreement,
    *,
    source: str = "verified_metrics (DataFrame argument)",
) -> dict[tuple[str, str], _Verified]:
    """Check the verified metrics table against the agreement.

    Rules: a DataFrame with columns ``metric, period, value, source`` (others are kept but
    ignored); metric and period ids declared in the agreement; ``value`` a finite number
    inside the metric's ``range``; ``source`` a non-empty string (the evidence: register,
    certificate, audit sample); one row per (metric, period), only for periods in which the
    agreement verifies the metric; and a row for every (metric, period) that a payment needs,
    including quality-gate metrics and counts ``N``. A missing value is an error, never a
    silent zero. Offending rows are reported by 0-based position.

    Returns
    -------
    dict
        ``{(metric, period): (value, source)}``.

    Raises
    ------
    DataValidationError
    """
    if not isinstance(verified_metrics, pd.DataFrame):
        raise DataValidationError(
            source, f"must be a pandas DataFrame, got {type(verified_metrics).__name__}"
        )
    df = verified_metrics.reset_index(drop=True)  # rows are reported as 0-based positions
    # Two columns with the same name (or a column MultiIndex) make df[col] a DataFrame: refuse
    # them instead of failing with a TypeError deep inside the checks.
    labels = [c if isinstance(c, str) else repr(c) for c in df.columns]
    if isinstance(df.columns, pd.MultiIndex) or len(set(labels)) != len(labels):
        raise DataValidationError(
            source,
            [
                Violation(
                    rule="column names must be unique single-level labels",
                    column=", ".join(sorted({lab for lab in labels if labels.count(lab) > 1}))
                    or None,
                )
            ],
        )
    missing = [c for c in VERIFIED_COLUMNS if c not in df.columns]
    if missing:
        raise DataValidationError(
            source,
            [
                Violation(
                    rule=f"required column missing (need {', '.join(VERIFIED_COLUMNS)})", column=c
                )
                for c in missing
            ],
        )
    v: list[Violation] = []

    def add(rule: str, column: str, rows: list[Any]) -> None:
        if rows:
            v.append(Violation(rule=rule, column=column, rows=tuple(rows), n_rows=len(rows)))

    metric_ids = {m.id for m in agreement.metrics}
    pids = set(agreement.period_ids)
    bad_m = [i for i, x in df["metric"].items() if not isinstance(x, str) or x not in metric_ids]
    add(f"unknown metric id (declared: {', '.join(sorted(metric_ids))})", "metric", bad_m)
    bad_p = [i for i, x in df["period"].items() if not isinstance(x, str) or x not in pids]
    add(f"unknown period id (declared: {', '.join(agreement.period_ids)})", "period", bad_p)
    values: dict[Any, Decimal] = {}
    bad_v = []
    # iterate the numpy values: Series.items() turns float32 into Python floats (0.68 ->
    # 0.6800000071525574) before _scalar could use their own shortest repr
    for i, x in zip(df.index, df["value"].to_numpy(), strict=True):
        try:
            values[i] = to_decimal(_scalar(x))
        except ValueError:
            bad_v.append(i)
            continue
        if values[i].copy_abs() >= MAX_ABS:  # would overflow the decimal arithmetic
            del values[i]
            bad_v.append(i)
    add(
        f"must be a finite number within ±{MAX_ABS:.0E} (a missing value is not zero: "
        "verify it or leave the period unpaid in the agreement)",
        "value",
        bad_v,
    )
    bad_s = [i for i, x in df["source"].items() if not isinstance(x, str) or not x.strip()]
    add("must name the evidence the value was verified from (non-empty string)", "source", bad_s)
    keyed = df.loc[[i for i in df.index if i not in set(bad_m) | set(bad_p)]]
    declared = {m.id: set(m.periods) for m in agreement.metrics}
    off = [i for i in keyed.index if keyed.at[i, "period"] not in declared[keyed.at[i, "metric"]]]
    add(
        "the agreement does not verify this metric in this period (see the metric's 'periods')",
        "metric, period",
        off,
    )
    dup = keyed.duplicated(subset=["metric", "period"], keep=False)
    add("one row per (metric, period) allowed", "metric, period", list(keyed.index[dup]))
    for m in agreement.metrics:
        lo, hi = m.value_range
        rows = [
            i
            for i in keyed.index[keyed["metric"] == m.id]
            if i in values
            and ((lo is not None and values[i] < lo) or (hi is not None and values[i] > hi))
        ]
        add(f"value outside the admissible range [{lo}, {hi}] of metric {m.id!r}", "value", rows)
    out: dict[tuple[str, str], _Verified] = {}
    for i in keyed.index:
        if i in values and not dup.at[i]:
            out[(df.at[i, "metric"], df.at[i, "period"])] = _Verified(
                value=values[i], source=str(df.at[i, "source"])
            )
    present = {(df.at[i, "metric"], df.at[i, "period"]) for i in keyed.index}
    for (mid, t), why in _required_pairs(agreement).items():
        if (mid, t) not in present:
            v.append(
                Violation(
                    rule=f"no verified value for metric {mid!r} in period {t!r} "
                    f"(needed: {why}); missing values are never read as zero",
                    column="metric, period",
                )
            )
    if v:
        raise DataValidationError(source, v)
    return out


@dataclass(frozen=True)
class _EstimateValues:
    estimate: Decimal
    ci_low: Decimal | None
    ci_high: Decimal | None
    significance: str | None = None


def _required_estimates(agreement: Agreement) -> dict[str, set[str]]:
    """Estimate id -> the attributes the payment reads from it."""
    need: dict[str, set[str]] = {}
    attr = {"point": "estimate", "lower_ci": "ci_low", "upper_ci": "ci_high"}
    for m in agreement.metrics:
        r = m.rule
        if isinstance(r, ImpactBased):
            for t in m.periods:
                need.setdefault(r.estimate[t], set()).add(attr[r.use])
        if isinstance(r, PerUnitAboveBaseline):
            b = agreement.baselines[r.baseline]
            if b.type == "counterfactual":
                assert b.estimate is not None and b.use is not None
                for t in m.periods:
                    need.setdefault(b.estimate[t], set()).add(attr[b.use])
    return need


_UNIT_SYNONYMS = {
    "pp": "percentage points",
    "p.p.": "percentage points",
    "percentage point": "percentage points",
    "punti percentuali": "percentage points",
    "%": "percent",
    "per cent": "percent",
    "share": "share (0-1)",
    "proportion": "share (0-1)",
    "share (0–1)": "share (0-1)",
}


def normalise_unit(unit: str) -> str:
    """Canonical spelling of a unit, so that ``"pp"`` and ``"percentage points"`` agree."""
    u = " ".join(unit.strip().lower().split())
    return _UNIT_SYNONYMS.get(u, u)


def validate_estimates(
    estimates: Mapping[str, Any] | None,
    agreement: Agreement,
    *,
    source: str = "estimates (argument)",
) -> dict[str, _EstimateValues]:
    """Check that every estimate the agreement reads is supplied with finite values.

    Each value must have ``.estimate``, ``.ci_low`` and ``.ci_high`` (e.g.
    :class:`analysis.estimate.Estimate`); the attribute a rule uses must be finite and, when
    all three are finite, ``ci_low <= estimate <= ci_high``.  Its ``.unit`` must be the unit
    the agreement declares for that estimate (:func:`normalise_unit` spellings agree).
    """
    need = _required_estimates(agreement)
    if not need:
        return {}
    need_sig = {
        eid
        for m in agreement.metrics
        if isinstance(m.rule, ImpactBased) and m.rule.require_significance
        for eid in m.rule.estimate.values()
    }
    estimates = estimates or {}
    if not isinstance(estimates, Mapping):
        raise DataValidationError(source, "must be a mapping {estimate id: Estimate}")
    v: list[Violation] = []
    out: dict[str, _EstimateValues] = {}
    for eid, attrs in need.items():
        if eid not in estimates:
            v.append(
                KeyViolation(
                    rule=f"estimate {eid!r} is needed by the agreement "
                    f"({agreement.estimates[eid].description}) but was not supplied",
                    column=eid,
                )
            )
            continue
        e = estimates[eid]
        declared = agreement.estimates[eid].units
        supplied = getattr(e, "unit", None)
        if supplied is None or not str(supplied).strip():
            v.append(
                KeyViolation(
                    rule=f"the estimate carries no unit; the agreement declares {declared!r} "
                    "(supply it in that unit, with unit= set, converting if needed)",
                    column=eid,
                )
            )
            continue
        if normalise_unit(str(supplied)) != normalise_unit(declared):
            v.append(
                KeyViolation(
                    rule=f"unit {supplied!r} differs from the unit the agreement declares "
                    f"({declared!r}): convert the estimate first (e.g. a share × 100 = "
                    "percentage points) and show the conversion",
                    column=eid,
                )
            )
            continue
        vals: dict[str, Decimal | None] = {}
        for a in ("estimate", "ci_low", "ci_high"):
            x = getattr(e, a, None)
            try:
                vals[a] = to_decimal(float(x)) if x is not None else None
            except (TypeError, ValueError):
                vals[a] = None
        for a in sorted(attrs):
            if vals[a] is None:
                v.append(
                    KeyViolation(
                        rule=f"attribute {a!r} must be a finite number, got "
                        f"{getattr(e, a, '<missing>')!r}",
                        column=eid,
                    )
                )
        if vals["estimate"] is None:
            if "estimate" not in attrs:
                v.append(
                    KeyViolation(rule="attribute 'estimate' must be a finite number", column=eid)
                )
            continue
        lo, hi = vals["ci_low"], vals["ci_high"]
        if lo is not None and hi is not None and not lo <= vals["estimate"] <= hi:
            v.append(
                KeyViolation(
                    rule=f"ci_low <= estimate <= ci_high violated ({lo}, {vals['estimate']}, {hi})",
                    column=eid,
                )
            )
        level = getattr(e, "significance_level", None)
        if eid in need_sig and level is None:
            v.append(
                KeyViolation(
                    rule="a rule pays on this estimate only if it is distinguishable from zero "
                    "(require_significance), but the estimate carries no significance call "
                    "(analysis.significance.classify; see analysis.siinc.read_impact_inputs)",
                    column=eid,
                )
            )
            continue
        out[eid] = _EstimateValues(
            estimate=vals["estimate"], ci_low=lo, ci_high=hi, significance=level
        )
    if v:
        raise DataValidationError(source, v)
    return out


# --------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentCell:
    """The arithmetic of one metric in one period (amounts in cents)."""

    metric: str
    period: str
    rule: str
    y: Decimal | None
    b: Decimal | None
    effect: Decimal | None
    estimate_id: str | None
    units_paid: Decimal
    gate: Decimal
    price_cents: int
    eligible_exact_cents: Decimal
    eligible_cents: int
    after_metric_cap_cents: int
    payable_cents: int
    cap_applied: str
    cumulative_paid_cents: int
    remaining_headroom_cents: int | None
    source: str
    significance: str | None = None  # impact-based: the call of the pre-specified rule

    @property
    def y_minus_b(self) -> Decimal | None:
        """``Y − B`` (``None`` for impact-based rules)."""
        return None if self.y is None or self.b is None else self.y - self.b


@dataclass(frozen=True)
class PeriodTotal:
    """One period's totals (cents)."""

    period: str
    eligible_cents: int
    after_metric_caps_cents: int
    period_cap_cents: int | None
    payable_cents: int
    cap_applied: str
    cumulative_paid_cents: int
    remaining_total_headroom_cents: int


def _f(x: Decimal | None) -> float:
    return float(x) if x is not None else float("nan")


def _eur(c: int | None) -> float:
    return float(cents_to_euros(c)) if c is not None else float("nan")


@dataclass(frozen=True)
class PaymentResult:
    """Payments under an agreement for a set of verified metrics.

    ``table()`` is the audit table (one row per metric × period), ``totals()`` the period and
    overall totals. Amounts are exact integer cents internally; the tables show euros.
    """

    agreement: Agreement = field(repr=False)
    cells: tuple[PaymentCell, ...]
    periods: tuple[PeriodTotal, ...]

    @property
    def total_payable_cents(self) -> int:
        """Total payable over all periods, in cents."""
        return sum(p.payable_cents for p in self.periods)

    @property
    def total_payable(self) -> Decimal:
        """Total payable over all periods, in euros (exact)."""
        return cents_to_euros(self.total_payable_cents)

    def table(self) -> pd.DataFrame:
        """Return the audit table, one row per metric × period (docs/references.md §5.2, item 4).

        Columns: metric, period, rule, Y, B (the baseline; θ for ``linear_band``, τ for
        ``step``), Y_minus_B, effect (impact-based: the estimate used) and estimate_id,
        units_paid (what the price multiplies: units above baseline, band fraction, 0/1 step,
        N × effect), gate (Q), price (EUR per unit, band amount or bonus), eligible,
        cap_applied (``none``, or which caps reduced the amount: ``metric``, ``period``,
        ``total``, joined by ``+``), payable, payable_cents, cumulative_paid (this metric,
        through this period), remaining_headroom (what this metric can still receive:
        the smaller of its cap and the total ceiling, minus what has been paid) and source.
        """
        rows = [
            {
                "metric": c.metric,
                "period": c.period,
                "rule": c.rule,
                "Y": _f(c.y),
                "B": _f(c.b),
                "Y_minus_B": _f(c.y_minus_b),
                "effect": _f(c.effect),
                "estimate_id": c.estimate_id,
                "units_paid": _f(c.units_paid),
                "gate": _f(c.gate),
                "price": _eur(c.price_cents),
                "eligible": _eur(c.eligible_cents),
                "cap_applied": c.cap_applied,
                "payable": _eur(c.payable_cents),
                "payable_cents": c.payable_cents,
                "cumulative_paid": _eur(c.cumulative_paid_cents),
                "remaining_headroom": _eur(c.remaining_headroom_cents),
                "source": c.source,
            }
            for c in self.cells
        ]
        return pd.DataFrame(rows)

    def tidy(self) -> pd.DataFrame:
        """Alias of :meth:`table`."""
        return self.table()

    def totals(self) -> pd.DataFrame:
        """Per-period totals and a final ``total`` row (euros; ``payable_cents`` exact)."""
        rows = [
            {
                "period": p.period,
                "eligible": _eur(p.eligible_cents),
                "after_metric_caps": _eur(p.after_metric_caps_cents),
                "period_cap": _eur(p.period_cap_cents),
                "cap_applied": p.cap_applied,
                "payable": _eur(p.payable_cents),
                "payable_cents": p.payable_cents,
                "cumulative_paid": _eur(p.cumulative_paid_cents),
                "remaining_total_headroom": _eur(p.remaining_total_headroom_cents),
            }
            for p in self.periods
        ]
        total = self.total_payable_cents
        rows.append(
            {
                "period": "total",
                "eligible": _eur(sum(p.eligible_cents for p in self.periods)),
                "after_metric_caps": _eur(sum(p.after_metric_caps_cents for p in self.periods)),
                "period_cap": float("nan"),
                "cap_applied": "total"
                if any("total" in p.cap_applied for p in self.periods)
                else "none",
                "payable": _eur(total),
                "payable_cents": total,
                "cumulative_paid": _eur(total),
                "remaining_total_headroom": _eur(self.agreement.caps.total_cents - total),
            }
        )
        return pd.DataFrame(rows)

    def by_metric(self) -> pd.DataFrame:
        """Total eligible and payable per metric over all periods."""
        t = self.table()
        g = t.groupby("metric", sort=False)[["eligible", "payable_cents"]].sum().reset_index()
        g["payable"] = g["payable_cents"].map(_eur)
        return g[["metric", "eligible", "payable", "payable_cents"]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: status, cells and totals (cents as ints, euros as strings)."""

        def cell(c: PaymentCell) -> dict[str, Any]:
            return {
                "metric": c.metric,
                "period": c.period,
                "rule": c.rule,
                "Y": None if c.y is None else str(c.y),
                "B": None if c.b is None else str(c.b),
                "effect": None if c.effect is None else str(c.effect),
                "estimate_id": c.estimate_id,
                "units_paid": str(c.units_paid),
                "gate": str(c.gate),
                "price_cents": c.price_cents,
                "eligible_cents": c.eligible_cents,
                "cap_applied": c.cap_applied,
                "payable_cents": c.payable_cents,
                "payable_eur": str(cents_to_euros(c.payable_cents)),
                "cumulative_paid_cents": c.cumulative_paid_cents,
                "remaining_headroom_cents": c.remaining_headroom_cents,
                "source": c.source,
                "significance": c.significance,
            }

        return {
            "status": self.agreement.status,
            "status_line": self.agreement.status_line(),
            "agreement_source": self.agreement.source,
            "currency": self.agreement.currency,
            "rounding": self.agreement.rounding,
            "allocation": self.agreement.allocation,
            "cells": [cell(c) for c in self.cells],
            "periods": [
                {
                    "period": p.period,
                    "payable_cents": p.payable_cents,
                    "cap_applied": p.cap_applied,
                    "cumulative_paid_cents": p.cumulative_paid_cents,
                }
                for p in self.periods
            ],
            "total_payable_cents": self.total_payable_cents,
            "total_payable_eur": str(self.total_payable),
            "total_ceiling_cents": self.agreement.caps.total_cents,
        }

    def summary(self) -> str:
        """Status line, then one line per period and the total."""
        lines = [self.agreement.status_line()]
        for p in self.periods:
            cap = "" if p.cap_applied == "none" else f" ({p.cap_applied} cap bound)"
            lines.append(
                f"  {p.period}: eligible {format_eur(p.eligible_cents)}, payable "
                f"{format_eur(p.payable_cents)}{cap}"
            )
        lines.append(
            f"  total payable {format_eur(self.total_payable_cents)} of a ceiling of "
            f"{format_eur(self.agreement.caps.total_cents)}"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def effect_summary(self) -> str:
        """Plain words: how much is payable and which caps bound."""
        a = self.agreement
        eligible = sum(c.eligible_cents for c in self.cells)
        bound = sorted({part for c in self.cells for part in c.cap_applied.split("+")} - {"none"})
        caps = (
            f"; the {', '.join(bound)} cap(s) reduced the amount from {format_eur(eligible)}"
            if bound
            else "; no cap bound"
        )
        prefix = "" if a.status == "SIGNED" else f"[{a.status}: not real amounts] "
        return (
            f"{prefix}Under this agreement {format_eur(self.total_payable_cents)} is "
            f"payable over {len(self.periods)} period(s), "
            f"{self.total_payable_cents / a.caps.total_cents:.0%} of the "
            f"{format_eur(a.caps.total_cents)} ceiling{caps}."
        )


# --------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------


def _pick(e: Any, use: str) -> Decimal:
    val = {"point": e.estimate, "lower_ci": e.ci_low, "upper_ci": e.ci_high}[use]
    assert val is not None
    return val


def _baseline_value(
    b: Baseline,
    t: str,
    verified: Mapping[tuple[str, str], _Verified],
    est: Mapping[str, _EstimateValues],
) -> tuple[Decimal, str | None]:
    if b.type != "counterfactual":
        assert b.values is not None
        return b.values[t], None
    assert b.estimate is not None and b.use is not None
    eid = b.estimate[t]
    val = _pick(est[eid], b.use)
    if b.scale_metric is not None:
        val = val * verified[(b.scale_metric, t)].value
    return val, eid


def _gate(
    agreement: Agreement, m: Metric, t: str, verified: Mapping[tuple[str, str], _Verified]
) -> Decimal:
    q = _ONE
    for gid in m.rule.gates:
        g = agreement.gates[gid]
        x = verified[(g.metric, t)].value
        if g.type == "threshold":
            q *= _ONE if x >= g.level else _ZERO
        else:
            q *= max(_ZERO, min(_ONE, divide(x, g.level)))
    return q


def _eligible(
    agreement: Agreement,
    m: Metric,
    t: str,
    verified: Mapping[tuple[str, str], _Verified],
    est: Mapping[str, _EstimateValues],
) -> dict[str, Any]:
    """Rule arithmetic for one cell, before caps."""
    r = m.rule
    q = _gate(agreement, m, t, verified)
    y = b = effect = None
    eid = None
    if isinstance(r, PerUnitAboveBaseline):
        y = verified[(m.id, t)].value
        b, eid = _baseline_value(agreement.baselines[r.baseline], t, verified, est)
        units = max(_ZERO, y - b)
        price = r.price_cents
    elif isinstance(r, LinearBand):
        y = verified[(m.id, t)].value
        b = r.threshold
        units = max(_ZERO, min(_ONE, divide(y - r.threshold, r.target - r.threshold)))
        price = r.amount_cents if r.amount_cents is not None else m.cap_cents
        assert price is not None
    elif isinstance(r, Step):
        y = verified[(m.id, t)].value
        b = r.target
        units = _ONE if y >= r.target else _ZERO
        price = r.bonus_cents
    elif isinstance(r, ImpactBased):
        eid = r.estimate[t]
        effect = _pick(est[eid], r.use)
        n = r.n if r.n is not None else verified[(r.n_metric, t)].value
        y = n
        called = est[eid].significance
        paid_effect = (
            _ZERO if r.require_significance and called != "distinguishable" else max(_ZERO, effect)
        )
        units = n * paid_effect
        price = r.price_cents
    else:  # pragma: no cover - non-paying metrics are skipped by the caller
        raise AssertionError(r)
    exact, cents = product_cents(price, units, q, rounding=agreement.rounding)
    srcs = []
    if (m.id, t) in verified:
        srcs.append(verified[(m.id, t)].source)
    if isinstance(r, ImpactBased) and r.n_metric is not None:
        srcs.append(f"N: {verified[(r.n_metric, t)].source}")
    if eid is not None:
        srcs.append(f"estimate: {eid}")
    for gid in r.gates:
        srcs.append(f"gate {gid}: {verified[(agreement.gates[gid].metric, t)].source}")
    return {
        "y": y,
        "b": b,
        "effect": effect,
        "estimate_id": eid,
        "units": units,
        "gate": q,
        "price": price,
        "exact": exact,
        "eligible": cents,
        "source": "; ".join(srcs),
        "significance": est[eid].significance if isinstance(r, ImpactBased) else None,
    }


def compute_payments(
    agreement: Agreement, verified_metrics: pd.DataFrame, estimates: Mapping[str, Any] | None = None
) -> PaymentResult:
    """Compute the payable amount per metric and period under ``agreement``.

    Parameters
    ----------
    agreement
        From :func:`~analysis.siinc.load_agreement`.
    verified_metrics
        One row per (metric, period): ``metric``, ``period``, ``value``, ``source``; see
        :func:`validate_verified_metrics` for the rules.
    estimates
        ``{estimate id: Estimate}`` for ``impact_based`` rules and ``counterfactual``
        baselines (anything with ``.estimate``, ``.ci_low``, ``.ci_high``).

    Returns
    -------
    PaymentResult

    Raises
    ------
    DataValidationError
        If a verified value or an estimate the payment needs is missing or malformed.
    """
    verified = validate_verified_metrics(verified_metrics, agreement)
    est = validate_estimates(estimates, agreement)
    total_cap = agreement.caps.total_cents
    paid_metric: dict[str, int] = {m.id: 0 for m in agreement.metrics}
    paid_total = 0
    cells: list[PaymentCell] = []
    period_totals: list[PeriodTotal] = []
    for t in agreement.period_ids:
        active = [m for m in agreement.metrics if m.pays and t in m.periods]
        raw = [_eligible(agreement, m, t, verified, est) for m in active]
        after = []
        for m, c in zip(active, raw, strict=True):
            room = (m.cap_cents - paid_metric[m.id]) if m.cap_cents is not None else None
            after.append(c["eligible"] if room is None else min(c["eligible"], room))
        claimed = sum(after)
        period_cap = agreement.caps.per_period.get(t)
        total_room = total_cap - paid_total
        pay_t = min(claimed, total_room, period_cap if period_cap is not None else claimed)
        binding = []
        if pay_t < claimed:
            if period_cap is not None and period_cap == pay_t:
                binding.append("period")
            if total_room == pay_t:
                binding.append("total")
        shares = allocate(pay_t, after, agreement.allocation)
        paid_total += pay_t
        for m, c, a, s in zip(active, raw, after, shares, strict=True):
            parts = []
            if a < c["eligible"]:
                parts.append("metric")
            if s < a:
                parts.extend(binding)
            paid_metric[m.id] += s
            rooms = [total_cap - paid_total]
            if m.cap_cents is not None:
                rooms.append(m.cap_cents - paid_metric[m.id])
            cells.append(
                PaymentCell(
                    metric=m.id,
                    period=t,
                    rule=m.rule.type,
                    y=c["y"],
                    b=c["b"],
                    effect=c["effect"],
                    estimate_id=c["estimate_id"],
                    units_paid=c["units"],
                    gate=c["gate"],
                    price_cents=c["price"],
                    eligible_exact_cents=c["exact"],
                    eligible_cents=c["eligible"],
                    after_metric_cap_cents=a,
                    payable_cents=s,
                    cap_applied="+".join(parts) or "none",
                    cumulative_paid_cents=paid_metric[m.id],
                    remaining_headroom_cents=min(rooms),
                    source=c["source"],
                    significance=c["significance"],
                )
            )
        period_totals.append(
            PeriodTotal(
                period=t,
                eligible_cents=sum(c["eligible"] for c in raw),
                after_metric_caps_cents=claimed,
                period_cap_cents=period_cap,
                payable_cents=pay_t,
                cap_applied="+".join(binding) or "none",
                cumulative_paid_cents=paid_total,
                remaining_total_headroom_cents=total_cap - paid_total,
            )
        )
    return PaymentResult(agreement=agreement, cells=tuple(cells), periods=tuple(period_totals))
