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

from analysis import paths
from analysis.errors import DataValidationError, Violation
from analysis.yamlfile import read_yaml

#: Parameters the runner injects into every notebook (each notebook must declare them).
RUNNER_PARAMETERS = ("run_id",)  # injected by the runner; --quick reaches a run only as overrides
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
        """Parameters passed to papermill (plan values, quick overrides, runner values).

        ``quick`` has one channel: it replaces the parameters named in the run's ``quick``
        overrides; it is not itself a notebook parameter (the QUICK banner comes from the run
        context).
        """
        params = dict(self.parameters)
        if quick:
            params.update(self.quick_overrides)
        params["run_id"] = self.id
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
    """Names assigned at the top level of the cell tagged ``parameters``.

    Read with :mod:`json` and :mod:`ast` rather than ``papermill.inspect_notebook``: importing
    papermill costs about a second, which every command (and every no-op rerun) paid only to
    validate the plan's parameter names.  Python notebooks only, as papermill's Python
    translator.
    """
    import ast
    import json

    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    names: set[str] = set()
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code" or "parameters" not in cell.get("metadata", {}).get(
            "tags", []
        ):
            continue
        source = cell.get("source", "")
        tree = ast.parse("".join(source) if isinstance(source, list) else source)
        for node in tree.body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else ([node.target] if isinstance(node, ast.AnnAssign) else [])
            )
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return frozenset(names)


def notebook_parameters(path: Path) -> frozenset[str]:
    """Names defined in a notebook's ``parameters`` cell."""
    return _notebook_parameters(str(path), path.stat().st_mtime_ns)


SETTINGS = {"cell_timeout": int}  # known settings and their types
RUN_KEYS = {"id", "notebook", "title", "parameters", "quick", "inputs", "tolerances"}
_NOTEBOOK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")


def _string_list(value: Any, where: str, problems: list[Violation]) -> tuple[str, ...]:
    """A list of glob patterns, or a recorded problem (a bare string is not split into chars)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.append(
            Violation(
                rule="must be a list of file patterns (strings)",
                column=where,
                rows=[repr(value)[:60]],
            )
        )
        return ()
    outside = [v for v in value if _leaves_repository(v)]
    if outside:
        problems.append(
            Violation(
                rule="input patterns are relative to the repository and stay inside it "
                "(no absolute paths, no '..', no '~')",
                column=where,
                rows=outside[:5],
            )
        )
        return ()
    return tuple(value)


def _leaves_repository(pattern: str) -> bool:
    """Whether a glob pattern could name a file outside the repository."""
    p = pattern.replace("\\", "/")
    return p.startswith(("/", "~")) or ".." in p.split("/") or (len(p) > 1 and p[1] == ":")


def _check_settings(settings: Any, problems: list[Violation]) -> dict[str, Any]:
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        problems.append(Violation(rule="must be a mapping", column="settings"))
        return {}
    for key, value in settings.items():
        if key not in SETTINGS:
            close = difflib.get_close_matches(str(key), SETTINGS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                Violation(
                    rule=f"unknown setting {key!r} (known: {sorted(SETTINGS)}){hint}",
                    column="settings",
                )
            )
        elif not isinstance(value, SETTINGS[key]) or isinstance(value, bool) or value <= 0:
            problems.append(
                Violation(
                    rule=f"must be a positive {SETTINGS[key].__name__}",
                    column=f"settings.{key}",
                    rows=[repr(value)],
                )
            )
    return dict(settings)


def _check_notebooks(notebooks: Any, problems: list[Violation]) -> dict[str, tuple[str, ...]]:
    if notebooks is None:
        return {}
    if not isinstance(notebooks, dict):
        problems.append(
            Violation(
                rule="must be a mapping of notebook name -> {inputs: [...]}", column="notebooks"
            )
        )
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, spec in notebooks.items():
        where = f"notebooks.{name}"
        if (
            not isinstance(name, str)
            or not (paths.NOTEBOOKS_DIR / f"{name}.ipynb").is_file()
            or not _NOTEBOOK_NAME.fullmatch(name)
        ):
            known = sorted(p.stem for p in paths.NOTEBOOKS_DIR.glob("*.ipynb"))
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                Violation(rule=f"unknown notebook (known: {known}){hint}", column=where)
            )
            continue
        if not isinstance(spec, dict) or set(spec) - {"inputs"}:
            problems.append(
                Violation(rule="must be a mapping with only the key 'inputs'", column=where)
            )
            continue
        out[name] = _string_list(spec.get("inputs"), f"{where}.inputs", problems)
    return out


def load_plan(path: Path | None = None) -> Plan:
    """Read and validate the plan; raise one error listing every problem.

    Every rule is checked before anything runs: the file is UTF-8 YAML without repeated keys;
    top-level keys, settings (names and types), notebooks (existing notebook names with a list
    of input patterns), and for each run: a unique id, an existing notebook, a string title,
    parameters and quick overrides that the notebook's ``parameters`` cell defines, input and
    tolerance entries of the right types.
    """
    path = Path(path or paths.PLAN_FILE)
    src = paths.relative(path)
    doc = read_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list):
        raise DataValidationError(src, "the plan must be a mapping with a 'runs' list")
    problems: list[Violation] = []
    unknown_top = set(doc) - {"runs", "notebooks", "settings"}
    if unknown_top:
        problems.append(Violation(rule=f"unknown top-level key(s) {sorted(map(str, unknown_top))}"))
    settings = _check_settings(doc.get("settings"), problems)
    notebook_inputs = _check_notebooks(doc.get("notebooks"), problems)
    runs: list[Run] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(doc["runs"]):
        where = f"runs[{i}]"
        if not isinstance(entry, dict):
            problems.append(Violation(rule="each run must be a mapping", column=where))
            continue
        extra = set(map(str, entry)) - RUN_KEYS
        if extra:
            problems.append(Violation(rule=f"unknown key(s) {sorted(extra)}", column=where))
        missing = [k for k in ("id", "notebook", "title") if not entry.get(k)]
        if missing:
            problems.append(Violation(rule=f"missing {missing}", column=where))
            continue
        rid, nb, title = entry["id"], entry["notebook"], entry["title"]
        bad_types = [
            k
            for k, v in (("id", rid), ("notebook", nb), ("title", title))
            if not isinstance(v, str)
        ]
        if bad_types:
            problems.append(Violation(rule=f"{bad_types} must be text", column=where))
            continue
        if not _ID.fullmatch(rid):
            problems.append(
                Violation(
                    rule="id must be lower-case letters, digits, '_' or '-'",
                    column=f"{where}.id",
                    rows=[repr(rid)],
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
        params = entry.get("parameters") or {}
        quick = entry.get("quick") or {}
        tolerances = entry.get("tolerances") or {}
        if not isinstance(params, dict) or not isinstance(quick, dict):
            problems.append(Violation(rule="parameters and quick must be mappings", column=where))
            continue
        if not isinstance(tolerances, dict) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
            for k, v in tolerances.items()
        ):
            problems.append(
                Violation(
                    rule="tolerances must map JSON-path globs to non-negative numbers",
                    column=f"{where}.tolerances",
                    rows=[rid],
                )
            )
            continue
        nb_path = paths.NOTEBOOKS_DIR / f"{nb}.ipynb"
        if not _NOTEBOOK_NAME.fullmatch(nb) or not nb_path.is_file():
            known = sorted(p.stem for p in paths.NOTEBOOKS_DIR.glob("*.ipynb"))
            problems.append(
                Violation(
                    rule=f"unknown notebook {nb!r} (a name in notebooks/, "
                    f"without .ipynb; known: {known})",
                    column=f"{where}.notebook",
                    rows=[rid],
                )
            )
            continue
        declared = notebook_parameters(nb_path)
        for key in [*params, *quick]:
            if not isinstance(key, str):
                problems.append(
                    Violation(
                        rule=f"parameter name {key!r} must be text",
                        column=f"{where}.parameters",
                        rows=[rid],
                    )
                )
            elif key in RUNNER_PARAMETERS:
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
        run_inputs = _string_list(entry.get("inputs"), f"{where}.inputs", problems)
        runs.append(
            Run(
                id=rid,
                notebook=nb,
                title=title,
                parameters=params,
                quick_overrides=quick,
                inputs=(*notebook_inputs.get(nb, ()), *run_inputs),
                tolerances=dict(tolerances),
            )
        )
    if problems:
        raise DataValidationError(src, problems)
    return Plan(source=path, runs=tuple(runs), settings=settings)
