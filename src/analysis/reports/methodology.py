"""Content of the evaluator's methodology note (notebook ``06_methodology``).

The note is assembled from results, never from claims typed here:

- **the plan that ran** (:func:`plan_that_ran`: the plan file the runner recorded in the run
  context, ``--plan`` included) and the **state of every run** when the note was built
  (:func:`run_states`: succeeded, failed, interrupted, not run, results missing), so it never
  silently describes reports that are not there;
- **the check registry** (:data:`CHECKS`): every design element, diagnostic and robustness
  check the note may list, each naming the notebook whose runs back it and the key of the
  results JSON that holds its outcome.  :func:`evaluate_checks` reads the results of the plan's
  runs and reports each check as *backed* (with run, key and outcome) or *pre-specified, not
  yet run*; a check no run backs is never claimed;
- **the pre-specified analysis plan** (``config/analysis_plan.yaml``: the headline design per
  outcome and the significance rule, :mod:`analysis.significance`);
- **the findings to date** (:func:`findings`): each run's one-line verdict (``page.verdict``),
  grouped by the evaluation questions of ``config/questions.yaml``;
- **the document** (:func:`document`): version, status, place, the evaluator's name and role
  from ``config/evaluation.yaml``, and a signature block.

Internal references ("see section N") are generated from section ids (:data:`SECTIONS`,
:func:`ref`); the notebook's headings are checked against them by the tests.

Every visible text is a message of the ``methodology`` domain (:mod:`analysis.i18n`).
"""

from __future__ import annotations

import fnmatch
import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import i18n, paths, significance
from analysis.facts import programme_facts
from analysis.i18n import N_, Concat, Msg, Text, integer, join, num, t, term
from analysis.pipeline.plan import Plan, Run, load_plan
from analysis.pipeline.state import load_results, read_state
from analysis.yamlfile import read_yaml

__all__ = [
    "ASSUMPTIONS",
    "CHECKS",
    "DEFINITIONS",
    "QUESTIONS",
    "SECTIONS",
    "Backing",
    "Check",
    "CheckResult",
    "Document",
    "Evidence",
    "assumptions_table",
    "checks_caption",
    "checks_table",
    "data_sources",
    "data_sources_caption",
    "definitions_caption",
    "definitions_table",
    "design_caption",
    "design_table",
    "design_use_caption",
    "design_use_table",
    "document",
    "document_text",
    "evaluate_checks",
    "evidence_caption",
    "evidence_table",
    "findings",
    "findings_html",
    "headline",
    "headline_text",
    "heading",
    "intro_text",
    "limitations_text",
    "notebook_findings",
    "outcomes",
    "outcomes_caption",
    "plan_that_ran",
    "plan_text",
    "power_missing_note",
    "questions_caption",
    "questions_table",
    "ref",
    "reports_html",
    "results",
    "run_states",
    "signature_text",
    "significance_text",
    "siinc_caption",
    "siinc_recap",
    "siinc_status_note",
    "state_note",
    "summary",
    "unlisted_checks",
    "verdicts_html",
]

# --------------------------------------------------------------------------------------------
# sections and generated references

#: The note's sections in order: (id, title).  The notebook's ``## n. Title`` headings follow
#: this list (tested); references to a section are generated from its id (:func:`ref`).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("about", N_("Independence and what this note is")),
    ("findings", N_("Findings to date")),
    ("questions", N_("Evaluation questions, estimands and designs")),
    ("checks", N_("Design elements, diagnostics and robustness checks, with their results")),
    ("assumptions", N_("Identifying assumptions and how each is checked")),
    ("data", N_("Data sources and definitions")),
    ("power", N_("Design and minimum detectable effects")),
    ("outcomes", N_("Pre-specified outcomes")),
    ("siinc", N_("SIINC payment rules and verification")),
    ("limitations", N_("Limitations")),
    ("reports", N_("Every report of this evaluation")),
    ("reproducibility", N_("Reproducibility: how to rerun")),
    ("signature", N_("Sign-off")),
)


def _section(section_id: str) -> tuple[int, str]:
    for i, (sid, title) in enumerate(SECTIONS, start=1):
        if sid == section_id:
            return i, title
    raise KeyError(f"no section {section_id!r}; sections: {[s for s, _ in SECTIONS]}")


def heading(section_id: str) -> str:
    """The notebook heading of a section (``## n. Title``, English: the cell's message id)."""
    n, title = _section(section_id)
    return f"## {n}. {title}"


def ref(section_id: str) -> Msg:
    """A reference to a section, generated from its id (number and title in every language)."""
    n, title = _section(section_id)
    return t("section {number}, “{title}”", number=str(n), title=term(title))


# --------------------------------------------------------------------------------------------
# the plan and the state of its runs


def plan_that_ran(context: Mapping[str, Any]) -> Plan:
    """The plan the runner executed (recorded in the run context), else ``config/plan.yaml``.

    Parameters
    ----------
    context
        The run context (``report.context``); its ``plan`` entry is the plan file given to
        ``python -m analysis run --plan`` (default ``config/plan.yaml``), relative to the
        repository root unless absolute.  Run interactively there is none.
    """
    recorded = context.get("plan")
    if not recorded:
        return load_plan()
    p = Path(recorded)
    return load_plan(p if p.is_absolute() else paths.ROOT / p)


def _results(run_id: str) -> dict[str, Any] | None:
    """A run's results JSON, ``None`` when absent or unreadable (the state table says which)."""
    try:
        res = load_results(run_id)
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return None
    return res if isinstance(res, dict) else None


#: How a run stood when the note was built (``status`` of :func:`run_states`).
STATUS_WORDS = {
    "success": N_("succeeded"),
    "failed": N_("failed"),
    "interrupted": N_("interrupted"),
    "not run": N_("not run"),
    "results missing": N_("results missing"),
}


def run_states(plan: Plan, *, exclude: str) -> pd.DataFrame:
    """One row per run of the plan (but ``exclude``): id, title, notebook, status, banners.

    ``status`` is ``success`` only when the run's state says so *and* its results JSON is
    there and readable; a run whose state still says ``running`` when this note runs (it runs
    last) was cut short and is ``interrupted``.
    """
    rows = []
    for run in plan.runs:
        if run.id == exclude:
            continue
        state = read_state(run.id) or {}
        res = _results(run.id)
        recorded = state.get("status")
        if recorded in ("running", "interrupted"):  # see _NOT_CURRENT
            status = "interrupted"
        elif recorded == "failed":
            status = "failed"
        elif res is not None:
            status = "success"
        elif recorded == "success":
            status = "results missing"
        else:
            status = "not run"
        rows.append(
            {
                "run": run.id,
                "title": run.title,
                "notebook": run.notebook,
                "status": status,
                "banners": tuple((res or {}).get("banners", []) if status == "success" else ()),
            }
        )
    return pd.DataFrame(rows, columns=["run", "title", "notebook", "status", "banners"])


def state_note(states: pd.DataFrame) -> Msg | None:
    """The warning naming the runs that were missing, failed or interrupted (None: all there)."""
    bad = states[states["status"] != "success"]
    if bad.empty:
        return None
    groups = join(
        [
            t(
                "{status}: {runs}",
                status=term(STATUS_WORDS[status]),
                runs=", ".join(bad.loc[bad["status"] == status, "run"]),
            )
            for status in STATUS_WORDS
            if (bad["status"] == status).any()
        ],
        "; ",
    )
    return t(
        "When this note was built, {n} of the {total} other reports of the plan had no current "
        "results ({runs}). What the note says about them, and every check they would back, is "
        "reported as not run; rerun them and then this note.",
        n=integer(len(bad)),
        total=integer(len(states)),
        runs=groups,
    )


def plan_text(plan: Plan, states: pd.DataFrame) -> Msg:
    """Which plan the note describes and how many of its reports are current."""
    ok = int((states["status"] == "success").sum())
    return t(
        "This note describes the plan `{plan}`: {total} reports besides this note, of which "
        "{ok} had current results when it was built.",
        plan=paths.relative(plan.source),
        total=integer(len(states)),
        ok=integer(ok),
    )


# --------------------------------------------------------------------------------------------
# the check registry


@dataclass(frozen=True)
class Backing:
    """Where a check's outcome is recorded: the runs of ``notebook``, at ``key``.

    ``key`` is a dotted path into the results JSON (``results.robustness.placebo_in_space``);
    its last part may be a glob (``results.robustness.donor_pool:*``), every match being one
    piece of evidence.  ``where``: the value must be a mapping holding these items (e.g.
    ``{"method": "smoothness"}``).
    """

    notebook: str
    key: str
    where: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """A design element, diagnostic or robustness check the note may list."""

    id: str
    kind: str
    label: str
    backing: tuple[Backing, ...]


KIND_WORDS = {
    "design": N_("design element"),
    "diagnostic": N_("diagnostic"),
    "robustness": N_("robustness check"),
}

_TERR, _PROG, _DROP, _SCHOOL = "02_territorial", "03_programme", "07_dropout", "08_school"
_ROB = "results.robustness."


def _b(notebook: str, *keys: str, **where: Any) -> tuple[Backing, ...]:
    return tuple(Backing(notebook, k, dict(where)) for k in keys)


#: Every check the note may list, with the results keys that back it (``CHECKS`` is the
#: pre-specified set; a check whose keys no run of the plan records is reported "not run").
CHECKS: tuple[Check, ...] = (
    # design elements
    Check("benchmarking", "design", N_("Descriptive benchmarking of official indicators"),
          _b("01_context", "results.levels_and_changes")),
    Check("synthetic_control", "design", N_("Synthetic control"),
          _b(_TERR, "results.triangulation.estimates.sc")
          + _b(_SCHOOL, "results.triangulation.estimates.sc")),
    Check("synthetic_did", "design", N_("Synthetic difference in differences"),
          _b(_TERR, "results.triangulation.estimates.sdid")
          + _b(_SCHOOL, "results.triangulation.estimates.sdid")),
    Check("twfe_did_territories", "design", N_("Difference in differences with unit and year effects"),
          _b(_TERR, "results.triangulation.estimates.did")
          + _b(_SCHOOL, "results.triangulation.estimates.did")),
    Check("callaway_santanna", "design", N_("Staggered DiD (Callaway–Sant'Anna): the programme headline"),
          _b(_PROG, "results.headline_estimate")),
    Check("event_study", "design", N_("Event study with uniform bands"),
          _b(_PROG, "results.event_study")),
    Check("sun_abraham", "design", N_("Sun–Abraham event study"),
          _b(_PROG, "results.sun_abraham_event_study")),
    Check("two_stage", "design", N_("Two-stage (imputation) DiD event study"),
          _b(_PROG, "results.did2s_event_study")),
    Check("estimators_side_by_side", "design", N_("Other estimators side by side with the headline"),
          _b(_PROG, "results.triangulation") + _b(_DROP, "results.triangulation")),
    Check("bacon", "design", N_("Goodman-Bacon decomposition of the TWFE estimate"),
          _b(_PROG, "results.bacon")),
    Check("risk_sets", "design", N_("Risk-set comparison of the annual dropout hazard"),
          _b(_DROP, "results.dropout")),
    Check("analytic_mde", "design", N_("Analytic minimum detectable effects"),
          _b("04_design", "results.design_mde")),
    Check("simulated_power", "design", N_("Simulated power of the estimator used"),
          _b("04_design", "results.simulated_power")),
    Check("payment_engine", "design", N_("Payment engine of the SIINC agreement (euro cents)"),
          _b("05_siinc", "results.payments")),
    # diagnostics
    Check("pretrend_test", "diagnostic", N_("Pre-trend test on the pre-period effects"),
          _b(_PROG, "results.pretrend")),
    Check("balance", "diagnostic", N_("Balance of baseline characteristics (standardised differences)"),
          _b(_PROG, "results.balance") + _b(_DROP, "results.balance")),
    Check("overlap", "diagnostic", N_("Propensity-score overlap"),
          _b(_PROG, "results.overlap") + _b(_DROP, "results.overlap")),
    Check("pre_fit", "diagnostic", N_("Pre-period fit of the synthetic control (RMSPE)"),
          _b(_TERR, "results.triangulation.estimates.sc.extra.pre_rmspe")
          + _b(_SCHOOL, "results.triangulation.estimates.sc.extra.pre_rmspe")),
    Check("wild_cluster_bootstrap", "diagnostic", N_("Wild cluster bootstrap by school"),
          _b(_PROG, "results.wild_bootstrap") + _b(_DROP, "results.wild_bootstrap")),
    Check("randomization_inference", "diagnostic", N_("Randomization inference (participation re-assigned)"),
          _b(_PROG, "results.randomization") + _b(_DROP, "results.randomization")),
    Check("significance_rule", "diagnostic", N_("The pre-specified significance rule applied to the headline"),
          _b(_PROG, "results.significance") + _b(_DROP, "results.significance")),
    Check("realised_mde", "diagnostic", N_("Minimum detectable effect of the realised design"),
          _b(_PROG, "results.mde") + _b(_DROP, "results.mde")),
    # robustness
    Check("placebo_in_space", "robustness", N_("Placebo in space (every donor as if treated)"),
          _b(_TERR, _ROB + "placebo_in_space")
          + _b(_SCHOOL, _ROB + "placebo_in_space", "results.triangulation.placebo_in_space")),
    Check("placebo_in_time", "robustness", N_("Placebo in time (a fake start before the programme)"),
          _b(_TERR, _ROB + "placebo_in_time")
          + _b(_SCHOOL, _ROB + "placebo_in_time", "results.triangulation.placebo_in_time")),
    Check("leave_one_out", "robustness", N_("Leave-one-out donors"),
          _b(_TERR, _ROB + "leave_one_out")
          + _b(_SCHOOL, _ROB + "leave_one_out", "results.triangulation.leave_one_out")),
    Check("donor_pool", "robustness", N_("Alternative donor pool"),
          _b(_TERR, _ROB + "donor_pool:*") + _b(_SCHOOL, _ROB + "donor_pool:*")),
    Check("pre_window", "robustness", N_("Alternative pre-period window"),
          _b(_TERR, _ROB + "pre_window:*") + _b(_SCHOOL, _ROB + "pre_window:*")),
    Check("not_yet_treated", "robustness", N_("Not-yet-treated instead of never-treated comparison pupils"),
          _b(_PROG, _ROB + "control_group:not_yet_treated")),
    Check("imputation", "robustness", N_("Imputation estimator (Borusyak–Jaravel–Spiess) instead of Callaway–Sant'Anna"),
          _b(_PROG, _ROB + "estimator:imputation")),
    Check("sun_abraham_estimator", "robustness", N_("Sun–Abraham estimator instead of Callaway–Sant'Anna"),
          _b(_PROG, _ROB + "estimator:sun_abraham")),
    Check("ipw", "robustness", N_("Inverse probability weighting (with covariates) instead of doubly robust"),
          _b(_PROG, _ROB + "estimator:ipw*")),
    Check("outcome_regression", "robustness", N_("Outcome regression (with covariates) instead of doubly robust"),
          _b(_PROG, _ROB + "estimator:reg*")),
    Check("base_period", "robustness", N_("Varying instead of universal base period"),
          _b(_PROG, _ROB + "base_period:*")),
    Check("anticipation", "robustness", N_("Anticipation of one period"),
          _b(_PROG, _ROB + "anticipation:*")),
    Check("covariates", "robustness", N_("Baseline covariates added to the headline design"),
          _b(_PROG, _ROB + "covariates:*")),
    Check("honest_relative_magnitude", "robustness", N_("HonestDiD: relative magnitudes of trend violations"),
          _b(_PROG, _ROB + "honest_did:relative_magnitude")
          + _b(_PROG, "results.honest_did", method="relative_magnitude")),
    Check("honest_smoothness", "robustness", N_("HonestDiD: smoothness of trend violations"),
          _b(_PROG, _ROB + "honest_did:smoothness")
          + _b(_PROG, "results.honest_did", method="smoothness")),
    Check("payment_sensitivity", "robustness", N_("Payments under alternative baselines and the impact's lower bound"),
          _b("05_siinc", "results.sensitivity")),
)  # fmt: skip


def _lookup(tree: Any, key: str) -> list[tuple[str, Any]]:
    """``(full key, value)`` of every match of a dotted ``key`` (last part may be a glob)."""
    *head, last = key.split(".")
    node = tree
    for part in head:
        if not isinstance(node, Mapping) or part not in node:
            return []
        node = node[part]
    if not isinstance(node, Mapping):
        return []
    prefix = ".".join(head)
    return [
        (f"{prefix}.{k}" if prefix else str(k), node[k])
        for k in sorted(node)
        if fnmatch.fnmatchcase(str(k), last)
    ]


@dataclass(frozen=True)
class Evidence:
    """One run's record of a check: the key that holds it and its outcome."""

    run: str
    key: str
    outcome: str
    p_value: float | None = None

    @property
    def ran(self) -> bool:
        """Whether the check was run in this report (a record saying it was not is not evidence)."""
        return self.outcome != "not run"


OUTCOME_WORDS = {
    "agrees": N_("agrees with the headline"),
    "disagrees": N_("does not agree with the headline"),
    "undetermined": N_("could not be assessed"),
    "reported": N_("reported"),
    "not run": N_("not run in this report"),
    "distinguishable": N_("distinguishable from zero"),
    "borderline": N_("borderline"),
    "not distinguishable": N_("not distinguishable from zero"),
    "undefined": N_("undefined"),
}


def _outcome(value: Any) -> tuple[str, float | None]:
    """The outcome code of a recorded check (and its p-value when it is reported with one)."""
    if isinstance(value, Mapping):
        if value.get("run") is False:
            return "not run", None
        if "agrees_with_headline" in value:
            a = value["agrees_with_headline"]
            return ("agrees" if a is True else "disagrees" if a is False else "undetermined"), None
        if value.get("level") in significance.LEVELS:
            return str(value["level"]), None
        p = value.get("p_value")
        if isinstance(p, int | float) and not isinstance(p, bool) and p == p:
            return "reported", float(p)
    return "reported", None


def outcome_text(ev: Evidence) -> Msg:
    """The outcome of one piece of evidence in words."""
    if ev.p_value is not None:
        return t("reported (p = {p})", p=num(ev.p_value, 3))
    return term(OUTCOME_WORDS[ev.outcome])


@dataclass(frozen=True)
class CheckResult:
    """A check with the evidence the plan's runs hold for it."""

    check: Check
    evidence: tuple[Evidence, ...]

    @property
    def backed(self) -> bool:
        """Whether at least one run ran the check and recorded its outcome."""
        return any(e.ran for e in self.evidence)

    @property
    def runs(self) -> tuple[str, ...]:
        """The runs that ran the check (plan order)."""
        return tuple(dict.fromkeys(e.run for e in self.evidence if e.ran))


def evaluate_checks(
    plan: Plan,
    *,
    exclude: str,
    checks: Sequence[Check] = CHECKS,
    results_of: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> list[CheckResult]:
    """Read the results of the plan's runs and find the evidence of every check.

    Parameters
    ----------
    plan
        The plan that ran; only its runs (but ``exclude``) are read.
    exclude
        This note's run id.
    checks
        The registry (default :data:`CHECKS`).
    results_of
        Results per run id (default: each run's results JSON).  A run that failed, was
        interrupted or never ran has none, so it backs nothing.
    """
    res = _results_map(plan, exclude=exclude, results_of=results_of)
    out = []
    for check in checks:
        evidence = []
        for run in plan.runs:
            if run.id not in res:
                continue
            for b in check.backing:
                if b.notebook != run.notebook:
                    continue
                for key, value in _lookup(res[run.id], b.key):
                    if b.where and not (
                        isinstance(value, Mapping)
                        and all(value.get(k) == v for k, v in b.where.items())
                    ):
                        continue
                    outcome, p = _outcome(value)
                    evidence.append(Evidence(run.id, key, outcome, p))
        out.append(CheckResult(check, tuple(dict.fromkeys(evidence))))
    return out


_NOT_CURRENT = ("failed", "running", "interrupted")


def _results_map(
    plan: Plan, *, exclude: str, results_of: Mapping[str, Mapping[str, Any] | None] | None
) -> dict[str, Mapping[str, Any]]:
    out = {}
    for run in plan.runs:
        if run.id == exclude:
            continue
        if results_of is not None:
            r = results_of.get(run.id)
        elif (read_state(run.id) or {}).get("status") in _NOT_CURRENT:
            r = None  # a failed or interrupted run backs nothing, whatever file is left
        else:
            r = _results(run.id)
        if r:
            out[run.id] = r
    return out


def unlisted_checks(
    plan: Plan,
    checked: Sequence[CheckResult],
    *,
    exclude: str,
    results_of: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> list[Evidence]:
    """Robustness records of the runs (``results.robustness.*``) that no listed check covers.

    They are run and shown as such, so no result is left out of the note because the registry
    does not name it yet.
    """
    covered = {(e.run, e.key) for c in checked for e in c.evidence}
    res = _results_map(plan, exclude=exclude, results_of=results_of)
    extra = []
    for run in plan.runs:
        for key, value in _lookup(res.get(run.id, {}), _ROB + "*"):
            if (run.id, key) not in covered:
                outcome, p = _outcome(value)
                extra.append(Evidence(run.id, key, outcome, p))
    return extra


def _check_label(c: CheckResult) -> Msg:
    return term(c.check.label)


def checks_table(checked: Sequence[CheckResult]) -> pd.DataFrame:
    """One row per listed check: kind, status, reports that ran it, records per outcome.

    Cells are message ids or numbers (translated on the page and in the downloads).
    """
    rows = []
    for c in checked:
        ran = [e for e in c.evidence if e.ran]
        count = {
            k: sum(e.outcome == k for e in ran) for k in ("agrees", "disagrees", "undetermined")
        }
        rows.append(
            {
                N_("Check"): c.check.label,
                N_("Kind"): KIND_WORDS[c.check.kind],
                N_("Status"): CHECK_STATUS["backed" if ran else "not run"],
                N_("Reports"): len(c.runs),
                N_("Agree with the headline"): count["agrees"],
                N_("Do not agree"): count["disagrees"],
                N_("Could not be assessed"): count["undetermined"],
                N_("Other records"): len(ran) - sum(count.values()),
            }
        )
    return pd.DataFrame(rows)


def evidence_table(checked: Sequence[CheckResult], extra: Sequence[Evidence] = ()) -> pd.DataFrame:
    """The annex: one row per record (check, report, results key, outcome, p-value if any)."""
    pairs = [(c.check.label, e) for c in checked for e in c.evidence]
    pairs += [(N_("other robustness record"), e) for e in extra]
    cols = [N_("Check"), N_("Report"), N_("Results key"), N_("Outcome"), N_("p-value")]
    return pd.DataFrame(
        [[label, e.run, e.key, OUTCOME_WORDS[e.outcome], e.p_value] for label, e in pairs],
        columns=cols,
    )


def checks_caption(checked: Sequence[CheckResult]) -> Msg:
    """Caption of :func:`checks_table` (counts generated)."""
    backed = sum(c.backed for c in checked)
    return t(
        "The {total} design elements, diagnostics and robustness checks of the pre-specified "
        "list: {backed} backed by at least one report's results, {not_run} pre-specified but "
        "not yet run (never claimed). Each record is listed, with its report and results key, "
        "in the annex below.",
        total=integer(len(checked)),
        backed=integer(backed),
        not_run=integer(len(checked) - backed),
    )


def evidence_caption() -> Msg:
    """Caption of :func:`evidence_table`."""
    return t(
        "Annex: every record backing a check — the report, the key of its results JSON and "
        "the outcome recorded there."
    )


def _long(checked: Sequence[CheckResult], ids: Sequence[str]) -> list[tuple[str, str]]:
    """``(check label, status word)`` of the checks ``ids`` (message ids)."""
    by_id = {c.check.id: c for c in checked}
    return [
        (by_id[i].check.label, CHECK_STATUS["backed" if by_id[i].backed else "not run"])
        for i in ids
    ]


#: Status of a check in the tables.
CHECK_STATUS = {"backed": N_("backed by results"), "not run": N_("pre-specified, not yet run")}


# --------------------------------------------------------------------------------------------
# questions, designs, assumptions

#: The questions each notebook answers, the estimand, and the design elements it uses (ids of
#: :data:`CHECKS`: shown with their status, never as a bare claim).
QUESTIONS: tuple[dict[str, Any], ...] = (
    {
        "notebook": "01_context",
        "question": N_("Where do Lecce and Puglia stand on youth inclusion and early school leaving?"),
        "estimand": N_("levels and changes of official indicators (no causal estimand)"),
        "design": ("benchmarking",),
    },
    {
        "notebook": "02_territorial",
        "question": N_("Did Lecce or Puglia depart from what comparable territories predict after the programme started?"),
        "estimand": N_("mean post-period gap of the treated territory to its counterfactual"),
        "design": ("synthetic_control", "synthetic_did", "twfe_did_territories"),
    },
    {
        "notebook": "03_programme",
        "question": N_("Did participating pupils have fewer absences, less repetition and better grades than non-participants of the same schools?"),
        "estimand": N_("effect on the treated (ATT) of participating, group-time effects aggregated"),
        "design": ("callaway_santanna", "event_study", "sun_abraham", "two_stage", "estimators_side_by_side", "bacon"),
    },
    {
        "notebook": "07_dropout",
        "question": N_("Did participants drop out less than comparable pupils at risk in the same school years?"),
        "estimand": N_("difference in the annual dropout hazard from the edition year on"),
        "design": ("risk_sets", "estimators_side_by_side"),
    },
    {
        "notebook": "08_school",
        "question": N_("Did the partner school's daytime enrolment move away from that of comparable school sites?"),
        "estimand": N_("mean post-period gap of the school's enrolment index to its counterfactual"),
        "design": ("synthetic_control", "synthetic_did", "twfe_did_territories"),
    },
    {
        "notebook": "04_design",
        "question": N_("What effects can this design detect?"),
        "estimand": N_("minimum detectable effect and required samples"),
        "design": ("analytic_mde", "simulated_power"),
    },
    {
        "notebook": "05_siinc",
        "question": N_("How much is payable under the SIINC agreement, and how much depends on modelling choices?"),
        "estimand": N_("payable amount per metric and period under the agreement's rules and caps"),
        "design": ("payment_engine",),
    },
)  # fmt: skip

#: Identifying assumptions, the notebooks relying on them, and the checks (ids of CHECKS).
ASSUMPTIONS: tuple[dict[str, Any], ...] = (
    {
        "assumption": N_("Parallel trends between participants and comparison pupils"),
        "used_by": ("03_programme",),
        "checks": ("pretrend_test", "event_study", "honest_relative_magnitude", "honest_smoothness"),
    },
    {
        "assumption": N_("No anticipation: pupils and territories do not change before the start"),
        "used_by": ("02_territorial", "03_programme"),
        "checks": ("event_study", "anticipation", "placebo_in_time"),
    },
    {
        "assumption": N_("Overlap: comparable non-participants exist for every participant profile"),
        "used_by": ("03_programme", "07_dropout"),
        "checks": ("balance", "overlap"),
    },
    {
        "assumption": N_("Donors unaffected by the programme; a weighted combination of donors reproduces the treated unit's pre-period path"),
        "used_by": ("02_territorial", "08_school"),
        "checks": ("pre_fit", "placebo_in_space", "leave_one_out", "donor_pool", "pre_window"),
    },
    {
        "assumption": N_("Few clusters (schools) do not invalidate inference"),
        "used_by": ("03_programme", "07_dropout"),
        "checks": ("wild_cluster_bootstrap", "randomization_inference", "significance_rule"),
    },
)  # fmt: skip


def questions_table(plan: Plan) -> pd.DataFrame:
    """The question and estimand of each notebook the plan runs (message ids)."""
    notebooks = {r.notebook for r in plan.runs}
    return pd.DataFrame(
        [
            {
                N_("Question"): q["question"],
                N_("Estimand"): q["estimand"],
                N_("Notebook"): q["notebook"],
            }
            for q in QUESTIONS
            if q["notebook"] in notebooks
        ]
    )


def questions_caption() -> Msg:
    """Caption of :func:`questions_table`."""
    return t(
        "What each notebook of the plan asks and the quantity it estimates (estimand); its "
        "design elements, and whether a report has run them, are in {section}.",
        section=ref("checks"),
    )


def assumptions_table(checked: Sequence[CheckResult]) -> pd.DataFrame:
    """One row per (assumption, check): who relies on it, the check and its status."""
    return pd.DataFrame(
        [
            {
                N_("Assumption"): a["assumption"],
                N_("Used by"): ", ".join(a["used_by"]),
                N_("Check"): label,
                N_("Status"): status,
            }
            for a in ASSUMPTIONS
            for label, status in _long(checked, a["checks"])
        ]
    )


def assumptions_caption() -> Msg:
    """Caption of :func:`assumptions_table`."""
    return t(
        "Identifying assumptions, the notebooks that rely on them, and the checks of the "
        "pre-specified list that test them; the outcome of each is in {section}.",
        section=ref("checks"),
    )


#: Words for the codes of config/analysis_plan.yaml (a code without words is shown as it is).
DESIGN_WORDS = {
    "callaway_santanna": N_("Callaway–Sant'Anna (doubly robust)"),
    "cohort_comparison": N_("comparison within cohorts (risk sets)"),
    "never_treated": N_("never-participants"),
    "not_yet_treated": N_("not-yet participants"),
    "universal": N_("universal (the year before the start)"),
    "varying": N_("varying"),
    "absence_rate": N_("absence rate"),
    "repeated_grade": N_("grade repetition"),
    "grade_average": N_("grade average"),
    "grade_avg": N_("grade average"),
    "dropped_out": N_("dropout"),
}

#: Texts of config/analysis_plan.yaml shown in the page's language, marked for the catalog
#: (the extractor does not read that file).  The ``why`` of the programme outcomes is marked in
#: :mod:`analysis.reports.programme` (``DESIGN_WHY``, domain ``programme``).
PLAN_TEXTS = (
    N_("cluster-robust interval (school-clustered, Callaway-Sant'Anna)"),
    N_(
        "Dropout is absorbing (once out, no later years), so it is compared within cohorts, "
        "not with a two-way DiD."
    ),
)

#: Outcome column of the plan's runs -> its key in config/analysis_plan.yaml (as
#: ``analysis.reports.programme.DESIGN_OUTCOME``; report modules do not import each other).
_OUTCOME_KEYS: dict[str, str] = {}  # the plan's keys are the outcome columns

#: The plan's ``control`` parameter of the programme notebooks, in the analysis plan's codes.
_CONTROL_CODES = {"never": "never_treated", "notyet": "not_yet_treated"}


def _word(code: Any) -> str:
    """The message id of a code of the analysis plan (the code itself when it has none)."""
    if isinstance(code, str) and code in DESIGN_WORDS:
        return DESIGN_WORDS[code]
    return str(code)


def _plan_outcome(run: Run) -> str | None:
    if run.notebook == _PROG:
        outcome = str(run.parameters.get("outcome"))
        return _OUTCOME_KEYS.get(outcome, outcome)
    if run.notebook == _DROP:
        return "dropped_out"
    return None


def _deviations(run: Run, design: Mapping[str, Any]) -> tuple[bool, bool]:
    """Whether ``run`` departs from ``design`` in its covariates, and in its comparison group."""
    covs = run.parameters.get("covariates")
    control = run.parameters.get("control")
    return (
        covs is not None and list(covs) != list(design.get("covariates", [])),
        control is not None and _CONTROL_CODES.get(control, control) != design.get("control_group"),
    )


#: How a run of the plan stands against the pre-specified design of its outcome.
USE_WORDS = {
    (False, False): N_("follows the pre-specified design"),
    (True, False): N_("deviates: covariates"),
    (False, True): N_("deviates: comparison group"),
    (True, True): N_("deviates: covariates and comparison group"),
    None: N_("no headline design is pre-specified for this outcome"),
}


def design_table() -> pd.DataFrame:
    """The pre-specified headline design per outcome (``config/analysis_plan.yaml``)."""
    designs = significance.analysis_plan().get("headline_designs", {}) or {}
    return pd.DataFrame(
        [
            {
                N_("Outcome"): _word(outcome),
                N_("Estimator"): _word(d.get("estimator")),
                N_("Comparison group"): _word(d.get("control_group")),
                N_("Covariates"): ", ".join(map(str, d.get("covariates") or [])) or N_("none"),
                N_("Why"): str(d.get("why", "")),
            }
            for outcome, d in designs.items()
        ]
    )


def design_use_table(plan: Plan) -> pd.DataFrame:
    """Each programme run of the plan against the pre-specified design of its outcome.

    A run of an outcome the analysis plan does not name, or whose parameters differ from the
    design (covariates, comparison group), is named as a deviation.
    """
    designs = significance.analysis_plan().get("headline_designs", {}) or {}
    rows = []
    for r in plan.runs:
        outcome = _plan_outcome(r)
        if outcome is None:
            continue
        use = _deviations(r, designs[outcome]) if outcome in designs else None
        rows.append(
            {N_("Report"): r.id, N_("Outcome"): _word(outcome), N_("Design"): USE_WORDS[use]}
        )
    return pd.DataFrame(rows, columns=[N_("Report"), N_("Outcome"), N_("Design")])


def design_caption() -> Msg:
    """Caption of :func:`design_table`."""
    return t(
        "The headline design pre-specified for each outcome (config/analysis_plan.yaml): the "
        "programme pages, the index, this note and the SIINC impact input use it alike; other "
        "choices are robustness checks ({section}).",
        section=ref("checks"),
    )


def design_use_caption() -> Msg:
    """Caption of :func:`design_use_table`."""
    return t(
        "The programme reports of this plan against the pre-specified design of their "
        "outcome: a report whose parameters differ from it, or whose outcome has no "
        "pre-specified design, is named as a deviation."
    )


def significance_text() -> Msg:
    """The one significance rule, from config/analysis_plan.yaml."""
    sig = significance.analysis_plan()["significance"]
    checks = join(
        [term(significance.CHECK_NAMES[c]) for c in sig.get("few_cluster_checks", [])], ", "
    )
    return t(
        "**One significance rule** (pre-specified): an effect is called distinguishable from "
        "zero only when the primary inference — {primary} — rejects zero at the {alpha} level "
        "and every few-cluster check that was run ({checks}) agrees. When the primary "
        "inference rejects zero but a few-cluster check does not, the effect is called "
        "borderline and the check is named; otherwise it is not distinguishable from zero. A "
        "statistic that cannot be computed is reported as undefined, never as a number.",
        primary=_name(str(sig.get("primary", ""))),
        alpha=num(float(sig["alpha"]), 2),
        checks=checks,
    )


# --------------------------------------------------------------------------------------------
# data, outcomes, limitations

DEFINITIONS = pd.DataFrame(
    [
        {
            N_("Indicator"): N_("ELET (early leavers from education and training)"),
            N_("Definition"): N_(
                "18–24 year-olds with at most lower-secondary education, not in education or "
                "training in the last 4 weeks"
            ),
            N_("Source"): "EU-LFS (Eurostat/ISTAT)",
            N_("Level"): N_("region (no province figures)"),
        },
        {
            N_("Indicator"): N_("MIM school dropout (abbandono)"),
            N_("Definition"): N_(
                "pupils leaving school during or between school years (lower and upper secondary)"
            ),
            N_("Source"): "Anagrafe Nazionale Studenti",
            N_("Level"): N_("school records; the programme's pupil outcome"),
        },
        {
            N_("Indicator"): "NEET 15–29",
            N_("Definition"): N_("15–29 year-olds neither employed nor in education or training"),
            N_("Source"): "ISTAT BES",
            N_("Level"): N_("province (BES of the territories)"),
        },
        {
            N_("Indicator"): N_("Implicit dropout (dispersione implicita)"),
            N_("Definition"): N_("grade-13 students below the target level in all INVALSI tests"),
            N_("Source"): "INVALSI",
            N_("Level"): N_("region; not usable for 11–17 year-olds"),
        },
    ]
)


def definitions_table() -> pd.DataFrame:
    """The definitions of the dropout and inclusion indicators (:data:`DEFINITIONS`)."""
    return DEFINITIONS


def definitions_caption() -> Msg:
    """Caption of the definitions table."""
    return t(
        "Definitions of the dropout and inclusion indicators used in Italy: different ages, "
        "sources and concepts, never compared as one indicator."
    )


def outcomes() -> pd.DataFrame:
    """Primary, secondary and context outcomes, and why (message ids)."""
    rows = [
        (N_("absence rate (share of school hours missed)"), N_("primary"),
         N_("frequent, administrative, sensitive to engagement")),
        (N_("grade repetition"), N_("primary"), N_("administrative, observed every year")),
        (N_("grade average (1–10)"), N_("primary"),
         N_("a continuous outcome, with the smallest minimum detectable effect")),
        (N_("dropout (MIM definition)"), N_("secondary, descriptive"),
         N_("annual rates of a few per cent give a minimum detectable effect larger than the "
            "base rate with the programme's participants; verified individually for SIINC")),
        (N_("territorial NEET, youth non-participation, ELET, INVALSI"), N_("context"),
         N_("a programme of a few hundred pupils cannot move them detectably")),
    ]  # fmt: skip
    return pd.DataFrame([{N_("Outcome"): o, N_("Role"): r, N_("Why"): w} for o, r, w in rows])


def outcomes_caption() -> Msg:
    """Caption of :func:`outcomes`."""
    return t("Primary, secondary and context outcomes, and why.")


def limitations() -> list[Msg]:
    """The limitations of the evaluation (sample sizes from the programme facts)."""
    facts = programme_facts()
    return [
        t(
            "Small numbers: about {pupils} course participants and {youths} Volare Alto youths; "
            "small effects on continuous outcomes and dropout effects of a few points are not "
            "detectable ({section}).",
            pupils=integer(facts.courses.pupils),
            youths=integer(facts.day_centre.youths),
            section=ref("power"),
        ),
        t(
            "Short horizon: one or two post-periods; long-run outcomes (completion, "
            "employment) are out of reach."
        ),
        t(
            "Selection: participation is voluntary; identification rests on parallel trends, "
            "checked but not guaranteed ({section}).",
            section=ref("assumptions"),
        ),
        t(
            "Pupil records: until the schools' records are obtained, the programme reports run "
            "on simulated data and are labelled SIMULATED; their numbers are not programme "
            "results."
        ),
        t(
            "Territorial analyses are context: provincial survey estimates move by several "
            "points a year from sampling noise alone, and common shocks affect every territory."
        ),
        t(
            "SIINC parameters: the signed agreement's metrics, prices and caps are not public; "
            "the agreement used here is ILLUSTRATIVE."
        ),
    ]


def limitations_text() -> Concat:
    """Markdown: the limitations as a bullet list."""
    return join([join(["- ", m], "") for m in limitations()], "\n")


def data_sources() -> pd.DataFrame:
    """The raw-data folders with the first line of their PROVENANCE.md and their files."""
    rows = []
    for folder in sorted(p for p in paths.RAW_DIR.iterdir() if p.is_dir()):
        prov = folder / "PROVENANCE.md"
        if not prov.exists():
            continue
        title = prov.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        files = [
            f.name
            for f in sorted(folder.iterdir())
            if f.name not in ("PROVENANCE.md", "SHA256SUMS")
        ]
        rows.append(
            {
                N_("Folder"): paths.relative(folder),
                N_("Source"): title,
                N_("Files"): len(files),
            }
        )
    return pd.DataFrame(rows)


def data_sources_caption() -> Msg:
    """Caption of :func:`data_sources`."""
    return t(
        "Public raw data used: byte-identical copies with PROVENANCE.md and SHA256SUMS in "
        "data/raw/ (Eurostat and ISTAT data under CC BY 4.0)."
    )


def power_missing_note() -> Msg:
    """The note shown when the design-power report has no current results."""
    return t("The design-power report has no current results: no detectable effect is quoted.")


def siinc_recap(agreement_path: str | None = None) -> tuple[str, pd.DataFrame]:
    """Status of the SIINC agreement and one row per metric (rule, unit, source, cap)."""
    from analysis.siinc import load_agreement

    ag = load_agreement(paths.ROOT / agreement_path if agreement_path else None)
    rows = [
        {
            N_("Metric"): m.id,
            N_("Rule"): m.rule.type,
            N_("Periods"): ", ".join(m.periods),
            N_("Cap (€)"): None if m.cap_cents is None else m.cap_cents / 100,
        }
        for m in ag.metrics
    ]
    return str(ag.status), pd.DataFrame(rows)


def siinc_status_note(status: str) -> Msg:
    """The warning shown when the agreement file is not the signed contract."""
    return t(
        "The agreement file is {status}: its parameters are not those of the signed SIINC "
        "contract, which are not public. Payment figures illustrate the mechanism only.",
        status=_name(status),
    )


def siinc_caption(agreement_path: str, status: str) -> Msg:
    """Caption of the SIINC metrics table."""
    return t(
        "SIINC metrics and rules ({path}, status {status}); definitions and data sources are "
        "in the SIINC report.",
        path=agreement_path,
        status=_name(status),
    )


# --------------------------------------------------------------------------------------------
# findings to date


def _questions() -> list[dict[str, str]]:
    qfile = paths.ROOT / "config" / "questions.yaml"
    if not qfile.exists():
        return []
    return [dict(q) for q in read_yaml(qfile).get("questions", []) or []]


@dataclass(frozen=True)
class Finding:
    """One report's verdict, as its page wrote it (``page.verdict``/``page.headline``)."""

    run: str
    title: str
    verdict: Mapping[str, str]
    headline: Mapping[str, str]
    banners: tuple[str, ...]


def findings(
    plan: Plan,
    *,
    exclude: str,
    results_of: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> list[tuple[str, str, list[Finding]]]:
    """The findings to date, grouped by evaluation question (``config/questions.yaml`` order).

    Returns ``(question id, question title, findings)``; a report whose results name no
    question of the file is grouped under the id it names (or ``""``).
    """
    res = _results_map(plan, exclude=exclude, results_of=results_of)
    groups: dict[str, list[Finding]] = {}
    for run in plan.runs:
        r = res.get(run.id)
        if not r:
            continue
        page = r.get("page") or {}
        verdict = page.get("verdict") or {}
        if not verdict:
            continue
        groups.setdefault(str(page.get("question") or ""), []).append(
            Finding(
                run.id,
                run.title,
                dict(verdict),
                dict(page.get("headline") or {}),
                tuple(r.get("banners") or ()),
            )
        )
    out = [(q["id"], q["title"], groups.pop(q["id"], [])) for q in _questions()]
    out += [(qid, "", fs) for qid, fs in groups.items()]
    return out


def _items_html(items: Sequence[Finding], lang: str) -> str:
    g = i18n.translator(lang)
    lis = []
    for f in items:
        flags = "".join(f" <strong>[{html.escape(g(term(b)))}]</strong>" for b in f.banners)
        head = f.headline.get(lang)
        head_html = f" <code>{html.escape(head)}</code>" if head else ""
        verdict = f.verdict.get(lang) or g(t("no verdict recorded in this language"))
        lis.append(
            f'<li><a href="{html.escape(f.run)}.html">{html.escape(g(term(f.title)))}</a>'
            f"{flags}{head_html}: {html.escape(verdict)}</li>"
        )
    return f"<ul>{''.join(lis)}</ul>"


def findings_html(found: Sequence[tuple[str, str, list[Finding]]]) -> Callable[[str], str]:
    """The findings as HTML, a function of the language (every value escaped).

    Each evaluation question, then one line per report: its title (a link), its banners
    (SIMULATED, ILLUSTRATIVE), its headline and its verdict, as its own page wrote them.
    """

    def build(lang: str) -> str:
        g = i18n.translator(lang)
        parts = []
        for _qid, title, items in found:
            head = g(term(title)) if title else g(t("Other reports"))
            parts.append(f"<h3>{html.escape(head)}</h3>")
            if items:
                parts.append(_items_html(items, lang))
            else:
                none = g(t("No report of this plan has answered it yet."))
                parts.append(f"<p>{html.escape(none)}</p>")
        return "".join(parts)

    return build


def notebook_findings(
    plan: Plan,
    notebook: str,
    *,
    exclude: str,
    results_of: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> list[Finding]:
    """The verdicts of the runs of one notebook (e.g. the design-power report)."""
    runs = {r.id for r in plan.runs if r.notebook == notebook}
    return [
        f
        for _q, _title, items in findings(plan, exclude=exclude, results_of=results_of)
        for f in items
        if f.run in runs
    ]


def verdicts_html(items: Sequence[Finding]) -> Callable[[str], str]:
    """Some reports' verdicts as HTML, a function of the language."""
    return lambda lang: _items_html(items, lang)


# --------------------------------------------------------------------------------------------
# the reports of the plan


def reports_html(states: pd.DataFrame) -> Callable[[str], str]:
    """Every report of the plan with its status and headline, a function of the language."""
    return lambda lang: _reports_html(states, lang)


def _reports_html(states: pd.DataFrame, lang: str) -> str:
    g = i18n.translator(lang)
    items = []
    for r in states.itertuples():
        res = _results(r.run) if r.status == "success" else None
        head = (((res or {}).get("page") or {}).get("headline") or {}).get(lang)
        head_html = f" — <code>{html.escape(head)}</code>" if head else ""
        items.append(
            f'<li><a href="{html.escape(r.run)}.html">{html.escape(g(term(r.title)))}</a> '
            f"(<code>{html.escape(r.notebook)}</code>): "
            f"<strong>{html.escape(g(term(STATUS_WORDS[r.status])))}</strong>{head_html}</li>"
        )
    return f"<ul>{''.join(items)}</ul>"


# --------------------------------------------------------------------------------------------
# the document: version, status, evaluator, signature


@dataclass(frozen=True)
class Document:
    """The note as a document (``config/evaluation.yaml``)."""

    evaluator: str
    role: str
    organisation: str
    version: str
    status: str
    place: str


def document(path: Path | None = None) -> Document:
    """Read ``config/evaluation.yaml`` (evaluator's name and role, version, status, place)."""
    p = path or paths.ROOT / "config" / "evaluation.yaml"
    doc = read_yaml(p) if p.exists() else {}
    ev = doc.get("evaluator") or {}
    meta = doc.get("document") or {}
    status = str(meta.get("status", "draft"))
    if status not in ("draft", "final"):
        from analysis.errors import DataValidationError, Violation

        raise DataValidationError(
            paths.relative(p), [Violation(column="document.status", rule="draft or final")]
        )
    return Document(
        evaluator=str(ev.get("name", "")),
        role=str(ev.get("role", "")),
        organisation=str(ev.get("organisation", "")),
        version=str(meta.get("version", "")),
        status=status,
        place=str(meta.get("place", "")),
    )


STATUS_DOC = {"draft": N_("draft"), "final": N_("final")}


def _name(text: str) -> Text:
    """A configured name or role: its translation when the catalogs have one, else as written."""
    return term(text) if text and i18n.has_translation(text, "it") else text


def _built(context: Mapping[str, Any]) -> Any:
    started = str(context.get("started_utc") or "")
    return i18n.date(started[:10]) if started else "–"


def document_text(doc: Document, context: Mapping[str, Any]) -> Msg:
    """Version, date, status and evaluator, shown under the summary box."""
    return t(
        "**Version** {version} · **date** {date} · **status** {status} · **evaluator** "
        "{name}, {role} ({organisation})",
        version=doc.version,
        date=_built(context),
        status=term(STATUS_DOC[doc.status]),
        name=_name(doc.evaluator),
        role=_name(doc.role),
        organisation=_name(doc.organisation),
    )


def signature_text(doc: Document, context: Mapping[str, Any]) -> Text:
    """The signature block (place, date, name and role, a line to sign on)."""
    parts: list[Text] = [
        t("Place and date: {place}, {date}", place=doc.place, date=_built(context)),
        t("The evaluator: {name} — {role}", name=_name(doc.evaluator), role=_name(doc.role)),
        t("Signature: ........................................"),
    ]
    if doc.status != "final":
        parts.append(
            t(
                "*This is a draft (version {version}): it is not to be signed until its status "
                "is final.*",
                version=doc.version,
            )
        )
    return join(parts, "\n\n")


def intro_text() -> Msg:
    """What the note is, with generated references to its sections."""
    return t(
        "The evaluator (*soggetto valutatore*) is independent of the implementer, the local "
        "partner and the outcome payer; it verifies outcomes, clears SIINC payments and "
        "evaluates impact. This note is generated from the plan that ran, the pre-specified "
        "analysis plan and the results of every other report: a check is listed as done only "
        "when a report's results record it ({checks}); the findings ({findings}) are the "
        "reports' own verdicts; every report and its status is in {reports}; how to rerun it "
        "all is in {rerun}.",
        checks=ref("checks"),
        findings=ref("findings"),
        reports=ref("reports"),
        rerun=ref("reproducibility"),
    )


# --------------------------------------------------------------------------------------------
# answer first, index, results


def summary(states: pd.DataFrame, checked: Sequence[CheckResult], doc: Document) -> dict[str, Text]:
    """The fields of the answer-first box, generated from the run states and the checks."""
    ok = int((states["status"] == "success").sum())
    backed = sum(c.backed for c in checked)
    designs = sum(1 for c in checked if c.check.kind == "design" and c.backed)
    missing = len(states) - ok
    certainty: Text = t(
        "Every check listed names the report and the results key that back it; pre-specified "
        "checks that no report has run (number: {not_run}) are listed as not yet run, never "
        "claimed.",
        not_run=integer(len(checked) - backed),
    )
    if missing:
        certainty = join(
            [
                certainty,
                t(
                    "Reports without current results when the note was built: {n}; the checks "
                    "they would back are counted as not run.",
                    n=integer(missing),
                ),
            ]
        )
    return {
        "question": t("How is the evaluation estimated and checked?"),
        "answer": t(
            "{ok} of {total} reports have current results; {designs} design elements are in "
            "use, and {backed} of the {listed} pre-specified checks are backed by a report's "
            "results (not yet run: {not_run}).",
            ok=integer(ok),
            total=integer(len(states)),
            designs=integer(designs),
            backed=integer(backed),
            listed=integer(len(checked)),
            not_run=integer(len(checked) - backed),
        ),
        "certainty": certainty,
        "would_change": t(
            "Running the reports without current results and the checks not yet run; any "
            "change to config/analysis_plan.yaml after outcomes are seen, recorded as a "
            "deviation."
        ),
        "not_this": t(
            "Not a finding of its own: the findings are those of the reports it lists. This "
            "version is {status}.",
            status=term(STATUS_DOC[doc.status]),
        ),
    }


def headline(
    states: pd.DataFrame, checked: Sequence[CheckResult], siinc_status: str
) -> dict[str, Any]:
    """The index's numbers (counts only: numbers as numbers; the SIINC status is a word).

    ``siinc_status`` becomes ``SIINC agreement illustrative`` (1 or 0).
    """
    return {
        "reports described": len(states),
        "reports succeeded": int((states["status"] == "success").sum()),
        "checks listed": len(checked),
        "checks backed": int(sum(c.backed for c in checked)),
        "SIINC agreement illustrative (1 = yes)": int(siinc_status == "ILLUSTRATIVE"),
    }


def headline_text(states: pd.DataFrame, checked: Sequence[CheckResult]) -> Msg:
    """The headline as the index shows it."""
    return t(
        "{backed} of {listed} checks backed; {ok} of {total} reports current",
        backed=integer(sum(c.backed for c in checked)),
        listed=integer(len(checked)),
        ok=integer(int((states["status"] == "success").sum())),
        total=integer(len(states)),
    )


def results(
    plan: Plan,
    states: pd.DataFrame,
    checked: Sequence[CheckResult],
    extra: Sequence[Evidence],
    siinc_status: str,
) -> dict[str, Any]:
    """Everything ``analysis verify`` compares: plan, run states, checks with their evidence."""
    return {
        "plan": paths.relative(plan.source),
        "reports": [
            {"run": r.run, "notebook": r.notebook, "status": r.status} for r in states.itertuples()
        ],
        "checks": [
            {
                "id": c.check.id,
                "kind": c.check.kind,
                "status": "backed" if c.backed else "not run",
                "evidence": [
                    {"run": e.run, "key": e.key, "outcome": e.outcome, "p_value": e.p_value}
                    for e in c.evidence
                ],
            }
            for c in checked
        ],
        "other_robustness_records": [
            {"run": e.run, "key": e.key, "outcome": e.outcome} for e in extra
        ],
        "siinc_status": siinc_status,
        "sections": [sid for sid, _ in SECTIONS],
    }
