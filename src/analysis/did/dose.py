r"""Dose–response difference-in-differences (Callaway, Goodman-Bacon & Sant'Anna 2024).

Design
------
Participation varies in *how much*: hours attended of a course (the attendance registers).
With units that receive dose :math:`D_i = d > 0` from period :math:`g` and untreated (or
not-yet-treated) comparison units, the level effect of dose :math:`d` and its slope are

.. math::
   ATT(d) = E[Y_t(d) - Y_t(0) \mid D = d], \qquad ACRT(d) = \frac{\partial ATT(d)}{\partial d},

identified under *strong* parallel trends (the untreated trend is the same for every dose
group; with ordinary parallel trends only :math:`ATT(d \mid D = d)` is identified and
comparisons across doses mix effects with selection into dose — the page says so).
:math:`ATT(d)` is estimated as :math:`E[\Delta Y \mid D = d] - E[\Delta Y \mid D = 0]` with
:math:`E[\Delta Y \mid D = d]` a B-spline sieve in :math:`d`; ``method="cck"`` chooses the
sieve dimension from the data (Chen, Christensen & Kankanala 2024), ``"parametric"`` uses a
B-spline of the given ``degree`` and ``num_knots``.  The overall effects average
:math:`ATT(d)` and :math:`ACRT(d)` over the dose distribution of the treated.

Backend: moderndid's ``cont_did`` (the Python port of R ``contdid``; diff-diff's
``ContinuousDiD`` has no data-driven sieve), validated against R ``contdid``'s stored output
(``tests/test_did_dose_reference.py``).  Standard errors and uniform bands come from its
multiplier bootstrap (``biters`` draws, seeded).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis._util import readonly, version
from analysis.did import _checks

__all__ = ["DoseResponseResult", "dose_response", "first_year_dose_panel"]


@dataclass(frozen=True)
class DoseResponseResult:
    """Overall and dose-specific effects of a continuous treatment (read-only arrays)."""

    dose: np.ndarray
    att_d: np.ndarray
    att_d_se: np.ndarray
    acrt_d: np.ndarray
    acrt_d_se: np.ndarray
    att_crit: float
    acrt_crit: float
    overall_att: float
    overall_att_se: float
    overall_acrt: float
    overall_acrt_se: float
    method: str
    n_units: int
    n_treated: int
    backend: str
    notes: tuple[str, ...] = field(default=())

    def curve(self) -> pd.DataFrame:
        """The dose–response curve with pointwise SEs and uniform bands (crit × SE)."""
        return pd.DataFrame(
            {
                "dose": self.dose,
                "att": self.att_d,
                "att_se": self.att_d_se,
                "att_band_low": self.att_d - self.att_crit * self.att_d_se,
                "att_band_high": self.att_d + self.att_crit * self.att_d_se,
                "acrt": self.acrt_d,
                "acrt_se": self.acrt_d_se,
                "acrt_band_low": self.acrt_d - self.acrt_crit * self.acrt_d_se,
                "acrt_band_high": self.acrt_d + self.acrt_crit * self.acrt_d_se,
            }
        )

    def tidy(self) -> pd.DataFrame:
        """Overall ATT and ACRT with SEs."""
        return pd.DataFrame(
            [
                {
                    "parameter": "ATT (overall)",
                    "estimate": self.overall_att,
                    "se": self.overall_att_se,
                },
                {
                    "parameter": "ACRT (overall)",
                    "estimate": self.overall_acrt,
                    "se": self.overall_acrt_se,
                },
            ]
        )

    def summary(self) -> str:
        """One line per overall parameter."""
        return (
            f"Dose-response DiD ({self.method}): ATT {self.overall_att:.4f} "
            f"(se {self.overall_att_se:.4f}), ACRT {self.overall_acrt:.4f} "
            f"(se {self.overall_acrt_se:.4f}); {self.n_treated} of {self.n_units} units treated"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (the curve as records)."""
        return {
            "overall": self.tidy().to_dict(orient="records"),
            "curve": self.curve().to_dict(orient="records"),
            "method": self.method,
            "n_units": self.n_units,
            "n_treated": self.n_treated,
            "backend": self.backend,
            "notes": list(self.notes),
        }


def dose_response(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    dose: str,
    method: Literal["cck", "parametric"] = "cck",
    degree: int = 3,
    num_knots: int = 0,
    control: Literal["notyet", "never"] = "notyet",
    biters: int = 999,
    seed: int,
) -> DoseResponseResult:
    r"""Estimate the dose–response curve :math:`ATT(d)`, :math:`ACRT(d)` and their averages.

    Parameters
    ----------
    df
        Balanced panel, one row per unit and period.
    outcome, unit, time
        Column names (numeric outcome and time).
    cohort
        First treated period (0 = never treated), constant within unit.
    dose
        The dose, constant within unit: > 0 for treated units, 0 for untreated ones.
    method
        ``"cck"`` (data-driven sieve dimension) or ``"parametric"`` (B-spline of ``degree``
        with ``num_knots`` interior knots).  ``degree``/``num_knots`` are used only by
        ``"parametric"``: passing other values with ``"cck"`` is refused.
    control
        ``"notyet"`` (not-yet-treated and never-treated units) or ``"never"``.
    biters
        Multiplier-bootstrap draws for the SEs and uniform bands.
    seed
        Seed of the bootstrap (pass a named stream, e.g. ``SeedStreams(s).seed_for("bands")``).
    """
    if method not in ("cck", "parametric"):
        raise _checks.fail(_checks.SOURCE, "method must be 'cck' or 'parametric'", column="method")
    if method == "cck" and (degree, num_knots) != (3, 0):
        raise _checks.fail(
            _checks.SOURCE,
            "degree and num_knots are chosen from the data with method='cck'; set them only "
            "with method='parametric'",
            column="degree" if degree != 3 else "num_knots",
        )
    if control not in ("notyet", "never"):
        raise _checks.fail(_checks.SOURCE, "control must be 'notyet' or 'never'", column="control")
    if isinstance(biters, bool) or not isinstance(biters, int) or biters < 2:
        raise _checks.fail(_checks.SOURCE, "biters must be an integer >= 2", column="biters")
    df = _checks.require_frame(df)
    _checks.require_columns(df, [outcome, unit, time, cohort, dose])
    for c in (outcome, time, dose):
        _checks.require_numeric(df, c)
        _checks.require_no_missing(df, c)
    _checks.require_unique_unit_time(df, unit, time)
    _checks.require_constant_within(df, unit, dose, "the dose must be fixed per unit")
    data = df[[outcome, unit, time, cohort, dose]].copy()
    data[cohort] = _checks.normalise_cohort(data, unit=unit, cohort=cohort)
    bad = data.index[(data[cohort] > 0) != (data[dose] > 0)]
    if len(bad):
        raise _checks.fail(
            _checks.SOURCE,
            "treated units (cohort > 0) must have a dose > 0 and untreated units a dose of 0",
            column=dose,
            rows=list(bad),
        )
    counts = data.groupby(unit)[time].nunique()
    if (counts != data[time].nunique()).any():
        raise _checks.fail(
            _checks.SOURCE, "the panel must be balanced (every unit in every period)", column=unit
        )
    import moderndid

    # the backend wants numeric ids (pupil ids are pseudonymous strings)
    data[unit] = pd.factorize(data[unit])[0] + 1
    notes: list[str] = []
    with (
        warnings.catch_warnings(record=True) as caught,
        _seeded_default_rng(int(seed)),
        _pandas_input(),
    ):
        warnings.simplefilter("always")
        r = moderndid.cont_did(
            data=data,
            yname=outcome,
            tname=time,
            idname=unit,
            gname=cohort,
            dname=dose,
            target_parameter="level",
            aggregation="dose",
            treatment_type="continuous",
            dose_est_method=method,
            degree=degree,
            num_knots=num_knots,
            control_group="notyettreated" if control == "notyet" else "nevertreated",
            biters=biters,
            cband=True,
            boot=True,
            random_state=int(seed),
        )
    notes += sorted({str(w.message) for w in caught if "x_grid" not in str(w.message)})
    return DoseResponseResult(
        dose=readonly(r.dose, float),
        att_d=readonly(r.att_d, float),
        att_d_se=readonly(r.att_d_se, float),
        acrt_d=readonly(r.acrt_d, float),
        acrt_d_se=readonly(r.acrt_d_se, float),
        att_crit=float(r.att_d_crit_val),
        acrt_crit=float(r.acrt_d_crit_val),
        overall_att=float(r.overall_att),
        overall_att_se=float(r.overall_att_se),
        overall_acrt=float(r.overall_acrt),
        overall_acrt_se=float(r.overall_acrt_se),
        method=method,
        n_units=int(data[unit].nunique()),
        n_treated=int(data.loc[data[cohort] > 0, unit].nunique()),
        backend=f"{version('moderndid')} (cont_did)",
        notes=tuple(notes),
    )


@contextlib.contextmanager
def _pandas_input() -> Iterator[None]:
    """Answer the backend's "is this a Dask collection?" for a pandas frame without Dask.

    moderndid's ``cont_did`` first asks ``moderndid.dask._utils.is_dask_collection`` whether
    its input is a Dask DataFrame, which imports ``dask.dataframe`` to check (0.5 s on a quiet
    machine, 1.2 s on a busy one: a tenth of a programme run, for a question whose answer is
    known here: :func:`dose_response` always passes a pandas DataFrame, and no pandas
    DataFrame is a Dask one).  Inside this context the check answers ``False`` for a pandas
    DataFrame and asks the backend's own check for anything else; without that helper (another
    moderndid) nothing is changed.
    """
    try:
        from moderndid.dask import _utils as dask_utils
    except ImportError:  # pragma: no cover - another moderndid layout
        yield
        return
    original = getattr(dask_utils, "is_dask_collection", None)
    if original is None:  # pragma: no cover - another moderndid layout
        yield
        return

    def is_dask_collection(data: Any) -> bool:
        return False if isinstance(data, pd.DataFrame) else bool(original(data))

    dask_utils.is_dask_collection = is_dask_collection
    try:
        yield
    finally:
        dask_utils.is_dask_collection = original


@contextlib.contextmanager
def _seeded_default_rng(seed: int) -> Iterator[None]:
    """Seed the generators the backend creates without a seed, from ``seed``, during a call.

    moderndid 0.2.0 passes ``random_state`` to most of its bootstrap but creates an unseeded
    ``numpy.random.default_rng()`` in two places (``process_dose.py``, ``bootstrap.py``), so the
    standard error of the overall ATT changed from one run to the next with the same seed
    (found by the byte-identical rerun test).  Inside this context every unseeded
    ``default_rng()`` gets the next child of ``SeedSequence(seed)``: deterministic, independent.
    """
    original = np.random.default_rng
    children = np.random.SeedSequence([seed, 0x0D05E]).spawn(10_000)
    counter = iter(children)

    def default_rng(seed_arg: Any = None, *args: Any, **kwargs: Any) -> np.random.Generator:
        if seed_arg is None and not args and not kwargs:
            return original(next(counter))
        return original(seed_arg, *args, **kwargs)

    np.random.default_rng = default_rng  # type: ignore[assignment]
    try:
        yield
    finally:
        np.random.default_rng = original  # type: ignore[assignment]


def first_year_dose_panel(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    dose: str,
    edition: int,
) -> pd.DataFrame:
    """The two-period panel of one edition's first year, for :func:`dose_response`.

    Units of cohort ``edition`` (with their dose) and never-treated units (dose 0), observed
    with a non-missing ``outcome`` both in the year before the edition and in its first year;
    every other row is left out (pupil registers are unbalanced: pupils enter and leave).
    """
    need = [outcome, unit, time, cohort, dose]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise _checks.fail(_checks.SOURCE, "required column missing", column=missing[0])
    sub = df.loc[
        df[cohort].isin([0, edition]) & df[time].isin([edition - 1, edition]) & df[outcome].notna(),
        need,
    ]
    both = sub.groupby(unit)[time].nunique()
    sub = sub[sub[unit].isin(both.index[both == 2])].copy()
    sub.loc[sub[cohort] == 0, dose] = 0.0
    return sub.reset_index(drop=True)
