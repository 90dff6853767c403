r"""Programme-evaluation report (notebook ``03_programme``): tables, figures and words.

The report answers one question per outcome: *what did taking part in a programme edition do
to the pupils who took part?*  The estimand is the **average treatment effect on the treated
(ATT)**, averaged over participants and the school years from their first edition on, on the
outcome's natural scale.  :meth:`ProgrammeAnalysis.build` runs every estimator once; the
notebook narrates its sections (:meth:`~ProgrammeAnalysis.sample_flow`,
:meth:`~ProgrammeAnalysis.balance`, :meth:`~ProgrammeAnalysis.group_time`,
:meth:`~ProgrammeAnalysis.event_study`, :meth:`~ProgrammeAnalysis.honest`,
:meth:`~ProgrammeAnalysis.triangulation`, :meth:`~ProgrammeAnalysis.few_clusters`,
:meth:`~ProgrammeAnalysis.conclusion`) and saves :meth:`~ProgrammeAnalysis.to_dict`.

Where the methods are
---------------------
No estimation is written here.  Callaway-Sant'Anna on the unbalanced pupil panel, cell sizes,
pre-trend tests, uniform bands, event windows and the effect horizon are in
:mod:`analysis.did` (``staggered(..., allow_unbalanced=True)``, :mod:`analysis.did.event_study`);
the stacked first-year 2×2 and its wild cluster bootstrap in :mod:`analysis.did.stacked`;
re-assignment of participation for randomization inference in :mod:`analysis.inference`;
the Goodman-Bacon decomposition on a balanced sub-panel, covariate balance and the MDE of the
realised design in :mod:`analysis.diagnostics`; HonestDiD in :mod:`analysis.honest`.

Why the Callaway-Sant'Anna estimator is run on an unbalanced panel: R ``did``'s default keeps
only pupils observed in every year, and a pupil is in a lower secondary school for three years
and in an upper secondary school for five, so in a six-year panel nobody is.  Each
:math:`ATT(g,t)` therefore uses the pupils observed in its base year and in :math:`t`, which
identifies it when leaving the records is unrelated to a pupil's untreated *trend*
(:mod:`analysis.did.staggered`, "Unbalanced panels").

Dropout is a different design (risk sets, not DiD): :mod:`analysis.reports.dropout`
(notebook ``07_dropout``).  Both pages read the same pupil records, so this module also holds
the pupil-data glue once: :func:`load` returns a :class:`ProgrammeData` whose methods give the
analysis frame, the cluster column, the available covariates and the publishable sample flow,
and :func:`sample_flow_view` / :func:`balance_view` are the two sections both pages show.  The
dropout report does not import this module (report modules are independent): notebook
``07_dropout`` loads the data here and hands the :class:`ProgrammeData` to it.

Data
----
:func:`load` reads the evaluator's file with :func:`analysis.data.programme.load_panel`
(``exclusions="report"``: rows removed by a documented rule are counted, never dropped
silently) or draws a SIMULATED panel with :func:`analysis.data.simulate.programme_panel` from
the run's ``"data"`` random stream, whose true effects are kept so that the report can show
them next to the estimates.

Randomness
----------
One ``seed`` per run, split by :class:`analysis.seeds.SeedStreams`: ``"data"`` draws the
simulated panel, ``"bands"`` the multiplier-bootstrap uniform bands (children of the stream:
ATT(g,t) band, Callaway-Sant'Anna event study, Sun-Abraham and two-stage event-study bands),
``"bootstrap"`` the wild cluster bootstrap, ``"randomization"`` the re-assignments.

Languages
---------
Every visible text is a message of the ``programme`` domain (:func:`analysis.i18n.t`, labels
marked with ``N_``); figures are drawn per language (``lang``), tables carry human headers.

Headline design, significance and robustness
--------------------------------------------
The headline follows the pre-specified design of the outcome
(:func:`analysis.significance.headline_design`, ``config/analysis_plan.yaml``: control group,
covariates, base period, anticipation, and why) and is called with the one significance rule
(:func:`analysis.significance.classify`: cluster-robust interval, wild cluster bootstrap,
randomization inference).  The robustness set (other comparison group, estimators, base
period, anticipation, covariates, HonestDiD relative magnitudes and smoothness) is run by the
methods modules and recorded with its outcome (:meth:`ProgrammeAnalysis.robustness`).  A panel
with a single school has no cluster-robust inference: every section says so instead of failing.

Privacy
-------
Tables of pupil counts go through :func:`analysis.display.show_pupil_table` or are
suppressed here (:func:`sample_flow_table`); group-time cells, event times and histogram bars
built on fewer than :data:`analysis.privacy.K_MIN` pupils are not shown.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis import diagnostics, did, honest, inference, paths, significance
from analysis._util import to_jsonable
from analysis.data.programme import EXCLUSION_RULES, LoadedPanel, load_panel
from analysis.diagnostics import BaconSummary, Balance
from analysis.did import EventStudy, PretrendSummary, SimpleATT, StaggeredResult, cs_event_study
from analysis.errors import DataValidationError, fail
from analysis.estimate import Estimate
from analysis.facts import programme_facts
from analysis.i18n import (
    N_,
    Msg,
    Text,
    integer,
    join,
    num,
    pct,
    t,
    term,
    tick_formatter,
    translator,
    year,
)
from analysis.privacy import K_MIN, safe_balance
from analysis.seeds import SeedStreams
from analysis.significance import Significance

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from analysis.data.simulate import SimulatedPanel
    from analysis.honest import HonestDiDResult
    from analysis.power import MDEResult

__all__ = [
    "BALANCE_COVARIATES",
    "DESIGN_OUTCOME",
    "MIN_CELL",
    "OUTCOMES",
    "BalanceView",
    "EventStudyView",
    "FewClustersView",
    "GroupTimeView",
    "HeadlineDesign",
    "HonestView",
    "OutcomeSpec",
    "ProgrammeAnalysis",
    "ProgrammeData",
    "RobustnessRun",
    "RobustnessView",
    "SampleFlowView",
    "TriangulationView",
    "analysis_frame",
    "available_covariates",
    "balance_view",
    "cluster_column",
    "cohort_table",
    "effect_sentence",
    "event_study_figure",
    "group_time_figure",
    "group_time_table",
    "headline_design_of",
    "headline_numbers",
    "load",
    "mde_sentence",
    "missing_covariates_note",
    "overlap_figure",
    "programme_sentence",
    "sample_flow_table",
    "sample_flow_view",
    "scaled",
    "significance_checks",
    "title",
    "truth_sentence",
]

_SRC = "programme report arguments"
UNIT, TIME, COHORT = "pupil_id", "year", "cohort"
COLS: Mapping[str, str] = {"unit": UNIT, "time": TIME, "cohort": COHORT}
"""Column names of the programme panel, as the methods' keyword arguments."""

MIN_CELL = 20
"""Participants a pre-participation cell needs to enter the pre-trend test, and an event time
to enter the headline average (:func:`analysis.did.pretrend_tests`,
:func:`analysis.did.effect_horizon`: their docstrings give the Monte Carlo reasons)."""

BALANCE_COVARIATES = ("baseline_absence", "ses_index", "female", "foreign_born")
"""Baseline characteristics of the balance table (and of the dropout adjustment)."""

COVARIATE_WORDS: Mapping[str, str] = {
    "baseline_absence": N_("absence rate in the year before the first record"),
    "ses_index": N_("socio-economic index (standardised)"),
    "female": N_("girls (share)"),
    "foreign_born": N_("born abroad (share)"),
}
"""Words for the baseline characteristics (table cells, captions)."""


def _cov_words(names: Sequence[str]) -> Text:
    if not names:
        return t("none")
    return join([term(COVARIATE_WORDS.get(c, c)) for c in names], ", ")


# --------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeSpec:
    """How an outcome is named, scaled and read.

    Attributes
    ----------
    name
        Column of the programme panel.
    label
        Words for titles (an ``N_`` message id).
    unit
        Unit of displayed effects (after multiplying by ``scale``; an ``N_`` message id).
    scale
        Factor from the natural scale to the displayed unit (100 for rates → points).
    binary
        Whether the outcome is 0/1.
    better
        ``"lower"`` or ``"higher"``: which direction is an improvement.
    the_label
        The label with its article, for sentences where the outcome is subject or object (an
        ``N_`` message id; Italian needs the article in the label).
    """

    name: str
    label: str
    unit: str
    scale: float
    binary: bool
    better: str
    the_label: str = ""

    def value(self, x: float | None, *, signed: bool = True, digits: int = 2) -> Msg:
        """A natural-scale effect in display units, in words (e.g. ``−1,90 punti percentuali``)."""
        v = None if x is None or not np.isfinite(x) else float(x) * self.scale
        return t("{value} {unit}", value=num(v, digits, sign=signed), unit=term(self.unit))

    def number(self, x: float | None, *, signed: bool = True, digits: int = 2) -> Any:
        """A natural-scale effect in display units, as a number without unit."""
        v = None if x is None or not np.isfinite(x) else float(x) * self.scale
        return num(v, digits, sign=signed)


OUTCOMES: Mapping[str, OutcomeSpec] = {
    "absence_rate": OutcomeSpec(
        "absence_rate",
        N_("absence rate (share of school hours)"),
        N_("percentage points of hours"),
        100.0,
        False,
        "lower",
        N_("the absence rate (share of school hours)"),
    ),
    "repeated_grade": OutcomeSpec(
        "repeated_grade",
        N_("grade repetition (not admitted)"),
        N_("percentage points"),
        100.0,
        True,
        "lower",
        N_("the rate of grade repetition (not admitted)"),
    ),
    "grade_avg": OutcomeSpec(
        "grade_avg",
        N_("average final grade (1–10 scale)"),
        N_("grade points"),
        1.0,
        False,
        "higher",
        N_("the average final grade (1–10 scale)"),
    ),
    "invalsi_score": OutcomeSpec(
        "invalsi_score",
        N_("INVALSI score"),
        N_("scale points"),
        1.0,
        False,
        "higher",
        N_("the INVALSI score"),
    ),
}
"""The outcomes of the difference-in-differences page (see :mod:`analysis.data.programme`)."""


def _spec(outcome: str) -> OutcomeSpec:
    if outcome == "dropped_out":
        raise fail(
            _SRC,
            "dropout is not a difference-in-differences outcome (a pupil who abandons has no "
            "later records): it has its own page, notebook 07_dropout",
            column="outcome",
            rows=[outcome],
        )
    if outcome not in OUTCOMES:
        raise fail(
            _SRC, f"unknown outcome; use one of {list(OUTCOMES)}", column="outcome", rows=[outcome]
        )
    return OUTCOMES[outcome]


def title(outcome: str) -> str:
    """Title of the page when run interactively (the plan's title wins under the runner)."""
    return f"Programme evaluation (staggered DiD): {_spec(outcome).label}"


# --------------------------------------------------------------------------------------------
# The pre-specified headline design (config/analysis_plan.yaml)
# --------------------------------------------------------------------------------------------

DESIGN_OUTCOME: Mapping[str, str] = {
    "absence_rate": "absence_rate",
    "repeated_grade": "repeated_grade",
    "grade_avg": "grade_avg",
}
"""Outcome column → its key in ``config/analysis_plan.yaml`` (``headline_designs``): the same."""

#: The ``why`` of each headline design in config/analysis_plan.yaml, marked for the catalog
#: (the extractor does not read the plan file; the page shows them with ``term``).
DESIGN_WHY = (
    N_(
        "Participation starts in a known school year per cohort; never-participants of the "
        "same schools are the comparison group; no covariates in the headline, because with "
        "20 schools the doubly robust estimator with covariates is unstable and places were not "
        "allocated by covariates (covariate-adjusted estimates are a robustness check)."
    ),
    N_("As for absence; grade repetition is a yearly binary outcome (linear probability)."),
    N_("As for absence; the average mark is observed every year."),
)

_CONTROL_KEYS = {"never_treated": "never", "not_yet_treated": "notyet"}
CONTROL_WORDS: Mapping[str, str] = {
    "never": N_("pupils who never took part"),
    "notyet": N_("pupils who never took part and those who had not yet taken part"),
}
BASE_WORDS: Mapping[str, str] = {
    "universal": N_("universal (every cell compared with the year before participation)"),
    "varying": N_("varying (each pre-participation cell compared with the year before it)"),
}
METHOD_WORDS: Mapping[str, str] = {
    "dr": N_("doubly robust"),
    "ipw": N_("inverse probability weighting"),
    "reg": N_("outcome regression"),
}


@dataclass(frozen=True)
class HeadlineDesign:
    """The headline design of one outcome: pre-specified in config, or the run's parameters.

    Attributes
    ----------
    outcome
        Outcome column.
    key
        Its key in ``config/analysis_plan.yaml`` (``None``: no design is pre-specified).
    control
        ``"never"`` or ``"notyet"`` (as :func:`analysis.did.staggered` takes it).
    covariates
        Covariates of the headline fit.
    base_period
        ``"universal"`` or ``"varying"``.
    anticipation
        Periods of anticipation.
    why
        The config's reason (an ``N_`` message id of :data:`DESIGN_WHY`), or ``None``.
    """

    outcome: str
    key: str | None
    control: str
    covariates: tuple[str, ...]
    base_period: str
    anticipation: int
    why: str | None

    @property
    def prespecified(self) -> bool:
        """Whether the design comes from ``config/analysis_plan.yaml``."""
        return self.key is not None

    def words(self) -> Text:
        """The design in words, with the reason the plan gives."""
        parts: list[Text] = [
            t(
                "**Headline design.** Callaway–Sant'Anna; comparison group: {control}; "
                "covariates: {covariates}; base period: {base}; anticipation: {anticipation} "
                "school year(s).",
                control=term(CONTROL_WORDS[self.control]),
                covariates=_cov_words(self.covariates),
                base=term(BASE_WORDS[self.base_period]),
                anticipation=integer(self.anticipation),
            )
        ]
        if self.prespecified:
            parts.append(
                t(
                    "It is pre-specified in the analysis plan (config/analysis_plan.yaml). "
                    "Why: {why}",
                    why=term(self.why or ""),
                )
            )
        else:
            parts.append(
                t(
                    "The analysis plan (config/analysis_plan.yaml) pre-specifies no design for "
                    "this outcome: the run's parameters are used."
                )
            )
        return join(parts, " ")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (results JSON, methodology note)."""
        return {
            "outcome": self.outcome,
            "plan_key": self.key,
            "prespecified": self.prespecified,
            "estimator": "callaway_santanna",
            "control_group": {"never": "never_treated", "notyet": "not_yet_treated"}[self.control],
            "covariates": list(self.covariates),
            "base_period": self.base_period,
            "anticipation": self.anticipation,
            "why": self.why,
            "source": "config/analysis_plan.yaml#headline_designs" if self.prespecified else None,
        }


def headline_design_of(
    outcome: str, *, control: str | None = None, covariates: Sequence[str] | None = None
) -> HeadlineDesign:
    """The headline design of ``outcome``; ``control``/``covariates`` must agree with the plan.

    For an outcome with a pre-specified design, a ``control`` or ``covariates`` parameter that
    contradicts it is refused (changing the design after seeing outcomes is a deviation to be
    recorded in the plan file, not a notebook parameter).  Without a design, the parameters
    are used (defaults: never-participants, no covariates) with a universal base period.
    """
    key = DESIGN_OUTCOME.get(outcome)
    if key is None:
        return HeadlineDesign(
            outcome=outcome,
            key=None,
            control=control or "never",
            covariates=tuple(covariates or ()),
            base_period="universal",
            anticipation=0,
            why=None,
        )
    d = significance.headline_design(key)
    plan = "config/analysis_plan.yaml"
    if d.get("estimator") != "callaway_santanna":
        raise fail(
            plan,
            f"the headline design of {key} names estimator {d.get('estimator')!r}; the "
            "programme DiD page runs 'callaway_santanna'",
            column=f"headline_designs.{key}.estimator",
        )
    ctrl = _CONTROL_KEYS.get(str(d.get("control_group")))
    if ctrl is None:
        raise fail(
            plan,
            f"control_group must be one of {sorted(_CONTROL_KEYS)}",
            column=f"headline_designs.{key}.control_group",
        )
    covs = tuple(d.get("covariates") or ())
    if control is not None and control != ctrl:
        raise fail(
            _SRC,
            f"the headline design of {key} is pre-specified in {plan} (control group "
            f"{d['control_group']}); control={control!r} contradicts it. The other comparison "
            "group is a robustness check of the page; to change the headline, change the plan "
            "file and record the deviation",
            column="control",
        )
    if covariates is not None and sorted(covariates) != sorted(covs):
        raise fail(
            _SRC,
            f"the headline design of {key} is pre-specified in {plan} (covariates "
            f"{list(covs) or 'none'}); the covariates parameter contradicts it. Covariate "
            "adjustment is a robustness check of the page; to change the headline, change the "
            "plan file and record the deviation",
            column="covariates",
        )
    why = str(d.get("why") or "")
    return HeadlineDesign(
        outcome=outcome,
        key=key,
        control=ctrl,
        covariates=covs,
        base_period=str(d.get("base_period", "universal")),
        anticipation=int(d.get("anticipation", 0)),
        why=why or None,
    )


# --------------------------------------------------------------------------------------------
# Data (shared with the dropout page)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgrammeData:
    """The analysis panel, where it came from, and the truth when it is simulated.

    Attributes
    ----------
    panel
        The validated panel and its exclusion record.
    simulated
        Whether the data were drawn by the simulator (SIMULATED — NOT PROGRAMME RESULTS).
    sim
        The :class:`~analysis.data.simulate.SimulatedPanel` (``None`` for real data).
    source
        ``"simulated (...)"`` or the file read.
    """

    panel: LoadedPanel
    simulated: bool
    sim: SimulatedPanel | None = field(default=None, repr=False)
    source: str = ""
    label: Text | None = field(default=None, repr=False)

    @property
    def source_words(self) -> Text:
        """The source in the page's language (the file name for real records)."""
        return self.label if self.label is not None else t("{source}", source=self.source)

    @property
    def pupil_ids(self) -> pd.Series:
        """Every pupil id read (analysis panel and excluded rows), for the privacy scanner."""
        return pd.concat([self.panel.data[UNIT], self.panel.excluded[UNIT]], ignore_index=True)

    def truth(self, outcome: str) -> float | None:
        """True ATT over treated pupil-years (simulated data only; ``None`` otherwise)."""
        return None if self.sim is None else float(self.sim.truth[outcome])

    def frame(self) -> pd.DataFrame:
        """The analysis panel with the derived columns the estimators use (:func:`analysis_frame`)."""
        return analysis_frame(self.panel.data)

    @staticmethod
    def cluster_column(cluster: str | None) -> str | None:
        """The column a ``cluster`` parameter clusters on (:func:`cluster_column`)."""
        return cluster_column(cluster)

    @staticmethod
    def split_covariates(
        frame: pd.DataFrame, covariates: Sequence[str]
    ) -> tuple[list[str], list[str]]:
        """Covariates usable in ``frame`` and those left out (:func:`available_covariates`)."""
        return available_covariates(frame, covariates)

    def sample_flow(self, *, k: int = K_MIN) -> pd.DataFrame:
        """The sample flow of this panel, safe to publish (:func:`sample_flow_table`)."""
        return sample_flow_table(self.panel, k=k)

    def truth_gt(self, outcome: str) -> pd.DataFrame | None:
        """True ATT(g,t) of ``outcome`` (``cohort, year, att``; simulated data only)."""
        if self.sim is None:
            return None
        tg = self.sim.truth_gt
        return tg[tg["outcome"] == outcome]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable description (no pupil-level data)."""
        out: dict[str, Any] = {"simulated": self.simulated, "source": self.source}
        if self.sim is not None:
            p = self.sim.params
            out["simulation"] = {
                k: p[k]
                for k in ("seed", "n_schools", "n_pupils", "cohorts", "years", "icc", "effects")
            }
            out["truth"] = dict(self.sim.truth)
        return out


def load(
    data: str | Path,
    *,
    seed: int,
    n_schools: int | None = None,
    n_pupils: int | None = None,
    k: int = K_MIN,
) -> ProgrammeData:
    """Load the evaluator's panel or draw a SIMULATED one.

    Parameters
    ----------
    data
        ``"simulated"``; ``"intake"`` (the panel ``make intake`` writes to
        ``data/processed/programme/panel.parquet``); or a ``.csv``/``.parquet`` file of the
        programme panel inside the repository (relative paths are read from its root).
    seed
        The run's seed: the simulated panel is drawn from its ``"data"`` stream
        (:class:`analysis.seeds.SeedStreams`; ``data="simulated"`` only).
    n_schools, n_pupils
        Simulator settings (``data="simulated"`` only; ``None``: the simulator's defaults).
    k
        Minimum pupils: fewer participants or never-participants than this cannot be reported
        without disclosing small groups, so the report stops.

    Returns
    -------
    ProgrammeData
    """
    if str(data) == "simulated":
        from analysis.data.simulate import programme_panel

        sizes = {"n_schools": n_schools, "n_pupils": n_pupils}
        sim = programme_panel(
            seed=SeedStreams(int(seed)).seed_for("data"),
            **{k_: int(v) for k_, v in sizes.items() if v is not None},
        )
        panel = load_panel(sim.data, exclusions="report")
        out = ProgrammeData(
            panel=panel,
            simulated=True,
            sim=sim,
            source=f"simulated (analysis.data.simulate.programme_panel, 'data' stream of run "
            f"seed {seed}, {sim.params['n_schools']} schools, {sim.params['n_pupils']} pupils)",
            label=t(
                "SIMULATED panel (analysis.data.simulate.programme_panel, random stream 'data' "
                "of run seed {seed}; {schools} schools, {pupils} pupils)",
                seed=str(seed),
                schools=integer(sim.params["n_schools"]),
                pupils=integer(sim.params["n_pupils"]),
            ),
        )
    else:
        if n_schools is not None or n_pupils is not None:
            raise fail(
                _SRC,
                "n_schools and n_pupils set the simulator: they apply only to data='simulated'",
                column="n_schools" if n_schools is not None else "n_pupils",
            )
        if str(data) == "intake":
            path = paths.PROCESSED_DIR / "programme" / "panel.parquet"
            if not path.exists():
                raise fail(
                    _SRC,
                    "data='intake' reads the panel written by `make intake` "
                    "(data/processed/programme/panel.parquet), which does not exist yet: see the "
                    "README, 'When the pupil records arrive'",
                    column="data",
                )
        else:
            path = Path(data)
            if not path.is_absolute():
                path = paths.ROOT / path
        try:
            path.resolve().relative_to(paths.ROOT)
        except ValueError:
            raise fail(
                _SRC, "the pupil file must lie inside the repository", column="data"
            ) from None
        panel = load_panel(path, exclusions="report")
        out = ProgrammeData(panel=panel, simulated=False, source=paths.relative(path))
    pupils = out.panel.pupils()
    n_part = int((pupils["cohort"] > 0).sum())
    n_never = int((pupils["cohort"] == 0).sum())
    if n_part < k or n_never < k:
        raise fail(
            out.source,
            f"the analysis panel needs at least {k} participants and {k} "
            "never-participants to be reported without disclosing small groups",
            column="cohort",
        )
    return out


def analysis_frame(panel_data: pd.DataFrame) -> pd.DataFrame:
    """Return the panel with the derived columns the estimators use.

    Adds ``female`` (1 if ``sex == "F"``), ``age`` (``year − birth_year``), ``participant``
    (1 if the pupil ever takes part) and ``baseline_school`` (the school of the pupil's first
    row, the cluster of a pupil who changes school, as :mod:`analysis.data.programme`
    recommends).  ``pupil_id`` becomes an integer code ranked as the ids sort (the estimators
    only group and order pupils, and every backend sorted, hashed and mapped text ids again
    on each fit: issue 14); the ids themselves stay in :attr:`ProgrammeData.pupil_ids`.
    """
    d = panel_data.sort_values([UNIT, TIME], kind="stable").reset_index(drop=True).copy()
    d[UNIT] = pd.factorize(d[UNIT], sort=True)[0].astype(np.int64)
    d["female"] = (d["sex"] == "F").astype(float)
    d["age"] = (d[TIME] - d["birth_year"]).astype(float)
    d["participant"] = (d[COHORT] > 0).astype(int)
    d["baseline_school"] = d.groupby(UNIT)["school_id"].transform("first")
    return d


def cluster_column(cluster: str | None) -> str | None:
    """Map the ``cluster`` parameter to the column used (``school_id`` → ``baseline_school``).

    ``None``, ``""`` or ``"pupil_id"`` mean pupil-level (unit) standard errors.
    """
    if cluster in (None, "", UNIT):
        return None
    return "baseline_school" if cluster == "school_id" else str(cluster)


def available_covariates(
    frame: pd.DataFrame, covariates: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Split ``covariates`` into those in ``frame`` without missing values, and the others."""
    keep, drop = [], []
    for c in covariates:
        (keep if c in frame.columns and frame[c].notna().all() else drop).append(c)
    return keep, drop


def missing_covariates_note(missing: Sequence[str]) -> Msg:
    """Warning text for covariates left out (not in the data, or with missing values)."""
    return t(
        "Covariates not in the data (or with missing values) and left out: {covariates}.",
        covariates=_cov_words(sorted(missing)),
    )


def programme_sentence() -> Msg:
    """One sentence on the programme's reach (from ``config/programme.yaml``)."""
    c = programme_facts().courses
    return t(
        "**Programme.** {name} ({funder}, {first}–{last}) reaches about {pupils} pupils and "
        "{parents} parents ({courses} courses).",
        name=c.name,
        funder=c.funder,
        first=year(c.first_year),
        last=year(c.last_year),
        pupils=integer(c.pupils),
        parents=integer(c.parents),
        courses=integer(c.courses),
    )


def _seeds(seed: int) -> dict[str, Any]:
    """The run's random streams as the estimators take them (ints, or ``SeedSequence``s)."""
    streams = SeedStreams(int(seed))
    return {
        "bands": streams.sequence("bands").spawn(4),
        # two more children of the same streams, so the first four stay as they were
        "dose_bands": int(streams.sequence("bands").spawn(5)[4].generate_state(1)[0]),
        "dose_data": streams.sequence("data").spawn(2)[1],
        "bootstrap": streams.seed_for("bootstrap"),
        "randomization": streams.seed_for("randomization"),
    }


# --------------------------------------------------------------------------------------------
# Privacy-safe descriptive tables (shared with the dropout page)
# --------------------------------------------------------------------------------------------

WITHHELD = N_("withheld")
EXCLUSION_WORDS: Mapping[str, str] = {
    EXCLUSION_RULES["no_pre_period"]: N_(
        "excluded: participants first observed in or after their edition's school year (no "
        "year before participation)"
    ),
    EXCLUSION_RULES["no_post_period"]: N_(
        "excluded: participants not observed in or after their edition's school year (left "
        "before taking part)"
    ),
}
"""Words for the documented exclusion rules (``analysis.data.programme.EXCLUSION_RULES``)."""
STEP_WORDS: Mapping[str, str] = {
    "input": N_("input file"),
    "analysis": N_("analysis panel"),
    "none": N_(
        "excluded: none (every participant has a year before and a year from their edition)"
    ),
    "merged": N_("excluded (rules merged, each removed fewer pupils than the threshold)"),
}
FLOW_COLUMNS: Mapping[str, str] = {
    "step": N_("Step"),
    "pupils": N_("Pupils"),
    "pupil_years": N_("Pupil-years"),
    "schools": N_("Schools"),
    "participants": N_("Participants"),
    "never_treated": N_("Never-participants"),
    "cohorts": N_("Editions"),
}


def _count(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return int(v)


def _edition(g: float) -> str:
    return f"{int(g)}/{(int(g) + 1) % 100:02d}"


def sample_flow_table(panel: LoadedPanel, *, k: int = K_MIN) -> pd.DataFrame:
    """Return the sample flow (input → exclusions → analysis panel) safe to publish.

    Counts come from :meth:`analysis.data.programme.LoadedPanel.sample_flow`.  Suppression,
    written here because the flow's rows add up (input = exclusions + analysis), which the
    generic :func:`analysis.privacy.suppress_small_cells` layout does not express:

    * exclusion rules are shown one by one only when every non-zero rule removed at least
      ``k`` pupils; otherwise they are merged into one row;
    * if the merged exclusions are fewer than ``k`` pupils, that row shows ``< k`` and the
      input row's pupil, pupil-year and participant counts are withheld (they would give the
      excluded number by subtraction).

    Returns
    -------
    pandas.DataFrame
        Human headers (:data:`FLOW_COLUMNS`); counts as integers, ``"< k"``, ``"withheld"``
        or empty; step names as message ids.
    """
    flow = panel.sample_flow()
    inp = flow.iloc[0]
    ana = flow.iloc[-1]
    excl = flow.iloc[1:-1]
    nonzero = excl[excl["pupils"].fillna(0) > 0]
    cols = list(FLOW_COLUMNS)
    small = f"< {k}"
    hide_input = False

    def step_words(step: str) -> str:
        return EXCLUSION_WORDS.get(step.removeprefix("excluded: "), step)

    if nonzero.empty:
        excl_rows = [{"step": STEP_WORDS["none"], "pupils": 0, "pupil_years": 0}]
    elif (nonzero["pupils"] >= k).all():
        excl_rows = [
            {
                "step": step_words(r.step),
                "pupils": _count(r.pupils),
                "pupil_years": _count(r.pupil_years),
            }
            for r in excl.itertuples()
        ]
    else:
        tot_p, tot_r = int(nonzero["pupils"].sum()), int(nonzero["pupil_years"].sum())
        if tot_p >= k:
            excl_rows = [{"step": STEP_WORDS["merged"], "pupils": tot_p, "pupil_years": tot_r}]
        else:
            hide_input = True
            excl_rows = [{"step": STEP_WORDS["merged"], "pupils": small, "pupil_years": small}]
    first: dict[str, Any] = {c: _count(inp[c]) for c in cols[1:]}
    if hide_input:
        for c in ("pupils", "pupil_years", "participants"):
            first[c] = WITHHELD
    rows = [{"step": STEP_WORDS["input"], **first}, *excl_rows]
    rows.append({"step": STEP_WORDS["analysis"], **{c: _count(ana[c]) for c in cols[1:]}})
    out = pd.DataFrame(
        [[r.get(c) if r.get(c) is not None else "" for c in cols] for r in rows],
        columns=cols,
        dtype=object,
    ).rename(columns=FLOW_COLUMNS)
    out.attrs["suppression"] = {"k": k, "input_withheld": hide_input}
    return out


NEVER = N_("never (comparison pool)")
COHORT_COLUMNS: Mapping[str, str] = {
    "cohort": N_("Edition"),
    "courses": N_("Courses"),
    "pupils": N_("Pupils"),
    "pupil_years": N_("Pupil-years"),
    "schools": N_("Schools"),
    "first_year": N_("First year observed"),
    "last_year": N_("Last year observed"),
}


def cohort_table(panel: LoadedPanel) -> pd.DataFrame:
    """Return one row per edition (the comparison pool first), for ``show_pupil_table``.

    Human headers (:data:`COHORT_COLUMNS`): edition (first school year of participation,
    "never" for the comparison pool), courses, pupils, pupil-years, schools, first and last
    year observed.
    """
    c = panel.cohorts()
    c["cohort"] = c["cohort"].map(lambda g: NEVER if g == 0 else _edition(g))
    return c[list(COHORT_COLUMNS)].rename(columns=COHORT_COLUMNS)


@dataclass(frozen=True)
class SampleFlowView:
    """Section "who is in the analysis": the sample flow and the pupils by edition.

    ``table`` goes to ``display.show_table``; ``cohorts`` to ``display.show_pupil_table``
    (``count_col=cohort_count``, ``keys=cohort_keys``).
    """

    table: pd.DataFrame
    caption: Text
    cohorts: pd.DataFrame
    cohorts_caption: Text
    cohort_count: str = COHORT_COLUMNS["pupils"]
    cohort_keys: tuple[str, ...] = (COHORT_COLUMNS["cohort"], COHORT_COLUMNS["courses"])


def sample_flow_view(data: ProgrammeData) -> SampleFlowView:
    """The sample-flow section of a page built on the programme panel."""
    return SampleFlowView(
        table=data.sample_flow(),
        caption=t(
            "Sample flow: pupils, pupil-years (one row per pupil and school year), schools, "
            "participants (pupils in any edition), never-participants and editions, from the "
            "input file to the analysis panel. Exclusion rules: "
            "analysis.data.programme.EXCLUSION_RULES. Counts below {k} pupils are shown as "
            "'< {k}' (and totals that would reveal them are withheld). Source: {source}.",
            k=integer(K_MIN),
            source=data.source_words,
        ),
        cohorts=cohort_table(data.panel),
        cohorts_caption=t(
            "Pupils by edition (first school year of participation; 'never' = comparison "
            "pool): courses, pupils, pupil-years, schools and the years they are observed. "
            "Source: {source}.",
            source=data.source_words,
        ),
    )


# --------------------------------------------------------------------------------------------
# Who takes part: balance and overlap (shared with the dropout page)
# --------------------------------------------------------------------------------------------


def _safe_bins(counts: np.ndarray, k: int) -> list[tuple[int, int]]:
    """Merge consecutive histogram bins so that every non-empty bar has at least ``k`` units.

    Returns ``(first_bin, last_bin)`` pairs; a trailing run below ``k`` is merged into the
    previous bar (or dropped when there is none, i.e. the group has fewer than ``k`` units).
    """
    runs: list[tuple[int, int]] = []
    start, acc = None, 0
    for i, c in enumerate(counts):
        if c == 0 and acc == 0:
            continue
        if start is None:
            start = i
        acc += int(c)
        if acc >= k:
            runs.append((start, i))
            start, acc = None, 0
    if acc and runs:
        runs[-1] = (runs[-1][0], len(counts) - 1)
    return runs


def overlap_figure(
    ps: pd.Series,
    participant: pd.Series,
    *,
    bins: int = 20,
    k: int = K_MIN,
    lang: str = "en",
) -> Figure:
    """Return a mirrored propensity-score histogram safe to publish, labelled in ``lang``.

    Like :func:`analysis.weighting.overlap_plot` (participants above the axis,
    never-participants below), but as densities, with adjacent bins merged so that no bar
    represents fewer than ``k`` pupils (that function draws raw counts, which can show a bar of
    one or two pupils).
    """
    import matplotlib.pyplot as plt

    tr = translator(lang)
    e = np.asarray(ps, dtype=float)
    d = np.asarray(participant, dtype=int)
    edges = np.linspace(0, max(float(e.max()), 1e-6) * 1.0001, bins + 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    for grp, sign, color, label in (
        (1, 1, "tab:orange", tr(N_("participants"))),
        (0, -1, "tab:blue", tr(N_("never-participants"))),
    ):
        x = e[d == grp]
        counts, _ = np.histogram(x, bins=edges)
        for a, b in _safe_bins(counts, k):
            lo, hi = edges[a], edges[b + 1]
            dens = counts[a : b + 1].sum() / len(x) / (hi - lo)
            ax.bar(
                lo,
                sign * dens,
                width=hi - lo,
                align="edge",
                color=color,
                alpha=0.75,
                edgecolor="white",
                label=label,
            )
            label = None
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlim(0, edges[-1])
    ax.set_xlabel(tr(N_("propensity score (probability of taking part given baseline covariates)")))
    ax.set_ylabel(tr(N_("density (never-participants below the axis)")))
    ax.xaxis.set_major_formatter(tick_formatter(lang, 2))
    ax.yaxis.set_major_formatter(tick_formatter(lang, 1))
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


BALANCE_COLUMNS: Mapping[str, str] = {
    "covariate": N_("Characteristic"),
    "mean_treated": N_("Mean, participants"),
    "mean_control": N_("Mean, never-participants"),
    "smd_unweighted": N_("SMD before weighting"),
    "smd_weighted": N_("SMD after weighting"),
    "variance_ratio": N_("Variance ratio after weighting"),
}


@dataclass(frozen=True)
class BalanceView:
    """Section "who takes part": the balance table and the overlap histogram.

    ``figure`` is a function of the language (for ``display.show_figure``).
    """

    table: pd.DataFrame
    caption: Text
    figure: Callable[[str], Figure] = field(repr=False)
    figure_caption: Text


def balance_view(balance: Balance, *, source: Text) -> BalanceView:
    """The balance-and-overlap section of a page built on the programme panel.

    Shares of 0/1 characteristics that reveal fewer than ``K_MIN`` pupils are masked
    (:func:`analysis.privacy.safe_balance`).  ``source``: the data source in words
    (:attr:`ProgrammeData.source_words`).
    """
    balance = safe_balance(balance)
    tab = balance.table[list(BALANCE_COLUMNS)].copy()
    tab["covariate"] = [COVARIATE_WORDS.get(c, c) for c in tab["covariate"]]
    return BalanceView(
        table=tab.rename(columns=BALANCE_COLUMNS),
        caption=t(
            "Baseline characteristics of participants and never-participants, one row per "
            "pupil: means, standardised mean differences (SMD) before and after weighting "
            "never-participants by their odds of taking part, and the variance ratio after "
            "weighting. Shares are between 0 and 1; the socio-economic index is standardised. "
            "Method: analysis.weighting (analysis.diagnostics.baseline_balance). Source: "
            "{source}.",
            source=source,
        ),
        figure=lambda lang: overlap_figure(balance.ps, balance.participant, lang=lang),
        figure_caption=t(
            "Propensity scores (probability of ever taking part given {covariates}; logit) of "
            "participants (above the axis) and never-participants (below), as densities. "
            "Adjacent bins are merged so that no bar represents fewer than {k} pupils. Source: "
            "{source}.",
            covariates=_cov_words(balance.covariates),
            k=integer(K_MIN),
            source=source,
        ),
    )


# --------------------------------------------------------------------------------------------
# Tables and figures of the DiD estimates
# --------------------------------------------------------------------------------------------


def group_time_table(
    result: StaggeredResult,
    counts: pd.DataFrame,
    *,
    k: int = K_MIN,
    n_boot: int = 999,
    seed: int | np.random.SeedSequence | None = 0,
) -> pd.DataFrame:
    """ATT(g,t) with pointwise CIs and a uniform band, cells with ≥ ``k`` treated pupils only.

    The band covers all *shown* ATT(g,t) jointly with probability ``level``: its critical
    value is :meth:`analysis.did.StaggeredResult.uniform_band` over the shown cells
    (``n_boot`` multiplier-bootstrap draws, ``seed``).  ``attrs["hidden_cells"]`` counts the
    cells left out.
    """
    gt = result.group_time()
    gt = gt.merge(counts[["cohort", "time", "n_treated"]], on=["cohort", "time"], how="left")
    ref = np.asarray(result.is_reference, dtype=bool)
    show = (gt["n_treated"].fillna(0) >= k).to_numpy() & ~ref & np.isfinite(gt["se"].to_numpy())
    crit = result.uniform_band(show, n_boot=n_boot, seed=seed)
    out = gt[show].drop(columns="n_treated").reset_index(drop=True)
    out.insert(2, "event_time", out["time"] - out["cohort"])
    out["cband_low"] = out["att"] - crit * out["se"]
    out["cband_high"] = out["att"] + crit * out["se"]
    out.attrs = {"crit_value": crit, "hidden_cells": int((~show & ~ref).sum())}
    return out


def _band_label(tr: Callable[[Any], str]) -> str:
    return tr(N_("uniform 95% band"))


def group_time_figure(
    gt: pd.DataFrame,
    *,
    spec: OutcomeSpec,
    truth_gt: pd.DataFrame | None = None,
    lang: str = "en",
) -> Figure:
    """Plot ATT(g,t) by school year, one panel per edition, with CIs and the uniform band.

    Pre-participation cells (left of the dashed line) test parallel trends; post cells are
    effects.  ``truth_gt`` (``cohort, year, att``): SIMULATED true effects, drawn as crosses.
    Labelled in ``lang``.  An empty table (no cell with enough participants) gives a figure
    that says so.
    """
    import matplotlib.pyplot as plt

    tr = translator(lang)
    cohorts = sorted(gt["cohort"].unique())
    if not cohorts:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            tr(N_("No edition-year cell has enough participants to be shown.")),
            ha="center",
            va="center",
        )
        return fig
    fig, axes = plt.subplots(
        1, len(cohorts), figsize=(3.2 * len(cohorts) + 1, 3.8), sharey=True, squeeze=False
    )
    s = spec.scale
    years = np.sort(gt["time"].unique())
    for ax, g in zip(axes[0], cohorts, strict=True):
        sub = gt[gt["cohort"] == g]
        x = sub["time"].to_numpy(float)
        ax.vlines(
            x,
            sub["cband_low"] * s,
            sub["cband_high"] * s,
            color="C0",
            alpha=0.2,
            lw=9,
            label=_band_label(tr),
        )
        ax.errorbar(
            x,
            sub["att"] * s,
            yerr=[(sub["att"] - sub["ci_low"]) * s, (sub["ci_high"] - sub["att"]) * s],
            fmt="o",
            color="C0",
            capsize=3,
            label=tr(N_("ATT(g,t), 95% CI")),
        )
        if truth_gt is not None:
            tg = truth_gt[truth_gt["cohort"] == g].set_index("year")["att"]
            post = (sub["time"] >= g).to_numpy()
            ax.plot(
                x[post],
                tg.reindex(sub["time"][post]).to_numpy() * s,
                "x",
                color="black",
                ms=8,
                label=tr(N_("true effect (SIMULATED)")),
            )
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(g - 0.5, color="grey", lw=0.8, ls="--")
        ax.set_xticks(years, [_edition(y) for y in years], rotation=45, fontsize="small")
        ax.set_title(tr(t("edition {edition}", edition=_edition(g))))
        ax.set_xlabel(tr(N_("school year")))
        ax.yaxis.set_major_formatter(tick_formatter(lang, 1))
    axes[0][0].set_ylabel(tr(t("ATT(g,t), {unit}", unit=term(spec.unit))))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False, fontsize="small")
    fig.suptitle(
        tr(t("Effect on the {outcome} by edition and school year", outcome=term(spec.label)))
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


CI95 = N_("95% CI")
#: Names of the event-study estimators (figure legends).
EVENT_STUDY_NAMES: Mapping[str, str] = {
    "cs": N_("Callaway–Sant'Anna"),
    "sun_abraham": N_("Sun–Abraham"),
    "did2s": N_("two-stage (did2s)"),
}


def event_study_figure(
    studies: Mapping[str, EventStudy],
    *,
    spec: OutcomeSpec,
    truth: pd.DataFrame | None = None,
    lang: str = "en",
) -> Figure:
    """Plot event-study coefficients of several estimators side by side, labelled in ``lang``.

    ``studies``: estimator name (a message id, e.g. of :data:`EVENT_STUDY_NAMES`) → study.
    The first study is drawn with its uniform band (shaded) and pointwise CIs; the others
    with pointwise CIs only.  ``truth``: ``event_time, att`` (SIMULATED true effects).
    """
    import matplotlib.pyplot as plt

    tr = translator(lang)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    s = spec.scale
    names = list(studies)
    width = 0.7 / max(len(names), 1)
    for i, name in enumerate(names):
        tab = studies[name].table()
        x = tab["rel_time"].to_numpy(float) + (i - (len(names) - 1) / 2) * width
        if i == 0 and "cband_low" in tab:
            ax.vlines(
                x,
                tab["cband_low"] * s,
                tab["cband_high"] * s,
                color=f"C{i}",
                alpha=0.2,
                lw=9,
                label=f"{tr(name)}: {_band_label(tr)}",
            )
        ax.errorbar(
            x,
            tab["estimate"] * s,
            yerr=[(tab["estimate"] - tab["ci_low"]) * s, (tab["ci_high"] - tab["estimate"]) * s],
            fmt="os^D"[i % 4],
            color=f"C{i}",
            capsize=3,
            ms=5,
            label=f"{tr(name)}: {tr(CI95)}",
        )
    ax.plot(
        [-1],
        [0],
        marker="o",
        mfc="white",
        color="black",
        ls="none",
        label=tr(N_("reference year (e = −1)")),
    )
    if truth is not None and len(truth):
        ax.plot(
            truth["event_time"],
            truth["att"] * s,
            "x",
            color="black",
            ms=8,
            label=tr(N_("true effect (SIMULATED)")),
        )
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(tr(N_("years since first participation (event time e)")))
    ax.set_ylabel(tr(t("effect, {unit}", unit=term(spec.unit))))
    ax.yaxis.set_major_formatter(tick_formatter(lang, 1))
    ax.set_title(tr(t("Event study: {outcome}", outcome=term(spec.label))))
    ax.legend(frameon=False, fontsize="small", ncol=2)
    fig.tight_layout()
    return fig


def scaled(
    df: pd.DataFrame,
    spec: OutcomeSpec,
    cols: Sequence[str] = (
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "true_effect",
        "att",
        "cband_low",
        "cband_high",
    ),
) -> pd.DataFrame:
    """Return ``df`` with effect columns converted to display units (``spec.scale``)."""
    out = df.copy()
    for c in cols:
        if c in out.columns:
            out[c] = out[c] * spec.scale
    return out


#: Few-cluster table: what each row estimates and how it is inferred (message ids).
ESTIMATE_OF_WORDS: Mapping[str, str] = {
    "cs": N_("Callaway–Sant'Anna ATT"),
    "2x2": N_("2×2 DiD, first year"),
}
INFERENCE_WORDS: Mapping[str, str] = {
    "analytic_pupil": N_("analytic, pupil level"),
    "analytic_cluster": N_("analytic, clustered by school"),
    "randomization_inference": N_(
        "randomization inference (re-assignments within school and edition)"
    ),
    "cr1": N_("analytic CR1, clustered by school (t with G − 1 degrees of freedom)"),
    "cr1_pupil": N_("analytic CR1, clustered by pupil"),
    "wild_cluster_bootstrap": N_("wild cluster bootstrap (restricted, by school)"),
}
FEW_COLUMNS: Mapping[str, str] = {
    "target": N_("Estimate of"),
    "check": N_("Inference"),
    "estimate": N_("Estimate"),
    "se": N_("Standard error"),
    "ci_low": N_("CI lower bound"),
    "ci_high": N_("CI upper bound"),
    "p_value": N_("p-value"),
    "clusters": N_("Clusters"),
    "draws": N_("Draws"),
}


def few_cluster_row(
    estimate_of: str,
    inference_: str,
    e: Any,
    clusters: int | None,
    *,
    target: str = "cs",
    check: str = "analytic_pupil",
    draws: int | None = None,
) -> dict:
    """One row of a few-cluster table (missing attributes shown as NaN).

    ``estimate_of`` and ``inference_`` are the English record kept in the results JSON (the
    SIINC dossier reads the inference names); ``target`` and ``check`` key the page's words
    (:data:`ESTIMATE_OF_WORDS`, :data:`INFERENCE_WORDS`).
    """
    return {
        "estimate_of": estimate_of,
        "inference": inference_,
        "target": target,
        "check": check,
        "estimate": getattr(e, "estimate", getattr(e, "statistic", np.nan)),
        "se": getattr(e, "se", np.nan),
        "ci_low": getattr(e, "ci_low", np.nan),
        "ci_high": getattr(e, "ci_high", np.nan),
        "p_value": e.p_value,
        "clusters": clusters,
        "draws": draws,
    }


def few_cluster_display(few: pd.DataFrame, spec: OutcomeSpec) -> pd.DataFrame:
    """The few-cluster table with human headers, effects in display units."""
    out = scaled(few, spec)
    out["target"] = [ESTIMATE_OF_WORDS[x] for x in out["target"]]
    out["check"] = [INFERENCE_WORDS[x] for x in out["check"]]
    for c in ("clusters", "draws"):
        out[c] = pd.Series(
            [None if v is None or not np.isfinite(v) else int(v) for v in out[c].astype(float)],
            index=out.index,
            dtype=object,
        )
    return out[list(FEW_COLUMNS)].rename(columns=FEW_COLUMNS)


def _p_words(p: float | None) -> Msg:
    if p is None:
        return t("not run")
    if not np.isfinite(p):
        return t("p undefined")
    if p < 0.001:
        return t("p < {value}", value=num(0.001, 3))
    return t("p = {value}", value=num(p, 3))


# --------------------------------------------------------------------------------------------
# Words (the significance calls come from analysis.significance only)
# --------------------------------------------------------------------------------------------

SIMULATED_HEAD = N_("**SIMULATED — NOT PROGRAMME RESULTS.**")


def effect_sentence(
    *,
    spec: OutcomeSpec,
    estimate: Estimate,
    simulated: bool,
    call: Significance | None = None,
) -> Text:
    """The headline estimate in words, with its call under the pre-specified rule.

    ``call``: the :func:`analysis.significance.classify` result of the estimate (default:
    classified on its interval alone, no few-cluster check).
    """
    e = estimate
    call = call or significance.classify(ci_low=e.ci_low, ci_high=e.ci_high)
    sentence = t(
        "Taking part is estimated to change {outcome} by **{est}** ({level} confidence "
        "interval from {lo} to {hi}).",
        outcome=term(spec.the_label),
        est=spec.value(e.estimate),
        level=pct(100 * e.level, 0),
        lo=spec.number(e.ci_low),
        hi=spec.number(e.ci_high),
    )
    parts: list[Text] = [sentence, call.words()]
    if simulated:
        parts.insert(0, term(SIMULATED_HEAD))
    return join(parts, " ")


def mde_sentence(*, spec: OutcomeSpec, estimate: Estimate, mde: float, mde_realised: float) -> Msg:
    """The estimate against the minimum detectable effect, in words."""
    bigger = abs(estimate.estimate) >= mde
    values = {
        "mde": spec.value(mde, signed=False),
        "realised": spec.value(mde_realised, signed=False),
    }
    if bigger:
        return t(
            "The minimum detectable effect of this design (80% power, 5% two-sided test) is "
            "about **{mde}** (ex-ante formula) and {realised} from the realised standard error. "
            "The estimate is larger than the MDE: the data are informative about effects of "
            "this size.",
            **values,
        )
    return t(
        "The minimum detectable effect of this design (80% power, 5% two-sided test) is about "
        "**{mde}** (ex-ante formula) and {realised} from the realised standard error. The "
        "estimate is smaller than the MDE: effects of this size are often missed, so an "
        "interval that includes zero is not evidence of no effect, and one that excludes zero "
        "may overstate the true effect (winner's curse).",
        **values,
    )


def few_cluster_sentence(few: pd.DataFrame) -> Text:
    """The p-values of the few-cluster table in one sentence."""
    ps = few.dropna(subset=["p_value"])
    items = [
        t(
            "{target}, {check}: {p}",
            target=term(ESTIMATE_OF_WORDS[r.target]),
            check=term(INFERENCE_WORDS[r.check]),
            p=_p_words(r.p_value),
        )
        for r in ps.itertuples()
    ]
    return t(
        "With few schools, inference is checked several ways: {pvalues}.", pvalues=join(items, "; ")
    )


def truth_sentence(*, spec: OutcomeSpec, estimate: Estimate, truth: float) -> Msg:
    """Whether the CI covers the SIMULATED truth."""
    e = estimate
    values = {"truth": spec.value(truth), "level": pct(100 * e.level, 0)}
    if e.ci_low <= truth <= e.ci_high:
        return t(
            "In this simulated panel the true effect is {truth}; the {level} confidence "
            "interval covers it.",
            **values,
        )
    return t(
        "In this simulated panel the true effect is {truth}; the {level} confidence interval "
        "does not cover it.",
        **values,
    )


def significance_checks(
    call: Significance, *, clusters: int | None
) -> list[tuple[Msg, bool | None, Msg]]:
    """``(check, agrees, outcome)`` of the primary inference and each few-cluster check.

    ``agrees``: whether the check says the same about zero as the primary interval (``None``:
    not run or undefined).
    """
    rejects = call.primary_rejects
    if rejects is None:
        primary = t("undefined")
    elif rejects:
        primary = t("excludes zero")
    else:
        primary = t("includes zero")
    out: list[tuple[Msg, bool | None, Msg]] = [
        (
            t("cluster-robust interval ({n} schools)", n=integer(clusters))
            if clusters
            else t("pupil-level interval"),
            None,
            primary,
        )
    ]
    for name, p in call.checks.items():
        label = term(significance.CHECK_NAMES[name])
        if p is None:
            out.append((label, None, t("not run")))
            continue
        agrees = (
            None if rejects is None or not np.isfinite(p) else bool((p <= call.alpha) == rejects)
        )
        out.append((label, agrees, _p_words(p)))
    return out


def headline_numbers(
    *, spec: OutcomeSpec, estimate: Estimate, truth: float | None, mde: float
) -> dict[str, float]:
    """The 3-4 numbers of the reports index (display units)."""
    s = spec.scale
    out = {
        f"ATT ({spec.unit})": estimate.estimate * s,
        f"95% CI low ({spec.unit})": estimate.ci_low * s,
        f"95% CI high ({spec.unit})": estimate.ci_high * s,
    }
    if truth is not None:
        out[f"true effect, SIMULATED ({spec.unit})"] = truth * s
    else:
        out[f"MDE ({spec.unit})"] = mde * s
    return out


def _truth_cells(data: ProgrammeData, outcome: str) -> pd.DataFrame | None:
    tg = data.truth_gt(outcome)
    return None if tg is None else tg.rename(columns={"year": "time"})


# --------------------------------------------------------------------------------------------
# The analysis object of notebook 03
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupTimeView:
    """Section "effects by edition and school year": figure, pre-trend test, estimator notes.

    ``figure`` is a function of the language.  ``pretrend`` is ``None`` when no
    pre-participation cell is large enough; then ``pretrend_note`` says so.
    """

    figure: Callable[[str], Figure] = field(repr=False)
    caption: Text
    pretrend: pd.DataFrame | None
    pretrend_caption: Text
    pretrend_note: Text
    estimator_notes: Text


@dataclass(frozen=True)
class EventStudyView:
    """Section "event study": the figure of three estimators (a function of the language)."""

    figure: Callable[[str], Figure] = field(repr=False)
    caption: Text


@dataclass(frozen=True)
class HonestView:
    """HonestDiD: the robust confidence sets (``None`` when not computable) and their words."""

    table: pd.DataFrame | None
    caption: Text
    text: Text
    kind: str


@dataclass(frozen=True)
class TriangulationView:
    """Section "triangulation": the estimators' table and the Goodman-Bacon decomposition.

    ``bacon`` is ``None`` when no balanced sub-panel qualifies (``bacon_kind="warning"``).
    """

    table: pd.DataFrame
    caption: Text
    bacon: pd.DataFrame | None
    bacon_caption: Text
    bacon_text: Text
    bacon_kind: str


@dataclass(frozen=True)
class FewClustersView:
    """Section "few clusters": analytic next to bootstrap and randomization inference."""

    table: pd.DataFrame
    caption: Text
    note: Text | None = None


@dataclass(frozen=True)
class RobustnessView:
    """Section "robustness": each pre-specified variant next to the headline."""

    table: pd.DataFrame
    caption: Text
    text: Text


@dataclass(frozen=True)
class RobustnessRun:
    """One robustness variant of the headline (an estimate, or why it was not run).

    Attributes
    ----------
    key
        ``<check>:<variant>``, the key in ``results["robustness"]``.
    label
        Its name on the page (a message id).
    estimate
        The variant's ATT (natural scale), ``None`` when not run.
    reason
        Why it was not run (English, for the results JSON).
    """

    key: str
    label: str
    estimate: Estimate | None
    reason: str | None = None


#: Names of the robustness variants (message ids), by key.
ROBUSTNESS_WORDS: Mapping[str, str] = {
    "control_group:not_yet_treated": N_("comparison group: never and not-yet participants"),
    "control_group:never_treated": N_("comparison group: never-participants only"),
    "base_period:varying": N_("base period: varying"),
    "base_period:universal": N_("base period: universal"),
    "anticipation:1": N_("anticipation: 1 school year"),
    "anticipation:0": N_("anticipation: none"),
    "covariates:baseline": N_("with the baseline covariates (doubly robust)"),
    "covariates:none": N_("without covariates"),
    "estimator:ipw_covariates": N_("inverse probability weighting, with the baseline covariates"),
    "estimator:reg_covariates": N_("outcome regression, with the baseline covariates"),
    "estimator:sun_abraham": N_("Sun–Abraham (interaction-weighted)"),
    "estimator:imputation": N_("imputation (Borusyak–Jaravel–Spiess)"),
}
LEVEL_WORDS: Mapping[str, str] = {
    "distinguishable": N_("distinguishable from zero"),
    "borderline": N_("borderline"),
    "not distinguishable": N_("not distinguishable from zero"),
    "undefined": N_("undefined"),
}
ROBUSTNESS_COLUMNS = (
    N_("Variant"),
    N_("ATT"),
    N_("CI lower bound"),
    N_("CI upper bound"),
    N_("Interval alone"),
    N_("Same conclusion as the headline"),
)
HONEST_METHOD_WORDS: Mapping[str, str] = {
    "relative_magnitude": N_("relative magnitudes"),
    "smoothness": N_("smoothness"),
}
TRIANGULATION_COLUMNS: Mapping[str, str] = {
    "estimator": N_("Estimator"),
    "estimand": N_("What it averages"),
    "estimate": N_("Estimate"),
    "se": N_("Standard error"),
    "ci_low": N_("CI lower bound"),
    "ci_high": N_("CI upper bound"),
    "p_value": N_("p-value"),
    "true_effect": N_("True effect (SIMULATED)"),
}
BACON_WORDS: Mapping[str, str] = {
    "treated_vs_never": N_("participants vs never-participants"),
    "earlier_vs_later": N_("earlier editions vs later ones not yet treated"),
    "later_vs_earlier": N_("later editions vs earlier ones already treated ('forbidden')"),
}
BACON_COLUMNS: Mapping[str, str] = {
    "comparison": N_("Comparison"),
    "weight": N_("Weight in TWFE"),
    "estimate": N_("Weighted mean estimate"),
    "comparisons": N_("Number of 2×2 comparisons"),
}


def _same_call(
    head: Significance, lo: float, hi: float, att: float, head_att: float
) -> bool | None:
    """Whether a variant's interval says the same about zero (and the sign) as the headline's."""
    if head.primary_rejects is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    rejects = bool(lo > 0 or hi < 0)
    if rejects != head.primary_rejects:
        return False
    return bool(not rejects or np.sign(att) == np.sign(head_att))


@dataclass(frozen=True)
class ProgrammeAnalysis:
    """Every estimate of the programme DiD page, built once by :meth:`build`.

    The section methods return what the notebook shows (tables, figures as functions of the
    language, captions and words as messages); :meth:`to_dict` the numbers for
    ``report.save``.  Attributes are the method results (:mod:`analysis.did`,
    :mod:`analysis.diagnostics`, :mod:`analysis.inference`, :mod:`analysis.honest`).
    ``randomization`` and ``wild_bootstrap`` are ``None`` for a panel with one school
    (:attr:`one_school`).
    """

    spec: OutcomeSpec
    data: ProgrammeData
    frame: pd.DataFrame = field(repr=False)
    design: HeadlineDesign
    control: str
    method: str
    covariates: tuple[str, ...]
    balance_covariates: tuple[str, ...]
    missing_covariates: tuple[str, ...]
    cluster: str | None
    n_schools: int
    seed: int
    bootstrap_reps: int
    ri_reps: int
    band_draws: int
    horizon: int
    window: tuple[int, int]
    baseline: Balance
    cs: StaggeredResult
    cs_cells: StaggeredResult
    cs_alt: StaggeredResult | None
    cell_counts: pd.DataFrame = field(repr=False)
    gt: pd.DataFrame = field(repr=False)
    pretrend: PretrendSummary | None
    es_cs: EventStudy
    es_sa: EventStudy
    es_2s: EventStudy
    honest_result: HonestDiDResult | None
    honest_smooth: HonestDiDResult | None
    tri: pd.DataFrame = field(repr=False)
    estimates: Mapping[str, Estimate] = field(repr=False)
    bacon: BaconSummary | None
    few: pd.DataFrame = field(repr=False)
    randomization: inference.RandomizationResult | None
    wild_bootstrap: Estimate | None
    main: Estimate
    call: Significance
    variants: tuple[RobustnessRun, ...]
    mde_result: MDEResult
    mde: float
    mde_realised: float
    truth: float | None
    dose: DoseSection | None = None

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        *,
        data: str | Path | ProgrammeData,
        outcome: str,
        seed: int,
        control: str | None = None,
        method: str = "dr",
        covariates: Sequence[str] | None = None,
        balance_covariates: Sequence[str] = BALANCE_COVARIATES,
        cluster: str | None = "school_id",
        bootstrap_reps: int = 999,
        ri_reps: int = 499,
        band_draws: int = 999,
        n_schools: int | None = None,
        n_pupils: int | None = None,
    ) -> ProgrammeAnalysis:
        """Load the data and run every estimator of the page (one call, deterministic).

        Parameters
        ----------
        data
            ``"simulated"``, a file of the programme panel (:func:`load`), or a loaded
            :class:`ProgrammeData`.
        outcome
            A key of :data:`OUTCOMES` (dropout: :mod:`analysis.reports.dropout`).
        seed
            The run's seed, split into the streams of the module docstring.
        control, covariates
            Comparison group and covariates of the headline fit.  For an outcome with a
            pre-specified design (``config/analysis_plan.yaml``) they default to the design
            and are refused when they contradict it (:func:`headline_design_of`).
        method
            Callaway-Sant'Anna estimation method of the headline (``"dr"``, ``"ipw"``,
            ``"reg"``; without covariates the three coincide).
        balance_covariates
            Baseline characteristics of the balance table; the covariate robustness variants
            condition on them when the headline has no covariates.
        cluster
            ``"school_id"`` (clustered by the pupil's first school), another column, or
            ``None``/``"pupil_id"`` (pupil level).  With a single cluster, inference falls
            back to the pupil level and the few-cluster checks are not run (the page says so).
        bootstrap_reps, ri_reps, band_draws
            Wild cluster bootstrap draws, randomization-inference re-assignments and
            multiplier-bootstrap draws of the uniform bands.
        n_schools, n_pupils
            Simulator settings (``data="simulated"``; ``None``: the simulator's defaults).
        """
        spec = _spec(outcome)
        design = headline_design_of(outcome, control=control, covariates=covariates)
        seeds = _seeds(seed)
        prog = (
            data
            if isinstance(data, ProgrammeData)
            else load(data, seed=seed, n_schools=n_schools, n_pupils=n_pupils)
        )
        frame = prog.frame()
        cl = prog.cluster_column(cluster)
        one_school = bool(cl) and int(frame[cl].nunique()) < 2
        if one_school:  # one school: no cluster-robust inference (issue 10)
            cl = None
        covs, miss_cov = prog.split_covariates(frame, design.covariates)
        bal_covs, miss_bal = prog.split_covariates(frame, balance_covariates)
        kw = {"outcome": outcome, **COLS}
        with warnings.catch_warnings():
            # estimator notes are reported on the page where they matter (cs.notes)
            warnings.simplefilter("ignore")
            horizon = did.effect_horizon(frame, **kw, min_units=MIN_CELL)
            window = did.event_window(frame, **kw)
            baseline = diagnostics.baseline_balance(
                frame, unit=UNIT, treatment="participant", covariates=bal_covs
            )
            head_kw = {
                "control": design.control,
                "method": method,
                "base_period": design.base_period,
                "anticipation": design.anticipation,
            }
            # every Callaway-Sant'Anna fit of the page, by its options: a robustness variant
            # that is another section's fit (the varying base period of the cells, the
            # covariate fit of the triangulation) is taken from here, not fitted again
            fits: dict[tuple, StaggeredResult] = {}
            head = {**kw, **head_kw, "covariates": covs, "cluster": cl, "allow_unbalanced": True}
            cs = fits[_fit_key(head)] = did.staggered(frame, **head)
            counts = did.treated_cell_counts(frame, **kw)
            # ATT(g,t) cells and the pre-trend test: each pre-participation cell against the
            # year before it (varying base period, as R did's pre-test; the cell counts are of
            # that layout).  Post-participation cells, hence the headline, are the same under
            # both base periods.
            cells_spec = {**head, "base_period": "varying"}
            if _fit_key(cells_spec) not in fits:
                fits[_fit_key(cells_spec)] = did.staggered(frame, **cells_spec)
            cs_cells = fits[_fit_key(cells_spec)]
            gt = group_time_table(cs_cells, counts, n_boot=band_draws, seed=seeds["bands"][0])
            pre = did.pretrend_tests(cs_cells, sizes=counts, min_treated=MIN_CELL)
            es_kw = {**kw, "window": window, "cluster": cl or UNIT}
            if cs.base_period == "universal" and cs.anticipation == 0:
                # the event study of the headline fit (event_study(estimator="cs") would
                # refit exactly this)
                es_cs = cs_event_study(cs, window=window, seed=seeds["bands"][1], n_boot=band_draws)
            else:
                es_cs = did.event_study(
                    frame,
                    **kw,
                    estimator="cs",
                    window=window,
                    control=design.control,
                    method=method,
                    covariates=covs,
                    cluster=cl,
                    seed=seeds["bands"][1],
                    n_boot=band_draws,
                    allow_unbalanced=True,
                )
            es_sa = did.event_study(frame, **es_kw, estimator="sun_abraham", seed=seeds["bands"][2])
            es_2s = did.event_study(frame, **es_kw, estimator="did2s", seed=seeds["bands"][3])
            hd = _honest(es_cs, "relative_magnitude")
            hd_sd = _honest(es_cs, "smoothness")
            cs_alt = _alternative_fit(
                frame, outcome=outcome, cs=cs, covariates=bal_covs, cluster=cl, fits=fits
            )
            # the stacked first-year 2×2 of the triangulation and its wild bootstrap: one stack
            stack = did.first_year_stack(frame, **kw, cluster=cl)
            tri, ests = _triangulation(
                frame,
                outcome=outcome,
                cs=cs,
                cs_alt=cs_alt,
                sun_abraham=es_sa,
                cluster=cl,
                data=prog,
                max_e=horizon,
                stack=stack,
            )
            bacon = diagnostics.bacon_on_balanced_subpanel(frame, **kw, cluster=cl)
            few, ri, wcb = _few_clusters(
                frame,
                outcome=outcome,
                cs=cs,
                two=ests["2x2"],
                cluster=cl,
                reps=bootstrap_reps,
                ri_reps=ri_reps,
                seeds=seeds,
                max_e=horizon,
                one_school=one_school,
                stack=stack,
            )
            with did.shared_propensity_scores():  # the DR and IPW variants: the same logits
                variants = _robustness_runs(
                    frame,
                    outcome=outcome,
                    cs=cs,
                    design=design,
                    covariates=bal_covs,
                    cluster=cl,
                    max_e=horizon,
                    estimates=ests,
                    fits=fits,
                )
        main = cs.aggregate("simple", max_e=horizon).overall
        if one_school:
            # the pre-specified primary inference (cluster-robust) is undefined with one school
            call = significance.classify(ci_low=float("nan"), ci_high=float("nan"))
        else:
            call = significance.classify(
                ci_low=main.ci_low,
                ci_high=main.ci_high,
                wild_cluster_bootstrap=None if wcb is None else wcb.p_value,
                randomization_inference=None if ri is None else ri.p_value,
            )
        pupils = frame.drop_duplicates(UNIT)
        mde_res, mde = diagnostics.did_mde(
            frame,
            **kw,
            n_treated=int((pupils[COHORT] > 0).sum()),
            n_control=int((pupils[COHORT] == 0).sum()),
            binary=spec.binary,
        )
        cells = _truth_cells(prog, outcome)
        return cls(
            spec=spec,
            data=prog,
            frame=frame,
            design=design,
            control=design.control,
            method=method,
            covariates=tuple(covs),
            balance_covariates=tuple(bal_covs),
            missing_covariates=tuple(sorted(set(miss_cov + miss_bal))),
            cluster=cl,
            n_schools=int(frame["baseline_school"].nunique()),
            seed=int(seed),
            bootstrap_reps=int(bootstrap_reps),
            ri_reps=int(ri_reps),
            band_draws=int(band_draws),
            horizon=horizon,
            window=window,
            baseline=baseline,
            cs=cs,
            cs_cells=cs_cells,
            cs_alt=cs_alt,
            cell_counts=counts,
            gt=gt,
            pretrend=pre,
            es_cs=es_cs,
            es_sa=es_sa,
            es_2s=es_2s,
            honest_result=hd,
            honest_smooth=hd_sd,
            tri=tri,
            estimates=ests,
            bacon=bacon,
            few=few,
            randomization=ri,
            wild_bootstrap=wcb,
            main=main,
            call=call,
            variants=tuple(variants),
            mde_result=mde_res,
            mde=mde,
            mde_realised=diagnostics.realised_mde(main.se),
            truth=None if cells is None else cs.simple_estimand(cells, max_e=horizon),
            dose=_dose_section(frame, data=prog, outcome=outcome, seeds=seeds, biters=band_draws),
        )

    # ------------------------------------------------------------------ helpers
    @property
    def simulated(self) -> bool:
        """Whether the page runs on a SIMULATED panel."""
        return self.data.simulated

    @property
    def one_school(self) -> bool:
        """Whether the panel has a single school (no cluster-robust inference)."""
        return self.n_schools < 2

    def _se_words(self) -> Msg:
        if self.cluster:
            return t("standard errors clustered by school ({n} schools)", n=integer(self.n_schools))
        return t("pupil-level standard errors")

    def _crosses(self) -> Text:
        return t("Crosses: true effects of the SIMULATED panel.") if self.simulated else ""

    def _source(self) -> Msg:
        return t("Source: {source}.", source=self.data.source_words)

    def missing_covariates_note(self) -> Msg:
        """Warning text when covariates were left out (see :attr:`missing_covariates`)."""
        return missing_covariates_note(self.missing_covariates)

    def one_school_note(self) -> Msg:
        """Why the inference sections say less with a single school."""
        return t(
            "**One school only.** Cluster-robust inference and the few-cluster checks (wild "
            "cluster bootstrap, randomization inference within school and edition) are "
            "undefined with a single school: the estimates are shown with pupil-level standard "
            "errors, which ignore that pupils of one school share shocks, and the effect is not "
            "called distinguishable from zero or not."
        )

    def notes(self) -> list[tuple[Msg, str]]:
        """Warnings the page shows before its sections: ``(text, kind)``."""
        out: list[tuple[Msg, str]] = []
        if self.missing_covariates:
            out.append((self.missing_covariates_note(), "warning"))
        if self.one_school:
            out.append((self.one_school_note(), "warning"))
        return out

    def interval(self, e: Estimate) -> Msg:
        """An estimate with its interval, e.g. ``−2,39 punti percentuali di ore [−3,14; −1,65]``."""
        return t(
            "{est} [{lo}; {hi}]",
            est=self.spec.value(e.estimate),
            lo=self.spec.number(e.ci_low),
            hi=self.spec.number(e.ci_high),
        )

    def headline_text(self) -> Msg:
        """The headline as the index shows it: ATT [low; high] in display units."""
        return self.interval(self.main)

    # ------------------------------------------------------------------ sections
    def question(self) -> Text:
        """Markdown: the question, the estimand, the design and the assumptions in words."""
        spec, horizon, d = self.spec, self.horizon, self.design
        return join(
            [
                t(
                    "**Question.** Did taking part in a programme edition change {outcome} "
                    "among the pupils who took part, compared with what would have happened to "
                    "them without the programme?",
                    outcome=term(spec.the_label),
                ),
                programme_sentence(),
                t(
                    "**Estimand.** The average treatment effect on the treated (ATT): the mean, "
                    "over participants and over the school years from their edition on, of the "
                    "difference between their outcome and the outcome they would have had "
                    "without taking part, in {unit}. Editions start in different school years "
                    "(staggered adoption), so the effect is first estimated for each edition g "
                    "and school year t, ATT(g,t), and then averaged with weights proportional to "
                    "edition size (Callaway & Sant'Anna 2021), over the first {years} school "
                    "year(s) of participation (those reached by at least {min_cell} "
                    "participants; later years rest on too few pupils for reliable standard "
                    "errors and are shown only in the event study).",
                    unit=term(spec.unit),
                    years=integer(horizon + 1),
                    min_cell=integer(MIN_CELL),
                ),
                join(
                    [
                        d.words(),
                        t(
                            "Each participant's change since the year before their edition is "
                            "compared with the change of the comparison pupils over the same "
                            "years ({method} estimator; {se}).",
                            method=term(METHOD_WORDS[self.method]),
                            se=self._se_words(),
                        ),
                    ],
                    " ",
                ),
                t(
                    "**Identifying assumptions, in words.** (1) *Parallel trends*: without the "
                    "programme, participants' outcomes would have changed on average like the "
                    "comparison pupils'; differences in *levels* are allowed. (2) *No "
                    "anticipation*: outcomes do not change before an edition because of it. (3) "
                    "*Overlap*: comparison pupils exist for every kind of participant. (4) "
                    "Leaving the records (changing school, finishing) is unrelated to a pupil's "
                    "untreated trend. Section 4 tests (1) before participation, section 5 asks "
                    "how large a violation would overturn the result, section 3 shows (3), and "
                    "section 8 relaxes (2) and the choice of comparison group."
                ),
                t("Data: {source}.", source=self.data.source_words),
            ],
            "\n\n",
        )

    def sample_flow(self) -> SampleFlowView:
        """Section 2: who is in the analysis."""
        return sample_flow_view(self.data)

    def balance(self) -> BalanceView:
        """Section 3: who takes part (balance and overlap)."""
        return balance_view(self.baseline, source=self.data.source_words)

    def _estimator_notes(self) -> Text:
        """The estimator's notes in words (counts only, never rows)."""
        y = self.spec.name
        n_missing = int(self.frame[y].isna().sum())
        parts: list[Text] = []
        if n_missing >= K_MIN:
            parts.append(
                t(
                    "{n} pupil-years without a value of the outcome are left out.",
                    n=integer(n_missing),
                )
            )
        elif n_missing:
            parts.append(
                t(
                    "Fewer than {k} pupil-years without a value of the outcome are left out.",
                    k=integer(K_MIN),
                )
            )
        parts.append(
            t(
                "Pupils are observed in only some of the {years} school years (a lower "
                "secondary school lasts three), so each ATT(g,t) uses the pupils observed in its "
                "base year and in t.",
                years=integer(self.frame[TIME].nunique()),
            )
        )
        return join([t("**Estimator notes.**"), *parts], " ")

    def group_time(self) -> GroupTimeView:
        """Section 4: ATT(g,t) with the uniform band, and the pre-trend test."""
        spec, gt, pre = self.spec, self.gt, self.pretrend
        truth_gt = self.data.truth_gt(spec.name)
        caption = join(
            [
                t(
                    "ATT(g,t) on the {outcome} ({unit}) by edition and school year, with "
                    "pointwise 95% confidence intervals and the uniform 95% band (shaded; {draws} "
                    "multiplier-bootstrap draws), Callaway–Sant'Anna ({method}), {se}. Dashed "
                    "line: start of the edition. Each pre-participation cell is compared with "
                    "the year before it (varying base period); cells from the edition on, and "
                    "so the headline, are the same under the headline's universal base period. "
                    "Cells with fewer than {k} participants are not shown ({hidden}).",
                    outcome=term(spec.label),
                    unit=term(spec.unit),
                    draws=integer(self.band_draws),
                    method=term(METHOD_WORDS[self.method]),
                    se=self._se_words(),
                    k=integer(K_MIN),
                    hidden=integer(gt.attrs["hidden_cells"]),
                ),
                self._crosses(),
                self._source(),
            ],
            " ",
        )
        return GroupTimeView(
            figure=lambda lang: group_time_figure(gt, spec=spec, truth_gt=truth_gt, lang=lang),
            caption=caption,
            pretrend=None if pre is None else _pretrend_display(pre),
            pretrend_caption=""
            if pre is None
            else t(
                "Pre-trend tests: are all pre-participation ATT(g,t) zero? Cells with at least "
                "{min} participants ({cells} cells). A small p-value speaks against parallel "
                "trends; a large one does not prove them (pre-tests have little power). The F "
                "version corrects the clustered test for the small number of schools.",
                min=integer(pre.min_treated),
                cells=integer(pre.cells),
            ),
            pretrend_note=t(
                "No pre-participation cell has enough participants for a pre-trend test."
            ),
            estimator_notes=self._estimator_notes(),
        )

    def event_study(self) -> EventStudyView:
        """Section 5: the event study of three estimators (Callaway–Sant'Anna with its band)."""
        spec, window = self.spec, self.window
        truth = None
        if self.data.sim is not None:
            te = self.data.sim.truth_event()
            truth = te[(te["outcome"] == spec.name) & te["event_time"].between(0, window[1])]
        studies = {
            EVENT_STUDY_NAMES["cs"]: self.es_cs,
            EVENT_STUDY_NAMES["sun_abraham"]: self.es_sa,
            EVENT_STUDY_NAMES["did2s"]: self.es_2s,
        }
        return EventStudyView(
            figure=lambda lang: event_study_figure(studies, spec=spec, truth=truth, lang=lang),
            caption=join(
                [
                    t(
                        "Event study of the {outcome} ({unit}): effects by years since first "
                        "participation, relative to the year before (e = −1), event times {lo} "
                        "to {hi} (each with at least {k} participants). Callaway–Sant'Anna with "
                        "its uniform 95% band (shaded) and pointwise 95% confidence intervals; "
                        "Sun–Abraham and two-stage DiD with pointwise 95% confidence intervals; "
                        "{se}.",
                        outcome=term(spec.label),
                        unit=term(spec.unit),
                        lo=num(window[0], 0, sign=True),
                        hi=num(window[1], 0, sign=True),
                        k=integer(K_MIN),
                        se=self._se_words(),
                    ),
                    self._crosses(),
                    self._source(),
                ],
                " ",
            ),
        )

    def honest(self) -> HonestView:
        """Section 5: HonestDiD sensitivity of the first-year effect (both restrictions)."""
        hd, sd, spec = self.honest_result, self.honest_smooth, self.spec
        if hd is None and sd is None:
            return HonestView(
                table=None,
                caption="",
                text=t(
                    "No pre-participation event time has {k} or more participants: the "
                    "HonestDiD sensitivity cannot be computed.",
                    k=integer(K_MIN),
                ),
                kind="warning",
            )
        rows = []
        for r in (hd, sd):
            if r is None:
                continue
            s = 1.0 if r.method == "relative_magnitude" else spec.scale
            for m, lo, hi in zip(r.grid, r.ci_low, r.ci_high, strict=True):
                rows.append(
                    [HONEST_METHOD_WORDS[r.method], m * s, lo * spec.scale, hi * spec.scale]
                )
        table = pd.DataFrame(
            rows,
            columns=[
                N_("Restriction"),
                N_("Bound (Mbar or M)"),
                N_("Robust CI lower bound"),
                N_("Robust CI upper bound"),
            ],
        )
        return HonestView(
            table=table,
            caption=t(
                "HonestDiD: 95% robust confidence sets for the effect in the first "
                "participation year ({unit}). Relative magnitudes (C-LF): the "
                "post-participation violation of parallel trends may be up to Mbar times the "
                "largest pre-participation one. Smoothness (FLCI): the slope of the violation "
                "may change by up to M ({unit}) per year. Mbar = 0 or M = 0 is the benchmark "
                "without violations (for smoothness, a linear trend is still allowed). Method: "
                "analysis.honest (after R HonestDiD).",
                unit=term(spec.unit),
            ),
            text=join([_honest_text(r, spec) for r in (hd, sd) if r is not None], "\n\n"),
            kind="info",
        )

    def triangulation(self) -> TriangulationView:
        """Section 6: five estimators of the same effect, and the Goodman-Bacon decomposition."""
        spec, b = self.spec, self.bacon
        show = scaled(self.tri, spec)
        if not self.simulated:
            show = show.drop(columns="true_effect")
        show = show.rename(columns=TRIANGULATION_COLUMNS)
        caption = join(
            [
                t(
                    "Estimates of the effect of participation on the {outcome}, {unit} "
                    "(p-values unscaled); {se}.",
                    outcome=term(spec.label),
                    unit=term(spec.unit),
                    se=self._se_words(),
                ),
                t(
                    "True effect: the SIMULATED truth of each estimator's own estimand "
                    "(first-year effect for the 2×2; edition-size-weighted cells for "
                    "Callaway–Sant'Anna; mean over treated pupil-years otherwise)."
                )
                if self.simulated
                else "",
                t("Methods: analysis.did."),
                self._source(),
            ],
            " ",
        )
        if b is None:
            return TriangulationView(
                table=show,
                caption=caption,
                bacon=None,
                bacon_caption="",
                bacon_text=t(
                    "No window of three or more school years has a balanced sub-panel with "
                    "participants and never-participants of at least {k} pupils each: the "
                    "Goodman-Bacon decomposition is not shown.",
                    k=integer(K_MIN),
                ),
                bacon_kind="warning",
            )
        by = scaled(b.by_type, spec)
        by["comparison"] = [BACON_WORDS.get(c, c) for c in by["comparison"]]
        by = by[[c for c in BACON_COLUMNS if c in by.columns]].rename(columns=BACON_COLUMNS)
        return TriangulationView(
            table=show,
            caption=caption,
            bacon=by,
            bacon_caption=t(
                "Goodman-Bacon decomposition of TWFE on the balanced sub-panel (school years "
                "{first}–{last}, {pupils} pupils observed every year, of whom {participants} "
                "participants; editions with fewer than {k} such pupils left out): weight of "
                "each type of 2×2 comparison in TWFE and their weighted mean estimate ({unit}). "
                "Method: analysis.diagnostics.bacon_decomposition (diff-diff).",
                first=year(b.window[0]),
                last=year(b.window[1]),
                pupils=integer(b.n_units),
                participants=integer(b.n_treated),
                k=integer(K_MIN),
                unit=term(spec.unit),
            ),
            bacon_text=_bacon_text(b, spec),
            bacon_kind="info",
        )

    def few_clusters(self) -> FewClustersView:
        """Section 7: analytic standard errors next to few-cluster inference."""
        spec = self.spec
        if self.one_school:
            return FewClustersView(
                table=few_cluster_display(self.few, spec),
                caption=join(
                    [
                        t(
                            "Pupil-level analytic inference, {unit} (p-values unscaled). "
                            "Cluster-robust inference and the few-cluster checks are undefined "
                            "with one school.",
                            unit=term(spec.unit),
                        ),
                        self._source(),
                    ],
                    " ",
                ),
                note=self.one_school_note(),
            )
        return FewClustersView(
            table=few_cluster_display(self.few, spec),
            caption=join(
                [
                    t(
                        "Analytic standard errors next to few-cluster inference, {unit} "
                        "(p-values unscaled). Bootstrap: restricted wild cluster bootstrap by "
                        "school ({boot} draws; the interval inverts the test). Randomization: "
                        "{ri} placebo assignments within school and edition (random streams "
                        "'bootstrap' and 'randomization' of run seed {seed}). Methods: "
                        "analysis.inference.",
                        unit=term(spec.unit),
                        boot=integer(self.bootstrap_reps),
                        ri=integer(self.ri_reps),
                        seed=str(self.seed),
                    ),
                    self._source(),
                ],
                " ",
            ),
        )

    # ------------------------------------------------------------------ robustness
    def robustness(self) -> dict[str, dict[str, Any]]:
        """Every robustness check of the headline with its outcome (``results["robustness"]``).

        Estimate variants (``control_group:*``, ``base_period:*``, ``anticipation:*``,
        ``covariates:*``, ``estimator:*``): ATT and interval in display units, the call of the
        interval alone (``significance``: the variants get no few-cluster checks) and
        ``agrees_with_headline`` (same call about zero and, when not zero, same sign as the
        headline's primary interval; ``None`` when it cannot be said).  ``honest_did:*``: the
        breakdown value and whether the first-year conclusion survives a violation as large as
        the benchmark (relative magnitudes: Mbar = 1; smoothness: the grid's upper end, R's
        bound from the largest pre-period second difference).  A variant that could not be run
        has ``run: False`` and the reason.
        """
        s = self.spec.scale
        out: dict[str, dict[str, Any]] = {}
        for v in self.variants:
            if v.estimate is None:
                out[v.key] = {"run": False, "reason": v.reason, "agrees_with_headline": None}
                continue
            e = v.estimate
            out[v.key] = {
                "run": True,
                "att": e.estimate * s,
                "ci_low": e.ci_low * s,
                "ci_high": e.ci_high * s,
                "unit": self.spec.unit,
                "significance": self._interval_level(e),
                "few_cluster_checks": "not run for robustness variants (interval alone)",
                "agrees_with_headline": _same_call(
                    self.call, e.ci_low, e.ci_high, e.estimate, self.main.estimate
                ),
            }
        for r in (self.honest_result, self.honest_smooth):
            if r is not None:
                out[f"honest_did:{r.method}"] = self._honest_record(r)
        for m in ("relative_magnitude", "smoothness"):
            out.setdefault(
                f"honest_did:{m}",
                {
                    "run": False,
                    "reason": "no pre-participation event time with enough participants",
                    "agrees_with_headline": None,
                },
            )
        return out

    def _interval_level(self, e: Estimate) -> str:
        """The call of an interval alone (undefined with one school: no cluster-robust one)."""
        if self.one_school:
            return "undefined"
        return significance.classify(ci_low=e.ci_low, ci_high=e.ci_high).level

    def _honest_record(self, r: HonestDiDResult) -> dict[str, Any]:
        rm = r.method == "relative_magnitude"
        s = 1.0 if rm else self.spec.scale
        bd = r.breakdown
        o = r.original
        benchmark = 1.0 if rm else max(r.grid)
        first_rejects = not (o.ci_low <= 0 <= o.ci_high)
        head = self.call.primary_rejects
        if head is None:
            agrees = None
        elif first_rejects != head:
            agrees = False
        elif not head:
            agrees = True
        else:
            agrees = bool(not np.isfinite(bd) or bd > benchmark)
        return {
            "run": True,
            "method": r.method,
            "param": r.param_name,
            "unit": "ratio" if rm else self.spec.unit,
            "breakdown": None if not np.isfinite(bd) else bd * s,
            "breakdown_beyond_grid": bool(not np.isfinite(bd)),
            "grid_max": max(r.grid) * s,
            "benchmark": benchmark * s,
            "first_year_att": o.estimate * self.spec.scale,
            "first_year_ci_low": o.ci_low * self.spec.scale,
            "first_year_ci_high": o.ci_high * self.spec.scale,
            "agrees_with_headline": agrees,
        }

    def robustness_view(self) -> RobustnessView:
        """Section 8: the robustness variants next to the headline (table and words)."""
        rob = self.robustness()
        rows: list[list[Any]] = [
            [
                N_("headline (pre-specified design)"),
                self.main.estimate * self.spec.scale,
                self.main.ci_low * self.spec.scale,
                self.main.ci_high * self.spec.scale,
                LEVEL_WORDS[self._interval_level(self.main)],
                None,
            ]
        ]
        for v in self.variants:
            r = rob[v.key]
            if not r["run"]:
                rows.append([v.label, None, None, None, N_("not run"), None])
                continue
            rows.append(
                [
                    v.label,
                    r["att"],
                    r["ci_low"],
                    r["ci_high"],
                    LEVEL_WORDS[r["significance"]],
                    r["agrees_with_headline"],
                ]
            )
        table = pd.DataFrame(rows, columns=list(ROBUSTNESS_COLUMNS)).astype(
            {ROBUSTNESS_COLUMNS[-1]: object}
        )
        return RobustnessView(
            table=table,
            caption=join(
                [
                    t(
                        "The headline ATT ({unit}) next to the pre-specified robustness "
                        "variants, each changing one element of the design; 95% confidence "
                        "intervals, {se}. The variants are called on their interval alone (no "
                        "wild cluster bootstrap or randomization inference: these are run for "
                        "the headline only). Same conclusion: the interval says the same about "
                        "zero as the headline's (and, when it excludes zero, with the same sign).",
                        unit=term(self.spec.unit),
                        se=self._se_words(),
                    ),
                    self._source(),
                ],
                " ",
            ),
            text=self.robustness_text(),
        )

    def robustness_summary(self) -> Text:
        """How many robustness variants agree with the headline, and which do not."""
        return join([p for p in self._robustness_parts()[:2] if p], " ")

    def robustness_text(self) -> Text:
        """The robustness set in words: agreement, variants not run, what the variants mean."""
        return join([p for p in self._robustness_parts() if p], " ")

    def _robustness_parts(self) -> list[Text]:
        rob = self.robustness()
        est = [(v, rob[v.key]) for v in self.variants]
        run = [(v, r) for v, r in est if r["run"] and r["agrees_with_headline"] is not None]
        disagree = [v for v, r in run if r["agrees_with_headline"] is False]
        parts: list[Text] = [
            t(
                "{agree} of {n} robustness variants reach the same conclusion about zero as the "
                "headline's interval.",
                agree=integer(len(run) - len(disagree)),
                n=integer(len(run)),
            )
        ]
        parts.append(
            t(
                "The conclusion changes under: {variants}.",
                variants=join([term(v.label) for v in disagree], "; "),
            )
            if disagree
            else ""
        )
        not_run = [v for v, r in est if not r["run"]]
        if not_run:
            parts.append(
                t(
                    "Not run (see the results file for the reason): {variants}.",
                    variants=join([term(v.label) for v in not_run], "; "),
                )
            )
        parts.append(
            t(
                "Without covariates, the doubly robust, inverse-probability-weighting and "
                "outcome-regression estimators coincide; they are compared with the baseline "
                "covariates."
            )
        )
        if self.anticipation_differs():
            parts.append(
                t(
                    "With one school year of anticipation, the year before an edition counts "
                    "as a participation year and the base year moves one year earlier, so the "
                    "average also includes that year."
                )
            )
        return parts

    def anticipation_differs(self) -> bool:
        """Whether an anticipation variant was run and reaches another conclusion."""
        r = self.robustness().get("anticipation:1")
        return bool(r and r.get("run") and r.get("agrees_with_headline") is False)

    # ------------------------------------------------------------------ conclusion
    def pretrend_sentence(self) -> Text:
        """The pre-trend test in words ("" when there is none)."""
        pre = self.pretrend
        if pre is None:
            return ""
        values = {"p": _p_words(pre.p_value), "cells": integer(pre.cells)}
        if not np.isfinite(pre.p_value) or pre.p_value >= 0.05:
            return t(
                "Before participation, participants and comparison pupils moved in parallel as "
                "far as the data can tell (pre-trend test {p} on {cells} pre-participation "
                "cells; a pre-test has little power, so passing it does not prove parallel "
                "trends).",
                **values,
            )
        return t(
            "Before participation, participants' outcomes did not move in parallel with the "
            "comparison pupils' (pre-trend test {p} on {cells} pre-participation cells), a "
            "warning against the identifying assumption.",
            **values,
        )

    def conclusion(self) -> Text:
        """Section 10: the plain-words conclusion (markdown).

        The estimate with its call under the pre-specified rule, the MDE, the pre-trend test,
        HonestDiD, the few-cluster p-values, the robustness set and, for SIMULATED data,
        whether the interval covers the true effect.
        """
        spec, e = self.spec, self.main
        parts: list[Text] = [
            effect_sentence(spec=spec, estimate=e, simulated=self.simulated, call=self.call),
            mde_sentence(spec=spec, estimate=e, mde=self.mde, mde_realised=self.mde_realised),
        ]
        if self.one_school:
            parts.append(self.one_school_note())
        pre = self.pretrend_sentence()
        if pre:
            parts.append(pre)
        for r in (self.honest_result, self.honest_smooth):
            if r is not None:
                parts.append(_honest_conclusion(r, self.spec))
        if self.few["p_value"].notna().any():
            parts.append(few_cluster_sentence(self.few))
        parts.append(self.robustness_text())
        if self.simulated and self.truth is not None:
            parts.append(truth_sentence(spec=spec, estimate=e, truth=self.truth))
        return join(parts, "\n\n")

    # ------------------------------------------------------------------ the answer first
    def summary_box(self) -> dict[str, Text]:
        """The fields of ``display.summary_box``, generated from this run's results."""
        spec, e = self.spec, self.main
        question_ = (
            t(
                "Did taking part in the courses lower {outcome} among the pupils who took part?",
                outcome=term(spec.the_label),
            )
            if spec.better == "lower"
            else t(
                "Did taking part in the courses raise {outcome} among the pupils who took part?",
                outcome=term(spec.the_label),
            )
        )
        answer = join(
            [
                t(
                    "Taking part is estimated to change {outcome} by {est} (95% confidence "
                    "interval from {lo} to {hi}), on average over participants and their first "
                    "{years} school year(s) of participation.",
                    outcome=term(spec.the_label),
                    est=spec.value(e.estimate),
                    lo=spec.number(e.ci_low),
                    hi=spec.number(e.ci_high),
                    years=integer(self.horizon + 1),
                ),
                self.call.words(),
            ],
            " ",
        )
        return {
            "question": question_,
            "answer": answer,
            "certainty": self.certainty(),
            "would_change": self.would_change(),
            "not_this": self.not_this(),
        }

    def certainty(self) -> Text:
        """How sure: which checks agree with the primary inference, and the other checks.

        The few-cluster checks, the pre-trend test, HonestDiD and the robustness set.
        """
        checks = significance_checks(self.call, clusters=self.n_schools if self.cluster else None)
        items: list[Text] = []
        for name, agrees, outcome in checks:
            if agrees is None:
                items.append(t("**{check}:** {outcome}.", check=name, outcome=outcome))
            elif agrees:
                items.append(t("**{check}:** {outcome}, agrees.", check=name, outcome=outcome))
            else:
                items.append(
                    t("**{check}:** {outcome}, does not agree.", check=name, outcome=outcome)
                )
        pre = self.pretrend
        if pre is not None:
            items.append(
                t(
                    "**Pre-trend test:** {p} on {cells} cells.",
                    p=_p_words(pre.p_value),
                    cells=integer(pre.cells),
                )
            )
        for r in (self.honest_result, self.honest_smooth):
            if r is not None:
                items.append(_honest_short(r, self.spec))
        items.append(self.robustness_summary())
        return join(items, " ")

    def would_change(self) -> Text:
        """What would change the answer (generated from the results)."""
        parts: list[Text] = []
        if self.call.level == "borderline":
            parts.append(
                t(
                    "The effect would be called distinguishable from zero only if the few-cluster "
                    "checks agreed (p at most {alpha}), which more schools or more participants "
                    "per school would make likelier.",
                    alpha=num(self.call.alpha, 2),
                )
            )
        elif self.call.level == "undefined" and self.one_school:
            parts.append(
                t("Records from more than one school (needed for any cluster-robust call).")
            )
        hd = self.honest_result
        if hd is not None and np.isfinite(hd.breakdown) and self.call.primary_rejects:
            parts.append(
                t(
                    "A violation of parallel trends after participation larger than {bd} times "
                    "the largest one before it would make the first-year interval include zero "
                    "(HonestDiD).",
                    bd=num(hd.breakdown, 2),
                )
            )
        disagree = [
            v
            for v in self.variants
            if self.robustness()[v.key].get("agrees_with_headline") is False
        ]
        if disagree:
            parts.append(
                t(
                    "Choosing instead: {variants}.",
                    variants=join([term(v.label) for v in disagree], "; "),
                )
            )
        if self.simulated:
            parts.append(
                t("The real pupil records: this run draws a simulated panel with known effects.")
            )
        return join(parts, " ") if parts else t("No check run here would change it.")

    def not_this(self) -> Text:
        """What the answer is not."""
        parts: list[Text] = []
        if self.simulated:
            parts.append(
                t(
                    "**SIMULATED pupils, not programme results**: the panel is drawn by the "
                    "simulator with known true effects, to show the method."
                )
            )
        parts.append(
            t(
                "It is the effect on participants (ATT), not on every pupil of their schools, and "
                "not the effect on dropout (its own page)."
            )
        )
        return join(parts, " ")

    def headline(self) -> dict[str, float]:
        """The 3-4 numbers of the reports index (display units)."""
        return headline_numbers(spec=self.spec, estimate=self.main, truth=self.truth, mde=self.mde)

    def to_dict(self) -> dict[str, Any]:
        """The numbers ``report.save`` records (results JSON)."""
        return {
            "data": self.data.to_dict(),
            "sample_flow": self.data.sample_flow().rename(
                columns={v: k for k, v in FLOW_COLUMNS.items()}
            ),
            "balance": safe_balance(self.baseline),
            "headline_design": self.design.to_dict(),
            "headline_estimate": self.main,
            "headline_unit": self.spec.unit,
            "significance": self.call.to_dict(),
            "n_schools": self.n_schools,
            "one_school": self.one_school,
            "mde": self.mde_result,
            "mde_natural_units": self.mde,
            "mde_realised": self.mde_realised,
            "few_clusters": self.few,
            "randomization": self.randomization,
            "wild_bootstrap": self.wild_bootstrap,
            "triangulation": self.tri,
            "robustness": self.robustness(),
            "true_effect": self.truth,
            "group_time": self.gt,
            "pretrend": None if self.pretrend is None else _pretrend_dict(self.pretrend),
            "event_study": self.es_cs,
            "sun_abraham_event_study": self.es_sa,
            "did2s_event_study": self.es_2s,
            "honest_did": self.honest_result,
            "honest_did_smoothness": self.honest_smooth,
            "bacon": None if self.bacon is None else _bacon_dict(self.bacon),
            "effect_horizon": self.horizon,
            "cs_group": _with_cohort_sizes(
                self.cs.aggregate("group", max_e=self.horizon), self.frame
            ),
            "dose_response": None if self.dose is None else self.dose.to_dict(),
        }

    # ------------------------------------------------------------------ dose
    def dose_text(self) -> Text:
        """Markdown: what the dose-response section estimates, and its result in words."""
        d = self.dose
        if d is None:
            return t(
                "**Dose–response.** Not estimated: the data carry no hours attended (a dose "
                "column, written by the intake from the attendance registers)."
            )
        r, spec = d.result, self.spec
        text = t(
            "**Dose–response.** Participation varies in hours attended. For the {edition} "
            "edition ({treated} participants and {never} never-participants observed in {before} "
            "and {edition}), the continuous-treatment DiD of Callaway, Goodman-Bacon & "
            "Sant'Anna estimates the effect of each number of hours (ATT(d)) with a data-driven "
            "sieve: on average {att} (standard error {se}), and {acrt} per extra hour (standard "
            "error {acrt_se}). Comparing doses needs *strong* parallel trends: pupils who attend "
            "more hours would have had the same untreated trend as those who attend fewer; "
            "otherwise differences across doses mix effects with selection.",
            edition=_edition(d.edition),
            before=_edition(d.edition - 1),
            treated=integer(r.n_treated),
            never=integer(r.n_units - r.n_treated),
            att=spec.value(r.overall_att),
            se=spec.value(r.overall_att_se, signed=False),
            acrt=spec.value(r.overall_acrt, digits=3),
            acrt_se=spec.value(r.overall_acrt_se, signed=False, digits=3),
        )
        if not d.simulated:
            return text
        return join(
            [
                text,
                t(
                    "The hours are SIMULATED (drawn independently of every outcome), so the "
                    "true curve is flat at the simulated effect; the section shows the method, "
                    "not a finding."
                ),
            ],
            " ",
        )

    def dose_figure(self, lang: str = "en") -> Figure:
        """ATT(d) against hours attended, with the uniform 95% band, labelled in ``lang``."""
        import matplotlib.pyplot as plt

        tr = translator(lang)
        fig, ax = plt.subplots(figsize=(7.5, 4.0))
        if self.dose is not None:
            c, s = self.dose.result.curve(), self.spec.scale
            ax.fill_between(
                c["dose"],
                c["att_band_low"] * s,
                c["att_band_high"] * s,
                color="tab:blue",
                alpha=0.2,
                label=_band_label(tr),
            )
            ax.plot(c["dose"], c["att"] * s, color="tab:blue", label="ATT(d)")
            if self.dose.simulated and self.truth is not None:
                ax.axhline(
                    self.truth * s,
                    color="black",
                    linestyle=":",
                    label=tr(N_("true effect (SIMULATED, same at every dose)")),
                )
        else:
            ax.text(
                0.5,
                0.5,
                tr(N_("No hours attended in the data.")),
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
        ax.axhline(0, color="0.5", linewidth=0.8)
        ax.set_xlabel(tr(N_("hours attended")))
        ax.set_ylabel(tr(t("effect ({unit})", unit=term(self.spec.unit))))
        ax.yaxis.set_major_formatter(tick_formatter(lang, 1))
        if self.dose is not None:
            ax.legend(frameon=False, fontsize=8)
        return fig

    def dose_caption(self) -> Text:
        """Caption (and alt text) of :meth:`dose_figure`."""
        if self.dose is None:
            return t("No dose-response curve: the data carry no hours attended.")
        return join(
            [
                t(
                    "Effect of taking part on the {outcome} ({unit}) by hours attended, {edition} "
                    "edition against never-participants, first school year of the edition "
                    "against the year before: ATT(d) (line) with its uniform 95% band from the "
                    "multiplier bootstrap (shaded); continuous-treatment DiD, data-driven "
                    "B-spline sieve (Callaway, Goodman-Bacon & Sant'Anna; moderndid cont_did). "
                    "Hours: {hours}.",
                    outcome=term(self.spec.label),
                    unit=term(self.spec.unit),
                    edition=_edition(self.dose.edition),
                    hours=term(self.dose.source),
                ),
                self._source(),
            ],
            " ",
        )


# --------------------------------------------------------------------------------------------
# Estimator calls of the build (methods live in analysis.did / inference / diagnostics / honest)
# --------------------------------------------------------------------------------------------

DOSE_SOURCES = {
    "simulated": N_("SIMULATED (uniform 8–40 hours, independent of the outcomes)"),
    "intake": N_("attendance registers (intake)"),
}


@dataclass(frozen=True)
class DoseSection:
    """The dose-response estimate of the page: one edition's first year, by hours attended."""

    result: did.DoseResponseResult
    edition: int
    simulated: bool
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Numbers for the results JSON."""
        return {**self.result.to_dict(), "edition": self.edition, "simulated_dose": self.simulated}


def _dose_section(
    frame: pd.DataFrame, *, data: ProgrammeData, outcome: str, seeds: Mapping[str, Any], biters: int
) -> DoseSection | None:
    """Estimate ATT(d) for the edition with most participants observed in both years.

    Real records carry the dose (hours attended) from the intake; a SIMULATED panel gets
    simulated hours (:func:`analysis.data.simulate.simulated_dose`).  ``None`` when there is no
    dose or no edition with at least ``K_MIN`` participants and comparison pupils.
    """
    from analysis.data.simulate import simulated_dose
    from analysis.did.dose import first_year_dose_panel

    work = frame.copy()
    simulated = "dose" not in work.columns
    if simulated:
        if not data.simulated:
            return None
        work["dose"] = simulated_dose(work, seed=seeds["dose_data"])
    best = None
    for g in sorted(c for c in work[COHORT].unique() if c > 0):
        sub = first_year_dose_panel(
            work, outcome=outcome, unit=UNIT, time=TIME, cohort=COHORT, dose="dose", edition=int(g)
        )
        n_t = sub.loc[sub[COHORT] > 0, UNIT].nunique()
        n_c = sub.loc[sub[COHORT] == 0, UNIT].nunique()
        if n_t >= K_MIN and n_c >= K_MIN and (best is None or n_t > best[1]):
            best = (int(g), n_t, sub)
    if best is None:
        return None
    g, _, sub = best
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = did.dose_response(
            sub,
            outcome=outcome,
            unit=UNIT,
            time=TIME,
            cohort=COHORT,
            dose="dose",
            method="cck",
            control="never",
            biters=max(int(biters), 2),
            seed=seeds["dose_bands"],
        )
    source = DOSE_SOURCES["simulated" if simulated else "intake"]
    return DoseSection(result=res, edition=g, simulated=simulated, source=source)


def _fit_key(spec: Mapping[str, Any]) -> tuple:
    """A hashable key of the options of a :func:`analysis.did.staggered` call."""
    return tuple(
        sorted((k, tuple(v) if isinstance(v, list | tuple) else v) for k, v in spec.items())
    )


def _alternative_fit(
    frame: pd.DataFrame,
    *,
    outcome: str,
    cs: StaggeredResult,
    covariates: Sequence[str],
    cluster: str | None,
    fits: dict[tuple, StaggeredResult] | None = None,
) -> StaggeredResult | None:
    """The covariate variant of the headline CS fit shown in the triangulation table.

    Headline without covariates: outcome regression (``method="reg"``) on ``covariates``
    (parallel trends conditional on them; the regression avoids the propensity models that
    separate in small cells).  Headline with covariates: the same estimator without them.
    ``None`` when there is no alternative (no covariates anywhere).  ``fits``: the page's fits
    by :func:`_fit_key`; the new fit is added to it.
    """
    if cs.covariates:
        alt_cov: list[str] = []
        method = cs.method
    else:
        alt_cov = list(covariates)
        method = "reg"
        if not alt_cov:
            return None
    spec = {
        "outcome": outcome,
        **COLS,
        "control": cs.control,
        "method": method,
        "covariates": alt_cov,
        "cluster": cluster,
        "base_period": cs.base_period,
        "anticipation": cs.anticipation,
        "allow_unbalanced": True,
    }
    fits = {} if fits is None else fits
    if _fit_key(spec) not in fits:
        fits[_fit_key(spec)] = did.staggered(frame, **spec)
    return fits[_fit_key(spec)]


def _row(name: str, estimand: str, e: Estimate, truth: float | None) -> dict[str, Any]:
    return {
        "estimator": name,
        "estimand": estimand,
        "estimate": e.estimate,
        "se": e.se,
        "ci_low": e.ci_low,
        "ci_high": e.ci_high,
        "p_value": e.p_value,
        "true_effect": np.nan if truth is None else truth,
    }


#: Rows of the triangulation table (message ids; English in the results JSON).
TRI_WORDS: Mapping[str, tuple[str, str]] = {
    "2x2": (N_("2×2 DiD (first year, stacked)"), N_("effect in the first participation year")),
    "twfe": (
        N_("TWFE (pupil + year fixed effects)"),
        N_("variance-weighted mix of 2×2 comparisons"),
    ),
    "cs": (N_("Callaway–Sant'Anna (headline design)"), N_("ATT, cells weighted by edition size")),
    "cs_alt": (
        N_("Callaway–Sant'Anna, other covariate set (outcome regression)"),
        N_("ATT, cells weighted by edition size"),
    ),
    "sun_abraham": (
        N_("Sun–Abraham (interaction-weighted)"),
        N_("ATT, edition-share weighted event-time effects"),
    ),
    "imputation": (
        N_("Imputation (Borusyak–Jaravel–Spiess)"),
        N_("ATT, every treated pupil-year weighted equally"),
    ),
}


def _triangulation(
    frame: pd.DataFrame,
    *,
    outcome: str,
    cs: StaggeredResult,
    cs_alt: StaggeredResult | None,
    cluster: str | None,
    data: ProgrammeData,
    max_e: float,
    sun_abraham: EventStudy | None = None,
    stack: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, Estimate]]:
    """The five estimators of the same ATT side by side (one row each).

    2×2 (first year, stacked; :func:`analysis.did.stacked_first_year`), TWFE (pupil + year
    fixed effects), Callaway-Sant'Anna (``cs``, simple aggregation up to ``max_e``, the
    headline design) and its covariate variant, Sun-Abraham (interaction-weighted) and
    imputation (Borusyak-Jaravel-Spiess); standard errors clustered by ``cluster`` (pupil when
    ``None``).  ``true_effect`` (SIMULATED panels) is each estimator's own estimand: the
    first-year effect for the 2×2, the cohort-share-weighted cells for CS, the mean over
    treated pupil-years otherwise.  ``sun_abraham``: the page's Sun-Abraham event study with
    the same data and clusters, whose overall effect is this row (its window and band do not
    change it); ``None`` fits it here.  ``stack``: :func:`analysis.did.first_year_stack` of
    ``frame`` with these columns and ``cluster``, built once for this table and the wild
    bootstrap of :func:`_few_clusters`; ``None`` builds it here.
    """
    cl = cluster or UNIT
    kw = {"outcome": outcome, "unit": UNIT, "time": TIME}
    sim = data.sim
    truth_all = data.truth(outcome)
    truth_first = None
    cells = _truth_cells(data, outcome)
    if sim is not None:
        te = sim.truth_event()
        te = te[(te["outcome"] == outcome) & (te["event_time"] == 0)]
        truth_first = float(te["att"].iloc[0]) if len(te) else None
    if stack is None:
        stack = did.first_year_stack(frame, **kw, cohort=COHORT, cluster=cluster)
    two = did.stacked_fit(stack)
    tw = did.twfe(frame, **kw, treated="treated", cluster=cl)
    sa = sun_abraham or did.event_study(
        frame, **kw, cohort=COHORT, estimator="sun_abraham", cluster=cl, cband=False
    )
    imp = did.imputation(frame, **kw, cohort=COHORT, cluster=cl)
    ests: dict[str, Estimate] = {"2x2": two, "twfe": tw}
    rows = [_row(*TRI_WORDS["2x2"], two, truth_first), _row(*TRI_WORDS["twfe"], tw, truth_all)]
    o = cs.aggregate("simple", max_e=max_e).overall
    ests["cs"] = o
    rows.append(
        _row(
            *TRI_WORDS["cs"],
            o,
            None if cells is None else cs.simple_estimand(cells, max_e=max_e),
        )
    )
    if cs_alt is not None:
        oa = cs_alt.aggregate("simple", max_e=max_e).overall
        ests["cs_alt"] = oa
        rows.append(
            _row(
                *TRI_WORDS["cs_alt"],
                oa,
                None if cells is None else cs_alt.simple_estimand(cells, max_e=max_e),
            )
        )
    if sa.overall is None:  # pragma: no cover - sun_abraham always defines one
        raise RuntimeError("the Sun-Abraham event study has no overall effect")
    ests["sun_abraham"] = sa.overall
    ests["imputation"] = imp
    rows.append(_row(*TRI_WORDS["sun_abraham"], sa.overall, truth_all))
    rows.append(_row(*TRI_WORDS["imputation"], imp, truth_all))
    return pd.DataFrame(rows), ests


def _few_clusters(
    frame: pd.DataFrame,
    *,
    outcome: str,
    cs: StaggeredResult,
    two: Estimate,
    cluster: str | None,
    reps: int,
    ri_reps: int,
    seeds: Mapping[str, Any],
    max_e: float,
    one_school: bool = False,
    stack: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, inference.RandomizationResult | None, Estimate | None]:
    """Analytic standard errors next to few-cluster inference, for the same estimates.

    Callaway-Sant'Anna ATT (simple aggregation up to ``max_e``): analytic SE from the
    influence functions, pupil-level and clustered (no small-sample factor, normal critical
    values, as R ``did``); randomization inference
    (:func:`analysis.inference.participation_randomization`, ``ri_reps`` re-assignments within
    school and edition; statistic :func:`analysis.did.simple_att` as
    :class:`analysis.did.SimpleATT`, whose draws run on arrays).  Stacked first-year 2×2
    (``two``): analytic CR1 (t with G−1 df) and the restricted wild cluster bootstrap
    (:func:`analysis.did.stacked_first_year_bootstrap`, ``reps`` draws; Webb weights below 12
    clusters), which tests :math:`H_0`: no first-year effect.  ``one_school``: only the
    pupil-level rows (the few-cluster checks are undefined; randomization and bootstrap are
    returned as ``None``).  ``stack``: the :func:`analysis.did.first_year_stack` of ``frame``
    that ``two`` was fitted on (``None``: built here).
    """
    o_pu = cs.unit_level().aggregate("simple", max_e=max_e).overall
    rows = [
        few_cluster_row(
            "Callaway–Sant'Anna ATT",
            "analytic, pupil level",
            o_pu,
            None,
            target="cs",
            check="analytic_pupil",
        )
    ]
    if one_school:
        return pd.DataFrame(rows), None, None
    if cs.cluster:
        o_cl = cs.aggregate("simple", max_e=max_e).overall
        rows.append(
            few_cluster_row(
                "Callaway–Sant'Anna ATT",
                f"analytic, clustered by school ({cs.n_clusters} clusters)",
                o_cl,
                cs.n_clusters,
                target="cs",
                check="analytic_cluster",
            )
        )
    statistic = SimpleATT(
        outcome=outcome,
        **COLS,
        control=cs.control,
        method=cs.method,
        covariates=tuple(cs.covariates),
        max_e=max_e,
        allow_unbalanced=True,
        validate=False,  # the headline fit checked this frame
    )
    ri = inference.participation_randomization(
        frame,
        statistic=statistic,
        **COLS,
        strata="school_id",
        age="age",
        columns=[outcome, *cs.covariates, cluster],
        reps=ri_reps,
        seed=seeds["randomization"],
    )
    rows.append(
        few_cluster_row(
            "Callaway–Sant'Anna ATT",
            f"randomization inference ({ri.reps} re-assignments within school and edition)",
            ri,
            None,
            target="cs",
            check="randomization_inference",
            draws=ri.reps,
        )
    )
    if stack is None:
        stack = did.first_year_stack(frame, outcome=outcome, **COLS, cluster=cluster)
    wcb = did.stacked_bootstrap(stack, reps=reps, seed=seeds["bootstrap"])
    g = wcb.n_clusters
    lbl = "clustered by school" if cluster else "clustered by pupil"
    rows.append(
        few_cluster_row(
            "2×2 DiD, first year",
            f"analytic CR1, {lbl} ({g} clusters, t with {g - 1} df)",
            two,
            g,
            target="2x2",
            check="cr1" if cluster else "cr1_pupil",
        )
    )
    wcb_row = few_cluster_row(
        "2×2 DiD, first year",
        f"wild cluster bootstrap (WCR, {wcb.extra['weights_type']}, {wcb.extra['reps']} draws)",
        wcb,
        g,
        target="2x2",
        check="wild_cluster_bootstrap",
        draws=int(wcb.extra["reps"]),
    )
    rows.append({**wcb_row, "se": np.nan})
    return pd.DataFrame(rows), ri, wcb


def _robustness_runs(
    frame: pd.DataFrame,
    *,
    outcome: str,
    cs: StaggeredResult,
    design: HeadlineDesign,
    covariates: Sequence[str],
    cluster: str | None,
    max_e: float,
    estimates: Mapping[str, Estimate],
    fits: Mapping[tuple, StaggeredResult] | None = None,
) -> list[RobustnessRun]:
    """The pre-specified robustness variants of the headline, one design element each.

    Callaway-Sant'Anna (:func:`analysis.did.staggered`) with the other comparison group, the
    other base period, one school year of anticipation (none when the headline has some), and
    with the baseline ``covariates`` (doubly robust, IPW, outcome regression: without
    covariates the three coincide); Sun-Abraham and imputation from the triangulation
    (``estimates``).  A variant whose fit is refused by the method is returned with the reason.
    A variant that is one of the page's ``fits`` (by :func:`_fit_key`: the varying base period
    of the ATT(g,t) section, the covariate fit of the triangulation) is not fitted again.
    """
    base = {
        "outcome": outcome,
        **COLS,
        "control": cs.control,
        "method": cs.method,
        "covariates": list(cs.covariates),
        "base_period": cs.base_period,
        "anticipation": cs.anticipation,
        "cluster": cluster,
        "allow_unbalanced": True,
    }
    other_control = "notyet" if cs.control == "never" else "never"
    specs: list[tuple[str, dict[str, Any] | None]] = [
        (
            f"control_group:{'not_yet_treated' if other_control == 'notyet' else 'never_treated'}",
            {"control": other_control},
        ),
        (
            f"base_period:{'varying' if cs.base_period == 'universal' else 'universal'}",
            {"base_period": "varying" if cs.base_period == "universal" else "universal"},
        ),
        (
            f"anticipation:{1 if cs.anticipation == 0 else 0}",
            {"anticipation": 1 if cs.anticipation == 0 else 0},
        ),
    ]
    if cs.covariates:
        specs.append(("covariates:none", {"covariates": []}))
        cov_set = list(cs.covariates)
    else:
        specs.append(
            ("covariates:baseline", {"covariates": list(covariates)} if covariates else None)
        )
        cov_set = list(covariates)
    specs.append(
        ("estimator:ipw_covariates", {"method": "ipw", "covariates": cov_set} if cov_set else None)
    )
    specs.append(
        ("estimator:reg_covariates", {"method": "reg", "covariates": cov_set} if cov_set else None)
    )
    out: list[RobustnessRun] = []
    for key, change in specs:
        label = ROBUSTNESS_WORDS[key]
        if change is None:
            out.append(RobustnessRun(key, label, None, "no baseline covariate in the data"))
            continue
        spec = {**base, **change}
        try:
            res = (fits or {}).get(_fit_key(spec)) or did.staggered(frame, **spec)
            est = res.aggregate("simple", max_e=max_e).overall
        except (DataValidationError, ValueError, np.linalg.LinAlgError) as exc:
            out.append(
                RobustnessRun(key, label, None, f"refused by the estimator: {type(exc).__name__}")
            )
            continue
        out.append(RobustnessRun(key, label, est))
    for key, name in (
        ("estimator:sun_abraham", "sun_abraham"),
        ("estimator:imputation", "imputation"),
    ):
        out.append(RobustnessRun(key, ROBUSTNESS_WORDS[key], estimates[name]))
    return out


def _honest(es: EventStudy, method: str) -> HonestDiDResult | None:
    """HonestDiD of the first-year effect (``None`` without enough pre-periods)."""
    need = 1 if method == "relative_magnitude" else 2
    if es.n_pre < need:
        return None
    return honest.honest_did(es, method=method)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Words and JSON of method results
# --------------------------------------------------------------------------------------------


def _bound(result: HonestDiDResult, value: float, spec: OutcomeSpec) -> Msg:
    """A HonestDiD bound in words: ``Mbar = 0,44`` or ``M = 0,64 punti percentuali``."""
    if result.method == "relative_magnitude":
        return t("Mbar = {value}", value=num(value, 2))
    return t("M = {value}", value=spec.value(value, signed=False))


def _honest_text(result: HonestDiDResult, spec: OutcomeSpec) -> Text:
    """Plain words for a HonestDiD result, in display units (its calls from the intervals)."""
    o = result.original
    name = term(HONEST_METHOD_WORDS[result.method])
    head = t(
        "**HonestDiD, {restriction}.** Under exact parallel trends the first-year effect is {est} "
        "(95% confidence interval from {lo} to {hi}).",
        restriction=name,
        est=spec.value(o.estimate),
        lo=spec.number(o.ci_low),
        hi=spec.number(o.ci_high),
    )
    if o.ci_low <= 0 <= o.ci_high:
        tail = t(
            "Its interval includes zero even then, so there is no conclusion for a violation of "
            "parallel trends to overturn."
        )
        return join([head, tail], " ")
    bd = result.breakdown
    if not np.isfinite(bd):
        tail = t(
            "The robust interval excludes zero for every value tried, up to {bound}: even a "
            "violation that large would not overturn the conclusion.",
            bound=_bound(result, max(result.grid), spec),
        )
    elif bd == min(result.grid):
        tail = t(
            "The robust interval includes zero already at {bound}: the conclusion rests entirely "
            "on the restriction's benchmark without violations.",
            bound=_bound(result, bd, spec),
        )
    else:
        tail = t(
            "The robust interval first includes zero at {bound} (the breakdown value): the "
            "conclusion that the first-year effect differs from zero holds for violations "
            "smaller than that.",
            bound=_bound(result, bd, spec),
        )
    return join([head, tail], " ")


def _honest_short(result: HonestDiDResult, spec: OutcomeSpec) -> Msg:
    """One line for the summary box."""
    o = result.original
    name = term(HONEST_METHOD_WORDS[result.method])
    if o.ci_low <= 0 <= o.ci_high:
        return t(
            "**HonestDiD ({restriction}):** the first-year interval includes zero even under "
            "exact parallel trends.",
            restriction=name,
        )
    bd = result.breakdown
    if not np.isfinite(bd):
        return t(
            "**HonestDiD ({restriction}):** the first-year effect stays away from zero up to "
            "{bound}, the end of the grid.",
            restriction=name,
            bound=_bound(result, max(result.grid), spec),
        )
    if bd == min(result.grid):
        return t(
            "**HonestDiD ({restriction}):** the first-year interval includes zero as soon as "
            "{bound}, the benchmark without violations.",
            restriction=name,
            bound=_bound(result, bd, spec),
        )
    return t(
        "**HonestDiD ({restriction}):** breakdown value {bound}.",
        restriction=name,
        bound=_bound(result, bd, spec),
    )


def _honest_conclusion(result: HonestDiDResult, spec: OutcomeSpec) -> Msg:
    """The HonestDiD result in one sentence of the conclusion."""
    o = result.original
    name = term(HONEST_METHOD_WORDS[result.method])
    bd = result.breakdown
    if o.ci_low <= 0 <= o.ci_high:
        return t(
            "HonestDiD ({restriction}): the first-year effect's interval includes zero even "
            "under exact parallel trends, so there is no breakdown value to report.",
            restriction=name,
        )
    if bd == min(result.grid):
        return t(
            "HonestDiD ({restriction}): the first-year interval includes zero already at "
            "{bound}, the benchmark without violations: the conclusion about the first year "
            "does not survive this restriction.",
            restriction=name,
            bound=_bound(result, bd, spec),
        )
    if np.isfinite(bd):
        return t(
            "HonestDiD ({restriction}): the first-year interval excludes zero as long as the "
            "violation of parallel trends is below {bound} (breakdown value).",
            restriction=name,
            bound=_bound(result, bd, spec),
        )
    return t(
        "HonestDiD ({restriction}): the first-year interval excludes zero over the whole grid, "
        "up to {bound}.",
        restriction=name,
        bound=_bound(result, max(result.grid), spec),
    )


def _bacon_text(b: BaconSummary, spec: OutcomeSpec) -> Text:
    """Say in words what drives the TWFE coefficient."""
    forb = b.weight("later_vs_earlier")
    gap = b.twfe.estimate - b.cs.estimate
    head = t(
        "On the balanced sub-panel (school years {first}–{last}, {pupils} pupils observed every "
        "year, {participants} of them participants), TWFE gives {twfe} and Callaway–Sant'Anna "
        "{cs} (gap {gap}).",
        first=year(b.window[0]),
        last=year(b.window[1]),
        pupils=integer(b.n_units),
        participants=integer(b.n_treated),
        twfe=spec.value(b.twfe.estimate),
        cs=spec.value(b.cs.estimate),
        gap=spec.value(gap),
    )
    if forb > 0:
        tail = t(
            "{share} of the TWFE weight is on 'later vs earlier' comparisons, which use "
            "already-treated pupils as controls (their 2×2 average {est}); they bias TWFE when "
            "effects change over time since participation.",
            share=pct(100 * forb, 0),
            est=spec.value(b.estimate("later_vs_earlier")),
        )
    else:
        tail = t("No TWFE weight falls on comparisons with already-treated pupils as controls.")
    return join([head, tail], " ")


def _bacon_dict(b: BaconSummary) -> dict[str, Any]:
    return {
        "window": [int(y) for y in b.window],
        "n_pupils": b.n_units,
        "n_participants": b.n_treated,
        "table": b.table.to_dict(orient="records"),
        "by_type": b.by_type.to_dict(orient="records"),
        "twfe": b.twfe.to_dict(),
        "cs": b.cs.to_dict(),
        "dropped_editions": [int(g) for g in b.dropped_cohorts],
        "min_pupils_per_edition": b.min_group,
    }


PRETREND_COLUMNS = (N_("Test"), N_("Statistic"), N_("Degrees of freedom"), N_("p-value"))


def _pretrend_display(pre: PretrendSummary) -> pd.DataFrame:
    """The pre-trend tests with human headers and test names."""
    rows: list[list[Any]] = [
        [
            N_("Wald χ², pupil-level covariance"),
            pre.unit_level.statistic,
            int(pre.unit_level.df),
            pre.unit_level.p_value,
        ]
    ]
    if pre.clustered is not None and pre.f_df is not None:
        q, d2 = pre.f_df
        rows.append(
            [
                N_("Wald F, clustered by school (Hotelling scaling)"),
                pre.f_statistic,
                f"{int(q)}, {int(d2)}",
                pre.f_p_value,
            ]
        )
    return pd.DataFrame(rows, columns=list(PRETREND_COLUMNS)).astype({PRETREND_COLUMNS[2]: object})


def _pretrend_dict(pre: PretrendSummary) -> dict[str, Any]:
    return {
        "table": pre.table(unit="pupil", cluster="school").to_dict(orient="records"),
        "p_value": pre.p_value,
        "cells": pre.cells,
        "min_pupils": pre.min_treated,
    }


def _with_cohort_sizes(agg: Any, frame: pd.DataFrame) -> dict[str, Any]:
    """The by-edition aggregation with each edition's participants (``n_pupils``).

    The count travels with the estimate so that :func:`analysis.privacy.suppress_results`
    withholds an edition of fewer than ``K_MIN`` participants from the results JSON (the page
    does not show it).
    """
    out = to_jsonable(agg)
    sizes = frame.drop_duplicates(UNIT).groupby(COHORT).size()
    for rec in out.get("table", []):
        rec["n_pupils"] = int(sizes.get(rec.get(COHORT), 0))
    return out
