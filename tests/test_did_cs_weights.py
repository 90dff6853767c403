"""Sampling weights in ``did.staggered(weights=...)`` and the refusals of ``aggregate``.

No weighted reference data are available here (``/work/shared/reference/
cs_weights_jel_docs_only/README.md``: the JEL county-mortality file behind R ``did``'s
weighted tests is not in the fetched snapshot and cannot be rebuilt offline), so the weights
are validated by identities that any correct implementation satisfies:

* equal weights give exactly the unweighted fit (point estimates and SEs, 1e-8 / 1e-10);
* integer weights give the point estimates of the data with every unit repeated that many
  times under fresh unit ids (1e-8), for ATT(g,t) and every aggregation (the aggregation's
  cohort shares are weighted shares);
* with the repeated data clustered on the original unit, the standard errors are the same too
  (1e-8 relative): a pweighted influence function :math:`w_i\\psi_i` summed over a unit's
  copies.

Data: ``mpdta`` (R ``did``), with a covariate so that all three estimators use it.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest

from analysis import did
from analysis.errors import DataValidationError

KW = {
    "outcome": "lemp",
    "unit": "countyreal",
    "time": "year",
    "cohort": "first.treat",
    "covariates": ["lpop"],
}
TYPES = ("simple", "group", "dynamic", "calendar")
ATT_TOL = 1e-8


@cache
def data() -> pd.DataFrame:
    m = did.datasets.mpdta()
    units = m["countyreal"].unique()
    w = pd.Series(np.random.default_rng(1).integers(1, 4, len(units)), index=units)
    return m.assign(w_equal=2.5, w_int=m["countyreal"].map(w))


@cache
def repeated() -> pd.DataFrame:
    m = data()
    d = m.loc[m.index.repeat(m["w_int"])].copy()
    copy_no = d.groupby(["countyreal", "year"]).cumcount()
    return d.assign(uid=d["countyreal"] * 10 + copy_no).reset_index(drop=True)


def _fit(df: pd.DataFrame, **kw: object) -> did.StaggeredResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return did.staggered(df, **{**KW, **kw})


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
def test_equal_weights_give_the_unweighted_fit(method: str) -> None:
    a = _fit(data(), method=method)
    b = _fit(data(), method=method, weights="w_equal")
    np.testing.assert_allclose(b.att, a.att, rtol=0, atol=ATT_TOL)
    np.testing.assert_allclose(b.se, a.se, rtol=1e-10)
    for t in TYPES:
        oa, ob = a.aggregate(t).overall, b.aggregate(t).overall
        assert ob.estimate == pytest.approx(oa.estimate, abs=ATT_TOL)
        assert ob.se == pytest.approx(oa.se, rel=1e-10)


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
def test_integer_weights_equal_repeated_units(method: str) -> None:
    w = _fit(data(), method=method, weights="w_int")
    r = _fit(repeated(), method=method, unit="uid")
    rc = _fit(repeated(), method=method, unit="uid", cluster="countyreal")
    assert r.n_units == int(data().groupby("countyreal")["w_int"].first().sum())
    np.testing.assert_allclose(w.att, r.att, rtol=0, atol=ATT_TOL)
    np.testing.assert_allclose(w.se, rc.se, rtol=1e-8)
    for t in TYPES:
        ow, orep, ocl = (x.aggregate(t).overall for x in (w, r, rc))
        assert ow.estimate == pytest.approx(orep.estimate, abs=ATT_TOL)
        assert ow.se == pytest.approx(ocl.se, rel=1e-8)
    # the weights matter: the unweighted fit is different
    u = _fit(data(), method=method)
    assert abs(u.aggregate("simple").overall.estimate - ow.estimate) > 1e-4


def test_integer_weights_unbalanced_and_cross_sections() -> None:
    """The identity also holds on the cell-wise unbalanced path and with panel=False."""
    drop = data().sample(300, random_state=0).index
    m = data().drop(drop)
    d = repeated().merge(m[["countyreal", "year"]], on=["countyreal", "year"])
    w = _fit(m, weights="w_int", allow_unbalanced=True)
    r = _fit(d, unit="uid", allow_unbalanced=True)
    np.testing.assert_allclose(w.att, r.att, rtol=0, atol=ATT_TOL)
    w = _fit(data(), weights="w_int", panel=False)
    r = _fit(repeated(), unit="uid", panel=False)
    np.testing.assert_allclose(w.att, r.att, rtol=0, atol=ATT_TOL)
    assert w.aggregate("dynamic").overall.estimate == pytest.approx(
        r.aggregate("dynamic").overall.estimate, abs=ATT_TOL
    )


@pytest.mark.parametrize(
    ("value", "rule"),
    [(0.0, "positive"), (-1.0, "positive"), (np.inf, "positive"), (np.nan, "missing")],
)
def test_bad_weights_are_refused(value: float, rule: str) -> None:
    m = data().astype({"w_int": float})
    m.loc[m.index[:5], "w_int"] = value  # whole unit 8001 (5 years)
    with pytest.raises(DataValidationError, match=rule) as exc:
        _fit(m, weights="w_int")
    assert "w_int" in str(exc.value)


def test_weights_must_be_constant_within_unit_on_a_panel() -> None:
    m = data().copy()
    m.loc[m.index[0], "w_int"] = 7
    with pytest.raises(DataValidationError, match="constant within unit"):
        _fit(m, weights="w_int")
    _fit(m, weights="w_int", panel=False)  # cross-sections: weights are per row


def test_missing_weights_column_is_refused() -> None:
    with pytest.raises(DataValidationError, match="nope"):
        _fit(data(), weights="nope")


@cache
def base() -> did.StaggeredResult:
    return _fit(data(), method="reg")


@pytest.mark.parametrize(
    ("type_", "option", "value"),
    [
        ("simple", "min_e", 0),
        ("group", "min_e", 0),
        ("calendar", "min_e", -1),
        ("simple", "balance_e", 1),
        ("group", "balance_e", 1),
        ("calendar", "balance_e", 1),
        ("calendar", "max_e", 2),
        ("simple", "cband", True),
    ],
)
def test_ignored_aggregate_options_are_refused(type_: str, option: str, value: object) -> None:
    with pytest.raises(DataValidationError, match=option):
        base().aggregate(type_, **{option: value})


def test_used_aggregate_options_still_work() -> None:
    res = base()
    res.aggregate("simple", max_e=1)
    res.aggregate("group", max_e=1, cband=True, n_boot=99)
    res.aggregate("calendar", cband=True, n_boot=99)
    res.aggregate("dynamic", min_e=-2, max_e=2, balance_e=1, cband=True, n_boot=99)
    assert res.aggregate("simple", max_e=0).overall.estimate != pytest.approx(
        res.aggregate("simple").overall.estimate, abs=1e-6
    )
