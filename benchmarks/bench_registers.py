"""Benchmarks of registers at scale (issues 13 and 14): a plain script, not a timed test.

``python benchmarks/bench_registers.py --out PATH [--quick]`` measures, each in a fresh
subprocess (peak RSS polled with psutil): (a) loading and validating
1,000,000 pupils × 6 school years from CSV, (b) from parquet, (c) Callaway–Sant'Anna with
``allow_unbalanced=True`` on the loaded panel, (d) the intake of the register as per-school CSV
files, (e) as per-school XLSX files (measured at 1/20 of the size and reported as measured);
plus the ratio wrapper/backend of ``did.staggered`` on mpdta and a 100k-unit panel (alternating
runs, medians).  ``--quick``: 50,000 pupils.  Data are generated into a temporary folder.
Writes a JSON list of records ``{name, seconds, peak_rss_mb, n_rows, ...}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
print(json.dumps(out))
"""


def _child(task: str, data: Path, n: int) -> dict:
    env = dict(os.environ)
    if task.startswith("intake_"):
        root = data / ("repo_" + task[7:])
        env |= {"ANALYSIS_ROOT": str(root), "ANALYSIS_REPORTS_DIR": str(root / "reports")}
    import psutil

    # peak RSS polled every 50 ms: the child's own ru_maxrss would include the parent's
    # memory copied at fork
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, task, str(data), str(n)],
            stdout=out,
            stderr=err,
            text=True,
            env=env,
        )
        ps, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, ps.memory_info().rss)
            time.sleep(0.05)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        return {"name": task, "error": stderr.strip().splitlines()[-1:]}
    rec = json.loads(stdout.strip().splitlines()[-1])
    rec["peak_rss_mb"] = round(peak / 2**20, 1)
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--quick", action="store_true", help="50,000 pupils instead of 1,000,000")
    args = ap.parse_args(argv)
    n = 50_000 if args.quick else 1_000_000
    records = []
    with tempfile.TemporaryDirectory(prefix="bench_registers_") as tmp:
        data = Path(tmp)
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        from analysis.data.intake_fixtures import register_panel

        panel = register_panel(n, seed=0)
        panel.to_parquet(data / "register.parquet", index=False)
        pa_csv.write_csv(  # quoted strings, as R's write.csv and many exports write them
            pa.Table.from_pandas(panel, preserve_index=False), data / "register.csv"
        )
        del panel

        def keep(record: dict) -> None:  # written as it comes: a late failure keeps the rest
            records.append(record)
            args.out.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")

        for task in ("load_csv", "load_parquet", "staggered"):
            keep({**_child(task, data, n), "n_pupils": n})
        from analysis.data.intake_fixtures import write_register_files

        for fmt, size in (("csv", n), ("xlsx", max(n // 20, 2_000))):
            root = data / f"repo_{fmt}"
            (root / "config").mkdir(parents=True)
            write_register_files(root, size, fmt=fmt, n_schools=max(2, size // 10_000))
            keep({**_child(f"intake_{fmt}", data, size), "n_pupils": size})
        keep(_wrapper_ratio(None, 30))
        keep(_wrapper_ratio(100_000, 5))
    args.out.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(records, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
