"""Bad input raises ``DataValidationError`` naming the problem; missing values are never dropped
silently (donors with gaps are excluded with a recorded reason, treated-unit gaps remove the
period with a recorded reason)."""

import numpy as np
import pandas as pd
import pytest

from analysis import synth
from analysis.errors import DataValidationError
from analysis.synth.simulate import simulate_panel

ESTIMATORS = [synth.synthetic_control, synth.synthetic_did, synth.panel_did]
IDS = ["sc", "sdid", "did"]


@pytest.fixture(scope="module")
def sp():
    return simulate_panel(n_donors=8, n_pre=6, n_post=4, seed=5)


def kw(sp, **over):
    base = dict(
        outcome="y",
        unit="unit",
        time="time",
        treated_unit="treated",
        start=sp.start,
        replications=10,
    )
    base.update(over)
    return base


def _raises(f, df, match, **kwargs):
    with pytest.raises(DataValidationError, match=match) as info:
        f(df, **kwargs)
    assert "DataFrame argument" in str(info.value)
    return info.value


@pytest.mark.parametrize("f", ESTIMATORS, ids=IDS)
def test_treated_unit_absent(f, sp):
    err = _raises(
        f, sp.data, "treated unit 'Atlantis' not found", **kw(sp, treated_unit="Atlantis")
    )
    assert err.violations[0].column == "unit"


@pytest.mark.parametrize("f", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("start", [2004, 1990, 2015, 2100])
def test_start_outside_data(f, sp, start):
    # periods run 2004-2013: 2004 leaves no pre-period, 2015 no post-period
    _raises(f, sp.data, "outside the data", **kw(sp, start=start))


@pytest.mark.parametrize("f", ESTIMATORS, ids=IDS)
def test_fewer_than_two_pre_periods(f, sp):
    _raises(f, sp.data, "fewer than 2 pre-periods", **kw(sp, start=2005))


@pytest.mark.parametrize("f", ESTIMATORS, ids=IDS)
def test_duplicated_unit_time_rows(f, sp):
    df = pd.concat([sp.data, sp.data.iloc[[3]]], ignore_index=True)
    err = _raises(f, df, "duplicated unit-time rows", **kw(sp))
    assert list(err.violations[0].rows) == [3, len(df) - 1]


@pytest.mark.parametrize("f", ESTIMATORS, ids=IDS)
def test_non_numeric_outcome(f, sp):
    df = sp.data.copy()
    df["y"] = df["y"].astype(object)
    df.loc[7, "y"] = "n/a"
    err = _raises(f, df, "must be numeric", **kw(sp))
    assert err.violations[0].column == "y" and list(err.violations[0].rows) == [7]


def test_infinite_outcome(sp):
    df = sp.data.copy()
    df.loc[2, "y"] = np.inf
    _raises(synth.synthetic_did, df, "must be finite", **kw(sp))


def test_missing_column_and_identifiers(sp):
    _raises(
        synth.panel_did,
        sp.data,
        r"required column\(s\) \['packs'\] not found",
        **kw(sp, outcome="packs"),
    )
    df = sp.data.copy()
    df.loc[4, "time"] = np.nan
    _raises(synth.panel_did, df, "identifier must not be missing", **kw(sp))
    with pytest.raises(DataValidationError, match="expected a pandas DataFrame"):
        synth.panel_did(sp.data.to_numpy(), **kw(sp))


@pytest.mark.parametrize("f", ESTIMATORS, ids=IDS)
def test_no_donors_left(f, sp):
    df = sp.data.copy()
    donors = df["unit"] != "treated"
    df.loc[donors & (df["time"] == 2005), "y"] = np.nan  # every donor misses one pre-year
    _raises(f, df, "no donors left", **kw(sp))
    _raises(f, sp.data, "no donor units", **kw(sp, donors=[]))


def test_bad_donor_list(sp):
    _raises(
        synth.synthetic_control,
        sp.data,
        r"donor\(s\) \['Atlantis'\] not found",
        **kw(sp, donors=["donor_01", "Atlantis"]),
    )
    _raises(
        synth.synthetic_control,
        sp.data,
        "treated unit 'treated' is in the donor list",
        **kw(sp, donors=["donor_01", "treated"]),
    )


@pytest.mark.parametrize("f", ESTIMATORS, ids=IDS)
def test_donor_list_records_left_out_units(f, sp):
    res = f(sp.data, **kw(sp, donors=["donor_01", "donor_02", "donor_03"]))
    assert res.donors == ("donor_01", "donor_02", "donor_03")
    ex = res.excluded
    assert set(ex["unit"]) == {f"donor_{j:02d}" for j in range(4, 9)}
    assert (ex["reason"] == "not in the donor list supplied").all()


@pytest.mark.parametrize("f", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("year, phase", [(2006, "pre"), (2012, "post")])
def test_donor_with_missing_value_is_excluded_with_reason(f, sp, year, phase):
    nan_row = sp.data.index[(sp.data["unit"] == "donor_03") & (sp.data["time"] == year)]
    df_nan = sp.data.copy()
    df_nan.loc[nan_row, "y"] = np.nan
    df_absent = sp.data.drop(index=nan_row)  # the row is missing altogether
    full = f(sp.data.query("unit != 'donor_03'"), **kw(sp))
    for df in (df_nan, df_absent):
        res = f(df, **kw(sp))
        assert "donor_03" not in res.donors and len(res.donors) == 7
        ex = res.excluded
        assert ex["unit"].tolist() == ["donor_03"] and ex["level"].tolist() == ["unit"]
        assert f"missing 'y' in {phase}-period(s) {year}" in ex["reason"].iloc[0]
        assert res.att == pytest.approx(full.att, abs=1e-9)


@pytest.mark.parametrize("f", ESTIMATORS, ids=IDS)
def test_treated_missing_pre_year_drops_the_period(f, sp):
    df = sp.data.copy()
    df.loc[(df["unit"] == "treated") & (df["time"] == 2006), "y"] = np.nan
    res = f(df, **kw(sp))
    assert (res.n_pre, res.n_post, len(res.donors)) == (5, 4, 8)
    ex = res.excluded
    assert ex["level"].tolist() == ["period"] and ex["time"].tolist() == [2006]
    assert "pre-period" in ex["reason"].iloc[0]
    assert 2006 not in set(res.effects["time"])
    same = f(sp.data.query("time != 2006"), **kw(sp))
    assert res.att == pytest.approx(same.att, abs=1e-9)


def test_treated_missing_post_year_is_recorded(sp):
    df = sp.data.copy()
    df.loc[(df["unit"] == "treated") & (df["time"] == 2012), "y"] = np.nan
    res = synth.panel_did(df, **kw(sp))
    assert res.n_post == 3
    assert "post-period" in res.excluded["reason"].iloc[0]


@pytest.mark.parametrize("f", ESTIMATORS, ids=IDS)
def test_treated_missing_leaves_one_pre_year(f, sp):
    df = sp.data.copy()
    gone = (df["unit"] == "treated") & df["time"].isin([2004, 2005, 2006, 2007, 2008])
    df.loc[gone, "y"] = np.nan
    _raises(f, df, "fewer than 2 pre-periods", **kw(sp))


def test_inference_arguments_are_checked(sp):
    res = synth.panel_did(sp.data, **kw(sp))
    with pytest.raises(DataValidationError, match="at least 2 are needed"):
        res.placebo_in_time(2005)
    with pytest.raises(DataValidationError, match="inside the real pre-period"):
        res.placebo_in_time(2011)
    with pytest.raises(ValueError, match="max_pre_rmspe_ratio must be positive"):
        res.placebo_in_space(max_pre_rmspe_ratio=0)
    with pytest.raises(DataValidationError, match="pre_periods must be periods"):
        synth.synthetic_control(sp.data, **kw(sp), pre_periods=[2004, 2012])
    with pytest.raises(ValueError, match="v_method"):
        synth.synthetic_control(sp.data, **kw(sp), v_method="magic")


def test_one_donor_placebo_failures_are_recorded(sp):
    with pytest.warns(UserWarning, match="fit is poor"):  # library warnings reach the user
        res = synth.synthetic_control(sp.data, **kw(sp, donors=["donor_01"]))
    p = res.placebo_in_space()
    row = p.table.set_index("unit").loc["donor_01"]
    assert not row["kept"] and row["status"].startswith("failed")
    assert np.isnan(res.se)


@pytest.mark.parametrize("f", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("bad", [{"replications": 1}, {"seed": 1.5}, {"level": 1.2}])
def test_inference_options_are_checked(f, sp, bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        f(sp.data, **kw(sp, **bad))


# ------------------------------------------- synthetic control: predictors and the choice of V
@pytest.fixture(scope="module")
def spx(sp):
    """``sp`` with a predictor ``x`` (unit level + noise) and ``z`` observed every other year."""
    d = sp.data.copy()
    rng = np.random.default_rng(3)
    d["x"] = d.groupby("unit")["y0"].transform("mean") + rng.normal(scale=0.1, size=len(d))
    d["z"] = np.where(d["time"] % 2 == 0, d["x"] * 0.5, np.nan)
    return d


def sc_kw(sp, **over):
    return kw(sp, **{"predictors": ["x"], **over})


@pytest.mark.parametrize(
    "options, match",
    [
        ({"v": [1.0], "v_method": "nested"}, "goes with v_method='custom'"),
        ({"v_method": "custom"}, "goes with v_method='custom'"),
        ({"v_method": "cv", "training": [2004, 2005]}, "needs both training= and validation="),
        ({"v_method": "nested", "training": [2004], "validation": [2005]}, "apply only to"),
        ({"training_special_predictors": [("z", [2004])]}, "apply only to"),
        ({"v": [1.0, 2.0]}, "v has 2 entries but there are 1 predictor rows"),
        ({"v": [-1.0]}, "non-negative"),
        ({"v": {"nope": 1.0}}, "the keys must be the predictor rows"),
        ({"special_predictors": "z"}, "list of \\(column, periods\\) pairs"),
        ({"special_predictors": [("z", [2004], "mean")]}, "must be a \\(column, periods\\) pair"),
        ({"special_predictors": [("z", [2004]), ("z", 2004)]}, "is given twice"),
        ({"predictors": "x"}, "must be a list of column names"),
        (
            {"pre_periods": [2009], "training": [2004, 2005], "validation": [2008, 2009]},
            "cannot be combined with v_method='cv'",
        ),
        (
            {
                "special_predictors": [("z", [2004])],
                "training": [2004, 2005],
                "validation": [2008, 2009],
                "training_special_predictors": [],
            },
            "pair one-to-one",
        ),
    ],
)
def test_predictor_options_are_checked(spx, sp, options, match):
    with pytest.raises(ValueError, match=match):
        synth.synthetic_control(spx, **sc_kw(sp, **options))


@pytest.mark.parametrize(
    "options",
    [{"v_method": "nested"}, {"v": [1.0]}, {"predictor_window": [2004]}, {"validation": [2005]}],
)
def test_v_options_need_predictors(spx, sp, options):
    with pytest.raises(ValueError, match="apply only with predictors"):
        synth.synthetic_control(spx, **kw(sp, **options))


@pytest.mark.parametrize(
    "options, match",
    [
        ({"predictor_window": [2009, 2010]}, "predictor_window must be periods of the data"),
        ({"special_predictors": [("z", 2012)]}, "special predictor 'z' must be periods"),
        ({"training": [2004, 2005], "validation": [2005, 2006]}, "must not share periods"),
        (
            {
                "special_predictors": [("z", [2006, 2008])],
                "training": [2004, 2005],
                "validation": [2008, 2009],
            },
            "training special predictor 'z' and validation must not share",
        ),
    ],
)
def test_predictor_windows_are_checked(spx, sp, options, match):
    err = _raises(synth.synthetic_control, spx, match, **sc_kw(sp, **options))
    assert err.violations[0].column == "time"


def test_predictor_missing_in_some_years_is_a_window_mean(spx, sp):
    # z is observed in even years only: its 2004-2009 mean is the mean of 2004, 2006, 2008
    opts = dict(v_method="inverse_variance")
    gappy = synth.synthetic_control(
        spx, **kw(sp, special_predictors=[("z", range(2004, 2010))], **opts)
    )
    even = synth.synthetic_control(
        spx, **kw(sp, special_predictors=[("z", [2004, 2006, 2008])], **opts)
    )
    assert gappy.excluded.empty and len(gappy.donors) == 8
    np.testing.assert_allclose(gappy.weights, even.weights, atol=1e-12)
    bal = gappy.predictor_balance.set_index("predictor")
    treated = spx[(spx["unit"] == "treated") & spx["time"].isin([2004, 2006, 2008])]["z"].mean()
    assert bal.loc["z[2004-2009]", "treated"] == pytest.approx(treated)
    # the treated unit missing one of the years: the mean of its other years
    d = spx.copy()
    d.loc[(d["unit"] == "treated") & (d["time"] == 2004), "z"] = np.nan
    one = synth.synthetic_control(
        d, **kw(sp, special_predictors=[("z", range(2004, 2010))], **opts)
    )
    bal = one.predictor_balance.set_index("predictor")
    treated = spx[(spx["unit"] == "treated") & spx["time"].isin([2006, 2008])]["z"].mean()
    assert bal.loc["z[2004-2009]", "treated"] == pytest.approx(treated)


def test_predictor_never_observed_in_its_window(spx, sp):
    opts = dict(special_predictors=[("z", [2005, 2007])], v_method="inverse_variance")
    err = _raises(
        synth.synthetic_control, spx, "not observed for the treated unit", **kw(sp, **opts)
    )
    assert err.violations[0].column == "z"
    # a donor without any observed value in the window is excluded with the reason
    d = spx.copy()
    d.loc[(d["unit"] == "donor_02"), "z"] = np.nan
    opts = dict(special_predictors=[("z", range(2004, 2010))], v_method="inverse_variance")
    res = synth.synthetic_control(d, **kw(sp, **opts))
    assert "donor_02" not in res.donors
    ex = res.excluded
    assert ex["unit"].tolist() == ["donor_02"]
    assert (
        "predictor 'z' not observed in any period of its window 2004-2009" in ex["reason"].iloc[0]
    )
    alone = synth.synthetic_control(d[d["unit"] != "donor_02"], **kw(sp, **opts))
    assert res.att == pytest.approx(alone.att, abs=1e-10)


def test_custom_v_is_used_and_reported(spx, sp):
    opts = dict(special_predictors=[("y", range(2004, 2010)), ("z", [2004, 2006])])
    a = synth.synthetic_control(spx, **sc_kw(sp, v=[1, 0, 0], **opts))
    b = synth.synthetic_control(spx, **sc_kw(sp, v=[0, 1, 1], **opts))
    assert a._spec.v_method == "custom"
    assert list(a.predictor_weights.index) == ["x", "y[2004-2009]", "z[2004,2006]"]
    assert a.predictor_weights.to_numpy() == pytest.approx([1, 0, 0])
    assert b.predictor_weights.to_numpy() == pytest.approx([0, 0.5, 0.5])
    assert not np.allclose(a.weights, b.weights, atol=1e-3)  # V moves the answer
    opts_ = a._spec.options()
    assert opts_["v"] == [1.0, 0.0, 0.0] and opts_["special_predictors"][1] == ["z", [2004, 2006]]


def test_cross_validated_v_runs_with_placebos(spx, sp):
    res = synth.synthetic_control(
        spx,
        **sc_kw(
            sp,
            special_predictors=[("y", [2006, 2007, 2008, 2009])],
            training=[2004, 2005, 2006],
            validation=[2007, 2008, 2009],
            training_special_predictors=[("y", [2004, 2005])],
        ),
    )
    assert res._spec.v_method == "cv"
    cv = res._fit.extra["cross_validation"]
    assert cv["validation_periods"] == [2007, 2008, 2009]
    assert cv["training_v_rows"] == ["x", "y[2004,2005]"]
    assert res.predictor_weights.sum() == pytest.approx(1.0)
    p = res.placebo_in_space()
    assert p.n_units == 9 and (p.table["status"] == "ok").all()
    # the in-time placebo cuts every window at the fake start: validation 2007-2009 is gone
    with pytest.raises(DataValidationError, match="no period of it is a retained pre-period"):
        res.placebo_in_time(2007)
    # with windows inside the fake pre-period the in-time placebo runs
    early = synth.synthetic_control(
        spx, **sc_kw(sp, special_predictors=[("z", [2004, 2006])], v_method="inverse_variance")
    )
    fake = early.placebo_in_time(2008)
    assert (fake.n_pre, fake.n_post) == (4, 2)
    assert set(fake.predictor_weights.index) == {"x", "z[2004,2006]"}
