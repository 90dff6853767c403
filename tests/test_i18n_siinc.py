"""The SIINC page in Italian: every text of the report module translated, formats per locale."""

from __future__ import annotations

import json
import re

import pytest

from analysis import i18n, siinc
from analysis.display import _table_html
from analysis.reports import siinc as sr


@pytest.fixture(scope="module")
def dossier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    (folder / "programme_did_absence.json").write_text(
        json.dumps(
            {
                "parameters": {"control": "never", "covariates": []},
                "results": {
                    "data": {"simulated": True},
                    "headline_estimate": {
                        "estimate": -0.024,
                        "ci_low": -0.042,
                        "ci_high": -0.006,
                        "method": "Callaway-Sant'Anna (dr, never controls), simple",
                        "extra": {"base_period": "varying", "anticipation": 0},
                    },
                    "few_clusters": [
                        {"inference": "wild cluster bootstrap", "p_value": 0.2},
                        {"inference": "randomization inference", "p_value": 0.01},
                    ],
                },
            }
        ),
        encoding="utf-8",
    )
    a = sr.load_for_report("config/siinc.yaml")
    inp = siinc.illustrative_inputs(a)
    return siinc.assemble(
        a, inp.verified_metrics, inp.records, alternatives=inp.alternatives, results_dir=folder
    )


def _texts(d):
    a = d.agreement
    out = [*sr.summary_fields(d).values(), sr.agreement_text(a), sr.headline_text(d)]
    out += [x for x, _ in sr.opening_notes(a, path="config/siinc.yaml", rounding="half_up")]
    out += [sr.recap_caption(a), sr.calendar_caption(a), sr.verified_caption(d)]
    for inp in d.impact.values():
        out += [sr.impact_text(d, inp), sr.design_caption(inp)]
    out += [sr.audit_caption(a), sr.audit_amounts_caption(a), sr.totals_caption(a)]
    out += [sr.arithmetic_text(d), sr.payable_figure_caption(a), sr.suppression_text(d)]
    out += [sr.indicator_sheet(d, m, f"4.{i}") for i, m in enumerate(a.metrics, 1)]
    for i, p in enumerate(a.period_ids, 1):
        out += [
            sr.attestation_heading(d, p, f"5.{i}"),
            sr.attestation_amounts_caption(d, p),
            sr.attestation_text(d, p, inputs={"config/siinc.yaml": "0" * 64}),
        ]
    out += [sr.sensitivity_caption(a), sr.sensitivity_text(d), sr.auditor_paragraph(d)]
    out += [sr.sensitivity_figure_caption(a, d.sensitivity)]
    return out


def _tables(d):
    a = d.agreement
    tabs = [sr.recap_table(a), sr.calendar_table(a), sr.verified_table(d)]
    tabs += [sr.audit_terms_table(d), sr.audit_amounts_table(d), sr.totals_table(d.result)]
    tabs += [sr.sensitivity_table(d.sensitivity)]
    tabs += [sr.attestation_amounts_table(d, p) for p in a.period_ids]
    tabs += [sr.design_table(i) for i in d.impact.values()]
    return tabs


def test_every_text_figure_and_table_of_the_page_has_its_italian(dossier):
    i18n.reset_missing()
    italian = [i18n.render(x, "it") for x in _texts(dossier)]
    for df in _tables(dossier):
        _table_html(df, "it", digits=2, index=False)
    sr.payable_vs_cap_figure(dossier.result, lang="it")
    sr.sensitivity_figure(dossier.sensitivity, lang="it")
    assert not i18n.missing("it"), sorted(i18n.missing("it"))
    page = "\n".join(italian)
    assert "60.000,00\xa0€" in page and "1 luglio 2023" in page  # money and dates per locale
    assert "periodo di verifica" in page and "tetto massimo" in page and "valore di base" in page
    assert "condizione di qualità" in page
    for english in ("payable", "Signature", "checks passed", "baseline", "evidence"):
        assert not re.search(rf"\b{english}\b", page), english  # codes such as x_baseline_y stay
    assert not re.search(r"\bNone\b|\bnan\b|\binf\b|\bTrue\b|\bFalse\b", page)


def test_english_page_reads_the_same_numbers(dossier):
    english = "\n".join(i18n.render(x, "en") for x in _texts(dossier))
    assert "€60,000.00" in english and "July 1, 2023" in english
    # the wild cluster bootstrap disagrees: borderline, the impact metric pays nothing
    assert "0 (the effect is not distinguishable from zero)" in english
    assert "checks failed" in english.lower() or "failed" in english
