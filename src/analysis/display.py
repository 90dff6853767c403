"""What a report notebook calls.

Start the report (provenance and banners), show tables and figures, save the run's numbers.

A notebook does::

    from analysis import display
    report = display.start(run_id, title="...", simulated=False)
    ...
    display.show_table(df, caption="...")
    display.show_figure(fig, caption="... Source: ...")
    report.save(headline={"Puglia ELET 2025 (%)": 8.6}, results={...})

The runner writes a *run context* (parameters, input hashes, git state) before executing the
notebook; :func:`start` reads it, so the provenance block shows exactly what the runner ran.
Run interactively (JupyterLab), :func:`start` builds the context itself.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis.i18n import (
    DASH,
    LANG_KEY,
    LANGUAGES,
    N_,
    SOURCE_LANGUAGE,
    TABLE_KEY,
    Concat,
    Formatted,
    Msg,
    Text,
    date,
    format_value,
    gettext,
    has_translation,
    missing,
    num,
    render,
    t,
)
from analysis.pipeline import provenance
from analysis.pipeline.state import (
    atomic_write_text,
    context_path,
    dumps,
    pupil_ids_path,
    staging_path,
)
from analysis.seeds import SeedStreams

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

SIMULATED_BANNER = N_("SIMULATED — NOT PROGRAMME RESULTS")
QUICK_BANNER = N_("QUICK RUN — reduced simulation/bootstrap sizes; numbers are for checking only")
ILLUSTRATIVE_BANNER = N_("ILLUSTRATIVE AGREEMENT — parameters are not the signed SIINC contract")


@dataclass(frozen=True)
class Report:
    """A running report: its identity, parameters and provenance; saves its results once."""

    run_id: str
    title: str
    notebook: str
    parameters: Mapping[str, Any]
    quick: bool
    banners: tuple[str, ...]
    context: Mapping[str, Any] = field(repr=False)
    pupil_data: bool = False
    streams: SeedStreams | None = None
    show: bool = True

    def register_pupil_ids(self, ids: Any) -> None:
        """Record the pupil ids this run read, for the privacy scanner (kept outside reports/).

        ``analysis publish`` refuses to publish a report in which any of them appears.
        """
        values = sorted({str(i) for i in ids if str(i)})
        target = pupil_ids_path(self.run_id)
        atomic_write_text(target, "\n".join(values) + "\n")

    def save(
        self,
        *,
        headline: Mapping[str, Any],
        results: Mapping[str, Any] | None = None,
        question: str | None = None,
        verdict: Text | None = None,
        headline_text: Text | None = None,
    ) -> Path:
        """Write the run's results JSON (numbers only, apart from the index texts; deterministic).

        Parameters
        ----------
        headline
            The few numbers of the run (label → value), compared by ``analysis verify``.
        results
            Everything else a replicator or ``analysis verify`` should compare.
        question
            Id of the evaluation question the report answers (``config/questions.yaml``); the
            index groups reports by it.
        verdict
            The one-line answer the index shows (default: the ``answer`` of the page's
            :func:`summary_box`), rendered in every language.
        headline_text
            The headline as the index shows it, e.g. "−2,4 p.p. [−4,1; −0,7]" (rendered in every
            language).
        """
        verdict = verdict if verdict is not None else _CURRENT.get("verdict")
        numbers = dict(results or {})
        if self.pupil_data:  # the results JSON leaves data/: the page's small-cell rules apply
            from analysis.privacy import suppress_results

            numbers = suppress_results(numbers)
            headline = suppress_results(dict(headline))
        page = {
            "question": question,
            "verdict": None
            if verdict is None
            else {lg: plain_text(render(verdict, lg)) for lg in LANGUAGES},
            "headline": None
            if headline_text is None
            else {lg: render(headline_text, lg) for lg in LANGUAGES},
            "untranslated": sorted(missing("it")),
        }
        payload = {
            "run_id": self.run_id,
            "title": self.title,
            "notebook": self.notebook,
            "parameters": dict(self.parameters),
            "quick": self.quick,
            "pupil_data": self.pupil_data,
            "banners": list(self.banners),
            "random_streams": self.streams.to_dict() if self.streams else None,
            "headline": dict(headline),
            "results": numbers,
            "page": page,
        }
        # staged; the runner promotes it to reports/results/ when the whole notebook succeeded
        atomic_write_text(staging_path(self.run_id), dumps(payload))
        if self.show:  # provenance closes the page: the answer comes first
            from IPython.display import HTML
            from IPython.display import display as ipy_display

            for lang in LANGUAGES:
                ipy_display(
                    HTML(render_header(self, lang, part="provenance")), metadata={LANG_KEY: lang}
                )


def _interactive_context(
    run_id: str, title: str | None, parameters: Mapping[str, Any] | None
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "title": title or run_id,
        "notebook": "(interactive)",
        "parameters": dict(parameters or {}),
        "quick": False,
        "inputs": {},
        "git": provenance.git_state(),
        "started_utc": provenance.utc_now(),
        "environment": provenance.environment(),
    }


def start(
    run_id: str,
    *,
    title: str | None = None,
    simulated: bool = False,
    illustrative: bool = False,
    pupil_data: bool | None = None,
    parameters: Mapping[str, Any] | None = None,
    seed: int | None = None,
    display: bool = True,
) -> Report:
    """Open a report: read the run context, show banners and the provenance block.

    Parameters
    ----------
    run_id
        The run id injected by the runner (``"interactive"`` when run by hand).
    title
        Title shown when run interactively (the runner's context carries the plan title).
    simulated
        Show the SIMULATED banner (every page built on simulated pupil data).
    illustrative
        Show the ILLUSTRATIVE banner (reports built on the example SIINC agreement).
    pupil_data
        The report is built from pupil records (real or simulated): the privacy scanner checks
        its tables for cells of fewer than k pupils.  Defaults to ``simulated``.
    parameters
        Parameters to show when run interactively (the runner's context has them otherwise).
    seed
        The run's one seed (the ``seed`` parameter of the plan).  The report's
        :attr:`Report.streams` splits it into named random streams
        (:class:`analysis.seeds.SeedStreams`), which the provenance block lists.  ``None``:
        the run draws no random numbers.
    display
        Render the banners and provenance block in the notebook output.
    """
    import re

    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", str(run_id)):
        raise ValueError(f"run_id must be letters, digits, '_', '-' or '.', got {run_id!r}")
    cpath = context_path(run_id)
    if cpath.exists():
        ctx = json.loads(cpath.read_text(encoding="utf-8"))
    else:
        ctx = _interactive_context(run_id, title, parameters)
    banners = []
    if ctx.get("quick"):
        banners.append(QUICK_BANNER)
    if simulated:
        banners.append(SIMULATED_BANNER)
    if illustrative:
        banners.append(ILLUSTRATIVE_BANNER)
    report = Report(
        run_id=run_id,
        title=ctx.get("title") or title or run_id,
        notebook=ctx.get("notebook", ""),
        parameters=ctx.get("parameters", {}),
        quick=bool(ctx.get("quick")),
        banners=tuple(banners),
        context=ctx,
        streams=None if seed is None else SeedStreams(int(seed)),
        pupil_data=bool(simulated if pupil_data is None else pupil_data),
        show=display,
    )
    _CURRENT.update(run_id=run_id, tables=0, verdict=None)
    import logging

    # libraries' INFO chatter (matplotlib's category units) is not page text
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    if display:
        from IPython.display import HTML
        from IPython.display import display as ipy_display

        for lang in LANGUAGES:
            ipy_display(
                HTML(render_header(report, lang, part="banners")), metadata={LANG_KEY: lang}
            )
    return report


#: Words of the provenance block and the download links (looked up inside f-strings below).
_LABELS = (
    N_("Random streams"),
    N_("stream"),
    N_("used for"),
    N_("derived seed"),
    N_("working tree had uncommitted changes"),
    N_("none declared"),
    N_("Provenance"),
    N_("Parameters"),
    N_("Input files (SHA-256)"),
    N_("Package versions"),
    N_("Download"),
)


def _kv_table(rows: Mapping[str, Any], lang: str) -> str:
    body = "".join(
        f"<tr><th>{html.escape(render(k, lang))}</th><td>{html.escape(_fmt(v, lang))}</td></tr>"
        for k, v in rows.items()
    )
    return f'<table class="prov">{body}</table>'


def _fmt(v: Any, lang: str) -> str:
    if isinstance(v, Msg | Concat | Formatted):
        return render(v, lang)
    if isinstance(v, bool | int | float):
        if isinstance(v, int) and not isinstance(v, bool) and 1900 <= v <= 2100:
            return str(v)  # a year
        return (
            format_value(v, lang)
            if not isinstance(v, float)
            else format_value(num(v, _digits(v)), lang)
        )
    if isinstance(v, list | tuple):
        return "; ".join(_fmt(x, lang) for x in v)  # a comma is the Italian decimal mark
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_fmt(x, lang)}" for k, x in sorted(v.items()))
    return str(v)


def _digits(x: float) -> int:
    """Decimals needed to show a parameter as written (0.05 → 2, 1e-6 → 6, 2.0 → 0)."""
    text = repr(float(x))
    if "e" in text or "E" in text:
        return min(10, int(text.lower().split("e-")[-1]) if "e-" in text.lower() else 0)
    frac = text.split(".")[1] if "." in text else ""
    return 0 if frac == "0" else min(len(frac), 10)


def _streams_html(streams: SeedStreams | None, lang: str) -> str:
    if streams is None:
        return ""
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(render(s['use'], lang))}"
        f"</td><td><code>{s['seed']}</code></td></tr>"
        for name, s in streams.to_dict()["streams"].items()
    )
    return (
        f"<details><summary>{html.escape(gettext('Random streams', lang))} "
        "(numpy SeedSequence(seed).spawn)</summary>"
        f'<table class="prov"><tr><th>{gettext("stream", lang)}</th>'
        f"<th>{gettext('used for', lang)}</th><th>{gettext('derived seed', lang)}</th></tr>"
        f"{rows}</table></details>"
    )


def _banner_html(banner: str, lang: str) -> str:
    kind = {SIMULATED_BANNER: "sim", ILLUSTRATIVE_BANNER: "illustrative"}.get(banner, "quick")
    return f'<div class="banner banner-{kind}">{html.escape(gettext(banner, lang))}</div>'


def render_header(report: Report, lang: str = SOURCE_LANGUAGE, *, part: str = "all") -> str:
    """Return the HTML of the banners and/or the provenance block in ``lang``.

    ``part``: ``"banners"`` (shown when the report starts), ``"provenance"`` (shown when it
    saves its results, at the end of the page) or ``"all"``.
    """
    if part not in ("all", "banners", "provenance"):
        raise ValueError(f"part must be 'all', 'banners' or 'provenance', got {part!r}")
    ctx = report.context
    parts = [_banner_html(b, lang) for b in report.banners] if part != "provenance" else []
    if part == "banners":
        return "\n".join(parts)
    git = ctx.get("git", {})
    dirty = git.get("dirty")
    commit = f"{git.get('commit', 'unknown')}" + (
        " (" + gettext("working tree had uncommitted changes", lang) + ")" if dirty else ""
    )
    params = dict(report.parameters)
    env = ctx.get("environment", {})
    prov = {
        N_("Run id"): report.run_id,
        N_("Notebook"): report.notebook,
        N_("Git commit"): commit,
        N_("Run time (UTC)"): ctx.get("started_utc", ""),
        N_("Seed"): report.streams.seed if report.streams else t("— (no randomness)"),
        "Python": str(env.get("python", "")).split()[0] if env.get("python") else "",
    }
    inputs = ctx.get("inputs", {})
    inputs_html = (
        "".join(
            f"<tr><td><code>{html.escape(p)}</code></td><td><code>{h}</code></td></tr>"
            for p, h in sorted(inputs.items())
        )
        or f"<tr><td colspan=2>{gettext('none declared', lang)}</td></tr>"
    )
    versions = env.get("versions", {})
    parts.append(
        f'<div class="provenance"><h4>{gettext("Provenance", lang)}</h4>'
        + _kv_table(prov, lang)
        + f"<h5>{gettext('Parameters', lang)}</h5>"
        + _kv_table(params or {"–": ""}, lang)
        + _streams_html(report.streams, lang)
        + f"<details><summary>{gettext('Input files (SHA-256)', lang)}</summary>"
        + '<table class="prov">'
        + inputs_html
        + "</table></details>"
        + f"<details><summary>{gettext('Package versions', lang)}</summary>"
        + _kv_table(versions, lang)
        + "</details>"
        + "</div>"
    )
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------
# emitting one output per language


_CURRENT: dict[str, Any] = {"run_id": "interactive", "tables": 0}


def _emit(builder: Callable[[str], str], *, extra: Mapping[str, Any] | None = None) -> None:
    """Display ``builder(lang)`` once per language, each output tagged with its language."""
    from IPython.display import HTML
    from IPython.display import display as ipy_display

    for i, lang in enumerate(LANGUAGES):
        meta: dict[str, Any] = {LANG_KEY: lang}
        if extra and i == 0:
            meta.update(extra)
        ipy_display(HTML(builder(lang)), metadata=meta)


def _cell(v: Any, lang: str, *, digits: int, yearlike: bool) -> str:
    import numpy as np

    if isinstance(v, Msg | Concat | Formatted):
        return render(v, lang)
    if isinstance(v, bool | np.bool_):
        return format_value(bool(v), lang)
    if v is None or (isinstance(v, float | np.floating) and np.isnan(v)) or v is pd.NA:
        return DASH
    if isinstance(v, int | np.integer) or (
        yearlike and isinstance(v, float | np.floating) and float(v).is_integer()
    ):
        return str(int(v)) if yearlike else format_value(int(v), lang)
    if isinstance(v, float | np.floating):
        return format_value(num(float(v), digits), lang)
    if isinstance(v, pd.Timestamp):
        return format_value(date(v.date()), lang)
    text = str(v)
    return gettext(text, lang) if has_translation(text, lang) else text


_YEARLIKE = ("year", "anno", "cohort", "coorte", "edition", "edizione", "period", "g", "t")


def _is_yearlike(name: Any, col: pd.Series) -> bool:
    label = str(name).lower()
    if not any(
        label == k or label.startswith(k + "_") or label.endswith("_" + k) or k in label.split()
        for k in _YEARLIKE
    ):
        return False
    vals = pd.to_numeric(col, errors="coerce").dropna()
    return bool(len(vals)) and bool(((vals >= 1900) & (vals <= 2100)).all())


def _table_html(
    df: pd.DataFrame,
    lang: str,
    *,
    digits: int,
    index: bool,
    na_rep: str = DASH,
    row_attr: str = "",
    classes: str = "result-table",
) -> str:
    frame = df.reset_index() if index else df
    yearlike = {c: _is_yearlike(c, frame[c]) for c in frame.columns}
    head = "".join(f"<th>{html.escape(_header(c, lang))}</th>" for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False, name=None):
        cells = "".join(
            f"<td>{html.escape(na_rep if _missing(v) else _cell(v, lang, digits=digits, yearlike=yearlike[c]))}</td>"
            for c, v in zip(frame.columns, rec, strict=True)
        )
        rows.append(f"<tr{row_attr}>{cells}</tr>")
    return (
        f'<table class="{classes}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _missing(v: Any) -> bool:
    from analysis.i18n import _is_missing

    return _is_missing(v)


def _header(col: Any, lang: str) -> str:
    if isinstance(col, tuple):
        return " · ".join(_header(c, lang) for c in col if str(c))
    if isinstance(col, Msg | Concat | Formatted):
        return render(col, lang)
    return render(str(col), lang)


def _download_payload(
    df: pd.DataFrame,
    *,
    caption: Text,
    index: bool,
    digits: int | None = None,
    pupil: bool = False,
) -> dict[str, Any]:
    """The table as data for the CSV/XLSX downloads (written by ``publish``).

    Numbers are rounded to the ``digits`` the page shows (a download never carries more
    precision than the page: a rate to 15 digits times its count would give back a small
    numerator the rounded page hides).  Duplicate column names are refused.
    """
    if df.columns.duplicated().any():
        dup = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise ValueError(f"show_table: the table has duplicate column names {dup}; rename them")
    _CURRENT["tables"] += 1
    name = f"table-{_CURRENT['tables']:02d}"
    frame = df.reset_index() if index else df
    if digits is not None:
        floats = frame.select_dtypes(include="float").columns
        if len(floats):
            frame = frame.copy()
            frame[floats] = frame[floats].round(digits)
    columns = [
        str(c) if not isinstance(c, tuple) else " · ".join(map(str, c)) for c in frame.columns
    ]
    texts = frame.map(lambda v: isinstance(v, Msg | Concat | Formatted)).to_numpy().any()
    if texts:  # cells that are messages: the data in each language (the files are per language)
        data_by_lang = {
            lang: json.loads(
                frame.map(
                    lambda v, lg=lang: (
                        render(v, lg) if isinstance(v, Msg | Concat | Formatted) else v
                    )
                ).to_json(orient="values", date_format="iso", double_precision=15)
            )
            for lang in LANGUAGES
        }
        data = data_by_lang[SOURCE_LANGUAGE]
    else:
        data_by_lang = None
        data = json.loads(frame.to_json(orient="values", date_format="iso", double_precision=15))
    return {
        "pupil": pupil,
        "data_by_lang": data_by_lang,
        "name": name,
        "run_id": _CURRENT["run_id"],
        "columns": columns,
        "headers": {lang: [_header(c, lang) for c in frame.columns] for lang in LANGUAGES},
        "caption": {lang: render(caption, lang) for lang in LANGUAGES},
        "dtypes": [str(frame[c].dtype) for c in frame.columns],
        "data": data,
    }


def _download_links(name: str, lang: str) -> str:
    base = f"downloads/{_CURRENT['run_id']}/{name}"
    return (
        f'<p class="downloads">{gettext("Download", lang)}: '
        f'<a href="{base}.csv">CSV</a> · <a href="{base}.xlsx">XLSX</a></p>'
    )


def _wrap(body: str, caption: str, *, collapsed: bool) -> str:
    if not collapsed:
        return body
    return f'<details class="annex"><summary>{html.escape(caption)}</summary>{body}</details>'


def show_table(
    df: pd.DataFrame,
    *,
    caption: Text,
    digits: int = 2,
    index: bool = False,
    collapsed: bool = False,
) -> None:
    """Display a table in every language, with CSV/XLSX downloads written by ``publish``.

    Column headers and text cells are looked up in the catalogs (headers must be translated;
    text cells are translated when the catalog has them: names stay as they are); numbers are
    formatted per locale with ``digits`` decimals, counts grouped, years as they are.
    ``collapsed``: shown folded under its caption (unit lists and bookkeeping in an annex).
    """
    payload = _download_payload(df, caption=caption, index=index, digits=digits)

    def build(lang: str) -> str:
        body = _table_html(df, lang, digits=digits, index=index)
        cap = render(caption, lang)
        return _wrap(
            f'<figure class="table"><figcaption>{html.escape(cap)}'
            f"</figcaption>{body}{_download_links(payload['name'], lang)}</figure>",
            cap,
            collapsed=collapsed,
        )

    _emit(build, extra={TABLE_KEY: payload})


def show_pupil_table(
    df: pd.DataFrame,
    *,
    count_col: str,
    caption: Text,
    k: int | None = None,
    keys: list[str] | None = None,
    totals_by: Any = ((),),
    digits: int = 2,
    index: bool = False,
    collapsed: bool = False,
) -> pd.DataFrame:
    """Display a table built from pupil records with small cells suppressed.

    Cells derived from fewer than ``k`` pupils (default :data:`analysis.privacy.K_MIN`), and
    the complementary cells that would reveal them, are shown as "< k"; rows are marked as
    checked for the publish scanner.  The downloads carry the suppressed table.  Returns it.
    """
    from analysis.privacy import K_MIN, suppress_small_cells

    k = K_MIN if k is None else k
    safe = suppress_small_cells(df, count_col=count_col, k=k, keys=keys, totals_by=totals_by)
    shown = safe.drop(columns=["suppressed", "suppression"])
    n_sup = int(safe["suppressed"].sum())
    payload = _download_payload(shown, caption=caption, index=index, digits=digits, pupil=True)

    def build(lang: str) -> str:
        body = _table_html(
            shown,
            lang,
            digits=digits,
            index=index,
            na_rep=f"< {k}",
            row_attr=' data-privacy="checked"',
            classes="result-table pupil-table",
        )
        note_txt = (
            " "
            + t(
                "{n} cell(s) suppressed (fewer than {k} pupils, or needed to protect one).",
                n=n_sup,
                k=k,
            ).render(lang)
            if n_sup
            else ""
        )
        cap = render(caption, lang)
        return _wrap(
            f'<figure class="table"><figcaption>{html.escape(cap + note_txt)}'
            f"</figcaption>{body}{_download_links(payload['name'], lang)}</figure>",
            cap,
            collapsed=collapsed,
        )

    _emit(build, extra={TABLE_KEY: payload})
    return safe


def _png(fig: Figure) -> bytes:
    import io

    import matplotlib.pyplot as plt  # here: a page without figures does not import pyplot

    # no Software/date metadata, so the bytes are reproducible
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def show_figure(fig: Figure | Callable[[str], Figure], *, caption: Text) -> None:
    """Display a figure per language (embedded PNG) with its caption, which is also its alt text.

    ``fig`` is a function of the language (``lambda lang: make_figure(..., lang=lang)``) so that
    titles, axes and legends are in the page's language; a figure object is accepted for
    figures without words and shown unchanged in every language.
    """
    import base64

    images = {}
    for lang in LANGUAGES:
        images[lang] = _png(fig(lang)) if callable(fig) else None
    if not callable(fig):
        shared = _png(fig)
        images = dict.fromkeys(LANGUAGES, shared)

    def build(lang: str) -> str:
        cap = html.escape(render(caption, lang), quote=True)
        b64 = base64.b64encode(images[lang]).decode("ascii")
        return (
            f'<figure class="figure"><img src="data:image/png;base64,{b64}" alt="{cap}">'
            f'<figcaption class="caption">{cap}</figcaption></figure>'
        )

    _emit(build)


def note(text: Text, *, kind: str = "info") -> None:
    """Display a highlighted note (``kind``: info, warning) in every language."""
    if kind not in ("info", "warning"):
        raise ValueError(f"note kind must be 'info' or 'warning', got {kind!r}")
    _emit(
        lambda lang: sanitise_html(
            f'<div class="note note-{kind}">{render_markdown(render(text, lang))}</div>'
        )
    )


def summary_box(
    *,
    question: Text,
    answer: Text,
    certainty: Text,
    would_change: Text,
    not_this: Text,
) -> None:
    """The box each page opens with: the question, the answer, how sure, what would change it.

    Every field is generated from the run's results by the report module (no fixed wording).
    """
    fields = (
        (N_("Question"), question),
        (N_("Answer"), answer),
        (N_("How sure we are"), certainty),
        (N_("What would change it"), would_change),
        (N_("What it is not"), not_this),
    )

    _CURRENT["verdict"] = answer

    def build(lang: str) -> str:
        rows = "".join(
            f'<div class="summary-row"><div class="summary-label">{html.escape(gettext(k, lang))}'
            f'</div><div class="summary-text">{render_markdown(render(v, lang))}</div></div>'
            for k, v in fields
        )
        return sanitise_html(f'<div class="summary">{rows}</div>')

    _emit(build)


#: What generated prose may contain once rendered: text formatting, lists, tables, links.
_SAFE_TAGS = {
    "p",
    "br",
    "em",
    "strong",
    "b",
    "i",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
    "div",
    "sub",
    "sup",
    "hr",
    "details",
    "summary",
}
_SAFE_ATTRIBUTES = {
    "a": {"href", "title"},
    "span": {"class"},
    "div": {"class"},
    "td": {"class"},
    "th": {"class"},
    "table": {"class"},
    "tr": {"class", "data-privacy"},
    "details": {"class"},
}


def sanitise_html(fragment: str) -> str:
    """Keep only harmless markup (no scripts, event handlers, ``javascript:`` links, frames).

    Values from configuration, parameters, file names or data reach pages inside generated
    text; whatever they contain, the page gets text and formatting only (nh3, the Python
    binding of the Ammonia sanitiser).
    """
    import nh3

    return nh3.clean(
        fragment,
        tags=_SAFE_TAGS,
        attributes=_SAFE_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
    )


def render_markdown(text: str) -> str:
    """Markdown (CommonMark + tables, via markdown-it-py) to sanitised HTML."""
    from markdown_it import MarkdownIt

    return sanitise_html(MarkdownIt("commonmark").enable("table").render(text))


def plain_text(markdown_text: str) -> str:
    """Markdown to plain text (for the index's one-line verdicts)."""
    import re

    rendered = render_markdown(markdown_text)
    return html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip()


def markdown(text: Text) -> None:
    """Display Markdown prose generated by a report module, in every language (sanitised)."""
    _emit(lambda lang: render_markdown(render(text, lang)))


def html_fragment(fragment: str | Callable[[str], str]) -> None:
    """Display an HTML fragment built by a report module (sanitised), per language.

    ``fragment`` is a function of the language; a plain string is shown as it is in every
    language (markup without words only).
    """
    _emit(lambda lang: sanitise_html(fragment(lang) if callable(fragment) else fragment))


__all__ = [
    "ILLUSTRATIVE_BANNER",
    "QUICK_BANNER",
    "SIMULATED_BANNER",
    "LANG_KEY",
    "TABLE_KEY",
    "Report",
    "html_fragment",
    "markdown",
    "render_markdown",
    "sanitise_html",
    "note",
    "show_figure",
    "show_table",
    "start",
    "summary_box",
]
