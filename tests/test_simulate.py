"""Simulated programme panels: determinism, contract, calibration, selection, clustering."""

from __future__ import annotations

import hashlib
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.data.programme import load_panel, validate_panel
from analysis.data.simulate import (
    DEFAULT_EFFECTS,
    SIMULATED_BANNER,
    PanelArrays,
    load_calibration,
    panel_arrays,
    programme_panel,
)

CAL = load_calibration()
CHECKS = {k: v["value"] for k, v in CAL["checks"].items()}


@pytest.fixture(scope="module")
def large():
    """A large draw (200 schools, 40,000 pupils): base rates and ICC."""
    return programme_panel(seed=2024, n_schools=200, n_pupils=40_000)


def _icc(df: pd.DataFrame, col: str, cluster: str = "school_id") -> float:
    """One-way ANOVA estimator of the intra-cluster correlation (unbalanced clusters)."""
    df = df.dropna(subset=[col])
    g = df.groupby(cluster)[col]
    n, k, N = g.size(), g.ngroups, len(df)
    msb = (n * (g.mean() - df[col].mean()) ** 2).sum() / (k - 1)
    msw = ((df[col] - g.transform("mean")) ** 2).sum() / (N - k)
    n0 = (N - (n**2).sum() / N) / (k - 1)
    s2b = (msb - msw) / n0
    return float(s2b / (s2b + msw))


# ---- determinism and contract -----------------------------------------------------------


def test_same_seed_same_panel():
    a = programme_panel(seed=5, n_schools=8, n_pupils=600)
    b = programme_panel(seed=5, n_schools=8, n_pupils=600)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.truth_gt, b.truth_gt)
    assert dict(a.truth) == dict(b.truth)
    c = programme_panel(seed=6, n_schools=8, n_pupils=600)
    assert not a.data["absence_rate"].equals(c.data["absence_rate"])


def test_panel_satisfies_the_contract():
    sim = programme_panel(seed=1)
    validate_panel(sim.data)
    pd.testing.assert_frame_equal(load_panel(sim.data), sim.data)
    d = sim.data
    assert d["school_id"].nunique() == 20 and d["pupil_id"].nunique() == 2000
    assert sorted(d.loc[d["cohort"] > 0, "cohort"].unique()) == [2021, 2022, 2023]
    assert sorted(d["year"].unique()) == list(range(2019, 2025))
    # about 180 participants with the defaults (CON IL SUD size, §0); 3 editions
    n_part = d.drop_duplicates("pupil_id")["cohort"].gt(0).sum()
    assert 120 <= n_part <= 260


def test_banner_and_result_object():
    sim = programme_panel(seed=1, n_schools=4, n_pupils=300)
    assert SIMULATED_BANNER == "SIMULATED — NOT PROGRAMME RESULTS"
    assert sim.banner == SIMULATED_BANNER
    assert sim.summary().startswith(SIMULATED_BANNER)
    assert (sim.tidy()["banner"] == SIMULATED_BANNER).all()
    d = sim.to_dict()
    assert d["banner"] == SIMULATED_BANNER and set(d["truth"]) == set(DEFAULT_EFFECTS)
    import json

    json.dumps(d)
    with pytest.raises(TypeError):
        sim.truth["grade_avg"] = 1.0  # read-only


def test_fast():
    programme_panel(seed=0)  # warm-up
    t = time.perf_counter()
    sim = programme_panel(seed=0, n_schools=20, n_pupils=40_000)  # 20 schools x 2,000 pupils
    elapsed = time.perf_counter() - t
    assert len(sim.data) > 100_000
    assert elapsed < 2.0, f"simulation took {elapsed:.2f}s"


def test_argument_errors():
    with pytest.raises(ValueError, match="unknown outcomes"):
        programme_panel(seed=1, effects={"happiness": 1.0})
    with pytest.raises(ValueError, match="cohort 2019"):
        programme_panel(seed=1, cohorts=(2019,), years=range(2019, 2023))
    with pytest.raises(ValueError, match="icc"):
        programme_panel(seed=1, icc=0.6)


# ---- calibration ------------------------------------------------------------------------


def test_every_calibration_number_has_a_source():
    for section, entries in CAL.items():
        for name, entry in entries.items():
            src = entry["source"]
            assert src.startswith("ASSUMPTION") or "§" in src, f"{section}.{name}"
    # the MIUR figures are sourced, not assumed
    assert CAL["dropout"]["annual_rate_upper_secondary"]["value"] == 0.0382
    assert "§4.2" in CAL["dropout"]["annual_rate_upper_secondary"]["source"]
    assert CAL["invalsi"]["mean"]["value"] == 200 and "§3.3" in CAL["invalsi"]["mean"]["source"]


def test_unsourced_calibration_is_refused(tmp_path):
    bad = tmp_path / "cal.yaml"
    bad.write_text(
        "dropout:\n  annual_rate_lower_secondary:\n    value: 0.02\n    source: my guess\n"
    )
    with pytest.raises(ValueError, match="ASSUMPTION"):
        load_calibration(bad)


def test_base_rates_within_calibrated_ranges(large):
    d = large.data
    nt = d[d["treated"] == 0]
    lower = nt["grade_level"] <= 8
    drop_lo = nt.loc[lower, "dropped_out"].mean()
    drop_up = nt.loc[~lower, "dropped_out"].mean()
    lo, hi = CHECKS["dropout_rate_lower_secondary"]
    assert lo <= drop_lo <= hi, drop_lo
    lo, hi = CHECKS["dropout_rate_upper_secondary"]
    assert lo <= drop_up <= hi, drop_up
    lo, hi = CHECKS["absence_rate_mean"]
    assert lo <= nt["absence_rate"].mean() <= hi
    assert nt["absence_rate"].skew() > 0.5  # right skew
    assert nt["absence_rate"].median() < nt["absence_rate"].mean()
    lo, hi = CHECKS["repetition_rate"]
    assert lo <= nt["repeated_grade"].mean() <= hi
    lo, hi = CHECKS["grade_avg_mean"]
    assert lo <= nt["grade_avg"].mean() <= hi
    inv = nt["invalsi_score"].dropna()
    assert set(nt.loc[nt["invalsi_score"].notna(), "grade_level"].unique()) <= {8, 10, 13}
    lo, hi = CHECKS["invalsi_mean"]
    assert lo <= inv.mean() <= hi
    lo, hi = CHECKS["invalsi_sd"]
    assert lo <= inv.std() <= hi


def test_dropout_convention(large):
    d = large.data
    last = d.groupby("pupil_id")["year"].transform("max")
    assert (d.loc[d["dropped_out"] == 1, "year"] == last[d["dropped_out"] == 1]).all()
    drop = d[d["dropped_out"] == 1]
    assert drop[["absence_rate", "grade_avg", "repeated_grade"]].isna().all().all()
    assert d.loc[d["dropped_out"] == 0, ["absence_rate", "grade_avg"]].notna().all().all()


# ---- clustering -------------------------------------------------------------------------


def test_school_icc_near_target(large):
    first = large.data[large.data["year"] == large.data["year"].min()]
    icc = _icc(first, "grade_avg")
    assert abs(icc - 0.10) < 0.03, icc  # 200 schools: SE of the estimate about 0.01
    assert abs(_icc(first, "invalsi_score") - 0.10) < 0.04


def test_school_icc_follows_argument():
    # 300 schools: the estimate's SD over seeds is about 0.015
    sim = programme_panel(seed=11, n_schools=300, n_pupils=30_000, icc=0.25)
    first = sim.data[sim.data["year"] == sim.data["year"].min()]
    assert abs(_icc(first, "grade_avg") - 0.25) < 0.05


# ---- truth, selection and recoverability -------------------------------------------------


def test_truth_accounts_for_bounds(large):
    t = large.truth
    assert t["grade_avg"] == pytest.approx(0.2, abs=1e-12)
    assert t["absence_rate"] == pytest.approx(-0.02, abs=5e-4)
    # binary effects are clipped at probability 0 for low-risk pupils: |truth| <= nominal
    assert -0.03 <= t["repeated_grade"] < -0.02
    assert -0.01 <= t["dropped_out"] < -0.008
    assert t["invalsi_score"] == 0.0
    gt = large.truth_gt
    assert (gt["event_time"] == gt["year"] - gt["cohort"]).all()
    assert (gt["event_time"] >= 0).all()
    n = gt.groupby("outcome")["n_rows"].sum()
    d = large.data
    assert n["dropped_out"] == int(d["treated"].sum())


def _pyfixest_twfe(df: pd.DataFrame, outcome: str) -> tuple[float, float]:
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(
            f"{outcome} ~ treated | pupil_id + year", data=df, vcov={"CRV1": "school_id"}
        )
    return float(fit.coef().iloc[0]), float(fit.se().iloc[0])


def test_naive_comparison_is_biased_but_did_recovers_truth(large):
    d = large.data
    post = d[d["year"] >= 2023]
    part = post["cohort"] > 0
    for outcome, wrong_sign in (("absence_rate", 1), ("grade_avg", -1)):
        truth = large.truth[outcome]
        naive = post.loc[part, outcome].mean() - post.loc[~part, outcome].mean()
        # selection on high baseline absence / low SES: the naive difference has the wrong sign
        assert np.sign(naive) == wrong_sign, (outcome, naive, truth)
        assert abs(naive - truth) > abs(truth)  # bias larger than the effect itself
        est, se = _pyfixest_twfe(d, outcome)
        assert abs(est - truth) < 3.5 * se, (outcome, est, se, truth)


def test_without_selection_naive_is_close():
    sim = programme_panel(seed=3, n_schools=100, n_pupils=30_000, selection=0.0)
    d = sim.data
    post = d[d["year"] >= 2023]
    part = post["cohort"] > 0
    naive = post.loc[part, "absence_rate"].mean() - post.loc[~part, "absence_rate"].mean()
    assert abs(naive - sim.truth["absence_rate"]) < 0.008
    # and participants' baseline absence is not higher than others'
    p = d.drop_duplicates("pupil_id")
    diff = (
        p.loc[p["cohort"] > 0, "baseline_absence"].mean()
        - p.loc[p["cohort"] == 0, "baseline_absence"].mean()
    )
    assert abs(diff) < 0.01


def test_dynamic_effects_truth_and_2x2_did():
    sim = programme_panel(
        seed=8, n_schools=100, n_pupils=40_000, effects={"grade_avg": [0.1, 0.2, 0.3]}
    )
    gt = sim.truth_gt[sim.truth_gt["outcome"] == "grade_avg"]
    expected = np.array([0.1, 0.2, 0.3])[np.minimum(gt["event_time"].to_numpy(), 2)]
    np.testing.assert_allclose(gt["att"].to_numpy(), expected, atol=1e-12)
    ev = sim.truth_event().set_index(["outcome", "event_time"])
    assert ev.loc[("grade_avg", 3), "att"] == pytest.approx(0.3)
    assert sim.truth["absence_rate"] == 0.0

    # 2x2 DiD for cohort 2022 at event time 1 (2023 vs 2021), pupils seen in both years
    d = sim.data.set_index(["pupil_id", "year"])["grade_avg"].unstack()
    coh = sim.data.drop_duplicates("pupil_id").set_index("pupil_id")["cohort"]
    both = d[[2021, 2023]].dropna()
    change = both[2023] - both[2021]
    grp = coh.reindex(change.index)
    did = change[grp == 2022].mean() - change[grp == 0].mean()
    se = np.sqrt(
        change[grp == 2022].var() / (grp == 2022).sum() + change[grp == 0].var() / (grp == 0).sum()
    )
    truth = gt.set_index(["cohort", "year"]).loc[(2022, 2023), "att"]
    assert abs(did - truth) < 3.5 * se, (did, se, truth)


def test_exit_rules():
    planned = programme_panel(seed=4, n_schools=10, n_pupils=3000).data
    real = programme_panel(seed=4, n_schools=10, n_pupils=3000, outcome_dependent_exit=True).data
    validate_panel(real)
    for d in (planned, real):
        assert d.groupby("pupil_id")["year"].apply(lambda y: (y.diff().dropna() == 1).all()).all()
    # a pupil who passes the school's last grade never has a further row
    last = real.groupby("pupil_id").tail(1)
    nxt = real.groupby("pupil_id")["grade_level"].shift(-1)
    finished = real["grade_level"].isin([8, 13]) & (real["repeated_grade"] == 0)
    assert nxt[finished].isna().all()
    # with outcome-dependent exit, repeaters of the last grade stay one more year
    stays = real["grade_level"].isin([8, 13]) & (real["repeated_grade"] == 1) & nxt.notna()
    assert stays.sum() > 0
    assert len(last) == real["pupil_id"].nunique()


def test_calibration_override_and_no_programme():
    sim = programme_panel(
        seed=1,
        n_schools=50,
        n_pupils=20_000,
        calibration={"dropout": {"annual_rate_upper_secondary": 0.10}},
    )
    nt = sim.data[sim.data["treated"] == 0]
    assert 0.06 < nt.loc[nt["grade_level"] > 8, "dropped_out"].mean() < 0.12
    assert sim.params["calibration"]["dropout"]["annual_rate_upper_secondary"] == 0.10
    with pytest.raises(ValueError, match="unknown calibration entry"):
        programme_panel(seed=1, calibration={"dropout": {"rate": 0.1}})
    none = programme_panel(seed=1, n_schools=4, n_pupils=300, cohorts=())
    assert (none.data["cohort"] == 0).all() and none.truth_gt.empty
    validate_panel(none.data)


# ---- fast path for replications: panel_arrays ------------------------------------------

_CONFIGS = [
    {"seed": 5, "n_schools": 8, "n_pupils": 600},
    {
        "seed": 3,
        "n_schools": 6,
        "n_pupils": 500,
        "outcome_dependent_exit": True,
        "years": (2020, 2021, 2022, 2023),
        "cohorts": (2021, 2022),
        "effects": {"absence_rate": (-0.01, -0.02), "grade_avg": 0.3},
    },
    {
        "seed": 17,
        "n_schools": 20,
        "n_pupils": 4426,
        "years": (2022, 2023, 2024),
        "cohorts": (2023, 2024),
        "share_treated": 0.2,
        "effects": {"grade_avg": 0.25},
    },
    {"seed": 2, "n_schools": 3, "n_pupils": 200, "selection": 0.0, "year_effects": False},
    {"seed": 9, "n_schools": 4, "n_pupils": 300, "cohorts": ()},
]


def _digest(df: pd.DataFrame) -> str:
    """SHA-256 of every column's bytes (floats, integers) or text (strings)."""
    h = hashlib.sha256()
    for c in df.columns:
        v = df[c]
        h.update(c.encode())
        if v.dtype.kind in "fiub":
            h.update(v.to_numpy().tobytes())
        else:
            h.update("\x1f".join(v.astype(str)).encode())
    return h.hexdigest()[:16]


def _assert_bytes_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for c in a.columns:
        if a[c].dtype.kind == "f":  # NaN where NaN, and every bit of every number
            assert a[c].to_numpy().tobytes() == b[c].to_numpy().tobytes(), c


@pytest.mark.parametrize(
    "kwargs, digest",
    [(_CONFIGS[0], "aa80023f1594a9c8"), (_CONFIGS[1], "985bbb6efe46e566")],
)
def test_panel_is_byte_identical_to_before_the_fast_path(kwargs, digest):
    # digests of programme_panel(...).data computed with the code before panel_arrays existed
    # (commit 7c1897c): splitting the simulator changed no random draw and no number
    assert _digest(programme_panel(**kwargs).data) == digest


@pytest.mark.parametrize("kwargs", _CONFIGS)
@pytest.mark.parametrize(
    "outcomes",
    [
        ("dropped_out", "absence_rate", "repeated_grade", "grade_avg", "invalsi_score"),
        ("grade_avg",),
        ("invalsi_score", "absence_rate"),
    ],
)
def test_panel_arrays_are_the_panel_byte_for_byte(kwargs, outcomes):
    full = programme_panel(**kwargs)
    fast = panel_arrays(outcomes=outcomes, **kwargs)
    assert isinstance(fast, PanelArrays) and fast.banner == SIMULATED_BANNER
    assert list(fast.outcomes) == list(outcomes)
    assert fast.params["year_effects"] == full.params["year_effects"]
    # every column, every row
    cols = [c for c in full.data.columns if c not in set(DEFAULT_EFFECTS) - set(outcomes)]
    _assert_bytes_equal(fast.frame(), full.data[cols])
    # a sample of rows and the columns a power replication keeps, in its order
    rows = np.random.default_rng(0).random(len(full.data)) < 0.3
    keep = ["pupil_id", "school_id", "year", "cohort", outcomes[0]]
    _assert_bytes_equal(
        fast.frame(rows=rows, columns=keep), full.data.loc[rows, keep].reset_index(drop=True)
    )
    assert fast.frame(rows=np.zeros(len(rows), dtype=bool), columns=keep).shape == (0, 5)


def test_panel_arrays_refuse_what_they_do_not_build():
    fast = panel_arrays(seed=1, n_schools=4, n_pupils=300, outcomes=["grade_avg"])
    with pytest.raises(AttributeError, match="no truth.*programme_panel"):
        _ = fast.truth
    with pytest.raises(ValueError, match=r"\['absence_rate'\].*panel_arrays\(outcomes"):
        fast.frame(columns=["pupil_id", "absence_rate"])
    with pytest.raises(ValueError, match="not panel columns"):
        fast.frame(columns=["pupil_id", "height"])
    for bad in ([], ["grade_avg", "grade_avg"], ["grade_avg", "height"]):
        with pytest.raises(ValueError, match="outcomes must be distinct names"):
            panel_arrays(seed=1, n_schools=4, n_pupils=300, outcomes=bad)
    with pytest.raises(ValueError, match="read-only"):
        fast.outcomes["grade_avg"][0] = 1.0
    with pytest.raises(TypeError):
        fast.outcomes["absence_rate"] = fast.outcomes["grade_avg"]  # type: ignore[index]
    # arguments are checked as programme_panel checks them
    with pytest.raises(ValueError, match="cohort 2019"):
        panel_arrays(seed=1, outcomes=["grade_avg"], cohorts=(2019,), years=(2019, 2020))


# --------------------------------------------------------------------------------------
# The shortcuts of the simulator (issue 14) give the numbers of the plain computation
# --------------------------------------------------------------------------------------


def _plain_intercept(lin: np.ndarray, share: float) -> float:
    """The bisection as it was before issue 14: all 60 steps computed."""
    from scipy.special import expit

    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if expit(mid + lin).mean() < share:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def test_intercept_is_the_plain_bisection_bit_for_bit():
    from analysis.data import simulate

    rng = np.random.default_rng(14)
    cases = [
        (np.zeros(10), 1e-15),
        (np.zeros(10), 1 - 1e-15),
        (np.full(5, 40.0), 0.5),
        (rng.standard_normal(100) * 50, 0.2),
        (np.array([-np.inf, 0.0]), 0.3),
        (np.zeros(3, dtype=np.float32), 0.123),
    ]
    for n in (1, 2, 7, 300, 3000):
        for _ in range(25):
            lin = rng.standard_normal(n) * rng.choice([0.0, 0.3, 1.0, 3.0]) + rng.normal(0, 2)
            cases.append((lin, float(rng.choice([1e-4, 0.05, 0.1, 0.3, 0.9, rng.random()]))))
    for lin, share in cases:
        with np.errstate(all="ignore"):
            got, want = simulate._intercept_for_share(lin, share), _plain_intercept(lin, share)
        assert np.float64(got).tobytes() == np.float64(want).tobytes(), (len(lin), share)
        if np.isfinite(lin).all():
            p = 1 / (1 + np.exp(-lin))
            assert np.asarray(simulate._mean(p)).tobytes() == np.asarray(p.mean()).tobytes()


def test_calibration_copy_is_deep_and_equal():
    import copy

    from analysis.data import simulate

    first = simulate._calibration_values(None)
    assert first == copy.deepcopy(first) == simulate._values(load_calibration())
    second = simulate._calibration_values(None)
    for section, entries in first.items():
        assert entries is not second[section]
        for k, v in entries.items():
            if isinstance(v, list):
                assert v is not second[section][k]
                v.append(-1)  # the cache is not touched
    assert simulate._calibration_values(None) == second


@pytest.mark.parametrize("kwargs", _CONFIGS[:4])
def test_panels_equal_those_of_the_plain_computation(kwargs, monkeypatch):
    import copy

    from analysis.data import simulate

    fast = programme_panel(**kwargs)
    fast_arrays = panel_arrays(outcomes=["grade_avg"], **kwargs)
    monkeypatch.setattr(simulate, "_intercept_for_share", _plain_intercept)
    monkeypatch.setattr(simulate, "_copy_values", copy.deepcopy)
    plain = programme_panel(**kwargs)
    _assert_bytes_equal(fast.data, plain.data)
    pd.testing.assert_frame_equal(fast.truth_gt, plain.truth_gt, check_exact=True)
    assert dict(fast.truth) == dict(plain.truth)
    assert fast.params == plain.params
    _assert_bytes_equal(fast_arrays.frame(), panel_arrays(outcomes=["grade_avg"], **kwargs).frame())
    assert fast.data["cohort"].gt(0).any() or not kwargs.get("cohorts", True)
