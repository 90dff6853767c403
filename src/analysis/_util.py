"""Ground-floor helpers shared by every layer (one copy each).

- :func:`readonly` — a read-only copy of an array, for the arrays that result objects expose.
- :func:`version` — ``"<package> <version>"`` for the ``backend`` field of results.
- :func:`pyfixest_coefficient` — one coefficient of a pyfixest fit and its standard error.
- :func:`to_jsonable` — numbers, arrays, frames and result objects as JSON values.
- :func:`fmt_number` — the one plain-text number format of pages and the index.

Written by hand because each is a few lines of glue around numpy, pandas and
:mod:`importlib.metadata`; no library provides exactly these conventions.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fmt_number", "pyfixest_coefficient", "readonly", "to_jsonable", "version"]


def readonly(a: Any, dtype: Any = None) -> np.ndarray:
    """Return a read-only copy of ``a`` (optionally cast to ``dtype``).

    Result objects expose their arrays through this so that a caller cannot change an estimate
    after the fact (results are values, as in linearmodels).
    """
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@functools.cache
def version(package: str) -> str:
    """Return ``"<package> <version>"`` for the ``backend`` field of results.

    Cached: the installed version cannot change within a process, and
    :func:`importlib.metadata.version` scans the environment's distributions on every call.
    """
    try:
        return f"{package} {metadata.version(package)}"
    except metadata.PackageNotFoundError:  # pragma: no cover - every backend is pinned
        return package


def pyfixest_coefficient(fit: Any, name: str) -> tuple[float, float]:
    """Coefficient ``name`` of a pyfixest fit and its standard error.

    The numbers of ``fit.tidy()`` (``Estimate``, ``Std. Error``), read from the arrays the fit
    computed (``_coefnames``, ``_beta_hat``, ``_se``): ``tidy()``, ``coef()`` and ``se()``
    each redo the inference and build a table (0.7 ms, 2-5 % of a fit on mpdta or prop99;
    issue 14).  Equal bit for bit (``tests/test_did_crosschecks.py``).

    Raises
    ------
    ValueError
        ``name`` is not a coefficient of the fit.
    """
    k = list(fit._coefnames).index(name)
    return float(fit._beta_hat[k]), float(fit._se[k])


def to_jsonable(obj: Any) -> Any:
    """Convert numbers, arrays, DataFrames and result objects into JSON-serialisable values.

    Non-finite floats become ``None`` (JSON has no NaN); objects with ``to_dict()`` are
    converted through it; DataFrames become lists of records; numpy scalars become Python
    numbers; anything else becomes its ``str``.
    """
    if hasattr(obj, "to_dict") and not isinstance(obj, pd.DataFrame | pd.Series | dict):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, pd.DataFrame):
        return [to_jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, pd.Series):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, str):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    return str(obj)


def fmt_number(v: Any, *, missing: str = "–") -> str:
    """Format a number for a page: integers with thousands separators, floats to 2 decimals.

    Very small (< 0.01) or very large (≥ 100,000) floats keep three significant digits;
    ``None`` and NaN print as ``missing``; non-numbers print as their ``str``.
    """
    if v is None or v is pd.NA or (isinstance(v, float | np.floating) and math.isnan(v)):
        return missing
    if isinstance(v, bool | np.bool_):
        return "Yes" if v else "No"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, float | np.floating):
        f = float(v)
        if not math.isfinite(f):
            return missing
        return f"{f:,.3g}" if (f != 0 and abs(f) < 1e-2) or abs(f) >= 1e5 else f"{f:,.2f}"
    return str(v)
