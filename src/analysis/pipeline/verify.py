"""``python -m analysis verify``: rebuild everything from raw and compare it with the record.

Into a temporary repository root (a copy of ``config/``, ``notebooks/``, ``data/raw`` and
``data/reference``, with an empty ``data/processed``), in separate processes:

1. **processed data**: every panel is rebuilt from the raw files (``build-data --force``) and
   compared, frame by frame (exact equality of values, dtypes, columns and index), with
   ``data/processed/*.parquet`` — a modified processed panel is reported;
2. **numbers**: each run is re-executed (``--force``) on the rebuilt data, with the same
   ``--quick`` setting it was recorded with (the ``quick`` flag of its results JSON), and every
   number of its new results JSON is compared with ``reports/results/<id>.json``;
3. **pages and notebooks**: the rebuild is published into the temporary reports folder and
   every page (``reports/**/*.html``, any layout) and executed notebook
   (``reports/executed/*.ipynb``: cell sources and outputs) is compared with the record after
   masking what legitimately differs between two builds (:func:`mask_volatile`: the provenance
   block, the index footer, timestamps, durations, commit and file hashes, the two roots'
   paths) — an edited page or executed notebook is reported.

All randomness is seeded, so numbers are expected to agree to rounding (default
``rtol = 1e-9``); a run may declare looser tolerances for numbers that are legitimately
stochastic across machines in ``config/plan.yaml``::

    - id: design_power
      ...
      tolerances: {"results.simulated_power.*": 0.02}   # absolute, by glob on the JSON path

A run whose numbers carry such tolerances may print them differently on another machine:
its page differences are reported like any other, for a reader to judge.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis import paths
from analysis.pipeline.plan import Plan
from analysis.pipeline.state import load_results, results_path

DEFAULT_RTOL = 1e-9
DEFAULT_ATOL = 1e-12


@dataclass(frozen=True)
class Mismatch:
    """A number (or value) that differs between the record and the rerun."""

    run_id: str
    path: str
    recorded: Any
    rerun: Any
    tolerance: str

    def __str__(self) -> str:
        return (
            f"{self.run_id}: {self.path}: recorded {self.recorded!r}, rerun {self.rerun!r} "
            f"({self.tolerance})"
        )


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts/lists into {"a.b[0].c": value}."""
    out: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = obj
    return out


def compare(
    run_id: str,
    recorded: Mapping[str, Any],
    rerun: Mapping[str, Any],
    *,
    tolerances: Mapping[str, float] | None = None,
) -> list[Mismatch]:
    """Compare two results JSON documents number by number."""
    tolerances = dict(tolerances or {})
    a, b = flatten(recorded), flatten(rerun)
    out: list[Mismatch] = []
    for key in sorted(set(a) | set(b)):
        if key not in b or key not in a:
            out.append(
                Mismatch(
                    run_id,
                    key,
                    a.get(key, "<absent>"),
                    b.get(key, "<absent>"),
                    "key present in only one",
                )
            )
            continue
        x, y = a[key], b[key]
        tol = next((t for pat, t in tolerances.items() if fnmatch.fnmatch(key, pat)), None)
        numeric = (
            isinstance(x, int | float)
            and isinstance(y, int | float)
            and not isinstance(x, bool)
            and not isinstance(y, bool)
        )
        if numeric:
            if tol is not None:
                ok = abs(x - y) <= tol
                desc = f"atol {tol}"
            else:
                ok = math.isclose(x, y, rel_tol=DEFAULT_RTOL, abs_tol=DEFAULT_ATOL)
                desc = f"rtol {DEFAULT_RTOL}"
            if not ok:
                out.append(Mismatch(run_id, key, x, y, desc))
        elif x != y:
            out.append(Mismatch(run_id, key, x, y, "exact"))
    return out


VOLATILE = (
    (re.compile(r'<div class="provenance">.*?</div>', re.DOTALL), '<div class="provenance"></div>'),
    (re.compile(r"<footer\b.*?</footer>", re.DOTALL), "<footer></footer>"),
    # the index links the consolidated PDF only when it was built (verify builds no PDFs)
    (re.compile(r'\s*·\s*<a href="pdf/[^"]+\.pdf">[^<]*</a>'), ""),
    (
        re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"),
        "<TIME>",
    ),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s|sec|seconds|min|minutes)\b(?![\w-])"), "<DURATION>"),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,64}\b"), "<HASH>"),
    (re.compile(r"analysis-verify-[\w-]+"), "<TMP>"),
)
"""What legitimately differs between two builds of the same page (pattern, replacement)."""


def mask_volatile(text: str, *, roots: Iterable[Path | str] = ()) -> str:
    """Mask what differs between two builds of a page from the same inputs and seeds.

    The provenance block (run time, commit, input hashes), the index footer (build date and
    commit), ISO timestamps, durations, hexadecimal hashes and the given folder paths (the
    repository root and the temporary root of the rebuild) are replaced by placeholders.
    Everything else — text, tables, numbers, embedded figures — must be equal.
    """
    for r in sorted({str(r) for r in roots if str(r)}, key=len, reverse=True):
        text = text.replace(r, "<ROOT>")
    for pattern, repl in VOLATILE:
        text = pattern.sub(repl, text)
    return text


def notebook_text(text: str, *, roots: Iterable[Path | str] = ()) -> str:
    """The comparable content of an executed notebook: cell sources and outputs, masked.

    Metadata, execution counts, cell ids and timings are left out (they differ between two
    executions); outputs are kept whole (text, HTML, embedded images, errors).
    """
    try:
        nb = json.loads(text)
    except json.JSONDecodeError:
        return mask_volatile(text, roots=roots)
    parts: list[str] = []
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        src = cell.get("source", "")
        parts.append(
            f"--- {cell.get('cell_type')}\n" + ("".join(src) if isinstance(src, list) else str(src))
        )
        for out in cell.get("outputs", []) or []:
            keep = {k: v for k, v in out.items() if k not in ("execution_count", "metadata")}
            parts.append(json.dumps(keep, sort_keys=True, ensure_ascii=False))
    return mask_volatile("\n".join(parts), roots=roots)


def _first_difference(a: str, b: str, width: int = 60) -> tuple[str, str]:
    i = next((j for j, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    lo = max(0, i - 20)
    return a[lo : i + width], b[lo : i + width]


def compare_processed(recorded_dir: Path, rebuilt_dir: Path) -> list[Mismatch]:
    """Compare every processed panel (``*.parquet``) of two folders frame by frame.

    Every recorded panel must equal its rebuild; a panel the record does not have (never
    built there: panels are built on first use) is not a mismatch.
    """
    import pandas as pd

    out: list[Mismatch] = []
    rec = {p.name: p for p in Path(recorded_dir).glob("*.parquet")}
    new = {p.name: p for p in Path(rebuilt_dir).glob("*.parquet")}
    for name in sorted(rec):
        where = f"data/processed/{name}"
        if name not in new or name not in rec:
            out.append(
                Mismatch(
                    "data/processed",
                    where,
                    "present" if name in rec else "<absent>",
                    "present" if name in new else "<absent>",
                    "panel present in only one",
                )
            )
            continue
        try:
            a, b = pd.read_parquet(rec[name]), pd.read_parquet(new[name])
        except Exception as exc:  # noqa: BLE001 - a corrupt record is a mismatch, not a crash
            out.append(Mismatch("data/processed", where, f"unreadable ({exc})", "rebuilt", "exact"))
            continue
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        except AssertionError as exc:
            first = str(exc).strip().splitlines()
            out.append(
                Mismatch(
                    "data/processed",
                    where,
                    f"{len(a)} rows",
                    f"{len(b)} rows rebuilt from raw",
                    "frame equality: " + " ".join(first[:3])[:300],
                )
            )
    return out


def compare_pages(
    recorded_dir: Path,
    rebuilt_dir: Path,
    *,
    run_ids: Iterable[str],
    include_unowned: bool,
    roots: Iterable[Path | str] = (),
) -> list[Mismatch]:
    """Compare every page (``**/*.html``) and executed notebook of two reports folders.

    Files are matched by their path relative to the folder; every recorded file must have an
    equal rebuild (a rebuilt page the record lacks — never published — is not a mismatch; a
    recorded page the rebuild withholds is).  A file belongs to a run when its
    name starts with the run id or it sits in a folder named after it; files of other runs are
    skipped, and files of no run (the indexes) only when ``include_unowned``.
    """
    from analysis.pipeline.publish_check import _owner

    runs = set(run_ids)
    rec_root, new_root = Path(recorded_dir), Path(rebuilt_dir)

    def files(root: Path) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for p in root.rglob("*"):
            rel = p.relative_to(root)
            if not p.is_file() or any(part.startswith(".") for part in rel.parts):
                continue
            if p.suffix == ".html" or (p.suffix == ".ipynb" and rel.parts[0] == "executed"):
                owner = _owner(p, root, runs)
                if owner is not None or include_unowned:
                    found[rel.as_posix()] = p
        return found

    rec, new = files(rec_root), files(new_root)
    out: list[Mismatch] = []
    for rel in sorted(rec):
        owner = _owner(rec[rel], rec_root, runs)
        who = owner or "(index)"
        if rel not in new:
            out.append(Mismatch(who, rel, "present", "<absent>", "page not rebuilt"))
            continue
        a = rec[rel].read_text(encoding="utf-8", errors="replace")
        b = new[rel].read_text(encoding="utf-8", errors="replace")
        if rel.endswith(".ipynb"):
            a, b = notebook_text(a, roots=roots), notebook_text(b, roots=roots)
            what = "executed notebook (sources and outputs, masked)"
        else:
            a, b = mask_volatile(a, roots=roots), mask_volatile(b, roots=roots)
            what = "page text (masked)"
        if a != b:
            x, y = _first_difference(a, b)
            out.append(Mismatch(who, rel, x, y, what))
    return out


def _temporary_root(tmp: Path, plan: Plan) -> tuple[Path, Path]:
    """Copy what a rebuild needs under ``tmp/root``; return (root, plan file inside it)."""
    root = tmp / "root"
    (root / "data" / "processed").mkdir(parents=True)
    (root / "data" / "private").mkdir(parents=True)
    for sub in ("config", "notebooks", "data/raw", "data/reference"):
        src = paths.ROOT / sub
        if src.exists():
            shutil.copytree(src, root / sub, symlinks=False)
    if paths.LOCK_FILE.exists():
        shutil.copy(paths.LOCK_FILE, root / paths.LOCK_FILE.name)
    source = Path(plan.source).resolve()
    try:
        plan_file = root / source.relative_to(paths.ROOT)
    except ValueError:
        plan_file = source  # a plan outside the repository is read where it is
    return root, plan_file


def _env(root: Path, reports: Path) -> dict[str, str]:
    return dict(os.environ, ANALYSIS_ROOT=str(root), ANALYSIS_REPORTS_DIR=str(reports))


def verify(
    plan: Plan,
    *,
    only: str | None = None,
    keep: Path | None = None,
    data: bool = True,
    pages: bool = True,
) -> tuple[list[Mismatch], list[str]]:
    """Rebuild from raw into a temporary root and compare; return (mismatches, problems).

    Parameters
    ----------
    plan
        The plan whose runs are verified.
    only
        Verify only the runs this selects (:meth:`Plan.select`); the indexes are compared
        only when every run is verified.
    keep
        A folder to rebuild into and keep (default: a temporary folder, removed).
    data
        Rebuild the processed panels from raw and compare them (step 1).  With
        ``data=False`` the reruns read the repository's processed panels (copied).
    pages
        Publish the rebuild and compare pages and executed notebooks (step 3).

    ``problems`` lists what could not be compared (runs never recorded, a failed rebuild,
    rerun or publish).
    """
    runs = plan.select(only)
    problems: list[str] = []
    recorded: dict[str, dict[str, Any]] = {}
    for run in runs:
        record = load_results(run.id)
        if record is None:
            problems.append(
                f"{run.id}: no recorded results in {paths.relative(results_path(run.id))} "
                "(run the plan first)"
            )
            continue
        recorded[run.id] = record
    mismatches: list[Mismatch] = []
    with tempfile.TemporaryDirectory(prefix="analysis-verify-") as tmp_name:
        tmp = Path(keep or tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        root, plan_file = _temporary_root(tmp, plan)
        out_dir = tmp / "reports"
        env = _env(root, out_dir)
        if data:
            proc = subprocess.run(
                [sys.executable, "-m", "analysis", "build-data", "--force"],
                env=env,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                problems.append(f"data/processed: rebuild from raw failed: {proc.stderr[-400:]}")
            else:
                mismatches += compare_processed(paths.PROCESSED_DIR, root / "data" / "processed")
        else:
            for f in paths.PROCESSED_DIR.glob("*"):
                if f.is_file():
                    shutil.copy(f, root / "data" / "processed" / f.name)
        failed: set[str] = set()
        for quick in (False, True):
            ids = [rid for rid, res in recorded.items() if bool(res.get("quick")) == quick]
            for rid in ids:
                cmd = [
                    sys.executable,
                    "-m",
                    "analysis",
                    "run",
                    "--force",
                    "--no-progress",
                    "--plan",
                    str(plan_file),
                    "--only",
                    rid,
                ] + (["--quick"] if quick else [])
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
                new = results_path(rid, reports_dir=out_dir)
                if proc.returncode != 0 or not new.exists():
                    problems.append(f"{rid}: rerun failed: {proc.stderr.strip()[-400:]}")
                    failed.add(rid)
                    continue
                run = plan.get(rid)
                mismatches += compare(
                    rid,
                    recorded[rid],
                    json.loads(new.read_text(encoding="utf-8")),
                    tolerances=run.tolerances,
                )
        if pages and set(recorded) - failed:
            proc = subprocess.run(
                [sys.executable, "-m", "analysis", "publish", "--plan", str(plan_file)],
                env=env,
                capture_output=True,
                text=True,
            )
            if proc.returncode not in (0, 1):  # 1: a page withheld, compared as absent
                problems.append(f"publish of the rebuild failed: {proc.stderr.strip()[-400:]}")
            else:
                mismatches += compare_pages(
                    paths.REPORTS_DIR,
                    out_dir,
                    run_ids=[rid for rid in recorded if rid not in failed],
                    include_unowned=only is None,
                    roots=(paths.ROOT, root, paths.REPORTS_DIR, out_dir, tmp),
                )
    return mismatches, problems
