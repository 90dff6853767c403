"""did.staggered's preparation on arrays (issue 14) against the pandas computations it replaced.

``_prepare`` factorises the unit and the time once and applies every check and sample rule on
integer codes and row masks; these tests rebuild each quantity the way the earlier code did
(groupby, ``pd.factorize``, ``drop_duplicates``) on messy panels and compare, and pin the
``validate=False`` path that inference loops use for their refits.
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis import did
from analysis.did import _checks
from analysis.errors import DataValidationError

S = importlib.import_module("analysis.did.staggered")
KW = {"outcome": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}


def _messy(seed: int, *, ids: str = "sparse") -> pd.DataFrame:
    """mpdta with missing outcomes, dropped rows, late and early cohorts, shuffled rows."""
    rng = np.random.default_rng(seed)
    df = did.datasets.mpdta()
    df["first.treat"] = df["first.treat"].astype(float)
    units = df["countyreal"].unique()
    late = rng.choice(units, 15, replace=False)
    df.loc[df["countyreal"].isin(late) & (df["first.treat"] > 0), "first.treat"] = 2009.0
    early = rng.choice(units, 10, replace=False)
    df.loc[df["countyreal"].isin(early), "first.treat"] = 2003.0
    df.loc[df["countyreal"].isin(units[:20]), "first.treat"] = np.nan  # never treated
    df.loc[rng.random(len(df)) < 0.05, "lemp"] = np.nan
    df = df.drop(index=df.index[rng.random(len(df)) < 0.1])
    if ids == "compact":
        df["countyreal"] = pd.factorize(df["countyreal"])[0] + 1
    elif ids == "str":
        df["countyreal"] = "u" + df["countyreal"].astype(str)
    return df.sample(frac=1, random_state=seed)


def _prepare(df: pd.DataFrame, *, balance: bool, notes: _checks.Notes) -> S._Panel:
    return S._prepare(
        df,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        covariates=[],
        cluster=None,
        control="never",
        anticipation=0,
        notes=notes,
        balance=balance,
    )


@pytest.mark.parametrize("ids", ["sparse", "compact", "str"])
@pytest.mark.parametrize("balance", [True, False])
def test_prepared_panel_equals_the_pandas_computation(ids, balance):
    df = _messy(3, ids=ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = _prepare(df, balance=balance, notes=_checks.Notes())
    # the earlier code: drop missing outcomes, balance by groupby, cohort rules by groupby
    want = df.loc[df["lemp"].notna()]
    g = want["first.treat"].fillna(0.0)
    if balance:
        n_per = want.groupby("countyreal")["year"].transform("nunique")
        keep = n_per == want["year"].nunique()
        want, g = want.loc[keep], g.loc[keep]
    periods = np.sort(want["year"].unique())
    g = g.where(g <= periods[-1], 0.0)
    early = (g > 0) & (g <= periods[0])
    want, g = want.loc[~early], g.loc[~early]
    pd.testing.assert_index_equal(p.data.index, want.index)
    np.testing.assert_array_equal(p.data["_cohort"].to_numpy(), g.to_numpy())
    np.testing.assert_array_equal(p.data["lemp"].to_numpy(), want["lemp"].to_numpy())
    codes, units = pd.factorize(want["countyreal"], sort=True)
    np.testing.assert_array_equal(p.row_unit, codes)
    np.testing.assert_array_equal(p.units, np.asarray(units))
    assert p.units.dtype == np.asarray(units).dtype
    by_unit = g.groupby(want["countyreal"]).first().reindex(units).to_numpy()
    np.testing.assert_array_equal(p.unit_cohort, by_unit)
    counts = want.groupby("countyreal")["year"].nunique()
    assert p.n_periods == len(periods)
    assert p.n_incomplete == (0 if balance else int((counts < len(periods)).sum()))
    assert not p.duplicated


def test_notes_are_the_pandas_rules_notes():
    """The notes of the array rules are the _checks twins' (counts, wording, order)."""
    df = _messy(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        notes = _checks.Notes()
        _prepare(df, balance=True, notes=notes)
        twin = _checks.Notes()
        d = _checks.drop_missing_rows(df, ["lemp"], twin)
        d = _checks.balance_panel(d, unit="countyreal", time="year", notes=twin)
    cohort = d.groupby("countyreal")["first.treat"].first().fillna(0.0)
    n_late, n_early = int((cohort > 2007).sum()), int(((cohort > 0) & (cohort <= 2003)).sum())
    assert n_late and n_early
    assert list(notes) == [
        *twin,
        f"{n_late} unit(s) have a cohort after the last period (2007); they are treated as "
        "never treated within the data window (R did's rule)",
        f"dropped {n_early} unit(s) already treated (cohort - anticipation <= first period "
        "2003): no untreated period to compare (R did's rule)",
    ]


def test_validate_false_gives_the_same_fit_and_skips_the_checks():
    df = _messy(5)
    df["state"] = df["countyreal"] // 1000
    opts = [
        {},
        {"allow_unbalanced": True, "control": "notyet", "cluster": "state"},
        {"method": "reg", "covariates": ["lpop"], "base_period": "universal"},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for o in opts:
            a = did.staggered(df, **KW, **o)
            b = did.staggered(df, **KW, **o, validate=False)
            assert a.to_dict() == b.to_dict()
            np.testing.assert_array_equal(a.psi, b.psi)
            assert a.notes == b.notes
        a = did.simple_att(df, **KW, allow_unbalanced=True)
        assert did.simple_att(df, **KW, allow_unbalanced=True, validate=False) == a
    bad = df.copy()
    bad.loc[bad.index[0], "state"] = -1  # a unit in two clusters: a check validate=False skips
    with pytest.raises(DataValidationError, match="cluster must be constant within unit"):
        did.staggered(bad, **KW, cluster="state")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        did.staggered(bad, **KW, cluster="state", validate=False)
    with pytest.raises(ValueError, match="validate must be True or False"):
        did.staggered(df, **KW, validate="no")


def test_the_backend_frame_shares_the_callers_columns_and_never_writes_them():
    df = did.datasets.mpdta()
    before = df.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = _prepare(df, balance=True, notes=_checks.Notes())
        did.staggered(df, **KW)
    assert np.shares_memory(p.data["lemp"].to_numpy(), df["lemp"].to_numpy())  # no copy
    pd.testing.assert_frame_equal(df, before)


def test_shared_propensity_scores_serve_the_same_logits_bit_for_bit(monkeypatch):
    """DR then IPW with the same covariates: each cell's logit fitted once, the same fits."""
    import diff_diff.staggered as backend

    df = _messy(5)
    kw = {**KW, "covariates": ["lpop"], "allow_unbalanced": True, "base_period": "universal"}

    def fits():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [did.staggered(df, **kw, method=m) for m in ("dr", "ipw")]

    alone = fits()
    calls = []
    solve = backend.solve_logit
    monkeypatch.setattr(backend, "solve_logit", lambda *a, **k: calls.append(1) or solve(*a, **k))
    fits()
    n_alone = len(calls)
    calls.clear()
    with did.shared_propensity_scores():
        shared = fits()
        assert 0 < len(calls) <= n_alone // 2  # the IPW fit's logits came from the DR fit's
    assert backend.solve_logit is not solve  # the counter (this test's patch) is back in place
    for a, b in zip(alone, shared, strict=True):
        np.testing.assert_array_equal(a.att, b.att)
        np.testing.assert_array_equal(a.se, b.se)
        assert a.aggregate("simple").overall.to_dict() == b.aggregate("simple").overall.to_dict()

    # balanced fits keep the backend's warnings: the memo is not used there
    def balanced(shared: bool) -> int:
        calls.clear()
        context = did.shared_propensity_scores() if shared else warnings.catch_warnings()
        with context, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for m in ("dr", "ipw"):
                did.staggered(df, **{**kw, "allow_unbalanced": False}, method=m)
        return len(calls)

    assert balanced(True) == balanced(False) > 0
