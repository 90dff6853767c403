r"""HonestDiD: sensitivity of event-study effects to violations of parallel trends.

Rambachan & Roth (2023, *Review of Economic Studies* 90(5)) replace "parallel trends holds" by
"the post-treatment violation of parallel trends is not too different from what the
pre-periods show", and report confidence sets that stay valid under that weaker assumption.

Model
-----
An event study returns coefficients :math:`\hat\beta = (\hat\beta_{pre}, \hat\beta_{post})`
(reference period excluded, normalised to zero) with
:math:`\hat\beta \approx N(\beta, \Sigma)` and :math:`\beta = \delta + (0, \tau_{post})`,
where :math:`\delta` is the difference in trends (bias) and :math:`\tau_{post}` the dynamic
effects.  The estimand is :math:`\theta = l'\tau_{post}` (default: the first post-period
effect, ``l = e_1``, as in the R package).  :math:`\delta` is restricted to a set
:math:`\Delta`:

* relative magnitudes :math:`\Delta^{RM}(\bar M)`: every post-period first difference
  :math:`|\delta_{t+1} - \delta_t|` is at most :math:`\bar M` times the largest
  pre-period first difference;
* smoothness :math:`\Delta^{SD}(M)`: every second difference
  :math:`|(\delta_{t+1}-\delta_t) - (\delta_t-\delta_{t-1})|` is at most :math:`M`
  (``M = 0``: the pre-trend continues linearly).

Defaults follow the R package ``HonestDiD`` (``createSensitivityResults`` and
``createSensitivityResults_relativeMagnitudes``): :math:`\Delta^{RM}` uses the
conditional-least-favourable hybrid confidence set ("C-LF", Andrews, Roth & Pakes 2023),
:math:`\Delta^{SD}` the optimal fixed-length confidence interval ("FLCI").

Why partly hand-written
-----------------------
The FLCI comes from ``diff_diff`` (its optimal FLCI reproduces R's published numbers).
``diff_diff.HonestDiD`` does not reproduce R for relative magnitudes: its
``relative_magnitude`` interval is the identified set widened by :math:`z_{1-\alpha/2}` standard
errors (its docstring: the ARP hybrid is "disabled pending calibration"), and its default
estimand is the average of the post-period effects, not the first.  On the Medicaid example of
the R README that interval is *narrower* than R's C-LF set for :math:`\bar M \ge 1` (e.g.
``[0.0113, 0.0816]`` against R's ``[-0.0009, 0.0881]`` at :math:`\bar M = 2`), so the C-LF set
is implemented here, transcribing the R code (``R/deltarm.R``, ``R/arp-nuisance.R``,
``R/arp-nonuisance.R``).  The one deliberate change: the linear programmes of the ARP test are
solved by enumerating the vertices of the dual polytope (exact for the small programmes
met here; ``scipy.optimize.linprog`` is the fallback), which gives the same optimum, the same
dual vector and closed-form truncation points where R bisects numerically.

The least-favourable critical value is simulated (1,000 draws, as in R); the draws come from
NumPy, not R's RNG, so bounds match R to simulation noise (a few 1e-4 on the README example),
not to the last digit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from analysis.errors import fail
from analysis.estimate import Estimate

__all__ = [
    "HonestDiDResult",
    "honest_did",
    "honest_did_from_moments",
]

Method = Literal["relative_magnitude", "smoothness"]

# C-LF defaults (R's createSensitivityResults_relativeMagnitudes).
_DEFAULT_THETA_GRID_POINTS = 1000
_DEFAULT_LF_SIMS = 1000
_DEFAULT_SEED = 0

_SOURCE = "honest_did arguments"
_MAX_VERTEX_SUBSETS = 20_000  # above this, the ARP LPs are solved with scipy instead


def _backend() -> str:
    import diff_diff

    return f"analysis.honest (C-LF, after R HonestDiD); diff-diff {diff_diff.__version__} (FLCI)"


# --------------------------------------------------------------------------------------------
# Result object
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HonestDiDResult:
    r"""Robust confidence sets for :math:`\theta = l'\tau_{post}` over a grid of M / Mbar.

    Attributes
    ----------
    method
        ``"relative_magnitude"`` (:math:`\Delta^{RM}(\bar M)`) or ``"smoothness"``
        (:math:`\Delta^{SD}(M)`).
    ci_method
        ``"C-LF"`` or ``"FLCI"``.
    grid, ci_low, ci_high
        The M (or Mbar) values and the robust confidence set at each (its convex hull:
        the lowest and highest accepted value, as R reports ``lb``/``ub``).
    original
        The usual confidence interval for :math:`\theta` that assumes parallel trends.
    alpha
        One minus the coverage.
    l_vec
        Weights defining :math:`\theta` over the post periods.
    n_pre, n_post
        Number of pre- and post-period coefficients used.
    rel_times
        Event times of the coefficients (if known).
    open_ended
        Per grid value: ``True`` if the confidence set reaches an end of the grid of
        :math:`\theta` values tested (C-LF only); the bound is then not reliable.
    settings
        Numerical settings (theta grid, simulation draws, seed).
    """

    method: str
    ci_method: str
    grid: tuple[float, ...]
    ci_low: tuple[float, ...]
    ci_high: tuple[float, ...]
    original: Estimate
    alpha: float
    l_vec: tuple[float, ...]
    n_pre: int
    n_post: int
    rel_times: tuple[int, ...] | None = None
    open_ended: tuple[bool, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def param_name(self) -> str:
        """Name of the sensitivity parameter: ``"Mbar"`` or ``"M"``."""
        return "Mbar" if self.method == "relative_magnitude" else "M"

    @property
    def delta(self) -> str:
        """Name of the restriction set as in R (``"DeltaRM"`` or ``"DeltaSD"``)."""
        return "DeltaRM" if self.method == "relative_magnitude" else "DeltaSD"

    @property
    def breakdown(self) -> float:
        """Smallest grid value whose robust confidence set contains 0.

        ``nan`` when no confidence set on the grid contains 0 (the conclusion survives the
        whole grid; the breakdown value is then larger than ``max(grid)``).  Its resolution is
        the grid spacing: the conclusion "effect different from 0" holds for every grid value
        below it.
        """
        for m, lo, hi in zip(self.grid, self.ci_low, self.ci_high, strict=True):
            # An empty set (nan bounds) says nothing; an unbounded one may contain 0.
            if not (np.isnan(lo) or np.isnan(hi)) and lo <= 0.0 <= hi:
                return float(m)
        return float("nan")

    def table(self) -> pd.DataFrame:
        """Return the sensitivity table: one row per grid value.

        Columns: ``M`` (or ``Mbar``), ``ci_low``, ``ci_high``, ``method``.
        """
        return pd.DataFrame(
            {
                self.param_name: list(self.grid),
                "ci_low": list(self.ci_low),
                "ci_high": list(self.ci_high),
                "method": self.ci_method,
            }
        )

    def tidy(self) -> pd.DataFrame:
        """Return :meth:`table` (the ``tidy`` convention of the package)."""
        return self.table()

    def _theta_label(self) -> str:
        l_arr = np.asarray(self.l_vec)
        e1 = np.zeros_like(l_arr)
        e1[0] = 1.0
        if np.allclose(l_arr, e1):
            return "the effect in the first post-treatment period"
        if np.allclose(l_arr, np.full_like(l_arr, 1.0 / len(l_arr))):
            return f"the average effect over the {len(l_arr)} post-treatment periods"
        return f"the weighted effect l'tau with l = {list(np.round(l_arr, 4))}"

    def summary(self, digits: int = 4) -> str:
        """Return the sensitivity table as text, with the original CI and breakdown value."""
        f = f"{{:.{digits}f}}"
        lvl = f"{1 - self.alpha:.0%}"
        lines = [
            f"HonestDiD sensitivity ({self.delta}, {self.ci_method}), {lvl} robust CIs for "
            f"{self._theta_label()}",
            f"Original (parallel trends): {f.format(self.original.estimate)} "
            f"[{f.format(self.original.ci_low)}, {f.format(self.original.ci_high)}]",
            f"{self.param_name:>8}  {'ci_low':>10}  {'ci_high':>10}",
        ]
        for i, (m, lo, hi) in enumerate(zip(self.grid, self.ci_low, self.ci_high, strict=True)):
            flag = (
                "  (open: reaches end of theta grid)"
                if self.open_ended and self.open_ended[i]
                else ""
            )
            lines.append(f"{m:>8.4g}  {f.format(lo):>10}  {f.format(hi):>10}{flag}")
        bd = self.breakdown
        lines.append(
            f"Breakdown {self.param_name} (smallest grid value whose CI contains 0): "
            + (f"{bd:.4g}" if np.isfinite(bd) else f"none within the grid (> {max(self.grid):.4g})")
        )
        return "\n".join(lines)

    def effect_summary(self) -> str:
        """Describe the result in plain words."""
        orig = self.original
        sig = not (orig.ci_low <= 0 <= orig.ci_high)
        lvl = f"{1 - self.alpha:.0%}"
        head = (
            f"Assuming parallel trends, {self._theta_label()} is {orig.estimate:.3g} "
            f"({lvl} CI {orig.ci_low:.3g} to {orig.ci_high:.3g})"
            + (", different from zero." if sig else ", not distinguishable from zero.")
        )
        if self.method == "relative_magnitude":
            what = (
                "the post-treatment violation of parallel trends (between consecutive periods) "
                "may be up to Mbar times the largest violation seen before treatment"
            )
        else:
            what = (
                "the trend difference may bend away from a straight-line extrapolation of the "
                "pre-period trend by up to M per period (M = 0: the pre-trend continues "
                "linearly)"
            )
        bd = self.breakdown
        grid_max = max(self.grid)
        if np.isfinite(bd):
            if bd == min(self.grid):
                tail = (
                    f"Even at the smallest value tried ({self.param_name} = {bd:.3g}) the robust "
                    "interval contains zero; the sign of the effect is not robust."
                )
            else:
                tail = (
                    f"the robust interval first contains zero at {self.param_name} = {bd:.3g}; "
                    "the effect stays distinguishable from zero for smaller values, i.e. as "
                    "long as violations are smaller than that."
                )
        else:
            tail = (
                f"The robust interval excludes zero over the whole grid (up to "
                f"{self.param_name} = {grid_max:.3g})."
            )
        return f"{head} Allowing that {what}: {tail[0].lower()}{tail[1:]}"

    def plot(self, ax: Any = None) -> Any:
        """Return a matplotlib Figure: robust CIs per M / Mbar next to the original CI."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(6, 4))
        else:
            fig = ax.figure
        grid = np.asarray(self.grid, dtype=float)
        gap = float(np.min(np.diff(np.sort(grid)))) if len(grid) > 1 else 1.0
        x0 = grid.min() - gap
        ax.errorbar(
            [x0],
            [self.original.estimate],
            yerr=[
                [self.original.estimate - self.original.ci_low],
                [self.original.ci_high - self.original.estimate],
            ],
            fmt="none",
            ecolor="tab:red",
            capsize=4,
            label="Original",
        )
        lo = np.asarray(self.ci_low, dtype=float)
        hi = np.asarray(self.ci_high, dtype=float)
        mid = (lo + hi) / 2
        ax.errorbar(
            grid,
            mid,
            yerr=[mid - lo, hi - mid],
            fmt="none",
            ecolor="tab:blue",
            capsize=4,
            label=self.ci_method,
        )
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xlabel(self.param_name)
        ax.set_ylabel(f"{1 - self.alpha:.0%} confidence set")
        ax.legend(loc="best", frameon=False)
        fig.tight_layout()
        return fig

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""

        def _num(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        bd = self.breakdown
        return {
            "method": self.method,
            "ci_method": self.ci_method,
            "delta": self.delta,
            "param_name": self.param_name,
            "alpha": self.alpha,
            "l_vec": [float(v) for v in self.l_vec],
            "n_pre": self.n_pre,
            "n_post": self.n_post,
            "rel_times": None if self.rel_times is None else [int(t) for t in self.rel_times],
            "grid": [float(m) for m in self.grid],
            "ci_low": [_num(v) for v in self.ci_low],
            "ci_high": [_num(v) for v in self.ci_high],
            "open_ended": [bool(v) for v in self.open_ended],
            "breakdown": _num(bd),
            "original": self.original.to_dict(),
            "settings": dict(self.settings),
        }


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def honest_did(
    event_study: Any,
    *,
    method: Method = "relative_magnitude",
    grid: Sequence[float] | None = None,
    alpha: float = 0.05,
    l_vec: Sequence[float] | None = None,
    **options: Any,
) -> HonestDiDResult:
    r"""Run the HonestDiD sensitivity analysis on an event study.

    Parameters
    ----------
    event_study
        Object with attributes ``rel_times`` (event times, reference period excluded),
        ``coef`` and ``vcov`` (aligned with ``rel_times``), ``reference`` (the omitted event
        time), ``n_pre`` and ``n_post``.  Pre-periods are the event times below
        ``reference``, post-periods those above; they must be consecutive integers.
    method
        ``"relative_magnitude"`` (C-LF confidence sets for :math:`\Delta^{RM}(\bar M)`) or
        ``"smoothness"`` (FLCI for :math:`\Delta^{SD}(M)`).
    grid
        Values of Mbar / M.  Default as in R: ``linspace(0, 2, 10)`` for relative magnitudes;
        for smoothness 10 values from 0 to the one-sided upper confidence bound of the largest
        pre-period second difference (R's ``DeltaSD_upperBound_Mpre``).
    alpha
        One minus the coverage of the confidence sets.
    l_vec
        Weights over the post periods defining :math:`\theta = l'\tau_{post}`; default the
        first post period (basis vector ``e_1``), as in R.
    **options
        Passed to :func:`honest_did_from_moments` (``theta_grid``, ``theta_grid_points``,
        ``lf_sims``, ``seed``).

    Returns
    -------
    HonestDiDResult
    """
    betahat, sigma, n_pre, n_post, rel_times = _from_event_study(event_study)
    return honest_did_from_moments(
        betahat=betahat,
        sigma=sigma,
        num_pre_periods=n_pre,
        num_post_periods=n_post,
        method=method,
        grid=grid,
        alpha=alpha,
        l_vec=l_vec,
        _rel_times=rel_times,
        **options,
    )


def honest_did_from_moments(
    *,
    betahat: Sequence[float] | np.ndarray,
    sigma: np.ndarray,
    num_pre_periods: int,
    num_post_periods: int,
    method: Method = "relative_magnitude",
    grid: Sequence[float] | None = None,
    alpha: float = 0.05,
    l_vec: Sequence[float] | None = None,
    theta_grid: tuple[float, float] | None = None,
    theta_grid_points: int | None = None,
    lf_sims: int | None = None,
    seed: int | None = None,
    _rel_times: Sequence[int] | None = None,
) -> HonestDiDResult:
    r"""Run the HonestDiD sensitivity analysis from coefficients and their covariance.

    Equivalent of R's ``createSensitivityResults_relativeMagnitudes`` (``method =
    "relative_magnitude"``, C-LF, bound "deviation from parallel trends") and
    ``createSensitivityResults`` (``method = "smoothness"``, FLCI), with
    ``constructOriginalCS`` stored as ``.original``.

    Parameters
    ----------
    betahat
        Event-study coefficients, pre-periods first (oldest first), then post-periods; the
        reference period is excluded.
    sigma
        Their covariance matrix.
    num_pre_periods, num_post_periods
        Number of pre- and post-period coefficients in ``betahat``.
    method, grid, alpha, l_vec
        See :func:`honest_did`.
    theta_grid
        (lower, upper) of the grid of :math:`\theta` values tested by the C-LF test
        inversion; default as in R, :math:`\pm 20` standard errors of
        :math:`l'\hat\beta_{post}` around 0.
    theta_grid_points
        Number of :math:`\theta` values tested; default 1000 (as R).
    lf_sims
        Draws used to simulate the least-favourable critical value; default 1000 (as R).
    seed
        Seed of those draws; default 0 (R calls ``set.seed(0)`` before each simulation; this
        package does the same with NumPy's generator, so draws differ from R's).

    ``theta_grid``, ``theta_grid_points``, ``lf_sims`` and ``seed`` are settings of the C-LF
    test inversion only: with ``method="smoothness"`` (FLCI, closed form) setting any of them
    raises :class:`~analysis.errors.DataValidationError`.

    Returns
    -------
    HonestDiDResult
    """
    beta, sig, n_pre, n_post, lv = _validate_moments(
        betahat, sigma, num_pre_periods, num_post_periods, l_vec
    )
    if method not in ("relative_magnitude", "smoothness"):
        raise fail(
            _SOURCE,
            "method must be 'relative_magnitude' or 'smoothness'",
            column="method",
            rows=[method],
        )
    if not (isinstance(alpha, float | int) and 0 < float(alpha) < 1):
        raise fail(_SOURCE, "alpha must lie strictly between 0 and 1", column="alpha", rows=[alpha])
    alpha = float(alpha)
    if grid is None:
        grid_arr = _default_grid(method, beta, sig, n_pre)
    else:
        grid_arr = np.atleast_1d(np.asarray(grid, dtype=float))
        bad = [g for g in grid_arr if not (np.isfinite(g) and g >= 0)]
        if grid_arr.size == 0 or bad:
            raise fail(
                _SOURCE,
                "grid must be a non-empty list of finite values >= 0",
                column="grid",
                rows=bad,
            )
    clf_options = {
        "theta_grid": theta_grid,
        "theta_grid_points": theta_grid_points,
        "lf_sims": lf_sims,
        "seed": seed,
    }
    if method == "smoothness":
        given = [name for name, value in clf_options.items() if value is not None]
        if given:
            raise fail(
                _SOURCE,
                f"{', '.join(given)} only apply to method='relative_magnitude' (C-LF test "
                "inversion); the smoothness FLCI has no theta grid or simulation draws",
                column=given[0],
                rows=[clf_options[name] for name in given],
            )
    theta_grid_points = (
        _DEFAULT_THETA_GRID_POINTS if theta_grid_points is None else theta_grid_points
    )
    lf_sims = _DEFAULT_LF_SIMS if lf_sims is None else lf_sims
    seed = _DEFAULT_SEED if seed is None else seed
    if theta_grid_points < 2:
        raise fail(
            _SOURCE,
            "theta_grid_points must be at least 2",
            column="theta_grid_points",
            rows=[theta_grid_points],
        )

    original = _original_ci(beta, sig, n_pre, lv, alpha)
    sd_theta = float(np.sqrt(lv @ sig[n_pre:, n_pre:] @ lv))
    settings: dict[str, Any] = {}
    lows: list[float] = []
    highs: list[float] = []
    opens: list[bool] = []
    if method == "relative_magnitude":
        if theta_grid is None:
            tlo, thi = -20.0 * sd_theta, 20.0 * sd_theta
        else:
            tlo, thi = float(theta_grid[0]), float(theta_grid[1])
            if not (np.isfinite(tlo) and np.isfinite(thi) and tlo < thi):
                raise fail(
                    _SOURCE,
                    "theta_grid must be (lower, upper) with lower < upper",
                    column="theta_grid",
                    rows=[theta_grid],
                )
        thetas = np.linspace(tlo, thi, int(theta_grid_points))
        settings = {
            "theta_grid": [tlo, thi],
            "theta_grid_points": int(theta_grid_points),
            "lf_sims": int(lf_sims),
            "seed": int(seed),
            "hybrid_kappa": alpha / 10,
            "bound": "deviation from parallel trends",
        }
        for mbar in grid_arr:
            accept = _rm_clf_accept(
                beta, sig, n_pre, n_post, lv, float(mbar), alpha, thetas, lf_sims, seed
            )
            if accept.any():
                lows.append(float(thetas[accept].min()))
                highs.append(float(thetas[accept].max()))
                opens.append(bool(accept[0] or accept[-1]))
            else:
                lows.append(float("nan"))
                highs.append(float("nan"))
                opens.append(False)
        if any(opens):
            warnings.warn(
                "HonestDiD: the C-LF confidence set reaches an end of the theta grid for "
                f"Mbar in {[float(m) for m, o in zip(grid_arr, opens, strict=True) if o]}; "
                "widen theta_grid for a reliable bound.",
                RuntimeWarning,
                stacklevel=2,
            )
        ci_method = "C-LF"
    else:
        for lo, hi in _flci_grid(beta, sig, lv, n_pre, n_post, grid_arr, alpha):
            lows.append(float(lo))
            highs.append(float(hi))
        opens = [False] * len(grid_arr)
        ci_method = "FLCI"

    return HonestDiDResult(
        method=method,
        ci_method=ci_method,
        grid=tuple(float(g) for g in grid_arr),
        ci_low=tuple(lows),
        ci_high=tuple(highs),
        original=original,
        alpha=alpha,
        l_vec=tuple(float(v) for v in lv),
        n_pre=n_pre,
        n_post=n_post,
        rel_times=None if _rel_times is None else tuple(int(t) for t in _rel_times),
        open_ended=tuple(opens),
        settings=settings,
    )


# --------------------------------------------------------------------------------------------
# Smoothness: the optimal FLCI over a grid of M
# --------------------------------------------------------------------------------------------


def _flci_grid(
    beta: np.ndarray,
    sig: np.ndarray,
    lv: np.ndarray,
    n_pre: int,
    n_post: int,
    grid: np.ndarray,
    alpha: float,
) -> list[tuple[float, float]]:
    """diff-diff's optimal FLCI (``_compute_optimal_flci``) for every ``M`` of ``grid``.

    Why transcribed: the numbers are diff-diff's (it reproduces R's FLCI), but calling it once
    per ``M`` took 3-5 s of every programme page (issue 14).  Its inner solves
    (``_flci_min_bias_given_h``, SLSQP) and bounds are called here as diff-diff calls them;
    what changes is only the bookkeeping: the precomputation, the bracket ``[hmin, h0]`` and
    the first, coarse level of the grid zoom over the estimator's standard deviation ``h``
    do not depend on ``M`` and are done once for the whole grid instead of once per ``M``
    (the same deterministic solves in the same order, so the same numbers); a finer level
    whose grid another ``M`` already zoomed into (the same ``[lo, hi]``: neighbouring ``M``
    often pick the same coarse point) is taken from that ``M`` instead of solved again (a
    level is a function of its grid alone: 8 of the 19 levels of a programme page), and the folded
    normal quantile (:func:`_cv_alpha`) is computed with ``scipy.special`` instead of
    ``scipy.stats.norm`` (whose generic machinery cost 80 % of the time).  Same
    interval, bit for bit (``tests/test_honest_did_reference.py``).
    """
    from diff_diff.honest_did import (
        _flci_h_bounds,
        _flci_min_bias_given_h,
        _flci_precompute,
        _flci_var,
        _flci_w_min,
        _w_to_v,
    )

    P = _flci_precompute(sig, lv, n_pre, n_post)  # noqa: N806 - diff-diff's name
    levels = (40, 120, 120)  # diff-diff's _flci_optimal_h defaults
    out: list[tuple[float, float]] = []
    coarse: list[tuple[float, float | None]] | None = None  # (h, bias) of the first level
    finer: dict[bytes, list[tuple[float, float | None]]] = {}  # later levels, by their grid
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        hmin, h0, _ = _flci_h_bounds(P)
        for m in (float(v) for v in grid):
            if m < 0:
                raise ValueError(f"M must be non-negative, got M={m}")
            if m == 0.0:
                w_opt = _flci_w_min(P)
                hstar = float(np.sqrt(max(_flci_var(w_opt, P), 0.0)))
                if hstar <= 0.0:
                    out.append((np.nan, np.nan))
                    continue
                chi = _cv_alpha(0.0, alpha) * hstar
            else:
                if h0 - hmin < 1e-12:
                    hstar = h0
                else:
                    if coarse is None:
                        coarse = _flci_level(P, np.linspace(hmin, h0, levels[0]))
                    hstar = _flci_zoom(P, hmin, h0, m, alpha, levels, coarse, finer)
                if not np.isfinite(hstar) or hstar <= 0.0:
                    out.append((np.nan, np.nan))
                    continue
                w_opt, bias_unit, feasible = _flci_min_bias_given_h(P, hstar)
                if not feasible:
                    out.append((np.nan, np.nan))
                    continue
                chi = _cv_alpha(m * bias_unit / hstar, alpha) * hstar
            theta_hat = float(_w_to_v(w_opt, lv, n_pre) @ beta)
            out.append(
                (np.nan, np.nan) if not np.isfinite(chi) else (theta_hat - chi, theta_hat + chi)
            )
    return out


def _flci_level(P: dict, grid: np.ndarray) -> list[tuple[float, float | None]]:  # noqa: N803
    """One level of diff-diff's grid zoom: the worst-case bias at each ``h`` (``None``: none).

    As ``_flci_optimal_h``: each level restarts from the minimum-variance weights and warm
    starts every solve from the last feasible one.
    """
    from diff_diff.honest_did import _flci_min_bias_given_h, _flci_w_min

    seed = _flci_w_min(P)
    out: list[tuple[float, float | None]] = []
    for h in grid:
        if h <= 0.0:
            out.append((float(h), None))
            continue
        w, bias_unit, ok = _flci_min_bias_given_h(P, h, x0_w=seed)
        if ok and np.isfinite(bias_unit):
            out.append((float(h), float(bias_unit)))
            seed = w
        else:
            out.append((float(h), None))
    return out


def _flci_zoom(
    P: dict,  # noqa: N803
    hmin: float,
    h0: float,
    m: float,
    alpha: float,
    levels: tuple[int, ...],
    coarse: list[tuple[float, float | None]],
    finer: dict[bytes, list[tuple[float, float | None]]] | None = None,
) -> float:
    """diff-diff's ``_flci_optimal_h`` (grid zoom over ``h``), its first level precomputed.

    ``finer``: the later levels already solved for other ``M``, by their grid (read and
    added to).
    """
    finer = {} if finer is None else finer
    lo, hi = hmin, h0
    gi, grid = 0, np.array([hmin])
    for level, npts in enumerate(levels):
        grid = np.linspace(lo, hi, npts)
        if level == 0:
            biases = coarse
        else:
            key = grid.tobytes()
            if key not in finer:
                finer[key] = _flci_level(P, grid)
            biases = finer[key]
        vals = np.full(npts, np.inf)
        for i, (h, bias_unit) in enumerate(biases):
            if bias_unit is not None:
                vals[i] = _cv_alpha(m * bias_unit / h, alpha) * h
        gi = int(np.argmin(vals))
        if not np.isfinite(vals[gi]):
            return float("nan")
        step = (hi - lo) / (npts - 1)
        lo = max(grid[gi] - 2 * step, hmin)
        hi = min(grid[gi] + 2 * step, h0)
    return float(grid[gi])


_NORM_PDF_C = np.sqrt(2 * np.pi)  # scipy.stats' normal density constant


def _cv_alpha(t: float, alpha: float) -> float:
    """The ``1 - alpha`` quantile of :math:`|N(t, 1)|` (diff-diff's ``_cv_alpha``, normal case).

    The same Newton iteration on the same numbers, with ``scipy.special.ndtr`` and the
    density written as scipy.stats writes it (``norm.cdf``, ``norm.pdf`` and ``norm.ppf`` are
    these expressions behind argument checks), so the result is bit-identical.
    """
    target = 1 - alpha
    t = abs(t)
    x = special.ndtri(1 - alpha / 2) + t
    for _ in range(20):
        f = special.ndtr(x - t) - special.ndtr(-x - t) - target
        fprime = _norm_pdf(x - t) + _norm_pdf(-x - t)
        if fprime < 1e-15:
            break
        x_new = max(x - f / fprime, 0.0)
        if abs(x_new - x) < 1e-12:
            break
        x = x_new
    return x


def _norm_pdf(x: float) -> float:
    v = np.asarray(x, dtype=float)
    return float(np.exp(-(v**2) / 2.0) / _NORM_PDF_C)


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def _from_event_study(es: Any) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray]:
    """Extract (betahat, sigma, n_pre, n_post, rel_times) from an EventStudy-like object."""
    src = f"{type(es).__name__} passed to honest_did"
    for attr in ("rel_times", "coef", "vcov", "reference"):
        if not hasattr(es, attr):
            raise fail(src, f"the event study must have an attribute {attr!r}", column=attr)
    rel = np.asarray(es.rel_times)
    coef = np.asarray(es.coef, dtype=float).ravel()
    vcov = np.asarray(es.vcov, dtype=float)
    ref = int(es.reference)
    if rel.ndim != 1 or len(rel) != len(coef) or vcov.shape != (len(coef), len(coef)):
        raise fail(
            src,
            "rel_times, coef and vcov must be aligned (k, k, k x k)",
            column="vcov",
            rows=[f"rel_times {rel.shape}, coef {coef.shape}, vcov {vcov.shape}"],
        )
    if not np.all(np.equal(np.mod(rel, 1), 0)):
        raise fail(
            src,
            "rel_times must be integers",
            column="rel_times",
            rows=[t for t in rel if t % 1 != 0],
        )
    rel = rel.astype(int)
    if ref in set(rel.tolist()):
        raise fail(
            src, "rel_times must exclude the reference period", column="rel_times", rows=[ref]
        )
    order = np.argsort(rel, kind="stable")
    rel, coef, vcov = rel[order], coef[order], vcov[np.ix_(order, order)]
    if len(np.unique(rel)) != len(rel):
        dup = pd.Series(rel)[pd.Series(rel).duplicated()].tolist()
        raise fail(src, "rel_times must be unique", column="rel_times", rows=dup)
    pre = rel[rel < ref]
    post = rel[rel > ref]
    expected_pre = np.arange(ref - len(pre), ref)
    expected_post = np.arange(ref + 1, ref + 1 + len(post))
    if not (np.array_equal(pre, expected_pre) and np.array_equal(post, expected_post)):
        gaps = sorted(set(expected_pre.tolist() + expected_post.tolist()) - set(rel.tolist()))
        raise fail(
            src,
            "the Rambachan-Roth restrictions are positional: event times must be "
            "consecutive integers around the reference period (missing ones "
            "listed)",
            column="rel_times",
            rows=gaps,
        )
    n_pre_attr = int(getattr(es, "n_pre", len(pre)))
    n_post_attr = int(getattr(es, "n_post", len(post)))
    if n_pre_attr + n_post_attr != len(rel):
        raise fail(
            src,
            f"n_pre + n_post ({n_pre_attr} + {n_post_attr}) must equal the number "
            f"of coefficients ({len(rel)})",
            column="n_pre",
            rows=[n_pre_attr, n_post_attr],
        )
    if (n_pre_attr, n_post_attr) != (len(pre), len(post)):
        warnings.warn(
            f"honest_did: the event study counts {n_pre_attr} pre-periods, but as in R's "
            f"HonestDiD the split is at the reference period ({ref}): {len(pre)} coefficients "
            f"before it are pre-periods, the {len(post)} after it post-periods.",
            RuntimeWarning,
            stacklevel=3,
        )
    if not getattr(es, "vcov_is_full", True):
        warnings.warn(
            "honest_did: the event study's covariance is diagonal only (covariances between "
            "event times unknown); the robust confidence sets treat the coefficients as "
            "independent, which can be wrong in either direction.",
            RuntimeWarning,
            stacklevel=3,
        )
    return coef, vcov, len(pre), len(post), rel


def _validate_moments(
    betahat: Any, sigma: Any, n_pre: Any, n_post: Any, l_vec: Any
) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray]:
    beta = np.asarray(betahat, dtype=float).ravel()
    sig = np.asarray(sigma, dtype=float)
    try:
        n_pre, n_post = int(n_pre), int(n_post)
    except (TypeError, ValueError):
        raise fail(
            _SOURCE,
            "num_pre_periods and num_post_periods must be integers",
            column="num_pre_periods",
            rows=[n_pre, n_post],
        ) from None
    if n_pre < 1 or n_post < 1:
        raise fail(
            _SOURCE,
            "at least one pre-period and one post-period coefficient needed",
            column="num_pre_periods",
            rows=[n_pre, n_post],
        )
    k = n_pre + n_post
    if beta.size != k:
        raise fail(
            _SOURCE,
            f"betahat must have num_pre_periods + num_post_periods = {k} entries",
            column="betahat",
            rows=[beta.size],
        )
    if sig.shape != (k, k):
        raise fail(_SOURCE, f"sigma must be {k} x {k}", column="sigma", rows=[sig.shape])
    bad = np.flatnonzero(~np.isfinite(beta)).tolist()
    if bad:
        raise fail(_SOURCE, "betahat must be finite", column="betahat", rows=bad)
    if not np.all(np.isfinite(sig)):
        rows = np.unique(np.argwhere(~np.isfinite(sig))[:, 0]).tolist()
        raise fail(_SOURCE, "sigma must be finite", column="sigma", rows=rows)
    asym = np.abs(sig - sig.T).max()
    if asym > 1e-8 * max(1.0, np.abs(sig).max()):
        raise fail(
            _SOURCE, "sigma must be symmetric", column="sigma", rows=[f"max asymmetry {asym:.3g}"]
        )
    sig = (sig + sig.T) / 2
    eig = np.linalg.eigvalsh(sig)
    if eig.min() < -1e-10 * max(1.0, eig.max()):
        raise fail(
            _SOURCE,
            "sigma must be positive semi-definite",
            column="sigma",
            rows=[f"smallest eigenvalue {eig.min():.3g}"],
        )
    diag_bad = np.flatnonzero(np.diag(sig) <= 0).tolist()
    if diag_bad:
        raise fail(
            _SOURCE, "every coefficient needs a positive variance", column="sigma", rows=diag_bad
        )
    if l_vec is None:
        lv = np.zeros(n_post)
        lv[0] = 1.0
    else:
        lv = np.asarray(l_vec, dtype=float).ravel()
        if lv.size != n_post or not np.all(np.isfinite(lv)) or not np.any(lv != 0):
            raise fail(
                _SOURCE,
                f"l_vec must be {n_post} finite weights, not all zero",
                column="l_vec",
                rows=list(lv),
            )
    return beta, sig, n_pre, n_post, lv


def _default_grid(method: str, beta: np.ndarray, sig: np.ndarray, n_pre: int) -> np.ndarray:
    """R's default grids (``createSensitivityResults*`` with ``Mvec``/``Mbarvec = NULL``)."""
    if method == "relative_magnitude":
        return np.linspace(0.0, 2.0, 10)
    if n_pre == 1:
        return np.linspace(0.0, float(np.sqrt(sig[0, 0])), 10)
    from diff_diff.honest_did import _construct_A_sd

    # DeltaSD_upperBound_Mpre: one-sided 95% upper bound of the pre-period second differences
    # (including the normalised delta_0 = 0); R fixes alpha = 0.05 here whatever the CI level.
    a_sd = _construct_A_sd(n_pre, 0)
    diffs = a_sd @ beta[:n_pre]
    se = np.sqrt(np.diag(a_sd @ sig[:n_pre, :n_pre] @ a_sd.T))
    mub = float(np.max(diffs + stats.norm.ppf(0.95) * se))
    return np.linspace(0.0, max(mub, 0.0), 10)


def _original_ci(
    beta: np.ndarray, sig: np.ndarray, n_pre: int, lv: np.ndarray, alpha: float
) -> Estimate:
    est = float(lv @ beta[n_pre:])
    se = float(np.sqrt(lv @ sig[n_pre:, n_pre:] @ lv))
    return Estimate.from_se(
        est,
        se,
        level=1 - alpha,
        method="Original event-study CI (parallel trends)",
        backend="analysis.honest (constructOriginalCS)",
    )


# --------------------------------------------------------------------------------------------
# Delta^RM constraints (R: .create_A_RM)
# --------------------------------------------------------------------------------------------


def _create_a_rm(n_pre: int, n_post: int, mbar: float, s: int, max_positive: bool) -> np.ndarray:
    """Matrix A with ``delta in Delta^RM_{s,sign}(Mbar)`` iff ``A delta <= 0``.

    Columns are the pre- and post-period deltas (delta_0 = 0 dropped); ``s`` in
    ``-(n_pre-1), ..., 0`` marks the pre-period first difference ``delta_s - delta_{s-1}``
    taken to be the largest in absolute value, with sign ``+`` if ``max_positive``.
    """
    t = n_pre + n_post
    atilde = np.zeros((t, t + 1))
    for r in range(t):
        atilde[r, r] = -1.0
        atilde[r, r + 1] = 1.0
    v = np.zeros(t + 1)
    v[n_pre + s - 1] = -1.0
    v[n_pre + s] = 1.0
    if not max_positive:
        v = -v
    a_ub = np.vstack([np.tile(v, (n_pre, 1)), np.tile(mbar * v, (n_post, 1))])
    a = np.vstack([atilde - a_ub, -atilde - a_ub])
    a = a[np.sum(a * a, axis=1) > 1e-10]
    return np.delete(a, n_pre, axis=1)


def _construct_gamma(l_vec: np.ndarray) -> np.ndarray:
    """Invertible matrix with first row ``l'`` (R: ``.construct_Gamma``, via RREF pivots)."""
    n = len(l_vec)
    rows = [l_vec.astype(float)]
    for j in range(n):
        if len(rows) == n:
            break
        e = np.zeros(n)
        e[j] = 1.0
        if np.linalg.matrix_rank(np.vstack([*rows, e])) > len(rows):
            rows.append(e)
    return np.vstack(rows)


# --------------------------------------------------------------------------------------------
# The ARP linear programme:  eta(y) = min_{eta, d} eta  s.t.  y - X d <= eta * sd
# Dual: max_lam lam'y  s.t. lam >= 0, lam'sd = 1, lam'X = 0.
# --------------------------------------------------------------------------------------------


class _DualLP:
    """Solve the ARP programme for many ``y`` at once through the vertices of its dual."""

    def __init__(self, sd: np.ndarray, x: np.ndarray) -> None:
        self.sd = sd
        self.x = x
        # conditional-test matrices by active set (_basis_terms); sigma is fixed per programme
        self.basis_cache: dict[bytes, Any] = {}
        m, k = x.shape
        w = np.column_stack([sd, x])
        p = k + 1
        self.vertices: np.ndarray | None = None
        if math.comb(m, p) <= _MAX_VERTEX_SUBSETS:
            e1 = np.zeros(p)
            e1[0] = 1.0
            verts = []
            for subset in combinations(range(m), p):
                ws = w[list(subset)]
                if np.linalg.cond(ws) > 1e12:
                    continue
                lam_s = np.linalg.solve(ws.T, e1)
                if np.all(lam_s >= -1e-12):
                    lam = np.zeros(m)
                    lam[list(subset)] = np.maximum(lam_s, 0.0)
                    verts.append(lam)
            if verts:
                v = np.unique(np.round(np.array(verts), 14), axis=0)
                self.vertices = v
            else:
                self.vertices = np.zeros((0, m))

    def solve(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``eta`` (n,) and the dual vector ``lam`` (n, m) for ``y`` of shape (m, n)."""
        if self.vertices is not None:
            if self.vertices.shape[0] == 0:  # dual infeasible: the programme is unbounded
                n = y.shape[1]
                return np.full(n, -np.inf), np.full((n, y.shape[0]), np.nan)
            vals = self.vertices @ y
            idx = np.argmax(vals, axis=0)
            return vals[idx, np.arange(y.shape[1])], self.vertices[idx]
        etas, lams = [], []
        m, k = self.x.shape
        c = np.r_[1.0, np.zeros(k)]
        a_ub = -np.column_stack([self.sd, self.x])
        for j in range(y.shape[1]):
            res = optimize.linprog(
                c, A_ub=a_ub, b_ub=-y[:, j], bounds=[(None, None)] * (k + 1), method="highs"
            )
            if res.status != 0:
                etas.append(np.nan)
                lams.append(np.full(m, np.nan))
            else:
                etas.append(res.fun)
                lams.append(-res.ineqlin.marginals)
        return np.asarray(etas), np.asarray(lams)


def _truncnorm_ppf(p: float, lo: float, hi: float) -> float:
    """Quantile of a standard normal truncated to ``[lo, hi]`` (R: ``TruncatedNormal::norminvp``)."""
    if lo > 0:  # upper tail: work with survival functions for accuracy
        s_lo, s_hi = special.ndtr(-lo), special.ndtr(-hi)
        mass = s_lo - s_hi
        if mass > 0 and s_lo > 1e-300:
            q = -special.ndtri(s_hi + (1 - p) * mass)
            if np.isfinite(q):
                return float(min(max(q, lo), hi))
    else:
        f_lo, f_hi = special.ndtr(lo), special.ndtr(hi)
        mass = f_hi - f_lo
        if mass > 0:
            q = special.ndtri(f_lo + p * mass)
            if np.isfinite(q):
                return float(min(max(q, lo), hi))
    q = stats.truncnorm.ppf(p, lo, hi)
    if np.isfinite(q):
        return float(q)
    return float(lo) if np.isfinite(lo) else float(hi)


def _lf_cv_nuisance(lp: _DualLP, sigma: np.ndarray, kappa: float, sims: int, seed: int) -> float:
    """Least-favourable critical value (R: ``.compute_least_favorable_cv``, nuisance case)."""
    rng = np.random.default_rng(seed)
    xi = rng.multivariate_normal(np.zeros(sigma.shape[0]), sigma, size=sims, method="eigh")
    eta, _ = lp.solve(xi.T)
    eta = eta[np.isfinite(eta)]
    return float(np.quantile(eta, 1 - kappa)) if eta.size else float("inf")


def _lf_cv_no_nuisance(sigma: np.ndarray, kappa: float, sims: int, seed: int) -> float:
    """Least-favourable critical value without nuisance parameters (max of z-scores)."""
    rng = np.random.default_rng(seed)
    xi = rng.multivariate_normal(np.zeros(sigma.shape[0]), sigma, size=sims, method="eigh")
    z = xi / np.sqrt(np.diag(sigma))
    return float(np.quantile(z.max(axis=1), 1 - kappa))


def _vlo_vup_dual(
    eta: float, y: np.ndarray, gamma: np.ndarray, sigma: np.ndarray, lp: _DualLP
) -> tuple[float, float]:
    """Return the truncation points of the dual approach (R: ``.vlo_vup_dual_fn``).

    R bisects for the range of ``c`` over which ``gamma`` stays optimal when ``y`` moves
    along ``s_T + b c``; with the dual vertices known the range is explicit (closed form).
    Without them (large programmes) R's bisection is run with ``scipy.optimize.linprog``.  R's search
    window (``[min(-100, eta - 20 sigma_B), max(100, eta + 20 sigma_B)]``) is kept: beyond
    it the bound is infinite, as in R.
    """
    gsg = float(gamma @ sigma @ gamma)
    b = sigma @ gamma / gsg
    s_t = y - b * float(gamma @ y)
    sigma_b = math.sqrt(gsg)
    if lp.vertices is None:
        return _vlo_vup_bisect(eta, s_t, b, sigma_b, lp)
    a_v = lp.vertices @ s_t
    g_v = 1.0 - lp.vertices @ b
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = a_v / g_v
    pos = g_v > 1e-10
    neg = g_v < -1e-10
    vlo = float(ratio[pos].max()) if pos.any() else -np.inf
    vup = float(ratio[neg].min()) if neg.any() else np.inf
    if vup >= max(100.0, eta + 20 * sigma_b):
        vup = np.inf
    if vlo <= min(-100.0, eta - 20 * sigma_b):
        vlo = -np.inf
    return vlo, vup


def _vlo_vup_bisect(
    eta: float, s_t: np.ndarray, b: np.ndarray, sigma_b: float, lp: _DualLP
) -> tuple[float, float]:
    """Run R's ``.vlo_vup_dual_fn`` search with scipy (only when the dual vertices are not listed).

    As in R: from a value of ``c`` where ``gamma`` is not optimal, jump to the ``c`` at which
    the optimal dual vector there would tie (at most 10 jumps), then bisect to 1e-6.
    """
    w = np.column_stack([lp.sd, lp.x])
    e1 = np.zeros(w.shape[1])
    e1[0] = 1.0

    def solve(c: float) -> tuple[bool, np.ndarray | None]:
        res = optimize.linprog(
            -(s_t + b * c), A_eq=w.T, b_eq=e1, bounds=[(0, None)] * len(s_t), method="highs"
        )
        if res.status != 0:
            return False, None
        return abs(c - (-res.fun)) <= 1e-6, res.x

    lo0, hi0 = min(-100.0, eta - 20 * sigma_b), max(100.0, eta + 20 * sigma_b)
    if not solve(eta)[0]:
        return eta, np.inf
    out = []
    for far in (hi0, lo0):
        ok, lam = solve(far)
        if ok:
            out.append(np.inf if far > eta else -np.inf)
            continue
        good, bad = eta, far
        for _ in range(10):  # R's shortcut
            if lam is None:
                break
            denom = 1.0 - float(lam @ b)
            num = float(lam @ s_t)
            if abs(denom) < 1e-14:
                break
            mid = (0.0 if abs(num) < np.finfo(float).eps ** 0.75 else num) / denom
            ok, lam_mid = solve(mid)
            if ok:
                good = bad = mid
                break
            bad, lam = mid, lam_mid
        while abs(bad - good) > 1e-6:
            mid = (good + bad) / 2
            if solve(mid)[0]:
                good = mid
            else:
                bad = mid
        out.append((good + bad) / 2)
    return out[1], out[0]


def _arp_lf_reject(
    eta: float,
    lam: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    sigma: np.ndarray,
    alpha: float,
    kappa: float,
    lf_cv: float,
    lp: _DualLP,
) -> bool:
    """C-LF test of ``E[y - X d] <= 0`` (R: ``.lp_conditional_test_fn`` with ``hybrid_flag="LF"``)."""
    if not np.isfinite(eta):
        return False  # LP did not solve: R does not reject
    if eta > lf_cv:
        return True
    mod_size = (alpha - kappa) / (1 - kappa)
    b_idx = lam > 1e-6
    basis = _basis_terms(lp, b_idx, x, sigma, len(y))
    if basis is None:  # degenerate or rank-deficient basis
        sigma_b = math.sqrt(max(float(lam @ sigma @ lam), 0.0))
        if sigma_b < 1e-10:
            return eta > 0
        vlo, vup = _vlo_vup_dual(eta, y, lam, sigma, lp)
        maxstat = eta / sigma_b
        zlo = vlo / sigma_b
        zup = min(vup, lf_cv) / sigma_b
    else:
        gamma_b, v_b, sigma_b, rho = basis
        with np.errstate(divide="ignore", invalid="ignore"):
            mm = (-gamma_b @ y) / rho + float(v_b @ y)
        vlo = float(mm[rho > 0].max()) if np.any(rho > 0) else -np.inf
        vup = float(mm[rho < 0].min()) if np.any(rho < 0) else np.inf
        zlo = vlo / sigma_b
        zup = min(vup, lf_cv) / sigma_b
        maxstat = eta / sigma_b
    if not (zlo <= maxstat <= zup):
        return False
    cval = max(0.0, _truncnorm_ppf(1 - mod_size, zlo, zup))
    return bool(maxstat > cval)


def _basis_terms(
    lp: _DualLP, b_idx: np.ndarray, x: np.ndarray, sigma: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray] | None:
    """The matrices of the conditional test for the active set ``b_idx`` (``None``: degenerate).

    They depend on the active set only (the same for every tested value whose programme has
    the same optimal dual vertex), so they are computed once per active set and kept on
    ``lp`` (the theta grid of one Mbar visits a handful of vertices a thousand times).
    """
    key = b_idx.tobytes()
    cache = lp.basis_cache
    if key not in cache:
        k = x.shape[1]
        degenerate = int(b_idx.sum()) != k + 1
        x_b = x[b_idx]
        full_rank = np.linalg.matrix_rank(x_b) == min(x_b.shape) if x_b.size else False
        if degenerate or not full_rank:
            cache[key] = None
        else:
            sd = lp.sd
            bc_idx = ~b_idx
            wb_inv = np.linalg.inv(np.column_stack([sd[b_idx], x_b]))
            s_b = np.eye(m)[b_idx]
            s_bc = np.eye(m)[bc_idx]
            gamma_b = np.column_stack([sd[bc_idx], x[bc_idx]]) @ wb_inv @ s_b - s_bc
            v_b = wb_inv[0] @ s_b
            sigma2_b = float(v_b @ sigma @ v_b)
            rho = gamma_b @ sigma @ v_b / sigma2_b
            cache[key] = (gamma_b, v_b, math.sqrt(sigma2_b), rho)
    return cache[key]


def _no_nuisance_lf_reject(
    y: np.ndarray, sigma: np.ndarray, a: np.ndarray, d: np.ndarray, alpha: float, lf_cv: float
) -> bool:
    """C-LF test without nuisance parameters (R: ``.testInIdentifiedSet_LF_Hybrid``).

    As in R, the second stage uses level ``alpha`` and does not truncate at the
    least-favourable critical value.
    """
    sig_tilde = np.sqrt(np.diag(a @ sigma @ a.T))
    a_t = a / sig_tilde[:, None]
    d_t = d / sig_tilde
    moments = a_t @ y - d_t
    j = int(np.argmax(moments))
    max_moment = float(moments[j])
    if max_moment > lf_cv:
        return True
    gamma = a_t[j]
    a_bar = a_t - a_t[j][None, :]
    d_bar = d_t - d_t[j]
    gsg = float(gamma @ sigma @ gamma)
    sigmabar = math.sqrt(gsg)
    c = sigma @ gamma / gsg
    z = y - c * float(gamma @ y)
    ac = a_bar @ c
    with np.errstate(divide="ignore", invalid="ignore"):
        obj = (d_bar - a_bar @ z) / ac
    vlo = float(obj[ac < 0].max()) if np.any(ac < 0) else -np.inf
    vup = float(obj[ac > 0].min()) if np.any(ac > 0) else np.inf
    mu = float(d_t[j])
    cval = mu + sigmabar * _truncnorm_ppf(1 - alpha, (vlo - mu) / sigmabar, (vup - mu) / sigmabar)
    return bool(max_moment + mu > cval)


def _rm_clf_accept(
    beta: np.ndarray,
    sigma: np.ndarray,
    n_pre: int,
    n_post: int,
    l_vec: np.ndarray,
    mbar: float,
    alpha: float,
    thetas: np.ndarray,
    sims: int,
    seed: int,
) -> np.ndarray:
    """Return which thetas the C-LF set for Delta^RM(Mbar) accepts (R: ``computeConditionalCS_DeltaRM``).

    The set is the union over the location ``s`` and sign of the largest pre-period first
    difference of the C-LF sets for the polyhedral pieces Delta^RM_{s,+/-}(Mbar).
    """
    kappa = alpha / 10
    accept = np.zeros(thetas.size, dtype=bool)
    for s in range(-(n_pre - 1), 1):
        for max_positive in (True, False):
            a = _create_a_rm(n_pre, n_post, mbar, s, max_positive)
            d = np.zeros(a.shape[0])
            todo = np.flatnonzero(~accept)
            if todo.size == 0:
                return accept
            if n_post == 1:
                # theta = l * tau_1: test tau_1 = theta / l and map back.
                scale = float(l_vec[0])
                sig_y = a @ sigma @ a.T
                lf_cv = _lf_cv_no_nuisance(sig_y, kappa, sims, seed)
                e = np.zeros(n_pre + 1)
                e[n_pre] = 1.0
                for i in todo:
                    y = beta - e * (thetas[i] / scale)
                    if not _no_nuisance_lf_reject(y, sigma, a, d, alpha, lf_cv):
                        accept[i] = True
                continue
            rows = np.flatnonzero(np.any(a[:, n_pre:] != 0, axis=1))  # post-period moments
            gamma_inv = np.linalg.inv(_construct_gamma(l_vec))
            a_gi = a[:, n_pre:] @ gamma_inv
            a1 = a_gi[rows, 0]
            x = a_gi[rows][:, 1:]
            y0 = (a @ beta - d)[rows]
            sig_y = (a @ sigma @ a.T)[np.ix_(rows, rows)]
            lp = _DualLP(np.sqrt(np.diag(sig_y)), x)
            lf_cv = _lf_cv_nuisance(lp, sig_y, kappa, sims, seed)
            ys = y0[:, None] - a1[:, None] * thetas[None, todo]
            etas, lams = lp.solve(ys)
            for j, i in enumerate(todo):
                if not _arp_lf_reject(
                    float(etas[j]), lams[j], ys[:, j], x, sig_y, alpha, kappa, lf_cv, lp
                ):
                    accept[i] = True
    return accept
