"""Simulated programme panels with a known truth.

:func:`programme_panel` draws a pupil × school-year panel that satisfies the programme-panel
contract (:mod:`analysis.data.programme`), with staggered participation cohorts, selection into
participation on observables, school clustering, common year effects and base rates
calibrated to public Italian figures (``simulation_calibration.yaml``, every number with its
source or the word ASSUMPTION).  It is for checking estimators and rehearsing reports only:
everything it returns carries :data:`SIMULATED_BANNER`.

Data-generating process
-----------------------
Schools ``s`` are lower secondary (grades 6–8) or upper secondary (9–13).  Each pupil ``i``
stays in one school: present in the first year at any grade, or entering the school's first
grade in a later year (a stationary intake).  The pupil moves up one grade a year unless held
back.  A pupil leaves the panel in the year they drop out (no rows afterwards) or, by
default, after the number of years that normal progression to the school's last grade takes
(a repeater then leaves before reaching it, as if moving out of the network).  This keeps
attrition independent of the outcomes other than dropout; with
``outcome_dependent_exit=True`` pupils instead leave after passing the last grade, so that a
repeater stays one more year, as in real registers — pupil fixed-effects estimators of
``repeated_grade`` are then biased by this outcome-dependent attrition (about +0.007 in a
Monte Carlo check with the default calibration).

Latent factors: school effect ``u_s ~ N(0, 1)``; socio-economic index
``ses_i = −√ρ·u_s + √(1−ρ)·s_i`` (``ρ`` the school share of SES); pupil risk
``z_i = w_ses·(−s_i) + w_for·foreign_i + w_male·male_i + ν_i`` (standardised, unit variance,
independent of the school); pupil level ``L_i = √icc·u_s + √π·z_i`` with ``π`` the pupil share;
yearly noise ``ε_itk ~ N(0, 1 − icc − π)``.  So the school share of the latent variance is
exactly ``icc``.  Untreated potential outcomes, for school year ``t`` with year effect
``γ_tk``:

* ``grade_avg``:      ``μ_g − σ_g (L_i + ε_it) + γ_t``  (clipped to [1, 10]);
* ``invalsi_score``:  ``200 − 40 (L_i + ε_it) + γ_t`` in tested grades (8, 10, 13);
* ``absence_rate``:   ``Beta`` with mean ``A_i + γ_t``, where
  ``A_i = expit(logit(m) + κ L_i/√(icc+π))`` (a right-skewed pupil rate);
* ``repeated_grade``, ``dropped_out``: Bernoulli with probability ``p_i,level + γ_t``, where
  ``p_i,level = base_level · exp(λ L_i/√(icc+π) − λ²/2)`` (mean ``base_level``, the MIUR rate
  of the school level for dropout).

``baseline_absence`` is one ``Beta`` draw around ``A_i`` (the year before the panel), so it is
an observable, noisy proxy of the pupil's absence level.  The ICC of ``grade_avg`` and
``invalsi_score`` within a school year is ``icc``; on the natural scale of absence and the
binary outcomes it differs.

The expected untreated outcome is ``α_i + γ_t``: **parallel trends hold exactly in
expectation** on the natural scale (pupil levels are floored so that year effects never push a
mean outside [0, 1]).  The treated outcome adds the effect ``τ_k(e)`` at event time
``e = t − cohort ≥ 0`` on the natural scale (means clipped to the outcome's range), so

``truth[k] = mean over treated pupil-years with observed outcome k of E[Y(1) − Y(0) | i, t]``,

the sample ATT of the conditional expected effects (``ATT(g, t)`` in
:attr:`SimulatedPanel.truth_gt`).  Clipping makes the binary effects smaller than nominal for
low-risk pupils, which ``truth`` accounts for.  For ``dropped_out`` the effect is on the
**annual hazard** among pupils still enrolled; a pupil-fixed-effects regression of
``dropped_out`` is not a valid estimator of it (the event ends the pupil's rows).

Participation (selection on observables): in each edition year ``c``, a pupil present, aged
11–17 (``c − birth_year``, docs/references.md §0.1), observed in an earlier year and not yet
treated, takes part with probability ``expit(a_c + β_abs·std(logit baseline_absence) +
β_ses·std(ses_i) + β_school·u_s)``, times ``selection`` for the slopes, with ``a_c`` set so
that the mean probability among the eligible equals ``share_treated``.  Eligibility is by age,
not grade, so that past repetition does not decide who can take part.  Pupils who took part
are treated from ``c`` on (absorbing).  Because participants have higher baseline absence and
lower SES, a naive post-period comparison of participants and non-participants is biased; a
within-pupil comparison (DiD) recovers the truth for absence, grades, INVALSI and repetition.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from analysis import paths
from analysis._util import to_jsonable
from analysis.yamlfile import parse_yaml

__all__ = [
    "CALIBRATION_FILE",
    "DEFAULT_EFFECTS",
    "SIMULATED_BANNER",
    "simulated_dose",
    "SimulatedPanel",
    "PanelArrays",
    "load_calibration",
    "panel_arrays",
    "programme_panel",
]

SIMULATED_BANNER = "SIMULATED — NOT PROGRAMME RESULTS"
"""Banner that every table, figure and report built from simulated data must carry."""

CALIBRATION_FILE = paths.CALIBRATION_FILE

_OUTCOMES = ("dropped_out", "absence_rate", "repeated_grade", "grade_avg", "invalsi_score")
_COLUMNS = (
    "pupil_id",
    "school_id",
    "year",
    "cohort",
    "course",
    *_OUTCOMES,
    "sex",
    "birth_year",
    "grade_level",
    "foreign_born",
    "baseline_absence",
    "ses_index",
    "treated",
)
_LOWER = (6, 8)
_UPPER = (9, 13)


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _parse_yaml(text: str, source: str) -> Any:
    return parse_yaml(text, source=source)


def load_calibration(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Read the calibration file and check that every number has a source.

    Parameters
    ----------
    path
        A YAML file with the layout of the ``config/simulation_calibration.yaml``; that
        file if ``None``.

    Returns
    -------
    dict
        ``{section: {name: {"value": ..., "source": str}}}``.  An entry may give
        ``fact: <section>.<field>`` instead of a ``value``: the value is then read from
        ``config/programme.yaml`` (:func:`analysis.facts.programme_facts`), so that a programme
        fact is typed in one place only.

    Raises
    ------
    ValueError
        If an entry has no ``value`` or no ``source``, or a source neither cites a section of
        docs/references.md (``references.md §``) nor starts with ``ASSUMPTION``.
    """
    path = paths.CALIBRATION_FILE if path is None else Path(path)
    text = path.read_text("utf-8")
    label = paths.relative(path)
    data = copy.deepcopy(_parse_yaml(text, label))  # parsed once per content; callers get a copy
    bad = []
    for section, entries in data.items():
        for name, entry in entries.items():
            if isinstance(entry, dict) and "fact" in entry and "value" not in entry:
                try:
                    entry["value"] = _programme_fact(str(entry["fact"]))
                    entry.setdefault(
                        "source",
                        f"docs/references.md §0.1 via config/programme.yaml ({entry['fact']})",
                    )
                except (AttributeError, KeyError) as err:
                    bad.append(
                        f"{section}.{name}: unknown programme fact {entry['fact']!r} ({err})"
                    )
                    continue
            src = entry.get("source", "") if isinstance(entry, dict) else ""
            if not isinstance(entry, dict) or "value" not in entry or not src:
                bad.append(f"{section}.{name}: needs 'value' and 'source'")
            elif not (src.startswith("ASSUMPTION") or "references.md §" in src):
                bad.append(
                    f"{section}.{name}: source must cite docs/references.md §<section> "
                    "or start with ASSUMPTION"
                )
    if bad:
        raise ValueError(f"{label}: " + "; ".join(bad))
    return data


def _programme_fact(dotted: str) -> Any:
    """The value of ``section.field`` in ``config/programme.yaml`` (one source for facts)."""
    from analysis.facts import programme_facts

    section, _, field_name = dotted.partition(".")
    obj = {"pro_officine_mezzogiorno": "courses", "fis_experimentation": "day_centre"}[section]
    return getattr(getattr(programme_facts(), obj), field_name)


def _values(cal: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s: {k: v["value"] for k, v in entries.items()} for s, entries in cal.items()}


def _calibration_values(path: str | Path | None) -> dict[str, dict[str, Any]]:
    """``_values(load_calibration(path))``, a copy of what was computed for this file content.

    :func:`load_calibration` copies the parsed file and checks every source on each call; the
    simulator calls it once per panel, and a power study draws thousands (issue 14).  The
    values are kept per file, file content and version of ``config/programme.yaml`` (whose
    facts some entries read), so an edited file is read and checked again.
    """
    p = paths.CALIBRATION_FILE if path is None else Path(path)
    facts = paths.PROGRAMME_FILE
    version = facts.stat().st_mtime_ns if facts.is_file() else None
    return _copy_values(_cached_values(str(p), p.read_text("utf-8"), version))


def _copy_values(obj: Any) -> Any:
    """A deep copy of parsed YAML values: new dicts and lists, the same immutable scalars.

    :func:`copy.deepcopy` gives the same result but was a tenth of a power study's simulator
    time (its memo and dispatch per object, issue 14); anything but a dict, a list or an
    immutable scalar still goes through it.
    """
    if isinstance(obj, dict):
        return {k: _copy_values(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy_values(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return copy.deepcopy(obj)


@functools.lru_cache(maxsize=8)
def _cached_values(path: str, text: str, facts_version: int | None) -> dict[str, dict[str, Any]]:
    del text, facts_version  # cache keys only
    return _values(load_calibration(path))


DEFAULT_EFFECTS: Mapping[str, float] = MappingProxyType(
    {k: float(v) for k, v in _values(load_calibration())["effects"].items()}
)
"""Illustrative default true effects (calibration file, section ``effects``)."""


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedPanel:
    """A simulated programme panel and its truth.  SIMULATED — NOT PROGRAMME RESULTS.

    Attributes
    ----------
    data
        The panel (satisfies :data:`analysis.data.programme.PANEL_SCHEMA`).
    truth
        True ATT per outcome: mean of ``E[Y(1) − Y(0)]`` over treated pupil-years with an
        observed outcome.
    truth_gt
        ``outcome, cohort, year, event_time, att, n_rows``: the true ``ATT(g, t)``.
    params
        Every parameter used (arguments, calibration values, drawn year effects).
    banner
        :data:`SIMULATED_BANNER`.
    """

    data: pd.DataFrame
    truth: Mapping[str, float]
    truth_gt: pd.DataFrame
    params: Mapping[str, Any]
    banner: str = field(default=SIMULATED_BANNER)

    def truth_event(self) -> pd.DataFrame:
        """Return the true effect by event time (row-weighted over cohorts)."""
        g = self.truth_gt.assign(w=lambda d: d["att"] * d["n_rows"])
        out = g.groupby(["outcome", "event_time"], as_index=False)[["w", "n_rows"]].sum()
        out["att"] = out["w"] / out["n_rows"]
        return out[["outcome", "event_time", "att", "n_rows"]]

    def tidy(self) -> pd.DataFrame:
        """Return one row per outcome: true ATT, nominal effect, treated pupil-years."""
        n = self.truth_gt.groupby("outcome")["n_rows"].sum()
        eff = self.params["effects"]
        rows = [
            {
                "outcome": k,
                "true_att": v,
                "nominal_effect": eff[k][0] if len(eff[k]) == 1 else list(eff[k]),
                "n_treated_rows": int(n.get(k, 0)),
                "banner": self.banner,
            }
            for k, v in self.truth.items()
        ]
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Return the banner, the panel's size and the true ATTs."""
        d = self.data
        pupils = d.drop_duplicates("pupil_id")
        lines = [
            self.banner,
            f"{len(pupils)} pupils ({int((pupils['cohort'] > 0).sum())} participants), "
            f"{len(d)} pupil-years, {d['school_id'].nunique()} schools, "
            f"years {d['year'].min()}-{d['year'].max()}, seed {self.params['seed']}",
            "true ATT: " + ", ".join(f"{k} {v:+.4f}" for k, v in self.truth.items()),
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable description (truth and parameters, not the data)."""
        return {
            "banner": self.banner,
            "truth": dict(self.truth),
            "truth_gt": self.truth_gt.to_dict(orient="records"),
            "params": to_jsonable(self.params),
        }


@dataclass(frozen=True, eq=False)
class PanelArrays:
    """A simulated panel as arrays, without its truth (:func:`panel_arrays`).  SIMULATED.

    Row arrays (one entry per pupil-year, in the row order of ``programme_panel(...).data``:
    by pupil, then year) and pupil arrays (one entry per pupil ``0 … n_pupils − 1``).  All
    arrays are read-only.

    Attributes
    ----------
    pupil, year, grade_level
        Row arrays: the pupil's number, the school year, the grade.
    outcomes
        ``{outcome: row array}`` for the outcomes asked for (NaN where not observed).
    school, cohort, female, foreign_born, birth_year, baseline_absence, ses
        Pupil arrays: school number, participation cohort (0: never), sex, foreign born,
        birth year, baseline absence, socio-economic index.
    n_schools
        Number of schools.
    course_label
        Prefix of the ``course`` column.
    params
        Every parameter used, as ``programme_panel(...).params``.
    banner
        :data:`SIMULATED_BANNER`.
    """

    pupil: np.ndarray
    year: np.ndarray
    grade_level: np.ndarray
    outcomes: Mapping[str, np.ndarray]
    school: np.ndarray
    cohort: np.ndarray
    female: np.ndarray
    foreign_born: np.ndarray
    birth_year: np.ndarray
    baseline_absence: np.ndarray
    ses: np.ndarray
    n_schools: int
    course_label: str
    params: Mapping[str, Any]
    banner: str = field(default=SIMULATED_BANNER)

    def __post_init__(self) -> None:
        for arr in (
            self.pupil,
            self.year,
            self.grade_level,
            *self.outcomes.values(),
            self.school,
            self.cohort,
            self.female,
            self.foreign_born,
            self.birth_year,
            self.baseline_absence,
            self.ses,
        ):
            arr.flags.writeable = False

    @property
    def truth(self) -> Mapping[str, float]:
        """Not available: :func:`panel_arrays` skips the true effects."""
        raise AttributeError(
            "PanelArrays has no truth (panel_arrays skips it); "
            "use programme_panel for the true effects"
        )

    @property
    def n_pupils(self) -> int:
        """Number of pupils."""
        return len(self.school)

    def frame(
        self,
        *,
        rows: np.ndarray | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Build columns of ``programme_panel(...).data`` for some rows.

        Parameters
        ----------
        rows
            Boolean mask or positions of the row arrays (``None``: every row).
        columns
            Columns, in this order (``None``: every column of the panel, with only the outcomes
            built).  The values and dtypes are those of ``programme_panel(...).data``.

        Raises
        ------
        ValueError
            A column that is not a panel column, or an outcome that was not built.
        """
        if columns is None:
            columns = [c for c in _COLUMNS if c not in _OUTCOMES or c in self.outcomes]
        bad = [
            c for c in columns if c not in _COLUMNS or (c in _OUTCOMES and c not in self.outcomes)
        ]
        if bad:
            raise ValueError(
                f"columns {bad} are not panel columns or outcomes built "
                f"({list(self.outcomes)}); draw them with panel_arrays(outcomes=...)"
            )
        sel = slice(None) if rows is None else rows
        pid = self.pupil[sel]
        year = self.year[sel]
        cohort = self.cohort[pid]

        def course() -> np.ndarray:
            cohorts = tuple(self.params["cohorts"])
            names = [f"{self.course_label} {c}/{(c + 1) % 100:02d}" for c in cohorts]
            table = np.array(["", *names], dtype=object)
            return table[np.searchsorted(np.array([0, *cohorts]), cohort)]

        def pupil_ids() -> np.ndarray:  # formatted once per pupil, not once per row
            unique, inverse = np.unique(pid, return_inverse=True)
            return _pupil_ids(unique, self.n_pupils)[inverse]

        build = {
            "pupil_id": lambda: pd.array(pupil_ids(), dtype="str"),
            "school_id": lambda: pd.array(
                _school_ids(np.arange(self.n_schools))[self.school[pid]], dtype="str"
            ),
            "year": lambda: year,
            "cohort": lambda: cohort,
            "course": lambda: pd.array(course(), dtype="str"),
            "sex": lambda: pd.array(np.where(self.female[pid], "F", "M"), dtype="str"),
            "birth_year": lambda: self.birth_year[pid],
            "grade_level": lambda: self.grade_level[sel],
            "foreign_born": lambda: self.foreign_born[pid].astype(np.int64),
            "baseline_absence": lambda: self.baseline_absence[pid],
            "ses_index": lambda: self.ses[pid],
            "treated": lambda: ((cohort > 0) & (year >= cohort)).astype(np.int64),
        }
        return pd.DataFrame(
            {c: self.outcomes[c][sel] if c in _OUTCOMES else build[c]() for c in columns}
        )


def _pupil_ids(pupil: np.ndarray, n_pupils: int) -> np.ndarray:
    """``P`` and the pupil's number, zero-padded to the width of ``n_pupils`` (at least 6)."""
    width = max(6, len(str(n_pupils)))
    if not len(pupil):  # np.char.zfill fails on an empty array
        return np.empty(0, dtype=f"<U{width + 1}")
    return np.char.add("P", np.char.zfill(pupil.astype(str), width))


def _school_ids(school: np.ndarray) -> np.ndarray:
    """``SCH`` and the school's number, zero-padded to 3 digits."""
    if not len(school):  # np.char.zfill fails on an empty array
        return np.empty(0, dtype="<U6")
    return np.char.add("SCH", np.char.zfill(school.astype(str), 3))


# --------------------------------------------------------------------------------------------
# Simulator
# --------------------------------------------------------------------------------------------


def _effect_schedule(
    effects: Mapping[str, float | Sequence[float]] | None,
) -> dict[str, tuple[float, ...]]:
    merged: dict[str, float | Sequence[float]] = {k: 0.0 for k in _OUTCOMES}
    if effects is None:
        merged.update(DEFAULT_EFFECTS)
    else:
        unknown = set(effects) - set(_OUTCOMES)
        if unknown:
            raise ValueError(
                f"effects for unknown outcomes {sorted(unknown)}; known: {list(_OUTCOMES)}"
            )
        merged.update(effects)
    out = {}
    for k, v in merged.items():
        seq = (float(v),) if np.isscalar(v) else tuple(float(x) for x in v)
        if not seq or not all(np.isfinite(seq)):
            raise ValueError(f"effect for {k} must be a finite number or a non-empty sequence")
        out[k] = seq
    return out


def _at(schedule: tuple[float, ...], event_time: np.ndarray) -> np.ndarray:
    arr = np.asarray(schedule)
    return arr[np.minimum(event_time, len(arr) - 1)]


_SURE = 1e-12
"""Gap between a computed mean and the share beyond which its rounding cannot matter."""


def _intercept_for_share(lin: np.ndarray, share: float) -> float:
    """Return ``a`` such that ``mean(expit(a + lin)) == share`` (bisection).

    The result is that of 60 bisection steps on ``[-30, 30]``, each comparing the computed
    ``mean(expit(mid + lin))`` with ``share``.  Most steps are decided without computing the
    mean (issue 14: the bisection was a quarter of a power study's simulator time): a few
    Newton steps find points ``below`` and ``above`` the root where the computed mean is less
    than ``share − _SURE`` and more than ``share + _SURE``.  The mean is non-decreasing in
    ``a`` (so is the rounded sum ``mid + lin``) and its rounding error is below 1e-14, far
    under ``_SURE``; so at any ``mid ≤ below`` the computed mean is less than ``share`` and
    at any ``mid ≥ above`` it is not, and those steps go the way the computation would.
    Only the steps between the two points are computed, so the result is bit-identical to
    the plain bisection (``tests/test_simulate.py`` checks it).  No library root finder
    reproduces these 60 steps, hence the hand-written loop.
    """

    def mean_at(a: float) -> float:
        return _mean(expit(a + lin))

    below, above = -np.inf, np.inf

    def note(a: float, m: float) -> None:
        nonlocal below, above
        if m < share - _SURE:
            below = max(below, a)
        elif m > share + _SURE:
            above = min(above, a)

    if lin.dtype == np.float64 and len(lin) and 0 < share < 1 and np.isfinite(lin).all():
        a = float(np.clip(logit(share) - lin.mean(), -30.0, 30.0))
        slope = 0.0
        for _ in range(8):  # Newton steps towards the root
            p = expit(a + lin)
            m = _mean(p)
            note(a, m)
            slope = float(_mean(p * (1 - p)))
            if not (slope > 0 and np.isfinite(m)) or abs(m - share) < _SURE / 8:
                break
            a = float(np.clip(a - (m - share) / slope, -30.0, 30.0))
        if slope > 0:
            step = 8 * _SURE / slope
            note(a - step, mean_at(a - step))
            note(a + step, mean_at(a + step))

    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if mid <= below:
            lo = mid
        elif mid >= above:
            hi = mid
        elif mean_at(mid) < share:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _mean(x: np.ndarray) -> float:
    """``x.mean()`` of a float64 array without its Python overhead (same sum, same division)."""
    if x.dtype != np.float64:  # np.mean divides other types in another precision
        return x.mean()
    return np.add.reduce(x) / x.size


def _standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else x - x.mean()


def programme_panel(
    *,
    seed: int,
    n_schools: int = 20,
    n_pupils: int = 2000,
    cohorts: Sequence[int] = (2021, 2022, 2023),
    effects: Mapping[str, float | Sequence[float]] | None = None,
    years: Sequence[int] | None = None,
    icc: float | None = None,
    share_treated: float | None = None,
    selection: float = 1.0,
    year_effects: bool = True,
    outcome_dependent_exit: bool = False,
    calibration: str | Path | Mapping[str, Any] | None = None,
) -> SimulatedPanel:
    """Draw a simulated programme panel with known true effects.

    The model is in the module docstring.  SIMULATED — NOT PROGRAMME RESULTS.

    Parameters
    ----------
    seed
        Seed of ``np.random.default_rng``; the same seed gives an identical panel.
    n_schools
        Number of schools (at least one lower and one upper secondary school if ≥ 2).
    n_pupils
        Total number of pupils ever in the panel (across schools and entry years).
    cohorts
        School years of the programme editions (participation cohorts).  Each must be a year
        of the panel after its first year.
    effects
        True effect per outcome on its natural scale (``dropped_out``: annual hazard,
        probability points; ``absence_rate``: share of hours; ``repeated_grade``: probability
        points; ``grade_avg``: grade points; ``invalsi_score``: scale points).  A number is a
        constant effect; a sequence gives the effect at event time 0, 1, 2, ... (the last value
        carries on).  Outcomes not given have no effect.  ``None``: :data:`DEFAULT_EFFECTS`
        (illustrative).
    years
        Panel years; default from two years before the first cohort to one after the last.
    icc
        School share of the latent outcome variance (the ICC of ``grade_avg`` and
        ``invalsi_score`` within a school year); calibration default 0.10.
    share_treated
        Expected share of eligible pupils taking part in each edition.
    selection
        Multiplier of the selection coefficients (0 = participation at random).
    year_effects
        Whether to draw common year effects (``False``: none).
    outcome_dependent_exit
        ``False`` (default): pupils leave after the years normal progression takes (attrition
        independent of outcomes other than dropout).  ``True``: they leave after passing the
        school's last grade (repeaters stay longer, as in real registers).
    calibration
        Another calibration file, or a mapping ``{section: {name: value}}`` overriding single
        values of ``config/simulation_calibration.yaml``.

    Returns
    -------
    SimulatedPanel
        ``.data`` (the panel), ``.truth`` (true ATT per outcome), ``.truth_gt`` (true
        ``ATT(g, t)``), ``.params``.
    """
    arrays, truth, truth_gt = _simulate(
        seed=seed,
        n_schools=n_schools,
        n_pupils=n_pupils,
        cohorts=cohorts,
        effects=effects,
        years=years,
        icc=icc,
        share_treated=share_treated,
        selection=selection,
        year_effects=year_effects,
        outcome_dependent_exit=outcome_dependent_exit,
        calibration=calibration,
        outcomes=_OUTCOMES,
        truth=True,
    )
    assert truth is not None and truth_gt is not None  # truth=True builds them
    return SimulatedPanel(
        data=arrays.frame(),
        truth=MappingProxyType(truth),
        truth_gt=truth_gt,
        params=arrays.params,
    )


def panel_arrays(
    *,
    seed: int,
    outcomes: Sequence[str],
    n_schools: int = 20,
    n_pupils: int = 2000,
    cohorts: Sequence[int] = (2021, 2022, 2023),
    effects: Mapping[str, float | Sequence[float]] | None = None,
    years: Sequence[int] | None = None,
    icc: float | None = None,
    share_treated: float | None = None,
    selection: float = 1.0,
    year_effects: bool = True,
    outcome_dependent_exit: bool = False,
    calibration: str | Path | Mapping[str, Any] | None = None,
) -> PanelArrays:
    """Draw the panel of :func:`programme_panel` as arrays, without its truth (fast path).

    For Monte Carlo replications (:func:`analysis.power.draw_panel`) that use a few columns of
    many panels.  Every random number is drawn in the same order as by
    :func:`programme_panel`, so for the same arguments the rows, and every column built from
    them (:meth:`PanelArrays.frame`), are identical to ``programme_panel(...).data``; what is
    skipped is the work a replication does not use: the outcomes not in ``outcomes``, the true
    effects (``truth``, ``truth_gt``) and the DataFrame with its string columns.
    SIMULATED — NOT PROGRAMME RESULTS.

    Parameters
    ----------
    seed
        As :func:`programme_panel`.
    outcomes
        The outcome columns to build (a non-empty subset of ``dropped_out, absence_rate,
        repeated_grade, grade_avg, invalsi_score``).  The others are still drawn (so that the
        random stream, dropout and repetition are unchanged) but not kept.
    n_schools, n_pupils, cohorts, effects, years, icc, share_treated, selection, year_effects,
    outcome_dependent_exit, calibration
        As :func:`programme_panel`.

    Returns
    -------
    PanelArrays
        No ``truth``: use :func:`programme_panel` for the true effects.

    Raises
    ------
    ValueError
        Unknown, repeated or no ``outcomes``; bad arguments as :func:`programme_panel`.
    """
    outcomes = tuple(outcomes) if not isinstance(outcomes, str) else (outcomes,)
    unknown = sorted(set(outcomes) - set(_OUTCOMES))
    if unknown or not outcomes or len(set(outcomes)) != len(outcomes):
        raise ValueError(
            f"outcomes must be distinct names among {list(_OUTCOMES)}, got {list(outcomes)}"
        )
    return _simulate(
        seed=seed,
        n_schools=n_schools,
        n_pupils=n_pupils,
        cohorts=cohorts,
        effects=effects,
        years=years,
        icc=icc,
        share_treated=share_treated,
        selection=selection,
        year_effects=year_effects,
        outcome_dependent_exit=outcome_dependent_exit,
        calibration=calibration,
        outcomes=outcomes,
        truth=False,
    )[0]


def _simulate(
    *,
    seed: int,
    n_schools: int,
    n_pupils: int,
    cohorts: Sequence[int],
    effects: Mapping[str, float | Sequence[float]] | None,
    years: Sequence[int] | None,
    icc: float | None,
    share_treated: float | None,
    selection: float,
    year_effects: bool,
    outcome_dependent_exit: bool,
    calibration: str | Path | Mapping[str, Any] | None,
    outcomes: tuple[str, ...],
    truth: bool,
) -> tuple[PanelArrays, dict[str, float] | None, pd.DataFrame | None]:
    """The simulator behind :func:`programme_panel` and :func:`panel_arrays`.

    Draws every random number whatever ``outcomes`` and ``truth`` are; builds only the outcome
    columns in ``outcomes``, and the true effects (``truth``, ``truth_gt``) only if ``truth``
    (``None, None`` otherwise).
    """
    cal = _calibration_values(calibration if isinstance(calibration, (str, Path)) else None)
    if isinstance(calibration, Mapping):
        for section, entries in calibration.items():
            if section not in cal:
                raise ValueError(f"unknown calibration section {section!r}")
            for k, v in entries.items():
                if k not in cal[section]:
                    raise ValueError(f"unknown calibration entry {section}.{k}")
                cal[section][k] = v["value"] if isinstance(v, Mapping) else v

    cohorts = tuple(sorted(int(c) for c in cohorts))
    if years is None:
        years = (
            tuple(range(cohorts[0] - 2, cohorts[-1] + 2)) if cohorts else tuple(range(2019, 2025))
        )
    years = tuple(sorted(int(y) for y in years))
    if any(y2 != y1 + 1 for y1, y2 in zip(years, years[1:], strict=False)):
        raise ValueError("years must be consecutive school years")
    for c in cohorts:
        if c not in years or c == years[0]:
            raise ValueError(f"cohort {c} must be a panel year after the first ({years})")
    icc = float(cal["clustering"]["icc"] if icc is None else icc)
    pupil_share = float(cal["clustering"]["pupil_share"])
    if not (icc >= 0 and icc + pupil_share < 1):
        raise ValueError(f"icc must be in [0, {1 - pupil_share}) given pupil_share {pupil_share}")
    share = float(
        cal["participation"]["share_per_edition"] if share_treated is None else share_treated
    )
    if not 0 < share < 1:
        raise ValueError("share_treated must be in (0, 1)")
    if n_schools < 1 or n_pupils < n_schools:
        raise ValueError("need n_schools ≥ 1 and n_pupils ≥ n_schools")
    schedule = _effect_schedule(effects)
    rng = np.random.default_rng(seed)
    T = len(years)

    # ---- schools -----------------------------------------------------------------------
    n_lower = int(round(cal["pupils"]["share_lower_secondary_schools"] * n_schools))
    if n_schools >= 2:
        n_lower = min(max(n_lower, 1), n_schools - 1)
    school_lower = np.zeros(n_schools, dtype=bool)
    school_lower[:n_lower] = True
    u = rng.standard_normal(n_schools)  # school effect
    size_w = rng.gamma(5.0, size=n_schools)
    first_grade = np.where(school_lower, _LOWER[0], _UPPER[0])
    last_grade = np.where(school_lower, _LOWER[1], _UPPER[1])
    n_grades = last_grade - first_grade + 1

    # ---- pupils: school, entry year and grade ------------------------------------------
    n = n_pupils
    school = rng.choice(n_schools, size=n, p=size_w / size_w.sum())
    slots = n_grades[school] + T - 1  # stationary intake per school
    slot = np.floor(rng.random(n) * slots).astype(int)
    at_start = slot < n_grades[school]
    entry_idx = np.where(at_start, 0, slot - n_grades[school] + 1)
    entry_grade = np.where(at_start, first_grade[school] + slot, first_grade[school])
    lower = school_lower[school]
    planned_exit = entry_idx + last_grade[school] - entry_grade  # last year at normal pace

    pu = cal["pupils"]
    female = rng.random(n) < pu["share_female"]
    foreign = rng.random(n) < pu["share_foreign_born"]
    late = rng.random(n) < pu["share_late"]
    r_ses = pu["ses_school_share"]
    ses_within = rng.standard_normal(n)
    ses = -np.sqrt(r_ses) * u[school] + np.sqrt(1 - r_ses) * ses_within
    w_ses, w_for, w_male = pu["risk_weight_ses"], pu["risk_weight_foreign"], pu["risk_weight_male"]
    f_std = _standardise(foreign.astype(float))
    m_std = _standardise((~female).astype(float))
    resid = 1 - w_ses**2 - w_for**2 - w_male**2
    z = (
        w_ses * -ses_within
        + w_for * f_std
        + w_male * m_std
        + np.sqrt(max(resid, 0.0)) * rng.standard_normal(n)
    )
    level = np.sqrt(icc) * u[school] + np.sqrt(pupil_share) * z  # latent pupil level
    level_std = level / np.sqrt(icc + pupil_share)
    noise_sd = np.sqrt(1 - icc - pupil_share)
    birth_year = np.asarray(years)[entry_idx] - entry_grade - 5 - late.astype(int)

    # ---- year effects ------------------------------------------------------------------
    def draw_year(sd: float) -> np.ndarray:
        g = rng.normal(0.0, sd, size=T) if year_effects else np.zeros(T)
        return g - g.mean()

    g_drop = draw_year(cal["dropout"]["year_effect_sd"])
    g_abs = draw_year(cal["absence"]["year_effect_sd"])
    g_rep = draw_year(cal["repetition"]["year_effect_sd"])
    g_grade = draw_year(cal["grades"]["year_effect_sd"])
    g_inv = draw_year(cal["invalsi"]["year_effect_sd"])

    # ---- pupil-level outcome parameters ------------------------------------------------
    ab = cal["absence"]
    floor_abs = np.abs(g_abs).max() + 1e-3
    a_pupil = expit(logit(ab["median_pupil_rate"]) + ab["dispersion_logit_sd"] * level_std)
    a_pupil = np.clip(a_pupil, floor_abs, 1 - floor_abs)
    phi = float(ab["within_pupil_precision"])
    baseline_absence = rng.beta(a_pupil * phi, (1 - a_pupil) * phi)

    def pupil_prob(section: str, year_fx: np.ndarray) -> np.ndarray:
        c = cal[section]
        base = np.where(lower, c["annual_rate_lower_secondary"], c["annual_rate_upper_secondary"])
        lam = c["risk_dispersion"]
        p = base * np.exp(lam * level_std - lam**2 / 2)
        fl = np.abs(year_fx).max() + 1e-4
        return np.clip(p, fl, 0.95 - fl)

    p_drop = pupil_prob("dropout", g_drop)
    p_rep = pupil_prob("repetition", g_rep)

    # ---- participation propensity (selection on observables) ---------------------------
    pa = cal["participation"]
    lin = selection * (
        pa["selection_baseline_absence"]
        * _standardise(logit(np.clip(baseline_absence, 1e-4, 1 - 1e-4)))
        + pa["selection_ses"] * _standardise(ses)
        + pa["selection_school"] * u[school]
    )
    elig_lo, elig_hi = int(pa["eligible_age_min"]), int(pa["eligible_age_max"])
    inv_grades = np.asarray(cal["invalsi"]["grades_tested"])

    # ---- yearly loop -------------------------------------------------------------------
    grade = entry_grade.copy()
    exited = np.zeros(n, dtype=bool)
    cohort = np.zeros(n, dtype=np.int64)
    gr = cal["grades"]
    inv = cal["invalsi"]
    kept = (*outcomes, *((f"fx_{o}" for o in _OUTCOMES) if truth else ()))
    rec: dict[str, list[np.ndarray]] = {k: [] for k in ("pupil", "t", "grade", *kept)}
    for ti, year in enumerate(years):
        active = (entry_idx <= ti) & ~exited
        if year in cohorts:
            age = year - birth_year
            elig = active & (cohort == 0) & (entry_idx < ti) & (age >= elig_lo) & (age <= elig_hi)
            if elig.any():
                a_c = _intercept_for_share(lin[elig], share)
                takes = elig & (rng.random(n) < expit(a_c + lin))
                cohort[takes] = year
        idx = np.flatnonzero(active)
        m = len(idx)
        d = (cohort[idx] > 0) & (cohort[idx] <= year)
        e = np.where(d, year - cohort[idx], 0)

        def fx(k: str, d=d, e=e) -> np.ndarray:
            return np.where(d, _at(schedule[k], e), 0.0)

        # dropout (annual hazard)
        p0 = p_drop[idx] + g_drop[ti]
        p1 = np.clip(p0 + fx("dropped_out"), 0, 1)
        dropped = rng.random(m) < np.where(d, p1, p0)
        # repetition
        q0 = p_rep[idx] + g_rep[ti]
        q1 = np.clip(q0 + fx("repeated_grade"), 0, 1)
        repeated = rng.random(m) < np.where(d, q1, q0)
        # absence
        a0 = a_pupil[idx] + g_abs[ti]
        a1 = np.clip(a0 + fx("absence_rate"), 1e-4, 1 - 1e-4)
        am = np.where(d, a1, a0)
        absence = rng.beta(am * phi, (1 - am) * phi)
        # grades and INVALSI (latent Gaussian scale); drawn even when not kept (same stream)
        n_g = rng.standard_normal(m)
        n_i = rng.standard_normal(m)
        tested = np.isin(grade[idx], inv_grades)

        nan = np.nan
        rec["pupil"].append(idx)
        rec["t"].append(np.full(m, ti))
        rec["grade"].append(grade[idx].copy())
        if "dropped_out" in rec:
            rec["dropped_out"].append(dropped.astype(float))
        if "absence_rate" in rec:
            rec["absence_rate"].append(np.where(dropped, nan, absence))
        if "repeated_grade" in rec:
            rec["repeated_grade"].append(np.where(dropped, nan, repeated.astype(float)))
        if "grade_avg" in rec:
            x_g = level[idx] + noise_sd * n_g
            grade_avg = np.clip(gr["mean"] - gr["sd"] * x_g + g_grade[ti] + fx("grade_avg"), 1, 10)
            rec["grade_avg"].append(np.where(dropped, nan, grade_avg))
        if "invalsi_score" in rec:
            x_i = level[idx] + noise_sd * n_i
            invalsi = np.clip(
                inv["mean"] - inv["sd"] * x_i + g_inv[ti] + fx("invalsi_score"), 50, 400
            )
            rec["invalsi_score"].append(np.where(dropped | ~tested, nan, invalsi))
        if truth:
            obs = d & ~dropped
            rec["fx_dropped_out"].append(np.where(d, p1 - p0, nan))
            rec["fx_absence_rate"].append(np.where(obs, a1 - a0, nan))
            rec["fx_repeated_grade"].append(np.where(obs, q1 - q0, nan))
            rec["fx_grade_avg"].append(np.where(obs, fx("grade_avg"), nan))
            rec["fx_invalsi_score"].append(np.where(obs & tested, fx("invalsi_score"), nan))

        # transitions
        exited[idx[dropped]] = True
        promoted = ~dropped & ~repeated
        if outcome_dependent_exit:
            done = promoted & (grade[idx] == last_grade[school[idx]])
        else:
            done = ti == planned_exit[idx]
        exited[idx[done]] = True
        grade[idx[promoted & ~done]] += 1

    cat = {k: np.concatenate(v) for k, v in rec.items()}
    pid = cat["pupil"]
    year_arr = np.asarray(years, dtype=np.int64)[cat["t"]]
    order = np.lexsort((year_arr, pid))  # rows by pupil, then year

    params = {
        "seed": seed,
        "n_schools": n_schools,
        "n_pupils": n_pupils,
        "cohorts": list(cohorts),
        "years": list(years),
        "icc": icc,
        "pupil_share": pupil_share,
        "share_treated": share,
        "selection": selection,
        "outcome_dependent_exit": outcome_dependent_exit,
        "effects": {k: list(v) for k, v in schedule.items()},
        "year_effects": {
            "dropped_out": g_drop.tolist(),
            "absence_rate": g_abs.tolist(),
            "repeated_grade": g_rep.tolist(),
            "grade_avg": g_grade.tolist(),
            "invalsi_score": g_inv.tolist(),
        },
        "calibration": cal,
        "banner": SIMULATED_BANNER,
    }
    arrays = PanelArrays(
        pupil=pid[order],
        year=year_arr[order],
        grade_level=cat["grade"][order].astype(np.int64),
        outcomes=MappingProxyType({k: cat[k][order] for k in outcomes}),
        school=school,
        cohort=cohort,
        female=female,
        foreign_born=foreign,
        birth_year=birth_year.astype(np.int64),
        baseline_absence=baseline_absence,
        ses=ses,
        n_schools=n_schools,
        course_label=str(pa["course_label"]),
        params=MappingProxyType(params),
    )
    if not truth:
        return arrays, None, None

    # ---- truth (on the rows in drawing order, as it always was) -------------------------
    treated_rows = (cohort[pid] > 0) & (year_arr >= cohort[pid])
    frames = []
    att = {}
    for k in _OUTCOMES:
        v = cat[f"fx_{k}"]
        keep = treated_rows & ~np.isnan(v)
        att[k] = float(v[keep].mean()) if keep.any() else float("nan")
        tdf = pd.DataFrame({"cohort": cohort[pid][keep], "year": year_arr[keep], "fx": v[keep]})
        agg = tdf.groupby(["cohort", "year"], as_index=False).agg(
            att=("fx", "mean"), n_rows=("fx", "size")
        )
        agg.insert(0, "outcome", k)
        frames.append(agg)
    truth_gt = pd.concat(frames, ignore_index=True)
    truth_gt.insert(3, "event_time", truth_gt["year"] - truth_gt["cohort"])
    truth_gt["n_rows"] = truth_gt["n_rows"].astype(np.int64)
    return arrays, att, truth_gt


def simulated_dose(
    panel: pd.DataFrame, *, seed: int | np.random.SeedSequence, low: float = 8.0, high: float = 40.0
) -> pd.Series:
    """Hours attended for the participants of a SIMULATED panel (0 for everybody else).

    Drawn uniformly between ``low`` and ``high`` hours, independently of every outcome: the
    simulated effect does **not** depend on the dose, so the true dose–response curve is flat
    at the simulated effect.  Used until the attendance registers give real hours (the intake
    writes them as the panel's ``dose`` column).  Returns one value per row of ``panel``.
    """
    rng = np.random.default_rng(seed)
    participants = pd.unique(panel.loc[panel["cohort"] > 0, "pupil_id"])
    hours = pd.Series(rng.uniform(low, high, len(participants)), index=participants)
    return panel["pupil_id"].map(hours).fillna(0.0).astype(float)
