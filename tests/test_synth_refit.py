"""The synthetic-control re-fit on arrays against diff-diff's own fit, to the last bit.

:func:`analysis.synth.synthetic_control.sc_point` (``SCSpec.refit``, used by the placebo and
leave-one-out loops) replicates ``diff_diff.SyntheticControl.fit`` without its DataFrame
steps; :meth:`SCSpec.fit` is the library's fit.  Every case here compares the two on the same
panel: ATT, donor weights, counterfactual path and the estimator details (``V``, predictor
balance, cross-validation) byte for byte, and the warnings and failures recorded for a
placebo (``status`` and ``warnings`` columns) string for string.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis import paths
from analysis.synth import placebo, synthetic_control
from analysis.synth._fit import PointFit
from analysis.synth._panel import PanelData
from analysis.synth.simulate import simulate_panel
from analysis.synth.synthetic_control import SCSpec, sc_point

PROP99 = dict(outcome="packs", unit="state", time="year", treated_unit="California", start=1989)


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    wide = pd.read_csv(paths.REFERENCE_DIR / "california_prop99.csv")
    long = wide.melt(id_vars="Year", var_name="state", value_name="packs")
    return long.rename(columns={"Year": "year"})


def _capture(fn: Any, panel: PanelData) -> tuple[PointFit | None, str, str]:
    """What :func:`analysis.synth.placebo._refit` records, for ``fn`` instead of ``refit``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit, status = fn(panel), "ok"
        except placebo._FAIL as exc:
            fit, status = None, f"failed: {type(exc).__name__}: {exc}"
    return fit, status, " | ".join(dict.fromkeys(str(w.message) for w in caught))


def _bits(a: Any) -> bytes:
    return np.ascontiguousarray(np.asarray(a, dtype=float)).tobytes()


def assert_same(spec: SCSpec, panel: PanelData) -> tuple[PointFit | None, str, str]:
    """``spec.refit`` and ``spec.fit`` on ``panel``: identical to the last bit."""
    lib, lib_status, lib_warned = _capture(spec.fit, panel)
    arr, arr_status, arr_warned = _capture(spec.refit, panel)
    assert arr_status == lib_status
    assert arr_warned == lib_warned
    if lib is None:
        assert arr is None
        return lib, lib_status, lib_warned
    assert arr is not None
    assert _bits(arr.att) == _bits(lib.att), (arr.att, lib.att)
    assert _bits(arr.weights) == _bits(lib.weights)
    assert _bits(arr.counterfactual) == _bits(lib.counterfactual)
    assert arr.time_weights is None and lib.time_weights is None
    assert arr.se is None and lib.se is None
    assert arr.extra == lib.extra  # floats compared with ==: equal values, NaN-free
    return lib, lib_status, lib_warned


def _spec(res: Any) -> SCSpec:
    return res._spec


def _panels(res: Any, n: int | None = None) -> list[PanelData]:
    """The main panel, then in-space placebo panels and leave-one-out panels (``n`` each)."""
    p: PanelData = res._panel
    donors = list(p.donors)[:n]
    return [p, *(p.as_treated(d) for d in donors), *(p.without_donor(d) for d in donors)]


# --------------------------------------------------------------------------- Proposition 99
def test_prop99_outcome_only_every_placebo_and_leave_one_out_panel(prop99):
    res = synthetic_control(prop99, **PROP99)
    assert res.att == pytest.approx(-19.51, abs=0.01)
    panels = _panels(res)
    assert len(panels) == 1 + 2 * 38
    warned = 0
    for panel in panels:
        _, status, w = assert_same(_spec(res), panel)
        assert status == "ok"
        warned += bool(w)
    assert warned > 0  # some placebo states are fitted poorly: the warning is compared too


def test_prop99_outcome_lags_out_of_order(prop99):
    """``pre_periods`` given unsorted: diff-diff sorts the lag rows; the re-fit must too."""
    res = synthetic_control(prop99, **PROP99, pre_periods=[1988, 1975, 1980, 1970, 1985])
    for panel in _panels(res, 5):
        assert_same(_spec(res), panel)


@pytest.mark.parametrize(
    "options",
    [
        dict(special_predictors=[("packs", 1975), ("packs", 1980), ("packs", 1988)]),
        dict(
            special_predictors=[("packs", range(1970, 1980)), ("packs", 1988)],
            v_method="inverse_variance",
        ),
        dict(special_predictors=[("packs", 1975), ("packs", 1988)], v=[0.3, 0.7]),
        dict(
            special_predictors=[("packs", range(1970, 1980)), ("packs", range(1980, 1989))],
            training=range(1970, 1980),
            validation=range(1980, 1989),
            training_special_predictors=[("packs", range(1970, 1975)), ("packs", 1976)],
        ),
    ],
    ids=["nested", "inverse_variance", "custom", "cv"],
)
def test_prop99_with_predictors(prop99, options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = synthetic_control(prop99, **PROP99, **options)
    for panel in _panels(res, 1):
        assert_same(_spec(res), panel)


# --------------------------------------------------------------------------- simulated panels
def _simulated(seed: int, *, n_donors: int = 12, shuffle: bool = True, int_units: bool = False):
    sp = simulate_panel(n_donors=n_donors, n_pre=8, n_post=4, seed=seed)
    df = sp.data.copy()
    rng = np.random.default_rng(seed)
    # covariates: one smooth, one with gaps (window means skip them), one constant in a year
    df["x1"] = df["y0"] * 0.5 + rng.normal(size=len(df))
    df["x2"] = rng.normal(size=len(df))
    df.loc[rng.random(len(df)) < 0.1, "x2"] = np.nan
    df.loc[df["unit"] == sp.treated_unit, "x2"] = 1.0  # observed every year
    treated = "donor_05b"  # sorts among the donors (first or last changes pandas' layout)
    df["unit"] = df["unit"].replace({sp.treated_unit: treated})
    if int_units:
        codes = {u: 100 - i for i, u in enumerate(pd.unique(df["unit"]))}
        df["unit"] = df["unit"].map(codes)
        treated = codes[treated]
    if shuffle:  # units in the data in an order that is not the sorted one
        df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    kw = dict(outcome="y", unit="unit", time="time", treated_unit=treated, start=sp.start)
    return df, kw


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("int_units", [False, True], ids=["str_units", "int_units"])
def test_simulated_outcome_only(seed, int_units):
    df, kw = _simulated(seed, int_units=int_units)
    res = synthetic_control(df, **kw)
    assert list(res._panel.donors) != sorted(res._panel.donors)  # the order matters
    for panel in _panels(res):
        assert_same(_spec(res), panel)


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize(
    "options",
    [
        dict(predictors=["x1", "x2"], v_method="inverse_variance"),
        dict(
            predictors=["x1"],
            special_predictors=[("y", 2006)],
            pre_periods=[2010, 2008],
            v=[1.0, 1.0, 2.0, 0.5],
        ),
        dict(predictors=["x1", "x2"], v={"x1": 1.0, "x2": 2.0}),
        dict(predictors=["x1", "x2"], v_method="nested"),
        dict(
            predictors=["x1"],
            special_predictors=[("y", range(2004, 2012))],
            training_special_predictors=[("y", range(2004, 2008))],
            training=range(2004, 2008),
            validation=range(2008, 2012),
        ),
    ],
    ids=["inverse_variance", "lags", "custom", "nested", "cv"],
)
def test_simulated_with_predictors(seed, options):
    df, kw = _simulated(seed, n_donors=6, int_units=bool(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = synthetic_control(df, **kw, **options)
    for panel in _panels(res, 3):
        assert_same(_spec(res), panel)


# --------------------------------------------------------------------------- warnings, failures
def test_poor_fit_warning_recorded_the_same():
    df, kw = _simulated(3, shuffle=False)
    df.loc[df["unit"] == kw["treated_unit"], "y"] += np.linspace(0, 30, 12).repeat(1)[
        df.loc[df["unit"] == kw["treated_unit"], "time"].to_numpy() - 2004
    ]
    with pytest.warns(UserWarning, match="Pre-treatment fit is poor"):
        res = synthetic_control(df, **kw)
    _, status, warned = assert_same(_spec(res), res._panel)
    assert status == "ok" and "Pre-treatment fit is poor" in warned


def test_single_donor_warning_recorded_the_same():
    df, kw = _simulated(4, n_donors=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = synthetic_control(df, **kw, predictors=["x1"], v_method="nested")
    panel = res._panel.without_donor(res._panel.donors[0])
    _, status, warned = assert_same(_spec(res), panel)
    assert status == "ok" and "Only one donor unit is available" in warned
    out = synthetic_control(df, **kw)  # outcome only, one donor: no warning, w = 1
    fit, status, _ = assert_same(_spec(out), out._panel.without_donor(out._panel.donors[0]))
    assert status == "ok" and fit is not None and list(fit.weights) == [1.0]


def test_zero_variance_predictor_and_one_period_validation_warnings():
    df, kw = _simulated(5, n_donors=6)
    df["flat"] = 2.0
    with pytest.warns(UserWarning, match="zero variance"):
        res = synthetic_control(df, **kw, predictors=["x1", "flat"], v_method="nested")
    _, status, warned = assert_same(_spec(res), res._panel)
    assert status == "ok" and "zero variance" in warned
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cv = synthetic_control(
            df,
            **kw,
            special_predictors=[("x1", range(2004, 2012))],
            training_special_predictors=[("x1", range(2004, 2011))],
            training=range(2004, 2011),
            validation=[2011],
        )
    _, status, warned = assert_same(_spec(cv), cv._panel)
    assert status == "ok" and "Only one pre-treatment period" in warned


def test_library_failures_recorded_the_same():
    df, kw = _simulated(6)
    res = synthetic_control(df, **kw)
    panel: PanelData = res._panel
    y0 = panel.y_donors.copy()
    y0[2, 1] = np.nan  # not possible from build_panel; the library refuses it
    _, status, _ = assert_same(_spec(res), replace(panel, y_donors=y0))
    assert status.startswith("failed: ValueError") and "non-finite" in status
    twice = replace(_spec(res), pre_periods=(2005, 2005, 2007))  # repeated lag
    _, status, _ = assert_same(twice, panel)
    assert status.startswith("failed: ValueError") and "custom_v" in status


# --------------------------------------------------------------------------- the loops
def test_placebo_and_leave_one_out_tables_as_with_the_library(prop99, monkeypatch):
    """The placebo and leave-one-out tables with the re-fit equal those with diff-diff's fit."""
    fast = synthetic_control(prop99, **PROP99)
    p_fast, l_fast = fast.placebo_in_space(n_jobs=1), fast.leave_one_out(n_jobs=1)
    monkeypatch.setattr(SCSpec, "refit", SCSpec.fit)
    slow = synthetic_control(prop99, **PROP99)
    p_slow, l_slow = slow.placebo_in_space(n_jobs=1), slow.leave_one_out(n_jobs=1)
    pd.testing.assert_frame_equal(p_fast.table, p_slow.table, check_exact=True)
    pd.testing.assert_frame_equal(p_fast.gaps, p_slow.gaps, check_exact=True)
    pd.testing.assert_frame_equal(l_fast.table, l_slow.table, check_exact=True)
    pd.testing.assert_frame_equal(l_fast.paths, l_slow.paths, check_exact=True)
    assert fast.se == slow.se


def test_refit_is_the_array_path(prop99, monkeypatch):
    """``SCSpec.refit`` is :func:`sc_point`, which does not call diff-diff's ``fit``."""
    import diff_diff

    res = synthetic_control(prop99, **PROP99)

    def refuse(*a: Any, **k: Any) -> None:
        raise AssertionError("SyntheticControl.fit called by the re-fit")

    monkeypatch.setattr(diff_diff.SyntheticControl, "fit", refuse)
    fit = sc_point(res._panel, _spec(res))
    assert fit.att == res.att


def test_cheap_loops_stay_in_process_unless_n_jobs_is_given(prop99, monkeypatch):
    """Re-fits of milliseconds: no worker pool by default (ANALYSIS_JOBS=2), same tables."""
    from analysis import replicate

    monkeypatch.setenv("ANALYSIS_JOBS", "2")
    calls: list[tuple[int | None, int]] = []
    real = replicate.run_tasks

    def spy(func: Any, items: Any, **k: Any) -> Any:
        calls.append((k.get("n_jobs"), len(items)))
        return real(func, items, **{**k, "n_jobs": 1})

    monkeypatch.setattr(placebo, "run_tasks", spy)
    monkeypatch.setattr(placebo, "SERIAL_BELOW", 1e9)  # a quick loop, however busy the machine
    res = synthetic_control(prop99, **PROP99)
    default = res.placebo_in_space(), res.leave_one_out()
    assert calls == []
    again = synthetic_control(prop99, **PROP99)
    explicit = again.placebo_in_space(n_jobs=2), again.leave_one_out(n_jobs=2)
    assert calls == [(2, 38), (2, len(explicit[1].table))]
    pd.testing.assert_frame_equal(default[0].table, explicit[0].table, check_exact=True)
    pd.testing.assert_frame_equal(default[1].table, explicit[1].table, check_exact=True)
    calls.clear()
    monkeypatch.setattr(placebo, "SERIAL_BELOW", 0.0)  # a slow loop: the rest go to workers
    slow = synthetic_control(prop99, **PROP99)
    pd.testing.assert_frame_equal(slow.placebo_in_space().table, default[0].table, check_exact=True)
    assert calls == [(None, 37)]
