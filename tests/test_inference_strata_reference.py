"""Randomization inference within strata and clusters, against R ``ritest`` (Colombia vendor RCT).

Source: ``data/reference/ritest_strata/README.md`` — grantmcdermott/ritest (commit f2c1914),
README lines 50–97: ``feols(dayscorab ~ b_treat + b_dayscorab | b_pair + miss_b_dayscorab +
round2 + round3, vcov = ~b_block)`` then ``ritest(co_est, 'b_treat', strata='b_pair',
cluster='b_block', reps=1e3, seed=1234)``: b_treat −0.180738 on 2,346 observations; 31 strata,
63 clusters; RI p = 0.107 (SE of p 0.016).  The package test (seed 546) gives p = 0.102.

Tolerances: the coefficient to 1e-6 (deterministic); the RI p-value depends on the random
re-assignments (R's RNG), so ours must lie within 3 Monte Carlo SEs of 0.107 (0.059–0.155) for
1,000 draws.  A permutation that ignores the strata gives a different reference distribution
(the test that can fail).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import paths
from analysis.errors import DataValidationError
from analysis.inference import randomization_inference

REF = paths.REFERENCE_DIR / "ritest_strata"


@pytest.fixture(scope="module")
def colombia() -> pd.DataFrame:
    df = pd.read_csv(REF / "colombia.csv")
    return df.dropna(subset=["dayscorab", "b_treat", "b_dayscorab"]).reset_index(drop=True)


def _design(df: pd.DataFrame) -> np.ndarray:
    fe = pd.get_dummies(
        df[["b_pair", "miss_b_dayscorab", "round2", "round3"]].astype(str), drop_first=True
    )
    return np.column_stack([np.ones(len(df)), df["b_dayscorab"], fe.to_numpy(float)])


def _coef(df: pd.DataFrame, base: np.ndarray) -> float:
    X = np.column_stack([df["b_treat"].to_numpy(float), base])
    return float(np.linalg.lstsq(X, df["dayscorab"].to_numpy(float), rcond=None)[0][0])


@pytest.mark.reference
def test_stratified_clustered_ri_matches_ritest(colombia):
    base = _design(colombia)  # does not depend on treatment: built once
    assert len(colombia) == 2346
    assert _coef(colombia, base) == pytest.approx(-0.180738, abs=1e-6)
    ri = randomization_inference(
        colombia,
        estimator=lambda d: _coef(d, base),
        permute="cluster",
        treatment="b_treat",
        cluster="b_block",
        strata="b_pair",
        reps=1000,
        seed=1234,
    )
    assert colombia.groupby("b_pair")["b_block"].nunique().pipe(len) == 31
    assert colombia["b_block"].nunique() == 63
    assert 0.107 - 3 * 0.016 <= ri.p_value <= 0.107 + 3 * 0.016
    assert "within strata (b_pair)" in ri.method
    # treatment balance inside every stratum is kept by each re-assignment
    unstrat = randomization_inference(
        colombia,
        estimator=lambda d: _coef(d, base),
        permute="cluster",
        treatment="b_treat",
        cluster="b_block",
        reps=300,
        seed=1234,
    )
    assert unstrat.p_value != pytest.approx(ri.p_value, abs=1e-9)


def test_strata_options_used_or_refused(colombia):
    est = lambda d: float(d["b_treat"].mean())  # noqa: E731
    with pytest.raises(DataValidationError, match="not available with strata"):
        randomization_inference(
            colombia,
            estimator=est,
            permute="cluster",
            treatment="b_treat",
            cluster="b_block",
            strata="b_pair",
            exact=True,
        )
    bad = colombia.copy()
    bad.loc[0, "b_pair"] = 999  # one block split across two strata
    with pytest.raises(DataValidationError, match="must lie in one stratum"):
        randomization_inference(
            bad,
            estimator=est,
            permute="cluster",
            treatment="b_treat",
            cluster="b_block",
            strata="b_pair",
        )
