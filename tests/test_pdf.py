"""PDFs: A4 pages that are not blank, reproducible bytes, nothing fetched but embedded data."""

from __future__ import annotations

import contextlib
import zlib

from analysis.pipeline import pdf

PAGE = """<!DOCTYPE html><html lang="it"><head><meta charset="utf-8"><title>t</title></head>
<body><main><h1>Rapporto</h1><p>{body}</p>
<a rel="attachment" href="{secret}">allegato</a><img src="{secret}">
<a href="other_run.html#s">altro</a> <a href="downloads/r/table-01.csv">CSV</a>
</main></body></html>"""


def _streams(data: bytes) -> bytes:
    """Every stream of a PDF, decompressed where it is compressed."""
    out = [data]
    for chunk in data.split(b"stream")[1:]:
        raw = chunk.split(b"endstream")[0].strip(b"\r\n")
        with contextlib.suppress(zlib.error):
            out.append(zlib.decompress(raw))
    return b"".join(out)


def test_a_page_renders_to_a4_and_is_not_blank(tmp_path):
    page = PAGE.format(body="Testo della valutazione. " * 200, secret="data:,x")
    data = pdf.html_to_pdf(page, base_url=tmp_path)
    f = tmp_path / "p.pdf"
    f.write_bytes(data)
    assert pdf.page_count(f) >= 1
    png = pdf.render_page_png(f, 0, tmp_path / "p.png", scale=0.5)
    assert pdf.ink_fraction(png) > 0.005
    assert pdf.html_to_pdf(page, base_url=tmp_path) == data  # reproducible bytes


def test_the_renderer_reads_no_local_file(tmp_path):
    secret = tmp_path / "ids.txt"
    secret.write_text("P0000SECRET123\n")
    page = PAGE.format(body="x", secret=secret.as_uri())
    data = pdf.html_to_pdf(page, base_url=tmp_path)
    assert b"P0000SECRET123" not in _streams(data)


def test_links_point_inside_the_pdfs_and_never_to_local_files():
    html = PAGE.format(body="x", secret="ids.txt")
    single = pdf.pdf_links(html, run_ids={"other_run"}, consolidated=False)
    assert 'href="other_run.pdf"' in single and "downloads/" not in single and "rel=" not in single
    joined = pdf.pdf_links(html, run_ids={"other_run"}, consolidated=True)
    assert 'href="#run-other_run"' in joined
