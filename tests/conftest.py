"""Shared fixtures.

``sandbox`` builds a throw-away copy of the repository layout (config, notebooks, data/raw,
reports) in a temporary folder and points :mod:`analysis.paths` at it, so runner and publish
tests never touch the working tree's reports.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _reload_paths(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    monkeypatch.setenv("ANALYSIS_ROOT", str(root))
    monkeypatch.setenv("ANALYSIS_REPORTS_DIR", str(root / "reports"))
    import analysis.paths

    # reload() re-executes the module in the same module object, so every `paths.X` lookup in
    # the package sees the new root.
    importlib.reload(analysis.paths)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary repository root with the real raw data, config and notebooks."""
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    shutil.copytree(REPO / "data" / "raw", root / "data" / "raw")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "config", root / "config")
    shutil.copy(REPO / "requirements.lock", root / "requirements.lock")
    (root / "data" / "processed").mkdir()
    # Reuse already-built panels when present (they are rebuilt if stale).
    for f in (REPO / "data" / "processed").glob("*"):
        if f.is_file() and not f.name.startswith("."):
            shutil.copy(f, root / "data" / "processed" / f.name)
    _reload_paths(monkeypatch, root)
    yield root
    monkeypatch.undo()
    _reload_paths(monkeypatch, REPO)
    monkeypatch.undo()


@pytest.fixture(scope="session")
def built_panels():
    """The processed panels of the real raw data (built once per session)."""
    from analysis.data import panels

    return panels.build_all()
