"""Design diagnostics (analysis.diagnostics) on a simulated pupil register.

The Goodman-Bacon decomposition itself is checked against TWFE on mpdta in
``tests/test_did_crosschecks.py``; here: the balanced sub-panel of an unbalanced register, the
summary around it, covariate balance and the MDE of the realised design.
"""

from __future__ import annotations

import json
import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest

from analysis import diagnostics, did, power
from analysis._util import to_jsonable
from analysis.data.simulate import programme_panel
from analysis.privacy import K_MIN

PK = {"unit": "pupil_id", "time": "year", "cohort": "cohort"}


@cache
def frame() -> pd.DataFrame:
    d = programme_panel(seed=3).data.sort_values(["pupil_id", "year"]).reset_index(drop=True)
    d["female"] = (d["sex"] == "F").astype(float)
    d["participant"] = (d["cohort"] > 0).astype(int)
    d["baseline_school"] = d.groupby("pupil_id")["school_id"].transform("first")
    return d


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def test_balanced_subpanel_is_balanced_and_both_cs_paths_agree_on_it():
    sub = diagnostics.balanced_subpanel(frame(), outcome="absence_rate", **PK)
    lo, hi = sub.window
    assert hi - lo >= 2
    d = sub.data
    assert (d.groupby("pupil_id")["year"].nunique() == hi - lo + 1).all()
    assert d["absence_rate"].notna().all()
    assert not ((d["cohort"] > 0) & (d["cohort"] <= lo)).any()  # no one treated at the start
    assert not (d["cohort"] > hi).any()  # later editions recoded as never treated
    sizes = d.drop_duplicates("pupil_id")["cohort"].value_counts()
    assert (sizes >= K_MIN).all() and 0 in sizes.index
    assert (d["treated"] == ((d["cohort"] > 0) & (d["year"] >= d["cohort"]))).all()
    kw = {"outcome": "absence_rate", **PK, "cluster": "baseline_school"}
    a = _quiet(did.staggered, d, **kw)
    b = _quiet(did.staggered, d, **kw, allow_unbalanced=True)
    np.testing.assert_allclose(b.att, a.att, atol=1e-12)
    assert b.aggregate("simple").overall.se == pytest.approx(
        a.aggregate("simple").overall.se, rel=1e-12
    )


def test_balanced_subpanel_none_without_a_qualifying_window():
    few = frame()[frame()["year"].isin([2019, 2020])]
    assert diagnostics.balanced_subpanel(few, outcome="absence_rate", **PK) is None
    big = diagnostics.balanced_subpanel(frame(), outcome="absence_rate", **PK, min_group=10_000)
    assert big is None


def test_bacon_weights_add_up_to_twfe_on_the_subpanel():
    b = _quiet(
        diagnostics.bacon_on_balanced_subpanel,
        frame(),
        outcome="absence_rate",
        **PK,
        cluster="baseline_school",
    )
    assert b.table["weight"].sum() == pytest.approx(1.0, abs=1e-10)
    assert (b.table["weight"] * b.table["estimate"]).sum() == pytest.approx(
        b.twfe.estimate, abs=1e-8
    )
    assert b.by_type["weight"].sum() == pytest.approx(1.0, abs=1e-10)
    assert (b.table[["n_treated", "n_control"]] >= K_MIN).all().all()
    assert b.weight("later_vs_earlier") == pytest.approx(
        b.table.loc[b.table["comparison"] == "later_vs_earlier", "weight"].sum()
    )
    assert b.weight("nothing") == 0.0 and np.isnan(b.estimate("nothing"))
    assert b.n_units > b.n_treated > 0
    assert b.twfe.n_clusters == 20
    json.dumps(to_jsonable(b.to_dict()))


def test_baseline_balance_weighting_reduces_imbalance():
    covs = ["baseline_absence", "ses_index", "female"]
    bal = diagnostics.baseline_balance(
        frame(), unit="pupil_id", treatment="participant", covariates=covs
    )
    before, after = bal.max_smd()
    assert after < before and before > 0.2
    assert list(bal.table["covariate"]) == covs
    assert len(bal.ps) == frame()["pupil_id"].nunique() == len(bal.participant)
    assert ((bal.ps > 0) & (bal.ps < 1)).all()
    assert set(bal.to_dict()) == {"covariates", "table", "max_abs_smd"}


def test_did_mde_matches_power_module():
    d = frame()
    pupils = d.drop_duplicates("pupil_id")
    nt, nc = int((pupils["cohort"] > 0).sum()), int((pupils["cohort"] == 0).sum())
    res, value = diagnostics.did_mde(
        d, outcome="grade_avg", **PK, n_treated=nt, n_control=nc, binary=False
    )
    rho = diagnostics.outcome_autocorrelation(d, outcome="grade_avg", **PK)
    assert 0 < rho < 0.99 and res.inputs["autocorr"] == rho
    ref = power.mde(n_treated=nt, n_control=nc, design="did", autocorr=rho)
    assert res.value == pytest.approx(ref.value, rel=1e-12)
    assert 0 < value < 1  # grade points
    res_b, value_b = diagnostics.did_mde(
        d, outcome="repeated_grade", **PK, n_treated=nt, n_control=nc, binary=True
    )
    assert value_b == pytest.approx(res_b.value / 100, rel=1e-12)
    assert diagnostics.realised_mde(0.1) == pytest.approx(0.28016, abs=1e-4)
    assert diagnostics.outcome_autocorrelation(d.iloc[:2], outcome="grade_avg", **PK) == 0.0
