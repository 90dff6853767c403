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
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from analysis import significance, synth
from analysis._util import to_jsonable
from analysis.data import geography, indicators, panels
from analysis.data.geography import DONOR_POOLS, LEVELS
from analysis.data.indicators import Indicator
from analysis.errors import DataValidationError, Violation, fail
from analysis.facts import programme_facts
from analysis.i18n import (
    N_,
    Concat,
    Msg,
    Text,
    integer,
    join,
    num,
    pct,
    pp,
    t,
    term,
    tick_formatter,
    translator,
)
from analysis.i18n import date as fdate
from analysis.i18n import year as fyear
from analysis.seeds import SeedStreams
from analysis.synth import plots as synth_plots
from analysis.synth.triangulation import period_span as year_span

#: Source named in the errors about the parameters.
PARAMS = "territorial parameters"

SEXES = {"T": N_("both sexes"), "F": N_("women"), "M": N_("men")}

#: Territorial levels in words (singular and plural).
LEVEL_WORDS = {"province": N_("province"), "region": N_("region")}
LEVEL_PLURAL = {"province": N_("provinces"), "region": N_("regions")}

#: Why a unit is not a donor (rules of :attr:`TerritorialPanel.excluded`), in words.
RULE_WORDS = {
    "contains_treated": N_("aggregate that contains the treated unit (never a donor)"),
    "level": N_("another territorial level or an aggregate (never a donor)"),
    "pool": N_("outside the donor pool"),
    "aggregate": N_("aggregate of units that are candidate donors themselves (no double counting)"),
    "abolished": N_("province abolished (its series stops)"),
    "boundary": N_("territory changed inside the window"),
    "missing": N_("missing values"),
    "unreliable": N_("values flagged unreliable (u)"),
}

#: Kinds of seams in a series, and where they fall relative to the start.
SEAM_WORDS = {
    "splice": N_("edition splice"),
    "break": N_("series break (Eurostat flag b)"),
    "pre": N_("pre-period"),
    "start": N_("start year: coincides with the start"),
    "post": N_("post-period"),
    "splice_cause": N_(
        "ISTAT ed. 2025 values from this year; earlier years are ed. 2021 values shifted by "
        "the mean overlap difference"
    ),
    "undocumented": N_("cause not documented in PROVENANCE.md"),
    "all_units": N_("all units"),
}

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
    def pool_label(self) -> Text:
        """Donor pool in words (a message)."""
        if isinstance(self.donor_pool, str):
            return term(DONOR_POOLS[self.donor_pool].description)
        return t("a list of units supplied by the user ({units})", units=", ".join(self.donor_pool))

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
    notes: tuple[Text, ...] = ()
    exclusion_details: tuple[tuple[str, str, str], ...] = ()
    """``(unit, rule, years)`` for every reason a candidate donor was excluded."""

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

    def missing_years_note(self) -> Text:
        """Caption sentence on the years without data ("" when none)."""
        ex = self.excluded[self.excluded["rule"] == "year"]
        if ex.empty:
            return ""
        yrs = year_span(ex["year"])
        gap = geography.known_gap(self.design.indicator, int(ex["year"].iloc[0]))
        if gap:
            return t(
                "No value in {years} ({why}): lines join the neighbouring years.",
                years=yrs,
                why=term(gap),
            )
        return t("No value in {years}: lines join the neighbouring years.", years=yrs)

    def estimation_frame(self) -> pd.DataFrame:
        """Return ``unit, year, value`` for the estimators."""
        return self.data[["unit", "year", "value"]].copy()

    # -- tables -------------------------------------------------------------------------------
    def excluded_donors(self) -> pd.DataFrame:
        """Candidate donors (right level, inside the pool) that were excluded, and why."""
        ex = self.excluded
        cand = ex["rule"].isin(["aggregate", "abolished", "boundary", "missing", "unreliable"])
        return ex.loc[cand, ["unit", "reason"]].reset_index(drop=True)

    def excluded_donors_table(self) -> pd.DataFrame:
        """For the page: one row per excluded candidate donor and reason (human headers)."""
        rows = [
            {N_("Territory"): u, N_("Reason"): RULE_WORDS[r], N_("Years"): y or "–"}
            for u, r, y in self.exclusion_details
        ]
        return pd.DataFrame(rows, columns=[N_("Territory"), N_("Reason"), N_("Years")])

    def boundary_notes(self) -> list[Msg]:
        """One sentence per boundary change that excluded a candidate donor."""
        first = self.pre_periods[0]
        units = [u for u, r, _ in self.exclusion_details if r == "boundary"]
        seen: dict[int, Msg] = {}
        for u in units:
            for bc in geography.boundary_changes(u, first):
                seen.setdefault(
                    id(bc),
                    t(
                        "{note}. The window starts in {first}; a first pre-period year of "
                        "{year} or later would keep these provinces.",
                        note=term(bc.note),
                        first=fyear(first),
                        year=fyear(bc.first_year),
                    ),
                )
        return list(seen.values())

    def not_used(self) -> pd.DataFrame:
        """Units of the source that are not candidates (other level, outside the pool).

        One row per reason: ``why``, ``n_units``, ``units`` (every name).
        """
        ex = self.excluded
        rows = []
        for rule in ("contains_treated", "level", "pool"):
            units = ex.loc[ex["rule"] == rule, "unit"].tolist()
            if units:
                rows.append(
                    {
                        N_("Why not a candidate"): RULE_WORDS[rule],
                        N_("Number of units"): len(units),
                        N_("Units"): ", ".join(units),
                    }
                )
        return pd.DataFrame(
            rows, columns=[N_("Why not a candidate"), N_("Number of units"), N_("Units")]
        )

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
                what = SEAM_WORDS["splice"]
                cause = SEAM_WORDS["splice_cause"]
            else:
                what = SEAM_WORDS["break"]
                cause = indicators.LFS_BREAK_NOTES.get(year, SEAM_WORDS["undocumented"])
            if year < self.start:
                pos = SEAM_WORDS["pre"]
            elif year == self.start:
                pos = SEAM_WORDS["start"]
            else:
                pos = SEAM_WORDS["post"]
            units = (
                SEAM_WORDS["all_units"]
                if grp["unit"].nunique() == n_units
                else ", ".join(sorted(grp["unit"].unique()))
            )
            rows.append(
                {"year": year, "what": what, "cause": cause, "units": units, "position": pos}
            )
        return pd.DataFrame(rows, columns=["year", "what", "cause", "units", "position"])

    def break_notes(self) -> list[Msg]:
        """Plain-words warnings about breaks and splices relative to the start year."""
        out = []
        d = self.design
        for r in self.breaks().itertuples():
            if r.year == d.start:
                out.append(
                    t(
                        "The {year} {what} ({cause}) coincides with the start: the first "
                        "post-period year is also the first year of the new series, so a level "
                        "shift caused by the new survey rules that differs between {unit} and "
                        "its donors would be read as a gap. Breaks that hit every unit equally "
                        "are absorbed by the comparison.",
                        year=fyear(r.year),
                        what=term(r.what),
                        cause=term(r.cause),
                        unit=d.treated_unit,
                    )
                )
            elif r.year < d.start and self.indicator.panel != "bes_spliced":
                out.append(
                    t(
                        "The {year} {what} ({cause}) falls inside the pre-period: the "
                        "counterfactual is fitted across it.",
                        year=fyear(r.year),
                        what=term(r.what),
                        cause=term(r.cause),
                    )
                )
        if self.indicator.panel == "bes_spliced" and self._n22():
            out.append(
                t(
                    "ISTAT rebuilt this labour-force series from 2018 under the 2021 EU-LFS "
                    "rules (code suffix -N22, ed. 2025), so the 2021 survey break is bridged "
                    "inside the ed. 2025 values; the remaining seam is the 2018 splice with "
                    "ed. 2021, in the pre-period."
                )
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

    def data_sheet(self) -> list[tuple[str, Text]]:
        """What was used: indicator, source, window, splice, breaks, gaps, donors (label, text)."""
        ind, d = self.indicator, self.design
        br = self.breaks()
        sp = self.splice()
        dropped = [
            t("{year}: {why}", year=fyear(int(r.year)), why=self._year_reason(int(r.year)))
            for r in self.excluded[self.excluded["rule"] == "year"].itertuples()
        ]
        n_excl = len(self.excluded_donors())
        rows: list[tuple[str, Text]] = [
            (
                N_("Indicator"),
                t(
                    "{label} ({unit}), {sex}",
                    label=term(ind.label),
                    unit=term(ind.unit),
                    sex=term(SEXES[d.sex]),
                ),
            ),
            (N_("Definition"), term(ind.definition) if ind.definition else t("see the source")),
            (N_("Source"), term(ind.source)),
            (
                N_("Treated unit"),
                t("{unit} ({level})", unit=d.treated_unit, level=term(LEVEL_WORDS[d.level])),
            ),
            (
                N_("Pre-period"),
                t(
                    "{span} ({n} years)",
                    span=year_span(self.pre_periods),
                    n=integer(self.n_pre),
                ),
            ),
            (
                N_("Post-period"),
                t(
                    "{span} ({n} years; start {start})",
                    span=year_span(self.post_periods),
                    n=integer(self.n_post),
                    start=fyear(d.start),
                ),
            ),
            (N_("Years dropped"), join(dropped, "; ") if dropped else t("none")),
            (N_("Donor pool"), d.pool_label),
            (
                N_("Donors used"),
                t(
                    "{n} of {total} candidates ({excl} excluded, listed in the annex)",
                    n=integer(len(self.donors)),
                    total=integer(len(self.donors) + n_excl),
                    excl=integer(n_excl),
                ),
            ),
            (
                N_("Unreliable observations"),
                t("donors with a flagged observation in the window are excluded")
                if d.exclude_unreliable
                else t("kept (flagged observations are not excluded in this run)"),
            ),
        ]
        if not sp.empty:
            tr_rows = sp[sp["unit"] == self.treated_unit]
            rows.append(
                (
                    N_("BES editions"),
                    t(
                        "ed. 2025 as published from its first year; earlier years back-cast "
                        "from ed. 2021 plus the mean difference between the two editions over "
                        "the overlap years"
                    ),
                )
            )
            if len(tr_rows):
                tr = tr_rows.iloc[0]
                rows.append(
                    (
                        N_("Splice of the treated unit"),
                        t(
                            "{unit}: ed. 2021 {shift} for {old}; ed. 2025 for {new}",
                            unit=self.treated_unit,
                            shift=pp(float(tr["shift"]), 2),
                            old=tr["years_ed2021_shifted"],
                            new=tr["years_ed2025"],
                        ),
                    )
                )
            dn = sp[sp["unit"] != self.treated_unit]["shift"]
            if len(dn):
                rows.append(
                    (
                        N_("Splice shifts of the donors"),
                        t(
                            "median {median} (range {lo} to {hi})",
                            median=pp(float(dn.median()), 2),
                            lo=pp(float(dn.min()), 2),
                            hi=pp(float(dn.max()), 2),
                        ),
                    )
                )
        seams = [
            t(
                "{year} {what}, {cause} ({position})",
                year=fyear(r.year),
                what=term(r.what),
                cause=term(r.cause),
                position=term(r.position),
            )
            for r in br.itertuples()
        ]
        rows.append((N_("Breaks in the window"), join(seams, "; ") if seams else t("none flagged")))
        rows += [(N_("Note"), n) for n in self.notes]
        return rows

    def _year_reason(self, y: int) -> Text:
        gap = geography.known_gap(self.design.indicator, y)
        return term(gap) if gap else t("no value for the treated unit; year dropped for every unit")

    def data_sheet_text(self) -> Concat:
        """:meth:`data_sheet` as a Markdown list (label in bold, then the text)."""
        return join(
            # a Concat is never passed as a t() value (format_value renders it in English)
            [join([t("- **{label}:**", label=term(k)), v], " ") for k, v in self.data_sheet()],
            "\n",
        )

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
                "notes": [str(n) for n in self.notes],
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
    notes: list[Text] = []
    details: list[tuple[str, str, str]] = []
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
            details.append((u, "aggregate", ""))
            rules.append("aggregate")
            reasons.append(
                f"aggregate of {' and '.join(parts)}, which are candidate donors "
                "themselves (no double counting)"
            )
        if u in geography.ABOLISHED:
            details.append((u, "abolished", ""))
            rules.append("abolished")
            reasons.append(geography.ABOLISHED[u])
        for bc in geography.boundary_changes(u, first):
            details.append((u, "boundary", f"{first}-{bc.first_year - 1}"))
            rules.append("boundary")
            reasons.append(
                f"territory changed: {bc.note}; the window starts in {first} "
                f"(set pre_years >= {bc.first_year} to use it)"
            )
        miss = wide[u].isna().to_numpy()
        if miss.any():
            yrs = [y for y, m in zip(years_all, miss, strict=True) if m]
            details.append((u, "missing", year_span(yrs)))
            rules.append("missing")
            reasons.append(f"missing value(s) in {year_span(yrs)}")
        if exclude_unreliable:
            uy = sorted(int(y) for y in unrel.loc[unrel["unit"] == u, "year"])
            if uy:
                details.append((u, "unreliable", year_span(uy)))
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
            t(
                "{unit} has values flagged unreliable in {years}: kept, read them with care.",
                unit=treated_unit,
                years=year_span(tr_unrel["year"]),
            )
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
        exclusion_details=tuple(details),
    )


# --------------------------------------------------------------------------------------------
# Inference: the placebo rule of analysis.significance, applied to a synthetic-control result
# --------------------------------------------------------------------------------------------
def _pre_scale(result: synth.SynthResult) -> float:
    """Standard deviation of the treated unit's pre-period values (scale of an exact fit)."""
    pre = result.effects.loc[~result.effects["post"], "observed"]
    return float(np.std(pre, ddof=1)) if len(pre) > 1 else 0.0


def exact_pre_fit(result: synth.SynthResult) -> bool:
    """Whether ``result`` reproduces the treated unit's pre-period exactly.

    :func:`analysis.significance.is_exact_fit` with the standard deviation of the treated
    pre-period values as the scale (the criterion of :func:`analysis.synth.triangulate`'s note).
    """
    return significance.is_exact_fit(result.pre_rmspe, pre_scale=_pre_scale(result))


def _placebo_call(
    result: synth.SynthResult, space: synth.PlaceboInSpace
) -> significance.PlaceboSignificance:
    """:func:`analysis.significance.classify_placebo` of ``result`` and its in-space placebos."""
    return significance.classify_placebo(
        att=result.att,
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        rank=space.treated_rank,
        n_units=space.n_units,
        pre_rmspe=result.pre_rmspe,
        pre_scale=_pre_scale(result),
        treated_ratio=space.treated_ratio,
    )


def _same_call(a_lo: float, a_hi: float, b_lo: float, b_hi: float) -> bool:
    """Whether two intervals say the same about zero (both include or exclude it alike)."""

    def call(lo: float, hi: float) -> int:
        return 0 if lo <= 0 <= hi else (1 if lo > 0 else -1)

    return call(a_lo, a_hi) == call(b_lo, b_hi)


# --------------------------------------------------------------------------------------------
# Estimation (analysis.synth) and the page built from it
# --------------------------------------------------------------------------------------------
#: Estimator labels of :data:`analysis.synth.triangulation.ESTIMATORS`, marked for the catalog.
ESTIMATOR_WORDS = {
    "sc": N_("Synthetic control"),
    "sdid": N_("Synthetic DiD"),
    "did": N_("DiD (unit + year effects)"),
}

#: Donor pools in a few words (table cells).
POOL_SHORT = {
    "south_provinces": N_("provinces of the Mezzogiorno"),
    "all_provinces": N_("all Italian provinces"),
    "south_regions": N_("regions of the Mezzogiorno"),
    "all_regions": N_("all Italian regions"),
}

#: Kinds of run in the robustness table.
RUN_WORDS = {
    "headline": N_("headline"),
    "donor_pool": N_("alternative donor pool"),
    "pre_window": N_("alternative pre-period window"),
}

#: The other named pool of the same level: the alternative-donor-pool robustness run.
ALTERNATIVE_POOLS = {
    "south_provinces": "all_provinces",
    "all_provinces": "south_provinces",
    "south_regions": "all_regions",
    "all_regions": "south_regions",
}


@dataclass(frozen=True)
class Variant:
    """One robustness run: the headline estimator on another donor pool or pre-period window.

    ``key`` is ``"donor_pool:<name>"`` or ``"pre_window:<first pre-period year>"``; ``result``
    and ``evidence`` are ``None`` when the variant could not be built (``reason`` says why).
    """

    key: str
    kind: str
    label: Text
    panel: TerritorialPanel | None
    result: synth.SynthResult | None
    evidence: significance.PlaceboSignificance | None
    reason: str | None = None


@dataclass(frozen=True, eq=False)
class TerritorialAnalysis:
    """One territorial analysis: the panel, the three estimators on it, and the page's pieces.

    Built by :func:`analyse` (or :func:`triangulate` on a panel).  The estimation is
    :class:`analysis.synth.Triangulation` (:attr:`estimates`); this object adds what the page
    needs: messages (:mod:`analysis.i18n`) that know the indicator and the programme,
    captions, per-language figures, and the arguments of ``display.show_table`` /
    ``display.show_figure`` (the ``*_view`` methods return ``{"df" | "fig": ...,
    "caption": ..., ...}``, ``fig`` being a function of the language).

    The headline is the synthetic control (the outcome-matching estimator of the three);
    synthetic DiD and DiD are shown beside it.

    Attributes
    ----------
    panel
        The estimation panel (:func:`build_panel`).
    estimates
        Synthetic control, synthetic DiD and DiD with placebos and leave-one-out.
    variants
        Robustness runs of the synthetic control on another donor pool and other pre-period
        windows (:func:`robustness_variants`).
    """

    panel: TerritorialPanel
    estimates: synth.Triangulation
    variants: tuple[Variant, ...] = ()

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
    def sc(self) -> synth.SynthResult:
        """Synthetic control result (the headline)."""
        return self.estimates.sc

    def evidence(self, key: str = "sc") -> significance.PlaceboSignificance:
        """:func:`analysis.significance.classify_placebo` of one estimator."""
        return _placebo_call(self.results[key], self.placebos[key])

    @property
    def notes(self) -> list[Msg]:
        """What the estimation noticed, in words (exact fit, library warnings, placebos not run)."""
        out = []
        if exact_pre_fit(self.sc):
            out.append(
                t(
                    "With {n_pre} pre-period years and {n_donors} donors the synthetic control "
                    "reproduces the pre-period exactly (pre-period RMSPE about 0): an exact fit "
                    "is not evidence of a good counterfactual, and the permutation p-value of "
                    "the synthetic control is undefined.",
                    n_pre=integer(self.sc.n_pre),
                    n_donors=integer(len(self.sc.donors)),
                )
            )
        raw = list(self.estimates.notes)
        if any(n.startswith("Library warning") and "fit is poor" in n for n in raw):
            out.append(
                t(
                    "The estimation library warned that the pre-period fit of a main estimate "
                    "is poor (pre-period RMSPE above the standard deviation of the treated "
                    "unit's pre-period values): read its counterfactual with care."
                )
            )
        elif any(n.startswith("Library warning") for n in raw):
            out.append(
                t(
                    "The estimation library issued a warning on a main fit (its text is in the "
                    "results file)."
                )
            )
        if self.fake_start is None:
            out.append(
                t(
                    "No in-time placebo: only {n} pre-period years (3 needed).",
                    n=integer(self.panel.n_pre),
                )
            )
        else:
            for key, label in ESTIMATOR_WORDS.items():
                if self.in_time.get(key) is None:
                    out.append(
                        t(
                            "The in-time placebo of the {estimator} could not be run on this "
                            "window.",
                            estimator=term(label),
                        )
                    )
        return out

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
    def rate(self) -> bool:
        """Whether the indicator is a percentage (gaps in percentage points)."""
        return self.panel.indicator.unit.startswith("%")

    def gap(self, x: float, digits: int = 1) -> Any:
        """A gap of the indicator, formatted (percentage points for rates)."""
        if self.rate:
            return pp(x, digits)
        return t("{x} {unit}", x=num(x, digits, sign=True), unit=term(self.panel.indicator.unit))

    def interval(self, est: float, lo: float, hi: float) -> Msg:
        """``"−0,2 p.p. [−6,1; 5,6]"``: an estimate and its interval."""
        return t("{est} [{lo}; {hi}]", est=self.gap(est), lo=self.gap(lo), hi=self.gap(hi))

    @property
    def who(self) -> Msg:
        """Indicator and sex, for captions."""
        return t(
            "{label}, {sex}",
            label=term(self.panel.indicator.label),
            sex=term(SEXES[self.panel.design.sex]),
        )

    @property
    def source(self) -> Msg:
        """Caption ending: years without data and the source."""
        p = self.panel
        note = p.missing_years_note()
        src = t("Source: {source}.", source=term(p.indicator.source))
        return join([note, src], " ") if note else src

    def question(self) -> Msg:
        """The question and the identifying assumptions (markdown); see :func:`question`."""
        return question(self.panel)

    def headline(self) -> dict[str, float | None]:
        """The few numbers of the reports index (``None`` for an undefined p-value)."""
        t_ = self.table().set_index("estimator")
        u = "pp" if self.rate else self.panel.gap_unit
        return {
            f"SC ATT ({u})": float(t_.loc["Synthetic control", "att"]),
            f"SDID ATT ({u})": float(t_.loc["Synthetic DiD", "att"]),
            f"DiD ATT ({u})": float(t_.loc["DiD (unit + year effects)", "att"]),
            "SC permutation p": self.evidence("sc").p_permutation,
        }

    def headline_text(self) -> Msg:
        """The headline as the index shows it: synthetic-control gap [interval]."""
        return self.interval(self.sc.att, self.sc.ci_low, self.sc.ci_high)

    # -- robustness -------------------------------------------------------------------------
    def in_time_passes(self) -> bool | None:
        """Whether the synthetic-control in-time placebo finds no gap (its interval includes 0)."""
        r = self.in_time.get("sc")
        if r is None or not (math.isfinite(r.ci_low) and math.isfinite(r.ci_high)):
            return None
        return bool(r.ci_low <= 0 <= r.ci_high)

    def loo_agrees(self) -> bool | None:
        """Whether every leave-one-out synthetic control lies inside the headline interval."""
        lo, hi = self.loo["sc"].att_range
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        return bool(self.sc.ci_low <= lo and hi <= self.sc.ci_high)

    def variant_agrees(self, v: Variant) -> bool | None:
        """Whether a robustness variant says the same about zero as the headline."""
        if v.result is None:
            return None
        return _same_call(self.sc.ci_low, self.sc.ci_high, v.result.ci_low, v.result.ci_high)

    def robustness(self) -> dict[str, dict[str, Any]]:
        """Every robustness check of the headline with its outcome (results JSON).

        Keys ``placebo_in_space``, ``placebo_in_time``, ``leave_one_out``,
        ``donor_pool:<name>`` and ``pre_window:<first pre-period year>`` (only those that
        were run); each carries ``agrees_with_headline`` (``None`` when the check could not
        say) and its numbers.
        """
        ev = self.evidence("sc")
        out: dict[str, dict[str, Any]] = {
            "placebo_in_space": {
                "p_permutation": ev.p_permutation,
                "rank": ev.rank,
                "n_units": ev.n_units,
                "undefined_because": ev.undefined_because,
                "agrees_with_headline": None
                if ev.p_permutation is None
                else bool((ev.p_permutation <= ev.alpha) == (ev.interval_includes_zero is False)),
            }
        }
        r = self.in_time.get("sc")
        if r is not None:
            out["placebo_in_time"] = {
                "fake_start": self.fake_start,
                "att": r.att,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "no_spurious_gap": self.in_time_passes(),
                "agrees_with_headline": self.in_time_passes(),
            }
        lo, hi = self.loo["sc"].att_range
        if math.isfinite(lo):
            out["leave_one_out"] = {
                "att_min": lo,
                "att_max": hi,
                "re_estimates": int(self.loo["sc"].table["att"].notna().sum()),
                "agrees_with_headline": self.loo_agrees(),
            }
        for v in self.variants:
            if v.result is None:
                out[v.key] = {"run": False, "reason": v.reason, "agrees_with_headline": None}
                continue
            assert v.panel is not None and v.evidence is not None
            out[v.key] = {
                "run": True,
                "att": v.result.att,
                "ci_low": v.result.ci_low,
                "ci_high": v.result.ci_high,
                "p_permutation": v.evidence.p_permutation,
                "n_donors": len(v.panel.donors),
                "pre_periods": [int(y) for y in v.panel.pre_periods],
                "same_sign": bool(np.sign(v.result.att) == np.sign(self.sc.att)),
                "agrees_with_headline": self.variant_agrees(v),
            }
        return out

    def robustness_table(self) -> pd.DataFrame:
        """The donor-pool and pre-window variants next to the headline (human headers)."""
        cols = [
            N_("Run"),
            N_("Donor pool"),
            N_("Pre-period"),
            N_("Donors"),
            N_("ATT"),
            N_("CI lower bound"),
            N_("CI upper bound"),
            N_("Same conclusion as the headline"),
        ]

        def row(kind: str, panel: TerritorialPanel | None, res: Any, agrees: Any) -> list:
            pool = panel.design.donor_pool if panel is not None else None
            return [
                RUN_WORDS[kind],
                POOL_SHORT.get(pool, N_("list supplied by the user"))
                if isinstance(pool, str)
                else (None if pool is None else N_("list supplied by the user")),
                year_span(panel.pre_periods) if panel is not None else None,
                len(panel.donors) if panel is not None else None,
                None if res is None else res.att,
                None if res is None else res.ci_low,
                None if res is None else res.ci_high,
                agrees,
            ]

        rows = [row("headline", self.panel, self.sc, None)]
        rows += [row(v.kind, v.panel, v.result, self.variant_agrees(v)) for v in self.variants]
        return pd.DataFrame(rows, columns=cols)

    # -- conclusion -------------------------------------------------------------------------------
    def conclusion(self) -> Concat:
        """Plain-words conclusion: effect size, uncertainty, post-periods, attribution."""
        return join(self.conclusion_parts(), " ")

    def conclusion_parts(self) -> list[Text]:
        """The conclusion in three paragraphs: estimates, robustness, attribution."""
        p, d = self.panel, self.panel.design
        t_ = self.table()
        lvl = pct(100 * self.sc.level, 0)
        est = join(
            [
                t(
                    "{estimator} {interval}",
                    estimator=term(ESTIMATOR_WORDS[key]),
                    interval=self.interval(
                        self.results[key].att, self.results[key].ci_low, self.results[key].ci_high
                    ),
                )
                for key in ESTIMATOR_WORDS
            ],
            "; ",
        )
        intro = t(
            "Over the {n} post-period years available ({span}), {name} in {unit} differed from "
            "its estimated counterfactual by, on average (with {level} placebo intervals):",
            n=integer(p.n_post),
            span=year_span(p.post_periods),
            name=term(p.indicator.name),
            unit=d.treated_unit,
            level=lvl,
        )
        first = Concat((intro, " ", est, "."))
        parts: list[Text] = [
            first,
            t("Headline (synthetic control):"),
            self.evidence("sc").words(),
        ]
        parts.append(self.evidence("sc").permutation_words())
        signs = set(np.sign(t_["att"]).astype(int)) - {0}
        if len(signs) > 1:
            parts.append(t("The three estimators disagree on the sign of the gap."))
        if p.n_post <= 2:
            parts.append(
                t(
                    "With only {n} post-period years, one noisy survey year weighs heavily on "
                    "the average; the estimate will move as new years are published.",
                    n=integer(p.n_post),
                )
            )

        y = p.data[p.data["unit"] == d.treated_unit].set_index("year")["value"]
        noise = (
            float(np.std(np.diff(y.loc[list(p.pre_periods)].to_numpy()), ddof=1))
            if p.n_pre > 2
            else float("nan")
        )
        robust: list[Text] = [
            t(
                "Pre-period fit (root mean squared gap): {sc} for the synthetic control, {sdid} "
                "for synthetic DiD and {did} for DiD.",
                sc=pp(self.sc.pre_rmspe, 2, sign=False) if self.rate else num(self.sc.pre_rmspe, 2),
                sdid=pp(self.results["sdid"].pre_rmspe, 2, sign=False)
                if self.rate
                else num(self.results["sdid"].pre_rmspe, 2),
                did=pp(self.results["did"].pre_rmspe, 2, sign=False)
                if self.rate
                else num(self.results["did"].pre_rmspe, 2),
            )
        ]
        if math.isfinite(noise):
            robust.append(
                t(
                    "Before {start} the indicator moved by about {noise} from one year to the "
                    "next (standard deviation of yearly changes).",
                    start=fyear(d.start),
                    noise=pp(noise, 1, sign=False) if self.rate else num(noise, 1),
                )
            )
        robust += [n for n in self.notes[:1] if exact_pre_fit(self.sc)]
        r = self.in_time.get("sc")
        if r is not None:
            robust.append(
                t(
                    "The in-time placebo (data cut at {start}, fake start {fake}) gives a "
                    "synthetic-control gap of {gap}, {size} the real one.",
                    start=fyear(d.start),
                    fake=fyear(self.fake_start),
                    gap=self.interval(r.att, r.ci_low, r.ci_high),
                    size=t("at least as large as")
                    if abs(r.att) >= abs(self.sc.att)
                    else t("smaller than"),
                )
            )
        for b in p.breaks().itertuples():
            if b.year == d.start:
                robust.append(
                    t(
                        "The {year} series break ({cause}) coincides with the start, so part of "
                        "any gap may come from the new survey rules (section 2).",
                        year=fyear(b.year),
                        cause=term(b.cause),
                    )
                )
        lo_sc, hi_sc = self.loo["sc"].att_range
        if math.isfinite(lo_sc):
            robust.append(
                t(
                    "Dropping one weighted donor at a time moves the synthetic-control gap "
                    "between {lo} and {hi}.",
                    lo=self.gap(lo_sc),
                    hi=self.gap(hi_sc),
                )
            )
        robust += self._variant_sentences()
        return [join(parts, " "), join(robust, " "), self.not_this()]

    def _variant_sentences(self) -> list[Msg]:
        out = []
        for v in self.variants:
            if v.result is None:
                out.append(t("The robustness run {run} could not be built.", run=v.label))
                continue
            out.append(
                t(
                    "{run}: {interval}, {agree}.",
                    run=v.label,
                    interval=self.interval(v.result.att, v.result.ci_low, v.result.ci_high),
                    agree=t("the same conclusion about zero as the headline")
                    if self.variant_agrees(v)
                    else t("a different conclusion about zero from the headline"),
                )
            )
        return out

    def not_this(self) -> Msg:
        """What the estimate is not: the scale of the programme against the territory's."""
        p, d = self.panel, self.panel.design
        return t(
            "Whatever its size, this gap is a territory-level counterfactual, context and not "
            "the programme's effect: {reach}, while {unit} is {size}. One percentage point of "
            "{name} is one in a hundred of all the {level}'s {group}, and other policies and "
            "shocks act on the whole territory at the same time. The programme's effect must be "
            "estimated on its participants (pupil-level design), not read from a territorial "
            "rate.",
            reach=reach_words(d.start),
            unit=d.treated_unit,
            size=size_words(d.treated_unit, d.level),
            name=term(p.indicator.name),
            level=term(LEVEL_WORDS[d.level]),
            group=term(geography.population(d.indicator) or N_("people the indicator covers")),
        )

    # -- the answer first ------------------------------------------------------------------------
    def summary_box(self) -> dict[str, Text]:
        """The fields of ``display.summary_box``, generated from this run's results."""
        p, d = self.panel, self.panel.design
        ev = self.evidence("sc")
        question_ = t(
            "From {start}, did {name} ({sex}) in {unit} evolve differently from the path that "
            "comparable {units} predict?",
            start=fyear(d.start),
            name=term(p.indicator.name),
            sex=term(SEXES[d.sex]),
            unit=d.treated_unit,
            units=term(LEVEL_PLURAL[d.level]),
        )
        answer = join(
            [
                t(
                    "Over {span} the synthetic control puts {unit} {gap} from its counterfactual "
                    "(average gap; {level} placebo interval {lo} to {hi}).",
                    span=year_span(p.post_periods),
                    unit=d.treated_unit,
                    gap=self.gap(self.sc.att),
                    level=pct(100 * self.sc.level, 0),
                    lo=self.gap(self.sc.ci_low),
                    hi=self.gap(self.sc.ci_high),
                ),
                ev.words(),
            ],
            " ",
        )
        checks = self.checks()
        agree = [c for c in checks if c[1] is True]
        certainty = join(
            [
                t(
                    "{agree} of {n} checks agree with the answer.",
                    agree=integer(len(agree)),
                    n=integer(len([c for c in checks if c[1] is not None])),
                ),
                join([t("**{check}:** {outcome}.", check=c[0], outcome=c[2]) for c in checks], " "),
            ],
            " ",
        )
        return {
            "question": question_,
            "answer": answer,
            "certainty": certainty,
            "would_change": self.would_change(),
            "not_this": self.not_this(),
        }

    def checks(self) -> list[tuple[Msg, bool | None, Text]]:
        """``(name, agrees, outcome in words)`` of every robustness check of the headline."""
        ev = self.evidence("sc")
        rob = self.robustness()
        out: list[tuple[Msg, bool | None, Text]] = [
            (
                t("placebo in space"),
                rob["placebo_in_space"]["agrees_with_headline"],
                ev.permutation_short(),
            )
        ]
        r = self.in_time.get("sc")
        if r is not None:
            out.append(
                (
                    t("placebo in time"),
                    self.in_time_passes(),
                    t(
                        "a fake start in {fake} gives {interval}, {verdict}",
                        fake=fyear(self.fake_start),
                        interval=self.interval(r.att, r.ci_low, r.ci_high),
                        verdict=t("no spurious gap")
                        if self.in_time_passes()
                        else t("a spurious gap: the counterfactual drifts without any programme"),
                    ),
                )
            )
        lo, hi = self.loo["sc"].att_range
        if math.isfinite(lo):
            out.append(
                (
                    t("leave-one-out"),
                    self.loo_agrees(),
                    t(
                        "dropping one donor at a time gives {lo} to {hi}, {verdict}",
                        lo=self.gap(lo),
                        hi=self.gap(hi),
                        verdict=t("inside the headline interval")
                        if self.loo_agrees()
                        else t("partly outside the headline interval"),
                    ),
                )
            )
        for v in self.variants:
            if v.result is None:
                out.append((v.label, None, t("could not be run")))
                continue
            out.append(
                (
                    v.label,
                    self.variant_agrees(v),
                    t(
                        "{interval}, {verdict}",
                        interval=self.interval(v.result.att, v.result.ci_low, v.result.ci_high),
                        verdict=t("same conclusion")
                        if self.variant_agrees(v)
                        else t("different conclusion"),
                    ),
                )
            )
        return out

    def would_change(self) -> Text:
        """What would change the answer, from this run's numbers."""
        p = self.panel
        parts: list[Text] = [
            t(
                "Each newly published year enters the average gap, which now rests on {n} "
                "post-period years ({span}).",
                n=integer(p.n_post),
                span=year_span(p.post_periods),
            )
        ]
        loo = self.leave_one_out_table().set_index("estimator")
        if "Synthetic control" in loo.index and pd.notna(
            loo.loc["Synthetic control", "most_influential_donor"]
        ):
            row = loo.loc["Synthetic control"]
            parts.append(
                t(
                    "Without {donor}, the most influential donor, the gap would be {gap} instead of "
                    "the headline's.",
                    donor=str(row["most_influential_donor"]),
                    gap=self.gap(float(row["att_without_it"])),
                )
            )
        differ = [v for v in self.variants if v.result is not None and not self.variant_agrees(v)]
        if differ:
            parts.append(
                Concat(
                    (
                        t("The conclusion already changes with:"),
                        " ",
                        join([v.label for v in differ], "; "),
                        ".",
                    )
                )
            )
        if exact_pre_fit(self.sc):
            parts.append(
                t(
                    "More pre-period years (or fewer donors) would make the synthetic control's "
                    "fit testable: today it is exact."
                )
            )
        return join(parts, " ")

    # -- the page: arguments of display.show_table / show_figure, and notes ---------------------
    def data_sheet_text(self) -> Concat:
        """What the estimates rest on (Markdown list)."""
        return self.panel.data_sheet_text()

    def data_notes(self) -> list[tuple[Text, str]]:
        """``(text, kind)``: breaks and splices, and what a clean window looks like."""
        p = self.panel
        out: list[tuple[Text, str]] = [
            (
                m,
                "warning"
                if m.msgid.startswith("The {year} {what} ({cause}) coincides")
                else "info",
            )
            for m in p.break_notes()
        ]
        if p.flags_summary().empty:
            out.append(
                (
                    t(
                        "No observation of the treated unit or of the candidate donors carries "
                        "a flag (unreliable estimate, provisional value) in the estimation "
                        "window."
                    ),
                    "info",
                )
            )
        if p.excluded_donors().empty:
            out.append(
                (
                    t(
                        "No candidate donor was excluded: all {n} have complete, unflagged "
                        "values in the window.",
                        n=integer(len(p.donors)),
                    ),
                    "info",
                )
            )
        out += [(m, "info") for m in p.boundary_notes()]
        return out

    def exclusion_views(self) -> list[dict[str, Any]]:
        """Flagged observations and excluded donors (when any), and units never candidates.

        Unit lists: shown collapsed (an annex).
        """
        p = self.panel
        out = []
        flags = p.flags_summary()
        if not flags.empty:
            out.append(
                {
                    "df": flags.rename(
                        columns={
                            "unit": N_("Territory"),
                            "flags": N_("Flags"),
                            "years": N_("Years"),
                            "missing_values": N_("Flagged years without a value"),
                            "used": N_("In the estimation panel"),
                        }
                    ),
                    "caption": join(
                        [
                            t(
                                "Units with flagged observations in the window (u = low "
                                "reliability, Eurostat; .. = below ISTAT's reliability "
                                "threshold)."
                            ),
                            self.source,
                        ],
                        " ",
                    ),
                    "collapsed": True,
                }
            )
        excl = p.excluded_donors_table()
        if not excl.empty:
            out.append(
                {
                    "df": excl,
                    "caption": t(
                        "Candidate donors excluded ({n}) and why; {kept} donors remain.",
                        n=integer(len(p.excluded_donors())),
                        kept=integer(len(p.donors)),
                    ),
                    "collapsed": True,
                }
            )
        out.append(
            {
                "df": pd.DataFrame({N_("Donor"): list(p.donors)}),
                "caption": t("Donors used ({n}).", n=integer(len(p.donors))),
                "collapsed": True,
            }
        )
        out.append(
            {
                "df": p.not_used(),
                "caption": t(
                    "Units of the source that are never candidates: other territorial levels, "
                    "aggregates, and units outside the donor pool."
                ),
                "collapsed": True,
            }
        )
        return out

    def paths_view(self) -> dict[str, Any]:
        """Observed path and the three counterfactuals (figure)."""
        p, d = self.panel, self.panel.design
        return {
            "fig": lambda lang: plot_paths(self, lang=lang),
            "caption": join(
                [
                    t(
                        "{who}: {unit} (black) and its counterfactuals from {n} donor {units}. "
                        "Unit: {measure}. Shaded: years from {start}.",
                        who=self.who,
                        unit=d.treated_unit,
                        n=integer(len(p.donors)),
                        units=term(LEVEL_PLURAL[d.level]),
                        measure=term(p.indicator.unit),
                        start=fyear(d.start),
                    ),
                    self.source,
                ],
                " ",
            ),
        }

    def gap_by_year_view(self) -> dict[str, Any]:
        """Observed value, counterfactuals and gaps by year (table)."""
        return {
            "df": for_display(self.gap_by_year()),
            "caption": join(
                [
                    t(
                        "Observed value, counterfactual and gap (observed minus "
                        "counterfactual) by year and estimator; gaps in {unit}.",
                        unit=self._gap_unit_words(),
                    ),
                    self.source,
                ],
                " ",
            ),
            "digits": 2,
        }

    def _gap_unit_words(self) -> Msg:
        return t("percentage points") if self.rate else term(self.panel.indicator.unit)

    def gaps_view(self) -> dict[str, Any]:
        """Synthetic-control gap of the treated unit and of every placebo (figure)."""
        d = self.panel.design
        return {
            "fig": lambda lang: plot_gaps(self, lang=lang),
            "caption": join(
                [
                    t(
                        "{who}: gap between {unit} and its synthetic control (black) and the "
                        "same gap for every donor used as a placebo (grey), in {gap_unit}. "
                        "Shaded: years from {start}.",
                        who=self.who,
                        unit=d.treated_unit,
                        gap_unit=self._gap_unit_words(),
                        start=fyear(d.start),
                    ),
                    self.source,
                ],
                " ",
            ),
        }

    def weights_view(self) -> dict[str, Any]:
        """Donor and year weights (figure)."""
        return {
            "fig": lambda lang: plot_weights(self, lang=lang),
            "caption": join(
                [
                    t(
                        "Donor weights of the synthetic control and of synthetic DiD (largest "
                        "12, positive only) and synthetic-DiD weights of the pre-period years. "
                        "Weights sum to one."
                    ),
                    self.source,
                ],
                " ",
            ),
        }

    def weights_table_view(self) -> dict[str, Any]:
        """Largest donor weights (table, collapsed: a unit list)."""
        return {
            "df": for_display(self.weights_table()),
            "caption": t("Largest donor weights (synthetic control, synthetic DiD)."),
            "digits": 3,
            "collapsed": True,
        }

    def estimates_view(self) -> dict[str, Any]:
        """The three estimators side by side (table)."""
        p, d = self.panel, self.panel.design
        df = self.table()
        # an undefined permutation p-value is shown as undefined, never as a number
        for i, key in enumerate(ESTIMATOR_WORDS):
            if self.evidence(key).p_permutation is None:
                df.loc[i, "p_permutation"] = float("inf")
        return {
            "df": for_display(df),
            "caption": join(
                [
                    t(
                        "{who}, {unit}, start {start}: average gap over {n_post} post-period "
                        "years ({post}) and {n_pre} pre-period years ({pre}); ATT, standard "
                        "error, {level} confidence interval and pre-period RMSPE in {gap_unit}. "
                        "{reps} placebo draws from the random stream 'placebo' of seed {seed}.",
                        who=self.who,
                        unit=d.treated_unit,
                        start=fyear(d.start),
                        n_post=integer(p.n_post),
                        post=year_span(p.post_periods),
                        n_pre=integer(p.n_pre),
                        pre=year_span(p.pre_periods),
                        level=pct(100 * self.sc.level, 0),
                        gap_unit=self._gap_unit_words(),
                        reps=integer(self.sc.replications),
                        seed=str(self.estimates.seed),
                    ),
                    self.source,
                ],
                " ",
            ),
            "digits": 3,
        }

    def placebo_view(self) -> dict[str, Any]:
        """In-space placebo ranks (table)."""
        df = self.placebo_table()
        df["placebos"] = [N_("all"), N_("good pre-period fit only")] * len(ESTIMATOR_WORDS)
        for i, key in enumerate(ESTIMATOR_WORDS):
            if self.evidence(key).undefined_because == "exact_fit":
                df.loc[[2 * i, 2 * i + 1], "p_permutation"] = float("inf")
                df.loc[[2 * i, 2 * i + 1], "treated_ratio"] = float("inf")
        return {
            "df": for_display(df),
            "caption": t(
                "In-space placebo tests: rank of {unit}'s post/pre mean squared gap ratio "
                "(1 = largest) among all units, and among units whose pre-period fit is no "
                "worse than {k} times the treated unit's (good pre-period fit only). An "
                "infinite ratio (exact pre-period fit) makes the p-value undefined.",
                unit=self.panel.treated_unit,
                k=num(self.max_pre_mspe_ratio, 0),
            ),
            "digits": 3,
        }

    def in_time_views(self) -> list[dict[str, Any]]:
        """The in-time placebo table (empty list when it was not run: see :attr:`notes`)."""
        it = self.placebo_in_time_table()
        if it.empty:
            return []
        it["fake_start"] = it["fake_start"].map(lambda y: str(int(y)))
        return [
            {
                "df": for_display(it),
                "caption": join(
                    [
                        t(
                            "In-time placebo: data cut at {start}, fake start {fake} (middle of "
                            "the pre-period); placebo ATT next to the real one, in {gap_unit}.",
                            start=fyear(self.panel.start),
                            fake=fyear(self.fake_start),
                            gap_unit=self._gap_unit_words(),
                        ),
                        self.source,
                    ],
                    " ",
                ),
                "digits": 2,
            }
        ]

    def leave_one_out_view(self) -> dict[str, Any]:
        """Leave-one-out summary (table)."""
        return {
            "df": for_display(self.leave_one_out_table()),
            "caption": t(
                "Leave-one-out: ATT re-estimated without each donor of positive weight in turn, "
                "in {gap_unit}.",
                gap_unit=self._gap_unit_words(),
            ),
            "digits": 2,
        }

    def leave_one_out_figure_view(self) -> dict[str, Any]:
        """Leave-one-out synthetic controls (figure)."""
        p, d = self.panel, self.panel.design
        return {
            "fig": lambda lang: plot_leave_one_out(self, lang=lang),
            "caption": join(
                [
                    t(
                        "{who}: synthetic control of {unit} with all donors (blue) and without "
                        "each weighted donor in turn (grey). Unit: {measure}. Shaded: years "
                        "from {start}.",
                        who=self.who,
                        unit=d.treated_unit,
                        measure=term(p.indicator.unit),
                        start=fyear(d.start),
                    ),
                    self.source,
                ],
                " ",
            ),
        }

    def robustness_view(self) -> dict[str, Any]:
        """Donor-pool and pre-window variants of the synthetic control (table)."""
        return {
            "df": self.robustness_table(),
            "caption": t(
                "Robustness of the synthetic control: the same estimate on another donor pool "
                "and on other pre-period windows ({level} placebo intervals, in {gap_unit}). "
                "Same conclusion: both intervals include zero, or both exclude it on the same "
                "side.",
                level=pct(100 * self.sc.level, 0),
                gap_unit=self._gap_unit_words(),
            ),
            "digits": 2,
        }

    # -- conventions ---------------------------------------------------------------------------
    def tidy(self) -> pd.DataFrame:
        """Return :meth:`table`."""
        return self.table()

    def summary(self) -> str:
        """Return the panel summary and one line per estimator."""
        return f"{self.panel.summary()}\n{self.estimates.summary()}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict: panel, tables, results, significance, robustness."""
        return to_jsonable(
            {
                "panel": self.panel.to_dict(),
                **self.estimates.to_dict(),
                "n_pre": self.panel.n_pre,
                "n_post": self.panel.n_post,
                "significance": {k: self.evidence(k).to_dict() for k in ESTIMATOR_WORDS},
                "robustness": self.robustness(),
            }
        )


def robustness_variants(
    panel: TerritorialPanel,
    *,
    replications: int,
    seed: int,
    level: float = 0.95,
) -> tuple[Variant, ...]:
    """Re-run the headline synthetic control on another donor pool and other pre-windows.

    The variants (existing estimator :func:`analysis.synth.synthetic_control`, same seed
    stream and level; panels from :func:`build_panel` with one parameter changed):

    - ``donor_pool:<name>``: the other named pool of the same level
      (:data:`ALTERNATIVE_POOLS`), when the run uses a named pool;
    - ``pre_window:<year>``: a later first pre-period year (the second half of the retained
      pre-period) when at least four pre-period years are retained;
    - ``pre_window:<year>``: every year with data (``pre_years=None``) when the run starts its
      window later than the data.

    A variant that cannot be built (e.g. no donor left) is kept with its reason.
    """
    d = panel.design
    base = dict(
        indicator=d.indicator,
        level=d.level,
        treated_unit=d.treated_unit,
        start=d.start,
        donor_pool=d.donor_pool,
        sex=d.sex,
        pre_years=d.pre_years,
        exclude_unreliable=d.exclude_unreliable,
    )
    specs: list[tuple[str, str, Text, dict[str, Any]]] = []
    if isinstance(d.donor_pool, str) and d.donor_pool in ALTERNATIVE_POOLS:
        alt = ALTERNATIVE_POOLS[d.donor_pool]
        specs.append(
            (
                f"donor_pool:{alt}",
                "donor_pool",
                t("donor pool: {pool}", pool=term(DONOR_POOLS[alt].description)),
                {**base, "donor_pool": alt},
            )
        )
    if panel.n_pre >= 4:
        later = int(panel.pre_periods[panel.n_pre // 2])
        specs.append(
            (
                f"pre_window:{later}",
                "pre_window",
                t("pre-period from {year}", year=fyear(later)),
                {**base, "pre_years": later},
            )
        )
    if d.pre_years is not None:
        specs.append(
            ("pre_window:all", "pre_window", t("all years with data"), {**base, "pre_years": None})
        )
    seed_placebo = SeedStreams(seed).seed_for(synth.triangulation.STREAM)
    out = []
    for key, kind, label, kw in specs:
        try:
            vp = build_panel(**kw)
        except DataValidationError as exc:
            out.append(Variant(key, kind, label, None, None, None, reason=str(exc)))
            continue
        if key == "pre_window:all":
            if vp.pre_periods == panel.pre_periods:
                continue  # no earlier data: the same window
            first = int(vp.pre_periods[0])
            key = f"pre_window:{first}"
            label = t("pre-period from {year}", year=fyear(first))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the variant's fit is judged by its numbers
            res = synth.synthetic_control(
                vp.estimation_frame(),
                outcome="value",
                unit="unit",
                time="year",
                treated_unit=vp.treated_unit,
                start=vp.start,
                donors=list(vp.donors),
                replications=replications,
                seed=seed_placebo,
                level=level,
            )
        ev = _placebo_call(res, res.placebo_in_space())
        out.append(Variant(key, kind, label, vp, res, ev))
    return tuple(out)


def triangulate(
    panel: TerritorialPanel,
    *,
    replications: int = 200,
    seed: int,
    level: float = 0.95,
    fake_start: int | None = None,
    max_pre_mspe_ratio: float = 5.0,
    robustness: bool = True,
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
    robustness
        Also run the donor-pool and pre-window variants (:func:`robustness_variants`).

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
    variants = (
        robustness_variants(panel, replications=replications, seed=seed, level=level)
        if robustness
        else ()
    )
    return TerritorialAnalysis(panel=panel, estimates=est, variants=variants)


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
    robustness: bool = True,
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
    return triangulate(panel, replications=replications, seed=seed, robustness=robustness)


#: Human column headers for display (the JSON keeps the snake_case names); the level of the
#: intervals is stated in each table's caption.
DISPLAY_LABELS = {
    "estimator": N_("Estimator"),
    "year": N_("Year"),
    "observed": N_("Observed"),
    "period": N_("Period"),
    "donor": N_("Donor"),
    "placebos": N_("Placebos"),
    "att": N_("ATT"),
    "se": N_("Placebo SE"),
    "ci_low": N_("CI lower bound"),
    "ci_high": N_("CI upper bound"),
    "p_normal": N_("p (normal)"),
    "p_permutation": N_("Permutation p"),
    "rank": N_("Rank"),
    "n_units": N_("Units"),
    "pre_rmspe": N_("Pre-period RMSPE"),
    "donors_weighted": N_("Donors with weight"),
    "units_compared": N_("Units compared"),
    "treated_ratio": N_("Post/pre MSPE ratio"),
    "fake_start": N_("Fake start"),
    "fake_pre": N_("Fake pre-period"),
    "fake_post": N_("Fake post-period"),
    "placebo_att": N_("Placebo ATT"),
    "real_att": N_("Real ATT"),
    "att_all_donors": N_("ATT, all donors"),
    "re_estimates": N_("Re-estimates"),
    "att_min": N_("Lowest ATT"),
    "att_max": N_("Highest ATT"),
    "most_influential_donor": N_("Most influential donor"),
    "att_without_it": N_("ATT without it"),
    "sc_weight": N_("Synthetic control weight"),
    "sdid_weight": N_("Synthetic DiD weight"),
    "sc_counterfactual": N_("SC counterfactual"),
    "sc_gap": N_("SC gap"),
    "sdid_counterfactual": N_("SDID counterfactual"),
    "sdid_gap": N_("SDID gap"),
    "did_counterfactual": N_("DiD counterfactual"),
    "did_gap": N_("DiD gap"),
    "delta_att": N_("Change in ATT"),
}

#: Period words of the gap-by-year table.
PERIOD_WORDS = {True: N_("after the start"), False: N_("before the start")}


def for_display(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with human column headers (and ``post`` as the period in words)."""
    out = df.copy()
    if "post" in out.columns and out["post"].dtype == bool:
        out["post"] = out["post"].map(PERIOD_WORDS)
        out = out.rename(columns={"post": "period"})
    unknown = [c for c in out.columns if c not in DISPLAY_LABELS]
    if unknown:
        raise KeyError(f"no display header for column(s) {unknown}")
    return out.rename(columns=DISPLAY_LABELS)


# --------------------------------------------------------------------------------------------
# Figures: one per language (titles, axes and legends through the catalog)
# --------------------------------------------------------------------------------------------
_COLORS = {"sc": "tab:blue", "sdid": "tab:orange", "did": "tab:green"}


def _figure(figsize: tuple[float, float]) -> tuple[Figure, Any]:
    # pyplot (not a bare Figure) so that the notebook's inline backend renders the figure;
    # display.show_figure closes it
    fig = plt.figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _mark_start(ax: Any, panel: TerritorialPanel) -> None:
    first, last = panel.pre_periods[0], panel.post_periods[-1]
    ax.axvspan(panel.start - 0.5, last + 0.5, color="#f2d7a6", alpha=0.35, zorder=0)
    ax.set_xlim(first - 0.5, last + 0.5)


def _year_axis(ax: Any, lang: str, y_digits: int = 1) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{int(round(x))}"))
    ax.yaxis.set_major_formatter(tick_formatter(lang, y_digits))


def plot_paths(
    tri: TerritorialAnalysis, *, lang: str = "en", figsize: tuple[float, float] = (8.0, 4.5)
) -> Figure:
    """Observed path of the treated unit and the three counterfactuals (labels in ``lang``)."""
    tr = translator(lang)
    p = tri.panel
    fig, ax = _figure(figsize)
    synth_plots.plot_paths(
        tri.results["sc"],
        ylabel=tr(term(p.indicator.unit)),
        xlabel=tr(N_("Year")),
        ax=ax,
        counterfactual_label=tr(N_("synthetic control")),
        title=tr(t("{unit}: observed and counterfactual paths", unit=p.treated_unit)),
    )
    for key, label in (
        ("sdid", N_("synthetic DiD counterfactual")),
        ("did", N_("DiD counterfactual")),
    ):
        e = tri.results[key].effects
        ax.plot(
            e["time"],
            e["counterfactual"],
            color=_COLORS[key],
            linestyle=":",
            linewidth=1.8,
            label=tr(label),
        )
    _mark_start(ax, p)
    for y in p.missing_years:
        ax.axvline(y, color="0.6", linestyle=(0, (1, 3)), linewidth=1)
    _year_axis(ax, lang)
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_gaps(
    tri: TerritorialAnalysis, *, lang: str = "en", figsize: tuple[float, float] = (8.0, 4.5)
) -> Figure:
    """Synthetic-control gap of the treated unit (black) and of every placebo unit (grey)."""
    tr = translator(lang)
    p = tri.panel
    fig, ax = _figure(figsize)
    synth_plots.plot_gaps(
        tri.sc,
        tri.placebos["sc"],
        ylabel=tr(t("gap ({unit})", unit=tri._gap_unit_words())),
        xlabel=tr(N_("Year")),
        title=tr(
            t(
                "Gap between {unit} and its synthetic control, and placebo gaps",
                unit=p.treated_unit,
            )
        ),
        ax=ax,
    )
    for line in ax.get_lines():  # the methods layer's legend word, in this language
        if line.get_label() == "placebo units":
            line.set_label(tr(N_("placebo units")))
    ax.legend(frameon=False)
    _mark_start(ax, p)
    _year_axis(ax, lang)
    ax.grid(alpha=0.3)
    return fig


def plot_weights(
    tri: TerritorialAnalysis,
    *,
    lang: str = "en",
    top: int = 12,
    figsize: tuple[float, float] = (11.0, 4.2),
) -> Figure:
    """Donor weights (synthetic control, synthetic DiD) and SDID pre-period weights."""
    tr = translator(lang)
    fig = plt.figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, 3)
    weight = tr(N_("weight"))
    synth_plots.plot_weights(
        tri.results["sc"],
        top=top,
        ax=axes[0],
        xlabel=weight,
        title=tr(N_("Synthetic control: donor weights")),
    )
    synth_plots.plot_weights(
        tri.results["sdid"],
        top=top,
        ax=axes[1],
        color="tab:orange",
        xlabel=weight,
        title=tr(N_("Synthetic DiD: donor weights")),
    )
    synth_plots.plot_weights(
        tri.results["sdid"],
        which="time",
        top=None,
        ax=axes[2],
        color="tab:orange",
        xlabel=weight,
        title=tr(N_("Synthetic DiD: year weights")),
    )
    for ax in axes:
        ax.tick_params(axis="y", labelsize=8)
        ax.xaxis.set_major_formatter(tick_formatter(lang, 2))
    return fig


def plot_leave_one_out(
    tri: TerritorialAnalysis, *, lang: str = "en", figsize: tuple[float, float] = (8.0, 4.5)
) -> Figure:
    """Synthetic-control counterfactual without each weighted donor (grey), and with all."""
    tr = translator(lang)
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
            label=tr(N_("without one donor")) if i == 0 else None,
        )
    ax.plot(
        paths.index,
        paths["full"],
        color="tab:blue",
        linestyle="--",
        linewidth=2,
        label=tr(N_("synthetic control, all donors")),
    )
    ax.plot(paths.index, paths["observed"], color="black", linewidth=2, label=p.treated_unit)
    _mark_start(ax, p)
    ax.set_xlabel(tr(N_("Year")))
    ax.set_ylabel(tr(term(p.indicator.unit)))
    ax.set_title(
        tr(t("Leave-one-out synthetic controls ({n} re-estimates)", n=integer(len(others))))
    )
    _year_axis(ax, lang)
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    return fig


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------
def reach_words(start: int) -> Msg:
    """Who the programme that starts acting in ``start`` reaches, from the programme facts."""
    f = programme_facts()
    c, dc = f.courses, f.day_centre
    if start == c.first_year:
        return t(
            "{name} ({funder}, {first}–{last}) reaches about {pupils} pupils and {parents} "
            "parents ({courses} courses)",
            name=c.name,
            funder=c.funder,
            first=fyear(c.first_year),
            last=fyear(c.last_year),
            pupils=integer(c.pupils),
            parents=integer(c.parents),
            courses=integer(c.courses),
        )
    if start == dc.start.year:
        return t(
            "the {name} experimentation (from {date}) reached {youths} young people aged "
            "{age_min}–{age_max} at one day centre in Lecce and {orgs} local organisations",
            name=dc.name,
            date=fdate(dc.start),
            youths=integer(dc.youths),
            age_min=integer(dc.age_min),
            age_max=integer(dc.age_max),
            orgs=integer(dc.organisations),
        )
    return t("no programme of this evaluation starts that year")


def size_words(unit: str, level: str) -> Msg:
    """``"a province of about 780,000 inhabitants"`` from the programme facts."""
    entry = programme_facts().inhabitants.get(unit)
    if entry is None:
        return t("a province") if level == "province" else t("a region")
    kind, n = entry
    if kind == "region":
        return t("a region of about {n} inhabitants", n=integer(n))
    return t("a province of about {n} inhabitants", n=integer(n))


def question(panel: TerritorialPanel) -> Msg:
    """The question and the identifying assumptions, in markdown."""
    d, ind = panel.design, panel.indicator
    courses = programme_facts().courses
    pre_note: Text = ""
    if courses.first_year < d.start <= courses.last_year:
        pre_note = t(
            " The pre-period includes {years}, when {name} was already active in Lecce; if it "
            "had any effect on the indicator, this run treats it as part of the baseline.",
            years=year_span(range(courses.first_year, d.start)),
            name=courses.name,
        )
    return t(
        "**Question.** From {start}, did {name} ({sex}) in {unit} evolve differently from the "
        "path predicted by comparable {units}? {start} is when the programme starts acting: "
        "{reach}. Donor pool: {pool}.\n\n"
        "**Assumptions.** (1) *No anticipation*: the indicator did not react before {start}."
        "{pre_note} (2) *Donors unaffected*: the programme did not change the indicator in the "
        "donor {units}, and no other shock hit {unit} alone after the start (common shocks are "
        "fine). (3) *Pre-period fit*: a weighted combination of donors reproduces {unit}'s "
        "path before {start} (synthetic control), or its changes (synthetic DiD, DiD); the "
        "pre-period gaps below show how well.\n\n"
        "**Scale.** {scale}",
        start=fyear(d.start),
        name=term(ind.name),
        sex=term(SEXES[d.sex]),
        unit=d.treated_unit,
        units=term(LEVEL_PLURAL[d.level]),
        reach=reach_words(d.start),
        pool=d.pool_label,
        pre_note=pre_note,
        scale=t(
            "{reach}, while {unit} is {size}; {name} is a rate over the whole territory "
            "(for labour-force indicators, a sample-survey estimate): this analysis describes "
            "the territory's context; it cannot measure the programme's effect.",
            reach=reach_words(d.start),
            unit=d.treated_unit,
            size=size_words(d.treated_unit, d.level),
            name=term(ind.name),
        ),
    )


__all__ = [
    "ALTERNATIVE_POOLS",
    "Design",
    "TerritorialAnalysis",
    "TerritorialPanel",
    "Variant",
    "analyse",
    "build_panel",
    "exact_pre_fit",
    "for_display",
    "plot_gaps",
    "plot_leave_one_out",
    "plot_paths",
    "plot_weights",
    "question",
    "reach_words",
    "robustness_variants",
    "size_words",
    "triangulate",
    "year_span",
]
