r"""Imputation-type estimators: Borusyak-Jaravel-Spiess (2024) and Gardner's two-stage DiD.

Model
-----
Untreated potential outcomes follow :math:`Y_{it}(0) = \alpha_i + \lambda_t +
\varepsilon_{it}`.  The fixed effects are fitted on untreated observations only
(never-treated units and treated units before their cohort), each treated observation's
:math:`Y_{it}(0)` is imputed, and the static ATT is the average of
:math:`\hat\tau_{it} = Y_{it} - \hat\alpha_i - \hat\lambda_t` over treated observations
(every treated observation weighted equally).

* :func:`imputation` — BJS; standard error from their conservative variance (Theorem 3),
  via diff-diff's ``ImputationDiD`` (matches R ``didimputation``).
* :func:`two_stage` — Gardner (2022) two-stage DiD: same point estimate (the second-stage
  regression of the residualised outcome on the treatment dummy reproduces the imputation
  average), GMM standard error that accounts for the first stage, via diff-diff's
  ``TwoStageDiD`` (matches R ``did2s``).

* :func:`etwfe` — Wooldridge's (2021) extended TWFE: one regression with unit and time
  fixed effects and a dummy for every treated cohort × post-treatment period cell,
  :math:`Y_{it} = \alpha_i + \lambda_t + \sum_{g}\sum_{t \ge g} \tau_{gt}
  1\{G_i = g, t\} + \varepsilon_{it}`, the ATT being the average of :math:`\hat\tau_{gt}`
  weighted by the number of treated observations in each cell.  It equals the imputation
  point estimate, and it is what fixest's ``sunab(cohort, period, att = TRUE)`` reports
  (on mpdta: -0.04771, SE 0.013265 clustered by county), because that call keeps only the
  post-treatment interactions.  Computed with diff-diff's ``WooldridgeDiD`` (CR1 clustered
  standard errors, fixest's small-sample convention).

All cluster by unit unless ``cluster`` is given.  Unbalanced panels are used as they are;
rows with a missing outcome are dropped, units whose cohort is after the last period count
as never treated and units treated in the first period (no untreated observation) are
dropped — each warned about and listed in ``Estimate.extra["notes"]``.
"""

from __future__ import annotations

import pandas as pd

from analysis._util import version
from analysis.did import _checks
from analysis.did._inference import quiet_backend
from analysis.did.event_study import _scalable_gmm_variance, integer_ids
from analysis.estimate import Estimate


def _fit(
    kind: str,
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    cluster: str | None,
    level: float,
):
    import diff_diff

    notes = _checks.Notes()
    d = _checks.prepare_cohort_panel(
        df, outcome=outcome, unit=unit, time=time, cohort=cohort, columns=[cluster], notes=notes
    )
    cl = cluster or unit
    if cl != unit:
        _checks.require_nested(d, unit=unit, cluster=cl)
    cls = diff_diff.ImputationDiD if kind == "imputation" else diff_diff.TwoStageDiD
    with quiet_backend(), _scalable_gmm_variance():
        res = cls(cluster=cl, alpha=1 - level).fit(
            integer_ids(d, [unit, cl]), outcome=outcome, unit=unit, time=time, first_treat="_cohort"
        )
    return res, d, cl, notes


def imputation(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    cluster: str | None = None,
    level: float = 0.95,
) -> Estimate:
    """Borusyak-Jaravel-Spiess imputation estimate of the static ATT.

    Parameters
    ----------
    df
        Long panel.
    outcome, unit, time
        Column names.
    cohort
        First treated period (0 or missing = never treated).
    cluster
        Cluster column (default the unit).
    level
        Confidence level.

    Returns
    -------
    Estimate
    """
    res, d, cl, notes = _fit(
        "imputation",
        df,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        cluster=cluster,
        level=level,
    )
    return Estimate.from_se(
        float(res.overall_att),
        float(res.overall_se),
        level=level,
        n_obs=len(d),
        n_units=int(d[unit].nunique()),
        n_clusters=int(d[cl].nunique()),
        method="Imputation DiD (Borusyak-Jaravel-Spiess), static ATT",
        backend=version("diff-diff"),
        extra={"cluster": cl, "n_treated_obs": int(res.n_treated_obs), "notes": list(notes)},
    )


def two_stage(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    cluster: str | None = None,
    level: float = 0.95,
) -> Estimate:
    """Gardner two-stage DiD (``did2s``) estimate of the static ATT.

    Parameters are those of :func:`imputation`.
    """
    res, d, cl, notes = _fit(
        "two_stage",
        df,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        cluster=cluster,
        level=level,
    )
    return Estimate.from_se(
        float(res.overall_att),
        float(res.overall_se),
        level=level,
        n_obs=len(d),
        n_units=int(d[unit].nunique()),
        n_clusters=int(d[cl].nunique()),
        method="Two-stage DiD (Gardner), static ATT",
        backend=version("diff-diff"),
        extra={"cluster": cl, "notes": list(notes)},
    )


def etwfe(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    cluster: str | None = None,
    level: float = 0.95,
) -> Estimate:
    """Estimate the extended-TWFE (Wooldridge 2021) static ATT = fixest ``sunab(att=TRUE)``.

    Parameters are those of :func:`imputation`.  The p-value and interval use a
    t-distribution with :math:`G-1` degrees of freedom (fixest's convention).
    """
    import diff_diff

    notes = _checks.Notes()
    d = _checks.prepare_cohort_panel(
        df, outcome=outcome, unit=unit, time=time, cohort=cohort, columns=[cluster], notes=notes
    )
    cl = cluster or unit
    if cl != unit:
        _checks.require_nested(d, unit=unit, cluster=cl)
    with quiet_backend():
        res = diff_diff.WooldridgeDiD(cluster=cl, alpha=1 - level).fit(
            d, outcome=outcome, unit=unit, time=time, first_treat="_cohort"
        )
    n_clusters = int(d[cl].nunique())
    return Estimate.from_se(
        float(res.overall_att),
        float(res.overall_se),
        df=n_clusters - 1,
        level=level,
        n_obs=len(d),
        n_units=int(d[unit].nunique()),
        n_clusters=n_clusters,
        method="Extended TWFE (Wooldridge) = fixest sunab(att=TRUE), static ATT",
        backend=version("diff-diff"),
        extra={"cluster": cl, "notes": list(notes)},
    )
