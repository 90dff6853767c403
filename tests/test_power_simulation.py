"""Simulated power of the staggered DiD (analysis.power, SIMULATED programme panels).

Reference numbers: the analytic standard error of the Callaway-Sant'Anna simple aggregation
(:func:`analysis.power.cs_simple_se`) against McKenzie's DiD variance and a hand computation,
and the simulated estimator against that closed form (mean SE, size, power).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis import power as P
from analysis.errors import DataValidationError
from analysis.seeds import SeedStreams

# --------------------------------------------------------------------------------------
# Analytic SE of the staggered DiD
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.55, 0.8])
def test_cs_simple_se_equals_mckenzie_did(rho):
    two = P.cs_simple_se({2023: 180}, n_control=720, years=[2022, 2023], autocorr=rho)
    ref = P.mde(n_treated=180, n_control=720, design="did", autocorr=rho)
    assert two == pytest.approx(ref.se, rel=1e-12)
    # one cohort, base year + two post years: McKenzie with 1 pre and 2 post periods
    three = P.cs_simple_se({2023: 180}, n_control=720, years=[2022, 2023, 2024], autocorr=rho)
    ref = P.mde(n_treated=180, n_control=720, design="did", n_pre=1, n_post=2, autocorr=rho)
    assert three == pytest.approx(ref.se, rel=1e-12)


def test_cs_simple_se_two_cohorts_by_hand():
    # cohorts 2023 (n=100: cells 2023, 2024 vs base 2022) and 2024 (n=50: cell 2024 vs 2023),
    # rho = 0. Weights per cell w = n_g / (100*2 + 50*1): 0.4 and 0.2.
    # c_2023 = (-2, 1, 1): c'c = 6; c_2024 = (0, -1, 1): c'c = 2.
    # treated: 0.4² * 6 / 100 + 0.2² * 2 / 50 = 0.0096 + 0.0016 = 0.0112
    # control: d = 0.4 c_2023 + 0.2 c_2024 = (-0.8, 0.2, 0.6): d'd = 1.04, / 200 = 0.0052
    se = P.cs_simple_se(
        {2023: 100, 2024: 50}, n_control=200, years=[2022, 2023, 2024], autocorr=0.0
    )
    assert se == pytest.approx(math.sqrt(0.0112 + 0.0052), rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cohort_sizes": {2022: 10}}, "base year"),
        ({"autocorr": 1.0}, "autocorr"),
        ({"n_control": 0}, "n_control"),
    ],
)
def test_cs_simple_se_rejects_bad_input(kwargs, match):
    args = {"cohort_sizes": {2023: 10}, "n_control": 10, "years": [2022, 2023], "autocorr": 0.5}
    args.update(kwargs)
    with pytest.raises(DataValidationError, match=match):
        P.cs_simple_se(args.pop("cohort_sizes"), **args)


# --------------------------------------------------------------------------------------
# Seeds: one run seed, streams "data" and "power"
# --------------------------------------------------------------------------------------


def test_design_seeds_are_children_of_the_data_and_power_streams():
    seeds = P.design_seeds(20250405, 2)
    streams = SeedStreams(20250405)
    for k, (pilot, sims) in enumerate(seeds):
        assert pilot.spawn_key == (*streams.sequence("data").spawn_key, k)
        assert sims.spawn_key == (*streams.sequence("power").spawn_key, k)
        assert pilot.entropy == sims.entropy == 20250405
    states = {tuple(s.generate_state(4)) for pair in seeds for s in pair}
    assert len(states) == 4  # no two designs or procedures share random numbers
    with pytest.raises(DataValidationError, match="n_designs"):
        P.design_seeds(1, 0)


def _draw(effect: float, rng: np.random.Generator) -> pd.DataFrame:
    y = rng.normal(size=40)
    d = np.repeat([0, 1], 20)
    return pd.DataFrame({"y": y + effect * d, "d": d})


def _estimate(df: pd.DataFrame):
    from analysis.estimate import Estimate

    y, d = df["y"].to_numpy(), df["d"].to_numpy() == 1
    diff = y[d].mean() - y[~d].mean()
    se = math.sqrt(y[d].var(ddof=1) / 20 + y[~d].var(ddof=1) / 20)
    return Estimate.from_se(diff, se, method="difference in means")


def test_simulate_power_accepts_a_seed_sequence():
    root = SeedStreams(3).sequence("power").spawn(2)[1]
    kw = dict(draw=_draw, estimate=_estimate, effects=[0.0, 0.5], n_sims=10, progress=False)
    a = P.simulate_power(seed=root, **kw)
    b = P.simulate_power(seed=root, **kw)  # spawning does not consume the caller's sequence
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    assert a.seed == {"entropy": 3, "spawn_key": [5, 1]}
    json.dumps(a.to_dict())
    other = P.simulate_power(seed=SeedStreams(3).sequence("power").spawn(2)[0], **kw)
    assert not np.array_equal(a.estimates["estimate"], other.estimates["estimate"])
    # an integer root is the same as SeedSequence(integer)
    c = P.simulate_power(seed=7, **kw)
    d = P.simulate_power(seed=np.random.SeedSequence(7), **kw)
    pd.testing.assert_frame_equal(c.estimates, d.estimates)
    assert c.seed == 7


# --------------------------------------------------------------------------------------
# Simulated designs and the DiD's simulated power (SIMULATED panels)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_design():
    return P.calibrate_design("test", n_treated=60, n_control=120, seed=11, pilot_pupils=8000)


def test_calibrated_design_is_plausible(small_design):
    d = small_design
    # grade_avg: calibration SD 0.9 grade points; pupils observed in all years are a
    # selected, less dispersed group; autocorr = icc + pupil share = 0.55 before selection
    assert 0.7 < d.outcome_sd < 0.95
    assert 0.35 < d.autocorr < 0.6
    assert sum(d.cohort_shares.values()) == pytest.approx(1.0)
    assert set(d.cohort_shares) <= {2023, 2024}
    with pytest.raises(TypeError):
        d.cohort_shares[2023] = 1.0  # type: ignore[index]
    assert d.to_dict()["pilot_pupils"] == 8000
    json.dumps(d.to_dict())


def test_calibrate_design_rejects_bad_input():
    with pytest.raises(DataValidationError, match="outcome"):
        P.calibrate_design("x", n_treated=10, n_control=10, seed=1, outcome="invalsi_score")
    with pytest.raises(DataValidationError, match="at least 2"):
        P.calibrate_design("x", n_treated=1, n_control=10, seed=1)


def test_draw_panel_exact_sizes_balanced_and_seeded(small_design):
    a = P.draw_panel(small_design, 0.3, np.random.default_rng(5))
    b = P.draw_panel(small_design, 0.3, np.random.default_rng(5))
    pd.testing.assert_frame_equal(a, b)
    per = a.groupby("pupil_id").agg(n=("year", "nunique"), cohort=("cohort", "first"))
    assert (per["n"] == 3).all()
    assert int((per["cohort"] > 0).sum()) == 60
    assert int((per["cohort"] == 0).sum()) == 120
    assert a["grade_avg"].notna().all()
    # two draws from one generator are two different panels (spawned panel seeds)
    rng = np.random.default_rng(5)
    first, second = P.draw_panel(small_design, 0.3, rng), P.draw_panel(small_design, 0.3, rng)
    pd.testing.assert_frame_equal(first, a)
    assert (
        not first["grade_avg"]
        .reset_index(drop=True)
        .equals(second["grade_avg"].reset_index(drop=True))
    )


def test_did_estimate_in_sd_units(small_design):
    df = P.draw_panel(small_design, 0.0, np.random.default_rng(2))
    raw = P.did_estimate(df, outcome="grade_avg")
    sd = P.did_estimate(df, outcome="grade_avg", scale=small_design.outcome_sd)
    assert sd.estimate == pytest.approx(raw.estimate / small_design.outcome_sd)
    assert sd.se == pytest.approx(raw.se / small_design.outcome_sd)
    assert sd.p_value == pytest.approx(raw.p_value)
    assert sd.method.endswith("(SD units)")
    renamed = df.rename(columns={"pupil_id": "id", "year": "t", "cohort": "g"})
    other = P.did_estimate(renamed, outcome="grade_avg", unit="id", time="t", cohort="g")
    assert other.estimate == pytest.approx(raw.estimate)
    with pytest.raises(DataValidationError, match="scale"):
        P.did_estimate(df, outcome="grade_avg", scale=0.0)


def test_simulated_did_matches_analytic_se_ci_size(small_design):
    # 15 draws per effect: the mean estimated SE is within 10 % of the analytic SE and the
    # mean estimate at 0.5 SD is within 4 Monte Carlo SEs of the truth.
    res = P.simulate_did_power(small_design, effects=[0.0, 0.5], n_sims=15, seed=3, progress=False)
    t = res.tidy()
    se = small_design.analytic_se()
    assert t["mean_se"].to_numpy() == pytest.approx([se, se], rel=0.10)
    big = t[t["effect"] == 0.5].iloc[0]
    assert abs(big["bias"]) < 4 * se / math.sqrt(15)
    assert t["n_invalid"].sum() == 0
    again = P.simulate_did_power(
        small_design, effects=[0.0, 0.5], n_sims=15, seed=3, progress=False
    )
    pd.testing.assert_frame_equal(res.sim.estimates, again.sim.estimates)
    d = res.to_dict()
    assert d["simulated"] is True and d["n_sims"] == 15
    assert "SIMULATED" in res.summary()
    row = res.mde_row()
    assert row["analytic MDE (SD)"] == pytest.approx(res.analytic_mde())
    assert row["rejection rate at zero effect"] == res.size()


def test_crossing_interpolates():
    e = np.array([0.0, 0.1, 0.2, 0.3])
    p = np.array([0.05, 0.4, 0.7, 0.9])
    assert P._crossing(e, p, 0.8) == pytest.approx(0.25)
    assert math.isnan(P._crossing(e, p, 0.95))


@pytest.mark.slow
def test_simulated_did_power_matches_analytic_full_size():
    # 180 vs 720, 200 draws per effect: size within [0.02, 0.09] and power at 0.2 SD within
    # 3 Monte Carlo SEs of the analytic power of the same estimator.
    d = P.calibrate_design("STEAM courses", n_treated=180, n_control=720, seed=1)
    res = P.simulate_did_power(d, effects=[0.0, 0.2], n_sims=200, seed=7, progress=False)
    t = res.tidy().set_index("effect")
    assert 0.02 <= t.loc[0.0, "power"] <= 0.09
    r = t.loc[0.2]
    assert abs(r["power"] - r["analytic_power"]) < 3 * math.sqrt(
        r["analytic_power"] * (1 - r["analytic_power"]) / 200
    )


# --------------------------------------------------------------------------------------
# Parallel replications (issue 14): the array estimator and worker-count independence
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [2, 8])
def test_cs_simple_balanced_equals_did_estimate(small_design, seed):
    df = P.draw_panel(small_design, 0.3, np.random.default_rng(seed))
    assert df["cohort"].nunique() == 3  # two editions and the never-participants
    ref = P.did_estimate(df, outcome="grade_avg", scale=small_design.outcome_sd)
    fast = P.cs_simple_balanced(
        df.sample(frac=1.0, random_state=0),  # row order does not matter
        outcome="grade_avg",
        scale=small_design.outcome_sd,
    )
    for k in ("estimate", "se", "ci_low", "ci_high", "p_value"):
        assert getattr(fast, k) == pytest.approx(getattr(ref, k), rel=1e-10, abs=1e-14)
    assert (fast.n_obs, fast.n_units) == (ref.n_obs, ref.n_units)


def test_cs_simple_balanced_refuses_what_it_cannot_estimate(small_design):
    df = P.draw_panel(small_design, 0.0, np.random.default_rng(1))
    with pytest.raises(DataValidationError, match="one row per unit and year"):
        P.cs_simple_balanced(df.iloc[1:], outcome="grade_avg")
    dup = df.copy()  # as many rows as units x years, one pair twice (the presence table)
    dup.loc[dup.index[0], "year"] = dup.loc[dup.index[1], "year"]
    assert dup.loc[dup.index[0], "pupil_id"] == dup.loc[dup.index[1], "pupil_id"]
    with pytest.raises(DataValidationError, match="one row per unit and year"):
        P.cs_simple_balanced(dup, outcome="grade_avg")
    with pytest.raises(DataValidationError, match="in every row"):
        P.cs_simple_balanced(df.assign(grade_avg=np.nan), outcome="grade_avg")
    with pytest.raises(DataValidationError, match="never-treated"):
        P.cs_simple_balanced(df[df["cohort"] > 0], outcome="grade_avg")
    with pytest.raises(DataValidationError, match="scale"):
        P.cs_simple_balanced(df, outcome="grade_avg", scale=-1.0)


def test_simulate_power_identical_for_one_and_two_workers():
    kw = dict(draw=_draw, estimate=_estimate, effects=[0.0, 0.5], n_sims=12, progress=False)
    one = P.simulate_power(seed=4, n_jobs=1, **kw).estimates
    two = P.simulate_power(seed=4, n_jobs=2, **kw).estimates
    for col in one.columns:
        assert one[col].to_numpy().tobytes() == two[col].to_numpy().tobytes(), col
    with pytest.raises(ValueError, match="n_jobs"):
        P.simulate_power(seed=4, n_jobs=0, **kw)


def test_simulate_did_power_identical_for_one_and_two_workers(small_design):
    kw = dict(effects=[0.0, 0.4], n_sims=6, seed=9, progress=False)
    one = P.simulate_did_power(small_design, n_jobs=1, **kw).sim.estimates
    two = P.simulate_did_power(small_design, n_jobs=2, **kw).sim.estimates
    assert list(one.columns) == list(two.columns)
    for col in one.columns:
        assert one[col].to_numpy().tobytes() == two[col].to_numpy().tobytes(), col


# --------------------------------------------------------------------------------------
# draw_panel's fast path (panel_arrays) draws the panels of programme_panel (issue 14)
# --------------------------------------------------------------------------------------


def _reference_draw(design, effect_sd, rng, max_tries=4):
    """draw_panel as it was before the fast path: the full panel, then pandas."""
    from analysis.data.simulate import programme_panel

    n_pupils = design.n_pupils
    for panel_seed in rng.bit_generator.seed_seq.spawn(max_tries):
        data = programme_panel(
            seed=P._int_seed(panel_seed),
            n_pupils=n_pupils,
            n_schools=design.n_schools,
            years=design.years,
            cohorts=design.cohorts,
            share_treated=design.share_treated,
            effects={design.outcome: effect_sd * design.outcome_sd},
        ).data
        usable = P._usable(data, outcome=design.outcome, n_years=len(design.years))
        per = usable.groupby("pupil_id")["cohort"].first()  # in pupil_id order
        treated, never = per.index[per > 0].to_numpy(), per.index[per == 0].to_numpy()
        if len(treated) >= design.n_treated and len(never) >= design.n_control:
            chosen = np.concatenate(
                [
                    rng.choice(treated, design.n_treated, replace=False),
                    rng.choice(never, design.n_control, replace=False),
                ]
            )
            rows = data["pupil_id"].isin(chosen) & data[design.outcome].notna()
            cols = ["pupil_id", "school_id", "year", "cohort", design.outcome]
            return data.loc[rows, cols].reset_index(drop=True)
        n_pupils *= 2
    raise AssertionError("reference draw failed")


@pytest.fixture(scope="module")
def one_cohort_design():
    return P.calibrate_design(
        "one", n_treated=12, n_control=40, seed=7, pilot_pupils=4000, cohorts=(2023,)
    )


@pytest.mark.parametrize("seed", [0, 5, 99])
@pytest.mark.parametrize("which", ["small_design", "one_cohort_design"])
def test_draw_panel_is_the_full_panel_sample_byte_for_byte(request, which, seed):
    design = request.getfixturevalue(which)
    fast = P.draw_panel(design, 0.3, np.random.default_rng(seed))
    ref = _reference_draw(design, 0.3, np.random.default_rng(seed))
    pd.testing.assert_frame_equal(fast, ref, check_exact=True)
    values = design.outcome
    assert fast[values].to_numpy().tobytes() == ref[values].to_numpy().tobytes()


def test_draw_panel_doubles_a_panel_that_is_too_small_as_before(small_design):
    from dataclasses import replace

    tiny = replace(small_design, n_pupils=200)  # too few usable participants at first
    fast = P.draw_panel(tiny, 0.0, np.random.default_rng(3))
    pd.testing.assert_frame_equal(
        fast, _reference_draw(tiny, 0.0, np.random.default_rng(3)), check_exact=True
    )
    assert fast["pupil_id"].nunique() == tiny.n_treated + tiny.n_control


def test_simulated_power_unchanged_by_the_fast_path(small_design):
    kw = dict(effects=[0.0, 0.3], n_sims=3, seed=7, progress=False, n_jobs=1)
    est = P.simulate_did_power(small_design, **kw).sim.estimates
    # the same simulations with the pre-fast-path draw
    ref = P.simulate_power(
        draw=lambda effect, rng: _reference_draw(small_design, effect, rng),
        estimate=lambda df: P.cs_simple_balanced(
            df, outcome="grade_avg", scale=small_design.outcome_sd
        ),
        **kw,
    ).estimates
    for col in est.columns:
        assert est[col].to_numpy().tobytes() == ref[col].to_numpy().tobytes(), col
    # numbers of the code before panel_arrays existed (commit 7c1897c)
    before_est = [-0.01749705139341172, 0.03319253035625523, -0.032217456330232756]
    before_est += [0.29989722499795174, 0.24777537178837733, 0.3647119470545121]
    before_se = [0.13044528602006847, 0.14050661478527454, 0.1347779315072884]
    before_se += [0.13259643548217254, 0.13765542133981962, 0.14783255814694052]
    np.testing.assert_allclose(est["estimate"], before_est, rtol=1e-12, atol=0)
    np.testing.assert_allclose(est["se"], before_se, rtol=1e-12, atol=0)


def test_estimate_from_se_equals_the_frozen_scipy_distributions_bit_for_bit():
    """Estimate.from_se computes with scipy.special / unfrozen stats.t (no frozen distribution
    per call): the same numbers as ``stats.norm()`` and ``stats.t(df)``, to the last bit."""
    from scipy import stats

    from analysis.estimate import Estimate

    rng = np.random.default_rng(3)
    for est, se in zip(rng.normal(0, 2, 300), np.abs(rng.normal(0, 1, 300)), strict=True):
        for level in (0.95, 0.9):
            for df in (None, 7, 19.5):
                dist = stats.norm() if df is None else stats.t(df)
                crit = float(dist.ppf(0.5 + level / 2))
                e = Estimate.from_se(float(est), float(se), df=df, level=level, method="m")
                assert e.ci_low == float(est - crit * se) and e.ci_high == float(est + crit * se)
                assert e.p_value == float(2 * dist.sf(abs(est / se)))
    assert P._normal_estimate(1.5, 0.5, method="m") == Estimate.from_se(1.5, 0.5, method="m")
    assert math.isnan(Estimate.from_se(1.0, 0.0).p_value)


def test_simulator_reads_the_calibration_once_per_content(tmp_path, monkeypatch):
    """The simulator's calibration values equal load_calibration's and follow an edited file."""
    from analysis import paths
    from analysis.data import simulate

    assert simulate._calibration_values(None) == simulate._values(simulate.load_calibration())
    cal = tmp_path / "calibration.yaml"
    text = paths.CALIBRATION_FILE.read_text("utf-8")
    cal.write_text(text, encoding="utf-8")
    first = simulate._calibration_values(cal)
    first["clustering"]["icc"] = -1.0  # a copy: the cache is not touched
    assert simulate._calibration_values(cal)["clustering"]["icc"] != -1.0
    edited = text.replace("  icc:\n    value: 0.10", "  icc:\n    value: 0.2", 1)
    assert edited != text
    cal.write_text(edited, encoding="utf-8")
    assert simulate._calibration_values(cal)["clustering"]["icc"] == 0.2


# --------------------------------------------------------------------------------------
# The power loop on arrays, and validation once per simulation (issue 14)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [2, 8, 11])
def test_sample_arrays_give_the_frame_estimate_bit_for_bit(small_design, seed):
    # the loop's draw (arrays) and its estimate equal draw_panel + cs_simple_balanced exactly
    frame = P.draw_panel(small_design, 0.3, np.random.default_rng(seed))
    ref = P.cs_simple_balanced(frame, outcome="grade_avg", scale=small_design.outcome_sd)
    sample = P._draw_sample(small_design, 0.3, np.random.default_rng(seed))
    got = P._estimate_sample(sample, scale=small_design.outcome_sd)
    assert len(sample.pupil) == len(frame)
    np.testing.assert_array_equal(sample.values, frame["grade_avg"].to_numpy())
    assert got == ref  # every field, floats compared exactly
    assert np.all(np.diff(sample.pupil) >= 0)  # drawn by pupil: the ranks from the runs
    perm = np.random.default_rng(0).permutation(len(sample.pupil))  # any order: np.unique
    shuffled = P._Sample(
        pupil=sample.pupil[perm],
        year=sample.year[perm],
        cohort=sample.cohort[perm],
        values=sample.values[perm],
        outcome=sample.outcome,
    )
    assert P._estimate_sample(shuffled, scale=small_design.outcome_sd) == ref
    with pytest.raises(DataValidationError, match="scale"):
        P._estimate_sample(sample, scale=0.0)


def test_clustered_power_validates_once_with_unchanged_numbers(small_design, monkeypatch):
    from analysis.did import _checks

    calls = []
    nested = _checks.require_nested
    monkeypatch.setattr(
        _checks, "require_nested", lambda *a, **k: calls.append(1) or nested(*a, **k)
    )
    effects, n_sims, seed = [0.0, 0.4], 3, 5
    res = P.simulate_did_power(
        small_design,
        effects=effects,
        n_sims=n_sims,
        seed=seed,
        cluster="school_id",
        progress=False,
    )
    assert len(calls) == 1  # the first simulation's panel, not each of the 6 draws
    # the same numbers as validating (and estimating) every draw
    calls.clear()
    expected = []
    for j, child in enumerate(np.random.SeedSequence(seed).spawn(len(effects))):
        for ss in child.spawn(n_sims):
            df = P.draw_panel(small_design, effects[j], np.random.default_rng(ss))
            expected.append(
                P.did_estimate(
                    df, outcome="grade_avg", scale=small_design.outcome_sd, cluster="school_id"
                ).estimate
            )
    assert len(calls) == len(expected) == 6
    np.testing.assert_array_equal(res.sim.estimates["estimate"].to_numpy(), expected)
    # a bad first panel is caught by that one validation
    with pytest.raises(DataValidationError):
        P.simulate_did_power(
            small_design,
            effects=effects,
            n_sims=1,
            seed=seed,
            cluster="no_such_column",
            progress=False,
        )
