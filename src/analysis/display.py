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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from analysis.pipeline import provenance
from analysis.pipeline.state import (
    atomic_write_text,
    context_path,
    dumps,
    pupil_ids_path,
    staging_path,
)
from analysis.seeds import SeedStreams

SIMULATED_BANNER = "SIMULATED — NOT PROGRAMME RESULTS"
QUICK_BANNER = "QUICK RUN — reduced simulation/bootstrap sizes; numbers are for checking only"
ILLUSTRATIVE_BANNER = "ILLUSTRATIVE AGREEMENT — parameters are not the signed SIINC contract"


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

    def register_pupil_ids(self, ids: Any) -> None:
        """Record the pupil ids this run read, for the privacy scanner (kept outside reports/).

        ``analysis publish`` refuses to publish a report in which any of them appears.
        """
        values = sorted({str(i) for i in ids if str(i)})
        target = pupil_ids_path(self.run_id)
        atomic_write_text(target, "\n".join(values) + "\n")

    def save(
        self, *, headline: Mapping[str, Any], results: Mapping[str, Any] | None = None
    ) -> Path:
        """Write the run's results JSON (numbers only; deterministic).

        Parameters
        ----------
        headline
            The few numbers shown in ``reports/index.html`` (label → value).
        results
            Everything else a replicator or ``analysis verify`` should compare.
        """
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
            "results": dict(results or {}),
        }
        # staged; the runner promotes it to reports/results/ when the whole notebook succeeded
        atomic_write_text(staging_path(self.run_id), dumps(payload))


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
    )
    if display:
        from IPython.display import HTML
        from IPython.display import display as ipy_display

        ipy_display(HTML(render_header(report)))
    return report


def _kv_table(rows: Mapping[str, Any]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in rows.items()
    )
    return f'<table class="prov">{body}</table>'


def _fmt(v: Any) -> str:
    if isinstance(v, list | tuple):
        return ", ".join(map(str, v))
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    return str(v)


def _streams_html(streams: SeedStreams | None) -> str:
    if streams is None:
        return ""
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(s['use'])}</td>"
        f"<td><code>{s['seed']}</code></td></tr>"
        for name, s in streams.to_dict()["streams"].items()
    )
    return (
        "<details><summary>Random streams (numpy SeedSequence(seed).spawn)</summary>"
        '<table class="prov"><tr><th>stream</th><th>used for</th><th>derived seed</th></tr>'
        f"{rows}</table></details>"
    )


def render_header(report: Report) -> str:
    """Return the HTML of the banners, title line and provenance block."""
    ctx = report.context
    parts = [
        f'<div class="banner banner-{"sim" if b == SIMULATED_BANNER else "quick"}">'
        f"{html.escape(b)}</div>"
        for b in report.banners
    ]
    git = ctx.get("git", {})
    dirty = git.get("dirty")
    commit = f"{git.get('commit', 'unknown')}" + (
        " (working tree had uncommitted changes)" if dirty else ""
    )
    params = dict(report.parameters)
    env = ctx.get("environment", {})
    prov = {
        "Run id": report.run_id,
        "Notebook": report.notebook,
        "Git commit": commit,
        "Run time (UTC)": ctx.get("started_utc", ""),
        "Seed": report.streams.seed if report.streams else "— (no randomness)",
        "Python": env.get("python", ""),
    }
    inputs = ctx.get("inputs", {})
    inputs_html = (
        "".join(
            f"<tr><td><code>{html.escape(p)}</code></td><td><code>{h}</code></td></tr>"
            for p, h in sorted(inputs.items())
        )
        or "<tr><td colspan=2>none declared</td></tr>"
    )
    versions = env.get("versions", {})
    parts.append(
        '<div class="provenance"><h4>Provenance</h4>'
        + _kv_table(prov)
        + "<h5>Parameters</h5>"
        + _kv_table(params or {"(none)": ""})
        + _streams_html(report.streams)
        + '<details><summary>Input files (SHA-256)</summary><table class="prov">'
        + inputs_html
        + "</table></details>"
        + "<details><summary>Package versions</summary>"
        + _kv_table(versions)
        + "</details>"
        + "</div>"
    )
    return "\n".join(parts)


def show_table(df: pd.DataFrame, *, caption: str, digits: int = 2, index: bool = False) -> None:
    """Display a table as plain HTML with a caption (deterministic; no Styler ids)."""
    from IPython.display import HTML, display

    body = df.to_html(
        index=index,
        float_format=lambda x: f"{x:,.{digits}f}",
        na_rep="–",
        border=0,
        classes="result-table",
        escape=True,
    )
    display(
        HTML(
            f'<figure class="table"><figcaption>{html.escape(caption)}</figcaption>{body}</figure>'
        )
    )


def show_pupil_table(
    df: pd.DataFrame,
    *,
    count_col: str,
    caption: str,
    k: int | None = None,
    keys: list[str] | None = None,
    totals_by: Any = ((),),
    digits: int = 2,
    index: bool = False,
) -> pd.DataFrame:
    """Display a table built from pupil records with small cells suppressed.

    Cells derived from fewer than ``k`` pupils (default :data:`analysis.privacy.K_MIN`), and
    the complementary cells that would reveal them, are shown as "< k"; rows are marked as
    checked for the publish scanner.  Returns the suppressed table.
    """
    from IPython.display import HTML, display

    from analysis.privacy import K_MIN, suppress_small_cells

    k = K_MIN if k is None else k
    safe = suppress_small_cells(df, count_col=count_col, k=k, keys=keys, totals_by=totals_by)
    shown = safe.drop(columns=["suppressed", "suppression"])
    body = shown.to_html(
        index=index,
        float_format=lambda x: f"{x:,.{digits}f}",
        na_rep=f"< {k}",
        border=0,
        classes="result-table pupil-table",
        escape=True,
    )
    body = body.replace("<tr>", '<tr data-privacy="checked">')
    n_sup = int(safe["suppressed"].sum())
    note_txt = (
        f" {n_sup} cell(s) suppressed (fewer than {k} pupils, or needed to protect one)."
        if n_sup
        else ""
    )
    display(
        HTML(
            f'<figure class="table"><figcaption>{html.escape(caption + note_txt)}'
            f"</figcaption>{body}</figure>"
        )
    )
    return safe


def show_figure(fig: plt.Figure, *, caption: str) -> None:
    """Display a matplotlib figure (embedded PNG) followed by its caption, then close it."""
    import io

    from IPython.display import HTML, Image, display

    # Rendered explicitly (not through the inline backend) so that figures created without
    # pyplot display too; no Software/date metadata, so the bytes are reproducible.
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    display(Image(data=buf.getvalue(), format="png"))
    display(HTML(f'<p class="caption">{html.escape(caption)}</p>'))
    plt.close(fig)


def note(text: str, *, kind: str = "info") -> None:
    """Display a highlighted note (``kind``: info, warning)."""
    from IPython.display import HTML, display

    display(HTML(f'<div class="note note-{kind}">{html.escape(text)}</div>'))


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
_SAFE_ATTRIBUTES = {"a": {"href", "title"}, "span": {"class"}, "div": {"class"}, "td": {"class"}}


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


def markdown(text: str) -> None:
    """Display Markdown prose generated by a report module (rendered, then sanitised)."""
    from IPython.display import HTML, display

    display(HTML(render_markdown(text)))


def html_fragment(fragment: str) -> None:
    """Display an HTML fragment built by a report module (sanitised)."""
    from IPython.display import HTML, display

    display(HTML(sanitise_html(fragment)))


__all__ = [
    "ILLUSTRATIVE_BANNER",
    "QUICK_BANNER",
    "SIMULATED_BANNER",
    "Report",
    "html_fragment",
    "markdown",
    "render_markdown",
    "sanitise_html",
    "note",
    "show_figure",
    "show_table",
    "start",
]
