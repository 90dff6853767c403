"""Three-level MDES and power against PowerUpR's published examples.

Source: ``data/reference/powerupr_mdes3/README.md`` — PowerUpR 1.1.0 (``cran/PowerUpR``, commit
``ac7e9ab``; Bulus, Dong, Kelcey & Spybrook), formulas of Dong & Maynard (2013):

1. ``mdes.cra3(power=.80, rho2=.06, rho3=.18, g3=1, r21=.55, r22=.50, r23=.45, p=.40, n=10,
   J=2, K=83)`` prints MDES 0.23, 95% CI [0.069, 0.392], df 80, standardized SE 0.081
   (knitted vignette ``three_level_cluster_randomized_trial``); the matching
   ``power.cra3(es=.23, ...)`` prints power 0.8.
2. ``mdes.cra3(rho3=.06, rho2=.17, n=15, J=3, K=60)``: MDES .269 (``man/cra3.Rd`` cross-checks).
3. ``mdes.bcra3r2(rho3=.13, rho2=.10, omega3=.4, n=10, J=6, K=24)``: MDES .246
   (``man/bcra3r2.Rd`` cross-checks).

Tolerance = the printed precision. PowerUpR prints ``round(x, 3)`` (``.summ.mdes`` and
``.summ.power`` in ``R/utils.R``; trailing zeros dropped, so "0.23" and "0.8" are the 3-decimal
values 0.230 and 0.800): every printed number is matched to half a unit in its third decimal,
``abs=5e-4``; degrees of freedom exactly.
"""

from __future__ import annotations

import pytest

from analysis import power as P

PRINTED = 5e-4  # half a unit in the 3rd decimal: PowerUpR prints round(x, 3)

# Case 1: the vignette's Saxon Math example (PowerUpR names in the comments).
VIGNETTE = dict(
    design="cra3",
    icc_class=0.06,  # rho2
    icc_school=0.18,  # rho3
    n_school_covariates=1,  # g3
    r2_pupil=0.55,  # r21
    r2_class=0.50,  # r22
    r2_school=0.45,  # r23
    treated_share=0.40,  # p
    pupils_per_class=10,  # n
    classes_per_school=2,  # J
    n_schools=83,  # K
)
# Case 2: man/cra3.Rd (defaults p = .5, g3 = 0, r2 = 0).
CRA3_MAN = dict(
    design="cra3", icc_school=0.06, icc_class=0.17, pupils_per_class=15, classes_per_school=3,
    n_schools=60,
)  # fmt: skip
# Case 3: man/bcra3r2.Rd.
BCRA3R2_MAN = dict(
    design="bcra3r2", icc_school=0.13, icc_class=0.10, effect_heterogeneity=0.4,
    pupils_per_class=10, classes_per_school=6, n_schools=24,
)  # fmt: skip


@pytest.mark.reference
def test_cra3_vignette_mdes_interval_df_se():
    r = P.mde_three_level(power=0.80, **VIGNETTE)
    assert r.value == pytest.approx(0.23, abs=PRINTED)  # printed 0.23 (round(., 3) = 0.230)
    assert r.ci_lower == pytest.approx(0.069, abs=PRINTED)  # printed 0.069
    assert r.ci_upper == pytest.approx(0.392, abs=PRINTED)  # printed 0.392
    assert r.df == 80  # printed 80, exact
    assert r.se == pytest.approx(0.081, abs=PRINTED)  # printed "standardized SE" 0.081
    assert r.confidence == pytest.approx(0.95)
    assert r.powerupr_call() == (
        "mdes.cra3(power=0.8, alpha=0.05, two.tailed=TRUE, rho2=0.06, rho3=0.18, p=0.4, g3=1, "
        "r21=0.55, r22=0.5, r23=0.45, n=10, J=2, K=83)"
    )


@pytest.mark.reference
def test_cra3_vignette_power_at_023():
    r = P.power_three_level(effect=0.23, **VIGNETTE)
    assert r.power == pytest.approx(0.8, abs=PRINTED)  # printed 0.8 (round(., 3) = 0.800)
    assert r.df == 80  # printed 80, exact
    assert r.se == pytest.approx(0.081, abs=PRINTED)  # printed 0.081


@pytest.mark.reference
def test_cra3_man_page_example():
    r = P.mde_three_level(**CRA3_MAN)
    assert r.value == pytest.approx(0.269, abs=PRINTED)  # published .269
    assert r.df == 60 - 0 - 2
    # The man page passes .269 back to power.cra3: the power there is the target, 0.80.
    back = P.power_three_level(effect=0.269, **CRA3_MAN)
    assert back.power == pytest.approx(0.80, abs=0.005)  # 2-decimal target


@pytest.mark.reference
def test_bcra3r2_man_page_example():
    r = P.mde_three_level(**BCRA3R2_MAN)
    assert r.value == pytest.approx(0.246, abs=PRINTED)  # published .246
    assert r.df == 24 - 0 - 1
    back = P.power_three_level(effect=0.246, **BCRA3R2_MAN)
    assert back.power == pytest.approx(0.80, abs=0.005)  # 2-decimal target


@pytest.mark.reference
@pytest.mark.parametrize(
    ("change", "published"),
    [
        # Each wrong option moves the MDES by more than the tolerance.
        (dict(r2_school=0.0), 0.23),  # school-level R² ignored
        (dict(r2_pupil=0.0, r2_class=0.0), 0.23),  # pupil/class R² ignored
        (dict(treated_share=0.5), 0.23),  # p = .5 instead of .4
        (dict(icc_class=0.18, icc_school=0.06), 0.23),  # ICCs swapped between levels
    ],
)
def test_wrong_options_move_the_answer(change, published):
    r = P.mde_three_level(power=0.80, **{**VIGNETTE, **change})
    assert abs(r.value - published) > PRINTED, (change, r.value)


@pytest.mark.reference
def test_school_covariate_is_counted_in_the_df():
    # g3 = 1 costs one degree of freedom: without it df is 81, not the printed 80 (the MDES
    # moves by only 2e-4 here, within the printed precision, so the df is the check).
    r = P.mde_three_level(power=0.80, **{**VIGNETTE, "n_school_covariates": 0})
    assert r.df == 81
    assert r.value < P.mde_three_level(power=0.80, **VIGNETTE).value


@pytest.mark.reference
def test_wrong_design_moves_the_answer():
    # The man/bcra3r2 inputs read as a whole-school randomisation (omega3 dropped), or with a
    # different effect heterogeneity, do not give the published .246.
    as_cra3 = {k: v for k, v in BCRA3R2_MAN.items() if k != "effect_heterogeneity"}
    assert abs(P.mde_three_level(**{**as_cra3, "design": "cra3"}).value - 0.246) > PRINTED
    heterog = P.mde_three_level(**{**BCRA3R2_MAN, "effect_heterogeneity": 0.8}).value
    assert abs(heterog - 0.246) > PRINTED
