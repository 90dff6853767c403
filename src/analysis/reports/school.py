"""The school-level comparison for the partner school (notebook ``08_school``), in every language.

Question: *did the daytime enrolment of the partner school of Pro Officine Mezzogiorno, IISS
"Galilei-Costa-Scarambone" of Lecce, move away from that of comparable school sites after the
programme started (2021/22)?*

The panel (:func:`analysis.data.schools.comparison_panel`) sums the school's daytime sites into
one unit and compares it with a donor pool of other sites; the three estimators with their
placebo inference and leave-one-out re-estimates are :func:`analysis.synth.triangulate`'s.
This module only words, tabulates and draws what those results say, as messages
(:mod:`analysis.i18n`, domain ``school``).  The data are real school-level pupil counts (MIM
open data); enrolment is not dropout: it mixes intake (new first-year pupils), transfers in
and out, and retention, and the page says so.

The gap is called by :func:`analysis.significance.classify_placebo` (one treated school:
inference by placebos, not by the programme pages' few-cluster checks); :func:`rule_words`
states that rule on the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from analysis import i18n, significance, synth
from analysis._util import to_jsonable
from analysis.data import panels, schools
from analysis.data.schools import ComparisonPanel, comparison_panel
from analysis.facts import programme_facts
from analysis.i18n import N_, Concat, Msg, Text, integer, join, num, pct, t, term

__all__ = ["SchoolComparison", "compare_school", "permutation_words", "rule_words"]

#: Donor pools and outcomes of :mod:`analysis.data.schools` in words (keys are theirs).
POOL_WORDS = {
    "lecce_upper_secondary": N_("upper-secondary daytime sites in the municipality of Lecce"),
    "puglia_technical_vocational": N_(
        "technical and vocational upper-secondary daytime sites in Puglia"
    ),
}
OTHER_POOL_RUN = {
    "lecce_upper_secondary": "school_partner_puglia",
    "puglia_technical_vocational": "school_partner_lecce",
}
OUTCOME_WORDS = {
    "index": N_("daytime pupils, index (base year = 100)"),
    "pupils": N_("daytime pupils (number)"),
}
UNIT_WORDS = {"index": N_("index points"), "pupils": N_("pupils")}
ESTIMATOR_ROWS = (N_("Synthetic control"), N_("Synthetic DiD"), N_("DiD (unit + year effects)"))
PLACEBO_WORDS = {"all": N_("all"), "filtered": N_("good pre-period fit only")}
EXCLUSION_WORDS = {
    "evening": N_("evening-course code (not in the MIM totals from 2021/22)"),
    "incomplete": N_("no complete daytime series 2018/19–2024/25 (missing, or 3 pupils or fewer)"),
}
SPLICE_WORDS = (
    N_("UAAR 2020/21 file against ondata 2020/21 (same MIM base): share of sites equal"),
    N_("MIM 2022/23 totals against the grade file of 2022/23: ratio of totals"),
    N_("Median year-on-year change across the splice (2020/21 to 2021/22)"),
)

_HEADERS = {
    "estimator": N_("Estimator"),
    "att": N_("Average gap"),
    "se": N_("Standard error (placebo)"),
    "ci_low": N_("CI lower bound"),
    "ci_high": N_("CI upper bound"),
    "p_permutation": N_("Permutation p-value"),
    "rank": N_("Rank among placebos"),
    "n_units": N_("Units"),
    "pre_rmspe": N_("Pre-period RMSPE"),
    "donors_weighted": N_("Donors with weight"),
    "placebos": N_("Placebos"),
    "units_compared": N_("Units compared"),
    "treated_ratio": N_("School's post/pre RMSPE ratio"),
    "att_all_donors": N_("Gap, all donors"),
    "re_estimates": N_("Re-estimates"),
    "att_min": N_("Lowest gap"),
    "att_max": N_("Highest gap"),
    "most_influential_donor": N_("Most influential donor"),
    "att_without_it": N_("Gap without it"),
    "fake_start": N_("Fake start"),
    "fake_pre": N_("Fake pre-period"),
    "fake_post": N_("Fake post-period"),
    "placebo_att": N_("Placebo gap"),
    "real_att": N_("Gap at the real start"),
    "donor": N_("Donor site"),
    "sc_weight": N_("Synthetic control weight"),
    "sdid_weight": N_("Synthetic DiD weight"),
    "site": N_("Site"),
    "unit": N_("Site"),
    "reason": N_("Reason"),
    "check": N_("Check"),
    "n": N_("Sites compared"),
    "value": N_("Value"),
}


def _school_year(y: int) -> str:
    """``2021`` → ``"2021/22"`` (a school year, never grouped)."""
    return f"{int(y)}/{str(int(y) + 1)[-2:]}"


def _sy(y: int) -> i18n.Formatted:
    return i18n.year(_school_year(y))


def _as_is(label: str) -> Concat:
    """A column label shown as it is in every language (a school year): no catalog lookup."""
    return join([i18n.year(label)], "")


def _source() -> Msg:
    return t(
        "Source: MIM open data ALUCORSOETASTA/PAR 2018/19–2020/21 (via ondata) and MIM 'alunni "
        "frequentanti totali' 2021/22–2024/25 (accesso civico, via UAAR); grade profile and "
        "registry 2022/23: MIM via SchoolDataIT."
    )


# --------------------------------------------------------------------------------------------
# The page's rule for calling the gap
# --------------------------------------------------------------------------------------------


def rule_words(ev: significance.PlaceboSignificance) -> Msg:
    """The rule of :func:`analysis.significance.classify_placebo` in words (stated once)."""
    return t(
        "Rule (pre-specified for this page): the gap is called distinguishable from zero "
        "only when its {level} placebo interval excludes zero and the permutation p-value "
        "over all placebo sites is defined and at most {alpha}; when the interval excludes "
        "zero but the permutation test does not confirm it, the gap is borderline.",
        level=pct(100 * (1 - ev.alpha), 0),
        alpha=num(ev.alpha, 2),
    )


def permutation_words(ev: significance.PlaceboSignificance) -> Msg:
    """The school's permutation test in words (an undefined p is said to be undefined)."""
    if ev.undefined_because == "exact_fit":
        return t(
            "The permutation p-value is undefined: the pre-period fit is exact, so the "
            "post/pre ratio is infinite and its rank means nothing."
        )
    if ev.undefined_because == "too_few_placebos":
        return t(
            "Among {n} units the school ranks {rank} (1 = largest post/pre ratio): "
            "permutation p = {p}. With {n} units no rank can give p below {pmin}, above "
            "{alpha}: the permutation test cannot confirm any gap.",
            n=integer(ev.n_units),
            rank=integer(ev.rank),
            p=num(ev.p_rank, 3),
            pmin=num(ev.smallest_p, 3),
            alpha=num(ev.alpha, 2),
        )
    return t(
        "Among {n} units the school ranks {rank} (1 = largest post/pre ratio): permutation "
        "p = {p}.",
        n=integer(ev.n_units),
        rank=integer(ev.rank),
        p=num(ev.p_permutation, 3),
    )


# --------------------------------------------------------------------------------------------
# The comparison and the page built from it
# --------------------------------------------------------------------------------------------


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
        t_ = self.panel.treated_sites.sum()
        last = self.panel.years[-1]
        return int(t_[self.start - 1]), int(t_[last]), self.start - 1, last

    def _row(self, i: int) -> pd.Series:
        return self.triangulation.table().iloc[i]

    def _pre_scale(self) -> float:
        """Standard deviation of the school's pre-period values (scale of an exact fit)."""
        d = self.panel.data
        pre = d.loc[(d["unit"] == self.panel.treated_unit) & (d["year"] < self.start), "value"]
        return float(pre.std(ddof=1)) if len(pre) > 1 else 0.0

    def evidence(self, i: int = 1) -> significance.PlaceboSignificance:
        """The call of estimator ``i`` (0 synthetic control, 1 synthetic DiD, 2 DiD).

        :func:`analysis.significance.classify_placebo` of the triangulation's row ``i``.
        """
        row = self._row(i)
        return significance.classify_placebo(
            att=float(row["att"]),
            ci_low=float(row["ci_low"]),
            ci_high=float(row["ci_high"]),
            rank=int(row["rank"]),
            n_units=int(row["n_units"]),
            pre_rmspe=float(row["pre_rmspe"]),
            pre_scale=self._pre_scale(),
        )

    def verdict(self) -> dict[str, Any]:
        """The headline estimate (synthetic DiD) and its call (:meth:`evidence`)."""
        ev = self.evidence(1)
        return {
            "estimator": "synthetic DiD",
            "att": ev.att,
            "ci_low": ev.ci_low,
            "ci_high": ev.ci_high,
            "p_permutation": ev.p_permutation,
            "level": ev.level,
            "distinguishable": ev.distinguishable,
        }

    def _unit(self) -> Msg:
        return term(UNIT_WORDS[self.panel.outcome])

    def _gap(self, x: float) -> Msg:
        return t("{x} {unit}", x=num(x, 1, sign=True), unit=self._unit())

    def _school(self) -> Msg:
        """The treated unit in words (its institute code and "daytime sites")."""
        code = self.panel.treated_unit.removesuffix(" (daytime sites)")
        return t("{code} (daytime sites)", code=code)

    def _pool(self) -> Msg:
        return term(POOL_WORDS[self.panel.donor_pool])

    # ------------------------------------------------------------------ words
    def summary_box(self) -> dict[str, Text]:
        """The fields of ``display.summary_box``, generated from this run's results."""
        before, after, y0, y1 = self._enrolment()
        ev = self.evidence(1)
        answer = join(
            [
                t(
                    "The daytime enrolment of {school} went from {before} pupils in {y0} to "
                    "{after} in {y1} ({change}). Against {n} {pool}, the synthetic DiD puts the "
                    "average gap from {start} at {gap} ({level} placebo interval {lo} to {hi}).",
                    school=self._school(),
                    before=integer(before),
                    y0=_sy(y0),
                    after=integer(after),
                    y1=_sy(y1),
                    change=pct(100 * (after - before) / before, 1, sign=True),
                    n=integer(len(self.panel.donors)),
                    pool=self._pool(),
                    start=_sy(self.start),
                    gap=self._gap(ev.att),
                    level=pct(100 * (1 - ev.alpha), 0),
                    lo=num(ev.ci_low, 1, sign=True),
                    hi=num(ev.ci_high, 1, sign=True),
                ),
                ev.words(),
            ]
        )
        return {
            "question": self.question_text(),
            "answer": answer,
            "certainty": self._certainty(),
            "would_change": self._would_change(),
            "not_this": self._not_this(),
        }

    def _certainty(self) -> Text:
        ev = self.evidence(1)
        loo = self.triangulation.leave_one_out_table().iloc[1]
        calls = [self.evidence(i) for i in range(3)]
        same = sum(c.level == ev.level for c in calls)
        parts: list[Text] = [
            rule_words(ev),
            t("**Placebo in space:** {words}", words=permutation_words(ev)),
            t(
                "**Three estimators:** {same} of 3 give the same call (synthetic control "
                "{sc}, synthetic DiD {sdid}, DiD {did}).",
                same=integer(same),
                sc=self._gap(calls[0].att),
                sdid=self._gap(calls[1].att),
                did=self._gap(calls[2].att),
            ),
        ]
        if int(loo["re_estimates"]) > 0:
            parts.append(
                t(
                    "**Leave-one-out:** dropping one donor at a time moves the synthetic DiD gap "
                    "between {lo} and {hi}.",
                    lo=self._gap(float(loo["att_min"])),
                    hi=self._gap(float(loo["att_max"])),
                )
            )
        it = self.triangulation.placebo_in_time_table()
        if len(it):
            r = it.iloc[1]
            passes = float(r["ci_low"]) <= 0 <= float(r["ci_high"])
            parts.append(
                t(
                    "**Placebo in time:** a fake start in {fake} gives {gap}, {verdict}.",
                    fake=_sy(int(r["fake_start"])),
                    gap=self._gap(float(r["placebo_att"])),
                    verdict=t("no spurious gap") if passes else t("a spurious gap"),
                )
            )
        return join(parts)

    def _would_change(self) -> Text:
        other = OTHER_POOL_RUN[self.panel.donor_pool]
        return join(
            [
                t(
                    "Each new school year of counts enters the average gap, which now rests on "
                    "{n} school years from {start}.",
                    n=integer(len([y for y in self.panel.years if y >= self.start])),
                    start=_sy(self.start),
                ),
                t(
                    "Another donor pool: the [same comparison against the other pool]({run}.html) "
                    "tests whether the answer depends on the comparison sites.",
                    run=other,
                ),
                t(
                    "Other changes in the school after {start} (courses, sites, demography) are "
                    "not separated from the programme: evidence of them would change the reading.",
                    start=_sy(self.start),
                ),
            ]
        )

    def _not_this(self) -> Text:
        return t(
            "**Real data, school level**: daytime pupil counts of the school's sites from the "
            "ministry's open data, not records of individual pupils. **Not an effect on "
            "pupils**: a school of about {school} pupils against a programme of about {pupils} "
            "participants. **Enrolment, not dropout**: the counts mix the intake of new "
            "first-year pupils, transfers between schools and retention; a falling enrolment "
            "can come from fewer pupils choosing the school at 14, and a stable one can hide "
            "dropout offset by transfers in.",
            school=integer(self._enrolment()[1]),
            pupils=integer(programme_facts().courses.pupils),
        )

    def question_text(self) -> Msg:
        """What the page asks, with the programme facts from ``config/programme.yaml``."""
        c = programme_facts().courses
        outcome = (
            t(
                "{outcome}, base {base}",
                outcome=term(OUTCOME_WORDS["index"]),
                base=_sy(self.panel.base_year),
            )
            if self.panel.outcome == "index"
            else term(OUTCOME_WORDS[self.panel.outcome])
        )
        return t(
            "Did the daytime enrolment of the partner school of {name} ({first}–{last}, "
            "{courses} courses for about {pupils} pupils) move away from that of comparable "
            "school sites after {start}? Outcome: {outcome}.",
            name=c.name,
            first=i18n.year(c.first_year),
            last=i18n.year(c.last_year),
            courses=integer(c.courses),
            pupils=integer(c.pupils),
            start=_sy(self.start),
            outcome=outcome,
        )

    # ------------------------------------------------------------------ tables
    def sites_table(self) -> pd.DataFrame:
        """Pupils of each daytime site of the school, by school year, and the total.

        Columns: ``site`` then one per school year (``"2018/19"``, …); the last row is the
        total (``"Total"``).
        """
        t_ = self.panel.treated_sites.copy()
        t_.loc[N_("Total")] = t_.sum()
        t_.columns = [_school_year(int(y)) for y in t_.columns]
        return t_.astype(int).rename_axis("site").reset_index()

    def sites_view(self, institute: str) -> dict[str, Any]:
        """The sites table as shown (human headers; school years as they are)."""
        df = self.sites_table()
        df = df.rename(columns={c: _as_is(c) for c in df.columns if c != "site"})
        return {
            "df": df.rename(columns={"site": _HEADERS["site"]}),
            "caption": join(
                [
                    t(
                        "Daytime pupils of each site of {institute} by school year (evening "
                        "courses excluded).",
                        institute=institute,
                    ),
                    _source(),
                ]
            ),
            "digits": 0,
        }

    @staticmethod
    def _estimator_words(df: pd.DataFrame) -> pd.DataFrame:
        """Check that the estimator labels are the catalog's (:data:`ESTIMATOR_ROWS`)."""
        unknown = sorted(set(df["estimator"]) - set(ESTIMATOR_ROWS))
        if unknown:
            raise ValueError(f"estimator labels without a translation: {unknown}")
        return df

    def estimates_table(self) -> pd.DataFrame:
        """The three estimators' average gap after the start (an undefined p is infinite)."""
        t_ = self.triangulation.table().copy()
        for i in range(len(t_)):
            if self.evidence(i).undefined_because == "exact_fit":
                t_.loc[i, "p_permutation"] = math.inf  # rendered "undefined": rank means nothing
        t_ = t_.drop(columns=["p_normal"])
        return self._estimator_words(t_).rename(columns=_HEADERS)

    def placebo_table(self) -> pd.DataFrame:
        """Placebo-in-space ranks (an exact pre-fit makes the ratio and the p undefined)."""
        t_ = self.triangulation.placebo_table().copy()
        t_["placebos"] = [
            PLACEBO_WORDS["all"] if str(p) == "all" else PLACEBO_WORDS["filtered"]
            for p in t_["placebos"]
        ]
        bad = ~t_["treated_ratio"].astype(float).map(math.isfinite)
        t_.loc[bad, ["treated_ratio", "p_permutation"]] = math.inf
        return self._estimator_words(t_).rename(columns=_HEADERS)

    def leave_one_out_table(self) -> pd.DataFrame:
        """Leave-one-out re-estimates with human headers."""
        t_ = self.triangulation.leave_one_out_table().copy()
        return self._estimator_words(t_).rename(columns=_HEADERS)

    def in_time_table(self) -> pd.DataFrame:
        """Placebo-in-time estimates with human headers (school years as text)."""
        t_ = self.triangulation.placebo_in_time_table().copy()
        if len(t_):
            t_["fake_start"] = [_school_year(int(y)) for y in t_["fake_start"]]
        return self._estimator_words(t_).rename(columns=_HEADERS)

    def weights_table(self) -> pd.DataFrame:
        """Donor weights with human headers."""
        return self.triangulation.weights_table().rename(columns=_HEADERS)

    def grade_profile_table(self) -> pd.DataFrame:
        """2022/23 pupils and classes by grade: the school's sites and the donors' share (%)."""
        g = self.grades
        school = g[g["school_code"].isin(self.panel.treated_sites.index)]
        donors = g[g["school_code"].isin(self.panel.donors) & g["grade"].between(9, 13)]
        s = school.groupby("grade")[["pupils", "classes"]].sum()
        d_share = donors.groupby("grade")["pupils"].sum() / donors["pupils"].sum()
        return pd.DataFrame(
            {
                N_("Year of upper secondary"): [f"{int(k) - 8}" for k in s.index],
                N_("Pupils (school)"): s["pupils"].astype(int).to_numpy(),
                N_("Classes (school)"): s["classes"].astype(int).to_numpy(),
                N_("Share of the school's pupils (%)"): (
                    100 * s["pupils"] / s["pupils"].sum()
                ).to_numpy(),
                N_("Share in the donor sites (%)"): (100 * d_share.reindex(s.index)).to_numpy(),
            }
        )

    def splice_table(self) -> pd.DataFrame:
        """The splice checks with their descriptions in words (values as numbers)."""
        sp = self.splice.reset_index(drop=True)
        if len(sp) != len(SPLICE_WORDS):
            raise ValueError(
                f"splice checks: expected {len(SPLICE_WORDS)} rows from "
                f"analysis.data.schools.splice_checks, got {len(sp)}"
            )
        return pd.DataFrame(
            {
                _HEADERS["check"]: list(SPLICE_WORDS),
                _HEADERS["n"]: sp["n"].astype(int).to_numpy(),
                _HEADERS["value"]: sp["value"].astype(float).to_numpy(),
            }
        )

    def excluded_table(self) -> pd.DataFrame:
        """Candidate donor sites left out, with the reason in words."""
        ex = self.panel.excluded
        reasons: list[Text] = []
        for r in ex["rule"]:
            if r == "same_school":
                reasons.append(N_("a site of the treated school"))
            else:
                reasons.append(EXCLUSION_WORDS[str(r)])
        return pd.DataFrame({_HEADERS["unit"]: ex["unit"].to_numpy(), _HEADERS["reason"]: reasons})

    # ------------------------------------------------------------------ figures
    def paths_figure(self, lang: str = "en") -> Figure:
        """The school's outcome, its synthetic DiD counterfactual and the donors' spread."""
        tr = i18n.translator(lang)
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
            label=tr(t("donor sites: median and middle half")),
        )
        ax.plot(gy["year"], gy["observed"], color="black", marker="o", label=tr(self._school()))
        ax.plot(
            gy["year"],
            gy["sdid_counterfactual"],
            color="tab:orange",
            linestyle="--",
            label=tr(t("synthetic DiD counterfactual")),
        )
        ax.axvline(self.start - 0.5, color="0.3", linewidth=0.8)
        years = sorted(int(y) for y in d["year"].unique())
        ax.set_xticks(years, [_school_year(y) for y in years])
        ax.set_xlabel(tr(t("school year")))
        ax.set_ylabel(tr(OUTCOME_WORDS[self.panel.outcome]))
        ax.yaxis.set_major_formatter(i18n.tick_formatter(lang, 0))
        ax.legend(frameon=False, fontsize=8)
        sns.despine(fig)
        fig.tight_layout()
        return fig

    def paths_caption(self) -> Text:
        """Caption and alt text of :meth:`paths_figure`."""
        return join(
            [
                t(
                    "{outcome} of {school} (black) and its synthetic DiD counterfactual (dashed) "
                    "against {n} {pool} (grey: median and middle half). Vertical line: start of "
                    "{name} ({start}).",
                    outcome=term(OUTCOME_WORDS[self.panel.outcome]),
                    school=self._school(),
                    n=integer(len(self.panel.donors)),
                    pool=self._pool(),
                    name=programme_facts().courses.name,
                    start=_sy(self.start),
                ),
                _source(),
            ]
        )

    # ------------------------------------------------------------------ captions
    def estimates_caption(self) -> Text:
        """Caption of :meth:`estimates_table`."""
        return join(
            [
                t(
                    "Average gap between the school and its counterfactual over the school "
                    "years from {start}, in {unit}; standard errors from {reps} placebo draws "
                    "(Arkhangelsky et al. 2021, Algorithm 4), {level} normal intervals; "
                    "permutation p-value: share of units (placebos and the school) whose "
                    "post/pre RMSPE ratio is at least the school's, undefined where the "
                    "pre-period fit is exact (the ratio is then infinite).",
                    start=_sy(self.start),
                    unit=self._unit(),
                    reps=integer(self.replications),
                    level=pct(100 * (1 - significance.alpha()), 0),
                ),
                _source(),
            ]
        )

    def placebo_caption(self) -> Text:
        """Caption of the placebo-in-space table."""
        return t(
            "Placebo in space: each donor site in turn treated as if it had had the programme; "
            "rank of the school's post/pre RMSPE ratio among all units (1 = largest), and among "
            "the units whose pre-period fit is at most 5 times worse than the school's. An "
            "exact pre-period fit makes the ratio infinite and the p-value undefined."
        )

    def leave_one_out_caption(self) -> Text:
        """Caption of the leave-one-out table."""
        return t(
            "Leave-one-out: each estimate re-computed without one donor site at a time, in "
            "{unit}; the most influential donor and the estimate without it.",
            unit=self._unit(),
        )

    def in_time_caption(self) -> Text:
        """Caption of the placebo-in-time table."""
        pre = [y for y in self.panel.years if y < self.start]
        return t(
            "Placebo in time: the same estimators with a fake start inside the pre-programme "
            "school years; a gap there would speak against the design. With {n} pre-programme "
            "school years the fake pre-period is {m} years long.",
            n=integer(len(pre)),
            m=integer(max(len(pre) - 1, 0)),
        )

    def weights_caption(self) -> Text:
        """Caption of the donor-weights table."""
        return t(
            "Donor sites and their weights in the synthetic control and the synthetic DiD (site "
            "codes; the weights of each estimator sum to 1)."
        )

    def grade_profile_caption(self) -> Text:
        """Caption of :meth:`grade_profile_table`."""
        return t(
            "Pupils and classes of the school's daytime sites by year of upper secondary "
            "(1st–5th) in 2022/23, and the share of each year among the school's pupils and "
            "among the donor sites' pupils (state schools only; grade detail exists for 2022/23 "
            "only). Source: MIM ALUCORSOINDCLASTA 2022/23 via SchoolDataIT."
        )

    def splice_caption(self) -> Text:
        """Caption of the splice checks."""
        return t(
            "Checks of the splice of the two count sources, on the upper-secondary sites of "
            "Puglia: (1) the share of sites whose UAAR 2020/21 count equals ondata's (the same "
            "MIM base), (2) the ratio of the MIM 2022/23 totals to the grade file of the same "
            "year, (3) the median year-on-year change across the splice (sites with complete "
            "series), to be read against the changes within each source."
        )

    def excluded_caption(self) -> Text:
        """Caption of the excluded-donors table."""
        return t(
            "Candidate donor sites ({pool}) left out, and why: sites of the school itself, "
            "evening-course codes (not in the MIM totals from 2021/22), and sites without a "
            "complete daytime series (new, merged or renamed sites, or counts of 3 or fewer "
            "suppressed by the MIM).",
            pool=self._pool(),
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

    def headline_text(self) -> Msg:
        """The headline as the index shows it: synthetic-DiD gap [interval] and its unit."""
        ev = self.evidence(1)
        return t(
            "{est} [{lo}; {hi}] {unit}",
            est=num(ev.att, 1, sign=True),
            lo=num(ev.ci_low, 1, sign=True),
            hi=num(ev.ci_high, 1, sign=True),
            unit=self._unit(),
        )

    def to_dict(self) -> dict[str, Any]:
        """Every number of the page, for the results JSON and ``verify``."""
        return to_jsonable(
            {
                "verdict": self.verdict(),
                "significance": {
                    key: self.evidence(i).to_dict()
                    for i, key in enumerate(("synthetic_control", "synthetic_did", "did"))
                },
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
