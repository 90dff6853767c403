r"""Predictor rows of the synthetic control: a variable averaged over its own time window.

A predictor row :math:`h` is a variable :math:`x^{(h)}` and a set of pre-periods
:math:`W_h` (its window).  Its value for unit :math:`i` is the mean over the periods of the
window in which the variable is **observed** for that unit,

.. math::

    X_{h i} = \frac{1}{|W_h \cap O_{hi}|} \sum_{t \in W_h \cap O_{hi}} x^{(h)}_{it},
    \qquad O_{hi} = \{t : x^{(h)}_{it} \text{ observed}\},

which is R ``Synth``'s ``dataprep`` (``mean(..., na.rm = TRUE)``, the convention of the
published Basque and West German analyses: West Germany's ``industry`` is missing in 1990,
so its 1981-1990 mean is the 1981-1989 mean).  A row with no observed period in its window
is undefined for that unit: the treated unit is then an error and a donor is excluded from
the pool with a recorded reason (see :func:`analysis.synth.synthetic_control`).

diff-diff averages predictors over windows too, but refuses a window with a missing cell (a
documented deviation from R, "fail closed"); it also cannot give the training fit of a
cross-validation its own variables (ADH 2015 use ``invest70`` to choose ``V`` and
``invest80`` to fit).  So the window means are computed here, by hand, and handed to
diff-diff as ready-made one-period predictors; diff-diff does the rest (standardisation,
the choice of ``V``, the simplex weights).

Three kinds of rows, in this order (which is also the order of ``V``):

* ``predictors``: one row per column, averaged over ``predictor_window`` (label: the
  column name);
* ``special_predictors``: ``(column, periods)`` pairs, each averaged over its own periods
  (R ``Synth``'s ``special.predictors``; label ``"column[1981-1990]"``);
* outcome lags ``pre_periods``: the outcome in one pre-period (label ``"<outcome>_<period>"``).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.synth._panel import PanelData


@dataclass(frozen=True)
class PredictorRow:
    """One row of the predictor matrix :math:`X`.

    Attributes
    ----------
    label
        Name of the row (key of the ``V`` weights and of the balance table).
    column
        Variable (a covariate column, or the outcome).
    periods
        Window of the mean; ``None`` = every retained pre-period of the panel.
    """

    label: str
    column: str
    periods: tuple[Any, ...] | None


def py(x: Any) -> Any:
    """A numpy scalar as the Python scalar (JSON-friendly); integral floats as ``int``."""
    x = x.item() if isinstance(x, np.generic) else x
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


def fmt_window(periods: Sequence[Any]) -> str:
    """``"1981-1990"`` for consecutive integer periods, else the periods joined by commas."""
    vals = [py(p) for p in periods]
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in vals)
    if ints and len(vals) > 2 and vals == list(range(vals[0], vals[0] + len(vals))):
        return f"{vals[0]}-{vals[-1]}"
    return ",".join(str(v) for v in vals)


def special_label(column: str, periods: Sequence[Any]) -> str:
    """Label of a special predictor, e.g. ``"industry[1981-1990]"``."""
    return f"{column}[{fmt_window(periods)}]"


def as_periods(value: Any) -> tuple[Any, ...]:
    """A period or an iterable of periods, as a tuple without repeats (order kept)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return (value,)
    return tuple(dict.fromkeys(value))


def normalise_special(entries: Any, name: str) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """Check the shape of a ``special_predictors`` argument; return ``((column, periods), ...)``.

    Raises
    ------
    ValueError
        Not a sequence of ``(column, periods)`` pairs, a column name that is not a string, an
        empty window, or the same pair twice.
    """
    if entries is None:
        return ()
    if isinstance(entries, str | bytes) or not isinstance(entries, Iterable):
        raise ValueError(f"{name} must be a list of (column, periods) pairs, got {entries!r}")
    out: list[tuple[str, tuple[Any, ...]]] = []
    for entry in entries:
        if isinstance(entry, str | bytes) or not isinstance(entry, Sequence) or len(entry) != 2:
            raise ValueError(
                f"each entry of {name} must be a (column, periods) pair, e.g. "
                f"('industry', range(1981, 1991)) or ('popdens', 1969); got {entry!r}"
            )
        column, periods = entry
        if not isinstance(column, str):
            raise ValueError(f"{name}: the column of {entry!r} must be a column name (str)")
        per = as_periods(periods)
        if not per:
            raise ValueError(f"{name}: the window of {column!r} is empty")
        out.append((column, per))
    seen: set[str] = set()
    for column, per in out:
        key = special_label(column, per)
        if key in seen:
            raise ValueError(f"{name}: {key!r} is given twice")
        seen.add(key)
    return tuple(out)


def unit_matrix(panel: PanelData, column: str) -> np.ndarray:
    """Values of ``column`` (outcome or covariate), shape ``(T, J + 1)``, treated unit first."""
    if column == panel.outcome:
        return np.column_stack([panel.y_treated, panel.y_donors])
    return panel.covariates[column]


def window_means(panel: PanelData, rows: Sequence[PredictorRow]) -> np.ndarray:
    """Predictor matrix, shape ``(k, J + 1)``: column 0 the treated unit, then the donors.

    Each row is the mean over the observed periods of its window among the panel's retained
    pre-periods; NaN where a unit has no observed period in the window.
    """
    pre = pd.Index(panel.pre_times)
    out = np.full((len(rows), panel.n_donors + 1), np.nan)
    for h, row in enumerate(rows):
        m = unit_matrix(panel, row.column)[: panel.n_pre]
        sel = m if row.periods is None else m[pre.isin(list(row.periods))]
        if sel.shape[0]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column -> NaN
                out[h] = np.nanmean(sel, axis=0)
    return out


def undefined(
    panel: PanelData, rows: Sequence[PredictorRow], x: np.ndarray
) -> tuple[list[PredictorRow], dict[Hashable, str]]:
    """Rows undefined for the treated unit, and donors with an undefined row (with a reason)."""
    bad_treated = [row for h, row in enumerate(rows) if np.isnan(x[h, 0])]
    reasons: dict[Hashable, str] = {}
    for j, donor in enumerate(panel.donors):
        missing = [row for h, row in enumerate(rows) if np.isnan(x[h, 1 + j])]
        if missing:
            reasons[donor] = "; ".join(
                f"predictor {row.column!r} not observed in any period of its window "
                f"{describe_window(panel, row)}"
                for row in missing
            )
    return bad_treated, reasons


def describe_window(panel: PanelData, row: PredictorRow) -> str:
    """The window of ``row`` in words (for messages)."""
    if row.periods is None:
        return fmt_window(list(panel.pre_times))
    text = fmt_window(list(row.periods))
    if not pd.Index(panel.pre_times).isin(list(row.periods)).any():
        text += f" (no period of it is a retained pre-period before start={panel.start!r})"
    return text
