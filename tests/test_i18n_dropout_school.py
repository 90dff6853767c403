"""The dropout and school pages in two languages (issues 11, 12).

Every text of the two report modules renders in Italian with no missing catalog id; the
dropout page's hazard table withholds hazards that reveal fewer than k dropouts; the words
about an effect come from the one significance rule (dropout) or from the page's own stated
rule (school).
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from types import SimpleNamespace

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from analysis import i18n, significance
from analysis.data.programme import load_panel
from analysis.data.simulate import programme_panel
from analysis.i18n import render
from analysis.privacy import K_MIN
from analysis.reports import dropout as dr
from analysis.reports import programme as pr
from analysis.reports import school as sc

SITES = ["LETL04201D", "LETD042013", "LERI04201C", "LERC04201Q"]


@pytest.fixture(scope="module")
def drop():
    sim = programme_panel(seed=3)
    data = pr.ProgrammeData(
        panel=load_panel(sim.data, exclusions="report"),
        simulated=True,
        sim=sim,
        source="test",
        label=i18n.t("simulated pupil panel"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dr.DropoutAnalysis.build(
            data, seed=1, covariates=pr.BALANCE_COVARIATES, bootstrap_reps=19, ri_reps=9
        )


@pytest.fixture(scope="module")
def school():
    return sc.compare_school(
        treated_sites=SITES,
        institute="LEIS04200R",
        donor_pool="lecce_upper_secondary",
        start=2021,
        replications=20,
        seed=1,
    )


def _texts_of_table(df: pd.DataFrame, lang: str) -> list[str]:
    out = [render(str(c), lang) if not isinstance(c, i18n.Concat) else c.render(lang) for c in df]
    for col in df.columns:
        for v in df[col]:
            if isinstance(v, str) and i18n.has_translation(v, lang):
                out.append(i18n.gettext(v, lang))
    return out


def test_dropout_page_in_italian_has_no_missing_ids(drop):
    i18n.reset_missing()
    texts = [render(v, "it") for v in drop.summary_box().values()]
    texts += [render(drop.question(), "it"), render(drop.conclusion(), "it")]
    h = drop.hazards()
    texts += [render(h.caption, "it"), render(h.figure_caption, "it")]
    texts += _texts_of_table(h.table, "it")
    for view in (drop.estimates(), drop.few_clusters()):
        texts += [render(view.caption, "it"), *_texts_of_table(view.table, "it")]
    texts += [render(drop.headline_text(), "it"), render(drop.missing_covariates_note(), "it")]
    plt.close(dr.hazard_figure(h.table, lang="it"))
    assert not i18n.missing("it"), sorted(i18n.missing("it"))
    page = " ".join(texts)
    assert not re.search(r"\b(None|inf|nan|True|False)\b|\['", page)
    assert "differenza nelle differenze" in page  # says what it is not
    assert "p.p." in page


def test_dropout_table_with_a_small_numerator_is_suppressed(drop):
    """A hazard that reveals 1-9 dropouts is withheld, with a complement in its group."""
    fake = drop.hazard.copy()
    fake["units"] = 200
    fake["hazard"] = [0.10, 0.10, 0.10, 0.03, 0.10, 0.10]  # participants, year 0: 6 dropouts
    fake["participant"] = [0, 0, 0, 1, 1, 1]
    view = dataclasses.replace(drop, hazard=fake).hazards()
    h = view.table
    x = h[dr.H_HAZARD] * h[dr.H_PUPILS] / 100
    assert not ((x > 1e-6) & (x < K_MIN)).any()  # no hazard reveals 1-9 dropouts
    part = h[h[dr.H_GROUP] == dr.GROUPS[1]]
    assert part[dr.H_HAZARD].isna().sum() == 2  # the small one and its complement
    assert view.masked == 2
    assert "2" in render(view.caption, "en") and "withheld" in render(view.caption, "en")
    assert h.loc[h[dr.H_GROUP] == dr.GROUPS[0], dr.H_HAZARD].notna().all()


def test_dropout_words_come_from_the_significance_rule(drop):
    sig = drop.significance()
    e = drop.result.estimate
    expected = significance.classify(
        ci_low=e.ci_low,
        ci_high=e.ci_high,
        wild_cluster_bootstrap=drop.wild_bootstrap.p_value,
        randomization_inference=drop.randomization.p_value,
    )
    assert sig == expected
    for lang in ("en", "it"):
        words = sig.words().render(lang)
        assert words in render(drop.summary_box()["answer"], lang)
        assert words in render(drop.conclusion(), lang)
    assert drop.to_dict()["significance"] == sig.to_dict()
    # the headline is the pre-specified design's (no covariates), not the adjusted fit
    design = significance.headline_design("dropped_out")
    assert list(drop.design_covariates) == list(design["covariates"])
    assert drop.adjusted is not None and drop.adjusted.covariates == tuple(pr.BALANCE_COVARIATES)


def test_dropout_borderline_words_when_a_check_disagrees(drop):
    """The rule says borderline when the interval excludes zero and the bootstrap does not."""
    fake_e = SimpleNamespace(ci_low=0.01, ci_high=0.05)
    page = SimpleNamespace(
        result=SimpleNamespace(estimate=fake_e),
        wild_bootstrap=SimpleNamespace(p_value=0.2),
        randomization=SimpleNamespace(p_value=0.01),
    )
    sig = dr.DropoutAnalysis.significance(page)  # type: ignore[arg-type]
    assert sig.level == "borderline"
    assert "borderline" in sig.words().render("en")
    assert "al limite" in sig.words().render("it")


def test_school_page_in_italian_has_no_missing_ids(school):
    i18n.reset_missing()
    texts = [render(v, "it") for v in school.summary_box().values()]
    texts += [render(school.question_text(), "it"), render(school.headline_text(), "it")]
    view = school.sites_view("LEIS04200R")
    texts += [render(view["caption"], "it"), *_texts_of_table(view["df"], "it")]
    for df in (
        school.estimates_table(),
        school.placebo_table(),
        school.leave_one_out_table(),
        school.in_time_table(),
        school.weights_table(),
        school.grade_profile_table(),
        school.splice_table(),
        school.excluded_table(),
    ):
        texts += _texts_of_table(df, "it")
    for cap in (
        school.paths_caption(),
        school.estimates_caption(),
        school.placebo_caption(),
        school.leave_one_out_caption(),
        school.in_time_caption(),
        school.weights_caption(),
        school.grade_profile_caption(),
        school.splice_caption(),
        school.excluded_caption(),
    ):
        texts.append(render(cap, "it"))
    plt.close(school.paths_figure("it"))
    assert not i18n.missing("it"), sorted(i18n.missing("it"))
    page = " ".join(texts)
    assert not re.search(r"\b(None|inf|nan|True|False)\b|\['", page)
    assert "daytime sites" not in page
    assert "2.021" not in page and "2.020" not in page  # years never grouped
    assert "non è un effetto sugli alunni" in page.lower()


def test_school_words_come_from_the_stated_rule(school):
    ev = school.evidence(1)
    box = school.summary_box()
    for lang in ("en", "it"):
        assert ev.words().render(lang) in render(box["answer"], lang)
        assert sc.rule_words(ev).render(lang) in render(box["certainty"], lang)
        assert sc.permutation_words(ev).render(lang) in render(box["certainty"], lang)
    assert school.to_dict()["significance"]["synthetic_did"]["level"] == ev.level
    assert school.verdict()["level"] == ev.level
