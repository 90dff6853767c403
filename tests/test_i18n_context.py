"""The context and data-build pages in two languages, and their answer-first boxes (issues 11, 12).

Every text of ``analysis.reports.context`` and ``analysis.reports.data_build`` renders in Italian
with no missing catalog id, and the summary boxes are generated from the data: changing the
input table changes the answer.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import i18n
from analysis.data import geography, indicators, panels
from analysis.reports import context, data_build

RUNS = [
    ("elet", "Puglia", ["Sud", "Italia", "EU27"], 2020),
    ("neet", "Lecce", ["Puglia", "Mezzogiorno", "Italia"], 2020),
    ("youth_nonparticipation", "Lecce", ["Puglia", "Mezzogiorno", "Italia"], 2020),
    ("invalsi_literacy_g8", "Lecce", ["Puglia", "Mezzogiorno", "Italia"], 2019),
]


def _texts(cs: context.ContextSeries, table: pd.DataFrame, base: int) -> list[i18n.Text]:
    box = context.summary(table, cs, baseline_year=base, start_year=2021)
    return [
        *box.values(),
        context.indicator_text(cs),
        context.trajectory_caption(cs, start_year=2021),
        context.levels_caption(cs, baseline_year=base),
        context.flagged_caption(cs),
        context.no_flags_note(),
        context.comparison_text(table, cs, baseline_year=base),
        context.headline_text(table, cs, baseline_year=base),
    ]


def _cells(df: pd.DataFrame) -> list[str]:
    """Headers and text cells of a display table (looked up as ids when rendered)."""
    return [str(c) for c in df.columns]


@pytest.mark.parametrize(("key", "focus", "others", "base"), RUNS, ids=[r[0] for r in RUNS])
def test_context_texts_render_in_italian_without_missing_ids(key, focus, others, base):
    cs = context.load(key, focus_unit=focus, comparison_units=others)
    table = context.levels_and_changes(cs.data, units=cs.units, baseline_year=base)
    i18n.reset_missing()
    rendered = [i18n.render(x, "it") for x in _texts(cs, table, base)]
    for header in _cells(context.levels_table(table, baseline_year=base)):
        i18n.gettext(header, "it")
    flagged = context.flagged_observations(cs)
    for header in _cells(flagged):
        i18n.gettext(header, "it")
    causes = flagged["Cause"].dropna() if "Cause" in flagged else []
    for cell in [*flagged["What it marks"], *causes]:
        i18n.gettext(cell, "it")
    fig = context.trajectory_plot(cs, start_year=2021)("it")
    assert fig.axes[0].get_xlabel() == "Anno"
    assert not i18n.missing("it"), sorted(i18n.missing("it"))
    joined = " ".join(rendered)
    assert "None" not in joined and "nan" not in joined.lower().split()
    assert "p.p.." not in joined  # no double stop after an Italian unit
    assert "Contesto, non effetto del programma" in joined


def test_context_sentences_are_true_for_each_indicator():
    """Sampling, breaks, splices and gaps are stated only where they apply."""
    texts = {}
    for key, focus, others, base in RUNS:
        cs = context.load(key, focus_unit=focus, comparison_units=others)
        table = context.levels_and_changes(cs.data, units=cs.units, baseline_year=base)
        box = context.summary(table, cs, baseline_year=base, start_year=2021)
        texts[key] = (
            str(box["certainty"]) + " " + str(context.trajectory_caption(cs, start_year=2021))
        )
    assert "sample-survey estimates" in texts["neet"]
    assert "sample-survey estimates" not in texts["invalsi_literacy_g8"]
    assert "no sampling error" in texts["invalsi_literacy_g8"]
    assert "Eurostat" in texts["elet"] and "ISTAT 2025 edition" not in texts["elet"]
    assert "crosses a series break flagged by Eurostat (2021)" in texts["elet"]
    assert "ISTAT 2021 edition shifted" in texts["neet"]
    assert "series break" not in texts["neet"]
    gap = geography.known_gap("invalsi_literacy_g8", 2020)
    assert f"No value for 2020: {gap}." in texts["invalsi_literacy_g8"]
    assert "No value for" not in texts["neet"]


def _toy_series(values: dict[str, list[float]]) -> context.ContextSeries:
    years = [2018, 2019, 2020, 2021, 2022]
    rows = [
        {
            "unit": u,
            "year": y,
            "value": v,
            "flag": "",
            "source": "ed.2025",
            "break": False,
            "unreliable": False,
        }
        for u, vs in values.items()
        for y, v in zip(years, vs, strict=True)
    ]
    return context.ContextSeries(
        indicator=indicators.get("neet"),
        focus_unit="Lecce",
        comparison_units=("Italia",),
        sex="T",
        data=pd.DataFrame(rows),
    )


def test_summary_answer_is_generated_from_the_table():
    falling = _toy_series({"Lecce": [30, 30, 30, 25, 20], "Italia": [20, 20, 20, 19, 18]})
    table = context.levels_and_changes(falling.data, units=falling.units, baseline_year=2020)
    answer = str(context.summary(table, falling, baseline_year=2020, start_year=2021)["answer"])
    assert "In 2022, the NEET rate in Lecce was 20.0%, 2.0 pp above Italia (18.0%)." in answer
    assert "Since 2020 it has fallen by 10.0 pp (Italia: −2.0 pp)." in answer
    assert "narrowed from 10.0 pp in 2020 to 2.0 pp" in answer

    rising = _toy_series({"Lecce": [30, 30, 30, 33, 36], "Italia": [20, 20, 20, 19, 18]})
    table = context.levels_and_changes(rising.data, units=rising.units, baseline_year=2020)
    box = context.summary(table, rising, baseline_year=2020, start_year=2021)
    assert "has risen by 6.0 pp" in str(box["answer"])
    assert "widened from 10.0 pp in 2020 to 18.0 pp" in str(box["answer"])
    assert "Nel 2022" in i18n.render(box["answer"], "it")
    assert "36,0%" in i18n.render(box["answer"], "it")

    below = _toy_series({"Lecce": [30, 30, 30, 20, 10], "Italia": [20, 20, 20, 19, 18]})
    table = context.levels_and_changes(below.data, units=below.units, baseline_year=2020)
    answer = str(context.summary(table, below, baseline_year=2020, start_year=2021)["answer"])
    assert "8.0 pp below Italia" in answer and "moved from +10.0 pp in 2020 to −8.0 pp" in answer


def test_summary_flags_unreliable_values_from_the_data():
    cs = _toy_series({"Lecce": [30, 30, 30, 25, 20], "Italia": [20, 20, 20, 19, 18]})
    data = cs.data.copy()
    data.loc[(data["unit"] == "Lecce") & (data["year"] == 2022), "unreliable"] = True
    flagged = context.ContextSeries(cs.indicator, cs.focus_unit, cs.comparison_units, "T", data)
    table = context.levels_and_changes(data, units=flagged.units, baseline_year=2020)
    assert "Values flagged unreliable" in context.levels_table(table, baseline_year=2020)
    box = context.summary(table, flagged, baseline_year=2020, start_year=2021)
    assert "1 values of these series are flagged as unreliable." in str(box["certainty"])
    plain = context.levels_and_changes(cs.data, units=cs.units, baseline_year=2020)
    assert "Values flagged unreliable" not in context.levels_table(plain, baseline_year=2020)


def test_context_not_this_quotes_programme_facts(sandbox):
    import yaml

    p = sandbox / "config" / "programme.yaml"
    doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    doc["fis_experimentation"]["youths"] = 52
    doc["territory"]["Lecce"]["inhabitants_approx"] = 812000
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    cs = context.load("neet", focus_unit="Lecce", comparison_units=["Italia"])
    table = context.levels_and_changes(cs.data, units=cs.units, baseline_year=2020)
    not_this = context.summary(table, cs, baseline_year=2020, start_year=2021)["not_this"]
    assert "reached 52 young people" in str(not_this)
    assert "Lecce: provincia di circa 812.000 abitanti." in i18n.render(not_this, "it")


def test_data_build_texts_render_in_italian_and_answer_from_the_data(built_panels):
    hashes = data_build.verify_raw_files()
    i18n.reset_missing()
    box = data_build.summary(built_panels, hashes, force=True)
    texts = [
        *box.values(),
        data_build.raw_files_caption(hashes),
        data_build.inventory_caption(),
        data_build.splice_summary_caption(),
        data_build.eurostat_flags_caption(built_panels),
        data_build.bes_signs_caption(),
        data_build.flags_text(built_panels),
        data_build.headline_text(built_panels, hashes),
    ]
    rendered = " ".join(i18n.render(x, "it") for x in texts)
    tables = [
        data_build.raw_files_table(hashes),
        data_build.inventory_table(built_panels),
        data_build.splice_table(built_panels),
        data_build.eurostat_flags(built_panels),
        data_build.bes_signs(built_panels),
    ]
    for df in tables:
        for header in df.columns:
            i18n.gettext(str(header), "it")
    for col in ("Description", "Indicator", "Meaning"):
        for df in tables:
            if col in df:
                for cell in df[col]:
                    i18n.gettext(cell, "it")
    assert not i18n.missing("it"), sorted(i18n.missing("it"))
    assert f"{len(built_panels)} panel" in rendered
    answer = str(box["answer"])
    assert f"rebuilt from {len(hashes)} raw files" in answer
    assert "Every raw file matched the SHA-256" in answer
    fewer = dict(list(hashes.items())[:3])
    assert "from 3 raw files" in str(data_build.summary(built_panels, fewer, force=False)["answer"])


def test_panel_descriptions_and_labels_are_translated():
    i18n.reset_missing()
    for spec in panels.PANELS.values():
        i18n.gettext(spec.description, "it")
    for ind in indicators.INDICATORS.values():
        for label in (ind.label, ind.unit, ind.source, ind.name, ind.definition):
            if label:
                i18n.gettext(label, "it")
    for pool in geography.DONOR_POOLS.values():
        i18n.gettext(pool.description, "it")
    for bc in geography.BOUNDARY_CHANGES:
        i18n.gettext(bc.note, "it")
    for text in (*geography.POPULATIONS.values(), *geography.KNOWN_GAPS.values()):
        i18n.gettext(text, "it")
    assert not i18n.missing("it"), sorted(i18n.missing("it"))
    assert i18n.gettext(indicators.get("neet").label, "it").startswith(
        "Giovani che non lavorano e non studiano (NEET)"
    )
