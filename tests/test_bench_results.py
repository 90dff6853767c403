"""``make bench`` rewrites only its own part of benchmarks/RESULTS.md (issue 14).

The hand-written before/after measurements of earlier rounds sit below the generated table; a
benchmark run must not erase them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from analysis import paths

SCRIPT = paths.ROOT / "benchmarks" / "run_bench.py"


def _run_bench():
    spec = importlib.util.spec_from_file_location("run_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_part_replaced_and_hand_written_part_kept(tmp_path: Path) -> None:
    rb = _run_bench()
    out = tmp_path / "RESULTS.md"
    out.write_text(f"{rb.START}\nold table\n{rb.END}\n\n## Before and after\nkept\n", "utf-8")
    records = [
        {"name": "full default plan, 1 worker(s)", "seconds": 10.0, "workers": 1},
        {
            "name": "full default plan, 2 worker(s)",
            "seconds": 6.0,
            "workers": 2,
            "ratio": 0.6,
            "before_seconds": 9.0,
        },
    ]
    rb.write_results(out, rb.markdown({"commit": "abc"}, records, quick=False))
    text = out.read_text("utf-8")
    assert "old table" not in text
    assert text.count(rb.START) == 1 and text.count(rb.END) == 1
    assert text.endswith("\n\n## Before and after\nkept\n")
    assert "| full default plan, 2 worker(s) | 2 | 6.00 | 9.00 | 0.60 |" in text


def test_file_without_markers_keeps_its_text_below(tmp_path: Path) -> None:
    rb = _run_bench()
    out = tmp_path / "RESULTS.md"
    out.write_text("hand-written notes\n", "utf-8")
    rb.write_results(out, rb.markdown({}, [], quick=True))
    text = out.read_text("utf-8")
    assert text.startswith(rb.START) and text.rstrip().endswith("hand-written notes")


def test_results_md_in_the_repository_has_the_markers() -> None:
    rb = _run_bench()
    text = SCRIPT.with_name("RESULTS.md").read_text("utf-8")
    assert text.count(rb.START) == 1 and text.count(rb.END) == 1
    assert text.index(rb.START) < text.index(rb.END)
