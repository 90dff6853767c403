"""Tables, figures and plain words for the SIINC payment report (notebook 05).

Everything here formats what :mod:`analysis.siinc` computes; no payment arithmetic is done
here. Amounts come from :class:`~analysis.siinc.PaymentResult` (exact integer cents) and are
shown in euros.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis import paths
from analysis.errors import DataValidationError
from analysis.siinc.agreement import (
    Agreement,
    ImpactBased,
    LinearBand,
    PerUnitAboveBaseline,
    Step,
    load_agreement,
)
from analysis.siinc.engine import PaymentCell, PaymentResult
from analysis.siinc.example import IllustrativeInputs
from analysis.siinc.money import ROUNDINGS, format_eur

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "agreement_text",
    "arithmetic_lines",
    "arithmetic_text",
    "audit_caption",
    "audit_table",
    "auditor_paragraph",
    "calendar_caption",
    "estimates_caption",
    "estimates_table",
    "headline",
    "load_for_report",
    "opening_notes",
    "payable_figure_caption",
    "payable_vs_cap_figure",
    "recap_parts",
    "recap_rules_caption",
    "recap_table",
    "recap_what_caption",
    "results",
    "sensitivity_caption",
    "sensitivity_figure",
    "sensitivity_figure_caption",
    "sensitivity_range",
    "sensitivity_table",
    "totals_caption",
    "totals_table",
    "verified_caption",
    "verified_table",
]


def load_for_report(agreement: str | Path, *, rounding: str | None = None) -> Agreement:
    """Load an agreement for a report; a relative path is read from the repository root.

    Parameters
    ----------
    agreement
        Path of the agreement YAML (e.g. ``"config/siinc.yaml"``).
    rounding
        ``None`` keeps the agreement's rounding rule; ``"half_even"`` or ``"half_up"``
        replaces it (a deviation from the agreement that the report must state).
    """
    p = Path(agreement)
    a = load_agreement(p if p.is_absolute() else paths.ROOT / p)
    if rounding is None:
        return a
    if rounding not in ROUNDINGS:
        raise DataValidationError(
            "rounding (notebook parameter)",
            f"must be one of {', '.join(ROUNDINGS)} or None, got {rounding!r}",
        )
    return replace(a, rounding=rounding)


def opening_notes(
    agreement: Agreement, *, path: str | Path, rounding: str | None = None
) -> list[tuple[str, str]]:
    """The notes that open the report, as (text, kind) pairs.

    The agreement's status line (a warning unless the agreement is signed) and, when the run
    overrides the agreement's rounding rule, a warning naming both rules.
    """
    notes = [(agreement.status_line(), "warning" if agreement.is_illustrative else "info")]
    if rounding is not None:
        written = load_for_report(path).rounding
        notes.append(
            (
                f"Rounding rule overridden by the run's parameters: {rounding} (the agreement "
                f"says {written}).",
                "warning",
            )
        )
    return notes


def agreement_text(agreement: Agreement) -> str:
    """Markdown: the agreement's title, file, status, currency, rounding and note."""
    a = agreement
    return (
        f"**Agreement:** {a.title} (`{a.source}`), status **{a.status}**, currency "
        f"{a.currency}, rounding {a.rounding.replace('_', ' ')} at the cent, binding caps "
        f"shared {a.allocation.replace('_', ' ')}.  \n**Note in the agreement:** {a.note}"
    )


def _price(rule: Any) -> str | None:
    if isinstance(rule, PerUnitAboveBaseline | ImpactBased):
        return format_eur(rule.price_cents) + " per unit"
    if isinstance(rule, LinearBand):
        return (
            format_eur(rule.amount_cents) if rule.amount_cents is not None else "the metric cap"
        ) + " at the target"
    if isinstance(rule, Step):
        return format_eur(rule.bonus_cents) + " bonus"
    return None


def recap_table(agreement: Agreement) -> pd.DataFrame:
    """Contract recap, one row per metric (background note §5.2, item 1).

    Columns: metric, definition, unit, eligible cohort, data source, rule, baseline /
    threshold, price, quality gate, metric cap, verified in (periods).
    """
    rows = []
    for m in agreement.metrics:
        r = m.rule
        if isinstance(r, PerUnitAboveBaseline):
            base = agreement.baselines[r.baseline].describe()
        elif isinstance(r, LinearBand):
            base = f"threshold {r.threshold}, target {r.target} {m.unit}"
        elif isinstance(r, Step):
            base = f"target {r.target} {m.unit}"
        elif isinstance(r, ImpactBased):
            bound = {
                "point": "point estimate",
                "lower_ci": "lower 95 % bound",
                "upper_ci": "upper 95 % bound",
            }[r.use]
            base = f"counterfactual: {bound} of {', '.join(sorted(set(r.estimate.values())))}"
        else:
            base = None
        rows.append(
            {
                "metric": m.id,
                "definition": m.definition,
                "unit": m.unit,
                "eligible cohort": m.eligible_cohort,
                "data source": m.data_source,
                "rule": r.describe(m.unit),
                "baseline / threshold": base,
                "price": _price(r),
                "quality gate": "; ".join(agreement.gates[g].describe() for g in r.gates) or None,
                "metric cap": format_eur(m.cap_cents) if m.cap_cents is not None else None,
                "verified in": ", ".join(m.periods),
            }
        )
    return pd.DataFrame(rows)


_RECAP_WHAT = ["metric", "definition", "unit", "eligible cohort", "data source"]
_RECAP_RULES = [
    "metric",
    "rule",
    "baseline / threshold",
    "price",
    "quality gate",
    "metric cap",
    "verified in",
]


def recap_parts(agreement: Agreement) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The contract recap in two tables: what each metric measures, and how it is paid."""
    recap = recap_table(agreement)
    return recap[_RECAP_WHAT], recap[_RECAP_RULES]


def recap_what_caption(agreement: Agreement) -> str:
    """Caption of the first recap table (what each metric measures)."""
    return (
        "Contract recap (1 of 2): what each metric measures, for whom, and from which "
        f"evidence. Source: {agreement.source} ({agreement.status}: every number is an "
        "assumption)."
    )


def recap_rules_caption(agreement: Agreement) -> str:
    """Caption of the second recap table (how each metric is paid)."""
    return (
        "Contract recap (2 of 2): payment rule, baseline or threshold, price, quality gate, "
        "cap over all periods and verification periods of each metric. Source: "
        f"{agreement.source} ({agreement.status}: every number is an assumption)."
    )


def calendar_caption(agreement: Agreement) -> str:
    """Caption of the verification calendar (:meth:`Agreement.calendar`)."""
    return (
        "Verification calendar and caps per period. Total ceiling over all periods: "
        f"{format_eur(agreement.caps.total_cents)}. Payable amounts are limited in this "
        "order: the metric cap (over all periods), then the period cap, then the total "
        f"ceiling. Source: {agreement.source} ({agreement.status})."
    )


def _roles(agreement: Agreement) -> dict[str, list[str]]:
    roles: dict[str, list[str]] = {m.id: [] for m in agreement.metrics}
    for m in agreement.metrics:
        r = m.rule
        if m.pays:
            roles[m.id].append("paid")
        for g in r.gates:
            roles[agreement.gates[g].metric].append(f"quality gate of {m.id}")
        if isinstance(r, ImpactBased) and r.n_metric is not None:
            roles[r.n_metric].append(f"N of {m.id}")
    return roles


def verified_table(agreement: Agreement, verified_metrics: pd.DataFrame) -> pd.DataFrame:
    """Verified metrics with their unit, their role in the payment and their evidence.

    Columns: metric, period, value, unit, role (paid, quality gate of …, N of …), source.
    """
    roles = _roles(agreement)
    units = {m.id: m.unit for m in agreement.metrics}
    out = verified_metrics[["metric", "period", "value", "source"]].copy()
    out.insert(3, "unit", out["metric"].map(units))
    out.insert(4, "role", out["metric"].map(lambda k: "; ".join(roles.get(k, [])) or "—"))
    return out.reset_index(drop=True)


def verified_caption(agreement: Agreement) -> str:
    """Caption of the verified-metrics table."""
    return (
        "Verified metrics per period: value, unit, role in the payment and evidence. "
        "ILLUSTRATIVE: made-up example values from the illustrative_example block of "
        f"{agreement.source}, not observations."
    )


def estimates_caption() -> str:
    """Caption of the impact-estimates table."""
    return (
        "Impact estimates read by the agreement: point estimate, standard error and 95 % "
        "confidence interval, and which rule uses which bound. ILLUSTRATIVE: made-up numbers, "
        "not a result of the impact evaluation."
    )


def estimates_table(agreement: Agreement, estimates: Mapping[str, Any]) -> pd.DataFrame:
    """Impact estimates read by the agreement: value, CI and what the agreement uses.

    Columns: estimate, description, units, point, se, ci_low, ci_high, used by, method.
    """
    uses: dict[str, list[str]] = {}
    for m in agreement.metrics:
        if isinstance(m.rule, ImpactBased):
            for eid in set(m.rule.estimate.values()):
                uses.setdefault(eid, []).append(f"{m.id} ({m.rule.use})")
    rows = []
    for eid, decl in agreement.estimates.items():
        e = estimates.get(eid)
        rows.append(
            {
                "estimate": eid,
                "description": decl.description,
                "units": decl.units,
                "point": getattr(e, "estimate", float("nan")),
                "se": getattr(e, "se", float("nan")),
                "ci_low": getattr(e, "ci_low", float("nan")),
                "ci_high": getattr(e, "ci_high", float("nan")),
                "used by": ", ".join(uses.get(eid, [])) or "—",
                "method": getattr(e, "method", "not supplied"),
            }
        )
    return pd.DataFrame(rows)


def audit_table(result: PaymentResult) -> pd.DataFrame:
    """The payment table per metric × period (background note §5.2, item 4), in euros.

    Columns: metric, period, Y, B, Y − B, gate Q, price, units paid, eligible, cap applied,
    payable, cumulative paid, headroom (the rule of each metric is in :func:`recap_table`). ``B`` is the baseline (θ for a linear band, τ for a
    step; empty for impact-based rules, whose ``Y`` is the count N); ``price`` is the price
    per unit, the band amount or the bonus; ``headroom`` is what the metric can still
    receive (the smaller of its cap and the total ceiling, minus what has been paid).
    """
    t = result.table()
    out = pd.DataFrame(
        {
            "metric": t["metric"],
            "period": t["period"],
            "Y": t["Y"],
            "B": t["B"],
            "Y − B": t["Y_minus_B"],
            "gate Q": t["gate"],
            "price (€)": t["price"],
            "units paid": t["units_paid"],
            "eligible (€)": t["eligible"],
            "cap applied": t["cap_applied"],
            "payable (€)": t["payable"],
            "cumulative paid (€)": t["cumulative_paid"],
            "headroom (€)": t["remaining_headroom"],
        }
    )
    return out


def audit_caption(agreement: Agreement) -> str:
    """Caption of the payment (audit) table."""
    return (
        "Payment table per metric × period. Y: verified value (N for impact-based rules); "
        "B: baseline (threshold θ for a linear band, target τ for a step); gate Q: quality "
        "multiplier; units paid: what the price multiplies; amounts in euro. "
        f"{agreement.status}: not payment amounts. Source: {agreement.source}; "
        "analysis.siinc.compute_payments."
    )


def totals_caption(agreement: Agreement) -> str:
    """Caption of the totals table."""
    return (
        "Totals per verification period and overall (euro): eligible amount, after metric "
        "caps, period cap, payable, cumulative and remaining headroom under the total ceiling "
        f"of {format_eur(agreement.caps.total_cents)}. {agreement.status}."
    )


def totals_table(result: PaymentResult) -> pd.DataFrame:
    """Per-period totals and the overall total (euros)."""
    t = result.totals()
    return pd.DataFrame(
        {
            "period": t["period"],
            "eligible (€)": t["eligible"],
            "after metric caps (€)": t["after_metric_caps"],
            "period cap (€)": t["period_cap"],
            "cap applied": t["cap_applied"],
            "payable (€)": t["payable"],
            "cumulative paid (€)": t["cumulative_paid"],
            "headroom under the ceiling (€)": t["remaining_total_headroom"],
        }
    )


def sensitivity_table(sens: pd.DataFrame) -> pd.DataFrame:
    """Scenario, what changes, total payable, change against the agreement (€ and %)."""
    return pd.DataFrame(
        {
            "scenario": sens["scenario"],
            "what changes": sens["description"],
            "total payable (€)": sens["total_payable"],
            "change vs agreement (€)": sens["change_vs_agreement"],
            "change (%)": 100 * sens["change_pct"],
        }
    )


def sensitivity_caption(agreement: Agreement) -> str:
    """Caption of the sensitivity table."""
    return (
        "Total payable over all periods under alternative modelling choices, and the change "
        f"against the agreement as written (euro and %). {agreement.status}: made-up inputs. "
        "Method: analysis.siinc.sensitivity."
    )


def sensitivity_range(sens: pd.DataFrame) -> dict[str, Any]:
    """Lowest and highest total payable across scenarios (euros, exact from cents)."""
    lo = sens.loc[sens["total_payable_cents"].idxmin()]
    hi = sens.loc[sens["total_payable_cents"].idxmax()]
    return {
        "min": int(lo["total_payable_cents"]) / 100,
        "min_scenario": str(lo["scenario"]),
        "max": int(hi["total_payable_cents"]) / 100,
        "max_scenario": str(hi["scenario"]),
        "spread": (int(hi["total_payable_cents"]) - int(lo["total_payable_cents"])) / 100,
    }


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------


def payable_vs_cap_figure(result: PaymentResult) -> Figure:
    """Payable per period (stacked by metric) against the eligible amount and the caps.

    Left: per period, the payable amount stacked by metric, the eligible amount before caps
    (outline) and the period cap (black tick). Right: cumulative payable against the total
    ceiling. The title carries the agreement's status.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    a = result.agreement
    periods = list(a.period_ids)
    x = np.arange(len(periods))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.3), gridspec_kw={"width_ratios": [3, 2]})
    bottom = np.zeros(len(periods))
    metrics = [m.id for m in a.metrics if m.pays]
    for i, mid in enumerate(metrics):
        vals = np.array(
            [
                sum(c.payable_cents for c in result.cells if c.metric == mid and c.period == t)
                / 100
                for t in periods
            ]
        )
        if vals.any():
            ax.bar(x, vals, 0.55, bottom=bottom, color=f"C{i}", label=mid)
            bottom += vals
    elig = np.array([p.eligible_cents / 100 for p in result.periods])
    ax.bar(
        x,
        elig,
        0.55,
        fill=False,
        edgecolor="black",
        linestyle="--",
        linewidth=1,
        label="eligible before caps",
    )
    caps = [a.caps.per_period.get(t) for t in periods]
    for xi, c in zip(x, caps, strict=True):
        if c is not None:
            ax.hlines(c / 100, xi - 0.38, xi + 0.38, color="black", linewidth=2.5)
    ax.plot([], [], color="black", linewidth=2.5, label="period cap")
    ax.set_xticks(x, periods)
    ax.set_xlabel("verification period")
    ax.set_ylabel("euro")
    ax.set_title("Payable by metric vs period cap")
    top = max([*(c / 100 for c in caps if c is not None), *elig, 1.0])
    ax.set_ylim(0, top * 1.45)
    ax.legend(fontsize="x-small", loc="upper left", ncol=2)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"€{v:,.0f}"))
    cum = np.array([p.cumulative_paid_cents / 100 for p in result.periods])
    ax2.plot(x, cum, marker="o", label="cumulative payable")
    ax2.axhline(
        a.caps.total_cents / 100,
        color="black",
        linewidth=1.5,
        label=f"total ceiling {format_eur(a.caps.total_cents)}",
    )
    ax2.set_xticks(x, periods)
    ax2.set_ylim(0, a.caps.total_cents / 100 * 1.1)
    ax2.set_xlabel("verification period")
    ax2.set_title("Cumulative payable vs total ceiling")
    ax2.legend(fontsize="x-small", loc="lower right")
    ax2.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"€{v:,.0f}"))
    if a.status != "SIGNED":
        fig.suptitle(f"{a.status} agreement — not payment amounts", fontsize=10, color="darkred")
    fig.tight_layout()
    return fig


def payable_figure_caption(agreement: Agreement) -> str:
    """Caption of :func:`payable_vs_cap_figure`."""
    return (
        "Left: payable amount per verification period, stacked by metric, against the "
        "eligible amount before caps (dashed outline) and the period cap (black bar). Right: "
        f"cumulative payable against the total ceiling. Euro. {agreement.status} agreement "
        f"({agreement.source}) with made-up verified values: not payment amounts."
    )


def sensitivity_figure_caption(agreement: Agreement, sens: pd.DataFrame) -> str:
    """Caption of :func:`sensitivity_figure`, with the range of the totals."""
    rng = sensitivity_range(sens)
    return (
        "Total payable per scenario (euro); dashed line: the agreement as written. Range "
        f"€{rng['min']:,.2f}–€{rng['max']:,.2f}. {agreement.status} agreement with made-up "
        "inputs: not payment amounts."
    )


def sensitivity_figure(sens: pd.DataFrame, *, status: str = "ILLUSTRATIVE") -> Figure:
    """Total payable per scenario (horizontal bars), the agreement's total as a line."""
    import matplotlib.pyplot as plt

    s = sens.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(s) + 1.4))
    colours = ["grey" if n == "agreement" else "C0" for n in s["scenario"]]
    ax.barh(s["scenario"], s["total_payable"], color=colours)
    base = float(sens.loc[sens["scenario"] == "agreement", "total_payable"].iloc[0])
    ax.axvline(base, color="black", linestyle="--", linewidth=1)
    for y, v in enumerate(s["total_payable"]):
        ax.text(
            v,
            y,
            f" €{v:,.2f}",
            va="center",
            fontsize=8,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
        )
    ax.set_xlabel("total payable over all periods (euro)")
    ax.set_xlim(0, float(s["total_payable"].max()) * 1.25)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"€{v:,.0f}"))
    if status != "SIGNED":
        ax.set_title(f"{status} agreement — sensitivity of the total payable", fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# Plain words
# --------------------------------------------------------------------------------------


def _num(x: Decimal | None) -> str:
    if x is None:
        return "—"
    s = format(x.normalize(), "f") if x == x.to_integral() else format(x, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def arithmetic_lines(result: PaymentResult) -> list[str]:
    """One sentence per metric × period that an auditor can recompute by hand."""
    a = result.agreement
    lines = []
    for c in result.cells:
        lines.append(_cell_line(a, c))
    return lines


def arithmetic_text(result: PaymentResult) -> str:
    """Markdown: the arithmetic of every metric × period, one bullet each."""
    lines = "\n".join(f"- {line}" for line in arithmetic_lines(result))
    return "**The arithmetic, line by line**\n\n" + lines


def _cell_line(a: Agreement, c: PaymentCell) -> str:
    m = a.metric(c.metric)
    r = m.rule
    price = format_eur(c.price_cents)
    gate = "" if c.gate == 1 else f" × quality gate {_num(c.gate)}"
    if isinstance(r, PerUnitAboveBaseline):
        calc = (
            f"verified {_num(c.y)} {m.unit} against a baseline of {_num(c.b)}: "
            f"{_num(c.units_paid)} above baseline × {price}{gate}"
        )
    elif isinstance(r, LinearBand):
        calc = (
            f"verified {_num(c.y)} {m.unit}, {_num(c.units_paid)} of the way from "
            f"{_num(r.threshold)} to {_num(r.target)} × {price}{gate}"
        )
    elif isinstance(r, Step):
        hit = "reached" if c.units_paid > 0 else "not reached"
        calc = (
            f"verified {_num(c.y)} {m.unit}, target {_num(r.target)} {hit}: "
            f"bonus {price} × {_num(c.units_paid)}{gate}"
        )
    elif isinstance(r, ImpactBased):
        bound = {
            "point": "point estimate",
            "lower_ci": "lower 95 % bound",
            "upper_ci": "upper 95 % bound",
        }[r.use]
        calc = (
            f"N = {_num(c.y)} × {bound} of {c.estimate_id} ({_num(c.effect)}, "
            f"0 if negative) = {_num(c.units_paid)} units × {price}{gate}"
        )
    else:  # pragma: no cover - non-paying metrics have no cell
        calc = r.describe(m.unit)
    text = f"{c.metric} ({c.period}): {calc} = {format_eur(c.eligible_cents)} eligible"
    if c.cap_applied == "none":
        text += f"; no cap binds, so {format_eur(c.payable_cents)} is payable."
    else:
        text += (
            f"; the {c.cap_applied.replace('+', ' and ')} cap(s) reduce it to "
            f"{format_eur(c.payable_cents)} payable."
        )
    return text


def _bound_sentence(sens: pd.DataFrame) -> str:
    by = sens.set_index("scenario")["total_payable_cents"]
    point, low = "estimates: point", "estimates: conservative CI bound"
    if point not in by or low not in by:
        return ""
    diff = int(by[point]) - int(by[low])
    return (
        f" Paying on the point estimate of the impact instead of its conservative 95 % "
        f"bound changes the total by {format_eur(diff)}."
    )


def auditor_paragraph(result: PaymentResult, sens: pd.DataFrame | None = None) -> str:
    """Plain-words account of the payment: status, per period, total, sensitivity."""
    a = result.agreement
    parts = []
    if a.status != "SIGNED":
        parts.append(f"**{a.status.capitalize()} only.** {a.status_line()}")
    per = "; ".join(
        f"{p.period} {format_eur(p.payable_cents)}"
        + ("" if p.cap_applied == "none" else f" ({p.cap_applied} cap binding)")
        for p in result.periods
    )
    eligible = sum(c.eligible_cents for c in result.cells)
    total = result.total_payable_cents
    parts.append(
        f"Applying the agreement's rules to the verified metrics gives {format_eur(eligible)} "
        f"of eligible amounts and {format_eur(total)} payable over {len(result.periods)} "
        f"verification periods ({per}). That is {total / a.caps.total_cents:.0%} of the "
        f"{format_eur(a.caps.total_cents)} ceiling. Every amount is computed in whole euro "
        f"cents, rounded once per metric and period ({a.rounding.replace('_', ' ')}). The "
        "payment table shows each term, so every total can be recomputed by hand."
    )
    if sens is not None and len(sens) > 1:
        rng = sensitivity_range(sens)
        parts.append(
            f"How much money depends on modelling choices: across the {len(sens)} scenarios "
            f"the total payable ranges from €{rng['min']:,.2f} ({rng['min_scenario']}) to "
            f"€{rng['max']:,.2f} ({rng['max_scenario']}), a spread of "
            f"€{rng['spread']:,.2f}."
            + _bound_sentence(sens)
            + " The baselines and the bound of the impact estimate are therefore choices the "
            "signed agreement must fix in advance, and the evaluator must document how each "
            "was derived."
        )
    return "\n\n".join(parts)


# --------------------------------------------------------------------------------------
# Saved numbers
# --------------------------------------------------------------------------------------


def headline(result: PaymentResult, sens: pd.DataFrame) -> dict[str, float]:
    """The index's numbers: total payable, lowest and highest total across scenarios."""
    rng = sensitivity_range(sens)
    return {
        f"total payable ({result.agreement.status}, €)": float(result.total_payable),
        "lowest total across scenarios (€)": rng["min"],
        "highest total across scenarios (€)": rng["max"],
    }


def results(
    agreement: Agreement,
    inputs: IllustrativeInputs,
    result: PaymentResult,
    sens: pd.DataFrame,
) -> dict[str, Any]:
    """Everything ``analysis verify`` compares: agreement, inputs, payments, sensitivity."""
    return {
        "agreement": agreement,
        "verified_metrics": inputs.verified_metrics,
        "estimates": dict(inputs.estimates),
        "payments": result,
        "totals": result.totals(),
        "sensitivity": sens,
        "sensitivity_range": sensitivity_range(sens),
        "total_payable_cents": result.total_payable_cents,
    }
