"""Content of the evaluator's methodology note (notebook ``06_methodology``).

The note is generated from the plan that ran (``config/plan.yaml`` unless the runner was given
another), ``config/siinc.yaml``, the programme facts (``config/programme.yaml``), the raw
data's ``PROVENANCE.md`` files and the results JSON of the other runs, so it cannot drift from
the analysis: every number it quotes is read from a results file or the programme facts, and
every report it lists is a run of the plan.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import paths
from analysis._util import fmt_number
from analysis.facts import programme_facts
from analysis.pipeline.plan import Plan, load_plan
from analysis.pipeline.state import load_results, page_path, read_state

__all__ = [
    "ASSUMPTIONS",
    "DEFINITIONS",
    "QUESTIONS",
    "ROBUSTNESS",
    "assumptions_caption",
    "data_sources",
    "data_sources_caption",
    "definitions_caption",
    "headline",
    "headline_numbers",
    "limitations",
    "limitations_text",
    "links_html",
    "outcomes",
    "outcomes_caption",
    "plan_that_ran",
    "power_caption",
    "power_missing_note",
    "questions_caption",
    "reports_table",
    "results",
    "robustness_text",
    "siinc_caption",
    "siinc_headline_caption",
    "siinc_recap",
    "siinc_status_note",
]

QUESTIONS = pd.DataFrame(
    [
        {
            "question": "Where do Lecce and Puglia stand on youth inclusion and early school leaving?",
            "estimand": "levels and changes of official indicators (no causal estimand)",
            "design": "descriptive benchmarking against region, South, Italy (EU27)",
            "notebook": "01_context",
        },
        {
            "question": "Did Lecce/Puglia depart from what comparable territories predict after 2021/2023?",
            "estimand": "ATT for the treated territory: mean post-period gap to its counterfactual",
            "design": "synthetic control, synthetic DiD, DiD with unit and year effects (triangulated)",
            "notebook": "02_territorial",
        },
        {
            "question": "Did participating pupils have fewer absences, less repetition and better "
            "grades than non-participants of the same schools?",
            "estimand": "ATT of participating (group-time ATT(g,t) aggregated: simple, dynamic)",
            "design": "staggered DiD (Callaway–Sant'Anna, doubly robust, never-participants as "
            "comparison); 2×2, TWFE, Sun–Abraham and two-stage DiD for triangulation",
            "notebook": "03_programme",
        },
        {
            "question": "Did participants drop out less than comparable pupils at risk in the same "
            "school years?",
            "estimand": "difference in the annual dropout hazard from the edition year on",
            "design": "risk-set comparison (linear probability model with baseline covariates, "
            "school and year × edition effects); selection on observables, not a DiD",
            "notebook": "07_dropout",
        },
        {
            "question": "Did the partner school's daytime enrolment move away from that of comparable "
            "school sites after 2021/22?",
            "estimand": "mean post-period gap of the school's enrolment index to its counterfactual",
            "design": "synthetic control, synthetic DiD and DiD on school-site counts (MIM), with "
            "placebo-in-space ranks and leave-one-out",
            "notebook": "08_school",
        },
        {
            "question": "What effects can this design detect?",
            "estimand": "minimum detectable effect (80 % power, 5 % two-sided) and required samples",
            "design": "analytic power formulas and simulation of the actual estimator",
            "notebook": "04_design",
        },
        {
            "question": "How much is payable under the SIINC agreement, and how much depends on the "
            "modelling choice?",
            "estimand": "payable amount per metric × period under the agreement's rules and caps",
            "design": "deterministic payment engine (euro cents) with sensitivity to baselines and "
            "to the impact estimate's lower confidence bound",
            "notebook": "05_siinc",
        },
    ]
)

ASSUMPTIONS = pd.DataFrame(
    [
        {
            "assumption": "Parallel trends (conditional on covariates) between participants and "
            "comparison pupils",
            "used by": "03 programme DiD",
            "how it is checked": "pre-trend Wald test; event-study pre-period coefficients with uniform bands; HonestDiD "
            "relative-magnitude and smoothness sensitivity (breakdown value)",
        },
        {
            "assumption": "No anticipation (pupils do not change before their first course)",
            "used by": "02, 03",
            "how it is checked": "event-study coefficients at e = −1, −2; placebo-in-time for territories",
        },
        {
            "assumption": "Overlap: comparable non-participants exist for every participant profile",
            "used by": "03",
            "how it is checked": "propensity-score overlap plot; balance table with standardised mean differences "
            "(|SMD| < 0.1 after weighting)",
        },
        {
            "assumption": "Donor territories unaffected by the programme; a convex combination of "
            "donors reproduces the treated unit's pre-period path",
            "used by": "02",
            "how it is checked": "pre-period RMSPE; placebo-in-space ranks; leave-one-out donors",
        },
        {
            "assumption": "Few clusters (schools) do not invalidate inference",
            "used by": "03",
            "how it is checked": "wild cluster bootstrap by school and randomization inference next to analytic SEs",
        },
    ]
)

DEFINITIONS = pd.DataFrame(
    [
        {
            "indicator": "ELET (early leavers from education and training)",
            "definition": "18–24 year-olds with at most lower-secondary education, not in education "
            "or training in the last 4 weeks",
            "source": "EU-LFS (Eurostat/ISTAT)",
            "level": "region (no province figures)",
        },
        {
            "indicator": "MIM 'abbandono' (school dropout)",
            "definition": "pupils leaving school during or between school years (5 components, lower "
            "and upper secondary)",
            "source": "Anagrafe Nazionale Studenti (school registers)",
            "level": "school records; the programme's pupil outcome",
        },
        {
            "indicator": "NEET 15–29",
            "definition": "15–29 year-olds neither employed nor in education or training",
            "source": "LFS (ISTAT BES)",
            "level": "province (Bes dei territori)",
        },
        {
            "indicator": "Dispersione implicita",
            "definition": "grade-13 students below the target level in all INVALSI tests",
            "source": "INVALSI",
            "level": "region; not usable for 11–17 year-olds",
        },
    ]
)


def outcomes() -> pd.DataFrame:
    """Primary, secondary and context outcomes, and why (participants from the programme facts)."""
    pupils = programme_facts().courses.pupils
    return pd.DataFrame(
        [
            {
                "outcome": "absence rate (share of school hours missed)",
                "role": "primary",
                "why": "frequent, administrative, sensitive to engagement; detectable at plausible effects",
            },
            {
                "outcome": "grade repetition / non-promotion",
                "role": "primary",
                "why": "administrative; EOP (Carlana et al. 2022) found −5 pp",
            },
            {
                "outcome": "grade average (1–10) and INVALSI scale scores",
                "role": "primary",
                "why": "continuous outcomes with baseline covariates (R² ≈ 0.5) give the smallest MDE",
            },
            {
                "outcome": "dropout (MIM definition) and continuation of enrolment",
                "role": "secondary, descriptive",
                "why": "annual rates of 1–4 % give an MDE larger than the base rate with "
                f"{pupils} participants; "
                "verified individually for SIINC, not used as a causal primary outcome",
            },
            {
                "outcome": "territorial NEET, youth non-participation, ELET, INVALSI by province",
                "role": "context",
                "why": "a programme of a few hundred pupils cannot move them detectably",
            },
        ]
    )


ROBUSTNESS = [
    "not-yet-treated instead of never-treated comparison pupils; doubly robust vs IPW vs outcome "
    "regression",
    "base period varying vs universal; anticipation of one period",
    "TWFE, Sun–Abraham, imputation (Borusyak–Jaravel–Spiess) and 2×2 estimates side by side, "
    "with the Bacon decomposition explaining any TWFE gap",
    "HonestDiD bounds under violations of parallel trends up to the breakdown value",
    "wild cluster bootstrap (schools) and randomization inference",
    "territorial: alternative donor pools (southern vs all provinces), start 2021 vs 2023, "
    "pre-period windows avoiding series breaks, leave-one-out donors, placebo-in-time",
    "SIINC: payments under alternative baselines and under the lower 95 % bound of the impact",
]


def limitations() -> list[str]:
    """The limitations of the evaluation (sample sizes from the programme facts)."""
    facts = programme_facts()
    return [
        f"Small N: about {facts.courses.pupils} course participants and "
        f"{facts.day_centre.youths} Volare Alto youths; effects below roughly 0.2–0.3 SD on "
        "continuous outcomes and dropout effects of a few points are not detectable.",
        "Short horizon: FIS timelines leave one or two post-periods; long-run outcomes "
        "(completion, employment) are out of reach.",
        "Selection: participation is voluntary; identification rests on conditional parallel "
        "trends, checked but not guaranteed.",
        "Pupil records: until the schools' records are obtained, the programme reports run on "
        "simulated data and are labelled SIMULATED; their numbers are not programme results.",
        "Territorial analyses are context: provincial LFS estimates move by several points a year "
        "from sampling noise alone, and common shocks (2021 LFS regulation, post-pandemic labour "
        "market) affect every territory.",
        "SIINC parameters: the signed agreement's metrics, prices and caps are not public; the "
        "shipped agreement is ILLUSTRATIVE.",
    ]


def limitations_text() -> str:
    """Markdown: the limitations as a bullet list."""
    return "\n".join(f"- {x}" for x in limitations())


def robustness_text() -> str:
    """Markdown: the robustness checks reported, as a bullet list."""
    return "**Robustness checks reported:**\n\n" + "\n".join(f"- {r}" for r in ROBUSTNESS)


def plan_that_ran(context: Mapping[str, Any]) -> Plan:
    """The plan the runner executed (recorded in the run context), else ``config/plan.yaml``.

    Parameters
    ----------
    context
        The run context (``report.context``); its ``plan`` entry is the plan file, relative
        to the repository root unless absolute.  Run interactively there is none.
    """
    recorded = context.get("plan")
    if not recorded:
        return load_plan()
    p = Path(recorded)
    return load_plan(p if p.is_absolute() else paths.ROOT / p)


def reports_table(plan: Plan, *, exclude: str) -> pd.DataFrame:
    """One row per run of the plan: link, notebook, status, headline numbers."""
    rows = []
    for run in plan.runs:
        if run.id == exclude:
            continue
        res = load_results(run.id) or {}
        state = read_state(run.id) or {}
        head = "; ".join(f"{k}: {fmt_number(v)}" for k, v in (res.get("headline") or {}).items())
        rows.append(
            {
                "report": run.title,
                "link": page_path(run.id).name,
                "notebook": run.notebook,
                "status": state.get("status", "not run"),
                "flags": ", ".join(res.get("banners", [])),
                "headline numbers": head,
            }
        )
    return pd.DataFrame(rows)


def headline_numbers(plan: Plan, notebook: str) -> pd.DataFrame:
    """Headline numbers of every run of one notebook (label, value, run)."""
    rows = []
    for run in plan.runs:
        if run.notebook != notebook:
            continue
        res = load_results(run.id) or {}
        for label, value in (res.get("headline") or {}).items():
            rows.append({"run": run.id, "number": label, "value": value})
    return pd.DataFrame(rows, columns=["run", "number", "value"])


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
        rows.append({"folder": paths.relative(folder), "source": title, "files": ", ".join(files)})
    return pd.DataFrame(rows)


def siinc_recap(agreement_path: str | None = None) -> tuple[str, pd.DataFrame]:
    """Status of the SIINC agreement and one row per metric (rule, unit, source, cap)."""
    from analysis.siinc import load_agreement

    ag = load_agreement(paths.ROOT / agreement_path if agreement_path else None)
    rows = [
        {
            "metric": m.id,
            "definition": m.definition,
            "unit": m.unit,
            "data source": m.data_source,
            "eligible cohort": m.eligible_cohort,
            "rule": m.rule.type,
            "periods": ", ".join(m.periods),
            "cap (EUR)": None if m.cap_cents is None else m.cap_cents / 100,
        }
        for m in ag.metrics
    ]
    return str(ag.status), pd.DataFrame(rows)


def questions_caption() -> str:
    """Caption of the evaluation-questions table (:data:`QUESTIONS`)."""
    return (
        "Evaluation questions, the quantity estimated (estimand), the design, and the notebook "
        "that answers each."
    )


def assumptions_caption() -> str:
    """Caption of the assumptions table (:data:`ASSUMPTIONS`)."""
    return "Identifying assumptions, the analyses that rely on them, and the checks reported."


def definitions_caption() -> str:
    """Caption of the definitions table (:data:`DEFINITIONS`)."""
    return "Definitions of the dropout and inclusion indicators used in Italy (background note §4)."


def data_sources_caption() -> str:
    """Caption of :func:`data_sources`."""
    return (
        "Public raw data used (byte-identical copies with PROVENANCE.md and SHA256SUMS in "
        "data/raw/). Licences: Eurostat and ISTAT CC BY 4.0."
    )


def power_caption() -> str:
    """Caption of the design-power headline numbers."""
    return "Headline numbers of the design-power report (MDE at 80 % power, 5 % two-sided)."


def power_missing_note() -> str:
    """The note shown when the design-power report has not been run."""
    return "The design-power report has not been run yet."


def outcomes_caption() -> str:
    """Caption of :func:`outcomes`."""
    return "Primary, secondary and context outcomes, and why."


def siinc_headline_caption() -> str:
    """Caption of the SIINC payment report's headline numbers."""
    return "Headline numbers of the SIINC payment report (EUR)."


def siinc_status_note(status: str) -> str:
    """The warning shown when the agreement file is not the signed contract."""
    return (
        f"The agreement file is {status}: its parameters are not those of the signed SIINC "
        "contract, which are not public. Payment figures below illustrate the mechanism only."
    )


def siinc_caption(agreement_path: str, status: str) -> str:
    """Caption of the SIINC metrics table."""
    return f"SIINC metrics and rules ({agreement_path}, status {status})."


def links_html(table: pd.DataFrame) -> str:
    """The reports table as HTML with working relative links (every value escaped)."""
    rows = "".join(
        f'<tr><td><a href="{html.escape(r["link"])}">{html.escape(r["report"])}</a></td>'
        f"<td><code>{html.escape(r['notebook'])}</code></td><td>{html.escape(r['status'])}</td>"
        f"<td>{html.escape(r['flags'])}</td><td>{html.escape(r['headline numbers'])}</td></tr>"
        for r in table.to_dict(orient="records")
    )
    return (
        '<table class="result-table"><thead><tr><th>report</th><th>notebook</th>'
        "<th>status</th><th>flags</th><th>headline numbers</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def headline(reports: pd.DataFrame, siinc_status: str) -> dict[str, Any]:
    """The index's numbers: reports described and succeeded, the SIINC agreement's status."""
    return {
        "reports described": len(reports),
        "reports succeeded": int((reports["status"] == "success").sum()),
        "SIINC agreement status": siinc_status,
    }


def results(reports: pd.DataFrame, siinc_status: str) -> dict[str, Any]:
    """Everything ``analysis verify`` compares: the reports, the SIINC status, the design."""
    return {
        "reports": reports[["link", "notebook", "status"]],
        "siinc_status": siinc_status,
        "questions": QUESTIONS,
        "outcomes": outcomes(),
    }
