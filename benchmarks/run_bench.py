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

``--before COMMIT`` (``make bench BEFORE=<commit>``) measures the previous implementation side by
side: a ``git worktree`` of ``COMMIT`` runs the same plan (its own notebooks, config and
``src`` through ``PYTHONPATH``) alternately with the current one, and the other scripts that
exist at ``COMMIT``; the table gets a "before" column.

The generated table replaces only the part of ``RESULTS.md`` between the markers
``<!-- make bench: start -->`` and ``<!-- make bench: end -->``; the measurements written by
hand below it (before/after figures of earlier rounds) are kept.

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
OTHER_SCRIPTS = ("bench_replications.py", "bench_registers.py", "bench_wrappers.py")
#: Markers of the generated part of RESULTS.md.
START, END = "<!-- make bench: start -->", "<!-- make bench: end -->"


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


def sandbox(root: Path, code: Path = REPO) -> Path:
    """Copy what the plan needs (as tests/conftest.make_sandbox) under ``root``.

    ``code``: the checkout whose notebooks and config are copied (the data come from this
    repository).
    """
    for sub in ("config", "notebooks"):
        shutil.copytree(code / sub, root / sub)
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


def plan_benchmarks(
    *, quick: bool, rounds: int, before: Path | None = None
) -> list[dict[str, Any]]:
    """The plan at 1 and 2 workers (alternated) and the no-op report, in a temporary root.

    With ``before`` (a checkout of the previous implementation), each measurement of the
    current code is followed by the same measurement of ``before``, in its own root.
    """
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        versions = {"after": (REPO, sandbox(Path(tmp) / "repo"))}
        if before is not None:
            versions["before"] = (before, sandbox(Path(tmp) / "before", before))
        envs = {}
        for name, (code, root) in versions.items():
            env = {
                **os.environ,
                "ANALYSIS_ROOT": str(root),
                "ANALYSIS_REPORTS_DIR": str(root / "reports"),
            }
            if code != REPO:
                env["PYTHONPATH"] = str(code / "src")
            envs[name] = env
        run = [sys.executable, "-m", "analysis", "run", "--force", "--no-progress"]
        if quick:
            run += ["--quick", "--only", "context_*"]
        times: dict[tuple[str, int], list[float]] = {(v, w): [] for v in envs for w in (1, 2)}
        for _ in range(rounds):
            for workers in (1, 2):
                for version, env in envs.items():
                    seconds, rc = timed([*run, "--workers", str(workers)], env)
                    if rc != 0:
                        print(
                            f"warning: the plan ({version}) at {workers} worker(s) exited {rc}",
                            file=sys.stderr,
                        )
                    times[version, workers].append(seconds)
                    print(
                        f"plan ({version}), {workers} worker(s): {seconds:.1f} s", file=sys.stderr
                    )
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        label = "context runs, --quick" if quick else "full default plan"
        for workers in (1, 2):
            rec: dict[str, Any] = {
                "name": f"{label}, {workers} worker(s)",
                "seconds": statistics.median(times["after", workers]),
                "runs": times["after", workers],
                "workers": workers,
                "peak_rss_mb": round(peak),
            }
            if "before" in envs:
                rec["before_seconds"] = statistics.median(times["before", workers])
                rec["before_runs"] = times["before", workers]
            records.append(rec)
        records[-1]["ratio"] = records[-1]["seconds"] / records[0]["seconds"]
        report = [sys.executable, "-m", "analysis", "report", "--no-progress"]
        if quick:
            report += ["--quick", "--only", "context_*"]
        noop: dict[str, list[float]] = {}
        for env in envs.values():
            timed(report, env)  # publish once and record the build
        for _ in range(3):
            for version, env in envs.items():
                noop.setdefault(version, []).append(timed(report, env)[0])
        print(f"no-op report: {', '.join(f'{s:.2f}' for s in noop['after'])} s", file=sys.stderr)
        rec = {
            "name": "no-op `analysis report`",
            "seconds": min(noop["after"]),
            "runs": noop["after"],
            "workers": 1,
        }
        if "before" in noop:
            rec["before_seconds"] = min(noop["before"])
        records.append(rec)
    return records


def other_benchmarks(
    *, quick: bool, scripts: tuple[str, ...] = OTHER_SCRIPTS, before: Path | None = None
) -> list[dict[str, Any]]:
    """Run the other benchmark scripts when present and collect their JSON records.

    With ``before``, each script that also exists in that checkout is run there too (its own
    ``src`` through ``PYTHONPATH``) and its records are marked ``"implementation": "before"``.
    """
    records: list[dict[str, Any]] = []
    for name in scripts:
        for version, code in (("after", REPO), ("before", before)):
            if code is None:
                continue
            script = (HERE if code == REPO else code / "benchmarks") / name
            if not script.exists():
                print(f"skipped {name} ({version}): not present", file=sys.stderr)
                continue
            env = {**os.environ}
            if code != REPO:
                env["PYTHONPATH"] = str(code / "src")
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "out.json"
                helptext = subprocess.run(
                    [sys.executable, str(script), "--help"], capture_output=True, text=True, env=env
                ).stdout
                flag = "--out" if "--out" in helptext else "--json"
                cmd = [sys.executable, str(script), flag, str(out)]
                if quick and "--quick" in helptext:
                    cmd.append("--quick")
                elif quick and "--rounds" in helptext:
                    cmd += ["--rounds", "2"]
                proc = subprocess.run(cmd, cwd=code, env=env)
                if proc.returncode != 0 or not out.exists():
                    records.append({"name": name, "error": f"exit {proc.returncode}"})
                    continue
                data = json.loads(out.read_text())
                if isinstance(data, dict):
                    data = data.get("records", [data])
                tag = {} if version == "after" else {"implementation": "before"}
                records += [{"script": name, **r, **tag} for r in data]
    return records


def _cell(value: Any, fmt: str = "{}") -> str:
    return "" if value is None else fmt.format(value)


def markdown(info: dict[str, str], records: list[dict[str, Any]], *, quick: bool) -> str:
    """The generated part of RESULTS.md: the machine, then one table row per record."""
    lines = [
        START,
        "# Benchmarks"
        + (" (quick sizes: a check of the benchmark, not a result)" if quick else ""),
        "",
    ]
    lines += [f"- **{k}**: {v}" for k, v in info.items()]
    lines += [
        "",
        "Written by `make bench` (`benchmarks/run_bench.py`). The plan at 1 and 2 workers is",
        "measured alternately in one session; wall times are medians over the rounds. "
        '"before" is the previous implementation (`make bench BEFORE=<commit>`), measured '
        "alternately with the current one.",
        "",
        "| benchmark | workers | wall (s) | before (s) | ratio | peak RSS (MB) | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    skip = {"name", "workers", "seconds", "ratio", "peak_rss_mb", "script", "before_seconds"}
    for r in records:
        notes = {k: v for k, v in r.items() if k not in skip}
        lines.append(
            f"| {r.get('name', '')} | {_cell(r.get('workers'))} | "
            f"{_cell(r.get('seconds'), '{:.2f}')} | {_cell(r.get('before_seconds'), '{:.2f}')} | "
            f"{_cell(r.get('ratio'), '{:.2f}')} | "
            f"{_cell(r.get('peak_rss_mb'), '{:.0f}')} | "
            f"{json.dumps(notes, default=str) if notes else ''} |"
        )
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_results(path: Path, generated: str) -> None:
    """Replace the generated part of ``path`` (between the markers), keeping the rest.

    A file without the markers gets the generated part on top and its old text below.
    """
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in old and END in old:
        head, rest = old.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + generated.rstrip("\n") + tail
    else:
        text = generated + ("\n" + old if old else "")
    path.write_text(text, encoding="utf-8")


def checkout(commit: str, where: Path) -> Path:
    """A detached ``git worktree`` of ``commit`` at ``where`` (the previous implementation)."""
    subprocess.run(["git", "worktree", "add", "--detach", str(where), commit], cwd=REPO, check=True)
    return where


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
    p.add_argument(
        "--before",
        metavar="COMMIT",
        help="also measure the previous implementation at COMMIT (a git worktree), alternately",
    )
    args = p.parse_args(argv)
    info = machine()
    with tempfile.TemporaryDirectory(prefix="bench-before-") as tmp:
        before = None
        if args.before:
            before = checkout(args.before, Path(tmp) / "checkout")
            info["before"] = args.before
        try:
            records = (
                []
                if args.skip_plan
                else plan_benchmarks(quick=args.quick, rounds=args.rounds, before=before)
            )
            records += other_benchmarks(
                quick=args.quick, scripts=tuple(args.scripts), before=before
            )
        finally:
            if before is not None:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(before)], cwd=REPO, check=False
                )
    write_results(Path(args.out), markdown(info, records, quick=args.quick))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
