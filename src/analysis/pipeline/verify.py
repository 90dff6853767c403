"""``python -m analysis verify``: rerun every report and compare its numbers with the record.

Each run is re-executed (``--force``) into a temporary reports folder by a separate process,
with the same ``--quick`` setting it was recorded with (the ``quick`` flag of its results
JSON; ``--quick`` reaches the notebook only as the run's ``quick`` overrides in the plan);
then every number of its new results JSON is compared with ``reports/results/<id>.json``.
All randomness is seeded, so numbers are expected to agree to rounding (default
``rtol = 1e-9``); a run may declare looser tolerances for numbers that are legitimately
stochastic across machines in ``config/plan.yaml``::

    - id: design_power
      ...
      tolerances: {"results.simulated_power.*": 0.02}   # absolute, by glob on the JSON path
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis import paths
from analysis.pipeline.plan import Plan
from analysis.pipeline.state import load_results, results_path

DEFAULT_RTOL = 1e-9
DEFAULT_ATOL = 1e-12


@dataclass(frozen=True)
class Mismatch:
    """A number (or value) that differs between the record and the rerun."""

    run_id: str
    path: str
    recorded: Any
    rerun: Any
    tolerance: str

    def __str__(self) -> str:
        return (
            f"{self.run_id}: {self.path}: recorded {self.recorded!r}, rerun {self.rerun!r} "
            f"({self.tolerance})"
        )


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts/lists into {"a.b[0].c": value}."""
    out: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = obj
    return out


def compare(
    run_id: str,
    recorded: Mapping[str, Any],
    rerun: Mapping[str, Any],
    *,
    tolerances: Mapping[str, float] | None = None,
) -> list[Mismatch]:
    """Compare two results JSON documents number by number."""
    tolerances = dict(tolerances or {})
    a, b = flatten(recorded), flatten(rerun)
    out: list[Mismatch] = []
    for key in sorted(set(a) | set(b)):
        if key not in b or key not in a:
            out.append(
                Mismatch(
                    run_id,
                    key,
                    a.get(key, "<absent>"),
                    b.get(key, "<absent>"),
                    "key present in only one",
                )
            )
            continue
        x, y = a[key], b[key]
        tol = next((t for pat, t in tolerances.items() if fnmatch.fnmatch(key, pat)), None)
        numeric = (
            isinstance(x, int | float)
            and isinstance(y, int | float)
            and not isinstance(x, bool)
            and not isinstance(y, bool)
        )
        if numeric:
            if tol is not None:
                ok = abs(x - y) <= tol
                desc = f"atol {tol}"
            else:
                ok = math.isclose(x, y, rel_tol=DEFAULT_RTOL, abs_tol=DEFAULT_ATOL)
                desc = f"rtol {DEFAULT_RTOL}"
            if not ok:
                out.append(Mismatch(run_id, key, x, y, desc))
        elif x != y:
            out.append(Mismatch(run_id, key, x, y, "exact"))
    return out


def verify(
    plan: Plan, *, only: str | None = None, keep: Path | None = None
) -> tuple[list[Mismatch], list[str]]:
    """Rerun the selected runs and compare; return (mismatches, problems).

    ``problems`` lists runs that could not be compared (never recorded, or failed on rerun).
    """
    runs = plan.select(only)
    problems: list[str] = []
    recorded: dict[str, dict[str, Any]] = {}
    for run in runs:
        record = load_results(run.id)
        if record is None:
            problems.append(
                f"{run.id}: no recorded results in {paths.relative(results_path(run.id))} "
                "(run the plan first)"
            )
            continue
        recorded[run.id] = record
    mismatches: list[Mismatch] = []
    with tempfile.TemporaryDirectory(prefix="analysis-verify-") as tmp:
        out_dir = Path(keep or tmp)
        for quick in (False, True):
            ids = [rid for rid, res in recorded.items() if bool(res.get("quick")) == quick]
            if not ids:
                continue
            env = dict(os.environ, ANALYSIS_REPORTS_DIR=str(out_dir))
            for rid in ids:
                cmd = [
                    sys.executable,
                    "-m",
                    "analysis",
                    "run",
                    "--force",
                    "--no-progress",
                    "--plan",
                    str(plan.source),
                    "--only",
                    rid,
                ] + (["--quick"] if quick else [])
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
                new = results_path(rid, reports_dir=out_dir)
                if proc.returncode != 0 or not new.exists():
                    problems.append(f"{rid}: rerun failed: {proc.stderr.strip()[-400:]}")
                    continue
                run = plan.get(rid)
                mismatches += compare(
                    rid,
                    recorded[rid],
                    json.loads(new.read_text(encoding="utf-8")),
                    tolerances=run.tolerances,
                )
    return mismatches, problems
