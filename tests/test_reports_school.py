"""The school-level comparison page (issues 15, 11, 12): words generated from the numbers."""

from __future__ import annotations

import pytest

from analysis.data import panels, schools
from analysis.errors import DataValidationError
from analysis.reports.school import compare_school, permutation_words, rule_words
from analysis.significance import classify_placebo

SITES = ["LETL04201D", "LETD042013", "LERI04201C", "LERC04201Q"]


@pytest.fixture(scope="module")
def school():
    return compare_school(
        treated_sites=SITES,
        institute="LEIS04200R",
        donor_pool="lecce_upper_secondary",
        start=2021,
        replications=40,
        seed=1,
    )


def test_treated_unit_is_the_sum_of_the_daytime_sites(school):
    t = school.sites_table().set_index("site")
    assert t.loc["Total", "2020/21"] == 921 and t.loc["Total", "2024/25"] == 730
    assert (t.drop(index="Total").sum() == t.loc["Total"]).all()
    d = school.panel.data
    treated = d[d["unit"] == school.panel.treated_unit].set_index("year")
    assert treated.loc[2020, "value"] == pytest.approx(100.0)
    assert treated.loc[2024, "value"] == pytest.approx(100 * 730 / 921)


def test_donors_exclude_the_school_evening_codes_and_incomplete_series(school):
    ex = school.panel.excluded.set_index("unit")
    assert {"LERI04251T", "LETL04251V"} <= set(ex.index)
    assert not set(SITES) & set(school.panel.donors)
    assert not schools.is_evening(list(school.panel.donors)).any()
    assert len(school.panel.donors) == 15
    shown = school.excluded_table()
    assert list(shown.columns) == ["Site", "Reason"] and len(shown) == len(ex)


def test_summary_words_follow_the_numbers(school):
    box = {k: v.render("en") for k, v in school.summary_box().items()}
    ev = school.evidence(1)
    assert "921 pupils in 2020/21 to 730 in 2024/25 (−20.7%)" in box["answer"]
    assert f"{ev.att:+.1f}".replace("-", "−") in box["answer"]
    assert ev.words().render("en") in box["answer"]
    assert (
        "Enrolment, not dropout" in box["not_this"] and "Not an effect on pupils" in box["not_this"]
    )
    assert "Real data" in box["not_this"]
    assert rule_words(ev).render("en") in box["certainty"]  # the rule is stated where it is used
    assert "school_partner_puglia.html" in box["would_change"]


def test_verdict_rule_needs_interval_and_permutation(school):
    v = school.verdict()
    excludes = v["ci_low"] > 0 or v["ci_high"] < 0
    perm = v["p_permutation"] is not None and v["p_permutation"] <= 0.05
    assert v["distinguishable"] == (excludes and perm)
    assert v["level"] == ("not distinguishable" if not excludes else v["level"])


def _call(**kw):
    base = {
        "att": -20.0,
        "ci_low": -30.0,
        "ci_high": -10.0,
        "rank": 1,
        "n_units": 120,
        "pre_rmspe": 1.0,
        "alpha": 0.05,
    }
    return classify_placebo(**{**base, **kw})


def test_school_words_follow_the_placebo_rule():
    assert _call().level == "distinguishable"
    assert _call(rank=24).level == "borderline"  # p = 0.2
    assert _call(ci_high=5.0).level == "not distinguishable"
    assert _call(ci_low=float("nan")).level == "undefined"
    exact = _call(pre_rmspe=0.0)
    assert exact.level == "borderline" and exact.p_permutation is None
    assert "pre-period fit is exact" in permutation_words(exact).render("en")
    few = _call(n_units=16)  # 1/16 > 0.05
    assert few.level == "borderline" and few.undefined_because == "too_few_placebos"
    words = permutation_words(few).render("en")
    assert "cannot confirm" in words and "p = 0.062" in words
    assert "permutation p = 0.008" in permutation_words(_call()).render("en")
    assert "95%" in rule_words(_call()).render("en")
    assert "0,05" in rule_words(_call()).render("it")


def test_exact_pre_fit_leaves_the_permutation_p_undefined(school):
    t = school.estimates_table().set_index("Estimator")
    sc = t.loc["Synthetic control"]
    assert sc["Pre-period RMSPE"] <= 1e-9  # this panel: the synthetic control fits exactly
    assert sc["Permutation p-value"] == float("inf")  # rendered "undefined", not a number
    assert school.evidence(0).p_permutation is None
    assert school.evidence(0).undefined_because == "exact_fit"
    pl = school.placebo_table()
    assert (
        pl.loc[pl["Estimator"] == "Synthetic control", "Permutation p-value"] == float("inf")
    ).all()
    assert school.to_dict()["significance"]["synthetic_control"]["p_permutation"] is None


def test_grade_profile_shares_sum_to_one_hundred(school):
    g = school.grade_profile_table()
    assert list(g["Year of upper secondary"]) == ["1", "2", "3", "4", "5"]
    assert g["Share of the school's pupils (%)"].sum() == pytest.approx(100.0)
    assert g["Share in the donor sites (%)"].sum() == pytest.approx(100.0)


def test_tables_have_translated_headers_and_no_raw_years(school):
    from analysis.i18n import has_translation

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
        assert all(has_translation(str(c), "it") for c in df.columns), list(df.columns)
    assert set(school.in_time_table()["Fake start"]) == {"2020/21"}


def test_bad_parameters_are_clear_errors():
    s = panels.load("school_sites")
    g = panels.load("school_grades_2022")
    r = panels.load("school_registry_2022")
    with pytest.raises(DataValidationError) as info:
        schools.comparison_panel(
            s,
            g,
            r,
            treated_sites=["LERI04251T", "LEXX000000"],
            institute="LEIS04200R",
            donor_pool="all_of_italy",
            outcome="share",
            base_year=2017,
        )
    cols = {v.column for v in info.value.violations}
    assert cols == {"donor_pool", "outcome", "base_year", "treated_sites"}
