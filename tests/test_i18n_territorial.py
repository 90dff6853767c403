"""The territorial pages in Italian, their significance words and their robustness record.

Renders every text of a real run (Lecce NEET from 2021) in Italian and checks that no id of the
page's own domain lacks a translation; the data layer's labels (domain ``indicators``) are
left to that domain's test.  Then the #11 rules: a permutation p-value with an exact pre-period
fit is called undefined, never printed as a number; too few placebos make it undefined too;
the robustness checks are stored with their outcomes.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import i18n, significance
from analysis.i18n import read_po_file
from analysis.reports import territorial as T

DOMAIN = i18n.LOCALE_DIR / "it" / "LC_MESSAGES" / "territorial.po"


@pytest.fixture(scope="module")
def neet() -> T.TerritorialAnalysis:
    panel = T.build_panel(
        indicator="neet",
        level="province",
        treated_unit="Lecce",
        start=2021,
        donor_pool="south_provinces",
        pre_years=2010,
    )
    return T.triangulate(panel, replications=20, seed=1)


@pytest.fixture(scope="module")
def invalsi() -> T.TerritorialAnalysis:
    """INVALSI from 2021: three pre-period years and 37 donors, an exact synthetic control."""
    panel = T.build_panel(
        indicator="invalsi_literacy_g8",
        level="province",
        treated_unit="Lecce",
        start=2021,
        donor_pool="south_provinces",
    )
    return T.triangulate(panel, replications=20, seed=1, robustness=False)


def _texts(tri: T.TerritorialAnalysis) -> list:
    views = [
        *tri.exclusion_views(),
        tri.gap_by_year_view(),
        tri.weights_table_view(),
        tri.estimates_view(),
        tri.placebo_view(),
        *tri.in_time_views(),
        tri.leave_one_out_view(),
        tri.robustness_view(),
        tri.paths_view(),
        tri.gaps_view(),
    ]
    out = [v["caption"] for v in views]
    for v in views:
        if "df" in v:
            out += [str(c) for c in v["df"].columns]
            out += [x for x in v["df"].to_numpy().ravel() if isinstance(x, str) and x]
    out += [tri.question(), tri.data_sheet_text(), *tri.conclusion_parts(), *tri.notes]
    out += [t for t, _ in tri.data_notes()]
    out += list(tri.summary_box().values())
    return out


def test_texts_render_in_italian_without_missing_ids_of_this_domain(neet):
    own = set(read_po_file(DOMAIN))
    i18n.reset_missing()
    rendered = [i18n.render(x, "it") for x in _texts(neet)]
    for lang in ("it", "en"):
        for f in (T.plot_paths, T.plot_gaps, T.plot_weights, T.plot_leave_one_out):
            f(neet, lang=lang)
    missing = i18n.missing("it")
    data_layer = {m for m in missing if m not in own}
    ours = missing - data_layer
    assert not ours, sorted(ours)[:5]
    # the page's own words are Italian; numbers carry decimal commas
    box = i18n.render(neet.summary_box()["answer"], "it")
    assert "intervallo placebo al 95%" in box and "p.p." in box and "," in box
    assert not any("None" in r or "inf" in r.split() or "[" in r[:1] for r in rendered)
    # table cells that are words are catalog ids; every header has a translation
    for view in (neet.estimates_view(), neet.robustness_view(), neet.placebo_view()):
        for c in view["df"].columns:
            assert i18n.has_translation(str(c), "it"), c


def test_every_id_of_the_domain_is_translated_with_its_placeholders():
    import re

    for msgid, msgstr in read_po_file(DOMAIN).items():
        fields = set(re.findall(r"\{(\w+)\}", msgid))
        assert fields == set(re.findall(r"\{(\w+)\}", msgstr)), msgid[:60]


def test_exact_pre_fit_makes_the_permutation_p_undefined(invalsi):
    assert T.exact_pre_fit(invalsi.sc)
    ev = invalsi.evidence("sc")
    assert ev.undefined_because == "exact_fit" and ev.p_permutation is None
    box = invalsi.summary_box()
    certainty_en = i18n.render(box["certainty"], "en")
    assert "permutation p undefined (exact pre-period fit" in certainty_en
    assert "non definito" in i18n.render(box["certainty"], "it")
    assert invalsi.headline()["SC permutation p"] is None
    # the tables show "undefined", not a number
    est = invalsi.estimates_view()["df"].set_index("Estimator")
    assert est.loc["Synthetic control", "Permutation p"] == float("inf")
    assert invalsi.to_dict()["significance"]["sc"]["p_permutation"] is None
    # synthetic DiD is not an exact fit: its p stays a number
    assert invalsi.evidence("sdid").p_permutation is not None


def test_too_few_placebos_make_the_permutation_p_undefined(neet):
    space = neet.placebos["sc"]
    ev = significance.classify_placebo(
        att=neet.sc.att,
        ci_low=neet.sc.ci_low,
        ci_high=neet.sc.ci_high,
        rank=space.treated_rank,
        n_units=space.n_units,
        pre_rmspe=neet.sc.pre_rmspe,
        treated_ratio=space.treated_ratio,
        alpha=0.01,
    )  # 1/33 > 0.01
    assert ev.undefined_because == "too_few_placebos" and ev.p_permutation is None
    assert "undefined" in i18n.render(ev.permutation_words(), "en")


def test_significance_levels_follow_the_stated_rule(neet):
    ev = neet.evidence("sc")
    assert ev.interval_includes_zero and ev.level == "not distinguishable"
    assert ev.to_dict()["rule"] == "analysis.significance.classify_placebo"


def test_robustness_keys_exist_with_outcomes(neet):
    rob = neet.robustness()
    assert {"placebo_in_space", "placebo_in_time", "leave_one_out"} <= set(rob)
    pools = [k for k in rob if k.startswith("donor_pool:")]
    windows = [k for k in rob if k.startswith("pre_window:")]
    assert pools == ["donor_pool:all_provinces"]
    assert windows and all(k.split(":")[1].isdigit() for k in windows)
    for key in pools + windows:
        r = rob[key]
        assert r["run"] is True and isinstance(r["agrees_with_headline"], bool)
        assert r["ci_low"] <= r["att"] <= r["ci_high"]
    table = neet.robustness_table()
    assert isinstance(table, pd.DataFrame) and len(table) == 1 + len(pools) + len(windows)
