"""DiD estimators against published reference numbers (R ``did`` 2.5.0, fixest, Card-Krueger).

Reference files: ``data/reference/r_did_mpdta_attgt.csv`` / ``r_did_mpdta_aggte.csv`` (R
``did`` with analytic standard errors) and the figures in ``data/reference/REFERENCE.md``.
Tolerances: point estimates 1e-6 absolute, analytic SEs 1e-4 relative; figures published to
fewer digits are compared to half a unit of their last digit.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest

from analysis import did, paths

pytestmark = pytest.mark.reference

ATT_TOL = 1e-6
SE_RTOL = 1e-4

SCENARIOS = {
    "mpdta_nev_dr": {"control": "never", "method": "dr"},
    "mpdta_nyt_dr": {"control": "notyet", "method": "dr"},
    "mpdta_nev_reg_cov": {"control": "never", "method": "reg", "covariates": ["lpop"]},
    "mpdta_nev_ipw": {"control": "never", "method": "ipw"},
}
AGG_LABEL = {"group": "cohort", "dynamic": "event_time", "calendar": "time"}


@cache
def mpdta() -> pd.DataFrame:
    return did.datasets.mpdta()


@cache
def fit(scenario: str) -> did.StaggeredResult:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # mpdta is clean: no sample decision may be taken
        return did.staggered(
            mpdta(),
            outcome="lemp",
            unit="countyreal",
            time="year",
            cohort="first.treat",
            **SCENARIOS[scenario],
        )


@cache
def attgt_ref() -> pd.DataFrame:
    return pd.read_csv(paths.REFERENCE_DIR / "r_did_mpdta_attgt.csv")


@cache
def aggte_ref() -> pd.DataFrame:
    return pd.read_csv(paths.REFERENCE_DIR / "r_did_mpdta_aggte.csv")


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_group_time_att_and_se_match_r_did(scenario):
    ref = attgt_ref().query("scenario == @scenario")
    assert len(ref) == 12
    got = fit(scenario).group_time()
    m = ref.merge(
        got, left_on=["group", "t"], right_on=["cohort", "time"], how="left", suffixes=("_r", "")
    )
    assert m["att"].notna().all(), "some R cells were not estimated"
    np.testing.assert_allclose(m["att"], m["att_r"], rtol=0, atol=ATT_TOL)
    np.testing.assert_allclose(m["se"], m["se_r"], rtol=SE_RTOL)
    assert len(got) == 12


AGG_CASES = [
    (s, t)
    for s in ("mpdta_nev_dr", "mpdta_nyt_dr", "mpdta_nev_reg_cov")
    for t in ("simple", "group", "dynamic", "calendar")
]


@pytest.mark.parametrize(("scenario", "agg_type"), AGG_CASES)
def test_aggregations_match_r_aggte(scenario, agg_type):
    ref = aggte_ref().query("scenario == @scenario and type == @agg_type")
    agg = fit(scenario).aggregate(agg_type)
    assert agg.overall.estimate == pytest.approx(ref["overall_att"].iloc[0], abs=ATT_TOL)
    assert agg.overall.se == pytest.approx(ref["overall_se"].iloc[0], rel=SE_RTOL)
    if agg_type == "simple":
        return
    tab = agg.table()
    label = AGG_LABEL[agg_type]
    assert sorted(tab[label]) == sorted(ref["egt"].astype(int))
    m = ref.merge(tab, left_on="egt", right_on=label)
    np.testing.assert_allclose(m["att"], m["att_egt"], rtol=0, atol=ATT_TOL)
    np.testing.assert_allclose(m["se"], m["se_egt"], rtol=SE_RTOL)


def test_headline_numbers_from_reference_md():
    res = fit("mpdta_nev_dr")
    expected = {
        "simple": (-0.0399512752, 0.0120340128),
        "dynamic": (-0.0772398215, 0.0199649891),
        "group": (-0.0310182822, 0.0124460593),
        "calendar": (-0.0417004321, 0.0159718519),
    }
    for agg_type, (att, se) in expected.items():
        overall = res.aggregate(agg_type).overall
        assert overall.estimate == pytest.approx(att, abs=ATT_TOL)
        assert overall.se == pytest.approx(se, rel=SE_RTOL)


def test_wald_pretest_never_treated_dr():
    test = fit("mpdta_nev_dr").pretrend_test()
    assert test.statistic == pytest.approx(7.79124, abs=5e-6)
    assert test.p_value == pytest.approx(0.16812, abs=5e-6)
    assert test.df == 5


def test_dr_with_covariate_lpop_published_figures():
    res = did.staggered(
        mpdta(),
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        control="never",
        method="dr",
        covariates=["lpop"],
    )
    gt = res.group_time().set_index(["cohort", "time"])
    assert gt.loc[(2004, 2004), "att"] == pytest.approx(-0.0145297, abs=ATT_TOL)
    simple = res.aggregate("simple").overall
    assert simple.estimate == pytest.approx(-0.0417518, abs=ATT_TOL)
    assert simple.se == pytest.approx(0.0115028, rel=SE_RTOL)
    assert res.aggregate("dynamic").overall.estimate == pytest.approx(-0.0804, abs=5e-5)
    assert res.pretrend_test().p_value == pytest.approx(0.2327, abs=5e-5)


def test_sun_abraham_att_matches_fixest_sunab_att_true():
    # fixest: feols(lemp ~ sunab(first.treat, year, att = TRUE) | countyreal + year,
    #               cluster = ~countyreal)  ->  -0.04771 (0.013265)
    est = did.etwfe(mpdta(), outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    assert est.estimate == pytest.approx(-0.04771, abs=5e-6)
    assert est.se == pytest.approx(0.013265, rel=SE_RTOL)
    assert est.n_clusters == 500
    assert est.n_obs == 2500


def test_card_krueger_2x2():
    ck = did.datasets.card_krueger()
    means = ck.dropna(subset=["fte"]).groupby(["nj", "post"])["fte"].mean()
    np.testing.assert_allclose(
        means.loc[[(0, 0), (1, 0), (0, 1), (1, 1)]], [23.331, 20.439, 21.166, 21.027], atol=5e-4
    )
    with pytest.warns(UserWarning, match="missing values"):
        est = did.did_2x2(ck, outcome="fte", treated="nj", post="post", cluster="store")
    assert est.estimate == pytest.approx(2.7536, abs=5e-5)
    assert est.se == pytest.approx(1.31, abs=0.005)
    assert est.n_clusters == 410
    with pytest.warns(UserWarning):
        hc1 = did.did_2x2(ck, outcome="fte", treated="nj", post="post")
    # ignoring the pairing of a store's two waves: ~1.80 (REFERENCE.md)
    assert hc1.se == pytest.approx(1.80, abs=0.005)
    assert hc1.estimate == pytest.approx(est.estimate, abs=1e-10)
