"""Callaway–Sant'Anna on an unbalanced panel (``did.staggered(..., allow_unbalanced=True)``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis._util import readonly, version
from analysis.did import _checks
from analysis.did._inference import quiet_backend
from analysis.did.staggered import _CONTROL, StaggeredResult, _check_options, _prepare


def staggered_unbalanced(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    control: str = "never",
    method: str = "dr",
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    anticipation: int = 0,
    base_period: str = "varying",
    level: float = 0.95,
) -> StaggeredResult:
    r"""Callaway-Sant'Anna ATT(g,t) on an unbalanced panel (cell-wise balanced).

    Same model, estimand, options and result as :func:`analysis.did.staggered` (see there),
    except for the data rule: units are **not** required to be observed in every period.
    Each :math:`ATT(g,t)` uses the units of cohort :math:`g` and of the control group that
    are observed (with outcome and covariates) in both the base period and :math:`t`:

    .. math:: \widehat{ATT}(g,t) = \frac{1}{n_{g,t}} \sum_{i \in g,\,obs(b,t)}
              (Y_{it} - Y_{ib}) - \widehat{E}[Y_t - Y_b \mid C,\,obs(b,t)]

    (``"reg"``/``"ipw"``/``"dr"`` adjust the second term for covariates).  It identifies
    :math:`ATT(g,t)` among the cohort's units still observed at :math:`t` when being observed
    is unrelated to the untreated trend :math:`Y_t(0) - Y_b(0)`.  Computed by diff-diff's
    ``CallawaySantAnna`` (its within-cell panel differencing for unbalanced panels); the
    per-unit influence functions of each cell (zero for units not in the cell) feed
    :class:`analysis.did.StaggeredResult`, so every aggregation and its clustered variance
    are the package's.  With a balanced panel the result equals ``did.staggered``.

    Written here because ``did.staggered``'s default balances the panel first (R ``did``'s
    default), which on school registers drops every pupil: pupils are enrolled 3–5 years, so
    none is observed in every year of a longer window.  R ``did`` offers the same choice as
    ``allow_unbalanced_panel = TRUE``.

    Returns
    -------
    analysis.did.StaggeredResult
        ``notes`` records the rows dropped for missing values and that the panel was used
        unbalanced.
    """
    import diff_diff

    _check_options(control=control, method=method, base_period=base_period)
    covariates = list(covariates or [])
    notes = _checks.Notes()
    d = _prepare(
        df,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        cluster=cluster,
        control=control,
        anticipation=anticipation,
        notes=notes,
        balance=False,
    )
    periods = np.sort(d[time].unique())
    counts = d.groupby(unit)[time].nunique()
    if (counts < len(periods)).any():
        notes.add(
            f"unbalanced panel used cell by cell: {int((counts < len(periods)).sum())} of "
            f"{len(counts)} units are not observed in all {len(periods)} periods; each "
            "ATT(g,t) uses the units observed in its base period and in t"
        )

    est = diff_diff.CallawaySantAnna(
        control_group=_CONTROL[control],
        estimation_method=method,
        anticipation=anticipation,
        base_period=base_period,
        alpha=1 - level,
        n_bootstrap=0,
    )
    with quiet_backend(), warnings.catch_warnings():
        # diff-diff's warnings (unbalanced panel, non-estimable cells, small propensity
        # samples) are replaced by the notes recorded here
        warnings.simplefilter("ignore")
        res = est.fit(
            d,
            outcome=outcome,
            unit=unit,
            time=time,
            first_treat="_cohort",
            covariates=covariates or None,
        )
    kit = getattr(res, "_aggregation_kit", None)
    if kit is None:  # pragma: no cover - guards a diff-diff upgrade
        raise RuntimeError("diff-diff result carries no influence functions")
    by_unit = d.groupby(unit)["_cohort"].first()
    all_units = by_unit.index.to_numpy()
    unit_cohort = np.asarray(kit.bookkeeping["unit_cohorts"], dtype=float)
    unit_cohort = np.where(np.isfinite(unit_cohort), unit_cohort, 0.0)
    if len(unit_cohort) != len(all_units) or not np.array_equal(
        unit_cohort, by_unit.to_numpy(float)
    ):
        raise RuntimeError("cannot align diff-diff's influence functions with the units")
    cells = sorted(res.group_time_effects)
    finite = [np.isfinite(res.group_time_effects[c]["effect"]) for c in cells]
    if not all(finite):
        skipped = [c for c, ok in zip(cells, finite, strict=True) if not ok]
        notes.add(
            f"{len(skipped)} ATT(g,t) without units observed in both periods left out: "
            + ", ".join(f"(g={int(a)}, t={int(b)})" for a, b in skipped[:5])
        )
        cells = [c for c, ok in zip(cells, finite, strict=True) if ok]
    psi = np.zeros((len(all_units), len(cells)))
    for j, c in enumerate(cells):
        info = kit.influence.get(c)
        if info is None:
            continue
        psi[np.asarray(info["treated_idx"], dtype=int), j] += info["treated_inf"]
        psi[np.asarray(info["control_idx"], dtype=int), j] += info["control_inf"]
    is_ref = [bool(res.group_time_effects[c].get("is_reference", False)) for c in cells]
    if cluster is not None and cluster != unit:
        cl = d.groupby(unit)[cluster].first().reindex(all_units)
        codes, uniq = pd.factorize(cl.to_numpy())
        n_clusters = len(uniq)
    else:
        codes, n_clusters = np.arange(len(all_units)), len(all_units)
    return StaggeredResult(
        cohort=readonly([c[0] for c in cells], float),
        time=readonly([c[1] for c in cells], float),
        att=readonly([res.group_time_effects[c]["effect"] for c in cells], float),
        is_reference=readonly(is_ref, bool),
        psi=readonly(psi, float),
        unit_cohort=readonly(unit_cohort, float),
        unit_cluster=readonly(codes, int),
        control=control,
        method=method,
        base_period=base_period,
        anticipation=anticipation,
        covariates=tuple(covariates),
        level=level,
        n_obs=len(d),
        n_units=len(all_units),
        n_clusters=int(n_clusters),
        cluster=cluster,
        backend=f"{version('diff-diff')} (unbalanced, cell-wise)",
        notes=tuple(notes),
    )
