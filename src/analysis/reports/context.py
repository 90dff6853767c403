"""Descriptive context: where a territory stands against its region, the South and Italy.

This is benchmarking, not a counterfactual: the tables and figures show levels and changes of
official indicators, with series breaks and unreliable estimates marked.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.data.indicators import Indicator


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


def inventory(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Summarise processed panels: rows, units, years, missing cells (the data inventory)."""
    rows = []
    unit_cols = ("province_name", "region_name", "geo", "prov", "province_code")
    for name, df in frames.items():
        unit_col = next((c for c in unit_cols if c in df.columns), None)
        years = df["year"] if "year" in df.columns else pd.Series(dtype=int)
        value_col = next(
            (c for c in ("value", "unrate", "wle_mean", "n_overlap") if c in df.columns), None
        )
        rows.append(
            {
                "panel": name,
                "rows": len(df),
                "units": int(df[unit_col].nunique()) if unit_col else np.nan,
                "first_year": int(years.min()) if len(years) else np.nan,
                "last_year": int(years.max()) if len(years) else np.nan,
                "missing_values": int(df[value_col].isna().sum()) if value_col else np.nan,
                "share_missing_%": float(100 * df[value_col].isna().mean())
                if value_col
                else np.nan,
            }
        )
    return pd.DataFrame(rows)
