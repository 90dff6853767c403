"""Smoke test of ``benchmarks/bench_wrappers.py`` (issue 14): it runs and writes its records.

No timing is asserted (speed is measured by the benchmark itself, not by tests).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_wrappers.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # a subprocess: the script restarts itself with one thread per library (os.execve)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600
    )


def test_two_wrappers_one_round_write_their_records(tmp_path):
    out = tmp_path / "wrappers.json"
    names = ["did.twfe", "synth.panel_did"]
    proc = _run("--rounds", "1", "--json", str(out), *[a for n in names for a in ("--only", n)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = json.loads(out.read_text())
    assert [r["name"] for r in records] == names
    for r in records:
        assert set(r) == {"name", "wrapper_s", "backend_s", "ratio", "rounds"}
        assert r["rounds"] == 1
        assert r["wrapper_s"] > 0 and r["backend_s"] > 0
        assert math.isclose(r["ratio"], r["wrapper_s"] / r["backend_s"], rel_tol=1e-12)
    table = proc.stdout.splitlines()
    assert table[0].startswith("| wrapper | backend |")
    assert any(line.startswith("| did.twfe | pf.feols | mpdta |") for line in table)


@pytest.mark.parametrize("args", [["--only", "did.nothing"], ["--rounds", "0"]])
def test_bad_arguments_are_refused(args):
    proc = _run(*args)
    assert proc.returncode != 0
    assert "did.nothing" in proc.stderr or "--rounds" in proc.stderr
