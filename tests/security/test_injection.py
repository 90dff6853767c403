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
    from analysis.reports import siinc as siinc_report
    from analysis.siinc import load_agreement

    text = paths.SIINC_FILE.read_text(encoding="utf-8")
    m = re.search(r'^  title: "([^"]*)"', text, re.M)
    assert m, "the shipped agreement has a quoted title"
    bad = tmp_path / "siinc.yaml"
    evil = "<img src=x onerror=alert(1)> [x](javascript:alert(1))"
    bad.write_text(text.replace(m.group(0), f"  title: '{m.group(1)} {evil}'", 1), encoding="utf-8")
    md = siinc_report.agreement_text(load_agreement(bad))
    assert "onerror" in md  # the raw text carries the attack ...
    html = render_markdown(md)
    assert not re.search(r"<img|\son\w+\s*=|href=\"?javascript:", html, re.I)  # ... the page not


@pytest.mark.parametrize("template", ["offline/index.html.j2", "index.html.j2"])
def test_pages_forbid_scripts_by_content_security_policy(template):
    text = (paths.PACKAGE_DIR / "templates" / template).read_text(encoding="utf-8")
    m = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
    assert m and "default-src 'none'" in m.group(1) and "script-src" not in m.group(1)
