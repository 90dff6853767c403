"""The territorial report (analysis.reports.territorial) on the real Eurostat / ISTAT data.

Donor pools and exclusions are checked against the territorial facts they encode (which
provinces are in the Mezzogiorno, which Sardinian provinces changed, which ELET regions are
missing or flagged); the DiD estimate against a hand computation on the same panel; the page's
words against the programme facts (config/programme.yaml).  The estimators themselves are
tested in tests/test_synth_*.py, the territorial knowledge in tests/test_geography.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis import i18n
from analysis.data import geography, indicators
from analysis.errors import DataValidationError
from analysis.facts import programme_facts
from analysis.pipeline.state import dumps
from analysis.reports import territorial as T
from analysis.seeds import SeedStreams

SARDINIA_CHANGED = {"Cagliari", "Sassari", "Nuoro", "Oristano", "Sud Sardegna"}
SARDINIA_ABOLISHED = {"Carbonia-Iglesias", "Medio Campidano", "Ogliastra", "Olbia-Tempio"}


@pytest.fixture(scope="module")
def neet_panel() -> T.TerritorialPanel:
    return T.build_panel(
        indicator="neet",
        level="province",
        treated_unit="Lecce",
        start=2021,
        donor_pool="south_provinces",
        pre_years=2010,
    )


@pytest.fixture(scope="module")
def elet_panel() -> T.TerritorialPanel:
    return T.build_panel(
        indicator="elet",
        level="region",
        treated_unit="Puglia",
        start=2021,
        donor_pool="all_regions",
        pre_years=2014,
    )


@pytest.fixture(scope="module")
def neet_tri(neet_panel) -> T.TerritorialAnalysis:
    return T.triangulate(neet_panel, replications=50, seed=1)


def en(text) -> str:
    """A message rendered in English (the source language)."""
    return i18n.render(text, "en")


# -- donor pools and exclusions ------------------------------------------------------------------
def test_south_province_pool_is_the_mezzogiorno_minus_changed_provinces(neet_panel):
    s = indicators.series("neet")
    south = set(s.loc[(s["level"] == "province") & s["region"].isin(geography.MEZZOGIORNO), "unit"])
    expected = south - {"Lecce"} - SARDINIA_CHANGED - SARDINIA_ABOLISHED
    assert set(neet_panel.donors) == expected
    assert len(neet_panel.donors) == 32
    ex = neet_panel.excluded.set_index("unit", drop=False)
    assert set(ex.loc[ex["rule"] == "boundary", "unit"]) == SARDINIA_CHANGED
    assert set(ex.loc[ex["rule"] == "abolished", "unit"]) == SARDINIA_ABOLISHED
    # Puglia contains Lecce: named as such, never a donor; macro-areas and Italy likewise
    assert set(ex.loc[ex["rule"] == "contains_treated", "unit"]) == {
        "Puglia",
        "Sud",
        "Mezzogiorno",
        "Italia",
    }
    assert "Milano" in set(ex.loc[ex["rule"] == "pool", "unit"])
    # every unit of the source is either treated, a donor, or listed with a reason
    listed = set(ex["unit"].dropna()) | set(neet_panel.donors) | {"Lecce"}
    assert listed == set(s["unit"])


def test_panel_is_balanced_complete_and_without_duplicates(neet_panel):
    d = neet_panel.data
    assert not d.duplicated(["unit", "year"]).any()
    assert d["value"].notna().all()
    years = (*neet_panel.pre_periods, *neet_panel.post_periods)
    assert years == tuple(range(2010, 2025))
    assert neet_panel.pre_periods == tuple(range(2010, 2021))
    assert d.groupby("unit").size().eq(len(years)).all()
    assert set(d["unit"]) == {"Lecce", *neet_panel.donors}
    assert set(d["region"].loc[d["unit"] != "Lecce"]) <= set(geography.MEZZOGIORNO)


def test_later_first_pre_year_readmits_redrawn_sardinian_provinces():
    p = T.build_panel(
        indicator="neet",
        level="province",
        treated_unit="Lecce",
        start=2021,
        donor_pool="south_provinces",
        pre_years=2017,
    )
    assert set(p.donors) >= SARDINIA_CHANGED
    assert not SARDINIA_ABOLISHED & set(p.donors)
    assert len(p.donors) == 37


def test_invalsi_missing_2020_is_a_recorded_dropped_year():
    p = T.build_panel(
        indicator="invalsi_literacy_g8",
        level="province",
        treated_unit="Lecce",
        start=2021,
        donor_pool="south_provinces",
    )
    assert p.pre_periods == (2017, 2018, 2019)
    assert p.post_periods == (2021, 2022, 2023, 2024)
    assert p.missing_years == (2020,)
    reason = p.excluded.loc[p.excluded["rule"] == "year", "reason"].iloc[0]
    assert "INVALSI" in reason and "2020" in reason


def test_elet_regions_exclusions_and_breaks(elet_panel):
    ex = elet_panel.excluded.set_index("unit")
    assert ex.loc["Molise", "rule"] == "missing" and "2023-2025" in ex.loc["Molise", "reason"]
    assert ex.loc["Valle d'Aosta/Vallée d'Aoste", "rule"] == "missing"
    assert ex.loc["Basilicata", "rule"] == "unreliable"
    assert ex.loc["Sud", "rule"] == "contains_treated"
    assert ex.loc["Centro", "rule"] == "level"
    assert len(elet_panel.donors) == 15
    assert {"Provincia Autonoma di Bolzano/Bozen", "Campania"} <= set(elet_panel.donors)
    br = elet_panel.breaks().set_index("year")
    assert {2014, 2021} <= set(br.index)
    assert br.loc[2021, "position"].startswith("start year")
    assert any("coincides with the start" in str(n) for n in elet_panel.break_notes())
    flagged = elet_panel.flags()
    assert not flagged["used"].any()  # all flagged observations belong to excluded donors


def test_keeping_unreliable_readmits_flagged_donors_but_not_missing_ones():
    p = T.build_panel(
        indicator="elet",
        level="region",
        treated_unit="Puglia",
        start=2021,
        donor_pool="south_regions",
        pre_years=2014,
        exclude_unreliable=False,
    )
    assert "Basilicata" in p.donors
    assert "Molise" not in p.donors
    assert set(p.donors) == {"Abruzzo", "Basilicata", "Calabria", "Campania", "Sicilia", "Sardegna"}


def test_aggregate_next_to_its_parts_is_not_a_donor():
    years = range(2010, 2016)
    rows = [
        {
            "unit": u,
            "level": "region",
            "region": u,
            "year": y,
            "value": v + 0.1 * y - 200,
            "flag": "",
            "source": "test",
            "break": False,
            "unreliable": False,
        }
        for u, v in [
            ("Puglia", 5.0),
            ("Trentino-Alto Adige/Südtirol", 3.0),
            ("Provincia Autonoma di Trento", 2.0),
            ("Veneto", 4.0),
        ]
        for y in years
    ]
    p = T.build_panel(
        indicator="elet",
        level="region",
        treated_unit="Puglia",
        start=2014,
        donor_pool="all_regions",
        data=pd.DataFrame(rows),
    )
    assert set(p.donors) == {"Provincia Autonoma di Trento", "Veneto"}
    ex = p.excluded.set_index("unit")
    assert ex.loc["Trentino-Alto Adige/Südtirol", "rule"] == "aggregate"


def test_bes_splice_is_described(neet_panel):
    sp = neet_panel.splice().set_index("unit")
    assert sp.loc["Lecce", "years_ed2021_shifted"] == "2010-2017"
    assert sp.loc["Lecce", "years_ed2025"] == "2018-2024"
    assert sp.loc["Lecce", "shift"] == pytest.approx(0.1667, abs=1e-3)
    assert any("-N22" in str(n) for n in neet_panel.break_notes())


# -- bad parameters --------------------------------------------------------------------------------
BASE = dict(
    indicator="neet",
    level="province",
    treated_unit="Lecce",
    start=2021,
    donor_pool="south_provinces",
    pre_years=2010,
)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"treated_unit": "Leccee"}, "not found in the 'neet' series"),
        ({"level": "region", "donor_pool": "south_regions"}, "is a province, not a region"),
        ({"start": 2030}, "outside the data"),
        ({"start": 2004, "pre_years": None}, "outside the data"),
        ({"pre_years": 5}, "not a number of years"),
        ({"pre_years": 2022}, "must be before start"),
        ({"start": 2011}, "fewer than 2 pre-period years"),
        ({"donor_pool": "southern_provinces"}, "did you mean 'south_provinces'"),
        ({"donor_pool": "south_regions"}, "holds regions"),
        ({"donor_pool": ["Cagliari"]}, "no donors left"),
        ({"donor_pool": ["Lecce", "Bari"]}, "treated unit 'Lecce' is in the donor list"),
        ({"donor_pool": ["Puglia"]}, "not of level 'province'"),
        ({"indicator": "elet"}, "not published by province"),
        ({"indicator": "neat"}, "did you mean 'neet'"),
        ({"sex": "X"}, "sex must be one of"),
        ({"level": "nation"}, "level must be one of"),
    ],
)
def test_bad_parameters_raise_named_errors(change, message):
    with pytest.raises(DataValidationError, match="rule") as err:
        T.build_panel(**{**BASE, **change})
    assert message in str(err.value)


def test_no_donors_left_names_the_reasons():
    with pytest.raises(DataValidationError) as err:
        T.build_panel(
            indicator="elet",
            level="region",
            treated_unit="Puglia",
            start=2021,
            donor_pool=["Molise", "Basilicata"],
            pre_years=2014,
        )
    msg = str(err.value)
    assert "no donors left" in msg and "Molise" in msg and "missing value" in msg


def test_duplicated_unit_year_rows_are_rejected():
    s = indicators.series("neet")
    dup = pd.concat([s, s[(s["unit"] == "Bari") & (s["year"] == 2015)]], ignore_index=True)
    with pytest.raises(DataValidationError, match="duplicated unit-year rows") as err:
        T.build_panel(**BASE, data=dup)
    assert "Bari" in str(err.value) and "DataFrame argument" in str(err.value)


# -- estimation ------------------------------------------------------------------------------------
def test_triangulation_numbers_on_lecce_neet(neet_panel, neet_tri):
    t = neet_tri.table().set_index("estimator")
    assert list(t.index) == ["Synthetic control", "Synthetic DiD", "DiD (unit + year effects)"]
    # DiD by hand: (treated post - pre) - (donor mean post - pre), equal weights
    d = neet_panel.data
    post = d["year"] >= 2021
    tr = d["unit"] == "Lecce"
    by_hand = (d[tr & post]["value"].mean() - d[tr & ~post]["value"].mean()) - (
        d[~tr & post]["value"].mean() - d[~tr & ~post]["value"].mean()
    )
    assert t.loc["DiD (unit + year effects)", "att"] == pytest.approx(by_hand, abs=1e-8)
    # values of this panel (real data, ed. 2021 + 2025 splice), stated to 0.01
    assert t.loc["Synthetic control", "att"] == pytest.approx(-0.233, abs=0.01)
    assert t.loc["Synthetic DiD", "att"] == pytest.approx(0.850, abs=0.01)
    assert by_hand == pytest.approx(0.206, abs=0.01)
    assert t.loc["Synthetic control", "pre_rmspe"] == pytest.approx(0.869, abs=0.01)
    # permutation p = rank / (donors + 1)
    assert (t["n_units"] == 33).all()
    assert np.allclose(t["p_permutation"], t["rank"] / 33)
    w = neet_tri.results["sc"].weights
    assert w.min() >= -1e-12 and w.sum() == pytest.approx(1.0, abs=1e-6)
    assert neet_tri.fake_start == 2016
    it = neet_tri.placebo_in_time_table()
    assert (it["fake_post"] == "2016-2020").all()
    loo = neet_tri.leave_one_out_table().set_index("estimator")
    assert loo.loc["Synthetic control", "re_estimates"] == int((w > 1e-6).sum())
    # placebo standard errors draw from the run's "placebo" stream, never from the seed itself
    placebo_seed = SeedStreams(1).seed_for("placebo")
    assert {r.seed for r in neet_tri.results.values()} == {placebo_seed}


def test_conclusion_and_results_json(neet_tri):
    text = en(neet_tri.conclusion())
    assert "4 post-period years available (2021-2024)" in text
    assert "not the programme's effect" in text and "780,000" in text
    facts = programme_facts()
    # programme reach from config/programme.yaml, never typed
    assert f"about {facts.courses.pupils} pupils and {facts.courses.parents} parents" in text
    assert "residents aged 15-29" in text  # whom one point counts (analysis.data.geography)
    assert "not statistically distinguishable from zero" in text  # classify_placebo words
    head = neet_tri.headline()
    assert set(head) == {"SC ATT (pp)", "SDID ATT (pp)", "DiD ATT (pp)", "SC permutation p"}
    assert en(neet_tri.headline_text()).count("pp") == 3
    payload = json.loads(dumps({"r": neet_tri.to_dict()}))
    assert payload["r"]["n_post"] == 4
    assert len(payload["r"]["triangulation"]) == 3
    assert payload["r"]["panel"]["design"]["pre_years"] == 2010
    assert payload["r"]["significance"]["sc"]["level"] == "not distinguishable"
    assert "donor_pool:all_provinces" in payload["r"]["robustness"]


def test_figures_are_built_per_language(neet_tri):
    for f in (T.plot_paths, T.plot_gaps, T.plot_weights, T.plot_leave_one_out):
        for lang in ("en", "it"):
            fig = f(neet_tri, lang=lang)
            assert fig.axes and fig.axes[0].lines or fig.axes[0].patches
    it_fig = T.plot_paths(neet_tri, lang="it")
    assert it_fig.axes[0].get_xlabel() == "Anno"


def test_page_pieces_carry_captions(neet_tri):
    tables = [
        *neet_tri.exclusion_views(),
        neet_tri.gap_by_year_view(),
        neet_tri.weights_table_view(),
        neet_tri.estimates_view(),
        neet_tri.placebo_view(),
        *neet_tri.in_time_views(),
        neet_tri.leave_one_out_view(),
        neet_tri.robustness_view(),
    ]
    for view in tables:
        assert isinstance(view["df"], pd.DataFrame) and len(en(view["caption"])) > 10
        # human headers: no snake_case column reaches the page
        assert not any("_" in str(c) for c in view["df"].columns)
    # NEET by province: no flagged observation (a note instead of a table); nine Sardinian
    # provinces excluded; unit lists collapsed into the annex
    views = neet_tri.exclusion_views()
    assert len(views) == 3 and all(v["collapsed"] for v in views)
    assert "Candidate donors excluded (9)" in en(views[0]["caption"])
    assert any("carries a flag" in en(t) for t, _ in neet_tri.data_notes())
    est = neet_tri.estimates_view()
    assert "50 placebo draws from the random stream 'placebo' of seed 1" in en(est["caption"])
    assert list(est["df"].columns[:3]) == ["Estimator", "ATT", "Placebo SE"]
    for view in (neet_tri.paths_view(), neet_tri.gaps_view(), neet_tri.weights_view()):
        assert callable(view["fig"]) and "Source:" in en(view["caption"])
    assert len(neet_tri.conclusion_parts()) == 3
    assert any("-N22" in en(t) for t, _ in neet_tri.data_notes())
    sheet = en(neet_tri.data_sheet_text())
    assert "**Donors used:** 32 of 41 candidates" in sheet


def test_question_reads_the_programme_facts(neet_panel):
    q = en(T.question(neet_panel))
    assert en(T.reach_words(2021)) in q
    assert "The pre-period includes" not in q  # 2021: nothing of the programme ran before
    later = T.build_panel(
        indicator="neet",
        level="province",
        treated_unit="Lecce",
        start=2023,
        donor_pool="south_provinces",
        pre_years=2010,
    )
    q = en(T.question(later))
    assert "The pre-period includes 2021-2022, when Pro Officine Mezzogiorno was already" in q
    assert f"reached {programme_facts().day_centre.youths} young people" in q


# -- options used or refused -----------------------------------------------------------------------
ELET = dict(
    indicator="elet",
    level="region",
    treated_unit="Puglia",
    start=2021,
    donor_pool="south_regions",
    pre_years=2010,
)


def _with_sex(sex: str) -> pd.DataFrame:
    """The ELET series of one sex, with a ``sex`` column."""
    return indicators.series("elet", sex=sex).assign(sex=sex)


def test_sex_is_applied_to_data_with_a_sex_column():
    both = pd.concat([_with_sex("T"), _with_sex("F")], ignore_index=True)
    from_data = T.build_panel(**ELET, sex="F", data=both)
    direct = T.build_panel(**ELET, sex="F")
    pd.testing.assert_frame_equal(from_data.estimation_frame(), direct.estimation_frame())
    total = T.build_panel(**ELET, data=both)
    assert not total.estimation_frame()["value"].equals(from_data.estimation_frame()["value"])
    with pytest.raises(DataValidationError, match="no rows with sex='M'"):
        T.build_panel(**ELET, sex="M", data=_with_sex("F"))


def test_sex_refused_with_data_without_a_sex_column():
    plain = indicators.series("elet", sex="F")
    assert "sex" not in plain.columns
    with pytest.raises(DataValidationError, match="sex='F' cannot be applied"):
        T.build_panel(**ELET, sex="F", data=plain)
    # the default (the data are taken as they are) keeps working
    assert T.build_panel(**ELET, data=plain).donors


def test_ci_level_is_stated_in_the_captions(neet_panel, neet_tri):
    df = pd.DataFrame({"att": [1.0], "ci_low": [0.0], "ci_high": [2.0]})
    assert list(T.for_display(df).columns) == ["ATT", "CI lower bound", "CI upper bound"]
    with pytest.raises(KeyError, match="no display header"):
        T.for_display(pd.DataFrame({"unknown_column": [1]}))
    assert "95% confidence interval" in en(neet_tri.estimates_view()["caption"])
    tri90 = T.triangulate(neet_panel, replications=10, seed=1, level=0.9, robustness=False)
    assert "90% confidence interval" in en(tri90.estimates_view()["caption"])
    assert "90% placebo intervals" in en(tri90.conclusion())
    assert tri90.variants == ()
