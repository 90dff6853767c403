"""Command line: ``python -m analysis {run,report,publish,verify,build-data,list,...}``."""

from __future__ import annotations

import argparse
import os
import sys
import time

from analysis.errors import DataValidationError


def _scheduler(args: argparse.Namespace) -> str | None:
    """The Dask scheduler address of ``--scheduler`` / ``DASK_SCHEDULER_ADDRESS`` (or None)."""
    return args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None


def _execute_plan(args: argparse.Namespace, plan) -> int:  # noqa: ANN001 - Plan, imported lazily
    """Run the plan (locally, on ``--scheduler`` or on a ``--local-cluster``); print outcomes."""
    import contextlib

    from analysis.pipeline.runner import run_plan

    t0 = time.monotonic()
    scheduler = _scheduler(args)
    if args.local_cluster and scheduler:
        print("error: --local-cluster and --scheduler exclude each other", file=sys.stderr)
        return 2
    workers = args.workers
    try:
        with contextlib.ExitStack() as stack:
            if args.local_cluster:
                scheduler = stack.enter_context(_local_cluster(args.local_cluster))
            outcomes = run_plan(
                plan,
                only=args.only,
                force=args.force,
                quick=args.quick,
                progress=not args.no_progress,
                workers=workers if workers or scheduler else (os.cpu_count() or 1),
                scheduler=scheduler,
            )
    except KeyboardInterrupt as exc:
        print(
            f"interrupted: {exc} (rerun to complete; nothing interrupted passes for current)",
            file=sys.stderr,
        )
        return 130
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not outcomes:
        print(f"no run matches {args.only!r}", file=sys.stderr)
        return 2
    executed = [o for o in outcomes if o.status != "cached"]
    for o in executed if len(executed) < len(outcomes) else outcomes:
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


def _local_cluster(n_workers: int):  # noqa: ANN202 - a context manager yielding the address
    """A ``dask.distributed`` LocalCluster of ``n_workers`` processes, one thread each."""
    import contextlib

    from analysis.pipeline.runner import _import_distributed

    distributed = _import_distributed()

    @contextlib.contextmanager
    def cluster():  # noqa: ANN202
        with distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as c:
            print(f"LocalCluster: {n_workers} workers at {c.scheduler_address}", file=sys.stderr)
            yield c.scheduler_address

    return cluster()


def _cmd_run(args: argparse.Namespace) -> int:
    from analysis.pipeline.plan import load_plan
    from analysis.pipeline.state import reports_lock

    plan = load_plan(args.plan)
    with reports_lock("python -m analysis run"):
        return _execute_plan(args, plan)


def _cmd_report(args: argparse.Namespace) -> int:
    """Run the plan and publish, in one process (what ``make report`` calls).

    When nothing changed since the last complete build (every run cached and the reports folder
    as the last publish left it: :func:`~analysis.pipeline.runner.reports_fingerprint`), the
    publish step is skipped: no notebook conversion, no import of nbconvert or jinja.  Publishes
    even when a run failed, then exits non-zero.
    """
    from analysis.pipeline.plan import load_plan
    from analysis.pipeline.runner import published_stamp_path, reports_fingerprint
    from analysis.pipeline.state import atomic_write_text, reports_lock

    plan = load_plan(args.plan)
    with reports_lock("python -m analysis report"):
        rc = _execute_plan(args, plan)
        stamp = published_stamp_path()
        if rc == 0 and stamp.exists() and stamp.read_text() == reports_fingerprint(plan):
            print("published: nothing changed since the last build")
            return 0
        stamp.unlink(missing_ok=True)
        publish_rc = _publish(plan)
        if rc == 0 and publish_rc == 0:
            atomic_write_text(stamp, reports_fingerprint(plan))
    return rc or publish_rc


def _cmd_run_task(args: argparse.Namespace) -> int:
    """One run on a Dask worker (internal: the submitting command holds the reports lock)."""
    from analysis.pipeline.plan import load_plan
    from analysis.pipeline.runner import run_task

    plan = load_plan(args.plan)
    try:
        outcome = run_task(plan, args.run, key=args.key, quick=args.quick, jobs=args.jobs)
    except KeyboardInterrupt:
        return 130
    print(f"{outcome.status} {outcome.seconds:.1f}s {outcome.run_id}")
    return 0 if outcome.status == "success" else 1


def _publish(plan, *, pdf: bool = True) -> int:  # noqa: ANN001 - Plan, imported lazily
    """Publish the pages, downloads, PDFs and indexes (the caller holds the reports lock)."""
    from analysis import paths
    from analysis.pipeline.publish import PdfBuildError, publish
    from analysis.pipeline.state import index_path

    pdf_failed = None
    try:
        written, findings = publish(plan, pdf=pdf)
    except PdfBuildError as exc:  # pages, downloads and indexes were published
        pdf_failed, written, findings = exc, exc.written, exc.findings
    pages = [w for w in written if w.suffix == ".html" and w.name != "index.html"]
    index_state = "rewritten" if index_path() in written else "unchanged"
    print(f"published {len(pages)} page(s); {paths.relative(index_path())} {index_state}")
    for f in findings:  # the privacy findings first: a PDF failure never hides them
        print(f"PRIVACY {f}", file=sys.stderr)
    rc = 0
    if findings:
        withheld = sorted({f.report for f in findings})
        print(
            f"withheld {len(withheld)} report(s) that failed the privacy check: {withheld}",
            file=sys.stderr,
        )
        rc = 1
    from analysis.pipeline.state import read_state

    still = sorted(r.id for r in plan.runs if (read_state(r.id) or {}).get("status") == "withheld")
    if still and not findings:  # withheld earlier, not rerun since
        print(
            f"{len(still)} report(s) withheld by the privacy check and not rerun since: {still} "
            "(fix them and run again)",
            file=sys.stderr,
        )
        rc = 1
    if pdf_failed is not None:
        print(f"PDF: could not build the PDFs: {pdf_failed}", file=sys.stderr)
        return 1
    if pdf:
        print(f"PDF: {sum(1 for w in written if w.suffix == '.pdf')} file(s) written")
    return rc


def _cmd_publish(args: argparse.Namespace) -> int:
    from analysis.pipeline.plan import load_plan
    from analysis.pipeline.state import reports_lock

    with reports_lock("python -m analysis publish"):
        return _publish(load_plan(args.plan), pdf=not args.no_pdf)


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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("run", _cmd_run, "execute the plan's notebooks with papermill"),
        ("report", _cmd_report, "run + publish in one process (skips what did not change)"),
    ):
        r = sub.add_parser(name, help=text)
        r.add_argument("--plan", default=None, help="plan file (default config/plan.yaml)")
        r.add_argument("--only", default=None, help="glob on run ids, e.g. 'context_*'")
        r.add_argument("--force", action="store_true", help="ignore the cache and rerun")
        r.add_argument("--quick", action="store_true", help="shrink expensive parameters (CI)")
        r.add_argument("--no-progress", action="store_true", help="no progress bar")
        r.add_argument(
            "--workers",
            type=_positive,
            default=None,
            help="runs executed at the same time, each in its own kernel (default: the cores; "
            "with a Dask scheduler, its worker threads)",
        )
        r.add_argument(
            "--scheduler",
            default=None,
            help="dask.distributed scheduler address: run on the cluster (default: "
            "$DASK_SCHEDULER_ADDRESS; needs the extra 'dask')",
        )
        r.add_argument(
            "--local-cluster",
            type=_positive,
            default=None,
            metavar="N",
            help="start a Dask LocalCluster of N one-thread workers and run on it",
        )
        r.set_defaults(func=func)
    rt = sub.add_parser("run-task")  # internal: one run on a Dask worker (no help: hidden)
    rt.add_argument("--plan", required=True)
    rt.add_argument("--run", required=True)
    rt.add_argument("--key", required=True)
    rt.add_argument("--jobs", type=_positive, required=True)
    rt.add_argument("--quick", action="store_true")
    rt.set_defaults(func=_cmd_run_task)
    pub = sub.add_parser(
        "publish",
        help="pages in Italian and English (reports/it, reports/en), downloads, indexes, PDFs",
    )
    pub.add_argument("--plan", default=None)
    pub.add_argument("--no-pdf", action="store_true", help="skip the PDFs (faster)")
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
