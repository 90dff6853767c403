"""The school-level comparison for the partner school (notebook ``08_school``).

Question: *did the daytime enrolment of the partner school of Pro Officine Mezzogiorno, IISS
"Galilei-Costa-Scarambone" of Lecce, move away from that of comparable school sites after the
programme started (2021/22)?*

The panel (:func:`analysis.data.schools.comparison_panel`) sums the school's daytime sites into
one unit and compares it with a donor pool of other sites; the three estimators with their
placebo inference and leave-one-out re-estimates are :func:`analysis.synth.triangulate`'s.
This module only words, tabulates and draws what those results say.  Enrolment is not
dropout: it mixes intake (new first-year pupils), transfers in and out, and retention; the
page says so next to every number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from analysis import synth
from analysis._util import fmt_number, to_jsonable
from analysis.data import panels, schools
from analysis.data.schools import DONOR_POOLS, OUTCOMES, ComparisonPanel, comparison_panel
from analysis.facts import programme_facts

__all__ = ["SchoolComparison", "compare_school"]

SOURCE = (
    "MIM open data ALUCORSOETASTA/PAR 2018/19–2020/21 (via ondata) and MIM 'alunni frequentanti "
    "totali' 2021/22–2024/25 (accesso civico, via UAAR); grade profile and registry 2022/23: MIM "
    "via SchoolDataIT"
)
ALPHA = 0.05

_HEADERS = {
    "estimator": "Estimator",
    "placebos": "Placebo units",
    "units_compared": "Units compared",
    "treated_ratio": "School's post/pre RMSPE ratio",
    "rank": "Rank",
    "p_permutation": "p (permutation)",
    "att_all_donors": "Gap, all donors",
    "re_estimates": "Re-estimates",
    "att_min": "Lowest gap",
    "att_max": "Highest gap",
    "most_influential_donor": "Most influential donor",
    "att_without_it": "Gap without it",
    "fake_start": "Fake start",
    "fake_pre": "Fake pre-period",
    "fake_post": "Fake post-period",
    "placebo_att": "Placebo gap",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "pre_rmspe": "Pre-period RMSPE",
    "real_att": "Gap at the real start",
    "donor": "Donor site",
    "sc_weight": "Synthetic control weight",
    "sdid_weight": "Synthetic DiD weight",
}


def _year_label(y: int) -> str:
    return f"{y}/{str(y + 1)[-2:]}"


@dataclass(frozen=True)
class SchoolComparison:
    """The partner school against a donor pool: panel, triangulation and the words about them."""

    panel: ComparisonPanel
    triangulation: synth.Triangulation
    start: int
    grades: pd.DataFrame
    splice: pd.DataFrame
    replications: int

    # ------------------------------------------------------------------ numbers
    def _enrolment(self) -> tuple[int, int, int, int]:
        """Pupils in the year before the start and in the last year, and those years."""
        t = self.panel.treated_sites.sum()
        last = self.panel.years[-1]
        return int(t[self.start - 1]), int(t[last]), self.start - 1, last

    def verdict(self) -> dict[str, Any]:
        """The headline estimate (synthetic DiD) and whether it is distinguishable from zero.

        Rule (pre-specified here): distinguishable only when the 95 % interval excludes zero
        *and* the permutation p-value over all placebo units is defined and ≤ 0.05.
        """
        row = self.triangulation.table().set_index("estimator").iloc[1]  # synthetic DiD
        p_perm = float(row["p_permutation"])
        defined = math.isfinite(p_perm) and math.isfinite(float(row["pre_rmspe"]))
        excludes = float(row["ci_low"]) > 0 or float(row["ci_high"]) < 0
        distinguishable = bool(excludes and defined and p_perm <= ALPHA)
        return {
            "estimator": "synthetic DiD",
            "att": float(row["att"]),
            "ci_low": float(row["ci_low"]),
            "ci_high": float(row["ci_high"]),
            "p_permutation": p_perm if defined else None,
            "distinguishable": distinguishable,
        }

    # ------------------------------------------------------------------ words
    def summary_text(self) -> str:
        """The answer first: what happened to enrolment, the estimate, how sure, what it is not."""
        before, after, y0, y1 = self._enrolment()
        change = (after - before) / before
        v = self.verdict()
        unit = "index points" if self.panel.outcome == "index" else "pupils"
        n_donors = len(self.panel.donors)
        sure = (
            "The interval excludes zero and the school ranks among the most extreme of the placebo "
            "sites, so the gap is distinguishable from zero."
            if v["distinguishable"]
            else (
                "The interval includes zero"
                if v["ci_low"] <= 0 <= v["ci_high"]
                else "Placebo sites show gaps as large"
            )
            + (
                f" (although the school ranks among the most extreme placebo sites, permutation "
                f"p {v['p_permutation']:.3f})"
                if v["p_permutation"] is not None and v["p_permutation"] <= ALPHA
                else ""
            )
            + ", so the gap is **not distinguishable from zero**."
        )
        loo = self.triangulation.leave_one_out_table().set_index("estimator").iloc[1]
        return (
            f"**Answer.** The daytime enrolment of {self.panel.treated_unit} went from "
            f"{fmt_number(before)} pupils in {_year_label(y0)} to {fmt_number(after)} in "
            f"{_year_label(y1)} ({change:+.1%}). Against {n_donors} {DONOR_POOLS[self.panel.donor_pool]}, "
            f"the synthetic DiD puts the average gap from {_year_label(self.start)} at "
            f"{v['att']:+.1f} {unit} (95 % CI {v['ci_low']:+.1f} to {v['ci_high']:+.1f}; "
            f"{self.replications} placebo draws). {sure} Dropping one donor at a time moves it "
            f"between {float(loo['att_min']):+.1f} and {float(loo['att_max']):+.1f}.\n\n"
            "**What it is not.** Enrolment counts are not dropout: they mix the intake of new "
            "first-year pupils, transfers between schools and retention. A falling enrolment can "
            "come from fewer pupils choosing the school at 14, and a stable one can hide dropout "
            "offset by transfers in. With three pre-programme years the counterfactual rests on a "
            "short history, and other changes in the school after 2021 (courses, sites, "
            "demography) are not separated from the programme."
        )

    def question_text(self) -> str:
        """What the page asks, with the programme facts from ``config/programme.yaml``."""
        c = programme_facts().courses
        return (
            f"Did the daytime enrolment of the partner school of {c.name} ({c.first_year}–"
            f"{c.last_year}, {c.courses} courses for about {c.pupils} pupils) move away from that "
            f"of comparable school sites after {_year_label(self.start)}? Outcome: "
            f"{OUTCOMES[self.panel.outcome]}"
            + (
                f", base {_year_label(self.panel.base_year)}"
                if self.panel.outcome == "index"
                else ""
            )
            + "."
        )

    # ------------------------------------------------------------------ tables
    def sites_table(self) -> pd.DataFrame:
        """Pupils of each daytime site of the school, by school year, and the total."""
        t = self.panel.treated_sites.copy()
        t.loc["total"] = t.sum()
        t.columns = [_year_label(int(y)) for y in t.columns]
        return t.rename_axis("site").reset_index()

    def estimates_table(self) -> pd.DataFrame:
        """The three estimators' average gap after the start, with CIs and placebo ranks."""
        t = self.triangulation.table().copy()
        finite = t["pre_rmspe"] > 1e-9
        t["p_permutation"] = t["p_permutation"].where(finite)  # exact pre-fit: undefined
        return t.rename(
            columns={
                "estimator": "Estimator",
                "att": "Average gap",
                "se": "SE (placebo)",
                "ci_low": "95% CI low",
                "ci_high": "95% CI high",
                "p_normal": "p (normal)",
                "p_permutation": "p (permutation)",
                "rank": "Rank among placebos",
                "n_units": "Units",
                "pre_rmspe": "Pre-period RMSPE",
                "donors_weighted": "Donors with weight",
            }
        )

    def placebo_table(self) -> pd.DataFrame:
        """Placebo-in-space ranks with human headers (an infinite ratio reads "exact pre-fit")."""
        t = self.triangulation.placebo_table().copy()
        t["treated_ratio"] = [
            "exact pre-fit" if not math.isfinite(float(x)) else fmt_number(float(x))
            for x in t["treated_ratio"]
        ]
        return t.rename(columns=_HEADERS)

    def leave_one_out_table(self) -> pd.DataFrame:
        """Leave-one-out re-estimates with human headers."""
        return self.triangulation.leave_one_out_table().rename(columns=_HEADERS)

    def in_time_table(self) -> pd.DataFrame:
        """Placebo-in-time estimates with human headers."""
        return self.triangulation.placebo_in_time_table().rename(columns=_HEADERS)

    def weights_table(self) -> pd.DataFrame:
        """Donor weights with human headers."""
        return self.triangulation.weights_table().rename(columns=_HEADERS)

    def grade_profile_table(self) -> pd.DataFrame:
        """2022/23 pupils and classes by grade: the school's sites and the donors' average share."""
        g = self.grades
        school = g[g["school_code"].isin(self.panel.treated_sites.index)]
        donors = g[g["school_code"].isin(self.panel.donors) & g["grade"].between(9, 13)]
        s = school.groupby("grade")[["pupils", "classes"]].sum()
        d_share = donors.groupby("grade")["pupils"].sum() / donors["pupils"].sum()
        out = pd.DataFrame(
            {
                "Year of upper secondary": [f"{int(k) - 8}" for k in s.index],
                "Pupils (school)": s["pupils"].astype(int).to_numpy(),
                "Classes (school)": s["classes"].astype(int).to_numpy(),
                "Share of the school's pupils": (s["pupils"] / s["pupils"].sum()).to_numpy(),
                "Share in the donor sites": d_share.reindex(s.index).to_numpy(),
            }
        )
        return out

    # ------------------------------------------------------------------ figures
    def paths_figure(self) -> Figure:
        """The school's outcome, its synthetic DiD counterfactual and the donors' spread."""
        gy = self.triangulation.gap_by_year()
        d = self.panel.data
        donors = d[d["unit"] != self.panel.treated_unit]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        sns.lineplot(
            data=donors,
            x="year",
            y="value",
            estimator="median",
            errorbar=("pi", 50),
            color="0.6",
            ax=ax,
            label="donor sites: median and middle half",
        )
        ax.plot(
            gy["year"], gy["observed"], color="black", marker="o", label=self.panel.treated_unit
        )
        ax.plot(
            gy["year"],
            gy["sdid_counterfactual"],
            color="tab:orange",
            linestyle="--",
            label="synthetic DiD counterfactual",
        )
        ax.axvline(self.start - 0.5, color="0.3", linewidth=0.8)
        ax.set_xlabel("school year (first calendar year)")
        ax.set_ylabel(OUTCOMES[self.panel.outcome])
        ax.legend(frameon=False, fontsize=8)
        sns.despine(fig)
        return fig

    def paths_caption(self) -> str:
        """Caption and alt text of :meth:`paths_figure`."""
        return (
            f"{OUTCOMES[self.panel.outcome]} of {self.panel.treated_unit} (black) and its "
            f"synthetic DiD counterfactual (dashed) against {len(self.panel.donors)} "
            f"{DONOR_POOLS[self.panel.donor_pool]} (grey: median and middle half). Vertical line: "
            f"start of Pro Officine Mezzogiorno ({_year_label(self.start)}). Source: {SOURCE}."
        )

    # ------------------------------------------------------------------ captions
    def panel_source(self) -> str:
        """The sources of the counts (for captions)."""
        return SOURCE

    def _unit(self) -> str:
        return "index points" if self.panel.outcome == "index" else "pupils"

    def estimates_caption(self) -> str:
        """Caption of :meth:`estimates_table`."""
        return (
            f"Average gap between the school and its counterfactual over the school years from "
            f"{_year_label(self.start)}, in {self._unit()}; standard errors from "
            f"{self.replications} placebo draws (Arkhangelsky et al. 2021, Algorithm 4), 95% "
            "normal intervals; permutation p-value: share of units (placebos and the school) "
            "whose post/pre RMSPE ratio is at least the school's. A p-value is left blank "
            "(undefined) where the pre-period fit is exact, since the ratio is then infinite. "
            f"Source: {SOURCE}."
        )

    def placebo_caption(self) -> str:
        """Caption of the placebo-in-space table."""
        return (
            "Placebo in space: each donor site in turn treated as if it had had the programme; "
            "rank of the school's post/pre RMSPE ratio among all units, and among the units whose "
            f"pre-period fit is at most 5 times worse than the school's. Source: {SOURCE}."
        )

    def leave_one_out_caption(self) -> str:
        """Caption of the leave-one-out table."""
        return (
            f"Leave-one-out: each estimate re-computed without one donor site at a time "
            f"({self._unit()}); the most influential donor and the estimate without it. "
            f"Source: {SOURCE}."
        )

    def in_time_caption(self) -> str:
        """Caption of the placebo-in-time table."""
        return (
            "Placebo in time: the same estimators with a fake start inside the pre-programme "
            "years; a gap there would speak against the design. With three pre-programme school "
            f"years the fake pre-period is two years long. Source: {SOURCE}."
        )

    def weights_caption(self) -> str:
        """Caption of the donor-weights table."""
        return (
            "Donor sites with the largest weights in the synthetic control and the synthetic "
            f"DiD (site codes; weights sum to 1 for each estimator). Source: {SOURCE}."
        )

    def grade_profile_caption(self) -> str:
        """Caption of :meth:`grade_profile_table`."""
        return (
            "Pupils and classes of the school's daytime sites by year of upper secondary "
            "(1st–5th) in 2022/23, and the share of each year among the school's pupils and "
            "among the donor sites' pupils (state schools only; grade detail exists for 2022/23 "
            "only). Source: MIM ALUCORSOINDCLASTA 2022/23 via SchoolDataIT."
        )

    def splice_caption(self) -> str:
        """Caption of the splice checks."""
        return (
            "Checks of the splice of the two count sources: (1) UAAR's 2020/21 file against "
            "ondata's (the same MIM base), (2) MIM 2022/23 totals against the grade file of the "
            "same year for the upper-secondary sites of Puglia, (3) the median year-on-year change "
            "across the splice against the changes within each source (sites with complete series)."
        )

    def excluded_caption(self) -> str:
        """Caption of the excluded-donors table."""
        return (
            f"Candidate donor sites ({DONOR_POOLS[self.panel.donor_pool]}) left out, and why: "
            "sites of the school itself, evening-course codes (not in the MIM totals from "
            "2021/22), and sites without a complete daytime series 2018/19–2024/25 (new, merged "
            "or renamed sites, or counts of 3 or fewer suppressed by the MIM)."
        )

    # ------------------------------------------------------------------ results
    def headline(self) -> dict[str, Any]:
        """The index numbers: the estimate with its interval and the enrolment change."""
        v = self.verdict()
        before, after, *_ = self._enrolment()
        return {
            "Synthetic DiD gap": v["att"],
            "95% CI low": v["ci_low"],
            "95% CI high": v["ci_high"],
            "Daytime pupils, last year": after,
            "Change since the year before the start (%)": 100 * (after - before) / before,
        }

    def to_dict(self) -> dict[str, Any]:
        """Every number of the page, for the results JSON and ``verify``."""
        return to_jsonable(
            {
                "verdict": self.verdict(),
                "panel": {
                    "treated_unit": self.panel.treated_unit,
                    "treated_sites": list(self.panel.treated_sites.index),
                    "donors": list(self.panel.donors),
                    "excluded": self.panel.excluded,
                    "outcome": self.panel.outcome,
                    "base_year": self.panel.base_year,
                    "donor_pool": self.panel.donor_pool,
                },
                "enrolment": self.sites_table(),
                "triangulation": self.triangulation.to_dict(),
                "grade_profile": self.grade_profile_table(),
                "splice_checks": self.splice,
            }
        )


def compare_school(
    *,
    treated_sites: list[str],
    institute: str,
    donor_pool: str,
    start: int,
    outcome: str = "index",
    base_year: int = 2020,
    replications: int = 500,
    seed: int,
) -> SchoolComparison:
    """Build the comparison in one call (panels, triangulation, grade profile, splice checks)."""
    sites, grades, registry = (
        panels.load("school_sites"),
        panels.load("school_grades_2022"),
        panels.load("school_registry_2022"),
    )
    cp = comparison_panel(
        sites,
        grades,
        registry,
        treated_sites=treated_sites,
        institute=institute,
        donor_pool=donor_pool,
        outcome=outcome,
        base_year=base_year,
    )
    tri = synth.triangulate(
        cp.data,
        outcome="value",
        unit="unit",
        time="year",
        treated_unit=cp.treated_unit,
        start=start,
        replications=replications,
        seed=seed,
    )
    splice = schools.puglia_splice_checks(grades=grades, registry=registry)
    return SchoolComparison(
        panel=cp,
        triangulation=tri,
        start=start,
        grades=grades,
        splice=splice,
        replications=replications,
    )
