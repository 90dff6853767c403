"""Tables, figures and words of the context report (notebook ``01_context``).

Descriptive context: where a territory stands against its region, the South and Italy.  This
is benchmarking, not a counterfactual: the tables and figures show levels and changes of
official indicators, with series breaks and unreliable estimates marked.  Programme facts (who
the programme reaches, how large the territory is) come from
:func:`analysis.facts.programme_facts`.

Every text is a message (:mod:`analysis.i18n`, domain ``context``) generated from the series it
describes: a sentence about breaks, splices, unreliable values or sampling appears only when it
is true for the indicator shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis import i18n
from analysis.data import geography, indicators, panels
from analysis.data.indicators import Indicator
from analysis.facts import programme_facts
from analysis.i18n import N_, Formatted, Text, integer, join, num, pct, pp, t, term, year

__all__ = [
    "ContextSeries",
    "comparison_text",
    "flagged_caption",
    "flagged_observations",
    "headline",
    "headline_text",
    "indicator_text",
    "latest_comparison",
    "levels_and_changes",
    "levels_caption",
    "levels_table",
    "load",
    "no_flags_note",
    "results",
    "splice_facts",
    "summary",
    "trajectory_caption",
    "trajectory_figure",
    "trajectory_plot",
]

SEX_LABELS = {"T": N_("both sexes"), "F": N_("women"), "M": N_("men")}

#: Human headers of the levels-and-changes table (see :func:`levels_table`).
LEVEL_HEADERS = {
    "unit": N_("Territory"),
    "first_year": N_("First year"),
    "first_value": N_("First value"),
    "baseline_value": N_("Baseline value"),
    "latest_year": N_("Latest year"),
    "latest_value": N_("Latest value"),
    "change_since_baseline": N_("Change since baseline"),
    "change_whole_period": N_("Change over the whole period"),
    "n_years": N_("Years with a value"),
    "n_flagged_unreliable": N_("Values flagged unreliable"),
}

#: What each kind of flagged observation marks (cells of the flagged-observations table).
FLAG_MEANINGS = {
    "eurostat_break": N_("series break flagged by Eurostat"),
    "eurostat_unreliable": N_("low reliability flagged by Eurostat"),
    "eurostat_other": N_("other Eurostat flag"),
    "bes_splice": N_("first year of the ISTAT 2025 edition (edition splice)"),
    "bes_unreliable": N_("below the ISTAT reliability threshold"),
    "bes_other": N_("ISTAT conventional sign"),
}


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
        """``"both sexes"``, ``"women"`` or ``"men"`` (a message id: show it with ``term``)."""
        return SEX_LABELS.get(self.sex, self.sex)

    @property
    def spliced(self) -> bool:
        """Whether the series joins two ISTAT BES editions (else: a Eurostat series)."""
        return self.indicator.panel == "bes_spliced"


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


# --- formats ----------------------------------------------------------------------------------


def _percent(ind: Indicator) -> bool:
    return ind.unit.startswith("%")


def _value(ind: Indicator, x: float) -> Formatted:
    """A level in the indicator's unit ("20,0%" for a percentage)."""
    return pct(x, 1) if _percent(ind) else num(x, 1)


def _change(ind: Indicator, x: float, *, sign: bool = True) -> Formatted:
    """A change: percentage points for a percentage, the indicator's unit otherwise."""
    return pp(x, 1, sign=sign) if _percent(ind) else num(x, 1, sign=sign)


def _years(values: Sequence[int]) -> str:
    return ", ".join(str(int(y)) for y in values)


# --- opening texts ----------------------------------------------------------------------------


def indicator_text(cs: ContextSeries) -> Text:
    """Markdown: the indicator, its unit, definition and source."""
    ind = cs.indicator
    definition = term(ind.definition) if ind.definition else t("see the source.")
    return t(
        "**Indicator:** {label} ({unit}), {sex}.  \n**Definition:** {definition}  \n"
        "**Source:** {source}.",
        label=term(ind.label),
        unit=term(ind.unit),
        sex=term(cs.sex_label),
        definition=definition,
        source=term(ind.source),
    )


def _size(unit: str) -> Text | None:
    entry = programme_facts().inhabitants.get(unit)
    if entry is None:
        return None
    kind, n = entry
    size = t("{n} million", n=num(n / 1e6, 1)) if n >= 1_000_000 else integer(n)
    if kind == "province":
        return t("{unit} is a province of about {n} inhabitants.", unit=unit, n=size)
    if kind == "region":
        return t("{unit} is a region of about {n} inhabitants.", unit=unit, n=size)
    return t("{unit} has about {n} inhabitants.", unit=unit, n=size)


def _reach() -> dict[str, Text]:
    """Who the programme reaches, as two messages (``courses``, ``centre``)."""
    f = programme_facts()
    c, d = f.courses, f.day_centre
    courses = t(
        "{name} ({funder}, {first}–{last}) reaches about {pupils} pupils and {parents} parents "
        "in {courses} courses",
        name=c.name,
        funder=c.funder,
        first=year(c.first_year),
        last=year(c.last_year),
        pupils=integer(c.pupils),
        parents=integer(c.parents),
        courses=integer(c.courses),
    )
    centre = t(
        "the {name} experimentation (from {start}) reached {youths} young people aged "
        "{age_min}–{age_max} at one day centre ({site}) and {organisations} local organisations",
        name=d.name,
        start=i18n.date(d.start),
        youths=integer(d.youths),
        age_min=integer(d.age_min),
        age_max=integer(d.age_max),
        site=d.site,
        organisations=integer(d.organisations),
    )
    return {"courses": courses, "centre": centre}


# --- levels and changes -----------------------------------------------------------------------


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
        baseline and over the whole period (in the indicator's unit: percentage points for a
        percentage), and how many observations are flagged.  Machine column names (the
        results); :func:`levels_table` gives the human headers.
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


def levels_table(table: pd.DataFrame, *, baseline_year: int) -> pd.DataFrame:
    """The levels-and-changes table with human headers, as the page shows it.

    The column of values flagged unreliable is shown only when some value is flagged.
    """
    out = table.rename(
        columns={
            f"value_{baseline_year}": "baseline_value",
            f"change_since_{baseline_year}": "change_since_baseline",
        }
    )
    if "n_flagged_unreliable" in out and not out["n_flagged_unreliable"].fillna(0).any():
        out = out.drop(columns="n_flagged_unreliable")
    return out[[c for c in LEVEL_HEADERS if c in out]].rename(columns=LEVEL_HEADERS)


def levels_caption(cs: ContextSeries, *, baseline_year: int) -> Text:
    """Caption of the levels-and-changes table."""
    ind = cs.indicator
    unit_of_change = t("percentage points") if _percent(ind) else term(ind.unit)
    return t(
        "{label}, {sex}: first, baseline ({base}) and latest observed values ({unit}) and "
        "their changes ({change_unit}). Source: {source}.",
        label=term(ind.label),
        sex=term(cs.sex_label),
        base=year(baseline_year),
        unit=term(ind.unit),
        change_unit=unit_of_change,
        source=term(ind.source),
    )


def latest_comparison(table: pd.DataFrame, cs: ContextSeries) -> tuple[pd.Series, pd.Series]:
    """The rows of the levels table for the focus unit and the reference area."""
    by_unit = table.set_index("unit")
    return by_unit.loc[cs.focus_unit], by_unit.loc[cs.reference_unit]


# --- breaks, splices, flags -------------------------------------------------------------------


def _break_years(cs: ContextSeries, unit: str | None = None) -> list[int]:
    d = cs.data if unit is None else cs.data[cs.data["unit"] == unit]
    return sorted(int(y) for y in d.loc[d["break"], "year"].unique())


def _gap_years(cs: ContextSeries) -> list[int]:
    """Years inside the focus unit's observed span without a value."""
    s = cs.data[(cs.data["unit"] == cs.focus_unit) & cs.data["value"].notna()]
    if s.empty:
        return []
    span = range(int(s["year"].min()), int(s["year"].max()) + 1)
    return [y for y in span if y not in set(s["year"].astype(int))]


def splice_facts(cs: ContextSeries) -> dict[str, Any]:
    """The BES edition splice of the focus unit's series.

    Returns
    -------
    dict
        ``first_year`` (first year of the 2025 edition after back-cast years; ``None`` when the
        series is not spliced) and ``mean_shift`` (mean difference ed. 2025 − ed. 2021 in the
        overlap years for the focus unit and sex, ``None`` when not recorded).
    """
    years = _break_years(cs, cs.focus_unit) if cs.spliced else []
    if not years:
        return {"first_year": None, "mean_shift": None}
    overlap = panels.load("bes_overlap")
    names = panels.load("bes_spliced")[["province_code", "province_name"]].drop_duplicates()
    rows = overlap[
        (overlap["series_code"] == cs.indicator.code) & (overlap["sex"] == cs.sex)
    ].merge(names, on="province_code")
    shift = rows.loc[rows["province_name"] == cs.focus_unit, "mean_diff"]
    return {
        "first_year": years[0],
        "mean_shift": float(shift.iloc[0]) if len(shift) else None,
    }


def _flag_kind(cs: ContextSeries, flag: str, brk: bool) -> str:
    if cs.spliced:
        if brk:
            return "bes_splice"
        return "bes_unreliable" if flag == ".." else "bes_other"
    if "b" in flag:
        return "eurostat_break"
    return "eurostat_unreliable" if "u" in flag else "eurostat_other"


def flagged_observations(cs: ContextSeries) -> pd.DataFrame:
    """Observations with a flag, a series break or an edition splice, one row per year and kind.

    Returns
    -------
    pandas.DataFrame
        Human headers: year, the territories concerned, the source's flag, what it marks and,
        for Eurostat breaks, the cause where known (:data:`indicators.LFS_BREAK_NOTES`); the
        flag and cause columns only when some row has one.
    """
    df = cs.data
    flagged = df[(df["flag"] != "") | df["break"]].copy()
    cols = [N_("Year"), N_("Territories"), N_("Flag"), N_("What it marks"), N_("Cause")]
    if flagged.empty:
        return pd.DataFrame(columns=cols)
    flagged["kind"] = [
        _flag_kind(cs, f, b) for f, b in zip(flagged["flag"], flagged["break"], strict=True)
    ]
    order = {u: i for i, u in enumerate(cs.units)}
    rows = []
    for (yr, kind, flag), g in flagged.groupby(["year", "kind", "flag"], sort=True):
        units = sorted(g["unit"], key=lambda u: order.get(u, len(order)))
        cause = indicators.LFS_BREAK_NOTES.get(int(yr)) if kind == "eurostat_break" else None
        if cause is not None and cause.startswith("break"):  # a note that names no cause
            cause = None
        rows.append([int(yr), ", ".join(units), flag or None, FLAG_MEANINGS[kind], cause])
    out = pd.DataFrame(rows, columns=cols)
    empty = [c for c in (N_("Flag"), N_("Cause")) if out[c].isna().all()]
    return out.drop(columns=empty)  # no column of dashes (e.g. the BES splice has no flag)


def flagged_caption(cs: ContextSeries) -> Text:
    """Caption of the flagged-observations table."""
    if cs.spliced:
        return t(
            "Observations of these series with a conventional sign or at the edition splice "
            "(ISTAT Bes dei territori)."
        )
    return t(
        "Observations of these series with a Eurostat flag, one row per year and flag; the "
        "cause of a break where the Labour Force Survey documentation gives one (– none given)."
    )


def no_flags_note() -> Text:
    """The note shown when no observation is flagged."""
    return t("No flagged observations, breaks or splices in these series.")


# --- figure -----------------------------------------------------------------------------------


def trajectory_figure(
    df: pd.DataFrame,
    *,
    indicator: Indicator,
    focus_unit: str,
    units: list[str],
    start_year: int | None = None,
    lang: str = i18n.SOURCE_LANGUAGE,
) -> plt.Figure:
    """Plot the focus unit's trajectory against the comparison units, labelled in ``lang``.

    Series breaks (or the BES edition splice) are marked by dotted vertical lines; estimates
    flagged as unreliable by a cross; the programme period by a shaded area.
    """
    tr = i18n.translator(lang)
    spliced = indicator.panel == "bes_spliced"
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
            label=tr(t("value flagged as unreliable")),
        )
    breaks = sorted(data.loc[data["break"], "year"].unique())
    brk_label = (
        t("first year of the ISTAT 2025 edition") if spliced else t("series break (Eurostat)")
    )
    for i, yr in enumerate(breaks):
        ax.axvline(
            yr - 0.5,
            color="grey",
            linestyle=":",
            linewidth=1,
            label=tr(brk_label) if i == 0 else None,
        )
    if start_year is not None:
        ax.axvspan(
            start_year - 0.5,
            data["year"].max() + 0.5,
            color="#f2d7a6",
            alpha=0.35,
            label=tr(t("programme period (from {year})", year=year(start_year))),
        )
    ax.set_xlabel(tr(N_("Year")))
    ax.set_ylabel(tr(term(indicator.unit)))
    ax.set_title(tr(term(indicator.label)))
    ax.yaxis.set_major_formatter(i18n.tick_formatter(lang, 0))
    ax.legend(fontsize=8, frameon=False, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def trajectory_plot(cs: ContextSeries, *, start_year: int) -> Callable[[str], plt.Figure]:
    """The trajectory figure as a function of the language (for ``display.show_figure``)."""

    def draw(lang: str) -> plt.Figure:
        return trajectory_figure(
            cs.data,
            indicator=cs.indicator,
            focus_unit=cs.focus_unit,
            units=cs.units,
            start_year=start_year,
            lang=lang,
        )

    return draw


def trajectory_caption(cs: ContextSeries, *, start_year: int) -> Text:
    """Caption of the trajectory figure: what the lines, marks and gaps mean for this series."""
    ind = cs.indicator
    parts: list[Text] = [
        t(
            "{label}, {sex}: {unit} against {others}. Unit: {measure}. Source: {source}. "
            "Shaded: years from {start}.",
            label=term(ind.label),
            sex=term(cs.sex_label),
            unit=cs.focus_unit,
            others=", ".join(cs.comparison_units),
            measure=term(ind.unit),
            source=term(ind.source),
            start=year(start_year),
        )
    ]
    breaks = _break_years(cs)
    if breaks and cs.spliced:
        parts.append(
            t(
                "Dotted line: from {year} the values are those of the ISTAT 2025 edition; "
                "earlier years are the 2021 edition shifted by the mean difference between the "
                "two editions in the years both publish.",
                year=year(breaks[0]),
            )
        )
    elif breaks:
        parts.append(
            t("Dotted lines: series breaks flagged by Eurostat ({years}).", years=_years(breaks))
        )
    n_unrel = int((cs.data["unreliable"] & cs.data["value"].notna()).sum())
    if n_unrel:
        parts.append(t("Crosses: {n} values flagged as unreliable.", n=integer(n_unrel)))
    parts.extend(_gap_texts(cs))
    return join(parts, " ")


def _gap_texts(cs: ContextSeries) -> list[Text]:
    gaps = _gap_years(cs)
    out: list[Text] = []
    for y in gaps:
        reason = geography.known_gap(cs.indicator.key, y)
        out.append(
            t("No value for {year}: {reason}.", year=year(y), reason=term(reason))
            if reason
            else t("No value for {year}.", year=year(y))
        )
    return out


# --- the answer -------------------------------------------------------------------------------


def _median_step(cs: ContextSeries, unit: str) -> float:
    """Median absolute change between consecutive observed years of ``unit``."""
    s = cs.data[(cs.data["unit"] == unit) & cs.data["value"].notna()].sort_values("year")
    consecutive = s["year"].diff() == 1
    steps = s["value"].diff()[consecutive].abs()
    return float(steps.median()) if len(steps) else float("nan")


def _level_sentence(cs: ContextSeries, focus: pd.Series, ref: pd.Series) -> Text:
    ind = cs.indicator
    gap = float(focus["latest_value"]) - float(ref["latest_value"])
    ref_value: Text = _value(ind, float(ref["latest_value"]))
    if int(ref["latest_year"]) != int(focus["latest_year"]):
        ref_value = t("{value} in {year}", value=ref_value, year=year(int(ref["latest_year"])))
    values = {
        "year": year(int(focus["latest_year"])),
        "name": term(ind.name),
        "unit": cs.focus_unit,
        "value": _value(ind, float(focus["latest_value"])),
        "ref": cs.reference_unit,
        "ref_value": ref_value,
    }
    if abs(gap) < 0.05:
        return t("In {year}, {name} in {unit} was {value}, as in {ref} ({ref_value}).", **values)
    if gap > 0:
        return t(
            "In {year}, {name} in {unit} was {value}, {gap} above {ref} ({ref_value}).",
            gap=_change(ind, gap, sign=False),
            **values,
        )
    return t(
        "In {year}, {name} in {unit} was {value}, {gap} below {ref} ({ref_value}).",
        gap=_change(ind, -gap, sign=False),
        **values,
    )


def _change_sentence(
    cs: ContextSeries, focus: pd.Series, ref: pd.Series, *, baseline_year: int
) -> Text:
    ind = cs.indicator
    col = f"change_since_{baseline_year}"
    chg, ref_chg = float(focus[col]), float(ref[col])
    if np.isnan(chg):
        return t(
            "{unit} has no value for the baseline year {base}.",
            unit=cs.focus_unit,
            base=year(baseline_year),
        )
    values = {
        "base": year(baseline_year),
        "change": _change(ind, abs(chg), sign=False),
        "ref": cs.reference_unit,
        "ref_change": _change(ind, ref_chg),
    }
    if abs(chg) < 0.05:
        return t("Since {base} it has not changed ({ref}: {ref_change}).", **values)
    if chg < 0:
        return t("Since {base} it has fallen by {change} ({ref}: {ref_change}).", **values)
    return t("Since {base} it has risen by {change} ({ref}: {ref_change}).", **values)


def _gap_sentence(
    cs: ContextSeries, focus: pd.Series, ref: pd.Series, *, baseline_year: int
) -> Text | None:
    ind = cs.indicator
    col = f"value_{baseline_year}"
    g0 = float(focus[col]) - float(ref[col])
    g1 = float(focus["latest_value"]) - float(ref["latest_value"])
    if np.isnan(g0):
        return None
    values = {"ref": cs.reference_unit, "base": year(baseline_year)}
    if np.sign(round(g0, 1)) * np.sign(round(g1, 1)) < 0:
        return t(
            "Relative to {ref}, {unit} moved from {g0} in {base} to {g1}.",
            unit=cs.focus_unit,
            g0=_change(ind, g0),
            g1=_change(ind, g1),
            **values,
        )
    if abs(abs(g1) - abs(g0)) < 0.05:
        return t(
            "The gap with {ref} is the same as in {base} ({g1}).",
            g1=_change(ind, abs(g1), sign=False),
            **values,
        )
    g = {"g0": _change(ind, abs(g0), sign=False), "g1": _change(ind, abs(g1), sign=False)}
    if abs(g1) < abs(g0):
        return t("The gap with {ref} narrowed from {g0} in {base} to {g1}.", **g, **values)
    return t("The gap with {ref} widened from {g0} in {base} to {g1}.", **g, **values)


def _certainty(cs: ContextSeries, table: pd.DataFrame, *, baseline_year: int) -> Text:
    ind = cs.indicator
    step = _change(ind, _median_step(cs, cs.focus_unit), sign=False)
    ref_step = _change(ind, _median_step(cs, cs.reference_unit), sign=False)
    parts: list[Text] = []
    if ind.census:
        parts.append(
            t(
                "The values count every pupil or student concerned (no sampling error); the "
                "median change from one year to the next is {step} in {unit} ({ref}: "
                "{ref_step}).",
                step=step,
                unit=cs.focus_unit,
                ref=cs.reference_unit,
                ref_step=ref_step,
            )
        )
    else:
        parts.append(
            t(
                "The values are sample-survey estimates: the median change from one year to "
                "the next is {step} in {unit} ({ref}: {ref_step}), so a single year's movement "
                "may be sampling noise.",
                step=step,
                unit=cs.focus_unit,
                ref=cs.reference_unit,
                ref_step=ref_step,
            )
        )
    n_unrel = int(table["n_flagged_unreliable"].fillna(0).sum())
    parts.append(
        t("{n} values of these series are flagged as unreliable.", n=integer(n_unrel))
        if n_unrel
        else t("No value of these series is flagged as unreliable by the source.")
    )
    latest = int(latest_comparison(table, cs)[0]["latest_year"])
    if cs.spliced:
        sp = splice_facts(cs)
        if sp["first_year"] is not None:
            parts.append(
                t(
                    "Values before {year} are the ISTAT 2021 edition shifted to the level of "
                    "the 2025 edition.",
                    year=year(sp["first_year"]),
                )
            )
            parts.append(
                t(
                    "The change since {base} lies within the 2025 edition.",
                    base=year(baseline_year),
                )
                if baseline_year >= sp["first_year"]
                else t(
                    "The change since {base} crosses the edition splice of {year}.",
                    base=year(baseline_year),
                    year=year(sp["first_year"]),
                )
            )
    else:
        crossed = [y for y in _break_years(cs, cs.focus_unit) if baseline_year < y <= latest]
        parts.append(
            t(
                "The change since {base} crosses a series break flagged by Eurostat "
                "({years}): it mixes real change with a change of method.",
                base=year(baseline_year),
                years=_years(crossed),
            )
            if crossed
            else t(
                "No series break is flagged in {unit} between {base} and {latest}.",
                unit=cs.focus_unit,
                base=year(baseline_year),
                latest=year(latest),
            )
        )
    return join(parts, " ")


def _would_change(cs: ContextSeries, table: pd.DataFrame, *, baseline_year: int) -> Text:
    latest = int(latest_comparison(table, cs)[0]["latest_year"])
    nxt = year(latest + 1)
    if cs.spliced:
        sp = splice_facts(cs)
        parts: list[Text] = [
            t(
                "The value for {next}, and a new edition of Bes dei territori that revises "
                "past years.",
                next=nxt,
            )
        ]
        if sp["mean_shift"] is not None:
            parts.append(
                t(
                    "Between the 2021 and 2025 editions the values of {unit} in the years both "
                    "publish differ by {shift} on average.",
                    unit=cs.focus_unit,
                    shift=_change(cs.indicator, sp["mean_shift"]),
                )
            )
    else:
        parts = [
            t(
                "The value for {next}, a revision of past years by Eurostat, or a new break in "
                "the Labour Force Survey.",
                next=nxt,
            )
        ]
    parts.append(
        t(
            "The changes are measured from {base}: another baseline year gives other "
            "changes (see the figure).",
            base=year(baseline_year),
        )
    )
    return join(parts, " ")


def _not_this(cs: ContextSeries, *, start_year: int) -> Text:
    parts: list[Text] = [
        t("Context, not the programme's effect: {courses}; {centre}.", **_reach()),
    ]
    size = _size(cs.focus_unit)
    if size is not None:
        parts.append(size)
    parts.append(
        t(
            "A difference between {unit} and {ref}, or a change after {start}, describes the "
            "territory; it is not evidence for or against the programme. The counterfactual "
            "reports and the pupil-level evaluation address the causal questions.",
            unit=cs.focus_unit,
            ref=cs.reference_unit,
            start=year(start_year),
        )
    )
    return join(parts, " ")


def summary(
    table: pd.DataFrame, cs: ContextSeries, *, baseline_year: int, start_year: int
) -> dict[str, Text]:
    """The fields of the page's answer-first box (``display.summary_box(**summary(...))``).

    Every field is generated from the levels table and the series: the latest level against
    the reference area, the change since ``baseline_year``, how the gap moved; the sampling,
    flags, breaks and splice of this indicator; what would change the answer; and the
    programme's scale (:func:`analysis.facts.programme_facts`).
    """
    focus, ref = latest_comparison(table, cs)
    answer: list[Text] = [
        _level_sentence(cs, focus, ref),
        _change_sentence(cs, focus, ref, baseline_year=baseline_year),
    ]
    gap = _gap_sentence(cs, focus, ref, baseline_year=baseline_year)
    if gap is not None:
        answer.append(gap)
    return {
        "question": t(
            "Where does {unit} stand on {name} ({sex}) against {ref}, and how has it moved "
            "since {base}?",
            unit=cs.focus_unit,
            name=term(cs.indicator.name),
            sex=term(cs.sex_label),
            ref=cs.reference_unit,
            base=year(baseline_year),
        ),
        "answer": join(answer, " "),
        "certainty": _certainty(cs, table, baseline_year=baseline_year),
        "would_change": _would_change(cs, table, baseline_year=baseline_year),
        "not_this": _not_this(cs, start_year=start_year),
    }


def comparison_text(table: pd.DataFrame, cs: ContextSeries, *, baseline_year: int) -> Text:
    """Plain words: the change since the baseline in every unit, and where the focus unit's lies.

    Whether the focus unit's change lies within the range of its comparison areas' changes.
    """
    ind = cs.indicator
    col = f"change_since_{baseline_year}"
    by_unit = table.set_index("unit")[col]
    items = [
        t("{unit} {change}", unit=u, change=_change(ind, float(by_unit[u])))
        for u in cs.units
        if u in by_unit and not np.isnan(by_unit[u])
    ]
    listing = join(["", *items], "\n- ")  # a Markdown list (empty first part: no id lookup)
    parts: list[Text] = []
    others = by_unit.reindex(list(cs.comparison_units)).dropna()
    own = by_unit.get(cs.focus_unit, np.nan)
    if len(others) and not np.isnan(own):
        lo, hi = float(others.min()), float(others.max())
        values = {
            "unit": cs.focus_unit,
            "low": _change(ind, lo),
            "high": _change(ind, hi),
        }
        parts.append(
            t(
                "The change in {unit} lies within the range of its comparison areas ({low} to "
                "{high}).",
                **values,
            )
            if lo - 0.05 <= own <= hi + 0.05
            else t(
                "The change in {unit} lies outside the range of its comparison areas ({low} "
                "to {high}).",
                **values,
            )
        )
    parts.append(
        t(
            "A descriptive comparison cannot separate the programme from everything else that "
            "changed in the territory."
        )
    )
    head = t("Change since {base}:", base=year(baseline_year))
    return join([head, listing, join(parts, " ")], "\n\n")


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


def headline_text(table: pd.DataFrame, cs: ContextSeries, *, baseline_year: int) -> Text:
    """The headline as the index shows it: "Lecce 2024: 20,0% (−10,0 p.p. dal 2020)"."""
    focus, _ref = latest_comparison(table, cs)
    ind = cs.indicator
    return t(
        "{unit} {year}: {value} ({change} since {base})",
        unit=cs.focus_unit,
        year=year(int(focus["latest_year"])),
        value=_value(ind, float(focus["latest_value"])),
        change=_change(ind, float(focus[f"change_since_{baseline_year}"])),
        base=year(baseline_year),
    )


def results(table: pd.DataFrame, cs: ContextSeries) -> dict[str, Any]:
    """Everything ``analysis verify`` compares: indicator, levels and changes, the series."""
    return {
        "indicator": cs.indicator.key,
        "levels_and_changes": table,
        "series": cs.data[["unit", "year", "value", "flag"]],
    }
