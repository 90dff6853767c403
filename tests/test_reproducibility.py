"""verify, atomic writes under interruption, and raw data left untouched."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from analysis import paths
from analysis.data.integrity import verify_raw
from analysis.pipeline.plan import load_plan
from analysis.pipeline.publish import publish
from analysis.pipeline.runner import run_plan
from analysis.pipeline.state import index_path, page_path, read_state, results_path
from analysis.pipeline.verify import compare, verify

BODY = """
import time
import numpy as np
from analysis import display
report = display.start(run_id, title="repro probe")
rng = np.random.default_rng(seed)
draws = rng.normal(size=1000)
time.sleep(sleep)
report.save(headline={"mean": float(draws.mean())},
            results={"mean": float(draws.mean()), "sd": float(draws.std()), "first": draws[:3]})
"""


@pytest.fixture
def repro(sandbox: Path) -> Path:
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    }
    params = new_code_cell('run_id = "interactive"\nseed = 1\nsleep = 0.0')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [new_markdown_cell("# Repro probe"), params, new_code_cell(BODY)]
    nbformat.write(nb, sandbox / "notebooks" / "97_repro.ipynb")
    plan = {
        "runs": [
            {"id": "repro_a", "notebook": "97_repro", "title": "A", "parameters": {"seed": 7}},
            {
                "id": "repro_slow",
                "notebook": "97_repro",
                "title": "slow",
                "parameters": {"seed": 8, "sleep": 60},
                "quick": {"sleep": 0.0},
            },
        ]
    }
    p = sandbox / "config" / "repro_plan.yaml"
    p.write_text(yaml.safe_dump(plan))
    return p


def test_compare_detects_and_tolerates():
    rec = {"results": {"a": 1.0, "b": [1, 2], "s": "x"}}
    assert compare("r", rec, rec) == []
    bad = {"results": {"a": 1.1, "b": [1, 2, 3], "s": "y"}}
    found = {m.path for m in compare("r", rec, bad)}
    assert found == {"results.a", "results.b[2]", "results.s"}
    assert (
        compare(
            "r",
            rec,
            {"results": {"a": 1.01, "b": [1, 2], "s": "x"}},
            tolerances={"results.a": 0.05},
        )
        == []
    )


@pytest.mark.notebooks
def test_verify_reruns_and_flags_a_tampered_number(repro):
    plan = load_plan(repro)
    assert run_plan(plan, only="repro_a", progress=False)[0].status == "success"
    before = results_path("repro_a").read_bytes()
    mismatches, problems = verify(plan, only="repro_a", data=False)
    assert mismatches == [] and problems == []
    assert results_path("repro_a").read_bytes() == before  # record untouched
    rec = json.loads(before)
    rec["results"]["sd"] += 1e-3
    results_path("repro_a").write_text(json.dumps(rec))
    mismatches, _ = verify(plan, only="repro_a", data=False)
    assert [m.path for m in mismatches] == ["results.sd"]


@pytest.mark.notebooks
def test_verify_reruns_a_quick_record_with_quick(repro):
    """A run recorded with --quick is rerun with --quick: its plan overrides apply again."""
    plan = load_plan(repro)
    assert run_plan(plan, only="repro_slow", quick=True, progress=False)[0].status == "success"
    rec = json.loads(results_path("repro_slow").read_text())
    assert rec["quick"] is True and rec["parameters"]["sleep"] == 0.0
    t0 = time.monotonic()
    mismatches, problems = verify(plan, only="repro_slow", data=False, pages=False)
    assert mismatches == [] and problems == []
    assert time.monotonic() - t0 < 55  # the full run sleeps 60 s: the rerun was quick


@pytest.mark.notebooks
def test_same_inputs_and_seed_give_byte_identical_results_and_html(repro):
    plan = load_plan(repro)
    run_plan(plan, only="repro_a", progress=False)
    publish(plan)
    res1 = results_path("repro_a").read_bytes()
    html1 = page_path("repro_a").read_text()
    run_plan(plan, only="repro_a", force=True, progress=False)
    publish(plan)
    assert results_path("repro_a").read_bytes() == res1
    from analysis.pipeline.publish import strip_volatile

    assert strip_volatile(page_path("repro_a").read_text()) == strip_volatile(html1)


def _kill_tree(proc: subprocess.Popen) -> None:
    parent = psutil.Process(proc.pid)
    children = parent.children(recursive=True)
    for p in [*children, parent]:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.notebooks
def test_interrupted_run_leaves_nothing_that_passes_for_current(repro):
    plan = load_plan(repro)
    # a complete earlier run of the same report exists
    assert run_plan(plan, only="repro_slow", quick=True, progress=False)[0].status == "success"
    publish(plan)
    assert results_path("repro_slow").exists()
    raw_before = verify_raw()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "analysis",
            "run",
            "--plan",
            str(repro),
            "--only",
            "repro_slow",
            "--no-progress",
        ],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the notebook is executing
        state = read_state("repro_slow") or {}
        if state.get("status") == "running" and psutil.Process(proc.pid).children(recursive=True):
            break
        time.sleep(0.2)
    time.sleep(3)
    _kill_tree(proc)
    assert read_state("repro_slow")["status"] == "running"
    assert not results_path("repro_slow").exists()
    leftovers = [p.name for p in paths.REPORTS_DIR.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == [] or all(n.startswith(".") for n in leftovers)
    publish(plan)
    assert not page_path("repro_slow").exists()
    index = index_path("en").read_text()
    assert "interrupted (incomplete: rerun it)" in index
    assert verify_raw() == raw_before  # raw data untouched
    # the next run starts clean and succeeds
    assert run_plan(plan, only="repro_slow", quick=True, progress=False)[0].status == "success"
