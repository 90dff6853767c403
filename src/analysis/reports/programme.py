r"""Programme-evaluation report (notebook ``03_programme``): tables, figures and words.

The report answers one question per outcome: *what did taking part in a programme edition do
to the pupils who took part?*  The estimand is the **average treatment effect on the treated
(ATT)**, averaged over participants and the school years from their first edition on, on the
outcome's natural scale.  :meth:`ProgrammeAnalysis.build` runs every estimator once; the
notebook narrates its sections (:meth:`~ProgrammeAnalysis.sample_flow`,
:meth:`~ProgrammeAnalysis.balance`, :meth:`~ProgrammeAnalysis.group_time`,
:meth:`~ProgrammeAnalysis.event_study`, :meth:`~ProgrammeAnalysis.honest`,
:meth:`~ProgrammeAnalysis.triangulation`, :meth:`~ProgrammeAnalysis.few_clusters`,
:meth:`~ProgrammeAnalysis.conclusion`) and saves :meth:`~ProgrammeAnalysis.to_dict`.

Where the methods are
---------------------
No estimation is written here.  Callaway-Sant'Anna on the unbalanced pupil panel, cell sizes,
pre-trend tests, uniform bands, event windows and the effect horizon are in
:mod:`analysis.did` (``staggered(..., allow_unbalanced=True)``, :mod:`analysis.did.event_study`);
the stacked first-year 2×2 and its wild cluster bootstrap in :mod:`analysis.did.stacked`;
re-assignment of participation for randomization inference in :mod:`analysis.inference`;
the Goodman-Bacon decomposition on a balanced sub-panel, covariate balance and the MDE of the
realised design in :mod:`analysis.diagnostics`; HonestDiD in :mod:`analysis.honest`.

Why the Callaway-Sant'Anna estimator is run on an unbalanced panel: R ``did``'s default keeps
only pupils observed in every year, and a pupil is in a lower secondary school for three years
and in an upper secondary school for five, so in a six-year panel nobody is.  Each
:math:`ATT(g,t)` therefore uses the pupils observed in its base year and in :math:`t`, which
identifies it when leaving the records is unrelated to a pupil's untreated *trend*
(:mod:`analysis.did.staggered`, "Unbalanced panels").

Dropout is a different design (risk sets, not DiD): :mod:`analysis.reports.dropout`
(notebook ``07_dropout``).  Both pages read the same pupil records, so this module also holds
the pupil-data glue once: :func:`load` returns a :class:`ProgrammeData` whose methods give the
analysis frame, the cluster column, the available covariates and the publishable sample flow,
and :func:`sample_flow_view` / :func:`balance_view` are the two sections both pages show.  The
dropout report does not import this module (report modules are independent): notebook
``07_dropout`` loads the data here and hands the :class:`ProgrammeData` to it.

Data
----
:func:`load` reads the evaluator's file with :func:`analysis.data.programme.load_panel`
(``exclusions="report"``: rows removed by a documented rule are counted, never dropped
silently) or draws a SIMULATED panel with :func:`analysis.data.simulate.programme_panel` from
the run's ``"data"`` random stream, whose true effects are kept so that the report can show
them next to the estimates.

Randomness
----------
One ``seed`` per run, split by :class:`analysis.seeds.SeedStreams`: ``"data"`` draws the
simulated panel, ``"bands"`` the multiplier-bootstrap uniform bands (children of the stream:
ATT(g,t) band, Callaway-Sant'Anna event study, Sun-Abraham and two-stage event-study bands),
``"bootstrap"`` the wild cluster bootstrap, ``"randomization"`` the re-assignments.

Privacy
-------
Tables of pupil counts go through :func:`analysis.display.show_pupil_table` or are
suppressed here (:func:`sample_flow_table`); group-time cells, event times and histogram bars
built on fewer than :data:`analysis.privacy.K_MIN` pupils are not shown.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis import diagnostics, did, honest, inference, paths
from analysis._util import to_jsonable
from analysis.data.programme import LoadedPanel, load_panel
from analysis.diagnostics import BaconSummary, Balance
from analysis.did import EventStudy, PretrendSummary, StaggeredResult
from analysis.errors import fail
from analysis.estimate import Estimate
from analysis.facts import programme_facts
from analysis.privacy import K_MIN, safe_balance
from analysis.seeds import SeedStreams

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from analysis.data.simulate import SimulatedPanel
    from analysis.honest import HonestDiDResult
    from analysis.power import MDEResult

__all__ = [
    "BALANCE_COVARIATES",
    "MIN_CELL",
    "OUTCOMES",
    "BalanceView",
    "EventStudyView",
    "FewClustersView",
    "GroupTimeView",
    "HonestView",
    "OutcomeSpec",
    "ProgrammeAnalysis",
    "ProgrammeData",
    "SampleFlowView",
    "TriangulationView",
    "analysis_frame",
    "available_covariates",
    "balance_view",
    "cluster_column",
    "cohort_table",
    "display_table",
    "effect_sentence",
    "event_study_figure",
    "few_cluster_caption",
    "few_cluster_row",
    "few_cluster_sentence",
    "group_time_figure",
    "group_time_table",
    "headline_numbers",
    "load",
    "mde_sentence",
    "missing_covariates_note",
    "overlap_figure",
    "programme_sentence",
    "sample_flow_table",
    "sample_flow_view",
    "scaled",
    "title",
    "truth_sentence",
]

_SRC = "programme report arguments"
UNIT, TIME, COHORT = "pupil_id", "year", "cohort"
COLS: Mapping[str, str] = {"unit": UNIT, "time": TIME, "cohort": COHORT}
"""Column names of the programme panel, as the methods' keyword arguments."""

MIN_CELL = 20
"""Participants a pre-participation cell needs to enter the pre-trend test, and an event time
to enter the headline average (:func:`analysis.did.pretrend_tests`,
:func:`analysis.did.effect_horizon`: their docstrings give the Monte Carlo reasons)."""

BALANCE_COVARIATES = ("baseline_absence", "ses_index", "female", "foreign_born")
"""Baseline characteristics of the balance table (and of the dropout adjustment)."""


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
    "invalsi_score": OutcomeSpec(
        "invalsi_score", "INVALSI score", "scale points", 1.0, False, "higher"
    ),
}
"""The outcomes of the difference-in-differences page (see :mod:`analysis.data.programme`)."""


def _spec(outcome: str) -> OutcomeSpec:
    if outcome == "dropped_out":
        raise fail(
            _SRC,
            "dropout is not a difference-in-differences outcome (a pupil who abandons has no "
            "later records): it has its own page, notebook 07_dropout",
            column="outcome",
            rows=[outcome],
        )
    if outcome not in OUTCOMES:
        raise fail(
            _SRC, f"unknown outcome; use one of {list(OUTCOMES)}", column="outcome", rows=[outcome]
        )
    return OUTCOMES[outcome]


def title(outcome: str) -> str:
    """Title of the page when run interactively (the plan's title wins under the runner)."""
    return f"Programme evaluation (staggered DiD): {_spec(outcome).label}"


# --------------------------------------------------------------------------------------------
# Data (shared with the dropout page)
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
        ``"simulated (...)"`` or the file read.
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

    def frame(self) -> pd.DataFrame:
        """The analysis panel with the derived columns the estimators use (:func:`analysis_frame`)."""
        return analysis_frame(self.panel.data)

    @staticmethod
    def cluster_column(cluster: str | None) -> str | None:
        """The column a ``cluster`` parameter clusters on (:func:`cluster_column`)."""
        return cluster_column(cluster)

    @staticmethod
    def split_covariates(
        frame: pd.DataFrame, covariates: Sequence[str]
    ) -> tuple[list[str], list[str]]:
        """Covariates usable in ``frame`` and those left out (:func:`available_covariates`)."""
        return available_covariates(frame, covariates)

    def sample_flow(self, *, k: int = K_MIN) -> pd.DataFrame:
        """The sample flow of this panel, safe to publish (:func:`sample_flow_table`)."""
        return sample_flow_table(self.panel, k=k)

    def truth_gt(self, outcome: str) -> pd.DataFrame | None:
        """True ATT(g,t) of ``outcome`` (``cohort, year, att``; simulated data only)."""
        if self.sim is None:
            return None
        tg = self.sim.truth_gt
        return tg[tg["outcome"] == outcome]

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
    data: str | Path,
    *,
    seed: int,
    n_schools: int | None = None,
    n_pupils: int | None = None,
    k: int = K_MIN,
) -> ProgrammeData:
    """Load the evaluator's panel or draw a SIMULATED one.

    Parameters
    ----------
    data
        ``"simulated"``; ``"intake"`` (the panel ``make intake`` writes to
        ``data/processed/programme/panel.parquet``); or a ``.csv``/``.parquet`` file of the
        programme panel inside the repository (relative paths are read from its root).
    seed
        The run's seed: the simulated panel is drawn from its ``"data"`` stream
        (:class:`analysis.seeds.SeedStreams`; ``data="simulated"`` only).
    n_schools, n_pupils
        Simulator settings (``data="simulated"`` only; ``None``: the simulator's defaults).
    k
        Minimum pupils: fewer participants or never-participants than this cannot be reported
        without disclosing small groups, so the report stops.

    Returns
    -------
    ProgrammeData
    """
    if str(data) == "simulated":
        from analysis.data.simulate import programme_panel

        sizes = {"n_schools": n_schools, "n_pupils": n_pupils}
        sim = programme_panel(
            seed=SeedStreams(int(seed)).seed_for("data"),
            **{k_: int(v) for k_, v in sizes.items() if v is not None},
        )
        panel = load_panel(sim.data, exclusions="report")
        out = ProgrammeData(
            panel=panel,
            simulated=True,
            sim=sim,
            source=f"simulated (analysis.data.simulate.programme_panel, 'data' stream of run "
            f"seed {seed}, {sim.params['n_schools']} schools, {sim.params['n_pupils']} pupils)",
        )
    else:
        if n_schools is not None or n_pupils is not None:
            raise fail(
                _SRC,
                "n_schools and n_pupils set the simulator: they apply only to data='simulated'",
                column="n_schools" if n_schools is not None else "n_pupils",
            )
        if str(data) == "intake":
            path = paths.PROCESSED_DIR / "programme" / "panel.parquet"
            if not path.exists():
                raise fail(
                    _SRC,
                    "data='intake' reads the panel written by `make intake` "
                    "(data/processed/programme/panel.parquet), which does not exist yet: see the "
                    "README, 'When the pupil records arrive'",
                    column="data",
                )
        else:
            path = Path(data)
            if not path.is_absolute():
                path = paths.ROOT / path
        try:
            path.resolve().relative_to(paths.ROOT)
        except ValueError:
            raise fail(
                _SRC, "the pupil file must lie inside the repository", column="data"
            ) from None
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
    row, the cluster of a pupil who changes school, as :mod:`analysis.data.programme`
    recommends).
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


def missing_covariates_note(missing: Sequence[str]) -> str:
    """Warning text for covariates left out (not in the data, or with missing values)."""
    return f"Covariates not in the data (or with missing values) and left out: {sorted(missing)}."


def programme_sentence() -> str:
    """One sentence on the programme's reach (from ``config/programme.yaml``)."""
    return f"**Programme.** {programme_facts().courses.reach()}."


def _seeds(seed: int) -> dict[str, Any]:
    """The run's random streams as the estimators take them (ints, or ``SeedSequence``s)."""
    streams = SeedStreams(int(seed))
    return {
        "bands": streams.sequence("bands").spawn(4),
        # two more children of the same streams, so the first four stay as they were
        "dose_bands": int(streams.sequence("bands").spawn(5)[4].generate_state(1)[0]),
        "dose_data": streams.sequence("data").spawn(2)[1],
        "bootstrap": streams.seed_for("bootstrap"),
        "randomization": streams.seed_for("randomization"),
    }


# --------------------------------------------------------------------------------------------
# Privacy-safe descriptive tables (shared with the dropout page)
# --------------------------------------------------------------------------------------------


def _fmt_count(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    return f"{int(v):,}"


def _edition(g: float) -> str:
    return f"{int(g)}/{(int(g) + 1) % 100:02d}"


def sample_flow_table(panel: LoadedPanel, *, k: int = K_MIN) -> pd.DataFrame:
    """Return the sample flow (input → exclusions → analysis panel) safe to publish.

    Counts come from :meth:`analysis.data.programme.LoadedPanel.sample_flow`.  Suppression,
    written here because the flow's rows add up (input = exclusions + analysis), which the
    generic :func:`analysis.privacy.suppress_small_cells` layout does not express:

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


@dataclass(frozen=True)
class SampleFlowView:
    """Section "who is in the analysis": the sample flow and the pupils by edition.

    ``table`` goes to ``display.show_table``; ``cohorts`` to ``display.show_pupil_table``
    (``count_col="pupils"``, ``keys=["cohort", "courses"]``).
    """

    table: pd.DataFrame
    caption: str
    cohorts: pd.DataFrame
    cohorts_caption: str


def sample_flow_view(data: ProgrammeData) -> SampleFlowView:
    """The sample-flow section of a page built on the programme panel."""
    return SampleFlowView(
        table=data.sample_flow(),
        caption="Sample flow: pupils, pupil-years (one row per pupil and school year), schools, "
        "participants (pupils in any edition), never-participants and editions. Exclusion "
        f"rules: analysis.data.programme.EXCLUSION_RULES. Counts below {K_MIN} pupils are "
        f"shown as '< {K_MIN}' (and totals that would reveal them are withheld). "
        f"Source: {data.source}.",
        cohorts=cohort_table(data.panel),
        cohorts_caption="Pupils by edition (first school year of participation; 'never' = "
        "comparison pool): courses, pupils, pupil-years, schools and the years they are "
        f"observed. Source: {data.source}.",
    )


# --------------------------------------------------------------------------------------------
# Who takes part: balance and overlap (shared with the dropout page)
# --------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class BalanceView:
    """Section "who takes part": the balance table and the overlap histogram."""

    table: pd.DataFrame
    caption: str
    figure: Figure = field(repr=False)
    figure_caption: str


def balance_view(balance: Balance, *, source: str) -> BalanceView:
    """The balance-and-overlap section of a page built on the programme panel.

    Shares of 0/1 characteristics that reveal fewer than ``K_MIN`` pupils are masked
    (:func:`analysis.privacy.safe_balance`).
    """
    balance = safe_balance(balance)
    cols = [
        "covariate",
        "mean_treated",
        "mean_control",
        "smd_unweighted",
        "smd_weighted",
        "variance_ratio",
    ]
    return BalanceView(
        table=balance.table[cols],
        caption="Baseline characteristics of participants (treated) and never-participants "
        "(control), one row per pupil: means, standardised mean differences before and after "
        "ATT weighting, and the variance ratio after weighting. female and foreign_born are "
        "shares; baseline_absence is the share of hours absent in the year before the pupil's "
        "first record; ses_index is standardised. Method: analysis.weighting "
        f"(analysis.diagnostics.baseline_balance). Source: {source}.",
        figure=overlap_figure(balance.ps, balance.participant),
        figure_caption="Propensity scores (probability of ever taking part given "
        f"{', '.join(balance.covariates)}; logit) of participants (above the axis) and "
        "never-participants (below), as densities. Adjacent bins are merged so that no bar "
        f"represents fewer than {K_MIN} pupils. Source: {source}.",
    )


# --------------------------------------------------------------------------------------------
# Tables and figures of the DiD estimates
# --------------------------------------------------------------------------------------------


def group_time_table(
    result: StaggeredResult,
    counts: pd.DataFrame,
    *,
    k: int = K_MIN,
    n_boot: int = 999,
    seed: int | np.random.SeedSequence | None = 0,
) -> pd.DataFrame:
    """ATT(g,t) with pointwise CIs and a uniform band, cells with ≥ ``k`` treated pupils only.

    The band covers all *shown* ATT(g,t) jointly with probability ``level``: its critical
    value is :meth:`analysis.did.StaggeredResult.uniform_band` over the shown cells
    (``n_boot`` multiplier-bootstrap draws, ``seed``).  ``attrs["hidden_cells"]`` counts the
    cells left out.
    """
    gt = result.group_time()
    gt = gt.merge(counts[["cohort", "time", "n_treated"]], on=["cohort", "time"], how="left")
    ref = np.asarray(result.is_reference, dtype=bool)
    show = (gt["n_treated"].fillna(0) >= k).to_numpy() & ~ref & np.isfinite(gt["se"].to_numpy())
    crit = result.uniform_band(show, n_boot=n_boot, seed=seed)
    out = gt[show].drop(columns="n_treated").reset_index(drop=True)
    out.insert(2, "event_time", out["time"] - out["cohort"])
    out["cband_low"] = out["att"] - crit * out["se"]
    out["cband_high"] = out["att"] + crit * out["se"]
    out.attrs = {"crit_value": crit, "hidden_cells": int((~show & ~ref).sum())}
    return out


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


def few_cluster_row(estimate_of: str, inference_: str, e: Any, clusters: int | None) -> dict:
    """One row of a few-cluster table (missing attributes shown as NaN)."""
    return {
        "estimate_of": estimate_of,
        "inference": inference_,
        "estimate": getattr(e, "estimate", getattr(e, "statistic", np.nan)),
        "se": getattr(e, "se", np.nan),
        "ci_low": getattr(e, "ci_low", np.nan),
        "ci_high": getattr(e, "ci_high", np.nan),
        "p_value": e.p_value,
        "clusters": clusters,
    }


def few_cluster_caption(
    *, spec: OutcomeSpec, bootstrap_reps: int, ri_reps: int, seed: int, source: str
) -> str:
    """Caption of the few-cluster table (both pages)."""
    return (
        f"Analytic standard errors next to few-cluster inference, {spec.unit} (p-values "
        "unscaled). Bootstrap: restricted wild cluster bootstrap by school "
        f"({bootstrap_reps} draws; the CI inverts the test). Randomization: {ri_reps} placebo "
        f"assignments within school and edition (random streams 'bootstrap' and "
        f"'randomization' of run seed {seed}). Methods: analysis.inference. Source: {source}."
    )


# --------------------------------------------------------------------------------------------
# Words shared with the dropout page
# --------------------------------------------------------------------------------------------


def _direction(spec: OutcomeSpec, x: float) -> str:
    good = (x < 0) if spec.better == "lower" else (x > 0)
    return "an improvement" if good else "a deterioration"


def effect_sentence(*, spec: OutcomeSpec, estimate: Estimate, simulated: bool) -> str:
    """The headline estimate in words (with the SIMULATED label when it applies)."""
    e = estimate
    lvl = f"{e.level:.0%}"
    sig = not (e.ci_low <= 0 <= e.ci_high)
    head = "**SIMULATED — NOT PROGRAMME RESULTS.** " if simulated else ""
    return (
        f"{head}Taking part is estimated to change the {spec.label} by **{spec.fmt(e.estimate)}** "
        f"({lvl} CI {spec.fmt(e.ci_low)} to {spec.fmt(e.ci_high)}), "
        + (
            f"{_direction(spec, e.estimate)} that is statistically distinguishable from zero."
            if sig
            else "which is not statistically distinguishable from zero."
        )
    )


def mde_sentence(*, spec: OutcomeSpec, estimate: Estimate, mde: float, mde_realised: float) -> str:
    """The estimate against the minimum detectable effect, in words."""
    bigger = abs(estimate.estimate) >= mde
    return (
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


def few_cluster_sentence(few: pd.DataFrame) -> str:
    """The p-values of the few-cluster table in one sentence."""
    ps = few.dropna(subset=["p_value"])
    pvals = "; ".join(
        f"{r.estimate_of}, {r.inference.split(' (')[0]}: p "
        f"{'< 0.001' if r.p_value < 0.001 else f'= {r.p_value:.3f}'}"
        for r in ps.itertuples()
    )
    return f"With few schools, inference is checked several ways: {pvals}."


def truth_sentence(*, spec: OutcomeSpec, estimate: Estimate, truth: float) -> str:
    """Whether the CI covers the SIMULATED truth."""
    e = estimate
    cov = e.ci_low <= truth <= e.ci_high
    return (
        f"In this simulated panel the true effect is {spec.fmt(truth)}; the {e.level:.0%} "
        f"CI {'covers' if cov else 'does not cover'} it."
    )


def headline_numbers(
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


def _truth_cells(data: ProgrammeData, outcome: str) -> pd.DataFrame | None:
    tg = data.truth_gt(outcome)
    return None if tg is None else tg.rename(columns={"year": "time"})


# --------------------------------------------------------------------------------------------
# The analysis object of notebook 03
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupTimeView:
    """Section "effects by edition and school year": figure, pre-trend test, estimator notes.

    ``pretrend`` is ``None`` when no pre-participation cell is large enough; then
    ``pretrend_note`` says so.
    """

    figure: Figure = field(repr=False)
    caption: str
    pretrend: pd.DataFrame | None
    pretrend_caption: str
    pretrend_note: str
    estimator_notes: str


@dataclass(frozen=True)
class EventStudyView:
    """Section "event study": the figure of three estimators."""

    figure: Figure = field(repr=False)
    caption: str


@dataclass(frozen=True)
class HonestView:
    """HonestDiD: the robust confidence sets (``None`` when not computable) and their words."""

    table: pd.DataFrame | None
    caption: str
    text: str
    kind: str


@dataclass(frozen=True)
class TriangulationView:
    """Section "triangulation": the estimators' table and the Goodman-Bacon decomposition.

    ``bacon`` is ``None`` when no balanced sub-panel qualifies (``bacon_kind="warning"``).
    """

    table: pd.DataFrame
    caption: str
    bacon: pd.DataFrame | None
    bacon_caption: str
    bacon_text: str
    bacon_kind: str


@dataclass(frozen=True)
class FewClustersView:
    """Section "few clusters": analytic next to bootstrap and randomization inference."""

    table: pd.DataFrame
    caption: str


@dataclass(frozen=True)
class ProgrammeAnalysis:
    """Every estimate of the programme DiD page, built once by :meth:`build`.

    The section methods return what the notebook shows (tables, figures, captions, words);
    :meth:`to_dict` the numbers for ``report.save``.  Attributes are the method results
    (:mod:`analysis.did`, :mod:`analysis.diagnostics`, :mod:`analysis.inference`,
    :mod:`analysis.honest`).
    """

    spec: OutcomeSpec
    data: ProgrammeData
    frame: pd.DataFrame = field(repr=False)
    control: str
    method: str
    covariates: tuple[str, ...]
    balance_covariates: tuple[str, ...]
    missing_covariates: tuple[str, ...]
    cluster: str | None
    seed: int
    bootstrap_reps: int
    ri_reps: int
    band_draws: int
    horizon: int
    window: tuple[int, int]
    baseline: Balance
    cs: StaggeredResult
    cs_alt: StaggeredResult | None
    cell_counts: pd.DataFrame = field(repr=False)
    gt: pd.DataFrame = field(repr=False)
    pretrend: PretrendSummary | None
    es_cs: EventStudy
    es_sa: EventStudy
    es_2s: EventStudy
    honest_result: HonestDiDResult | None
    tri: pd.DataFrame = field(repr=False)
    estimates: Mapping[str, Estimate] = field(repr=False)
    bacon: BaconSummary | None
    few: pd.DataFrame = field(repr=False)
    randomization: inference.RandomizationResult
    wild_bootstrap: Estimate
    main: Estimate
    mde_result: MDEResult
    mde: float
    mde_realised: float
    truth: float | None
    dose: DoseSection | None = None

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        *,
        data: str | Path | ProgrammeData,
        outcome: str,
        seed: int,
        control: str = "never",
        method: str = "dr",
        covariates: Sequence[str] = (),
        balance_covariates: Sequence[str] = BALANCE_COVARIATES,
        cluster: str | None = "school_id",
        bootstrap_reps: int = 999,
        ri_reps: int = 499,
        band_draws: int = 999,
        n_schools: int | None = None,
        n_pupils: int | None = None,
    ) -> ProgrammeAnalysis:
        """Load the data and run every estimator of the page (one call, deterministic).

        Parameters
        ----------
        data
            ``"simulated"``, a file of the programme panel (:func:`load`), or a loaded
            :class:`ProgrammeData`.
        outcome
            A key of :data:`OUTCOMES` (dropout: :mod:`analysis.reports.dropout`).
        seed
            The run's seed, split into the streams of the module docstring.
        control, method, covariates
            Callaway-Sant'Anna options of the headline fit (:func:`analysis.did.staggered`).
        balance_covariates
            Baseline characteristics of the balance table; the robustness fit conditions on
            them when the headline has no covariates.
        cluster
            ``"school_id"`` (clustered by the pupil's first school), another column, or
            ``None``/``"pupil_id"`` (pupil level).
        bootstrap_reps, ri_reps, band_draws
            Wild cluster bootstrap draws, randomization-inference re-assignments and
            multiplier-bootstrap draws of the uniform bands.
        n_schools, n_pupils
            Simulator settings (``data="simulated"``; ``None``: the simulator's defaults).
        """
        spec = _spec(outcome)
        seeds = _seeds(seed)
        prog = (
            data
            if isinstance(data, ProgrammeData)
            else load(data, seed=seed, n_schools=n_schools, n_pupils=n_pupils)
        )
        frame = prog.frame()
        cl = prog.cluster_column(cluster)
        covs, miss_cov = prog.split_covariates(frame, covariates)
        bal_covs, miss_bal = prog.split_covariates(frame, balance_covariates)
        kw = {"outcome": outcome, **COLS}
        with warnings.catch_warnings():
            # estimator notes are reported on the page where they matter (cs.notes)
            warnings.simplefilter("ignore")
            horizon = did.effect_horizon(frame, **kw, min_units=MIN_CELL)
            window = did.event_window(frame, **kw)
            baseline = diagnostics.baseline_balance(
                frame, unit=UNIT, treatment="participant", covariates=bal_covs
            )
            cs = did.staggered(
                frame,
                **kw,
                control=control,
                method=method,
                covariates=covs,
                cluster=cl,
                allow_unbalanced=True,
            )
            counts = did.treated_cell_counts(frame, **kw)
            gt = group_time_table(cs, counts, n_boot=band_draws, seed=seeds["bands"][0])
            pre = did.pretrend_tests(cs, sizes=counts, min_treated=MIN_CELL)
            es_kw = {**kw, "window": window, "cluster": cl or UNIT}
            es_cs = did.event_study(
                frame,
                **kw,
                estimator="cs",
                window=window,
                control=control,
                method=method,
                covariates=covs,
                cluster=cl,
                seed=seeds["bands"][1],
                n_boot=band_draws,
                allow_unbalanced=True,
            )
            es_sa = did.event_study(frame, **es_kw, estimator="sun_abraham", seed=seeds["bands"][2])
            es_2s = did.event_study(frame, **es_kw, estimator="did2s", seed=seeds["bands"][3])
            hd = honest.honest_did(es_cs, method="relative_magnitude") if es_cs.n_pre else None
            cs_alt = _alternative_fit(
                frame, outcome=outcome, cs=cs, covariates=bal_covs, cluster=cl
            )
            tri, ests = _triangulation(
                frame, outcome=outcome, cs=cs, cs_alt=cs_alt, cluster=cl, data=prog, max_e=horizon
            )
            bacon = diagnostics.bacon_on_balanced_subpanel(frame, **kw, cluster=cl)
            few, ri, wcb = _few_clusters(
                frame,
                outcome=outcome,
                cs=cs,
                two=ests["2x2"],
                cluster=cl,
                reps=bootstrap_reps,
                ri_reps=ri_reps,
                seeds=seeds,
                max_e=horizon,
            )
        main = cs.aggregate("simple", max_e=horizon).overall
        pupils = frame.drop_duplicates(UNIT)
        mde_res, mde = diagnostics.did_mde(
            frame,
            **kw,
            n_treated=int((pupils[COHORT] > 0).sum()),
            n_control=int((pupils[COHORT] == 0).sum()),
            binary=spec.binary,
        )
        cells = _truth_cells(prog, outcome)
        return cls(
            spec=spec,
            data=prog,
            frame=frame,
            control=control,
            method=method,
            covariates=tuple(covs),
            balance_covariates=tuple(bal_covs),
            missing_covariates=tuple(sorted(set(miss_cov + miss_bal))),
            cluster=cl,
            seed=int(seed),
            bootstrap_reps=int(bootstrap_reps),
            ri_reps=int(ri_reps),
            band_draws=int(band_draws),
            horizon=horizon,
            window=window,
            baseline=baseline,
            cs=cs,
            cs_alt=cs_alt,
            cell_counts=counts,
            gt=gt,
            pretrend=pre,
            es_cs=es_cs,
            es_sa=es_sa,
            es_2s=es_2s,
            honest_result=hd,
            tri=tri,
            estimates=ests,
            bacon=bacon,
            few=few,
            randomization=ri,
            wild_bootstrap=wcb,
            main=main,
            mde_result=mde_res,
            mde=mde,
            mde_realised=diagnostics.realised_mde(main.se),
            truth=None if cells is None else cs.simple_estimand(cells, max_e=horizon),
            dose=_dose_section(frame, data=prog, outcome=outcome, seeds=seeds, biters=band_draws),
        )

    # ------------------------------------------------------------------ helpers
    @property
    def simulated(self) -> bool:
        """Whether the page runs on a SIMULATED panel."""
        return self.data.simulated

    def _se_words(self) -> str:
        return "clustered by school" if self.cluster else "pupil-level"

    def _crosses(self) -> str:
        return " Crosses: true effects of the SIMULATED panel." if self.simulated else ""

    def missing_covariates_note(self) -> str:
        """Warning text when covariates were left out (see :attr:`missing_covariates`)."""
        return missing_covariates_note(self.missing_covariates)

    # ------------------------------------------------------------------ sections
    def question(self) -> str:
        """Markdown: the question, the estimand and the identifying assumptions in words."""
        spec, horizon = self.spec, self.horizon
        ctrl = (
            "pupils who never took part"
            if self.control == "never"
            else "pupils who never took part and those who had not yet taken part"
        )
        cov = (
            f"conditional on baseline {', '.join(self.covariates)}"
            if self.covariates
            else "without covariates (the robustness row of section 6 adds them)"
        )
        cl = (
            "standard errors clustered by school (a pupil's first school)"
            if self.cluster
            else "pupil-level standard errors"
        )
        return (
            f"**Question.** Did taking part in a programme edition change the **{spec.label}** "
            "of the pupils who took part, compared with what would have happened to them "
            "without the programme?\n\n"
            f"{programme_sentence()}\n\n"
            "**Estimand.** The average treatment effect on the treated (ATT): the mean, over "
            "participants and over the school years from their edition on, of the difference "
            f"between their outcome and the outcome they would have had without taking part, "
            f"in {spec.unit}. Editions start in different school years (staggered adoption), "
            "so the effect is first estimated for each edition g and school year t, ATT(g,t), "
            "and then averaged with weights proportional to edition size (Callaway & "
            f"Sant'Anna 2021), over the first {horizon + 1} school year(s) of participation "
            f"(those reached by at least {MIN_CELL} participants; later years rest on too few "
            "pupils for reliable standard errors and are shown only in the event study).\n\n"
            "**Comparison.** Each participant's change since the year before their edition is "
            f"compared with the change of {ctrl} over the same years ({self.method} "
            f"estimator, {cov}; {cl}).\n\n"
            "**Identifying assumptions, in words.** (1) *Parallel trends*: without the "
            "programme, participants' outcomes would have changed on average like the "
            f"comparison pupils' ({cov.split(' (')[0]}); differences in *levels* are allowed. "
            "(2) *No anticipation*: outcomes do not change in the year before an edition "
            "because of it. (3) *Overlap*: comparison pupils exist for every kind of "
            "participant. (4) Leaving the records (changing school, finishing) is unrelated to "
            "a pupil's untreated trend. Section 4 tests (1) before participation, section 5 "
            "asks how large a violation would overturn the result, section 3 shows (3).\n\n"
            f"Data: {self.data.source}."
        )

    def sample_flow(self) -> SampleFlowView:
        """Section 2: who is in the analysis."""
        return sample_flow_view(self.data)

    def balance(self) -> BalanceView:
        """Section 3: who takes part (balance and overlap)."""
        return balance_view(self.baseline, source=self.data.source)

    def group_time(self) -> GroupTimeView:
        """Section 4: ATT(g,t) with the uniform band, and the pre-trend test."""
        spec, gt, pre = self.spec, self.gt, self.pretrend
        caption = (
            f"ATT(g,t) on the {spec.label} ({spec.unit}) by edition and school year, with "
            f"pointwise 95% CIs and the uniform 95% band (shaded; {self.band_draws} multiplier-"
            f"bootstrap draws), Callaway–Sant'Anna ({self.method}, {self.control} controls), "
            f"{self._se_words()}. Dashed line: start of the edition. "
            f"{gt.attrs['hidden_cells']} cell(s) with fewer than {K_MIN} participants not "
            f"shown.{self._crosses()} Source: {self.data.source}."
        )
        notes = "; ".join(self.cs.notes) or "none"
        return GroupTimeView(
            figure=group_time_figure(gt, spec=spec, truth_gt=self.data.truth_gt(spec.name)),
            caption=caption,
            pretrend=None if pre is None else pre.table(unit="pupil", cluster="school"),
            pretrend_caption=""
            if pre is None
            else "Pre-trend tests: are all pre-participation ATT(g,t) zero? Cells with at least "
            f"{pre.min_treated} participants ({pre.cells} cells). A small p-value speaks "
            "against parallel trends; a large one does not prove them (pre-tests have little "
            "power). The F version corrects the clustered test for the small number of "
            "schools.",
            pretrend_note="No pre-participation cell has enough participants for a pre-trend test.",
            estimator_notes=f"Estimator notes: {notes}.",
        )

    def event_study(self) -> EventStudyView:
        """Section 5: the event study of three estimators (Callaway–Sant'Anna with its band)."""
        spec, window = self.spec, self.window
        truth = None
        if self.data.sim is not None:
            te = self.data.sim.truth_event()
            truth = te[(te["outcome"] == spec.name) & te["event_time"].between(0, window[1])]
        studies = {
            "Callaway–Sant'Anna": self.es_cs,
            "Sun–Abraham": self.es_sa,
            "two-stage (did2s)": self.es_2s,
        }
        return EventStudyView(
            figure=event_study_figure(studies, spec=spec, truth=truth),
            caption=f"Event study of the {spec.label} ({spec.unit}): effects by years since "
            "first participation, relative to the year before (e = −1), event times "
            f"{window[0]} to {window[1]} (each with at least {K_MIN} participants). "
            "Callaway–Sant'Anna with its uniform 95% band (shaded) and pointwise 95% CIs; "
            "Sun–Abraham and two-stage DiD with pointwise 95% CIs; standard errors "
            f"{self._se_words()}.{self._crosses()} Source: {self.data.source}.",
        )

    def honest(self) -> HonestView:
        """Section 5: HonestDiD sensitivity of the first-year effect."""
        hd, spec = self.honest_result, self.spec
        if hd is None:
            return HonestView(
                table=None,
                caption="",
                text=f"No pre-participation event time has {K_MIN} or more participants: the "
                "HonestDiD sensitivity cannot be computed.",
                kind="warning",
            )
        return HonestView(
            table=scaled(hd.table(), spec, cols=("ci_low", "ci_high")),
            caption="HonestDiD (relative magnitudes, C-LF): 95% robust confidence sets for the "
            f"effect in the first participation year ({spec.unit}) when the post-participation "
            "violation of parallel trends may be up to Mbar times the largest "
            "pre-participation one. Mbar = 0 is exact parallel trends (after the last "
            "pre-period). Method: analysis.honest (after R HonestDiD).",
            text=_honest_text(hd, spec),
            kind="info",
        )

    def triangulation(self) -> TriangulationView:
        """Section 6: five estimators of the same effect, and the Goodman-Bacon decomposition."""
        spec, b = self.spec, self.bacon
        show = display_table(self.tri, spec)
        if not self.simulated:
            show = show.drop(columns="true_effect")
        caption = (
            f"Estimates of the effect of participation on the {spec.label}, {spec.unit} "
            f"(p-value unscaled). Standard errors {self._se_words()}."
            + (
                " true_effect: the SIMULATED truth of each estimator's own estimand (first-year "
                "effect for the 2×2; edition-size-weighted cells for Callaway–Sant'Anna; mean "
                "over treated pupil-years otherwise)."
                if self.simulated
                else ""
            )
            + f" Methods: analysis.did. Source: {self.data.source}."
        )
        if b is None:
            return TriangulationView(
                table=show,
                caption=caption,
                bacon=None,
                bacon_caption="",
                bacon_text="No window of three or more school years has a balanced sub-panel "
                f"with participants and never-participants of at least {K_MIN} pupils each: the "
                "Goodman-Bacon decomposition is not shown.",
                bacon_kind="warning",
            )
        return TriangulationView(
            table=show,
            caption=caption,
            bacon=scaled(b.by_type, spec),
            bacon_caption="Goodman-Bacon decomposition of TWFE on the balanced sub-panel "
            f"(school years {b.window[0]}–{b.window[1]}, {b.n_units:,} pupils observed every "
            f"year, of whom {b.n_treated:,} participants; editions with fewer than {K_MIN} such "
            "pupils left out): weight of each type of 2×2 comparison in TWFE and their "
            f"weighted mean estimate ({spec.unit}). treated_vs_never: participants vs "
            "never-participants; earlier_vs_later: earlier editions vs later ones not yet "
            "treated; later_vs_earlier: later editions vs earlier ones already treated (the "
            "'forbidden' comparison). Method: analysis.diagnostics.bacon_decomposition "
            "(diff-diff).",
            bacon_text=_bacon_text(b, spec),
            bacon_kind="info",
        )

    def few_clusters(self) -> FewClustersView:
        """Section 7: analytic standard errors next to few-cluster inference."""
        return FewClustersView(
            table=display_table(self.few, self.spec),
            caption=few_cluster_caption(
                spec=self.spec,
                bootstrap_reps=self.bootstrap_reps,
                ri_reps=self.ri_reps,
                seed=self.seed,
                source=self.data.source,
            ),
        )

    def conclusion(self) -> str:
        """Section 8: the plain-words conclusion (markdown).

        Compares the estimate and its CI with the minimum detectable effect, states what the
        pre-trend test, the HonestDiD breakdown value and the few-cluster p-values add, and,
        for SIMULATED data, whether the CI covers the true effect.
        """
        spec, e = self.spec, self.main
        parts = [
            effect_sentence(spec=spec, estimate=e, simulated=self.simulated),
            mde_sentence(spec=spec, estimate=e, mde=self.mde, mde_realised=self.mde_realised),
        ]
        pre = self.pretrend
        if pre is not None:
            ok = pre.p_value >= 0.05
            parts.append(
                (
                    "Before participation, participants and controls moved in parallel as far "
                    "as the data can tell"
                    if ok
                    else "Before participation, participants' "
                    "outcomes did not move in parallel with the controls' (a warning against "
                    "the identifying assumption)"
                )
                + f" (pre-trend test p = {pre.p_value:.2f} on {pre.cells} "
                "pre-participation cells; a pre-test has little power, so passing it "
                "does not prove parallel trends)."
            )
        hd = self.honest_result
        if hd is not None:
            parts.append(_honest_conclusion(hd))
        if len(self.few):
            parts.append(few_cluster_sentence(self.few))
        if self.simulated and self.truth is not None:
            parts.append(truth_sentence(spec=spec, estimate=e, truth=self.truth))
        return "\n\n".join(parts)

    def headline(self) -> dict[str, float]:
        """The 3-4 numbers of the reports index (display units)."""
        return headline_numbers(spec=self.spec, estimate=self.main, truth=self.truth, mde=self.mde)

    def to_dict(self) -> dict[str, Any]:
        """The numbers ``report.save`` records (results JSON)."""
        return {
            "data": self.data.to_dict(),
            "sample_flow": self.data.sample_flow(),
            "balance": safe_balance(self.baseline),
            "headline_estimate": self.main,
            "mde": self.mde_result,
            "mde_natural_units": self.mde,
            "mde_realised": self.mde_realised,
            "few_clusters": self.few,
            "randomization": self.randomization,
            "wild_bootstrap": self.wild_bootstrap,
            "triangulation": self.tri,
            "true_effect": self.truth,
            "group_time": self.gt,
            "pretrend": None if self.pretrend is None else _pretrend_dict(self.pretrend),
            "event_study": self.es_cs,
            "sun_abraham_event_study": self.es_sa,
            "did2s_event_study": self.es_2s,
            "honest_did": self.honest_result,
            "bacon": None if self.bacon is None else _bacon_dict(self.bacon),
            "effect_horizon": self.horizon,
            "cs_group": _with_cohort_sizes(
                self.cs.aggregate("group", max_e=self.horizon), self.frame
            ),
            "dose_response": None if self.dose is None else self.dose.to_dict(),
        }

    # ------------------------------------------------------------------ dose
    def dose_text(self) -> str:
        """Markdown: what the dose-response section estimates, and its result in words."""
        d = self.dose
        if d is None:
            return (
                "**Dose–response.** Not estimated: the data carry no hours attended "
                "(a `dose` column, written by the intake from the attendance registers)."
            )
        r, s = d.result, self.spec.scale
        sim = (
            " The hours are SIMULATED (drawn independently of every outcome), so the true curve "
            "is flat at the simulated effect; the section shows the method, not a finding."
            if d.simulated
            else ""
        )
        return (
            f"**Dose–response.** Participation varies in hours attended. For the "
            f"{_edition(d.edition)} edition ({r.n_treated} participants and "
            f"{r.n_units - r.n_treated} never-participants observed in "
            f"{_edition(d.edition - 1)} and {_edition(d.edition)}), the continuous-treatment DiD "
            f"of Callaway, Goodman-Bacon & Sant'Anna estimates the effect of each number of hours "
            f"(ATT(d)) with a data-driven sieve: on average {r.overall_att * s:+.2f} "
            f"{self.spec.unit} (SE {r.overall_att_se * s:.2f}), and "
            f"{r.overall_acrt * s:+.3f} {self.spec.unit} per extra hour (SE "
            f"{r.overall_acrt_se * s:.3f}). Comparing doses needs *strong* parallel trends: "
            f"pupils who attend more hours would have had the same untreated trend as those who "
            f"attend fewer; otherwise differences across doses mix effects with selection.{sim}"
        )

    def dose_figure(self) -> Figure:
        """ATT(d) against hours attended, with the uniform 95% band."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7.5, 4.0))
        if self.dose is not None:
            c, s = self.dose.result.curve(), self.spec.scale
            ax.fill_between(
                c["dose"],
                c["att_band_low"] * s,
                c["att_band_high"] * s,
                color="tab:blue",
                alpha=0.2,
                label="uniform 95% band",
            )
            ax.plot(c["dose"], c["att"] * s, color="tab:blue", label="ATT(d)")
            if self.dose.simulated and self.truth is not None:
                ax.axhline(
                    self.truth * s,
                    color="black",
                    linestyle=":",
                    label="true effect (SIMULATED, same at every dose)",
                )
        ax.axhline(0, color="0.5", linewidth=0.8)
        ax.set_xlabel("hours attended")
        ax.set_ylabel(f"effect ({self.spec.unit})")
        ax.legend(frameon=False, fontsize=8)
        return fig

    def dose_caption(self) -> str:
        """Caption (and alt text) of :meth:`dose_figure`."""
        if self.dose is None:
            return "No dose-response curve: the data carry no hours attended."
        return (
            f"Effect of taking part on the {self.spec.label} ({self.spec.unit}) by hours "
            f"attended, {_edition(self.dose.edition)} edition against never-participants, first "
            "school year of the edition against the year before: ATT(d) (line) with its uniform "
            "95% band from the multiplier bootstrap (shaded); continuous-treatment DiD, "
            "data-driven B-spline sieve (Callaway, Goodman-Bacon & Sant'Anna; moderndid "
            f"cont_did). Hours: {self.dose.source}. Source: {self.data.source}."
        )


# --------------------------------------------------------------------------------------------
# Estimator calls of the build (methods live in analysis.did / inference / diagnostics)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoseSection:
    """The dose-response estimate of the page: one edition's first year, by hours attended."""

    result: did.DoseResponseResult
    edition: int
    simulated: bool
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Numbers for the results JSON."""
        return {**self.result.to_dict(), "edition": self.edition, "simulated_dose": self.simulated}


def _dose_section(
    frame: pd.DataFrame, *, data: ProgrammeData, outcome: str, seeds: Mapping[str, Any], biters: int
) -> DoseSection | None:
    """Estimate ATT(d) for the edition with most participants observed in both years.

    Real records carry the dose (hours attended) from the intake; a SIMULATED panel gets
    simulated hours (:func:`analysis.data.simulate.simulated_dose`).  ``None`` when there is no
    dose or no edition with at least ``K_MIN`` participants and comparison pupils.
    """
    from analysis.data.simulate import simulated_dose
    from analysis.did.dose import first_year_dose_panel

    work = frame.copy()
    simulated = "dose" not in work.columns
    if simulated:
        if not data.simulated:
            return None
        work["dose"] = simulated_dose(work, seed=seeds["dose_data"])
    best = None
    for g in sorted(c for c in work[COHORT].unique() if c > 0):
        sub = first_year_dose_panel(
            work, outcome=outcome, unit=UNIT, time=TIME, cohort=COHORT, dose="dose", edition=int(g)
        )
        n_t = sub.loc[sub[COHORT] > 0, UNIT].nunique()
        n_c = sub.loc[sub[COHORT] == 0, UNIT].nunique()
        if n_t >= K_MIN and n_c >= K_MIN and (best is None or n_t > best[1]):
            best = (int(g), n_t, sub)
    if best is None:
        return None
    g, _, sub = best
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = did.dose_response(
            sub,
            outcome=outcome,
            unit=UNIT,
            time=TIME,
            cohort=COHORT,
            dose="dose",
            method="cck",
            control="never",
            biters=max(int(biters), 2),
            seed=seeds["dose_bands"],
        )
    source = (
        "SIMULATED (uniform 8-40 hours, independent of the outcomes)"
        if simulated
        else "attendance registers (intake)"
    )
    return DoseSection(result=res, edition=g, simulated=simulated, source=source)


def _alternative_fit(
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
    return did.staggered(
        frame,
        outcome=outcome,
        **COLS,
        control=cs.control,
        method=method,
        covariates=alt_cov,
        cluster=cluster,
        allow_unbalanced=True,
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


def _triangulation(
    frame: pd.DataFrame,
    *,
    outcome: str,
    cs: StaggeredResult,
    cs_alt: StaggeredResult | None,
    cluster: str | None,
    data: ProgrammeData,
    max_e: float,
) -> tuple[pd.DataFrame, dict[str, Estimate]]:
    """The five estimators of the same ATT side by side (one row each).

    2×2 (first year, stacked; :func:`analysis.did.stacked_first_year`), TWFE (pupil + year
    fixed effects), Callaway-Sant'Anna (``cs``, simple aggregation up to ``max_e``) and its
    covariate variant, Sun-Abraham (interaction-weighted) and imputation
    (Borusyak-Jaravel-Spiess); standard errors clustered by ``cluster`` (pupil when ``None``).
    ``true_effect`` (SIMULATED panels) is each estimator's own estimand: the first-year effect
    for the 2×2, the cohort-share-weighted cells for CS, the mean over treated pupil-years
    otherwise.
    """
    cl = cluster or UNIT
    kw = {"outcome": outcome, "unit": UNIT, "time": TIME}
    sim = data.sim
    truth_all = data.truth(outcome)
    truth_first = None
    cells = _truth_cells(data, outcome)
    if sim is not None:
        te = sim.truth_event()
        te = te[(te["outcome"] == outcome) & (te["event_time"] == 0)]
        truth_first = float(te["att"].iloc[0]) if len(te) else None
    two = did.stacked_first_year(frame, **kw, cohort=COHORT, cluster=cluster)
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
            None if cells is None else cs.simple_estimand(cells, max_e=max_e),
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
                None if cells is None else cs_alt.simple_estimand(cells, max_e=max_e),
            )
        )
    if sa.overall is None:  # pragma: no cover - sun_abraham always defines one
        raise RuntimeError("the Sun-Abraham event study has no overall effect")
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
    return pd.DataFrame(rows), ests


def _few_clusters(
    frame: pd.DataFrame,
    *,
    outcome: str,
    cs: StaggeredResult,
    two: Estimate,
    cluster: str | None,
    reps: int,
    ri_reps: int,
    seeds: Mapping[str, Any],
    max_e: float,
) -> tuple[pd.DataFrame, inference.RandomizationResult, Estimate]:
    """Analytic standard errors next to few-cluster inference, for the same estimates.

    Callaway-Sant'Anna ATT (simple aggregation up to ``max_e``): analytic SE from the
    influence functions, pupil-level and clustered (no small-sample factor, normal critical
    values, as R ``did``); randomization inference
    (:func:`analysis.inference.participation_randomization`, ``ri_reps`` re-assignments within
    school and edition; statistic :func:`analysis.did.simple_att`).  Stacked first-year 2×2
    (``two``): analytic CR1 (t with G−1 df) and the restricted wild cluster bootstrap
    (:func:`analysis.did.stacked_first_year_bootstrap`, ``reps`` draws; Webb weights below 12
    clusters), which tests :math:`H_0`: no first-year effect.
    """
    o_pu = cs.unit_level().aggregate("simple", max_e=max_e).overall
    rows = [few_cluster_row("Callaway–Sant'Anna ATT", "analytic, pupil level", o_pu, None)]
    if cs.cluster:
        o_cl = cs.aggregate("simple", max_e=max_e).overall
        rows.append(
            few_cluster_row(
                "Callaway–Sant'Anna ATT",
                f"analytic, clustered by school ({cs.n_clusters} clusters)",
                o_cl,
                cs.n_clusters,
            )
        )
    statistic = functools.partial(
        did.simple_att,
        outcome=outcome,
        **COLS,
        control=cs.control,
        method=cs.method,
        covariates=list(cs.covariates),
        max_e=max_e,
        allow_unbalanced=True,
    )
    ri = inference.participation_randomization(
        frame,
        statistic=statistic,
        **COLS,
        strata="school_id",
        age="age",
        columns=[outcome, *cs.covariates, cluster],
        reps=ri_reps,
        seed=seeds["randomization"],
    )
    rows.append(
        few_cluster_row(
            "Callaway–Sant'Anna ATT",
            f"randomization inference ({ri.reps} re-assignments within school and edition)",
            ri,
            None,
        )
    )
    wcb = did.stacked_first_year_bootstrap(
        frame,
        outcome=outcome,
        **COLS,
        cluster=cluster,
        reps=reps,
        seed=seeds["bootstrap"],
    )
    g = wcb.n_clusters
    lbl = "clustered by school" if cluster else "clustered by pupil"
    rows.append(
        few_cluster_row(
            "2×2 DiD, first year",
            f"analytic CR1, {lbl} ({g} clusters, t with {g - 1} df)",
            two,
            g,
        )
    )
    wcb_row = few_cluster_row(
        "2×2 DiD, first year",
        f"wild cluster bootstrap (WCR, {wcb.extra['weights_type']}, {wcb.extra['reps']} draws)",
        wcb,
        g,
    )
    rows.append({**wcb_row, "se": np.nan})
    return pd.DataFrame(rows), ri, wcb


# --------------------------------------------------------------------------------------------
# Words and JSON of method results
# --------------------------------------------------------------------------------------------


def _honest_text(result: HonestDiDResult, spec: OutcomeSpec) -> str:
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


def _honest_conclusion(hd: HonestDiDResult) -> str:
    bd = hd.breakdown
    if not hd.original.ci_low <= 0 <= hd.original.ci_high:
        if np.isfinite(bd):
            return (
                f"The first-year effect stays distinguishable from zero as long as the "
                f"post-participation violation of parallel trends is less than about "
                f"**{bd:.2g} times** the largest violation seen before participation "
                "(HonestDiD breakdown value, relative magnitudes)."
            )
        return (
            "The first-year effect stays distinguishable from zero over the "
            f"whole HonestDiD grid (up to {max(hd.grid):.2g} times "
            "the largest pre-participation violation)."
        )
    return (
        "The first-year effect is not distinguishable from zero even under "
        "exact parallel trends, so the HonestDiD sensitivity has no breakdown "
        "value to report."
    )


def _bacon_text(b: BaconSummary, spec: OutcomeSpec) -> str:
    """Say in words what drives the TWFE coefficient."""
    forb = b.weight("later_vs_earlier")
    gap = b.twfe.estimate - b.cs.estimate
    txt = (
        f"On the balanced sub-panel (school years {b.window[0]}–{b.window[1]}, "
        f"{b.n_units:,} pupils observed every year, {b.n_treated:,} of them "
        f"participants), TWFE gives {spec.fmt(b.twfe.estimate)} and Callaway–Sant'Anna "
        f"{spec.fmt(b.cs.estimate)} (gap {spec.fmt(gap)}). "
    )
    if forb > 0:
        txt += (
            f"{forb:.0%} of the TWFE weight is on 'later vs earlier' comparisons, which "
            f"use already-treated pupils as controls (their 2×2 average "
            f"{spec.fmt(b.estimate('later_vs_earlier'))}); they bias TWFE when effects change "
            "over time since participation. "
        )
    else:
        txt += "No TWFE weight falls on comparisons with already-treated pupils as controls. "
    return txt


def _bacon_dict(b: BaconSummary) -> dict[str, Any]:
    notes = (
        [
            f"editions with fewer than {b.min_group} pupils observed every year left out: "
            f"{list(b.dropped_cohorts)}"
        ]
        if b.dropped_cohorts
        else []
    )
    return {
        "window": list(b.window),
        "n_pupils": b.n_units,
        "n_participants": b.n_treated,
        "table": b.table.to_dict(orient="records"),
        "by_type": b.by_type.to_dict(orient="records"),
        "twfe": b.twfe.to_dict(),
        "cs": b.cs.to_dict(),
        "notes": notes,
    }


def _pretrend_dict(pre: PretrendSummary) -> dict[str, Any]:
    return {
        "table": pre.table(unit="pupil", cluster="school").to_dict(orient="records"),
        "p_value": pre.p_value,
        "cells": pre.cells,
        "min_pupils": pre.min_treated,
    }


def _with_cohort_sizes(agg: Any, frame: pd.DataFrame) -> dict[str, Any]:
    """The by-edition aggregation with each edition's participants (``n_pupils``).

    The count travels with the estimate so that :func:`analysis.privacy.suppress_results`
    withholds an edition of fewer than ``K_MIN`` participants from the results JSON (the page
    does not show it).
    """
    out = to_jsonable(agg)
    sizes = frame.drop_duplicates(UNIT).groupby(COHORT).size()
    for rec in out.get("table", []):
        rec["n_pupils"] = int(sizes.get(rec.get(COHORT), 0))
    return out
