"""Tables, figures and words of the SIINC payment report and verification dossier (notebook 05).

Everything here formats what :mod:`analysis.siinc` computes (the payments, the named impact
inputs, the checks of each period, the small-count rule); no payment arithmetic is done here.
Amounts come from :class:`~analysis.siinc.PaymentResult` (exact integer cents) and are shown in
euros with :func:`analysis.i18n.money`. Every sentence is an :func:`~analysis.i18n.t` message
(domain ``siinc``); texts of the agreement are shown in the language of the page from the
agreement's ``it:`` blocks (:class:`AgreementText`). Tables hold codes, numbers and category
words only, so that their downloads stay plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis import i18n, paths
from analysis.errors import DataValidationError
from analysis.facts import programme_facts
from analysis.i18n import N_, Msg, date, integer, money, num, pct, t, term
from analysis.siinc.agreement import (
    Agreement,
    ImpactBased,
    LinearBand,
    Metric,
    PerUnitAboveBaseline,
    Step,
    load_agreement,
)
from analysis.siinc.dossier import Check, Dossier, ImpactInput, ShownCount, shown_count
from analysis.siinc.engine import PaymentCell, PaymentResult
from analysis.siinc.money import ROUNDINGS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "AgreementText",
    "agreement_text",
    "arithmetic_lines",
    "arithmetic_text",
    "attestation_amounts_table",
    "attestation_text",
    "audit_amounts_table",
    "audit_caption",
    "audit_terms_table",
    "calendar_caption",
    "calendar_table",
    "checks_text",
    "design_table",
    "headline",
    "headline_text",
    "impact_text",
    "indicator_sheet",
    "load_for_report",
    "opening_notes",
    "payable_figure_caption",
    "payable_figures",
    "payable_vs_cap_figure",
    "recap_caption",
    "recap_table",
    "results",
    "sensitivity_caption",
    "sensitivity_figure",
    "sensitivity_figures",
    "sensitivity_figure_caption",
    "sensitivity_range",
    "sensitivity_table",
    "sensitivity_text",
    "summary_fields",
    "suppression_text",
    "totals_caption",
    "totals_table",
    "verified_caption",
    "verified_table",
]


# --------------------------------------------------------------------------------------
# Texts of the agreement, in the language of the page
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementText(Msg):
    """A text of the agreement file, with its Italian from the agreement's ``it:`` block.

    Rendered in English as written; in Italian from ``italian``, or through the catalogs when
    the agreement gives none (which records the text as missing, so the page's
    ``page.untranslated`` shows it).
    """

    italian: str | None = None

    def render(self, lang: str) -> str:
        """The text in ``lang``."""
        if lang == i18n.SOURCE_LANGUAGE:
            return self.msgid
        if lang == "it" and self.italian:
            return self.italian
        return i18n.gettext(self.msgid, lang)


@dataclass(frozen=True)
class _Joined(Msg):
    """Messages joined by ``sep`` in every language, usable as a value of another message.

    (:func:`analysis.i18n.join` returns a ``Concat``, which a message's placeholder renders in
    English; this one renders in the language of the page.) Plain strings are inserted as they
    are, not looked up.
    """

    parts: tuple[Any, ...] = ()
    sep: str = " "

    def render(self, lang: str) -> str:
        """The parts rendered in ``lang`` and joined."""
        return self.sep.join(
            p if isinstance(p, str) else i18n.format_value(p, lang) for p in self.parts
        )


@dataclass(frozen=True)
class _Code(Msg):
    """A scenario id: translated when the catalogs have it (built-in ids), else shown as is."""

    def render(self, lang: str) -> str:
        """The id in ``lang`` if translated, else the id."""
        return (
            i18n.gettext(self.msgid, lang) if i18n.has_translation(self.msgid, lang) else self.msgid
        )


def _join(parts: Any, sep: str = " ") -> _Joined:
    return _Joined("", {}, tuple(parts), sep)


def _text(en: str, it_texts: Mapping[str, Any], key: str) -> AgreementText:
    it = it_texts.get(key)
    return AgreementText(
        " ".join(str(en).split()), {}, None if it is None else " ".join(str(it).split())
    )


def _metric_name(m: Metric) -> AgreementText:
    return _text(m.dossier.get("name", m.id), m.texts_it, "name")


def _metric_field(m: Metric, key: str) -> AgreementText | None:
    en = (
        getattr(m, key, None)
        if key in ("definition", "unit", "data_source", "eligible_cohort")
        else m.dossier.get(key)
    )
    return None if en is None else _text(en, m.texts_it, key)


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


_ROUNDING_WORDS = {"half_even": N_("half to even"), "half_up": N_("half up")}
_ALLOCATION_WORDS = {"pro_rata": N_("pro rata"), "metric_order": N_("in the order of the metrics")}
_STATUS_WORDS = {"ILLUSTRATIVE": N_("ILLUSTRATIVE"), "DRAFT": N_("DRAFT"), "SIGNED": N_("SIGNED")}


def _status(a: Agreement) -> Msg:
    return term(_STATUS_WORDS[a.status])


def status_line(agreement: Agreement) -> Msg:
    """The line a page shows next to any payment figure."""
    if agreement.status == "SIGNED":
        return t(
            "SIGNED agreement ({document}).",
            document=str(agreement.metadata.get("source_document", "")),
        )
    return t(
        "{status} agreement: every parameter is an assumption. The parameters of the signed "
        "SIINC agreement are not public; these figures show how the mechanism works and are "
        "not payment amounts.",
        status=_status(agreement),
    )


def opening_notes(
    agreement: Agreement, *, path: str | Path, rounding: str | None = None
) -> list[tuple[Msg, str]]:
    """The notes that open the report, as (text, kind) pairs.

    The agreement's status line (a warning unless the agreement is signed) and, when the run
    overrides the agreement's rounding rule, a warning naming both rules.
    """
    notes: list[tuple[Msg, str]] = [
        (status_line(agreement), "warning" if agreement.is_illustrative else "info")
    ]
    if rounding is not None:
        written = load_for_report(path).rounding
        notes.append(
            (
                t(
                    "Rounding rule overridden by the run's parameters: {rule} (the agreement "
                    "says {written}).",
                    rule=term(_ROUNDING_WORDS[rounding]),
                    written=term(_ROUNDING_WORDS[written]),
                ),
                "warning",
            )
        )
    return notes


def agreement_text(agreement: Agreement) -> Msg:
    """Markdown: the agreement's title, file, version, status, currency and rounding."""
    a = agreement
    meta_it = a.metadata.get("it") or {}
    return t(
        "**Agreement:** {title} (`{source}`, version {version}), status **{status}**, currency "
        "{currency}, rounded {rounding} at the cent, binding caps shared {allocation}.",
        title=_text(a.title, meta_it, "title"),
        source=a.source,
        version=str(a.metadata.get("version", "–")),
        status=_status(a),
        currency=a.currency,
        rounding=term(_ROUNDING_WORDS[a.rounding]),
        allocation=term(_ALLOCATION_WORDS[a.allocation]),
    )


# --------------------------------------------------------------------------------------
# Words for rules, baselines, gates
# --------------------------------------------------------------------------------------

_RULE_WORDS = {
    "per_unit_above_baseline": N_("per unit above baseline"),
    "linear_band": N_("linear band"),
    "step": N_("step"),
    "impact_based": N_("impact-based"),
    "none": N_("not paid"),
}
_BOUND_WORDS = {
    "point": N_("point estimate"),
    "lower_ci": N_("lower 95% bound"),
    "upper_ci": N_("upper 95% bound"),
}
_ROLE_WORDS = {"primary": N_("primary"), "secondary": N_("secondary")}
_CAP_WORDS = {
    "none": N_("none"),
    "metric": N_("metric cap"),
    "period": N_("period cap"),
    "total": N_("total ceiling"),
    "metric+period": N_("metric and period caps"),
    "metric+total": N_("metric cap and total ceiling"),
    "period+total": N_("period cap and total ceiling"),
    "metric+period+total": N_("metric, period and total caps"),
}


def _dec(x: Decimal | float | None, digits: int = 2) -> Any:
    if x is None:
        return None
    d = Decimal(str(x))
    return integer(int(d)) if d == d.to_integral_value() else num(float(d), digits)


def _eur(cents: int | None) -> Any:
    return None if cents is None else money(cents / 100)


def rule_text(agreement: Agreement, m: Metric) -> Msg:
    """The payment rule of a metric in words."""
    r = m.rule
    unit = _metric_field(m, "unit")
    if isinstance(r, PerUnitAboveBaseline):
        return t(
            "{price} per unit ({unit}) above the baseline `{baseline}`",
            price=_eur(r.price_cents),
            unit=unit,
            baseline=r.baseline,
        )
    if isinstance(r, LinearBand):
        return t(
            "{amount} × the share of the way from {threshold} to {target} ({unit}): nothing "
            "at or below the threshold, all of it at the target",
            amount=_eur(r.amount_cents if r.amount_cents is not None else m.cap_cents),
            threshold=_dec(r.threshold),
            target=_dec(r.target),
            unit=unit,
        )
    if isinstance(r, Step):
        return t(
            "bonus of {bonus} if at least {target} ({unit})",
            bonus=_eur(r.bonus_cents),
            target=_dec(r.target),
            unit=unit,
        )
    if isinstance(r, ImpactBased):
        msg = t(
            "{price} × N (`{n}`) × max(0, {bound} of `{estimate}`)",
            price=_eur(r.price_cents),
            n=r.n_metric or str(r.n),
            bound=term(_BOUND_WORDS[r.use]),
            estimate=", ".join(sorted(set(r.estimate.values()))),
        )
        if r.require_significance:
            return _join(
                [
                    msg,
                    t(
                        "— paid only if the effect is statistically distinguishable from zero "
                        "under the pre-specified rule"
                    ),
                ]
            )
        return msg
    return t("not paid (a verified input to another rule)")


def comparison_text(agreement: Agreement, m: Metric) -> Msg | None:
    """The baseline, threshold or counterfactual a metric is compared with, and its source."""
    r = m.rule
    if isinstance(r, PerUnitAboveBaseline):
        b = agreement.baselines[r.baseline]
        if b.type == "counterfactual":
            return t(
                "counterfactual baseline: {bound} of `{estimate}`",
                bound=term(_BOUND_WORDS[b.use or "point"]),
                estimate=", ".join(sorted(set((b.estimate or {}).values()))),
            )
        vals = sorted({v for v in (b.values or {}).values()})
        how = _text(b.source, b.texts_it, "source") if b.source else t("fixed in the agreement")
        return t(
            "baseline `{id}` = {value} ({unit}); how it was set: {how}",
            id=b.id,
            value=_join([_dec(v) for v in vals], ", "),
            unit=_metric_field(m, "unit"),
            how=how,
        )
    if isinstance(r, LinearBand):
        return t(
            "threshold {threshold}, target {target}",
            threshold=_dec(r.threshold),
            target=_dec(r.target),
        )
    if isinstance(r, Step):
        return t("target {target}", target=_dec(r.target))
    if isinstance(r, ImpactBased):
        return t(
            "counterfactual: the evaluation's estimate of what participants' attendance would "
            "have been without the courses (see the impact input)"
        )
    return None


def gate_text(agreement: Agreement, m: Metric) -> Msg | None:
    """The quality gates of a metric in words (None when it has none)."""
    parts = []
    for gid in m.rule.gates:
        g = agreement.gates[gid]
        if g.type == "threshold":
            parts.append(
                t(
                    "paid only if `{metric}` is at least {level}",
                    metric=g.metric,
                    level=_dec(g.level),
                )
            )
        else:
            parts.append(
                t(
                    "multiplied by min(1, `{metric}` / {level})",
                    metric=g.metric,
                    level=_dec(g.level),
                )
            )
    return _join(parts, "; ") if parts else None  # type: ignore[return-value]


# --------------------------------------------------------------------------------------
# Section 1: the agreement
# --------------------------------------------------------------------------------------


def recap_table(agreement: Agreement) -> pd.DataFrame:
    """One row per metric: code, role, rule type, price or amount, cap, verification periods."""
    rows = []
    for m in agreement.metrics:
        r = m.rule
        price = getattr(r, "price_cents", None)
        if isinstance(r, LinearBand):
            price = r.amount_cents if r.amount_cents is not None else m.cap_cents
        if isinstance(r, Step):
            price = r.bonus_cents
        rows.append(
            {
                N_("Metric"): m.id,
                N_("Role"): _ROLE_WORDS.get(m.dossier.get("role", ""), N_("not stated")),
                N_("Payment rule"): _RULE_WORDS[r.type],
                N_("Price, amount or bonus (€)"): None if price is None else price / 100,
                N_("Metric cap (€)"): None if m.cap_cents is None else m.cap_cents / 100,
                N_("Verified in"): ", ".join(m.periods),
            }
        )
    return pd.DataFrame(rows)


def recap_caption(agreement: Agreement) -> Msg:
    """Caption of :func:`recap_table`."""
    return t(
        "Metrics of the agreement: role, payment rule, price (per unit, band amount or bonus), "
        "cap over all periods and verification periods. Each metric's indicator sheet "
        "(section 4) gives its definition, data, baseline and gates. Source: {source} "
        "({status}: every number is an assumption).",
        source=agreement.source,
        status=_status(agreement),
    )


def calendar_table(agreement: Agreement) -> pd.DataFrame:
    """The verification calendar with each period's cap."""
    return pd.DataFrame(
        [
            {
                N_("Period"): p.id,
                N_("Start"): pd.Timestamp(p.start),
                N_("End"): pd.Timestamp(p.end),
                N_("Verification date"): pd.Timestamp(p.verification_date),
                N_("Period cap (€)"): None
                if agreement.caps.per_period.get(p.id) is None
                else agreement.caps.per_period[p.id] / 100,
            }
            for p in agreement.periods
        ]
    )


def calendar_caption(agreement: Agreement) -> Msg:
    """Caption of the verification calendar."""
    return t(
        "Verification calendar and caps per period. Total ceiling over all periods: {total}. "
        "Payable amounts are limited in this order: the metric cap (over all periods), then the "
        "period cap, then the total ceiling. Source: {source} ({status}).",
        total=_eur(agreement.caps.total_cents),
        source=agreement.source,
        status=_status(agreement),
    )


# --------------------------------------------------------------------------------------
# Section 2: verified inputs (small counts banded) and the impact input
# --------------------------------------------------------------------------------------


def _is_count(m: Metric) -> bool:
    hi = m.value_range[1]
    return hi is not None and hi > 1


def _shown(sc: ShownCount) -> Any:
    """A banded count as a table cell: "< 10" (symbols read alike in both languages)."""
    if sc.kind == "below":
        return f"< {sc.value}"
    return sc.value


def _shown_msg(sc: ShownCount) -> Any:
    if sc.kind == "below":
        return t("fewer than {k}", k=integer(sc.value))
    return integer(sc.value)


def _value_shown(d: Dossier, m: Metric, period: str, value: Any) -> ShownCount | None:
    """The small-count rule for a verified count (None: not a count of a population)."""
    pid = m.dossier.get("population")
    if not _is_count(m) or pid is None or value is None:
        return None
    return shown_count(int(Decimal(str(value))), k=d.spec.k)


def _roles(agreement: Agreement) -> dict[str, str]:
    roles: dict[str, str] = {}
    for m in agreement.metrics:
        if m.pays:
            roles.setdefault(m.id, N_("paid"))
        for g in m.rule.gates:
            roles.setdefault(agreement.gates[g].metric, N_("quality gate"))
        if isinstance(m.rule, ImpactBased) and m.rule.n_metric:
            roles.setdefault(m.rule.n_metric, N_("N of an impact-based rule"))
    return roles


def verified_table(d: Dossier) -> pd.DataFrame:
    """Verified metrics per period (counts banded by the small-count rule) and their role."""
    roles = _roles(d.agreement)
    rows = []
    for r in d.verified_metrics.to_dict("records"):
        m = d.agreement.metric(r["metric"])
        sc = _value_shown(d, m, r["period"], r["value"])
        value = _shown(sc) if sc is not None else float(r["value"])
        rows.append(
            {
                N_("Metric"): r["metric"],
                N_("Period"): r["period"],
                N_("Verified value"): value,
                N_("Role in the payment"): roles.get(r["metric"], N_("none")),
            }
        )
    return pd.DataFrame(rows)


def verified_caption(d: Dossier) -> Msg:
    """Caption of the verified-metrics table."""
    return t(
        "Verified metrics per period and their role in the payment. Counts of youths, pupils "
        "or organisations are banded by the small-count rule (section 6). ILLUSTRATIVE: "
        "made-up example values from the illustrative_example block of {source}, not "
        "observations; the evidence of each value is in the metric's indicator sheet.",
        source=d.agreement.source,
    )


_DESIGN_WORDS = {
    "estimator": N_("estimator"),
    "control_group": N_("comparison group"),
    "covariates": N_("covariates"),
    "base_period": N_("base period"),
    "anticipation": N_("anticipation (years)"),
}


def design_table(inp: ImpactInput) -> pd.DataFrame:
    """The named result's design against the plan's headline design, element by element."""
    return pd.DataFrame(
        [
            {
                N_("Design element"): _DESIGN_WORDS[row["element"]],
                N_("Headline design (analysis plan)"): str(row["plan"]),
                N_("Run read"): "–" if row["run"] is None else str(row["run"]),
                N_("Same"): bool(row["matches"]),
            }
            for row in inp.design
        ]
    )


def design_caption(inp: ImpactInput) -> Msg:
    """Caption of :func:`design_table`."""
    return t(
        "Design of the result read (run {run}) against the headline design of "
        "config/analysis_plan.yaml for the outcome {outcome}.",
        run=inp.run,
        outcome=inp.outcome,
    )


def impact_text(d: Dossier, inp: ImpactInput) -> Msg:
    """Markdown: where the impact input comes from, its conversion and how it is called."""
    decl = d.agreement.estimates[inp.id]
    raw = inp.raw
    parts = [
        t(
            "**Impact input `{id}`** — {description}",
            id=inp.id,
            description=_text(decl.description, decl.texts_it, "description"),
        ),
        t(
            "**Read from:** key `{key}` of the results of run `{run}` (`{file}`, SHA-256 "
            "`{sha}`): {estimand}, outcome `{outcome}`, in {unit}: {est} [{lo}; {hi}].",
            key=inp.key,
            run=inp.run,
            file=inp.file,
            sha=inp.sha256,
            estimand=_text(inp.estimand, decl.texts_it, "estimand"),
            outcome=inp.outcome,
            unit=_text(inp.source_unit, decl.texts_it, "source_unit"),
            est=num(raw["estimate"], 4),
            lo=num(raw["ci_low"], 4),
            hi=num(raw["ci_high"], 4),
        ),
        t(
            "**Conversion into the agreement's unit ({unit}):** × {scale}, so {est} [{lo}; {hi}]. "
            "{why}",
            unit=_text(inp.unit, decl.texts_it, "units"),
            scale=num(inp.scale, 0),
            est=num(inp.estimate, 2),
            lo=num(inp.ci_low, 2),
            hi=num(inp.ci_high, 2),
            why=_text(str(decl.source.get("conversion", "")), decl.texts_it, "conversion"),
        ),
        _join([t("**Significance (config/analysis_plan.yaml):**"), inp.significance.words()]),
    ]
    if inp.simulated:
        parts.append(
            t(
                "**The result read is SIMULATED** (the programme report runs on simulated "
                "pupils until the real records arrive): the amount that depends on it shows "
                "the mechanism, not a payment."
            )
        )
    if not inp.design_matches:
        parts.append(
            t(
                "**The result read does not use the headline design in every element** (table "
                "below): the impact check of the attestation fails until the programme run "
                "uses the pre-specified design."
            )
        )
    return _join(parts, "\n\n")


# --------------------------------------------------------------------------------------
# Section 3: the payment table
# --------------------------------------------------------------------------------------


def _cellnum(x: Decimal | None) -> int | float | None:
    """A number for a table cell: whole numbers as int (no decimals shown), others as float."""
    if x is None:
        return None
    return int(x) if x == x.to_integral_value() else float(x)


def _cell_counts(d: Dossier, c: PaymentCell) -> tuple[Any, Any, Any]:
    """Y, Y − B and units paid as the page shows them (banded with a banded count Y)."""
    m = d.agreement.metric(c.metric)
    if isinstance(m.rule, ImpactBased):
        nm = d.agreement.metric(m.rule.n_metric) if m.rule.n_metric else None
        sc = _value_shown(d, nm, c.period, c.y) if nm is not None else None
        y = _shown(sc) if sc is not None else _cellnum(c.y)
        return y, None, _cellnum(c.units_paid) if sc is None or sc.kind == "exact" else "–"
    sc = _value_shown(d, m, c.period, c.y)
    if sc is not None and sc.kind != "exact":
        return _shown(sc), "–", "–"
    return _cellnum(c.y), _cellnum(c.y_minus_b), _cellnum(c.units_paid)


def audit_terms_table(d: Dossier) -> pd.DataFrame:
    """The terms of each metric × period: Y, B, Y − B, gate Q, units paid, price (€)."""
    rows = []
    for c in d.result.cells:
        y, ymb, units = _cell_counts(d, c)
        rows.append(
            {
                N_("Metric"): c.metric,
                N_("Period"): c.period,
                N_("Y"): y,
                N_("B"): _cellnum(c.b),
                N_("Y − B"): ymb,
                N_("Gate Q"): float(c.gate),
                N_("Units paid"): units,
                N_("Price (€)"): c.price_cents / 100,
            }
        )
    return pd.DataFrame(rows)


def audit_amounts_table(d: Dossier) -> pd.DataFrame:
    """The amounts of each metric × period: eligible, cap applied, payable, cumulative, headroom."""
    return pd.DataFrame(
        [
            {
                N_("Metric"): c.metric,
                N_("Period"): c.period,
                N_("Eligible (€)"): c.eligible_cents / 100,
                N_("Cap applied"): _CAP_WORDS.get(c.cap_applied, c.cap_applied),
                N_("Payable (€)"): c.payable_cents / 100,
                N_("Paid on the metric to date (€)"): c.cumulative_paid_cents / 100,
                N_("Headroom (€)"): None
                if c.remaining_headroom_cents is None
                else c.remaining_headroom_cents / 100,
            }
            for c in d.result.cells
        ]
    )


def audit_caption(agreement: Agreement) -> Msg:
    """Caption of the two payment tables."""
    return t(
        "Payment table per metric and period. Y: verified value (N for impact-based rules); B: "
        "baseline (threshold for a linear band, target for a step); gate Q: quality "
        "multiplier; units paid: what the price multiplies. Counts under the small-count rule "
        "are banded and their differences not shown. {status}: not payment amounts. Source: "
        "{source}; analysis.siinc.compute_payments.",
        status=_status(agreement),
        source=agreement.source,
    )


def audit_amounts_caption(agreement: Agreement) -> Msg:
    """Caption of :func:`audit_amounts_table`."""
    return t(
        "Amounts per metric and period: eligible amount, the cap that reduced it (metric cap "
        "over all periods, period cap, total ceiling), payable amount, what the metric has "
        "received to date and what it can still receive. {status}: not payment amounts.",
        status=_status(agreement),
    )


def totals_table(result: PaymentResult) -> pd.DataFrame:
    """Per-period totals and the overall total (euros)."""
    t_ = result.totals()
    return pd.DataFrame(
        {
            N_("Period"): [N_("total") if p == "total" else p for p in t_["period"]],
            N_("Eligible (€)"): t_["eligible"],
            N_("After metric caps (€)"): t_["after_metric_caps"],
            N_("Period cap (€)"): t_["period_cap"],
            N_("Cap applied"): [_CAP_WORDS.get(c, c) for c in t_["cap_applied"]],
            N_("Payable (€)"): t_["payable"],
            N_("Headroom under the ceiling (€)"): t_["remaining_total_headroom"],
        }
    )


def totals_caption(agreement: Agreement) -> Msg:
    """Caption of the totals table."""
    return t(
        "Totals per verification period and overall: eligible amount, after the metric caps, "
        "period cap, payable and what remains under the total ceiling of {total}. {status}.",
        total=_eur(agreement.caps.total_cents),
        status=_status(agreement),
    )


def _cell_line(d: Dossier, c: PaymentCell) -> Msg:
    a = d.agreement
    m = a.metric(c.metric)
    r = m.rule
    price = _eur(c.price_cents)
    y, ymb, units = _cell_counts(d, c)
    banded = isinstance(y, str)
    y_shown = y if banded else _dec(c.y)
    if isinstance(r, PerUnitAboveBaseline):
        calc = t(
            "verified {y} against a baseline of {b}: {units} above the baseline × {price}",
            y=y_shown,
            b=_dec(c.b),
            units="–" if banded else _dec(c.units_paid),
            price=price,
        )
    elif isinstance(r, LinearBand):
        calc = t(
            "verified {y}, {share} of the way from {lo} to {hi} × {price}",
            y=y_shown,
            share="–" if banded else num(float(c.units_paid), 4),
            lo=_dec(r.threshold),
            hi=_dec(r.target),
            price=price,
        )
    elif isinstance(r, Step):
        calc = t(
            "verified {y}, target {target} {reached}: bonus {price}",
            y=y_shown,
            target=_dec(r.target),
            reached=t("reached") if c.units_paid > 0 else t("not reached"),
            price=price,
        )
    else:
        assert isinstance(r, ImpactBased)
        if r.require_significance and c.significance != "distinguishable":
            eff = t("0 (the effect is not distinguishable from zero)")
        else:
            eff = t(
                "{bound} of `{estimate}` = {effect} (0 if negative)",
                bound=term(_BOUND_WORDS[r.use]),
                estimate=c.estimate_id or "",
                effect=num(float(c.effect or 0), 4),
            )
        calc = t(
            "N = {n} × {effect} = {units} units × {price}",
            n=y_shown,
            effect=eff,
            units=num(float(c.units_paid), 4),
            price=price,
        )
    if c.gate != 1:
        calc = _join([calc, t("× quality gate {q}", q=num(float(c.gate), 4))])
    tail = (
        t("no cap binds, so {payable} is payable.", payable=_eur(c.payable_cents))
        if c.cap_applied == "none"
        else t(
            "the {caps} reduce(s) it to {payable} payable.",
            caps=term(_CAP_WORDS.get(c.cap_applied, c.cap_applied)),
            payable=_eur(c.payable_cents),
        )
    )
    return t(
        "`{metric}` ({period}): {calc} = {eligible} eligible; {tail}",
        metric=c.metric,
        period=c.period,
        calc=calc,
        eligible=_eur(c.eligible_cents),
        tail=tail,
    )


def arithmetic_lines(d: Dossier) -> list[Msg]:
    """One sentence per metric × period that an auditor can recompute by hand."""
    return [_cell_line(d, c) for c in d.result.cells]


def arithmetic_text(d: Dossier) -> Msg:
    """Markdown: the arithmetic of every metric × period, one bullet each."""
    return _join(
        [
            t("**The arithmetic, line by line**"),
            *[_join(["-", x], " ") for x in arithmetic_lines(d)],
        ],
        "\n",
    )


# --------------------------------------------------------------------------------------
# Section 4: indicator sheets (schede indicatore)
# --------------------------------------------------------------------------------------


def _values_by_period(d: Dossier, m: Metric) -> Any:
    if isinstance(m.rule, ImpactBased):
        return _join(
            [
                t(
                    "{period}: N = {n}, {bound} of the effect {effect}",
                    period=c.period,
                    n=_dec(c.y),
                    bound=term(_BOUND_WORDS[m.rule.use]),
                    effect=num(float(c.effect or 0), 2),
                )
                for c in d.result.cells
                if c.metric == m.id
            ],
            "; ",
        )
    vm = d.verified_metrics
    rows = vm[vm["metric"] == m.id].to_dict("records")
    if not rows:
        return t("none verified (see the rule)")
    parts = []
    for r in rows:
        sc = _value_shown(d, m, r["period"], r["value"])
        v = _shown_msg(sc) if sc is not None else _dec(r["value"])
        src = _text(str(r["source"]), {"source": r.get("source_it")}, "source")
        parts.append(
            t("{period}: {value} (evidence: {source})", period=r["period"], value=v, source=src)
        )
    return _join(parts, "; ")


def _payable_by_period(d: Dossier, m: Metric) -> Any:
    cells = [c for c in d.result.cells if c.metric == m.id]
    if not cells:
        return t("nothing (not a paid metric)")
    parts = [t("{period}: {amount}", period=c.period, amount=_eur(c.payable_cents)) for c in cells]
    return _join(parts, "; ")


def _privacy_text(d: Dossier, m: Metric) -> Msg:
    pid = m.dossier.get("population")
    pop = d.spec.populations.get(pid) if pid else None
    if pop is None:
        return t("no count of persons or organisations")
    if pop.personal:
        return t(
            "counts of persons: the small-count rule applies (section 6); records are "
            "pseudonymised and stay with the data owner"
        )
    return t(
        "counts of organisations (legal entities, public registry data): the small-count rule "
        "applies to what the page shows (section 6)"
    )


def indicator_sheet(d: Dossier, m: Metric, number: str) -> Msg:
    """Markdown: the scheda indicatore of one metric (every field of issue 12, in order)."""
    a = d.agreement
    pid = m.dossier.get("population")
    pop = d.spec.populations.get(pid) if pid else None
    population = (
        _text(pop.description, pop.texts_it, "description")
        if pop is not None
        else _metric_field(m, "eligible_cohort")
    )
    na = t("not applicable")
    lines: list[Any] = [
        t("#### {number} `{id}` — {name}", number=number, id=m.id, name=_metric_name(m)),
        t(
            "- **Role:** {role}",
            role=term(_ROLE_WORDS.get(m.dossier.get("role", ""), N_("not stated"))),
        ),
        t("- **Definition:** {text}", text=_metric_field(m, "definition")),
        t("- **Formula:** {text}", text=_metric_field(m, "formula") or t("not stated")),
        t(
            "- **Unit and population:** {unit}; {population}",
            unit=_metric_field(m, "unit"),
            population=population,
        ),
        t(
            "- **Data source and owner:** {source}; owner: {owner}; extraction date: {date}",
            source=_metric_field(m, "data_source"),
            owner=_metric_field(m, "data_owner") or t("not stated"),
            date=_metric_field(m, "extraction_date") or t("not stated"),
        ),
        t(
            "- **Periodicity:** {text} (verified in {periods})",
            text=_metric_field(m, "periodicity") or t("not stated"),
            periods=", ".join(m.periods),
        ),
        t("- **Baseline, comparison or threshold:** {text}", text=comparison_text(a, m) or na),
        t(
            "- **Target:** {text}",
            text=t("{target}", target=_dec(m.rule.target))
            if isinstance(m.rule, LinearBand | Step)
            else na,
        ),
        t("- **Payment rule:** {text}", text=rule_text(a, m)),
        t(
            "- **Price and cap:** {price}; cap over all periods {cap}",
            price=_eur(getattr(m.rule, "price_cents", None))
            if hasattr(m.rule, "price_cents")
            else na,
            cap=_eur(m.cap_cents) if m.cap_cents is not None else t("no cap"),
        ),
        t("- **Quality gates:** {text}", text=gate_text(a, m) or t("no quality gate")),
        t("- **Privacy rule:** {text}", text=_privacy_text(d, m)),
        t("- **Values by period:** {text}", text=_values_by_period(d, m)),
        t("- **Amount payable:** {text}", text=_payable_by_period(d, m)),
    ]
    return _join(lines, "\n")


# --------------------------------------------------------------------------------------
# Section 5: attestazione di verifica per period
# --------------------------------------------------------------------------------------

_CHECK_WORDS = {
    "completeness": N_("Completeness of the records"),
    "attrition": N_("Attrition of participants"),
    "eligibility": N_("Eligibility of the units counted"),
    "late_enrolment": N_("Units enrolled after the baseline date"),
    "exclusions": N_("Exclusions"),
    "consistency": N_("Consistency of the counts with the metrics"),
    "impact_design": N_("Impact input: headline design of the analysis plan"),
    "impact_significance": N_("Impact input: significance rule"),
}
_OUTCOME_WORDS = {
    "passed": N_("passed"),
    "failed": N_("failed"),
    "not applicable": N_("not applicable"),
}


def _count(d: Dossier, c: Check, name: str) -> Any:
    return _shown_msg(shown_count(int(c.numbers[name]), k=d.spec.k))


def check_reason(d: Dossier, c: Check) -> Msg:
    """Why a check passed, failed or does not apply, with the (banded) numbers it used."""
    n = c.numbers
    if c.check == "completeness":
        if "records" in n:
            return t("no record counts were supplied for this population and period")
        if c.outcome == "not applicable":
            return t("the population is empty in this period")
        banded = shown_count(int(n["records_complete"]), k=d.spec.k).kind != "exact"
        return t(
            "{complete} complete records of {expected} ({share}; minimum {limit})",
            complete=_count(d, c, "records_complete"),
            expected=integer(n["expected"]),
            share="–" if banded else pct(100 * n["share"], 1),
            limit=pct(100 * (c.limit or 0), 0),
        )
    if c.check == "attrition":
        if c.outcome == "not applicable":
            return t("no follow-up measurement in this period")
        banded = shown_count(int(n["lost"]), k=d.spec.k).kind != "exact"
        return t(
            "{lost} of {expected} lost to follow-up ({share}; maximum {limit})",
            lost=_count(d, c, "lost"),
            expected=integer(n["expected"]),
            share=t("under {limit}", limit=pct(100 * (c.limit or 0), 0))
            if banded and c.outcome == "passed"
            else ("–" if banded else pct(100 * n["share"], 1)),
            limit=pct(100 * (c.limit or 0), 0),
        )
    if c.check == "eligibility":
        return t(
            "{bad} of the {counted} units counted not eligible",
            bad=_count(d, c, "ineligible_counted"),
            counted=_count(d, c, "counted"),
        )
    if c.check == "late_enrolment":
        if c.outcome == "not applicable":
            return t("the population has no baseline date")
        return t(
            "{late} counted although enrolled after the baseline date",
            late=_count(d, c, "late_counted"),
        )
    if c.check == "exclusions":
        return t(
            "{excluded} excluded, {undocumented} without a documented reason",
            excluded=_count(d, c, "excluded"),
            undocumented=_count(d, c, "undocumented"),
        )
    if c.check == "consistency":
        return t(
            "{over} count metric(s) above the eligible units counted; population size as "
            "expected: {size}",
            over=integer(n["metrics_above_count"]),
            size=bool(n["size_matches"]),
        )
    if c.check == "impact_design":
        if "read" in n:
            return t("the named result could not be read")
        return t(
            "{matching} of {elements} design elements as pre-specified",
            matching=integer(n["matching"]),
            elements=integer(n["elements"]),
        )
    level = str(n.get("level"))
    return t(
        "called {level} by the pre-specified rule; {consequence}",
        level=term(_LEVEL_WORDS.get(level, level)),
        consequence=t("the metric pays only if distinguishable")
        if c.outcome != "not applicable"
        else t("the metric does not depend on it"),
    )


_LEVEL_WORDS = {
    "distinguishable": N_("distinguishable from zero"),
    "borderline": N_("borderline"),
    "not distinguishable": N_("not distinguishable from zero"),
    "undefined": N_("undefined"),
}


def checks_text(d: Dossier, period: str) -> Msg:
    """Markdown list: every check of a period, its outcome and the reason."""
    lines = []
    for c in d.checks:
        if c.period != period:
            continue
        who = f" (`{c.population}`)" if c.population else ""
        lines.append(
            t(
                "- **{check}**{who}: {outcome} — {reason}.",
                check=term(_CHECK_WORDS[c.check]),
                who=who,
                outcome=term(_OUTCOME_WORDS[c.outcome]),
                reason=check_reason(d, c),
            )
        )
    return _join(lines, "\n")


def attestation_amounts_table(d: Dossier, period: str) -> pd.DataFrame:
    """Amounts payable per metric in a period, with the caps applied, and the period total."""
    cells = [c for c in d.result.cells if c.period == period]
    p = next(x for x in d.result.periods if x.period == period)
    rows = [
        {
            N_("Metric"): c.metric,
            N_("Eligible (€)"): c.eligible_cents / 100,
            N_("Cap applied"): _CAP_WORDS.get(c.cap_applied, c.cap_applied),
            N_("Payable (€)"): c.payable_cents / 100,
        }
        for c in cells
    ]
    rows.append(
        {
            N_("Metric"): N_("total of the period"),
            N_("Eligible (€)"): p.eligible_cents / 100,
            N_("Cap applied"): _CAP_WORDS.get(p.cap_applied, p.cap_applied),
            N_("Payable (€)"): p.payable_cents / 100,
        }
    )
    return pd.DataFrame(rows)


def attestation_amounts_caption(d: Dossier, period: str) -> Msg:
    """Caption of :func:`attestation_amounts_table`."""
    return t(
        "Attestation {period}: amounts payable per metric and in total, after the metric cap, "
        "the period cap and the total ceiling. {status}: not payment amounts.",
        period=period,
        status=_status(d.agreement),
    )


def attestation_text(d: Dossier, period: str, *, inputs: Mapping[str, str]) -> Msg:
    """Markdown: the attestazione di verifica of one period (after its amounts table).

    The outcome of the checks, the SHA-256 of every input (the run context's declared inputs
    and the named results read), the agreement's version, the evaluator and the signature block.
    """
    a = d.agreement
    p = next(x for x in a.periods if x.id == period)
    total = next(x for x in d.result.periods if x.period == period)
    ev = d.spec.evaluator
    ev_it = ev.get("it") or {}
    status = d.status(period)
    hashes = dict(inputs)
    for inp in d.impact.values():
        hashes.setdefault(inp.file, inp.sha256)
    failed = [c for c in d.checks if c.period == period and c.outcome == "failed"]
    parts: list[Any] = [
        t(
            "**Total payable for {period}: {total}** (period {start} – {end}, verified on {date}; "
            "caps applied: {caps}).",
            period=period,
            total=_eur(total.payable_cents),
            start=date(p.start),
            end=date(p.end),
            date=date(p.verification_date),
            caps=term(_CAP_WORDS.get(total.cap_applied, total.cap_applied)),
        ),
        t("**Checks performed**"),
        checks_text(d, period),
        t(
            "**Outcome:** all checks passed or do not apply; the amounts above are certifiable "
            "under the agreement."
        )
        if status == "certifiable"
        else t(
            "**Outcome:** checks failed: {n}; the amounts above are NOT certifiable until "
            "they are resolved.",
            n=integer(len(failed)),
        ),
        t("**Inputs (SHA-256)**"),
        _join([t("- `{path}`: `{sha}`", path=k, sha=v) for k, v in sorted(hashes.items())], "\n")
        if hashes
        else t("- none declared by the run (interactive run)"),
        t(
            "**Agreement:** `{source}`, version {version}, status {status}.",
            source=a.source,
            version=str(a.metadata.get("version", "–")),
            status=_status(a),
        ),
        t(
            "**Evaluator:** {name}, {role} ({organisation}).",
            name=_text(str(ev.get("name", "")), ev_it, "name"),
            role=_text(str(ev.get("role", "")), ev_it, "role"),
            organisation=_text(str(ev.get("organisation", "")), ev_it, "organisation"),
        ),
        t(
            "Place: {place}  \nDate: ____________________  \nSignature of the evaluator: "
            "______________________________",
            place=str(ev.get("place", "____________________")),
        ),
    ]
    if a.is_illustrative:
        parts.insert(
            0,
            t(
                "**ILLUSTRATIVE — not a certificate.** The agreement is the example one and its "
                "inputs are made up or simulated; this attestation shows the form the signed "
                "one will take."
            ),
        )
    return _join(parts, "\n\n")


# --------------------------------------------------------------------------------------
# Section 6: the small-count rule
# --------------------------------------------------------------------------------------


def suppression_text(d: Dossier) -> Msg:
    """Markdown: the stated small-count rule covering the SIINC inputs."""
    k = d.spec.k
    pops = [
        t(
            "`{id}`: {description} ({size})",
            id=p.id,
            description=_text(p.description, p.texts_it, "description"),
            size=integer(p.size)
            if p.size is not None
            else t("counted by `{m}`", m=p.size_metric or ""),
        )
        for p in d.spec.populations.values()
    ]
    return _join(
        [
            t(
                "**Rule.** Every count of youths, pupils or organisations that the page shows "
                "(numerators and denominators: verified values, record counts, losses, "
                "exclusions) is shown exactly when it is 0 or at least {k}. A count from 1 to "
                '{km1} is shown as "fewer than {k}" ("< {k}" in tables), and the shares and '
                "differences that would give it back are not shown. The results file of this "
                "run obeys the same rule.",
                k=integer(k),
                km1=integer(k - 1),
            ),
            t(
                "**What the rule does not hide.** The engine computes every amount from the "
                "exact counts. Amounts payable are shown in full, as a payment certificate must "
                "state them; with the published price and baseline an amount can reveal the "
                "count behind it, and a verified outcome of at least {k} leaves its complement "
                "in the population derivable (for example, among the {youths} youths of the "
                "day centre, those not enrolled). "
                "For the organisations (legal entities, public registry data) this is accepted; "
                "for counts of persons the signed agreement must accept it or restrict the "
                "certificate to the parties.",
                k=integer(k),
                youths=integer(programme_facts().day_centre.youths),
            ),
            t("**Populations covered:**"),
            _join([_join(["-", p], " ") for p in pops], "\n"),
        ],
        "\n\n",
    )


# --------------------------------------------------------------------------------------
# Section 7: sensitivity
# --------------------------------------------------------------------------------------


def sensitivity_table(sens: pd.DataFrame) -> pd.DataFrame:
    """Scenario, total payable, change against the agreement (€ and %)."""
    return pd.DataFrame(
        {
            N_("Scenario"): sens["scenario"],
            N_("Total payable (€)"): sens["total_payable"],
            N_("Change against the agreement (€)"): sens["change_vs_agreement"],
            N_("Change (%)"): 100 * sens["change_pct"],
        }
    )


def sensitivity_text(d: Dossier) -> Msg:
    """Markdown list: what each scenario changes."""
    lines = []
    for r in d.sensitivity.to_dict("records"):
        spec = d.alternatives.get(r["scenario"], {})
        desc = _text(str(r["description"]), spec.get("it") or {}, "description")
        lines.append(
            t("- `{scenario}`: {description}", scenario=_Code(r["scenario"]), description=desc)
        )
    return _join(lines, "\n")


def sensitivity_caption(agreement: Agreement) -> Msg:
    """Caption of the sensitivity table."""
    return t(
        "Total payable over all periods under alternative modelling choices, and the change "
        "against the agreement as written. {status}: made-up or simulated inputs. Method: "
        "analysis.siinc.sensitivity.",
        status=_status(agreement),
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


def sensitivity_figure_caption(agreement: Agreement, sens: pd.DataFrame) -> Msg:
    """Caption of :func:`sensitivity_figure`, with the range of the totals."""
    rng = sensitivity_range(sens)
    return t(
        "Total payable per scenario; dashed line: the agreement as written. Range {lo} – {hi}. "
        "{status} agreement with made-up or simulated inputs: not payment amounts.",
        lo=money(rng["min"]),
        hi=money(rng["max"]),
        status=_status(agreement),
    )


# --------------------------------------------------------------------------------------
# Figures (drawn once per language)
# --------------------------------------------------------------------------------------


def _money_formatter(lang: str) -> Any:
    """Whole euros with the grouping of ``lang`` (the axis label says "euro")."""
    return i18n.tick_formatter(lang, 0)


def payable_vs_cap_figure(result: PaymentResult, *, lang: str = "en") -> Figure:
    """Payable per period (stacked by metric) against the eligible amount and the caps.

    Left: per period, the payable amount stacked by metric, the eligible amount before caps
    (outline) and the period cap (black tick). Right: cumulative payable against the total
    ceiling. The title carries the agreement's status.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    tr = i18n.translator(lang)
    a = result.agreement
    periods = list(a.period_ids)
    x = np.arange(len(periods))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    bottom = np.zeros(len(periods))
    metrics = [m.id for m in a.metrics if m.pays]
    for i, mid in enumerate(metrics):
        vals = np.array(
            [
                sum(c.payable_cents for c in result.cells if c.metric == mid and c.period == p)
                / 100
                for p in periods
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
        label=tr(N_("eligible before caps")),
    )
    caps = [a.caps.per_period.get(p) for p in periods]
    for xi, c in zip(x, caps, strict=True):
        if c is not None:
            ax.hlines(c / 100, xi - 0.38, xi + 0.38, color="black", linewidth=2.5)
    ax.plot([], [], color="black", linewidth=2.5, label=tr(N_("period cap")))
    ax.set_xticks(x, periods)
    ax.set_xlabel(tr(N_("verification period")))
    ax.set_ylabel(tr(N_("euro")))
    ax.set_title(tr(N_("Payable by metric against the period cap")), fontsize=10)
    top = max([*(c / 100 for c in caps if c is not None), *elig, 1.0])
    ax.set_ylim(0, top * 1.45)
    ax.legend(fontsize="x-small", loc="upper left", ncol=2)
    ax.yaxis.set_major_formatter(_money_formatter(lang))
    cum = np.array([p.cumulative_paid_cents / 100 for p in result.periods])
    ax2.plot(x, cum, marker="o", label=tr(N_("cumulative payable")))
    ax2.axhline(
        a.caps.total_cents / 100,
        color="black",
        linewidth=1.5,
        label=tr(t("total ceiling {amount}", amount=money(a.caps.total_cents / 100))),
    )
    ax2.set_xticks(x, periods)
    ax2.set_ylim(0, a.caps.total_cents / 100 * 1.1)
    ax2.set_xlabel(tr(N_("verification period")))
    ax2.set_title(tr(N_("Cumulative payable against the total ceiling")), fontsize=10)
    ax2.legend(fontsize="x-small", loc="lower right")
    ax2.yaxis.set_major_formatter(_money_formatter(lang))
    if a.status != "SIGNED":
        fig.suptitle(
            tr(t("{status} agreement — not payment amounts", status=_status(a))),
            fontsize=10,
            color="darkred",
        )
    fig.tight_layout()
    return fig


def payable_figure_caption(agreement: Agreement) -> Msg:
    """Caption of :func:`payable_vs_cap_figure`."""
    return t(
        "Left: payable amount per verification period, stacked by metric, against the "
        "eligible amount before caps (dashed outline) and the period cap (black bar). Right: "
        "cumulative payable against the total ceiling. {status} agreement ({source}) with "
        "made-up or simulated inputs: not payment amounts.",
        status=_status(agreement),
        source=agreement.source,
    )


def sensitivity_figure(
    sens: pd.DataFrame, *, status: str = "ILLUSTRATIVE", lang: str = "en"
) -> Figure:
    """Total payable per scenario (horizontal bars), the agreement's total as a line."""
    import matplotlib.pyplot as plt

    tr = i18n.translator(lang)
    s = sens.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(s) + 1.4))
    colours = ["grey" if n == "agreement" else "C0" for n in s["scenario"]]
    labels = [tr(n) if i18n.has_translation(n, lang) else n for n in s["scenario"]]
    ax.barh(labels, s["total_payable"], color=colours)
    base = float(sens.loc[sens["scenario"] == "agreement", "total_payable"].iloc[0])
    ax.axvline(base, color="black", linestyle="--", linewidth=1)
    for y, v in enumerate(s["total_payable"]):
        ax.text(
            v,
            y,
            " " + i18n.format_value(money(v), lang),
            va="center",
            fontsize=8,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
        )
    ax.set_xlabel(tr(N_("total payable over all periods (euro)")))
    ax.set_xlim(0, float(s["total_payable"].max()) * 1.3)
    ax.xaxis.set_major_formatter(_money_formatter(lang))
    if status != "SIGNED":
        ax.set_title(
            tr(
                t(
                    "{status} agreement — sensitivity of the total payable",
                    status=term(_STATUS_WORDS[status]),
                )
            ),
            fontsize=10,
        )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# Answer first, plain words, saved numbers
# --------------------------------------------------------------------------------------


def _per_period_words(d: Dossier) -> Any:
    parts = []
    for p in d.result.periods:
        cap = (
            t("no cap binding")
            if p.cap_applied == "none"
            else t("{caps} binding", caps=term(_CAP_WORDS.get(p.cap_applied, p.cap_applied)))
        )
        parts.append(
            t("{period} {amount} ({cap})", period=p.period, amount=_eur(p.payable_cents), cap=cap)
        )
    return _join(parts, "; ")


def summary_fields(d: Dossier) -> dict[str, Any]:
    """The answer-first box: question, answer, how sure, what would change it, what it is not."""
    a = d.agreement
    r = d.result
    certifiable = [p for p in a.period_ids if d.status(p) == "certifiable"]
    failed = [c for c in d.checks if c.outcome == "failed"]
    passed = sum(c.outcome == "passed" for c in d.checks)
    na = sum(c.outcome == "not applicable" for c in d.checks)
    rng = sensitivity_range(d.sensitivity)
    answer = t(
        "Under the {status} agreement, {total} is payable over {n} verification periods "
        "({per}): {share} of the total ceiling of {ceiling}.",
        status=_status(a),
        total=_eur(r.total_payable_cents),
        n=integer(len(r.periods)),
        per=_per_period_words(d),
        share=pct(100 * r.total_payable_cents / a.caps.total_cents, 0),
        ceiling=_eur(a.caps.total_cents),
    )
    if failed:
        names = _join(
            [
                t("{check} ({period})", check=term(_CHECK_WORDS[c.check]), period=c.period)
                for c in failed
            ],
            "; ",
        )
        certainty = t(
            "Checks passed: {passed}; not applicable: {na}; failed: {n} ({names}). Periods "
            "certifiable as they stand: {ok}.",
            passed=integer(passed),
            na=integer(na),
            n=integer(len(failed)),
            names=names,
            ok=", ".join(certifiable) or "–",
        )
    else:
        certainty = t(
            "All {passed} applicable checks passed ({na} do not apply): completeness, "
            "attrition, eligibility, late enrolment, exclusions, consistency and the impact "
            "input's design and significance.",
            passed=integer(passed),
            na=integer(na),
        )
    would = t(
        "The verified values and their evidence; the baselines (across the scenarios the total "
        "ranges from {lo} to {hi}); the bound of the impact estimate; the impact estimate "
        "itself if it were no longer distinguishable from zero (its metric would pay nothing).",
        lo=money(rng["min"]),
        hi=money(rng["max"]),
    )
    simulated = any(i.simulated for i in d.impact.values())
    not_this = (
        t(
            "Not a payment due: the agreement is ILLUSTRATIVE (its parameters are assumptions), "
            "the verified values are made up and the impact input is a SIMULATED result."
        )
        if a.is_illustrative and simulated
        else t(
            "Not a payment due: the agreement is ILLUSTRATIVE (its parameters are assumptions) "
            "and the verified values are made up."
        )
        if a.is_illustrative
        else t("Not the programme's effect: the payment follows the agreement's rules.")
    )
    return {
        "question": t(
            "What does the SIINC pay under the agreement, per verification period, and on what "
            "evidence?"
        ),
        "answer": answer,
        "certainty": certainty,
        "would_change": would,
        "not_this": not_this,
    }


def headline_text(d: Dossier) -> Msg:
    """The index's headline: total payable and the range across scenarios."""
    rng = sensitivity_range(d.sensitivity)
    return t(
        "{total} (scenarios {lo} – {hi})",
        total=_eur(d.result.total_payable_cents),
        lo=money(rng["min"]),
        hi=money(rng["max"]),
    )


def auditor_paragraph(d: Dossier) -> Msg:
    """Plain-words account of the payment: status, per period, total, sensitivity."""
    a, r, sens = d.agreement, d.result, d.sensitivity
    eligible = sum(c.eligible_cents for c in r.cells)
    parts: list[Any] = []
    if a.is_illustrative:
        parts.append(_join([t("**{status} only.**", status=_status(a)), status_line(a)]))
    parts.append(
        t(
            "Applying the agreement's rules to the verified metrics gives {eligible} of "
            "eligible amounts and {total} payable over {n} verification periods ({per}). That "
            "is {share} of the total ceiling of {ceiling}. Every amount is computed in whole euro cents, "
            "rounded once per metric and period ({rounding}); the payment table shows each "
            "term, so every total can be recomputed by hand.",
            eligible=_eur(eligible),
            total=_eur(r.total_payable_cents),
            n=integer(len(r.periods)),
            per=_per_period_words(d),
            share=pct(100 * r.total_payable_cents / a.caps.total_cents, 0),
            ceiling=_eur(a.caps.total_cents),
            rounding=term(_ROUNDING_WORDS[a.rounding]),
        )
    )
    if len(sens) > 1:
        rng = sensitivity_range(sens)
        parts.append(
            t(
                "Across the {n} scenarios the total payable ranges from {lo} (`{lo_name}`) to "
                "{hi} (`{hi_name}`), a spread of {spread}. The baselines and the bound of the "
                "impact estimate are therefore choices the signed agreement must fix in advance, "
                "and the evaluator must document how each was derived.",
                n=integer(len(sens)),
                lo=money(rng["min"]),
                lo_name=_Code(rng["min_scenario"]),
                hi=money(rng["max"]),
                hi_name=_Code(rng["max_scenario"]),
                spread=money(rng["spread"]),
            )
        )
    return _join(parts, "\n\n")


def headline(d: Dossier) -> dict[str, float]:
    """The index's numbers: total payable, lowest and highest total across scenarios (€)."""
    rng = sensitivity_range(d.sensitivity)
    return {
        "total payable (€)": float(d.result.total_payable),
        "lowest total across scenarios (€)": rng["min"],
        "highest total across scenarios (€)": rng["max"],
    }


def _verified_record(d: Dossier, r: Mapping[str, Any]) -> dict[str, Any]:
    m = d.agreement.metric(r["metric"])
    sc = _value_shown(d, m, r["period"], r["value"])
    value: Any = float(r["value"]) if sc is None else sc.to_dict()
    return {"metric": r["metric"], "period": r["period"], "value": value, "source": r["source"]}


def _cell_record(d: Dossier, c: PaymentCell) -> dict[str, Any]:
    y, ymb, units = _cell_counts(d, c)
    banded = isinstance(y, str)
    return {
        "metric": c.metric,
        "period": c.period,
        "rule": c.rule,
        "Y": y if banded else (None if c.y is None else float(c.y)),
        "B": None if c.b is None else float(c.b),
        "Y_minus_B": None if banded or ymb is None else float(ymb),
        "effect": None if c.effect is None else float(c.effect),
        "units_paid": None if units == "–" else float(c.units_paid),
        "gate": float(c.gate),
        "price_cents": c.price_cents,
        "eligible_cents": c.eligible_cents,
        "cap_applied": c.cap_applied,
        "payable_cents": c.payable_cents,
        "cumulative_paid_cents": c.cumulative_paid_cents,
        "significance": c.significance,
    }


def results(d: Dossier, *, inputs: Mapping[str, str]) -> dict[str, Any]:
    """Everything ``analysis verify`` compares: payments, the dossier per period, sensitivity.

    Counts under the small-count rule are stored banded (``{"shown": "below", "value": 10}``),
    as on the page; amounts in cents (integers) and euros.
    """
    a = d.agreement
    r = d.result
    periods = []
    for p in r.periods:
        ev = d.spec.evaluator
        hashes = dict(inputs)
        for inp in d.impact.values():
            hashes.setdefault(inp.file, inp.sha256)
        periods.append(
            {
                "period": p.period,
                "status": d.status(p.period),
                "illustrative": a.is_illustrative,
                "payable_cents": p.payable_cents,
                "payable_eur": p.payable_cents / 100,
                "eligible_cents": p.eligible_cents,
                "after_metric_caps_cents": p.after_metric_caps_cents,
                "period_cap_cents": p.period_cap_cents,
                "cap_applied": p.cap_applied,
                "metrics": {
                    c.metric: {"payable_cents": c.payable_cents, "cap_applied": c.cap_applied}
                    for c in r.cells
                    if c.period == p.period
                },
                "checks": [c.to_dict(k=d.spec.k) for c in d.checks if c.period == p.period],
                "inputs_sha256": hashes,
                "agreement_version": str(a.metadata.get("version", "")),
                "evaluator": {"name": ev.get("name"), "role": ev.get("role")},
            }
        )
    return {
        "agreement": {
            "source": a.source,
            "status": a.status,
            "version": str(a.metadata.get("version", "")),
            "total_ceiling_cents": a.caps.total_cents,
            "period_caps_cents": dict(a.caps.per_period),
        },
        "verified_metrics": [_verified_record(d, x) for x in d.verified_metrics.to_dict("records")],
        "impact_inputs": {k: v.to_dict() for k, v in d.impact.items()},
        "payments": [_cell_record(d, c) for c in r.cells],
        "dossier": periods,
        "suppression": {"k": d.spec.k, "rule": "analysis.siinc.dossier.shown_count"},
        "sensitivity": d.sensitivity.to_dict("records"),
        "sensitivity_range": sensitivity_range(d.sensitivity),
        "total_payable_cents": r.total_payable_cents,
        "total_payable_eur": r.total_payable_cents / 100,
        "unit": "EUR (amounts); cents where the key says so",
    }


def attestation_heading(d: Dossier, period: str, number: str) -> Msg:
    """Markdown heading of a period's attestazione di verifica."""
    p = next(x for x in d.agreement.periods if x.id == period)
    return t(
        "### {number} Verification certificate, period {period} ({start} – {end})",
        number=number,
        period=period,
        start=date(p.start),
        end=date(p.end),
    )


def payable_figures(result: PaymentResult) -> Callable[[str], Figure]:
    """:func:`payable_vs_cap_figure` as a function of the language (for ``show_figure``)."""
    return lambda lang: payable_vs_cap_figure(result, lang=lang)


def sensitivity_figures(sens: pd.DataFrame, *, status: str) -> Callable[[str], Figure]:
    """:func:`sensitivity_figure` as a function of the language (for ``show_figure``)."""
    return lambda lang: sensitivity_figure(sens, status=status, lang=lang)
