"""Benchmark of the programme report on a large register (issue 14): a plain script, not a test.

    python benchmarks/bench_programme_report.py --out results.json [--pupils N | --quick]
        [--outcome absence_rate] [--ri-reps 499] [--bootstrap-reps 999] [--band-draws 999]
        [--jobs 1]
    python benchmarks/bench_programme_report.py --out results.json --simulated [--outcome ...]

Builds a SIMULATED register of ``N`` pupils × 6 school years (default 1,000,000; ``--quick``:
100,000) with :func:`analysis.data.intake_fixtures.register_panel` (the register benchmark's
panel, ``benchmarks/bench_registers.py``: 500 schools, 10 % participants in three editions),
writes it as parquet into a temporary repository root (``ANALYSIS_ROOT``; its ``config/`` is
the repository's) and, in a fresh Python process, runs what notebook ``03_programme`` runs:
:func:`analysis.reports.programme.load` of the file, :meth:`ProgrammeAnalysis.build` with the
plan's inference (999 wild cluster bootstrap draws, 499 randomization-inference
re-assignments, 999 band draws; ``--ri-reps`` etc. change them), every section method, the
figures in both languages (PNG, as ``display.show_figure`` renders them) and the results
JSON (``to_dict``).  ``--simulated`` runs the same on the ``programme_did_*`` runs' SIMULATED
panel (2,000 pupils) instead, to profile a run of the plan; ``--jobs`` sets the replication
workers (``ANALYSIS_JOBS``, as the plan runner does).

Time per stage: the functions ``build`` calls (the module-level helpers of
:mod:`analysis.reports.programme` and the methods it calls through ``did``, ``diagnostics``,
``inference`` and ``honest``) are wrapped with timers for the run; nested calls are reported
under their caller with its depth (``stages``: ``[{name, seconds, cpu_seconds, calls,
depth, max_rss_mb, raised_peak_mb}]`` in order of first call; a stage's time includes its
children's; CPU seconds are the process's, without replication workers; ``max_rss_mb`` is the
child's peak RSS when the stage ended and ``raised_peak_mb`` how much the stage raised it).  The child's progress goes to ``<out>.log``.  Peak
RSS is polled every 50 ms from this process (psutil), as the register benchmark does.
Writes a JSON list of one record ``{name, seconds, cpu_seconds, peak_rss_mb, n_pupils,
n_rows, stages, headline, ...}``, as the other benchmark scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _measure import run_measured

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import functools, io, json, resource, sys, time, types, warnings
warnings.simplefilter("ignore")
path, outcome, ri_reps, boot_reps, band_draws = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
t_start = time.perf_counter()
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from analysis._util import to_jsonable
from analysis.i18n import LANGUAGES
from analysis.reports import programme as P
t_import = time.perf_counter() - t_start

stages = {}   # call path -> [seconds, calls, first start]
path_ = []

def timed(name, fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        path_.append(name + (f"[{k['estimator']}]" if "estimator" in k else ""))
        rec = stages.setdefault(tuple(path_), [0.0, 0, time.perf_counter(), 0.0, 0.0, 0.0])
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t, c = time.perf_counter(), time.process_time()
        try:
            return fn(*a, **k)
        finally:
            path_.pop()
            rec[0] += time.perf_counter() - t
            rec[1] += 1
            rec[3] += time.process_time() - c
            # the process's peak so far (MiB): a stage that raises it shows where the peak is
            rec[4] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            rec[5] = max(rec[5], rec[4] - rss0)
            print("  " * len(path_) + f"{name} {time.perf_counter() - t:.2f} s "
                  f"(cpu {time.process_time() - c:.2f} s, peak {rec[4]:.0f} MiB)", file=sys.stderr,
                  flush=True)
    return wrapper

class Timed(types.ModuleType):
    # a module seen through timers: functions called through it are timed
    def __init__(self, mod, prefix):
        super().__init__(mod.__name__)
        self._mod, self._prefix = mod, prefix
    def __getattr__(self, name):
        obj = getattr(self._mod, name)
        if callable(obj) and not isinstance(obj, type):
            return timed(f"{self._prefix}.{name}", obj)
        return obj

for mod in ("did", "diagnostics", "inference", "honest"):
    setattr(P, mod, Timed(getattr(P, mod), mod))
for name in ("load", "analysis_frame", "group_time_table", "_honest", "_alternative_fit",
             "_triangulation", "_few_clusters", "_robustness_runs", "_dose_section"):
    setattr(P, name, timed(name, getattr(P, name)))
P.ProgrammeData.frame = timed("ProgrammeData.frame", P.ProgrammeData.frame)

out = {"import_seconds": t_import}
c0 = time.process_time()
t0 = time.perf_counter()
data = P.load(path, seed=20240901)  # "simulated": the plan's panel (2,000 pupils)
t1 = time.perf_counter()
out["n_rows"] = int(len(data.panel.data))
kw = {"outcome": outcome, "seed": 20240901, "bootstrap_reps": boot_reps, "ri_reps": ri_reps,
      "band_draws": band_draws}
a = P.ProgrammeAnalysis.build(data=data, **kw)
t2 = time.perf_counter()
figures = []
flow = a.sample_flow(); bal = a.balance(); figures.append(bal.figure)
gt = a.group_time(); figures.append(gt.figure)
es = a.event_study(); figures.append(es.figure)
a.honest(); a.triangulation(); a.few_clusters(); a.robustness_view()
a.dose_text(); a.dose_caption(); a.conclusion(); a.summary_box(); a.notes(); a.question()
if a.dose is not None:
    figures.append(a.dose_figure)
t3 = time.perf_counter()
for fig in figures:
    for lang in LANGUAGES:
        f = fig(lang)
        f.savefig(io.BytesIO(), format="png")
        plt.close(f)
t4 = time.perf_counter()
results = json.dumps(to_jsonable(a.to_dict()))
a.headline(); a.headline_text()
t5 = time.perf_counter()
out |= {
    "load_seconds": t1 - t0,
    "build_seconds": t2 - t1,
    "sections_seconds": t3 - t2,
    "figures_seconds": t4 - t3,
    "results_seconds": t5 - t4,
    "seconds": t5 - t0,
    "cpu_seconds": time.process_time() - c0,  # this process (replication workers not counted)
    "headline": a.headline(),
    "ri_p_value": None if a.randomization is None else a.randomization.p_value,
    "wcb_p_value": None if a.wild_bootstrap is None else a.wild_bootstrap.p_value,
    "stages": [
        {"name": p[-1], "depth": len(p) - 1, "seconds": round(s, 4), "cpu_seconds": round(u, 4),
         "calls": c, "max_rss_mb": round(m, 1), "raised_peak_mb": round(r, 1)}
        for p, (s, c, _, u, m, r) in sorted(stages.items(), key=lambda kv: kv[1][2])
    ],
}
print(json.dumps(out, default=float))
"""


def _run_child(path: Path, root: Path, args: argparse.Namespace) -> dict:
    """Run the report in a fresh process; return its record with the peak RSS.

    The child's progress (each timed stage as it ends) and errors go to ``<out>.log``.
    """
    env = dict(os.environ) | {"ANALYSIS_ROOT": str(root), "MPLBACKEND": "Agg"}
    env["ANALYSIS_JOBS"] = str(args.jobs)  # replication workers, as the plan runner sets them
    argv = [str(path), args.outcome, str(args.ri_reps), str(args.bootstrap_reps)]
    argv.append(str(args.band_draws))
    run = run_measured(
        [sys.executable, "-c", _CHILD, *argv], env=env, log=args.out.with_suffix(".log")
    )
    if run.returncode != 0:
        return {"error": run.stderr.strip().splitlines()[-20:]}
    rec = json.loads(run.last_json_line())
    rec["peak_rss_mb"] = run.peak_rss_mb
    return rec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--pupils", type=int, default=1_000_000, help="pupils (default 1,000,000)")
    size.add_argument("--quick", action="store_true", help="100,000 pupils")
    size.add_argument(
        "--simulated",
        action="store_true",
        help="the programme_did_* runs' SIMULATED panel (20 schools, 2,000 pupils) instead",
    )
    ap.add_argument("--outcome", default="absence_rate", help="outcome (default absence_rate)")
    ap.add_argument("--ri-reps", type=int, default=499)
    ap.add_argument("--bootstrap-reps", type=int, default=999)
    ap.add_argument("--band-draws", type=int, default=999)
    ap.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="replication workers (ANALYSIS_JOBS; the plan runner gives a single run 2 here)",
    )
    args = ap.parse_args(argv)
    if args.simulated:
        rec = _run_child(Path("simulated"), REPO, args)
        record = {
            "name": "programme_report_simulated_run",
            "outcome": args.outcome,
            "jobs": args.jobs,
            **rec,
        }
        args.out.write_text(json.dumps([record], indent=2) + "\n", encoding="utf-8")
        print(json.dumps([record], indent=2))
        return 0 if "error" not in rec else 1
    n = 100_000 if args.quick else int(args.pupils)
    with tempfile.TemporaryDirectory(prefix="bench_programme_") as tmp:
        root = Path(tmp)
        (root / "config").symlink_to(REPO / "config")
        (root / "data").mkdir()
        from analysis.data.intake_fixtures import register_panel

        t = time.perf_counter()
        panel = register_panel(n, seed=0)
        path = root / "data" / "register.parquet"
        panel.to_parquet(path, index=False)
        n_rows = len(panel)
        del panel
        made = time.perf_counter() - t
        rec = _run_child(path, root, args)
    record = {
        "name": f"programme_report_{n // 1000}k_pupils",
        "n_pupils": n,
        "n_rows_written": n_rows,
        "panel_seconds": round(made, 2),
        "outcome": args.outcome,
        "ri_reps": args.ri_reps,
        "bootstrap_reps": args.bootstrap_reps,
        "band_draws": args.band_draws,
        "jobs": args.jobs,
        **rec,
    }
    args.out.write_text(json.dumps([record], indent=2) + "\n", encoding="utf-8")
    print(json.dumps([record], indent=2))
    return 0 if "error" not in rec else 1


if __name__ == "__main__":
    raise SystemExit(main())
