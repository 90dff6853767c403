"""Dropout report (notebook ``07_dropout``): tables, figures and words.

The page answers one question: *did taking part in a programme edition lower the annual risk
that a participant abandons school?*  Dropout is an absorbing exit, not an outcome a
difference-in-differences can compare before and after participation (a pupil who abandons
has no later records, and a future participant has by definition not abandoned before taking
part), so the design is a **risk-set comparison of hazards** under selection on observables:
for each edition, participants are compared with the never-participants enrolled in the same
school year, schools and ages, adjusting for baseline characteristics
(:mod:`analysis.did.dropout`, where the model is written out).

:meth:`DropoutAnalysis.build` runs every method once; the notebook narrates its sections
(:meth:`~DropoutAnalysis.question`, :meth:`~DropoutAnalysis.hazards`,
:meth:`~DropoutAnalysis.estimates`, :meth:`~DropoutAnalysis.few_clusters`,
:meth:`~DropoutAnalysis.conclusion`) and saves :meth:`~DropoutAnalysis.to_dict`.

The pupil records are the programme panel's: notebook ``07_dropout`` loads them with
:func:`analysis.reports.programme.load` (the ``"data"`` stream of the run seed for a simulated
panel), shows the sample flow and the balance sections of that module, and hands the loaded
object to :meth:`DropoutAnalysis.build`.  This module does not import it (report modules are
independent): it reads the object through :class:`PupilData`.  Randomness: one ``seed`` per
run, split by :class:`analysis.seeds.SeedStreams`; here ``"bootstrap"`` (wild cluster
bootstrap) and ``"randomization"`` (re-assignments).  Privacy: the hazard table goes through
:func:`analysis.display.show_pupil_table`, and the hazard figure draws only the points that
survived it.  Hazards whose implied number of dropouts (hazard × pupils) is below k are
masked first (:func:`analysis.privacy.suppress_small_numerators`, with a complementary cell).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from analysis import diagnostics
from analysis.did import dropout as risk
from analysis.did.dropout import DropoutResult
from analysis.estimate import Estimate
from analysis.facts import programme_facts
from analysis.inference import RandomizationResult
from analysis.privacy import K_MIN, safe_balance, suppress_small_numerators
from analysis.seeds import SeedStreams

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from analysis.diagnostics import Balance
    from analysis.power import MDEResult

__all__ = [
    "DropoutAnalysis",
    "EstimatesView",
    "FewClustersView",
    "HazardView",
    "PupilData",
    "hazard_figure",
    "title",
]

OUTCOME = "dropped_out"
LABEL = "annual dropout (abandonment) hazard"
UNIT = "percentage points"
DESIGN = {"unit": "pupil_id", "time": "year", "cohort": "cohort", "age": "age"}
"""Column names of the programme panel as :mod:`analysis.did.dropout` takes them."""


@runtime_checkable
class PupilData(Protocol):
    """What the page reads from the loaded pupil records.

    :class:`analysis.reports.programme.ProgrammeData` (from
    :func:`analysis.reports.programme.load`) is one; the protocol keeps the two report modules
    independent.
    """

    simulated: bool
    source: str

    def frame(self) -> pd.DataFrame: ...  # noqa: D102

    def cluster_column(self, cluster: str | None) -> str | None: ...  # noqa: D102

    def split_covariates(  # noqa: D102
        self, frame: pd.DataFrame, covariates: Sequence[str]
    ) -> tuple[list[str], list[str]]: ...

    def sample_flow(self) -> pd.DataFrame: ...  # noqa: D102

    def truth(self, outcome: str) -> float | None: ...  # noqa: D102

    def to_dict(self) -> dict[str, Any]: ...  # noqa: D102


def _fmt(x: float, *, signed: bool = True) -> str:
    """A natural-scale (probability) effect in percentage points."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{100 * x:+.2f} {UNIT}" if signed else f"{100 * x:.2f} {UNIT}"


def _ci_label(level: float) -> str:
    """``"95% CI"`` for ``level=0.95``: the label of an interval at confidence ``level``."""
    return f"{round(100 * float(level), 6):g}% CI"


def _fmt_p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _display(df: pd.DataFrame) -> pd.DataFrame:
    """Effects in percentage points, p-values as text, cluster counts as integers."""
    out = df.copy()
    for c in ("estimate", "se", "ci_low", "ci_high", "true_effect"):
        if c in out.columns:
            out[c] = out[c] * 100.0
    if "p_value" in out.columns:
        out["p_value"] = out["p_value"].map(_fmt_p)
    if "clusters" in out.columns:
        out["clusters"] = [
            ("–" if c is None or not np.isfinite(c) else str(int(c)))
            for c in out["clusters"].astype(float)
        ]
    return out


def title() -> str:
    """Title of the page when run interactively (the plan's title wins under the runner)."""
    return "Programme evaluation: dropout (risk-set hazard comparison)"


def hazard_figure(table: pd.DataFrame, *, k: int = K_MIN) -> Figure:
    """Plot the hazards of :meth:`DropoutAnalysis.hazards` (points with ≥ ``k`` pupils only).

    Pass the table as shown (after ``display.show_pupil_table``), so that suppressed cells are
    not drawn either.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (grp, sub) in enumerate(table[table["pupils"] >= k].groupby("group")):
        ax.plot(sub["years_since"].astype(str), sub["hazard_pct"], "o-", color=f"C{i}", label=grp)
    ax.set_xlabel(
        "years since the edition's school year (0 = year of participation; later years pooled)"
    )
    ax.set_ylabel("annual dropout hazard (%)")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class HazardView:
    """Section "hazards": the table for ``display.show_pupil_table`` and the figure's caption.

    Show ``table`` with ``count_col="pupils"``, ``keys=["group", "years_since"]``,
    ``totals_by=[("group",)]``; draw :func:`hazard_figure` from the table as shown.
    """

    table: pd.DataFrame
    caption: str
    figure_caption: str


@dataclass(frozen=True)
class EstimatesView:
    """Section "estimate": the adjusted risk-set estimate next to the unadjusted one."""

    table: pd.DataFrame
    caption: str


@dataclass(frozen=True)
class FewClustersView:
    """Section "few clusters": analytic next to bootstrap and randomization inference."""

    table: pd.DataFrame
    caption: str


@dataclass(frozen=True)
class DropoutAnalysis:
    """Every estimate of the dropout page, built once by :meth:`build`.

    Attributes are the method results (:mod:`analysis.did.dropout`, :mod:`analysis.inference`,
    :mod:`analysis.diagnostics`); the section methods return what the notebook shows.
    """

    data: PupilData = field(repr=False)
    frame: pd.DataFrame = field(repr=False)
    covariates: tuple[str, ...]
    missing_covariates: tuple[str, ...]
    cluster: str | None
    seed: int
    bootstrap_reps: int
    ri_reps: int
    baseline: Balance
    result: DropoutResult
    hazard: pd.DataFrame = field(repr=False)
    estimates_table: pd.DataFrame = field(repr=False)
    few: pd.DataFrame = field(repr=False)
    randomization: RandomizationResult
    wild_bootstrap: Estimate
    mde_result: MDEResult
    mde: float
    mde_realised: float
    truth: float | None

    @classmethod
    def build(
        cls,
        data: PupilData,
        *,
        seed: int,
        covariates: Sequence[str],
        cluster: str | None = "school_id",
        bootstrap_reps: int = 999,
        ri_reps: int = 499,
    ) -> DropoutAnalysis:
        """Run the risk-set comparison and its inference on the loaded pupil records (one call).

        Parameters
        ----------
        data
            The pupil records, loaded by :func:`analysis.reports.programme.load` (simulated
            from the run seed's ``"data"`` stream, or the evaluator's file).
        seed
            The run's seed (streams ``"bootstrap"`` and ``"randomization"`` here).
        covariates
            Baseline characteristics adjusted for (and shown in the balance table).
        cluster
            ``"school_id"`` (clustered by the pupil's first school, with school fixed
            effects), another column, or ``None``/``"pupil_id"`` (pupil level).
        bootstrap_reps, ri_reps
            Wild cluster bootstrap draws and randomization-inference re-assignments.
        """
        streams = SeedStreams(int(seed))
        frame = data.frame()
        cl = data.cluster_column(cluster)
        covs, missing = data.split_covariates(frame, covariates)
        kw = {**DESIGN, "outcome": OUTCOME, "covariates": covs, "cluster": cl}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            baseline = diagnostics.baseline_balance(
                frame, unit=DESIGN["unit"], treatment="participant", covariates=covs
            )
            res = risk.dropout_effect(frame, **kw)
            hazard = risk.hazard_table(frame, **DESIGN, outcome=OUTCOME)
            wcb = risk.dropout_wild_bootstrap(
                frame, **kw, reps=bootstrap_reps, seed=streams.seed_for("bootstrap")
            )
            ri = risk.dropout_randomization(
                frame,
                **kw,
                strata="school_id",
                reps=ri_reps,
                seed=streams.seed_for("randomization"),
            )
        truth = data.truth(OUTCOME)
        mde_res, mde = risk.hazard_mde(frame, result=res, cohort=DESIGN["cohort"], outcome=OUTCOME)
        return cls(
            data=data,
            frame=frame,
            covariates=tuple(covs),
            missing_covariates=tuple(sorted(missing)),
            cluster=cl,
            seed=int(seed),
            bootstrap_reps=int(bootstrap_reps),
            ri_reps=int(ri_reps),
            baseline=baseline,
            result=res,
            hazard=hazard,
            estimates_table=_estimates_table(res, truth),
            few=_few_table(res, wcb, ri),
            randomization=ri,
            wild_bootstrap=wcb,
            mde_result=mde_res,
            mde=mde,
            mde_realised=diagnostics.realised_mde(res.estimate.se),
            truth=truth,
        )

    # ------------------------------------------------------------------ helpers
    @property
    def simulated(self) -> bool:
        """Whether the page runs on a SIMULATED panel."""
        return self.data.simulated

    def missing_covariates_note(self) -> str:
        """Warning text when covariates were left out (see :attr:`missing_covariates`)."""
        return (
            "Covariates not in the data (or with missing values) and left out: "
            f"{sorted(self.missing_covariates)}."
        )

    # ------------------------------------------------------------------ sections
    def question(self) -> str:
        """Markdown: the question, the estimand, the comparison and its assumption."""
        return (
            f"**Question.** Did taking part in a programme edition lower the **{LABEL}** of the "
            "pupils who took part?\n\n"
            f"**Programme.** {programme_facts().courses.reach()}.\n\n"
            "**Estimand.** The average effect on participants (ATT) on the annual probability "
            "of abandoning school, among participants still enrolled, from their edition's "
            f"school year on, in {UNIT}.\n\n"
            "**Comparison and assumption.** A pupil who abandons school has no further "
            "records, and a future participant cannot have abandoned before taking part, so "
            "participants' dropout cannot be compared before and after taking part. "
            "Participants are compared instead with never-participants enrolled in the same "
            "school year, in the same schools and at the same ages (the *risk set*), adjusting "
            f"for baseline characteristics ({', '.join(self.covariates) or 'none'}). The "
            "assumption is that, given these, participation is unrelated to the risk of "
            "abandoning (**selection on observables**), and that participants and controls "
            f"overlap in those characteristics.\n\nData: {self.data.source}."
        )

    def hazards(self) -> HazardView:
        """Section 4: annual hazards of participants and of the never-participants at risk."""
        h = self.hazard
        table = pd.DataFrame(
            {
                "group": np.where(
                    h["participant"] == 1, "participants", "never-participants at risk"
                ),
                "years_since": h["years_since"],
                "pupils": h["units"],
                "hazard_pct": 100 * h["hazard"],
            }
        )
        # numerator rule: a hazard × pupils below k reveals how many dropped out (issue 11)
        table = suppress_small_numerators(
            table, rates={"hazard_pct": ("pupils", 100)}, totals_by=[("group",)]
        ).drop(columns=["numerator_suppressed", "numerator_suppression"])
        src = self.data.source
        return HazardView(
            table=table,
            caption="Annual dropout hazard (% of enrolled pupils who abandon during or after "
            "that school year) by years since the edition's school year, for participants and "
            "for never-participants enrolled in the same school year at the same ages (risk "
            "set). A never-participant counts once per edition whose risk set they belong to. "
            f"Source: {src}.",
            figure_caption="Annual dropout hazard (%) of participants and of the "
            "never-participants at risk, by years since the edition's school year (points "
            f"built on at least {K_MIN} pupils). Unadjusted for the pupils' characteristics. "
            f"Source: {src}.",
        )

    def estimates(self) -> EstimatesView:
        """Section 5: the adjusted risk-set estimate next to the unadjusted difference."""
        se = "clustered by school" if self.cluster else "pupil-level"
        return EstimatesView(
            table=_display(self.estimates_table),
            caption=f"Effect of participation on the annual dropout hazard ({UNIT}): "
            "linear probability model on the risk sets with baseline covariates "
            f"({', '.join(self.covariates)}), age, school and edition × year fixed effects, "
            f"against the difference with edition × year effects only. Standard errors {se}."
            + (
                " true_effect: SIMULATED truth (mean effect on the hazard over participants' "
                "years)."
                if self.simulated
                else ""
            )
            + f" Method: analysis.did.dropout. Source: {self.data.source}.",
        )

    def few_clusters(self) -> FewClustersView:
        """Section 6: analytic standard errors next to few-cluster inference."""
        return FewClustersView(
            table=_display(self.few),
            caption=f"Analytic standard errors next to few-cluster inference, {UNIT} "
            "(p-values unscaled). Bootstrap: restricted wild cluster bootstrap by school "
            f"({self.bootstrap_reps} draws; the CI inverts the test). Randomization: "
            f"{self.ri_reps} placebo assignments within school and edition (random streams "
            f"'bootstrap' and 'randomization' of run seed {self.seed}). Methods: "
            f"analysis.did.dropout, analysis.inference. Source: {self.data.source}.",
        )

    def conclusion(self) -> str:
        """Section 7: the plain-words conclusion (markdown)."""
        e = self.result.estimate
        sig = not (e.ci_low <= 0 <= e.ci_high)
        head = "**SIMULATED — NOT PROGRAMME RESULTS.** " if self.simulated else ""
        lower = e.estimate < 0
        parts = [
            f"{head}Taking part is estimated to change the {LABEL} by **{_fmt(e.estimate)}** "
            f"({_ci_label(e.level)} {_fmt(e.ci_low)} to {_fmt(e.ci_high)}), "
            + (
                f"{'an improvement' if lower else 'a deterioration'} that is statistically "
                "distinguishable from zero."
                if sig
                else "which is not statistically distinguishable from zero."
            ),
            "The minimum detectable effect of this design (80% power, 5% two-sided test) is "
            f"about **{_fmt(self.mde, signed=False)}** (ex-ante formula) and "
            f"{_fmt(self.mde_realised, signed=False)} from the realised standard error. "
            + (
                "The estimate is larger than the MDE: the data are informative about effects "
                "of this size."
                if abs(e.estimate) >= self.mde
                else "The estimate is smaller than the MDE: effects of this size are often "
                "missed, so a non-significant result is not evidence of no effect, and a "
                "significant one may overstate the true effect (winner's curse)."
            ),
        ]
        c = programme_facts().courses
        parts.append(
            "Dropout is reported **descriptively**: an annual abandonment rate of a few per "
            "cent gives an MDE of the order of the base rate itself at this programme's size "
            f"({c.pupils} pupils in {c.courses} courses; background note §3.5), and the "
            "comparison rests on selection on baseline covariates, not on parallel trends."
        )
        ps = self.few.dropna(subset=["p_value"])
        if len(ps):
            pvals = "; ".join(
                f"{r.estimate_of}, {r.inference.split(' (')[0]}: p "
                f"{'< 0.001' if r.p_value < 0.001 else f'= {r.p_value:.3f}'}"
                for r in ps.itertuples()
            )
            parts.append(f"With few schools, inference is checked several ways: {pvals}.")
        if self.simulated and self.truth is not None:
            cov = e.ci_low <= self.truth <= e.ci_high
            parts.append(
                f"In this simulated panel the true effect is {_fmt(self.truth)}; the "
                f"{_ci_label(e.level)} {'covers' if cov else 'does not cover'} it."
            )
        return "\n\n".join(parts)

    def headline(self) -> dict[str, float]:
        """The 3-4 numbers of the reports index (percentage points)."""
        e = self.result.estimate
        out = {
            f"ATT ({UNIT})": 100 * e.estimate,
            f"{_ci_label(e.level)} low": 100 * e.ci_low,
            f"{_ci_label(e.level)} high": 100 * e.ci_high,
        }
        if self.truth is not None:
            out["true effect, SIMULATED"] = 100 * self.truth
        else:
            out[f"MDE ({UNIT})"] = 100 * self.mde
        return out

    def to_dict(self, *, hazards: pd.DataFrame | None = None) -> dict[str, Any]:
        """The numbers ``report.save`` records (results JSON).

        ``hazards``: the hazard table as shown (``display.show_pupil_table``'s return value,
        small cells suppressed); without it the hazards are not recorded.
        """
        out: dict[str, Any] = {
            "data": self.data.to_dict(),
            "sample_flow": self.data.sample_flow(),
            "balance": safe_balance(self.baseline),
            "headline_estimate": self.result.estimate,
            "mde": self.mde_result,
            "mde_natural_units": self.mde,
            "mde_realised": self.mde_realised,
            "few_clusters": self.few,
            "randomization": self.randomization,
            "wild_bootstrap": self.wild_bootstrap,
            "triangulation": self.estimates_table,
            "true_effect": self.truth,
            "dropout": self.result,
        }
        if hazards is not None:
            out["hazards"] = hazards.drop(
                columns=[c for c in ("suppressed", "suppression") if c in hazards.columns]
            )
        return out


def _estimates_table(res: DropoutResult, truth: float | None) -> pd.DataFrame:
    cols = ("estimate", "se", "ci_low", "ci_high", "p_value")
    tab = pd.DataFrame(
        [
            {
                "estimator": "risk set, adjusted (headline)",
                **{k: getattr(res.estimate, k) for k in cols},
            },
            {"estimator": "risk set, unadjusted", **{k: getattr(res.naive, k) for k in cols}},
        ]
    )
    if truth is not None:
        tab["true_effect"] = truth
    return tab


def _few_table(res: DropoutResult, wcb: Estimate, ri: RandomizationResult) -> pd.DataFrame:
    g = res.estimate.n_clusters
    what = "dropout hazard effect"

    def row(inference_: str, est: float, se: float, lo: float, hi: float, p: float, cl: Any):
        return {
            "estimate_of": what,
            "inference": inference_,
            "estimate": est,
            "se": se,
            "ci_low": lo,
            "ci_high": hi,
            "p_value": p,
            "clusters": cl,
        }

    e = res.estimate
    return pd.DataFrame(
        [
            row(
                f"analytic CR1 ({g} clusters, t with {g - 1} df)",
                e.estimate,
                e.se,
                e.ci_low,
                e.ci_high,
                e.p_value,
                g,
            ),
            row(
                f"wild cluster bootstrap (WCR, {wcb.extra['weights_type']}, "
                f"{wcb.extra['reps']} draws)",
                wcb.estimate,
                np.nan,
                wcb.ci_low,
                wcb.ci_high,
                wcb.p_value,
                g,
            ),
            row(
                f"randomization inference ({ri.reps} re-assignments within school and edition)",
                ri.statistic,
                np.nan,
                np.nan,
                np.nan,
                ri.p_value,
                None,
            ),
        ]
    )
