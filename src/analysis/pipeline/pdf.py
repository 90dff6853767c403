"""PDFs to file: each published page as A4 PDF, and one consolidated evaluation report per language.

Built with WeasyPrint (HTML + CSS paged media, offline, no browser): it lays out A4 pages,
numbers them, and fills a table of contents with page numbers through CSS
``target-counter()``, which a browser's print-to-PDF cannot do.

- ``reports/<lang>/pdf/<run>.pdf`` — the page as published (print styles of ``report.css``:
  no navigation, tables that wrap instead of clipping, figures embedded);
- ``reports/<lang>/pdf/<evaluation report>.pdf`` — *Rapporto di valutazione* / *Evaluation
  report*: cover (title, evaluator, version, date, status from ``config/evaluation.yaml``),
  contents with page numbers, executive summary (the one-line answer of every report, grouped by
  evaluation question), the methodology note, the reports by question (the SIINC dossier is part
  of the SIINC report), and a technical annex with each run's provenance.

A PDF is rebuilt only when its page changed (the page's hash is recorded beside it).  The bytes
are reproducible: WeasyPrint writes no creation date unless the HTML declares one, so a rerun
gives the same file apart from the build date printed on the cover.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

from analysis import i18n, paths
from analysis.i18n import N_
from analysis.pipeline.plan import Plan
from analysis.pipeline.state import atomic_write_text, context_path, load_results

REPORT_FILE = {"it": "rapporto-di-valutazione.pdf", "en": "evaluation-report.pdf"}
EVALUATION_FILE = paths.ROOT / "config" / "evaluation.yaml"

_WORDS = (
    N_("Evaluation report"),
    N_("Officine Mezzogiorno (Lecce) — independent evaluation"),
    N_("Evaluator"),
    N_("Version"),
    N_("Date"),
    N_("Status"),
    N_("draft"),
    N_("final"),
    N_("Contents"),
    N_("Executive summary"),
    N_("Technical annex: provenance of every run"),
    N_("Run"),
    N_("Notebook"),
    N_("Git commit"),
    N_("Inputs (SHA-256)"),
    N_("Python"),
    N_("This report was not published"),
)

PRINT_CSS = """
@page { size: A4; margin: 18mm 15mm 20mm 15mm;
  @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #555; } }
@page cover { @bottom-center { content: none; } }
body { font-family: sans-serif; font-size: 10pt; max-width: none; }
.cover { page: cover; page-break-after: always; padding-top: 45mm; }
.cover h1 { font-size: 24pt; margin-bottom: 4mm; }
.cover .subtitle { font-size: 14pt; color: #1f4e8c; margin-bottom: 20mm; }
.cover table td { padding: 2mm 6mm 2mm 0; font-size: 11pt; }
.contents { page-break-after: always; }
.contents ul { list-style: none; padding-left: 0; }
.contents li { margin: 1.5mm 0; }
.contents li.question { font-weight: bold; margin-top: 4mm; }
.contents a { color: #000; text-decoration: none; }
.contents a::after { content: leader('.') target-counter(attr(href), page); }
section.report { page-break-before: always; }
section.report h1 { font-size: 15pt; }
.jp-InputArea, .report-nav, p.downloads, nav.toc { display: none !important; }
details > summary { font-style: italic; }
details.annex > summary { display: none; }
table { font-size: 8pt; max-width: 100%; word-break: break-word; }
img { max-width: 100%; }
.annex table td { font-size: 7pt; word-break: break-all; }
"""


def _evaluation() -> dict[str, Any]:
    from analysis.yamlfile import read_yaml

    return dict(read_yaml(EVALUATION_FILE)) if EVALUATION_FILE.exists() else {}


def pdf_dir(lang: str) -> Path:
    """``reports/<lang>/pdf``."""
    return paths.REPORTS_DIR / lang / "pdf"


def _embedded_only_fetcher():  # noqa: ANN202 - a weasyprint.urls.URLFetcher
    """A WeasyPrint fetcher that loads nothing but ``data:`` URLs (figures are embedded).

    A page cannot make the PDF renderer read a local file (an attachment link to a pupil-id
    list) or the network: WeasyPrint's own fetcher, restricted to the ``data`` protocol.
    """
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"})


_HREF_ANY = re.compile(r'\shref="([^"]*)"')
_REL = re.compile(r'\srel="[^"]*"')


def pdf_links(page: str, *, run_ids: set[str], consolidated: bool) -> str:
    """Links as a PDF can follow them.

    A link to another report becomes a link inside the consolidated PDF (``#run-<id>``) or to
    that report's PDF; in-page anchors stay; every other relative link (downloads, results,
    the other language) is dropped, so no local ``file://`` path ends up in the PDF.
    """

    def fix(m: re.Match[str]) -> str:
        href = m.group(1)
        if href.startswith(("#", "http://", "https://", "mailto:")):
            return m.group(0)
        stem = href.split("#")[0]
        if stem.endswith(".html") and "/" not in stem and stem[:-5] in run_ids:
            target = f"#run-{stem[:-5]}" if consolidated else f"{stem[:-5]}.pdf"
            return f' href="{target}"'
        return ""

    return _REL.sub("", _HREF_ANY.sub(fix, page))


def html_to_pdf(page: str, *, base_url: Path | None = None, extra_css: str | None = None) -> bytes:
    """Lay out one HTML document as A4 PDF (WeasyPrint; nothing is fetched but embedded data)."""
    import weasyprint

    css = [weasyprint.CSS(string=extra_css)] if extra_css else None
    base = str(base_url) if base_url else str(paths.REPORTS_DIR)
    return weasyprint.HTML(
        string=page, base_url=base, url_fetcher=_embedded_only_fetcher()
    ).write_pdf(stylesheets=css)


def _key(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def build_page_pdfs(plan: Plan, lang: str) -> list[Path]:
    """One PDF per published page of ``lang``; unchanged pages keep their PDF."""
    written = []
    out = pdf_dir(lang)
    for run in plan.runs:
        page = paths.REPORTS_DIR / lang / f"{run.id}.html"
        target = out / f"{run.id}.pdf"
        record = out / f".{run.id}.sha256"
        if not page.exists():
            target.unlink(missing_ok=True)
            record.unlink(missing_ok=True)
            continue
        text = page.read_text(encoding="utf-8")
        key = _key(text)
        if target.exists() and record.exists() and record.read_text() == key:
            continue
        out.mkdir(parents=True, exist_ok=True)
        ids = {r.id for r in plan.runs}
        printable = pdf_links(text, run_ids=ids, consolidated=False)
        target.write_bytes(html_to_pdf(printable, base_url=page.parent))
        atomic_write_text(record, key)
        written.append(target)
    return written


_BODY = re.compile(r"<main>(.*)</main>", re.DOTALL)
_STYLE = re.compile(r"<style[^>]*>.*?</style>", re.DOTALL)
_ID = re.compile(r'(\sid=")([^"]+)(")')
_HREF = re.compile(r'(\shref="#)(?!run-)([^"]+)(")')


def _section(run_id: str, page: str) -> str:
    """A page's main content with ids made unique to the run (for the consolidated PDF)."""
    m = _BODY.search(page)
    body = m.group(1) if m else page
    body = _ID.sub(lambda g: f"{g.group(1)}{run_id}--{g.group(2)}{g.group(3)}", body)
    body = _HREF.sub(lambda g: f"{g.group(1)}{run_id}--{g.group(2)}{g.group(3)}", body)
    return f'<section class="report" id="run-{run_id}">{body}</section>'


def _page_styles(page: str) -> str:
    return "".join(_STYLE.findall(page))


def consolidated_html(plan: Plan, lang: str, *, build_date: str) -> str:
    """The consolidated evaluation report of ``lang`` as one HTML document."""
    from analysis.pipeline.publish import questions

    g = i18n.translator(lang)
    ev = _evaluation()
    evaluator = ev.get("evaluator", {})
    doc = ev.get("document", {})
    runs = list(plan.runs)
    pages = {
        r.id: (paths.REPORTS_DIR / lang / f"{r.id}.html").read_text(encoding="utf-8")
        for r in runs
        if (paths.REPORTS_DIR / lang / f"{r.id}.html").exists()
    }
    results = {r.id: (load_results(r.id) or {}) if r.id in pages else {} for r in runs}

    def q_of(rid: str) -> str:
        return ((results[rid].get("page") or {}).get("question")) or "method"

    order = [q["id"] for q in questions()]
    qtitle = {q["id"]: q["title"] for q in questions()}
    # methodology first, then the questions in config order
    # the method question first (the methodology note opens it), then the questions in order
    ordered = sorted(
        runs,
        key=lambda r: (
            0 if q_of(r.id) == "method" else 1,
            order.index(q_of(r.id)) if q_of(r.id) in order else len(order),
            0 if r.id.startswith("methodology") else 1,
        ),
    )
    cover = (
        '<div class="cover">'
        f"<h1>{html.escape(g(N_('Evaluation report')))}</h1>"
        f'<p class="subtitle">{html.escape(g(N_("Officine Mezzogiorno (Lecce) — independent evaluation")))}</p>'
        "<table>"
        f"<tr><td>{html.escape(g('Evaluator'))}</td><td>{html.escape(g(str(evaluator.get('name', '–'))))}"
        f"<br><small>{html.escape(g(str(evaluator.get('role', ''))))}</small></td></tr>"
        f"<tr><td>{html.escape(g('Version'))}</td><td>{html.escape(str(doc.get('version', '–')))}</td></tr>"
        f"<tr><td>{html.escape(g('Date'))}</td><td>{html.escape(build_date)}</td></tr>"
        f"<tr><td>{html.escape(g('Status'))}</td><td>{html.escape(g(str(doc.get('status', 'draft'))))}</td></tr>"
        "</table></div>"
    )
    toc_items = [f'<li><a href="#summary">{html.escape(g("Executive summary"))}</a></li>']
    summary_rows = []
    last_q = None
    for r in ordered:
        if r.id not in pages:
            continue
        q = q_of(r.id)
        if q != last_q:
            toc_items.append(f'<li class="question">{html.escape(g(qtitle.get(q, q)))}</li>')
            summary_rows.append(f"<h3>{html.escape(g(qtitle.get(q, q)))}</h3>")
            last_q = q
        toc_items.append(f'<li><a href="#run-{r.id}">{html.escape(g(r.title))}</a></li>')
        verdict = ((results[r.id].get("page") or {}).get("verdict") or {}).get(lang)
        summary_rows.append(
            f"<p><b>{html.escape(g(r.title))}.</b> {html.escape(verdict or '–')}</p>"
        )
    toc_items.append(
        f'<li><a href="#annex">{html.escape(g("Technical annex: provenance of every run"))}</a></li>'
    )
    contents = f'<div class="contents"><h2>{html.escape(g("Contents"))}</h2><ul>{"".join(toc_items)}</ul></div>'
    summary = f'<section id="summary"><h2>{html.escape(g("Executive summary"))}</h2>{"".join(summary_rows)}</section>'
    ids = {r.id for r in runs}
    sections = "".join(
        _section(r.id, pdf_links(pages[r.id], run_ids=ids, consolidated=True))
        for r in ordered
        if r.id in pages
    )
    annex_rows = []
    for r in runs:
        cpath = context_path(r.id)
        ctx = json.loads(cpath.read_text(encoding="utf-8")) if cpath.exists() else {}
        inputs = "<br>".join(
            f"{html.escape(p)}: {h[:16]}…" for p, h in sorted((ctx.get("inputs") or {}).items())
        )
        annex_rows.append(
            f"<tr><td>{html.escape(r.id)}</td><td>{html.escape(r.notebook)}</td>"
            f"<td>{html.escape(str((ctx.get('git') or {}).get('commit', '–'))[:12])}</td>"
            f"<td>{html.escape(g('success') if r.id in pages else g(N_('This report was not published')))}"
            f"</td><td>{inputs or '–'}</td></tr>"
        )
    annex = (
        f'<section class="report annex" id="annex"><h1>{html.escape(g("Technical annex: provenance of every run"))}</h1>'
        f"<table><tr><th>{html.escape(g('Run'))}</th><th>{html.escape(g('Notebook'))}</th>"
        f"<th>{html.escape(g('Git commit'))}</th><th>{html.escape(g('Status'))}</th>"
        f"<th>{html.escape(g('Inputs (SHA-256)'))}</th></tr>{''.join(annex_rows)}</table></section>"
    )
    styles = _page_styles(next(iter(pages.values()))) if pages else ""
    title = g(N_("Evaluation report"))
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"{styles}<style>{PRINT_CSS}</style></head><body>"
        f"{cover}{contents}{summary}{sections}{annex}</body></html>"
    )


def build(plan: Plan) -> list[Path]:
    """Build every page PDF and the consolidated report, in every language."""
    written: list[Path] = []
    from datetime import date

    today = date.today()
    for lang in i18n.LANGUAGES:
        written += build_page_pdfs(plan, lang)
        doc = consolidated_html(plan, lang, build_date=i18n.format_value(i18n.date(today), lang))
        target = pdf_dir(lang) / REPORT_FILE[lang]
        record = pdf_dir(lang) / f".{REPORT_FILE[lang]}.sha256"
        key = _key(doc)
        if target.exists() and record.exists() and record.read_text() == key:
            continue
        pdf_dir(lang).mkdir(parents=True, exist_ok=True)
        target.write_bytes(html_to_pdf(doc, base_url=pdf_dir(lang)))
        atomic_write_text(record, key)
        written.append(target)
    return written


def page_count(pdf: Path) -> int:
    """Number of pages of a PDF (pypdfium2)."""
    import pypdfium2 as pdfium

    return len(pdfium.PdfDocument(str(pdf)))


def render_page_png(pdf: Path, index: int, target: Path, *, scale: float = 1.0) -> Path:
    """Render page ``index`` of a PDF to PNG (pypdfium2), e.g. to check it is not blank."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    doc[index].render(scale=scale).to_pil().save(target)
    return target


def ink_fraction(png: Path) -> float:
    """Share of pixels that are not white (a blank page gives 0)."""
    from PIL import Image

    img = Image.open(png).convert("L")
    hist = img.histogram()
    total = sum(hist)
    return 1.0 - sum(hist[250:]) / total if total else 0.0
