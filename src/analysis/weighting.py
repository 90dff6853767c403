r"""Propensity scores, inverse-probability weights and covariate balance.

Model: :math:`e(x) = P(D = 1 \mid X = x) = \operatorname{logit}^{-1}(\gamma_0 + x'\gamma)`,
fitted by maximum likelihood (statsmodels ``Logit``).  Weights (Imbens 2004):

* ATT (effect on the treated): treated 1, controls :math:`e/(1-e)`;
* ATE: treated :math:`1/e`, controls :math:`1/(1-e)`;
* ATC: treated :math:`(1-e)/e`, controls 1.

Balance is judged by the standardized mean difference (Austin 2009)

.. math:: \mathrm{SMD} = \frac{\bar x_T - \bar x_C}{\sqrt{(s_T^2 + s_C^2)/2}},

with :math:`s^2` the *unweighted* sample variances (denominator :math:`n-1`) of the treated and
control groups, the same denominator before and after weighting, so that a change in SMD
reflects only the change in the means (Austin & Stuart 2015; cobalt's ``s.d.denom = "pooled"``).
|SMD| < 0.1 is the usual threshold for adequate balance.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import DataValidationError, Violation, fail

__all__ = ["balance_table", "ipw_weights", "overlap_plot", "propensity_scores"]

_SRC = "DataFrame argument"


def propensity_scores(
    df: pd.DataFrame,
    *,
    treatment: str,
    covariates: Sequence[str],
    unit: str | None = None,
) -> pd.Series:
    """Estimate propensity scores by logistic regression.

    Parameters
    ----------
    df
        Data.
    treatment
        0/1 (or boolean) treatment column.
    covariates
        Covariate columns; numeric columns enter linearly, categorical (object, category,
        bool) columns as indicators of each level but the first.  An intercept is added.
    unit
        If given, the data are a panel: treatment and covariates must be constant within
        ``unit`` (baseline characteristics), one row per unit is used and the result is indexed
        by unit.

    Returns
    -------
    pandas.Series
        ``propensity_score``, indexed like ``df`` (or by ``unit``).  ``attrs`` hold the
        coefficients, the number of observations and McFadden's pseudo R-squared.
    """
    import statsmodels
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    covariates = list(covariates)
    if not covariates:
        raise fail(_SRC, "at least one covariate is needed", column="covariates")
    data = _check_frame(df, [treatment, *covariates] + ([unit] if unit else []))
    if unit is not None:
        data = _collapse_units(data, unit, [treatment, *covariates])
    d = _binary(data[treatment], treatment)
    x = _design(data, covariates)
    x.insert(0, "const", 1.0)
    if np.linalg.matrix_rank(x.to_numpy()) < x.shape[1]:
        raise fail(
            _SRC,
            "covariates are collinear (or constant); drop redundant ones",
            column=", ".join(covariates),
            rows=list(x.columns[1:]),
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = sm.Logit(d, x).fit(disp=0, maxiter=200)
    if any(issubclass(w.category, PerfectSeparationWarning) for w in caught):
        raise fail(
            _SRC,
            "perfect separation: the covariates predict treatment exactly, so "
            "treated and controls do not overlap (propensity scores of 0 or 1)",
            column=", ".join(covariates),
        )
    ps = pd.Series(
        np.asarray(fit.predict(x), dtype=float), index=data.index, name="propensity_score"
    )
    ps.attrs = {
        "method": "logit (maximum likelihood)",
        "backend": f"statsmodels {statsmodels.__version__}",
        "coefficients": {k: float(v) for k, v in fit.params.items()},
        "n_obs": int(fit.nobs),
        "pseudo_r2": float(fit.prsquared),
        "converged": bool(fit.mle_retvals.get("converged", True)),
    }
    return ps


def ipw_weights(
    ps: pd.Series | np.ndarray | Sequence[float],
    treated: pd.Series | np.ndarray | Sequence[float],
    estimand: Literal["att", "ate", "atc"] = "att",
    *,
    normalize: bool = False,
) -> pd.Series:
    """Return inverse-probability weights for the chosen estimand.

    Parameters
    ----------
    ps
        Propensity scores, strictly between 0 and 1.
    treated
        0/1 treatment indicator aligned with ``ps`` (same index if both are Series).
    estimand
        ``"att"`` (default), ``"ate"`` or ``"atc"``; see the module docstring.
    normalize
        Rescale the weights within each group to sum to the group size (Hajek form; weighted
        means and SMDs do not change).

    Returns
    -------
    pandas.Series
        ``weight``, indexed like ``ps``.
    """
    if estimand not in ("att", "ate", "atc"):
        raise fail(
            _SRC, "estimand must be 'att', 'ate' or 'atc'", column="estimand", rows=[estimand]
        )
    ps_s = ps if isinstance(ps, pd.Series) else pd.Series(np.asarray(ps, dtype=float))
    tr_s = (
        treated
        if isinstance(treated, pd.Series)
        else pd.Series(np.asarray(treated), index=ps_s.index)
    )
    if len(ps_s) != len(tr_s) or not ps_s.index.equals(tr_s.index):
        raise fail(
            _SRC,
            "ps and treated must have the same length and index",
            column="treated",
            rows=[f"len(ps)={len(ps_s)}", f"len(treated)={len(tr_s)}"],
        )
    e = ps_s.to_numpy(dtype=float)
    bad = ps_s.index[~((e > 0) & (e < 1))].tolist()
    if bad:
        raise fail(
            _SRC, "propensity scores must lie strictly between 0 and 1", column="ps", rows=bad
        )
    d = _binary(tr_s, "treated").to_numpy()
    if estimand == "att":
        w = np.where(d == 1, 1.0, e / (1 - e))
    elif estimand == "ate":
        w = np.where(d == 1, 1 / e, 1 / (1 - e))
    else:
        w = np.where(d == 1, (1 - e) / e, 1.0)
    if normalize:
        for grp in (0, 1):
            m = d == grp
            w[m] = w[m] * m.sum() / w[m].sum()
    out = pd.Series(w, index=ps_s.index, name="weight")
    out.attrs = {"estimand": estimand, "normalized": bool(normalize)}
    return out


def balance_table(
    df: pd.DataFrame,
    *,
    treatment: str,
    covariates: Sequence[str],
    weights: pd.Series | np.ndarray | str | None = None,
) -> pd.DataFrame:
    """Covariate balance between treated and controls, before and after weighting.

    Parameters
    ----------
    df
        Data.
    treatment
        0/1 treatment column.
    covariates
        Columns to compare; categorical columns are expanded to one indicator per level.
    weights
        Optional weights: a column name, a Series aligned with ``df`` or an array of
        ``len(df)`` non-negative values.

    Returns
    -------
    pandas.DataFrame
        One row per covariate (or level): ``covariate``, ``mean_treated``, ``mean_control``
        (unweighted), ``smd_unweighted``, ``smd_weighted`` (NaN without weights),
        ``variance_ratio`` (treated / control variance; weighted when weights are given),
        ``mean_treated_weighted``, ``mean_control_weighted``.  SMDs use the pooled unweighted
        standard deviation (module docstring); if it is 0 the SMD is 0 when the means agree and
        ``inf`` otherwise.
    """
    covariates = list(covariates)
    if not covariates:
        raise fail(_SRC, "at least one covariate is needed", column="covariates")
    wcol = [weights] if isinstance(weights, str) else []
    data = _check_frame(df, [treatment, *covariates, *wcol])
    d = _binary(data[treatment], treatment).to_numpy()
    x = _design(data, covariates, drop_first=False)
    w = None if weights is None else _weights(data, weights)
    if w is not None:
        for grp, label in ((1, "treated"), (0, "control")):
            if w[d == grp].sum() <= 0:
                raise fail(_SRC, f"weights of the {label} group sum to zero", column="weights")
    rows = []
    t, c = d == 1, d == 0
    for name in x.columns:
        v = x[name].to_numpy(dtype=float)
        mt, mc = v[t].mean(), v[c].mean()
        vt, vc = v[t].var(ddof=1), v[c].var(ddof=1)
        sd = np.sqrt((vt + vc) / 2)
        row = {
            "covariate": name,
            "mean_treated": mt,
            "mean_control": mc,
            "smd_unweighted": _smd(mt, mc, sd),
            "smd_weighted": np.nan,
            "variance_ratio": vt / vc if vc > 0 else np.nan,
            "mean_treated_weighted": np.nan,
            "mean_control_weighted": np.nan,
        }
        if w is not None:
            wmt, wvt = _wmean_var(v[t], w[t])
            wmc, wvc = _wmean_var(v[c], w[c])
            row.update(
                smd_weighted=_smd(wmt, wmc, sd),
                variance_ratio=wvt / wvc if wvc > 0 else np.nan,
                mean_treated_weighted=wmt,
                mean_control_weighted=wmc,
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs = {
        "smd_denominator": "pooled unweighted SD: sqrt((s_T^2 + s_C^2) / 2)",
        "n_treated": int(t.sum()),
        "n_control": int(c.sum()),
    }
    return out


def overlap_plot(
    ps: pd.Series | np.ndarray | Sequence[float],
    treated: pd.Series | np.ndarray | Sequence[float],
    *,
    bins: int = 20,
    ax: Any = None,
) -> Any:
    """Return a Figure with the propensity-score histograms of treated and controls.

    Treated above the axis, controls mirrored below it, on common bins over [0, 1]: regions
    where one group has mass and the other none lack overlap.
    """
    import matplotlib.pyplot as plt

    e = np.asarray(ps, dtype=float)
    d = _binary(pd.Series(np.asarray(treated)), "treated").to_numpy()
    if e.shape != d.shape:
        raise fail(
            _SRC,
            "ps and treated must have the same length",
            column="treated",
            rows=[f"len(ps)={e.size}", f"len(treated)={d.size}"],
        )
    bad = np.flatnonzero(~((e >= 0) & (e <= 1))).tolist()
    if bad:
        raise fail(_SRC, "propensity scores must lie in [0, 1]", column="ps", rows=bad)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    edges = np.linspace(0, 1, bins + 1)
    ht, _ = np.histogram(e[d == 1], bins=edges)
    hc, _ = np.histogram(e[d == 0], bins=edges)
    width = np.diff(edges)
    ax.bar(
        edges[:-1],
        ht,
        width=width,
        align="edge",
        color="tab:orange",
        alpha=0.8,
        label=f"treated (n={int((d == 1).sum())})",
    )
    ax.bar(
        edges[:-1],
        -hc,
        width=width,
        align="edge",
        color="tab:blue",
        alpha=0.8,
        label=f"control (n={int((d == 0).sum())})",
    )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("propensity score")
    ax.set_ylabel("count (controls below the axis)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _check_frame(df: Any, columns: Sequence[str]) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise fail(_SRC, "df must be a pandas DataFrame", rows=[type(df).__name__])
    cols = list(dict.fromkeys(columns))
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataValidationError(
            _SRC, [Violation("column not found in the data", c) for c in missing]
        )
    violations = []
    for c in cols:
        bad = df.index[df[c].isna()].tolist()
        if bad:
            violations.append(
                Violation("missing values are not allowed", c, tuple(bad[:20]), n_rows=len(bad))
            )
    if violations:
        raise DataValidationError(_SRC, violations)
    return df[cols]


def _binary(s: pd.Series, name: str) -> pd.Series:
    if s.isna().any():
        raise fail(
            _SRC, "missing values are not allowed", column=name, rows=s.index[s.isna()].tolist()
        )
    if pd.api.types.is_bool_dtype(s):
        s = s.astype(int)
    ok = s.isin([0, 1])
    if not ok.all():
        raise fail(
            _SRC, "treatment must be 0/1 (or boolean)", column=name, rows=s.index[~ok].tolist()
        )
    s = s.astype(int)
    if s.nunique() < 2:
        raise fail(
            _SRC,
            "both treated (1) and control (0) observations are needed",
            column=name,
            rows=[f"only value {int(s.iloc[0])}"],
        )
    return s


def _design(data: pd.DataFrame, covariates: Sequence[str], drop_first: bool = True) -> pd.DataFrame:
    parts = []
    for c in covariates:
        col = data[c]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            parts.append(col.astype(float).rename(c))
        else:
            parts.append(
                pd.get_dummies(
                    col.astype("category"),
                    prefix=c,
                    prefix_sep="=",
                    drop_first=drop_first,
                    dtype=float,
                )
            )
    return pd.concat(parts, axis=1)


def _collapse_units(data: pd.DataFrame, unit: str, cols: Sequence[str]) -> pd.DataFrame:
    g = data.groupby(unit, sort=True)
    violations = []
    for c in cols:
        n = g[c].nunique(dropna=False)
        varying = n.index[n > 1].tolist()
        if varying:
            violations.append(
                Violation(
                    f"must be constant within each {unit} (use baseline values)",
                    c,
                    tuple(varying[:20]),
                    n_rows=len(varying),
                )
            )
    if violations:
        raise DataValidationError(_SRC, violations)
    return g[list(cols)].first()


def _weights(data: pd.DataFrame, weights: Any) -> np.ndarray:
    if isinstance(weights, str):
        w = data[weights]
    elif isinstance(weights, pd.Series):
        if not weights.index.equals(data.index):
            raise fail(
                _SRC,
                "weights must have the same index as df",
                column="weights",
                rows=[f"len(weights)={len(weights)}", f"len(df)={len(data)}"],
            )
        w = weights
    else:
        arr = np.asarray(weights, dtype=float)
        if arr.shape != (len(data),):
            raise fail(
                _SRC,
                "weights must have one value per row of df",
                column="weights",
                rows=[f"len(weights)={arr.size}", f"len(df)={len(data)}"],
            )
        w = pd.Series(arr, index=data.index)
    w = w.astype(float)
    bad = w.index[~(np.isfinite(w) & (w >= 0))].tolist()
    if bad:
        raise fail(_SRC, "weights must be finite and non-negative", column="weights", rows=bad)
    return w.to_numpy()


def _wmean_var(v: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and unbiased (reliability-weights) weighted variance."""
    sw = w.sum()
    m = float(np.sum(w * v) / sw)
    denom = sw - np.sum(w**2) / sw
    var = float(np.sum(w * (v - m) ** 2) / denom) if denom > 0 else np.nan
    return m, var


def _smd(mt: float, mc: float, sd: float) -> float:
    diff = mt - mc
    if sd > 0:
        return float(diff / sd)
    return 0.0 if diff == 0 else float(np.sign(diff) * np.inf)
