"""Publish executed notebooks as self-contained HTML and write ``reports/index.html``.

Code is hidden (``exclude_input``; cells tagged ``remove-cell`` and papermill's injected
parameters cell are removed: the provenance block shows the parameters instead).  The page uses
an ``offline`` template that loads nothing from a CDN; figures are embedded PNGs.  Volatile
notebook metadata (papermill timings, random cell ids) are normalised before conversion so the
same run gives the same HTML apart from the provenance block.
"""

from __future__ import annotations

import copy
import html
import json
from pathlib import Path
from typing import Any

import nbformat

from analysis import paths
from analysis.pipeline.plan import Plan
from analysis.pipeline.publish_check import Finding, scan
from analysis.pipeline.state import (
    atomic_write_text,
    executed_path,
    load_results,
    read_state,
    registered_pupil_ids,
)

TEMPLATES = paths.PACKAGE_DIR / "templates"
REMOVE_CELL_TAGS = {"remove-cell", "injected-parameters", "parameters"}
REMOVE_INPUT_TAGS = {"remove-input"}
FIRST_IN_INDEX = "methodology"


def normalise(nb: nbformat.NotebookNode, *, title: str) -> nbformat.NotebookNode:
    """Drop volatile metadata and number cell ids sequentially (deterministic HTML)."""
    nb = copy.deepcopy(nb)
    params = nb.metadata.get("papermill", {}).get("parameters", {})
    nb.metadata = nbformat.NotebookNode(
        {
            "kernelspec": nb.metadata.get("kernelspec", {}),
            "language_info": {"name": "python"},
            "title": title,
            "parameters": params,
        }
    )
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
        for key in ("papermill", "execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell["execution_count"] = None
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = None
    return nb


def strip_volatile(page: str) -> str:
    """Remove the provenance block (run time, commit).

    It is the only part that differs between two runs of a report from the same inputs and seeds.
    """
    import re

    return re.sub(r'<div class="provenance">.*?</div>', "", page, flags=re.DOTALL)


def _exporter():
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = REMOVE_CELL_TAGS
    c.TagRemovePreprocessor.remove_input_tags = REMOVE_INPUT_TAGS
    c.HTMLExporter.exclude_input = True
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    c.HTMLExporter.embed_images = True
    exporter = HTMLExporter(
        config=c, template_name="offline", extra_template_basedirs=[str(TEMPLATES)]
    )
    return exporter


def notebook_to_html(executed: Path, *, title: str) -> str:
    """Convert one executed notebook to the published HTML (code hidden, offline)."""
    nb = nbformat.read(executed, as_version=4)
    nb = normalise(nb, title=title)
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    body, _ = _exporter().from_notebook_node(
        nb, resources={"report_css": css, "metadata": {"name": title}}
    )
    return body


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1e-2 or abs(v) >= 1e5 else f"{v:,.2f}"
    if v is None:
        return "–"
    return str(v)


def _index_html(rows: list[dict[str, Any]]) -> str:
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    trs = []
    for r in rows:
        link = (
            f'<a href="{html.escape(r["id"])}.html">{html.escape(r["title"])}</a>'
            if r["html"]
            else html.escape(r["title"])
        )
        params = (
            "<br>".join(
                f"{html.escape(str(k))} = {html.escape(json.dumps(v, ensure_ascii=False))}"
                for k, v in r["parameters"].items()
            )
            or "–"
        )
        head = (
            "<br>".join(
                f"{html.escape(str(k))}: <b>{html.escape(_fmt_value(v))}</b>"
                for k, v in (r["headline"] or {}).items()
            )
            or "–"
        )
        status = html.escape(r["status"]) + (
            f"<br><small>{html.escape(r['error'] or '')}</small>" if r["status"] == "failed" else ""
        )
        flags = "".join(
            f'<div class="banner banner-{"sim" if "SIMULATED" in b else "quick"}" '
            f'style="font-size:0.75em;padding:2px 6px">{html.escape(b)}</div>'
            for b in r["banners"]
        )
        trs.append(
            f"<tr><td>{link}{flags}</td><td><code>{html.escape(r['notebook'])}</code></td>"
            f"<td>{params}</td><td>{status}</td><td>{head}</td></tr>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Officine Mezzogiorno — evaluation reports</title>
<style>{css}
body {{ font-family: sans-serif; padding: 0 20px; }}
table.index {{ border-collapse: collapse; width: 100%; font-size: 0.9em; }}
table.index th, table.index td {{ border-bottom: 1px solid #ddd; padding: 6px; vertical-align: top; text-align: left; }}
</style></head><body>
<h1>Officine Mezzogiorno (Lecce) — independent evaluation: reports</h1>
<p>Each report is a notebook of this repository executed with the parameters shown (see
<code>config/plan.yaml</code>). Rebuild everything with <code>make report</code>; check the numbers
with <code>make verify</code>. Reports built on simulated pupil data are marked SIMULATED.</p>
<table class="index"><thead><tr><th>Report</th><th>Notebook</th><th>Parameters</th><th>Status</th>
<th>Headline numbers</th></tr></thead><tbody>
{"".join(trs)}
</tbody></table></body></html>
"""


def publish(plan: Plan) -> tuple[list[Path], list[Finding]]:
    """Write ``reports/<id>.html`` for every executed run and ``reports/index.html``.

    Each report is scanned first (:mod:`analysis.pipeline.publish_check`); a report with a privacy
    finding is withheld (its HTML removed) and listed in the index as such.

    Returns
    -------
    written, findings
        The files written and the privacy findings (empty when everything was published).
    """
    written: list[Path] = []
    findings: list[Finding] = []
    rows = []
    ordered = sorted(plan.runs, key=lambda r: (not r.id.startswith(FIRST_IN_INDEX),))
    for run in ordered:
        state = read_state(run.id) or {}
        executed = executed_path(run.id)
        target = paths.REPORTS_DIR / f"{run.id}.html"
        has_html = False
        results = load_results(run.id) or {}
        status = state.get("status", "not run")
        if status == "running":
            status = "interrupted (incomplete: rerun it)"
        if status not in ("success", "failed"):
            target.unlink(missing_ok=True)  # never show a stale page for a run not completed
        elif executed.exists():
            page = notebook_to_html(executed, title=run.title)
            found = scan(
                run.id,
                html=page,
                results=results or None,
                executed=executed.read_text(encoding="utf-8"),
                pupil_ids=registered_pupil_ids(run.id),
            )
            if found:
                findings += found
                target.unlink(missing_ok=True)
                status = "withheld: privacy check failed"
            else:
                atomic_write_text(target, page)
                written.append(target)
                has_html = True
        rows.append(
            {
                "id": run.id,
                "title": run.title,
                "notebook": run.notebook,
                "parameters": dict(run.parameters),
                "status": status,
                "error": state.get("error"),
                "headline": results.get("headline"),
                "banners": results.get("banners", []),
                "html": has_html,
            }
        )
    index = paths.REPORTS_DIR / "index.html"
    atomic_write_text(index, _index_html(rows))
    written.append(index)
    return written, findings
