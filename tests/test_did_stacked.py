"""The stacked first-year 2×2 (analysis.did.stacked) on a simulated pupil register.

References are computed here by hand (difference of mean changes) or with the package's
validated functions (``did.did_2x2``, ``inference.wild_cluster_bootstrap``).
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest

from analysis import did
from analysis.data.simulate import programme_panel
from analysis.errors import DataValidationError

PK = {"unit": "pupil_id", "time": "year", "cohort": "cohort"}


@cache
def frame() -> pd.DataFrame:
    d = programme_panel(seed=3).data.sort_values(["pupil_id", "year"]).reset_index(drop=True)
    d["baseline_school"] = d.groupby("pupil_id")["school_id"].transform("first")
    return d


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def test_first_year_2x2_equals_cell_means_for_one_edition():
    """One edition only: the stacked 2×2 is the difference of mean changes, 1e-10."""
    one = frame()[frame()["cohort"].isin([0, 2022])]
    est = _quiet(did.stacked_first_year, one, outcome="grade_avg", **PK, cluster="baseline_school")
    obs = one[one["grade_avg"].notna() & one["year"].isin([2021, 2022])]
    wide = obs.pivot(index="pupil_id", columns="year", values="grade_avg").dropna()
    ch = wide[2022] - wide[2021]
    coh = obs.groupby("pupil_id")["cohort"].first().reindex(ch.index)
    assert est.estimate == pytest.approx(ch[coh == 2022].mean() - ch[coh == 0].mean(), abs=1e-10)
    assert est.n_clusters == 20
    assert "stacked by cohort" in est.method


def test_stack_layout():
    st = did.first_year_stack(frame(), outcome="grade_avg", **PK)
    assert sorted(st["stack"].unique()) == [2021, 2022, 2023]
    assert (st.groupby("pair").size() == 2).all()  # two rows per pupil and stack
    assert (st.groupby("pair")["post"].sum() == 1).all()
    assert set(st.loc[st["treat"] == 1, "stack"]) == {2021, 2022, 2023}
    # stack dummies for every edition but the first; clusters default to the pupil
    assert {"s_2022", "post_s_2023", "treat_s_2022"} <= set(st.columns)
    assert "s_2021" not in st.columns
    assert st["_cl"].nunique() == st["pair"].str.rsplit("_", n=1).str[0].nunique()


def test_wild_bootstrap_tests_the_same_regression():
    two = _quiet(
        did.stacked_first_year, frame(), outcome="absence_rate", **PK, cluster="baseline_school"
    )
    wcb = _quiet(
        did.stacked_first_year_bootstrap,
        frame(),
        outcome="absence_rate",
        **PK,
        cluster="baseline_school",
        reps=99,
        seed=2,
    )
    assert wcb.estimate == pytest.approx(two.estimate, abs=1e-12)
    assert wcb.se == pytest.approx(two.se, rel=1e-8)  # both CR1 by school
    assert wcb.n_clusters == 20
    assert wcb.extra["weights_type"] == "rademacher"  # "auto" with 20 clusters
    again = _quiet(
        did.stacked_first_year_bootstrap,
        frame(),
        outcome="absence_rate",
        **PK,
        cluster="baseline_school",
        reps=99,
        seed=2,
    )
    assert again.p_value == wcb.p_value and again.ci_low == wcb.ci_low


def test_stacked_bad_input():
    d = frame()
    with pytest.raises(DataValidationError, match="'grade_avg'"):
        did.stacked_first_year(d.drop(columns="grade_avg"), outcome="grade_avg", **PK)
    moved = d.copy()
    multi = moved.groupby("pupil_id")["year"].transform("size") > 1
    moved.loc[moved.index[multi][0], "school_id"] = "elsewhere"  # a pupil in two schools
    with pytest.raises(DataValidationError, match="constant within unit"):
        did.stacked_first_year(moved, outcome="grade_avg", **PK, cluster="school_id")
    late = d[d["year"] >= 2021].copy()
    late = late[~((late["cohort"] == 2022) | (late["cohort"] == 2023))]
    late = late[~((late["cohort"] == 2021) & (late["year"] == 2021))]
    with pytest.raises(DataValidationError, match="no cohort has treated units"):
        did.stacked_first_year(late, outcome="grade_avg", **PK)
    dup = pd.concat([d, d.iloc[[5]]])
    with pytest.raises(DataValidationError, match="duplicated"):
        did.first_year_stack(dup, outcome="grade_avg", **PK)
    assert np.isfinite(did.stacked_first_year(d, outcome="grade_avg", **PK).se)


def test_a_stack_built_once_gives_the_same_fit_and_bootstrap():
    """stacked_fit / stacked_bootstrap on a built stack: the numbers of the two functions."""
    kw = {"outcome": "absence_rate", **PK, "cluster": "baseline_school"}
    st = did.first_year_stack(frame(), **kw)
    # the stack depends only on the columns it is made of
    cols = ["absence_rate", *PK.values(), "baseline_school"]
    pd.testing.assert_frame_equal(st, did.first_year_stack(frame()[cols], **kw))
    two = _quiet(did.stacked_first_year, frame(), **kw)
    assert _quiet(did.stacked_fit, st).to_dict() == two.to_dict()
    boot = {"reps": 99, "seed": 4}
    wcb = _quiet(did.stacked_first_year_bootstrap, frame(), **kw, **boot)
    again = _quiet(did.stacked_bootstrap, st, **boot)
    assert again.to_dict() == wcb.to_dict()
    assert _quiet(did.stacked_bootstrap, st, reps=99, seed=5).to_dict() != wcb.to_dict()
    with pytest.raises(DataValidationError, match="'treat_post'"):
        did.stacked_fit(st.drop(columns="treat_post"))
    with pytest.raises(DataValidationError, match="first_year_stack"):
        did.stacked_bootstrap(frame(), reps=9, seed=1)
