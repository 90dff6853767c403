"""Tables, figures and words of the design and power report (notebook 04).

The report answers one question for the two beneficiary groups of the evaluation (background
note §0, §3.4-3.5): *which outcomes can this design detect, and at what effect size?*  The
group sizes are programme facts (``config/programme.yaml``, :func:`analysis.facts.programme_facts`).

Analytic part (no data)
    :func:`comparisons` lists the treated-vs-control sample sizes considered;
    :func:`continuous_mde_table`, :func:`design_mde_table`, :func:`binary_mde_table`,
    :func:`sample_size_table` and :func:`detectability_table` evaluate
    :func:`analysis.power.mde` / :func:`~analysis.power.sample_size` on them;
    :func:`note_reproduction` recomputes every number of the note's §3.5 tables and compares
    it with the published value; :func:`power_curve_figure` and :func:`binary_mde_figure`
    draw them; :func:`recommendation` turns them into plain words.

Simulation part (SIMULATED pupil panels)
    The method is in :mod:`analysis.power` (:func:`~analysis.power.calibrate_design`,
    :func:`~analysis.power.simulate_did_power`, the analytic standard error
    :func:`~analysis.power.cs_simple_se`).  :func:`simulate_groups` runs it for the report's
    groups on the run's random streams (pilot panels from ``"data"``, simulations from
    ``"power"``: :func:`analysis.power.design_seeds`); :func:`design_table`,
    :func:`simulated_mde_table` and :func:`simulated_power_figure` show the results.

The page
    :class:`DesignAnalysis` builds every table once from the notebook's parameters; its
    ``*_view`` methods return the arguments of ``display.show_table`` / ``show_figure``
    (``{"df" | "fig": ..., "caption": ..., ...}``), with the captions written here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis import power as P
from analysis.errors import fail
from analysis.facts import programme_facts

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "NOTE_BINARY",
    "NOTE_CONTINUOUS",
    "NOTE_SAMPLE_SIZES",
    "Comparison",
    "DesignAnalysis",
    "binary_mde_figure",
    "binary_mde_table",
    "comparisons",
    "continuous_mde_table",
    "design_mde_table",
    "design_table",
    "detectability_table",
    "main_comparisons",
    "note_reproduction",
    "power_curve_figure",
    "recommendation",
    "reproduction_summary",
    "sample_size_table",
    "simulate_groups",
    "simulated_mde_table",
    "simulated_power_figure",
]

_SRC = "argument to analysis.reports.design"

#: The two beneficiary groups (background note §0).
COURSES = "STEAM courses"
VOLARE = "Volare Alto"

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
    n_courses_treated: int | None = None,
    course_control_ratios: Sequence[float] = (1, 2, 4),
    n_volare_alto: int | None = None,
    volare_control_ratios: Sequence[float] = (1, 3),
) -> pd.DataFrame:
    """Treated-vs-control comparisons considered for the two beneficiary groups.

    Parameters
    ----------
    n_courses_treated
        Participants of the STEAM courses; default the programme fact (courses × pupils per
        course, ``config/programme.yaml``).
    course_control_ratios
        Comparison pupils per participant for the courses.
    n_volare_alto
        Youths of the Volare Alto day centre; default the programme fact.
    volare_control_ratios
        Comparison youths per Volare Alto participant.

    Returns
    -------
    pandas.DataFrame
        ``group, comparison, n_treated, n_control, control_ratio``; controls rounded to the
        nearest unit.
    """
    facts = programme_facts()
    if n_courses_treated is None:
        n_courses_treated = facts.courses.pupils
    if n_volare_alto is None:
        n_volare_alto = facts.day_centre.youths
    rows = []
    for group, n_t, ratios in (
        (COURSES, n_courses_treated, course_control_ratios),
        (VOLARE, n_volare_alto, volare_control_ratios),
    ):
        if not (isinstance(n_t, int | np.integer) and n_t >= 2):
            raise fail(_SRC, f"must be an integer >= 2, got {n_t!r}", column=group)
        if len(ratios) == 0:
            raise fail(_SRC, "needs at least one control ratio", column=group)
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


@dataclass(frozen=True)
class Comparison:
    """One treated-vs-control comparison (a row of :func:`comparisons`)."""

    group: str
    comparison: str
    n_treated: int
    n_control: int
    control_ratio: float


def main_comparisons(comps: pd.DataFrame) -> dict[str, Comparison]:
    """The comparison with the most controls per participant, for each group.

    Returns
    -------
    dict
        ``{group: Comparison}`` in the order of ``comps`` (STEAM courses, Volare Alto).
    """
    out = {}
    for group, g in comps.groupby("group", sort=False):
        r = g.loc[g["control_ratio"].idxmax()]
        out[str(group)] = Comparison(
            group=str(group),
            comparison=str(r["comparison"]),
            n_treated=int(r["n_treated"]),
            n_control=int(r["n_control"]),
            control_ratio=float(r["control_ratio"]),
        )
    return out


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


_GRADE_OUTCOME = "Grade average (1–10)"


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
            _GRADE_OUTCOME,
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
            style = "-" if c.group == COURSES else "--"
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
        style = "-" if c.group == COURSES else "--"
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
# Simulation-based power of the staggered DiD (SIMULATED panels): glue, tables, figure
# --------------------------------------------------------------------------------------


def simulate_groups(
    main: Mapping[str, Comparison],
    *,
    cohorts: Mapping[str, Sequence[int]],
    seed: int,
    effects: Sequence[float],
    n_sims: int,
    outcome: str = "grade_avg",
    years: Sequence[int] = (2022, 2023, 2024),
    alpha: float = 0.05,
    power: float = 0.8,
) -> list[P.DiDPowerSimulation]:
    """Simulated power of the staggered DiD for each group's main comparison (SIMULATED).

    For group ``k`` (in the order of ``main``), the design is calibrated on a pilot panel from
    the run's ``"data"`` stream and the power simulated from its ``"power"`` stream
    (:func:`analysis.power.design_seeds`), with :func:`analysis.power.calibrate_design` and
    :func:`analysis.power.simulate_did_power`.

    Parameters
    ----------
    main
        :func:`main_comparisons`.
    cohorts
        Programme editions (first year of participation) of each group.
    seed
        The run's seed.
    effects, n_sims, outcome, years, alpha, power
        True effects (SD), simulations per effect, simulated outcome, panel years, level of
        the test and target power.
    """
    missing = [g for g in main if g not in cohorts]
    if missing:
        raise fail(_SRC, f"no editions (cohorts) given for {missing}", column="cohorts")
    sims = []
    for (group, c), (pilot, draws) in zip(
        main.items(), P.design_seeds(seed, len(main)), strict=True
    ):
        design = P.calibrate_design(
            group,
            n_treated=c.n_treated,
            n_control=c.n_control,
            seed=pilot,
            outcome=outcome,
            years=years,
            cohorts=cohorts[group],
        )
        sims.append(
            P.simulate_did_power(
                design,
                effects=effects,
                n_sims=n_sims,
                seed=draws,
                alpha=alpha,
                target=power,
                progress=False,
            )
        )
    return sims


def design_table(simulations: Sequence[P.DiDPowerSimulation]) -> pd.DataFrame:
    """The simulated designs: sizes, outcome, years, editions, outcome SD and correlation."""
    return pd.DataFrame(
        [
            {
                "group": d.label,
                "participants": d.n_treated,
                "controls": d.n_control,
                "outcome": d.outcome,
                "years": ", ".join(map(str, d.years)),
                "editions (first year)": ", ".join(map(str, d.cohorts)),
                "1 SD in outcome units": d.outcome_sd,
                "year-to-year correlation": d.autocorr,
                "analytic SE (SD)": d.analytic_se(),
                "pupils drawn per panel": d.n_pupils,
            }
            for d in (s.design for s in simulations)
        ]
    )


def simulated_mde_table(simulations: Sequence[P.DiDPowerSimulation]) -> pd.DataFrame:
    """Simulated against analytic MDE, and the rejection rate at a zero effect, per design."""
    return pd.DataFrame([s.mde_row() for s in simulations])


def simulated_power_figure(
    results: Sequence[P.DiDPowerSimulation], *, target: float = 0.8
) -> Figure:
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
    simulations: Sequence[P.DiDPowerSimulation] = (),
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
        :func:`analysis.power.simulate_did_power` results (SIMULATED), quoted if given.
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


# --------------------------------------------------------------------------------------
# The page: every table once, with its caption
# --------------------------------------------------------------------------------------

#: How the simulated outcomes read in captions: (name, natural units).
_SIM_OUTCOME_WORDS = {
    "grade_avg": ("the average grade", "grade points"),
    "absence_rate": ("the absence rate", "share of school hours"),
}


def reproduction_summary(repro: pd.DataFrame) -> pd.DataFrame:
    """Condense :func:`note_reproduction` to one row per table of the note.

    Columns ``table, numbers, within_tolerance, max_abs_difference, tolerance``.
    """
    return (
        repro.assign(abs_diff=repro["difference"].abs())
        .groupby("table", sort=False)
        .agg(
            numbers=("ok", "size"),
            within_tolerance=("ok", "sum"),
            max_abs_difference=("abs_diff", "max"),
            tolerance=("tolerance", "first"),
        )
        .reset_index()
    )


@dataclass(frozen=True, eq=False)
class DesignAnalysis:
    """The design report's numbers, built once from the notebook's parameters.

    Build it with :meth:`build`.  The ``*_view`` methods return the keyword arguments of
    ``display.show_table`` (``df, caption, digits``), ``display.show_figure`` (``fig,
    caption``) or ``display.note`` (``text, kind``).

    Attributes
    ----------
    comps, main
        :func:`comparisons` and :func:`main_comparisons`.
    repro, cont, des, binary, sizes, detect
        :func:`note_reproduction`, :func:`continuous_mde_table`, :func:`design_mde_table`,
        :func:`binary_mde_table`, :func:`sample_size_table`, :func:`detectability_table`.
    sims
        :func:`simulate_groups` (SIMULATED), one per group.
    alpha, power, r2, cluster_size, icc, autocorr_values, seed, n_sims, sim_outcome
        The parameters the tables were computed with.
    """

    comps: pd.DataFrame
    main: Mapping[str, Comparison]
    repro: pd.DataFrame
    cont: pd.DataFrame
    des: pd.DataFrame
    binary: pd.DataFrame
    sizes: pd.DataFrame
    detect: pd.DataFrame
    sims: tuple[P.DiDPowerSimulation, ...]
    alpha: float
    power: float
    r2: float
    cluster_size: float
    icc: float
    autocorr_values: tuple[float, ...]
    seed: int
    n_sims: int
    sim_outcome: str

    @classmethod
    def build(
        cls,
        *,
        seed: int,
        n_sims: int,
        effects: Sequence[float],
        alpha: float = 0.05,
        power: float = 0.8,
        course_control_ratios: Sequence[float] = (1, 2, 4),
        volare_control_ratios: Sequence[float] = (1, 3),
        r2: float = 0.5,
        cluster_size: float = 20,
        icc: float = 0.10,
        autocorr_values: Sequence[float] = (0.5, 0.7),
        base_rates: Sequence[float] = (0.03, 0.05, 0.10, 0.13, 0.20),
        sim_outcome: str = "grade_avg",
        sim_years: Sequence[int] = (2022, 2023, 2024),
        course_cohorts: Sequence[int] = (2023, 2024),
        volare_cohorts: Sequence[int] = (2023,),
    ) -> DesignAnalysis:
        """Compute every table of the report (the simulation takes a few minutes).

        Parameters
        ----------
        seed
            The run's seed (the simulation's pilot panels use its ``"data"`` stream, the
            power simulations its ``"power"`` stream).
        n_sims, effects
            Simulations per true effect and the true effects (SD) of the simulation.
        alpha, power
            Level of the two-sided test and target power.
        course_control_ratios, volare_control_ratios
            Controls per participant considered for each group; the group sizes are
            programme facts (``config/programme.yaml``).
        r2, cluster_size, icc
            Covariate R², course size and intra-course correlation of the MDE variants.
        autocorr_values
            Year-to-year correlations of the DiD / ANCOVA designs.
        base_rates
            Base rates of the binary-outcome table.
        sim_outcome, sim_years, course_cohorts, volare_cohorts
            Simulated outcome, panel years and programme editions of the two groups.
        """
        comps = comparisons(
            course_control_ratios=course_control_ratios,
            volare_control_ratios=volare_control_ratios,
        )
        main = main_comparisons(comps)
        course, volare = main[COURSES], main[VOLARE]
        sims = simulate_groups(
            main,
            cohorts={COURSES: course_cohorts, VOLARE: volare_cohorts},
            seed=seed,
            effects=effects,
            n_sims=n_sims,
            outcome=sim_outcome,
            years=sim_years,
            alpha=alpha,
            power=power,
        )
        return cls(
            comps=comps,
            main=main,
            repro=note_reproduction(),
            cont=continuous_mde_table(
                comps, alpha=alpha, power=power, r2=r2, cluster_size=cluster_size, icc=icc
            ),
            des=design_mde_table(comps, autocorr_values=autocorr_values, alpha=alpha, power=power),
            binary=binary_mde_table(comps, base_rates=base_rates, alpha=alpha, power=power),
            sizes=sample_size_table(alpha=alpha, power=power, control_ratio=course.control_ratio),
            detect=detectability_table(
                n_treated=course.n_treated,
                n_control=course.n_control,
                n_volare=volare.n_treated,
                n_volare_control=volare.n_control,
                alpha=alpha,
                power=power,
                r2=r2,
                cluster_size=cluster_size,
                icc=icc,
            ),
            sims=tuple(sims),
            alpha=float(alpha),
            power=float(power),
            r2=float(r2),
            cluster_size=float(cluster_size),
            icc=float(icc),
            autocorr_values=tuple(float(r) for r in autocorr_values),
            seed=int(seed),
            n_sims=int(n_sims),
            sim_outcome=sim_outcome,
        )

    # -- words --------------------------------------------------------------------------------
    @property
    def _test(self) -> str:
        return f"two-sided α = {self.alpha:g}, power {self.power:.0%}"

    def groups_text(self) -> str:
        """Who the two beneficiary groups are (markdown), from the programme facts."""
        f = programme_facts()
        c, d = f.courses, f.day_centre
        return (
            f"**The two groups.** {c.name}: **{c.pupils} pupils** of {c.courses} STEAM courses "
            f"({c.courses} × {c.pupils_per_course} pupils, {c.first_year}–{c.last_year}). "
            f"{d.name}: **{d.youths} youths** aged {d.age_min}–{d.age_max} of the Volare Alto "
            "day centre. Source: config/programme.yaml (background note §0)."
        )

    def recommendation(self) -> str:
        """The closing recommendation (markdown), see :func:`recommendation`."""
        return recommendation(
            detect=self.detect,
            sample_sizes=self.sizes,
            simulations=self.sims,
            alpha=self.alpha,
            power=self.power,
        )

    # -- section 0-1: comparisons and the note's tables ---------------------------------------
    def comparisons_view(self) -> dict[str, Any]:
        """The comparisons considered (table)."""
        f = programme_facts()
        return {
            "df": self.comps,
            "caption": "Comparisons considered: participants (treated) against comparison pupils "
            "drawn from the same schools (controls), for several numbers of controls per "
            f"participant. Sizes: programme facts ({f.courses.courses} courses × "
            f"{f.courses.pupils_per_course} pupils; {f.day_centre.youths} Volare Alto youths; "
            "config/programme.yaml, background note §0).",
            "digits": 0,
        }

    def reproduction_view(self) -> dict[str, Any]:
        """How many numbers of the note's §3.5 are reproduced (table)."""
        return {
            "df": reproduction_summary(self.repro),
            "caption": "Background note §3.5 against this code: how many published numbers are "
            "reproduced within the tolerance (continuous MDE in SD, binary MDE in percentage "
            "points, required sample in pupils; the note rounds to 0.01 SD, 0.1 pp and whole "
            "pupils). Source: evaluation_background.md §3.5; analysis.power.",
            "digits": 3,
        }

    def reproduction_note(self) -> dict[str, str]:
        """Whether every number of the note is reproduced (note)."""
        r = self.repro
        if r["ok"].all():
            return {
                "text": f"All {len(r)} numbers of the note's §3.5 are reproduced within rounding.",
                "kind": "info",
            }
        bad = ", ".join(
            f"{x.table} {x.row} {x.column}: note {x.note}, computed {x.computed:.3f}"
            for x in r[~r["ok"]].itertuples()
        )
        return {"text": f"Some numbers of §3.5 are not reproduced: {bad}", "kind": "warning"}

    # -- sections 2-4: analytic MDEs and sample sizes ------------------------------------------
    def continuous_view(self) -> dict[str, Any]:
        """MDE of a continuous outcome, four variants (table)."""
        return {
            "df": self.cont,
            "caption": f"Minimum detectable effect (SD units) of a continuous outcome, "
            f"{self._test}, normal approximation. Covariates: R² = {self.r2:g}; clustering: "
            f"courses of m = {self.cluster_size:g} pupils, ICC = {self.icc:g}. Analytic (no "
            "data). Method: background note §3.5; analysis.power.mde.",
        }

    def design_view(self) -> dict[str, Any]:
        """MDE of the post-period comparison, DiD and ANCOVA (table)."""
        rhos = ", ".join(f"{r:g}" for r in self.autocorr_values)
        return {
            "df": self.des,
            "caption": "MDE (SD units) by design with one pre- and one post-programme year, for "
            f"year-to-year correlations ρ of the outcome of {rhos} (assumptions: no register "
            f"data on ρ yet). {self._test[0].upper()}{self._test[1:]}. Analytic. Method: "
            "McKenzie (2012); analysis.power.mde(design=...).",
        }

    def power_curve_view(self) -> dict[str, Any]:
        """Analytic power curves (figure)."""
        return {
            "fig": power_curve_figure(self.comps, alpha=self.alpha, power=self.power, r2=self.r2),
            "caption": "Analytic power against the true effect in SD units, for each "
            "comparison, without covariates (left) and with covariates explaining "
            f"R² = {self.r2:g} of the outcome variance (right). Dashed horizontal line: target "
            f"power {self.power:.0%}. Dotted lines: median education RCT effect (0.10 SD, "
            "Kraft 2020) and the TOP tutoring RCT (0.26 SD, background note §3.2). Analytic, "
            "no data.",
        }

    def binary_view(self) -> dict[str, Any]:
        """MDE of a binary outcome by base rate (table)."""
        return {
            "df": self.binary,
            "caption": "Minimum detectable effect (percentage points) of a binary outcome by "
            f"base rate and comparison, {self._test}, variance p₀(1−p₀) in both groups (the "
            "note's formula), no covariates, no clustering. Last column: comparisons in which "
            "the MDE is at least the base rate. Analytic. Method: background note §3.5; "
            "analysis.power.mde.",
            "digits": 1,
        }

    def binary_figure_view(self) -> dict[str, Any]:
        """MDE of a binary outcome against its base rate (figure)."""
        return {
            "fig": binary_mde_figure(self.comps, alpha=self.alpha, power=self.power),
            "caption": "MDE of a binary outcome (percentage points) against its base rate, for "
            f"each comparison ({self._test}). In the shaded area above the black line the MDE "
            "exceeds the base rate, so a fall of that size is impossible. Annual dropout "
            "(≈ 3 %, MIM) lies there for every comparison. Analytic, no data.",
        }

    def sample_size_view(self) -> dict[str, Any]:
        """Units needed to detect a fall in a rate (table)."""
        k = self.main[COURSES].control_ratio
        return {
            "df": self.sizes,
            "caption": f"Pupils needed to detect a fall in a rate with power {self.power:.0%} "
            f"at two-sided α = {self.alpha:g} (arcsine approximation, Cohen's h). 'One group "
            "vs known rate' reproduces the note's 'per arm' figures. 'Two groups 1:1' is the "
            "number per arm when participants are compared with an equal-sized comparison "
            f"group. The last two columns give participants and controls with {k:g} controls "
            "per participant. Analytic. Source of the changes: background note §3.5.",
            "digits": 3,
        }

    def sample_size_note(self) -> dict[str, str]:
        """The first change in words: one group against a benchmark vs two groups (note)."""
        s = self.sizes.iloc[0]
        two = int(s["two groups 1:1 (per arm)"])
        return {
            "text": f"For {s['change']}: {int(s['one group vs known rate'])} pupils if one group "
            f"is compared with a fixed benchmark rate (the note's figure), but {two} per arm "
            f"({2 * two} in total) when two groups are compared. The STEAM courses have "
            f"{self.main[COURSES].n_treated} participants and Volare Alto has "
            f"{self.main[VOLARE].n_treated}.",
            "kind": "info",
        }

    # -- section 5: the simulated power of the estimator ----------------------------------------
    def simulation_design_view(self) -> dict[str, Any]:
        """The simulated designs (table)."""
        pilot = self.sims[0].design.pilot_pupils if self.sims else None
        return {
            "df": design_table(self.sims),
            "caption": "SIMULATED design of the power simulation. The outcome SD and its "
            f"year-to-year correlation are measured on a pilot panel of {pilot:,} simulated "
            "pupils without effects (never-participants observed in every year). Years are "
            "school years (2023 = 2023/24). Pilot panels from the random stream 'data', "
            f"simulations from the stream 'power' of seed {self.seed}.",
            "digits": 3,
        }

    def simulated_power_view(self) -> dict[str, Any]:
        """Simulated power per true effect, next to the analytic power (table)."""
        _, units = _SIM_OUTCOME_WORDS.get(self.sim_outcome, (self.sim_outcome, "its own units"))
        table = pd.concat([s.tidy() for s in self.sims], ignore_index=True)
        return {
            "df": table.drop(columns=["n_sims"]),
            "caption": "SIMULATED power of the staggered DiD (Callaway–Sant'Anna, never-treated "
            f"controls, simple aggregation) on simulated pupil panels, {self.n_sims} draws per "
            f"true effect, seed {self.seed} (stream 'power'). effect: true effect in SD of the "
            f"{self.sim_outcome} outcome (natural units: {units}). power: share of draws with "
            f"p < {self.alpha:g}, with its Monte Carlo standard error mc_se. analytic_power and "
            "analytic_se: closed form for this estimator. mean_se: mean estimated standard "
            "error. coverage: share of 95 % CIs containing the true effect; n_invalid: draws "
            "where the estimator failed. SIMULATED — NOT PROGRAMME RESULTS.",
            "digits": 3,
        }

    def simulated_power_figure_view(self) -> dict[str, Any]:
        """Simulated against analytic power (figure)."""
        name, _ = _SIM_OUTCOME_WORDS.get(self.sim_outcome, (self.sim_outcome, ""))
        return {
            "fig": simulated_power_figure(self.sims, target=self.power),
            "caption": "SIMULATED — rejection rate of the staggered DiD against the true effect "
            f"(SD of {name}), with ±1.96 Monte Carlo standard errors ({self.n_sims} draws per "
            "point), and the analytic power of the same estimator (dashed). Dotted line: "
            f"α = {self.alpha:g}; dashed grey line: target power {self.power:.0%}. Simulated "
            "pupil panels (analysis.data.simulate.programme_panel); not programme results.",
        }

    def simulated_mde_view(self) -> dict[str, Any]:
        """Simulated and analytic MDE, and the size, per design (table)."""
        return {
            "df": simulated_mde_table(self.sims),
            "caption": "SIMULATED: effect at which the simulated power curve reaches "
            f"{self.power:.0%} (linear interpolation between simulated effects; empty if not "
            "reached), against the analytic MDE of the same estimator, and the rejection rate "
            f"when the true effect is zero (should be close to α = {self.alpha:g}, within "
            "Monte Carlo error).",
            "digits": 3,
        }

    # -- section 6: detectability ---------------------------------------------------------------
    def detectability_view(self) -> dict[str, Any]:
        """MDE per outcome next to a literature benchmark (table)."""
        return {
            "df": self.detect,
            "caption": "Minimum detectable effect per outcome (SD units for continuous outcomes "
            f"with covariates R² = {self.r2:g}; percentage points for binary outcomes at the "
            f"base rate shown), {self._test}. Clustered: courses of {self.cluster_size:g} "
            f"pupils, ICC {self.icc:g}. Benchmarks: effects reported for comparable programmes "
            "(background note §3.2), in the same units; 'benchmark ≥ MDE courses' compares "
            "them with the unclustered MDE. Analytic.",
        }

    # -- the run's numbers ----------------------------------------------------------------------
    def _grade_mde(self, column: str) -> float:
        row = self.detect[self.detect["outcome"] == _GRADE_OUTCOME]
        return float(row[column].to_numpy()[0])

    def headline(self) -> dict[str, Any]:
        """The few numbers of the reports index."""
        course, volare = self.main[COURSES], self.main[VOLARE]
        two = int(self.sizes.iloc[0]["two groups 1:1 (per arm)"])
        return {
            f"MDE courses {course.comparison}, R² {self.r2:g} (SD)": self._grade_mde(
                f"MDE courses ({course.comparison})"
            ),
            f"MDE Volare Alto {volare.comparison}, R² {self.r2:g} (SD)": self._grade_mde(
                f"MDE Volare Alto ({volare.comparison})"
            ),
            f"pupils per arm for {self.sizes.iloc[0]['change']} (two groups)": two,
            "SIMULATED DiD MDE, courses (SD)": self.sims[0].simulated_mde(),
        }

    def results(self) -> dict[str, Any]:
        """Everything a replicator should compare (the results JSON)."""
        return {
            "comparisons": self.comps,
            "note_reproduction": self.repro,
            "continuous_mde": self.cont,
            "design_mde": self.des,
            "binary_mde": self.binary,
            "sample_sizes": self.sizes,
            "detectability": self.detect,
            "simulated_power": {s.design.label: s for s in self.sims},
            "simulated_mde": simulated_mde_table(self.sims),
            "recommendation": self.recommendation(),
        }
