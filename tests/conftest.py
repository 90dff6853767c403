"""Shared fixtures.

``sandbox`` builds a throw-away copy of the repository layout (config, notebooks, data/raw,
reports) in a temporary folder and points :mod:`analysis.paths` at it, so runner and publish
tests never touch the working tree's reports.  ``quick_plan`` runs the whole plan with
``--quick`` twice in one such sandbox (once per test session) for the end-to-end checks.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def point_paths_at(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Point the package (and kernels started from here) at another repository root."""
    monkeypatch.setenv("ANALYSIS_ROOT", str(root))
    monkeypatch.setenv("ANALYSIS_REPORTS_DIR", str(root / "reports"))
    import analysis.paths

    # reload() re-executes the module in the same module object, so every `paths.X` lookup in
    # the package sees the new root.
    importlib.reload(analysis.paths)


def make_sandbox(root: Path) -> Path:
    """Copy what a run needs (raw data, notebooks, config, lock, built panels) under ``root``."""
    (root / "data").mkdir(parents=True)
    shutil.copytree(REPO / "data" / "raw", root / "data" / "raw")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "config", root / "config")
    shutil.copy(REPO / "requirements.lock", root / "requirements.lock")
    (root / "data" / "processed").mkdir()
    for f in (REPO / "data" / "processed").glob("*"):  # reused if current, rebuilt if stale
        if f.is_file() and not f.name.startswith("."):
            shutil.copy(f, root / "data" / "processed" / f.name)
    return root


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary repository root with the real raw data, config and notebooks."""
    root = make_sandbox(tmp_path / "repo")
    point_paths_at(monkeypatch, root)
    yield root
    monkeypatch.undo()
    import analysis.paths

    importlib.reload(analysis.paths)


@pytest.fixture(scope="session")
def built_panels():
    """The processed panels of the real raw data (built once per session)."""
    from analysis.data import panels

    return panels.build_all()


#: One run per notebook kind, rerun by ``quick_plan`` to check byte-identical results and pages.
REPEATED_RUNS = (
    "context_neet_lecce",
    "counterfactual_neet_lecce_2021",
    "programme_did_absence",
    "programme_dropout",
    "design_power",
    "school_partner_lecce",
)


@pytest.fixture(scope="module")
def quick_plan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Run the whole plan with --quick twice (second time forced) and publish after each.

    Yields the sandbox root and the first run's results/HTML for determinism checks.
    """
    from analysis.__main__ import main

    root = make_sandbox(tmp_path_factory.mktemp("e2e") / "repo")
    with pytest.MonkeyPatch.context() as mp:
        point_paths_at(mp, root)
        from analysis import paths

        first_rc = main(["run", "--quick", "--no-progress"])
        publish_rc = main(["publish", "--no-pdf"])
        first = {p.name: p.read_bytes() for p in paths.RESULTS_DIR.glob("*.json")}
        first_html = {
            p.relative_to(paths.REPORTS_DIR).as_posix(): p.read_text()
            for p in paths.REPORTS_DIR.rglob("*.html")
            if p.name != "index.html"
        }
        # the determinism check reruns one run of each kind of notebook (the whole plan twice
        # would double the fixture's time); every notebook but the build, SIINC and the note
        second_rc = 0
        for pattern in REPEATED_RUNS:
            second_rc = second_rc or main(
                ["run", "--quick", "--force", "--no-progress", "--only", pattern]
            )
        main(["publish"])  # with the PDFs
        yield {
            "root": root,
            "rc": (first_rc, publish_rc, second_rc),
            "results": first,
            "html": first_html,
        }
    import analysis.paths

    importlib.reload(analysis.paths)
