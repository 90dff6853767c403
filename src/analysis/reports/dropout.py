"""Dropout report (notebook ``07_dropout``): tables, figures and words, in every language.

The page answers one question: *did taking part in a programme edition lower the annual risk
that a participant abandons school?*  Dropout is an absorbing exit, not an outcome a
difference-in-differences can compare before and after participation (a pupil who abandons
has no later records, and a future participant has by definition not abandoned before taking
part), so the design is a **risk-set comparison of hazards** under selection on observables:
for each edition, participants are compared with the never-participants enrolled in the same
school year, schools and ages (:mod:`analysis.did.dropout`, where the model is written out).
The headline specification is the pre-specified one
(:func:`analysis.significance.headline_design` for ``"dropped_out"``); the estimate adjusted
for the page's baseline covariates is a robustness check.  The effect is called under the one
significance rule (:func:`analysis.significance.classify`, with the wild cluster bootstrap and
randomization inference as few-cluster checks).

:meth:`DropoutAnalysis.build` runs every method once; the notebook narrates its sections
(:meth:`~DropoutAnalysis.summary_box`, :meth:`~DropoutAnalysis.question`,
:meth:`~DropoutAnalysis.hazards`, :meth:`~DropoutAnalysis.estimates`,
:meth:`~DropoutAnalysis.few_clusters`, :meth:`~DropoutAnalysis.conclusion`) and saves
:meth:`~DropoutAnalysis.to_dict`.  Every text is a message (:mod:`analysis.i18n`, domain
``dropout``), generated from the results.

The pupil records are the programme panel's: notebook ``07_dropout`` loads them with
:func:`analysis.reports.programme.load` and hands the loaded object to
:meth:`DropoutAnalysis.build`.  This module does not import it (report modules are
independent): it reads the object through :class:`PupilData`.  Randomness: one ``seed`` per
run, split by :class:`analysis.seeds.SeedStreams`; here ``"bootstrap"`` (wild cluster
bootstrap) and ``"randomization"`` (re-assignments).

Privacy: the hazard table goes through :func:`analysis.display.show_pupil_table` (cells of
fewer than k pupils), after the numerator rule: a hazard whose implied number of dropouts
(hazard × pupils) is from 1 to k − 1 is masked, with a complementary cell
(:func:`analysis.privacy.suppress_small_numerators`).  The hazard figure draws only the points
that survived both.  No other count or rate of pupils with the event is shown.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from analysis import diagnostics, i18n, significance
from analysis.did import dropout as risk
from analysis.did.dropout import DropoutResult
from analysis.estimate import Estimate
from analysis.facts import programme_facts
from analysis.i18n import N_, Msg, Text, integer, join, num, pct, pp, t, term
from analysis.i18n import year as fyear
from analysis.inference import RandomizationResult
from analysis.privacy import K_MIN, safe_balance, suppress_small_numerators
from analysis.seeds import SeedStreams
from analysis.significance import Significance

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
DESIGN = {"unit": "pupil_id", "time": "year", "cohort": "cohort", "age": "age"}
"""Column names of the programme panel as :mod:`analysis.did.dropout` takes them."""

#: Groups of the hazard table.
GROUPS = {1: N_("participants"), 0: N_("never-participants at risk")}

#: Human headers of the hazard table (``display.show_pupil_table`` reads these columns).
H_GROUP = N_("Group")
H_YEARS = N_("Years since the edition")
H_PUPILS = N_("Pupils at risk")
H_HAZARD = N_("Annual dropout hazard (%)")

#: Specifications of the estimates table.
SPECS = {
    "headline": N_("Risk set, pre-specified design (headline)"),
    "adjusted": N_("Risk set, adjusted for baseline characteristics"),
    "unadjusted": N_("Unadjusted difference (edition × year only)"),
}

#: Inference rows of the few-clusters table.
INFERENCE = {
    "analytic": N_("Analytic, clustered by school (CR1, t with G − 1 df)"),
    "wild": N_("Wild cluster bootstrap (restricted, by school)"),
    "randomization": N_("Randomization inference (within school and edition)"),
}

#: Pre-specified estimators of ``config/analysis_plan.yaml`` in words.
ESTIMATOR_WORDS = {
    "cohort_comparison": N_("risk-set comparison within each edition"),
}
CONTROL_WORDS = {"never_treated": N_("never-participants")}

_EST_HEADERS = {
    "specification": N_("Specification"),
    "estimate": N_("Effect (pp)"),
    "se": N_("Standard error (pp)"),
    "ci_low": N_("CI lower bound (pp)"),
    "ci_high": N_("CI upper bound (pp)"),
    "p_value": N_("p-value"),
    "true_effect": N_("True effect, SIMULATED (pp)"),
}
_FEW_HEADERS = {
    "inference": N_("Inference"),
    "estimate": N_("Effect (pp)"),
    "se": N_("Standard error (pp)"),
    "ci_low": N_("CI lower bound (pp)"),
    "ci_high": N_("CI upper bound (pp)"),
    "p_value": N_("p-value"),
    "draws": N_("Draws"),
    "schools": N_("Schools"),
}


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


def _pp(x: float | None, *, sign: bool = True) -> i18n.Formatted:
    """A natural-scale (probability) effect in percentage points, for a message."""
    return pp(None if x is None or not np.isfinite(x) else 100 * x, 1, sign=sign)


def _pn(x: float | None) -> i18n.Formatted:
    """A natural-scale bound in percentage points, number only (inside an interval)."""
    return num(None if x is None or not np.isfinite(x) else 100 * x, 1, sign=True)


def _level(level: float) -> i18n.Formatted:
    return pct(100 * float(level), 0)


def _ci_label(level: float) -> str:
    """``"95% CI"`` for ``level=0.95``: the label of an interval (results keys, English)."""
    return f"{round(100 * float(level), 6):g}% CI"


def _names(items: Sequence[str]) -> Text:
    """Column names as a comma list in every language (``none`` when empty)."""
    # a column name is shown as given in every language (a year-kind value: no catalog lookup)
    return join([i18n.year(c) for c in items], ", ") if items else t("none")


def title() -> str:
    """Title of the page when run interactively (the plan's title wins under the runner)."""
    return N_("Programme evaluation (SIMULATED): dropout, risk-set hazard comparison")


def hazard_figure_of(table: pd.DataFrame) -> Callable[[str], Figure]:
    """:func:`hazard_figure` of ``table`` as a function of the language (``display.show_figure``)."""
    return lambda lang: hazard_figure(table, lang=lang)


def hazard_figure(table: pd.DataFrame, *, k: int = K_MIN, lang: str = "en") -> Figure:
    """Plot the hazards of :meth:`DropoutAnalysis.hazards` (points with ≥ ``k`` pupils only).

    Pass the table as shown (after ``display.show_pupil_table``), so that suppressed cells are
    not drawn either (a masked hazard is missing and draws nothing).  ``lang``: language of
    the axes and legend.
    """
    import matplotlib.pyplot as plt

    tr = i18n.translator(lang)
    fig, ax = plt.subplots(figsize=(7, 4))
    shown = table[(table[H_PUPILS] >= k) & table[H_HAZARD].notna()]
    for i, code in enumerate((1, 0)):
        sub = shown[shown[H_GROUP] == GROUPS[code]]
        if len(sub):
            ax.plot(
                sub[H_YEARS].astype(str),
                sub[H_HAZARD],
                "o-",
                color=f"C{i}",
                label=tr(GROUPS[code]),
            )
    ax.set_xlabel(tr(t("Years since the edition's school year (0 = year of participation)")))
    ax.set_ylabel(tr(H_HAZARD))
    ax.yaxis.set_major_formatter(i18n.tick_formatter(lang, 1))
    top = float(shown[H_HAZARD].max()) if len(shown) else 1.0
    ax.set_ylim(0, 1.15 * top if top > 0 else 1.0)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class HazardView:
    """Section "hazards": the table for ``display.show_pupil_table`` and the captions.

    Show ``table`` with ``count_col=H_PUPILS``, ``keys=[H_GROUP, H_YEARS]``,
    ``totals_by=[(H_GROUP,)]``; draw :func:`hazard_figure` from the table as shown.
    ``masked``: hazards masked by the numerator rule (primary and complementary).
    """

    table: pd.DataFrame
    caption: Text
    figure_caption: Text
    masked: int


@dataclass(frozen=True)
class EstimatesView:
    """Section "estimate": the headline next to the adjusted and unadjusted estimates."""

    table: pd.DataFrame
    caption: Text


@dataclass(frozen=True)
class FewClustersView:
    """Section "few clusters": analytic next to bootstrap and randomization inference."""

    table: pd.DataFrame
    caption: Text


@dataclass(frozen=True)
class DropoutAnalysis:
    """Every estimate of the dropout page, built once by :meth:`build`.

    Attributes are the method results (:mod:`analysis.did.dropout`, :mod:`analysis.inference`,
    :mod:`analysis.diagnostics`); the section methods return what the notebook shows.
    ``result`` is the headline (pre-specified design), ``adjusted`` the estimate with the
    page's covariates (``None`` when they are the design's).
    """

    data: PupilData = field(repr=False)
    frame: pd.DataFrame = field(repr=False)
    covariates: tuple[str, ...]
    missing_covariates: tuple[str, ...]
    design_covariates: tuple[str, ...]
    cluster: str | None
    seed: int
    bootstrap_reps: int
    ri_reps: int
    baseline: Balance
    result: DropoutResult
    adjusted: DropoutResult | None
    hazard: pd.DataFrame = field(repr=False)
    estimates_table: pd.DataFrame = field(repr=False)
    few: pd.DataFrame = field(repr=False)
    randomization: RandomizationResult
    wild_bootstrap: Estimate
    mde_result: MDEResult
    mde: float
    mde_realised: float
    truth: float | None
    design: dict[str, Any] = field(default_factory=dict)

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
            Baseline characteristics of the robustness estimate (and the balance table); the
            headline uses the pre-specified design's covariates.
        cluster
            ``"school_id"`` (clustered by the pupil's first school, with school fixed
            effects), another column, or ``None``/``"pupil_id"`` (pupil level).
        bootstrap_reps, ri_reps
            Wild cluster bootstrap draws and randomization-inference re-assignments (of the
            headline estimate).
        """
        design = dict(significance.headline_design(OUTCOME))
        streams = SeedStreams(int(seed))
        frame = data.frame()
        cl = data.cluster_column(cluster)
        covs, missing = data.split_covariates(frame, covariates)
        head_covs, head_missing = data.split_covariates(frame, list(design.get("covariates", [])))
        missing = sorted(set(missing) | set(head_missing))
        kw = {**DESIGN, "outcome": OUTCOME, "covariates": head_covs, "cluster": cl}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            baseline = diagnostics.baseline_balance(
                frame, unit=DESIGN["unit"], treatment="participant", covariates=covs
            )
            res = risk.dropout_effect(frame, **kw)
            adjusted = (
                None
                if list(covs) == list(head_covs)
                else risk.dropout_effect(frame, **{**kw, "covariates": covs})
            )
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
            missing_covariates=tuple(missing),
            design_covariates=tuple(head_covs),
            cluster=cl,
            seed=int(seed),
            bootstrap_reps=int(bootstrap_reps),
            ri_reps=int(ri_reps),
            baseline=baseline,
            result=res,
            adjusted=adjusted,
            hazard=hazard,
            estimates_table=_estimates_table(res, adjusted, truth),
            few=_few_table(res, wcb, ri),
            randomization=ri,
            wild_bootstrap=wcb,
            mde_result=mde_res,
            mde=mde,
            mde_realised=diagnostics.realised_mde(res.estimate.se),
            truth=truth,
            design=design,
        )

    # ------------------------------------------------------------------ helpers
    @property
    def simulated(self) -> bool:
        """Whether the page runs on a SIMULATED panel."""
        return self.data.simulated

    def significance(self) -> Significance:
        """The headline called under the pre-specified rule (interval + few-cluster checks)."""
        e = self.result.estimate
        return significance.classify(
            ci_low=e.ci_low,
            ci_high=e.ci_high,
            wild_cluster_bootstrap=_p_or_nan(self.wild_bootstrap.p_value),
            randomization_inference=_p_or_nan(self.randomization.p_value),
        )

    def missing_covariates_note(self) -> Msg:
        """Warning text when covariates were left out (see :attr:`missing_covariates`)."""
        return t(
            "Covariates not in the data (or with missing values) and left out: {names}.",
            names=_names(self.missing_covariates),
        )

    def _source(self) -> Msg:
        return t("Source: {source}.", source=self._source_words())

    def _source_words(self) -> Text:
        words = getattr(self.data, "source_words", None)  # the loader's words, when it has them
        if words is not None:
            return words
        return t("simulated pupil panel") if self.simulated else self.data.source

    def _interval(self, e: Estimate) -> Msg:
        return t(
            "{est} ({level} confidence interval {lo} to {hi})",
            est=_pp(e.estimate),
            level=_level(e.level),
            lo=_pn(e.ci_low),
            hi=_pn(e.ci_high),
        )

    def _design_words(self) -> Msg:
        d = self.design
        return t(
            "The headline follows the design pre-specified in `config/analysis_plan.yaml`: "
            "{estimator}, compared with {control}, covariates: {covs}. The estimate adjusted for "
            "baseline characteristics ({adjusted}) is a robustness check.",
            estimator=term(ESTIMATOR_WORDS.get(str(d.get("estimator")), N_("as declared"))),
            control=term(CONTROL_WORDS.get(str(d.get("control_group")), N_("as declared"))),
            covs=_names(self.design_covariates),
            adjusted=_names(self.covariates),
        )

    # ------------------------------------------------------------------ sections
    def summary_box(self) -> dict[str, Text]:
        """The fields of ``display.summary_box``, generated from this run's results."""
        e = self.result.estimate
        sig = self.significance()
        question = t(
            "Did taking part in a programme edition lower the annual risk that a participant "
            "abandons school?"
        )
        answer = join(
            [
                t(
                    "Taking part is estimated to change the annual dropout hazard by {interval}.",
                    interval=self._interval(e),
                ),
                sig.words(),
            ]
        )
        return {
            "question": question,
            "answer": answer,
            "certainty": self._certainty(),
            "would_change": self._would_change(),
            "not_this": self._not_this(),
        }

    def _certainty(self) -> Text:
        e = self.result.estimate
        a = significance.alpha()
        parts: list[Text] = []
        for key, p in (
            ("wild", self.wild_bootstrap.p_value),
            ("randomization", self.randomization.p_value),
        ):
            name = t("wild cluster bootstrap") if key == "wild" else t("randomization inference")
            if p is None or not np.isfinite(p):
                parts.append(t("**{check}:** p undefined.", check=name))
            else:
                parts.append(
                    t(
                        "**{check}:** p = {p}, {verdict}.",
                        check=name,
                        p=num(p, 3),
                        verdict=t("rejects zero") if p <= a else t("does not reject zero"),
                    )
                )
        if self.adjusted is not None:
            parts.append(
                t(
                    "**Adjusted for baseline characteristics:** {interval}.",
                    interval=self._interval(self.adjusted.estimate),
                )
            )
        parts.append(
            t(
                "**Minimum detectable effect:** {mde} (80% power); the estimate is {size}.",
                mde=_pp(self.mde, sign=False),
                size=t("larger") if abs(e.estimate) >= self.mde else t("smaller"),
            )
        )
        if self.simulated and self.truth is not None:
            cov = e.ci_low <= self.truth <= e.ci_high
            parts.append(
                t(
                    "**Simulated truth:** {truth}, {verdict} by the interval.",
                    truth=_pp(self.truth),
                    verdict=t("covered") if cov else t("not covered"),
                )
            )
        return join(parts)

    def _would_change(self) -> Text:
        c = programme_facts().courses
        parts: list[Text] = []
        if self.simulated:
            parts.append(
                t(
                    "The schools' pupil records replacing the simulated panel: every number on "
                    "this page would change."
                )
            )
        parts.append(
            t(
                "More participants: with {pupils} participants in {courses} courses, effects "
                "smaller than {mde} are often missed.",
                pupils=integer(c.pupils),
                courses=integer(c.courses),
                mde=_pp(self.mde, sign=False),
            )
        )
        parts.append(
            t(
                "Evidence that participants were chosen on characteristics not measured here "
                "(motivation, family support) would undo the comparison."
            )
        )
        return join(parts)

    def _not_this(self) -> Text:
        parts: list[Text] = []
        if self.simulated:
            parts.append(
                t(
                    "**SIMULATED**: built on simulated pupils with a known true effect, to test "
                    "the method; these are not programme results."
                )
            )
        parts.append(
            t(
                "Not a difference-in-differences: dropout ends a pupil's records, so "
                "participants are compared with never-participants of the same edition, "
                "school year and age, under selection on observed characteristics."
            )
        )
        return join(parts)

    def question(self) -> Text:
        """Markdown: the question, the estimand, the comparison and its assumption."""
        c = programme_facts().courses
        return join(
            [
                t(
                    "**Question.** Did taking part in a programme edition lower the annual "
                    "dropout hazard of the pupils who took part?"
                ),
                t(
                    "**Programme.** {reach}.",
                    reach=t(
                        "{name} ({funder}, {first}–{last}) reaches about {pupils} pupils and "
                        "{parents} parents ({courses} courses)",
                        name=c.name,
                        funder=c.funder,
                        first=fyear(c.first_year),
                        last=fyear(c.last_year),
                        pupils=integer(c.pupils),
                        parents=integer(c.parents),
                        courses=integer(c.courses),
                    ),
                ),
                t(
                    "**Estimand.** The average effect on participants (ATT) on the annual "
                    "probability of abandoning school, among participants still enrolled, from "
                    "their edition's school year on, in percentage points."
                ),
                t(
                    "**Comparison and assumption.** A pupil who abandons school has no further "
                    "records, and a future participant cannot have abandoned before taking part, "
                    "so participants' dropout cannot be compared before and after taking part. "
                    "Participants are compared instead with never-participants enrolled in the "
                    "same school year, in the same schools and at the same ages (the *risk "
                    "set*). The assumption is that, given these, participation is unrelated to "
                    "the risk of abandoning (**selection on observables**), and that "
                    "participants and comparison pupils overlap in those characteristics."
                ),
                self._design_words(),
                self._source(),
            ],
            "\n\n",
        )

    def hazards(self) -> HazardView:
        """Section 4: annual hazards of participants and of the never-participants at risk."""
        h = self.hazard
        table = pd.DataFrame(
            {
                H_GROUP: [GROUPS[int(p)] for p in h["participant"]],
                H_YEARS: h["years_since"].astype(str).to_numpy(),
                H_PUPILS: h["units"].astype(int).to_numpy(),
                H_HAZARD: 100 * h["hazard"].to_numpy(dtype=float),
            }
        )
        # numerator rule: a hazard × pupils below k reveals how many dropped out (issue 11)
        safe = suppress_small_numerators(
            table, rates={H_HAZARD: (H_PUPILS, 100)}, totals_by=[(H_GROUP,)]
        )
        masked = int(safe["numerator_suppressed"].sum())
        table = safe.drop(columns=["numerator_suppressed", "numerator_suppression"])
        src = self._source()
        rule = (
            t(
                "{n} hazard(s) shown as '< {k}' reveal from 1 to {k1} dropouts (or would let "
                "one be worked out from the others) and are withheld.",
                n=integer(masked),
                k=integer(K_MIN),
                k1=integer(K_MIN - 1),
            )
            if masked
            else t(
                "Every hazard shown rests on at least {k} dropouts or on none.", k=integer(K_MIN)
            )
        )
        return HazardView(
            table=table,
            caption=join(
                [
                    t(
                        "Annual dropout hazard (% of the pupils still enrolled who abandon "
                        "during or after that school year) by years since the edition's school "
                        "year (later years pooled), for participants and for never-participants "
                        "enrolled in the same school year at the same ages (risk set). A "
                        "never-participant counts once per edition whose risk set they belong "
                        "to."
                    ),
                    rule,
                    src,
                ]
            ),
            figure_caption=join(
                [
                    t(
                        "Annual dropout hazard (%) of participants and of the never-participants "
                        "at risk, by years since the edition's school year; only hazards shown "
                        "in the table are drawn. Unadjusted for the pupils' characteristics."
                    ),
                    src,
                ]
            ),
            masked=masked,
        )

    def estimates(self) -> EstimatesView:
        """Section 5: the headline next to the adjusted and unadjusted estimates."""
        tab = self.estimates_table.copy()
        tab["specification"] = tab["specification"].map(SPECS)
        return EstimatesView(
            table=_display(tab).rename(columns=_EST_HEADERS),
            caption=join(
                [
                    t(
                        "Effect of participation on the annual dropout hazard, in percentage "
                        "points, with {level} confidence intervals: linear probability model on "
                        "the risk sets with age, school and edition × year fixed effects; the "
                        "adjusted row adds {covs}; the unadjusted row keeps edition × year "
                        "effects only. Standard errors {se}.",
                        level=_level(self.result.estimate.level),
                        covs=_names(self.covariates),
                        se=t("clustered by school") if self.cluster else t("at pupil level"),
                    ),
                    *(
                        [
                            t(
                                "True effect: the SIMULATED truth (mean effect on the hazard "
                                "over the participants' years)."
                            )
                        ]
                        if self.simulated and self.truth is not None
                        else []
                    ),
                    self._source(),
                ]
            ),
        )

    def few_clusters(self) -> FewClustersView:
        """Section 6: analytic standard errors next to few-cluster inference."""
        return FewClustersView(
            table=_display(self.few.assign(inference=self.few["inference"].map(INFERENCE))).rename(
                columns=_FEW_HEADERS
            ),
            caption=join(
                [
                    t(
                        "The headline estimate (percentage points) with three kinds of "
                        "inference. Bootstrap: restricted wild cluster bootstrap by school "
                        "({wcb} draws, {weights} weights; the interval inverts the test). "
                        "Randomization: {ri} placebo assignments within school and edition. "
                        "Random streams 'bootstrap' and 'randomization' of seed {seed}.",
                        wcb=integer(self.bootstrap_reps),
                        weights=str(self.wild_bootstrap.extra.get("weights_type", "")),
                        ri=integer(self.ri_reps),
                        seed=str(self.seed),
                    ),
                    self._source(),
                ]
            ),
        )

    def conclusion(self) -> Text:
        """Section 7: the plain-words conclusion (Markdown)."""
        e = self.result.estimate
        sig = self.significance()
        parts: list[Text] = []
        first = join(
            [
                t(
                    "Taking part is estimated to change the annual dropout hazard by "
                    "**{interval}**.",
                    interval=self._interval(e),
                ),
                sig.words(),
            ]
        )
        parts.append(
            join([t("**SIMULATED — NOT PROGRAMME RESULTS.**"), first]) if self.simulated else first
        )
        parts.append(
            join(
                [
                    t(
                        "The minimum detectable effect of this design (80% power, two-sided "
                        "test at {alpha}) is about **{mde}** (ex-ante formula) and {realised} "
                        "from the realised standard error.",
                        alpha=pct(100 * significance.alpha(), 0),
                        mde=_pp(self.mde, sign=False),
                        realised=_pp(self.mde_realised, sign=False),
                    ),
                    t(
                        "The estimate is larger than the MDE: the data are informative about "
                        "effects of this size."
                    )
                    if abs(e.estimate) >= self.mde
                    else t(
                        "The estimate is smaller than the MDE: effects of this size are often "
                        "missed, so an estimate not distinguishable from zero is not evidence "
                        "of no effect, and one that is may overstate the true effect (winner's "
                        "curse)."
                    ),
                ]
            )
        )
        c = programme_facts().courses
        parts.append(
            t(
                "Dropout is reported **descriptively**: with {pupils} participants in {courses} "
                "courses and an annual abandonment rate of {base} among comparison pupils, the "
                "minimum detectable effect is of the order of the rate itself, and the "
                "comparison rests on selection on observed characteristics, not on parallel "
                "trends.",
                pupils=integer(c.pupils),
                courses=integer(c.courses),
                base=pct(100 * self.result.base_rate, 1),
            )
        )
        if self.simulated and self.truth is not None:
            cov = e.ci_low <= self.truth <= e.ci_high
            parts.append(
                t(
                    "In this simulated panel the true effect is {truth}; the {level} interval "
                    "{verdict} it.",
                    truth=_pp(self.truth),
                    level=_level(e.level),
                    verdict=t("covers") if cov else t("does not cover"),
                )
            )
        return join(parts, "\n\n")

    def headline(self) -> dict[str, float | None]:
        """The 3-4 numbers of the reports index (percentage points)."""
        e = self.result.estimate
        out: dict[str, float | None] = {
            "ATT (percentage points)": 100 * e.estimate,
            f"{_ci_label(e.level)} low (percentage points)": 100 * e.ci_low,
            f"{_ci_label(e.level)} high (percentage points)": 100 * e.ci_high,
        }
        if self.truth is not None:
            out["true effect, SIMULATED (percentage points)"] = 100 * self.truth
        else:
            out["MDE (percentage points)"] = 100 * self.mde
        return out

    def headline_text(self) -> Msg:
        """The headline as the index shows it: effect [interval] in percentage points."""
        e = self.result.estimate
        return t("{est} [{lo}; {hi}]", est=_pp(e.estimate), lo=_pn(e.ci_low), hi=_pn(e.ci_high))

    def to_dict(self, *, hazards: pd.DataFrame | None = None) -> dict[str, Any]:
        """The numbers ``report.save`` records (results JSON).

        ``hazards``: the hazard table as shown (``display.show_pupil_table``'s return value,
        small cells suppressed); without it the hazards are not recorded.
        """
        out: dict[str, Any] = {
            "data": self.data.to_dict(),
            "sample_flow": self.data.sample_flow(),
            "balance": safe_balance(self.baseline),
            "headline_design": {**self.design, "covariates": list(self.design_covariates)},
            "headline_estimate": self.result.estimate,
            "significance": self.significance().to_dict(),
            "mde": self.mde_result,
            "mde_natural_units": self.mde,
            "mde_realised": self.mde_realised,
            "few_clusters": self.few,
            "randomization": self.randomization,
            "wild_bootstrap": self.wild_bootstrap,
            "triangulation": self.estimates_table,
            "true_effect": self.truth,
            "dropout": self.result,
            "adjusted": self.adjusted,
        }
        if hazards is not None:
            shown = hazards.drop(
                columns=[c for c in ("suppressed", "suppression") if c in hazards.columns]
            )
            out["hazards"] = shown.rename(
                columns={
                    H_GROUP: "group",
                    H_YEARS: "years_since",
                    H_PUPILS: "pupils",
                    H_HAZARD: "hazard_pct",
                }
            )
        return out


def _p_or_nan(p: float | None) -> float:
    """A check's p-value for :func:`analysis.significance.classify` (nan when undefined)."""
    return float("nan") if p is None or not math.isfinite(float(p)) else float(p)


def _display(df: pd.DataFrame) -> pd.DataFrame:
    """Effects in percentage points; counts as integers (missing where undefined)."""
    out = df.copy()
    for c in ("estimate", "se", "ci_low", "ci_high", "true_effect"):
        if c in out.columns:
            out[c] = out[c].astype(float) * 100.0
    for c in ("draws", "schools"):
        if c in out.columns:
            out[c] = out[c].astype("Int64")
    return out


def _estimates_table(
    res: DropoutResult, adjusted: DropoutResult | None, truth: float | None
) -> pd.DataFrame:
    cols = ("estimate", "se", "ci_low", "ci_high", "p_value")
    rows = [{"specification": "headline", **{k: getattr(res.estimate, k) for k in cols}}]
    if adjusted is not None:
        rows.append(
            {"specification": "adjusted", **{k: getattr(adjusted.estimate, k) for k in cols}}
        )
    rows.append({"specification": "unadjusted", **{k: getattr(res.naive, k) for k in cols}})
    tab = pd.DataFrame(rows)
    if truth is not None:
        tab["true_effect"] = truth
    return tab


def _few_table(res: DropoutResult, wcb: Estimate, ri: RandomizationResult) -> pd.DataFrame:
    g = res.estimate.n_clusters
    e = res.estimate
    nan = float("nan")
    rows = [
        ("analytic", e.estimate, e.se, e.ci_low, e.ci_high, e.p_value, None, g),
        (
            "wild",
            wcb.estimate,
            nan,
            wcb.ci_low,
            wcb.ci_high,
            wcb.p_value,
            wcb.extra.get("reps"),
            g,
        ),
        ("randomization", ri.statistic, nan, nan, nan, ri.p_value, ri.reps, None),
    ]
    return pd.DataFrame(
        rows,
        columns=["inference", "estimate", "se", "ci_low", "ci_high", "p_value", "draws", "schools"],
    )
