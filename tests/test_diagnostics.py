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


def _balanced_subpanel_by_copies(df, *, outcome, unit, time, cohort, min_years=3, min_group=K_MIN):
    """The window search as written before it ran on arrays: a copy of the rows per window."""
    obs = df.loc[df[outcome].notna()]
    years = np.sort(obs[time].unique())
    best, best_key = None, None
    for i in range(len(years)):
        for j in range(i + min_years - 1, len(years)):
            win = years[i : j + 1]
            if not np.array_equal(win, np.arange(win[0], win[-1] + 1)):
                continue
            sub = obs[obs[time].between(win[0], win[-1])]
            n = sub.groupby(unit)[time].transform("nunique")
            sub = sub[n == len(win)].copy()
            sub = sub[~((sub[cohort] > 0) & (sub[cohort] <= win[0]))]
            sub.loc[sub[cohort] > win[-1], cohort] = 0
            sizes = sub.drop_duplicates(unit)[cohort].value_counts()
            small = sizes.index[sizes < min_group]
            sub = sub[~sub[cohort].isin(small)]
            sizes = sizes[sizes >= min_group]
            n_groups = int((sizes.index > 0).sum())
            if n_groups == 0 or 0 not in sizes.index:
                continue
            key = (min(n_groups, 2), int(sizes[sizes.index > 0].sum()), int(sizes.sum()))
            if best_key is None or key > best_key:
                best = (sub, (int(win[0]), int(win[-1])), tuple(int(x) for x in small))
                best_key = key
    if best is None:
        return None
    sub, win, dropped = best
    sub = sub.copy()
    sub["treated"] = ((sub[cohort] > 0) & (sub[time] >= sub[cohort])).astype(int)
    return sub.reset_index(drop=True), win, dropped


def _irregular_panels():
    """The simulated register and variants: shuffled rows, float cohorts with NaN, missing
    outcomes, text ids, a late edition, small editions, other size rules."""
    base = frame()
    rng = np.random.default_rng(7)
    yield base, {}
    shuffled = base.sample(frac=1.0, random_state=1).reset_index(drop=True)
    yield shuffled, {}
    d = shuffled.copy()
    d["cohort"] = d["cohort"].astype(float)
    never = d["pupil_id"].isin(d.loc[d["cohort"] == 0, "pupil_id"].unique()[::3])
    d.loc[never, "cohort"] = np.nan
    d.loc[rng.random(len(d)) < 0.1, "absence_rate"] = np.nan
    yield d, {}
    d2 = d.copy()
    d2["pupil_id"] = "p" + d2["pupil_id"].astype(str)
    late = d2["pupil_id"].isin(d2["pupil_id"].unique()[::17])
    d2.loc[late, "cohort"] = d2["year"].max() + 1
    yield d2, {"min_group": 25}  # drops the last edition
    yield d2, {"min_years": 2, "min_group": 25}
    yield d2, {"min_group": 40}  # no window qualifies
    yield d2[d2["year"] != d2["year"].min() + 2], {"min_years": 2}


def test_balanced_subpanel_same_as_the_copying_search():
    """The array search picks the same window, rows, cohorts and dropped editions."""
    checked = 0
    for d, opts in _irregular_panels():
        new = diagnostics.balanced_subpanel(d, outcome="absence_rate", **PK, **opts)
        old = _balanced_subpanel_by_copies(d, outcome="absence_rate", **PK, **opts)
        assert (new is None) == (old is None)
        if new is None:
            continue
        checked += 1
        assert new.window == old[1] and new.dropped_cohorts == old[2]
        pd.testing.assert_frame_equal(new.data, old[0])
    assert checked >= 6
    assert any(
        diagnostics.balanced_subpanel(d, outcome="absence_rate", **PK, **o).dropped_cohorts
        for d, o in _irregular_panels()
    )  # the size rule dropped an edition in at least one case


def test_bacon_on_the_used_columns_only_same_summary():
    """The sub-panel is built from the columns the fits use: the other columns change nothing."""
    kw = {"outcome": "absence_rate", **PK, "cluster": "baseline_school"}
    cols = ["absence_rate", *PK.values(), "baseline_school"]
    full = _quiet(diagnostics.bacon_on_balanced_subpanel, frame(), **kw)
    narrow = _quiet(diagnostics.bacon_on_balanced_subpanel, frame()[cols], **kw)
    assert json.dumps(to_jsonable(full.to_dict())) == json.dumps(to_jsonable(narrow.to_dict()))
    pd.testing.assert_frame_equal(full.table, narrow.table)
    with pytest.raises(Exception, match="baseline_school"):
        diagnostics.bacon_on_balanced_subpanel(frame()[cols[:-1]], **kw)
