r"""Tables, figures and simulation glue for the design and power report (notebook 04).

The report answers one question for the two beneficiary groups of the evaluation (background
note §0, §3.4-3.5): *which outcomes can this design detect, and at what effect size?*

Analytic part (no data)
    :func:`comparisons` lists the treated-vs-control sample sizes considered;
    :func:`continuous_mde_table`, :func:`design_mde_table`, :func:`binary_mde_table`,
    :func:`sample_size_table` and :func:`detectability_table` evaluate
    :func:`analysis.power.mde` / :func:`~analysis.power.sample_size` on them;
    :func:`note_reproduction` recomputes every number of the note's §3.5 tables and compares
    it with the published value; :func:`power_curve_figure` and :func:`binary_mde_figure`
    draw them; :func:`recommendation` turns them into plain words.

Simulation part (SIMULATED pupil panels)
    :func:`calibrate_design` fixes a :class:`PanelDesign` (how programme panels are drawn
    from :func:`analysis.data.simulate.programme_panel`), :func:`draw_panel` draws one panel with
    exactly ``n_treated`` participants and ``n_control`` never-participants observed in
    every year, :func:`did_estimate` runs the staggered DiD (:func:`analysis.did.staggered`,
    Callaway & Sant'Anna, simple aggregation) and :func:`simulate_did_power` repeats both
    through :func:`analysis.power.simulate_power`. :func:`cs_simple_se` gives the analytic
    standard error of that estimator under the simulator's variance model, so the simulated
    rejection rates can be checked against a closed form.

Analytic SE of the Callaway-Sant'Anna simple aggregation
--------------------------------------------------------
Outcomes in SD units, equicorrelated over years (variance 1, correlation :math:`\rho` between
any two years of a pupil; time-constant school effects cancel in differences). For cohort
:math:`g` (base year :math:`b_g = g-1`, post years :math:`P_g = \{t \ge g\}`) the simple
aggregation with cohort-size weights :math:`w_g = n_g / \sum_h n_h |P_h|` per cell is

.. math::

    \hat\theta = \sum_g \frac{w_g}{n_g} \sum_{i \in g} c_g' Y_i
        - \frac{1}{n_C} \sum_{i \in C} \Big(\sum_g w_g c_g\Big)' Y_i,
    \qquad c_g = \sum_{t \in P_g} (e_t - e_{b_g}),

so :math:`\operatorname{Var}(\hat\theta) = \sum_g w_g^2\, c_g'\Sigma c_g / n_g
+ d'\Sigma d / n_C` with :math:`d = \sum_g w_g c_g` and
:math:`\Sigma = (1-\rho) I + \rho \mathbf{1}\mathbf{1}'`. With one cohort and one post year
this is the two-period DiD variance :math:`2(1-\rho)(1/n_T + 1/n_C)` of
:func:`analysis.power.mde` (``design="did"``). Weights are treated as known (their estimation
adds nothing to the variance when the effect is the same in every cell).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis import power as P
from analysis.errors import fail
from analysis.estimate import Estimate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "NOTE_BINARY",
    "NOTE_CONTINUOUS",
    "NOTE_SAMPLE_SIZES",
    "DiDPowerSimulation",
    "PanelDesign",
    "binary_mde_figure",
    "binary_mde_table",
    "calibrate_design",
    "comparisons",
    "continuous_mde_table",
    "cs_simple_se",
    "design_mde_table",
    "detectability_table",
    "did_estimate",
    "draw_panel",
    "note_reproduction",
    "power_curve_figure",
    "recommendation",
    "sample_size_table",
    "simulate_did_power",
    "simulated_power_figure",
]

_SRC = "argument to analysis.reports.design"

# --------------------------------------------------------------------------------------
# The background note's §3.5 (alpha 0.05 two-sided, power 0.80), as published
# --------------------------------------------------------------------------------------

NOTE_ALPHA = 0.05
NOTE_POWER = 0.8

#: Continuous outcomes, MDE in SD: (n_T, n_C) -> (no covariates, R² 0.5, clustered m=20
#: ICC 0.10, clustered + R² 0.5).
NOTE_CONTINUOUS: Mapping[tuple[int, int], tuple[float, float, float, float]] = {
    (180, 180): (0.30, 0.21, 0.50, 0.36),
    (180, 360): (0.26, 0.18, 0.44, 0.31),
    (180, 720): (0.23, 0.17, 0.40, 0.28),
    (41, 41): (0.62, 0.44, 1.05, 0.75),
    (41, 123): (0.51, 0.36, 0.86, 0.61),
}
_NOTE_VARIANTS = (  # (column label, r2, cluster size, icc)
    ("no covariates", 0.0, 1, 0.0),
    ("R² = 0.5", 0.5, 1, 0.0),
    ("clustered (m = 20, ICC = 0.10)", 0.0, 20, 0.10),
    ("clustered + R² = 0.5", 0.5, 20, 0.10),
)

#: Binary outcomes, MDE in percentage points: base rate -> (180 vs 180, 180 vs 720, 41 vs 123).
NOTE_BINARY: Mapping[float, tuple[float, float, float]] = {
    0.03: (5.0, 4.0, 8.6),
    0.05: (6.4, 5.1, 11.0),
    0.10: (8.9, 7.0, 15.2),
    0.13: (9.9, 7.9, 17.0),
    0.20: (11.8, 9.3, 20.2),
}
_NOTE_BINARY_ARMS = ((180, 180), (180, 720), (41, 123))

#: "Required sample per arm" (arcsine approximation): (from, to, the note's figure).
NOTE_SAMPLE_SIZES: tuple[tuple[float, float, int], ...] = (
    (0.211, 0.13, 167),
    (0.10, 0.05, 212),
    (0.05, 0.025, 441),
    (0.03, 0.015, 746),
)


# --------------------------------------------------------------------------------------
# Analytic tables
# --------------------------------------------------------------------------------------


def comparisons(
    *,
    n_courses_treated: int = 180,
    course_control_ratios: Sequence[float] = (1, 2, 4),
    n_volare_alto: int = 41,
    volare_control_ratios: Sequence[float] = (1, 3),
) -> pd.DataFrame:
    """Treated-vs-control comparisons considered for the two beneficiary groups.

    Parameters
    ----------
    n_courses_treated
        Participants of the STEAM courses (9 courses × 20 = 180, background note §0).
    course_control_ratios
        Comparison pupils per participant for the courses (1, 2, 4 → 180, 360, 720).
    n_volare_alto
        Youths of the Volare Alto day centre (41, §0).
    volare_control_ratios
        Comparison youths per Volare Alto participant.

    Returns
    -------
    pandas.DataFrame
        ``group, comparison, n_treated, n_control, control_ratio``; controls rounded to the
        nearest unit.
    """
    rows = []
    for group, n_t, ratios in (
        ("STEAM courses", n_courses_treated, course_control_ratios),
        ("Volare Alto", n_volare_alto, volare_control_ratios),
    ):
        if not (isinstance(n_t, int | np.integer) and n_t >= 2):
            raise fail(_SRC, f"must be an integer >= 2, got {n_t!r}", column=group)
        for r in ratios:
            if not (r > 0 and math.isfinite(r)):
                raise fail(_SRC, f"control ratios must be > 0, got {r!r}", column=group)
            n_c = int(round(n_t * r))
            rows.append(
                {
                    "group": group,
                    "comparison": f"{n_t} vs {n_c}",
                    "n_treated": int(n_t),
                    "n_control": n_c,
                    "control_ratio": float(r),
                }
            )
    return pd.DataFrame(rows)


def continuous_mde_table(
    comps: pd.DataFrame,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    r2: float = 0.5,
    cluster_size: float = 20,
    icc: float = 0.10,
) -> pd.DataFrame:
    """MDE in SD units of a continuous outcome, the four columns of the note's §3.5 table.

    ``MDE = (z_{1-α/2} + z_power) · sqrt((1 − R²) · DEFF · (1/n_T + 1/n_C))`` with
    ``DEFF = 1 + (m − 1) ICC`` (post-period comparison of two groups, normal approximation).

    Returns
    -------
    pandas.DataFrame
        ``group, comparison`` and one column per variant (no covariates; R²; clustered;
        clustered + R²), in SD units.
    """
    variants = (
        ("no covariates", 0.0, 1, 0.0),
        (f"R² = {r2:g}", r2, 1, 0.0),
        (f"clustered (m = {cluster_size:g}, ICC = {icc:g})", 0.0, cluster_size, icc),
        (f"clustered + R² = {r2:g}", r2, cluster_size, icc),
    )
    rows = []
    for c in comps.itertuples():
        row = {"group": c.group, "comparison": c.comparison}
        for label, rr, m, ic in variants:
            row[label] = P.mde(
                n_treated=c.n_treated,
                n_control=c.n_control,
                alpha=alpha,
                power=power,
                r2=rr,
                cluster_size=m,
                icc=ic,
            ).value
        rows.append(row)
    return pd.DataFrame(rows)


def design_mde_table(
    comps: pd.DataFrame,
    *,
    autocorr_values: Sequence[float] = (0.5, 0.7),
    alpha: float = 0.05,
    power: float = 0.8,
) -> pd.DataFrame:
    """MDE (SD) of three panel designs with one pre- and one post-period (McKenzie 2012).

    Post-period comparison (variance factor 1), difference-in-differences
    (``2(1 − ρ)``) and ANCOVA on the baseline outcome (``1 − ρ²``), for each
    autocorrelation ``ρ`` of the outcome between the two years.

    Returns
    -------
    pandas.DataFrame
        ``group, comparison, autocorr`` and the three MDEs (SD units).
    """
    rows = []
    for c in comps.itertuples():
        post = P.mde(n_treated=c.n_treated, n_control=c.n_control, alpha=alpha, power=power).value
        for rho in autocorr_values:
            kw = {
                "n_treated": c.n_treated,
                "n_control": c.n_control,
                "alpha": alpha,
                "power": power,
                "autocorr": rho,
            }
            rows.append(
                {
                    "group": c.group,
                    "comparison": c.comparison,
                    "autocorr": float(rho),
                    "post-period comparison": post,
                    "DiD (1 pre, 1 post)": P.mde(design="did", **kw).value,
                    "ANCOVA (1 pre, 1 post)": P.mde(design="ancova", **kw).value,
                }
            )
    return pd.DataFrame(rows)


def binary_mde_table(
    comps: pd.DataFrame,
    *,
    base_rates: Sequence[float] = (0.03, 0.05, 0.10, 0.13, 0.20),
    alpha: float = 0.05,
    power: float = 0.8,
) -> pd.DataFrame:
    """MDE in percentage points of a binary outcome, per base rate and comparison.

    The note's formula (``binary_method="variance"``): ``100 · M · sqrt(p0 (1 − p0)
    (1/n_T + 1/n_C))``. The last column lists the comparisons in which a *decrease* of the
    MDE's size is impossible (MDE ≥ base rate): there the outcome cannot be shown to fall.

    Returns
    -------
    pandas.DataFrame
        ``base rate (%)``, one column per comparison (pp) and ``decrease undetectable in``.
    """
    rows = []
    for p0 in base_rates:
        row: dict[str, Any] = {"base rate (%)": 100 * float(p0)}
        undetectable = []
        for c in comps.itertuples():
            res = P.mde(
                n_treated=c.n_treated,
                n_control=c.n_control,
                outcome="binary",
                base_rate=float(p0),
                alpha=alpha,
                power=power,
            )
            label = f"{c.group}: {c.comparison}"
            row[label] = res.value
            if res.exceeds_base_rate:
                undetectable.append(c.comparison)
        row["decrease undetectable in"] = ", ".join(undetectable) or "—"
        rows.append(row)
    return pd.DataFrame(rows)


def sample_size_table(
    *,
    changes: Sequence[tuple[float, float]] | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    control_ratio: float = 4.0,
) -> pd.DataFrame:
    """Units needed to detect a fall in a rate, one group vs a benchmark and two groups.

    Arcsine effect size ``h = 2 asin√p0 − 2 asin√p1`` (Cohen 1988; statsmodels'
    ``proportion_effectsize``). The note's "required sample per arm" equals the **one-sample**
    figure ``((z_{1-α/2} + z_power)/h)²``: one group compared with a *known* rate (an
    official benchmark without sampling error). Comparing two groups needs twice as many per
    arm at 1:1, or ``(1 + 1/k)/1`` times as many treated with ``k`` controls each.

    Parameters
    ----------
    changes
        ``(p0, p1)`` pairs (proportions); the note's four by default.
    control_ratio
        ``k`` controls per treated unit for the last two columns.

    Returns
    -------
    pandas.DataFrame
        ``change, arcsine h, note's figure, one group vs known rate,
        two groups 1:1 (per arm), two groups 1:k treated, two groups 1:k controls``.
    """
    note = {(p0, p1): n for p0, p1, n in NOTE_SAMPLE_SIZES}
    pairs = [(p0, p1) for p0, p1, _ in NOTE_SAMPLE_SIZES] if changes is None else changes
    rows = []
    k = float(control_ratio)
    for p0, p1 in pairs:
        kw = {
            "outcome": "binary",
            "base_rate": p0,
            "treated_rate": p1,
            "alpha": alpha,
            "power": power,
            "binary_method": "arcsine",
        }
        one = P.sample_size(design="one_sample", **kw)
        two = P.sample_size(**kw)
        unequal = P.sample_size(ratio=k, **kw)
        h = abs(2 * math.asin(math.sqrt(p0)) - 2 * math.asin(math.sqrt(p1)))
        rows.append(
            {
                "change": f"{100 * p0:g} % → {100 * p1:g} %",
                "arcsine h": round(h, 3),
                "note's figure": note.get((p0, p1), math.nan),
                "one group vs known rate": one.n_treated,
                "two groups 1:1 (per arm)": two.n_treated,
                f"two groups 1:{k:g} treated": unequal.n_treated,
                f"two groups 1:{k:g} controls": unequal.n_control,
            }
        )
    return pd.DataFrame(rows)


def note_reproduction(*, tol_sd: float = 0.01, tol_pp: float = 0.1, tol_n: int = 2) -> pd.DataFrame:
    """Recompute every number of the background note's §3.5 and compare it with the note.

    At the note's assumptions (two-sided α = 0.05, power 0.80, normal approximation).
    Sample sizes are compared as one group against a known rate (see
    :func:`sample_size_table`) and unrounded.

    Returns
    -------
    pandas.DataFrame
        ``table, row, column, note, computed, difference, tolerance, ok``.
    """
    rows = []
    for (n_t, n_c), vals in NOTE_CONTINUOUS.items():
        for (label, r2, m, icc), ref in zip(_NOTE_VARIANTS, vals, strict=True):
            v = P.mde(n_treated=n_t, n_control=n_c, r2=r2, cluster_size=m, icc=icc).value
            rows.append(("continuous MDE (SD)", f"{n_t} vs {n_c}", label, ref, v, tol_sd))
    for p0, vals in NOTE_BINARY.items():
        for (n_t, n_c), ref in zip(_NOTE_BINARY_ARMS, vals, strict=True):
            v = P.mde(n_treated=n_t, n_control=n_c, outcome="binary", base_rate=p0).value
            rows.append(
                ("binary MDE (pp)", f"base rate {100 * p0:g}%", f"{n_t} vs {n_c}", ref, v, tol_pp)
            )
    for p0, p1, ref in NOTE_SAMPLE_SIZES:
        s = P.sample_size(
            outcome="binary",
            base_rate=p0,
            treated_rate=p1,
            binary_method="arcsine",
            design="one_sample",
        )
        rows.append(
            (
                "required sample",
                f"{100 * p0:g}% → {100 * p1:g}%",
                "one group vs known rate",
                float(ref),
                s.n_treated_exact,
                float(tol_n),
            )
        )
    out = pd.DataFrame(rows, columns=["table", "row", "column", "note", "computed", "tolerance"])
    out["difference"] = out["computed"] - out["note"]
    out["ok"] = out["difference"].abs() <= out["tolerance"] + 1e-9
    return out[["table", "row", "column", "note", "computed", "difference", "tolerance", "ok"]]


def _odds_ratio_rate(p0: float, odds_ratio: float) -> float:
    """Rate after dividing the odds of ``p0`` by ``odds_ratio``."""
    odds = p0 / (1 - p0) / odds_ratio
    return odds / (1 + odds)


@dataclass(frozen=True)
class _OutcomeSpec:
    outcome: str
    kind: str  # "continuous" or "binary"
    base_rate: float | None
    use_r2: bool
    benchmark: float | None  # in the outcome's units (SD or pp), magnitude
    benchmark_text: str
    role: str


def _outcome_specs(r2: float) -> tuple[_OutcomeSpec, ...]:
    campbell = 100 * (0.03 - _odds_ratio_rate(0.03, 1.72))
    return (
        _OutcomeSpec(
            "Absence rate (share of school hours)",
            "continuous",
            None,
            True,
            None,
            "Fuoriclasse: −11 days/year in lower secondary (quasi-experimental, "
            "§3.2); no SD conversion available",
            "primary",
        ),
        _OutcomeSpec(
            "Grade average (1–10)",
            "continuous",
            None,
            True,
            0.26,
            "TOP: +0.26 SD academic performance (RCT, §3.2); median education RCT "
            "0.10 SD (Kraft 2020)",
            "primary",
        ),
        _OutcomeSpec(
            "INVALSI scale score",
            "continuous",
            None,
            True,
            0.20,
            "TOP: maths +0.20 to +0.23 SD (RCT, §3.2)",
            "primary (tested grades 8 and 10 only: smaller n)",
        ),
        _OutcomeSpec(
            "Grade repetition / non-promotion (base 10 %)",
            "binary",
            0.10,
            False,
            5.0,
            "EOP: −5.0 pp for boys (RCT, §3.2)",
            "primary",
        ),
        _OutcomeSpec(
            "Dropout / enrolment not continued (annual, base 3 %)",
            "binary",
            0.03,
            False,
            campbell,
            f"Campbell mean OR 1.72 applied to 3 %: −{campbell:.1f} pp (§3.2)",
            "descriptive; verified individually for SIINC",
        ),
    )


def detectability_table(
    *,
    n_treated: int,
    n_control: int,
    n_volare: int,
    n_volare_control: int,
    alpha: float = 0.05,
    power: float = 0.8,
    r2: float = 0.5,
    cluster_size: float = 20,
    icc: float = 0.10,
) -> pd.DataFrame:
    """Which outcome is detectable: MDE per outcome next to a literature benchmark.

    Continuous outcomes (absence, grades, INVALSI) are in SD units with the prior-year value
    as covariate (``r2``); binary outcomes (repetition, dropout) in percentage points
    without covariates (the note's table). "Clustered" applies the design effect of
    courses of ``cluster_size`` pupils with intra-course correlation ``icc``.

    Returns
    -------
    pandas.DataFrame
        ``outcome, units, MDE courses, MDE courses clustered, MDE Volare Alto, benchmark,
        benchmark source, benchmark ≥ MDE courses, role``.
    """
    rows = []
    for s in _outcome_specs(r2):
        kw: dict[str, Any] = {"alpha": alpha, "power": power}
        if s.kind == "binary":
            kw.update(outcome="binary", base_rate=s.base_rate)
        else:
            kw.update(r2=r2 if s.use_r2 else 0.0)
        ind = P.mde(n_treated=n_treated, n_control=n_control, **kw).value
        clu = P.mde(
            n_treated=n_treated, n_control=n_control, cluster_size=cluster_size, icc=icc, **kw
        ).value
        vol = P.mde(n_treated=n_volare, n_control=n_volare_control, **kw).value
        verdict = "—" if s.benchmark is None else "yes" if s.benchmark >= ind else "no"
        rows.append(
            {
                "outcome": s.outcome,
                "units": "SD" if s.kind == "continuous" else "pp",
                f"MDE courses ({n_treated} vs {n_control})": ind,
                "MDE courses, clustered": clu,
                f"MDE Volare Alto ({n_volare} vs {n_volare_control})": vol,
                "benchmark effect": s.benchmark if s.benchmark is not None else math.nan,
                "benchmark source": s.benchmark_text,
                "benchmark ≥ MDE courses": verdict,
                "role": s.role,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Analytic figures
# --------------------------------------------------------------------------------------


def power_curve_figure(
    comps: pd.DataFrame,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    r2: float = 0.5,
    max_effect: float = 1.0,
) -> Figure:
    """Analytic power against the true effect (SD), without and with covariates.

    Two panels (no covariates; ``R² = r2``), one curve per comparison, the target power as
    a dashed line and two benchmarks as dotted verticals: the median education RCT (0.10 SD,
    Kraft 2020) and TOP (0.26 SD).
    """
    import matplotlib.pyplot as plt

    grid = np.linspace(0.0, max_effect, 101)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, rr, title in ((axes[0], 0.0, "no covariates"), (axes[1], r2, f"R² = {r2:g}")):
        for c in comps.itertuples():
            pw = [
                P.power(
                    effect=float(e),
                    n_treated=c.n_treated,
                    n_control=c.n_control,
                    alpha=alpha,
                    r2=rr,
                ).power
                for e in grid
            ]
            style = "-" if c.group == "STEAM courses" else "--"
            ax.plot(grid, pw, style, label=f"{c.group}: {c.comparison}")
        ax.axhline(power, color="grey", linestyle="--", linewidth=1)
        for x, lab in ((0.10, "median education RCT"), (0.26, "TOP")):
            ax.axvline(x, color="grey", linestyle=":", linewidth=1)
            ax.text(x, 0.02, f" {lab}", rotation=90, fontsize=7, color="grey", va="bottom")
        ax.set_title(title)
        ax.set_xlabel("true effect (SD of the outcome)")
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel(f"power (two-sided α = {alpha:g})")
    axes[1].legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def binary_mde_figure(
    comps: pd.DataFrame, *, alpha: float = 0.05, power: float = 0.8, max_rate: float = 0.25
) -> Figure:
    """MDE (pp) of a binary outcome against its base rate, with the line MDE = base rate.

    Below the line a fall of the MDE's size is possible; above it (rare outcomes) the outcome
    could not be shown to fall even if the programme removed it completely.
    """
    import matplotlib.pyplot as plt

    rates = np.linspace(0.005, max_rate, 100)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for c in comps.itertuples():
        m = [
            P.mde(
                n_treated=c.n_treated,
                n_control=c.n_control,
                outcome="binary",
                base_rate=float(p),
                alpha=alpha,
                power=power,
            ).value
            for p in rates
        ]
        style = "-" if c.group == "STEAM courses" else "--"
        ax.plot(100 * rates, m, style, label=f"{c.group}: {c.comparison}")
    ax.plot(
        100 * rates,
        100 * rates,
        color="black",
        linewidth=1.2,
        label="MDE = base rate (a fall this large is impossible)",
    )
    ax.fill_between(100 * rates, 100 * rates, ax.get_ylim()[1], color="grey", alpha=0.12)
    for x, lab in ((3, "annual dropout ≈ 3 %"), (13, "Puglia ELET ≈ 13 %")):
        ax.axvline(x, color="grey", linestyle=":", linewidth=1)
        ax.text(x, 0.5, f" {lab}", rotation=90, fontsize=7, color="grey", va="bottom")
    ax.set_xlabel("base rate in the comparison group (%)")
    ax.set_ylabel("minimum detectable effect (percentage points)")
    ax.set_xlim(0, 100 * max_rate)
    ax.set_ylim(0, None)
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# Simulation-based power of the staggered DiD (SIMULATED panels)
# --------------------------------------------------------------------------------------


def cs_simple_se(
    cohort_sizes: Mapping[int, float], *, n_control: float, years: Sequence[int], autocorr: float
) -> float:
    """Analytic SE (SD units) of the Callaway-Sant'Anna simple aggregation.

    See the module docstring for the formula. Each cohort ``g`` must be a year of ``years``
    whose previous year is also in ``years`` (the base period). Written here because
    ``diff_diff.PowerAnalysis`` covers the equicorrelated two-group panel of Burlig, Preonas &
    Woerman (2020) (as :func:`analysis.power.mde` with ``design="did"`` does), not the
    cohort-weighted simple aggregation of Callaway & Sant'Anna.

    Parameters
    ----------
    cohort_sizes
        ``{first treated year: number of treated units}`` (non-integer expected sizes allowed).
    n_control
        Never-treated units.
    years
        The panel years (consecutive).
    autocorr
        Correlation of a unit's outcome between any two years.
    """
    years = [int(y) for y in years]
    pos = {y: i for i, y in enumerate(years)}
    t = len(years)
    if not -1.0 / max(t - 1, 1) <= autocorr < 1:
        raise fail(_SRC, f"must lie in [-1/(T-1), 1), got {autocorr}", column="autocorr")
    sigma = (1 - autocorr) * np.eye(t) + autocorr * np.ones((t, t))
    cells = {}
    for g, n in cohort_sizes.items():
        g = int(g)
        if g not in pos or g - 1 not in pos or n <= 0:
            raise fail(
                _SRC,
                f"cohort {g} needs a base year {g - 1} in the panel and a positive size, got {n}",
                column="cohort_sizes",
            )
        c = np.zeros(t)
        post = [y for y in years if y >= g]
        for y in post:
            c[pos[y]] += 1.0
        c[pos[g - 1]] -= len(post)
        cells[g] = (float(n), c, len(post))
    denom = sum(n * k for n, _, k in cells.values())
    var = 0.0
    d = np.zeros(t)
    for n, c, _ in cells.values():
        w = n / denom
        var += w**2 * float(c @ sigma @ c) / n
        d += w * c
    var += float(d @ sigma @ d) / n_control
    return math.sqrt(var)


@dataclass(frozen=True)
class PanelDesign:
    """How simulated programme panels are drawn for one power simulation.

    SIMULATED: panels come from :func:`analysis.data.simulate.programme_panel`. Build it with
    :func:`calibrate_design`, which measures ``outcome_sd``, ``autocorr`` and the share of
    drawn pupils usable as treated or control units on a large pilot panel.

    Attributes
    ----------
    label
        Name of the group (e.g. ``"STEAM courses"``).
    n_treated, n_control
        Participants and never-participants in each simulated analysis sample; all observed
        (with the outcome) in every panel year, as the Callaway-Sant'Anna estimator requires.
    outcome
        Simulated outcome (``grade_avg`` or ``absence_rate``).
    years, cohorts
        Panel years and programme editions (first year of participation).
    outcome_sd
        SD of the outcome within a year among never-participants (natural units per SD).
    autocorr
        Correlation of a never-participant's outcome between two years (pilot estimate).
    cohort_shares
        Expected share of each edition among usable participants.
    n_pupils
        Pupils drawn per panel (enough usable ones, with a margin).
    share_treated, n_schools
        Passed to :func:`~analysis.data.simulate.programme_panel`.
    """

    label: str
    n_treated: int
    n_control: int
    outcome: str
    years: tuple[int, ...]
    cohorts: tuple[int, ...]
    outcome_sd: float
    autocorr: float
    cohort_shares: Mapping[int, float]
    n_pupils: int
    share_treated: float = 0.2
    n_schools: int = 20

    def analytic_se(self) -> float:
        """Analytic SE (SD units) of the DiD for this design (:func:`cs_simple_se`)."""
        sizes = {g: s * self.n_treated for g, s in self.cohort_shares.items() if s > 0}
        return cs_simple_se(
            sizes, n_control=self.n_control, years=self.years, autocorr=self.autocorr
        )

    def analytic_power(self, effect_sd: float, *, alpha: float = 0.05) -> float:
        """Normal-approximation power of the DiD against ``effect_sd`` (two-sided)."""
        z = stats.norm.ppf(1 - alpha / 2)
        ncp = abs(effect_sd) / self.analytic_se()
        return float(stats.norm.sf(z - ncp) + stats.norm.cdf(-z - ncp))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "label": self.label,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "outcome": self.outcome,
            "years": list(self.years),
            "cohorts": list(self.cohorts),
            "outcome_sd": self.outcome_sd,
            "autocorr": self.autocorr,
            "cohort_shares": {str(k): v for k, v in self.cohort_shares.items()},
            "n_pupils": self.n_pupils,
            "share_treated": self.share_treated,
            "n_schools": self.n_schools,
            "analytic_se_sd": self.analytic_se(),
        }


_SIM_OUTCOMES = ("grade_avg", "absence_rate")


def _usable(df: pd.DataFrame, outcome: str, n_years: int) -> pd.DataFrame:
    """Pupils observed with the outcome in every panel year (the estimator's sample)."""
    d = df.loc[df[outcome].notna(), ["pupil_id", "school_id", "year", "cohort", outcome]]
    counts = d.groupby("pupil_id")["year"].transform("nunique")
    return d.loc[counts == n_years]


def calibrate_design(
    label: str,
    *,
    n_treated: int,
    n_control: int,
    seed: int,
    outcome: str = "grade_avg",
    years: Sequence[int] = (2022, 2023, 2024),
    cohorts: Sequence[int] = (2023, 2024),
    share_treated: float = 0.2,
    n_schools: int = 20,
    pilot_pupils: int = 20_000,
    margin: float = 1.3,
) -> PanelDesign:
    """Fix the simulation design from one large pilot panel without effects (SIMULATED).

    Measures, among pupils observed in every year: the within-year SD of the outcome and its
    year-to-year correlation among never-participants, the share of drawn pupils that are
    usable participants / never-participants, and the mix of editions among participants.
    ``n_pupils`` is then ``margin`` times what is needed on average for ``n_treated``
    participants and ``n_control`` never-participants.
    """
    from analysis.data.simulate import programme_panel

    if outcome not in _SIM_OUTCOMES:
        raise fail(
            _SRC,
            f"must be one of {_SIM_OUTCOMES} (INVALSI is tested in single grades, "
            "so no pupil has it in every year; binary outcomes are not simulated here)",
            column="outcome",
        )
    if n_treated < 2 or n_control < 2:
        raise fail(_SRC, "need at least 2 treated and 2 control units", column="n_treated")
    years = tuple(int(y) for y in years)
    cohorts = tuple(int(c) for c in cohorts)
    sim = programme_panel(
        seed=seed,
        n_pupils=pilot_pupils,
        n_schools=n_schools,
        years=years,
        cohorts=cohorts,
        share_treated=share_treated,
        effects={},
    )
    d = _usable(sim.data, outcome, len(years))
    never = d[d["cohort"] == 0]
    dev = never[outcome] - never.groupby("year")[outcome].transform("mean")
    sd = float(dev.std(ddof=1))
    wide = never.pivot(index="pupil_id", columns="year", values=outcome)
    corr = wide.corr().to_numpy()
    rho = float(corr[np.triu_indices_from(corr, k=1)].mean())
    per_pupil = d.groupby("pupil_id")["cohort"].first()
    f_t = float((per_pupil > 0).sum()) / pilot_pupils
    f_c = float((per_pupil == 0).sum()) / pilot_pupils
    if f_t <= 0 or f_c <= 0:
        raise fail(
            _SRC,
            "the pilot panel has no usable participants or controls; check "
            "years, cohorts and share_treated",
            column="cohorts",
        )
    shares = per_pupil[per_pupil > 0].value_counts(normalize=True).sort_index()
    n_pupils = int(math.ceil(margin * max(n_treated / f_t, n_control / f_c)))
    return PanelDesign(
        label=label,
        n_treated=int(n_treated),
        n_control=int(n_control),
        outcome=outcome,
        years=years,
        cohorts=cohorts,
        outcome_sd=sd,
        autocorr=rho,
        cohort_shares={int(k): float(v) for k, v in shares.items()},
        n_pupils=max(n_pupils, n_schools),
        share_treated=float(share_treated),
        n_schools=int(n_schools),
    )


def draw_panel(
    design: PanelDesign, effect_sd: float, rng: np.random.Generator, *, max_tries: int = 4
) -> pd.DataFrame:
    """Draw one SIMULATED analysis sample with a true effect of ``effect_sd`` SD.

    A programme panel is drawn (effect ``effect_sd × outcome_sd`` on ``design.outcome`` in
    every post-participation year, no effect on other outcomes), restricted to pupils observed
    with the outcome in every year, and ``n_treated`` participants and ``n_control``
    never-participants are sampled from it without replacement. If a draw has too few usable
    pupils, a panel twice as large is drawn (at most ``max_tries`` times).

    Returns
    -------
    pandas.DataFrame
        ``pupil_id, school_id, year, cohort, <outcome>``, balanced.
    """
    from analysis.data.simulate import programme_panel

    n_pupils = design.n_pupils
    for _ in range(max_tries):
        sim = programme_panel(
            seed=int(rng.integers(2**63 - 1)),
            n_pupils=n_pupils,
            n_schools=design.n_schools,
            years=design.years,
            cohorts=design.cohorts,
            share_treated=design.share_treated,
            effects={design.outcome: effect_sd * design.outcome_sd},
        )
        d = _usable(sim.data, design.outcome, len(design.years))
        coh = d.groupby("pupil_id")["cohort"].first()
        treated, never = coh.index[coh > 0], coh.index[coh == 0]
        if len(treated) >= design.n_treated and len(never) >= design.n_control:
            keep = np.concatenate(
                [
                    rng.choice(treated.to_numpy(), design.n_treated, replace=False),
                    rng.choice(never.to_numpy(), design.n_control, replace=False),
                ]
            )
            return d[d["pupil_id"].isin(keep)].reset_index(drop=True)
        n_pupils *= 2
    raise fail(
        _SRC,
        f"could not draw {design.n_treated} usable participants and "
        f"{design.n_control} never-participants in {max_tries} tries (last panel: "
        f"{n_pupils // 2} pupils)",
        column="n_pupils",
    )


def did_estimate(
    df: pd.DataFrame, *, outcome: str, scale: float = 1.0, cluster: str | None = None
) -> Estimate:
    """Callaway-Sant'Anna DiD (never-treated controls, simple aggregation) in SD units.

    Runs :func:`analysis.did.staggered` (doubly robust, no covariates, pupil-level
    analytic SEs unless ``cluster``) on a pupil × year panel and divides the overall ATT, its
    SE and CI by ``scale`` (the outcome's SD), so that effects are in SD units.
    """
    from analysis import did

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = did.staggered(
            df,
            outcome=outcome,
            unit="pupil_id",
            time="year",
            cohort="cohort",
            control="never",
            cluster=cluster,
        )
        o = res.aggregate("simple").overall
    return Estimate(
        estimate=o.estimate / scale,
        se=o.se / scale,
        ci_low=o.ci_low / scale,
        ci_high=o.ci_high / scale,
        p_value=o.p_value,
        n_obs=o.n_obs,
        n_units=o.n_units,
        n_clusters=o.n_clusters,
        method=o.method + " (SD units)",
        backend=o.backend,
        level=o.level,
    )


def _crossing(effects: np.ndarray, powers: np.ndarray, target: float) -> float:
    """Smallest effect at which the (linearly interpolated) power curve reaches ``target``."""
    order = np.argsort(effects)
    e, p = effects[order], powers[order]
    for i in range(len(e)):
        if p[i] >= target:
            if i == 0:
                return float(e[0])
            return float(e[i - 1] + (target - p[i - 1]) * (e[i] - e[i - 1]) / (p[i] - p[i - 1]))
    return math.nan


@dataclass(frozen=True)
class DiDPowerSimulation:
    """Simulated power of the staggered DiD for one design. SIMULATED.

    Attributes
    ----------
    design
        The :class:`PanelDesign`.
    sim
        The :class:`analysis.power.SimulatedPower` (per-simulation estimates in SD units).
    target
        Target power (for :meth:`simulated_mde`).
    """

    design: PanelDesign
    sim: P.SimulatedPower = field(repr=False)
    target: float = 0.8

    def tidy(self) -> pd.DataFrame:
        """One row per true effect: simulated power ± MC SE next to the analytic power.

        Columns: group, comparison, effect (SD), effect (natural units), n_sims, rejections, power,
        mc_se, analytic_power, mean_se (mean estimated SE), analytic_se, bias, coverage,
        n_invalid.
        """
        t = self.sim.tidy()
        se = self.sim.estimates.groupby("effect", sort=False)["se"].mean()
        d = self.design
        t.insert(0, "group", d.label)
        t.insert(1, "comparison", f"{d.n_treated} vs {d.n_control}")
        t.insert(2, "effect (natural units)", t["effect"] * d.outcome_sd)
        t["analytic_power"] = [d.analytic_power(e, alpha=self.sim.alpha) for e in t["effect"]]
        t["mean_se"] = t["effect"].map(se).to_numpy()
        t["analytic_se"] = d.analytic_se()
        cols = [
            "group",
            "comparison",
            "effect",
            "effect (natural units)",
            "n_sims",
            "rejections",
            "power",
            "mc_se",
            "analytic_power",
            "mean_se",
            "analytic_se",
            "bias",
            "coverage",
            "n_invalid",
        ]
        return t[cols]

    def simulated_mde(self) -> float:
        """Effect (SD) at which the simulated power curve reaches the target (interpolated).

        ``nan`` if no simulated effect reaches it.
        """
        t = self.sim.tidy()
        return _crossing(t["effect"].to_numpy(float), t["power"].to_numpy(float), self.target)

    def analytic_mde(self) -> float:
        """Effect (SD) with analytic power equal to the target (normal approximation)."""
        z = stats.norm.ppf(1 - self.sim.alpha / 2) + stats.norm.ppf(self.target)
        return float(z * self.design.analytic_se())

    def size(self) -> float:
        """Rejection rate at a zero effect (``nan`` if 0 was not simulated)."""
        t = self.sim.tidy()
        row = t[t["effect"] == 0]
        return float(row["power"].iloc[0]) if len(row) else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (design, per-effect table, MDEs)."""
        return {
            "simulated": True,
            "design": self.design.to_dict(),
            "alpha": self.sim.alpha,
            "seed": self.sim.seed,
            "n_sims": self.sim.n_sims,
            "target": self.target,
            "table": self.tidy().to_dict(orient="records"),
            "simulated_mde_sd": self.simulated_mde(),
            "analytic_mde_sd": self.analytic_mde(),
        }

    def summary(self) -> str:
        """Return a few lines: design, power per effect, MDEs."""
        d = self.design
        lines = [
            f"SIMULATED — {d.label}: {d.n_treated} vs {d.n_control}, outcome {d.outcome} "
            f"(1 SD = {d.outcome_sd:.3g}), autocorr {d.autocorr:.2f}"
        ]
        for r in self.tidy().itertuples():
            lines.append(
                f"  {r.effect:.2f} SD: power {r.power:.2f} (MC SE {r.mc_se:.2f}), "
                f"analytic {r.analytic_power:.2f}"
            )
        lines.append(
            f"  MDE (power {self.target:g}): simulated {self.simulated_mde():.2f} SD, "
            f"analytic {self.analytic_mde():.2f} SD"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def simulate_did_power(
    design: PanelDesign,
    *,
    effects: Sequence[float],
    n_sims: int,
    seed: int,
    alpha: float = 0.05,
    target: float = 0.8,
    cluster: str | None = None,
    progress: bool = True,
) -> DiDPowerSimulation:
    """Monte Carlo power of the staggered DiD on SIMULATED programme panels.

    For each true effect (SD units) and each of ``n_sims`` simulations, draws a sample with
    :func:`draw_panel` and estimates it with :func:`did_estimate`; rejection when
    ``p < alpha``. Reproducible from ``seed`` (see :func:`analysis.power.simulate_power`).
    """
    sim = P.simulate_power(
        draw=lambda e, rng: draw_panel(design, e, rng),
        estimate=partial(
            did_estimate, outcome=design.outcome, scale=design.outcome_sd, cluster=cluster
        ),
        effects=effects,
        n_sims=n_sims,
        alpha=alpha,
        seed=seed,
        progress=progress,
    )
    return DiDPowerSimulation(design=design, sim=sim, target=target)


def simulated_power_figure(results: Sequence[DiDPowerSimulation], *, target: float = 0.8) -> Figure:
    """Simulated power (points, ±1.96 MC SE) and analytic power (lines) per design."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.3))
    for i, r in enumerate(results):
        t = r.tidy().sort_values("effect")
        colour = f"C{i}"
        ax.errorbar(
            t["effect"],
            t["power"],
            yerr=1.96 * t["mc_se"],
            fmt="o",
            capsize=3,
            color=colour,
            label=f"{r.design.label} {t['comparison'].iloc[0]}: simulated",
        )
        grid = np.linspace(0, max(float(t["effect"].max()), 0.01), 100)
        ax.plot(
            grid,
            [r.design.analytic_power(float(e), alpha=r.sim.alpha) for e in grid],
            color=colour,
            linestyle="--",
            linewidth=1,
            label=f"{r.design.label} {t['comparison'].iloc[0]}: analytic",
        )
    if results:
        ax.axhline(
            results[0].sim.alpha,
            color="grey",
            linestyle=":",
            linewidth=1,
            label=f"α = {results[0].sim.alpha:g}",
        )
    ax.axhline(target, color="grey", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("true effect (SD of the outcome)")
    ax.set_ylabel("rejection rate")
    ax.set_title("SIMULATED — power of the staggered DiD (Callaway–Sant'Anna)")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# Plain words
# --------------------------------------------------------------------------------------


def _reach(benchmark: float, individual: float, clustered: float) -> str:
    if benchmark >= clustered:
        return "detectable even if outcomes are correlated within courses"
    if benchmark >= individual:
        return "detectable only if outcomes are not correlated within courses (at the edge)"
    return "not detectable"


def recommendation(
    *,
    detect: pd.DataFrame,
    sample_sizes: pd.DataFrame,
    simulations: Sequence[DiDPowerSimulation] = (),
    alpha: float = 0.05,
    power: float = 0.8,
) -> str:
    """The report's closing recommendation, in plain words (markdown), from its own numbers.

    Parameters
    ----------
    detect
        :func:`detectability_table` (its rows in the order that function writes them).
    sample_sizes
        :func:`sample_size_table` (its first row is read as the 21.1 % → 13 % case).
    simulations
        :func:`simulate_did_power` results (SIMULATED), quoted if given.
    alpha, power
        The test's level and the target power used for the tables.
    """
    cols = list(detect.columns)
    c_ind = next(c for c in cols if c.startswith("MDE courses ("))
    c_clu = "MDE courses, clustered"
    c_vol = next(c for c in cols if c.startswith("MDE Volare Alto"))
    n_courses = c_ind[len("MDE courses (") : -1]
    n_volare = c_vol[len("MDE Volare Alto (") : -1]
    grade, rep, drop = detect.iloc[1], detect.iloc[3], detect.iloc[4]
    top = _reach(0.20, grade[c_ind], grade[c_clu])
    median = _reach(0.10, grade[c_ind], grade[c_clu])
    eop = _reach(5.0, rep[c_ind], rep[c_clu])
    s = sample_sizes.iloc[0]
    note_n = int(s["note's figure"])
    lines = [
        f"**What the design can detect** (two-sided α = {alpha:g}, power {power:.0%}).",
        "",
        f"1. **Primary outcomes: absence rate, grade repetition/promotion, grades and INVALSI "
        f"scores.** For the STEAM courses ({n_courses}) a continuous outcome with the "
        f"prior-year value as covariate has an MDE of {grade[c_ind]:.2f} SD "
        f"({grade[c_clu]:.2f} SD if outcomes are correlated within courses). TOP-type "
        f"effects (0.20–0.26 SD) are {top}; the median effect of education RCTs (0.10 SD) is "
        f"{median}. Grade repetition at a 10 % base rate has an MDE of {rep[c_ind]:.1f} pp; "
        f"an EOP-size fall (−5 pp) is {eop}.",
        f"2. **Dropout and enrolment continuation: report them descriptively and verify them "
        f"pupil by pupil (for SIINC); do not test them for impact.** At a 3 % annual rate the "
        f"MDE is {drop[c_ind]:.1f} pp, "
        + ("larger than the rate itself. " if drop[c_ind] >= 3.0 else "close to the rate. ")
        + f"A fall from 21.1 % to 13 % (the Campbell mean effect) needs "
        f"{int(s['two groups 1:1 (per arm)'])} pupils per arm when two groups are compared; "
        f"the note's {note_n} is the figure for one "
        f"group against a fixed benchmark rate.",
        f"3. **Volare Alto ({n_volare}): a feasibility / pilot evaluation.** The MDE is "
        f"{grade[c_vol]:.2f} SD for a continuous outcome even with a strong covariate, "
        f"and {drop[c_vol]:.1f} pp for a 3 % rate: only very large effects could be seen. "
        f"Report participation, dosage, completion and verified outcomes with confidence "
        f"intervals, not a test of impact.",
    ]
    if simulations:
        bits = []
        sizes = []
        for r in simulations:
            m = r.simulated_mde()
            txt = f"{m:.2f} SD" if math.isfinite(m) else "more than the largest effect simulated"
            bits.append(
                f"{r.design.label} {r.design.n_treated} vs {r.design.n_control}: "
                f"{txt} (analytic {r.analytic_mde():.2f} SD)"
            )
            if math.isfinite(r.size()):
                sizes.append(f"{r.size():.2f}")
        size_txt = (
            f" Its rejection rate at a zero effect ({', '.join(sizes)}) should be "
            f"close to α = {alpha:g}."
            if sizes
            else ""
        )
        lines.append(
            "4. **The estimator itself (SIMULATED panels).** The staggered DiD reaches "
            f"{power:.0%} power at about "
            + "; ".join(bits)
            + "."
            + size_txt
            + " The simulator has no course- or school-level shocks, so real MDEs are at "
            "least this large."
        )
    lines.append(
        f"{5 if simulations else 4}. **Pre-register** the primary outcomes above and keep "
        "them few. State these MDEs in every impact report, and report confidence intervals "
        "rather than significance alone. On these samples a non-significant result is not "
        "evidence that the programme had no effect."
    )
    return "\n".join(lines)
