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
import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

from analysis import i18n, paths
from analysis.i18n import N_
from analysis.pipeline import downloads
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
    root_index_path,
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


def for_language(nb: nbformat.NotebookNode, lang: str) -> nbformat.NotebookNode:
    """The notebook as the ``lang`` page shows it.

    Outputs tagged with another language (:data:`analysis.display.LANG_KEY`) are dropped;
    Markdown cells are translated through the catalogs (their text is the message id).
    """
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = (
                "".join(cell.source).strip()
                if isinstance(cell.source, list)
                else cell.source.strip()
            )
            # translated, then sanitised: a notebook or catalog cannot put active markup (or a
            # link the PDF renderer would follow to a local file) on a page
            cell.source = _sanitise_markdown(i18n.gettext(text, lang)) if text else text
        elif cell.cell_type == "code":
            cell.outputs = [
                out
                for out in cell.get("outputs", [])
                if out.get("metadata", {}).get(i18n.LANG_KEY) in (None, lang)
            ]
    return nb


def _sanitise_markdown(text: str) -> str:
    """Keep Markdown, drop unsafe inline HTML (the pages' own sanitiser, :func:`sanitise_html`)."""
    from analysis.display import sanitise_html

    return sanitise_html(text) if "<" in text else text


def notebook_to_html(
    executed: Path, *, title: str, lang: str = i18n.DEFAULT_LANGUAGE, run_id: str = ""
) -> str:
    """Convert one executed notebook to the published HTML of ``lang`` (code hidden, offline)."""
    nb = nbformat.read(executed, as_version=4)
    nb = for_language(normalise(nb, title=i18n.gettext(title, lang)), lang)
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    other = [lg for lg in i18n.LANGUAGES if lg != lang]
    body, _ = _exporter().from_notebook_node(
        nb,
        resources={
            "report_css": css,
            "metadata": {"name": i18n.gettext(title, lang)},
            "lang": lang,
            "nav": {
                "index": i18n.gettext("All reports", lang),
                "results": i18n.gettext("Results (JSON)", lang),
                "results_href": f"../results/{run_id}.json",
                "pdf": i18n.gettext("PDF", lang),
                "pdf_href": f"pdf/{run_id}.pdf",
                "switch": [(lg, i18n.LANGUAGE_NAMES[lg], f"../{lg}/{run_id}.html") for lg in other],
            },
        },
    )
    body = re.sub(r"<html[^>]*>", f'<html lang="{lang}">', body, count=1)
    return add_contents(body, lang)


_H2 = re.compile(r'<h2 id="([^"]+)"[^>]*>(.*?)</h2>', re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def add_contents(page: str, lang: str) -> str:
    """Insert a table of contents (the page's ``h2`` sections) before the first section.

    The sections are the notebook's ``## n. Heading`` cells (nbconvert gives them ids); the
    summary box and banners come before, the provenance block closes the page.
    """
    sections = [
        (m.group(1), _TAG.sub("", m.group(2)).replace("¶", "").strip()) for m in _H2.finditer(page)
    ]
    if len(sections) < 2:
        return page
    items = "".join(
        f'<li><a href="#{html.escape(anchor, quote=True)}">{html.escape(html.unescape(text))}</a></li>'
        for anchor, text in sections
    )
    nav = (
        f'<nav class="toc" aria-label="{html.escape(i18n.gettext(CONTENTS, lang))}">'
        f'<h2 class="toc-title">{html.escape(i18n.gettext(CONTENTS, lang))}</h2><ul>{items}</ul></nav>'
    )
    first = _H2.search(page)
    assert first is not None
    return page[: first.start()] + nav + page[first.start() :]


CONTENTS = N_("Contents")


def _record_path(run_id: str, lang: str) -> Path:
    return page_record_path(run_id).with_name(f"{run_id}.{lang}.page.sha256")


INDEX_TEMPLATE = "index.html.j2"


def _banner_kind(banner: str) -> str:
    if "SIMULATED" in banner:
        return "sim"
    return "illustrative" if "ILLUSTRATIVE" in banner else "quick"


#: Statuses the index shows (message ids).
STATUSES = (
    N_("success"),
    N_("failed"),
    N_("not run"),
    N_("interrupted (incomplete: rerun it)"),
    N_("withheld: privacy check failed"),
)


def questions() -> list[dict[str, str]]:
    """The evaluation questions the index groups reports by (``config/questions.yaml``)."""
    from analysis.yamlfile import read_yaml

    qfile = paths.ROOT / "config" / "questions.yaml"
    if not qfile.exists():
        return []
    return [dict(q) for q in read_yaml(qfile).get("questions", [])]


def index_row(
    run: Run,
    *,
    status: str,
    error: str | None,
    results: Mapping[str, Any],
    published: bool,
    lang: str = i18n.DEFAULT_LANGUAGE,
) -> dict[str, Any]:
    """What the index of ``lang`` shows of one run: plain text only (the template escapes it).

    The verdict and headline come from the run's own results (``page`` block written by
    :meth:`analysis.display.Report.save`); parameters are folded away; the link is relative.
    """
    page = results.get("page") or {}
    verdict = (page.get("verdict") or {}).get(lang)
    headline_text = (page.get("headline") or {}).get(lang)
    numbers = [
        (i18n.gettext(str(k), lang), i18n.format_value(v, lang))
        for k, v in (results.get("headline") or {}).items()
    ]
    return {
        "id": run.id,
        "title": i18n.gettext(run.title, lang),
        "href": f"{run.id}.html" if published else None,
        "notebook": run.notebook,
        "question": page.get("question") or "method",
        "parameters": [
            (str(k), json.dumps(v, ensure_ascii=False)) for k, v in run.parameters.items()
        ],
        "status": status,
        "status_text": i18n.gettext(status, lang),
        "error": error,
        "verdict": verdict,
        "headline_text": headline_text,
        "headline": [] if headline_text else numbers,
        "banners": [(_banner_kind(b), i18n.gettext(b, lang)) for b in results.get("banners", [])],
    }


def render_index(
    rows: list[Mapping[str, Any]],
    *,
    lang: str = i18n.DEFAULT_LANGUAGE,
    build: Mapping[str, str] | None = None,
) -> str:
    """Render the index of ``lang`` from ``index.html.j2`` (autoescaped), grouped by question."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda m: i18n.gettext(m, lang),
        ngettext=lambda s, p, n: i18n.gettext(s if n == 1 else p, lang),
        newstyle=True,
    )
    groups = []
    for q in questions():
        members = [r for r in rows if r["question"] == q["id"]]
        if members:
            question_title = q["title"]
            groups.append({"title": i18n.gettext(question_title, lang), "rows": members})
    known = {q["id"] for q in questions()}
    rest = [r for r in rows if r["question"] not in known]
    if rest:
        groups.append({"title": i18n.gettext("Other reports", lang), "rows": rest})
    build = {"date": "–", "commit": "–", **dict(build or {})}
    if build.get("date", "–") != "–":
        build["date"] = i18n.format_value(i18n.date(build["date"]), lang)
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    switch = [
        (lg, i18n.LANGUAGE_NAMES[lg], f"../{lg}/index.html") for lg in i18n.LANGUAGES if lg != lang
    ]
    from analysis.pipeline.pdf import REPORT_FILE, pdf_dir

    archive = (downloads.downloads_dir(lang) / "all-tables.zip").exists()
    report_pdf = (
        f"pdf/{REPORT_FILE[lang]}" if (pdf_dir(lang) / REPORT_FILE[lang]).exists() else None
    )
    return env.get_template(INDEX_TEMPLATE).render(
        groups=groups,
        css=css,
        lang=lang,
        switch=switch,
        build=build,
        archive=archive,
        report_pdf=report_pdf,
    )


def render_root_index() -> str:
    """``reports/index.html``: opens the Italian index (links to both languages)."""
    links = "".join(
        f'<li><a href="{lg}/index.html">{i18n.LANGUAGE_NAMES[lg]}</a></li>' for lg in i18n.LANGUAGES
    )
    return (
        '<!DOCTYPE html>\n<html lang="it"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f'<meta http-equiv="refresh" content="0; url={i18n.DEFAULT_LANGUAGE}/index.html">'
        "<title>Officine Mezzogiorno — valutazione indipendente</title></head><body>"
        f"<p>Officine Mezzogiorno — valutazione indipendente / independent evaluation:</p><ul>{links}</ul>"
        "</body></html>\n"
    )


def _build_info(plan: Plan) -> dict[str, str]:
    """Build date and commit for the index footer (from the runs' own contexts)."""
    from analysis.pipeline.state import context_path

    commits, dates = set(), set()
    for run in plan.runs:
        cpath = context_path(run.id)
        if cpath.exists():
            try:
                ctx = json.loads(cpath.read_text(encoding="utf-8"))
            except ValueError:
                continue
            commit = str((ctx.get("git") or {}).get("commit", ""))
            if re.fullmatch(r"[0-9a-f]{7,40}", commit):
                commits.add(commit[:12])
            dates.add(str(ctx.get("started_utc", ""))[:10])
    return {
        "commit": ", ".join(sorted(c for c in commits if c)) or "–",
        "date": max(dates) if dates else "–",
    }


class PdfBuildError(RuntimeError):
    """The PDFs could not be built (the pages, downloads and indexes were published).

    ``written`` and ``findings`` are what :func:`publish` would have returned.
    """

    def __init__(self, message: str, *, written: list[Path], findings: list[Finding]):
        super().__init__(message)
        self.written = written
        self.findings = findings


def publish(plan: Plan, *, pdf: bool = False) -> tuple[list[Path], list[Finding]]:
    """Write every executed run's page in each language, its downloads, and the indexes.

    Pages: ``reports/<lang>/<id>.html``; downloads: ``reports/<lang>/downloads/<id>/``;
    indexes: ``reports/<lang>/index.html`` and ``reports/index.html`` (opens Italian).  Each
    page is scanned first (:mod:`analysis.pipeline.publish_check`); a report with a privacy
    finding is withheld in every language (its pages and downloads removed) and listed as such.

    Returns
    -------
    written, findings
        The files written and the privacy findings (empty when everything was published).
    """
    written: list[Path] = []
    findings: list[Finding] = []
    rows: dict[str, list[dict[str, Any]]] = {lg: [] for lg in i18n.LANGUAGES}
    templates = _templates_fingerprint()
    ordered = sorted(plan.runs, key=lambda r: (not r.id.startswith(FIRST_IN_INDEX),))
    for run in ordered:
        state = read_state(run.id) or {}
        executed = executed_path(run.id)
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
        if status == "withheld":
            status = "withheld: privacy check failed"
        published = False
        if status != "success" or not executed.exists():
            _withdraw(run.id)  # never show a stale page for a run not completed
        else:
            try:
                published, status, found = _publish_run(run, executed, results, templates, written)
            except Exception as exc:  # one bad artefact never stops the others
                _withdraw(run.id)
                status, published, found = "failed", False, []
                state = {**state, "error": f"could not publish: {type(exc).__name__}: {exc}"}
            findings += found
        shown = results if published else {}  # a withheld page's numbers stay off the index
        for lg in i18n.LANGUAGES:
            rows[lg].append(
                index_row(
                    run,
                    status=status,
                    error=state.get("error"),
                    results=shown,
                    published=published,
                    lang=lg,
                )
            )
    pdf_error: Exception | None = None
    if pdf:  # before the indexes, which link the consolidated report
        from analysis.pipeline import pdf as pdfs

        try:
            written += pdfs.build(plan)
        except Exception as exc:  # the pages and indexes are still published
            pdf_error = exc
    build = _build_info(plan)
    for lg in i18n.LANGUAGES:
        written += downloads.write_archive(lg)
        written += _write_if_changed(index_path(lg), render_index(rows[lg], lang=lg, build=build))
    written += _write_if_changed(root_index_path(), render_root_index())
    for stale in paths.REPORTS_DIR.glob("*.html"):
        if stale != root_index_path():  # pages of the one-language layout
            stale.unlink()
    _remove_runs_not_in(plan)
    if pdf_error is not None:
        raise PdfBuildError(
            f"{type(pdf_error).__name__}: {pdf_error}", written=written, findings=findings
        ) from pdf_error
    return written, findings


def _remove_runs_not_in(plan: Plan) -> None:
    """Pages, downloads and PDFs of runs no longer in the plan are removed (not left current)."""
    ids = {r.id for r in plan.runs}
    for lg in i18n.LANGUAGES:
        folder = paths.REPORTS_DIR / lg
        for page in folder.glob("*.html") if folder.exists() else []:
            if page.name != "index.html" and page.stem not in ids:
                _withdraw(page.stem)
        dl = downloads.downloads_dir(lg)
        for sub in dl.iterdir() if dl.exists() else []:
            if sub.is_dir() and sub.name not in ids:
                downloads.remove(sub.name, lg)


def _write_if_changed(target: Path, text: str) -> list[Path]:
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return []
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, text)
    return [target]


def _withdraw(run_id: str) -> None:
    """Remove everything published of a run: pages, downloads and PDFs.

    The consolidated PDF may contain its page: it is removed too, and rebuilt from the pages
    still published.
    """
    from analysis.pipeline import pdf

    for lg in i18n.LANGUAGES:
        page_path(run_id, lg).unlink(missing_ok=True)
        _record_path(run_id, lg).unlink(missing_ok=True)
        downloads.remove(run_id, lg)
        for f in (pdf.pdf_dir(lg) / f"{run_id}.pdf", pdf.pdf_dir(lg) / f".{run_id}.sha256"):
            if f.exists():
                f.unlink()
                report = pdf.pdf_dir(lg) / pdf.REPORT_FILE[lg]
                report.unlink(missing_ok=True)


def _publish_run(
    run: Run,
    executed: Path,
    results: Mapping[str, Any],
    templates: str,
    written: list[Path],
) -> tuple[bool, str, list[Finding]]:
    """Publish one run in every language; returns (published, status, findings)."""
    key = _page_key(run, executed, results, templates)
    if all(
        page_path(run.id, lg).exists()
        and _record_path(run.id, lg).exists()
        and _record_path(run.id, lg).read_text(encoding="utf-8") == key
        for lg in i18n.LANGUAGES
    ):
        return True, "success", []  # nothing it is built from changed: no conversion, no scan
    pages = {
        lg: notebook_to_html(executed, title=run.title, lang=lg, run_id=run.id)
        for lg in i18n.LANGUAGES
    }
    found: list[Finding] = []
    text = executed.read_text(encoding="utf-8")
    ids = registered_pupil_ids(run.id)
    for lg, page in pages.items():
        found += scan(
            run.id,
            html=page,
            results=(results or None) if lg == i18n.DEFAULT_LANGUAGE else None,
            executed=text if lg == i18n.DEFAULT_LANGUAGE else None,
            pupil_ids=ids,
        )
    nb = nbformat.read(executed, as_version=4)
    if results.get("pupil_data") or ids:  # pupil tables' downloads obey the page's rules too
        from analysis.pipeline.publish_check import scan_table

        for lg in i18n.LANGUAGES:
            for table in (t for t in downloads.tables_of(nb) if t.get("pupil")):
                found += scan_table(
                    run.id,
                    f"{lg}/downloads/{run.id}/{table['name']}.csv",
                    downloads.frame_of(table, lg),
                    lang=lg,
                )
    if found:
        _withdraw(run.id)
        _quarantine(run.id)
        return False, "withheld: privacy check failed", found
    for lg, page in pages.items():
        written += downloads.write_run(run, nb, lg, results=results)
        target = page_path(run.id, lg)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, page)
        atomic_write_text(_record_path(run.id, lg), key)
        written.append(target)
    return True, "success", []


def withheld_dir(run_id: str) -> Path:
    """Where a withheld run's results JSON and executed notebook go: outside ``reports/``."""
    return paths.PRIVATE_DIR / "withheld" / run_id


def _quarantine(run_id: str) -> None:
    """Move a withheld run's results JSON and executed notebook out of ``reports/``.

    They carry what the privacy check found, so nothing of the run stays where pages,
    downloads and replicators read; the run's state says so, and the next ``run`` reruns it.
    """
    import os

    from analysis.pipeline.state import results_path, write_state

    target = withheld_dir(run_id)
    target.mkdir(parents=True, exist_ok=True)
    for src in (executed_path(run_id), results_path(run_id)):
        if src.exists():
            os.replace(src, target / src.name)
    state = read_state(run_id) or {}
    write_state(
        run_id,
        {
            **state,
            "status": "withheld",
            "cache_key": None,
            "error": "withheld by the privacy check: its results and executed notebook were "
            f"moved to {paths.relative(target)} (never published); fix the report and rerun it",
        },
    )


def _templates_fingerprint() -> str:
    """Hash of what every page is rendered with: templates, catalogs, the publishing code.

    A changed template or translation (Markdown cells are translated when publishing), or a
    changed scanner or downloads writer, rebuilds every page.
    """
    h = hashlib.sha256()
    here = Path(__file__).parent
    files = [
        *sorted(f for f in TEMPLATES.rglob("*") if f.is_file()),
        *sorted(f for f in i18n.LOCALE_DIR.rglob("*.po")),
        *(here / n for n in ("publish.py", "publish_check.py", "downloads.py")),
    ]
    for f in files:
        h.update(f.name.encode())
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
