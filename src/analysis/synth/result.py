"""``SynthResult``: the read-only result of the three territorial counterfactual estimators.

Inference
---------
``synthetic_did``: the standard error is computed at fit time (Arkhangelsky et al. 2021,
Algorithm 4, by diff-diff).  ``synthetic_control`` and ``panel_did``: the same placebo standard
error is computed on first use of ``se``/``ci_low``/``ci_high``/``to_estimate()``/``summary()``
from the in-space placebo runs (one fit per donor, cached on the object).  The interval is the
normal one, ``att +- z * se``.  The p-value of ``to_estimate()`` is

* synthetic control: the permutation p-value of the in-space placebo test (rank of the treated
  unit's post/pre MSPE ratio / number of units), which does not rely on the normal
  approximation; the interval and the p-value can therefore disagree;
* synthetic DiD and DiD: the normal p-value ``2 * (1 - Phi(|att| / se))``; the permutation
  p-value is in ``extra`` for DiD.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis._util import to_jsonable
from analysis.estimate import Estimate
from analysis.replicate import resolve_jobs
from analysis.synth import placebo as _placebo
from analysis.synth._fit import PointFit, Spec, placebo_se
from analysis.synth._panel import PanelData


@dataclass(frozen=True, eq=False)
class SynthResult:
    """Result of a territorial counterfactual estimator (read-only).

    Returned by :func:`~analysis.synth.synthetic_control`, :func:`~analysis.synth.synthetic_did`
    and :func:`~analysis.synth.panel_did`.  Every table attribute returns a copy; arrays are read-only.
    """

    _panel: PanelData
    _spec: Spec
    _fit: PointFit

    # -- identification --------------------------------------------------------------------
    @property
    def method(self) -> str:
        """``"synthetic_control"``, ``"synthetic_did"`` or ``"panel_did"``."""
        return self._spec.method

    @property
    def label(self) -> str:
        """Human-readable name of the estimator."""
        return self._spec.label

    @property
    def backend(self) -> str:
        """Library (and version) doing the computation."""
        return self._spec.backend

    @property
    def outcome(self) -> str:
        """Outcome column."""
        return self._panel.outcome

    @property
    def treated_unit(self) -> Hashable:
        """The treated unit."""
        return self._panel.treated

    @property
    def start(self) -> Any:
        """First treated period."""
        return self._panel.start

    # -- point estimate and fit ------------------------------------------------------------
    @property
    def att(self) -> float:
        """Average effect over the post-periods (mean post-period gap)."""
        return float(self._fit.att)

    @property
    def effects(self) -> pd.DataFrame:
        """Per period: ``time, observed, counterfactual, gap, post``."""
        p = self._panel
        cf = self._fit.counterfactual
        return pd.DataFrame(
            {
                "time": p.times,
                "observed": p.y_treated,
                "counterfactual": cf,
                "gap": p.y_treated - cf,
                "post": p.post,
            }
        )

    @property
    def weights(self) -> pd.Series:
        """Donor weights, indexed by unit (sum to one)."""
        return pd.Series(
            self._fit.weights,
            index=pd.Index(self._panel.donors, name=self._panel.unit),
            name="weight",
        )

    @property
    def time_weights(self) -> pd.Series | None:
        """Pre-period weights ``lambda`` (synthetic DiD; equal weights for DiD; else None)."""
        if self._fit.time_weights is None:
            return None
        return pd.Series(
            self._fit.time_weights,
            index=pd.Index(self._panel.pre_times, name=self._panel.time),
            name="time_weight",
        )

    @property
    def predictor_weights(self) -> pd.Series | None:
        """Synthetic control with predictors: the diagonal of ``V`` by predictor row.

        Sums to one; it weights the standardised rows.  ``None`` for the outcome-only fit
        (``V = I``) and for the other estimators.
        """
        v = self._fit.extra.get("v_weights")
        if v is None:
            return None
        return pd.Series(dict(v), name="v", dtype=float).rename_axis("predictor")

    @property
    def predictor_balance(self) -> pd.DataFrame | None:
        """Synthetic control with predictors: the rows of ``X``, treated vs synthetic.

        Columns ``predictor, treated, synthetic, donor_mean`` (the synthetic value is
        ``X_0 w``); ``None`` for the outcome-only fit and the other estimators.
        """
        bal = self._fit.extra.get("predictor_balance")
        if bal is None:
            return None
        return pd.DataFrame(
            [{"predictor": k, **vals} for k, vals in bal.items()],
            columns=["predictor", "treated", "synthetic", "donor_mean"],
        )

    @property
    def donors(self) -> tuple[Hashable, ...]:
        """Donors used (after exclusions)."""
        return self._panel.donors

    @property
    def excluded(self) -> pd.DataFrame:
        """Units and periods left out and why (``level, unit, time, reason``)."""
        return self._panel.excluded.copy()

    @property
    def n_pre(self) -> int:
        """Number of pre-periods used."""
        return self._panel.n_pre

    @property
    def n_post(self) -> int:
        """Number of post-periods used."""
        return self._panel.n_post

    @property
    def pre_rmspe(self) -> float:
        """Root mean squared gap over the pre-periods (fit of the counterfactual)."""
        gap = self._panel.y_treated - self._fit.counterfactual
        return float(np.sqrt(np.mean(gap[: self.n_pre] ** 2)))

    @property
    def post_rmspe(self) -> float:
        """Root mean squared gap over the post-periods."""
        gap = self._panel.y_treated - self._fit.counterfactual
        return float(np.sqrt(np.mean(gap[self.n_pre :] ** 2)))

    @property
    def replications(self) -> int:
        """Placebo replications of the standard error."""
        return self._spec.replications

    @property
    def seed(self) -> int:
        """Seed of the placebo standard error."""
        return self._spec.seed

    @property
    def level(self) -> float:
        """Confidence level of ``ci_low``/``ci_high``."""
        return self._spec.level

    # -- uncertainty -----------------------------------------------------------------------
    @cached_property
    def _space(self) -> _placebo.PlaceboInSpace:
        return _placebo.placebo_in_space(self)

    @cached_property
    def _se(self) -> float:
        if self._fit.se is not None:
            return float(self._fit.se)
        draws = _placebo.placebo_draws(self._space, replications=self.replications, seed=self.seed)
        return placebo_se(draws)

    @property
    def se(self) -> float:
        """Placebo standard error (Arkhangelsky et al. 2021, Algorithm 4); NaN if < 2 donors.

        Computed at fit time for synthetic DiD, on first use for the other estimators.
        """
        return self._se

    @property
    def ci_low(self) -> float:
        """Lower bound of the normal interval ``att - z * se``."""
        return self.att - self._z * self.se

    @property
    def ci_high(self) -> float:
        """Upper bound of the normal interval ``att + z * se``."""
        return self.att + self._z * self.se

    @property
    def _z(self) -> float:
        return float(stats.norm.ppf(0.5 + self.level / 2))

    # -- inference methods -----------------------------------------------------------------
    def placebo_in_space(
        self, max_pre_rmspe_ratio: float | None = None, *, n_jobs: int | None = None
    ) -> _placebo.PlaceboInSpace:
        """In-space placebo test (ADH 2010): every donor in turn as the treated unit.

        Parameters
        ----------
        max_pre_rmspe_ratio
            ``k``: leave out placebos whose pre-period **MSPE** exceeds ``k`` times the
            treated unit's (the ADH 2010 convention, k = 20, 5, 2).  ``None`` keeps all.
        n_jobs
            Workers of the donor re-fits when they are not computed yet (they are computed
            once per result and shared with the placebo standard error;
            :func:`analysis.synth.placebo.placebo_in_space`).  ``None``:
            :func:`analysis.replicate.default_jobs`.  The result is identical for any value.

        Returns
        -------
        PlaceboInSpace
            Table (unit, pre/post MSPE and RMSPE, ratio = post/pre MSPE, rank), the treated
            unit's rank, the permutation p-value ``rank / n_units`` and the gap series.
        """
        resolve_jobs(n_jobs)  # refused when bad, even if the placebos are already computed
        if "_space" not in self.__dict__:
            self.__dict__["_space"] = _placebo.placebo_in_space(self, n_jobs=n_jobs)
        return self._space.filtered(max_pre_rmspe_ratio)

    def placebo_in_time(self, fake_start: Any) -> SynthResult:
        """Re-run the estimator on data cut at the real start, treated from ``fake_start``."""
        return _placebo.placebo_in_time(self, fake_start)

    def leave_one_out(self, *, n_jobs: int | None = None) -> _placebo.LeaveOneOut:
        """Re-estimate dropping each donor with weight > 1e-6 in turn.

        ``n_jobs``: workers of the re-fits (``None``: :func:`analysis.replicate.default_jobs`);
        the result is identical for any value.
        """
        return _placebo.leave_one_out(self, n_jobs=n_jobs)

    def to_estimate(self) -> Estimate:
        """Return the ATT as :class:`~analysis.estimate.Estimate` (see module docstring)."""
        n_units = self._panel.n_donors + 1
        extra: dict[str, Any] = {
            "treated_unit": to_jsonable(self.treated_unit),
            "start": to_jsonable(self.start),
            "n_pre": self.n_pre,
            "n_post": self.n_post,
            "n_donors": self._panel.n_donors,
            "pre_rmspe": self.pre_rmspe,
            "se_method": "placebo variance, Arkhangelsky et al. (2021) Algorithm 4",
            "replications": self.replications,
            "seed": self.seed,
        }
        kw = dict(
            n_obs=self._panel.n_periods * n_units,
            n_units=n_units,
            method=self.label,
            backend=self.backend,
            level=self.level,
        )
        est = Estimate.from_se(self.att, self.se, **kw, extra=extra)
        if self.method in ("synthetic_control", "panel_did"):
            space = self._space
            extra.update(
                permutation_p_value=space.p_value,
                permutation_rank=space.treated_rank,
                permutation_n_units=space.n_units,
            )
            if self.method == "synthetic_control":
                extra["p_value_method"] = (
                    "permutation: rank of the post/pre MSPE ratio among "
                    "the treated unit and the in-space placebos"
                )
                est = dataclasses.replace(est, p_value=space.p_value, extra=extra)
            else:
                extra["p_value_method"] = "normal approximation with the placebo SE"
                est = dataclasses.replace(est, extra=extra)
        else:
            extra["p_value_method"] = "normal approximation with the placebo SE"
            est = dataclasses.replace(est, extra=extra)
        return est

    # -- reporting -------------------------------------------------------------------------
    def tidy(self) -> pd.DataFrame:
        """One-row DataFrame: the :class:`Estimate` columns plus fit diagnostics."""
        row = self.to_estimate().tidy()
        row.insert(0, "treated_unit", [self.treated_unit])
        for k, v in {
            "n_pre": self.n_pre,
            "n_post": self.n_post,
            "n_donors": self._panel.n_donors,
            "pre_rmspe": self.pre_rmspe,
            "post_rmspe": self.post_rmspe,
        }.items():
            row[k] = v
        return row

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (estimate, weights, per-period effects, exclusions)."""
        tw = self.time_weights
        return to_jsonable(
            {
                "method": self.method,
                "label": self.label,
                "backend": self.backend,
                "outcome": self.outcome,
                "unit": self._panel.unit,
                "time": self._panel.time,
                "treated_unit": self.treated_unit,
                "start": self.start,
                "att": self.att,
                "se": self.se,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "level": self.level,
                "n_pre": self.n_pre,
                "n_post": self.n_post,
                "pre_rmspe": self.pre_rmspe,
                "post_rmspe": self.post_rmspe,
                "donors": list(self.donors),
                "weights": dict(zip(self.weights.index, self.weights.to_numpy(), strict=True)),
                "time_weights": None
                if tw is None
                else dict(zip(tw.index, tw.to_numpy(), strict=True)),
                "effects": self.effects.to_dict(orient="records"),
                "excluded": self.excluded.to_dict(orient="records"),
                "options": self._spec.options(),
                "details": dict(self._fit.extra),
                "estimate": self.to_estimate().to_dict(),
            }
        )

    def summary(self, digits: int = 3) -> str:
        """Return a short text report (estimate, uncertainty, fit, weights, exclusions)."""
        f = f"{{:.{digits}f}}"
        est = self.to_estimate()
        w = self.weights.sort_values(ascending=False)
        top = ", ".join(f"{u} {v:.3f}" for u, v in w[w > 1e-3].head(6).items())
        n_unit_x = int((self._panel.excluded["level"] == "unit").sum())
        n_per_x = int((self._panel.excluded["level"] == "period").sum())
        lines = [
            f"{self.label}: outcome {self.outcome!r}, treated unit {self.treated_unit!r}, "
            f"start {self.start!r}",
            f"periods: {self.n_pre} pre, {self.n_post} post; donors: {self._panel.n_donors} "
            f"({int((w > 1e-6).sum())} with positive weight); excluded: {n_unit_x} unit(s), "
            f"{n_per_x} period(s)",
            f"ATT {f.format(self.att)}, placebo SE {f.format(self.se)}, "
            f"{self.level:.0%} CI [{f.format(est.ci_low)}, {f.format(est.ci_high)}], "
            f"p = {est.p_value:.3g} ({est.extra.get('p_value_method', '')})",
            f"pre-period RMSPE {f.format(self.pre_rmspe)}, post-period RMSPE "
            f"{f.format(self.post_rmspe)}",
            f"largest weights: {top}",
        ]
        tw = self.time_weights
        if tw is not None and self.method == "synthetic_did":
            tws = tw.sort_values(ascending=False)
            lines.append(
                "time weights: " + ", ".join(f"{t} {v:.3f}" for t, v in tws[tws > 1e-3].items())
            )
        lines.append(f"backend: {self.backend}")
        return "\n".join(lines)

    def effect_summary(self) -> str:
        """Plain-words summary: size of the effect, its uncertainty, number of post periods."""
        est = self.to_estimate()
        att = self.att
        direction = "lower" if att < 0 else "higher"
        post = self._panel.post_times
        span = f"{post[0]}" if len(post) == 1 else f"{post[0]} to {post[-1]}"
        level = float(np.mean(np.abs(self._panel.y_treated[: self.n_pre])))
        rel = f" (about {abs(att) / level:.0%} of its average pre-period level)" if level else ""
        text = [
            f"{self.label}: over {self.n_post} post-treatment period(s) ({span}), "
            f"{self.outcome!r} in {self.treated_unit!r} was on average {abs(att):.3g} "
            f"{direction} than its estimated counterfactual{rel}."
        ]
        if math.isfinite(self.se):
            covers = est.ci_low <= 0 <= est.ci_high
            text.append(
                f"The {self.level:.0%} interval from the placebo standard error "
                f"({self.se:.3g}, {self.replications} draws) runs from {est.ci_low:.3g} to "
                f"{est.ci_high:.3g}; it {'includes' if covers else 'excludes'} zero, so the "
                f"data are {'compatible' if covers else 'not compatible'} with no effect "
                "at this level."
            )
        else:
            text.append("No standard error could be computed (fewer than two donors).")
        if self.method in ("synthetic_control", "panel_did"):
            s = self._space
            text.append(
                f"In the in-space placebo test the treated unit's post/pre fit ratio ranks "
                f"{s.treated_rank} of {s.n_units} units (permutation p = {s.p_value:.3f})."
            )
        text.append(
            f"Pre-period fit: RMSPE {self.pre_rmspe:.3g}. With a single treated unit "
            "these are descriptive measures of how unusual the gap is, not the "
            "sampling uncertainty of a large-sample estimator."
        )
        return " ".join(text)

    def __repr__(self) -> str:
        return (
            f"SynthResult(method={self.method!r}, treated_unit={self.treated_unit!r}, "
            f"att={self.att:.4g}, n_pre={self.n_pre}, n_post={self.n_post}, "
            f"n_donors={self._panel.n_donors})"
        )


def make_result(panel: PanelData, spec: Spec, fit: PointFit) -> SynthResult:
    """Wrap a fit into a :class:`SynthResult` (arrays made read-only)."""
    for arr in (fit.weights, fit.counterfactual, fit.time_weights):
        if arr is not None:
            arr.flags.writeable = False
    return SynthResult(_panel=panel, _spec=spec, _fit=fit)
