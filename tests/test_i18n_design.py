"""The design report (notebook 04) in Italian: every text it shows has a translation.

The page's outputs are produced through :mod:`analysis.display` exactly as the notebook does
(tables, figures drawn per language, notes, the summary box), on a small SIMULATED run; every
id looked up without an Italian translation is recorded by :func:`analysis.i18n.missing`.
"""

from __future__ import annotations

import matplotlib
import nbformat
import pytest

from analysis import display, i18n, paths
from analysis.reports import design as dr

matplotlib.use("Agg")

NOTEBOOK = str(paths.ROOT / "notebooks" / "04_design.ipynb")


def _show_page(study: dr.DesignAnalysis) -> None:
    """Every output of notebook 04, in the notebook's order."""
    display.summary_box(**study.summary())
    display.markdown(study.groups_text())
    display.show_table(**study.continuous_view())
    display.show_table(**study.design_view())
    display.show_figure(**study.power_curve_view())
    display.show_table(**study.binary_view())
    display.show_figure(**study.binary_figure_view())
    display.show_table(**study.sample_size_view())
    display.note(**study.sample_size_note())
    display.show_table(**study.simulated_power_view())
    display.show_figure(**study.simulated_power_figure_view())
    display.show_table(**study.simulated_mde_view())
    display.show_table(**study.detectability_view())
    display.markdown(study.recommendation())
    display.show_table(**study.comparisons_view())
    display.show_table(**study.reproduction_view())
    display.note(**study.reproduction_note())
    display.show_table(**study.simulation_design_view())
    for lang in i18n.LANGUAGES:
        study.headline_text().render(lang)


@pytest.fixture(scope="module")
def study():
    return dr.DesignAnalysis.build(seed=5, n_sims=3, effects=[0.0, 0.6])


def test_every_text_of_the_page_renders_in_italian(study, capsys):
    i18n.reset_missing()
    _show_page(study)
    capsys.readouterr()
    assert not i18n.missing("it"), sorted(i18n.missing("it"))


def test_text_cells_are_translated_or_names(study):
    names = {"Volare Alto"}
    for view in (
        study.continuous_view(),
        study.binary_view(),
        study.detectability_view(),
        study.reproduction_view(),
        study.simulation_design_view(),
    ):
        df = view["df"]
        for col in df.columns:
            for v in df[col]:
                if isinstance(v, str) and not v.replace(", ", "").isdigit():
                    assert v in names or i18n.has_translation(v, "it"), (col, v)


def test_markdown_cells_of_the_notebook_are_translated():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c.source.strip() for c in nb.cells if c.cell_type == "markdown"]
    assert cells
    lacking = [c[:60] for c in cells if not i18n.has_translation(c, "it")]
    assert not lacking, lacking


def test_italian_sentences_use_locale_formats_and_glossary(study):
    box = study.summary()
    answer = box["answer"].render("it")
    assert "0,17 deviazioni standard (DS)" in answer and "4,0 p.p." in answer
    assert "potenza statistica" in answer
    assert "Volare Alto (41 ragazzi contro 123)" in answer
    rec = study.recommendation().render("it")
    assert "effetto minimo rilevabile" not in rec or "MDE" in rec
    assert "differenza nelle differenze" in rec
    assert "SIMULAT" in box["not_this"].render("it")


def test_summary_sentence_follows_the_inputs(study):
    """The MDE sentence is generated from the results: other sizes, other words."""
    smaller = dr.DesignAnalysis.build(
        seed=5, n_sims=3, effects=[0.0, 0.6], course_control_ratios=[1], r2=0.0
    )
    before, after = study.summary()["answer"], smaller.summary()["answer"]
    # 180 vs 720 with R² 0.5: 0.17 SD; 180 vs 180 without covariates: 0.30 SD (published)
    assert "180 participants against 720" in str(before) and "0.17 standard" in str(before)
    assert "180 participants against 180" in str(after) and "0.30 standard" in str(after)
    assert "0,30 deviazioni standard" in after.render("it")
    assert str(smaller.summary()["certainty"]) != str(study.summary()["certainty"])


def test_no_english_numbers_or_labels_leak_into_italian(study):
    """Values nested in messages render in Italian too (decimal commas, translated groups)."""
    import re

    texts = [study.recommendation(), *study.summary().values(), study.groups_text()]
    for view in (
        study.continuous_view(),
        study.design_view(),
        study.power_curve_view(),
        study.binary_view(),
        study.binary_figure_view(),
        study.sample_size_view(),
        study.simulation_design_view(),
        study.simulated_power_view(),
        study.simulated_power_figure_view(),
        study.simulated_mde_view(),
        study.detectability_view(),
        study.comparisons_view(),
        study.reproduction_view(),
    ):
        texts.append(view["caption"])
    for text in texts:
        rendered = text.render("it")
        # 20.000 is Italian; a section number (§3.5) is not a decimal
        assert not re.search(r"(?<!§)(?<!§\d)\d\.\d(?!\d\d)", rendered), rendered
        assert "STEAM courses" not in rendered and " vs " not in rendered, rendered
