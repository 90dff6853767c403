"""Tables, figures and words of the context report (notebook ``01_context``).

Descriptive context: where a territory stands against its region, the South and Italy.  This
is benchmarking, not a counterfactual: the tables and figures show levels and changes of
official indicators, with series breaks and unreliable estimates marked.  Programme facts (who
the programme reaches, how large the territory is) come from
:func:`analysis.facts.programme_facts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.data import indicators
from analysis.data.indicators import Indicator
from analysis.facts import programme_facts

__all__ = [
    "ContextSeries",
    "flagged_caption",
    "flagged_observations",
    "headline",
    "indicator_text",
    "latest_comparison",
    "levels_and_changes",
    "levels_caption",
    "load",
    "no_flags_note",
    "results",
    "scale_text",
    "summary_text",
    "trajectory_caption",
    "trajectory_figure",
]

SEX_LABELS = {"T": "both sexes", "F": "women", "M": "men"}


@dataclass(frozen=True)
class ContextSeries:
    """One indicator for the focus unit and its comparison units (the report's data)."""

    indicator: Indicator
    focus_unit: str
    comparison_units: tuple[str, ...]
    sex: str
    data: pd.DataFrame

    @property
    def units(self) -> list[str]:
        """Focus unit first, then the comparison units."""
        return [self.focus_unit, *self.comparison_units]

    @property
    def reference_unit(self) -> str:
        """The widest comparison area (the last comparison unit, e.g. Italy)."""
        return self.comparison_units[-1]

    @property
    def sex_label(self) -> str:
        """``"both sexes"``, ``"women"`` or ``"men"``."""
        return SEX_LABELS.get(self.sex, self.sex)


def load(
    indicator: str, *, focus_unit: str, comparison_units: Sequence[str], sex: str = "T"
) -> ContextSeries:
    """Read an indicator's series for the focus unit and its comparison units.

    Raises
    ------
    DataValidationError
        For an unknown indicator or unit (see :func:`analysis.data.indicators.series`).
    """
    ind = indicators.get(indicator)
    units = [focus_unit, *comparison_units]
    return ContextSeries(
        indicator=ind,
        focus_unit=focus_unit,
        comparison_units=tuple(comparison_units),
        sex=sex,
        data=indicators.series(indicator, units=units, sex=sex),
    )


def indicator_text(cs: ContextSeries) -> str:
    """Markdown: the indicator, its unit, definition and source."""
    ind = cs.indicator
    return (
        f"**Indicator:** {ind.label} ({ind.unit}), {cs.sex_label}.  \n"
        f"**Definition:** {ind.definition or 'see source'}  \n**Source:** {ind.source}."
    )


def _reach() -> str:
    reach = list(programme_facts().reach_by_start().values())
    return "; ".join(reach)


def scale_text(cs: ContextSeries) -> str:
    """Markdown: why a gap between the focus unit and the reference area is not an effect.

    The reach of the programme and the size of the territory come from
    ``config/programme.yaml``.
    """
    size = programme_facts().territory_size(cs.focus_unit)
    where = f" {cs.focus_unit} is {size}." if size else ""
    return (
        f"A difference between {cs.focus_unit} and {cs.reference_unit} is not an effect of "
        f"the programme: {_reach()}.{where}"
    )


def levels_and_changes(df: pd.DataFrame, *, units: list[str], baseline_year: int) -> pd.DataFrame:
    """Tabulate first, baseline and latest observed values and the changes between them.

    Parameters
    ----------
    df
        A series from :func:`analysis.data.indicators.series`.
    units
        Units in the order to show them (focus unit first).
    baseline_year
        The year before the programme (e.g. 2020 for a programme starting in 2021).

    Returns
    -------
    pandas.DataFrame
        One row per unit: first year/value, baseline value, latest year/value, change since
        baseline and over the whole period (percentage points), and how many observations are
        flagged.
    """
    rows = []
    for unit in units:
        s = df[(df["unit"] == unit) & df["value"].notna()].sort_values("year")
        if s.empty:
            rows.append({"unit": unit})
            continue
        base = s.loc[s["year"] == baseline_year, "value"]
        base_v = float(base.iloc[0]) if len(base) else np.nan
        first, last = s.iloc[0], s.iloc[-1]
        rows.append(
            {
                "unit": unit,
                "first_year": int(first["year"]),
                "first_value": float(first["value"]),
                f"value_{baseline_year}": base_v,
                "latest_year": int(last["year"]),
                "latest_value": float(last["value"]),
                f"change_since_{baseline_year}": float(last["value"]) - base_v,
                "change_whole_period": float(last["value"] - first["value"]),
                "n_years": int(len(s)),
                "n_flagged_unreliable": int(s["unreliable"].sum()),
            }
        )
    return pd.DataFrame(rows)


def trajectory_figure(
    df: pd.DataFrame,
    *,
    indicator: Indicator,
    focus_unit: str,
    units: list[str],
    start_year: int | None = None,
) -> plt.Figure:
    """Plot the focus unit's trajectory against the comparison units.

    Series breaks (and the BES edition splice) are marked by dotted vertical lines; estimates
    flagged as unreliable by a cross; the programme start by a shaded area.
    """
    data = df[df["unit"].isin(units)].copy()
    data["unit"] = pd.Categorical(data["unit"], categories=units, ordered=True)
    fig, ax = plt.subplots(figsize=(9, 4.8))
    palette = dict(zip(units, sns.color_palette("colorblind", len(units)), strict=True))
    sns.lineplot(
        data=data,
        x="year",
        y="value",
        hue="unit",
        hue_order=units,
        palette=palette,
        marker="o",
        markersize=4,
        ax=ax,
    )
    for line, unit in zip(ax.get_lines(), units, strict=False):
        line.set_linewidth(3.0 if unit == focus_unit else 1.4)
    flagged = data[data["unreliable"] & data["value"].notna()]
    if not flagged.empty:
        ax.scatter(
            flagged["year"],
            flagged["value"],
            marker="x",
            s=60,
            color="black",
            zorder=5,
            label="low reliability (flag u / ..)",
        )
    breaks = sorted(data.loc[data["break"], "year"].unique())
    for i, year in enumerate(breaks):
        ax.axvline(
            year - 0.5,
            color="grey",
            linestyle=":",
            linewidth=1,
            label="series break / edition splice" if i == 0 else None,
        )
    if start_year is not None:
        ax.axvspan(
            start_year - 0.5,
            data["year"].max() + 0.5,
            color="#f2d7a6",
            alpha=0.35,
            label=f"programme period (from {start_year})",
        )
    ax.set_xlabel("Year")
    ax.set_ylabel(indicator.unit)
    ax.set_title(indicator.label)
    ax.legend(fontsize=8, frameon=False, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def trajectory_caption(cs: ContextSeries, *, start_year: int) -> str:
    """Caption of the trajectory figure."""
    ind = cs.indicator
    return (
        f"{ind.label}, {cs.sex_label}: {cs.focus_unit} against "
        f"{', '.join(cs.comparison_units)}. Unit: {ind.unit}. Source: {ind.source}. "
        f"Shaded: years from {start_year}."
    )


def levels_caption(cs: ContextSeries, *, baseline_year: int) -> str:
    """Caption of the levels-and-changes table."""
    ind = cs.indicator
    return (
        f"{ind.label}: first, {baseline_year} and latest observed values ({ind.unit}) and "
        f"changes in percentage points. Source: {ind.source}."
    )


def flagged_observations(cs: ContextSeries) -> pd.DataFrame:
    """Observations with a flag, a series break or an edition splice."""
    df = cs.data
    return df[(df["flag"] != "") | df["break"]][
        ["unit", "year", "value", "flag", "source", "break"]
    ]


def flagged_caption() -> str:
    """Caption of the flagged-observations table."""
    return (
        "Observations with a flag, a series break or an edition splice (break = True marks "
        "the first year after the break)."
    )


def no_flags_note() -> str:
    """The note shown when no observation is flagged."""
    return "No flagged observations, breaks or splices in these series."


def latest_comparison(table: pd.DataFrame, cs: ContextSeries) -> tuple[pd.Series, pd.Series]:
    """The rows of the levels table for the focus unit and the reference area."""
    by_unit = table.set_index("unit")
    return by_unit.loc[cs.focus_unit], by_unit.loc[cs.reference_unit]


def summary_text(table: pd.DataFrame, cs: ContextSeries, *, baseline_year: int) -> str:
    """Plain words: where the focus unit stands now, how it changed, and what that means."""
    focus, ref = latest_comparison(table, cs)
    chg = f"change_since_{baseline_year}"
    facts = programme_facts()
    ind = cs.indicator
    return (
        f"In {int(focus['latest_year'])}, {ind.name} in {cs.focus_unit} was "
        f"{focus['latest_value']:.1f} ({ind.unit}), against {ref['latest_value']:.1f} in "
        f"{cs.reference_unit}. Since {baseline_year} it changed by {focus[chg]:+.1f} percentage "
        f"points in {cs.focus_unit} and by {ref[chg]:+.1f} in {cs.reference_unit}. "
        "These are sample-survey estimates (for a province the yearly noise is several points) "
        "and the comparison is descriptive: common shocks (the 2021 LFS change, the "
        "post-pandemic labour market) move all areas together, and a programme reaching about "
        f"{facts.courses.pupils} course pupils and {facts.day_centre.youths} day-centre youths "
        "cannot move a provincial or regional rate detectably. The counterfactual reports "
        "(synthetic control, DiD) and the pupil-level evaluation address causal questions."
    )


def headline(table: pd.DataFrame, cs: ContextSeries, *, baseline_year: int) -> dict[str, float]:
    """The index's numbers: latest focus and reference values, focus change since baseline."""
    focus, ref = latest_comparison(table, cs)
    return {
        f"{cs.focus_unit} {int(focus['latest_year'])}": float(focus["latest_value"]),
        f"{cs.reference_unit} {int(ref['latest_year'])}": float(ref["latest_value"]),
        f"{cs.focus_unit} change since {baseline_year} (pp)": float(
            focus[f"change_since_{baseline_year}"]
        ),
    }


def results(table: pd.DataFrame, cs: ContextSeries) -> dict[str, Any]:
    """Everything ``analysis verify`` compares: indicator, levels and changes, the series."""
    return {
        "indicator": cs.indicator.key,
        "levels_and_changes": table,
        "series": cs.data[["unit", "year", "value", "flag"]],
    }
