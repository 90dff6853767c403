"""Power / MDE: the docs/references.md §3.5 tables, statsmodels and diff-diff agreement, and
simulation-based power against analytic power."""

from __future__ import annotations

import json
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from analysis import power as P
from analysis.errors import DataValidationError
from analysis.estimate import Estimate

matplotlib.use("Agg")

# --------------------------------------------------------------------------------------
# Background note §3.5, continuous outcomes (MDE in SD units), tolerance 0.01 SD.
# Columns: no covariates | R² = 0.5 | clustered m=20, ICC=0.10 | clustered + R² = 0.5
# --------------------------------------------------------------------------------------
CONTINUOUS = {
    (180, 180): (0.30, 0.21, 0.50, 0.36),
    (180, 360): (0.26, 0.18, 0.44, 0.31),
    (180, 720): (0.23, 0.17, 0.40, 0.28),
    (41, 41): (0.62, 0.44, 1.05, 0.75),
    (41, 123): (0.51, 0.36, 0.86, 0.61),
}
VARIANTS = [  # (r2, cluster_size, icc)
    (0.0, 1, 0.0),
    (0.5, 1, 0.0),
    (0.0, 20, 0.10),
    (0.5, 20, 0.10),
]
CONT_CASES = [
    (nt, nc, *VARIANTS[j], ref[j]) for (nt, nc), ref in CONTINUOUS.items() for j in range(4)
]


@pytest.mark.reference
@pytest.mark.parametrize(("n_t", "n_c", "r2", "m", "icc", "ref"), CONT_CASES)
def test_continuous_mde_table(n_t, n_c, r2, m, icc, ref):
    res = P.mde(n_treated=n_t, n_control=n_c, r2=r2, cluster_size=m, icc=icc)
    assert res.units == "SD"
    assert res.value == pytest.approx(ref, abs=0.01)


# Binary outcomes (MDE in pp for base rate p0), tolerance 0.1 pp.
BINARY = {
    0.03: (5.0, 4.0, 8.6),
    0.05: (6.4, 5.1, 11.0),
    0.10: (8.9, 7.0, 15.2),
    0.13: (9.9, 7.9, 17.0),
    0.20: (11.8, 9.3, 20.2),
}
ARMS = [(180, 180), (180, 720), (41, 123)]
BIN_CASES = [(p0, *ARMS[j], ref[j]) for p0, ref in BINARY.items() for j in range(3)]


@pytest.mark.reference
@pytest.mark.parametrize(("p0", "n_t", "n_c", "ref"), BIN_CASES)
def test_binary_mde_table(p0, n_t, n_c, ref):
    res = P.mde(n_treated=n_t, n_control=n_c, outcome="binary", base_rate=p0)
    assert res.units == "pp"
    assert res.value == pytest.approx(ref, abs=0.1)


# Required sample (arcsine approximation): the note's numbers within ±2.
SAMPLE = [(0.211, 0.13, 167), (0.10, 0.05, 212), (0.05, 0.025, 441), (0.03, 0.015, 746)]


@pytest.mark.reference
@pytest.mark.parametrize(("p0", "p1", "ref"), SAMPLE)
def test_note_sample_sizes_are_one_group_vs_known_rate(p0, p1, ref):
    # The note's figures equal ((z_.975 + z_.8) / h)², e.g. 21.1% -> 13%:
    # h = 2 asin(sqrt(.211)) - 2 asin(sqrt(.13)) = 0.2168, (2.8016 / 0.2168)² = 167.0.
    # That is the arcsine sample size of ONE group compared with a known rate.
    res = P.sample_size(
        treated_rate=p1,
        outcome="binary",
        base_rate=p0,
        binary_method="arcsine",
        design="one_sample",
    )
    assert abs(res.n_treated - ref) <= 2
    assert res.n_control is None


@pytest.mark.reference
@pytest.mark.parametrize(("p0", "p1", "ref"), SAMPLE)
def test_two_group_sample_size_is_twice_the_note_and_matches_statsmodels(p0, p1, ref):
    # Two groups of equal size: each arm needs 2 × ((z_a + z_b)/h)², i.e. about twice the
    # note's "per arm" figure (21.1% -> 13%: 334 per arm, not 167).
    res = P.sample_size(treated_rate=p1, outcome="binary", base_rate=p0, binary_method="arcsine")
    sm = NormalIndPower().solve_power(
        effect_size=proportion_effectsize(p0, p1), alpha=0.05, power=0.8, ratio=1.0
    )
    assert res.n_treated_exact == pytest.approx(sm, rel=0.01)
    assert res.n_treated == math.ceil(sm)
    assert abs(res.n_treated - 2 * ref) <= 2
    assert res.achieved_power >= 0.8


def test_binary_effect_in_pp_equals_treated_rate():
    a = P.sample_size(effect=-8.1, outcome="binary", base_rate=0.211, binary_method="arcsine")
    b = P.sample_size(treated_rate=0.13, outcome="binary", base_rate=0.211, binary_method="arcsine")
    assert a.n_treated == b.n_treated == 334
    assert a.effect == pytest.approx(-8.1) and b.effect == pytest.approx(-8.1)


# --------------------------------------------------------------------------------------
# Agreement with statsmodels where the two overlap (within 1 %)
# --------------------------------------------------------------------------------------
SM_CASES = [
    (180, 180, 0.05, 0.8, True),
    (180, 720, 0.05, 0.8, True),
    (41, 123, 0.10, 0.9, True),
    (41, 41, 0.05, 0.8, False),
    (25, 60, 0.01, 0.7, True),
]


@pytest.mark.parametrize(("n_t", "n_c", "alpha", "pw", "two"), SM_CASES)
def test_mde_matches_statsmodels_normal(n_t, n_c, alpha, pw, two):
    alt = "two-sided" if two else "larger"
    sm = NormalIndPower().solve_power(
        effect_size=None, nobs1=n_t, ratio=n_c / n_t, alpha=alpha, power=pw, alternative=alt
    )
    res = P.mde(n_treated=n_t, n_control=n_c, alpha=alpha, power=pw, two_sided=two)
    assert res.value == pytest.approx(sm, rel=0.01)


@pytest.mark.parametrize(("n_t", "n_c", "alpha", "pw", "two"), SM_CASES)
def test_mde_matches_statsmodels_t(n_t, n_c, alpha, pw, two):
    alt = "two-sided" if two else "larger"
    sm = TTestIndPower().solve_power(
        effect_size=None, nobs1=n_t, ratio=n_c / n_t, alpha=alpha, power=pw, alternative=alt
    )
    res = P.mde(n_treated=n_t, n_control=n_c, alpha=alpha, power=pw, two_sided=two, dist="t")
    assert res.value == pytest.approx(sm, rel=0.01)
    assert res.value == pytest.approx(res.multiplier * res.se, rel=1e-9)


@pytest.mark.parametrize("effect", [0.1, 0.3, 0.6])
@pytest.mark.parametrize("dist", ["normal", "t"])
def test_power_matches_statsmodels(effect, dist):
    cls = NormalIndPower if dist == "normal" else TTestIndPower
    sm = cls().power(effect_size=effect, nobs1=41, ratio=3.0, alpha=0.05)
    res = P.power(effect=effect, n_treated=41, n_control=123, dist=dist)
    assert res.power == pytest.approx(sm, rel=0.01)


@pytest.mark.parametrize(("effect", "ratio"), [(0.3, 1.0), (0.25, 4.0), (0.5, 0.5)])
@pytest.mark.parametrize("dist", ["normal", "t"])
def test_sample_size_matches_statsmodels(effect, ratio, dist):
    cls = NormalIndPower if dist == "normal" else TTestIndPower
    sm = cls().solve_power(effect_size=effect, alpha=0.05, power=0.8, ratio=ratio)
    res = P.sample_size(effect=effect, ratio=ratio, dist=dist)
    assert res.n_treated_exact == pytest.approx(sm, rel=0.01)
    assert res.n_control_exact == pytest.approx(ratio * sm, rel=0.01)


def test_binary_arcsine_power_matches_statsmodels():
    h = proportion_effectsize(0.05, 0.10)  # 10% -> 5%
    sm = NormalIndPower().power(effect_size=h, nobs1=180, ratio=4.0, alpha=0.05)
    res = P.power(
        effect=-5.0,
        n_treated=180,
        n_control=720,
        outcome="binary",
        base_rate=0.10,
        binary_method="arcsine",
    )
    assert res.power == pytest.approx(sm, rel=0.01)


def test_arcsine_mde_inverts_to_target_power():
    res = P.mde(
        n_treated=180,
        n_control=180,
        outcome="binary",
        base_rate=0.10,
        binary_method="arcsine",
        direction="decrease",
    )
    back = P.power(
        treated_rate=res.treated_rate,
        n_treated=180,
        n_control=180,
        outcome="binary",
        base_rate=0.10,
        binary_method="arcsine",
    )
    assert back.power == pytest.approx(0.8, abs=1e-3)
    assert res.treated_rate < 0.10
    up = P.mde(
        n_treated=180,
        n_control=180,
        outcome="binary",
        base_rate=0.10,
        binary_method="arcsine",
        direction="increase",
    )
    assert up.value > res.value  # the arcsine MDE is asymmetric near zero


def test_arcsine_decrease_beyond_zero_is_infinite():
    res = P.mde(
        n_treated=10, n_control=10, outcome="binary", base_rate=0.03, binary_method="arcsine"
    )
    assert math.isinf(res.value)


# --------------------------------------------------------------------------------------
# Designs: DiD / ANCOVA (McKenzie 2012), one-sided tests, clustering
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n_pre", "n_post", "rho"), [(1, 1, 0.0), (1, 1, 0.5), (3, 2, 0.4), (4, 4, 0.7), (2, 5, -0.1)]
)
def test_did_matches_diff_diff(n_pre, n_post, rho):
    from diff_diff import PowerAnalysis

    dd = PowerAnalysis(alpha=0.05, power=0.8).mde(50, 60, 1.0, n_pre=n_pre, n_post=n_post, rho=rho)
    res = P.mde(n_treated=50, n_control=60, design="did", n_pre=n_pre, n_post=n_post, autocorr=rho)
    assert res.value == pytest.approx(dd.mde, rel=1e-9)


def test_ancova_and_did_by_hand():
    # n = 100 per arm, rho = 0.5, one pre and one post period:
    # two_group f = 1; DiD f = 2(1 - 0.5) = 1; ANCOVA f = 1 - 0.5² = 0.75.
    # MDE = 2.8016 · sqrt(f · 2/100): 0.39621, 0.39621, 0.34313.
    m = 2.8015852181
    g = P.mde(n_treated=100, n_control=100)
    d = P.mde(n_treated=100, n_control=100, design="did", autocorr=0.5)
    a = P.mde(n_treated=100, n_control=100, design="ancova", autocorr=0.5)
    assert g.value == pytest.approx(m * math.sqrt(0.02), rel=1e-9)
    assert d.value == pytest.approx(m * math.sqrt(0.02), rel=1e-9)
    assert a.value == pytest.approx(m * math.sqrt(0.75 * 0.02), rel=1e-9)
    # McKenzie: 3 pre, 3 post, rho = 0.5: ANCOVA f = (1+2·.5)/3 - 3·.25/(1+2·.5) = 0.29167.
    a3 = P.mde(n_treated=100, n_control=100, design="ancova", n_pre=3, n_post=3, autocorr=0.5)
    assert a3.variance_factor == pytest.approx(2 / 3 - 0.375, rel=1e-12)


def test_one_sided_and_clustering_by_hand():
    # One-sided 5%, 80%: M = 1.6449 + 0.8416 = 2.4865; 180 vs 180 -> 2.4865·0.105409 = 0.2621.
    r = P.mde(n_treated=180, n_control=180, two_sided=False)
    assert r.value == pytest.approx(0.2621, abs=5e-4)
    # m = 20, ICC = 0.1 -> DEFF = 2.9, effective n = 180/2.9 = 62.07 per arm.
    c = P.mde(n_treated=180, n_control=180, cluster_size=20, icc=0.1)
    assert c.design_effect == pytest.approx(2.9)
    assert c.effective_n_treated == pytest.approx(180 / 2.9)
    assert c.value == pytest.approx(0.2953 * math.sqrt(2.9), abs=5e-4)


def test_mde_power_sample_size_are_consistent():
    kw = dict(r2=0.3, cluster_size=10, icc=0.05, design="did", n_pre=2, n_post=2, autocorr=0.6)
    m = P.mde(n_treated=120, n_control=240, **kw)
    assert P.power(effect=m.value, n_treated=120, n_control=240, **kw).power == pytest.approx(
        0.8, abs=1e-4
    )
    s = P.sample_size(effect=m.value, ratio=2.0, **kw)
    assert s.n_treated_exact == pytest.approx(120, rel=1e-6)
    assert s.n_treated == 120 and s.n_control == 240


def test_results_serialise_and_read():
    r = P.mde(n_treated=180, n_control=720, outcome="binary", base_rate=0.03)
    d = r.to_dict()
    json.dumps(d)
    assert d["value"] == pytest.approx(3.98, abs=0.01) and d["units"] == "pp"
    assert isinstance(r.tidy(), pd.DataFrame) and len(r.tidy()) == 1
    assert "MDE" in r.summary()
    assert (
        "larger than the base rate"
        in P.mde(n_treated=180, n_control=180, outcome="binary", base_rate=0.03).effect_summary()
    )
    json.dumps(P.power(effect=0.3, n_treated=50, n_control=50).to_dict())
    json.dumps(P.sample_size(effect=0.3).to_dict())


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        (dict(n_treated=50, n_control=50, design="did"), "autocorr"),
        (dict(n_treated=50, n_control=50, outcome="binary"), "base_rate"),
        (dict(n_treated=50, n_control=50, base_rate=0.1), "base_rate"),
        (dict(n_treated=50, n_control=50, design="one_sample"), "n_control"),
        (dict(n_treated=50), "n_control"),
        (dict(n_treated=50, n_control=50, icc=1.5), "icc"),
        (dict(n_treated=50, n_control=50, r2=1.0), "r2"),
        (dict(n_treated=50, n_control=50, alpha=0), "alpha"),
        (dict(n_treated=50, n_control=50, design="rdd"), "design"),
        (dict(n_treated=0, n_control=50), "n_treated"),
        (dict(n_treated=50, n_control=50, design="did", autocorr=1.0), "autocorr"),
    ],
)
def test_bad_arguments_raise(kwargs, column):
    with pytest.raises(DataValidationError, match=column):
        P.mde(**kwargs)


def test_sample_size_rejects_zero_effect_and_impossible_rate():
    with pytest.raises(DataValidationError, match="zero effect"):
        P.sample_size(effect=0.0)
    with pytest.raises(DataValidationError, match="must lie in"):
        P.sample_size(effect=-5.0, outcome="binary", base_rate=0.03)


# --------------------------------------------------------------------------------------
# Simulation-based power
# --------------------------------------------------------------------------------------
N_ARM = 40


def _draw(effect: float, rng: np.random.Generator) -> pd.DataFrame:
    y = rng.normal(size=2 * N_ARM)
    d = np.repeat([0, 1], N_ARM)
    return pd.DataFrame({"y": y + effect * d, "d": d})


def _estimate(df: pd.DataFrame) -> Estimate:
    # Pooled-variance two-sample t test, by hand (numpy) to keep the test fast.
    y, d = df["y"].to_numpy(), df["d"].to_numpy() == 1
    y1, y0 = y[d], y[~d]
    diff = y1.mean() - y0.mean()
    pooled = ((y1.var(ddof=1) + y0.var(ddof=1)) / 2) * (2 / N_ARM)
    return Estimate.from_se(diff, math.sqrt(pooled), df=2 * N_ARM - 2, method="difference in means")


def _check_against_analytic(sim: P.SimulatedPower) -> None:
    for r in sim.tidy().itertuples():
        exact = TTestIndPower().power(effect_size=r.effect, nobs1=N_ARM, ratio=1.0, alpha=0.05)
        if r.effect == 0:
            exact = 0.05
        mc_se = math.sqrt(exact * (1 - exact) / r.n_sims)
        assert abs(r.power - exact) <= 3 * mc_se, (r.effect, r.power, exact)
        assert r.mc_se == pytest.approx(math.sqrt(r.power * (1 - r.power) / r.n_sims))
        assert abs(r.bias) < 4 * math.sqrt(2 / N_ARM / r.n_sims)
        assert abs(r.coverage - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / r.n_sims)


def test_simulated_power_matches_analytic_ci_size():
    sim = P.simulate_power(
        draw=_draw,
        estimate=_estimate,
        effects=[0.0, 0.4, 0.8],
        n_sims=300,
        seed=20240,
        progress=False,
    )
    t = sim.tidy()
    assert list(t.columns[:5]) == ["effect", "n_sims", "rejections", "power", "mc_se"]
    assert {"mean_estimate", "bias", "coverage"} <= set(t.columns)
    _check_against_analytic(sim)


@pytest.mark.slow
def test_simulated_power_matches_analytic_full_size():
    sim = P.simulate_power(
        draw=_draw,
        estimate=_estimate,
        effects=[0.0, 0.2, 0.4, 0.6, 0.8],
        n_sims=4000,
        seed=7,
        progress=False,
    )
    _check_against_analytic(sim)


def test_simulated_power_is_reproducible_and_nested():
    kw = dict(draw=_draw, estimate=_estimate, effects=[0.5], progress=False)
    a = P.simulate_power(n_sims=40, seed=1, **kw)
    b = P.simulate_power(n_sims=40, seed=1, **kw)
    c = P.simulate_power(n_sims=60, seed=1, **kw)
    d = P.simulate_power(n_sims=40, seed=2, **kw)
    pd.testing.assert_frame_equal(a.tidy(), b.tidy())
    # The first 40 draws do not change when n_sims grows (independent child seeds).
    np.testing.assert_array_equal(a.estimates["estimate"], c.estimates["estimate"].iloc[:40])
    assert not np.array_equal(a.estimates["estimate"], d.estimates["estimate"])
    json.dumps(a.to_dict())
    assert "power" in a.summary()


def test_simulated_power_plot_returns_figure():
    from matplotlib.figure import Figure

    sim = P.simulate_power(
        draw=_draw, estimate=_estimate, effects=[0.0, 0.5], n_sims=20, seed=3, progress=False
    )
    fig = sim.plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "power"
    matplotlib.pyplot.close(fig)


# --------------------------------------------------------------------------------------
# Covariates at pupil and school level; school-level covariates in the df
# --------------------------------------------------------------------------------------
def test_r2_cluster_equal_to_r2_is_the_one_r2_model():
    kw = dict(n_treated=180, n_control=360, r2=0.4, cluster_size=20, icc=0.1)
    one = P.mde(**kw)
    two = P.mde(**kw, r2_cluster=0.4)
    assert two.value == pytest.approx(one.value, rel=1e-12)
    assert two.variance_factor == pytest.approx((1 - 0.4) * 2.9, rel=1e-12)


def test_r2_cluster_by_hand_and_in_powerup_form():
    # m = 20, ICC = .1, R²_1 = .5, R²_2 = .7: V = 20·.1·.3 + .9·.5 = 1.05.
    res = P.mde(n_treated=180, n_control=180, r2=0.5, cluster_size=20, icc=0.1, r2_cluster=0.7)
    assert res.variance_factor == pytest.approx(1.05, rel=1e-12)
    assert res.value == pytest.approx(2.8015852181 * math.sqrt(1.05 * 2 / 180), rel=1e-9)
    # PowerUp!: J = 18 schools, P = .5, n = 20: SE² = ρ(1-R²_2)/(PQJ) + (1-ρ)(1-R²_1)/(PQJn).
    pq, j = 0.25, 18
    se2 = 0.1 * 0.3 / (pq * j) + 0.9 * 0.5 / (pq * j * 20)
    assert res.se == pytest.approx(math.sqrt(se2), rel=1e-12)
    # School-level covariates explaining more school variance lower the MDE.
    assert res.value < P.mde(n_treated=180, n_control=180, r2=0.5, cluster_size=20, icc=0.1).value


def test_cluster_covariates_cost_degrees_of_freedom():
    kw = dict(n_treated=100, n_control=100, cluster_size=20, icc=0.1, dist="t")
    base = P.mde(**kw)
    g2 = P.mde(**kw, n_cluster_covariates=2)
    assert base.df == 10 - 2 and g2.df == 10 - 2 - 2
    assert g2.value > base.value
    pw = P.power(effect=g2.value, **kw, n_cluster_covariates=2)
    assert pw.power == pytest.approx(0.8, abs=1e-6)
    s = P.sample_size(effect=g2.value, cluster_size=20, icc=0.1, dist="t", n_cluster_covariates=2)
    assert s.n_treated_exact == pytest.approx(100, rel=1e-6)
    assert s.inputs["n_cluster_covariates"] == 2
    assert "cluster-level covariate" in g2.summary()


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        (dict(r2_cluster=0.3), "r2_cluster"),  # icc = 0: no between-cluster variance
        (dict(cluster_size=20, icc=0.1, r2_cluster=1.0), "r2_cluster"),
        (dict(cluster_size=20, icc=0.1, n_cluster_covariates=1), "n_cluster_covariates"),
        (dict(cluster_size=20, icc=0.1, dist="t", n_cluster_covariates=-1), "n_cluster_covariates"),
        (
            dict(cluster_size=20, icc=0.1, dist="t", n_cluster_covariates=1.5),
            "n_cluster_covariates",
        ),
        (dict(cluster_size=25, icc=0.1, dist="t", n_cluster_covariates=2), "n_cluster_covariates"),
    ],
)
def test_bad_two_level_options_raise(kwargs, column):
    with pytest.raises(DataValidationError, match=column):
        P.mde(n_treated=50, n_control=50, **kwargs)


# --------------------------------------------------------------------------------------
# Three-level designs (PowerUp!); published PowerUpR numbers in
# tests/test_power_three_level_reference.py
# --------------------------------------------------------------------------------------
CRA3 = dict(
    design="cra3", pupils_per_class=10, classes_per_school=2, n_schools=40,
    icc_class=0.06, icc_school=0.18, r2_pupil=0.5, r2_class=0.4, r2_school=0.3,
    n_school_covariates=1, treated_share=0.4,
)  # fmt: skip


def test_cra3_by_hand():
    r = P.mde_three_level(**CRA3)
    pq, n, j, k = 0.24, 10, 2, 40
    se2 = 0.18 * 0.7 / (pq * k) + 0.06 * 0.6 / (pq * j * k) + 0.76 * 0.5 / (pq * j * k * n)
    assert r.se == pytest.approx(math.sqrt(se2), rel=1e-12)
    assert sum(r.variance_components.values()) == pytest.approx(se2, rel=1e-12)
    assert r.df == 40 - 1 - 2
    crit = stats.t.ppf(0.975, 37)
    assert r.multiplier == pytest.approx(crit + stats.t.ppf(0.8, 37), rel=1e-12)
    assert r.value == pytest.approx(r.multiplier * r.se, rel=1e-12)
    assert (r.ci_lower, r.ci_upper) == pytest.approx((r.value - crit * r.se, r.value + crit * r.se))


def test_three_level_with_one_class_per_school_is_the_two_level_design():
    # J = 1 and no class-level variance: pupils in schools, ICC = rho3, cluster size n.
    kw3 = dict(design="cra3", pupils_per_class=25, classes_per_school=1, n_schools=30,
               icc_class=0.0, icc_school=0.15, r2_pupil=0.5, r2_school=0.6,
               n_school_covariates=2, treated_share=0.5)  # fmt: skip
    three = P.mde_three_level(**kw3)
    two = P.mde(n_treated=15 * 25, n_control=15 * 25, cluster_size=25, icc=0.15, r2=0.5,
                r2_cluster=0.6, n_cluster_covariates=2, dist="t")  # fmt: skip
    assert three.se == pytest.approx(two.se, rel=1e-12)
    assert three.df == two.df == 30 - 2 - 2
    # mde(dist="t") solves the noncentral t exactly; PowerUp!'s M·SE is close to it.
    kw3_no_design = {k: v for k, v in kw3.items() if k != "design"}
    back = P.power_three_level(effect=two.value, design="cra3", **kw3_no_design)
    assert back.power == pytest.approx(0.8, abs=1e-9)
    assert three.value == pytest.approx(two.value, rel=0.01)


def test_bcra3r2_by_hand_and_one_sided_low_power():
    kw = dict(design="bcra3r2", pupils_per_class=20, classes_per_school=4, n_schools=12,
              icc_class=0.1, icc_school=0.2, effect_heterogeneity=0.3,
              r2_effect_heterogeneity=0.5, r2_pupil=0.4, r2_class=0.2)  # fmt: skip
    r = P.mde_three_level(**kw, power=0.4, two_sided=False, alpha=0.1)
    se2 = 0.2 * 0.3 * 0.5 / 12 + 0.1 * 0.8 / (0.25 * 4 * 12) + 0.7 * 0.6 / (0.25 * 4 * 12 * 20)
    assert r.se == pytest.approx(math.sqrt(se2), rel=1e-12)
    assert r.df == 11
    # PowerUpR: M = T1 - T2 when power < .5, T1 = |qt(alpha, df)|, T2 = |qt(power, df)|.
    t1, t2 = abs(stats.t.ppf(0.1, 11)), abs(stats.t.ppf(0.4, 11))
    assert r.multiplier == pytest.approx(t1 - t2, rel=1e-12)
    pw = P.power_three_level(effect=r.value, **kw, two_sided=False, alpha=0.1)
    assert pw.power == pytest.approx(1 - stats.nct.cdf(t1, 11, r.value / r.se), rel=1e-9)
    json.dumps(r.to_dict())
    json.dumps(pw.to_dict())
    assert "bcra3r2" in r.summary() and "omega3=0.3" in pw.powerupr_call()
    assert len(r.tidy()) == 1
    with pytest.raises(TypeError):
        r.variance_components["school"] = 0.0  # read-only


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (dict(design="cra4"), "design"),
        (dict(effect_heterogeneity=0.2), "effect_heterogeneity"),  # cra3 has no omega3
        (dict(r2_effect_heterogeneity=0.2), "r2_effect_heterogeneity"),
        (dict(design="bcra3r2"), "r2_school"),  # bcra3r2 has no r23
        (dict(design="bcra3r2", r2_school=None), "effect_heterogeneity"),  # omega3 required
        (
            dict(design="bcra3r2", r2_school=None, effect_heterogeneity=0.2, classes_per_school=1),
            "classes_per_school",
        ),  # fmt: skip
        (dict(icc_class=0.5, icc_school=0.5), "icc_school"),
        (dict(icc_class=-0.1), "icc_class"),
        (dict(r2_pupil=1.0), "r2_pupil"),
        (dict(r2_school=1.0), "r2_school"),
        (dict(treated_share=1.0), "treated_share"),
        (dict(pupils_per_class=0), "pupils_per_class"),
        (dict(n_schools=3), "n_schools"),  # df = 3 - 1 - 2 = 0
        (dict(n_school_covariates=-1), "n_school_covariates"),
        (dict(alpha=0.0), "alpha"),
        (dict(power=1.0), "power"),
    ],
)
def test_bad_three_level_arguments_raise(change, column):
    with pytest.raises(DataValidationError, match=column):
        P.mde_three_level(**{**CRA3, **change})


def test_power_three_level_rejects_bad_effect():
    with pytest.raises(DataValidationError, match="effect"):
        P.power_three_level(effect=math.nan, **CRA3)


# --------------------------------------------------------------------------------------
# Options used or refused, never silently ignored
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("func", "kwargs", "column"),
    [
        (P.mde, dict(n_treated=180, n_control=180, n_pre=3), "n_pre"),
        (P.mde, dict(n_treated=180, design="one_sample", n_pre=2), "n_pre"),
        (P.power, dict(effect=0.3, n_treated=180, n_control=180, n_pre=2), "n_pre"),
        (P.sample_size, dict(effect=0.3, n_pre=2), "n_pre"),
        (P.mde, dict(n_treated=180, n_control=180, autocorr=0.5), "autocorr"),
        (P.power, dict(effect=0.3, n_treated=180, design="one_sample", autocorr=0.5), "autocorr"),
        (P.sample_size, dict(effect=0.3, autocorr=0.5), "autocorr"),
        (P.mde, dict(n_treated=180, n_control=180, binary_method="arcsine"), "binary_method"),
        (P.power, dict(effect=0.3, n_treated=180, binary_method="variance"), "binary_method"),
        (P.sample_size, dict(effect=0.3, binary_method="arcsine"), "binary_method"),
        (P.sample_size, dict(effect=0.3, design="one_sample", ratio=4.0), "ratio"),
    ],
)
def test_inapplicable_options_refused(func, kwargs, column):
    with pytest.raises(DataValidationError, match=column):
        func(**kwargs)


def test_applicable_options_still_used():
    """The same options move the answer where they apply, and the defaults are unchanged."""
    base = P.mde(n_treated=180, n_control=180)
    assert base.inputs["n_pre"] == 1
    assert base.inputs["autocorr"] is None
    did1 = P.mde(n_treated=180, n_control=180, design="did", autocorr=0.5)
    did3 = P.mde(n_treated=180, n_control=180, design="did", autocorr=0.5, n_pre=3)
    assert did3.value < did1.value
    assert P.mde(n_treated=180, n_control=180, design="did", autocorr=0.5, n_pre=1) == did1
    # autocorr is used by a post-period comparison over several post-periods
    multi = P.mde(n_treated=180, n_control=180, n_post=3, autocorr=0.5)
    assert multi.value < base.value
    binary = dict(n_treated=180, n_control=180, outcome="binary", base_rate=0.1)
    assert P.mde(**binary) == P.mde(**binary, binary_method="variance")
    assert P.mde(**binary, binary_method="arcsine").value != P.mde(**binary).value
    one = P.sample_size(effect=0.3, design="one_sample")
    assert one.ratio == 1.0 and one.n_control is None
    assert P.sample_size(effect=0.3) == P.sample_size(effect=0.3, ratio=1.0)
    assert P.sample_size(effect=0.3, ratio=4.0).n_treated < P.sample_size(effect=0.3).n_treated
