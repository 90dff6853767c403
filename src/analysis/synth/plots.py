"""Figures for :class:`~analysis.synth.SynthResult`: paths, gaps with placebos, weights.

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global
state, nothing shown or saved); pass ``ax=`` to draw into an existing axes instead.  Axis
labels (with units) are arguments: the estimators do not know what the outcome measures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.synth.placebo import PlaceboInSpace
from analysis.synth.result import SynthResult


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _start_line(ax: Axes, res: SynthResult) -> None:
    eff = res.effects
    x = eff.loc[eff["post"], "time"].iloc[0]
    ax.axvline(x, color="0.4", linestyle="--", linewidth=1)


def plot_paths(
    res: SynthResult,
    *,
    ylabel: str,
    xlabel: str | None = None,
    title: str | None = None,
    treated_label: str | None = None,
    counterfactual_label: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] = (7.0, 4.0),
) -> Figure:
    """Observed outcome of the treated unit and its estimated counterfactual.

    Parameters
    ----------
    res
        Result of one of the estimators.
    ylabel
        Label of the outcome axis, with its unit (e.g. ``"NEET rate (%)"``).
    xlabel
        Label of the time axis (default: the time column name).
    title
        Figure title (default: the estimator's name).
    treated_label, counterfactual_label
        Legend entries (defaults: the treated unit, ``"synthetic <unit>"`` / ``"counterfactual"``).
    ax
        Existing axes to draw into.
    figsize
        Size of a new figure, inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _axes(ax, figsize)
    eff = res.effects
    cf_default = (
        f"synthetic {res.treated_unit}"
        if res.method == "synthetic_control"
        else f"counterfactual ({res.label})"
    )
    ax.plot(
        eff["time"],
        eff["observed"],
        color="black",
        linewidth=2,
        label=treated_label or str(res.treated_unit),
    )
    ax.plot(
        eff["time"],
        eff["counterfactual"],
        color="tab:blue",
        linestyle="--",
        linewidth=2,
        label=counterfactual_label or cf_default,
    )
    _start_line(ax, res)
    ax.set_xlabel(xlabel or res._panel.time)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else res.label)
    ax.legend(frameon=False)
    return fig


def plot_gaps(
    res: SynthResult,
    placebo: PlaceboInSpace | None = None,
    *,
    ylabel: str,
    xlabel: str | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] = (7.0, 4.0),
) -> Figure:
    """Gap (observed - counterfactual) of the treated unit, with placebo gaps in grey.

    Parameters
    ----------
    res
        Result of one of the estimators.
    placebo
        Result of ``res.placebo_in_space(...)``; its kept placebo units are drawn in grey
        (ADH 2010, Figures 4-7).  ``None``: the treated unit only.
    ylabel
        Label of the gap axis, with its unit.
    xlabel, title, ax, figsize
        As in :func:`plot_paths`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _axes(ax, figsize)
    eff = res.effects
    if placebo is not None:
        gaps = placebo.gaps
        others = [c for c in gaps.columns if c != res.treated_unit]
        for i, c in enumerate(others):
            ax.plot(
                gaps.index,
                gaps[c],
                color="0.75",
                linewidth=0.8,
                label="placebo units" if i == 0 else None,
            )
    ax.plot(eff["time"], eff["gap"], color="black", linewidth=2, label=str(res.treated_unit))
    ax.axhline(0, color="0.3", linewidth=0.8)
    _start_line(ax, res)
    ax.set_xlabel(xlabel or res._panel.time)
    ax.set_ylabel(ylabel)
    if title is None:
        title = f"Gap between {res.treated_unit} and its counterfactual ({res.label})"
        if placebo is not None:
            title += (
                f"\nrank {placebo.treated_rank} of {placebo.n_units}, p = {placebo.p_value:.3f}"
            )
    ax.set_title(title)
    ax.legend(frameon=False)
    return fig


def plot_weights(
    res: SynthResult,
    *,
    which: str = "unit",
    top: int | None = 20,
    xlabel: str = "weight",
    title: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
    **bar_kw: Any,
) -> Figure:
    """Horizontal bar chart of the donor weights (or of the time weights, ``which="time"``).

    Only positive weights (> 1e-6) are shown, largest first, at most ``top`` of them.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if which == "unit":
        w = res.weights
    elif which == "time":
        if res.time_weights is None:
            raise ValueError(f"{res.method} has no time weights")
        w = res.time_weights
    else:
        raise ValueError("which must be 'unit' or 'time'")
    w = w[w > 1e-6].sort_values(ascending=False)
    if top is not None:
        w = w.head(top)
    fig, ax = _axes(ax, figsize or (6.0, max(2.0, 0.3 * len(w) + 1)))
    y = np.arange(len(w))[::-1]
    ax.barh(y, w.to_numpy(), color=bar_kw.pop("color", "tab:blue"), **bar_kw)
    ax.set_yticks(y, [str(i) for i in w.index])
    ax.set_xlabel(xlabel)
    ax.set_title(
        title
        if title is not None
        else f"{'Donor' if which == 'unit' else 'Pre-period'} weights ({res.label})"
    )
    return fig
