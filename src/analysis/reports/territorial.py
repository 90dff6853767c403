r"""Territorial counterfactual for one province or region: the panel, and the page's pieces.

The report module of notebook ``02_territorial``.  It answers a *context* question: how did an
official indicator evolve in the programme's territory (Lecce, Puglia) against the path that
comparable provinces or regions predict?  It is not the programme's causal effect (the
programme reaches a few hundred young people; a provincial rate moves by thousands).

:func:`build_panel`
    Turns a parameter set (indicator, level, treated unit, start, donor pool, sex, first
    pre-period year) into a balanced estimation panel from the real data
    (:func:`analysis.data.indicators.series`), recording **every** exclusion with its reason.
    The territorial knowledge it applies (donor pools, aggregates, boundary changes, abolished
    provinces, known gaps) is in :mod:`analysis.data.geography`:

    * units of another territorial level (regions, macro-areas, Italy, EU27 at province level;
      macro-areas, Italy, EU27 at region level) are never donors; the aggregates that contain
      the treated unit are named as such;
    * units outside the donor pool;
    * aggregates listed next to their own parts (Trentino-Alto Adige next to the autonomous
      provinces of Bolzano and Trento);
    * provinces whose territory changed inside the window (Barletta-Andria-Trani, Fermo,
      Monza carved out in 2009-2010; Sardinia redrawn in 2016) or that were abolished;
    * donors with a missing value in any retained year (pre or post);
    * donors with an observation flagged unreliable (Eurostat flag ``u``) in the window, when
      ``exclude_unreliable`` (the default);
    * years in which the treated unit has no value (e.g. INVALSI 2020), for every unit.

    The panel stays here, next to the page, rather than in ``analysis.data``: it is the
    glue between the data layer and this one page (no estimation), and most of what
    :class:`TerritorialPanel` offers are the page's data tables and words (data sheet, breaks
    and splices, flags, exclusions in plain words).

:func:`triangulate` / :func:`analyse`
    Run :func:`analysis.synth.triangulate` (synthetic control, synthetic DiD and DiD with the
    in-space and in-time placebos and leave-one-out; placebo standard errors from the run's
    ``"placebo"`` random stream) on that panel, and return a :class:`TerritorialAnalysis`:
    the page's tables, figures, captions and plain-words conclusion.

Estimand
--------
For the treated unit :math:`1` and post-period years :math:`t \ge` ``start``,

.. math::

    \mathrm{ATT} = \frac{1}{T_1} \sum_{t \ge \mathrm{start}} \big(Y_{1t} - \hat Y_{1t}(0)\big),

the average gap between the observed indicator and its counterfactual (percentage points for
rates).  Identification: no anticipation before ``start``, donors unaffected by the programme,
and a counterfactual that reproduces the pre-period path (checked by the pre-period RMSPE and
the placebo tests).  Inference with one treated unit is by placebos (see
:mod:`analysis.synth.triangulation`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import synth
from analysis._util import to_jsonable
from analysis.data import geography, indicators, panels
from analysis.data.geography import DONOR_POOLS, LEVELS
from analysis.data.indicators import Indicator
from analysis.errors import DataValidationError, Violation, fail
from analysis.facts import programme_facts
from analysis.synth import plots as synth_plots
from analysis.synth.triangulation import ESTIMATORS
from analysis.synth.triangulation import period_span as year_span

#: Source named in the errors about the parameters.
PARAMS = "territorial parameters"

SEXES = {"T": "both sexes", "F": "women", "M": "men"}

#: Columns of the long series the panel is built from (see ``indicators.series``).
SERIES_COLUMNS = (
    "unit",
    "level",
    "region",
    "year",
    "value",
    "flag",
    "source",
    "break",
    "unreliable",
)
EXCLUDED_COLUMNS = ("unit", "year", "rule", "reason")


# --------------------------------------------------------------------------------------------
# Design and panel
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Design:
    """The parameter set of one territorial analysis (see :func:`build_panel`)."""

    indicator: str
    level: str
    treated_unit: str
    start: int
    donor_pool: str | tuple[str, ...]
    sex: str = "T"
    pre_years: int | None = None
    exclude_unreliable: bool = True

    @property
    def pool_label(self) -> str:
        """Donor pool in words."""
        if isinstance(self.donor_pool, str):
            return f"{self.donor_pool}: {DONOR_POOLS[self.donor_pool].description}"
        return "user list: " + ", ".join(self.donor_pool)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        pool = self.donor_pool if isinstance(self.donor_pool, str) else list(self.donor_pool)
        return {
            "indicator": self.indicator,
            "level": self.level,
            "treated_unit": self.treated_unit,
            "start": self.start,
            "donor_pool": pool,
            "sex": self.sex,
            "pre_years": self.pre_years,
            "exclude_unreliable": self.exclude_unreliable,
        }


@dataclass(frozen=True, eq=False)
class TerritorialPanel:
    """A balanced, complete estimation panel with the record of everything left out.

    Attributes
    ----------
    design
        The parameters.
    indicator
        The indicator's metadata (label, unit, source).
    data
        Long table ``unit, region, year, value, flag, source, break, unreliable`` of the treated
        unit and the donors over the retained years: no missing value, no duplicated
        unit-year.  Pass ``data[["unit", "year", "value"]]`` to the estimators.
    window
        The same columns for the treated unit and every candidate donor (before the donor
        exclusions) over all window years: what the data notes describe.
    donors
        Donors kept, in alphabetical order.
    excluded
        One row per excluded unit or year: ``unit, year, rule, reason`` (``rule`` is one of
        ``level, contains_treated, pool, aggregate, abolished, boundary, missing, unreliable,
        year``).
    pre_periods, post_periods
        Retained years before and from ``start``.
    notes
        Data-quality notes (fixes applied to the source, warnings about the treated series).
    """

    design: Design
    indicator: Indicator
    data: pd.DataFrame
    window: pd.DataFrame
    donors: tuple[str, ...]
    excluded: pd.DataFrame
    pre_periods: tuple[int, ...]
    post_periods: tuple[int, ...]
    notes: tuple[str, ...] = ()

    # -- shortcuts ----------------------------------------------------------------------------
    @property
    def treated_unit(self) -> str:
        """The treated unit."""
        return self.design.treated_unit

    @property
    def start(self) -> int:
        """First treated year."""
        return self.design.start

    @property
    def n_pre(self) -> int:
        """Number of retained pre-period years."""
        return len(self.pre_periods)

    @property
    def n_post(self) -> int:
        """Number of retained post-period years."""
        return len(self.post_periods)

    @property
    def gap_unit(self) -> str:
        """Unit of a difference of the indicator ("percentage points" for rates)."""
        return "percentage points" if self.indicator.unit.startswith("%") else self.indicator.unit

    @property
    def missing_years(self) -> tuple[int, ...]:
        """Years inside the window dropped because the treated unit has no value."""
        ex = self.excluded
        return tuple(int(y) for y in ex.loc[ex["rule"] == "year", "year"])

    def missing_years_note(self) -> str:
        """Caption sentence on the years without data ("" when none)."""
        ex = self.excluded[self.excluded["rule"] == "year"]
        if ex.empty:
            return ""
        yrs = year_span(ex["year"])
        return (
            f"No value in {yrs} ({ex['reason'].iloc[0].split(';')[0]}): lines join the "
            "neighbouring years."
        )

    def estimation_frame(self) -> pd.DataFrame:
        """Return ``unit, year, value`` for the estimators."""
        return self.data[["unit", "year", "value"]].copy()

    # -- tables -------------------------------------------------------------------------------
    def excluded_donors(self) -> pd.DataFrame:
        """Candidate donors (right level, inside the pool) that were excluded, and why."""
        ex = self.excluded
        cand = ex["rule"].isin(["aggregate", "abolished", "boundary", "missing", "unreliable"])
        return ex.loc[cand, ["unit", "reason"]].reset_index(drop=True)

    def not_used(self) -> pd.DataFrame:
        """Units of the source that are not candidates (other level, outside the pool).

        One row per reason: ``why``, ``n_units``, ``units`` (every name).
        """
        ex = self.excluded
        rows = []
        labels = {
            "contains_treated": f"aggregates that contain {self.treated_unit}: never donors",
            "level": f"not a {self.design.level} (other levels and aggregates are never donors)",
            "pool": f"{self.design.level}s outside the donor pool",
        }
        for rule, why in labels.items():
            units = ex.loc[ex["rule"] == rule, "unit"].tolist()
            if units:
                rows.append({"why": why, "n_units": len(units), "units": ", ".join(units)})
        return pd.DataFrame(rows, columns=["why", "n_units", "units"])

    def breaks(self) -> pd.DataFrame:
        """Series breaks and edition splices inside the window, and where they fall.

        Columns ``year, what, cause, units, position`` (pre-period / start year /
        post-period).
        """
        w = self.window[self.window["unit"].isin([self.treated_unit, *self.donors])]
        rows = []
        is_bes = self.indicator.panel == "bes_spliced"
        n_units = w["unit"].nunique()
        for year, grp in w[w["break"]].groupby("year"):
            year = int(year)
            if is_bes:
                what = "edition splice"
                cause = (
                    "ISTAT ed. 2025 values from this year; earlier years are ed. 2021 "
                    "values shifted by the mean overlap difference"
                )
            else:
                what = "series break (Eurostat flag b)"
                cause = indicators.LFS_BREAK_NOTES.get(
                    year, "cause not documented in PROVENANCE.md"
                )
            if year < self.start:
                pos = "pre-period"
            elif year == self.start:
                pos = "start year: coincides with the start"
            else:
                pos = "post-period"
            units = (
                f"all {n_units} units"
                if grp["unit"].nunique() == n_units
                else ", ".join(sorted(grp["unit"].unique()))
            )
            rows.append(
                {"year": year, "what": what, "cause": cause, "units": units, "position": pos}
            )
        return pd.DataFrame(rows, columns=["year", "what", "cause", "units", "position"])

    def break_notes(self) -> list[str]:
        """Plain-words warnings about breaks and splices relative to the start year."""
        out = []
        d = self.design
        for r in self.breaks().itertuples():
            if r.year == d.start:
                out.append(
                    f"The {r.year} {r.what}, {r.cause}, coincides with the start: the first "
                    "post-period year is also the first year of the new series, so a level "
                    "shift caused by the new survey rules that differs between "
                    f"{d.treated_unit} and its donors would be read as a gap. Breaks that hit "
                    "every unit equally are absorbed by the comparison."
                )
            elif r.year < d.start and self.indicator.panel != "bes_spliced":
                out.append(
                    f"The {r.year} {r.what}, {r.cause}, falls inside the pre-period: the "
                    "counterfactual is fitted across it."
                )
        if self.indicator.panel == "bes_spliced" and self._n22():
            out.append(
                "ISTAT rebuilt this labour-force series from 2018 under the 2021 EU-LFS rules "
                "(code suffix -N22, ed. 2025), so the 2021 survey break is bridged inside the "
                "ed. 2025 values; the remaining seam is the 2018 splice with ed. 2021, in the "
                "pre-period."
            )
        return out

    def _n22(self) -> bool:
        bes = panels.load("bes_provinces")
        codes = bes.loc[
            (bes["series_code"] == self.indicator.code) & (bes["edition"] == "2025"),
            "indicator_code",
        ].unique()
        return any(str(c).endswith("-N22") for c in codes)

    def flags(self) -> pd.DataFrame:
        """Flagged observations (any Eurostat flag other than ``b``, ISTAT signs) in the window.

        Covers the treated unit and every candidate donor (kept or excluded), with ``used``
        telling whether the unit is in the estimation panel.
        """
        w = self.window
        fl = w["flag"].fillna("").str.replace("b", "", regex=False).str.strip()
        out = w.loc[(fl != "") | w["unreliable"], ["unit", "year", "value", "flag"]].copy()
        out["used"] = out["unit"].isin([self.treated_unit, *self.donors])
        return out.reset_index(drop=True)

    def flags_summary(self) -> pd.DataFrame:
        """Condense :meth:`flags` to one row per unit.

        Columns ``unit, flags`` (letters other than the break flag ``b``), ``years`` (flagged
        years), ``missing_values`` (flagged years without a value) and ``used``.
        """
        f = self.flags()
        rows = []
        for unit, g in f.groupby("unit", sort=True):
            marks = sorted({str(x).replace("b", "").strip() for x in g["flag"].fillna("")} - {""})
            rows.append(
                {
                    "unit": unit,
                    "flags": ", ".join(marks),
                    "years": year_span(g["year"]),
                    "missing_values": int(g["value"].isna().sum()),
                    "used": bool(g["used"].iloc[0]),
                }
            )
        return pd.DataFrame(rows, columns=["unit", "flags", "years", "missing_values", "used"])

    def splice(self) -> pd.DataFrame:
        """How the two BES editions were joined, for the treated unit and the donors.

        Empty for Eurostat indicators.  Columns ``unit, years_ed2021_shifted, years_ed2025,
        shift`` (the additive shift added to the ed. 2021 values, percentage points).
        """
        cols = ["unit", "years_ed2021_shifted", "years_ed2025", "shift"]
        if self.indicator.panel != "bes_spliced":
            return pd.DataFrame(columns=cols)
        sp = panels.load("bes_spliced")
        sp = sp[
            (sp["series_code"] == self.indicator.code)
            & (sp["sex"] == self.design.sex)
            & sp["province_name"].isin([self.treated_unit, *self.donors])
            & sp["year"].isin([*self.pre_periods, *self.post_periods])
        ]
        rows = []
        for unit, g in sp.groupby("province_name", sort=False):
            old = g[g["source"] != "ed.2025"]
            new = g[g["source"] == "ed.2025"]
            rows.append(
                {
                    "unit": unit,
                    "years_ed2021_shifted": year_span(old["year"]),
                    "years_ed2025": year_span(new["year"]),
                    "shift": float(old["shift"].mean()) if len(old) else 0.0,
                }
            )
        out = pd.DataFrame(rows, columns=cols)
        order = {self.treated_unit: 0}
        return out.sort_values(
            "unit", key=lambda s: s.map(lambda u: order.get(u, 1)), kind="stable"
        ).reset_index(drop=True)

    def data_sheet(self) -> pd.DataFrame:
        """What was used: indicator, source, window, splice, breaks, gaps, donors (key/value)."""
        ind, d = self.indicator, self.design
        br = self.breaks()
        sp = self.splice()
        rows = [
            ("Indicator", f"{ind.label} ({ind.unit}), {SEXES[d.sex]}"),
            ("Definition", ind.definition or "see source"),
            ("Source", ind.source),
            ("Treated unit", f"{d.treated_unit} ({d.level})"),
            ("Pre-period", f"{year_span(self.pre_periods)} ({self.n_pre} years)"),
            (
                "Post-period",
                f"{year_span(self.post_periods)} ({self.n_post} years; start {d.start})",
            ),
            (
                "Years dropped",
                "; ".join(
                    f"{int(r.year)}: {r.reason}"
                    for r in self.excluded[self.excluded["rule"] == "year"].itertuples()
                )
                or "none",
            ),
            ("Donor pool", d.pool_label),
            (
                "Donors used",
                f"{len(self.donors)} of {len(self.donors) + len(self.excluded_donors())}"
                f" candidates ({len(self.excluded_donors())} excluded, listed below)",
            ),
            (
                "Unreliable observations",
                "donors with a flagged observation in the window are excluded"
                if d.exclude_unreliable
                else "kept (exclude_unreliable=False)",
            ),
        ]
        if not sp.empty:
            t = sp[sp["unit"] == self.treated_unit]
            tr = t.iloc[0] if len(t) else None
            rows.append(
                (
                    "BES editions",
                    "ed. 2025 as published from its first year; earlier "
                    "years back-cast from ed. 2021 plus the mean ed.2025 - ed.2021 difference "
                    "over the overlap years (analysis.data.splice)",
                )
            )
            if tr is not None:
                rows.append(
                    (
                        f"Splice, {self.treated_unit}",
                        f"ed. 2021 + {tr['shift']:+.2f} pp for {tr['years_ed2021_shifted']}; "
                        f"ed. 2025 for {tr['years_ed2025']}",
                    )
                )
            dn = sp[sp["unit"] != self.treated_unit]["shift"]
            if len(dn):
                rows.append(
                    (
                        "Splice shifts, donors",
                        f"median {dn.median():+.2f} pp (range {dn.min():+.2f} to {dn.max():+.2f})",
                    )
                )
        rows.append(
            (
                "Breaks in the window",
                "; ".join(f"{r.year} {r.what}, {r.cause} ({r.position})" for r in br.itertuples())
                or "none flagged",
            )
        )
        rows += [("Note", n) for n in self.notes]
        return pd.DataFrame(rows, columns=["item", "value"])

    # -- conventions ---------------------------------------------------------------------------
    def tidy(self) -> pd.DataFrame:
        """Return :attr:`data`."""
        return self.data.copy()

    def summary(self) -> str:
        """Return a few lines: design, years, donors, exclusions."""
        d = self.design
        return (
            f"{self.indicator.label}, {SEXES[d.sex]}: {d.treated_unit} ({d.level}), start "
            f"{d.start}\npre-period {year_span(self.pre_periods)} ({self.n_pre} years), "
            f"post-period {year_span(self.post_periods)} ({self.n_post} years)\n"
            f"donors: {len(self.donors)} from {d.pool_label}; "
            f"{len(self.excluded_donors())} candidate donor(s) excluded; "
            f"{len(self.missing_years)} year(s) dropped"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (design, years, donors, exclusions, data sheet)."""
        return to_jsonable(
            {
                "design": self.design.to_dict(),
                "indicator": self.indicator.key,
                "indicator_label": self.indicator.label,
                "unit_of_measure": self.indicator.unit,
                "source": self.indicator.source,
                "pre_periods": list(self.pre_periods),
                "post_periods": list(self.post_periods),
                "donors": list(self.donors),
                "excluded": self.excluded.to_dict(orient="records"),
                "breaks": self.breaks().to_dict(orient="records"),
                "flags": self.flags().to_dict(orient="records"),
                "splice": self.splice().to_dict(orient="records"),
                "notes": list(self.notes),
            }
        )


def _check_series(df: pd.DataFrame, source: str) -> pd.DataFrame:
    missing = [c for c in SERIES_COLUMNS if c not in df.columns]
    if missing:
        raise fail(
            source,
            f"required column(s) {missing} not found (expected the columns of "
            "analysis.data.indicators.series)",
            column=missing[0],
        )
    dup = df.duplicated(subset=["unit", "year"], keep=False)
    if dup.any():
        rows = df.index[dup].tolist()
        first = df.loc[rows[0], ["unit", "year"]].tolist()
        raise fail(
            source,
            f"duplicated unit-year rows (first: {first[0]!r}, {first[1]!r}); each "
            "unit must appear once per year",
            column="unit, year",
            rows=rows,
        )
    return df


def _bad_param(rule: str, column: str, rows: Sequence[object] = ()) -> DataValidationError:
    return fail(PARAMS, rule, column=column, rows=rows)


def build_panel(
    *,
    indicator: str,
    level: str,
    treated_unit: str,
    start: int,
    donor_pool: str | Sequence[str],
    sex: str = "T",
    pre_years: int | None = None,
    exclude_unreliable: bool = True,
    data: pd.DataFrame | None = None,
) -> TerritorialPanel:
    """Build the estimation panel of one territorial analysis, recording every exclusion.

    Parameters
    ----------
    indicator
        Indicator key (:data:`analysis.data.indicators.INDICATORS`), e.g. ``"neet"``, ``"elet"``.
    level
        ``"province"`` or ``"region"``: the level of the treated unit and of the donors.
    treated_unit
        Territory name as ISTAT prints it (``"Lecce"``, ``"Puglia"``).
    start
        First year in which the programme can act (2021 Pro Officine Mezzogiorno, 2023 FIS
        experimentation); years ``>= start`` are post-period.
    donor_pool
        A name of :data:`DONOR_POOLS` (``"south_provinces"``, ``"all_provinces"``,
        ``"south_regions"``, ``"all_regions"``) or an explicit list of units of ``level``.
    sex
        ``"T"``, ``"F"`` or ``"M"``.
    pre_years
        **First pre-period year** (e.g. 2010, to leave out years before a boundary change or a
        series break); ``None`` starts at the treated unit's first observed year.  Not a
        number of years: values below 1900 are rejected.
    exclude_unreliable
        Exclude donors with an observation flagged unreliable (Eurostat ``u``) in the window.
        Flags of the treated unit are reported, never dropped.
    data
        The long series to use instead of ``indicators.series(indicator, sex=sex)`` (same
        columns); for tests and what-if checks.  If it has a ``sex`` column, its rows of
        ``sex`` are used; without one, ``data`` is taken as the series of a single sex and a
        ``sex`` other than the default ``"T"`` is refused (it could not be applied).

    Returns
    -------
    TerritorialPanel

    Raises
    ------
    DataValidationError
        Unknown indicator, level, donor pool or sex; an indicator not published at ``level``;
        duplicated unit-year rows; treated unit absent or of another level; ``start`` outside
        the treated unit's data; ``pre_years`` not a year or not before ``start``; fewer than
        two pre-period years with a value; no donor left after the exclusions.
    """
    ind = indicators.get(indicator)
    if level not in LEVELS:
        raise _bad_param(f"level must be one of {LEVELS} (got {level!r})", "level")
    if sex not in SEXES:
        raise _bad_param(f"sex must be one of {sorted(SEXES)} (got {sex!r})", "sex")
    if level == "province" and ind.level == "region":
        raise _bad_param(
            f"indicator {indicator!r} ({ind.label}) is not published by province "
            f"(source: {ind.source}); use level='region'",
            "level",
        )
    pool_units: tuple[str, ...] | None = None
    if isinstance(donor_pool, str):
        if donor_pool not in DONOR_POOLS:
            close = difflib.get_close_matches(donor_pool, DONOR_POOLS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _bad_param(
                f"unknown donor pool {donor_pool!r} (known: {sorted(DONOR_POOLS)}){hint}",
                "donor_pool",
            )
        pool = DONOR_POOLS[donor_pool]
        if pool.level != level:
            raise _bad_param(
                f"donor pool {donor_pool!r} holds {pool.level}s but level={level!r}", "donor_pool"
            )
    else:
        pool_units = tuple(dict.fromkeys(str(u) for u in donor_pool))
        if not pool_units:
            raise _bad_param("the donor list is empty", "donor_pool")
    if isinstance(start, bool) or not isinstance(start, int | np.integer):
        raise _bad_param(f"start must be a year (integer), got {start!r}", "start")
    start = int(start)
    if pre_years is not None:
        if isinstance(pre_years, bool) or not isinstance(pre_years, int | np.integer):
            raise _bad_param(
                f"pre_years must be a year (integer) or None, got {pre_years!r}", "pre_years"
            )
        pre_years = int(pre_years)
        if pre_years < 1900:
            raise _bad_param(
                f"pre_years={pre_years} is not a year: pre_years is the FIRST "
                "pre-period year (e.g. 2010), not a number of years",
                "pre_years",
            )
        if pre_years >= start:
            raise _bad_param(f"pre_years={pre_years} must be before start={start}", "pre_years")

    source = f"indicator {indicator!r} ({ind.panel})" if data is None else "DataFrame argument"
    if data is None:
        raw = indicators.series(indicator, sex=sex)
    elif "sex" in data.columns:
        raw = data[data["sex"] == sex].copy()
        if raw.empty:
            raise fail(
                source,
                f"no rows with sex={sex!r} (sexes present: "
                f"{sorted(data['sex'].dropna().astype(str).unique())})",
                column="sex",
            )
    elif sex != "T":
        raise _bad_param(
            f"sex={sex!r} cannot be applied to data= without a 'sex' column; filter the "
            "data to one sex yourself and leave sex='T', or add a 'sex' column",
            "sex",
            [sex],
        )
    else:
        raw = data.copy()
    raw = _check_series(raw, source)
    notes: list[str] = []
    raw["region"] = raw["region"].fillna("")

    # -- treated unit ---------------------------------------------------------------------------
    levels_of = raw.groupby("unit")["level"].first()
    if treated_unit not in levels_of.index:
        close = difflib.get_close_matches(treated_unit, levels_of.index.tolist(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise fail(
            source,
            f"treated unit {treated_unit!r} not found in the {indicator!r} "
            f"series (sex={sex}){hint}",
            column="unit",
            rows=[treated_unit],
        )
    if levels_of[treated_unit] != level:
        raise fail(
            source,
            f"treated unit {treated_unit!r} is a {levels_of[treated_unit]}, not a {level}",
            column="level",
            rows=[treated_unit],
        )
    tr = raw[(raw["unit"] == treated_unit) & raw["value"].notna()]
    tr_years = sorted(int(y) for y in tr["year"])
    if not tr_years:
        raise fail(
            source,
            f"treated unit {treated_unit!r} has no value",
            column="value",
            rows=[treated_unit],
        )
    first_obs, last_obs = tr_years[0], tr_years[-1]
    if not first_obs < start <= last_obs:
        raise fail(
            source,
            f"start={start} is outside the data: {treated_unit!r} has values "
            f"from {first_obs} to {last_obs}; start must be after the first year and not "
            "after the last",
            column="year",
            rows=[start],
        )
    all_years = sorted(int(y) for y in raw["year"].unique())
    if pre_years is not None and pre_years < all_years[0]:
        raise fail(
            source,
            f"pre_years={pre_years} is before the first year of the data ({all_years[0]})",
            column="year",
            rows=[pre_years],
        )
    first = pre_years if pre_years is not None else first_obs
    window_years = list(range(first, last_obs + 1))
    treated_region = str(tr["region"].iloc[0])

    excluded: list[dict[str, Any]] = []
    kept_years = []
    for y in window_years:
        if y in tr_years:
            kept_years.append(y)
            continue
        key = geography.known_gap(indicator, y)
        any_unit = raw.loc[(raw["year"] == y) & raw["value"].notna()].shape[0] > 0
        reason = key or (
            f"no value for {treated_unit} in {y}"
            + ("" if any_unit else " (not published for any unit)")
        )
        excluded.append(
            {
                "unit": None,
                "year": y,
                "rule": "year",
                "reason": reason + "; year dropped for every unit",
            }
        )
    pre = tuple(y for y in kept_years if y < start)
    post = tuple(y for y in kept_years if y >= start)
    if len(pre) < 2:
        raise fail(
            source,
            f"fewer than 2 pre-period years with a value for {treated_unit!r} "
            f"between {first} and {start - 1} (found {len(pre)}: {list(pre)})",
            column="year",
            rows=list(pre),
        )

    # -- candidate donors -------------------------------------------------------------------------
    contains = geography.containing(treated_region if level == "province" else treated_unit, level)
    units = raw.drop_duplicates("unit").set_index("unit")[["level", "region"]]
    if pool_units is not None:
        unknown = [u for u in pool_units if u not in units.index]
        wrong = [u for u in pool_units if u in units.index and units.loc[u, "level"] != level]
        if unknown or wrong:
            viol = []
            if unknown:
                viol.append(
                    Violation(
                        rule="donor(s) not found in the series", column="donor_pool", rows=unknown
                    )
                )
            if wrong:
                viol.append(
                    Violation(
                        rule=f"donor(s) not of level {level!r}", column="donor_pool", rows=wrong
                    )
                )
            raise DataValidationError(PARAMS, viol)
        if treated_unit in pool_units:
            raise _bad_param(
                f"the treated unit {treated_unit!r} is in the donor list",
                "donor_pool",
                [treated_unit],
            )
    candidates = []
    for u, row in units.iterrows():
        if u == treated_unit:
            continue
        lvl, reg = row["level"], row["region"]
        if lvl != level:
            if u in contains:
                excluded.append(
                    {
                        "unit": u,
                        "year": None,
                        "rule": "contains_treated",
                        "reason": f"{lvl} that contains {treated_unit}",
                    }
                )
            else:
                excluded.append(
                    {"unit": u, "year": None, "rule": "level", "reason": f"a {lvl}, not a {level}"}
                )
            continue
        if pool_units is not None:
            if u not in pool_units:
                excluded.append(
                    {
                        "unit": u,
                        "year": None,
                        "rule": "pool",
                        "reason": "not in the donor list supplied",
                    }
                )
                continue
        elif DONOR_POOLS[donor_pool].area == "mezzogiorno":  # type: ignore[index]
            where = reg if level == "province" else u
            if not geography.in_area("mezzogiorno", where):
                excluded.append(
                    {
                        "unit": u,
                        "year": None,
                        "rule": "pool",
                        "reason": f"outside the Mezzogiorno ({where or 'region unknown'})",
                    }
                )
                continue
        candidates.append(u)

    years_all = [*pre, *post]
    win = raw[
        raw["unit"].isin([treated_unit, *candidates]) & raw["year"].between(first, last_obs)
    ].copy()
    wide = win.pivot(index="year", columns="unit", values="value").reindex(years_all)
    unrel = win[win["unreliable"].astype(bool) & win["year"].isin(years_all)]
    donors = []
    present = set(candidates)
    for u in candidates:
        reasons, rules = [], []
        parts = [p for p in geography.AGGREGATES.get(u, ()) if p in present]
        if parts:
            rules.append("aggregate")
            reasons.append(
                f"aggregate of {' and '.join(parts)}, which are candidate donors "
                "themselves (no double counting)"
            )
        if u in geography.ABOLISHED:
            rules.append("abolished")
            reasons.append(geography.ABOLISHED[u])
        for bc in geography.boundary_changes(u, first):
            rules.append("boundary")
            reasons.append(
                f"territory changed: {bc.note}; the window starts in {first} "
                f"(set pre_years >= {bc.first_year} to use it)"
            )
        miss = wide[u].isna().to_numpy()
        if miss.any():
            yrs = [y for y, m in zip(years_all, miss, strict=True) if m]
            rules.append("missing")
            reasons.append(f"missing value(s) in {year_span(yrs)}")
        if exclude_unreliable:
            uy = sorted(int(y) for y in unrel.loc[unrel["unit"] == u, "year"])
            if uy:
                rules.append("unreliable")
                reasons.append(f"value(s) flagged unreliable (u) in {year_span(uy)}")
        if rules:
            excluded.append(
                {"unit": u, "year": None, "rule": rules[0], "reason": "; ".join(reasons)}
            )
        else:
            donors.append(u)
    if not donors:
        why = [
            f"{e['unit']}: {e['reason']}"
            for e in excluded
            if e["rule"] in ("aggregate", "abolished", "boundary", "missing", "unreliable")
        ]
        raise fail(
            source,
            f"no donors left after the exclusions ({len(candidates)} candidate(s) "
            f"in the pool; e.g. {why[:3]})",
            column="unit",
            rows=candidates,
        )

    tr_unrel = tr[tr["unreliable"].astype(bool) & tr["year"].isin(years_all)]
    if len(tr_unrel):
        notes.append(
            f"{treated_unit} has values flagged unreliable in "
            f"{year_span(tr_unrel['year'])}: kept, read them with care."
        )
    cols = ["unit", "region", "year", "value", "flag", "source", "break", "unreliable"]
    data_out = (
        win[win["unit"].isin([treated_unit, *donors]) & win["year"].isin(years_all)][cols]
        .sort_values(["unit", "year"])
        .reset_index(drop=True)
    )
    window_out = win[cols].sort_values(["unit", "year"]).reset_index(drop=True)
    ex = pd.DataFrame(excluded, columns=list(EXCLUDED_COLUMNS))
    ex["year"] = ex["year"].astype("Int64")
    design = Design(
        indicator=indicator,
        level=level,
        treated_unit=treated_unit,
        start=start,
        donor_pool=donor_pool if isinstance(donor_pool, str) else pool_units,
        sex=sex,
        pre_years=pre_years,
        exclude_unreliable=exclude_unreliable,
    )
    return TerritorialPanel(
        design=design,
        indicator=ind,
        data=data_out,
        window=window_out,
        donors=tuple(sorted(donors)),
        excluded=ex,
        pre_periods=pre,
        post_periods=post,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# Estimation (analysis.synth) and the page built from it
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TerritorialAnalysis:
    """One territorial analysis: the panel, the three estimators on it, and the page's pieces.

    Built by :func:`analyse` (or :func:`triangulate` on a panel).  The estimation is
    :class:`analysis.synth.Triangulation` (:attr:`estimates`); this object adds what the page
    needs: words that know the indicator and the programme, captions, and the arguments of
    ``display.show_table`` / ``display.show_figure`` (the ``*_view`` methods return
    ``{"df" | "fig": ..., "caption": ..., ...}``).

    Attributes
    ----------
    panel
        The estimation panel (:func:`build_panel`).
    estimates
        Synthetic control, synthetic DiD and DiD with placebos and leave-one-out.
    """

    panel: TerritorialPanel
    estimates: synth.Triangulation

    # -- the estimation, as the page reads it ------------------------------------------------
    @property
    def results(self) -> Mapping[str, synth.SynthResult]:
        """``{"sc", "sdid", "did"}`` -> :class:`analysis.synth.SynthResult`."""
        return self.estimates.results

    @property
    def placebos(self) -> Mapping[str, synth.PlaceboInSpace]:
        """In-space placebo tests, same keys."""
        return self.estimates.placebos

    @property
    def in_time(self) -> Mapping[str, synth.SynthResult | None]:
        """In-time placebo results, same keys (``None`` where not run)."""
        return self.estimates.in_time

    @property
    def fake_start(self) -> int | None:
        """Fake start of the in-time placebo."""
        return self.estimates.fake_start

    @property
    def loo(self) -> Mapping[str, synth.LeaveOneOut]:
        """Leave-one-out re-estimates, same keys."""
        return self.estimates.loo

    @property
    def max_pre_mspe_ratio(self) -> float:
        """``k`` of the filtered permutation p-value."""
        return self.estimates.max_pre_mspe_ratio

    @property
    def notes(self) -> tuple[str, ...]:
        """What the estimation noticed (library warnings, exact fits, placebos not run)."""
        return self.estimates.notes

    @property
    def sc(self) -> synth.SynthResult:
        """Synthetic control result."""
        return self.estimates.sc

    def table(self) -> pd.DataFrame:
        """The triangulation table (:meth:`analysis.synth.Triangulation.table`)."""
        return self.estimates.table()

    def placebo_table(self) -> pd.DataFrame:
        """In-space placebo ranks, without and with the pre-fit filter."""
        return self.estimates.placebo_table()

    def placebo_in_time_table(self) -> pd.DataFrame:
        """In-time placebo next to the real estimate."""
        return self.estimates.placebo_in_time_table()

    def leave_one_out_table(self) -> pd.DataFrame:
        """Leave-one-out summary per estimator."""
        return self.estimates.leave_one_out_table()

    def weights_table(self, top: int = 12) -> pd.DataFrame:
        """Largest donor weights of the synthetic control and synthetic DiD."""
        return self.estimates.weights_table(top)

    def gap_by_year(self) -> pd.DataFrame:
        """Observed value, the three counterfactuals and gaps, by year."""
        return self.estimates.gap_by_year()

    # -- words -----------------------------------------------------------------------------------
    @property
    def who(self) -> str:
        """Indicator and sex, for captions (``"NEET rate (15-29), both sexes"``)."""
        return f"{self.panel.indicator.label}, {SEXES[self.panel.design.sex]}"

    @property
    def source(self) -> str:
        """Caption ending: years without data and the source."""
        p = self.panel
        return f"{p.missing_years_note()} Source: {p.indicator.source}.".strip()

    def question(self) -> str:
        """The question and the identifying assumptions (markdown); see :func:`question`."""
        return question(self.panel)

    def headline(self) -> dict[str, float]:
        """The few numbers of the reports index."""
        t = self.table().set_index("estimator")
        u = "pp" if self.panel.gap_unit == "percentage points" else self.panel.gap_unit
        return {
            f"SC ATT ({u})": float(t.loc["Synthetic control", "att"]),
            f"SDID ATT ({u})": float(t.loc["Synthetic DiD", "att"]),
            f"DiD ATT ({u})": float(t.loc["DiD (unit + year effects)", "att"]),
            "SC permutation p": float(t.loc["Synthetic control", "p_permutation"]),
        }

    def conclusion(self) -> str:
        """Plain-words conclusion: effect size, uncertainty, post-periods, attribution."""
        return " ".join(self.conclusion_parts())

    def conclusion_parts(self) -> list[str]:
        """The conclusion in three paragraphs: estimates, robustness, attribution."""
        p, ind, d = self.panel, self.panel.indicator, self.panel.design
        t = self.table()
        unit = p.gap_unit
        post = p.post_periods
        span = f"{post[0]}" if len(post) == 1 else f"{post[0]}-{post[-1]}"
        est = "; ".join(
            f"{r.estimator} {r.att:+.1f} ({ci_label(self.sc.level)} {r.ci_low:+.1f} to "
            f"{r.ci_high:+.1f}, permutation p = {r.p_permutation:.2f})"
            for r in t.itertuples()
        )
        first = (
            f"Over the {p.n_post} post-period year(s) available ({span}), {ind.name} in "
            f"{d.treated_unit} differed from its estimated counterfactual by, on average: "
            f"{est} {unit}."
        )
        signs = set(np.sign(t["att"]).astype(int))
        covers = ((t["ci_low"] <= 0) & (t["ci_high"] >= 0)).tolist()
        lo, hi = float(t["att"].min()), float(t["att"].max())
        if all(covers):
            verdict = (
                f"All three intervals include zero and the gaps range from {lo:+.1f} to "
                f"{hi:+.1f} {unit}: the data do not distinguish {d.treated_unit}'s path "
                "from that of comparable territories."
            )
        elif not any(covers):
            verdict = (
                f"All three intervals exclude zero (gaps {lo:+.1f} to {hi:+.1f} {unit}): "
                f"{d.treated_unit} moved differently from comparable territories."
            )
        else:
            out = t[[not c for c in covers]]
            which = " and ".join(out["estimator"])
            perm = ", ".join(f"{r.p_permutation:.2f}" for r in out.itertuples())
            n_units = int(t["n_units"].iloc[0])
            agree = (
                "The estimators agree on the sign, but only " if len(signs - {0}) == 1 else "Only "
            )
            verdict = (
                f"{agree}{which} has an interval excluding zero, with a permutation "
                f"p-value of {perm} (the smallest possible with {n_units} units is "
                f"{1 / n_units:.2f}): the evidence that {d.treated_unit} departed from "
                f"comparable territories is weak (gaps {lo:+.1f} to {hi:+.1f} {unit})."
            )
        if len(signs - {0}) > 1:
            verdict += (
                " The point estimates straddle zero."
                if all(covers)
                else " The estimators also disagree on the sign."
            )
        if p.n_post <= 2:
            verdict += (
                f" With only {p.n_post} post-period year(s), one noisy survey year "
                "weighs heavily on the average; the estimate will move as new years "
                "are published."
            )

        y = p.data[p.data["unit"] == d.treated_unit].set_index("year")["value"]
        noise = (
            float(np.std(np.diff(y.loc[list(p.pre_periods)].to_numpy()), ddof=1))
            if p.n_pre > 2
            else float("nan")
        )
        fit = (
            f"Pre-period fit: root mean squared gap {self.sc.pre_rmspe:.1f} {unit} for the "
            f"synthetic control, {self.results['sdid'].pre_rmspe:.1f} for synthetic DiD and "
            f"{self.results['did'].pre_rmspe:.1f} for DiD"
        )
        if math.isfinite(noise):
            fit += (
                f"; before {d.start} the indicator moved by about {noise:.1f} {unit} "
                "from one year to the next (standard deviation of yearly changes)"
            )
        robust = [fit + "."]
        robust += [n for n in self.notes if "reproduces the pre-period exactly" in n]
        if self.in_time.get("sc") is not None:
            r = self.in_time["sc"]
            size = "at least as large as" if abs(r.att) >= abs(self.sc.att) else "smaller than"
            robust.append(
                f"The in-time placebo (data cut at {d.start}, fake start "
                f"{self.fake_start}) gives a synthetic-control gap of {r.att:+.1f} "
                f"{unit}, {size} the real one."
            )
        at_start = [r for r in p.breaks().itertuples() if r.year == d.start]
        for r in at_start:
            robust.append(
                f"The {r.year} {r.what.split(' (')[0]} ({r.cause}) coincides with the "
                "start, so "
                "part of any gap may come from the new survey rules (section 2)."
            )
        lo_sc, hi_sc = self.loo["sc"].att_range
        if math.isfinite(lo_sc):
            robust.append(
                f"Dropping one weighted donor at a time moves the synthetic-control "
                f"gap between {lo_sc:+.1f} and {hi_sc:+.1f} {unit}."
            )

        facts = programme_facts()
        reach = facts.reach_by_start().get(d.start, "the programme reaches a few hundred people")
        size = facts.territory_size(d.treated_unit) or f"a {d.level}"
        group = geography.population(d.indicator) or "people the indicator covers"
        attribution = (
            f"Whatever its size, this gap is context, not the programme's effect: {reach}, "
            f"while {d.treated_unit} is {size}. One point of {ind.name} is one in a hundred of "
            f"all the {d.level}'s {group}, and other policies and shocks act on the whole "
            "territory at the same time. The programme's effect must be estimated on its "
            "participants (pupil-level design), not read from a territorial rate."
        )
        return [f"{first} {verdict}", " ".join(robust), attribution]

    # -- the page: arguments of display.show_table / show_figure, and notes ---------------------
    def data_sheet_view(self) -> dict[str, Any]:
        """What the estimates rest on (key/value table)."""
        return {
            "df": self.panel.data_sheet(),
            "caption": f"What the estimates rest on: {self.who}. {self.source}",
        }

    def data_notes(self) -> list[tuple[str, str]]:
        """``(text, kind)``: breaks and splices, and what a clean window looks like."""
        p = self.panel
        out = [(t, "warning" if "coincides" in t else "info") for t in p.break_notes()]
        if p.flags_summary().empty:
            out.append(
                (
                    "No observation of the treated unit or of the candidate donors carries a "
                    "flag (unreliable estimate, provisional value) in the estimation window.",
                    "info",
                )
            )
        if p.excluded_donors().empty:
            out.append(
                (
                    f"No candidate donor was excluded: all {len(p.donors)} have complete, "
                    "unflagged values in the window.",
                    "info",
                )
            )
        return out

    def exclusion_views(self) -> list[dict[str, Any]]:
        """Flagged observations and excluded donors (when any), and units never candidates."""
        p = self.panel
        out = []
        flags = p.flags_summary()
        if not flags.empty:
            out.append(
                {
                    "df": flags,
                    "caption": "Units with flagged observations in the window (u = low "
                    "reliability, Eurostat; .. = below ISTAT's reliability threshold; "
                    "missing_values = flagged years without a value; used = the unit is in the "
                    f"estimation panel). {self.source}",
                }
            )
        excl = p.excluded_donors()
        if not excl.empty:
            out.append(
                {
                    "df": excl,
                    "caption": f"Candidate donors excluded ({len(excl)}) and why; "
                    f"{len(p.donors)} donors remain: {', '.join(p.donors)}.",
                }
            )
        out.append(
            {
                "df": p.not_used(),
                "caption": "Units of the source that are never candidates: other territorial "
                "levels, aggregates, and units outside the donor pool.",
            }
        )
        return out

    def paths_view(self) -> dict[str, Any]:
        """Observed path and the three counterfactuals (figure)."""
        p, d = self.panel, self.panel.design
        return {
            "fig": plot_paths(self),
            "caption": f"{self.who}: {d.treated_unit} (black) and its counterfactuals from "
            f"{len(p.donors)} donor {d.level}s. Unit: {p.indicator.unit}. Shaded: years from "
            f"{d.start}. {self.source}",
        }

    def gap_by_year_view(self) -> dict[str, Any]:
        """Observed value, counterfactuals and gaps by year (table)."""
        return {
            "df": for_display(self.gap_by_year()),
            "caption": "Observed value, counterfactual and gap (observed minus counterfactual) "
            f"by year and estimator ({self.panel.gap_unit}). {self.source}",
            "digits": 2,
        }

    def gaps_view(self) -> dict[str, Any]:
        """Synthetic-control gap of the treated unit and of every placebo (figure)."""
        d = self.panel.design
        return {
            "fig": plot_gaps(self),
            "caption": f"{self.who}: gap between {d.treated_unit} and its synthetic control "
            "(black) and the same gap for every donor used as a placebo (grey), "
            f"{self.panel.gap_unit}. Shaded: years from {d.start}. {self.source}",
        }

    def weights_view(self) -> dict[str, Any]:
        """Donor and year weights (figure)."""
        return {
            "fig": plot_weights(self),
            "caption": "Donor weights of the synthetic control and of synthetic DiD (largest 12, "
            "positive only) and synthetic-DiD weights of the pre-period years. Weights sum to "
            f"one. {self.source}",
        }

    def weights_table_view(self) -> dict[str, Any]:
        """Largest donor weights (table)."""
        return {
            "df": for_display(self.weights_table()),
            "caption": "Largest donor weights (synthetic control, synthetic DiD).",
            "digits": 3,
        }

    def estimates_view(self) -> dict[str, Any]:
        """The three estimators side by side (table)."""
        p, d = self.panel, self.panel.design
        return {
            "df": for_display(self.table(), level=self.sc.level),
            "caption": f"{self.who}, {d.treated_unit}, start {d.start}: average gap over "
            f"{p.n_post} post-period years ({year_span(p.post_periods)}) and {p.n_pre} "
            f"pre-period years ({year_span(p.pre_periods)}); ATT, SE, CI and pre-RMSPE in "
            f"{p.gap_unit}. {self.sc.replications} placebo draws from the random stream "
            f"'placebo' of seed {self.estimates.seed}. {self.source}",
            "digits": 3,
        }

    def placebo_view(self) -> dict[str, Any]:
        """In-space placebo ranks (table)."""
        return {
            "df": for_display(self.placebo_table()),
            "caption": f"In-space placebo tests: rank of {self.panel.treated_unit}'s post/pre "
            "mean squared gap ratio (1 = largest) among all units, and among units whose "
            f"pre-period fit is no worse than {self.max_pre_mspe_ratio:g} times the treated "
            "unit's.",
            "digits": 3,
        }

    def in_time_views(self) -> list[dict[str, Any]]:
        """The in-time placebo table (empty list when it was not run: see :attr:`notes`)."""
        it = self.placebo_in_time_table()
        if it.empty:
            return []
        return [
            {
                "df": for_display(it),
                "caption": f"In-time placebo: data cut at {self.panel.start}, fake start "
                f"{self.fake_start} (middle of the pre-period); placebo ATT next to the real "
                f"one ({self.panel.gap_unit}). {self.source}",
                "digits": 2,
            }
        ]

    def leave_one_out_view(self) -> dict[str, Any]:
        """Leave-one-out summary (table)."""
        return {
            "df": for_display(self.leave_one_out_table()),
            "caption": "Leave-one-out: ATT re-estimated without each donor of positive weight in "
            f"turn ({self.panel.gap_unit}).",
            "digits": 2,
        }

    def leave_one_out_figure_view(self) -> dict[str, Any]:
        """Leave-one-out synthetic controls (figure)."""
        p, d = self.panel, self.panel.design
        return {
            "fig": plot_leave_one_out(self),
            "caption": f"{self.who}: synthetic control of {d.treated_unit} with all donors "
            "(blue) and without each weighted donor in turn (grey). Unit: "
            f"{p.indicator.unit}. Shaded: years from {d.start}. {self.source}",
        }

    # -- conventions ---------------------------------------------------------------------------
    def tidy(self) -> pd.DataFrame:
        """Return :meth:`table`."""
        return self.table()

    def summary(self) -> str:
        """Return the panel summary and one line per estimator."""
        return f"{self.panel.summary()}\n{self.estimates.summary()}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict: the panel, every table and the estimator results."""
        return to_jsonable(
            {
                "panel": self.panel.to_dict(),
                **self.estimates.to_dict(),
                "n_pre": self.panel.n_pre,
                "n_post": self.panel.n_post,
            }
        )


def triangulate(
    panel: TerritorialPanel,
    *,
    replications: int = 200,
    seed: int,
    level: float = 0.95,
    fake_start: int | None = None,
    max_pre_mspe_ratio: float = 5.0,
) -> TerritorialAnalysis:
    """Run :func:`analysis.synth.triangulate` on the panel (three estimators, placebos, LOO).

    Parameters
    ----------
    panel
        From :func:`build_panel`.
    replications
        Placebo draws of the standard errors (Arkhangelsky et al. 2021, Alg. 4).
    seed
        The run's seed; the placebo draws come from its ``"placebo"`` random stream.
    level
        Confidence level of the intervals.
    fake_start
        Fake start of the in-time placebo; default
        :func:`analysis.synth.default_fake_start` of the pre-period.
    max_pre_mspe_ratio
        ``k`` of the filtered permutation p-value (ADH 2010 use 20, 5, 2).

    Returns
    -------
    TerritorialAnalysis
    """
    est = synth.triangulate(
        panel.estimation_frame(),
        outcome="value",
        unit="unit",
        time="year",
        treated_unit=panel.treated_unit,
        start=panel.start,
        donors=list(panel.donors),
        replications=replications,
        seed=seed,
        level=level,
        fake_start=fake_start,
        max_pre_mspe_ratio=max_pre_mspe_ratio,
    )
    for key, r in est.results.items():  # the panel is complete: the estimators must drop nothing
        if not r.excluded.empty:
            raise RuntimeError(f"{key} dropped data from a complete panel: {r.excluded}")
    return TerritorialAnalysis(panel=panel, estimates=est)


def analyse(
    *,
    indicator: str,
    level: str,
    treated_unit: str,
    start: int,
    donor_pool: str | Sequence[str],
    sex: str = "T",
    pre_years: int | None = None,
    exclude_unreliable: bool = True,
    replications: int = 200,
    seed: int,
) -> TerritorialAnalysis:
    """Build the panel (:func:`build_panel`) and run the three estimators on it (:func:`triangulate`).

    The parameters are those of :func:`build_panel` and :func:`triangulate` (the notebook's
    parameters).
    """
    panel = build_panel(
        indicator=indicator,
        level=level,
        treated_unit=treated_unit,
        start=start,
        donor_pool=donor_pool,
        sex=sex,
        pre_years=pre_years,
        exclude_unreliable=exclude_unreliable,
    )
    return triangulate(panel, replications=replications, seed=seed)


def ci_label(level: float) -> str:
    """``"95% CI"`` for ``level=0.95``: the label of an interval at confidence ``level``."""
    return f"{round(100 * float(level), 6):g}% CI"


def display_labels(level: float = 0.95) -> dict[str, str]:
    """Column labels for display, with the CI columns labelled at confidence ``level``."""
    ci = ci_label(level)
    return {**DISPLAY_LABELS, "ci_low": f"{ci} low", "ci_high": f"{ci} high"}


#: Column labels for display (the JSON keeps the snake_case names); the CI labels are those
#: of the default level 0.95 (:func:`display_labels` builds them for another level).
DISPLAY_LABELS = {
    "att": "ATT",
    "se": "SE (placebo)",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "p_normal": "p (normal)",
    "p_permutation": "p (permutation)",
    "rank": "rank",
    "n_units": "units",
    "pre_rmspe": "pre-RMSPE",
    "donors_weighted": "donors with weight",
    "units_compared": "units compared",
    "treated_ratio": "treated post/pre MSPE ratio",
    "fake_start": "fake start",
    "fake_pre": "fake pre-period",
    "fake_post": "fake post-period",
    "placebo_att": "placebo ATT",
    "real_att": "real ATT",
    "att_all_donors": "ATT, all donors",
    "re_estimates": "re-estimates",
    "att_min": "lowest ATT",
    "att_max": "highest ATT",
    "most_influential_donor": "most influential donor",
    "att_without_it": "ATT without it",
    "sc_weight": "synthetic control",
    "sdid_weight": "synthetic DiD",
    "sc_counterfactual": "SC counterfactual",
    "sc_gap": "SC gap",
    "sdid_counterfactual": "SDID counterfactual",
    "sdid_gap": "SDID gap",
    "did_counterfactual": "DiD counterfactual",
    "did_gap": "DiD gap",
    "delta_att": "change in ATT",
}


def for_display(df: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Return ``df`` with readable column labels (and ``post`` as "pre"/"post").

    ``level`` is the confidence level of the ``ci_low``/``ci_high`` columns, used in their
    labels.
    """
    out = df.copy()
    if "post" in out.columns and out["post"].dtype == bool:
        out["post"] = np.where(out["post"], "post", "pre")
        out = out.rename(columns={"post": "period"})
    return out.rename(columns=display_labels(level))


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------
_COLORS = {"sc": "tab:blue", "sdid": "tab:orange", "did": "tab:green"}


def _figure(figsize: tuple[float, float]) -> tuple[Figure, Any]:
    # pyplot (not a bare Figure) so that the notebook's inline backend renders the figure;
    # display.show_figure closes it
    fig = plt.figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _ylabel(panel: TerritorialPanel) -> str:
    return panel.indicator.unit


def _mark_start(ax: Any, panel: TerritorialPanel) -> None:
    first, last = panel.pre_periods[0], panel.post_periods[-1]
    ax.axvspan(panel.start - 0.5, last + 0.5, color="#f2d7a6", alpha=0.35, zorder=0)
    ax.set_xlim(first - 0.5, last + 0.5)


def plot_paths(tri: TerritorialAnalysis, *, figsize: tuple[float, float] = (8.0, 4.5)) -> Figure:
    """Observed path of the treated unit and the three counterfactuals."""
    p = tri.panel
    fig, ax = _figure(figsize)
    sc = tri.results["sc"]
    synth_plots.plot_paths(
        sc,
        ylabel=_ylabel(p),
        xlabel="year",
        ax=ax,
        counterfactual_label="synthetic control",
        title=f"{p.treated_unit}: observed and counterfactual paths",
    )
    for key, label in ESTIMATORS[1:]:
        e = tri.results[key].effects
        ax.plot(
            e["time"],
            e["counterfactual"],
            color=_COLORS[key],
            linestyle=":",
            linewidth=1.8,
            label=f"{label} counterfactual",
        )
    _mark_start(ax, p)
    for y in p.missing_years:
        ax.axvline(y, color="0.6", linestyle=(0, (1, 3)), linewidth=1)
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_gaps(tri: TerritorialAnalysis, *, figsize: tuple[float, float] = (8.0, 4.5)) -> Figure:
    """Synthetic-control gap of the treated unit (black) and of every placebo unit (grey)."""
    p = tri.panel
    fig, ax = _figure(figsize)
    synth_plots.plot_gaps(
        tri.sc, tri.placebos["sc"], ylabel=f"gap ({p.gap_unit})", xlabel="year", ax=ax
    )
    _mark_start(ax, p)
    ax.grid(alpha=0.3)
    return fig


def plot_weights(
    tri: TerritorialAnalysis, *, top: int = 12, figsize: tuple[float, float] = (11.0, 4.2)
) -> Figure:
    """Donor weights (synthetic control, synthetic DiD) and SDID pre-period weights."""
    fig = plt.figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, 3)
    synth_plots.plot_weights(
        tri.results["sc"], top=top, ax=axes[0], title="Synthetic control: donor weights"
    )
    synth_plots.plot_weights(
        tri.results["sdid"],
        top=top,
        ax=axes[1],
        color="tab:orange",
        title="Synthetic DiD: donor weights",
    )
    synth_plots.plot_weights(
        tri.results["sdid"],
        which="time",
        top=None,
        ax=axes[2],
        color="tab:orange",
        title="Synthetic DiD: year weights",
    )
    for ax in axes:
        ax.tick_params(axis="y", labelsize=8)
    return fig


def plot_leave_one_out(
    tri: TerritorialAnalysis, *, figsize: tuple[float, float] = (8.0, 4.5)
) -> Figure:
    """Synthetic-control counterfactual without each weighted donor (grey), and with all."""
    p = tri.panel
    paths = tri.loo["sc"].paths
    fig, ax = _figure(figsize)
    others = [c for c in paths.columns if c not in ("observed", "full")]
    for i, c in enumerate(others):
        ax.plot(
            paths.index,
            paths[c],
            color="0.7",
            linewidth=1,
            label="without one donor" if i == 0 else None,
        )
    ax.plot(
        paths.index,
        paths["full"],
        color="tab:blue",
        linestyle="--",
        linewidth=2,
        label="synthetic control, all donors",
    )
    ax.plot(paths.index, paths["observed"], color="black", linewidth=2, label=p.treated_unit)
    _mark_start(ax, p)
    ax.set_xlabel("year")
    ax.set_ylabel(_ylabel(p))
    ax.set_title(f"Leave-one-out synthetic controls ({len(others)} re-estimates)")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    return fig


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------
def question(panel: TerritorialPanel) -> str:
    """The question and the identifying assumptions, in markdown."""
    d, ind = panel.design, panel.indicator
    facts = programme_facts()
    reach = facts.reach_by_start().get(d.start, "no programme of this evaluation starts that year")
    courses = facts.courses
    pre_note = ""
    if courses.first_year < d.start <= courses.last_year:
        pre_note = (
            f" The pre-period includes {year_span(range(courses.first_year, d.start))}, when "
            f"{courses.name} was already active in Lecce; if it had any effect on the "
            "indicator, this run treats it as part of the baseline."
        )
    return (
        f"**Question.** From {d.start}, did {ind.name} ({SEXES[d.sex]}) in {d.treated_unit} "
        f"evolve differently from the path predicted by comparable {d.level}s? {d.start} is "
        f"when the programme starts acting: {reach}. Donor pool: {d.pool_label}.\n\n"
        "**Assumptions.** (1) *No anticipation*: the indicator did not react before "
        f"{d.start}.{pre_note} (2) *Donors unaffected*: the programme did not change the "
        f"indicator in the donor {d.level}s, and no other shock hit {d.treated_unit} alone "
        "after the start (common shocks are fine). (3) *Pre-period fit*: a weighted "
        f"combination of donors reproduces {d.treated_unit}'s path before {d.start} "
        "(synthetic control), or its changes (synthetic DiD, DiD); the pre-period gaps "
        "below show how well.\n\n"
        "**Scale.** The programme reaches a few hundred people; a provincial or regional rate "
        "summarises thousands to hundreds "
        "of thousands of people (and, for labour-force indicators, is a sample-survey "
        "estimate): this analysis describes the territory's context; it cannot measure the "
        "programme's effect."
    )


__all__ = [
    "Design",
    "TerritorialAnalysis",
    "TerritorialPanel",
    "analyse",
    "build_panel",
    "ci_label",
    "display_labels",
    "for_display",
    "plot_gaps",
    "plot_leave_one_out",
    "plot_paths",
    "plot_weights",
    "question",
    "triangulate",
    "year_span",
]
