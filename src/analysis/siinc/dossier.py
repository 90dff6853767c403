"""The SIINC verification dossier: named impact inputs, the checks of each period, small counts.

Three things the payment certificate (*attestazione di verifica*) of each verification period
needs besides the payment arithmetic of :mod:`analysis.siinc.engine`:

* :func:`read_impact_inputs` — every impact estimate the agreement reads is a **named result of
  the evaluation** (``estimates[].source``: a run of ``config/plan.yaml`` and a key of its
  results JSON), converted into the agreement's unit with the declared ``scale`` (shown on the
  page), checked against the pre-specified headline design of ``config/analysis_plan.yaml`` and
  called by its significance rule (:func:`analysis.significance.classify`). No impact number is
  ever typed into the agreement.
* :func:`verification_checks` — the checks of each period, computed from the record counts per
  population (completeness of the records, attrition, eligibility of the units counted, units
  enrolled after the baseline date, exclusions, consistency of the counts with the metrics,
  the impact input), each ``passed``, ``failed`` or ``not applicable`` with the numbers it used.
* :func:`shown_count` — the stated small-count rule (``suppression.k``): a count of youths,
  pupils or organisations from 1 to k − 1 is shown banded ("fewer than k"); the engine always
  computes the amounts from the exact counts.

Why written here: these are the agreement's own verification rules and the project's reading of
its results files; no library offers them. The numbers they combine come from the engine, the
evaluation's results and the verified records.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import paths
from analysis import significance as sig
from analysis.errors import DataValidationError, Violation
from analysis.siinc.agreement import Agreement, ImpactBased, KeyViolation
from analysis.siinc.engine import PaymentResult, compute_payments, validate_verified_metrics
from analysis.siinc.sensitivity import sensitivity

OUTCOMES = ("passed", "failed", "not applicable")
RECORD_FIELDS = (
    "population",
    "period",
    "expected",
    "records_complete",
    "followed_up",
    "counted",
    "counted_eligible",
    "counted_enrolled_after_baseline",
    "excluded",
    "exclusions_documented",
)
#: design elements of ``config/analysis_plan.yaml`` → how a programme run records them
_CONTROL_NAMES = {"never": "never_treated", "notyet": "not_yet_treated"}


# --------------------------------------------------------------------------------------
# The agreement's dossier blocks
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """A population whose records the checks read (youths, pupils, organisations)."""

    id: str
    description: str
    unit: str
    personal: bool
    baseline_date: str | None
    eligibility: str
    size: int | None = None
    size_metric: str | None = None
    texts_it: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DossierSpec:
    """The dossier blocks of the agreement, validated: evaluator, populations, rules, k."""

    evaluator: Mapping[str, Any]
    populations: Mapping[str, Population]
    completeness_min: float
    attrition_max: float
    k: int


def dossier_spec(agreement: Agreement) -> DossierSpec:
    """Validate the dossier blocks of the agreement.

    The ``evaluator``, ``populations``, ``verification_rules`` and ``suppression`` blocks and
    every metric's ``dossier.population`` and ``dossier.role``.

    Raises
    ------
    DataValidationError
        Naming the agreement file, the key path and the rule.
    """
    d = agreement.dossier
    v: list[Violation] = []

    def bad(path: str, rule: str) -> None:
        v.append(KeyViolation(rule=rule, column=path))

    ev = d.get("evaluator")
    if not isinstance(ev, Mapping) or not all(
        isinstance(ev.get(k), str) and ev[k].strip() for k in ("name", "role")
    ):
        bad("evaluator", "must be a mapping with a name and a role (placeholder text allowed)")
        ev = {}
    pops: dict[str, Population] = {}
    for i, raw in enumerate(d.get("populations") or []):
        p = f"populations[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
            bad(p, "must be a mapping with an id")
            continue
        size, size_metric = raw.get("size"), raw.get("size_metric")
        if (size is None) == (size_metric is None):
            bad(p, "give exactly one of size (a number) or size_metric (a verified metric)")
            continue
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
            bad(f"{p}.size", f"must be a positive whole number, got {size!r}")
            continue
        if size_metric is not None and size_metric not in {m.id for m in agreement.metrics}:
            bad(f"{p}.size_metric", f"refers to unknown metric {size_metric!r}")
            continue
        if not isinstance(raw.get("personal"), bool):
            bad(f"{p}.personal", "must be true (persons) or false (organisations)")
            continue
        it = raw.get("it") or {}
        pops[raw["id"]] = Population(
            id=raw["id"],
            description=str(raw.get("description", "")),
            unit=str(raw.get("unit", "")),
            personal=raw["personal"],
            baseline_date=None if raw.get("baseline_date") is None else str(raw["baseline_date"]),
            eligibility=str(raw.get("eligibility", "")),
            size=size,
            size_metric=size_metric,
            texts_it={str(k): str(x) for k, x in it.items()} if isinstance(it, Mapping) else {},
        )
    rules = d.get("verification_rules") or {}
    cmin, amax = rules.get("completeness_min"), rules.get("attrition_max")
    for key, val in (("completeness_min", cmin), ("attrition_max", amax)):
        if isinstance(val, bool) or not isinstance(val, int | float) or not 0 <= val <= 1:
            bad(f"verification_rules.{key}", f"must be a share between 0 and 1, got {val!r}")
    k = (d.get("suppression") or {}).get("k")
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 100:
        bad("suppression.k", f"must be a whole number from 2 to 100, got {k!r}")
    for m in agreement.metrics:
        pid = m.dossier.get("population")
        if pid is not None and pid not in pops:
            bad(f"metrics.{m.id}.dossier.population", f"unknown population {pid!r}")
        role = m.dossier.get("role")
        if role is not None and role not in ("primary", "secondary"):
            bad(f"metrics.{m.id}.dossier.role", f"must be primary or secondary, got {role!r}")
    if v:
        raise DataValidationError(agreement.source, v)
    return DossierSpec(
        evaluator=dict(ev),
        populations=pops,
        completeness_min=float(cmin),
        attrition_max=float(amax),
        k=int(k),
    )


# --------------------------------------------------------------------------------------
# Small counts
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownCount:
    """A count as the page may show it: exact, or the band "fewer than k" (``below``)."""

    kind: str  # "exact" or "below"
    value: int  # the exact count ("exact") or k ("below")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (no exact small count)."""
        return {"shown": self.kind, "value": self.value}


def shown_count(count: int, *, k: int) -> ShownCount:
    """Apply the small-count rule to one count of youths, pupils or organisations.

    A count from 1 to k − 1 is shown as "fewer than k"; 0 and counts of at least k are shown
    exactly. (Complements are not banded: a verified outcome such as 38 of 41 youths is what
    the certificate must state, and the published amounts reveal it anyway; the page says so.)
    """
    c = int(count)
    if 0 < c < k:
        return ShownCount("below", k)
    return ShownCount("exact", c)


# --------------------------------------------------------------------------------------
# Named impact inputs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImpactInput:
    """An impact estimate read from a named result of the evaluation, in the agreement's unit.

    ``estimate``, ``ci_low``, ``ci_high`` and ``unit`` are what the engine reads
    (:func:`~analysis.siinc.engine.validate_estimates`); ``raw`` is the result as stored, in
    ``source_unit``; ``scale`` the conversion factor (negative: the bounds swap).
    """

    id: str
    run: str
    key: str
    file: str
    sha256: str
    outcome: str
    estimand: str
    source_unit: str
    unit: str
    scale: float
    raw: Mapping[str, float]
    estimate: float
    ci_low: float
    ci_high: float
    method: str
    significance: sig.Significance
    design: tuple[Mapping[str, Any], ...]
    simulated: bool
    quick: bool

    @property
    def significance_level(self) -> str:
        """The call of the pre-specified rule (``distinguishable``, ``borderline``, ...)."""
        return self.significance.level

    @property
    def design_matches(self) -> bool:
        """Whether every recorded design element equals the plan's headline design."""
        return all(d["matches"] for d in self.design)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record for the results (numbers as numbers)."""
        return {
            "run": self.run,
            "key": self.key,
            "file": self.file,
            "sha256": self.sha256,
            "outcome": self.outcome,
            "estimand": self.estimand,
            "source_unit": self.source_unit,
            "unit": self.unit,
            "scale": self.scale,
            "raw": dict(self.raw),
            "estimate": self.estimate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "method": self.method,
            "significance": self.significance.to_dict(),
            "design": [dict(d) for d in self.design],
            "design_matches": self.design_matches,
            "simulated": self.simulated,
            "quick": self.quick,
        }


def _dig(obj: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(obj, Mapping) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _few_cluster_p(results: Mapping[str, Any]) -> dict[str, float | None]:
    """The few-cluster checks' p-values of a programme run (None: not run)."""
    stored = _dig(results, "significance.checks")
    if isinstance(stored, Mapping):
        return {
            k: (float("nan") if stored.get(k) is None else float(stored[k]))
            if k in stored
            else None
            for k in sig.CHECK_NAMES
        }
    out: dict[str, float | None] = dict.fromkeys(sig.CHECK_NAMES)
    for rec in results.get("few_clusters") or []:
        inf = str(rec.get("inference", ""))
        p = rec.get("p_value")
        p = float("nan") if p is None else float(p)
        if inf.startswith("wild cluster bootstrap"):
            out["wild_cluster_bootstrap"] = p
        elif inf.startswith("randomization inference"):
            out["randomization_inference"] = p
    return out


def _design_rows(outcome: str, payload: Mapping[str, Any], est: Mapping[str, Any]) -> list[dict]:
    plan = sig.headline_design(outcome)
    params = payload.get("parameters") or {}
    extra = est.get("extra") or {}
    recorded = {
        "control_group": _CONTROL_NAMES.get(str(params.get("control")), params.get("control")),
        "covariates": list(params.get("covariates") or []),
        "base_period": extra.get("base_period"),
        "anticipation": extra.get("anticipation"),
        "estimator": "callaway_santanna"
        if "callaway" in str(est.get("method", "")).lower()
        else est.get("method"),
    }
    rows = []
    for element in ("estimator", "control_group", "covariates", "base_period", "anticipation"):
        if element not in plan:
            continue
        want, got = plan[element], recorded[element]
        if element == "covariates":
            want = list(want or [])
        rows.append(
            {
                "element": element,
                "plan": want if not isinstance(want, list) else ", ".join(want) or "none",
                "run": (got if not isinstance(got, list) else ", ".join(got) or "none")
                if got is not None
                else None,
                "matches": got is not None
                and (sorted(got) == sorted(want) if isinstance(want, list) else got == want),
            }
        )
    return rows


def read_impact_inputs(
    agreement: Agreement, *, results_dir: str | Path | None = None
) -> dict[str, ImpactInput]:
    """Read every impact estimate the agreement declares from its named result.

    Parameters
    ----------
    agreement
        The agreement; each estimate it reads has ``source: {run, key, outcome, unit, scale}``.
    results_dir
        Folder of the runs' results JSON (default: ``paths.RESULTS_DIR``).

    Raises
    ------
    DataValidationError
        If an estimate has no source, its results file is missing or unreadable, the key holds
        no finite estimate and interval, or the stored unit contradicts the declared one.
    """
    folder = Path(results_dir) if results_dir is not None else paths.RESULTS_DIR
    out: dict[str, ImpactInput] = {}
    used = {
        eid
        for m in agreement.metrics
        if isinstance(m.rule, ImpactBased)
        for eid in m.rule.estimate.values()
    }
    for eid in sorted(used):
        decl = agreement.estimates[eid]
        src = decl.source
        where = f"{agreement.source}: estimates.{eid}.source"
        need = ("run", "key", "outcome", "unit", "scale")
        lacking = [k for k in need if k not in src]
        if lacking:
            raise DataValidationError(
                where,
                f"must name the result the estimate is read from ({', '.join(need)}); missing: "
                f"{', '.join(lacking)}. Impact numbers are never typed into the agreement.",
            )
        scale = src["scale"]
        if isinstance(scale, bool) or not isinstance(scale, int | float) or scale == 0:
            raise DataValidationError(where, f"scale must be a non-zero number, got {scale!r}")
        file = folder / f"{src['run']}.json"
        if not file.is_file():
            raise DataValidationError(
                paths.relative(file),
                f"the results of run {src['run']!r} are missing: run it first "
                f"(python -m analysis run --only {src['run']}); estimate {eid!r} reads "
                f"{src['key']} from it",
            )
        blob = file.read_bytes()
        try:
            payload = json.loads(blob)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataValidationError(
                paths.relative(file), f"not a valid results JSON ({exc}); rerun {src['run']!r}"
            ) from exc
        est = _dig(payload, str(src["key"]))
        raw: dict[str, float] = {}
        for a in ("estimate", "ci_low", "ci_high"):
            x = est.get(a) if isinstance(est, Mapping) else None
            if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
                raise DataValidationError(
                    paths.relative(file),
                    f"key {src['key']}.{a} must hold a finite number (estimate {eid!r}), got {x!r}",
                )
            raw[a] = float(x)
        stored_unit = est.get("unit")
        if stored_unit not in (None, "") and str(stored_unit) != str(src["unit"]):
            raise DataValidationError(
                paths.relative(file),
                f"key {src['key']}.unit is {stored_unit!r} but the agreement reads it as "
                f"{src['unit']!r} ({where})",
            )
        conv = sorted(scale * raw[a] for a in ("ci_low", "ci_high"))
        results = payload.get("results") or {}
        check_p = _few_cluster_p(results)
        called = sig.classify(ci_low=raw["ci_low"], ci_high=raw["ci_high"], **check_p)
        out[eid] = ImpactInput(
            id=eid,
            run=str(src["run"]),
            key=str(src["key"]),
            file=f"reports/results/{src['run']}.json",  # as the plan names it
            sha256=hashlib.sha256(blob).hexdigest(),
            outcome=str(src["outcome"]),
            estimand=str(src.get("estimand", "")),
            source_unit=str(src["unit"]),
            unit=decl.units,
            scale=float(scale),
            raw=raw,
            estimate=scale * raw["estimate"],
            ci_low=conv[0],
            ci_high=conv[1],
            method=str(est.get("method", "")),
            significance=called,
            design=tuple(_design_rows(str(src["outcome"]), payload, est)),
            simulated=bool(_dig(results, "data.simulated")),
            quick=bool(payload.get("quick")),
        )
    return out


# --------------------------------------------------------------------------------------
# The checks of each period
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One check of an attestazione: what, for which population, outcome and the numbers used.

    ``numbers`` holds exact counts for the engine and tests; :meth:`to_dict` replaces every
    count of a population by its :func:`shown_count` (what may leave the engine).
    """

    check: str
    period: str
    population: str | None
    outcome: str
    numbers: Mapping[str, Any] = field(default_factory=dict)
    limit: float | None = None

    def to_dict(self, *, k: int) -> dict[str, Any]:
        """JSON-ready: small counts banded by the rule; shares and limits as numbers."""
        shown: dict[str, Any] = {}
        banded = False
        for name, val in self.numbers.items():
            if name.startswith("share") or not isinstance(val, int) or isinstance(val, bool):
                shown[name] = val
            else:
                shown[name] = shown_count(val, k=k).to_dict()
                banded = banded or shown[name]["shown"] != "exact"
        if banded and "share" in shown:  # share × population would give the count back
            shown["share"] = None
        return {
            "check": self.check,
            "period": self.period,
            "population": self.population,
            "outcome": self.outcome,
            "numbers": shown,
            "limit": self.limit,
        }


def validate_records(records: Any, agreement: Agreement, spec: DossierSpec) -> list[dict]:
    """Check the record counts (``verification_records``) and return them as dicts.

    Fields, ids, whole numbers ≥ 0, and the arithmetic they must obey (complete, followed up
    and counted ≤ expected; eligible and late enrolments ≤ counted; documented exclusions ≤
    excluded).
    """
    src = f"{agreement.source}: verification_records"
    if not isinstance(records, Sequence) or isinstance(records, str):
        raise DataValidationError(src, "must be a list of record counts per population and period")
    v: list[Violation] = []
    out = []
    for i, r in enumerate(records):
        p = f"[{i}]"
        if not isinstance(r, Mapping) or set(r) != set(RECORD_FIELDS):
            v.append(KeyViolation(rule=f"needs exactly {', '.join(RECORD_FIELDS)}", column=p))
            continue
        if r["population"] not in spec.populations:
            v.append(KeyViolation(rule="unknown population", column=f"{p}.population"))
        if r["period"] not in agreement.period_ids:
            v.append(KeyViolation(rule="unknown period", column=f"{p}.period"))
        ok = True
        for f in RECORD_FIELDS[2:]:
            x = r[f]
            if f == "followed_up" and x is None:
                continue
            if isinstance(x, bool) or not isinstance(x, int) or x < 0:
                v.append(KeyViolation(rule="must be a whole number ≥ 0", column=f"{p}.{f}"))
                ok = False
        if not ok:
            continue
        n = r["expected"]
        for f in ("records_complete", "followed_up", "counted"):
            if r[f] is not None and r[f] > n:
                v.append(KeyViolation(rule="must not exceed expected", column=f"{p}.{f}"))
        for f in ("counted_eligible", "counted_enrolled_after_baseline"):
            if r[f] > r["counted"]:
                v.append(KeyViolation(rule="must not exceed counted", column=f"{p}.{f}"))
        if r["exclusions_documented"] > r["excluded"]:
            v.append(
                KeyViolation(rule="must not exceed excluded", column=f"{p}.exclusions_documented")
            )
        out.append(dict(r))
    keys = [(r["population"], r["period"]) for r in out]
    if len(set(keys)) != len(keys):
        v.append(KeyViolation(rule="one record per (population, period)", column="population"))
    if v:
        raise DataValidationError(src, v)
    return out


def population_size(
    spec: DossierSpec, population: str, period: str, verified: Mapping[tuple[str, str], Any]
) -> int | None:
    """The population's size in a period: fixed, or the verified count of ``size_metric``."""
    pop = spec.populations[population]
    if pop.size is not None:
        return pop.size
    val = verified.get((pop.size_metric, period))
    return None if val is None else int(val)


def verification_checks(
    agreement: Agreement,
    verified_metrics: pd.DataFrame,
    records: Sequence[Mapping[str, Any]],
    impact: Mapping[str, ImpactInput],
    spec: DossierSpec,
) -> list[Check]:
    """Every check of every period, computed from the record counts and the inputs.

    Per population verified in a period: ``completeness`` (complete records / expected ≥
    ``completeness_min``), ``attrition`` ((expected − followed up) / expected ≤
    ``attrition_max``; not applicable where the period measures no follow-up), ``eligibility``
    (every counted unit eligible), ``late_enrolment`` (no unit enrolled after the baseline date
    counted), ``exclusions`` (every exclusion documented), ``consistency`` (each count metric ≤
    the eligible units counted; the population size = expected). Per impact input:
    ``impact_design`` (the named result uses the plan's headline design) and
    ``impact_significance`` (called by the pre-specified rule; a metric that requires
    significance pays nothing otherwise — that is the rule, so the check states it).
    A period with no record for a population its metrics need fails ``completeness``.
    """
    verified = {
        key: val.value
        for key, val in validate_verified_metrics(verified_metrics, agreement).items()
    }
    by_key = {(r["population"], r["period"]): r for r in records}
    checks: list[Check] = []
    for t in agreement.period_ids:
        metrics = [m for m in agreement.metrics if t in m.periods]
        pops = []
        for m in metrics:
            pid = m.dossier.get("population")
            if pid is not None and pid not in pops:
                pops.append(pid)
        for pid in pops:
            r = by_key.get((pid, t))
            if r is None:
                checks.append(Check("completeness", t, pid, "failed", {"records": 0}))
                continue
            n = r["expected"]
            size = population_size(spec, pid, t, verified)
            share_c = r["records_complete"] / n if n else float("nan")
            checks.append(
                Check(
                    "completeness",
                    t,
                    pid,
                    "not applicable"
                    if not n
                    else ("passed" if share_c >= spec.completeness_min else "failed"),
                    {"records_complete": r["records_complete"], "expected": n, "share": share_c},
                    spec.completeness_min,
                )
            )
            if r["followed_up"] is None or not n:
                checks.append(Check("attrition", t, pid, "not applicable", {"expected": n}))
            else:
                lost = n - r["followed_up"]
                share_a = lost / n
                checks.append(
                    Check(
                        "attrition",
                        t,
                        pid,
                        "passed" if share_a <= spec.attrition_max else "failed",
                        {"lost": lost, "expected": n, "share": share_a},
                        spec.attrition_max,
                    )
                )
            inel = r["counted"] - r["counted_eligible"]
            checks.append(
                Check(
                    "eligibility",
                    t,
                    pid,
                    "passed" if inel == 0 else "failed",
                    {"ineligible_counted": inel, "counted": r["counted"]},
                )
            )
            pop = spec.populations[pid]
            checks.append(
                Check(
                    "late_enrolment",
                    t,
                    pid,
                    "not applicable"
                    if pop.baseline_date is None
                    else ("passed" if r["counted_enrolled_after_baseline"] == 0 else "failed"),
                    {"late_counted": r["counted_enrolled_after_baseline"]},
                )
            )
            undocumented = r["excluded"] - r["exclusions_documented"]
            checks.append(
                Check(
                    "exclusions",
                    t,
                    pid,
                    "passed" if undocumented == 0 else "failed",
                    {"excluded": r["excluded"], "undocumented": undocumented},
                )
            )
            over = []
            for m in metrics:
                if m.dossier.get("population") != pid or (m.id, t) not in verified:
                    continue
                val = verified[(m.id, t)]
                is_count = m.value_range[1] is not None and m.value_range[1] > 1
                if is_count and val > r["counted_eligible"]:
                    over.append(m.id)
            size_ok = size is None or size == n
            checks.append(
                Check(
                    "consistency",
                    t,
                    pid,
                    "passed" if not over and size_ok else "failed",
                    {"metrics_above_count": len(over), "size_matches": size_ok},
                )
            )
        for m in metrics:
            r_ = m.rule
            if not isinstance(r_, ImpactBased):
                continue
            eid = r_.estimate[t]
            inp = impact.get(eid)
            if inp is None:
                checks.append(Check("impact_design", t, None, "failed", {"read": False}))
                continue
            checks.append(
                Check(
                    "impact_design",
                    t,
                    None,
                    "passed" if inp.design_matches else "failed",
                    {
                        "elements": len(inp.design),
                        "matching": sum(d["matches"] for d in inp.design),
                    },
                )
            )
            level = inp.significance_level
            checks.append(
                Check(
                    "impact_significance",
                    t,
                    None,
                    ("passed" if level == "distinguishable" else "failed")
                    if r_.require_significance
                    else "not applicable",
                    {"level": level},
                )
            )
    return checks


def attestation_status(checks: Sequence[Check], period: str) -> str:
    """``certifiable`` when no check of the period failed, else ``not certifiable``."""
    return (
        "not certifiable"
        if any(c.outcome == "failed" for c in checks if c.period == period)
        else "certifiable"
    )


# --------------------------------------------------------------------------------------
# Everything a verification needs, computed once
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dossier:
    """The inputs, payments, checks and sensitivity of one verification (see :func:`assemble`)."""

    agreement: Agreement
    verified_metrics: pd.DataFrame
    impact: Mapping[str, ImpactInput]
    result: PaymentResult
    spec: DossierSpec
    records: tuple[Mapping[str, Any], ...]
    checks: tuple[Check, ...]
    sensitivity: pd.DataFrame
    alternatives: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def status(self, period: str) -> str:
        """``certifiable`` or ``not certifiable`` (:func:`attestation_status`)."""
        return attestation_status(self.checks, period)

    def size(self, population: str | None, period: str) -> int | None:
        """The population's size in ``period`` (None for checks without a population)."""
        if population is None:
            return None
        verified = {
            (r["metric"], r["period"]): r["value"] for r in self.verified_metrics.to_dict("records")
        }
        return population_size(self.spec, population, period, verified)


def assemble(
    agreement: Agreement,
    verified_metrics: pd.DataFrame,
    records: Any,
    *,
    alternatives: Mapping[str, Mapping[str, Any]] | None = None,
    results_dir: str | Path | None = None,
) -> Dossier:
    """Read the named impact inputs, compute the payments, the checks and the sensitivity.

    Parameters
    ----------
    agreement
        The agreement (:func:`~analysis.siinc.load_agreement`).
    verified_metrics
        The verified metrics (:func:`~analysis.siinc.validate_verified_metrics`).
    records
        Record counts per population and period (:func:`validate_records`).
    alternatives
        Sensitivity scenarios (:func:`~analysis.siinc.sensitivity`).
    results_dir
        Where the evaluation's results JSON are read (default ``paths.RESULTS_DIR``).
    """
    spec = dossier_spec(agreement)
    recs = validate_records(records, agreement, spec)
    impact = read_impact_inputs(agreement, results_dir=results_dir)
    result = compute_payments(agreement, verified_metrics, impact)
    checks = verification_checks(agreement, verified_metrics, recs, impact, spec)
    sens = sensitivity(agreement, verified_metrics, impact, alternatives=alternatives)
    return Dossier(
        agreement=agreement,
        verified_metrics=verified_metrics,
        impact=impact,
        result=result,
        spec=spec,
        records=tuple(recs),
        checks=tuple(checks),
        sensitivity=sens,
        alternatives=dict(alternatives or {}),
    )
