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
