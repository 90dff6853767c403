"""Small inference helpers shared by the DiD result objects (critical values, sup-t bands)."""

from __future__ import annotations

from importlib import metadata

import numpy as np
from scipy import stats


def z_crit(level: float) -> float:
    """Two-sided normal critical value for confidence ``level``."""
    return float(stats.norm.ppf(0.5 + level / 2))


def sup_t_crit(vcov: np.ndarray, *, level: float = 0.95, n_draws: int = 20_000,
               seed: int | None = 0) -> float:
    """Critical value of a uniform (sup-t) confidence band for a vector of estimates.

    The band ``estimate ± c · se`` covers the whole vector with probability ``level`` when
    ``c`` is the ``level`` quantile of ``max_k |Z_k|``, ``Z ~ N(0, R)`` and ``R`` the
    correlation matrix implied by ``vcov`` (Montiel Olea & Plagborg-Møller 2019, plug-in
    sup-t band).  ``R``'s ``did`` gets the same quantity from a multiplier bootstrap of the
    influence functions; both are asymptotically equivalent.  Coordinates with zero or
    undefined variance are ignored.
    """
    v = np.asarray(vcov, dtype=float)
    se = np.sqrt(np.clip(np.diag(v), 0, None))
    ok = np.isfinite(se) & (se > 0)
    if ok.sum() == 0:
        return float("nan")
    if ok.sum() == 1:
        return z_crit(level)
    corr = v[np.ix_(ok, ok)] / np.outer(se[ok], se[ok])
    # eigen-decomposition tolerates a positive semi-definite (rank-deficient) matrix
    w, q = np.linalg.eigh((corr + corr.T) / 2)
    root = q * np.sqrt(np.clip(w, 0, None))
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_draws, root.shape[0])) @ root.T
    return float(np.quantile(np.abs(z).max(axis=1), level))


def version(package: str) -> str:
    """Return ``"<package> <version>"`` for the backend field of results."""
    try:
        return f"{package} {metadata.version(package)}"
    except metadata.PackageNotFoundError:  # pragma: no cover - all backends are pinned
        return package
