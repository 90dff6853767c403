"""The analysis plan: ``config/plan.yaml`` lists every report as notebook + parameters.

Format::

    settings: {cell_timeout: 1800}
    notebooks:                       # one entry per notebook: the input files it reads
      01_context: {inputs: ["data/raw/eurostat_edat_lfse_16/*", ...]}
    runs:
      - id: context_elet_puglia      # unique; names reports/<id>.html and results/<id>.json
        notebook: 01_context
        title: "Early school leaving in Puglia ..."
        parameters: {indicator: elet, focus_unit: Puglia}
        quick: {bootstrap_reps: 49}  # parameter overrides under --quick (optional)

The whole plan is validated before anything runs: an unknown notebook, a duplicate id, or a
parameter the notebook's ``parameters`` cell does not define (papermill would only warn and
run the defaults) is a :class:`~analysis.errors.DataValidationError`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import papermill
import yaml

from analysis import paths
from analysis.errors import DataValidationError, Violation

#: Parameters the runner injects into every notebook (each notebook must declare them).
RUNNER_PARAMETERS = ("run_id", "quick")
_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


@dataclass(frozen=True)
class Run:
    """One report: a notebook executed with parameters."""

    id: str
    notebook: str
    title: str
    parameters: Mapping[str, Any]
    quick_overrides: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    tolerances: Mapping[str, float] = field(default_factory=dict)

    @property
    def notebook_path(self) -> Path:
        """The source notebook."""
        return paths.NOTEBOOKS_DIR / f"{self.notebook}.ipynb"

    def effective_parameters(self, *, quick: bool) -> dict[str, Any]:
        """Parameters passed to papermill (plan values, quick overrides, runner values)."""
        params = dict(self.parameters)
        if quick:
            params.update(self.quick_overrides)
        params["run_id"] = self.id
        params["quick"] = bool(quick)
        return params


@dataclass(frozen=True)
class Plan:
    """The validated plan."""

    source: Path
    runs: tuple[Run, ...]
    settings: Mapping[str, Any]

    def select(self, pattern: str | None) -> list[Run]:
        """Runs whose id matches a glob pattern (all runs when ``pattern`` is None)."""
        if not pattern:
            return list(self.runs)
        import fnmatch

        return [r for r in self.runs if fnmatch.fnmatch(r.id, pattern)]

    def get(self, run_id: str) -> Run:
        """The run with this id."""
        for r in self.runs:
            if r.id == run_id:
                return r
        raise KeyError(run_id)


@lru_cache(maxsize=64)
def _notebook_parameters(path: str, mtime_ns: int) -> frozenset[str]:
    return frozenset(papermill.inspect_notebook(path).keys())


def notebook_parameters(path: Path) -> frozenset[str]:
    """Names defined in a notebook's ``parameters`` cell."""
    return _notebook_parameters(str(path), path.stat().st_mtime_ns)


def load_plan(path: Path | None = None) -> Plan:
    """Read and validate the plan; raise one error listing every problem."""
    path = Path(path or paths.PLAN_FILE)
    src = paths.relative(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataValidationError(src, "plan file not found") from exc
    except yaml.YAMLError as exc:
        raise DataValidationError(src, f"not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list):
        raise DataValidationError(src, "the plan must be a mapping with a 'runs' list")
    notebooks = doc.get("notebooks") or {}
    settings = doc.get("settings") or {}
    unknown_top = set(doc) - {"runs", "notebooks", "settings"}
    problems: list[Violation] = []
    if unknown_top:
        problems.append(Violation(rule=f"unknown top-level key(s) {sorted(unknown_top)}"))
    runs: list[Run] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(doc["runs"]):
        where = f"runs[{i}]"
        if not isinstance(entry, dict):
            problems.append(Violation(rule="each run must be a mapping", column=where))
            continue
        extra = set(entry) - {
            "id",
            "notebook",
            "title",
            "parameters",
            "quick",
            "inputs",
            "tolerances",
        }
        if extra:
            problems.append(Violation(rule=f"unknown key(s) {sorted(extra)}", column=where))
        missing = [k for k in ("id", "notebook", "title") if not entry.get(k)]
        if missing:
            problems.append(Violation(rule=f"missing {missing}", column=where))
            continue
        rid = str(entry["id"])
        if not _ID.match(rid):
            problems.append(
                Violation(
                    rule="id must be lower-case letters, digits, '_' or '-'",
                    column=f"{where}.id",
                    rows=[rid],
                )
            )
        if rid in seen:
            problems.append(
                Violation(
                    rule=f"duplicate run id (also runs[{seen[rid]}])",
                    column=f"{where}.id",
                    rows=[rid],
                )
            )
        seen.setdefault(rid, i)
        nb = str(entry["notebook"])
        nb_path = paths.NOTEBOOKS_DIR / f"{nb}.ipynb"
        params = entry.get("parameters") or {}
        quick = entry.get("quick") or {}
        if not isinstance(params, dict) or not isinstance(quick, dict):
            problems.append(Violation(rule="parameters and quick must be mappings", column=where))
            continue
        if not nb_path.exists():
            known = sorted(p.stem for p in paths.NOTEBOOKS_DIR.glob("*.ipynb"))
            problems.append(
                Violation(
                    rule=f"unknown notebook {nb!r} (known: {known})",
                    column=f"{where}.notebook",
                    rows=[rid],
                )
            )
            continue
        declared = notebook_parameters(nb_path)
        for key in [*params, *quick]:
            if key in RUNNER_PARAMETERS:
                problems.append(
                    Violation(
                        rule=f"parameter {key!r} is set by the runner",
                        column=f"{where}.parameters",
                        rows=[rid],
                    )
                )
            elif key not in declared:
                close = difflib.get_close_matches(key, declared, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(
                    Violation(
                        rule=f"unknown parameter {key!r} for notebook {nb} (defined: "
                        f"{sorted(declared)}){hint}",
                        column=f"{where}.parameters",
                        rows=[rid],
                    )
                )
        missing_runner = [p for p in RUNNER_PARAMETERS if p not in declared]
        if missing_runner:
            problems.append(
                Violation(
                    rule=f"notebook {nb} does not declare runner parameter(s) {missing_runner}",
                    column=f"{where}.notebook",
                    rows=[rid],
                )
            )
        nb_inputs = (
            (notebooks.get(nb) or {}).get("inputs", []) if isinstance(notebooks, dict) else []
        )
        runs.append(
            Run(
                id=rid,
                notebook=nb,
                title=str(entry["title"]),
                parameters=params,
                quick_overrides=quick,
                inputs=tuple([*nb_inputs, *(entry.get("inputs") or [])]),
                tolerances=dict(entry.get("tolerances") or {}),
            )
        )
    if problems:
        raise DataValidationError(src, problems)
    return Plan(source=path, runs=tuple(runs), settings=settings)
