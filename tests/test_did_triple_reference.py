"""Triple differences against R ``triplediff`` (via moderndid 0.4.1) on the Cai (2016) panel.

Source: ``data/reference/triplediff_cai2016/README.md`` — moderndid 0.4.1's output, which its
validation test asserts equal to R ``triplediff`` to 1e-10 (no R-printed number on saved data
exists: a Python port is the best available reference, and this says so next to the numbers).
Call: ``ddd(yname="checksaving_ratio", tname="year", idname="hhno", gname="group",
pname="sector", xformla=None | "~ hhsize + age", control_group="nevertreated",
base_period="universal", est_method="dr", allow_unbalanced_panel=True)``.

Tolerances: every ATT(g, t) to 1e-10 (absolute); cell SEs without covariates to 0.05 %
relative (our clustered SEs carry the G/(G-1) factor, 1.00014 here); with covariates the
reference's SEs include an estimation effect of the nuisance models that diff-diff's
cluster-robust influence function does not, and they differ by up to 8 % (stated, tolerance
10 %).  Event-study overall ATT (mean over e = 0..5) to 1e-10.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis import paths
from analysis.did.triple import triple_differences
from analysis.errors import DataValidationError

REF = paths.REFERENCE_DIR / "triplediff_cai2016"


@pytest.fixture(scope="module")
def cai() -> pd.DataFrame:
    df = pd.read_csv(REF / "cai2016.csv")
    df["cohort"] = np.where(df["treatment"] == 1, 2003, 0)
    return df


@pytest.fixture(scope="module")
def published() -> dict:
    return json.loads((REF / "moderndid_0.4.1_cai_results.json").read_text())


@pytest.mark.reference
@pytest.mark.parametrize(
    ("key", "covariates", "se_rtol"),
    [("None", None, 5e-4), ("~ hhsize + age", ["hhsize", "age"], 0.10)],
)
def test_cai_group_time_effects_match_triplediff(cai, published, key, covariates, se_rtol):
    ref = published[key]
    res = triple_differences(
        cai,
        outcome="checksaving_ratio",
        unit="hhno",
        time="year",
        cohort="cohort",
        partition="sector",
        covariates=covariates,
    )
    got = res.cells.set_index("time")
    for t, att, se in zip(ref["times"], ref["att"], ref["se"], strict=True):
        if t == 2002:  # the base period: 0 by construction in the reference
            assert att == 0 and t not in got.index
            continue
        assert got.loc[t, "att"] == pytest.approx(att, abs=1e-10)
        assert got.loc[t, "se"] == pytest.approx(se, rel=se_rtol)
    assert res.overall == pytest.approx(ref["es_overall_att"], abs=1e-10)


def test_a_wrong_partition_changes_the_answer(cai):
    """The test can fail: swapping the partition must move every cell."""
    right = triple_differences(
        cai,
        outcome="checksaving_ratio",
        unit="hhno",
        time="year",
        cohort="cohort",
        partition="sector",
    )
    swapped = cai.assign(sector=1 - cai["sector"])
    wrong = triple_differences(
        swapped,
        outcome="checksaving_ratio",
        unit="hhno",
        time="year",
        cohort="cohort",
        partition="sector",
    )
    # swapping Q flips the sign of the triple difference
    assert np.allclose(wrong.cells["att"], -right.cells["att"], atol=1e-10)
    assert not np.allclose(wrong.cells["att"], right.cells["att"])


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"control": "notyet"}, "control"),
        ({"base_period": "varying"}, "base_period"),
        ({"method": "ols"}, "method"),
    ],
)
def test_unsupported_options_are_refused_not_ignored(cai, kwargs, column):
    with pytest.raises(DataValidationError) as info:
        triple_differences(
            cai,
            outcome="checksaving_ratio",
            unit="hhno",
            time="year",
            cohort="cohort",
            partition="sector",
            **kwargs,
        )
    assert info.value.violations[0].column == column
