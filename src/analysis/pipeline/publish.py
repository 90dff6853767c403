"""Publish executed notebooks as self-contained HTML and write ``reports/index.html``.

Both come from templates in ``src/analysis/templates``: the pages from the nbconvert template
``offline``, the index from the Jinja template ``index.html.j2`` (autoescaped).

Code is hidden (``exclude_input``; cells tagged ``remove-cell`` and papermill's injected
parameters cell are removed: the provenance block shows the parameters instead).  The page uses
an ``offline`` template that loads nothing from a CDN; figures are embedded PNGs.  Volatile
notebook metadata (papermill timings, random cell ids) are normalised before conversion so the
same run gives the same HTML apart from the provenance block.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

from analysis import paths
from analysis._util import fmt_number
from analysis.pipeline.plan import Plan, Run
from analysis.pipeline.publish_check import Finding, scan
from analysis.pipeline.runner import artefacts_intact
from analysis.pipeline.state import (
    atomic_write_text,
    executed_path,
    index_path,
    load_results,
    page_path,
    page_record_path,
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


INDEX_TEMPLATE = "index.html.j2"


def _banner_kind(banner: str) -> str:
    return "sim" if "SIMULATED" in banner else "quick"


def index_row(
    run: Run,
    *,
    status: str,
    error: str | None,
    results: Mapping[str, Any],
    published: bool,
) -> dict[str, Any]:
    """What the index shows of one run: plain text only (the template escapes it).

    Parameters are shown as JSON values, headline numbers in the one page number format
    (:func:`analysis._util.fmt_number`); the link is relative to the index page.
    """
    href = os.path.relpath(page_path(run.id), index_path().parent) if published else None
    return {
        "title": run.title,
        "href": Path(href).as_posix() if href else None,
        "notebook": run.notebook,
        "parameters": [
            (str(k), json.dumps(v, ensure_ascii=False)) for k, v in run.parameters.items()
        ],
        "status": status,
        "error": error,
        "headline": [(str(k), fmt_number(v)) for k, v in (results.get("headline") or {}).items()],
        "banners": [(_banner_kind(b), b) for b in results.get("banners", [])],
    }


def render_index(rows: list[Mapping[str, Any]]) -> str:
    """Render ``reports/index.html`` from the ``index.html.j2`` template (autoescaped)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    return env.get_template(INDEX_TEMPLATE).render(rows=rows, css=css)


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
    templates = _templates_fingerprint()
    ordered = sorted(plan.runs, key=lambda r: (not r.id.startswith(FIRST_IN_INDEX),))
    for run in ordered:
        state = read_state(run.id) or {}
        executed = executed_path(run.id)
        target = page_path(run.id)
        has_html = False
        status = state.get("status", "not run")
        if status == "success" and not artefacts_intact(run.id, state):
            # an edited or corrupted notebook/results file is never published as the run's
            status = "failed"
            state = {
                **state,
                "error": "its executed notebook or results changed after the run "
                "(edited or corrupted): rerun it",
            }
        try:
            results = load_results(run.id) or {} if status == "success" else {}
        except ValueError:
            results = {}
        if status in ("running", "interrupted"):
            status = "interrupted (incomplete: rerun it)"
        if status != "success":
            target.unlink(missing_ok=True)  # never show a stale page for a run not completed
        elif executed.exists():
            key = _page_key(run, executed, results, templates)
            record = page_record_path(run.id)
            if target.exists() and record.exists() and record.read_text(encoding="utf-8") == key:
                has_html = True  # nothing it is built from changed: no conversion, no scan
                rows.append(
                    index_row(
                        run,
                        status=status,
                        error=state.get("error"),
                        results=results,
                        published=True,
                    )
                )
                continue
            record.unlink(missing_ok=True)
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
                atomic_write_text(record, key)
                written.append(target)
                has_html = True
        rows.append(
            index_row(
                run, status=status, error=state.get("error"), results=results, published=has_html
            )
        )
    index = index_path()
    html = render_index(rows)
    if not index.exists() or index.read_text(encoding="utf-8") != html:
        atomic_write_text(index, html)
        written.append(index)
    return written, findings


def _templates_fingerprint() -> str:
    """Hash of the page and index templates (a changed template rebuilds every page)."""
    h = hashlib.sha256()
    for f in sorted(TEMPLATES.rglob("*")):
        if f.is_file():
            h.update(f.relative_to(TEMPLATES).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def _page_key(run: Run, executed: Path, results: Mapping[str, Any], templates: str) -> str:
    """What a page is built from: the executed notebook, its results, title, templates, ids.

    The privacy scan depends on the registered pupil ids too, so they are part of the key.
    """
    h = hashlib.sha256()
    for part in (
        executed.read_bytes(),
        json.dumps(results, sort_keys=True, default=str).encode(),
        run.title.encode(),
        templates.encode(),
        "\n".join(sorted(registered_pupil_ids(run.id))).encode(),
    ):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()
