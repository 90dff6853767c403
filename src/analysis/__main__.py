"""Command line: ``python -m analysis {run,publish,build-data,list}``."""

from __future__ import annotations

import argparse
import os
import sys
import time

from analysis.errors import DataValidationError


def _cmd_run(args: argparse.Namespace) -> int:
    from analysis.pipeline.plan import load_plan
    from analysis.pipeline.runner import run_plan
    from analysis.pipeline.state import reports_lock

    plan = load_plan(args.plan)
    t0 = time.monotonic()
    try:
        with reports_lock("python -m analysis run"):
            outcomes = run_plan(
                plan,
                only=args.only,
                force=args.force,
                quick=args.quick,
                progress=not args.no_progress,
                workers=args.workers,
            )
    except KeyboardInterrupt as exc:
        print(
            f"interrupted: {exc} (rerun to complete; nothing interrupted passes for current)",
            file=sys.stderr,
        )
        return 130
    if not outcomes:
        print(f"no run matches {args.only!r}", file=sys.stderr)
        return 2
    for o in outcomes:
        print(f"  {o.status:8s} {o.seconds:7.1f}s  {o.run_id}")
    failed = [o for o in outcomes if o.status == "failed"]
    print(
        f"{len(outcomes)} runs: {sum(o.status == 'success' for o in outcomes)} executed, "
        f"{sum(o.status == 'cached' for o in outcomes)} cached, {len(failed)} failed "
        f"({time.monotonic() - t0:.1f}s)"
    )
    for o in failed:
        print(f"FAILED {o.run_id}: {o.error}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from analysis import paths
    from analysis.pipeline.plan import load_plan
    from analysis.pipeline.publish import publish
    from analysis.pipeline.state import index_path, reports_lock

    with reports_lock("python -m analysis publish"):
        written, findings = publish(load_plan(args.plan))
    pages = [w for w in written if w != index_path()]
    index_state = "rewritten" if index_path() in written else "unchanged"
    print(f"published {len(pages)} page(s); {paths.relative(index_path())} {index_state}")
    for f in findings:
        print(f"PRIVACY {f}", file=sys.stderr)
    if findings:
        withheld = sorted({f.report for f in findings})
        print(
            f"withheld {len(withheld)} report(s) that failed the privacy check: {withheld}",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_check_publish(args: argparse.Namespace) -> int:
    from analysis.pipeline.plan import load_plan
    from analysis.pipeline.publish_check import check_published

    findings = check_published([r.id for r in load_plan(args.plan).runs])
    for f in findings:
        print(f"PRIVACY {f}", file=sys.stderr)
    print(f"privacy check: {len(findings)} finding(s)")
    return 1 if findings else 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from analysis.pipeline.plan import load_plan
    from analysis.pipeline.verify import verify

    mismatches, problems = verify(load_plan(args.plan), only=args.only)
    for p in problems:
        print(f"PROBLEM {p}", file=sys.stderr)
    for m in mismatches:
        print(f"MISMATCH {m}", file=sys.stderr)
    print(f"verify: {len(mismatches)} mismatch(es), {len(problems)} problem(s)")
    return 1 if mismatches or problems else 0


def _cmd_build_data(args: argparse.Namespace) -> int:
    from analysis.data import panels
    from analysis.data.integrity import verify_raw

    verify_raw()
    for name, df in panels.build_all(force=args.force).items():
        print(f"  {name:24s} {len(df):>8,d} rows")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from analysis.pipeline.plan import load_plan

    for run in load_plan(args.plan).runs:
        print(f"{run.id:40s} {run.notebook:32s} {run.title}")
    return 0


def _cmd_intake(args: argparse.Namespace) -> int:
    """Read the schools' files and write the pseudonymised contract panel (private report)."""
    from analysis import paths
    from analysis.data.intake import run_intake

    res = run_intake(args.config)
    print(
        f"panel: {len(res.panel):,} pupil-years of {res.panel['pupil_id'].nunique():,} pupils -> "
        f"{paths.relative(res.output)}\n"
        f"rejected rows: {len(res.rejections)}; conflicts across schools: {len(res.conflicts)}; "
        f"participants not found in any school file: {len(res.unmatched)}\n"
        f"intake report (private, never published): {paths.relative(res.report_dir)}/"
    )
    return 0


def _cmd_data_request(args: argparse.Namespace) -> int:
    """Write the XLSX templates schools and the implementer fill in."""
    from pathlib import Path

    from analysis.data.data_request import write_data_request

    for path in write_data_request(Path(args.out)):
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="execute the plan's notebooks with papermill")
    r.add_argument("--plan", default=None, help="plan file (default config/plan.yaml)")
    r.add_argument("--only", default=None, help="glob on run ids, e.g. 'context_*'")
    r.add_argument("--force", action="store_true", help="ignore the cache and rerun")
    r.add_argument("--quick", action="store_true", help="shrink expensive parameters (CI)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="runs executed at the same time, each in its own kernel (default: the cores)",
    )
    r.set_defaults(func=_cmd_run)
    pub = sub.add_parser("publish", help="convert executed notebooks to HTML + index")
    pub.add_argument("--plan", default=None)
    pub.set_defaults(func=_cmd_publish)
    cp = sub.add_parser("check-publish", help="scan reports/ for pupil ids and small cells")
    cp.add_argument("--plan", default=None)
    cp.set_defaults(func=_cmd_check_publish)
    v = sub.add_parser("verify", help="rerun every report into a temporary folder and compare")
    v.add_argument("--plan", default=None)
    v.add_argument("--only", default=None)
    v.set_defaults(func=_cmd_verify)
    b = sub.add_parser("build-data", help="build the processed panels from data/raw")
    b.add_argument("--force", action="store_true")
    b.set_defaults(func=_cmd_build_data)
    ls = sub.add_parser("list", help="list the runs of the plan")
    ls.add_argument("--plan", default=None)
    ls.set_defaults(func=_cmd_list)
    it = sub.add_parser("intake", help="schools' files -> pseudonymised contract panel")
    it.add_argument("--config", default=None, help="intake config (default config/intake.yaml)")
    it.set_defaults(func=_cmd_intake)
    dr = sub.add_parser("data-request", help="write the XLSX templates for the data owners")
    dr.add_argument("--out", default="data/request", help="folder for the templates")
    dr.set_defaults(func=_cmd_data_request)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except DataValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
