"""Injection through configuration, parameters, file names or data (issue 10).

Every generated text reaches a page through :func:`analysis.display.markdown` /
``html_fragment`` (rendered, then sanitised with nh3) or through escaped tables, notes and
captions; pages and the index carry a Content-Security-Policy that forbids every script.
"""

from __future__ import annotations

import re

import pytest

from analysis import paths
from analysis.display import render_markdown, sanitise_html

ATTACKS = [
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<script>alert(1)</script>",
    "<iframe src=https://example.org></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_generated_markdown_cannot_carry_active_content(attack):
    html = render_markdown(f"**Agreement** {attack} — metric unit {attack}")
    active = r"<script|<img|<svg|<iframe|\son\w+\s*=|href=\"?\s*javascript:|style="
    assert not re.search(active, html, re.I), html  # as text it is harmless; as markup, gone
    assert "Agreement" in html


def test_harmless_formatting_survives():
    html = render_markdown("A **bold** word, a [link](https://example.org) and\n\n- a list")
    assert "<strong>bold</strong>" in html and 'href="https://example.org"' in html
    assert "<li>a list</li>" in html
    assert (
        sanitise_html('<a href="index.html">All reports</a>')
        == '<a href="index.html">All reports</a>'
    )


def test_siinc_title_injection_is_neutralised_on_the_way_to_the_page(tmp_path):
    from analysis.i18n import LANGUAGES, render
    from analysis.reports import siinc as siinc_report
    from analysis.siinc import load_agreement

    text = paths.SIINC_FILE.read_text(encoding="utf-8")
    evil = "<img src=x onerror=alert(1)> [x](javascript:alert(1))"
    for indent in ("  ", "    "):  # the English title and its Italian (metadata.it.title)
        m = re.search(rf'^{indent}title: "([^"]*)"', text, re.M)
        assert m, "the shipped agreement has quoted titles in both languages"
        text = text.replace(m.group(0), f"{indent}title: '{m.group(1)} {evil}'", 1)
    bad = tmp_path / "siinc.yaml"
    bad.write_text(text, encoding="utf-8")
    msg = siinc_report.agreement_text(load_agreement(bad))
    for lang in LANGUAGES:
        md = render(msg, lang)
        assert "onerror" in md, lang  # the raw text carries the attack ...
        html = render_markdown(md)
        assert not re.search(r"<img|\son\w+\s*=|href=\"?javascript:", html, re.I), (
            lang
        )  # ... the page not


def test_siinc_evaluator_injection_is_neutralised_in_the_attestation(tmp_path):
    import json

    from analysis import siinc
    from analysis.i18n import LANGUAGES, render
    from analysis.reports import siinc as siinc_report

    text = paths.SIINC_FILE.read_text(encoding="utf-8")
    evil = "<svg onload=alert(1)>"
    text = text.replace('name: "[to be appointed', f'name: "{evil} [to be appointed', 1)
    text = text.replace('name: "[da nominare', f'name: "{evil} [da nominare', 1)
    bad = tmp_path / "siinc.yaml"
    bad.write_text(text, encoding="utf-8")
    results = tmp_path / "results"
    results.mkdir()
    (results / "programme_did_absence.json").write_text(
        json.dumps(
            {
                "parameters": {"control": "never", "covariates": []},
                "results": {
                    "headline_estimate": {"estimate": -0.02, "ci_low": -0.03, "ci_high": -0.01}
                },
            }
        ),
        encoding="utf-8",
    )
    a = siinc.load_agreement(bad)
    inp = siinc.illustrative_inputs(a)
    d = siinc.assemble(a, inp.verified_metrics, inp.records, results_dir=results)
    msg = siinc_report.attestation_text(d, "S1", inputs={})
    for lang in LANGUAGES:
        md = render(msg, lang)
        assert "onload" in md, lang
        assert not re.search(r"<svg|\son\w+\s*=", render_markdown(md), re.I), lang
