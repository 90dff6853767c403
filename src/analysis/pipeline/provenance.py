"""Provenance of a run: git state, time, parameters, input hashes, environment, seed."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
import subprocess
import sys
from typing import Any

from analysis import paths

KEY_PACKAGES = (
    "analysis",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "pyfixest",
    "diff-diff",
    "pandera",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
)


def git_state() -> dict[str, Any]:
    """Return the commit of the repository and whether the working tree is dirty."""

    def _git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args],
                cwd=paths.ROOT,
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit or "unknown (not a git checkout)",
        "dirty": None if status is None else bool(status),
    }


def package_versions() -> dict[str, str]:
    """Return the installed versions of the key packages (and Python)."""
    out = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def utc_now() -> str:
    """Return the current UTC time as an ISO-8601 string (seconds)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def environment() -> dict[str, Any]:
    """Return the interpreter, platform and package versions."""
    return {
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "versions": package_versions(),
    }
