"""Tables, figures and words of the design and power report (notebook 04), in every language.

The report answers one evaluation question (``design`` in ``config/questions.yaml``) for the
two beneficiary groups: *can the evaluation detect the effects it looks for, and at what
effect size?*  The group sizes are programme facts (``config/programme.yaml``,
:func:`analysis.facts.programme_facts`).  Every visible word is a message (:func:`analysis.i18n.t`,
labels marked with :func:`~analysis.i18n.N_`), rendered in Italian and English by
:mod:`analysis.display`; figures are drawn once per language (``lang=``).

Analytic part (no data)
    :func:`comparisons` lists the treated-vs-control sample sizes considered;
    :func:`continuous_mde_table`, :func:`design_mde_table`, :func:`binary_mde_table`,
    :func:`sample_size_table` and :func:`detectability_table` evaluate
    :func:`analysis.power.mde` / :func:`~analysis.power.sample_size` on them;
    :func:`note_reproduction` recomputes every number of the published power tables
    (docs/references.md §3.5) and compares it with the published value; :func:`power_curve_figure` and
    :func:`binary_mde_figure` draw them; :func:`recommendation` turns them into words.

Simulation part (SIMULATED pupil panels)
    The method is in :mod:`analysis.power` (:func:`~analysis.power.calibrate_design`,
    :func:`~analysis.power.simulate_did_power`, the analytic standard error
    :func:`~analysis.power.cs_simple_se`).  :func:`simulate_groups` runs it for the report's
    groups on the run's random streams (pilot panels from ``"data"``, simulations from
    ``"power"``: :func:`analysis.power.design_seeds`); :func:`design_table`,
    :func:`simulated_mde_table` and :func:`simulated_power_figure` show the results.  The
    sentences about them are built here from the results' numbers, never from the texts of
    :mod:`analysis.power` (which are English only).

The page
    :class:`DesignAnalysis` builds every table once from the notebook's parameters; its
    ``*_view`` methods return the arguments of ``display.show_table`` / ``show_figure`` /
    ``note`` (``{"df" | "fig": ..., "caption": ..., ...}``) with human, translatable headers,
    and :meth:`DesignAnalysis.summary` the answer-first box.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis import i18n
from analysis import power as P
from analysis.errors import fail
from analysis.facts import programme_facts
from analysis.i18n import N_, Text, integer, join, num, pct, pp, t, term, year

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

#: The two beneficiary groups (labels shown on the page: translated through the catalog).
COURSES = N_("STEAM courses")
VOLARE = N_("Volare Alto")

#: Literature benchmarks drawn on the figures (SD units): the median effect of education RCTs
#: (Kraft 2020) and the TOP tutoring RCT on academic performance (Italy).
MEDIAN_RCT_SD = 0.10
TOP_SD = 0.26
#: Reference rate marked on the binary figure (%): annual abandonment in upper secondary
#: school, about 3–4 % (MIUR 2016/17 → 2017/18: 3.82 %; docs/references.md §4.2).  The Puglia
#: ELET rate marked beside it is read from the Eurostat panel (:func:`puglia_elet_latest`), never
#: typed: levels quoted on a page come from the data.
ANNUAL_DROPOUT_PCT = 3.0


def puglia_elet_latest() -> tuple[float, int]:
    """The latest Puglia ELET rate (%, both sexes) and its year, from the Eurostat panel."""
    from analysis.data import panels

    df = panels.load("elet_regions")
    rows = df[(df["region_name"] == "Puglia") & (df["sex"] == "T")].dropna(subset=["value"])
    last = rows.sort_values("year").iloc[-1]
    return float(last["value"]), int(last["year"])


# --------------------------------------------------------------------------------------
# The published power tables (docs/references.md §3.5; alpha 0.05 two-sided, power 0.80)
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

#: "Required sample per arm" (arcsine approximation): (from, to, the published figure).
NOTE_SAMPLE_SIZES: tuple[tuple[float, float, int], ...] = (
    (0.211, 0.13, 167),
    (0.10, 0.05, 212),
    (0.05, 0.025, 441),
    (0.03, 0.015, 746),
)

#: Names of the reproduced tables (cells of the reproduction table, translated).
_REPRO_TABLES = (
    N_("continuous MDE (SD)"),
    N_("binary MDE (pp)"),
    N_("required sample (pupils)"),
)


# --------------------------------------------------------------------------------------
# Analytic tables (machine columns: the results JSON; the views give human headers)
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
        nearest unit (``comparison`` is an English key such as ``"180 vs 720"``).
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


#: Machine names of the four variants of :func:`continuous_mde_table`.
CONTINUOUS_VARIANTS = ("no_covariates", "covariates", "clustered", "clustered_covariates")


def continuous_mde_table(
    comps: pd.DataFrame,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    r2: float = 0.5,
    cluster_size: float = 20,
    icc: float = 0.10,
) -> pd.DataFrame:
    """MDE in SD units of a continuous outcome, the four variants of the published table.

    ``MDE = (z_{1-α/2} + z_power) · sqrt((1 − R²) · DEFF · (1/n_T + 1/n_C))`` with
    ``DEFF = 1 + (m − 1) ICC`` (post-period comparison of two groups, normal approximation).

    Returns
    -------
    pandas.DataFrame
        ``group, n_treated, n_control`` and the MDE of each of :data:`CONTINUOUS_VARIANTS`
        (no covariates; covariates ``r2``; clustered ``cluster_size``/``icc``; both), in SD.
    """
    variants = zip(
        CONTINUOUS_VARIANTS,
        ((0.0, 1, 0.0), (r2, 1, 0.0), (0.0, cluster_size, icc), (r2, cluster_size, icc)),
        strict=True,
    )
    variants = tuple(variants)
    rows = []
    for c in comps.itertuples():
        row: dict[str, Any] = {"group": c.group, "n_treated": c.n_treated, "n_control": c.n_control}
        for name, (rr, m, ic) in variants:
            row[name] = P.mde(
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
        ``group, n_treated, n_control, autocorr, post, did, ancova`` (MDEs in SD units).
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
                    "n_treated": c.n_treated,
                    "n_control": c.n_control,
                    "autocorr": float(rho),
                    "post": post,
                    "did": P.mde(design="did", **kw).value,
                    "ancova": P.mde(design="ancova", **kw).value,
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
    """MDE in percentage points of a binary outcome, per comparison and base rate.

    The published formula (``binary_method="variance"``): ``100 · M · sqrt(p0 (1 − p0)
    (1/n_T + 1/n_C))``.  ``fall_detectable`` is false where the MDE is at least the base
    rate: there the outcome cannot be shown to fall, even if the programme removed it.

    Returns
    -------
    pandas.DataFrame
        One row per comparison and base rate: ``group, n_treated, n_control, base_rate_pct,
        mde_pp, fall_detectable``.
    """
    rows = []
    for c in comps.itertuples():
        for p0 in base_rates:
            res = P.mde(
                n_treated=c.n_treated,
                n_control=c.n_control,
                outcome="binary",
                base_rate=float(p0),
                alpha=alpha,
                power=power,
            )
            rows.append(
                {
                    "group": c.group,
                    "n_treated": c.n_treated,
                    "n_control": c.n_control,
                    "base_rate_pct": 100 * float(p0),
                    "mde_pp": res.value,
                    "fall_detectable": not res.exceeds_base_rate,
                }
            )
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
    ``proportion_effectsize``). The published "required sample per arm" equals the
    **one-sample** figure ``((z_{1-α/2} + z_power)/h)²``: one group compared with a *known*
    rate (an official benchmark without sampling error). Comparing two groups needs twice as
    many per arm at 1:1, or ``(1 + 1/k)`` times as many treated with ``k`` controls each.

    Parameters
    ----------
    changes
        ``(p0, p1)`` pairs (proportions); the published four by default.
    control_ratio
        ``k`` controls per treated unit for the last two columns.

    Returns
    -------
    pandas.DataFrame
        ``from_pct, to_pct, arcsine_h, published, one_group, two_groups_per_arm,
        unequal_treated, unequal_controls`` (the last two with ``control_ratio`` controls per
        treated unit).
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
                "from_pct": 100 * float(p0),
                "to_pct": 100 * float(p1),
                "arcsine_h": round(h, 3),
                "published": note.get((p0, p1), math.nan),
                "one_group": one.n_treated,
                "two_groups_per_arm": two.n_treated,
                "unequal_treated": unequal.n_treated,
                "unequal_controls": unequal.n_control,
            }
        )
    return pd.DataFrame(rows)


def note_reproduction(*, tol_sd: float = 0.01, tol_pp: float = 0.1, tol_n: int = 2) -> pd.DataFrame:
    """Recompute every number of the published power tables (docs/references.md §3.5).

    At the published assumptions (two-sided α = 0.05, power 0.80, normal approximation).
    Sample sizes are compared as one group against a known rate (see
    :func:`sample_size_table`) and unrounded.

    Returns
    -------
    pandas.DataFrame
        ``table, row, column, note, computed, difference, tolerance, ok`` (``table`` is one of
        the translated table names; ``row``/``column`` are English keys for replicators).
    """
    t_cont, t_bin, t_n = _REPRO_TABLES
    rows = []
    for (n_t, n_c), vals in NOTE_CONTINUOUS.items():
        for (label, r2, m, icc), ref in zip(_NOTE_VARIANTS, vals, strict=True):
            v = P.mde(n_treated=n_t, n_control=n_c, r2=r2, cluster_size=m, icc=icc).value
            rows.append((t_cont, f"{n_t} vs {n_c}", label, ref, v, tol_sd))
    for p0, vals in NOTE_BINARY.items():
        for (n_t, n_c), ref in zip(_NOTE_BINARY_ARMS, vals, strict=True):
            v = P.mde(n_treated=n_t, n_control=n_c, outcome="binary", base_rate=p0).value
            rows.append((t_bin, f"base rate {100 * p0:g}%", f"{n_t} vs {n_c}", ref, v, tol_pp))
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
                t_n,
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


_GRADE_OUTCOME = N_("Grade average (1–10)")
_REPETITION_OUTCOME = N_("Grade repetition (base rate 10%)")
_DROPOUT_OUTCOME = N_("Dropout, enrolment not continued (annual, base rate 3%)")
#: Campbell review (Wilson et al. 2011): mean odds ratio of dropout programmes.
CAMPBELL_OR = 1.72


def _outcome_specs() -> tuple[_OutcomeSpec, ...]:
    campbell = 100 * (0.03 - _odds_ratio_rate(0.03, CAMPBELL_OR))
    return (
        _OutcomeSpec(
            N_("Absence rate (share of school hours)"),
            "continuous",
            None,
            True,
            None,
            N_(
                "Fuoriclasse: −11 days a year in lower secondary school (quasi-experimental); "
                "no conversion to SD available"
            ),
            N_("primary"),
        ),
        _OutcomeSpec(
            _GRADE_OUTCOME,
            "continuous",
            None,
            True,
            TOP_SD,
            N_(
                "TOP: +0.26 SD academic performance (RCT); median education RCT 0.10 SD "
                "(Kraft 2020)"
            ),
            N_("primary"),
        ),
        _OutcomeSpec(
            N_("INVALSI scale score"),
            "continuous",
            None,
            True,
            0.20,
            N_("TOP: mathematics +0.20 to +0.23 SD (RCT)"),
            N_("primary (tested in grades 8 and 10 only: smaller samples)"),
        ),
        _OutcomeSpec(
            _REPETITION_OUTCOME,
            "binary",
            0.10,
            False,
            5.0,
            N_("EOP: −5.0 pp for boys (RCT)"),
            N_("primary"),
        ),
        _OutcomeSpec(
            _DROPOUT_OUTCOME,
            "binary",
            0.03,
            False,
            campbell,
            N_("Campbell review (Wilson et al. 2011): mean odds ratio 1.72 applied to 3%"),
            N_("descriptive; verified pupil by pupil for SIINC"),
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
    without covariates (the published table). "Clustered" applies the design effect of
    courses of ``cluster_size`` pupils with intra-course correlation ``icc``.

    Returns
    -------
    pandas.DataFrame
        ``outcome, units, mde_courses, mde_courses_clustered, mde_volare, benchmark,
        benchmark_source, benchmark_detectable, role`` (``benchmark_detectable``: whether
        the benchmark is at least the unclustered courses' MDE; ``None`` without benchmark).
    """
    rows = []
    for s in _outcome_specs():
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
        rows.append(
            {
                "outcome": s.outcome,
                "units": N_("SD") if s.kind == "continuous" else N_("pp"),
                "mde_courses": ind,
                "mde_courses_clustered": clu,
                "mde_volare": vol,
                "benchmark": s.benchmark if s.benchmark is not None else math.nan,
                "benchmark_source": s.benchmark_text,
                "benchmark_detectable": None if s.benchmark is None else bool(s.benchmark >= ind),
                "role": s.role,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Figures: drawn once per language (``lang``), every word through the catalog
# --------------------------------------------------------------------------------------


def _comparison_label(group: str, n_t: int, n_c: int) -> i18n.Msg:
    return t(
        "{group}: {n_treated} vs {n_control}",
        group=term(group),
        n_treated=integer(n_t),
        n_control=integer(n_c),
    )


def power_curve_figure(
    comps: pd.DataFrame,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    r2: float = 0.5,
    max_effect: float = 1.0,
    lang: str = i18n.SOURCE_LANGUAGE,
) -> Figure:
    """Analytic power against the true effect (SD), without and with covariates.

    Two panels (no covariates; ``R² = r2``), one curve per comparison, the target power as
    a dashed line and two benchmarks as dotted verticals: the median education RCT
    (:data:`MEDIAN_RCT_SD`, Kraft 2020) and TOP (:data:`TOP_SD`).  Labelled in ``lang``.
    """
    import matplotlib.pyplot as plt

    tr = i18n.translator(lang)
    grid = np.linspace(0.0, max_effect, 101)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    panels = (
        (axes[0], 0.0, t("No covariates")),
        (axes[1], r2, t("Covariates explaining R² = {r2}", r2=num(r2, 2))),
    )
    for ax, rr, title in panels:
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
            ax.plot(grid, pw, style, label=tr(_comparison_label(c.group, c.n_treated, c.n_control)))
        ax.axhline(power, color="grey", linestyle="--", linewidth=1)
        for x, lab in ((MEDIAN_RCT_SD, tr(t("median education RCT"))), (TOP_SD, "TOP")):
            ax.axvline(x, color="grey", linestyle=":", linewidth=1)
            ax.text(x, 0.02, f" {lab}", rotation=90, fontsize=7, color="grey", va="bottom")
        ax.set_title(tr(title))
        ax.set_xlabel(tr(t("True effect (SD of the outcome)")))
        ax.set_ylim(0, 1.02)
        ax.xaxis.set_major_formatter(i18n.tick_formatter(lang, 1))
        ax.yaxis.set_major_formatter(i18n.tick_formatter(lang, 1))
    axes[0].set_ylabel(tr(t("Power (two-sided α = {alpha})", alpha=num(alpha, 2))))
    axes[1].legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def binary_mde_figure(
    comps: pd.DataFrame,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    max_rate: float = 0.25,
    lang: str = i18n.SOURCE_LANGUAGE,
) -> Figure:
    """MDE (pp) of a binary outcome against its base rate, with the line MDE = base rate.

    Below the line a fall of the MDE's size is possible; above it (rare outcomes) the outcome
    could not be shown to fall even if the programme removed it completely.  Labelled in
    ``lang``.
    """
    import matplotlib.pyplot as plt

    tr = i18n.translator(lang)
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
        ax.plot(
            100 * rates, m, style, label=tr(_comparison_label(c.group, c.n_treated, c.n_control))
        )
    ax.plot(
        100 * rates,
        100 * rates,
        color="black",
        linewidth=1.2,
        label=tr(t("MDE = base rate (a fall this large is impossible)")),
    )
    ax.fill_between(100 * rates, 100 * rates, ax.get_ylim()[1], color="grey", alpha=0.12)
    elet, elet_year = puglia_elet_latest()
    marks = (
        (ANNUAL_DROPOUT_PCT, t("annual dropout ≈ {rate}", rate=pct(ANNUAL_DROPOUT_PCT, 0))),
        (elet, t("ELET in Puglia, {year}: {rate}", year=year(elet_year), rate=pct(elet, 1))),
    )
    for x, lab in marks:
        ax.axvline(x, color="grey", linestyle=":", linewidth=1)
        ax.text(x, 0.5, f" {tr(lab)}", rotation=90, fontsize=7, color="grey", va="bottom")
    ax.set_xlabel(tr(t("Base rate in the comparison group (%)")))
    ax.set_ylabel(tr(t("Minimum detectable effect (percentage points)")))
    ax.set_xlim(0, 100 * max_rate)
    ax.set_ylim(0, None)
    ax.xaxis.set_major_formatter(i18n.tick_formatter(lang, 0))
    ax.yaxis.set_major_formatter(i18n.tick_formatter(lang, 0))
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


#: How the simulated outcomes read on the page: (name, natural units).
_SIM_OUTCOME_WORDS = {
    "grade_avg": (N_("the average grade"), N_("grade points")),
    "absence_rate": (N_("the absence rate"), N_("share of school hours")),
}


def _years_text(values: Sequence[int]) -> str:
    """Years listed as digits ("2022, 2023, 2024"): never grouped, the same in every language."""
    return ", ".join(str(int(v)) for v in values)


def design_table(simulations: Sequence[P.DiDPowerSimulation]) -> pd.DataFrame:
    """The simulated designs: sizes, outcome, years, editions, outcome SD and correlation."""
    return pd.DataFrame(
        [
            {
                "group": d.label,
                "participants": d.n_treated,
                "controls": d.n_control,
                "outcome": d.outcome,
                "years": _years_text(d.years),
                "editions": _years_text(d.cohorts),
                "outcome_sd": d.outcome_sd,
                "autocorr": d.autocorr,
                "analytic_se_sd": d.analytic_se(),
                "pupils_per_panel": d.n_pupils,
            }
            for d in (s.design for s in simulations)
        ]
    )


def simulated_mde_table(simulations: Sequence[P.DiDPowerSimulation]) -> pd.DataFrame:
    """Simulated against analytic MDE, and the rejection rate at a zero effect, per design.

    Built from the numbers of each result (``simulated_mde``, ``analytic_mde``, ``size``);
    ``simulated_mde_sd`` is NaN when no simulated effect reaches the target power.
    """
    return pd.DataFrame(
        [
            {
                "group": s.design.label,
                "n_treated": s.design.n_treated,
                "n_control": s.design.n_control,
                "simulated_mde_sd": s.simulated_mde(),
                "analytic_mde_sd": s.analytic_mde(),
                "size": s.size(),
            }
            for s in simulations
        ]
    )


def simulated_power_figure(
    results: Sequence[P.DiDPowerSimulation],
    *,
    target: float = 0.8,
    lang: str = i18n.SOURCE_LANGUAGE,
) -> Figure:
    """Simulated power (points, ±1.96 MC SE) and analytic power (lines) per design, in ``lang``.

    Drawn here rather than by :meth:`analysis.power.SimulatedPower.plot`, whose labels are
    English only.
    """
    import matplotlib.pyplot as plt

    tr = i18n.translator(lang)
    fig, ax = plt.subplots(figsize=(7, 4.3))
    for i, r in enumerate(results):
        tab = r.tidy().sort_values("effect")
        colour = f"C{i}"
        name = _comparison_label(r.design.label, r.design.n_treated, r.design.n_control)
        ax.errorbar(
            tab["effect"],
            tab["power"],
            yerr=1.96 * tab["mc_se"],
            fmt="o",
            capsize=3,
            color=colour,
            label=tr(t("{comparison}: simulated", comparison=name)),
        )
        grid = np.linspace(0, max(float(tab["effect"].max()), 0.01), 100)
        ax.plot(
            grid,
            [r.design.analytic_power(float(e), alpha=r.sim.alpha) for e in grid],
            color=colour,
            linestyle="--",
            linewidth=1,
            label=tr(t("{comparison}: analytic", comparison=name)),
        )
    if results:
        ax.axhline(
            results[0].sim.alpha,
            color="grey",
            linestyle=":",
            linewidth=1,
            label=tr(t("α = {alpha}", alpha=num(results[0].sim.alpha, 2))),
        )
    ax.axhline(target, color="grey", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_formatter(i18n.tick_formatter(lang, 2))
    ax.yaxis.set_major_formatter(i18n.tick_formatter(lang, 1))
    ax.set_xlabel(tr(t("True effect (SD of the outcome)")))
    ax.set_ylabel(tr(t("Rejection rate")))
    ax.set_title(tr(t("SIMULATED — power of the staggered DiD (Callaway–Sant'Anna)")))
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# Words, built from the numbers
# --------------------------------------------------------------------------------------


def _reach(benchmark: float, individual: float, clustered: float) -> str:
    if benchmark >= clustered:
        return N_("detectable even if outcomes are correlated within courses")
    if benchmark >= individual:
        return N_("detectable only if outcomes are not correlated within courses (at the edge)")
    return N_("not detectable")


def _test_words(alpha: float, power: float) -> i18n.Msg:
    return t("two-sided α = {alpha}, power {power}", alpha=num(alpha, 2), power=pct(100 * power, 0))


def _sd(x: float) -> i18n.Formatted:
    return num(x, 2)


def _row(detect: pd.DataFrame, outcome: str) -> pd.Series:
    return detect.loc[detect["outcome"] == outcome].iloc[0]


def _simulated_mde_words(r: P.DiDPowerSimulation) -> i18n.Msg:
    """One sentence per simulated design: where it reaches the target power, and its size."""
    name = _comparison_label(r.design.label, r.design.n_treated, r.design.n_control)
    m, size = r.simulated_mde(), r.size()
    if math.isfinite(m):
        return t(
            "{comparison}: {mde} SD (analytic {analytic} SD); rejection rate with no effect {size}.",
            comparison=name,
            mde=_sd(m),
            analytic=_sd(r.analytic_mde()),
            size=num(size, 2),
        )
    return t(
        "{comparison}: more than the largest effect simulated, {largest} SD (analytic {analytic} "
        "SD); rejection rate with no effect {size}.",
        comparison=name,
        largest=_sd(float(r.sim.tidy()["effect"].max())),
        analytic=_sd(r.analytic_mde()),
        size=num(size, 2),
    )


def recommendation(
    *,
    detect: pd.DataFrame,
    sample_sizes: pd.DataFrame,
    courses: tuple[int, int],
    volare: tuple[int, int],
    simulations: Sequence[P.DiDPowerSimulation] = (),
    alpha: float = 0.05,
    power: float = 0.8,
) -> i18n.Concat:
    """The report's closing recommendation (Markdown, every language), from its own numbers.

    Parameters
    ----------
    detect
        :func:`detectability_table`.
    sample_sizes
        :func:`sample_size_table` (its first row is quoted as the Campbell-size fall).
    courses, volare
        ``(participants, comparison pupils)`` of the main comparison of each group (the sizes
        ``detect`` was computed for).
    simulations
        :func:`analysis.power.simulate_did_power` results (SIMULATED), quoted if given.
    alpha, power
        The test's level and the target power used for the tables.
    """
    grade, rep, drop = (
        _row(detect, o) for o in (_GRADE_OUTCOME, _REPETITION_OUTCOME, _DROPOUT_OUTCOME)
    )
    ind, clu = "mde_courses", "mde_courses_clustered"
    s = sample_sizes.iloc[0]
    items: list[Any] = [
        t(
            "**What the design can detect** ({test}).",
            test=_test_words(alpha, power),
        ),
        "",
        t(
            "1. **Primary outcomes: absence rate, grade repetition, grades and INVALSI scores.** "
            "For the STEAM courses ({n_t} participants against {n_c} comparison pupils) a "
            "continuous outcome with the prior-year value as covariate has an MDE of {mde} SD "
            "({mde_clu} SD if outcomes are correlated within courses). TOP-type effects "
            "(0.20–0.26 SD) are {top}; the median effect of education RCTs (0.10 SD) is "
            "{median}. Grade repetition at a 10% base rate has an MDE of {rep}; an EOP-size "
            "fall (−5 pp) is {eop}.",
            n_t=integer(courses[0]),
            n_c=integer(courses[1]),
            mde=_sd(grade[ind]),
            mde_clu=_sd(grade[clu]),
            top=term(_reach(0.20, grade[ind], grade[clu])),
            median=term(_reach(MEDIAN_RCT_SD, grade[ind], grade[clu])),
            rep=pp(rep[ind], 1, sign=False),
            eop=term(_reach(5.0, rep[ind], rep[clu])),
        ),
        t(
            "2. **Dropout and enrolment continuation: report them descriptively and verify them "
            "pupil by pupil (for SIINC); do not test them for impact.** At a 3% annual rate the "
            "MDE is {mde}, {relation} A fall from {p0} to {p1} (the mean effect of the Campbell "
            "review) needs {two} pupils per arm when two groups are compared; the published "
            "{published} is the figure for one group against a fixed benchmark rate.",
            mde=pp(drop[ind], 1, sign=False),
            relation=t("larger than the rate itself.")
            if drop[ind] >= 3.0
            else t("close to the rate."),
            p0=pct(s["from_pct"], 1),
            p1=pct(s["to_pct"], 0),
            two=integer(s["two_groups_per_arm"]),
            published=integer(s["published"]) if pd.notna(s["published"]) else t("figure"),
        ),
        t(
            "3. **Volare Alto ({n_t} youths against {n_c}): a feasibility or pilot evaluation.** "
            "The MDE is {mde} SD for a continuous outcome even with a strong covariate, and "
            "{drop} for a 3% rate: {reach} Report participation, dosage, completion and verified "
            "outcomes with confidence intervals, not a test of impact.",
            n_t=integer(volare[0]),
            n_c=integer(volare[1]),
            mde=_sd(grade["mde_volare"]),
            drop=pp(drop["mde_volare"], 1, sign=False),
            reach=t(
                "only effects larger than those reported for comparable programmes could be seen."
            )
            if grade["mde_volare"] > grade["benchmark"]
            else t("effects of the size reported for comparable programmes could be seen."),
        ),
    ]
    n = 4
    if simulations:
        parts: list[Any] = [
            t(
                "{n}. **The estimator itself (SIMULATED panels).** True effect at which the "
                "staggered DiD reaches {power} power, by group:",
                n=n,
                power=pct(100 * power, 0),
            ),
            *(_simulated_mde_words(r) for r in simulations),
            t(
                "With no effect the rejection rate should be close to α = {alpha}.",
                alpha=num(alpha, 2),
            ),
        ]
        parts.append(
            t(
                "The simulator has no course- or school-level shocks, so real MDEs are at least "
                "this large."
            )
        )
        items.append(join(parts, " "))
        n += 1
    items.append(
        t(
            "{n}. **Pre-register** the primary outcomes above and keep them few. State these MDEs "
            "in every impact report, and report confidence intervals, not only whether an effect "
            "is statistically distinguishable from zero. On these samples an effect that is not "
            "distinguishable from zero is not evidence that the programme had no effect.",
            n=n,
        )
    )
    return join(items, "\n")


def reproduction_summary(repro: pd.DataFrame) -> pd.DataFrame:
    """Condense :func:`note_reproduction` to one row per published table.

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


def _human(df: pd.DataFrame, headers: Mapping[str, str]) -> pd.DataFrame:
    """The columns of ``headers`` (machine name → human header, a catalog id), renamed."""
    return df[list(headers)].rename(columns=dict(headers))


_SIZES = {"n_treated": N_("Participants"), "n_control": N_("Comparison pupils")}
_GROUP = {"group": N_("Group")}

_SIM_OUTCOME_LABEL = {
    "grade_avg": _GRADE_OUTCOME,
    "absence_rate": N_("Absence rate (share of school hours)"),
}


# --------------------------------------------------------------------------------------
# The page: every table once, with its caption
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DesignAnalysis:
    """The design report's numbers, built once from the notebook's parameters.

    Build it with :meth:`build`.  The ``*_view`` methods return the keyword arguments of
    ``display.show_table`` (``df, caption, digits, collapsed``), ``display.show_figure``
    (``fig`` — a function of the language — and ``caption``) or ``display.note`` (``text,
    kind``); :meth:`summary` those of ``display.summary_box``.

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
        """Compute every table of the report (the simulation takes most of the time).

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
        if sim_outcome not in _SIM_OUTCOME_LABEL:
            raise fail(
                _SRC,
                f"must be one of {sorted(_SIM_OUTCOME_LABEL)}, got {sim_outcome!r}",
                column="sim_outcome",
            )
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
    def _test(self) -> i18n.Msg:
        return _test_words(self.alpha, self.power)

    def _grade(self) -> pd.Series:
        return _row(self.detect, _GRADE_OUTCOME)

    def _dropout(self) -> pd.Series:
        return _row(self.detect, _DROPOUT_OUTCOME)

    def groups_text(self) -> i18n.Msg:
        """Who the two beneficiary groups are (Markdown), from the programme facts."""
        f = programme_facts()
        c, d = f.courses, f.day_centre
        return t(
            "**The two groups.** {course_name}: **{pupils} pupils** in {courses} STEAM courses "
            "({courses} × {per_course} pupils, {first}–{last}). {centre_name}: **{youths} youths** "
            "aged {age_min}–{age_max} at the Volare Alto day centre, alongside {organisations} "
            "local organisations. Source: config/programme.yaml.",
            course_name=c.name,
            pupils=integer(c.pupils),
            courses=integer(c.courses),
            per_course=integer(c.pupils_per_course),
            first=year(c.first_year),
            last=year(c.last_year),
            centre_name=d.name,
            youths=integer(d.youths),
            age_min=integer(d.age_min),
            age_max=integer(d.age_max),
            organisations=integer(d.organisations),
        )

    def recommendation(self) -> i18n.Concat:
        """The closing recommendation (Markdown), see :func:`recommendation`."""
        c, v = self.main[COURSES], self.main[VOLARE]
        return recommendation(
            detect=self.detect,
            sample_sizes=self.sizes,
            courses=(c.n_treated, c.n_control),
            volare=(v.n_treated, v.n_control),
            simulations=self.sims,
            alpha=self.alpha,
            power=self.power,
        )

    def summary(self) -> dict[str, Text]:
        """The answer-first box (``display.summary_box`` arguments), from the run's numbers."""
        c, v = self.main[COURSES], self.main[VOLARE]
        grade, drop = self._grade(), self._dropout()
        answer = t(
            "For the STEAM courses ({n_t} participants against {n_c} "
            "comparison pupils) the smallest true effect detectable with {power} power is "
            "{mde} standard deviations (SD) on a continuous outcome such as the grade "
            "average, with the prior-year value as covariate ({mde_clu} SD if outcomes are "
            "correlated within courses), and {drop} on an annual dropout rate of {base}. "
            "For Volare Alto ({v_t} youths against {v_c}) it is {v_mde} SD and {v_drop}.",
            n_t=integer(c.n_treated),
            n_c=integer(c.n_control),
            power=pct(100 * self.power, 0),
            mde=_sd(grade["mde_courses"]),
            mde_clu=_sd(grade["mde_courses_clustered"]),
            drop=pp(drop["mde_courses"], 1, sign=False),
            base=pct(ANNUAL_DROPOUT_PCT, 0),
            v_t=integer(v.n_treated),
            v_c=integer(v.n_control),
            v_mde=_sd(grade["mde_volare"]),
            v_drop=pp(drop["mde_volare"], 1, sign=False),
        )
        if drop["mde_courses"] >= ANNUAL_DROPOUT_PCT:
            cannot = t(
                "A fall in annual dropout cannot be shown even if the programme removed it entirely."
            )
            answer = join([answer, cannot], " ")
        return {
            "question": t("Can the evaluation detect the effects it looks for?"),
            "answer": answer,
            "certainty": self._certainty(),
            "would_change": self._would_change(),
            "not_this": t(
                "Not a result of the programme. These are properties of the design, computed from "
                "the planned sample sizes (analytic) and from SIMULATED pupil panels with a known "
                "true effect (section 4); they say nothing about whether the courses or the day "
                "centre worked."
            ),
        }

    def _certainty(self) -> i18n.Concat:
        r = self.repro
        parts: list[Any] = [
            t(
                "The formulas reproduce {ok} of the {n} numbers of the published power tables.",
                ok=integer(int(r["ok"].sum())),
                n=integer(len(r)),
            )
        ]
        if self.sims:
            s = self.sims[0]
            m, a = s.simulated_mde(), s.analytic_mde()
            if math.isfinite(m):
                parts.append(
                    t(
                        "On SIMULATED pupil panels the staggered difference-in-differences "
                        "reaches {power} power for the STEAM courses at {sim} SD, against {ana} SD "
                        "from its closed-form variance ({n_sims} draws per effect).",
                        power=pct(100 * self.power, 0),
                        sim=_sd(m),
                        ana=_sd(a),
                        n_sims=integer(self.n_sims),
                    )
                )
            else:
                parts.append(
                    t(
                        "On SIMULATED pupil panels the staggered difference-in-differences does not "
                        "reach {power} power within the effects simulated (up to {largest} SD; "
                        "closed form: {ana} SD, {n_sims} draws per effect).",
                        power=pct(100 * self.power, 0),
                        largest=_sd(float(s.sim.tidy()["effect"].max())),
                        ana=_sd(a),
                        n_sims=integer(self.n_sims),
                    )
                )
            size = s.size()
            if math.isfinite(size):
                mc = 1.96 * math.sqrt(self.alpha * (1 - self.alpha) / self.n_sims)
                within = abs(size - self.alpha) <= mc
                parts.append(self._size_words(size, within))
        f = programme_facts()
        parts.append(
            t(
                "Assumptions: covariates explain R² = {r2} of the outcome variance; outcomes are "
                "correlated within courses of {m} pupils with ICC = {icc}, with {clusters} courses "
                "as clusters; a year-to-year correlation of {rho} for the simulated outcome. With so few "
                "clusters, clustered standard errors are imprecise.",
                r2=num(self.r2, 2),
                m=integer(self.cluster_size),
                icc=num(self.icc, 2),
                clusters=integer(f.courses.courses),
                rho=num(self.sims[0].design.autocorr, 2) if self.sims else num(math.nan),
            )
        )
        return join(parts, " ")

    def _size_words(self, size: float, within: bool) -> i18n.Msg:
        if within:
            return t(
                "With no effect it rejects in {size} of the draws (nominal {alpha}), within Monte "
                "Carlo error.",
                size=pct(100 * size, 1),
                alpha=pct(100 * self.alpha, 0),
            )
        return t(
            "With no effect it rejects in {size} of the draws (nominal {alpha}), outside Monte "
            "Carlo error.",
            size=pct(100 * size, 1),
            alpha=pct(100 * self.alpha, 0),
        )

    def _would_change(self) -> i18n.Msg:
        c = self.main[COURSES]
        doubled = P.mde(
            n_treated=2 * c.n_treated,
            n_control=2 * c.n_control,
            alpha=self.alpha,
            power=self.power,
            r2=self.r2,
        ).value
        icc2 = 2 * self.icc
        clustered2 = P.mde(
            n_treated=c.n_treated,
            n_control=c.n_control,
            alpha=self.alpha,
            power=self.power,
            r2=self.r2,
            cluster_size=self.cluster_size,
            icc=icc2,
        ).value
        return t(
            "More pupils: with twice as many participants and comparison pupils the STEAM-course "
            "MDE would fall from {mde} SD to {doubled} SD (it shrinks with the square root of the "
            "sample). A stronger correlation within courses raises it: at ICC = {icc2} the "
            "clustered MDE would be {clustered2} SD instead of {clustered} SD. Shocks shared by a "
            "course or a school in a given year, which the simulator does not have, would also "
            "raise it.",
            mde=_sd(self._grade()["mde_courses"]),
            doubled=_sd(doubled),
            icc2=num(icc2, 2),
            clustered2=_sd(clustered2),
            clustered=_sd(self._grade()["mde_courses_clustered"]),
        )

    def headline_text(self) -> i18n.Msg:
        """The headline the index shows: the two groups' MDEs on a continuous outcome."""
        grade = self._grade()
        return t(
            "MDE {courses} SD (STEAM courses), {volare} SD (Volare Alto)",
            courses=_sd(grade["mde_courses"]),
            volare=_sd(grade["mde_volare"]),
        )

    # -- tables and figures -------------------------------------------------------------------
    def comparisons_view(self) -> dict[str, Any]:
        """The comparisons considered (table, annex)."""
        f = programme_facts()
        df = _human(
            self.comps,
            {**_GROUP, **_SIZES, "control_ratio": N_("Comparison pupils per participant")},
        )
        return {
            "df": df,
            "caption": t(
                "Comparisons considered: participants against comparison pupils drawn from the "
                "same schools, for several numbers of comparison pupils per participant. Group "
                "sizes are programme facts ({courses} courses × {per_course} pupils; {youths} "
                "Volare Alto youths; config/programme.yaml).",
                courses=integer(f.courses.courses),
                per_course=integer(f.courses.pupils_per_course),
                youths=integer(f.day_centre.youths),
            ),
            "digits": 1,
            "collapsed": True,
        }

    def reproduction_view(self) -> dict[str, Any]:
        """How many numbers of the published power tables are reproduced (table, annex)."""
        df = _human(
            reproduction_summary(self.repro),
            {
                "table": N_("Published table"),
                "numbers": N_("Numbers"),
                "within_tolerance": N_("Reproduced within tolerance"),
                "max_abs_difference": N_("Largest absolute difference"),
                "tolerance": N_("Tolerance"),
            },
        )
        return {
            "df": df,
            "caption": t(
                "The published power tables (docs/references.md §3.5) against this code: how many "
                "published numbers are reproduced within the tolerance (continuous MDE in SD, "
                "binary MDE in percentage points, required sample in pupils; the published tables "
                "round to 0.01 SD, 0.1 pp and whole pupils). Method: analysis.power."
            ),
            "digits": 3,
            "collapsed": True,
        }

    def reproduction_note(self) -> dict[str, Any]:
        """Whether every published number is reproduced (note)."""
        r = self.repro
        if r["ok"].all():
            return {
                "text": t(
                    "All {n} numbers of the published power tables are reproduced within rounding.",
                    n=integer(len(r)),
                ),
                "kind": "info",
            }
        worst = r.assign(a=r["difference"].abs()).sort_values("a").iloc[-1]
        return {
            "text": t(
                "{bad} of the {n} published numbers are not reproduced within rounding; the "
                "largest difference is {diff} (table: {table}).",
                bad=integer(int((~r["ok"]).sum())),
                n=integer(len(r)),
                diff=num(worst["difference"], 3, sign=True),
                table=term(worst["table"]),
            ),
            "kind": "warning",
        }

    def continuous_view(self) -> dict[str, Any]:
        """MDE of a continuous outcome, four variants (table)."""
        df = _human(
            self.cont,
            {
                **_GROUP,
                **_SIZES,
                "no_covariates": N_("No covariates"),
                "covariates": N_("With covariates"),
                "clustered": N_("Clustered"),
                "clustered_covariates": N_("Clustered, with covariates"),
            },
        )
        return {
            "df": df,
            "caption": t(
                "Minimum detectable effect (SD units) of a continuous outcome, {test}, normal "
                "approximation. With covariates: R² = {r2}; clustered: courses of {m} pupils "
                "with intra-class correlation ICC = {icc}. Analytic (no data). Method: "
                "analysis.power.mde.",
                test=self._test,
                r2=num(self.r2, 2),
                m=integer(self.cluster_size),
                icc=num(self.icc, 2),
            ),
        }

    def design_view(self) -> dict[str, Any]:
        """MDE of the post-period comparison, DiD and ANCOVA (table)."""
        df = _human(
            self.des,
            {
                **_GROUP,
                **_SIZES,
                "autocorr": N_("Year-to-year correlation ρ"),
                "post": N_("Post-programme comparison"),
                "did": N_("DiD (1 pre-year, 1 post-year)"),
                "ancova": N_("ANCOVA (1 pre-year, 1 post-year)"),
            },
        )
        return {
            "df": df,
            "caption": t(
                "MDE (SD units) by design with one pre-programme and one post-programme year, for "
                "the year-to-year correlations ρ of the outcome shown (assumed: no register data "
                "on ρ yet); {test}. Analytic. Method: McKenzie (2012); analysis.power.mde.",
                test=self._test,
            ),
        }

    def power_curve_view(self) -> dict[str, Any]:
        """Analytic power curves (figure, per language)."""
        fig: Callable[[str], Figure] = lambda lang: power_curve_figure(  # noqa: E731
            self.comps, alpha=self.alpha, power=self.power, r2=self.r2, lang=lang
        )
        return {
            "fig": fig,
            "caption": t(
                "Analytic power against the true effect in SD units, for each comparison, "
                "without covariates (left) and with covariates explaining R² = {r2} of the "
                "outcome variance (right). Dashed horizontal line: target power {power}. Dotted "
                "lines: median effect of education RCTs ({median} SD, Kraft 2020) and the TOP "
                "tutoring RCT ({top} SD). Analytic, no data.",
                r2=num(self.r2, 2),
                power=pct(100 * self.power, 0),
                median=num(MEDIAN_RCT_SD, 2),
                top=num(TOP_SD, 2),
            ),
        }

    def binary_view(self) -> dict[str, Any]:
        """MDE of a binary outcome by comparison and base rate (table)."""
        df = _human(
            self.binary,
            {
                **_GROUP,
                **_SIZES,
                "base_rate_pct": N_("Base rate (%)"),
                "mde_pp": N_("MDE (pp)"),
                "fall_detectable": N_("A fall of this size can be shown"),
            },
        )
        return {
            "df": df,
            "caption": t(
                "Minimum detectable effect (percentage points) of a binary outcome by comparison "
                "and base rate, {test}, variance p₀(1−p₀) in both groups, no covariates, no "
                "clustering. Last column: “No” where the MDE is at least the base rate, so the "
                "outcome could not be shown to fall. Analytic. Method: analysis.power.mde.",
                test=self._test,
            ),
            "digits": 1,
        }

    def binary_figure_view(self) -> dict[str, Any]:
        """MDE of a binary outcome against its base rate (figure, per language)."""
        above = sum(
            P.mde(
                n_treated=c.n_treated,
                n_control=c.n_control,
                outcome="binary",
                base_rate=ANNUAL_DROPOUT_PCT / 100,
                alpha=self.alpha,
                power=self.power,
            ).exceeds_base_rate
            for c in self.comps.itertuples()
        )
        n = len(self.comps)
        where = (
            t(
                "Annual dropout (≈ {rate}) lies there for every comparison.",
                rate=pct(ANNUAL_DROPOUT_PCT, 0),
            )
            if above == n
            else t(
                "Annual dropout (≈ {rate}) lies there for {k} of the {n} comparisons.",
                rate=pct(ANNUAL_DROPOUT_PCT, 0),
                k=integer(above),
                n=integer(n),
            )
        )
        fig: Callable[[str], Figure] = lambda lang: binary_mde_figure(  # noqa: E731
            self.comps, alpha=self.alpha, power=self.power, lang=lang
        )
        return {
            "fig": fig,
            "caption": join(
                [
                    t(
                        "MDE of a binary outcome (percentage points) against its base rate, for "
                        "each comparison ({test}). In the shaded area above the black line the MDE "
                        "exceeds the base rate, so a fall of that size is impossible. Analytic, "
                        "no data.",
                        test=self._test,
                    ),
                    where,
                ],
                " ",
            ),
        }

    def sample_size_view(self) -> dict[str, Any]:
        """Units needed to detect a fall in a rate (table)."""
        k = self.main[COURSES].control_ratio
        df = _human(
            self.sizes.assign(published=self.sizes["published"].astype("Int64")),
            {
                "from_pct": N_("Rate without the programme (%)"),
                "to_pct": N_("Rate with the programme (%)"),
                "published": N_("Published figure"),
                "one_group": N_("One group vs a known rate"),
                "two_groups_per_arm": N_("Two groups 1:1 (per arm)"),
                "unequal_treated": N_("Two groups: participants"),
                "unequal_controls": N_("Two groups: comparison pupils"),
            },
        )
        return {
            "df": df,
            "caption": t(
                "Pupils needed to detect a fall in a rate with power {power} at two-sided "
                "α = {alpha} (arcsine approximation, Cohen's h). “One group vs a known rate” "
                "reproduces the published “per arm” figures. “Two groups 1:1” is the number per "
                "arm when participants are compared with an equal-sized comparison group. The "
                "last two columns give participants and comparison pupils with {k} comparison "
                "pupils per participant. Analytic.",
                power=pct(100 * self.power, 0),
                alpha=num(self.alpha, 2),
                k=num(k, 1),
            ),
            "digits": 1,
        }

    def sample_size_note(self) -> dict[str, Any]:
        """The first change in words: one group against a benchmark vs two groups (note)."""
        s = self.sizes.iloc[0]
        two = int(s["two_groups_per_arm"])
        return {
            "text": t(
                "For a fall from {p0} to {p1}: {one} pupils if one group is compared with a fixed "
                "benchmark rate (the published figure), but {two} per arm ({total} in total) when "
                "two groups are compared. The STEAM courses have {n_courses} participants and "
                "Volare Alto has {n_volare}.",
                p0=pct(s["from_pct"], 1),
                p1=pct(s["to_pct"], 0),
                one=integer(s["one_group"]),
                two=integer(two),
                total=integer(2 * two),
                n_courses=integer(self.main[COURSES].n_treated),
                n_volare=integer(self.main[VOLARE].n_treated),
            ),
            "kind": "info",
        }

    # -- section 4: the simulated power of the estimator ----------------------------------------
    def simulation_design_view(self) -> dict[str, Any]:
        """The simulated designs (table, annex)."""
        pilot = self.sims[0].design.pilot_pupils if self.sims else None
        table = design_table(self.sims)
        table["outcome"] = table["outcome"].map(_SIM_OUTCOME_LABEL)
        df = _human(
            table,
            {
                **_GROUP,
                "participants": N_("Participants"),
                "controls": N_("Comparison pupils"),
                "outcome": N_("Outcome"),
                "years": N_("Panel years"),
                "editions": N_("Editions (first year)"),
                "outcome_sd": N_("1 SD in outcome units"),
                "autocorr": N_("Year-to-year correlation"),
                "analytic_se_sd": N_("Analytic SE (SD)"),
                "pupils_per_panel": N_("Pupils drawn per panel"),
            },
        )
        return {
            "df": df,
            "caption": t(
                "SIMULATED design of the power simulation. The outcome SD and its year-to-year "
                "correlation are measured on a pilot panel of {pilot} simulated pupils without "
                "effects (never-participants observed in every year). Years are school years "
                "(2023 = 2023/24). Pilot panels from the random stream “data”, simulations from "
                "the stream “power” of seed {seed}.",
                pilot=integer(pilot),
                seed=str(self.seed),
            ),
            "digits": 3,
            "collapsed": True,
        }

    def simulated_power_view(self) -> dict[str, Any]:
        """Simulated power per true effect, next to the analytic power (table)."""
        name, units = _SIM_OUTCOME_WORDS[self.sim_outcome]
        table = pd.concat([s.tidy() for s in self.sims], ignore_index=True)
        df = _human(
            table,
            {
                **_GROUP,
                "effect": N_("True effect (SD)"),
                "effect (natural units)": N_("True effect (outcome units)"),
                "power": N_("Simulated power"),
                "mc_se": N_("Monte Carlo SE"),
                "analytic_power": N_("Analytic power"),
                "mean_se": N_("Mean estimated SE"),
                "analytic_se": N_("Analytic SE"),
                "bias": N_("Bias"),
                "coverage": N_("Coverage of 95% intervals"),
                "n_invalid": N_("Failed draws"),
            },
        )
        return {
            "df": df,
            "caption": t(
                "SIMULATED power of the staggered DiD (Callaway–Sant'Anna, never-participants as "
                "controls, simple aggregation) on simulated pupil panels, {n_sims} draws per true "
                "effect, seed {seed} (stream “power”). True effect in SD of {outcome} (outcome "
                "units: {units}). Simulated power: share of draws with p < {alpha}, with its Monte "
                "Carlo standard error. Analytic power and SE: closed form for this estimator. "
                "Coverage: share of 95% confidence intervals containing the true effect; failed "
                "draws: draws where the estimator failed. SIMULATED — NOT PROGRAMME RESULTS.",
                n_sims=integer(self.n_sims),
                seed=str(self.seed),
                outcome=term(name),
                units=term(units),
                alpha=num(self.alpha, 2),
            ),
            "digits": 3,
        }

    def simulated_power_figure_view(self) -> dict[str, Any]:
        """Simulated against analytic power (figure, per language)."""
        name, _ = _SIM_OUTCOME_WORDS[self.sim_outcome]
        fig: Callable[[str], Figure] = lambda lang: simulated_power_figure(  # noqa: E731
            self.sims, target=self.power, lang=lang
        )
        return {
            "fig": fig,
            "caption": t(
                "SIMULATED — rejection rate of the staggered DiD against the true effect (SD of "
                "{outcome}), with ±1.96 Monte Carlo standard errors ({n_sims} draws per point), "
                "and the analytic power of the same estimator (dashed). Dotted line: α = {alpha}; "
                "dashed grey line: target power {power}. Simulated pupil panels "
                "(analysis.data.simulate.programme_panel); not programme results.",
                outcome=term(name),
                n_sims=integer(self.n_sims),
                alpha=num(self.alpha, 2),
                power=pct(100 * self.power, 0),
            ),
        }

    def simulated_mde_view(self) -> dict[str, Any]:
        """Simulated and analytic MDE, and the size, per design (table)."""
        df = _human(
            simulated_mde_table(self.sims),
            {
                **_GROUP,
                **_SIZES,
                "simulated_mde_sd": N_("Simulated MDE (SD)"),
                "analytic_mde_sd": N_("Analytic MDE (SD)"),
                "size": N_("Rejection rate at zero effect"),
            },
        )
        return {
            "df": df,
            "caption": t(
                "SIMULATED: effect at which the simulated power curve reaches {power} (linear "
                "interpolation between simulated effects; a dash if not reached), against the "
                "analytic MDE of the same estimator, and the rejection rate when the true effect "
                "is zero (it should be close to α = {alpha}, within Monte Carlo error).",
                power=pct(100 * self.power, 0),
                alpha=num(self.alpha, 2),
            ),
            "digits": 3,
        }

    # -- section 5: detectability ---------------------------------------------------------------
    def detectability_view(self) -> dict[str, Any]:
        """MDE per outcome next to a literature benchmark (table)."""
        c, v = self.main[COURSES], self.main[VOLARE]
        df = _human(
            self.detect,
            {
                "outcome": N_("Outcome"),
                "units": N_("Units"),
                "mde_courses": N_("MDE, STEAM courses"),
                "mde_courses_clustered": N_("MDE, STEAM courses, clustered"),
                "mde_volare": N_("MDE, Volare Alto"),
                "benchmark": N_("Benchmark effect"),
                "benchmark_source": N_("Benchmark source"),
                "benchmark_detectable": N_("Benchmark ≥ MDE (courses)"),
                "role": N_("Role"),
            },
        )
        return {
            "df": df,
            "caption": t(
                "Minimum detectable effect per outcome (SD units for continuous outcomes, with "
                "covariates R² = {r2}; percentage points for binary outcomes at the base rate "
                "shown), {test}: STEAM courses {n_t} participants against {n_c} comparison "
                "pupils, Volare Alto {v_t} against {v_c}. Clustered: courses of {m} pupils, "
                "ICC = {icc}. Benchmarks: effects reported for comparable programmes, in the same "
                "units; the column “Benchmark ≥ MDE” compares them with the unclustered MDE of the "
                "courses. Analytic.",
                r2=num(self.r2, 2),
                test=self._test,
                n_t=integer(c.n_treated),
                n_c=integer(c.n_control),
                v_t=integer(v.n_treated),
                v_c=integer(v.n_control),
                m=integer(self.cluster_size),
                icc=num(self.icc, 2),
            ),
        }

    # -- the run's numbers ----------------------------------------------------------------------
    def headline(self) -> dict[str, Any]:
        """The few numbers of the reports index (compared by ``analysis verify``)."""
        course, volare = self.main[COURSES], self.main[VOLARE]
        grade = self._grade()
        s = self.sizes.iloc[0]
        change = f"{s['from_pct']:g} % → {s['to_pct']:g} %"
        return {
            f"MDE courses {course.comparison}, R² {self.r2:g} (SD)": float(grade["mde_courses"]),
            f"MDE Volare Alto {volare.comparison}, R² {self.r2:g} (SD)": float(grade["mde_volare"]),
            f"pupils per arm for {change} (two groups)": int(s["two_groups_per_arm"]),
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
            "recommendation": str(self.recommendation()),
        }
