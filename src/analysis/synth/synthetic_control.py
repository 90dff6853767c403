r"""Synthetic control (Abadie, Diamond & Hainmueller 2010), wrapping ``diff_diff.SyntheticControl``.

Model and estimand
------------------
One treated unit :math:`1` and donors :math:`j = 2, \dots, J+1`, observed in periods
:math:`t = 1, \dots, T`, treated from :math:`T_0 + 1` (``start``).  The counterfactual is a
convex combination of donors,

.. math::

    \hat Y_{1t}(0) = \sum_j w_j Y_{jt}, \qquad w_j \ge 0, \ \sum_j w_j = 1,

with :math:`w(V) = \arg\min_w (X_1 - X_0 w)' V (X_1 - X_0 w)` over the simplex (no
intercept), :math:`X` the predictor matrix and :math:`V` a diagonal matrix of predictor
weights.  The effect in period :math:`t > T_0` is the gap :math:`Y_{1t} - \hat Y_{1t}(0)` and
the reported ``att`` is its mean over the post-periods (the ATT on the treated unit).

* **Outcome only** (default, no ``predictors``/``special_predictors``): :math:`X` holds the
  pre-period outcomes (all of them, or those in ``pre_periods``) and :math:`V = I`, i.e.
  plain simplex least squares on the pre-period path.  Solved exactly by diff-diff's
  non-negative least squares (``v_method="custom"`` with uniform :math:`V`,
  ``standardize="none"``).
* **With predictors**: each row of :math:`X` is a variable averaged over its own window of
  pre-periods, over the years in which it is observed (R ``Synth``'s ``dataprep``; see
  :mod:`analysis.synth._predictors`): ``predictors`` over ``predictor_window``,
  ``special_predictors`` over their own periods, plus the outcome lags of ``pre_periods``.
  Rows are standardised by their standard deviation across units (R ``Synth``) and
  :math:`V` is

  - ``"nested"``: chosen by diff-diff's nested search minimising the pre-period outcome
    MSPE :math:`\sum_{t \le T_0} (Y_{1t} - \sum_j w_j(V) Y_{jt})^2` (ADH 2010, R ``Synth``);
  - ``"inverse_variance"``: :math:`v_h = 1/\mathrm{Var}(X_h)` (closed form, fast);
  - ``"custom"``: given by the user (``v=``);
  - ``"cv"``: cross-validation as in Abadie, Diamond & Hainmueller (2015, section 4):
    the *training* fit averages the predictors over the ``training`` periods (its special
    predictors are ``training_special_predictors``) and :math:`V^*` minimises the MSPE of
    the outcome over the ``validation`` periods,
    :math:`V^* = \arg\min_V \sum_{t \in \text{validation}} (Y_{1t} - \sum_j w^{\text{train}}_j(V) Y_{jt})^2`;
    the reported weights are :math:`w(V^*)` on the predictors of the main fit, by default
    averaged over the ``validation`` periods.  diff-diff's own ``v_method="cv"`` re-measures
    the *same* predictors on a split of the pre-period; ADH's training fit has its own
    variables and windows (``invest70`` instead of ``invest80``, schooling 1970/75 instead of
    1980/85), so the two stages are run here as two diff-diff fits: a nested fit whose
    pre-period is the validation window, then a custom-:math:`V` fit.

Validation: on Proposition 99 (outcome only, 19 pre-years) this gives ATT -19.51, 2000 gap
-26.60 and weights Utah 0.394, Montana 0.232, Nevada 0.205, Connecticut 0.109 (published:
-19.5 +- 0.15 across solvers; see ``tests/test_synth_prop99.py``).  On the Basque Country
(Abadie & Gardeazabal 2003, nested :math:`V`): Cataluña 0.8508, Madrid 0.1492 (published
0.8508, 0.1492).  On West Germany (ADH 2015, :math:`V` by cross-validation): Austria 0.419,
USA 0.221, Japan 0.158, Switzerland 0.109, Netherlands 0.094 (published 0.42, 0.22, 0.16,
0.11, 0.09); see ``tests/test_synth_adh_reference.py``.

Inference (on the result object): in-space placebos with the post/pre MSPE-ratio permutation
p-value (ADH 2010, donor pool of each placebo = the other donors), and the placebo standard
error of Arkhangelsky et al. (2021, Algorithm 4) for ``to_estimate()``.  Placebo fits re-use
the options, :math:`V` included when it is data-driven (re-chosen for each placebo); in the
in-time placebo every window is cut at the fake start.  The placebo and leave-one-out re-fits
call diff-diff's solvers on arrays (:func:`sc_point`, the same numbers to the last bit as
``SyntheticControl.fit``, checked by ``tests/test_synth_refit.py``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from analysis.errors import fail
from analysis.synth._fit import EstimatorSpec, PointFit
from analysis.synth._panel import (
    SOURCE,
    TIME,
    UNIT,
    PanelData,
    Y,
    build_panel,
    concat_excluded,
)
from analysis.synth._predictors import (
    PredictorRow,
    as_periods,
    describe_window,
    fmt_window,
    normalise_special,
    py,
    special_label,
    undefined,
    window_means,
)
from analysis.synth.result import SynthResult

_D = "_d"

#: Choices of the predictor weights ``V``.
V_METHODS = ("nested", "inverse_variance", "custom", "cv")

Special = tuple[tuple[str, tuple[Any, ...]], ...]


@dataclass(frozen=True)
class SCSpec(EstimatorSpec):
    """Options of a synthetic-control run (see :func:`synthetic_control`).

    ``v_method`` is ``None`` for the outcome-only fit (``V = I``), else one of
    :data:`V_METHODS`.  Periods are stored as the data's own period values.
    """

    method: ClassVar[str] = "synthetic_control"
    label: ClassVar[str] = "Synthetic control"
    package: ClassVar[str] = "diff-diff"

    predictors: tuple[str, ...] = ()
    pre_periods: tuple[Any, ...] | None = None
    v_method: str | None = None
    predictor_window: tuple[Any, ...] | None = None
    special_predictors: Special = ()
    v: tuple[float, ...] | None = None
    training: tuple[Any, ...] | None = None
    validation: tuple[Any, ...] | None = None
    training_special_predictors: Special | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.v_method is not None and self.v_method not in V_METHODS:
            raise ValueError(f"v_method must be one of {V_METHODS}, got {self.v_method!r}")
        if self.has_predictors and self.v_method is None:
            raise ValueError("v_method is required with predictors")
        if not self.has_predictors and self.v_method is not None:
            self._refuse_without_predictors(v_method=self.v_method)
        if (self.v is not None) != (self.v_method == "custom"):
            raise ValueError("v= (the diagonal of V) goes with v_method='custom', and only with it")
        cv = self.v_method == "cv"
        if cv and (self.training is None or self.validation is None):
            raise ValueError("v_method='cv' needs both training= and validation= periods")
        cv_only = {
            "training": self.training,
            "validation": self.validation,
            "training_special_predictors": self.training_special_predictors,
        }
        given = [k for k, val in cv_only.items() if val is not None]
        if given and not cv:
            raise ValueError(
                f"{given} apply only to v_method='cv' (cross-validation of V), "
                f"got v_method={self.v_method!r}"
            )
        if cv and self.pre_periods is not None:
            raise ValueError(
                "pre_periods (outcome lags) cannot be combined with v_method='cv': a lag is "
                "one period and cannot be re-measured on the training window; use a special "
                "predictor on the outcome instead"
            )
        tsp = self.training_special_predictors
        if cv and tsp is not None and len(tsp) != len(self.special_predictors):
            raise ValueError(
                f"training_special_predictors must pair one-to-one with special_predictors "
                f"(V is shared row by row): got {len(tsp)} and {len(self.special_predictors)}"
            )
        if self.predictor_window is not None and not self.predictors:
            raise ValueError("predictor_window applies to predictors=, and none are given")

    @staticmethod
    def _refuse_without_predictors(**given: Any) -> None:
        names = [k for k, val in given.items() if val is not None]
        if names:
            raise ValueError(
                f"{names} apply only with predictors= or special_predictors=; the "
                "outcome-only fit (the default) matches the pre-period outcomes with V = I"
            )

    @property
    def has_predictors(self) -> bool:
        """Whether ``X`` holds predictors (else the outcome-only fit)."""
        return bool(self.predictors or self.special_predictors)

    def method_options(self) -> dict[str, Any]:
        """Predictors and their windows, matched pre-periods and the choice of ``V``."""

        def per(x: Sequence[Any] | None) -> list[Any] | None:
            return None if x is None else [py(p) for p in x]

        def spec(x: Special | None) -> list[list[Any]] | None:
            return None if x is None else [[c, per(p)] for c, p in x]

        out: dict[str, Any] = {
            "predictors": list(self.predictors),
            "pre_periods": None if self.pre_periods is None else [_py(p) for p in self.pre_periods],
            "v_method": self.v_method if self.has_predictors else "uniform (outcome only)",
        }
        if self.has_predictors:
            out.update(
                predictor_window=per(self.predictor_window),
                special_predictors=spec(self.special_predictors),
                v=None if self.v is None else list(self.v),
                training=per(self.training),
                validation=per(self.validation),
                training_special_predictors=spec(self.training_special_predictors),
            )
        return out

    # -- predictor rows ------------------------------------------------------------------
    def _lags(self, panel: PanelData) -> list[Any]:
        pre = list(panel.pre_times)
        if self.pre_periods is None:
            return [] if self.has_predictors else pre
        lags = [p for p in self.pre_periods if p in set(pre)]
        return lags if (lags or self.has_predictors) else pre

    def rows(self, panel: PanelData) -> list[PredictorRow]:
        """Rows of ``X`` of the main fit, in the order of ``V``."""
        window = self.predictor_window
        if window is None and self.v_method == "cv":
            window = self.validation
        out = [PredictorRow(c, c, window) for c in self.predictors]
        out += [PredictorRow(special_label(c, p), c, p) for c, p in self.special_predictors]
        out += [
            PredictorRow(f"{panel.outcome}_{_py(p)}", panel.outcome, (p,))
            for p in self._lags(panel)
        ]
        return out

    def training_rows(self) -> list[PredictorRow]:
        """Rows of ``X`` of the cross-validation training fit (same order as :meth:`rows`)."""
        special = self.training_special_predictors
        if special is None:
            special = self.special_predictors
        out = [PredictorRow(c, c, self.training) for c in self.predictors]
        out += [PredictorRow(special_label(c, p), c, p) for c, p in special]
        return out

    def all_rows(self, panel: PanelData) -> list[PredictorRow]:
        """Every row the fit averages (main and, with ``"cv"``, training)."""
        rows = self.rows(panel)
        return rows + self.training_rows() if self.v_method == "cv" else rows

    def _matrix(self, panel: PanelData, rows: list[PredictorRow]) -> np.ndarray:
        """Window means of ``rows``; an error if one is undefined (no observed period)."""
        x = window_means(panel, rows)
        bad_treated, reasons = undefined(panel, rows, x)
        if bad_treated:
            r = bad_treated[0]
            raise fail(
                SOURCE,
                f"predictor {r.column!r} is not observed for unit {panel.treated!r} in any "
                f"period of its window {describe_window(panel, r)}",
                column=r.column,
                rows=[panel.treated],
            )
        if reasons:
            donor, why = next(iter(reasons.items()))
            raise fail(SOURCE, f"unit {donor!r}: {why}", column=panel.unit, rows=list(reasons))
        return x

    # -- fit -----------------------------------------------------------------------------
    def fit(self, panel: PanelData) -> PointFit:
        """Fit with ``diff_diff.SyntheticControl`` (exact simplex least squares)."""
        return self._point(panel, _library_fit)

    def refit(self, panel: PanelData) -> PointFit:
        """The same fit on arrays (:func:`sc_point`), for placebo and leave-one-out loops."""
        return sc_point(panel, self)

    def _point(self, panel: PanelData, solve: _Solver) -> PointFit:
        """The fit, with ``solve`` doing each diff-diff fit (the library's or :func:`_array_fit`)."""
        if not self.has_predictors:
            lags = self._lags(panel)
            s = solve(
                panel, None, v_method="custom", custom_v=np.ones(len(lags)), seed=None, lags=lags
            )
            return PointFit(
                att=s.att,
                weights=s.weights,
                counterfactual=panel.y_treated - s.gap,
                extra={"pre_period_outcomes_used": len(lags)},
            )
        rows = self.rows(panel)
        x = self._matrix(panel, rows)
        extra: dict[str, Any] = {"pre_period_outcomes_used": len(self._lags(panel))}
        if self.v_method == "cv":
            v, extra["cross_validation"] = self._cv_v(panel, solve)
            s = solve(panel, x, v_method="custom", custom_v=v, seed=self.seed)
        elif self.v_method == "custom":
            assert self.v is not None
            if len(self.v) != len(rows):
                raise ValueError(
                    f"v has {len(self.v)} entries but there are {len(rows)} predictor rows "
                    f"({[r.label for r in rows]})"
                )
            s = solve(panel, x, v_method="custom", custom_v=np.asarray(self.v), seed=self.seed)
        else:
            assert self.v_method is not None
            s = solve(panel, x, v_method=self.v_method, seed=self.seed)
        w = s.weights
        extra["v_weights"] = {r.label: float(val) for r, val in zip(rows, s.v, strict=True)}
        extra["predictor_balance"] = {
            r.label: {
                "treated": float(x[h, 0]),
                "synthetic": float(x[h, 1:] @ w),
                "donor_mean": float(np.mean(x[h, 1:])),
            }
            for h, r in enumerate(rows)
        }
        return PointFit(att=s.att, weights=w, counterfactual=panel.y_treated - s.gap, extra=extra)

    def _cv_v(self, panel: PanelData, solve: _Solver) -> tuple[np.ndarray, dict[str, Any]]:
        """Stage 1 of ADH (2015): ``V`` of the training fit scored on the validation window."""
        assert self.validation is not None
        trows = self.training_rows()
        xt = self._matrix(panel, trows)
        pre = pd.Index(panel.pre_times)
        loss = list(panel.pre_times[pre.isin(list(self.validation))])
        if not loss:
            raise fail(
                SOURCE,
                f"no retained pre-period (before start={panel.start!r}) in the validation "
                f"window {fmt_window(self.validation)}",
                column=panel.time,
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            s = solve(panel, xt, v_method="nested", seed=self.seed, loss=loss)
        for m in caught:
            warnings.warn(
                f"cross-validation training fit (V chosen on the validation window "
                f"{fmt_window(loss)}): {m.message}",
                m.category,
                stacklevel=3,
            )
        info = {
            "training_v_rows": [r.label for r in trows],
            "validation_periods": [py(p) for p in loss],
            "validation_mspe": s.mspe_v,
            "training_weights": {
                str(d): float(val)
                for d, val in zip(panel.donors, s.weights, strict=True)
                if val > 0
            },
        }
        return s.v, info


@dataclass(frozen=True, eq=False)
class _Solved:
    """What the fit reads from one diff-diff fit (in the panel's donor order).

    ``weights``: donor weights as diff-diff reports them (below ``1e-6`` dropped, i.e. 0);
    ``gap``: ``y_1t - sum_j w_j y_jt`` over the fitted periods (the full weights); ``v``: the
    diagonal of ``V``; ``mspe_v``: the nested search's pre-period MSPE (else ``None``).
    """

    att: float
    weights: np.ndarray
    gap: np.ndarray
    v: np.ndarray
    mspe_v: float | None


class _Solver(Protocol):
    def __call__(
        self,
        panel: PanelData,
        x: np.ndarray | None,
        *,
        v_method: str,
        seed: int | None,
        custom_v: np.ndarray | None = None,
        loss: list[Any] | None = None,
        lags: list[Any] | None = None,
    ) -> _Solved: ...


def _library_fit(
    panel: PanelData,
    x: np.ndarray | None,
    *,
    v_method: str,
    seed: int | None,
    custom_v: np.ndarray | None = None,
    loss: list[Any] | None = None,
    lags: list[Any] | None = None,
) -> _Solved:
    """One ``diff_diff.SyntheticControl.fit`` (``x=None``: the outcome-only fit on ``lags``)."""
    res = _dd_fit(panel, x, v_method=v_method, seed=seed, custom_v=custom_v, loss=loss, lags=lags)
    times = panel.times if loss is None else [*loss, *panel.post_times]
    return _Solved(
        att=float(res.att),
        weights=np.array([res.donor_weights.get(d, 0.0) for d in panel.donors], dtype=float),
        gap=np.array([res.gap_path[t] for t in times], dtype=float),
        v=np.array(list(res.v_weights.values()), dtype=float),
        mspe_v=None if res.mspe_v is None else float(res.mspe_v),
    )


def _dd_fit(
    panel: PanelData,
    x: np.ndarray | None,
    *,
    v_method: str,
    seed: int | None,
    custom_v: np.ndarray | None = None,
    loss: list[Any] | None = None,
    lags: list[Any] | None = None,
) -> Any:
    """One ``diff_diff.SyntheticControl`` fit on the ready-made predictor matrix ``x``.

    Row ``h`` of ``x`` (shape ``(k, J + 1)``) becomes a column constant over time, handed to
    diff-diff as a one-period special predictor, so diff-diff's ``X`` is exactly ``x``.
    ``loss``: pre-periods whose outcomes the nested search fits (default: all retained
    pre-periods); the frame is cut to them and the post-periods.  ``x=None``: the
    outcome-only fit, ``X`` = the outcomes of the pre-periods ``lags``, unstandardised.
    """
    from diff_diff import SyntheticControl

    long = panel.long_frame(indicator=(_D, True, int))
    if x is None:
        est = SyntheticControl(v_method=v_method, custom_v=custom_v, standardize="none", seed=seed)
        return est.fit(
            long,
            outcome=Y,
            treatment=_D,
            unit=UNIT,
            time=TIME,
            post_periods=list(panel.post_times),
            pre_period_outcomes=lags,
        )
    names = [f"_x{h}" for h in range(x.shape[0])]
    for name, row in zip(names, x, strict=True):
        long[name] = np.tile(row, panel.n_periods)
    first = panel.pre_times[0]
    if loss is not None:
        keep = pd.Index([*loss, *panel.post_times])
        long = long[long[TIME].isin(keep)].reset_index(drop=True)
        first = loss[0]
    est = SyntheticControl(v_method=v_method, custom_v=custom_v, standardize="std", seed=seed)
    return est.fit(
        long,
        outcome=Y,
        treatment=_D,
        unit=UNIT,
        time=TIME,
        post_periods=list(panel.post_times),
        special_predictors=[(name, [first], "mean") for name in names],
    )


#: Donor weights diff-diff reports (``SyntheticControl``'s ``_MIN_REPORT_WEIGHT``).
_MIN_REPORT_WEIGHT = 1e-6
#: Random starts of diff-diff's nested search for ``V`` (``SyntheticControl(n_starts=4)``).
_N_STARTS = 4


def sc_point(panel: PanelData, spec: SCSpec) -> PointFit:
    r"""Synthetic-control point fit on arrays: the same numbers as ``spec.fit`` (diff-diff).

    Replicates, for the panel's matrices, what ``diff_diff.SyntheticControl.fit`` does after
    it has pivoted its long frame: the predictor matrix (outcome lags in period order, or
    the window means of :mod:`analysis.synth._predictors`), the donors in the library's
    order (its pivot's sorted unit order, which the active-set solve's tie-breaking and the
    order of the sums depend on), the outcome matrices in the memory layout pandas gives
    the library (BLAS sums a row- and a column-major product in different orders; see
    :func:`_library_order`), then
    diff-diff's own solvers (``_standardize``, ``_inner_solve_W``, ``_inverse_variance_v``,
    ``_outer_solve_V``) with the options of :meth:`SCSpec.fit`, the same ``V`` choice,
    normalisation and warnings (single donor, poor pre-period fit, solver not converged).

    Written here, rather than calling ``SyntheticControl.fit``, only to skip the DataFrame
    bookkeeping (long frame, validation, pivots, result object) inside the placebo and
    leave-one-out loops, which re-fit a few hundred times per analysis: on Proposition 99 a
    library fit took 15-50 ms and this one 1-4 ms, most of it diff-diff's simplex solve.
    The reported fit stays diff-diff's.  ``tests/test_synth_refit.py`` checks that
    the two agree to the last bit (ATT, weights, counterfactual path, ``V``, recorded
    warnings and failures) on Proposition 99 and on simulated panels, with and without
    predictors.  Panels the library would refuse (non-finite values, repeated lags) go to
    ``spec.fit``, so that its error is the one recorded.
    """
    y = np.column_stack([panel.y_treated, panel.y_donors])
    if not np.all(np.isfinite(y)):
        return spec.fit(panel)
    if not spec.has_predictors:
        lags = spec._lags(panel)
        if len(set(lags)) != len(lags):
            return spec.fit(panel)
    return spec._point(panel, _array_fit)


def _library_order(panel: PanelData) -> tuple[np.ndarray, str]:
    """Positions of ``panel.donors`` in diff-diff's donor order, and its matrices' layout.

    diff-diff pivots the long frame (columns: the units, sorted) and takes the donors'
    columns with ``Y.loc[periods, donor_ids]``: pandas returns a column-major matrix when
    those columns are one slice of the pivot (the treated unit sorts first or last), a
    row-major copy otherwise.  ``"F"`` or ``"C"`` accordingly.
    """
    units = np.array((panel.treated, *panel.donors), dtype=object)
    kinds = {type(u) for u in units.tolist()}
    if kinds <= {str} or kinds <= {int}:
        # what pandas' sort of the levels does for one type: numpy's argsort on the objects
        pos = np.empty(len(units), dtype=np.intp)
        pos[np.argsort(units)] = np.arange(len(units))
    else:  # mixed types: pandas' own ordering rules
        pos = pd.Categorical(units).categories.get_indexer(units)
    order = np.argsort(pos[1:], kind="stable")
    return order, "F" if pos[0] in (0, len(units) - 1) else "C"


def _array_fit(
    panel: PanelData,
    x: np.ndarray | None,
    *,
    v_method: str,
    seed: int | None,
    custom_v: np.ndarray | None = None,
    loss: list[Any] | None = None,
    lags: list[Any] | None = None,
) -> _Solved:
    """:func:`_library_fit` on arrays: diff-diff's solvers without its DataFrame steps."""
    from diff_diff.synthetic_control import (
        _inner_solve_W,
        _inverse_variance_v,
        _outer_solve_V,
        _standardize,
    )

    order, layout = _library_order(panel)
    n_pre = panel.n_pre
    rows = np.arange(panel.n_periods)
    if loss is not None:
        at = pd.Index(panel.pre_times).get_indexer(loss)
        rows = np.r_[np.sort(at), np.arange(n_pre, panel.n_periods)]
        n_pre = len(at)
    y1 = panel.y_treated[rows]
    y0 = np.asarray(panel.y_donors[np.ix_(rows, order)], order=layout)
    z1, z0 = y1[:n_pre], np.asarray(y0[:n_pre], order=layout)
    if x is None:
        assert lags is not None
        at = {t: i for i, t in enumerate(panel.pre_times.tolist())}
        lag_rows = np.sort(np.array([at[t] for t in lags], dtype=np.intp))
        x1 = y1[lag_rows].copy()
        x0 = np.ascontiguousarray(y0[lag_rows])
        standardize = "none"
    else:
        x1 = x[:, 0].copy()
        x0 = np.ascontiguousarray(x[:, 1:][:, order])
        standardize = "std"
    k, n_donors = x0.shape
    if v_method == "nested" and n_pre == 1:
        warnings.warn(
            "Only one pre-treatment period: data-driven V selection (v_method='nested') "
            "is unreliable with a single pre period (the outer MSPE degenerates to one "
            "term). Consider v_method='custom' or more pre periods.",
            UserWarning,
            stacklevel=2,
        )
    if v_method in ("inverse_variance", "cv"):
        x1s, x0s = x1, x0
    else:
        x1s, x0s, _ = _standardize(x1, x0, standardize)
    mspe_v: float | None = None
    if v_method == "custom":
        v = np.asarray(custom_v, dtype=float).ravel()
        if v.shape[0] != k:
            raise ValueError(
                f"custom_v has length {v.shape[0]} but there are {k} predictors. "
                "custom_v must have exactly one entry per predictor row."
            )
        v = v / v.sum()
        w, converged = _inner_solve_W(x1s, x0s, v)
    elif n_donors == 1:
        warnings.warn(
            "Only one donor unit is available; the synthetic control is that "
            "single donor (w = 1) and the V search is skipped (V is unidentified with "
            "one donor), so v_weights is uniform regardless of v_method. SCM is "
            "degenerate with a single donor.",
            UserWarning,
            stacklevel=2,
        )
        v = np.ones(k) / k
        w = np.array([1.0])
        converged = True
    elif v_method == "inverse_variance":
        v = _inverse_variance_v(x1, x0)
        w, converged = _inner_solve_W(x1, x0, v)
    elif v_method == "nested":
        v, w, converged, mspe_v, _ = _outer_solve_V(x1, x0, x1s, x0s, z1, z0, _N_STARTS, seed, None)
    else:  # pragma: no cover - SCSpec hands diff-diff no other method
        raise ValueError(f"v_method {v_method!r} is not fitted on arrays")
    gap = y1 - y0 @ w
    pre_rmspe = float(np.sqrt(np.mean(gap[:n_pre] ** 2)))
    att = float(np.mean(gap[n_pre:]))
    pre_sd = float(np.std(z1, ddof=1)) if z1.size > 1 else 0.0
    fit_tol = 1e-8 * max(float(np.max(np.abs(z1))) if z1.size else 0.0, 1.0)
    if pre_rmspe > pre_sd and pre_rmspe > fit_tol:
        warnings.warn(
            f"Pre-treatment fit is poor: RMSPE ({pre_rmspe:.4f}) exceeds the "
            f"standard deviation of treated pre-treatment outcomes ({pre_sd:.4f}). "
            f"The synthetic control may not adequately reproduce the treated unit's "
            f"pre-treatment trajectory; consider a different donor pool or predictors.",
            UserWarning,
            stacklevel=2,
        )
    if not converged:
        warnings.warn(
            "Synthetic control inner weight solver did not converge: the active set "
            "exhausted its step guard, or the predictor data left the float64 range "
            "(a column norm or its reciprocal overflowed, or a non-finite intermediate). "
            "The reported weights are a feasible fallback, not the optimum, and the "
            "diagnostics that need a converged fit will be skipped.",
            UserWarning,
            stacklevel=2,
        )
    w = np.asarray(w, dtype=float)
    weights = np.zeros(panel.n_donors)
    weights[order] = np.where(w > _MIN_REPORT_WEIGHT, w, 0.0)
    return _Solved(
        att=att,
        weights=weights,
        gap=gap,
        v=np.array([float(val) for val in v], dtype=float),
        mspe_v=mspe_v,
    )


def _py(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def _names(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a list of column names, got {value!r}")
    out = tuple(dict.fromkeys(value))
    if not all(isinstance(c, str) for c in out):
        raise ValueError(f"{name} must be a list of column names (str), got {value!r}")
    return out


def _resolve_v_method(
    v_method: str | None, *, has_predictors: bool, v: Any, cv_given: bool
) -> str | None:
    if v_method is not None and v_method not in V_METHODS:
        raise ValueError(f"v_method must be one of {V_METHODS}, got {v_method!r}")
    if not has_predictors:
        SCSpec._refuse_without_predictors(v_method=v_method, v=v)
        return None
    if v_method is not None:
        return v_method
    if v is not None:
        return "custom"
    return "cv" if cv_given else "nested"


def _v_tuple(v: Any, labels: list[str]) -> tuple[float, ...]:
    """``v`` (a sequence in row order, or a mapping label -> weight) as a checked tuple."""
    if isinstance(v, Mapping):
        keys = [str(k) for k in v]
        if sorted(keys) != sorted(labels):
            raise ValueError(
                f"v: the keys must be the predictor rows {labels}; got {keys} "
                f"(missing {sorted(set(labels) - set(keys))}, unknown "
                f"{sorted(set(keys) - set(labels))})"
            )
        lookup = {str(k): val for k, val in v.items()}
        vals = [lookup[k] for k in labels]
    elif isinstance(v, str) or not isinstance(v, Iterable):
        raise ValueError(f"v must be a sequence of weights or a mapping row -> weight, got {v!r}")
    else:
        vals = list(v)
    try:
        arr = np.asarray(vals, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"v must contain numbers, got {vals!r}") from exc
    if arr.ndim != 1 or len(arr) != len(labels):
        raise ValueError(
            f"v has {arr.size} entries but there are {len(labels)} predictor rows ({labels})"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.sum() <= 0:
        raise ValueError(f"v must be finite, non-negative and not all zero, got {vals!r}")
    return tuple(float(a) for a in arr)


def synthetic_control(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    treated_unit: Hashable,
    start: Any,
    donors: Sequence[Hashable] | None = None,
    predictors: Sequence[str] | None = None,
    predictor_window: Any = None,
    special_predictors: Sequence[tuple[str, Any]] | None = None,
    pre_periods: Sequence[Any] | None = None,
    v_method: str | None = None,
    v: Sequence[float] | Mapping[str, float] | None = None,
    training: Any = None,
    validation: Any = None,
    training_special_predictors: Sequence[tuple[str, Any]] | None = None,
    replications: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> SynthResult:
    r"""Estimate the effect on one treated unit with a synthetic control.

    Parameters
    ----------
    df
        Long panel, one row per unit x period.
    outcome, unit, time
        Column names.
    treated_unit
        The treated unit (a value of ``unit``).
    start
        First treated period (periods ``>= start`` are post-treatment).
    donors
        Donor pool; default every other unit.  Units left out are listed in ``.excluded``.
    predictors
        Columns whose means over ``predictor_window`` are matched (ADH 2010).  Default: no
        predictors; with neither ``predictors`` nor ``special_predictors`` the fit matches
        the pre-period outcomes only, with ``V = I``.
    predictor_window
        Pre-periods over which ``predictors`` are averaged (a period or a list/range).
        Default: every pre-period; with ``v_method="cv"``, the ``validation`` periods.
        Every window mean is over the periods in which the variable is observed (a missing
        year is skipped, as R ``Synth`` does); periods removed from the fit because the
        treated outcome is missing (see ``.excluded``) are not used.
    special_predictors
        ``(column, periods)`` pairs, each averaged over its own pre-periods (R ``Synth``'s
        special predictors), e.g. ``[("industry", range(1981, 1991)), ("popdens", 1969)]``.
        The column may be the outcome.
    pre_periods
        Pre-periods whose outcomes are matched one by one (outcome lags).  Default: all
        pre-periods without predictors, none with predictors.  Periods excluded for missing
        data are skipped.  Not with ``v_method="cv"``.
    v_method
        With predictors only: how ``V`` is chosen.  ``"nested"`` (ADH data-driven ``V``
        minimising the pre-period outcome MSPE; about 1-10 s per fit, so a placebo run takes
        minutes), ``"inverse_variance"`` (``v_h = 1 / Var(X_h)``, closed form, fast),
        ``"custom"`` (``v``) or ``"cv"`` (cross-validation over ``training`` and
        ``validation``, ADH 2015).  Default: ``"custom"`` if ``v`` is given, ``"cv"`` if
        ``training``/``validation`` are, else ``"nested"``.
    v
        The diagonal of ``V`` (``v_method="custom"``): non-negative weights in the row order
        ``predictors``, ``special_predictors``, outcome lags, or a mapping row label -> weight
        (labels: the column name for ``predictors``, ``"column[periods]"`` for special
        predictors, ``"<outcome>_<period>"`` for lags; as in
        :attr:`SynthResult.predictor_weights`).  Scaled to sum to one; it weights the
        standardised rows.
    training, validation
        ``v_method="cv"``: disjoint sets of pre-periods.  ``V`` is chosen so that the
        weights fitted on the predictors averaged over ``training`` best reproduce the
        outcome over ``validation``; the reported weights use that ``V`` on the predictors
        averaged over ``predictor_window`` (default ``validation``).
    training_special_predictors
        ``v_method="cv"``: the special predictors of the training fit, one per entry of
        ``special_predictors`` (same order; their windows must not overlap ``validation``).
        Default: ``special_predictors`` themselves.
    replications, seed
        Draws and seed of the placebo standard error (``to_estimate()``); ``seed`` also
        seeds the random starts of the nested search for ``V``.
    level
        Confidence level of the interval.

    Returns
    -------
    SynthResult
        With ``att``, ``effects``, ``weights``, ``predictor_weights`` (``V``),
        ``predictor_balance``, fit diagnostics and inference methods.

    Raises
    ------
    DataValidationError
        Bad input (see :func:`analysis.synth._panel.build_panel`); periods in
        ``pre_periods``, ``predictor_window``, special predictor windows, ``training`` or
        ``validation`` that are not pre-treatment periods of the data; ``training`` and
        ``validation`` (or a training special predictor and ``validation``) overlapping; a
        predictor not observed for the treated unit in any period of its window.  Donors
        with such a gap are excluded from the pool, with the reason in ``.excluded``.
    ValueError
        Options that do not fit together (e.g. ``v`` with ``v_method="nested"``,
        ``training`` without ``v_method="cv"``, ``v_method`` without predictors).
    """
    predictors_t = _names(predictors, "predictors")
    special = normalise_special(special_predictors, "special_predictors")
    t_special = (
        None
        if training_special_predictors is None
        else normalise_special(training_special_predictors, "training_special_predictors")
    )
    has_x = bool(predictors_t or special)
    cv_given = training is not None or validation is not None
    method = _resolve_v_method(v_method, has_predictors=has_x, v=v, cv_given=cv_given)
    if not has_x:
        SCSpec._refuse_without_predictors(
            predictor_window=predictor_window,
            training=training,
            validation=validation,
            training_special_predictors=training_special_predictors,
        )
    columns = [*predictors_t, *(c for c, _ in special), *(c for c, _ in t_special or ())]
    panel = build_panel(
        df,
        outcome=outcome,
        unit=unit,
        time=time,
        treated_unit=treated_unit,
        start=start,
        donors=donors,
        covariates=[c for c in dict.fromkeys(columns) if c != outcome],
    )

    @functools.cache
    def all_pre() -> pd.Index:
        """Every period of the data before ``start`` (only options naming periods need it)."""
        return pd.Index(np.sort(pd.unique(df.loc[df[time] < start, time])))

    def periods(value: Any, what: str) -> tuple[Any, ...] | None:
        if value is None:
            return None
        per = as_periods(value)
        if not per:
            raise fail(SOURCE, f"{what}: the window is empty", column=time)
        pos = all_pre().get_indexer(list(per))
        bad = [p for p, i in zip(per, pos, strict=True) if i < 0]
        if bad:
            raise fail(
                SOURCE,
                f"{what} must be periods of the data before start={start!r}",
                column=time,
                rows=bad,
            )
        return tuple(all_pre()[np.sort(pos)])

    def specials(value: Special | None, what: str) -> Special | None:
        if value is None:
            return None
        return tuple((c, periods(p, f"{what} {c!r}")) for c, p in value)  # type: ignore[misc]

    special_c = specials(special, "special predictor") or ()
    t_special_c = specials(t_special, "training special predictor")
    training_c = periods(training, "training")
    validation_c = periods(validation, "validation")
    if training_c is not None and validation_c is not None:
        _check_disjoint(training_c, validation_c, "training", time)
        for c, p in t_special_c if t_special_c is not None else special_c:
            _check_disjoint(p, validation_c, f"training special predictor {c!r}", time)
    spec = SCSpec(
        predictors=predictors_t,
        pre_periods=None if pre_periods is None else tuple(pre_periods),
        v_method=method,
        predictor_window=periods(predictor_window, "predictor_window"),
        special_predictors=special_c,
        v=None if v is None else (0.0,),  # placeholder: checked below, once the rows are known
        training=training_c,
        validation=validation_c,
        training_special_predictors=t_special_c,
        replications=replications,
        seed=seed,
        level=level,
    )
    if spec.pre_periods is not None:
        pre_periods = spec.pre_periods
        bad = [p for p in pre_periods if p not in set(all_pre())]
        if bad:
            raise fail(
                SOURCE,
                f"pre_periods must be periods of the data before start={start!r}",
                column=time,
                rows=bad,
            )
        dropped = [p for p in pre_periods if p not in set(panel.pre_times)]
        if dropped:
            rows = pd.DataFrame(
                [
                    {
                        "level": "period",
                        "unit": None,
                        "time": p,
                        "reason": "requested in pre_periods but excluded from the "
                        "fit (treated outcome missing)",
                    }
                    for p in dropped
                ]
            )
            panel = replace(panel, excluded=concat_excluded(panel.excluded, rows))
    if v is not None:
        spec = replace(spec, v=_v_tuple(v, [r.label for r in spec.rows(panel)]))
    if spec.has_predictors:
        panel = _exclude_unmatched(panel, spec)
    return spec.run(panel)


def _check_disjoint(a: Sequence[Any], b: Sequence[Any], what: str, time: str) -> None:
    common = [p for p in a if p in set(b)]
    if common:
        raise fail(
            SOURCE,
            f"{what} and validation must not share periods (the validation outcomes "
            "must be out of sample for the training fit)",
            column=time,
            rows=common,
        )


def _exclude_unmatched(panel: PanelData, spec: SCSpec) -> PanelData:
    """Refuse a treated unit without a predictor value; exclude such donors with a reason."""
    rows = spec.all_rows(panel)
    x = window_means(panel, rows)
    bad_treated, reasons = undefined(panel, rows, x)
    if bad_treated:
        r = bad_treated[0]
        raise fail(
            SOURCE,
            f"predictor {r.column!r} is not observed for the treated unit "
            f"{panel.treated!r} in any period of its window {describe_window(panel, r)} "
            "(a window mean needs at least one observed period)",
            column=r.column,
            rows=[describe_window(panel, b) for b in bad_treated],
        )
    return panel.excluding_donors(reasons)
