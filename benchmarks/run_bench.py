"""``make bench``: time the plan and the replication/register benchmarks; write RESULTS.md.

Measured, in a temporary copy of the repository (``ANALYSIS_ROOT``, so ``reports/`` is not
touched):

- the full default plan (``python -m analysis run --force``) at 1 and at 2 workers, alternated
  in one session (1, 2, 1, 2, ... for ``--rounds``) so that both see the same machine load;
- the no-op rerun (``python -m analysis report`` with nothing changed), 3 times;
- ``benchmarks/bench_replications.py`` and ``benchmarks/bench_registers.py`` when they exist
  (each writes a JSON list of ``{name, seconds, peak_rss_mb, workers, ...}`` records).

``--quick`` (``make bench-quick``) runs the plan with ``--quick`` on the context runs only and
passes ``--quick`` to the other scripts, to check the benchmark itself in a minute.

Written by hand: a few subprocess timings and a Markdown table; hyperfine (not in the lock)
cannot alternate two commands that each need a fresh copy of the reports folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
OTHER_SCRIPTS = ("bench_replications.py", "bench_registers.py")


def machine() -> dict[str, str]:
    """CPU model, cores, RAM, Python, date and commit."""
    cpu = platform.processor() or "unknown"
    ram = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GB"
                break
    except OSError:
        pass

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip()

    dirty = " (dirty)" if git("status", "--porcelain", "--untracked-files=no") else ""
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": ram,
        "Python": platform.python_version(),
        "date (UTC)": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "commit": git("rev-parse", "--short", "HEAD") + dirty,
    }


def sandbox(root: Path) -> Path:
    """Copy what the plan needs (as tests/conftest.make_sandbox) under ``root``."""
    for sub in ("config", "notebooks"):
        shutil.copytree(REPO / sub, root / sub)
    shutil.copytree(REPO / "data" / "raw", root / "data" / "raw")
    shutil.copytree(REPO / "data" / "processed", root / "data" / "processed")
    shutil.copy(REPO / "requirements.lock", root / "requirements.lock")
    return root


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and exit code of ``cmd``."""
    t0 = time.monotonic()
    rc = subprocess.run(
        cmd, env=env, cwd=env["ANALYSIS_ROOT"], stdout=subprocess.DEVNULL
    ).returncode
    return time.monotonic() - t0, rc


def plan_benchmarks(*, quick: bool, rounds: int) -> list[dict[str, Any]]:
    """The plan at 1 and 2 workers (alternated) and the no-op report, in a temporary root."""
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        root = sandbox(Path(tmp) / "repo")
        env = {
            **os.environ,
            "ANALYSIS_ROOT": str(root),
            "ANALYSIS_REPORTS_DIR": str(root / "reports"),
        }
        run = [sys.executable, "-m", "analysis", "run", "--force", "--no-progress"]
        if quick:
            run += ["--quick", "--only", "context_*"]
        times: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(rounds):
            for workers in (1, 2):
                seconds, rc = timed([*run, "--workers", str(workers)], env)
                if rc != 0:
                    print(f"warning: the plan at {workers} worker(s) exited {rc}", file=sys.stderr)
                times[workers].append(seconds)
                print(f"plan, {workers} worker(s): {seconds:.1f} s", file=sys.stderr)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        label = "context runs, --quick" if quick else "full default plan"
        for workers in (1, 2):
            records.append(
                {
                    "name": f"{label}, {workers} worker(s)",
                    "seconds": statistics.median(times[workers]),
                    "runs": times[workers],
                    "workers": workers,
                    "peak_rss_mb": round(peak),
                }
            )
        records[-1]["ratio"] = records[-1]["seconds"] / records[0]["seconds"]
        report = [sys.executable, "-m", "analysis", "report", "--no-progress"]
        if quick:
            report += ["--quick", "--only", "context_*"]
        timed(report, env)  # publish once and record the build
        noop = [timed(report, env)[0] for _ in range(3)]
        print(f"no-op report: {', '.join(f'{s:.2f}' for s in noop)} s", file=sys.stderr)
        records.append(
            {"name": "no-op `analysis report`", "seconds": min(noop), "runs": noop, "workers": 1}
        )
    return records


def other_benchmarks(
    *, quick: bool, scripts: tuple[str, ...] = OTHER_SCRIPTS
) -> list[dict[str, Any]]:
    """Run the other benchmark scripts when present and collect their JSON records."""
    records: list[dict[str, Any]] = []
    for name in scripts:
        script = HERE / name
        if not script.exists():
            print(f"skipped {name}: not present", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.json"
            cmd = [sys.executable, str(script), "--out", str(out)]
            helptext = subprocess.run(
                [sys.executable, str(script), "--help"], capture_output=True, text=True
            ).stdout
            if quick and "--quick" in helptext:
                cmd.append("--quick")
            proc = subprocess.run(cmd, cwd=REPO)
            if proc.returncode != 0 or not out.exists():
                records.append({"name": name, "error": f"exit {proc.returncode}"})
                continue
            data = json.loads(out.read_text())
            if isinstance(data, dict):
                data = data.get("records", [data])
            records += [{"script": name, **r} for r in data]
    return records


def _cell(value: Any, fmt: str = "{}") -> str:
    return "" if value is None else fmt.format(value)


def markdown(info: dict[str, str], records: list[dict[str, Any]], *, quick: bool) -> str:
    """RESULTS.md: the machine, then one table row per record."""
    lines = [
        "# Benchmarks"
        + (" (quick sizes: a check of the benchmark, not a result)" if quick else ""),
        "",
    ]
    lines += [f"- **{k}**: {v}" for k, v in info.items()]
    lines += [
        "",
        "Written by `make bench` (`benchmarks/run_bench.py`). The plan at 1 and 2 workers is",
        "measured alternately in one session; wall times are medians over the rounds.",
        "",
        "| benchmark | workers | wall (s) | ratio | peak RSS (MB) | notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in records:
        notes = {
            k: v
            for k, v in r.items()
            if k not in {"name", "workers", "seconds", "ratio", "peak_rss_mb", "script"}
        }
        lines.append(
            f"| {r.get('name', '')} | {_cell(r.get('workers'))} | "
            f"{_cell(r.get('seconds'), '{:.2f}')} | {_cell(r.get('ratio'), '{:.2f}')} | "
            f"{_cell(r.get('peak_rss_mb'), '{:.0f}')} | "
            f"{json.dumps(notes, default=str) if notes else ''} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (checks the benchmark)")
    p.add_argument("--rounds", type=int, default=1, help="alternations of 1 and 2 workers")
    p.add_argument("--out", default=str(HERE / "RESULTS.md"))
    p.add_argument("--skip-plan", action="store_true", help="only the other scripts")
    p.add_argument(
        "--scripts",
        nargs="*",
        default=list(OTHER_SCRIPTS),
        choices=list(OTHER_SCRIPTS),
        help="which other benchmark scripts to run (default: all)",
    )
    args = p.parse_args(argv)
    info = machine()
    records = [] if args.skip_plan else plan_benchmarks(quick=args.quick, rounds=args.rounds)
    records += other_benchmarks(quick=args.quick, scripts=tuple(args.scripts))
    Path(args.out).write_text(markdown(info, records, quick=args.quick), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
