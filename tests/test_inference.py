"""Few-cluster inference: wild cluster bootstrap and randomization inference."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.did import datasets
from analysis.errors import DataValidationError
from analysis.inference import randomization_inference, wild_cluster_bootstrap


def _clustered(n_clusters: int, n_per: int, effect: float, seed: int) -> pd.DataFrame:
    """Cross-section with a cluster-level treatment and a cluster random effect."""
    rng = np.random.default_rng(seed)
    cl = np.repeat(np.arange(n_clusters), n_per)
    treated_clusters = rng.permutation(n_clusters) < n_clusters // 2
    treat = treated_clusters[cl].astype(float)
    x = rng.normal(size=cl.size)
    y = effect * treat + 0.5 * x + rng.normal(size=n_clusters)[cl] + rng.normal(size=cl.size)
    return pd.DataFrame({"y": y, "treat": treat, "x": x, "school": cl})


def _panel(n_schools: int, effect: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame(
        {
            "school": np.repeat(np.arange(n_schools), 6),
            "year": np.tile(np.arange(2015, 2021), n_schools),
        }
    )
    d["treated"] = (d["school"] < n_schools // 3).astype(int)
    d["post"] = (d["year"] >= 2018).astype(int)
    d["D"] = d["treated"] * d["post"]
    d["y"] = (
        effect * d["D"]
        + rng.normal(size=n_schools)[d["school"]]
        + 0.3 * d["year"]
        + rng.normal(size=len(d))
    )
    return d


@pytest.fixture(scope="module")
def card_krueger() -> pd.DataFrame:
    """Two waves stacked; FTE = full-time + managers + half the part-time employees."""
    long = datasets.card_krueger()[["store", "nj", "post", "fte"]]
    long = long.dropna().reset_index(drop=True)
    long["nj_post"] = long["nj"] * long["post"]
    return long


# ============================================================== wild cluster bootstrap


def test_wcr_close_to_analytic_with_many_clusters():
    df = _clustered(50, 20, effect=0.6, seed=0)
    e = wild_cluster_bootstrap(
        df, formula="y ~ treat + x", param="treat", cluster="school", reps=1999, seed=1
    )
    assert e.n_clusters == 50 and e.n_obs == 1000
    assert e.method.startswith("Wild cluster bootstrap (WCR")
    assert e.backend.startswith("diff-diff")
    assert e.extra["ci_method"] == "test inversion"
    # analytic CR1 p-value (t with G-1 df) equals pyfixest's
    import pyfixest as pf

    fit = pf.feols("y ~ treat + x", data=df, vcov={"CRV1": "school"})
    assert e.se == pytest.approx(float(fit.se()["treat"]), rel=1e-10)
    assert e.extra["analytic_p_value"] == pytest.approx(float(fit.pvalue()["treat"]), rel=1e-8)
    # with 50 clusters the bootstrap agrees with the analytic test (MC error ~0.006)
    assert abs(e.p_value - e.extra["analytic_p_value"]) < 0.03
    lo, hi = e.extra["analytic_ci"]
    assert abs(e.ci_low - lo) < 0.15 * e.se and abs(e.ci_high - hi) < 0.15 * e.se
    assert (e.ci_low <= 0 <= e.ci_high) == (e.p_value >= 0.05)


@pytest.mark.reference
def test_wcr_card_krueger(card_krueger):
    """DiD 2.7536 and store-clustered SE ~1.31 (data/reference/REFERENCE.md); 410 clusters, so
    the bootstrap p-value must agree with the analytic one (0.0357)."""
    e = wild_cluster_bootstrap(
        card_krueger,
        outcome="fte",
        regressors=["nj", "post", "nj_post"],
        param="nj_post",
        cluster="store",
        reps=1999,
        seed=2,
    )
    assert e.estimate == pytest.approx(2.7536, abs=1e-3)
    assert e.se == pytest.approx(1.31, abs=0.01)
    assert e.n_clusters == 410
    assert e.extra["analytic_p_value"] == pytest.approx(0.0357, abs=5e-4)
    assert abs(e.p_value - e.extra["analytic_p_value"]) < 0.015
    lo, hi = e.extra["analytic_ci"]
    assert abs(e.ci_low - lo) < 0.25 * e.se and abs(e.ci_high - hi) < 0.25 * e.se
    wcu = wild_cluster_bootstrap(
        card_krueger,
        outcome="fte",
        regressors=["nj", "post", "nj_post"],
        param="nj_post",
        cluster="store",
        reps=1999,
        seed=2,
        impose_null=False,
    )
    assert wcu.extra["ci_method"].startswith("percentile-t")
    assert abs(wcu.p_value - e.extra["analytic_p_value"]) < 0.015


def test_absorbed_fixed_effects_equal_dummies():
    """School effects (nested in school clusters) are demeaned away; year effects become
    dummies.  The bootstrap must equal the one on the full dummy design."""
    d = _panel(24, effect=0.8, seed=5)
    a = wild_cluster_bootstrap(
        d, formula="y ~ D | school + year", param="D", cluster="school", reps=499, seed=3
    )
    b = wild_cluster_bootstrap(
        d, formula="y ~ D + C(school) + C(year)", param="D", cluster="school", reps=499, seed=3
    )
    assert a.extra["fixed_effects_absorbed"] == ["school"]
    assert a.extra["fixed_effects_dummies"] == ["year"]
    assert a.estimate == pytest.approx(b.estimate, rel=1e-9)
    assert a.p_value == pytest.approx(b.p_value, abs=1e-12)
    assert a.ci_low == pytest.approx(b.ci_low, rel=1e-6)
    assert a.ci_high == pytest.approx(b.ci_high, rel=1e-6)
    import pyfixest as pf

    fit = pf.feols("y ~ D | school + year", data=d, vcov={"CRV1": "school"})
    assert a.se == pytest.approx(float(fit.se()["D"]), rel=1e-8)


def test_reproducible_and_seed_dependent():
    df = _clustered(30, 10, effect=0.3, seed=7)
    kw = dict(outcome="y", regressors=["treat", "x"], param="treat", cluster="school", reps=199)
    assert wild_cluster_bootstrap(df, **kw, seed=1) == wild_cluster_bootstrap(df, **kw, seed=1)
    ps = {wild_cluster_bootstrap(df, **kw, seed=s).p_value for s in range(4)}
    assert len(ps) > 1


def test_few_clusters_rademacher_enumerates():
    df = _clustered(8, 15, effect=0.0, seed=11)
    kw = dict(outcome="y", regressors=["treat", "x"], param="treat", cluster="school", reps=999)
    a = wild_cluster_bootstrap(df, **kw, seed=1)
    b = wild_cluster_bootstrap(df, **kw, seed=2)
    assert a.extra["reps"] == 2**8
    assert a.p_value == b.p_value  # enumeration: no randomness left


def test_webb_few_clusters_strong_and_null_effect():
    strong = _clustered(10, 30, effect=4.0, seed=3)
    null = _clustered(10, 30, effect=0.0, seed=3)
    kw = dict(
        formula="y ~ treat + x",
        param="treat",
        cluster="school",
        reps=999,
        weights_type="webb",
        seed=4,
    )
    s = wild_cluster_bootstrap(strong, **kw)
    n = wild_cluster_bootstrap(null, **kw)
    assert s.p_value < 0.01 and s.ci_low > 0
    assert n.p_value > 0.05 and n.ci_low < 0 < n.ci_high
    assert s.extra["weights_type"] == "webb"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"formula": "y ~ treat + nope"}, "nope"),
        ({"formula": "y ~ treat", "param": "x"}, "param"),
        ({"formula": "y ~ treat", "cluster": "one"}, "at least 2 clusters"),
        ({"formula": "y ~ treat", "weights_type": "mammen"}, "weights_type"),
        ({"formula": "y ~ treat", "outcome": "y"}, "either formula"),
        ({"outcome": "y", "regressors": ["treat", "label"]}, "numeric"),
    ],
)
def test_wild_bootstrap_bad_input(kwargs, match):
    df = _clustered(12, 5, effect=0.0, seed=1)
    df["one"] = 1
    df["label"] = "a"
    args = dict(param="treat", cluster="school", reps=99, seed=0)
    args.update(kwargs)
    with pytest.raises(DataValidationError, match=match):
        wild_cluster_bootstrap(df, **args)


def test_wild_bootstrap_missing_values_named():
    df = _clustered(12, 5, effect=0.0, seed=1)
    df.loc[[3, 7], "x"] = np.nan
    with pytest.raises(DataValidationError) as err:
        wild_cluster_bootstrap(df, formula="y ~ treat + x", param="treat", cluster="school")
    msg = str(err.value)
    assert "DataFrame argument" in msg and "'x'" in msg and "3, 7" in msg and "missing" in msg


# ============================================================== randomization inference


def _did_frame(n_schools: int, effect: float, seed: int) -> pd.DataFrame:
    """School x 2 periods; cohort (first treated period, 0 = never) fixed within school."""
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(n_schools), 2)
    post = np.tile([0, 1], n_schools)
    cohort = np.where(rng.permutation(n_schools) < n_schools // 2, 1, 0)[school]
    y = rng.normal(size=n_schools)[school] + 0.5 * post + rng.normal(size=school.size)
    y = y + effect * ((cohort == 1) & (post == 1))
    return pd.DataFrame({"school": school, "post": post, "cohort": cohort, "y": y})


def _did(df: pd.DataFrame) -> float:
    y = df["y"].to_numpy()
    t = df["cohort"].to_numpy() == 1
    p = df["post"].to_numpy() == 1
    return float((y[t & p].mean() - y[t & ~p].mean()) - (y[~t & p].mean() - y[~t & ~p].mean()))


def _null_pvalues(n_datasets: int, reps: int) -> np.ndarray:
    return np.array(
        [
            randomization_inference(
                _did_frame(16, 0.0, seed=s),
                estimator=_did,
                permute="cluster",
                cluster="school",
                treatment="cohort",
                reps=reps,
                exact=False,
                seed=1000 + s,
            ).p_value
            for s in range(n_datasets)
        ]
    )


def test_ri_null_pvalues_roughly_uniform_small():
    p = _null_pvalues(60, 99)
    assert stats.kstest(p, "uniform").pvalue > 0.001
    assert np.mean(p <= 0.05) <= 0.15
    assert 0.3 <= np.mean(p <= 0.5) <= 0.7


@pytest.mark.slow
def test_ri_null_pvalues_uniform_large():
    p = _null_pvalues(400, 199)
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert abs(np.mean(p <= 0.05) - 0.05) < 0.03


def test_ri_strong_effect_small_p_and_reproducible():
    df = _did_frame(20, 5.0, seed=2)
    kw = dict(
        estimator=_did,
        permute="cluster",
        cluster="school",
        treatment="cohort",
        reps=199,
        exact=False,
    )
    r = randomization_inference(df, **kw, seed=3)
    assert r.p_value == pytest.approx(1 / 200)
    assert r.reps == 199 and not r.exact and len(r.distribution) == 199
    assert randomization_inference(df, **kw, seed=3) == r
    assert "permuted across clusters" in r.method


def test_ri_exact_enumeration_hand_computed():
    # 4 schools, 2 treated: 6 assignments with T = 3, 1, 0, 0, -1, -3 (observed 3)
    df = pd.DataFrame({"school": list("ABCD"), "treat": [1, 1, 0, 0], "y": [4.0, 3.0, 1.0, 0.0]})

    def diff(d: pd.DataFrame) -> float:
        return float(d.loc[d["treat"] == 1, "y"].mean() - d.loc[d["treat"] == 0, "y"].mean())

    r = randomization_inference(
        df, estimator=diff, permute="cluster", cluster="school", treatment="treat", reps=999, seed=0
    )
    assert r.exact and r.reps == 6
    assert r.statistic == 3.0
    assert sorted(r.distribution) == [-3.0, -1.0, 0.0, 0.0, 1.0, 3.0]
    assert r.p_value == pytest.approx(2 / 6)


def test_ri_custom_assign_and_result_api():
    df = _did_frame(12, 0.0, seed=4)

    def assign(d: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        schools = d["school"].unique()
        treated = rng.choice(schools, size=len(schools) // 2, replace=False)
        d["cohort"] = np.where(d["school"].isin(treated), 1, 0)
        return d

    r = randomization_inference(df, estimator=_did, assign=assign, reps=50, seed=9)
    assert r.reps == 50 and r.method == "user-supplied re-assignment"
    assert 1 / 51 <= r.p_value <= 1
    json.dumps(r.to_dict())
    assert r.tidy().shape[0] == 1
    assert "p =" in r.summary()
    assert "no effect" in r.effect_summary()
    fig = r.plot()
    import matplotlib.pyplot as plt

    assert len(fig.axes) == 1
    plt.close(fig)


def test_ri_bad_input():
    df = _did_frame(8, 0.0, seed=1)
    with pytest.raises(DataValidationError, match="exactly one"):
        randomization_inference(df, estimator=_did, reps=9)
    with pytest.raises(DataValidationError, match="treatment"):
        randomization_inference(df, estimator=_did, permute="cluster", cluster="school", reps=9)
    varying = df.assign(cohort=np.arange(len(df)) % 2)
    with pytest.raises(DataValidationError, match="constant within each school"):
        randomization_inference(
            varying, estimator=_did, permute="cluster", cluster="school", treatment="cohort", reps=9
        )
    with pytest.raises(DataValidationError, match="not found"):
        randomization_inference(
            df, estimator=_did, permute="cluster", cluster="district", treatment="cohort", reps=9
        )


# ------------------------------------------------------------------ weights_type="auto"
def test_auto_weights_follow_the_number_of_clusters():
    kw = dict(formula="y ~ treat + x", param="treat", cluster="school", reps=99, seed=2)
    few = wild_cluster_bootstrap(_clustered(10, 20, effect=0.0, seed=3), **kw, weights_type="auto")
    many = wild_cluster_bootstrap(_clustered(30, 5, effect=0.0, seed=3), **kw, weights_type="auto")
    assert few.extra["weights_type"] == "webb"  # below WEBB_BELOW_CLUSTERS (12)
    assert many.extra["weights_type"] == "rademacher"
    webb = wild_cluster_bootstrap(_clustered(10, 20, effect=0.0, seed=3), **kw, weights_type="webb")
    assert webb == few


# ------------------------------------------------------------------ programme re-assignment
def _register():
    from analysis.data.simulate import programme_panel

    d = programme_panel(seed=3).data.sort_values(["pupil_id", "year"]).reset_index(drop=True)
    d["age"] = (d["year"] - d["birth_year"]).astype(float)
    d["participant"] = (d["cohort"] > 0).astype(int)
    return d


PARTICIPATION = {
    "unit": "pupil_id",
    "time": "year",
    "cohort": "cohort",
    "strata": "school_id",
    "age": "age",
}


def test_reassignment_keeps_school_and_edition_counts_and_eligibility():
    from analysis.inference import reassign_participation

    frame = _register()
    new = reassign_participation(frame, np.random.default_rng(5), **PARTICIPATION)
    old_p = frame.drop_duplicates("pupil_id").set_index("pupil_id")
    new_p = new.drop_duplicates("pupil_id").set_index("pupil_id")
    for g in (2021, 2022, 2023):
        at_g = frame[frame["year"] == g].set_index("pupil_id")["school_id"]
        a = at_g[old_p["cohort"].reindex(at_g.index) == g].value_counts().sort_index()
        b = at_g[new_p["cohort"].reindex(at_g.index) == g].value_counts().sort_index()
        pd.testing.assert_series_equal(a, b, check_names=False)
    first = frame.groupby("pupil_id")["year"].min()
    part = new_p[new_p["cohort"] > 0]
    assert (first.reindex(part.index) < part["cohort"]).all()  # a pre-period for everyone
    ages = frame.loc[frame["cohort"] > 0, "age"]
    at_edition = new[(new["cohort"] > 0) & (new["year"] == new["cohort"])]
    assert at_edition["age"].between(ages.min(), ages.max()).all()
    assert (new["treated"] == ((new["cohort"] > 0) & (new["year"] >= new["cohort"]))).all()
    assert (new["participant"] == (new["cohort"] > 0)).all()
    assert new["cohort"].dtype == frame["cohort"].dtype
    assert not new_p["cohort"].equals(old_p["cohort"])
    again = reassign_participation(frame, np.random.default_rng(5), **PARTICIPATION)
    pd.testing.assert_series_equal(again["cohort"], new["cohort"])
    bare = reassign_participation(
        frame, np.random.default_rng(5), **PARTICIPATION, treated=None, participant=None
    )
    pd.testing.assert_series_equal(bare["treated"], frame["treated"])  # left as it was


def test_participation_randomization_recomputes_the_statistic_on_slim_copies():
    from analysis.inference import participation_randomization

    frame = _register()
    seen: list[list[str]] = []

    def stat(d: pd.DataFrame) -> float:
        seen.append(list(d.columns))
        t = d["year"] >= d["cohort"]
        treated = d.loc[(d["cohort"] > 0) & t, "grade_avg"].mean()
        return float(treated - d.loc[d["cohort"] == 0, "grade_avg"].mean())

    r = participation_randomization(
        frame, statistic=stat, **PARTICIPATION, columns=["grade_avg"], reps=7, seed=3
    )
    assert r.reps == 7 and r.statistic == pytest.approx(stat(frame))
    assert set(seen[0]) == {
        "pupil_id",
        "year",
        "cohort",
        "treated",
        "participant",
        "age",
        "school_id",
        "grade_avg",
    }
    again = participation_randomization(
        frame, statistic=stat, **PARTICIPATION, columns=["grade_avg"], reps=7, seed=3
    )
    assert again.distribution == r.distribution


def test_participation_bad_input():
    from analysis.inference import participation_randomization, reassign_participation

    frame = _register()
    rng = np.random.default_rng(0)
    with pytest.raises(DataValidationError, match="'age'"):
        reassign_participation(frame.drop(columns="age"), rng, **PARTICIPATION)
    with pytest.raises(DataValidationError, match="missing values"):
        reassign_participation(
            frame.assign(school_id=frame["school_id"].where(frame.index != 4)),
            rng,
            **PARTICIPATION,
        )
    flip = frame.copy()
    pid = flip.loc[flip["cohort"] > 0, "pupil_id"].iloc[0]
    flip.loc[flip.index[flip["pupil_id"] == pid][0], "cohort"] = 0
    with pytest.raises(DataValidationError, match="constant within unit"):
        reassign_participation(flip, rng, **PARTICIPATION)
    with pytest.raises(DataValidationError, match="'nope'"):
        participation_randomization(frame, statistic=len, **PARTICIPATION, columns=["nope"], reps=3)


def test_randomization_options_unused_with_assign_are_refused():
    import numpy as np
    import pandas as pd
    import pytest

    from analysis.errors import DataValidationError
    from analysis.inference import randomization_inference

    df = pd.DataFrame({"g": np.repeat(np.arange(6), 4), "t": np.repeat([0, 1] * 3, 4), "y": 1.0})

    def assign(d, rng):
        return d

    with pytest.raises(DataValidationError, match="apply to permute"):
        randomization_inference(df, estimator=lambda d: 0.0, assign=assign, strata="g", reps=5)
    with pytest.raises(DataValidationError, match="uses cluster="):
        randomization_inference(
            df,
            estimator=lambda d: 0.0,
            permute="cluster",
            treatment="t",
            cluster="g",
            unit="g",
            reps=5,
        )


# ------------------------------------------------------------------ parallel draws (issue 14)
def _participant_gap(d: pd.DataFrame) -> float:
    """Mean grade of treated pupil-years minus never-participants (a picklable statistic)."""
    t = (d["cohort"] > 0) & (d["year"] >= d["cohort"])
    return float(d.loc[t, "grade_avg"].mean() - d.loc[d["cohort"] == 0, "grade_avg"].mean())


def _treated_gap(d: pd.DataFrame) -> float:
    return float(d.loc[d["treat"] == 1, "y"].mean() - d.loc[d["treat"] == 0, "y"].mean())


def test_randomization_inference_identical_for_one_and_two_workers():
    df = _clustered(14, 6, 0.3, seed=2)
    kw = dict(estimator=_treated_gap, permute="cluster", treatment="treat", cluster="school")
    one = randomization_inference(df, reps=60, seed=4, n_jobs=1, **kw)
    two = randomization_inference(df, reps=60, seed=4, n_jobs=2, **kw)
    a, b = np.asarray(one.distribution), np.asarray(two.distribution)
    assert a.tobytes() == b.tobytes() and one.p_value == two.p_value
    assert len(np.unique(a)) > 10  # the draws differ from each other
    with pytest.raises(ValueError, match="n_jobs"):
        randomization_inference(df, reps=5, seed=4, n_jobs=0, **kw)


def test_participation_randomization_identical_for_one_and_two_workers():
    from analysis.inference import participation_randomization

    frame = _register()
    kw = dict(statistic=_participant_gap, **PARTICIPATION, columns=["grade_avg"], reps=24, seed=8)
    one = participation_randomization(frame, n_jobs=1, **kw)
    two = participation_randomization(frame, n_jobs=2, **kw)
    a, b = np.asarray(one.distribution), np.asarray(two.distribution)
    assert a.tobytes() == b.tobytes() and one.p_value == two.p_value
    with pytest.raises(ValueError, match="n_jobs"):
        participation_randomization(frame, n_jobs=-5, **kw)


def test_participation_randomization_validates_and_prepares_once(monkeypatch):
    from analysis import inference

    frame = _register()
    calls = {"check": 0, "prepare": 0}
    check, prepare = inference._check_participation_frame, inference._Reassigner.__init__

    def counted_check(*args, **kwargs):
        calls["check"] += 1
        return check(*args, **kwargs)

    def counted_prepare(self, *args, **kwargs):
        calls["prepare"] += 1
        return prepare(self, *args, **kwargs)

    monkeypatch.setattr(inference, "_check_participation_frame", counted_check)
    monkeypatch.setattr(inference._Reassigner, "__init__", counted_prepare)
    r = inference.participation_randomization(
        frame, statistic=_participant_gap, **PARTICIPATION, columns=["grade_avg"], reps=9, seed=1
    )
    assert r.reps == 9
    assert calls == {"check": 1, "prepare": 1}


# ------------------------------------------------------------------ scale (issue 14)
def test_smallest_per_stratum_is_the_lexsort_selection():
    """The thresholded selection takes exactly what ranking every candidate took."""
    from analysis.inference import _smallest_per_stratum

    rng = np.random.default_rng(11)
    for trial in range(200):
        n_strata = int(rng.integers(1, 30))
        n = int(rng.integers(0, 3000))
        s = np.sort(rng.integers(0, n_strata, n)) if trial % 2 else rng.integers(0, n_strata, n)
        size = np.bincount(s, minlength=n_strata)
        need = rng.integers(0, np.maximum(size, 1) + 3)  # some strata need more than they have
        u = rng.random(n)
        if trial % 3 == 0 and n:  # ties in u, broken by position
            u = np.round(u, 2)
        order = np.lexsort((u, s))
        ss = s[order]
        starts = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])
        rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        expected = np.sort(order[rank < need[ss]])
        np.testing.assert_array_equal(np.sort(_smallest_per_stratum(u, s, need)), expected)
        # any thresholds give the same selection (they only decide what is sorted)
        threshold = rng.random(n_strata)[s] if trial % 2 else np.zeros(n)
        got = _smallest_per_stratum(u, s, need, threshold)
        np.testing.assert_array_equal(np.sort(got), expected)


@pytest.mark.parametrize("fixed_effects", [[], ["fe", "cl"]])
@pytest.mark.parametrize("weights_type", ["rademacher", "webb"])
def test_wcr_on_cluster_sums_equals_diff_diff(monkeypatch, fixed_effects, weights_type):
    """Above the size limit the WCR runs on cluster sums: the same p-value and interval (to
    the rounding of the least squares)."""
    from analysis import inference

    rng = np.random.default_rng(len(fixed_effects) * 10 + len(weights_type))
    for trial in range(6):
        n, g = int(rng.integers(60, 500)), int(rng.integers(4, 40))
        df = pd.DataFrame(
            {
                "cl": rng.integers(0, g, n),
                "x1": rng.normal(size=n),
                "x2": rng.normal(size=n),
                "fe": rng.integers(0, 4, n),
            }
        )
        df["y"] = 0.3 * df["x1"] + rng.normal(size=n) + rng.normal(size=g)[df["cl"]]
        kw = dict(
            outcome="y",
            regressors=["x1", "x2"],
            fixed_effects=fixed_effects,
            param="x1",
            cluster="cl",
            reps=int(rng.choice([99, 199, 999])),
            weights_type=weights_type,
            seed=trial,
        )
        monkeypatch.setattr(inference, "WCR_OBSERVATION_LEVEL_MAX", 10**18)
        ref = wild_cluster_bootstrap(df, **kw)
        monkeypatch.setattr(inference, "WCR_OBSERVATION_LEVEL_MAX", 0)
        own = wild_cluster_bootstrap(df, **kw)
        assert "utils.wild_bootstrap_se" in ref.backend
        assert "cluster sums" in own.backend
        assert own.p_value == ref.p_value  # the same decisions on the same draws
        # interval ends: the same bisection, tested values up to the least squares' rounding
        assert own.ci_low == pytest.approx(ref.ci_low, rel=1e-12, abs=1e-12)
        assert own.ci_high == pytest.approx(ref.ci_high, rel=1e-12, abs=1e-12)
        assert own.extra["reps"] == ref.extra["reps"] and own.estimate == ref.estimate


class _GapWithArrays:
    """:func:`_participant_gap` with an array path (``for_cohorts``), optionally wrong."""

    def __init__(self, wrong: bool = False) -> None:
        self.wrong, self.frames = wrong, 0

    def __call__(self, d: pd.DataFrame) -> float:
        self.frames += 1
        return _participant_gap(d)

    def for_cohorts(self, d: pd.DataFrame, *, codes: np.ndarray, n_units: int):
        year, y = d["year"].to_numpy(), d["grade_avg"]

        def gap(cohort_by_unit: np.ndarray) -> float:
            g = cohort_by_unit[codes]
            t = (g > 0) & (year >= g)  # pandas' means, as the frame statistic (NaN skipped)
            return float(y[t].mean() - y[g == 0].mean()) + (1e-9 if self.wrong else 0.0)

        return gap


@pytest.mark.parametrize("wrong", [False, True])
def test_participation_randomization_array_path(wrong):
    """A statistic's array path gives the frame path's draws; a wrong one is not used."""
    from analysis.inference import participation_randomization

    frame = _register()
    kw = dict(**PARTICIPATION, columns=["grade_avg"], reps=25, seed=8, n_jobs=1)
    plain = participation_randomization(frame, statistic=_participant_gap, **kw)
    stat = _GapWithArrays(wrong=wrong)
    fast = participation_randomization(frame, statistic=stat, **kw)
    assert fast.distribution == plain.distribution and fast.p_value == plain.p_value
    # the observed value always on the frame; the draws on arrays unless the check failed
    assert stat.frames == (1 + 25 if wrong else 1)
