"""Bad input to the DiD estimators: DataValidationError, or a recorded and warned rule."""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest

from analysis import diagnostics, did
from analysis.errors import DataValidationError

KW = {"outcome": "lemp", "unit": "countyreal", "time": "year"}
KWC = {**KW, "cohort": "first.treat"}


@cache
def _mpdta() -> pd.DataFrame:
    df = did.datasets.mpdta()
    df["D"] = ((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).astype(int)
    return df


@pytest.fixture
def df() -> pd.DataFrame:
    return _mpdta().copy()


def _first_unit(df: pd.DataFrame, cohort: float) -> int:
    return int(df.loc[df["first.treat"] == cohort, "countyreal"].iloc[0])


STAGGERED = pytest.param(lambda d: did.staggered(d, **KWC), id="staggered")
EVENT_TWFE = pytest.param(lambda d: did.event_study(d, **KWC, estimator="twfe"), id="es-twfe")
IMPUTATION = pytest.param(lambda d: did.imputation(d, **KWC), id="imputation")
TWFE = pytest.param(lambda d: did.twfe(d, **KW, treated="D"), id="twfe")
BACON = pytest.param(lambda d: diagnostics.bacon_decomposition(d, **KW, treated="D"), id="bacon")
ALL = [STAGGERED, EVENT_TWFE, IMPUTATION, TWFE, BACON]
COHORT_BASED = [STAGGERED, EVENT_TWFE, IMPUTATION]


def _raises(call, df, *fragments):
    with pytest.raises(DataValidationError) as info:
        call(df)
    msg = str(info.value)
    assert msg.startswith("DataFrame argument")
    for f in fragments:
        assert f in msg, msg
    return info.value


@pytest.mark.parametrize("call", ALL)
def test_missing_column(call, df):
    _raises(call, df.drop(columns="lemp"), "'lemp'", "missing")


@pytest.mark.parametrize("call", ALL)
def test_non_numeric_outcome(call, df):
    df["lemp"] = df["lemp"].astype(str)
    df.loc[7, "lemp"] = "n/a"
    err = _raises(call, df, "'lemp'", "numeric")
    assert 7 in err.violations[0].rows


@pytest.mark.parametrize("call", ALL)
def test_duplicated_unit_time_rows(call, df):
    bad = pd.concat([df, df.iloc[[12]]])
    err = _raises(call, bad, "duplicated", "'countyreal'")
    assert 12 in err.violations[0].rows


@pytest.mark.parametrize("call", COHORT_BASED)
def test_cohort_changing_within_unit_is_a_reversal(call, df):
    unit = _first_unit(df, 2006)
    df.loc[(df["countyreal"] == unit) & (df["year"] >= 2006), "first.treat"] = 2007
    err = _raises(call, df, "'first.treat'", "changes within unit", "1 unit(s)")
    assert str(unit) not in str(err).split("rows")[0]  # the unit (a pupil, in a pupil panel)


@pytest.mark.parametrize("call", [TWFE, BACON])
def test_treated_indicator_going_back_to_zero(call, df):
    unit = _first_unit(df, 2004)
    row = df.index[(df["countyreal"] == unit) & (df["year"] == 2006)][0]
    df.loc[row, "D"] = 0
    err = _raises(call, df, "'D'", "treatment reversal")
    assert list(err.violations[0].rows) == [row]


@pytest.mark.parametrize("call", [TWFE, BACON])
def test_treated_indicator_not_binary(call, df):
    df.loc[3, "D"] = 2
    _raises(call, df, "'D'", "0/1")


def test_negative_cohort(df):
    df.loc[df["countyreal"] == _first_unit(df, 0), "first.treat"] = -1
    _raises(lambda d: did.staggered(d, **KWC), df, ">= 0")


def test_no_never_treated_with_never_control(df):
    only_treated = df[df["first.treat"] > 0]
    _raises(
        lambda d: did.staggered(d, **KWC, control="never"),
        only_treated,
        "never-treated",
        "control='notyet'",
    )
    _raises(
        lambda d: did.event_study(d, **KWC, estimator="sun_abraham"), only_treated, "never-treated"
    )


def test_no_never_treated_with_notyet_control_runs_and_records_skipped_cells(df):
    only_treated = df[df["first.treat"] > 0]
    with pytest.warns(UserWarning, match="could not be estimated"):
        res = did.staggered(only_treated, **KWC, control="notyet")
    assert any("could not be estimated" in n for n in res.notes)
    assert (res.time < 2007).all()  # no not-yet-treated control left in 2007


def test_missing_cohort_means_never_treated(df):
    base = did.staggered(df, **KWC).aggregate("simple").overall
    df.loc[df["first.treat"] == 0, "first.treat"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nan_coded = did.staggered(df, **KWC).aggregate("simple").overall
    assert nan_coded.estimate == pytest.approx(base.estimate, abs=1e-12)
    assert nan_coded.se == pytest.approx(base.se, abs=1e-12)


@pytest.mark.parametrize("call", COHORT_BASED)
def test_cohort_after_last_period_is_recorded_and_treated_as_never(call, df):
    unit = _first_unit(df, 2007)
    df.loc[df["countyreal"] == unit, "first.treat"] = 2010
    with pytest.warns(UserWarning, match="after the last period"):
        res = call(df)
    notes = res.notes if hasattr(res, "notes") else res.extra["notes"]
    assert any("after the last period" in n for n in notes)


def test_cohort_in_first_period_is_dropped_and_recorded(df):
    unit = _first_unit(df, 2004)
    df.loc[df["countyreal"] == unit, "first.treat"] = 2003
    with pytest.warns(UserWarning, match="already treated"):
        res = did.staggered(df, **KWC)
    assert res.n_units == 499
    assert any("already treated" in n for n in res.notes)


def test_unbalanced_panel_is_balanced_for_cs_and_recorded(df):
    unit = _first_unit(df, 2006)
    df = df.drop(index=df.index[(df["countyreal"] == unit) & (df["year"] == 2005)])
    with pytest.warns(UserWarning, match="unbalanced panel"):
        res = did.staggered(df, **KWC)
    assert (res.n_units, res.n_obs) == (499, 2495)
    assert any("unbalanced panel" in n for n in res.notes)


def test_missing_outcome_is_dropped_with_a_warning(df):
    df.loc[5, "lemp"] = np.nan
    with pytest.warns(UserWarning, match="missing values"):
        est = did.twfe(df, **KW, treated="D")
    assert est.n_obs == 2499
    with pytest.warns(UserWarning) as record:
        res = did.staggered(df, **KWC)
    messages = " | ".join(str(w.message) for w in record)
    assert "missing values" in messages and "unbalanced panel" in messages
    assert res.n_units == 499
    assert len(res.notes) == 2


def test_unbalanced_panel_is_an_error_for_bacon(df):
    _raises(
        lambda d: diagnostics.bacon_decomposition(d, **KW, treated="D"),
        df.drop(index=[0]),
        "balanced panel",
    )


def test_cluster_must_nest_units(df):
    df["school"] = np.arange(len(df)) % 7
    _raises(
        lambda d: did.staggered(d, **KWC, cluster="school"), df, "'school'", "constant within unit"
    )


def test_not_a_dataframe_and_empty():
    _raises(lambda d: did.staggered(d, **KWC), [1, 2, 3], "DataFrame")
    _raises(lambda d: did.twfe(d, **KW, treated="D"), _mpdta().iloc[:0], "no rows")


def test_2x2_bad_input(df):
    df["post"] = (df["year"] >= 2005).astype(int)
    df["tr"] = (df["first.treat"] > 0).astype(int)
    _raises(
        lambda d: did.did_2x2(d, outcome="lemp", treated="tr", post="nope"), df, "'nope'", "missing"
    )
    _raises(
        lambda d: did.did_2x2(d.assign(tr=0), outcome="lemp", treated="tr", post="post"),
        df,
        "empty (treated, post) cells",
    )
    _raises(
        lambda d: did.did_2x2(d.assign(post=d["year"]), outcome="lemp", treated="tr", post="post"),
        df,
        "'post'",
        "0/1",
    )


def test_invalid_options_are_value_errors(df):
    with pytest.raises(ValueError, match="control"):
        did.staggered(df, **KWC, control="later")
    with pytest.raises(ValueError, match="method"):
        did.staggered(df, **KWC, method="ols")
    with pytest.raises(ValueError, match="estimator"):
        did.event_study(df, **KWC, estimator="magic")
    with pytest.raises(ValueError, match="window"):
        did.event_study(df, **KWC, window=(0, 3))
    with pytest.raises(ValueError, match="type"):
        did.staggered(df, **KWC).aggregate("weekly")


# ------------------------------------------------------------------ pupil-register helpers
STACKED = pytest.param(lambda d: did.stacked_first_year(d, **KWC), id="stacked")
DROPOUT = pytest.param(
    lambda d: did.dropout.dropout_effect(
        d.assign(age=d["year"] - 1950.0), covariates=[], **KWC, age="age"
    ),
    id="dropout",
)
SUBPANEL = pytest.param(lambda d: diagnostics.balanced_subpanel(d, **KWC), id="subpanel")
REGISTER = [STACKED, DROPOUT, SUBPANEL]


@pytest.mark.parametrize("call", REGISTER)
def test_register_methods_name_a_missing_column(call, df):
    _raises(call, df.drop(columns="lemp"), "'lemp'", "missing")


@pytest.mark.parametrize("call", REGISTER)
def test_register_methods_refuse_duplicated_unit_time_rows(call, df):
    bad = pd.concat([df, df.iloc[[12]]])
    err = _raises(call, bad, "duplicated", "'countyreal'")
    assert 12 in err.violations[0].rows


@pytest.mark.parametrize("call", [STACKED, DROPOUT])
def test_register_methods_refuse_a_changing_cohort(call, df):
    unit = _first_unit(df, 2006)
    df.loc[(df["countyreal"] == unit) & (df["year"] >= 2006), "first.treat"] = 2007
    _raises(call, df, "'first.treat'", "1 unit(s)")


def test_cell_counts_and_event_times_need_their_columns(df):
    _raises(lambda d: did.treated_cell_counts(d, **KWC), df.drop(columns="first.treat"), "missing")
    _raises(lambda d: did.event_window(d, **KWC), df.drop(columns="lemp"), "'lemp'")
    _raises(lambda d: did.effect_horizon(d, **KWC), [1, 2], "DataFrame")
    with pytest.raises(ValueError, match="base_period"):
        did.treated_cell_counts(df, **KWC, base_period="last")


@pytest.mark.parametrize("estimator", ["twfe", "sun_abraham", "imputation", "did2s"])
@pytest.mark.parametrize(
    "option", [{"covariates": ["lpop"]}, {"control": "notyet"}, {"method": "ipw"}, {"n_boot": 99}]
)
def test_event_study_refuses_options_it_would_ignore(df, estimator, option):
    """Issue 15: covariates= was silently ignored by every estimator but 'cs'."""
    with pytest.raises(DataValidationError, match="apply only to estimator='cs'") as info:
        did.event_study(df, **KWC, estimator=estimator, **option)
    assert info.value.violations[0].column == next(iter(option))
