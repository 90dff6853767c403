"""Faults of the pipeline (issue 10): a full disk never promotes a truncated artefact, publish
survives one bad artefact, and a normal run's log carries no kernel noise."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import paths
from analysis.pipeline.plan import load_plan
from analysis.pipeline.runner import run_plan
from analysis.pipeline.state import (
    PromotionError,
    executed_path,
    executed_staging_path,
    promote,
    read_state,
    results_path,
    staging_path,
)
from test_runner import _probe_notebook, _write_plan


@pytest.fixture
def two_probes(sandbox: Path) -> Path:
    _probe_notebook(sandbox / "notebooks" / "99_probe.ipynb")
    return _write_plan(
        sandbox,
        [
            {"id": "probe_a", "notebook": "99_probe", "title": "Probe A", "parameters": {}},
            {
                "id": "probe_b",
                "notebook": "99_probe",
                "title": "Probe B",
                "parameters": {"value": 5},
            },
        ],
    )


def _disk_fills(monkeypatch, *, what: str, raise_error: bool) -> object:
    """Make papermill's run end with a truncated artefact (and ENOSPC if ``raise_error``).

    Returns papermill's own ``execute_notebook`` (to restore it).
    """
    import papermill

    real = papermill.execute_notebook

    def execute_notebook(source, output, **kwargs):
        result = real(source, output, **kwargs)
        run_id = kwargs["parameters"]["run_id"]
        victim = Path(output) if what == "notebook" else staging_path(run_id)
        blob = victim.read_bytes()
        victim.write_bytes(blob[: len(blob) // 2])  # the write stopped half way
        if raise_error:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(victim))
        return result

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)
    return real


def _no_artefacts(run_id: str, *, notebook: bool = False) -> None:
    """Nothing of the run passes for current (``notebook``: a complete executed notebook of the
    failed run may stay, as for any failed run, to show where it stopped)."""
    import json

    if notebook and executed_path(run_id).exists():
        json.loads(executed_path(run_id).read_text())  # complete, not truncated
    else:
        assert not executed_path(run_id).exists()
    assert not results_path(run_id).exists()
    assert not executed_staging_path(run_id).exists()
    assert not staging_path(run_id).exists()
    assert not list(paths.REPORTS_DIR.rglob(f"{run_id}.html"))


@pytest.mark.parametrize(
    ("what", "raise_error"),
    [("notebook", True), ("notebook", False), ("results", True), ("results", False)],
)
def test_full_disk_never_promotes_a_truncated_artefact(two_probes, monkeypatch, what, raise_error):
    plan = load_plan(two_probes)
    _disk_fills(monkeypatch, what=what, raise_error=raise_error)
    (outcome,) = run_plan(plan, only="probe_a", progress=False)
    assert outcome.status == "failed"
    state = read_state("probe_a")
    assert state["status"] == "failed" and state["cache_key"] is None
    if raise_error:
        assert "No space left on device" in state["error"]
    if what == "notebook" or not raise_error:  # what the promotion check caught
        assert "nothing was promoted" in state["error"], state["error"]
    _no_artefacts("probe_a", notebook=what == "results")


def test_publish_survives_a_failed_write_and_rewrites_the_index(two_probes, monkeypatch):
    from analysis.pipeline.publish import publish

    plan = load_plan(two_probes)
    assert {o.status for o in run_plan(plan, progress=False)} == {"success"}
    publish(plan)
    indexes = {p: p.read_bytes() for p in paths.REPORTS_DIR.rglob("index.html")}
    assert indexes and list(paths.REPORTS_DIR.rglob("probe_a.html"))
    real = _disk_fills(monkeypatch, what="notebook", raise_error=True)
    assert run_plan(plan, only="probe_a", force=True, progress=False)[0].status == "failed"
    publish(plan)  # does not raise
    _no_artefacts("probe_a")  # its old page is withdrawn: no stale page passes for current
    assert list(paths.REPORTS_DIR.rglob("probe_b.html"))  # the other run is still published
    assert any(p.read_bytes() != blob for p, blob in indexes.items())  # the index was rewritten
    # a results file corrupted after a successful run: publish survives it and says why
    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", real)  # the disk has room again
    run_plan(plan, only="probe_a", progress=False)
    results_path("probe_b").write_text('{"run_id": "probe_b", "res')
    publish(plan)
    assert not list(paths.REPORTS_DIR.rglob("probe_b.html"))
    assert list(paths.REPORTS_DIR.rglob("probe_a.html"))


def test_promote_checks_before_renaming(tmp_path):
    staged, target = tmp_path / ".x.tmp", tmp_path / "x.json"
    target.write_text('{"old": 1}')
    staged.write_text('{"new": ')
    with pytest.raises(PromotionError, match="nothing was promoted"):
        promote(staged, target)
    assert target.read_text() == '{"old": 1}' and not staged.exists()
    staged.write_text('{"new": 2}')
    digest = promote(staged, target)
    assert target.read_text() == '{"new": 2}' and len(digest) == 64


def test_a_normal_run_logs_no_kernel_noise(two_probes):
    """No "running over TCP without encryption" and no "KeyboardInterrupt caught in kernel".

    The interrupt jupyter_client sends at kernel shutdown hit kernels still handling a message
    in parallel builds; both workers here finish their kernels at about the same time.
    """
    env = {
        **os.environ,
        "ANALYSIS_ROOT": str(paths.ROOT),
        "ANALYSIS_REPORTS_DIR": str(paths.REPORTS_DIR),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "run", "--plan", str(two_probes)]
        + ["--workers", "2", "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 executed" in proc.stdout
    assert "without encryption" not in proc.stderr, proc.stderr[-2000:]
    assert "KeyboardInterrupt" not in proc.stderr, proc.stderr[-2000:]
