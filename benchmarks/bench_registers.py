"""Benchmarks of registers at scale (issues 13 and 14): a plain script, not a timed test.

``python benchmarks/bench_registers.py --out PATH [--quick]`` measures, each in a fresh
subprocess (peak RSS polled with psutil): (a) loading and validating
1,000,000 pupils × 6 school years from CSV, (b) from parquet, (c) Callaway–Sant'Anna with
``allow_unbalanced=True`` on the loaded panel, (d) the intake of the register as per-school CSV
files, (e) as per-school XLSX files (measured at 1/20 of the size and reported as measured);
plus the ratio wrapper/backend of ``did.staggered`` on mpdta and a 100k-unit panel (alternating
runs, medians).  ``--quick``: 50,000 pupils.  Data are generated into a temporary folder.
Writes a JSON list of records ``{name, seconds, peak_rss_mb, n_rows, ...}``; the children
also give ``cpu_seconds`` (user + system time of the child: on a shared machine wall time
depends on the other jobs).

``--only intake`` (or ``intake_csv``, ``intake_xlsx``, ``load``, ``wrapper``) runs one group;
``--pupils N`` sets the register's size; ``--xlsx-pupils N`` the size of the XLSX intake
(default 1/20 of the register, at least 2,000); ``--schools N`` the number of schools of the
intake registers (default one per 10,000 pupils: each school sends about 8 files);
``--keep DIR`` writes the data there and keeps it (a later run with the same ``--keep``
reuses the files it finds).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _measure import run_measured

_CHILD = r"""
import json, sys, time, resource, warnings
warnings.simplefilter("ignore")
task, data, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = time.perf_counter()
out = {}
if task in ("load_csv", "load_parquet", "staggered"):
    from analysis.data.programme import load_panel
    path = data + ("/register.csv" if task == "load_csv" else "/register.parquet")
    panel = load_panel(path, exclusions="report").data
    out["n_rows"] = len(panel)
    if task == "staggered":
        t = time.perf_counter()
        from analysis import did
        res = did.staggered(panel.dropna(subset=["absence_rate"]), outcome="absence_rate",
                            unit="pupil_id", time="year", cohort="cohort", allow_unbalanced=True)
        out["att"] = float(res.aggregate("simple").overall.estimate)
elif task.startswith("intake_"):
    from pathlib import Path
    root = Path(data) / ("repo_" + task[7:])  # ANALYSIS_ROOT points here
    from analysis.data import intake
    res = intake.run_intake(root / "config" / f"intake_register_{task[7:]}.yaml",
                            key=b"0123456789abcdef0123456789abcdef-bench")
    out["n_rows"] = len(res.panel)
    out["rejections"] = len(res.rejections)
out["seconds"] = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)  # all threads of the child, startup included
out["cpu_seconds"] = ru.ru_utime + ru.ru_stime
print(json.dumps(out))
"""


def _child(task: str, data: Path, n: int) -> dict:
    env = dict(os.environ)
    if task.startswith("intake_"):
        root = data / ("repo_" + task[7:])
        env |= {"ANALYSIS_ROOT": str(root), "ANALYSIS_REPORTS_DIR": str(root / "reports")}
    # peak RSS polled every 50 ms from here (benchmarks/_measure.py)
    run = run_measured([sys.executable, "-c", _CHILD, task, str(data), str(n)], env=env)
    if run.returncode != 0:
        return {"name": task, "error": run.stderr.strip().splitlines()[-1:]}
    rec = json.loads(run.last_json_line())
    rec["peak_rss_mb"] = run.peak_rss_mb
    return {"name": task, **rec}


def _wrapper_ratio(n_units: int | None, reps: int) -> dict:
    import warnings

    import diff_diff
    import numpy as np
    import pandas as pd

    from analysis import did, paths

    warnings.simplefilter("ignore")
    if n_units is None:
        df = pd.read_csv(paths.REFERENCE_DIR / "mpdta.csv")
        name = "wrapper_ratio_mpdta"
    else:
        rng = np.random.default_rng(0)
        u = np.repeat(np.arange(n_units), 5)
        y = np.tile(np.arange(2003, 2008), n_units)
        g = rng.choice([0, 2004, 2006, 2007], n_units)[u]
        df = pd.DataFrame(
            {"countyreal": u, "year": y, "first.treat": g, "lemp": rng.normal(size=len(u))}
        )
        name = f"wrapper_ratio_{n_units // 1000}k_units"

    def backend():
        est = diff_diff.CallawaySantAnna(
            control_group="never_treated", estimation_method="dr", n_bootstrap=0
        )
        est.fit(df, outcome="lemp", unit="countyreal", time="year", first_treat="first.treat")

    def wrapper():
        did.staggered(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")

    backend(), wrapper()
    tb, tw = [], []
    for _ in range(reps):
        for f, acc in ((backend, tb), (wrapper, tw)):
            t = time.perf_counter()
            f()
            acc.append(time.perf_counter() - t)
    b, w = float(np.median(tb)), float(np.median(tw))
    return {
        "name": name,
        "seconds": w,
        "backend_seconds": b,
        "ratio": w / b,
        "n_rows": len(df),
        "reps": reps,
    }


_TASKS = ("load", "intake_csv", "intake_xlsx", "wrapper")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--quick", action="store_true", help="50,000 pupils instead of 1,000,000")
    ap.add_argument(
        "--only",
        choices=("all", "intake", *_TASKS),
        default="all",
        help="run one group of benchmarks (intake = intake_csv and intake_xlsx)",
    )
    ap.add_argument("--pupils", type=int, help="pupils in the register (overrides --quick)")
    ap.add_argument("--xlsx-pupils", type=int, help="pupils of the XLSX intake (default n/20)")
    ap.add_argument("--keep", type=Path, help="write the data here and keep it (reused)")
    ap.add_argument(
        "--schools",
        type=int,
        help="schools of the intake registers (default one per 10,000 pupils, at least 2)",
    )
    args = ap.parse_args(argv)
    if args.pupils is not None and args.pupils < 2_000:
        ap.error("--pupils must be at least 2,000")
    n = args.pupils if args.pupils is not None else 50_000 if args.quick else 1_000_000
    n_xlsx = args.xlsx_pupils if args.xlsx_pupils is not None else max(n // 20, 2_000)
    run = {
        t
        for t in _TASKS
        if args.only in ("all", t) or (args.only == "intake" and t.startswith("intake_"))
    }
    if args.xlsx_pupils is not None and ("intake_xlsx" not in run or args.xlsx_pupils < 2_000):
        ap.error("--xlsx-pupils needs the intake_xlsx benchmark and at least 2,000 pupils")
    if args.schools is not None and (not run & {"intake_csv", "intake_xlsx"} or args.schools < 2):
        ap.error("--schools needs an intake benchmark and at least 2 schools")
    records = []
    with contextlib.ExitStack() as stack:
        if args.keep is None:
            data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_registers_")))
        else:
            data = args.keep
            data.mkdir(parents=True, exist_ok=True)

        def keep(record: dict) -> None:  # written as it comes: a late failure keeps the rest
            records.append(record)
            args.out.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")

        if "load" in run:
            import pyarrow as pa
            import pyarrow.csv as pa_csv

            from analysis.data.intake_fixtures import register_panel

            panel = register_panel(n, seed=0)
            panel.to_parquet(data / "register.parquet", index=False)
            pa_csv.write_csv(  # quoted strings, as R's write.csv and many exports write them
                pa.Table.from_pandas(panel, preserve_index=False), data / "register.csv"
            )
            del panel
            for task in ("load_csv", "load_parquet", "staggered"):
                keep({**_child(task, data, n), "n_pupils": n})
        from analysis.data.intake_fixtures import write_register_files

        for fmt, size in (("csv", n), ("xlsx", n_xlsx)):
            if f"intake_{fmt}" not in run:
                continue
            root = data / f"repo_{fmt}"
            schools = args.schools if args.schools is not None else max(2, size // 10_000)
            stamp = root / f"written_{size}_{schools}"  # the files of this size are complete
            if not stamp.exists():
                shutil.rmtree(root, ignore_errors=True)
                (root / "config").mkdir(parents=True)
                t = time.perf_counter()
                write_register_files(root, size, fmt=fmt, n_schools=schools)
                stamp.write_text(f"{time.perf_counter() - t:.1f} s to write\n")
            files = len(list((root / "data" / "raw" / "programme" / f"register_{fmt}").iterdir()))
            keep(
                {
                    **_child(f"intake_{fmt}", data, size),
                    "n_pupils": size,
                    "n_schools": schools,
                    "n_files": files,
                }
            )
        if "wrapper" in run:
            keep(_wrapper_ratio(None, 30))
            keep(_wrapper_ratio(100_000, 5))
    args.out.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(records, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
