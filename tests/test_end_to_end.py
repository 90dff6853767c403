"""The whole plan, end to end, with --quick (as CI does): every run succeeds, is published,
is reproducible byte for byte, and renders offline in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from analysis import paths
from analysis.i18n import LANGUAGES
from analysis.pipeline.plan import load_plan
from analysis.pipeline.publish import strip_volatile
from analysis.pipeline.state import index_path, page_path, results_path, root_index_path

pytestmark = pytest.mark.notebooks


BANNERS = {
    "en": ("QUICK RUN", "SIMULATED", "Provenance"),
    "it": ("ESECUZIONE RAPIDA", "SIMULATO", "Provenienza"),
}


def test_every_run_succeeds_and_is_published_in_both_languages(quick_plan):
    assert quick_plan["rc"] == (0, 0, 0)
    assert "url=it/index.html" in root_index_path().read_text()  # reports/index.html opens Italian
    for lang in LANGUAGES:
        quick, simulated, provenance = BANNERS[lang]
        index = index_path(lang).read_text()
        assert f'<html lang="{lang}">' in index
        for run in load_plan().runs:
            html = page_path(run.id, lang).read_text()
            assert f'<html lang="{lang}">' in html, f"{lang}/{run.id}: lang attribute"
            first_screen = html.split(f"<h4>{provenance}</h4>")[0]
            assert quick in first_screen, f"{lang}/{run.id}: quick banner before the provenance"
            assert "<img" in html or run.notebook.startswith(("00_", "06_")), f"{run.id}: figures"
            assert f'href="{run.id}.html"' in index
            res = json.loads(results_path(run.id).read_text())
            assert res["headline"], run.id
            assert res["page"]["untranslated"] == [], f"{run.id}: untranslated ids"
            if res.get("pupil_data"):
                assert simulated in first_screen or not res["banners"]


def _local_links(page: Path) -> list[str]:
    import re

    hrefs = re.findall(r'href="([^"#][^"]*)"', page.read_text())
    return [h for h in hrefs if "://" not in h and not h.startswith(("mailto:", "data:"))]


def test_every_switch_download_and_results_link_resolves(quick_plan):
    pages = [index_path(lang) for lang in LANGUAGES]
    pages += [page_path(r.id, lang) for r in load_plan().runs for lang in LANGUAGES]
    broken = [
        f"{p.relative_to(paths.REPORTS_DIR)} -> {h}"
        for p in pages
        for h in _local_links(p)
        if not (p.parent / h.split("#")[0]).exists()
    ]
    assert broken == [], broken[:10]
    for lang in LANGUAGES:  # the switch on every page goes to the same page in the other language
        other = next(lg for lg in LANGUAGES if lg != lang)
        for r in load_plan().runs:
            assert f'href="../{other}/{r.id}.html"' in page_path(r.id, lang).read_text()


def test_every_table_has_downloads_and_a_data_package(quick_plan):
    import csv
    import re
    import zipfile

    n_tables = 0
    for lang in LANGUAGES:
        for r in load_plan().runs:
            html = page_path(r.id, lang).read_text()
            tables = html.count('<figure class="table">')
            links = re.findall(rf'href="(downloads/{r.id}/table-\d+)\.csv"', html)
            assert len(links) == tables, f"{lang}/{r.id}: {tables} tables, {len(links)} CSV links"
            n_tables += tables
            if not tables:
                continue
            pkg = json.loads(
                (page_path(r.id, lang).parent / "downloads" / r.id / "datapackage.json").read_text()
            )
            assert pkg["profile"] == "tabular-data-package" and pkg["resources"]
            for res in pkg["resources"]:
                f = page_path(r.id, lang).parent / "downloads" / r.id / res["path"]
                with f.open(encoding="utf-8") as fh:
                    header = next(csv.reader(fh))
                assert header == [fld["name"] for fld in res["schema"]["fields"]], f
                assert f.with_suffix(".xlsx").exists()
        archive = paths.REPORTS_DIR / lang / "downloads" / "all-tables.zip"
        assert zipfile.ZipFile(archive).testzip() is None
    assert n_tables > 40


def test_pdfs_are_built_and_their_first_pages_are_not_blank(quick_plan, tmp_path):
    from analysis.pipeline import pdf

    for lang in LANGUAGES:
        report = pdf.pdf_dir(lang) / pdf.REPORT_FILE[lang]
        assert pdf.page_count(report) >= 10, f"{report.name}: too few pages"
        for i in range(3):
            png = pdf.render_page_png(report, i, tmp_path / f"{lang}_{i}.png", scale=0.5)
            assert pdf.ink_fraction(png) > 0.002, f"{report.name} page {i + 1} is blank"
        for r in load_plan().runs:
            assert (pdf.pdf_dir(lang) / f"{r.id}.pdf").exists(), f"{lang}/{r.id}.pdf"


def test_known_published_values_reach_the_reports(quick_plan):
    elet = json.loads(results_path("context_elet_puglia").read_text())
    assert elet["headline"]["Puglia 2025"] == 8.6
    neet = json.loads(results_path("context_neet_lecce").read_text())
    assert neet["headline"]["Lecce 2024"] == 20.0
    note = json.loads(results_path("methodology").read_text())
    assert note["results"]["reports"], "the methodology note lists the plan's runs"
    assert {r["run"] for r in note["results"]["reports"]} == {
        r.id for r in load_plan().runs if r.id != "methodology"
    }, "the note describes the plan it ran with"
    claimed = [c for c in note["results"]["checks"] if c["status"] == "backed"]
    assert claimed and all(c["evidence"] for c in claimed), "every claimed check has evidence"
    for c in claimed:  # each piece of evidence is a key of that run's results
        for ev in c["evidence"]:
            res = json.loads(results_path(ev["run"]).read_text())
            node = res
            for part in ev["key"].split(".")[: 2 if ev["key"].startswith("results.") else 1]:
                node = node[part] if isinstance(node, dict) and part in node else None
            assert node is not None, f"{c['id']}: {ev['run']} has no {ev['key']}"


def test_two_runs_give_byte_identical_results_and_html(quick_plan):
    from conftest import REPEATED_RUNS

    second = {p.name: p.read_bytes() for p in paths.RESULTS_DIR.glob("*.json")}
    assert second.keys() == quick_plan["results"].keys()
    rerun = {f"{r}.json" for r in REPEATED_RUNS}
    second = {k: v for k, v in second.items() if k in rerun}
    assert len(second) == len(REPEATED_RUNS)
    differ = [name for name, data in second.items() if data != quick_plan["results"][name]]
    if differ:
        from analysis.pipeline.verify import compare

        name = differ[0]
        diffs = compare(name, json.loads(quick_plan["results"][name]), json.loads(second[name]))
        detail = "; ".join(str(m) for m in diffs[:5])
        pytest.fail(f"results JSON differ between two runs: {differ}; first differences: {detail}")
    html_differ = [
        name
        for name, text in quick_plan["html"].items()
        if name.split("/")[-1].removesuffix(".html") in REPEATED_RUNS
        and strip_volatile((paths.REPORTS_DIR / name).read_text()) != strip_volatile(text)
    ]
    assert len(quick_plan["html"]) > 40, "both languages' pages kept"
    assert html_differ == [], f"HTML differs outside the provenance block: {html_differ}"


def test_published_pages_pass_the_privacy_scanner(quick_plan):
    from analysis.pipeline.publish_check import check_published

    assert check_published([r.id for r in load_plan().runs]) == []


# --- published pages in a real browser (headless Chromium) ---------------------------------------

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-quic",
    "--allow-file-access-from-files",
    "--virtual-time-budget=8000",
]

HARNESS = """<!DOCTYPE html><html><head><title>pending</title></head><body>
<iframe id="f" src="{src}" style="width:1200px;height:3000px"></iframe>
<script>
document.getElementById('f').onload = function () {{
  var d = this.contentDocument, imgs = Array.prototype.slice.call(d.images);
  var broken = imgs.filter(function (i) {{ return !(i.complete && i.naturalWidth > 0); }}).length;
  var h1 = d.querySelector('h1');
  document.title = JSON.stringify({{images: imgs.length, broken: broken,
    h1: h1 ? h1.textContent : '', chars: d.body.innerText.length,
    lang: d.documentElement.lang, text: d.body.innerText}});
}};
</script></body></html>"""


@pytest.fixture(scope="module")
def chromium():
    import os
    import shutil
    import subprocess

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None and shutil.which("apt-get") and os.geteuid() == 0:
        try:
            subprocess.run(
                ["apt-get", "update", "-qq"], check=True, capture_output=True, timeout=300
            )
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "chromium"],
                check=True,
                capture_output=True,
                timeout=900,
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
            )
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(
                f"headless Chromium is not installed and could not be installed ({exc}); "
                "install Debian's 'chromium' package to run the browser checks"
            )
        exe = shutil.which("chromium")
    if exe is None:
        pytest.skip(
            "headless Chromium not available (Debian package 'chromium'); browser checks skipped"
        )
    return exe


def _browse(chromium: str, page, tmp_path, name: str) -> tuple[dict, list[str]]:
    import re
    import subprocess

    harness = tmp_path / f"harness_{name}.html"
    harness.write_text(HARNESS.format(src=page.as_uri()))
    netlog = tmp_path / f"net_{name}.json"
    out = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / ('ud_' + name)}",
            f"--log-net-log={netlog}",
            "--dump-dom",
            harness.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    title = re.search(r"<title>(.*?)</title>", out.stdout, re.DOTALL)
    assert title and title.group(1) != "pending", f"{name}: page did not load ({out.stderr[-300:]})"
    info = json.loads(title.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return info, page_requests(netlog)


def page_requests(netlog) -> list[str]:
    """Non-file URLs the *page* asked for, from Chromium's NetLog.

    Chromium's own background traffic (time sync, component updates, sign-in) starts with
    ``initiator: "not an origin"``; anything a document loads carries the document's origin
    (``"null"`` for file:// pages), so those are the requests that count.
    """
    doc = json.loads(netlog.read_text())
    types = {v: k for k, v in doc["constants"]["logEventTypes"].items()}
    urls = {}
    starts = {}
    for e in doc["events"]:
        params = e.get("params") or {}
        src = e["source"]["id"]
        if "url" in params:
            urls.setdefault(src, params["url"])
        if types.get(e["type"]) == "URL_REQUEST_START_JOB" and "initiator" in params:
            starts[src] = params["initiator"]  # (the job's end event repeats the type, no params)
    return sorted(
        {
            urls[s]
            for s, initiator in starts.items()
            if initiator != "not an origin"
            and s in urls
            and not urls[s].startswith(("file:", "data:", "about:", "blob:"))
        }
    )


def test_reports_render_offline_in_a_real_browser_in_both_languages(quick_plan, chromium, tmp_path):
    from analysis.pipeline.language import english_sentences

    english_on_italian = {}
    raw_values = {}
    for lang in LANGUAGES:
        pages = [index_path(lang), *sorted((paths.REPORTS_DIR / lang).glob("*.html"))]
        for page in list(dict.fromkeys(pages)):
            info, external = _browse(chromium, page, tmp_path, f"{lang}_{page.stem}")
            name = f"{lang}/{page.name}"
            assert external == [], f"{name} made network requests: {external[:5]}"
            assert info["broken"] == 0, f"{name}: {info['broken']} figure(s) failed to load"
            assert info["chars"] > 200 and info["h1"], f"{name} rendered no content"
            assert info["lang"] == lang, f"{name}: <html lang> is {info['lang']!r}"
            if page.name != "index.html" and not page.stem.startswith(
                ("data_build", "methodology")
            ):
                assert info["images"] >= 1, f"{name}: no figure"
            if lang == "it":
                found = english_sentences(info["text"])
                if found:
                    english_on_italian[page.name] = found[:3]
            raw = RAW_ITALIAN if lang == "it" else RAW_ENGLISH
            hits = [m.group(0) for m in raw.finditer(_without_parameters(info["text"]))]
            if hits:
                raw_values[name] = hits[:5]
    assert english_on_italian == {}, english_on_italian
    assert raw_values == {}, f"raw Python values in visible text: {raw_values}"


# Python values that must never reach a page's visible text (issue 11): None/True/False and
# nan/inf reprs, list and dict reprs.  (In English, "None of", "True effect" are words.)
RAW_ENGLISH = re.compile(r"\b(nan|NaN|inf|-inf)\b|\[\d+(?:, \d+)+\]|\{'")
RAW_ITALIAN = re.compile(r"\b(None|True|False|nan|NaN|inf|-inf)\b|\[\d+(?:, \d+)+\]|\{'")


def _without_parameters(text: str) -> str:
    """The index folds each run's parameters (as JSON) away; they are not prose."""
    return re.sub(r"(Parameters|Parametri)\n.*?(?=\n\n|$)", "", text, flags=re.S)


def test_index_screenshot_is_not_blank(quick_plan, chromium, tmp_path):
    import subprocess

    from PIL import Image, ImageStat

    shot = tmp_path / "index.png"
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'ud'}",
            "--window-size=1200,1400",
            f"--screenshot={shot}",
            index_path().as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    img = Image.open(shot).convert("L")
    stat = ImageStat.Stat(img)
    assert img.size == (1200, 1400)
    assert stat.stddev[0] > 10, "the index screenshot is blank"
    assert len(img.getcolors(maxcolors=1 << 16) or []) > 20


def test_browser_check_catches_a_page_that_loads_from_the_network(chromium, tmp_path):
    page = tmp_path / "leaky.html"
    page.write_text(
        '<html><body><h1>leaky</h1><img src="https://example.invalid/a.png">'
        "<p>" + "text " * 100 + "</p></body></html>"
    )
    info, external = _browse(chromium, page, tmp_path, "leaky")
    assert external == ["https://example.invalid/a.png"]
    assert info["broken"] == 1
