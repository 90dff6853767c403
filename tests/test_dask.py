"""The plan on a Dask cluster (issue 14): a 2-worker LocalCluster gives byte-identical results
to a serial run, with the same cache, failure isolation and state files; the kernels see the
scheduler and ``ANALYSIS_JOBS``; without the ``dask`` extra, ``--scheduler`` says which extra."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from analysis.pipeline.plan import load_plan
from analysis.pipeline.runner import run_plan
from analysis.pipeline.state import executed_path, read_state, results_path
from test_runner import PROBE, _write_plan

ENV_CELL = """
import os
print("SCHEDULER", os.environ.get("DASK_SCHEDULER_ADDRESS"), "JOBS", os.environ.get("ANALYSIS_JOBS"))
"""


def _plan(root: Path) -> Path:
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    }
    params = new_code_cell('run_id = "interactive"\nvalue = 1\nlabel = "a"\nfail = False')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell(ENV_CELL), new_code_cell(PROBE)]
    nbformat.write(nb, root / "notebooks" / "99_probe.ipynb")
    return _write_plan(
        root,
        [
            {"id": "probe_a", "notebook": "99_probe", "title": "A", "parameters": {"value": 21}},
            {"id": "probe_f", "notebook": "99_probe", "title": "F", "parameters": {"fail": True}},
            {"id": "probe_b", "notebook": "99_probe", "title": "B", "parameters": {"value": 5}},
        ],
    )


def _printed(run_id: str) -> str:
    nb = nbformat.read(executed_path(run_id), as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def test_local_cluster_gives_byte_identical_results(sandbox, monkeypatch):
    import analysis.pipeline.runner as runner

    distributed = pytest.importorskip("distributed")
    # the workers record the cache key the submitter computed (other edits of src/ meanwhile
    # must not turn the cache check below into a rerun)
    monkeypatch.setattr(runner, "source_fingerprint", lambda: "fixed")
    plan = load_plan(_plan(sandbox))
    serial = {o.run_id: o.status for o in run_plan(plan, progress=False, workers=1)}
    assert serial == {"probe_a": "success", "probe_f": "failed", "probe_b": "success"}
    blobs = {rid: results_path(rid).read_bytes() for rid in ("probe_a", "probe_b")}
    assert "SCHEDULER None" in _printed("probe_a")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        outcomes = run_plan(plan, progress=False, force=True, scheduler=address)
        assert [o.run_id for o in outcomes] == [r.id for r in plan.runs]  # plan order
        assert {o.run_id: o.status for o in outcomes} == serial  # the failure stays isolated
        assert "deliberate failure" in read_state("probe_f")["error"]
        for rid, blob in blobs.items():
            assert results_path(rid).read_bytes() == blob, rid
            assert read_state(rid)["status"] == "success"
        # the kernel ran on the cluster, saw it, and got cores // worker threads (1 thread each)
        jobs = max(1, os.cpu_count() or 1)
        assert f"SCHEDULER {address} JOBS {jobs}" in _printed("probe_a")
        again = {o.run_id: o.status for o in run_plan(plan, progress=False, scheduler=address)}
        assert again == {"probe_a": "cached", "probe_f": "failed", "probe_b": "cached"}


def test_scheduler_without_the_extra_names_it(sandbox, monkeypatch, capsys):
    from analysis.__main__ import main

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if dask were not installed
    plan = _plan(sandbox)
    rc = main(["run", "--plan", str(plan), "--scheduler", "tcp://127.0.0.1:1", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "extra 'dask'" in err and "pip install -e '.[dask]'" in err
    assert read_state("probe_a") is None  # nothing ran
