"""The repository layout, in one place.

Every notebook and module builds paths from these constants; nothing else in the
repository spells a directory name.  ``ANALYSIS_ROOT`` (environment variable) may point
the package at another checkout, which the tests use to build reports into a temporary
folder without touching the working tree.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("ANALYSIS_ROOT", PACKAGE_DIR.parents[1])).resolve()

CONFIG_DIR = ROOT / "config"
PLAN_FILE = CONFIG_DIR / "plan.yaml"
SIINC_FILE = CONFIG_DIR / "siinc.yaml"
PROGRAMME_FILE = CONFIG_DIR / "programme.yaml"  # programme facts: one source for every page
CALIBRATION_FILE = CONFIG_DIR / "simulation_calibration.yaml"  # the simulator's calibration

DATA_DIR = ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
REFERENCE_DIR = DATA_DIR / "reference"
PROGRAMME_DIR = RAW_DIR / "programme"  # real pupil records: git-ignored, never published
PRIVATE_DIR = (
    DATA_DIR / "private"
)  # per-run lists of pupil ids for the privacy scanner (git-ignored)

NOTEBOOKS_DIR = ROOT / "notebooks"

REPORTS_DIR = Path(os.environ.get("ANALYSIS_REPORTS_DIR", ROOT / "reports")).resolve()
EXECUTED_DIR = REPORTS_DIR / "executed"
RESULTS_DIR = REPORTS_DIR / "results"
STATE_DIR = REPORTS_DIR / ".state"  # per-run status and cache keys

LOCK_FILE = ROOT / "requirements.lock"


def processed(name: str) -> Path:
    """Return the path of a processed panel, ``data/processed/<name>.parquet``."""
    return PROCESSED_DIR / f"{name}.parquet"


def raw(*parts: str) -> Path:
    """Return a path inside ``data/raw``."""
    return RAW_DIR.joinpath(*parts)


def relative(path: Path) -> str:
    """Return ``path`` relative to the repository root (for messages and provenance)."""
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return Path(path).as_posix()
