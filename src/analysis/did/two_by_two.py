r"""The canonical 2×2 difference-in-differences, as a regression.

Model
-----
.. math:: Y_{it} = a + b\,T_i + c\,P_t + \delta\,(T_i \times P_t) + X_{it}'\gamma
          + \varepsilon_{it}

with :math:`T_i` the treated-group indicator and :math:`P_t` the post-period indicator.
Without covariates :math:`\hat\delta` equals the difference of the four cell means,
:math:`(\bar Y_{T,post} - \bar Y_{T,pre}) - (\bar Y_{C,post} - \bar Y_{C,pre})`.
Estimated by OLS with statsmodels.  With ``cluster`` (e.g. the pupil or store id in a
two-wave panel) standard errors are cluster-robust (CR1, statsmodels' small-sample factor
:math:`\frac{G}{G-1}\frac{N-1}{N-K}`, t with :math:`G-1` df); without it they are HC1
(appropriate for repeated cross-sections only: with a panel, ignoring the pairing of a unit's
two observations overstates the standard error of a positive within-unit correlation).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis._util import version
from analysis.did import _checks
from analysis.estimate import Estimate


def did_2x2(
    df: pd.DataFrame,
    *,
    outcome: str,
    treated: str,
    post: str,
    cluster: str | None = None,
    covariates: Sequence[str] | None = None,
    level: float = 0.95,
) -> Estimate:
    r"""Estimate the 2×2 DiD coefficient :math:`\delta` on treated × post.

    Parameters
    ----------
    df
        One row per unit and period (panel) or per observation (repeated cross-sections).
    outcome
        Outcome column (numeric; rows with a missing outcome are dropped, with a warning).
    treated, post
        0/1 indicators of the treated group and of the post period.
    cluster
        Column to cluster standard errors on (unit id for panels); ``None`` for HC1.
    covariates
        Additional controls.
    level
        Confidence level.

    Returns
    -------
    Estimate
        ``extra`` holds the four cell means (without covariates they reproduce the
        estimate) and the cell sizes.
    """
    import statsmodels.api as sm

    covariates = list(covariates or [])
    notes = _checks.Notes()
    _checks.require_frame(df)
    _checks.require_columns(df, [outcome, treated, post, cluster, *covariates])
    _checks.require_numeric(df, outcome)
    for col in covariates:
        _checks.require_numeric(df, col)
    _checks.require_binary(df, treated)
    _checks.require_binary(df, post)
    # On arrays (issue 14: the checks and the copy of the rows cost twice the regression of a
    # 2x2 on a few hundred rows): the rows with a missing outcome or covariate are dropped from
    # the columns' arrays, with the wording of _checks.drop_missing_rows.
    col = {c: df[c] for c in dict.fromkeys([outcome, treated, post, *covariates])}
    mask: np.ndarray | None = None
    missing = []
    for c in [outcome, *covariates]:
        na = _checks.isna(col[c])
        if na is not None and na.any():
            mask = na if mask is None else mask | na
            missing.append(c)
    if mask is not None:
        _checks.record_missing_rows(int(mask.sum()), missing, notes)

    def kept(c: str) -> np.ndarray:
        """Column ``c`` as floats, rows kept."""
        v = col[c].to_numpy(dtype=float, na_value=np.nan)
        return v if mask is None else v[~mask]

    if cluster:
        cl = df[cluster].to_numpy()
        cl_na = _checks.isna(df[cluster])
        if mask is not None:
            cl = cl[~mask]
            cl_na = None if cl_na is None else cl_na[~mask]
        if cl_na is not None and cl_na.any():  # raised with the frame check's wording (rows)
            rows = df.index if mask is None else df.index[~mask]
            _checks.require_no_missing(df.loc[rows, [cluster]], cluster)
    tr = kept(treated)
    po = kept(post)
    y = kept(outcome)
    n_obs = len(y)
    cells = {(a, b): int(((tr == a) & (po == b)).sum()) for a in (0, 1) for b in (0, 1)}
    empty = [k for k, n in cells.items() if n == 0]
    if empty:
        raise _checks.fail(
            _checks.SOURCE,
            f"every treated x post cell needs observations; empty (treated, post) cells: {empty}",
            column=treated,
        )
    x = np.column_stack(
        [np.ones(n_obs), tr, po, tr * po, *[kept(c) for c in covariates]]
        if covariates
        else [np.ones(n_obs), tr, po, tr * po]
    )
    names = ["const", treated, post, f"{treated}:{post}", *covariates]
    model = sm.OLS(y, pd.DataFrame(x, columns=names))
    if cluster:
        groups, uniq = pd.factorize(cl)
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
        n_clusters = len(uniq)  # groups.max() + 1 and nunique(): no missing cluster (checked)
        dof = n_clusters - 1
    else:
        fit = model.fit(cov_type="HC1")
        n_clusters, dof = None, None
    term = f"{treated}:{post}"
    means = {
        f"treated={a},post={b}": float(y[(tr == a) & (po == b)].mean())
        for a in (0, 1)
        for b in (0, 1)
    }
    return Estimate.from_se(
        float(fit.params[term]),
        float(fit.bse[term]),
        df=dof,
        level=level,
        n_obs=n_obs,
        n_units=n_clusters,
        n_clusters=n_clusters,
        method="2x2 DiD (OLS, treated x post)",
        backend=version("statsmodels"),
        extra={
            "cell_means": means,
            "cell_sizes": {f"treated={a},post={b}": n for (a, b), n in cells.items()},
            "se_type": "cluster CR1" if cluster else "HC1",
            "notes": list(notes),
        },
    )
