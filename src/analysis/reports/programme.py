r"""Glue for the programme-evaluation report (notebook ``03_programme_did``).

The report answers one question per outcome: *what did taking part in a programme edition do
to the pupils who took part?*  The estimand is the **average treatment effect on the treated
(ATT)**, averaged over participants and the school years from their first edition on, on the
outcome's natural scale.

Data
----
:func:`load` reads the evaluator's file with :func:`analysis.data.programme.load_panel`
(``exclusions="report"``: rows removed by a documented rule are counted, never dropped
silently) or draws a SIMULATED panel with :func:`analysis.data.simulate.programme_panel`, whose
true effects are kept so that the report can show them next to the estimates.

Why the Callaway-Sant'Anna estimator is run here on an unbalanced panel
-----------------------------------------------------------------------
:func:`analysis.did.staggered` follows R ``did``'s default (``allow_unbalanced_panel =
FALSE``) and keeps only units observed in *every* period.  School registers are not like
that: a pupil is in a lower secondary school for three years and in an upper secondary school
for five, so in a six-year panel no pupil is observed every year and ``did.staggered`` has
nothing left to estimate on (it fails).  :func:`staggered_pupils` therefore calls the same
backend (diff-diff's ``CallawaySantAnna``, which reproduces R ``did``) on the unbalanced
panel: each :math:`ATT(g,t)` is the 2×2 comparison of the pupils of cohort :math:`g` and the
control pupils that are **observed in both the base year and year** :math:`t` (within-pupil
differencing, cell by cell), which identifies :math:`ATT(g,t)` when attrition is unrelated to
a pupil's untreated *trend* (leaving school because of high absence *levels* is allowed).  The
per-unit influence functions of every cell are then handed to
:class:`analysis.did.StaggeredResult`, so aggregation, clustering, the Wald pre-test and the
uniform bands are the package's validated code.  On a balanced panel the result is identical
to :func:`analysis.did.staggered` (``tests/test_programme_report.py``).

Dropout
-------
After the dropout year a pupil has no rows, and a future participant has, by construction, not
dropped out before taking part: the pre-period dropout rate of participants is zero
("immortal time"), so any difference-in-differences of ``dropped_out`` (pupil fixed effects,
CS, TWFE) is biased.  :func:`dropout_effect` compares instead, for each edition :math:`g`,
the **annual dropout hazard** from year :math:`g` on of the participants with that of
never-participants who were enrolled in the same school year :math:`g` (and before it) and of
the same ages (the *risk set*), with a linear probability model adjusted for baseline
covariates, school and year × edition fixed effects.  Identification rests on selection on
observables (baseline covariates and school), not on parallel trends; with the programme's
size the estimate is reported descriptively (background note §3.5: the MDE exceeds the base
rate).

Privacy
-------
Tables of pupil counts go through :func:`analysis.display.show_pupil_table` or are
suppressed here (:func:`sample_flow_table`); group-time cells, event times and histogram bars
built on fewer than :data:`analysis.privacy.K_MIN` pupils are not shown.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis import diagnostics, did, inference, paths, power, weighting
from analysis._util import readonly, version
from analysis.data.programme import LoadedPanel, load_panel
from analysis.did import EventStudy, StaggeredResult
from analysis.did._inference import multiplier_sup_t_crit
from analysis.errors import fail
from analysis.estimate import Estimate
from analysis.privacy import K_MIN

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from analysis.data.simulate import SimulatedPanel
    from analysis.honest import HonestDiDResult

__all__ = [
    "BaconSummary",
    "Balance",
    "DropoutResult",
    "OUTCOMES",
    "OutcomeSpec",
    "PretrendSummary",
    "ProgrammeData",
    "alternative_fit",
    "analysis_frame",
    "available_covariates",
    "bacon_on_balanced_subpanel",
    "balance",
    "balanced_subpanel",
    "cluster_column",
    "cohort_table",
    "conclusion",
    "cs_event_study",
    "cs_truth",
    "dropout_effect",
    "dropout_few_cluster_table",
    "dropout_hazard_table",
    "event_study_figure",
    "effect_horizon",
    "event_window",
    "few_cluster_table",
    "first_year_2x2",
    "first_year_stack",
    "group_time_figure",
    "group_time_table",
    "hazard_figure",
    "headline",
    "honest_text",
    "load",
    "mde_for",
    "overlap_figure",
    "pretrend_tests",
    "question_text",
    "realised_mde",
    "reassign_participation",
    "risk_sets",
    "sample_flow_table",
    "scaled",
    "display_table",
    "staggered_pupils",
    "subset_cells",
    "treated_cell_counts",
    "triangulation",
    "unit_level",
]

_SRC = "programme report arguments"
UNIT, TIME, COHORT = "pupil_id", "year", "cohort"


# --------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeSpec:
    """How an outcome is named, scaled and read.

    Attributes
    ----------
    name
        Column of the programme panel.
    label
        Words for titles.
    unit
        Unit of displayed effects (after multiplying by ``scale``).
    scale
        Factor from the natural scale to the displayed unit (100 for rates → points).
    binary
        Whether the outcome is 0/1.
    better
        ``"lower"`` or ``"higher"``: which direction is an improvement.
    """

    name: str
    label: str
    unit: str
    scale: float
    binary: bool
    better: str

    def fmt(self, x: float, *, signed: bool = True) -> str:
        """Format a natural-scale effect in display units (e.g. ``-1.9 pp``)."""
        if x is None or not np.isfinite(x):
            return "n/a"
        v = x * self.scale
        return f"{v:+.2f} {self.unit}" if signed else f"{v:.2f} {self.unit}"


OUTCOMES: Mapping[str, OutcomeSpec] = {
    "absence_rate": OutcomeSpec(
        "absence_rate",
        "absence rate (share of school hours)",
        "percentage points of hours",
        100.0,
        False,
        "lower",
    ),
    "repeated_grade": OutcomeSpec(
        "repeated_grade",
        "grade repetition (not admitted)",
        "percentage points",
        100.0,
        True,
        "lower",
    ),
    "grade_avg": OutcomeSpec(
        "grade_avg", "average final grade (1-10 scale)", "grade points", 1.0, False, "higher"
    ),
    "dropped_out": OutcomeSpec(
        "dropped_out",
        "annual dropout (abandonment) hazard",
        "percentage points",
        100.0,
        True,
        "lower",
    ),
    "invalsi_score": OutcomeSpec(
        "invalsi_score", "INVALSI score", "scale points", 1.0, False, "higher"
    ),
}
"""The outcomes the report knows (see :mod:`analysis.data.programme`)."""


def _spec(outcome: str) -> OutcomeSpec:
    if outcome not in OUTCOMES:
        raise fail(
            _SRC, f"unknown outcome; use one of {list(OUTCOMES)}", column="outcome", rows=[outcome]
        )
    return OUTCOMES[outcome]


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgrammeData:
    """The analysis panel, where it came from, and the truth when it is simulated.

    Attributes
    ----------
    panel
        The validated panel and its exclusion record.
    simulated
        Whether the data were drawn by the simulator (SIMULATED — NOT PROGRAMME RESULTS).
    sim
        The :class:`~analysis.data.simulate.SimulatedPanel` (``None`` for real data).
    source
        ``"simulated (seed ...)"`` or the file read.
    """

    panel: LoadedPanel
    simulated: bool
    sim: SimulatedPanel | None = field(default=None, repr=False)
    source: str = ""

    @property
    def pupil_ids(self) -> pd.Series:
        """Every pupil id read (analysis panel and excluded rows), for the privacy scanner."""
        return pd.concat([self.panel.data[UNIT], self.panel.excluded[UNIT]], ignore_index=True)

    def truth(self, outcome: str) -> float | None:
        """True ATT over treated pupil-years (simulated data only; ``None`` otherwise)."""
        return None if self.sim is None else float(self.sim.truth[outcome])

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable description (no pupil-level data)."""
        out: dict[str, Any] = {"simulated": self.simulated, "source": self.source}
        if self.sim is not None:
            p = self.sim.params
            out["simulation"] = {
                k: p[k]
                for k in ("seed", "n_schools", "n_pupils", "cohorts", "years", "icc", "effects")
            }
            out["truth"] = dict(self.sim.truth)
        return out


def load(
    data: str | Path, *, seed: int = 0, n_schools: int = 20, n_pupils: int = 2000, k: int = K_MIN
) -> ProgrammeData:
    """Load the evaluator's panel or draw a SIMULATED one.

    Parameters
    ----------
    data
        ``"simulated"``, or a ``.csv``/``.parquet`` file of the programme panel (relative paths
        are read from the repository root, e.g. ``data/raw/programme/panel.csv``).
    seed, n_schools, n_pupils
        Simulator settings (``data="simulated"`` only).
    k
        Minimum pupils: fewer participants or never-participants than this cannot be reported
        without disclosing small groups, so the report stops.

    Returns
    -------
    ProgrammeData
    """
    if str(data) == "simulated":
        from analysis.data.simulate import programme_panel

        sim = programme_panel(seed=int(seed), n_schools=int(n_schools), n_pupils=int(n_pupils))
        panel = load_panel(sim.data, exclusions="report")
        out = ProgrammeData(
            panel=panel,
            simulated=True,
            sim=sim,
            source=f"simulated (analysis.data.simulate.programme_panel, seed {seed}, "
            f"{n_schools} schools, {n_pupils} pupils)",
        )
    else:
        path = Path(data)
        if not path.is_absolute():
            path = paths.ROOT / path
        panel = load_panel(path, exclusions="report")
        out = ProgrammeData(panel=panel, simulated=False, source=paths.relative(path))
    pupils = out.panel.pupils()
    n_part = int((pupils["cohort"] > 0).sum())
    n_never = int((pupils["cohort"] == 0).sum())
    if n_part < k or n_never < k:
        raise fail(
            out.source,
            f"the analysis panel needs at least {k} participants and {k} "
            "never-participants to be reported without disclosing small groups",
            column="cohort",
        )
    return out


def analysis_frame(panel_data: pd.DataFrame) -> pd.DataFrame:
    """Return the panel with the derived columns the estimators use.

    Adds ``female`` (1 if ``sex == "F"``), ``age`` (``year − birth_year``), ``participant``
    (1 if the pupil ever takes part) and ``baseline_school`` (the school of the pupil's first
    row, the cluster of a pupil who changes school, as :mod:`analysis.data.programme` recommends).
    """
    d = panel_data.sort_values([UNIT, TIME], kind="stable").reset_index(drop=True).copy()
    d["female"] = (d["sex"] == "F").astype(float)
    d["age"] = (d[TIME] - d["birth_year"]).astype(float)
    d["participant"] = (d[COHORT] > 0).astype(int)
    d["baseline_school"] = d.groupby(UNIT)["school_id"].transform("first")
    return d


def cluster_column(cluster: str | None) -> str | None:
    """Map the ``cluster`` parameter to the column used (``school_id`` → ``baseline_school``).

    ``None``, ``""`` or ``"pupil_id"`` mean pupil-level (unit) standard errors.
    """
    if cluster in (None, "", UNIT):
        return None
    return "baseline_school" if cluster == "school_id" else str(cluster)


def available_covariates(
    frame: pd.DataFrame, covariates: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Split ``covariates`` into those in ``frame`` without missing values, and the others."""
    keep, drop = [], []
    for c in covariates:
        (keep if c in frame.columns and frame[c].notna().all() else drop).append(c)
    return keep, drop


# --------------------------------------------------------------------------------------------
# Privacy-safe descriptive tables
# --------------------------------------------------------------------------------------------


def _fmt_count(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    return f"{int(v):,}"


def sample_flow_table(panel: LoadedPanel, *, k: int = K_MIN) -> pd.DataFrame:
    """Return the sample flow (input → exclusions → analysis panel) safe to publish.

    Counts come from :meth:`analysis.data.programme.LoadedPanel.sample_flow`.  Suppression, written
    here because the flow's rows add up (input = exclusions + analysis), which the generic
    :func:`analysis.privacy.suppress_small_cells` layout does not express:

    * exclusion rules are shown one by one only when every non-zero rule removed at least
      ``k`` pupils; otherwise they are merged into one row;
    * if the merged exclusions are fewer than ``k`` pupils, that row shows ``< k`` and the
      input row's pupil, pupil-year and participant counts are withheld (they would give the
      excluded number by subtraction).

    Returns
    -------
    pandas.DataFrame
        Text cells (numbers with thousands separators, ``< k`` or empty).
    """
    flow = panel.sample_flow()
    inp = flow.iloc[0]
    ana = flow.iloc[-1]
    excl = flow.iloc[1:-1]
    nonzero = excl[excl["pupils"].fillna(0) > 0]
    cols = ["step", "pupils", "pupil_years", "schools", "participants", "never_treated", "cohorts"]
    rows: list[dict[str, str]] = []
    small = f"< {k}"
    hide_input = False
    if nonzero.empty:
        excl_rows = [
            {
                "step": "excluded: none (every participant has a pre- and a "
                "post-participation year)",
                "pupils": "0",
                "pupil_years": "0",
            }
        ]
    elif (nonzero["pupils"] >= k).all():
        excl_rows = [
            {
                "step": r.step,
                "pupils": _fmt_count(r.pupils),
                "pupil_years": _fmt_count(r.pupil_years),
            }
            for r in excl.itertuples()
        ]
    else:
        rules = "; ".join(s.removeprefix("excluded: ") for s in nonzero["step"])
        tot_p, tot_r = int(nonzero["pupils"].sum()), int(nonzero["pupil_years"].sum())
        if tot_p >= k:
            excl_rows = [
                {
                    "step": f"excluded (rules merged: {rules})",
                    "pupils": _fmt_count(tot_p),
                    "pupil_years": _fmt_count(tot_r),
                }
            ]
        else:
            hide_input = True
            excl_rows = [
                {"step": f"excluded (rules merged: {rules})", "pupils": small, "pupil_years": small}
            ]
    first = {c: _fmt_count(inp[c]) for c in cols[1:]}
    if hide_input:
        for c in ("pupils", "pupil_years", "participants"):
            first[c] = "withheld"
    rows.append({"step": "input file", **first})
    rows += excl_rows
    rows.append({"step": "analysis panel", **{c: _fmt_count(ana[c]) for c in cols[1:]}})
    out = pd.DataFrame(rows, columns=cols).fillna("")
    out.attrs["suppression"] = {"k": k, "input_withheld": hide_input}
    return out


def cohort_table(panel: LoadedPanel) -> pd.DataFrame:
    """Return one row per cohort (0 = never participated), for ``show_pupil_table``.

    Columns ``cohort`` (first school year of participation, "never" for 0), ``courses``,
    ``pupils``, ``pupil_years``, ``schools``, ``first_year``, ``last_year``.
    """
    c = panel.cohorts()
    c["cohort"] = c["cohort"].map(lambda g: "never" if g == 0 else _edition(g))
    return c


# --------------------------------------------------------------------------------------------
# Who takes part: propensity scores, balance, overlap
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """Selection into participation on baseline characteristics (one row per pupil).

    Attributes
    ----------
    table
        :func:`analysis.weighting.balance_table`: SMD before and after ATT weighting.
    ps
        Propensity score of each pupil (indexed by pupil id).
    participant
        1 for participants, 0 for never-participants (same index).
    covariates
        Covariates used.
    """

    table: pd.DataFrame
    ps: pd.Series = field(repr=False)
    participant: pd.Series = field(repr=False)
    covariates: tuple[str, ...] = ()

    def max_smd(self) -> tuple[float, float]:
        """Largest absolute SMD before and after weighting."""
        t = self.table
        return float(t["smd_unweighted"].abs().max()), float(t["smd_weighted"].abs().max())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (the balance table only)."""
        return {
            "covariates": list(self.covariates),
            "table": self.table.to_dict(orient="records"),
            "max_abs_smd": list(self.max_smd()),
        }


def balance(frame: pd.DataFrame, *, covariates: Sequence[str]) -> Balance:
    """Compare participants with never-participants on baseline covariates.

    Propensity score: logit of ever taking part on the covariates, one row per pupil
    (:func:`analysis.weighting.propensity_scores`); ATT weights (participants 1, others
    e/(1−e)); standardised mean differences before and after weighting
    (:func:`analysis.weighting.balance_table`).  Describes selection on observables; the
    difference-in-differences does not need balance in levels, only parallel trends.
    """
    covariates = list(covariates)
    pupils = frame.drop_duplicates(UNIT).set_index(UNIT)
    ps = weighting.propensity_scores(pupils, treatment="participant", covariates=covariates)
    part = pupils["participant"].astype(int)
    w = weighting.ipw_weights(ps, part, "att")
    tab = weighting.balance_table(pupils, treatment="participant", covariates=covariates, weights=w)
    return Balance(table=tab, ps=ps, participant=part, covariates=tuple(covariates))


def _safe_bins(counts: np.ndarray, k: int) -> list[tuple[int, int]]:
    """Merge consecutive histogram bins so that every non-empty bar has at least ``k`` units.

    Returns ``(first_bin, last_bin)`` pairs; a trailing run below ``k`` is merged into the
    previous bar (or dropped when there is none, i.e. the group has fewer than ``k`` units).
    """
    runs: list[tuple[int, int]] = []
    start, acc = None, 0
    for i, c in enumerate(counts):
        if c == 0 and acc == 0:
            continue
        if start is None:
            start = i
        acc += int(c)
        if acc >= k:
            runs.append((start, i))
            start, acc = None, 0
    if acc and runs:
        runs[-1] = (runs[-1][0], len(counts) - 1)
    return runs


def overlap_figure(
    ps: pd.Series, participant: pd.Series, *, bins: int = 20, k: int = K_MIN
) -> Figure:
    """Return a mirrored propensity-score histogram safe to publish.

    Like :func:`analysis.weighting.overlap_plot` (participants above the axis,
    never-participants below), but as densities, with adjacent bins merged so that no bar
    represents fewer than ``k`` pupils (that function draws raw counts, which can show a bar of
    one or two pupils).
    """
    import matplotlib.pyplot as plt

    e = np.asarray(ps, dtype=float)
    d = np.asarray(participant, dtype=int)
    edges = np.linspace(0, max(float(e.max()), 1e-6) * 1.0001, bins + 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    for grp, sign, color, label in (
        (1, 1, "tab:orange", "participants"),
        (0, -1, "tab:blue", "never-participants"),
    ):
        x = e[d == grp]
        counts, _ = np.histogram(x, bins=edges)
        for a, b in _safe_bins(counts, k):
            lo, hi = edges[a], edges[b + 1]
            dens = counts[a : b + 1].sum() / len(x) / (hi - lo)
            ax.bar(
                lo,
                sign * dens,
                width=hi - lo,
                align="edge",
                color=color,
                alpha=0.75,
                edgecolor="white",
                label=label,
            )
            label = None
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlim(0, edges[-1])
    ax.set_xlabel("propensity score (probability of taking part given baseline covariates)")
    ax.set_ylabel("density (never-participants below the axis)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Callaway-Sant'Anna on the unbalanced pupil panel
# --------------------------------------------------------------------------------------------


def staggered_pupils(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str = UNIT,
    time: str = TIME,
    cohort: str = COHORT,
    control: str = "never",
    method: str = "dr",
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    anticipation: int = 0,
    base_period: str = "varying",
    level: float = 0.95,
) -> StaggeredResult:
    """Callaway-Sant'Anna on pupil registers (``did.staggered(..., allow_unbalanced=True)``).

    Pupils are enrolled 3–5 years, so no pupil is observed in every year of a longer window
    and the balanced-panel rule would drop everyone.
    """
    return did.staggered(
        df,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        control=control,
        method=method,
        covariates=covariates,
        cluster=cluster,
        anticipation=anticipation,
        base_period=base_period,
        level=level,
        allow_unbalanced=True,
    )


def unit_level(result: StaggeredResult) -> StaggeredResult:
    """Return the same fit with unit-level (pupil) instead of clustered standard errors."""
    n = len(result.unit_cluster)
    return replace(result, unit_cluster=readonly(np.arange(n), int), n_clusters=n, cluster=None)


def cs_truth(
    sim: SimulatedPanel, result: StaggeredResult, *, outcome: str, max_e: float = np.inf
) -> float:
    r"""True value of the CS ``simple`` aggregation's estimand in a simulated panel.

    The simple aggregation weights each post-treatment cell :math:`ATT(g,t)` (with
    :math:`t - g \le` ``max_e``) by the cohort share :math:`P(G=g)`; the truth is the same
    weighted mean of the simulator's true :math:`ATT(g,t)` (``SimulatedPanel.truth_gt``)
    over the cells the fit estimated.
    """
    tg = sim.truth_gt[sim.truth_gt["outcome"] == outcome].set_index(["cohort", "year"])["att"]
    g, t = result.cohort, result.time
    post = (g <= t) & (t - g <= max_e)
    pg = {c: float(np.mean(result.unit_cohort == c)) for c in np.unique(g)}
    w = np.array([pg[c] for c in g[post]])
    v = np.array([tg.get((int(a), int(b)), np.nan) for a, b in zip(g[post], t[post], strict=True)])
    ok = np.isfinite(v)
    return float(np.sum(w[ok] * v[ok]) / np.sum(w[ok]))


def treated_cell_counts(
    frame: pd.DataFrame, *, outcome: str, base_period: str = "varying"
) -> pd.DataFrame:
    """Treated pupils behind each ATT(g,t): cohort pupils observed in the base year and t.

    Base year: ``g − 1`` for post-treatment cells; ``t − 1`` (``"varying"``) or ``g − 1``
    (``"universal"``) for pre-treatment cells.  For privacy screening only (never
    published).
    """
    obs = frame.loc[frame[outcome].notna(), [UNIT, TIME, COHORT]]
    tr = obs[obs[COHORT] > 0]
    present = set(zip(tr[UNIT], tr[TIME], strict=True))
    years = np.sort(frame[TIME].unique())
    rows = []
    for g, grp in tr.groupby(COHORT):
        ids = grp[UNIT].unique()
        for t in years:
            if t == g - 1 and base_period == "universal":
                continue
            b = g - 1 if (t >= g or base_period == "universal") else t - 1
            n = sum((i, b) in present and (i, t) in present for i in ids)
            rows.append(
                {"cohort": int(g), "time": int(t), "event_time": int(t - g), "n_treated": int(n)}
            )
    return pd.DataFrame(rows)


def _per_event_time(frame: pd.DataFrame, outcome: str) -> dict[int, int]:
    """Participants observed (with the outcome) in year ``g − 1`` and in ``g + e``, by e."""
    obs = frame.loc[frame[outcome].notna() & (frame[COHORT] > 0), [UNIT, TIME, COHORT]]
    present = set(zip(obs[UNIT], obs[TIME], strict=True))
    pupils = obs.drop_duplicates(UNIT)
    years = frame[TIME].unique()
    ids, gs = pupils[UNIT].to_numpy(), pupils[COHORT].to_numpy()
    events = sorted({int(t - g) for g in np.unique(gs) for t in years} - {-1})
    return {
        e: sum(
            ((i, g - 1) in present) and ((i, g + e) in present)
            for i, g in zip(ids, gs, strict=True)
        )
        for e in events
    }


def event_window(frame: pd.DataFrame, *, outcome: str, k: int = K_MIN) -> tuple[int, int]:
    """Event times to report: the contiguous range around −1 with ≥ ``k`` participants each.

    Counts are distinct participants observed in year ``g − 1`` and ``g + e`` (the universal
    base used by the event study).
    """
    per_e = _per_event_time(frame, outcome)
    if per_e.get(0, 0) < k:
        raise fail(
            _SRC,
            f"fewer than {k} participants are observed in their first year of "
            "participation and the year before: no effect can be reported",
            column=outcome,
        )
    hi = 0
    while per_e.get(hi + 1, 0) >= k:
        hi += 1
    lo = -1
    while per_e.get(lo - 1, 0) >= k:
        lo -= 1
    return lo, hi


def subset_cells(result: StaggeredResult, keep: np.ndarray) -> StaggeredResult:
    """Return ``result`` restricted to the ATT(g,t) cells where ``keep`` is true."""
    keep = np.asarray(keep, dtype=bool)
    return replace(
        result,
        cohort=readonly(result.cohort[keep], float),
        time=readonly(result.time[keep], float),
        att=readonly(result.att[keep], float),
        is_reference=readonly(result.is_reference[keep], bool),
        psi=readonly(result.psi[:, keep], float),
    )


@dataclass(frozen=True)
class PretrendSummary:
    """Wald tests that all pre-participation ATT(g,t) are zero.

    Attributes
    ----------
    table
        One row per variant: ``test``, ``statistic``, ``df``, ``p_value``.
    p_value
        p-value of the main variant (clustered F when clustered, else pupil-level).
    cells
        Number of pre-participation cells tested; ``min_pupils`` the threshold used.
    """

    table: pd.DataFrame
    p_value: float
    cells: int
    min_pupils: int
    df: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "table": self.table.to_dict(orient="records"),
            "p_value": self.p_value,
            "cells": self.cells,
            "min_pupils": self.min_pupils,
        }


def pretrend_tests(
    result: StaggeredResult, counts: pd.DataFrame, *, min_pupils: int = 20
) -> PretrendSummary | None:
    r"""Pre-trend tests on the pre-participation cells with at least ``min_pupils`` treated.

    :meth:`analysis.did.StaggeredResult.pretrend_test` (R ``did``'s Wald test, :math:`\chi^2`)
    on the cells :math:`t < g` built on at least ``min_pupils`` participants, pupil-level; and,
    when ``result`` is clustered, the same statistic with the clustered covariance referred
    to :math:`F(q, G-q)` after the Hotelling scaling :math:`rac{G-q}{q(G-1)}W` (with
    :math:`G` clusters and :math:`q` cells).  Why both restrictions: in simulated panels where
    parallel trends hold exactly, the test on all cells (some with fewer than ten
    participants) rejected at 5 % in 16 % (pupil-level) and 40 % (20 school clusters, χ²) of
    draws; on cells of ≥ 20 pupils 8 % and, with the F reference, 9 %.  ``None`` when no
    cell qualifies.
    """
    n = counts.set_index(["cohort", "time"])["n_treated"]
    size = np.array(
        [n.get((int(g), int(t)), 0) for g, t in zip(result.cohort, result.time, strict=True)]
    )
    keep = (size >= min_pupils) | (result.cohort <= result.time)
    sub = subset_cells(result, keep)
    try:
        pu = unit_level(sub).pretrend_test()
    except ValueError:
        return None
    rows = [
        {
            "test": "Wald χ², pupil-level covariance",
            "statistic": pu.statistic,
            "df": pu.df,
            "p_value": pu.p_value,
        }
    ]
    main = pu.p_value
    if result.cluster:
        pc = sub.pretrend_test()
        g, q = result.n_clusters, pc.df
        f_stat = (g - q) / (q * (g - 1)) * pc.statistic
        p_f = float(stats.f.sf(f_stat, q, g - q)) if g > q else float("nan")
        rows.append(
            {
                "test": f"Wald F({q}, {g - q}), clustered by school (Hotelling scaling)",
                "statistic": f_stat,
                "df": q,
                "p_value": p_f,
            }
        )
        main = p_f
    return PretrendSummary(
        table=pd.DataFrame(rows),
        p_value=float(main),
        cells=int(pu.df),
        min_pupils=int(min_pupils),
        df=int(pu.df),
    )


def effect_horizon(frame: pd.DataFrame, *, outcome: str, min_pupils: int = 20) -> int:
    r"""Last year since participation averaged into the headline effect.

    The largest :math:`e` such that every event time :math:`0..e` has at least
    ``min_pupils`` participants observed in it and in the year before their edition (0 when
    even the first year has fewer).  Later
    event times rest on a handful of pupils whose small-sample variance the analytic
    (influence-function) standard error underestimates: in the simulator's Monte Carlo the
    simple aggregation over all event times had SE/SD ≈ 0.93-0.97 and 95 % coverage ≈ 0.93,
    and over :math:`e \le 2` (≥ 20 pupils each) SE/SD ≈ 1.0 and coverage ≈ 0.95, with a
    smaller SD.  The headline estimand is therefore the ATT over the first
    ``effect_horizon + 1`` years of participation.
    """
    per_e = _per_event_time(frame, outcome)
    hi = 0
    while per_e.get(hi + 1, 0) >= min_pupils:
        hi += 1
    return hi


def cs_event_study(
    frame: pd.DataFrame,
    *,
    outcome: str,
    window: tuple[int, int],
    control: str = "never",
    method: str = "dr",
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    seed: int = 0,
    level: float = 0.95,
) -> EventStudy:
    """Event study from :func:`staggered_pupils` (universal base, dynamic aggregation).

    As ``did.event_study(estimator="cs")`` but on the unbalanced pupil panel: every
    coefficient is relative to event time −1, with the covariance and the uniform (sup-t)
    band from the influence functions (multiplier bootstrap, ``seed``), restricted to
    ``window``.  The result feeds :func:`analysis.honest.honest_did`.
    """
    res = staggered_pupils(
        frame,
        outcome=outcome,
        control=control,
        method=method,
        covariates=covariates,
        cluster=cluster,
        base_period="universal",
        level=level,
    )
    agg = res.aggregate("dynamic", min_e=window[0], max_e=window[1], cband=True, seed=seed)
    e = np.asarray(agg.labels, dtype=int)
    keep = (e != -1) & (e >= window[0]) & (e <= window[1])
    rel = e[keep]
    return EventStudy(
        rel_times=readonly(rel, int),
        coef=readonly(agg.att[keep], float),
        vcov=readonly(agg.vcov[np.ix_(keep, keep)], float),
        reference=-1,
        estimator="cs",
        n_pre=int((rel < 0).sum()),
        n_post=int((rel >= 0).sum()),
        level=level,
        crit_value=agg.crit_value,
        overall=agg.overall,
        vcov_is_full=True,
        n_obs=res.n_obs,
        n_units=res.n_units,
        n_clusters=res.n_clusters,
        backend=res.backend,
        notes=res.notes,
    )


def group_time_table(
    result: StaggeredResult, counts: pd.DataFrame, *, k: int = K_MIN, seed: int = 0
) -> pd.DataFrame:
    """ATT(g,t) with pointwise CIs and a uniform band, cells with ≥ ``k`` treated pupils only.

    The uniform band's critical value is a Rademacher multiplier bootstrap of the
    cluster-summed influence functions of the shown cells (as R ``did``), so the band covers
    all shown ATT(g,t) jointly with probability ``level``.  ``attrs["hidden_cells"]`` counts the
    cells left out.
    """
    gt = result.group_time()
    gt = gt.merge(counts[["cohort", "time", "n_treated"]], on=["cohort", "time"], how="left")
    ref = np.asarray(result.is_reference, dtype=bool)
    show = (gt["n_treated"].fillna(0) >= k).to_numpy() & ~ref & np.isfinite(gt["se"].to_numpy())
    idx = np.flatnonzero(show)
    psi = result.psi[:, idx]
    scores = np.zeros((result.n_clusters, len(idx)))
    np.add.at(scores, np.asarray(result.unit_cluster), psi)
    crit = (
        multiplier_sup_t_crit(
            scores, gt["se"].to_numpy()[idx], level=result.level, n_boot=999, seed=seed
        )
        if len(idx)
        else float("nan")
    )
    out = gt.iloc[idx].drop(columns="n_treated").reset_index(drop=True)
    out.insert(2, "event_time", out["time"] - out["cohort"])
    out["cband_low"] = out["att"] - crit * out["se"]
    out["cband_high"] = out["att"] + crit * out["se"]
    out.attrs = {"crit_value": crit, "hidden_cells": int((~show & ~ref).sum())}
    return out


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _edition(g: float) -> str:
    return f"{int(g)}/{(int(g) + 1) % 100:02d}"


def group_time_figure(
    gt: pd.DataFrame, *, spec: OutcomeSpec, truth_gt: pd.DataFrame | None = None
) -> Figure:
    """Plot ATT(g,t) by school year, one panel per edition, with CIs and the uniform band.

    Pre-participation cells (left of the dashed line) test parallel trends; post cells are
    effects.  ``truth_gt`` (``cohort, year, att``): SIMULATED true effects, drawn as crosses.
    """
    import matplotlib.pyplot as plt

    cohorts = sorted(gt["cohort"].unique())
    fig, axes = plt.subplots(
        1, len(cohorts), figsize=(3.2 * len(cohorts) + 1, 3.8), sharey=True, squeeze=False
    )
    s = spec.scale
    years = np.sort(gt["time"].unique())
    for ax, g in zip(axes[0], cohorts, strict=True):
        sub = gt[gt["cohort"] == g]
        x = sub["time"].to_numpy(float)
        ax.vlines(
            x,
            sub["cband_low"] * s,
            sub["cband_high"] * s,
            color="C0",
            alpha=0.2,
            lw=9,
            label="uniform 95% band",
        )
        ax.errorbar(
            x,
            sub["att"] * s,
            yerr=[(sub["att"] - sub["ci_low"]) * s, (sub["ci_high"] - sub["att"]) * s],
            fmt="o",
            color="C0",
            capsize=3,
            label="ATT(g,t), 95% CI",
        )
        if truth_gt is not None:
            tg = truth_gt[truth_gt["cohort"] == g].set_index("year")["att"]
            post = (sub["time"] >= g).to_numpy()
            ax.plot(
                x[post],
                tg.reindex(sub["time"][post]).to_numpy() * s,
                "x",
                color="black",
                ms=8,
                label="true effect (SIMULATED)",
            )
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(g - 0.5, color="grey", lw=0.8, ls="--")
        ax.set_xticks(years, [_edition(y) for y in years], rotation=45, fontsize="small")
        ax.set_title(f"edition {_edition(g)}")
        ax.set_xlabel("school year")
    axes[0][0].set_ylabel(f"ATT(g,t), {spec.unit}")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False, fontsize="small")
    fig.suptitle(f"Effect on {spec.label} by edition and school year")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def event_study_figure(
    studies: Mapping[str, EventStudy], *, spec: OutcomeSpec, truth: pd.DataFrame | None = None
) -> Figure:
    """Plot event-study coefficients of several estimators side by side.

    The first study is drawn with its uniform band (shaded) and pointwise CIs; the others
    with pointwise CIs only.  ``truth``: ``event_time, att`` (SIMULATED true effects).
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2))
    s = spec.scale
    names = list(studies)
    width = 0.7 / max(len(names), 1)
    for i, name in enumerate(names):
        tab = studies[name].table()
        x = tab["rel_time"].to_numpy(float) + (i - (len(names) - 1) / 2) * width
        if i == 0 and "cband_low" in tab:
            ax.vlines(
                x,
                tab["cband_low"] * s,
                tab["cband_high"] * s,
                color=f"C{i}",
                alpha=0.2,
                lw=9,
                label=f"{name}: uniform 95% band",
            )
        ax.errorbar(
            x,
            tab["estimate"] * s,
            yerr=[(tab["estimate"] - tab["ci_low"]) * s, (tab["ci_high"] - tab["estimate"]) * s],
            fmt="os^D"[i % 4],
            color=f"C{i}",
            capsize=3,
            ms=5,
            label=f"{name}: 95% CI",
        )
    ax.plot(
        [-1],
        [0],
        marker="o",
        mfc="white",
        color="black",
        ls="none",
        label="reference year (e = −1)",
    )
    if truth is not None and len(truth):
        ax.plot(
            truth["event_time"],
            truth["att"] * s,
            "x",
            color="black",
            ms=8,
            label="true effect (SIMULATED)",
        )
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("years since first participation (event time e)")
    ax.set_ylabel(f"effect, {spec.unit}")
    ax.set_title(f"Event study: {spec.label}")
    ax.legend(frameon=False, fontsize="small", ncol=2)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Triangulation
# --------------------------------------------------------------------------------------------


def first_year_stack(
    frame: pd.DataFrame, *, outcome: str, cluster: str | None = None
) -> pd.DataFrame:
    """Stack the canonical 2×2 comparisons: first participation year vs the year before.

    For each edition :math:`g`: the pupils of cohort :math:`g` and the never-participants
    observed (with the outcome) in both :math:`g-1` and :math:`g`; two rows per pupil and
    stack.  Columns: ``y``, ``treat``, ``post``, ``treat_post``, ``stack``, stack dummies
    ``s_<g>``, ``post_s_<g>``, ``treat_s_<g>`` (all editions but the first), ``pair`` (pupil ×
    stack) and the cluster (``"_cl"``: ``cluster`` or the pupil).
    """
    obs = frame.loc[frame[outcome].notna()]
    cl = cluster or UNIT
    parts = []
    for g in sorted(c for c in obs[COHORT].unique() if c > 0):
        two = obs[obs[TIME].isin([g - 1, g]) & obs[COHORT].isin([0, g])]
        n = two.groupby(UNIT)[TIME].transform("nunique")
        two = two[n == 2]
        if two[COHORT].eq(g).sum() == 0:
            continue
        parts.append(
            pd.DataFrame(
                {
                    "y": two[outcome].to_numpy(float),
                    "treat": (two[COHORT] == g).astype(float).to_numpy(),
                    "post": (two[TIME] == g).astype(float).to_numpy(),
                    "stack": int(g),
                    "pair": (two[UNIT].astype(str) + f"_{int(g)}").to_numpy(),
                    "_cl": two[cl].astype(str).to_numpy(),
                }
            )
        )
    if not parts:
        raise fail(
            _SRC,
            "no edition has participants observed in their first year and the year before",
            column=outcome,
        )
    st = pd.concat(parts, ignore_index=True)
    st["treat_post"] = st["treat"] * st["post"]
    for g in sorted(st["stack"].unique())[1:]:
        s = (st["stack"] == g).astype(float)
        st[f"s_{g}"] = s
        st[f"post_s_{g}"] = s * st["post"]
        st[f"treat_s_{g}"] = s * st["treat"]
    return st


def _stack_controls(st: pd.DataFrame) -> list[str]:
    return [c for c in st.columns if c.startswith(("s_", "post_s_", "treat_s_"))]


def first_year_2x2(frame: pd.DataFrame, *, outcome: str, cluster: str | None = None) -> Estimate:
    r"""The textbook 2×2 DiD, stacked over editions (:func:`analysis.did.did_2x2`).

    Model on :func:`first_year_stack`:
    :math:`Y = a_s + b_s T + c_s P + \delta\,T P + \varepsilon` (edition-specific levels and
    year effects, one common :math:`\delta`), OLS, standard errors clustered by ``cluster``
    (by pupil when ``None``).  :math:`\delta` is a weighted mean of the editions' first-year
    effects :math:`ATT(g,g)`.
    """
    st = first_year_stack(frame, outcome=outcome, cluster=cluster)
    est = did.did_2x2(
        st, outcome="y", treated="treat", post="post", cluster="_cl", covariates=_stack_controls(st)
    )
    return replace(
        est,
        method="2x2 DiD, first participation year vs the year before "
        "(stacked by edition, never-participants as controls)",
    )


def _row(name: str, estimand: str, e: Estimate, truth: float | None) -> dict[str, Any]:
    return {
        "estimator": name,
        "estimand": estimand,
        "estimate": e.estimate,
        "se": e.se,
        "ci_low": e.ci_low,
        "ci_high": e.ci_high,
        "p_value": e.p_value,
        "true_effect": np.nan if truth is None else truth,
    }


def triangulation(
    frame: pd.DataFrame,
    *,
    outcome: str,
    cs: StaggeredResult,
    cs_alt: StaggeredResult | None = None,
    cluster: str | None = None,
    sim: SimulatedPanel | None = None,
    max_e: float = np.inf,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run the five estimators of the same ATT and return them side by side.

    Rows: 2×2 (first year, stacked), TWFE (pupil + year fixed effects,
    :func:`analysis.did.twfe`), Callaway-Sant'Anna (``cs``, simple aggregation), its
    covariate variant (``cs_alt``), both over event times up to ``max_e``
    (:func:`effect_horizon`), Sun-Abraham (:func:`analysis.did.event_study`,
    interaction-weighted) and imputation (:func:`analysis.did.imputation`,
    Borusyak-Jaravel-Spiess).  All standard errors are clustered by ``cluster`` (pupil when
    ``None``).  ``true_effect`` (SIMULATED panels only) is each estimator's own estimand: the
    first-year effect for the 2×2, the cohort-share-weighted cells for CS (:func:`cs_truth`),
    the mean effect over treated pupil-years for the others.

    Returns
    -------
    (pandas.DataFrame, dict)
        The table and the :class:`~analysis.estimate.Estimate` objects by row name.
    """
    cl = cluster or UNIT
    kw = {"outcome": outcome, "unit": UNIT, "time": TIME}
    truth_all = None if sim is None else float(sim.truth[outcome])
    truth_first = None
    if sim is not None:
        te = sim.truth_event()
        te = te[(te["outcome"] == outcome) & (te["event_time"] == 0)]
        truth_first = float(te["att"].iloc[0]) if len(te) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        two = first_year_2x2(frame, outcome=outcome, cluster=cluster)
        tw = did.twfe(frame, **kw, treated="treated", cluster=cl)
        sa = did.event_study(
            frame, **kw, cohort=COHORT, estimator="sun_abraham", cluster=cl, cband=False
        )
        imp = did.imputation(frame, **kw, cohort=COHORT, cluster=cl)
    ests: dict[str, Estimate] = {"2x2": two, "twfe": tw}
    rows = [
        _row(
            "2×2 DiD (first year, stacked)",
            "effect in the first participation year",
            two,
            truth_first,
        ),
        _row("TWFE (pupil + year FE)", "variance-weighted mix of 2×2 comparisons", tw, truth_all),
    ]
    o = cs.aggregate("simple", max_e=max_e).overall
    ests["cs"] = o
    cov_txt = ", ".join(cs.covariates) if cs.covariates else "no covariates"
    horizon = "" if not np.isfinite(max_e) else f", years 0–{int(max_e)} since participation"
    rows.append(
        _row(
            f"Callaway–Sant'Anna ({cs.method}, {cs.control} controls; {cov_txt})",
            f"ATT, cells weighted by edition size{horizon}",
            o,
            None if sim is None else cs_truth(sim, cs, outcome=outcome, max_e=max_e),
        )
    )
    if cs_alt is not None:
        oa = cs_alt.aggregate("simple", max_e=max_e).overall
        ests["cs_alt"] = oa
        cov_alt = ", ".join(cs_alt.covariates) if cs_alt.covariates else "no covariates"
        rows.append(
            _row(
                f"Callaway–Sant'Anna ({cs_alt.method}; {cov_alt})",
                "same, other covariate set",
                oa,
                None if sim is None else cs_truth(sim, cs_alt, outcome=outcome, max_e=max_e),
            )
        )
    assert sa.overall is not None
    ests["sun_abraham"] = sa.overall
    ests["imputation"] = imp
    rows.append(
        _row(
            "Sun–Abraham (interaction-weighted)",
            "ATT, edition-share weighted event-time effects",
            sa.overall,
            truth_all,
        )
    )
    rows.append(
        _row(
            "Imputation (Borusyak–Jaravel–Spiess)",
            "ATT, every treated pupil-year weighted equally",
            imp,
            truth_all,
        )
    )
    return pd.DataFrame(rows), {"estimates": ests, "sun_abraham_event_study": sa}


@dataclass(frozen=True)
class BaconSummary:
    """Goodman-Bacon decomposition of TWFE on the balanced sub-panel.

    Attributes
    ----------
    window
        First and last school year of the sub-panel.
    n_pupils, n_participants
        Pupils in the sub-panel (all ≥ ``k`` per timing group).
    table
        One row per 2×2 comparison (:func:`analysis.diagnostics.bacon_decomposition`).
    by_type
        Weight and weighted mean estimate per comparison type.
    twfe, cs
        TWFE and Callaway-Sant'Anna (:func:`analysis.did.staggered`, R-validated) on the same
        sub-panel.
    notes
        What was left out and why.
    """

    window: tuple[int, int]
    n_pupils: int
    n_participants: int
    table: pd.DataFrame
    by_type: pd.DataFrame
    twfe: Estimate
    cs: Estimate
    notes: tuple[str, ...] = ()

    def explanation(self, spec: OutcomeSpec) -> str:
        """Say in words what drives the TWFE coefficient."""
        bt = self.by_type.set_index("comparison")
        forb = float(bt["weight"].get("later_vs_earlier", 0.0))
        gap = self.twfe.estimate - self.cs.estimate
        txt = (
            f"On the balanced sub-panel (school years {self.window[0]}–{self.window[1]}, "
            f"{self.n_pupils:,} pupils observed every year, {self.n_participants:,} of them "
            f"participants), TWFE gives {spec.fmt(self.twfe.estimate)} and Callaway–Sant'Anna "
            f"{spec.fmt(self.cs.estimate)} (gap {spec.fmt(gap)}). "
        )
        if forb > 0:
            est_f = float(bt["estimate"].get("later_vs_earlier", np.nan))
            txt += (
                f"{forb:.0%} of the TWFE weight is on 'later vs earlier' comparisons, which "
                f"use already-treated pupils as controls (their 2×2 average "
                f"{spec.fmt(est_f)}); they bias TWFE when effects change over time since "
                "participation. "
            )
        else:
            txt += "No TWFE weight falls on comparisons with already-treated pupils as controls. "
        return txt

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "window": list(self.window),
            "n_pupils": self.n_pupils,
            "n_participants": self.n_participants,
            "table": self.table.to_dict(orient="records"),
            "by_type": self.by_type.to_dict(orient="records"),
            "twfe": self.twfe.to_dict(),
            "cs": self.cs.to_dict(),
            "notes": list(self.notes),
        }


def balanced_subpanel(
    frame: pd.DataFrame, *, outcome: str, min_years: int = 3, k: int = K_MIN
) -> tuple[pd.DataFrame, tuple[int, int], list[str]] | None:
    """Choose the school-year window whose balanced sub-panel best supports a decomposition.

    Candidates: contiguous windows of at least ``min_years`` years.  In each, keep pupils
    observed with the outcome every year, drop those already treated in the first year,
    recode editions after the window as never-treated, and drop timing groups with fewer
    than ``k`` pupils.  Preferred: two or more treated editions, then most participants, then
    most pupils.  ``None`` when no window has a treated and a never-treated group of ``k``.
    """
    obs = frame.loc[frame[outcome].notna()]
    years = np.sort(obs[TIME].unique())
    best, best_key = None, None
    for i in range(len(years)):
        for j in range(i + min_years - 1, len(years)):
            win = years[i : j + 1]
            if not np.array_equal(win, np.arange(win[0], win[-1] + 1)):
                continue
            sub = obs[obs[TIME].between(win[0], win[-1])]
            n = sub.groupby(UNIT)[TIME].transform("nunique")
            sub = sub[n == len(win)].copy()
            sub = sub[~((sub[COHORT] > 0) & (sub[COHORT] <= win[0]))]
            sub.loc[sub[COHORT] > win[-1], COHORT] = 0
            sizes = sub.drop_duplicates(UNIT)[COHORT].value_counts()
            small = sizes.index[sizes < k]
            sub = sub[~sub[COHORT].isin(small)]
            sizes = sizes[sizes >= k]
            n_groups = int((sizes.index > 0).sum())
            if n_groups == 0 or 0 not in sizes.index:
                continue
            key = (min(n_groups, 2), int(sizes[sizes.index > 0].sum()), int(sizes.sum()))
            if best_key is None or key > best_key:
                notes = (
                    [
                        f"editions with fewer than {k} pupils observed every year left out: "
                        f"{[int(x) for x in small]}"
                    ]
                    if len(small)
                    else []
                )
                best, best_key = (sub, (int(win[0]), int(win[-1])), notes), key
    if best is None:
        return None
    sub, win, notes = best
    sub = sub.copy()
    sub["treated"] = ((sub[COHORT] > 0) & (sub[TIME] >= sub[COHORT])).astype(int)
    return sub.reset_index(drop=True), win, notes


def bacon_on_balanced_subpanel(
    frame: pd.DataFrame, *, outcome: str, cluster: str | None = None, k: int = K_MIN
) -> BaconSummary | None:
    """Goodman-Bacon decomposition of TWFE, with TWFE and CS, on the balanced sub-panel.

    The decomposition theorem needs a balanced panel, which pupil registers are not
    (:func:`balanced_subpanel` picks the best window).  On that sub-panel TWFE equals the
    weighted sum of the 2×2 comparisons exactly, and Callaway-Sant'Anna is the package's
    R-validated :func:`analysis.did.staggered`; the gap between the two is explained by the
    weight on "later vs earlier" comparisons.  ``None`` when no window qualifies.
    """
    found = balanced_subpanel(frame, outcome=outcome, k=k)
    if found is None:
        return None
    sub, win, notes = found
    cl = cluster or UNIT
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = diagnostics.bacon_decomposition(
            sub, outcome=outcome, unit=UNIT, time=TIME, treated="treated"
        )
        tw = did.twfe(sub, outcome=outcome, unit=UNIT, time=TIME, treated="treated", cluster=cl)
        cs = (
            did.staggered(
                sub, outcome=outcome, unit=UNIT, time=TIME, cohort=COHORT, cluster=cluster
            )
            .aggregate("simple")
            .overall
        )
    g = tab.groupby("comparison")
    by_type = pd.DataFrame(
        {
            "weight": g["weight"].sum(),
            "estimate": g.apply(
                lambda x: (
                    float(np.average(x["estimate"], weights=x["weight"]))
                    if x["weight"].sum() > 0
                    else np.nan
                ),
                include_groups=False,
            ),
            "comparisons": g.size(),
        }
    ).reset_index()
    pupils = sub.drop_duplicates(UNIT)
    return BaconSummary(
        window=win,
        n_pupils=len(pupils),
        n_participants=int((pupils[COHORT] > 0).sum()),
        table=tab,
        by_type=by_type,
        twfe=tw,
        cs=cs,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# Re-assignment of participation (randomization inference)
# --------------------------------------------------------------------------------------------


def reassign_participation(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Draw a placebo participation that keeps each school's and edition's numbers.

    Editions are re-assigned in order: for edition :math:`g` and school :math:`s` (the
    school of year :math:`g`), as many pupils as actually took part are drawn at random among
    the *eligible* pupils of that school: enrolled in year :math:`g` and in an earlier year,
    not yet (re-)assigned, and of an age (in year :math:`g`) that participants had.  Returns a
    copy with new ``cohort``, ``treated`` and ``participant`` columns.
    """
    d = frame
    codes, uniq = pd.factorize(d[UNIT])
    n = len(uniq)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, codes, d[TIME].to_numpy())
    cohort_obs = np.zeros(n)
    cohort_obs[codes] = d[COHORT].to_numpy(float)
    ages = d.loc[d[COHORT] > 0, "age"] if "age" in d else None
    amin, amax = (ages.min(), ages.max()) if ages is not None and len(ages) else (-np.inf, np.inf)
    new = np.zeros(n)
    for g in sorted(c for c in np.unique(cohort_obs) if c > 0):
        rows = d[TIME].to_numpy() == g
        p = codes[rows]
        school = d["school_id"].to_numpy()[rows]
        age = d["age"].to_numpy()[rows] if "age" in d else np.zeros(rows.sum())
        elig = (first[p] < g) & (new[p] == 0) & (age >= amin) & (age <= amax)
        need = pd.Series(school[cohort_obs[p] == g]).value_counts()
        cand_p, cand_s = p[elig], school[elig]
        order = np.lexsort((rng.random(len(cand_p)), cand_s))
        cand_p, cand_s = cand_p[order], cand_s[order]
        rank = pd.Series(cand_s).groupby(cand_s).cumcount().to_numpy()
        take = rank < pd.Series(cand_s).map(need).fillna(0).to_numpy()
        new[cand_p[take]] = g
    out = d.copy()
    out[COHORT] = new[codes].astype(d[COHORT].dtype)
    out["treated"] = ((out[COHORT] > 0) & (out[TIME] >= out[COHORT])).astype(int)
    out["participant"] = (out[COHORT] > 0).astype(int)
    return out


# --------------------------------------------------------------------------------------------
# Few-cluster inference
# --------------------------------------------------------------------------------------------


def _slim(frame: pd.DataFrame, extra: Sequence[str | None]) -> pd.DataFrame:
    """Keep the columns re-assignment and the estimators need (copies are made per draw)."""
    cols = [
        UNIT,
        TIME,
        COHORT,
        "treated",
        "participant",
        "age",
        "school_id",
        *[c for c in extra if c],
    ]
    return frame[list(dict.fromkeys(c for c in cols if c in frame.columns))]


def _wcb_weights(n_clusters: int) -> str:
    return "webb" if n_clusters < 12 else "rademacher"


def few_cluster_table(
    frame: pd.DataFrame,
    *,
    outcome: str,
    cs: StaggeredResult,
    cluster: str | None,
    reps: int,
    ri_reps: int,
    seed: int,
    ri_statistic: Callable[[pd.DataFrame], float] | None = None,
    max_e: float = np.inf,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Analytic standard errors next to few-cluster inference, for the same estimates.

    Rows:

    * Callaway-Sant'Anna ATT (simple aggregation up to ``max_e``): analytic SE from the
      influence functions, pupil-level and
      clustered by ``cluster`` (no small-sample factor, normal critical values, as R
      ``did``); randomization inference (:func:`analysis.inference.randomization_inference`
      with :func:`reassign_participation`, ``ri_reps`` draws), statistic = the same CS fit
      unless ``ri_statistic`` is given.
    * 2×2 DiD (first year, stacked; :func:`first_year_2x2`): analytic CR1 SE clustered by
      ``cluster`` (t with G−1 df); restricted wild cluster bootstrap of the same regression
      (:func:`analysis.inference.wild_cluster_bootstrap`, ``reps`` draws; Webb weights below
      12 clusters).  The bootstrap tests :math:`H_0`: the first-year effect is zero, with
      errors correlated within ``cluster``; its CI inverts that test.
    """
    rows = []
    o_cl = cs.aggregate("simple", max_e=max_e).overall
    o_pu = unit_level(cs).aggregate("simple", max_e=max_e).overall
    rows.append(
        {
            "estimate_of": "Callaway–Sant'Anna ATT",
            "inference": "analytic, pupil level",
            "estimate": o_pu.estimate,
            "se": o_pu.se,
            "ci_low": o_pu.ci_low,
            "ci_high": o_pu.ci_high,
            "p_value": o_pu.p_value,
            "clusters": None,
        }
    )
    if cs.cluster:
        rows.append(
            {
                "estimate_of": "Callaway–Sant'Anna ATT",
                "inference": f"analytic, clustered by school ({cs.n_clusters} clusters)",
                "estimate": o_cl.estimate,
                "se": o_cl.se,
                "ci_low": o_cl.ci_low,
                "ci_high": o_cl.ci_high,
                "p_value": o_cl.p_value,
                "clusters": cs.n_clusters,
            }
        )
    if ri_statistic is None:

        def ri_statistic(d: pd.DataFrame) -> float:
            r = staggered_pupils(
                d,
                outcome=outcome,
                control=cs.control,
                method=cs.method,
                covariates=list(cs.covariates),
                cluster=None,
            )
            return r.aggregate("simple", max_e=max_e).overall.estimate

    slim = _slim(frame, [outcome, *cs.covariates, cluster])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ri = inference.randomization_inference(
            slim, estimator=ri_statistic, assign=reassign_participation, reps=ri_reps, seed=seed
        )
    rows.append(
        {
            "estimate_of": "Callaway–Sant'Anna ATT",
            "inference": f"randomization inference ({ri.reps} re-assignments within "
            "school and edition)",
            "estimate": ri.statistic,
            "se": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "p_value": ri.p_value,
            "clusters": None,
        }
    )
    st = first_year_stack(frame, outcome=outcome, cluster=cluster)
    controls = _stack_controls(st)
    g = st["_cl"].nunique()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        two = did.did_2x2(
            st, outcome="y", treated="treat", post="post", cluster="_cl", covariates=controls
        )
        wcb = inference.wild_cluster_bootstrap(
            st,
            outcome="y",
            regressors=["treat", "post", "treat_post", *controls],
            param="treat_post",
            cluster="_cl",
            reps=reps,
            weights_type=_wcb_weights(g),
            seed=seed,
        )
    lbl = "clustered by school" if cluster else "clustered by pupil"
    rows.append(
        {
            "estimate_of": "2×2 DiD, first year",
            "inference": f"analytic CR1, {lbl} ({g} clusters, t with {g - 1} df)",
            "estimate": two.estimate,
            "se": two.se,
            "ci_low": two.ci_low,
            "ci_high": two.ci_high,
            "p_value": two.p_value,
            "clusters": g,
        }
    )
    rows.append(
        {
            "estimate_of": "2×2 DiD, first year",
            "inference": f"wild cluster bootstrap (WCR, {wcb.extra['weights_type']}, "
            f"{wcb.extra['reps']} draws)",
            "estimate": wcb.estimate,
            "se": np.nan,
            "ci_low": wcb.ci_low,
            "ci_high": wcb.ci_high,
            "p_value": wcb.p_value,
            "clusters": g,
        }
    )
    tab = pd.DataFrame(rows)
    return tab, {"randomization": ri, "wild_bootstrap": wcb, "two_by_two": two}


# --------------------------------------------------------------------------------------------
# Dropout: risk-set comparison of hazards
# --------------------------------------------------------------------------------------------


def risk_sets(frame: pd.DataFrame, *, cluster: str | None = None) -> pd.DataFrame:
    r"""Stack, for each edition g, participants and the never-participants at risk in year g.

    Risk set of edition :math:`g`: never-participants enrolled in year :math:`g` and in an
    earlier year (as participants must be), aged in year :math:`g` within the participants'
    age range.  Rows: every school year :math:`t \ge g` the pupil is enrolled (the last one
    is the dropout year for those who drop out).  Adds ``stack``, ``years_since`` (t − g),
    ``stack_year``, ``age_g``, ``participant`` (of this edition) and ``_cl`` (the cluster, or
    the pupil).
    """
    d = frame
    cl = cluster or UNIT
    codes, uniq = pd.factorize(d[UNIT])
    year = d[TIME].to_numpy()
    coh = d[COHORT].to_numpy(float)
    age = d["age"].to_numpy(float)
    first = np.full(len(uniq), np.iinfo(np.int64).max)
    np.minimum.at(first, codes, year)
    out = []
    for g in sorted(c for c in np.unique(coh) if c > 0):
        at_g = (year == g) & (first[codes] < g)
        part = at_g & (coh == g)
        if not part.any():
            continue
        lo, hi = age[part].min(), age[part].max()
        member = at_g & ((coh == g) | ((coh == 0) & (age >= lo) & (age <= hi)))
        age_g = np.full(len(uniq), np.nan)
        age_g[codes[member]] = age[member]
        keep = np.isfinite(age_g[codes]) & (year >= g)
        rows = d.loc[keep].copy()
        rows["stack"] = int(g)
        rows["age_g"] = age_g[codes[keep]]
        rows["participant"] = (coh[keep] == g).astype(float)
        out.append(rows)
    if not out:
        raise fail(_SRC, "no edition has participants enrolled in an earlier year", column=COHORT)
    rs = pd.concat(out, ignore_index=True)
    rs["years_since"] = rs[TIME] - rs["stack"]
    rs["stack_year"] = rs["stack"].astype(str) + "_" + rs[TIME].astype(str)
    rs["_cl"] = rs[cl].astype(str)
    return rs


@dataclass(frozen=True)
class DropoutResult:
    """Risk-set comparison of annual dropout hazards (see :func:`dropout_effect`).

    Attributes
    ----------
    estimate
        Effect on the annual hazard (probability points), CR1 clustered.
    naive
        Unadjusted difference in hazards (same risk sets, edition × year effects only).
    formula
        The regression.
    n_treated_years, n_control_years
        Pupil-years at risk of participants and of the risk-set controls.
    base_rate
        Hazard among the controls.
    covariates
        Baseline covariates adjusted for.
    """

    estimate: Estimate
    naive: Estimate
    formula: str
    n_treated_years: int
    n_control_years: int
    base_rate: float
    covariates: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "estimate": self.estimate.to_dict(),
            "naive": self.naive.to_dict(),
            "formula": self.formula,
            "treated_pupil_years": self.n_treated_years,
            "control_pupil_years": self.n_control_years,
            "base_rate": self.base_rate,
            "covariates": list(self.covariates),
        }


def _feols_estimate(formula: str, data: pd.DataFrame, param: str, method: str) -> Estimate:
    from analysis.did.twfe import fit_feols

    fit = fit_feols(formula, data, "_cl")
    g = int(data["_cl"].nunique())
    return Estimate.from_se(
        float(fit.coef()[param]),
        float(fit.se()[param]),
        df=g - 1,
        n_obs=int(fit._N),
        n_units=int(data[UNIT].nunique()),
        n_clusters=g,
        method=method,
        backend=version("pyfixest"),
        extra={"formula": formula},
    )


def dropout_effect(
    frame: pd.DataFrame, *, covariates: Sequence[str], cluster: str | None = None
) -> DropoutResult:
    r"""Effect of participation on the annual dropout hazard (risk-set comparison).

    Linear probability model on :func:`risk_sets`:

    .. math:: D_{it} = \tau\,P_i + X_i'\beta + \gamma\,\mathrm{age}_{ig}
              + \mu_{s(i)} + \lambda_{g,t} + \varepsilon_{it}

    with :math:`P_i` participation, :math:`X_i` baseline covariates, school (:math:`\mu`) and
    edition × year (:math:`\lambda`) fixed effects, pyfixest, CR1 standard errors clustered by
    ``cluster`` (t with G−1 df).  :math:`\tau` is the ATT on the hazard among pupils still
    enrolled, under selection on the covariates and school (module docstring: why not DiD).
    """
    covariates = list(covariates)
    rs = risk_sets(frame, cluster=cluster)
    fe = "stack_year + _cl" if cluster else "stack_year"
    rhs = " + ".join(["participant", *covariates, "age_g"])
    formula = f"dropped_out ~ {rhs} | {fe}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _feols_estimate(
            formula,
            rs,
            "participant",
            "Risk-set comparison of annual dropout hazards (LPM, baseline "
            "covariates, school and edition x year FE)",
        )
        naive = _feols_estimate(
            "dropped_out ~ participant | stack_year",
            rs,
            "participant",
            "Unadjusted risk-set difference in hazards",
        )
    t = rs["participant"] == 1
    return DropoutResult(
        estimate=est,
        naive=naive,
        formula=formula,
        n_treated_years=int(t.sum()),
        n_control_years=int((~t).sum()),
        base_rate=float(rs.loc[~t, "dropped_out"].mean()),
        covariates=tuple(covariates),
    )


def dropout_hazard_table(frame: pd.DataFrame, *, pool_from: int = 2) -> pd.DataFrame:
    """Annual dropout hazard by group and years since the edition started (risk sets).

    Columns ``group``, ``years_since`` (0 = the edition's year; years from ``pool_from`` on
    are pooled as ``"2+"``), ``pupils`` (distinct pupils at risk; a never-participant in
    several risk sets counts once per edition) and ``hazard_pct``.  For
    :func:`analysis.display.show_pupil_table`.
    """
    rs = risk_sets(frame)
    rs["group"] = np.where(rs["participant"] == 1, "participants", "never-participants at risk")
    ys = rs["years_since"].clip(upper=pool_from)
    rs["years_since"] = ys.astype(int).astype(str).where(ys < pool_from, f"{pool_from}+")
    g = rs.groupby(["group", "years_since"])
    return pd.DataFrame(
        {
            "pupils": g.apply(
                lambda x: x[[UNIT, "stack"]].drop_duplicates().shape[0], include_groups=False
            ),
            "hazard_pct": 100 * g["dropped_out"].mean(),
        }
    ).reset_index()


def hazard_figure(table: pd.DataFrame, *, k: int = K_MIN) -> Figure:
    """Plot the hazards of :func:`dropout_hazard_table` (points with ≥ ``k`` pupils only)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (grp, sub) in enumerate(table[table["pupils"] >= k].groupby("group")):
        ax.plot(sub["years_since"].astype(str), sub["hazard_pct"], "o-", color=f"C{i}", label=grp)
    ax.set_xlabel(
        "years since the edition's school year (0 = year of participation; later years pooled)"
    )
    ax.set_ylabel("annual dropout hazard (%)")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def _dropout_ri_statistic(
    covariates: Sequence[str], cluster: str | None
) -> Callable[[pd.DataFrame], float]:
    """Fast OLS (numpy) of the :func:`dropout_effect` coefficient, for randomization."""
    covariates = list(covariates)

    def stat(d: pd.DataFrame) -> float:
        rs = risk_sets(d, cluster=cluster)
        parts = [
            rs[["participant", *covariates, "age_g"]].to_numpy(float),
            pd.get_dummies(rs["stack_year"], dtype=float).to_numpy(),
        ]
        if cluster:
            parts.append(pd.get_dummies(rs["_cl"], drop_first=True, dtype=float).to_numpy())
        x = np.column_stack(parts)
        y = rs["dropped_out"].to_numpy(float)
        # normal equations: numpy's lstsq (gelsd) is ~50x slower here and the design is a
        # well-conditioned set of dummies and standardised-scale covariates
        beta = np.linalg.solve(x.T @ x, x.T @ y)
        return float(beta[0])

    return stat


def dropout_few_cluster_table(
    frame: pd.DataFrame,
    *,
    result: DropoutResult,
    cluster: str | None,
    reps: int,
    ri_reps: int,
    seed: int,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    r"""Analytic CR1, wild cluster bootstrap and randomization inference for dropout.

    The bootstrap re-estimates the :func:`dropout_effect` regression (school fixed effects are
    nested in the school clusters and absorbed; edition × year effects enter as dummies) and
    tests :math:`H_0: \tau = 0`.  Randomization inference re-assigns participation with
    :func:`reassign_participation` and recomputes the same coefficient.
    """
    rs = risk_sets(frame, cluster=cluster)
    covs = list(result.covariates)
    fes = ["stack_year", "_cl"] if cluster else ["stack_year"]
    g = rs["_cl"].nunique()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcb = inference.wild_cluster_bootstrap(
            rs,
            outcome="dropped_out",
            regressors=["participant", *covs, "age_g"],
            fixed_effects=fes,
            param="participant",
            cluster="_cl",
            reps=reps,
            weights_type=_wcb_weights(g),
            seed=seed,
        )
        ri = inference.randomization_inference(
            _slim(frame, ["dropped_out", *covs, cluster]),
            estimator=_dropout_ri_statistic(covs, cluster),
            assign=reassign_participation,
            reps=ri_reps,
            seed=seed,
        )
    e = result.estimate
    rows = [
        {
            "estimate_of": "dropout hazard effect",
            "inference": f"analytic CR1 ({g} clusters, t with {g - 1} df)",
            "estimate": e.estimate,
            "se": e.se,
            "ci_low": e.ci_low,
            "ci_high": e.ci_high,
            "p_value": e.p_value,
            "clusters": g,
        },
        {
            "estimate_of": "dropout hazard effect",
            "inference": f"wild cluster bootstrap (WCR, {wcb.extra['weights_type']}, "
            f"{wcb.extra['reps']} draws)",
            "estimate": wcb.estimate,
            "se": np.nan,
            "ci_low": wcb.ci_low,
            "ci_high": wcb.ci_high,
            "p_value": wcb.p_value,
            "clusters": g,
        },
        {
            "estimate_of": "dropout hazard effect",
            "inference": f"randomization inference ({ri.reps} re-assignments within school "
            "and edition)",
            "estimate": ri.statistic,
            "se": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "p_value": ri.p_value,
            "clusters": None,
        },
    ]
    return pd.DataFrame(rows), {"randomization": ri, "wild_bootstrap": wcb}


# --------------------------------------------------------------------------------------------
# Minimum detectable effect and conclusion
# --------------------------------------------------------------------------------------------


def _autocorr(frame: pd.DataFrame, outcome: str) -> float:
    """Correlation of a never-participant's outcome between consecutive years (pooled)."""
    nv = frame.loc[(frame[COHORT] == 0) & frame[outcome].notna(), [UNIT, TIME, outcome]]
    nxt = nv.assign(**{TIME: nv[TIME] - 1}).rename(columns={outcome: "_next"})
    pair = nv.merge(nxt, on=[UNIT, TIME])
    if len(pair) < 3:
        return 0.0
    y0 = pair[outcome] - pair.groupby(TIME)[outcome].transform("mean")
    y1 = pair["_next"] - pair.groupby(TIME)["_next"].transform("mean")
    return float(np.clip(np.corrcoef(y0, y1)[0, 1], 0.0, 0.99))


def mde_for(
    frame: pd.DataFrame,
    *,
    outcome: str,
    n_treated: int,
    n_control: int,
    alpha: float = 0.05,
    target_power: float = 0.8,
) -> tuple[power.MDEResult, float]:
    """Ex-ante minimum detectable effect of this design, in the outcome's natural units.

    :func:`analysis.power.mde` with the participants and controls of the analysis, one pre-
    and one post-year (``design="did"``) and the year-to-year correlation of the outcome
    among never-participants (measured here); continuous outcomes are converted from SD units
    with the outcome's within-year SD among never-participants; binary outcomes use their
    base rate.  Dropout: ``design="two_group"`` on pupil-years at risk (``n_treated``/
    ``n_control`` are then pupil-years), base rate the control hazard.  No clustering (school
    effects cancel in within-pupil changes); the realised standard error gives a second MDE
    (``2.80 × SE``).

    Returns
    -------
    (MDEResult, float)
        The calculation and the MDE in natural units.
    """
    spec = _spec(outcome)
    nv = frame.loc[(frame[COHORT] == 0) & frame[outcome].notna()]
    if outcome == "dropped_out":
        base = float(nv[outcome].mean())
        res = power.mde(
            n_treated=n_treated,
            n_control=n_control,
            outcome="binary",
            base_rate=base,
            alpha=alpha,
            power=target_power,
        )
        return res, res.value / 100
    rho = _autocorr(frame, outcome)
    if spec.binary:
        base = float(nv[outcome].mean())
        res = power.mde(
            n_treated=n_treated,
            n_control=n_control,
            outcome="binary",
            base_rate=base,
            alpha=alpha,
            power=target_power,
            design="did",
            autocorr=rho,
        )
        return res, res.value / 100
    sd = float((nv[outcome] - nv.groupby(TIME)[outcome].transform("mean")).std(ddof=1))
    res = power.mde(
        n_treated=n_treated,
        n_control=n_control,
        alpha=alpha,
        power=target_power,
        design="did",
        autocorr=rho,
    )
    return res, res.value * sd


def realised_mde(se: float, *, alpha: float = 0.05, target_power: float = 0.8) -> float:
    """``(z_{1−α/2} + z_{power}) × SE``: the MDE implied by an estimate's standard error."""
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(target_power)) * se)


def _direction(spec: OutcomeSpec, x: float) -> str:
    good = (x < 0) if spec.better == "lower" else (x > 0)
    return "an improvement" if good else "a deterioration"


def conclusion(
    *,
    spec: OutcomeSpec,
    estimate: Estimate,
    mde: float,
    mde_realised: float,
    simulated: bool,
    truth: float | None = None,
    pretrend: Any = None,
    honest_result: HonestDiDResult | None = None,
    few: pd.DataFrame | None = None,
    dropout: bool = False,
) -> str:
    """Write the plain-words conclusion (markdown).

    Compares the estimate and its CI with the minimum detectable effect, states what the
    pre-trend test, the HonestDiD breakdown value and the few-cluster p-values add, and, for
    SIMULATED data, whether the CI covers the true effect.
    """
    e = estimate
    lvl = f"{e.level:.0%}"
    sig = not (e.ci_low <= 0 <= e.ci_high)
    parts = []
    head = "**SIMULATED — NOT PROGRAMME RESULTS.** " if simulated else ""
    parts.append(
        f"{head}Taking part is estimated to change the {spec.label} by **{spec.fmt(e.estimate)}** "
        f"({lvl} CI {spec.fmt(e.ci_low)} to {spec.fmt(e.ci_high)}), "
        + (
            f"{_direction(spec, e.estimate)} that is statistically distinguishable from zero."
            if sig
            else "which is not statistically distinguishable from zero."
        )
    )
    bigger = abs(e.estimate) >= mde
    parts.append(
        f"The minimum detectable effect of this design (80% power, 5% two-sided test) is about "
        f"**{spec.fmt(mde, signed=False)}** (ex-ante formula) and "
        f"{spec.fmt(mde_realised, signed=False)} from the realised standard error. "
        + (
            "The estimate is larger than the MDE: the data are informative about effects of "
            "this size."
            if bigger
            else "The estimate is smaller than the MDE: effects of this size are often missed, so "
            "a non-significant result is not evidence of no effect, and a significant one "
            "may overstate the true effect (winner's curse)."
        )
    )
    if dropout:
        parts.append(
            "Dropout is reported **descriptively**: an annual abandonment rate of a few per cent "
            "gives an MDE of the order of the base rate itself at this programme's size "
            "(background note §3.5), and the comparison rests on selection on baseline "
            "covariates, not on parallel trends."
        )
    if pretrend is not None:
        ok = pretrend.p_value >= 0.05
        parts.append(
            (
                "Before participation, participants and controls moved in parallel as far "
                "as the data can tell"
                if ok
                else "Before participation, participants' "
                "outcomes did not move in parallel with the controls' (a warning against "
                "the identifying assumption)"
            )
            + f" (pre-trend test p = {pretrend.p_value:.2f} on {pretrend.cells} "
            "pre-participation cells; a pre-test has little power, so passing it "
            "does not prove parallel trends)."
        )
    if honest_result is not None:
        bd = honest_result.breakdown
        if not honest_result.original.ci_low <= 0 <= honest_result.original.ci_high:
            if np.isfinite(bd):
                parts.append(
                    f"The first-year effect stays distinguishable from zero as long as the "
                    f"post-participation violation of parallel trends is less than about "
                    f"**{bd:.2g} times** the largest violation seen before participation "
                    "(HonestDiD breakdown value, relative magnitudes)."
                )
            else:
                parts.append(
                    "The first-year effect stays distinguishable from zero over the "
                    f"whole HonestDiD grid (up to {max(honest_result.grid):.2g} times "
                    "the largest pre-participation violation)."
                )
        else:
            parts.append(
                "The first-year effect is not distinguishable from zero even under "
                "exact parallel trends, so the HonestDiD sensitivity has no breakdown "
                "value to report."
            )
    if few is not None and len(few):
        ps = few.dropna(subset=["p_value"])
        pvals = "; ".join(
            f"{r.estimate_of}, {r.inference.split(' (')[0]}: p "
            f"{'< 0.001' if r.p_value < 0.001 else f'= {r.p_value:.3f}'}"
            for r in ps.itertuples()
        )
        parts.append(f"With few schools, inference is checked several ways: {pvals}.")
    if simulated and truth is not None:
        cov = e.ci_low <= truth <= e.ci_high
        parts.append(
            f"In this simulated panel the true effect is {spec.fmt(truth)}; the {lvl} "
            f"CI {'covers' if cov else 'does not cover'} it."
        )
    return "\n\n".join(parts)


# --------------------------------------------------------------------------------------------
# Text and display helpers for the notebook
# --------------------------------------------------------------------------------------------


def alternative_fit(
    frame: pd.DataFrame,
    *,
    outcome: str,
    cs: StaggeredResult,
    covariates: Sequence[str],
    cluster: str | None,
) -> StaggeredResult | None:
    """The covariate robustness variant of the headline CS fit.

    Headline without covariates: outcome regression (``method="reg"``) on ``covariates``
    (parallel trends conditional on them; the regression avoids the propensity models that
    separate in small cells).  Headline with covariates: the same estimator without them.
    ``None`` when there is no alternative (no covariates anywhere).
    """
    if cs.covariates:
        alt_cov: list[str] = []
        method = cs.method
    else:
        alt_cov = list(covariates)
        method = "reg"
        if not alt_cov:
            return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return staggered_pupils(
            frame,
            outcome=outcome,
            control=cs.control,
            method=method,
            covariates=alt_cov,
            cluster=cluster,
        )


def scaled(
    df: pd.DataFrame,
    spec: OutcomeSpec,
    cols: Sequence[str] = (
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "true_effect",
        "att",
        "cband_low",
        "cband_high",
    ),
) -> pd.DataFrame:
    """Return ``df`` with effect columns converted to display units (``spec.scale``)."""
    out = df.copy()
    for c in cols:
        if c in out.columns:
            out[c] = out[c] * spec.scale
    return out


def _fmt_p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def display_table(df: pd.DataFrame, spec: OutcomeSpec) -> pd.DataFrame:
    """Table for display: effects in display units, p-values as text, cluster counts as integers."""
    out = scaled(df, spec)
    if "p_value" in out.columns:
        out["p_value"] = out["p_value"].map(_fmt_p)
    if "clusters" in out.columns:
        out["clusters"] = [
            ("–" if c is None or not np.isfinite(c) else str(int(c)))
            for c in out["clusters"].astype(float)
        ]
    return out


def question_text(
    *,
    spec: OutcomeSpec,
    control: str,
    method: str,
    covariates: Sequence[str],
    cluster: str | None,
    source: str,
    horizon: int | None = None,
) -> str:
    """Markdown: the question, the estimand and the identifying assumptions in words.

    ``horizon``: last year since participation in the headline average (:func:`effect_horizon`).
    """
    ctrl = (
        "pupils who never took part"
        if control == "never"
        else "pupils who never took part and those who had not yet taken part"
    )
    if spec.name == "dropped_out":
        return (
            f"**Question.** Did taking part in a programme edition lower the **{spec.label}** of "
            "the pupils who took part?\n\n"
            "**Estimand.** The average effect on participants (ATT) on the annual probability "
            "of abandoning school, among participants still enrolled, from their edition's "
            f"school year on, in {spec.unit}.\n\n"
            "**Comparison and assumption.** A pupil who abandons school has no further records, "
            "and a future participant cannot have abandoned before taking part, so a "
            "difference-in-differences of dropout is not valid. Participants are compared "
            "instead with never-participants enrolled in the same school year, in the same "
            "schools and at the same ages (the *risk set*), adjusting for baseline "
            f"characteristics ({', '.join(covariates) or 'none'}). The assumption is that, "
            "given these, participation is unrelated to the risk of abandoning "
            "(**selection on observables**), and that participants and controls overlap in "
            f"those characteristics.\n\nData: {source}."
        )
    cov = (
        f"conditional on baseline {', '.join(covariates)}"
        if covariates
        else "without covariates (the robustness row of section 6 adds them)"
    )
    cl = (
        "standard errors clustered by school (a pupil's first school)"
        if cluster
        else "pupil-level standard errors"
    )
    return (
        f"**Question.** Did taking part in a programme edition change the **{spec.label}** of "
        "the pupils who took part, compared with what would have happened to them without the "
        "programme?\n\n"
        "**Estimand.** The average treatment effect on the treated (ATT): the mean, over "
        "participants and over the school years from their edition on, of the difference "
        f"between their outcome and the outcome they would have had without taking part, in "
        f"{spec.unit}. Editions start in different school years (staggered adoption), so the "
        "effect is first estimated for each edition g and school year t, ATT(g,t), and then "
        "averaged with weights proportional to edition size (Callaway & Sant'Anna 2021)"
        + (
            f", over the first {horizon + 1} school year(s) of participation (those reached by "
            "at least 20 participants; later years rest on too few pupils for reliable "
            "standard errors and are shown only in the event study)"
            if horizon is not None
            else ""
        )
        + ".\n\n"
        f"**Comparison.** Each participant's change since the year before their edition is "
        f"compared with the change of {ctrl} over the same years ({method} estimator, {cov}; "
        f"{cl}).\n\n"
        "**Identifying assumptions, in words.** (1) *Parallel trends*: without the programme, "
        "participants' outcomes would have changed on average like the comparison pupils' "
        f"({cov.split(' (')[0]}); differences in *levels* are allowed. (2) *No anticipation*: "
        "outcomes do not change in the year before an edition because of it. (3) *Overlap*: "
        "comparison pupils exist for every kind of participant. (4) Leaving the records "
        "(changing school, finishing) is unrelated to a pupil's untreated trend. Section 4 "
        "tests (1) before participation, section 5 asks how large a violation would overturn "
        f"the result, section 3 shows (3).\n\nData: {source}."
    )


def honest_text(result: HonestDiDResult, spec: OutcomeSpec) -> str:
    """Plain words for the HonestDiD relative-magnitudes result, in display units."""
    o = result.original
    sig = not (o.ci_low <= 0 <= o.ci_high)
    head = (
        f"Under exact parallel trends the first-year effect is {spec.fmt(o.estimate)} "
        f"(95% CI {spec.fmt(o.ci_low)} to {spec.fmt(o.ci_high)}). "
    )
    if not sig:
        return head + (
            "It is not distinguishable from zero even then, so there is no "
            "conclusion for a violation of parallel trends to overturn."
        )
    bd = result.breakdown
    if not np.isfinite(bd):
        return head + (
            f"It stays distinguishable from zero for every value tried, up to "
            f"Mbar = {max(result.grid):.2g}: even a post-participation violation of "
            "parallel trends that large, relative to the largest one before "
            "participation, would not overturn it."
        )
    if bd == min(result.grid):
        return head + (
            "As soon as any violation of parallel trends is allowed, the robust "
            "interval contains zero: the conclusion rests entirely on exact "
            "parallel trends."
        )
    return head + (
        f"The robust interval first contains zero at Mbar = {bd:.2g} (the breakdown "
        "value): the conclusion that the effect differs from zero holds if, after "
        "participation, the departure from parallel trends between consecutive "
        f"years is less than {bd:.2g} times the largest departure seen between "
        "consecutive years before participation."
    )


def headline(
    *, spec: OutcomeSpec, estimate: Estimate, truth: float | None, mde: float
) -> dict[str, float]:
    """The 3-4 numbers of the reports index (display units)."""
    s = spec.scale
    out = {
        f"ATT ({spec.unit})": estimate.estimate * s,
        "95% CI low": estimate.ci_low * s,
        "95% CI high": estimate.ci_high * s,
    }
    if truth is not None:
        out["true effect, SIMULATED"] = truth * s
    else:
        out[f"MDE ({spec.unit})"] = mde * s
    return out
