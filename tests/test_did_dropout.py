"""Dropout as an absorbing exit: risk sets and the hazard comparison (analysis.did.dropout).

Run on a simulated pupil register whose true effect on the annual hazard is known.
"""

from __future__ import annotations

import json
import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest

from analysis import power
from analysis._util import to_jsonable
from analysis.data.simulate import programme_panel
from analysis.did import dropout
from analysis.errors import DataValidationError

DESIGN = {"unit": "pupil_id", "time": "year", "cohort": "cohort", "age": "age"}
COVS = ["baseline_absence", "ses_index"]


@cache
def sim_frame():
    sim = programme_panel(seed=3)
    d = sim.data.sort_values(["pupil_id", "year"]).reset_index(drop=True)
    d["age"] = (d["year"] - d["birth_year"]).astype(float)
    d["female"] = (d["sex"] == "F").astype(float)
    d["baseline_school"] = d.groupby("pupil_id")["school_id"].transform("first")
    return sim, d


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def test_risk_sets_membership():
    _, frame = sim_frame()
    rs = dropout.risk_sets(frame, **DESIGN, cluster="baseline_school")
    first = frame.groupby("pupil_id")["year"].min()
    at_g = rs[rs["year"] == rs["stack"]]
    # everyone in a risk set was enrolled before the edition's year ...
    assert (first.reindex(at_g["pupil_id"]).to_numpy() < at_g["stack"].to_numpy()).all()
    # ... controls are never-participants, and rows start at the edition's year
    assert set(rs.loc[rs["participant"] == 0, "cohort"]) == {0}
    assert (rs["year"] >= rs["stack"]).all()
    assert (rs["years_since"] == rs["year"] - rs["stack"]).all()
    # controls' ages in g lie within the participants' range of that edition
    for _, grp in at_g.groupby("stack"):
        part = grp.loc[grp["participant"] == 1, "age_g"]
        ctrl = grp.loc[grp["participant"] == 0, "age_g"]
        assert ctrl.between(part.min(), part.max()).all()
    # every participant of an edition with a pre-period is in its risk set
    eligible = frame[(frame["cohort"] > 0) & (frame["year"] == frame["cohort"])]
    eligible = eligible[first.reindex(eligible["pupil_id"]).to_numpy() < eligible["cohort"]]
    assert set(eligible["pupil_id"]) == set(at_g.loc[at_g["participant"] == 1, "pupil_id"])
    assert (rs["_cl"] == rs["baseline_school"].astype(str)).all()


def test_dropout_regression_statistic_and_truth():
    sim, frame = sim_frame()
    res = _quiet(
        dropout.dropout_effect, frame, covariates=COVS, **DESIGN, cluster="baseline_school"
    )
    stat = dropout.hazard_statistic(covariates=COVS, **DESIGN, cluster="baseline_school")
    assert stat(frame) == pytest.approx(res.estimate.estimate, abs=1e-10)
    assert abs(res.estimate.estimate - sim.truth["dropped_out"]) < 4 * res.estimate.se
    assert 0.01 < res.base_rate < 0.05
    assert res.estimate.n_clusters == 20 and res.estimate.extra["formula"] == res.formula
    assert res.formula == (
        "dropped_out ~ participant + baseline_absence + ses_index + age_g | stack_year + _cl"
    )
    rs = dropout.risk_sets(frame, **DESIGN)
    assert res.n_treated_years + res.n_control_years == len(rs)
    tidy = res.tidy()
    assert list(tidy["model"]) == ["adjusted", "unadjusted"]
    json.dumps(to_jsonable(res.to_dict()))
    unclustered = _quiet(dropout.dropout_effect, frame, covariates=COVS, **DESIGN)
    assert "_cl" not in unclustered.formula
    assert unclustered.estimate.n_clusters == rs["pupil_id"].nunique()  # the pupil


def test_hazard_table_pools_late_years():
    _, frame = sim_frame()
    t = dropout.hazard_table(frame, **DESIGN)
    assert list(t.columns) == ["participant", "years_since", "units", "hazard"]
    assert set(t["years_since"]) == {"0", "1", "2+"}
    assert set(t["participant"]) == {0, 1}
    assert ((t["hazard"] >= 0) & (t["hazard"] <= 1)).all()
    rs = dropout.risk_sets(frame, **DESIGN)
    first = rs[(rs["participant"] == 1) & (rs["years_since"] == 0)]
    row = t[(t["participant"] == 1) & (t["years_since"] == "0")].iloc[0]
    assert row["units"] == len(first)
    assert row["hazard"] == pytest.approx(first["dropped_out"].mean(), abs=1e-15)
    t3 = dropout.hazard_table(frame, **DESIGN, pool_from=3)
    assert set(t3["years_since"]) == {"0", "1", "2", "3+"}


def test_few_cluster_inference_for_the_hazard_effect():
    _, frame = sim_frame()
    kw = {"covariates": COVS, **DESIGN, "cluster": "baseline_school"}
    res = _quiet(dropout.dropout_effect, frame, **kw)
    wcb = _quiet(dropout.dropout_wild_bootstrap, frame, **kw, reps=99, seed=4)
    assert wcb.estimate == pytest.approx(res.estimate.estimate, abs=1e-10)
    assert wcb.se == pytest.approx(res.estimate.se, rel=1e-6)  # both CR1 by school
    assert wcb.extra["weights_type"] == "rademacher" and wcb.n_clusters == 20
    ri = _quiet(dropout.dropout_randomization, frame, **kw, strata="school_id", reps=9, seed=4)
    assert ri.statistic == pytest.approx(res.estimate.estimate, abs=1e-10)
    assert ri.reps == 9 and 0 < ri.p_value <= 1
    again = _quiet(dropout.dropout_randomization, frame, **kw, strata="school_id", reps=9, seed=4)
    assert again.distribution == ri.distribution
    two = _quiet(
        dropout.dropout_randomization, frame, **kw, strata="school_id", reps=9, seed=4, n_jobs=2
    )
    assert np.asarray(two.distribution).tobytes() == np.asarray(ri.distribution).tobytes()


def test_hazard_mde_matches_power_module():
    _, frame = sim_frame()
    res = _quiet(dropout.dropout_effect, frame, covariates=COVS, **DESIGN)
    calc, value = dropout.hazard_mde(frame, result=res, cohort="cohort")
    base = frame.loc[frame["cohort"] == 0, "dropped_out"].mean()
    ref = power.mde(
        n_treated=res.n_treated_years,
        n_control=res.n_control_years,
        outcome="binary",
        base_rate=base,
    )
    assert calc.value == pytest.approx(ref.value, rel=1e-12)
    assert value == pytest.approx(ref.value / 100, rel=1e-12)


def test_dropout_bad_input():
    _, frame = sim_frame()
    with pytest.raises(DataValidationError, match="'age'"):
        dropout.risk_sets(frame.drop(columns="age"), **DESIGN)
    bad_age = frame.assign(age=frame["age"].where(frame.index != 5))
    with pytest.raises(DataValidationError, match="'age'"):
        dropout.dropout_effect(bad_age, covariates=COVS, **DESIGN)
    dup = pd.concat([frame, frame.iloc[[3]]])
    with pytest.raises(DataValidationError, match="duplicated"):
        dropout.hazard_table(dup, **DESIGN)
    with pytest.raises(DataValidationError, match="'nope'"):
        dropout.dropout_effect(frame, covariates=["nope"], **DESIGN)
    flip = frame.copy()
    pid = flip.loc[flip["cohort"] > 0, "pupil_id"].iloc[0]
    flip.loc[flip.index[flip["pupil_id"] == pid][0], "cohort"] = 0
    with pytest.raises(DataValidationError, match="constant within unit"):
        dropout.risk_sets(flip, **DESIGN)
    never = frame.assign(cohort=0)
    with pytest.raises(DataValidationError, match="no risk set"):
        dropout.risk_sets(never, **DESIGN)
    assert np.isfinite(_quiet(dropout.dropout_effect, frame, covariates=COVS, **DESIGN).estimate.se)


def test_report_ci_labels_follow_the_level():
    """The dropout page labels its interval with the level actually used (not a fixed 95%)."""
    from types import SimpleNamespace

    from analysis.reports.dropout import DropoutAnalysis

    def page(level: float) -> SimpleNamespace:
        e = SimpleNamespace(estimate=-0.01, ci_low=-0.03, ci_high=0.01, level=level)
        return SimpleNamespace(result=SimpleNamespace(estimate=e), truth=None, mde=0.02)

    assert set(DropoutAnalysis.headline(page(0.95))) >= {
        "95% CI low (percentage points)",
        "95% CI high (percentage points)",
    }
    h90 = DropoutAnalysis.headline(page(0.9))
    assert {"90% CI low (percentage points)", "90% CI high (percentage points)"} <= set(h90)
    assert "95% CI low (percentage points)" not in h90
    assert h90["90% CI low (percentage points)"] == pytest.approx(-3.0)


@pytest.mark.parametrize("cluster", ["baseline_school", None])
def test_hazard_statistic_on_cohorts_is_the_frame_statistic_bit_for_bit(cluster):
    """Randomization inference's array path of the dropout page gives the frame's τ exactly."""
    from analysis.inference import _Reassigner

    _, frame = sim_frame()
    stat = dropout.hazard_statistic(covariates=COVS, **DESIGN, cluster=cluster)
    prepared = _Reassigner(
        frame,
        unit="pupil_id",
        time="year",
        cohort="cohort",
        strata="school_id",
        age="age",
        treated="treated",
        participant=None,
    )
    fast = stat.for_cohorts(frame, codes=prepared.codes, n_units=prepared.n)
    assert fast(prepared.observed) == stat(frame)
    rng = np.random.default_rng(4)
    for _ in range(5):
        new = prepared.draw(rng)
        assert fast(new) == stat(prepared.frame(new))
    assert fast(np.zeros(prepared.n)) is None  # no participant: the frame path words the error
