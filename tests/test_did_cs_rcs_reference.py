"""Callaway-Sant'Anna with repeated cross-sections (``staggered(panel=False)``) against DRDID.

Source: ``data/reference/cs_rcs_sim_rc/README.md`` — DRDID 1.2.3 (``pedrohcgs/DRDID``, commit
654531e3), data ``sim_rc`` (1,000 rows, DGP1 of Sant'Anna & Zhao 2020), numbers printed in the
"Examples" sections of the pkgdown reference pages ``drdid_rc.html``, ``reg_did_rc.html`` and
``std_ipw_did_rc.html``.  With two periods and one treated cohort, R ``did::att_gt(...,
panel = FALSE)`` evaluates exactly these estimators (``"dr"`` -> ``drdid_rc``, ``"reg"`` ->
``reg_did_rc``, ``"ipw"`` -> ``std_ipw_did_rc``), so ``staggered(..., panel=False)`` on
``t = post + 1``, ``G = 2 d`` must give the printed ATT.

Tolerances
----------
* Point estimates: half a unit of the last printed digit (``-0.1678`` ± 5e-5, ``-8.791`` ±
  5e-4, ``-15.8033`` ± 5e-5).
* Standard errors: the printed analytic SEs (0.2009, 7.7785, 9.0879) are compared with a
  1 % relative tolerance only.  The README records that two independent Python
  re-implementations (moderndid 0.4.1 and diff-diff 3.13) agree with each other but differ
  from the printed SEs in the 3rd-4th significant digit (0.20256 vs 0.2009 is the largest,
  0.8 %), while reproducing the point estimates to every digit: the pkgdown pages were
  probably built with an older DRDID whose influence function differed.  A tight SE pin to
  a print that the current DRDID may not reproduce would be false precision; the 1 % band
  still catches a wrong scale (e.g. a missing 1/n or a sqrt(2)).  Additionally, the DR and
  IPW SEs are compared at 1e-5 relative with moderndid's reproduction given in the README
  (0.202558 and 9.083384); the regression SE is not (moderndid 7.774585, diff-diff 7.773044
  differ by 2e-4 relative, in the estimation-effect term of the outcome regression).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from analysis import did, paths
from analysis.errors import DataValidationError

pytestmark = pytest.mark.reference

COVS = ["x1", "x2", "x3", "x4"]

# method: (published ATT, tolerance, published SE) — see the module docstring
PUBLISHED = {
    "dr": (-0.1678, 5e-5, 0.2009),  # drdid_rc.html / drdid.html (estMethod="trad")
    "reg": (-8.791, 5e-4, 7.7785),  # reg_did_rc.html
    "ipw": (-15.8033, 5e-5, 9.0879),  # std_ipw_did_rc.html (Hajek-normalised IPW)
}
SE_PRINT_RTOL = 0.01
# moderndid 0.4.1 reproduction of the same estimators (README), relative tolerance 1e-5
MODERNDID_SE = {"dr": 0.202558, "ipw": 9.083384}
MODERNDID_SE_RTOL = 1e-5


@cache
def sim_rc() -> pd.DataFrame:
    d = pd.read_csv(paths.REFERENCE_DIR / "cs_rcs_sim_rc" / "sim_rc.csv")
    return d.assign(t=d["post"] + 1, G=2 * d["d"])


@cache
def fit(method: str, covariates: tuple[str, ...] = tuple(COVS)) -> did.StaggeredResult:
    return did.staggered(
        sim_rc(),
        outcome="y",
        unit="id",
        time="t",
        cohort="G",
        method=method,
        covariates=list(covariates),
        panel=False,
    )


@pytest.mark.parametrize("method", sorted(PUBLISHED))
def test_point_estimate_matches_drdid(method: str) -> None:
    att, tol, _ = PUBLISHED[method]
    res = fit(method)
    assert len(res.att) == 1
    assert res.att[0] == pytest.approx(att, abs=tol)
    # one cell: the simple aggregation is that cell
    assert res.aggregate("simple").overall.estimate == pytest.approx(res.att[0], abs=1e-12)


@pytest.mark.parametrize("method", sorted(PUBLISHED))
def test_standard_error_close_to_print(method: str) -> None:
    _, _, se = PUBLISHED[method]
    res = fit(method)
    assert res.se[0] == pytest.approx(se, rel=SE_PRINT_RTOL)
    if method in MODERNDID_SE:
        assert res.se[0] == pytest.approx(MODERNDID_SE[method], rel=MODERNDID_SE_RTOL)


def test_rows_are_observations() -> None:
    res = fit("reg")
    assert res.n_units == 1000 and res.n_obs == 1000 and not res.panel
    assert "repeated cross-sections" in res.backend


def test_wrong_option_moves_the_answer() -> None:
    """Dropping the covariates or treating the rows as a panel moves the estimate."""
    att, tol, _ = PUBLISHED["reg"]
    assert abs(fit("reg", ()).att[0] - att) > 100 * tol
    # sim_rc's ids are unique: read as a panel, no unit is observed in both periods
    with pytest.raises(DataValidationError):
        did.staggered(
            sim_rc(), outcome="y", unit="id", time="t", cohort="G", method="reg", panel=True
        )


def test_default_backend_trim_would_miss_the_print() -> None:
    """diff-diff's default pscore_trim (0.01) moves IPW off DRDID's print (README)."""
    import warnings

    import diff_diff

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = diff_diff.CallawaySantAnna(estimation_method="ipw", panel=False).fit(
            sim_rc(), outcome="y", unit="id", time="t", first_treat="G", covariates=COVS
        )
    (cell,) = r.group_time_effects.values()
    att, tol, _ = PUBLISHED["ipw"]
    assert abs(cell["effect"] - att) > tol
    assert np.isclose(fit("ipw").att[0], att, atol=tol)


def test_allow_unbalanced_with_panel_false_is_refused() -> None:
    with pytest.raises(DataValidationError, match="allow_unbalanced"):
        did.staggered(
            sim_rc(),
            outcome="y",
            unit="id",
            time="t",
            cohort="G",
            panel=False,
            allow_unbalanced=True,
        )
