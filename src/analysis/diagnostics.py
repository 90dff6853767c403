r"""Diagnostics of difference-in-differences designs.

:func:`bacon_decomposition` — Goodman-Bacon (2021): in a balanced panel with staggered,
absorbing treatment, the static TWFE coefficient is a weighted average of all 2×2 DiD
comparisons between timing groups,

.. math:: \hat\beta^{TWFE} = \sum_k s_k \hat\beta^{2\times2}_k, \qquad \sum_k s_k = 1,

where the comparisons are treated vs never treated, earlier- vs later-treated (later group
not yet treated) and later- vs earlier-treated (the "forbidden" comparison that uses
already-treated units as controls).  The weights depend on group sizes and the variance of
treatment within each pair.  Computed with diff-diff's ``BaconDecomposition`` (exact
variance weights).

(The HonestDiD sensitivity analysis lives in :mod:`analysis.honest`.)
"""

from __future__ import annotations

import pandas as pd

from analysis.did import _checks
from analysis.did._inference import quiet_backend
from analysis.errors import fail


def bacon_decomposition(
    df: pd.DataFrame, *, outcome: str, unit: str, time: str, treated: str
) -> pd.DataFrame:
    """Decompose the static TWFE coefficient into 2×2 comparisons (Goodman-Bacon 2021).

    Parameters
    ----------
    df
        Balanced long panel (the decomposition theorem needs one).
    outcome, unit, time
        Column names.
    treated
        0/1 treated-and-post indicator, absorbing within unit.

    Returns
    -------
    pandas.DataFrame
        One row per comparison: ``comparison`` (``treated_vs_never``, ``earlier_vs_later``,
        ``later_vs_earlier``), ``treated_cohort``, ``control_cohort`` (``"never"`` for
        never-treated), ``weight``, ``estimate``, ``n_treated``, ``n_control``.
        ``attrs["twfe_estimate"]`` holds the TWFE coefficient the weighted estimates add up
        to, ``attrs["decomposition_error"]`` the numerical gap.

    Raises
    ------
    DataValidationError
        Missing columns, non-numeric outcome, duplicated unit-time rows, a non-absorbing
        treatment, an unbalanced panel or missing outcomes.
    """
    import diff_diff

    notes = _checks.Notes()
    d = _checks.prepare_panel(
        df, outcome=outcome, unit=unit, time=time, columns=[treated], numeric=[], notes=notes
    )
    if notes:
        raise fail(
            _checks.SOURCE,
            "the Bacon decomposition needs a complete balanced panel; "
            "the outcome has missing values",
            column=outcome,
            rows=list(df.index[df[outcome].isna()]),
        )
    n_periods = d[time].nunique()
    counts = d.groupby(unit)[time].transform("nunique")
    if (counts < n_periods).any():
        raise fail(
            _checks.SOURCE,
            "the Bacon decomposition needs a balanced panel (every unit observed in every period)",
            column=unit,
            rows=list(d.index[counts < n_periods]),
        )
    d["_cohort"] = _checks.cohort_from_indicator(
        d, unit=unit, time=time, treated=treated
    ).to_numpy()
    with quiet_backend():
        res = diff_diff.BaconDecomposition(weights="exact").fit(
            d, outcome=outcome, unit=unit, time=time, first_treat="_cohort"
        )
    raw = res.to_dataframe()

    def _label(v: object) -> object:
        return "never" if v == "never_treated" else v

    out = pd.DataFrame(
        {
            "comparison": raw["comparison_type"].to_numpy(),
            "treated_cohort": raw["treated_group"].map(_label).to_numpy(),
            "control_cohort": raw["control_group"].map(_label).to_numpy(),
            "weight": raw["weight"].to_numpy(float),
            "estimate": raw["estimate"].to_numpy(float),
            "n_treated": raw["n_treated"].to_numpy(),
            "n_control": raw["n_control"].to_numpy(),
        }
    )
    out.attrs["twfe_estimate"] = float(res.twfe_estimate)
    out.attrs["decomposition_error"] = float(res.decomposition_error)
    return out
