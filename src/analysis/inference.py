"""Inference with few clusters: wild cluster bootstrap and randomization inference.

With a few dozen schools (or fewer), cluster-robust standard errors are too small and t-tests
over-reject.  Two remedies:

* :func:`wild_cluster_bootstrap` — the restricted wild cluster bootstrap (WCR; Cameron,
  Gelbach & Miller 2008; MacKinnon & Webb 2018) of one coefficient of a linear model, with
  Rademacher or Webb weights.  p-value from the bootstrap distribution of the studentized
  statistic; CI by test inversion (the nulls the bootstrap test does not reject).
* :func:`randomization_inference` — Fisher randomization inference: re-assign treatment
  (cohorts permuted across schools, or units) and recompute the estimator.  Valid in finite
  samples under the sharp null of no effect for anyone when assignment is exchangeable.
* :func:`reassign_participation` / :func:`participation_randomization` — the re-assignment
  of a programme with staggered editions: within each stratum (school) and edition, as many
  eligible units as actually took part are drawn at random, and randomization inference runs
  any statistic over such re-assignments.

Both randomization procedures take ``n_jobs``: the re-assignments are drawn in sequence from
the one documented generator in the calling process and the statistic is recomputed in
parallel (:func:`analysis.replicate.run_tasks`), so the results do not depend on the number of
workers.  The wild cluster bootstrap is vectorised over replications (no loop to spread).
"""

from __future__ import annotations

import contextlib
import math
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import DataValidationError, fail
from analysis.estimate import Estimate
from analysis.replicate import resolve_jobs, run_tasks

__all__ = [
    "WEBB_BELOW_CLUSTERS",
    "RandomizationResult",
    "participation_randomization",
    "randomization_inference",
    "reassign_participation",
    "wild_cluster_bootstrap",
]

_SRC = "DataFrame argument"

#: ``weights_type="auto"`` uses Webb's six-point weights below this many clusters (Rademacher
#: weights have only :math:`2^G` distinct draws; MacKinnon & Webb 2018 advise Webb's below ~12).
WEBB_BELOW_CLUSTERS = 12


# ============================================================================================
# Wild cluster bootstrap
# ============================================================================================


@dataclass(frozen=True)
class _Design:
    y: np.ndarray
    x: np.ndarray
    names: list[str]
    clusters: np.ndarray
    absorbed: list[str]
    dummied: list[str]
    k_extra: int = 0  # parameters absorbed but counted by fixest's small-sample correction


def wild_cluster_bootstrap(
    df: pd.DataFrame,
    *,
    param: str,
    cluster: str,
    formula: str | None = None,
    outcome: str | None = None,
    regressors: Sequence[str] = (),
    fixed_effects: Sequence[str] = (),
    reps: int = 999,
    weights_type: Literal["rademacher", "webb", "auto"] = "rademacher",
    impose_null: bool = True,
    null: float = 0.0,
    level: float = 0.95,
    seed: int | None = None,
) -> Estimate:
    r"""Wild cluster bootstrap test and confidence interval for one coefficient.

    Model: :math:`y_{ig} = x_{ig}'\beta + \alpha_{f(i)} + u_{ig}` estimated by OLS, errors
    correlated within cluster :math:`g`; :math:`H_0: \beta_j = \beta_j^0` (``null``).

    WCR (``impose_null=True``, default; delegated to ``diff_diff.utils.wild_bootstrap_se``,
    which reproduces R's ``fwildclusterboot::boottest`` defaults): fit the model with
    :math:`H_0` imposed, draw cluster weights :math:`v_g` (Rademacher :math:`\pm 1`, or Webb's
    six-point law, better below ~12 clusters), build
    :math:`y^* = \tilde y + \tilde u \, v_g`, re-estimate and studentize with the CR1 standard
    error, :math:`t^* = (\hat\beta^*_j - \beta^0_j)/\widehat{se}^*`.  The p-value is the share of
    :math:`|t^*| > |t|` (a strict inequality, floored at ``1/(reps+1)``); the CI inverts the test
    (bisection over :math:`\beta^0_j`).  With Rademacher weights and :math:`2^G \le` ``reps``
    all :math:`2^G` sign vectors are enumerated.

    WCU (``impose_null=False``; written here because diff-diff only has WCR): residuals of the
    unrestricted fit are resampled, :math:`t^* = (\hat\beta^*_j - \hat\beta_j)/\widehat{se}^*`,
    p-value as above, CI by percentile-t: :math:`\hat\beta_j \pm q_{level}(|t^*|)\,\widehat{se}`.

    Fixed effects nested in the clusters (e.g. school effects with school clusters) are
    absorbed by demeaning, which leaves the bootstrap unchanged; other fixed effects (e.g. year)
    enter as dummies.

    Parameters
    ----------
    df
        Data, one row per observation.
    param
        The coefficient tested: a regressor name (a column name of the design; with a formula,
        as formulaic names it, e.g. ``"treated:post"``).
    cluster
        Column with the cluster identifier (e.g. school).
    formula
        ``"y ~ x1 + x2 | fe1 + fe2"`` (formulaic syntax left of ``|``, fixed-effect columns
        right of it).  Alternatively ``outcome``, ``regressors`` and ``fixed_effects``.
    outcome, regressors, fixed_effects
        Column names (numeric regressors; an intercept is added unless fixed effects
        absorb it).
    reps
        Bootstrap replications (``B``).
    weights_type
        ``"rademacher"``, ``"webb"``, or ``"auto"``: Webb below
        :data:`WEBB_BELOW_CLUSTERS` clusters, Rademacher otherwise (``extra["weights_type"]``
        records the one used).
    impose_null
        WCR (``True``) or WCU (``False``).
    null
        Value of the coefficient under :math:`H_0`.
    level
        Confidence level of the interval.
    seed
        Seed of the weights (``np.random.default_rng``).

    Returns
    -------
    Estimate
        ``se`` is the analytic CR1 standard error (which studentizes the test); ``p_value`` and
        ``ci_low``/``ci_high`` are the bootstrap ones.  ``extra`` holds the analytic CR1
        p-value and CI (t with G-1 df), replications used, weights and the CI method.
    """
    if weights_type not in ("rademacher", "webb", "auto"):
        raise fail(
            _SRC,
            "weights_type must be 'rademacher', 'webb' or 'auto'",
            column="weights_type",
            rows=[weights_type],
        )
    if not (0 < level < 1):
        raise fail(_SRC, "level must lie strictly between 0 and 1", column="level", rows=[level])
    if int(reps) < 9:
        raise fail(_SRC, "reps must be at least 9", column="reps", rows=[reps])
    design = _build_design(
        df,
        formula=formula,
        outcome=outcome,
        regressors=regressors,
        fixed_effects=fixed_effects,
        cluster=cluster,
    )
    if param not in design.names:
        raise fail(
            _SRC,
            f"param is not a regressor of the model (regressors: {design.names})",
            column=param,
        )
    j = design.names.index(param)
    n, k = design.x.shape
    codes, uniq = pd.factorize(design.clusters)
    g = len(uniq)
    if g < 2:
        raise fail(
            _SRC,
            "the wild cluster bootstrap needs at least 2 clusters",
            column=cluster,
            rows=list(uniq),
        )
    if weights_type == "auto":
        weights_type = "webb" if g < WEBB_BELOW_CLUSTERS else "rademacher"
    if np.linalg.matrix_rank(design.x) < k:
        raise fail(
            _SRC,
            "the regressors are collinear (after absorbing fixed effects)",
            column=param,
            rows=design.names,
        )

    beta, se_a = _ols_cr1(design.x, design.y, codes, g, j, k_extra=design.k_extra)
    df_t = g - 1
    t_crit = float(stats.t.ppf(0.5 + level / 2, df_t))
    t0 = (beta - null) / se_a
    analytic = {
        "analytic_p_value": float(2 * stats.t.sf(abs(t0), df_t)),
        "analytic_ci": [beta - t_crit * se_a, beta + t_crit * se_a],
        "analytic_df": df_t,
    }

    if impose_null:
        import diff_diff

        if n * g <= WCR_OBSERVATION_LEVEL_MAX:
            from diff_diff.utils import wild_bootstrap_se

            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Only .* clusters detected")
                res = wild_bootstrap_se(
                    design.x,
                    design.y,
                    np.zeros(n),
                    codes,
                    j,
                    n_bootstrap=int(reps),
                    weight_type=weights_type,
                    null_hypothesis=float(null),
                    alpha=1 - level,
                    seed=seed,
                )
            p_value, ci_low, ci_high = res.p_value, res.ci_lower, res.ci_upper
            b_used = res.n_bootstrap
            backend = f"diff-diff {diff_diff.__version__} (utils.wild_bootstrap_se)"
        else:
            p_value, ci_low, ci_high, b_used = _wcr_cluster_level(
                design.x, design.y, codes, g, j, int(reps), weights_type, float(null), level, seed
            )
            backend = (
                f"analysis.inference (WCR on cluster sums; diff-diff {diff_diff.__version__} "
                "weights and test inversion)"
            )
        method = f"Wild cluster bootstrap (WCR, {weights_type})"
        ci_method = "test inversion"
    else:
        p_value, ci_low, ci_high, b_used = _wcu(
            design.x,
            design.y,
            codes,
            g,
            j,
            beta,
            se_a,
            int(reps),
            weights_type,
            float(null),
            level,
            seed,
            design.k_extra,
        )
        method = f"Wild cluster bootstrap (WCU, {weights_type})"
        backend = "analysis.inference (WCU, numpy)"
        ci_method = "percentile-t (symmetric)"

    return Estimate(
        estimate=float(beta),
        se=float(se_a),
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        p_value=float(p_value),
        n_obs=int(n),
        n_clusters=int(g),
        method=method,
        backend=backend,
        level=float(level),
        extra={
            "param": param,
            "null": float(null),
            "reps": int(b_used),
            "weights_type": weights_type,
            "impose_null": bool(impose_null),
            "ci_method": ci_method,
            "t_stat": float(t0),
            "fixed_effects_absorbed": design.absorbed,
            "fixed_effects_dummies": design.dummied,
            "seed": seed,
            **analytic,
        },
    )


#: Observations × clusters above which :func:`wild_cluster_bootstrap` (WCR) works on
#: cluster sums (:func:`_wcr_cluster_level`) instead of diff-diff's observation-level
#: ``wild_bootstrap_se`` (a dense clusters × observations indicator and draws × observations
#: products: 8 GB and hours for a million-pupil register with 500 schools).
WCR_OBSERVATION_LEVEL_MAX = 20_000_000


def _wcr_cluster_level(
    x: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    g: int,
    j: int,
    reps: int,
    weights_type: str,
    null: float,
    level: float,
    seed: int | None,
) -> tuple[float, float, float, int]:
    r"""Restricted wild cluster bootstrap as diff-diff's ``wild_bootstrap_se``, on cluster sums.

    Why hand-written: diff-diff 3.13's ``wild_bootstrap_se`` (the WCR of R's ``boottest``,
    with its test-inversion interval) builds each draw at the observation level, with a dense
    clusters × observations indicator; on a million-pupil register that is 8 GB and
    :math:`B \cdot n \cdot G` operations.  The WCR statistic is linear in the cluster weights
    :math:`v` (Roodman, MacKinnon, Nielsen & Webb 2019, "fast and wild"): with
    :math:`a = X(X'X)^{-1}e_j`, restricted residuals :math:`\tilde u` (``m_y``) and the
    partialled regressor :math:`\tilde x_j` (``m_xj``), per cluster :math:`h`

    .. math:: s_h = \sum_{i \in h} a_i \tilde u_i,\quad
              D_h = \sum_{i \in h} a_i x_i,\quad
              E_h = (X'X)^{-1} \sum_{i \in h} x_i \tilde u_i

    (and the same with :math:`\tilde x_j`), the bootstrap coefficient is
    :math:`\alpha_b = a'(y - \tilde u) + v_b' s` and the bootstrap cluster scores are
    :math:`S_{bh} = v_{bh} s_h - \sum_g (D_h'E_g) v_{bg}` plus the (numerically zero) scores
    of the restricted fit: :math:`O(n k)` once and :math:`O(B G^2)` for all draws.  The
    weights (diff-diff's ``_wild_weight_matrix``, same generator and order), the quadratic form
    :math:`se^*(r)^2 \propto q_a + r q_b + r^2 q_c` in the tested value :math:`r`, the
    p-value rule and the bisection of the interval are diff-diff's, transcribed; only
    :math:`\alpha, \beta, q_a, q_b, q_c` are summed in another order and the least squares
    are numpy's (diff-diff's ``solve_ols`` took most of the time on a million rows), so
    p-values agree with ``wild_bootstrap_se`` and interval ends up to rounding of the tested
    values (its own precompute differs from its per-draw form by the same kind of rounding
    and, as it notes, leaves the discrete outputs unchanged).  ``tests/test_inference.py``
    compares both on small and medium problems.

    Returns
    -------
    (p_value, ci_low, ci_high, draws)
    """
    from diff_diff.utils import _wild_weight_matrix

    n, k_eff = x.shape  # full column rank: wild_cluster_bootstrap refuses collinear regressors
    alpha = 1 - level
    rng = np.random.default_rng(seed)
    if n <= k_eff:
        return float("nan"), float("nan"), float("nan"), reps

    def csum(v: np.ndarray) -> np.ndarray:  # per-cluster sums of the rows of v
        if v.ndim == 1:
            return np.bincount(codes, weights=v, minlength=g)
        return np.column_stack([np.bincount(codes, weights=c, minlength=g) for c in v.T])

    # least squares by numpy's SVD solver (diff-diff's solve_ols took 90 % of this function on
    # a million rows); the studentizing CR1 error with diff-diff's small-sample factor
    x_eff, j_eff = x, j
    xtx_inv = np.linalg.inv(x_eff.T @ x_eff)
    beta_hat = np.linalg.lstsq(x_eff, y, rcond=None)[0]
    coef = float(beta_hat[j])
    a = x_eff @ xtx_inv[:, j_eff]
    corr = (g / (g - 1)) * ((n - 1) / (n - k_eff))
    se_a = float(np.sqrt(corr * np.sum(csum(a * (y - x_eff @ beta_hat)) ** 2)))
    if not (np.isfinite(coef) and np.isfinite(se_a) and se_a > 0):
        return float("nan"), float("nan"), float("nan"), reps
    xj = x_eff[:, j_eff]
    x_red = np.delete(x_eff, j_eff, axis=1)
    if x_red.shape[1] == 0:
        fit_y, fit_xj = np.zeros(n), np.zeros(n)
    else:
        both = np.linalg.lstsq(x_red, np.column_stack([y, xj]), rcond=None)[0]
        fit_y, fit_xj = x_red @ both[:, 0], x_red @ both[:, 1]
    m_y, m_xj = y - fit_y, xj - fit_xj

    def residual(v: np.ndarray) -> np.ndarray:  # (I - H) v
        return v - x_eff @ (xtx_inv @ (x_eff.T @ v))

    d_mat = csum(a[:, None] * x_eff)  # (G, k): D_h
    s_y, s_x = csum(a * m_y), csum(a * m_xj)
    e_y = csum(x_eff * m_y[:, None]) @ xtx_inv  # (G, k): E_g'
    e_x = csum(x_eff * m_xj[:, None]) @ xtx_inv
    c_y = csum(a * residual(y - m_y))  # scores of the restricted fit (rounding only)
    c_x = csum(a * residual(m_xj))
    w = _wild_weight_matrix(g, reps, weights_type, rng)
    b_eff = int(w.shape[0])
    # y*(r) = A + r B with A = y - m_y (1 - w), B = m_xj (1 - w), per cluster
    alpha1 = float(a @ (y - m_y)) + w @ s_y
    beta1 = float(a @ m_xj) - w @ s_x
    score_a = c_y[None, :] + w * s_y[None, :] - w @ (d_mat @ e_y.T).T
    score_b = c_x[None, :] - w * s_x[None, :] + w @ (d_mat @ e_x.T).T
    qa = np.sum(score_a * score_a, axis=1)
    qb = 2.0 * np.sum(score_a * score_b, axis=1)
    qc = np.sum(score_b * score_b, axis=1)

    def t_star(r: float) -> np.ndarray:
        se_star = np.sqrt(corr * np.maximum(qa + r * qb + r * r * qc, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (alpha1 + r * beta1 - r) / se_star
        t[~(se_star > 0)] = np.nan
        return t

    def frac_gt(vals: np.ndarray, thresh: float) -> float:
        return float(np.mean(vals > thresh + 1e-9 * max(1.0, abs(thresh))))

    ts = t_star(null)
    ts = ts[np.isfinite(ts)]
    if ts.size < 2:
        return float("nan"), float("nan"), float("nan"), b_eff
    floor = 1.0 / (ts.size + 1)
    raw_p = frac_gt(np.abs(ts), abs((coef - null) / se_a))
    p_value = float(min(1.0, max(raw_p, floor) if floor < alpha else raw_p))

    def reject(r: float) -> float:
        t = t_star(r)
        t = t[np.isfinite(t)]
        return 0.0 if t.size < 2 else frac_gt(np.abs(t), abs((coef - r) / se_a))

    def bisect(direction: int) -> float:
        step = se_a
        hi = coef + direction * step
        for _ in range(64):
            if reject(hi) < alpha:
                break
            step *= 2.0
            hi = coef + direction * step
        else:
            return float(direction) * np.inf
        lo = coef
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            if reject(mid) >= alpha:
                lo = mid
            else:
                hi = mid
            if abs(hi - lo) <= 1e-10 * max(1.0, abs(coef)):
                break
        return 0.5 * (lo + hi)

    return p_value, float(bisect(-1)), float(bisect(+1)), b_eff


def _build_design(
    df: pd.DataFrame,
    *,
    formula: str | None,
    outcome: str | None,
    regressors: Sequence[str],
    fixed_effects: Sequence[str],
    cluster: str,
) -> _Design:
    """Validate the input and return y, X (fixed effects absorbed or dummied), clusters."""
    if not isinstance(df, pd.DataFrame):
        raise fail(_SRC, "df must be a pandas DataFrame", rows=[type(df).__name__])
    if formula is not None:
        if outcome is not None or regressors or fixed_effects:
            raise fail(
                _SRC,
                "give either formula or outcome/regressors/fixed_effects",
                column="formula",
                rows=[formula],
            )
        from formulaic import Formula

        main, _, fe_part = formula.partition("|")
        fes = [f.strip() for f in fe_part.split("+") if f.strip()]
        try:
            needed = sorted(str(v) for v in Formula(main).required_variables)
        except Exception as exc:  # formulaic parse errors
            raise fail(
                _SRC, f"cannot parse formula: {exc}", column="formula", rows=[formula]
            ) from None
    else:
        if outcome is None or not regressors:
            raise fail(
                _SRC, "give formula, or outcome and at least one regressor", column="outcome"
            )
        main = None
        fes = list(fixed_effects)
        needed = [outcome, *regressors]
    cols = list(dict.fromkeys([*needed, *fes, cluster]))
    missing_cols = [c for c in cols if c not in df.columns]
    if missing_cols:
        raise DataValidationError(
            _SRC, [_viol("column not found in the data", c) for c in missing_cols]
        )
    violations = []
    for c in cols:
        bad = df.index[df[c].isna()].tolist()
        if bad:
            violations.append(_viol("missing values are not allowed", c, bad))
    if violations:
        raise DataValidationError(_SRC, violations)
    if main is not None:
        from formulaic import model_matrix

        mm = model_matrix(main, df, na_action="ignore")
        y = np.asarray(mm.lhs, dtype=float).ravel()
        x_df = pd.DataFrame(np.asarray(mm.rhs, dtype=float), columns=list(mm.rhs.columns))
        bad_rows = df.index[~(np.isfinite(y) & np.all(np.isfinite(x_df.to_numpy()), axis=1))]
        if len(bad_rows):
            raise fail(
                _SRC,
                "the formula produces missing or infinite values",
                column="formula",
                rows=bad_rows.tolist(),
            )
    else:
        for c in needed:
            if not pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
                raise fail(
                    _SRC,
                    "outcome and regressors must be numeric",
                    column=c,
                    rows=df.index[:3].tolist(),
                )
        y = df[outcome].to_numpy(dtype=float)
        x_df = pd.DataFrame({"Intercept": np.ones(len(df))})
        for c in regressors:
            x_df[c] = df[c].to_numpy(dtype=float)
    clusters = df[cluster].to_numpy()
    nested, dummied = [], []
    for fe in fes:
        per_level = pd.DataFrame({"fe": df[fe].to_numpy(), "cl": clusters}).groupby("fe")["cl"]
        (nested if per_level.nunique().max() == 1 else dummied).append(fe)
    for fe in dummied:
        dummies = pd.get_dummies(df[fe].astype("category"), prefix=fe, drop_first=True, dtype=float)
        x_df = pd.concat([x_df, dummies.reset_index(drop=True)], axis=1)
    x = x_df.to_numpy(dtype=float)
    names = list(x_df.columns)
    if nested:
        yx = np.column_stack([y, x])
        yx = _demean(yx, df[nested])
        y, x = yx[:, 0], yx[:, 1:]
        keep = np.sum(x * x, axis=0) > 1e-12 * max(1.0, float(np.sum(yx * yx)))
        x = x[:, keep]
        names = [nm for nm, kp in zip(names, keep, strict=True) if kp]
    # pyfixest's default small-sample correction (k_fixef="nonnested") ignores fixed effects
    # nested in the clusters but still counts one parameter for them (the intercept demeaned
    # away above); checked against pyfixest 0.60 CRV1 standard errors.
    k_extra = 1 if nested else 0
    return _Design(
        y=y, x=x, names=names, clusters=clusters, absorbed=nested, dummied=dummied, k_extra=k_extra
    )


def _viol(rule: str, column: str, rows: Sequence[object] = ()) -> Any:
    from analysis.errors import Violation

    return Violation(rule=rule, column=column, rows=tuple(rows[:20]), n_rows=len(rows))


def _demean(a: np.ndarray, fe: pd.DataFrame) -> np.ndarray:
    """Within transformation by one or several fixed effects (exact for one)."""
    if fe.shape[1] == 1:
        codes = pd.factorize(fe.iloc[:, 0])[0]
        sums = np.zeros((codes.max() + 1, a.shape[1]))
        np.add.at(sums, codes, a)
        counts = np.bincount(codes)[:, None]
        return a - (sums / counts)[codes]
    from pyfixest.core.demean import demean

    flist = np.column_stack([pd.factorize(fe[c])[0] for c in fe.columns]).astype(np.uint64)
    out, ok = demean(
        np.ascontiguousarray(a, dtype=float), flist, np.ones(a.shape[0]), tol=1e-12, maxiter=100_000
    )
    if not ok:
        raise fail(_SRC, "demeaning by the fixed effects did not converge", column=fe.columns[0])
    return out


def _ols_cr1(
    x: np.ndarray, y: np.ndarray, codes: np.ndarray, g: int, j: int, k_extra: int = 0
) -> tuple[float, float]:
    """Return OLS coefficient j and its CR1 standard error (G/(G-1) * (n-1)/(n-k)).

    ``k`` counts parameters as pyfixest's default small-sample correction does.
    """
    n, k = x.shape
    k += k_extra
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    u = y - x @ beta
    a = x @ xtx_inv[:, j]
    score = np.bincount(codes, weights=a * u, minlength=g)
    corr = g / (g - 1) * (n - 1) / (n - k)
    return float(beta[j]), float(np.sqrt(corr * np.sum(score**2)))


def _cluster_weights(g: int, reps: int, weights_type: str, rng: np.random.Generator) -> np.ndarray:
    """(B, G) weights; Rademacher sign vectors enumerated when 2**G <= reps (as boottest)."""
    if weights_type == "rademacher":
        if g <= 20 and 2**g <= reps:
            bits = (np.arange(2**g)[:, None] >> np.arange(g)) & 1
            return np.where(bits == 1, 1.0, -1.0)
        return rng.choice(np.array([-1.0, 1.0]), size=(reps, g))
    webb = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
    return rng.choice(webb, size=(reps, g))


def _wcu(
    x: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    g: int,
    j: int,
    beta_j: float,
    se: float,
    reps: int,
    weights_type: str,
    null: float,
    level: float,
    seed: int | None,
    k_extra: int = 0,
) -> tuple[float, float, float, int]:
    """Unrestricted wild cluster bootstrap (WCU), vectorized over replications.

    With ``a = X (X'X)^{-1} e_j`` and residuals ``u``: the bootstrap deviation is
    ``beta*_j - beta_j = sum_g v_g c_g`` (``c_g = sum_{i in g} a_i u_i``) and the bootstrap
    CR1 score of cluster g is ``v_g c_g - sum_h (D_g'E_h) v_h`` with
    ``D_g = sum_{i in g} a_i x_i`` and ``E_h = (X'X)^{-1} X_h'u_h``.
    """
    n, k = x.shape
    xtx_inv = np.linalg.inv(x.T @ x)
    u = y - x @ (xtx_inv @ x.T @ y)
    a = x @ xtx_inv[:, j]
    onehot = np.zeros((g, n))
    onehot[codes, np.arange(n)] = 1.0
    c = onehot @ (a * u)
    d_mat = onehot @ (a[:, None] * x)  # (G, k)
    e_mat = (onehot @ (u[:, None] * x)) @ xtx_inv  # (G, k): row h = ((X'X)^{-1} X_h'u_h)'
    m = d_mat @ e_mat.T  # (G, G)
    w = _cluster_weights(g, reps, weights_type, np.random.default_rng(seed))
    dev = w @ c
    scores = w * c[None, :] - w @ m.T
    corr = g / (g - 1) * (n - 1) / (n - k - k_extra)
    se_star = np.sqrt(corr * np.sum(scores**2, axis=1))
    ok = se_star > 0
    t_star = dev[ok] / se_star[ok]
    t0 = (beta_j - null) / se
    p = float(np.mean(np.abs(t_star) > abs(t0) * (1 + 1e-12)))
    p = max(p, 1.0 / (t_star.size + 1))
    q = float(np.quantile(np.abs(t_star), level))
    return p, beta_j - q * se, beta_j + q * se, int(w.shape[0])


# ============================================================================================
# Randomization inference
# ============================================================================================


@dataclass(frozen=True)
class RandomizationResult:
    """Randomization (permutation) test of the sharp null of no effect.

    Attributes
    ----------
    statistic
        The estimator on the observed assignment.
    distribution
        The estimator on each re-assignment (the observed one excluded when sampled; all
        distinct assignments, observed included, when ``exact``).
    p_value
        Two-sided: ``(1 + #{|T*| >= |T|}) / (1 + reps)`` when sampled,
        ``#{|T*| >= |T|} / N`` over all ``N`` assignments when ``exact``.
    reps
        Number of re-assignments evaluated.
    exact
        Whether every distinct assignment was enumerated.
    method
        How treatment was re-assigned.
    extra
        Details (seed, failed evaluations).
    """

    statistic: float
    distribution: tuple[float, ...]
    p_value: float
    reps: int
    exact: bool
    method: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    def tidy(self) -> pd.DataFrame:
        """Return a one-row DataFrame."""
        return pd.DataFrame(
            [{k: v for k, v in self.to_dict().items() if k not in ("distribution", "extra")}]
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (the distribution included)."""
        return {
            "statistic": float(self.statistic),
            "p_value": float(self.p_value),
            "reps": int(self.reps),
            "exact": bool(self.exact),
            "method": self.method,
            "distribution": [float(v) for v in self.distribution],
            "extra": dict(self.extra),
        }

    def summary(self, digits: int = 3) -> str:
        """Return one line: statistic, p-value, number of re-assignments."""
        kind = "all assignments" if self.exact else "random re-assignments"
        return (
            f"Randomization inference ({self.method}): T = {self.statistic:.{digits}f}, "
            f"two-sided p = {self.p_value:.{digits}g} ({self.reps} {kind})"
        )

    def effect_summary(self) -> str:
        """Describe the result in plain words."""
        share = self.p_value
        return (
            f"If the programme had no effect on anyone, re-assigning treatment "
            f"({self.method}) would give an estimate at least as far from zero as the observed "
            f"{self.statistic:.3g} with probability {share:.3g}."
            + (
                " That is unlikely: the data speak against 'no effect'."
                if share < 0.05
                else " That is not unusual: the data are compatible with 'no effect'."
            )
        )

    def plot(self, ax: Any = None) -> Any:
        """Return a Figure: histogram of the permutation distribution and the observed value."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(6, 4))
        else:
            fig = ax.figure
        ax.hist(
            self.distribution,
            bins=min(50, max(10, len(self.distribution) // 20)),
            color="0.7",
            edgecolor="white",
        )
        ax.axvline(self.statistic, color="tab:red", label=f"observed ({self.statistic:.3g})")
        ax.axvline(-self.statistic, color="tab:red", linestyle=":")
        ax.set_xlabel("estimate under re-assignment")
        ax.set_ylabel("count")
        ax.legend(frameon=False)
        fig.tight_layout()
        return fig


def randomization_inference(
    df: pd.DataFrame,
    *,
    estimator: Callable[[pd.DataFrame], float],
    assign: Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame] | None = None,
    permute: Literal["cluster", "unit"] | None = None,
    treatment: str | Sequence[str] | None = None,
    cluster: str | None = None,
    unit: str | None = None,
    strata: str | None = None,
    reps: int = 999,
    exact: bool | Literal["auto"] = "auto",
    seed: int | None = None,
    n_jobs: int | None = None,
) -> RandomizationResult:
    r"""Randomization inference for any estimator.

    The test statistic is :math:`T = \hat\tau(\text{data})`.  Under the sharp null (treatment
    changes no outcome) and an assignment mechanism that makes all re-assignments equally
    likely, :math:`T` is one draw from the distribution of :math:`\hat\tau` over
    re-assignments, so the two-sided p-value is
    :math:`(1 + \#\{|T^*| \ge |T|\}) / (1 + R)` for ``R`` sampled re-assignments (a valid
    p-value, Phipson & Smyth 2010), or the exact share over all distinct re-assignments.

    Parameters
    ----------
    df
        Data.
    estimator
        ``f(df) -> float``; it must derive everything that depends on treatment (e.g. the
        ``post x treated`` indicator) from the ``treatment`` column(s), which are the ones
        re-assigned.
    assign
        ``f(df, rng) -> df`` returning the data with a new assignment.  Alternative to
        ``permute``.
    permute
        ``"cluster"``: the cluster-level values of the ``treatment`` column(s) (e.g. cohort /
        first treatment year, constant within a school) are shuffled across clusters;
        ``"unit"``: the same across units (``unit`` column).
    treatment
        Column(s) re-assigned together (with ``permute``).
    cluster, unit
        The grouping column for ``permute="cluster"`` / ``"unit"``.
    strata
        With ``permute``: re-assign only *within* strata (e.g. matched pairs, schools or
        editions), as the design randomised; each cluster (unit) must lie in one stratum.  The
        re-assignments are then sampled (never enumerated: ``exact=True`` is refused).  As R
        ``ritest(..., strata=, cluster=)``.
    reps
        Number of random re-assignments.
    exact
        With ``permute``: enumerate every distinct assignment when their number is at most
        ``reps`` (``"auto"``) or whenever feasible (``True``, up to 200,000); ``False`` samples.
    seed
        Seed (``np.random.default_rng``).  The re-assignments are drawn in sequence from this
        one generator in the calling process (so the numbers do not depend on ``n_jobs``);
        only the estimator runs in the workers.
    n_jobs
        Workers evaluating the estimator on the re-assignments
        (:func:`analysis.replicate.run_tasks`; ``None``:
        :func:`analysis.replicate.default_jobs`, env ``ANALYSIS_JOBS`` or 1).  The result is
        identical for any value; ``estimator`` (and ``assign``) must be picklable when it is
        above 1.

    Returns
    -------
    RandomizationResult
    """
    jobs = resolve_jobs(n_jobs)
    if (assign is None) == (permute is None):
        raise fail(_SRC, "give exactly one of assign or permute", column="permute", rows=[permute])
    if assign is not None:
        unused = [
            n
            for n, v in (
                ("treatment", treatment),
                ("cluster", cluster),
                ("unit", unit),
                ("strata", strata),
            )
            if v is not None
        ] + (["exact"] if exact != "auto" else [])
        if unused:
            raise fail(
                _SRC,
                f"option(s) {unused} apply to permute=; a user-supplied assign function "
                "decides the re-assignment itself",
                column=unused[0],
            )
    elif permute == "cluster" and unit is not None or permute == "unit" and cluster is not None:
        raise fail(
            _SRC,
            "permute='cluster' uses cluster= and permute='unit' uses unit=; the other is unused",
            column="unit" if permute == "cluster" else "cluster",
        )
    if int(reps) < 1:
        raise fail(_SRC, "reps must be positive", column="reps", rows=[reps])
    rng = np.random.default_rng(seed)
    stats_list: list[float] = []
    is_exact = False
    if permute is not None:
        group_col = {"cluster": cluster, "unit": unit}.get(permute)
        if permute not in ("cluster", "unit") or group_col is None:
            raise fail(
                _SRC,
                "permute must be 'cluster' (with cluster=) or 'unit' (with unit=)",
                column="permute",
                rows=[permute],
            )
        tcols = [treatment] if isinstance(treatment, str) else list(treatment or [])
        if not tcols:
            raise fail(
                _SRC, "permute needs treatment= (the column(s) to re-assign)", column="treatment"
            )
        groups, table = _group_table(df, group_col, tcols)
        observed = _observed(estimator, df)
        blocks = None
        if strata is not None:
            if exact is True:
                raise fail(
                    _SRC,
                    "exact enumeration is not available with strata: use exact='auto' or False",
                    column="exact",
                )
            blocks = _strata_of_groups(df, groups, group_col, strata)
        n_distinct = _n_multiset_perms(table) if blocks is None else math.inf
        cap = int(reps) if exact == "auto" else (200_000 if exact is True else -1)
        work = df.copy()
        if n_distinct <= cap:
            is_exact = True
            perms: Iterator[np.ndarray] = _multiset_permutations(table)
            n_items = int(n_distinct)
        else:
            if exact is True:
                warnings.warn(
                    f"{n_distinct} distinct assignments: too many to enumerate, sampling instead",
                    RuntimeWarning,
                    stacklevel=2,
                )
            perms = _sampled_permutations(table, blocks, int(reps), rng)
            n_items = int(reps)
        stats_list = run_tasks(
            _permuted_statistic,
            perms,
            n_jobs=jobs,
            n_items=n_items,
            args=(estimator, work, groups, tuple(tcols)),
        )
        method = f"treatment ({', '.join(tcols)}) permuted across {permute}s ({group_col})" + (
            f" within strata ({strata})" if strata else ""
        )
    else:
        observed = _observed(estimator, df)
        draw = typing.cast(Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame], assign)
        frames = (draw(df.copy(), rng) for _ in range(int(reps)))
        stats_list = run_tasks(
            _frame_statistic, frames, n_jobs=jobs, n_items=int(reps), args=(estimator,)
        )
        method = "user-supplied re-assignment"
    return _randomization_result(observed, stats_list, is_exact, method, seed)


def _randomization_result(
    observed: float, stats_list: Sequence[float], is_exact: bool, method: str, seed: int | None
) -> RandomizationResult:
    """The p-value and result of :func:`randomization_inference` from the statistics."""
    dist = np.asarray(stats_list, dtype=float)
    finite = np.isfinite(dist)
    n_failed = int((~finite).sum())
    if n_failed:
        warnings.warn(
            f"{n_failed} re-assignments gave a non-finite estimate and are dropped",
            RuntimeWarning,
            stacklevel=3,
        )
    dist = dist[finite]
    if dist.size == 0:
        raise fail(_SRC, "the estimator failed on every re-assignment", column="estimator")
    thresh = abs(observed) * (1 - 1e-10) - 1e-14
    n_extreme = int(np.sum(np.abs(dist) >= thresh))
    p = n_extreme / dist.size if is_exact else (1 + n_extreme) / (1 + dist.size)
    return RandomizationResult(
        statistic=float(observed),
        distribution=tuple(float(v) for v in dist),
        p_value=float(p),
        reps=int(dist.size),
        exact=is_exact,
        method=method,
        extra={"seed": seed, "n_failed": n_failed, "two_sided": True},
    )


def _observed(estimator: Callable[[pd.DataFrame], float], df: pd.DataFrame) -> float:
    value = _call(estimator, df)
    if not np.isfinite(value):
        raise fail(
            _SRC,
            "the estimator returned a non-finite value on the observed data",
            column="estimator",
            rows=[value],
        )
    return value


def _call(estimator: Callable[[pd.DataFrame], float], data: pd.DataFrame) -> float:
    return float(estimator(data))


def _frame_statistic(frame: pd.DataFrame, estimator: Callable[[pd.DataFrame], float]) -> float:
    return _call(estimator, frame)


def _permuted_statistic(
    perm: np.ndarray,
    estimator: Callable[[pd.DataFrame], float],
    work: pd.DataFrame,
    groups: np.ndarray,
    tcols: tuple[str, ...],
) -> float:
    """The estimator with the group-level treatment table ``perm`` written into ``work``.

    ``work`` is the caller's working copy (one per worker), overwritten on every draw.
    """
    for c_i, c in enumerate(tcols):
        work[c] = perm[groups, c_i]
    return _call(estimator, work)


def _sampled_permutations(
    table: np.ndarray, blocks: list[np.ndarray] | None, reps: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """``reps`` re-arrangements of the group table, drawn in sequence from ``rng``."""
    for _ in range(reps):
        order = rng.permutation(table.shape[0]) if blocks is None else _permute_within(blocks, rng)
        yield table[order]


def _strata_of_groups(
    df: pd.DataFrame, groups: np.ndarray, group_col: str, strata: str
) -> list[np.ndarray]:
    """For each stratum, the positions of its groups (each group must lie in one stratum)."""
    if strata not in df.columns:
        raise fail(_SRC, "column not found in the data", column=strata)
    if df[strata].isna().any():
        raise fail(
            _SRC,
            "missing values are not allowed",
            column=strata,
            rows=df.index[df[strata].isna()].tolist(),
        )
    per = df.groupby(groups)[strata]
    varying = per.nunique()
    if (varying > 1).any():
        raise fail(
            _SRC,
            f"each {group_col} must lie in one stratum (treatment is re-assigned within strata)",
            column=strata,
            rows=varying.index[varying > 1].tolist(),
        )
    label = per.first().to_numpy()
    return [np.flatnonzero(label == s) for s in pd.unique(label)]


def _permute_within(blocks: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """A permutation of the groups that moves groups only within their stratum."""
    order = np.empty(sum(len(b) for b in blocks), dtype=int)
    for b in blocks:
        order[b] = b[rng.permutation(len(b))]
    return order


def _group_table(
    df: pd.DataFrame, group_col: str, tcols: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Return (group code of each row, group-level table of treatment values)."""
    missing = [c for c in [group_col, *tcols] if c not in df.columns]
    if missing:
        raise DataValidationError(_SRC, [_viol("column not found in the data", c) for c in missing])
    bad = df.index[df[group_col].isna()].tolist()
    if bad:
        raise fail(_SRC, "missing values are not allowed", column=group_col, rows=bad)
    codes, uniq = pd.factorize(df[group_col])
    if len(uniq) < 2:
        raise fail(
            _SRC, "at least two groups are needed to permute", column=group_col, rows=list(uniq)
        )
    table = np.empty((len(uniq), len(tcols)), dtype=object)
    for c_i, c in enumerate(tcols):
        per = df.groupby(codes)[c]
        varying = per.nunique(dropna=False)
        if (varying > 1).any():
            offending = [uniq[i] for i in varying.index[varying > 1]]
            raise fail(
                _SRC,
                f"treatment column must be constant within each {group_col} to be "
                "permuted across them",
                column=c,
                rows=offending,
            )
        table[:, c_i] = per.first().reindex(range(len(uniq))).to_numpy()
    with contextlib.suppress(TypeError, ValueError):  # keep numeric treatment numeric
        table = table.astype(float)
    return codes, table


def _n_multiset_perms(table: np.ndarray) -> int:
    _, counts = np.unique(_row_keys(table), return_counts=True)
    n = math.factorial(table.shape[0])
    for c in counts:
        n //= math.factorial(int(c))
    return n


def _row_keys(table: np.ndarray) -> np.ndarray:
    return np.array([repr(tuple(r)) for r in table])


def _multiset_permutations(table: np.ndarray) -> Iterator[np.ndarray]:
    """Yield each distinct row-arrangement of ``table`` once."""
    keys = _row_keys(table)
    uniq_keys, first_idx = np.unique(keys, return_index=True)
    counts = {k: int((keys == k).sum()) for k in uniq_keys}
    rows = {k: table[i] for k, i in zip(uniq_keys, first_idx, strict=True)}
    n = table.shape[0]
    current: list[str] = []

    def rec() -> Iterator[np.ndarray]:
        if len(current) == n:
            yield np.array([rows[k] for k in current], dtype=table.dtype)
            return
        for k in uniq_keys:
            if counts[k] > 0:
                counts[k] -= 1
                current.append(k)
                yield from rec()
                current.pop()
                counts[k] += 1

    yield from rec()


# ============================================================================================
# Re-assignment of a staggered programme's participation
# ============================================================================================


def reassign_participation(
    df: pd.DataFrame,
    rng: np.random.Generator,
    *,
    unit: str,
    time: str,
    cohort: str,
    strata: str,
    age: str | None = None,
    treated: str | None = "treated",
    participant: str | None = "participant",
) -> pd.DataFrame:
    r"""Draw a placebo participation that keeps each stratum's and edition's numbers.

    Editions (cohorts :math:`g > 0`; ``0`` = never took part) are re-assigned in order: for
    edition :math:`g` and stratum :math:`s` (the ``strata`` value of the unit's row in period
    :math:`g`, e.g. its school that year), as many units as actually took part are drawn at
    random among the *eligible* units of that stratum: observed in period :math:`g` and in an
    earlier period (participants need a pre-period), not yet (re-)assigned to an earlier
    edition, and, when ``age`` is given, of an age in period :math:`g` within the range that
    participants had.  Under the sharp null of no effect and participation as good as random
    among eligible units within stratum and edition, every such draw is as likely as the real
    one — the assignment mechanism of :func:`participation_randomization`.

    Parameters
    ----------
    df
        Long panel, one row per unit and period; ``cohort`` constant within unit.
    rng
        The random generator (e.g. ``SeedStreams(seed).generator("randomization")``).
    unit, time, cohort, strata
        Column names (``strata``: the level within which the numbers are kept).
    age
        Column of the unit's age in each period (``None``: no age restriction).
    treated, participant
        Output columns written besides ``cohort``: ``treated`` (1 from the new edition on)
        and ``participant`` (1 if the unit has a new edition); ``None`` skips one.

    Returns
    -------
    pandas.DataFrame
        A copy of ``df`` with the re-assigned ``cohort`` (same dtype) and the output columns.
    """
    _check_participation_frame(df, unit=unit, time=time, cohort=cohort, strata=strata, age=age)
    prepared = _Reassigner(
        df,
        unit=unit,
        time=time,
        cohort=cohort,
        strata=strata,
        age=age,
        treated=treated,
        participant=participant,
    )
    return prepared.frame(prepared.draw(rng))


def participation_randomization(
    df: pd.DataFrame,
    *,
    statistic: Callable[[pd.DataFrame], float],
    unit: str,
    time: str,
    cohort: str,
    strata: str,
    age: str | None = None,
    columns: Sequence[str | None] = (),
    reps: int = 499,
    seed: int | None = None,
    treated: str | None = "treated",
    participant: str | None = "participant",
    n_jobs: int | None = None,
) -> RandomizationResult:
    r"""Randomization inference for a staggered programme (:func:`reassign_participation`).

    Runs :func:`randomization_inference` with ``assign`` = :func:`reassign_participation`:
    ``statistic`` (e.g. :func:`analysis.did.simple_att` with its options bound) is recomputed on
    ``reps`` placebo assignments that keep the numbers per stratum and edition.  The data are
    validated once and cut to the columns the re-assignment and the statistic need (the
    design columns plus ``columns``: outcome, covariates, cluster...), so each draw copies
    only those.  What the re-assignment needs (units, first periods, eligible units and the
    numbers to keep per stratum and edition) is also computed once; each draw only shuffles
    the eligible units (arrays) and writes the new cohort into a copy of the slim frame.

    Seeding: the re-assignments are drawn in sequence from ``np.random.default_rng(seed)`` in
    the calling process, as :func:`randomization_inference` with ``assign`` =
    :func:`reassign_participation` draws them, so the numbers do not depend on ``n_jobs``;
    the statistic runs in ``n_jobs`` workers (``None``:
    :func:`analysis.replicate.default_jobs`; ``statistic`` must then be picklable, e.g. a
    :func:`functools.partial` of a module-level function).

    Array path: a statistic that also defines ``for_cohorts(frame, *, codes, n_units)`` (e.g.
    :class:`analysis.did._inference.SimpleATT`, the Callaway-Sant'Anna simple ATT) is
    recomputed on each draw from the units' cohorts alone, without writing a frame, when that
    function reproduces the frame statistic exactly on the observed assignment; draws it
    declines (returns ``None``) and every draw after a disagreement go through the frame.

    Returns
    -------
    RandomizationResult
        Two-sided p-value :math:`(1 + \#\{|T^*| \ge |T|\}) / (1 + R)`.
    """
    _check_participation_frame(df, unit=unit, time=time, cohort=cohort, strata=strata, age=age)
    missing = [c for c in columns if c and c not in df.columns]
    if missing:
        raise DataValidationError(_SRC, [_viol("column not found in the data", c) for c in missing])
    jobs = resolve_jobs(n_jobs)
    if int(reps) < 1:
        raise fail(_SRC, "reps must be positive", column="reps", rows=[reps])
    keep = [unit, time, cohort, treated, participant, age, strata, *columns]
    slim = df[list(dict.fromkeys(c for c in keep if c and c in df.columns))]
    prepared = _Reassigner(
        slim,
        unit=unit,
        time=time,
        cohort=cohort,
        strata=strata,
        age=age,
        treated=treated,
        participant=participant,
    )
    observed = _observed(statistic, slim)
    rng = np.random.default_rng(seed)
    draws = (prepared.draw(rng) for _ in range(int(reps)))
    fast = _cohort_path(statistic, slim, prepared, observed)
    stats_list = run_tasks(
        _reassigned_statistic,
        draws,
        n_jobs=jobs,
        n_items=int(reps),
        args=(prepared, statistic, fast),
    )
    return _randomization_result(observed, stats_list, False, "user-supplied re-assignment", seed)


def _cohort_path(
    statistic: Callable[[pd.DataFrame], float],
    slim: pd.DataFrame,
    prepared: _Reassigner,
    observed: float,
) -> Callable[[np.ndarray], float | None] | None:
    """The statistic as a function of the units' cohorts, when it offers one and agrees.

    A statistic may define ``for_cohorts(frame, *, codes, n_units)`` returning a function of
    the cohort of every unit (:class:`analysis.did._inference.SimpleATT` does): the draws then
    skip writing a frame and refitting it.  It is used only when it returns exactly the frame
    path's value on the observed assignment; otherwise every draw goes through the frame.
    """
    make = getattr(statistic, "for_cohorts", None)
    if make is None:
        return None
    fast = make(slim, codes=prepared.codes, n_units=prepared.n)
    if fast is None or fast(prepared.observed) != observed:
        return None
    return typing.cast(Callable[[np.ndarray], "float | None"], fast)


def _reassigned_statistic(
    new: np.ndarray,
    prepared: _Reassigner,
    statistic: Callable[[pd.DataFrame], float],
    fast: Callable[[np.ndarray], float | None] | None = None,
) -> float:
    """The statistic of one re-assignment: on the cohorts when possible, else on a frame."""
    if fast is not None:
        value = fast(new)
        if value is not None:
            return float(value)
    return _call(statistic, prepared.frame(new))


def _check_participation_frame(
    df: pd.DataFrame, *, unit: str, time: str, cohort: str, strata: str, age: str | None
) -> None:
    """Validate the columns the re-assignment reads (once per analysis, not per draw)."""
    if not isinstance(df, pd.DataFrame):
        raise fail(_SRC, "df must be a pandas DataFrame", rows=[type(df).__name__])
    cols = [c for c in (unit, time, cohort, strata, age) if c]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataValidationError(_SRC, [_viol("column not found in the data", c) for c in missing])
    violations = []
    for c in cols:
        bad = df.index[df[c].isna()].tolist()
        if bad:
            violations.append(_viol("missing values are not allowed", c, bad))
    for c in (time, cohort, age):
        if c and not pd.api.types.is_numeric_dtype(df[c]):
            violations.append(_viol("must be numeric", c, df.index[:3].tolist()))
    if violations:
        raise DataValidationError(_SRC, violations)
    per_unit = df.groupby(unit)[cohort].nunique()
    if (per_unit > 1).any():
        rows = df.index[df[unit].isin(per_unit.index[per_unit > 1])].tolist()
        raise fail(_SRC, "the cohort must be constant within unit", column=cohort, rows=rows)


class _Reassigner:
    """:func:`reassign_participation` prepared once for many draws (no input checks here).

    Everything that does not depend on the draw is computed at construction: unit codes,
    first periods, the observed cohorts, the age range of participants and, per edition, the
    units present, their strata (as sorted integer codes), the draw-independent part of their
    eligibility and the numbers per stratum to keep.  :meth:`draw` consumes the generator
    exactly as the one-off re-assignment always did (one uniform per eligible unit and
    edition, ties broken by stratum order), so a seed gives the same re-assignment.
    """

    def __init__(
        self,
        d: pd.DataFrame,
        *,
        unit: str,
        time: str,
        cohort: str,
        strata: str,
        age: str | None,
        treated: str | None,
        participant: str | None,
    ) -> None:
        self.d = d
        self.time, self.cohort = time, cohort
        self.treated, self.participant = treated, participant
        codes, uniq = pd.factorize(d[unit])
        self.codes, self.n = codes, len(uniq)
        times = d[time].to_numpy()
        first = np.full(self.n, np.iinfo(np.int64).max)
        np.minimum.at(first, codes, times)
        cohort_obs = np.zeros(self.n)
        cohort_obs[codes] = d[cohort].to_numpy(float)
        self.observed = cohort_obs  # the actual cohort of every unit
        ages = d.loc[d[cohort] > 0, age] if age else None
        amin, amax = (
            (ages.min(), ages.max()) if ages is not None and len(ages) else (-np.inf, np.inf)
        )
        s_codes, s_uniq = pd.factorize(d[strata], sort=True)
        self.editions: list[tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for g in sorted(c for c in np.unique(cohort_obs) if c > 0):
            rows = times == g
            p = codes[rows]
            stratum = s_codes[rows]
            a = d[age].to_numpy()[rows] if age else np.zeros(rows.sum())
            static = (first[p] < g) & (a >= amin) & (a <= amax)
            need = np.bincount(stratum[cohort_obs[p] == g], minlength=len(s_uniq))
            # the candidates before earlier editions take some, in row order, and the
            # thresholds of _smallest_per_stratum from their numbers per stratum
            cand, cand_s = p[static], stratum[static]
            size = np.bincount(cand_s, minlength=len(s_uniq))
            self.editions.append((float(g), cand, cand_s, _thresholds(need, size)[cand_s], need))

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """The re-assigned cohort of every unit (0: never), one draw from ``rng``."""
        new = np.zeros(self.n)
        for g, cand, cand_s, threshold, need in self.editions:
            free = new[cand] == 0  # not taken by an earlier edition of this draw
            if not free.all():
                pos = np.flatnonzero(free)
                cand, cand_s, threshold = cand[pos], cand_s[pos], threshold[pos]
            take = _smallest_per_stratum(rng.random(len(cand)), cand_s, need, threshold)
            new[cand[take]] = g
        return new

    def frame(self, new: np.ndarray) -> pd.DataFrame:
        """A copy of the data with the re-assigned cohort and the output columns."""
        d = self.d
        out = d.copy()
        out[self.cohort] = new[self.codes].astype(d[self.cohort].dtype)
        if self.treated:
            out[self.treated] = (
                (out[self.cohort] > 0) & (out[self.time] >= out[self.cohort])
            ).astype(int)
        if self.participant:
            out[self.participant] = (out[self.cohort] > 0).astype(int)
        return out


def _thresholds(need: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Per stratum, a share of candidates under which about ``need + 4 sqrt(need) + 8`` fall."""
    return np.minimum(1.0, (need + 4.0 * np.sqrt(need) + 8.0) / np.maximum(size, 1))


def _smallest_per_stratum(
    u: np.ndarray, s: np.ndarray, need: np.ndarray, threshold: np.ndarray | None = None
) -> np.ndarray:
    """Positions of the ``need[s]`` smallest ``u`` within each stratum ``s``.

    The same selection as ranking every candidate by ``numpy.lexsort((u, s))`` (ties in ``u``
    broken by position) and taking the first ``need[s]`` of each stratum, which the
    re-assignment always did; only the candidates that can be among them are sorted.  A
    candidate is kept when its ``u`` is below its stratum's ``threshold`` (per candidate;
    ``None``: :func:`_thresholds` of the candidates' numbers); a stratum where fewer than
    ``need`` fall below keeps all its candidates.  Every candidate above a threshold has a
    larger ``u`` than every kept one of its stratum, so the selection is exact whatever the
    thresholds; they only make the sort shrink from every eligible pupil (600,000 in a
    million-pupil register) to a few per participant (issue 14).
    """
    n_strata = len(need)
    if threshold is None:
        threshold = _thresholds(need, np.bincount(s, minlength=n_strata))[s]
    kept = u < threshold
    idx = np.flatnonzero(kept)
    short = np.bincount(s[idx], minlength=n_strata) < need
    if short.any():
        idx = np.flatnonzero(kept | short[s])
    idx = idx[np.lexsort((u[idx], s[idx]))]
    ss = s[idx]
    # rank within stratum: candidates are sorted by stratum
    starts = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])
    rank = np.arange(len(ss)) - np.repeat(starts, np.diff(np.r_[starts, len(ss)]))
    return idx[rank < need[ss]]
