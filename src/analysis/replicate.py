"""Replications in parallel, seeded so that results do not depend on the number of workers.

:func:`run_replications` runs ``func(seed_sequence, *args)`` once per replication and returns
the results in replication order.  Replication ``i`` always receives child ``i`` of
``numpy.random.SeedSequence(seed).spawn(n)`` (or the ``i``-th of the seed sequences the caller
gives), whatever the worker count, the chunking or the backend, so the results are identical
for ``n_jobs`` = 1, 2 or N and on a cluster.

Why this module exists: joblib does the parallel work (loky processes locally; joblib's Dask
backend on a ``dask.distributed`` cluster).  What joblib does not give is the contract above:
one independent :class:`~numpy.random.SeedSequence` child per replication, results in
replication order, chunks large enough that the per-task overhead stays small, a refused bad
``n_jobs`` and the worker count read from the run's environment (``ANALYSIS_JOBS``, set by the
plan runner to ``cores // workers`` for each kernel).  This thin wrapper adds exactly that.

Backends
--------
* No configuration: joblib's default (loky worker processes); ``n_jobs=1`` runs in the calling
  process without starting a pool.
* ``with joblib.parallel_config(backend="dask"): ...`` around the call: the replications go to
  the ``dask.distributed`` client of the caller.
* Environment variable ``DASK_SCHEDULER_ADDRESS`` set (and ``dask.distributed`` importable),
  with no backend configured by the caller: a client connected to that scheduler is opened
  once per process and the replications go there through joblib's Dask backend.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from typing import Any, TypeVar

import numpy as np

__all__ = ["default_jobs", "resolve_jobs", "run_replications", "run_tasks", "spawn_seeds"]

T = TypeVar("T")

#: Environment variable giving the default number of workers of a replication loop.
JOBS_ENV = "ANALYSIS_JOBS"

#: Environment variable naming a ``dask.distributed`` scheduler.
DASK_ENV = "DASK_SCHEDULER_ADDRESS"

#: Chunks per worker when ``batch_size`` is not given (a few, so that the load balances).
_CHUNKS_PER_WORKER = 4

_DASK_CLIENTS: dict[str, Any] = {}

#: Set while a worker runs a chunk: nested loops then default to one worker (no pool in a pool).
_IN_WORKER = threading.local()


def _check_jobs(n_jobs: object, source: str) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer):
        raise ValueError(
            f"{source}: n_jobs must be a positive integer or -1 (all cores), got {n_jobs!r}"
        )
    n_jobs = int(n_jobs)
    if n_jobs == -1:
        import joblib

        return max(int(joblib.cpu_count()), 1)
    if n_jobs < 1:
        raise ValueError(
            f"{source}: n_jobs must be a positive integer or -1 (all cores), got {n_jobs}"
        )
    return n_jobs


def default_jobs() -> int:
    """Workers of a replication loop when a function is called with ``n_jobs=None``.

    Read from the environment variable ``ANALYSIS_JOBS`` (the plan runner sets it for each
    kernel to ``cores // workers``); 1 when it is unset or empty, and 1 inside a replication
    that already runs in a worker (a nested loop does not start a pool of its own).

    Raises
    ------
    ValueError
        ``ANALYSIS_JOBS`` is not a positive integer or -1.
    """
    raw = os.environ.get(JOBS_ENV, "").strip()
    if not raw or getattr(_IN_WORKER, "active", False):
        return 1
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"environment variable {JOBS_ENV}: must be a positive integer or -1, got {raw!r}"
        ) from None
    return _check_jobs(value, f"environment variable {JOBS_ENV}")


def resolve_jobs(n_jobs: int | None) -> int:
    """The worker count for ``n_jobs`` (``None``: :func:`default_jobs`); bad values refused."""
    if n_jobs is None:
        return default_jobs()
    return _check_jobs(n_jobs, "argument n_jobs")


def spawn_seeds(seed: int | np.random.SeedSequence | None, n: int) -> list[np.random.SeedSequence]:
    """The ``n`` child seed sequences of ``seed``: ``SeedSequence(seed).spawn(n)``.

    A :class:`~numpy.random.SeedSequence` is copied first (spawning is stateful), so the
    children are always its first ``n`` children, however often it was spawned from before.
    """
    if isinstance(seed, np.random.SeedSequence):
        root = np.random.SeedSequence(
            seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size
        )
    elif seed is None or (isinstance(seed, int | np.integer) and not isinstance(seed, bool)):
        root = np.random.SeedSequence(None if seed is None else int(seed))
    else:
        raise ValueError(
            f"seed must be an integer, a numpy SeedSequence or a sequence of them, got {seed!r}"
        )
    return root.spawn(int(n))


def _run_chunk(func: Callable[..., T], items: Sequence[Any], args: tuple[Any, ...]) -> list[T]:
    return [func(item, *args) for item in items]


def _run_chunk_filtered(
    func: Callable[..., T], items: Sequence[Any], args: tuple[Any, ...], filters: list[Any]
) -> list[T]:
    """:func:`_run_chunk` under the caller's warning filters (workers do not inherit them)."""
    with warnings.catch_warnings():
        warnings.filters[:] = filters
        _IN_WORKER.active = True
        try:
            return _run_chunk(func, items, args)
        finally:
            _IN_WORKER.active = False


def _dask_backend_wanted() -> str | None:
    """The scheduler address when replications should go to Dask by the environment."""
    address = os.environ.get(DASK_ENV, "").strip()
    if not address:
        return None
    if _backend_configured():
        return None  # the caller chose a backend: it wins over the environment
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        return None
    return address


def run_replications(
    func: Callable[..., T],
    n: int,
    *,
    seed: int | np.random.SeedSequence | Sequence[np.random.SeedSequence] | None,
    n_jobs: int | None = None,
    batch_size: int | None = None,
    args: tuple[Any, ...] = (),
) -> list[T]:
    """Run ``func(seed_sequence_i, *args)`` for ``i = 0 .. n-1``; results in that order.

    Parameters
    ----------
    func
        The replication; must draw its randomness only from the seed sequence it receives
        (e.g. ``np.random.default_rng(ss)``) and be picklable (a module-level function or a
        :func:`functools.partial` of one) when ``n_jobs > 1``.
    n
        Number of replications (>= 0).
    seed
        An integer or a :class:`~numpy.random.SeedSequence`: replication ``i`` receives
        ``SeedSequence(seed).spawn(n)[i]`` (:func:`spawn_seeds`).  Or a sequence of exactly
        ``n`` seed sequences, used as given (for nested schemes such as
        ``root.spawn(n_effects)[j].spawn(n_sims)[i]``).
    n_jobs
        Workers (``None``: :func:`default_jobs`; ``-1``: all cores).  The results do not
        depend on it.
    batch_size
        Replications per task (``None``: about ``n / (4 n_jobs)``, so that each worker gets a
        few tasks and the overhead per replication stays small).
    args
        Further positional arguments of ``func``, the same for every replication.

    Returns
    -------
    list
        ``[func(seeds[0], *args), ..., func(seeds[n-1], *args)]``.

    Raises
    ------
    ValueError
        ``n`` negative or not an integer, ``n_jobs`` or ``batch_size`` not a positive integer,
        or a sequence of seeds whose length is not ``n``.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"argument n: must be a non-negative integer, got {n!r}")
    n = int(n)
    jobs = resolve_jobs(n_jobs)
    if isinstance(seed, Sequence):
        seeds = list(seed)
        if len(seeds) != n or not all(isinstance(s, np.random.SeedSequence) for s in seeds):
            raise ValueError(
                f"argument seed: a sequence of seeds must hold exactly n = {n} numpy "
                f"SeedSequence objects, got {len(seeds)} items"
            )
    else:
        seeds = spawn_seeds(seed, n)
    return run_tasks(func, seeds, n_jobs=jobs, batch_size=batch_size, args=args)


def run_tasks(
    func: Callable[..., T],
    items: Iterable[Any],
    *,
    n_jobs: int | None = None,
    batch_size: int | None = None,
    n_items: int | None = None,
    args: tuple[Any, ...] = (),
) -> list[T]:
    """Run ``func(item, *args)`` for every item, in parallel; results in the items' order.

    The engine of :func:`run_replications`, for replications whose random draws are made in
    the calling process (e.g. re-assignments drawn from one generator in sequence, as a
    function's documented seeding requires) and only evaluated in the workers.  ``items`` may
    be a lazy iterator: joblib consumes it in order, a few chunks ahead of the workers, so the
    items of all replications are never held in memory at once.

    Parameters
    ----------
    func
        Called as ``func(item, *args)``; picklable when ``n_jobs > 1``.
    items
        The items (a sequence, or an iterator with ``n_items`` for the default chunking).
    n_jobs
        Workers (``None``: :func:`default_jobs`; ``-1``: all cores).
    batch_size
        Items per task (``None``: about ``n_items / (4 n_jobs)``; 16 when the number of items
        is unknown).
    n_items
        Number of items when ``items`` has no length.
    args
        Further positional arguments of ``func``.

    Returns
    -------
    list
        ``[func(item, *args) for item in items]``.
    """
    jobs = resolve_jobs(n_jobs)
    if batch_size is not None and (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int | np.integer)
        or batch_size < 1
    ):
        raise ValueError(f"argument batch_size: must be a positive integer, got {batch_size!r}")
    args = tuple(args)
    address = _dask_backend_wanted()
    if jobs == 1 and address is None and not _dask_configured():
        return [func(item, *args) for item in items]
    if n_items is None and isinstance(items, Sized):
        n_items = len(items)
    if batch_size is not None:
        size = int(batch_size)
    elif n_items is not None:
        size = max(1, math.ceil(n_items / (jobs * _CHUNKS_PER_WORKER)))
    else:
        size = 16
    from joblib import Parallel, delayed, parallel_config

    filters = list(warnings.filters)  # so that a caller's catch_warnings holds in the workers

    def chunks() -> Iterator[Any]:
        it = iter(items)
        while chunk := list(itertools.islice(it, size)):
            yield delayed(_run_chunk_filtered)(func, chunk, args, filters)

    if address is not None:
        _dask_client(address)
        with parallel_config(backend="dask"):
            parts = Parallel(n_jobs=jobs)(chunks())
    else:
        parts = Parallel(n_jobs=jobs)(chunks())
    return [r for part in parts for r in part]


def _backend_configured() -> bool:
    """Whether the caller set a joblib backend (``joblib.parallel_config(backend=...)``)."""
    import joblib.parallel as jp

    config = getattr(jp._backend, "config", None) or {}
    backend = config.get("backend")
    return backend is not None and not isinstance(
        backend, type(jp.default_parallel_config["backend"])
    )


def _dask_configured() -> bool:
    """Whether the caller set joblib's Dask backend (``parallel_config(backend="dask")``)."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return type(backend).__name__ == "DaskDistributedBackend"


def _dask_client(address: str) -> Any:
    """A ``dask.distributed`` client of ``address``, opened once per process."""
    client = _DASK_CLIENTS.get(address)
    if client is None:
        from dask.distributed import Client

        client = Client(address, set_as_default=True)
        _DASK_CLIENTS[address] = client
    return client
