"""Small inference helpers shared by the DiD result objects (critical values, sup-t bands)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeAlias

import numpy as np
from scipy import stats

#: What the resampling helpers accept as a seed: anything ``numpy.random.default_rng`` takes
#: (an integer, a :class:`numpy.random.SeedSequence` such as a child of a run's named stream,
#: :meth:`analysis.seeds.SeedStreams.sequence`, or a Generator), or ``None`` (fresh entropy).
SeedLike: TypeAlias = int | np.random.SeedSequence | np.random.Generator | None


def z_crit(level: float) -> float:
    """Two-sided normal critical value for confidence ``level``."""
    return float(stats.norm.ppf(0.5 + level / 2))


def sup_t_crit(
    vcov: np.ndarray, *, level: float = 0.95, n_draws: int = 20_000, seed: SeedLike = 0
) -> float:
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


def multiplier_sup_t_crit(
    scores: np.ndarray,
    se: np.ndarray,
    *,
    level: float = 0.95,
    n_boot: int = 999,
    seed: SeedLike = 0,
    chunk: int = 200,
) -> float:
    r"""Sup-t critical value from a Rademacher multiplier bootstrap (R ``did``'s ``mboot``).

    Parameters
    ----------
    scores
        Influence functions summed within clusters, shape (clusters, k), scaled so that
        ``scores.T @ scores`` is the covariance of the k estimates.
    se
        Standard errors of the k estimates (NaN or 0 = left out of the maximum).
    level, n_boot, seed
        Confidence level, bootstrap draws and random seed (:data:`SeedLike`).
    chunk
        Draws generated at a time (bounds memory at ``chunk x clusters``).

    Notes
    -----
    Each draw is :math:`b = \sum_c v_c s_c` with :math:`v_c = \pm 1`; the critical value is
    the ``level`` quantile of :math:`\max_k |b_k| / se_k`.  R standardises by an IQR-based
    bootstrap standard error instead of the analytic one; the two agree asymptotically.
    """
    s = np.asarray(scores, dtype=float)
    se = np.asarray(se, dtype=float)
    ok = np.isfinite(se) & (se > 0)
    if ok.sum() == 0:
        return float("nan")
    s, se = s[:, ok], se[ok]
    rng = np.random.default_rng(seed)
    tmax = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        v = rng.choice(np.array([-1.0, 1.0]), size=(b, s.shape[0]))
        tmax[start : start + b] = np.abs((v @ s) / se).max(axis=1)
    return float(np.quantile(tmax, level))


@contextmanager
def quiet_backend() -> Iterator[None]:
    """Silence warnings the backends raise about their own internals.

    Only pandas' deprecation of ``inplace=`` (raised inside pyfixest and diff-diff, not
    actionable by the caller) and pyfixest's note on dropped singleton fixed effects (fixest
    drops them silently) are filtered; everything else passes through.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The inplace keyword", category=Warning)
        warnings.filterwarnings("ignore", message=".*singleton fixed effect.*")
        yield
