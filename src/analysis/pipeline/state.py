"""Per-run state: the one owner of every per-run artefact path and of atomic writes.

A run ``<id>`` leaves these artefacts, and no module spells their paths but this one:

=========================  ===========================================  ====================
artefact                   path                                         written by
=========================  ===========================================  ====================
context                    ``reports/.state/<id>.context.json``         runner (before)
staged results             ``reports/.state/<id>.results.json``         the notebook
state (status, cache key)  ``reports/.state/<id>.json``                 runner
executed notebook          ``reports/executed/<id>.ipynb``              runner (promoted)
notebook being executed    ``reports/executed/.<id>.tmp.ipynb``         papermill (staged)
results JSON               ``reports/results/<id>.json``                runner (promoted)
page, per language         ``reports/<lang>/<id>.html``                 publish
index, per language        ``reports/<lang>/index.html``                publish
entry page (opens Italian) ``reports/index.html``                       publish
pupil ids                  ``data/private/pupil_ids/<id>.txt``          the notebook
=========================  ===========================================  ====================

The results JSON holds only deterministic content — run id, notebook, parameters, flags and
numbers — so two runs from the same inputs and seeds give byte-identical files; volatile
provenance (time, commit) lives in the report's provenance block and the run's state file.
Every write is atomic (a temporary file in the same folder, then a rename), and the staged
results and executed notebook are promoted only when the whole notebook succeeded.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from analysis import paths
from analysis.errors import DataValidationError

__all__ = [
    "atomic_write_text",
    "check_json",
    "context_path",
    "dumps",
    "executed_path",
    "executed_staging_path",
    "index_path",
    "load_results",
    "page_path",
    "root_index_path",
    "page_record_path",
    "promote",
    "PromotionError",
    "pupil_ids_path",
    "read_state",
    "registered_pupil_ids",
    "reports_lock",
    "results_path",
    "staging_path",
    "state_path",
    "write_state",
]


def __getattr__(name: str) -> Any:
    # ``to_jsonable`` is re-exported for the notebooks' writers, but imported lazily: it needs
    # pandas, and a no-op ``report`` (which imports this module) must not pay for pandas.
    if name == "to_jsonable":
        from analysis._util import to_jsonable

        return to_jsonable
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PromotionError(OSError):
    """A finished artefact could not be written or failed its check; nothing was promoted."""


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: some filesystems refuse it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically (temporary file in the same folder + rename).

    The bytes are flushed to disk (``fsync``) and their size checked before the rename, so a
    full disk leaves the previous file (or none) in place, never a truncated one: the error
    (``OSError``, ``errno.ENOSPC``) propagates and the temporary file is removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if os.path.getsize(tmp) != len(data):
            raise PromotionError(f"{paths.relative(target)}: short write ({tmp})")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; reports are meant to be read
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def dumps(payload: Mapping[str, Any]) -> str:
    """Serialise deterministically (sorted keys, fixed float formatting by ``json``)."""
    from analysis._util import to_jsonable

    return (
        json.dumps(
            to_jsonable(payload), indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False
        )
        + "\n"
    )


def staging_path(run_id: str) -> Path:
    """Where a notebook writes its results while it runs (promoted by the runner on success)."""
    return paths.STATE_DIR / f"{run_id}.results.json"


def results_path(run_id: str, *, reports_dir: Path | None = None) -> Path:
    """Where the published results of a run live.

    ``reports_dir`` names another reports folder than :data:`analysis.paths.REPORTS_DIR`
    (``analysis verify`` reruns into a temporary one).
    """
    results_dir = paths.RESULTS_DIR
    if reports_dir is not None:
        results_dir = Path(reports_dir) / paths.RESULTS_DIR.relative_to(paths.REPORTS_DIR)
    return results_dir / f"{run_id}.json"


def load_results(run_id: str) -> dict[str, Any] | None:
    """Read the published results of a run (``None`` if there are none)."""
    p = results_path(run_id)
    if not p.exists():
        return None
    return json.loads(p.read_text(encoding="utf-8"))


def check_json(blob: bytes) -> None:
    """Raise :class:`ValueError` unless ``blob`` is one complete JSON document (a promotion check).

    Results JSON and executed notebooks are both JSON: a write cut short by a full disk leaves a
    prefix that does not parse.
    """
    json.loads(blob.decode("utf-8"))


def promote(staged: Path, target: Path, *, check: Any = check_json) -> str:
    """Move a finished artefact into place: ``fsync`` it, check it, then rename it atomically.

    ``staged`` was written by another writer (papermill, the notebook's ``report.save``), so its
    bytes are flushed to disk here and read back: ``check`` (default :func:`check_json`) must
    accept them.  The rename happens only then, so a truncated or corrupt artefact is never
    promoted; it is removed instead and :class:`PromotionError` names the file.

    Returns
    -------
    str
        The SHA-256 of the promoted bytes (what the run's state records).
    """
    import hashlib

    staged, target = Path(staged), Path(target)
    try:
        with open(staged, "rb") as fh:
            os.fsync(fh.fileno())
            blob = fh.read()
        if check is not None:
            check(blob)
    except (OSError, ValueError) as exc:
        staged.unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PromotionError(
            f"{paths.relative(target)} was not written: {type(exc).__name__}: {reason[:200]} "
            "(disk full or the writer failed); nothing was promoted: free space and rerun"
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, target)
    _fsync_dir(target.parent)
    return hashlib.sha256(blob).hexdigest()


def context_path(run_id: str) -> Path:
    """Where the runner writes the context of a run before executing its notebook."""
    return paths.STATE_DIR / f"{run_id}.context.json"


def state_path(run_id: str) -> Path:
    """The state file of a run (status, cache key, timings, error)."""
    return paths.STATE_DIR / f"{run_id}.json"


def read_state(run_id: str) -> dict[str, Any] | None:
    """The recorded state of a run, if any (``None`` when missing or unreadable)."""
    p = state_path(run_id)
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def write_state(run_id: str, state: Mapping[str, Any]) -> None:
    """Record the state of a run (atomically)."""
    atomic_write_text(state_path(run_id), json.dumps(dict(state), indent=1, sort_keys=True))


def executed_path(run_id: str) -> Path:
    """The executed notebook of a run."""
    return paths.EXECUTED_DIR / f"{run_id}.ipynb"


def executed_staging_path(run_id: str) -> Path:
    """Where papermill writes a run's notebook while it executes (promoted when it ends)."""
    out = executed_path(run_id)
    return out.with_name(f".{out.stem}.tmp.ipynb")


def page_path(run_id: str, lang: str | None = None) -> Path:
    """The published HTML page of a run in ``lang`` (default: the first language, Italian).

    ``reports/<lang>/<run_id>.html``; every language has its own folder.
    """
    from analysis.i18n import DEFAULT_LANGUAGE

    return paths.REPORTS_DIR / (lang or DEFAULT_LANGUAGE) / f"{run_id}.html"


def index_path(lang: str | None = None) -> Path:
    """The index of ``lang`` listing every run of the plan (``reports/<lang>/index.html``)."""
    from analysis.i18n import DEFAULT_LANGUAGE

    return paths.REPORTS_DIR / (lang or DEFAULT_LANGUAGE) / "index.html"


def root_index_path() -> Path:
    """``reports/index.html``: opens the index of the first language."""
    return paths.REPORTS_DIR / "index.html"


def page_record_path(run_id: str) -> Path:
    """What the published page of a run was built from (a hash; publish skips unchanged pages)."""
    return paths.STATE_DIR / f"{run_id}.page.sha256"


def pupil_ids_path(run_id: str) -> Path:
    """Where the pupil ids a run read are listed (never inside ``reports/``)."""
    return paths.PRIVATE_DIR / "pupil_ids" / f"{run_id}.txt"


def registered_pupil_ids(run_id: str) -> set[str]:
    """The pupil ids registered by a run (empty when none)."""
    p = pupil_ids_path(run_id)
    if not p.exists():
        return set()
    return {line for line in p.read_text(encoding="utf-8").splitlines() if line}


@contextlib.contextmanager
def reports_lock(what: str) -> Iterator[None]:
    """Hold the reports folder for one command at a time (``run`` or ``publish``).

    Two runs of the plan into the same folder would overwrite each other's staged results and
    notebooks; the second one stops at once with a clear message instead.  The lock is an
    ``fcntl`` lock on ``reports/.state/lock``: the kernel releases it if the holder dies.
    """
    import fcntl

    path = paths.STATE_DIR / "lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another command"
            raise DataValidationError(
                paths.relative(paths.REPORTS_DIR),
                f"another run is in progress ({holder}); wait for it to finish, or use another "
                "reports folder (ANALYSIS_REPORTS_DIR)",
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{what}, pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
