"""The results JSON of a run: the one place a notebook writes its numbers.

``save_results`` writes ``reports/results/<run_id>.json`` (through a staging file that the
runner promotes only when the whole notebook succeeded).  The file holds only deterministic
content — run id, notebook, parameters, flags and numbers — so two runs from the same inputs
and seeds give byte-identical files; volatile provenance (time, commit) lives in the report's
provenance block and the run's state file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import paths


def to_jsonable(obj: Any) -> Any:
    """Convert numbers, arrays, DataFrames and result objects into JSON-serialisable values.

    Non-finite floats become ``None`` (JSON has no NaN); objects with ``to_dict()`` are
    converted through it; DataFrames become lists of records.
    """
    if hasattr(obj, "to_dict") and not isinstance(obj, pd.DataFrame | pd.Series | dict):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, pd.DataFrame):
        return [to_jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, pd.Series):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, str):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    return str(obj)


def atomic_write_text(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically (temporary file in the same folder + rename)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; reports are meant to be read
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def dumps(payload: Mapping[str, Any]) -> str:
    """Serialise deterministically (sorted keys, fixed float formatting by ``json``)."""
    return (
        json.dumps(
            to_jsonable(payload), indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False
        )
        + "\n"
    )


def staging_path(run_id: str) -> Path:
    """Where a notebook writes its results while it runs (promoted by the runner on success)."""
    return paths.STATE_DIR / f"{run_id}.results.json"


def results_path(run_id: str) -> Path:
    """Where the published results of a run live."""
    return paths.RESULTS_DIR / f"{run_id}.json"


def load_results(run_id: str) -> dict[str, Any] | None:
    """Read the published results of a run (``None`` if there are none)."""
    p = results_path(run_id)
    if not p.exists():
        return None
    return json.loads(p.read_text(encoding="utf-8"))
