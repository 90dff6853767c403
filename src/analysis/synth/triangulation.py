r"""Three estimators side by side on one treated unit, with placebos and leave-one-out.

:func:`triangulate` runs :func:`~analysis.synth.synthetic_control` (outcome only, ADH 2010),
:func:`~analysis.synth.synthetic_did` (Arkhangelsky et al. 2021) and
:func:`~analysis.synth.panel_did` (unit and time fixed effects) on the same long panel, and for
each of them the in-space placebo test, an in-time placebo at a fake start inside the
pre-period and the leave-one-out re-estimates.  The :class:`Triangulation` it returns holds the
results and their tables (one row per estimator).

Estimand
--------
For the treated unit :math:`1` and the post-period years :math:`t \ge` ``start``,

.. math::

    \mathrm{ATT} = \frac{1}{T_1} \sum_{t \ge \mathrm{start}} \big(Y_{1t} - \hat Y_{1t}(0)\big),

the average gap between the observed outcome and its counterfactual, where
:math:`\hat Y_{1t}(0)` is a convex combination of donors (synthetic control), a weighted DiD
path (synthetic DiD) or the equally weighted DiD path (two-way fixed effects).

Inference
---------
With one treated unit, inference is by placebos.  The standard error is the placebo standard
error of Arkhangelsky et al. (2021, Algorithm 4): ``replications`` draws of a pseudo-treated
donor; the interval is ``att ± z · se`` and ``p_normal = 2 (1 − Φ(|att| / se))``.  The
permutation p-value is the rank of the treated unit's post/pre MSPE ratio among all units
divided by the number of units (ADH 2010), optionally among the placebos whose pre-period MSPE
is at most ``max_pre_mspe_ratio`` times the treated unit's.

Randomness
----------
The only random numbers are the placebo draws of the standard errors.  They come from the
run's ``"placebo"`` stream: every estimator gets the integer seed
``SeedStreams(seed).seed_for("placebo")`` (:class:`analysis.seeds.SeedStreams`), so the
point estimates, placebo tests and leave-one-out re-estimates do not depend on ``seed`` and no
other procedure of the run shares these draws.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis._util import to_jsonable
from analysis.errors import DataValidationError
from analysis.seeds import SeedStreams
from analysis.synth.panel_did import panel_did
from analysis.synth.placebo import LeaveOneOut, PlaceboInSpace
from analysis.synth.result import SynthResult
from analysis.synth.synthetic_control import synthetic_control
from analysis.synth.synthetic_did import synthetic_did

__all__ = [
    "ESTIMATORS",
    "Triangulation",
    "default_fake_start",
    "period_span",
    "triangulate",
]

#: The three estimators: key of the result mappings and label of the tables.
ESTIMATORS: tuple[tuple[str, str], ...] = (
    ("sc", "Synthetic control"),
    ("sdid", "Synthetic DiD"),
    ("did", "DiD (unit + year effects)"),
)

#: Name of the random stream of the placebo standard errors.
STREAM = "placebo"


def period_span(periods: Any) -> str:
    """Return integer periods as ``"2010-2020"`` when consecutive, else comma-separated."""
    ys = sorted(int(y) for y in periods)
    if not ys:
        return "none"
    if ys == list(range(ys[0], ys[-1] + 1)):
        return f"{ys[0]}" if len(ys) == 1 else f"{ys[0]}-{ys[-1]}"
    return ", ".join(str(y) for y in ys)


def default_fake_start(pre_periods: Sequence[int]) -> int | None:
    """Fake start of the in-time placebo: the middle of the retained pre-period.

    The period at position ``max(2, ceil(n_pre / 2))`` of the pre-period, so that at least two
    periods stay before it; ``None`` with fewer than three pre-periods.
    """
    pre = sorted(pre_periods)
    if len(pre) < 3:
        return None
    return int(pre[max(2, math.ceil(len(pre) / 2))])


@dataclass(frozen=True, eq=False)
class Triangulation:
    """Synthetic control, synthetic DiD and DiD on one panel, with placebos and leave-one-out.

    Attributes
    ----------
    results
        ``{"sc", "sdid", "did"}`` -> :class:`~analysis.synth.SynthResult` (read-only mappings,
        as the three below).
    placebos
        In-space placebo tests (no pre-fit filter), same keys.
    in_time
        In-time placebo results (fake start ``fake_start``), same keys; ``None`` where the
        pre-period is too short or the placebo could not be run.
    fake_start
        Fake start of the in-time placebo (``None`` if not run).
    loo
        Leave-one-out re-estimates, same keys.
    max_pre_mspe_ratio
        ``k`` of the filtered permutation p-value (placebos with pre-period MSPE above ``k``
        times the treated unit's left out, ADH 2010).
    seed
        The run's seed; the placebo draws use its ``"placebo"`` stream (module docstring).
    notes
        What the estimation noticed: library warnings on the main fits, an exact pre-period
        fit, in-time placebos not run.
    """

    results: Mapping[str, SynthResult]
    placebos: Mapping[str, PlaceboInSpace]
    in_time: Mapping[str, SynthResult | None]
    fake_start: int | None
    loo: Mapping[str, LeaveOneOut]
    max_pre_mspe_ratio: float = 5.0
    seed: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def sc(self) -> SynthResult:
        """Synthetic control result."""
        return self.results["sc"]

    def table(self) -> pd.DataFrame:
        """One row per estimator.

        Columns ``estimator, att, se, ci_low, ci_high, p_normal`` (normal approximation with
        the placebo SE), ``p_permutation`` (in-space rank / units), ``rank, n_units, pre_rmspe,
        donors_weighted`` (donors with weight > 0).
        """
        rows = []
        for key, label in ESTIMATORS:
            r, ps = self.results[key], self.placebos[key]
            p_norm = (
                float(2 * stats.norm.sf(abs(r.att / r.se)))
                if math.isfinite(r.se) and r.se > 0
                else float("nan")
            )
            rows.append(
                {
                    "estimator": label,
                    "att": r.att,
                    "se": r.se,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "p_normal": p_norm,
                    "p_permutation": ps.p_value,
                    "rank": ps.treated_rank,
                    "n_units": ps.n_units,
                    "pre_rmspe": r.pre_rmspe,
                    "donors_weighted": int((r.weights > 1e-6).sum()),
                }
            )
        return pd.DataFrame(rows)

    def placebo_table(self) -> pd.DataFrame:
        """In-space placebo tests: rank and p-value, without and with the pre-fit filter."""
        rows = []
        k = self.max_pre_mspe_ratio
        for key, label in ESTIMATORS:
            for filt in (None, k):
                ps = self.placebos[key].filtered(filt)
                rows.append(
                    {
                        "estimator": label,
                        "placebos": "all" if filt is None else f"pre-MSPE <= {filt:g} x treated",
                        "units_compared": ps.n_units,
                        "treated_ratio": ps.treated_ratio
                        if ps.treated_ratio < 1e8
                        else float("inf"),
                        "rank": ps.treated_rank,
                        "p_permutation": ps.p_value,
                    }
                )
        return pd.DataFrame(rows)

    def placebo_in_time_table(self) -> pd.DataFrame:
        """In-time placebo: each estimator with the fake start, next to the real estimate."""
        cols = [
            "estimator",
            "fake_start",
            "fake_pre",
            "fake_post",
            "placebo_att",
            "ci_low",
            "ci_high",
            "pre_rmspe",
            "real_att",
        ]
        rows = []
        for key, label in ESTIMATORS:
            r = self.in_time.get(key)
            if r is None:
                continue
            rows.append(
                {
                    "estimator": label,
                    "fake_start": self.fake_start,
                    "fake_pre": period_span(r.effects.loc[~r.effects["post"], "time"]),
                    "fake_post": period_span(r.effects.loc[r.effects["post"], "time"]),
                    "placebo_att": r.att,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "pre_rmspe": r.pre_rmspe,
                    "real_att": self.results[key].att,
                }
            )
        return pd.DataFrame(rows, columns=cols)

    def leave_one_out_table(self) -> pd.DataFrame:
        """Leave-one-out summary per estimator: range of the ATT and the most influential donor."""
        cols = [
            "estimator",
            "att_all_donors",
            "re_estimates",
            "att_min",
            "att_max",
            "most_influential_donor",
            "att_without_it",
        ]
        rows = []
        for key, label in ESTIMATORS:
            lo = self.loo[key]
            t = lo.table.dropna(subset=["att"])
            if t.empty:
                rows.append({"estimator": label, "att_all_donors": lo.att_full, "re_estimates": 0})
                continue
            i = t["delta_att"].abs().idxmax()
            rows.append(
                {
                    "estimator": label,
                    "att_all_donors": lo.att_full,
                    "re_estimates": len(t),
                    "att_min": float(t["att"].min()),
                    "att_max": float(t["att"].max()),
                    "most_influential_donor": t.loc[i, "unit"],
                    "att_without_it": float(t.loc[i, "att"]),
                }
            )
        return pd.DataFrame(rows, columns=cols)

    def sc_leave_one_out(self) -> pd.DataFrame:
        """Synthetic-control leave-one-out: one row per donor with positive weight."""
        t = self.loo["sc"].table
        return t[["unit", "weight", "att", "delta_att", "pre_rmspe"]]

    def weights_table(self, top: int = 12) -> pd.DataFrame:
        """Donor weights of the synthetic control and synthetic DiD (largest first)."""
        w = pd.DataFrame(
            {"sc_weight": self.results["sc"].weights, "sdid_weight": self.results["sdid"].weights}
        )
        w = w.sort_values(["sc_weight", "sdid_weight"], ascending=False).head(top)
        return w.rename_axis("donor").reset_index()

    def gap_by_year(self) -> pd.DataFrame:
        """Observed value and the three counterfactuals and gaps, by period (column ``year``)."""
        base = (
            self.results["sc"]
            .effects[["time", "observed", "post"]]
            .rename(columns={"time": "year"})
        )
        for key, _ in ESTIMATORS:
            e = self.results[key].effects
            base[f"{key}_counterfactual"] = e["counterfactual"].to_numpy()
            base[f"{key}_gap"] = e["gap"].to_numpy()
        return base

    def tidy(self) -> pd.DataFrame:
        """Return :meth:`table`."""
        return self.table()

    def summary(self) -> str:
        """Return one line per estimator."""
        return "\n".join(
            f"{r.estimator}: ATT {r.att:+.3f} (SE {r.se:.3f}, permutation p "
            f"{r.p_permutation:.3f}), pre-RMSPE {r.pre_rmspe:.3f}"
            for r in self.table().itertuples()
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict: every table and the estimator results."""
        return to_jsonable(
            {
                "triangulation": self.table(),
                "estimates": {k: self.results[k].to_estimate().to_dict() for k, _ in ESTIMATORS},
                "results": {k: self.results[k].to_dict() for k, _ in ESTIMATORS},
                "placebo_in_space": {k: self.placebos[k].to_dict() for k, _ in ESTIMATORS},
                "placebo_summary": self.placebo_table(),
                "placebo_in_time": self.placebo_in_time_table(),
                "fake_start": self.fake_start,
                "leave_one_out": {k: self.loo[k].to_dict() for k, _ in ESTIMATORS},
                "leave_one_out_summary": self.leave_one_out_table(),
                "gap_by_year": self.gap_by_year(),
                "notes": list(self.notes),
            }
        )


def triangulate(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    treated_unit: Hashable,
    start: int,
    donors: Sequence[Hashable] | None = None,
    replications: int = 200,
    seed: int,
    level: float = 0.95,
    fake_start: int | None = None,
    max_pre_mspe_ratio: float = 5.0,
) -> Triangulation:
    """Run synthetic control, synthetic DiD and DiD on one panel, with placebos and LOO.

    Parameters
    ----------
    df
        Long panel, one row per unit x period (integer periods).
    outcome, unit, time
        Column names.
    treated_unit
        The treated unit (a value of ``unit``).
    start
        First treated period (periods ``>= start`` are post-treatment).
    donors
        Donor pool; default every other unit.
    replications
        Placebo draws of the standard errors (Arkhangelsky et al. 2021, Algorithm 4).
    seed
        The run's seed.  The placebo draws use ``SeedStreams(seed).seed_for("placebo")``
        (module docstring); nothing else here is random.
    level
        Confidence level of the intervals.
    fake_start
        Fake start of the in-time placebo; default :func:`default_fake_start` of the
        pre-periods the estimators retained.
    max_pre_mspe_ratio
        ``k`` of the filtered permutation p-value (ADH 2010 use 20, 5, 2).

    Returns
    -------
    Triangulation

    Raises
    ------
    DataValidationError
        Bad input (see :func:`analysis.synth._panel.build_panel`).
    ValueError
        ``replications``, ``seed`` or ``level`` out of range.
    """
    streams = SeedStreams(seed)
    kw: dict[str, Any] = dict(
        outcome=outcome,
        unit=unit,
        time=time,
        treated_unit=treated_unit,
        start=start,
        donors=None if donors is None else list(donors),
        replications=replications,
        seed=streams.seed_for(STREAM),
        level=level,
    )
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        # library warnings (e.g. diff-diff's "pre-treatment fit is poor") become notes
        warnings.simplefilter("always")
        results = {
            "sc": synthetic_control(df, **kw),
            "sdid": synthetic_did(df, **kw),
            "did": panel_did(df, **kw),
        }
    notes += [
        f"Library warning on the main fit: {m}"
        for m in dict.fromkeys(str(w.message) for w in caught)
    ]
    placebos = {k: r.placebo_in_space() for k, r in results.items()}
    sc = results["sc"]
    pre_observed = sc.effects.loc[~sc.effects["post"], "observed"]
    y_sd = float(np.std(pre_observed, ddof=1))
    if sc.pre_rmspe < 1e-6 * max(y_sd, 1.0):
        notes.append(
            f"With {sc.n_pre} pre-period years and {len(sc.donors)} donors the synthetic "
            "control reproduces the pre-period exactly (pre-period RMSPE about 0): an exact fit "
            "is not evidence of a good counterfactual, and the post/pre ratios of the "
            "permutation test are unstable."
        )
    pre_times = sc.effects.loc[~sc.effects["post"], "time"].tolist()
    fs = fake_start if fake_start is not None else default_fake_start(pre_times)
    in_time: dict[str, SynthResult | None] = {}
    if fs is None:
        notes.append(f"No in-time placebo: only {sc.n_pre} pre-period years (3 needed).")
    for k, r in results.items():
        if fs is None:
            in_time[k] = None
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the in-time fit is judged by its table
                in_time[k] = r.placebo_in_time(fs)
        except DataValidationError as exc:
            in_time[k] = None
            notes.append(f"In-time placebo of {k} not run: {exc}")
    loo = {k: r.leave_one_out() for k, r in results.items()}
    return Triangulation(
        results=MappingProxyType(results),
        placebos=MappingProxyType(placebos),
        in_time=MappingProxyType(in_time),
        fake_start=fs,
        loo=MappingProxyType(loo),
        max_pre_mspe_ratio=max_pre_mspe_ratio,
        seed=int(seed),
        notes=tuple(notes),
    )
