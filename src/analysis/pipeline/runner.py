"""Execute the plan with papermill: cache, failure isolation, provenance, atomic results.

For each selected run the runner

1. checks the raw data against their SHA256SUMS (once per invocation);
2. computes a cache key from the notebook file, the effective parameters, the declared input
   files, the source of ``src/analysis`` and ``requirements.lock``; a run whose key equals that
   of its last *successful* execution is skipped (``--force`` reruns);
3. writes the run context (parameters, input hashes, git state, environment, the plan file)
   that the notebook's provenance block shows;
4. executes the notebook with the project's own ``python3`` kernel into
   ``reports/executed/<id>.ipynb`` (written via a temporary file);
5. on success promotes the notebook's staged results to ``reports/results/<id>.json``; on
   failure records the error and removes any previous results of that run, so the index can
   never show stale numbers as current.

A failing run never stops the others; :func:`run_plan` reports every outcome.  Every per-run
path comes from :mod:`analysis.pipeline.state`.

``--quick`` reaches a run through one channel: the run's ``quick`` overrides in the plan
(:meth:`~analysis.pipeline.plan.Run.effective_parameters`); the context records ``quick`` so
the notebook shows the QUICK banner and its results say they are quick.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import sys
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis import paths
from analysis.data import integrity
from analysis.pipeline import provenance
from analysis.pipeline.plan import Plan, Run
from analysis.pipeline.state import (
    atomic_write_text,
    context_path,
    executed_path,
    executed_staging_path,
    promote,
    read_state,
    results_path,
    staging_path,
    write_state,
)

KERNEL_NAME = "python3"

#: The environment every notebook kernel starts with, so that two runs give the same bits:
#: - one thread: parallel reductions (BLAS, numba, Rust/rayon in pyfixest and diff-diff) sum in
#:   an order that depends on thread scheduling;
#: - a fixed string-hash seed: with Python's random per-process hash seed, set iteration order
#:   inside pyfixest's fixed-effects code changed the last digit of the DiD estimate between
#:   runs (found by the byte-identical rerun test).
DETERMINISTIC_ENV = {
    **{
        name: "1"
        for name in (
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "NUMEXPR_NUM_THREADS",
            "NUMBA_NUM_THREADS",
            "RAYON_NUM_THREADS",
            "POLARS_MAX_THREADS",
            "VECLIB_MAXIMUM_THREADS",
        )
    },
    "PYTHONHASHSEED": "0",
}


def deterministic_environment() -> None:
    """Set :data:`DETERMINISTIC_ENV` for the kernels started from this process."""
    os.environ.update(DETERMINISTIC_ENV)


@dataclass(frozen=True)
class RunOutcome:
    """What happened to one run."""

    run_id: str
    status: str  # "success", "cached", "failed"
    seconds: float
    error: str | None = None


def _hash_files(files: Iterable[Path]) -> dict[str, str]:
    return {paths.relative(f): integrity.sha256(f) for f in sorted(set(files))}


def declared_inputs(run: Run, parameters: dict[str, Any]) -> dict[str, str]:
    """Hash the files a run reads: its plan ``inputs`` globs and any parameter naming a file."""
    files: list[Path] = []
    own = results_path(run.id).resolve()
    for pattern in run.inputs:
        # "reports/..." patterns (other runs' results) follow the reports folder in use
        base = paths.REPORTS_DIR.parent if pattern.startswith("reports/") else paths.ROOT
        if pattern.startswith("reports/"):
            pattern = paths.REPORTS_DIR.name + pattern[len("reports") :]
        matches = [Path(p) for p in glob.glob(str(base / pattern), recursive=True)]
        files += [
            p
            for p in matches
            if p.is_file() and p.name not in integrity.UNMANIFESTED and p.resolve() != own
        ]
    for value in parameters.values():
        if (
            isinstance(value, str)
            and value
            and ("/" in value or value.endswith((".csv", ".parquet")))
        ):
            candidate = (paths.ROOT / value) if not Path(value).is_absolute() else Path(value)
            if candidate.is_file():
                files.append(candidate)
    return _hash_files(files)


def source_fingerprint() -> str:
    """Hash of the package source (``src/analysis``) and the lock file."""
    h = hashlib.sha256()
    pkg = paths.PACKAGE_DIR
    for f in sorted(pkg.rglob("*")):
        if (
            f.is_file()
            and "__pycache__" not in f.parts
            and f.suffix in {".py", ".yaml", ".j2", ".json", ".css"}
        ):
            h.update(f.relative_to(pkg).as_posix().encode())
            h.update(f.read_bytes())
    if paths.LOCK_FILE.exists():
        h.update(paths.LOCK_FILE.read_bytes())
    return h.hexdigest()


def cache_key(
    run: Run,
    parameters: dict[str, Any],
    inputs: dict[str, str],
    source: str,
    *,
    quick: bool = False,
) -> str:
    """The hash that decides whether a run can be skipped (``quick`` changes the banner)."""
    h = hashlib.sha256()
    h.update(b"quick" if quick else b"full")
    h.update(run.notebook_path.read_bytes())
    h.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    h.update(json.dumps(inputs, sort_keys=True).encode())
    h.update(source.encode())
    return h.hexdigest()


def artefact_hashes(run_id: str) -> dict[str, str | None]:
    """SHA-256 of the run's executed notebook and results JSON (``None`` when missing)."""
    return {
        name: integrity.sha256(p) if p.exists() else None
        for name, p in (("executed", executed_path(run_id)), ("results", results_path(run_id)))
    }


def artefacts_intact(run_id: str, state: dict[str, Any] | None = None) -> bool:
    """Whether the executed notebook and results are byte for byte what the run wrote.

    An edited, truncated or corrupted artefact is never cached, published or verified as
    current: the state records their hashes when the run succeeds.
    """
    state = read_state(run_id) if state is None else state
    recorded = (state or {}).get("artefacts")
    return bool(recorded) and recorded == artefact_hashes(run_id) and None not in recorded.values()


def _is_cached(run: Run, key: str) -> bool:
    state = read_state(run.id)
    return bool(
        state
        and state.get("status") == "success"
        and state.get("cache_key") == key
        and artefacts_intact(run.id, state)
    )


def _error_excerpt(exc: BaseException, limit: int = 1500) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    text = f"{ename}: {evalue}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def execute(
    run: Run,
    *,
    quick: bool,
    key: str,
    inputs: dict[str, str],
    git: dict[str, Any],
    timeout: int | None,
    plan_file: Path | None = None,
) -> RunOutcome:
    """Execute one run (no cache check); record its state; never raise for notebook errors.

    ``plan_file`` is the plan the run belongs to; the context records it so that a notebook
    that describes the plan (the methodology note) reads the one that ran.
    """
    import papermill

    params = run.effective_parameters(quick=quick)
    t0 = time.monotonic()
    context = {
        "run_id": run.id,
        "title": run.title,
        "notebook": paths.relative(run.notebook_path),
        "parameters": {k: v for k, v in params.items() if k != "run_id"},
        "quick": quick,
        "plan": paths.relative(plan_file or paths.PLAN_FILE),
        "inputs": inputs,
        "git": git,
        "started_utc": provenance.utc_now(),
        "environment": provenance.environment(),
    }
    atomic_write_text(context_path(run.id), json.dumps(context, indent=1, sort_keys=True))
    # Until this run finishes, nothing of its previous execution may pass for current: the state
    # says "running" (an interrupted run stays so) and the old results and notebook are removed.
    write_state(
        run.id,
        {
            "run_id": run.id,
            "status": "running",
            "cache_key": None,
            "started_utc": context["started_utc"],
        },
    )
    results_path(run.id).unlink(missing_ok=True)
    executed_path(run.id).unlink(missing_ok=True)
    staged = staging_path(run.id)
    staged.unlink(missing_ok=True)
    out = executed_path(run.id)
    tmp = executed_staging_path(run.id)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    error = None
    try:
        papermill.execute_notebook(
            str(run.notebook_path),
            str(tmp),
            parameters=params,
            kernel_name=KERNEL_NAME,
            cwd=str(paths.NOTEBOOKS_DIR),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            execution_timeout=timeout,
        )
        if not staged.exists():
            raise RuntimeError(
                "the notebook finished without saving results (report.save(...) was not called)"
            )
    except BaseException as exc:  # noqa: BLE001 - any failure is recorded, the plan goes on
        if isinstance(exc, KeyboardInterrupt):
            tmp.unlink(missing_ok=True)
            raise
        error = _error_excerpt(exc)
        if not hasattr(exc, "ename"):
            error += "\n" + "".join(traceback.format_exception(exc)[-3:])
    seconds = round(time.monotonic() - t0, 2)
    if tmp.exists():
        promote(tmp, out)
    if error is None:
        promote(staged, results_path(run.id))
        status = "success"
    else:
        staged.unlink(missing_ok=True)
        results_path(run.id).unlink(missing_ok=True)
        status = "failed"
    state = {
        "run_id": run.id,
        "status": status,
        "cache_key": key if status == "success" else None,
        "artefacts": artefact_hashes(run.id) if status == "success" else None,
        "seconds": seconds,
        "error": error,
        "quick": quick,
        "finished_utc": provenance.utc_now(),
    }
    write_state(run.id, state)
    return RunOutcome(run.id, status, seconds, error)


def plan_stages(runs: list[Run]) -> list[list[Run]]:
    """Order runs into stages whose runs are independent of each other.

    1. the data build (notebook ``00_data_build``): it builds the processed panels every other
       run reads, so two runs never rebuild the same panel at once;
    2. every run that reads neither the data build's output alone nor other runs' results;
    3. runs whose declared inputs include other runs' results (``reports/results/…``: the
       methodology note), last.

    Stages run one after the other; the runs of a stage may run at the same time.
    """
    first = [r for r in runs if r.notebook == "00_data_build"]
    last = [r for r in runs if r not in first and any(i.startswith("reports/") for i in r.inputs)]
    middle = [r for r in runs if r not in first and r not in last]
    return [s for s in (first, middle, last) if s]


def run_plan(
    plan: Plan,
    *,
    only: str | None = None,
    force: bool = False,
    quick: bool = False,
    progress: bool = True,
    workers: int = 1,
) -> list[RunOutcome]:
    """Run the selected runs of the plan; return one outcome per run, in plan order.

    ``workers`` runs execute at the same time (each in its own kernel, started from a thread of
    this process), stage by stage (:func:`plan_stages`).  Results do not depend on ``workers``:
    every kernel is single-threaded with a fixed hash seed, and each run writes only its own
    artefacts.  Ctrl-C (SIGINT) stops the plan: no new run starts, the kernels that received
    the signal stop their cell, the interrupted runs are recorded as ``interrupted`` and
    :class:`KeyboardInterrupt` is raised once every worker has stopped.

    Raises
    ------
    DataValidationError
        Before any run, when the raw data differ from their manifests.
    KeyboardInterrupt
        After Ctrl-C, once the interrupted runs are recorded.
    """
    import signal
    import threading
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from tqdm import tqdm

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    runs = plan.select(only)
    integrity.verify_raw()
    deterministic_environment()
    source = source_fingerprint()
    git = provenance.git_state()
    timeout = plan.settings.get("cell_timeout", 1800)
    outcomes: dict[str, RunOutcome] = {}
    bar = tqdm(
        total=len(runs),
        unit="run",
        desc="runs",
        file=sys.stderr,
        disable=not progress,
        ascii=True,
        dynamic_ncols=False,
        ncols=90,
    )
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda *_: stop.set())

    def one(run: Run) -> RunOutcome:
        params = run.effective_parameters(quick=quick)
        inputs = declared_inputs(run, params)
        key = cache_key(run, params, inputs, source, quick=quick)
        if not force and _is_cached(run, key):
            return RunOutcome(run.id, "cached", 0.0)
        if stop.is_set():
            return RunOutcome(run.id, "not run", 0.0, "interrupted before it started")
        outcome = execute(
            run,
            quick=quick,
            key=key,
            inputs=inputs,
            git=git,
            timeout=timeout,
            plan_file=plan.source,
        )
        if stop.is_set() and outcome.status == "failed":
            outcome = _mark_interrupted(run.id, outcome)
        return outcome

    def done(o: RunOutcome) -> None:
        outcomes[o.run_id] = o
        bar.set_postfix_str(o.run_id)
        bar.update(1)

    plan_done = threading.Event()
    threading.Thread(target=_watch, args=(stop, plan_done), daemon=True).start()
    try:
        for stage in plan_stages(runs):
            if stop.is_set():
                break
            if workers == 1 or len(stage) == 1:
                for run in stage:
                    if stop.is_set():
                        break
                    done(one(run))
                continue
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="run") as pool:
                pending = {pool.submit(one, run) for run in stage}
                while pending:
                    finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    for f in finished:
                        done(f.result())
                    if stop.is_set():
                        for f in pending:
                            f.cancel()
                        finished, _ = wait(pending)
                        for f in finished:
                            if not f.cancelled():
                                done(f.result())
                        pending = set()
    finally:
        plan_done.set()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        bar.close()
    if stop.is_set():
        raise KeyboardInterrupt(
            "plan interrupted: "
            + ", ".join(o.run_id for o in outcomes.values() if o.status == "interrupted")
        )
    return [outcomes[r.id] for r in runs if r.id in outcomes]


def _interrupt_kernels() -> None:
    """Send SIGINT to the kernels started from this process.

    jupyter_client starts kernels in their own session, so the Ctrl-C of the terminal does not
    reach them: the runner forwards it, and each kernel stops its cell at once.
    """
    import signal

    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):  # already gone
            child.send_signal(signal.SIGINT)


def _watch(stop: Any, finished: Any) -> None:
    """Forward a Ctrl-C to the running kernels as soon as it arrives (until the plan ends)."""
    while not stop.wait(0.2):
        if finished.is_set():
            return
    _interrupt_kernels()


def _mark_interrupted(run_id: str, outcome: RunOutcome) -> RunOutcome:
    """Record a run stopped by Ctrl-C as interrupted (not as failed)."""
    state = read_state(run_id) or {"run_id": run_id}
    state.update({"status": "interrupted", "cache_key": None, "error": "interrupted (Ctrl-C)"})
    write_state(run_id, state)
    return RunOutcome(run_id, "interrupted", outcome.seconds, "interrupted (Ctrl-C)")
