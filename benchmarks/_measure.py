"""Run a benchmark's child process and measure it: wall time's companion, the peak RSS.

Shared by ``bench_programme_report.py`` and ``bench_registers.py`` (imported as ``_measure``:
the scripts are run as ``python benchmarks/<script>.py``, which puts this folder on the path).

Why polled from the parent: the child's own ``ru_maxrss`` would include the parent's memory
copied at fork, and ``RUSAGE_CHILDREN`` gives the largest child of the parent's life, not of
this run.  psutil (in the lock) reads the child's RSS every ``poll`` seconds, so a peak
shorter than that can be missed.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    """What a child process printed and the largest resident memory seen while it ran."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss_bytes: int

    @property
    def peak_rss_mb(self) -> float:
        """Peak RSS in MiB, to one decimal (the benchmark records' ``peak_rss_mb``)."""
        return round(self.peak_rss_bytes / 2**20, 1)

    def last_json_line(self) -> str:
        """The child's last line of output (the benchmark children print their record last)."""
        return self.stdout.strip().splitlines()[-1]


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    poll: float = 0.05,
) -> Measured:
    """Run ``argv`` to its end, polling its RSS every ``poll`` seconds.

    ``log``: a file the child's standard error is written to as it runs (kept; read back
    into ``stderr``); ``None``: a temporary file.
    """
    import psutil

    with contextlib.ExitStack() as stack:
        out = stack.enter_context(tempfile.TemporaryFile("w+"))
        if log is None:
            err = stack.enter_context(tempfile.TemporaryFile("w+"))
        else:
            err = stack.enter_context(open(log, "w+", encoding="utf-8"))
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=err,
            text=True,
            env=None if env is None else dict(env),
        )
        ps, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, ps.memory_info().rss)
            time.sleep(poll)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return Measured(returncode=proc.returncode, stdout=stdout, stderr=stderr, peak_rss_bytes=peak)
