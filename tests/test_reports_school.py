"""The school-level comparison page (issue 15): words generated from the numbers."""

from __future__ import annotations

import pytest

from analysis.data import panels, schools
from analysis.errors import DataValidationError
from analysis.reports.school import compare_school

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
    assert t.loc["total", "2020/21"] == 921 and t.loc["total", "2024/25"] == 730
    assert (t.drop(index="total").sum() == t.loc["total"]).all()
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


def test_summary_words_follow_the_numbers(school):
    text = school.summary_text()
    v = school.verdict()
    assert "921 pupils in 2020/21 to 730 in 2024/25 (-20.7%)" in text
    assert f"{v['att']:+.1f}" in text and f"{v['ci_low']:+.1f}" in text
    if v["distinguishable"]:
        assert "not distinguishable" not in text
    else:
        assert "not distinguishable from zero" in text
    assert "not dropout" in text  # what enrolment cannot say


def test_verdict_rule_needs_interval_and_permutation(school):
    v = school.verdict()
    excludes = v["ci_low"] > 0 or v["ci_high"] < 0
    perm = v["p_permutation"] is not None and v["p_permutation"] <= 0.05
    assert v["distinguishable"] == (excludes and perm)


def test_exact_pre_fit_leaves_the_permutation_p_undefined(school):
    t = school.estimates_table().set_index("Estimator")
    sc = t.loc["Synthetic control"]
    if sc["Pre-period RMSPE"] <= 1e-9:
        assert sc.isna()["p (permutation)"]


def test_grade_profile_shares_sum_to_one(school):
    g = school.grade_profile_table()
    assert list(g["Year of upper secondary"]) == ["1", "2", "3", "4", "5"]
    assert g["Share of the school's pupils"].sum() == pytest.approx(1.0)
    assert g["Share in the donor sites"].sum() == pytest.approx(1.0)


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
