r"""Static two-way fixed effects (TWFE) difference-in-differences.

Model
-----
.. math:: Y_{it} = \alpha_i + \lambda_t + \beta D_{it} + X_{it}'\gamma + \varepsilon_{it}

with :math:`D_{it}` the 0/1 "treated and post" indicator.  :math:`\beta` is the ATT only
when effects are homogeneous; with staggered adoption and heterogeneous effects it is a
variance-weighted average of all 2×2 comparisons, some with negative weights (Goodman-Bacon
2021; see :func:`analysis.diagnostics.bacon_decomposition`).  Estimated with pyfixest
(``feols``, fixed effects absorbed), cluster-robust (CR1) standard errors by unit unless
another ``cluster`` is given, t-distribution with :math:`G-1` degrees of freedom (fixest's
convention).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis._util import pyfixest_coefficient as coefficient
from analysis._util import version
from analysis.did import _checks
from analysis.did._inference import quiet_backend
from analysis.estimate import Estimate


def fit_feols(formula: str, data: pd.DataFrame, cluster: str):
    """Run ``pyfixest.feols`` with CR1 standard errors clustered on ``cluster``.

    Backend-internal warnings are filtered (:func:`analysis.did._inference.quiet_backend`).
    """
    import pyfixest as pf

    with quiet_backend():
        return pf.feols(formula, data=data, vcov={"CRV1": cluster})


def twfe(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    treated: str,
    cluster: str | None = None,
    covariates: Sequence[str] | None = None,
    level: float = 0.95,
) -> Estimate:
    """Estimate the static TWFE coefficient on the treated-and-post indicator.

    Parameters
    ----------
    df
        Long panel (one row per unit and period; unbalanced panels are allowed and used as
        they are).
    outcome, unit, time
        Column names.
    treated
        0/1 indicator of being treated in that period (absorbing: a unit cannot go from 1
        back to 0).
    cluster
        Cluster column for CR1 standard errors; default the unit.
    covariates
        Time-varying controls added linearly.
    level
        Confidence level.

    Returns
    -------
    Estimate
        ``extra`` holds the formula.
    """
    covariates = list(covariates or [])
    notes = _checks.Notes()
    d = _checks.prepare_panel(
        df,
        outcome=outcome,
        unit=unit,
        time=time,
        columns=[treated, cluster, *covariates],
        numeric=covariates,
        notes=notes,
    )
    _checks.require_absorbing(d, unit=unit, time=time, treated=treated)
    on = d[treated].to_numpy()  # a checked 0/1 indicator: it varies when min < max
    if len(on) == 0 or on.min() == on.max():
        raise _checks.fail(_checks.SOURCE, "treated indicator has no variation", column=treated)
    cl = cluster or unit
    names = {outcome: "_y", treated: "_d", unit: "_unit", time: "_time"}
    data = d.set_axis([names.get(c, c) for c in d.columns], axis=1)  # = rename, 1/6 the time
    cl_name = names.get(cl, cl)
    rhs = " + ".join(["_d", *covariates])
    formula = f"_y ~ {rhs} | _unit + _time"
    fit = fit_feols(formula, data, cl_name)
    n_clusters = int(data[cl_name].nunique())
    n_units = n_clusters if cl_name == "_unit" else int(data["_unit"].nunique())
    estimate, se = coefficient(fit, "_d")
    return Estimate.from_se(
        estimate,
        se,
        df=n_clusters - 1,
        level=level,
        n_obs=int(fit._N),
        n_units=n_units,
        n_clusters=n_clusters,
        method="TWFE (unit + time fixed effects)",
        backend=version("pyfixest"),
        extra={
            "formula": f"{outcome} ~ {' + '.join([treated, *covariates])} | {unit} + {time}",
            "cluster": cl,
            "notes": list(notes),
        },
    )
