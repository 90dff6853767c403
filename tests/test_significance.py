"""The one significance rule (config/analysis_plan.yaml): levels, undefined statistics, words."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import significance as sig


def test_distinguishable_only_when_the_checks_that_ran_agree():
    both = sig.classify(
        ci_low=0.1, ci_high=0.5, wild_cluster_bootstrap=0.01, randomization_inference=0.02
    )
    assert both.level == "distinguishable" and both.distinguishable
    one_fails = sig.classify(
        ci_low=0.1, ci_high=0.5, wild_cluster_bootstrap=0.2, randomization_inference=0.01
    )
    assert one_fails.level == "borderline" and one_fails.failing == ("wild_cluster_bootstrap",)
    assert not one_fails.distinguishable
    none_ran = sig.classify(ci_low=-0.5, ci_high=-0.1)
    assert none_ran.level == "distinguishable"
    assert sig.classify(ci_low=-0.1, ci_high=0.5, wild_cluster_bootstrap=0.001).level == (
        "not distinguishable"
    )


@pytest.mark.parametrize("nan", [float("nan"), np.float32("nan"), np.float64("nan")])
def test_nan_in_any_numeric_type(nan):
    assert sig.classify(ci_low=nan, ci_high=1.0).level == "undefined"
    undefined_check = sig.classify(ci_low=0.1, ci_high=0.5, randomization_inference=nan)
    assert undefined_check.level == "borderline"  # an undefined check cannot agree
    assert sig.classify(p_value=nan).level == "undefined"


def test_infinite_bounds_are_undefined_and_bad_intervals_refused():
    assert sig.classify(ci_low=-math.inf, ci_high=1.0).level == "undefined"
    with pytest.raises(ValueError, match="inverted"):
        sig.classify(ci_low=1.0, ci_high=0.5)
    with pytest.raises(ValueError, match="both ends"):
        sig.classify(ci_low=0.1)
    with pytest.raises(ValueError, match="needs the primary"):
        sig.classify()
    with pytest.raises(ValueError, match="alpha"):
        sig.classify(ci_low=0.1, ci_high=0.2, alpha=0.7)


def test_words_say_which_check_failed_in_both_languages():
    s = sig.classify(
        ci_low=0.1, ci_high=0.5, wild_cluster_bootstrap=0.2, randomization_inference=0.01
    )
    en, it = s.words().render("en"), s.words().render("it")
    assert "borderline" in en and "wild cluster bootstrap" in en and "0.05" in en
    assert "al limite" in it and "wild cluster bootstrap" in it and "0,05" in it
    assert "not statistically distinguishable" in sig.classify(ci_low=-1, ci_high=1).words().render(
        "en"
    )
    record = s.to_dict()
    assert record["level"] == "borderline" and record["checks"]["randomization_inference"] == 0.01


def test_the_plan_is_validated(tmp_path):
    from analysis.errors import DataValidationError

    bad = tmp_path / "plan.yaml"
    bad.write_text("significance:\n  alpha: 0.9\n")
    with pytest.raises(DataValidationError, match="alpha"):
        sig.analysis_plan(str(bad))
    bad.write_text("significance:\n  alpha: 0.05\n  few_cluster_checks: [jackknife]\n")
    with pytest.raises(DataValidationError, match="unknown check"):
        sig.analysis_plan(str(bad))
    assert sig.headline_design("absence_rate")["covariates"] == []
    with pytest.raises(KeyError, match="no headline design"):
        sig.headline_design("shoe_size")


# --------------------------------------------------------------------------------------------
# One treated unit: classify_placebo
# --------------------------------------------------------------------------------------------
def _placebo(**kw):
    base = {
        "att": -2.0,
        "ci_low": -3.0,
        "ci_high": -1.0,
        "rank": 1,
        "n_units": 40,
        "pre_rmspe": 0.5,
        "alpha": 0.05,
    }
    return sig.classify_placebo(**{**base, **kw})


def test_placebo_distinguishable_needs_the_interval_and_a_defined_p():
    ev = sig.classify_placebo(
        att=-2.0, ci_low=-3.0, ci_high=-1.0, rank=1, n_units=40, pre_rmspe=0.5, alpha=0.05
    )
    assert ev.level == "distinguishable" and ev.distinguishable
    assert ev.p_permutation == pytest.approx(0.025) and ev.undefined_because is None
    assert ev.interval_includes_zero is False
    assert _placebo(ci_high=0.5).level == "not distinguishable"
    assert _placebo(ci_high=0.5).interval_includes_zero is True
    assert _placebo(ci_low=math.nan).level == "undefined"
    assert _placebo(ci_high=math.inf).interval_includes_zero is None


def test_placebo_borderline_when_the_interval_excludes_zero_but_p_is_above_alpha():
    ev = _placebo(rank=4)  # p = 4 / 40 = 0.1 > 0.05
    assert ev.level == "borderline" and not ev.distinguishable
    assert ev.p_permutation == pytest.approx(0.1) and ev.undefined_because is None
    assert _placebo(rank=2).level == "distinguishable"  # p = 0.05: at most alpha


@pytest.mark.parametrize(
    "kw",
    [
        {"pre_rmspe": 0.0},
        {"pre_rmspe": 5e-7},  # below 1e-6 * max(scale, 1)
        {"pre_rmspe": 0.5, "treated_ratio": math.inf},
        {"pre_rmspe": 0.5, "treated_ratio": 1e9},  # above RATIO_INFINITE
        {"pre_rmspe": math.nan},
    ],
)
def test_placebo_p_undefined_when_the_pre_fit_is_exact(kw):
    ev = _placebo(**kw)
    assert ev.undefined_because == "exact_fit" and ev.p_permutation is None
    assert ev.level == "borderline"  # the interval excludes zero, the test cannot confirm it
    assert ev.to_dict()["p_permutation"] is None
    assert ev.to_dict()["p_permutation_defined"] is False


def test_exact_fit_tolerance_scales_with_the_pre_period_values():
    assert sig.is_exact_fit(5e-6, pre_scale=10.0)  # 5e-6 < 1e-6 * 10
    assert not sig.is_exact_fit(5e-6, pre_scale=1.0)
    assert not sig.is_exact_fit(5e-6, pre_scale=0.1)  # the scale is at least 1
    assert _placebo(pre_rmspe=0.5, treated_ratio=40.0).undefined_because is None


def test_placebo_p_undefined_with_too_few_placebos():
    ev = _placebo(n_units=16)  # the smallest p, 1/16, is above 0.05
    assert ev.undefined_because == "too_few_placebos" and ev.p_permutation is None
    assert ev.level == "borderline"
    assert ev.p_rank == pytest.approx(1 / 16) and ev.smallest_p == pytest.approx(1 / 16)
    assert _placebo(n_units=20).undefined_because is None  # 1/20 = alpha is attainable
    assert _placebo(n_units=16, ci_high=1.0).level == "not distinguishable"


def test_placebo_rule_refuses_bad_input():
    with pytest.raises(ValueError, match="alpha"):
        _placebo(alpha=0.7)
    with pytest.raises(ValueError, match="rank"):
        _placebo(rank=41)
    with pytest.raises(ValueError, match="rank"):
        _placebo(rank=0)
    with pytest.raises(ValueError, match="inverted"):
        _placebo(ci_low=1.0, ci_high=-1.0)


def test_placebo_words_in_both_languages():
    from analysis.i18n import has_translation

    cases = {
        "distinguishable": _placebo(),
        "borderline": _placebo(rank=4),
        "not distinguishable": _placebo(ci_high=0.5),
        "undefined": _placebo(ci_low=math.nan),
    }
    en = {k: ev.words().render("en") for k, ev in cases.items()}
    assert en["distinguishable"].startswith("It is statistically distinguishable from zero")
    assert "95%" in en["distinguishable"] and "0.05" in en["distinguishable"]
    assert en["borderline"].startswith("It is borderline")
    assert en["not distinguishable"].startswith("It is not statistically distinguishable")
    assert "cannot be said" in en["undefined"]
    it = {k: ev.words().render("it") for k, ev in cases.items()}
    for k in cases:
        assert has_translation(cases[k].words().msgid, "it"), k
        assert it[k] != en[k], k
    assert "0,05" in it["distinguishable"]
    perm = {
        "defined": _placebo(n_units=50),
        "exact": _placebo(pre_rmspe=0.0),
        "few": _placebo(n_units=16),
    }
    for k, ev in perm.items():
        for msg in (ev.permutation_words(), ev.permutation_short()):
            assert has_translation(msg.msgid, "it"), k
            assert msg.render("it") != msg.render("en"), k
    assert "permutation p = 0.02" in perm["defined"].permutation_words().render("en")
    assert "rank 1 of 50" in perm["defined"].permutation_short().render("en")
    assert "16 units" in perm["few"].permutation_words().render("en")
    assert "exact" in perm["exact"].permutation_short().render("en")
