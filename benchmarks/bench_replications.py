"""Benchmark of parallel replications (issue 14): a plain script, not a test.

    python benchmarks/bench_replications.py --out results.json [--quick]

Figures, each measured in a fresh Python process (so that the start of the worker pool and
its memory are included), written as a JSON list of ``{name, seconds, peak_rss_mb, workers}``
(plus ``replications`` and ``repeats``):

* ``simulated_power_1000`` at 1 and 2 workers: 1,000 replications of the design report's
  simulated power (the two main comparisons of ``design_power``, STEAM courses 180 vs 720 and
  Volare Alto 41 vs 123, calibrated as the report does from run seed 20250405; effects 0, 0.1,
  0.2, 0.3 and 0.4 SD, 100 simulations each).  The two worker counts alternate, 3 repeats
  each, and the median is kept.
* ``randomization_inference_499`` at 1 and 2 workers: the randomization inference of one
  programme report (499 participation re-assignments within school and edition; statistic:
  the Callaway-Sant'Anna simple ATT of the absence rate, unbalanced panel) on the simulator's
  default panel (2,000 pupils, as the ``programme_did_*`` runs draw it), seed from the
  ``randomization`` stream of run seed 20240901.

Only the timed part counts: imports, the designs' calibration and the panel are prepared
first; the start of the worker pool is timed.  Only the current code path exists (the replications were serial before); run the script from
an older checkout (``PYTHONPATH=<checkout>/src``) to time it: functions without ``n_jobs`` are
then timed at 1 worker.  ``--quick`` runs 100 power replications, 49 re-assignments and one
repeat (a smoke test of the script).  Peak RSS is sampled every 20 ms over the process and its
children (the workers), summed.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DESIGN_SEED = 20250405
PROGRAMME_SEED = 20240901
EFFECTS = (0.0, 0.1, 0.2, 0.3, 0.4)


def _kw(func: Any, n_jobs: int) -> dict[str, Any]:
    """``{"n_jobs": n_jobs}`` when ``func`` takes it (not in checkouts before issue 14)."""
    return {"n_jobs": n_jobs} if "n_jobs" in inspect.signature(func).parameters else {}


def _power(n_jobs: int, quick: bool) -> Callable[[], int]:
    """Calibrate the two designs (not timed); return the timed simulations."""
    from analysis import power as P

    groups = [("STEAM courses", 180, 720, (2023, 2024)), ("Volare Alto", 41, 123, (2023,))]
    n_sims = 10 if quick else 100
    designs = []
    for (label, n_t, n_c, cohorts), (pilot, draws) in zip(
        groups, P.design_seeds(DESIGN_SEED, len(groups)), strict=True
    ):
        design = P.calibrate_design(
            label,
            n_treated=n_t,
            n_control=n_c,
            seed=pilot,
            outcome="grade_avg",
            years=(2022, 2023, 2024),
            cohorts=cohorts,
        )
        designs.append((design, draws))

    def run() -> int:
        for design, draws in designs:
            P.simulate_did_power(
                design,
                effects=EFFECTS,
                n_sims=n_sims,
                seed=draws,
                progress=False,
                **_kw(P.simulate_did_power, n_jobs),
            )
        return len(designs) * len(EFFECTS) * n_sims

    return run


def _randomization(n_jobs: int, quick: bool) -> Callable[[], int]:
    """Draw the panel (not timed); return the timed randomization inference."""
    import functools
    import warnings

    from analysis import did, inference
    from analysis.data.simulate import programme_panel
    from analysis.seeds import SeedStreams

    streams = SeedStreams(PROGRAMME_SEED)
    d = programme_panel(seed=streams.seed_for("data")).data
    d = d.sort_values(["pupil_id", "year"]).reset_index(drop=True)
    d["age"] = (d["year"] - d["birth_year"]).astype(float)
    d["participant"] = (d["cohort"] > 0).astype(int)
    statistic = functools.partial(
        did.simple_att,
        outcome="absence_rate",
        unit="pupil_id",
        time="year",
        cohort="cohort",
        allow_unbalanced=True,
    )
    reps = 49 if quick else 499

    def run() -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inference.participation_randomization(
                d,
                statistic=statistic,
                unit="pupil_id",
                time="year",
                cohort="cohort",
                strata="school_id",
                age="age",
                columns=["absence_rate"],
                reps=reps,
                seed=streams.seed_for("randomization"),
                **_kw(inference.participation_randomization, n_jobs),
            )
        return reps

    return run


TASKS = {"simulated_power": _power, "randomization_inference": _randomization}


def _one(task: str, n_jobs: int, quick: bool) -> dict[str, Any]:
    """Run one task in this process; time it and sample the RSS of the process tree."""
    import psutil

    me = psutil.Process()
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
            peak[0] = max(peak[0], rss)
            done.wait(0.02)

    run = TASKS[task](n_jobs, quick)  # imports and inputs: not timed
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    n = run()
    seconds = time.perf_counter() - t0
    done.set()
    thread.join()
    return {"seconds": seconds, "peak_rss_mb": peak[0] / 2**20, "replications": n}


def _measure(task: str, n_jobs: int, quick: bool) -> dict[str, Any]:
    """:func:`_one` in a fresh interpreter (the pool's start and memory count)."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", task, str(n_jobs), *(["--quick"] if quick else [])],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="JSON file of the figures")
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    ap.add_argument("--one", nargs=2, metavar=("TASK", "JOBS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one[0], int(args.one[1]), args.quick)))
        return 0
    if args.out is None:
        ap.error("--out PATH is required")
    repeats = 1 if args.quick else 3
    figures = []
    for task, label in (
        ("simulated_power", "simulated_power_100" if args.quick else "simulated_power_1000"),
        (
            "randomization_inference",
            "randomization_inference_49" if args.quick else "randomization_inference_499",
        ),
    ):
        runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
        for _ in range(repeats):
            for jobs in (1, 2):  # alternate, so that a busy spell hits both alike
                runs[jobs].append(_measure(task, jobs, args.quick))
                print(f"  {label} workers={jobs}: {runs[jobs][-1]['seconds']:.2f} s", flush=True)
        for jobs, rs in runs.items():
            seconds = statistics.median(r["seconds"] for r in rs)
            figures.append(
                {
                    "name": label,
                    "seconds": round(seconds, 3),
                    "peak_rss_mb": round(max(r["peak_rss_mb"] for r in rs), 1),
                    "workers": jobs,
                    "replications": rs[0]["replications"],
                    "repeats": repeats,
                    "seconds_per_replication": round(seconds / rs[0]["replications"], 5),
                }
            )
            print(f"{label} workers={jobs}: {seconds:.2f} s (median of {repeats})", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
