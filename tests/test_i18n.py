"""Two languages: locale formats, messages, catalogs complete and consistent, glossary terms."""

from __future__ import annotations

import datetime as dt
import math
import re

import pytest

from analysis import i18n, paths
from analysis.i18n import date, integer, money, num, pct, pp, t, term, year
from analysis.pipeline import catalogs


@pytest.mark.parametrize(
    ("value", "it", "en"),
    [
        (num(1234.5, 1), "1.234,5", "1,234.5"),
        (money(40279.75), "40.279,75\xa0€", "€40,279.75"),
        (date(dt.date(2026, 12, 1)), "1 dicembre 2026", "December 1, 2026"),
        (date("2026-12-01"), "1 dicembre 2026", "December 1, 2026"),
        (pct(8.64), "8,6%", "8.6%"),
        (pp(-2.391), "−2,4 p.p.", "−2.4 pp"),
        (pp(1.0), "+1,0 p.p.", "+1.0 pp"),
        (integer(12345), "12.345", "12,345"),
        (year(2021), "2021", "2021"),
        (year(2021.0), "2021", "2021"),
        (True, "Sì", "Yes"),
        (None, "–", "–"),
        (math.nan, "–", "–"),
        (math.inf, "non definito", "undefined"),
        (0.0001234, "0,000123", "0.000123"),  # small numbers keep three significant digits
        (0.123456, "0,12", "0.12"),
    ],
)
def test_locale_formats(value, it, en):
    assert i18n.format_value(value, "it") == it
    assert i18n.format_value(value, "en") == en


def test_a_bare_int_is_a_count_and_years_must_say_so():
    # the reason report modules pass years through year(): Italian groups four digits
    assert i18n.format_value(2021, "it") == "2.021"
    assert i18n.format_value(year(2021), "it") == "2021"


def test_message_keeps_values_until_rendered():
    msg = t("Effect {x} since {y}", x=pp(-2.4), y=year(2021))
    assert msg.render("en") == "Effect −2.4 pp since 2021"
    assert str(msg) == msg.render("en")


def test_message_placeholders_checked_when_built():
    with pytest.raises(ValueError, match="no value for"):
        t("Effect {x}")
    with pytest.raises(ValueError, match="not in the message"):
        t("Effect", x=1)
    with pytest.raises(TypeError):
        t(42)  # type: ignore[arg-type]


def test_translation_is_looked_up_and_misses_are_recorded():
    i18n.reset_missing()
    assert t("Question").render("it") == "Domanda"
    assert i18n.missing("it") == set()
    assert t("A sentence nobody translated").render("it") == "A sentence nobody translated"
    assert i18n.missing("it") == {"A sentence nobody translated"}
    i18n.reset_missing()


def test_term_translates_a_label_marked_elsewhere():
    assert term("Yes").render("it") == "Sì"
    with pytest.raises(TypeError):
        term(3)  # type: ignore[arg-type]


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="unknown language"):
        i18n.catalog("fr")


def test_catalogs_merge_without_conflicts_and_keep_placeholders():
    i18n.catalog.cache_clear()
    cat = i18n.catalog("it")  # raises CatalogError on an id translated two ways
    assert len(cat) > 50
    bad = [
        msgid
        for msgid, text in cat.items()
        if catalogs.placeholders(msgid) != catalogs.placeholders(text)
    ]
    assert bad == []


def test_catalog_conflict_is_an_error(tmp_path, monkeypatch):
    d = tmp_path / "it" / "LC_MESSAGES"
    d.mkdir(parents=True)
    for name, text in (("a", "Uno"), ("b", "Altro")):
        (d / f"{name}.po").write_text(
            f'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
            f'msgid "One"\nmsgstr "{text}"\n',
            encoding="utf-8",
        )
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.catalog.cache_clear()
    try:
        with pytest.raises(i18n.CatalogError, match="two ways"):
            i18n.catalog("it")
    finally:
        monkeypatch.undo()
        i18n.catalog.cache_clear()


def test_every_message_of_the_project_has_an_italian_translation():
    """Every t()/N_() id, notebook Markdown cell, plan title, question and template string."""
    i18n.catalog.cache_clear()
    problems = catalogs.problems("it")
    assert problems == [], f"{len(problems)} untranslated: " + "\n".join(problems[:30])


def test_extractor_finds_ids_in_every_kind_of_source():
    ids = catalogs.all_ids()
    wheres = {w.split(":")[0].split("#")[0] for w in ids.values()}
    assert any(w.startswith("notebooks/") for w in wheres)
    assert "config/plan.yaml" in wheres and "config/questions.yaml" in wheres
    assert any(w.endswith("index.html.j2") for w in wheres)
    assert any(w.startswith("src/analysis/reports/") for w in wheres)


# The glossary fixes the Italian of these terms (docs/glossary.md); every translation of a
# message that uses the English term must use the Italian one (any listed form).
GLOSSARY_CHECKS = {
    "difference-in-differences": ("differenza nelle differenze", "differenze nelle differenze"),
    "synthetic control": ("controllo sintetico", "controlli sintetici", "controllo sintetic"),
    "confidence interval": ("intervallo di confidenza", "intervalli di confidenza"),
    "minimum detectable effect": ("effetto minimo rilevabile", "effetti minimi rilevabili"),
    "randomization inference": ("inferenza per randomizzazione",),
    "standard error": ("errore standard", "errori standard"),
    "statistical power": ("potenza statistica",),
    "percentage points": ("punti percentuali", "p.p."),
    "parallel trends": (
        "andamenti paralleli",
        "andamento parallelo",
        "andamenti esattamente paralleli",
    ),
    "donor pool": ("insieme dei donatori", "donor pool", "insiemi dei donatori"),
}


def test_glossary_lists_the_checked_terms():
    text = (paths.ROOT / "docs" / "glossary.md").read_text(encoding="utf-8").lower()
    for en, its in GLOSSARY_CHECKS.items():
        assert en in text, f"{en!r} is checked but not in docs/glossary.md"
        assert its[0] in text, f"{its[0]!r} is checked but not in docs/glossary.md"


def test_translations_use_the_glossary_terms():
    cat = i18n.catalog("it")
    wrong = []
    for msgid, text in cat.items():
        low, it_low = msgid.lower(), text.lower()
        for en, its in GLOSSARY_CHECKS.items():
            if re.search(rf"\b{re.escape(en)}", low) and not any(x in it_low for x in its):
                wrong.append(f"{en!r}: {msgid[:60]!r} -> {text[:60]!r}")
    assert wrong == [], "\n".join(wrong[:20])


def test_table_cells_that_are_messages_download_in_each_language():
    import pandas as pd

    from analysis import display
    from analysis.pipeline.downloads import frame_of

    df = pd.DataFrame({"Answer": [t("Yes"), t("No")], "value": [1.5, 2.0]})
    payload = display._download_payload(df, caption=t("Question"), index=False)
    assert frame_of(payload, "it").iloc[:, 0].tolist() == ["Sì", "No"]
    assert frame_of(payload, "en").iloc[:, 0].tolist() == ["Yes", "No"]
    assert list(frame_of(payload, "it").columns) == ["Risposta", "value"]


def test_sanitiser_keeps_table_classes_and_privacy_marks():
    from analysis.display import sanitise_html

    out = sanitise_html(
        '<table class="result-table"><tr data-privacy="checked"><td>1</td></tr></table>'
    )
    assert 'class="result-table"' in out and 'data-privacy="checked"' in out
