"""synth's panel on codes (issue 14) against the pandas reshaping it replaced.

``build_panel`` factorises the unit and the time once and scatters the outcome into the
periods x units matrix; these tests rebuild the matrices with ``pivot`` (the earlier code) on
messy panels and compare values and order (PanelData stores them C-contiguous and read-only,
whatever the pivot's layout), and pin the treatment indicator that ``long_frame`` now builds from the row layout.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import paths
from analysis.errors import DataValidationError
from analysis.synth._panel import UNIT, build_panel

KW = {"outcome": "packs", "unit": "state", "time": "year", "treated_unit": "California"}


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    wide = pd.read_csv(paths.REFERENCE_DIR / "california_prop99.csv")
    long = wide.melt(id_vars="Year", var_name="state", value_name="packs")
    return long.rename(columns={"Year": "year"})


def _pivot_panel(df: pd.DataFrame, donors: list[str] | None, covariate: str | None):
    """The earlier reshaping: pivot, drop periods without the treated outcome, then donors."""
    units = pd.unique(df["state"])
    donor_list = [u for u in units if u != "California"] if donors is None else donors
    sub = df[df["state"].isin(["California", *donor_list])]
    all_times = np.sort(pd.unique(sub["year"]))
    wide = sub.pivot(index="year", columns="state", values="packs").reindex(index=all_times)
    times = all_times[wide["California"].notna().to_numpy()]
    wide = wide.loc[times]
    kept = [d for d in donor_list if wide[d].notna().all()]
    cov = None
    if covariate:
        cw = sub.pivot(index="year", columns="state", values=covariate).reindex(index=times)
        cov = np.column_stack([cw["California"].to_numpy(float), cw[kept].to_numpy(float)])
    y1 = wide["California"].to_numpy(dtype=float)
    y0 = wide[kept].to_numpy(dtype=float)
    return times, y1, y0, kept, cov


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("with_donors", [False, True])
def test_matrices_equal_the_pivot(prop99, seed, with_donors):
    rng = np.random.default_rng(seed)
    df = prop99.sample(frac=1, random_state=seed).reset_index(drop=True)
    df.loc[rng.choice(len(df), 25, replace=False), "packs"] = np.nan
    df.loc[(df["state"] == "California") & (df["year"] == 1980 + seed), "packs"] = np.nan
    df["x"] = rng.normal(size=len(df))
    df.loc[rng.choice(len(df), 30, replace=False), "x"] = np.nan
    states = [s for s in pd.unique(df["state"]) if s != "California"]
    donors = list(rng.choice(states, 12, replace=False)) if with_donors else None
    p = build_panel(df, **KW, start=1989, donors=donors, covariates=["x"])
    times, y1, y0, kept, cov = _pivot_panel(df, donors, "x")
    np.testing.assert_array_equal(p.times, times)
    assert p.times.dtype == times.dtype
    np.testing.assert_array_equal(p.y_treated, y1)
    np.testing.assert_array_equal(p.y_donors, y0)
    np.testing.assert_array_equal(p.covariates["x"], cov)
    assert list(p.donors) == kept
    for a in (p.times, p.y_treated, p.y_donors, p.covariates["x"]):
        # PanelData's contract (b5436de): C-contiguous and read-only, whatever the pivot gave,
        # so that a worker's pickled copy sums in the same order as the calling process
        assert a.flags.c_contiguous and not a.flags.writeable


@pytest.mark.parametrize("post_only", [True, False])
def test_long_frame_indicator_is_the_treated_rows(prop99, post_only):
    p = build_panel(prop99, **KW, start=1989)
    long = p.long_frame(indicator=("_d", post_only, int))
    want = long[UNIT] == p.treated
    if post_only:
        want &= long["_time"] >= 1989
    np.testing.assert_array_equal(long["_d"].to_numpy(), want.astype(int).to_numpy())
    assert long["_d"].dtype == np.int64
    assert list(long.columns) == ["_unit", "_time", "_y", "_d"]


def test_duplicated_rows_with_repeated_index_labels_are_a_clear_error(prop99):
    """Before, the message lookup by index label crashed (AttributeError) on such frames."""
    bad = pd.concat([prop99, prop99.iloc[[3]]])  # the label 3 twice
    with pytest.raises(DataValidationError, match="duplicated unit-time rows"):
        build_panel(bad, **KW, start=1989)
