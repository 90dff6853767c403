"""analysis.replicate: seeded replications, identical for any worker count."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.replicate import default_jobs, run_replications, spawn_seeds


def _draw(ss: np.random.SeedSequence, size: int) -> np.ndarray:
    return np.random.default_rng(ss).standard_normal(size)


def test_results_are_in_order_and_seeded_by_spawn() -> None:
    out = run_replications(_draw, 5, seed=42, n_jobs=1, args=(3,))
    expected = [_draw(s, 3) for s in np.random.SeedSequence(42).spawn(5)]
    for got, want in zip(out, expected, strict=True):
        assert got.tobytes() == want.tobytes()


def test_identical_for_one_and_two_workers_and_any_chunking() -> None:
    one = np.stack(run_replications(_draw, 23, seed=7, n_jobs=1, args=(4,)))
    two = np.stack(run_replications(_draw, 23, seed=7, n_jobs=2, args=(4,)))
    odd = np.stack(run_replications(_draw, 23, seed=7, n_jobs=2, batch_size=5, args=(4,)))
    assert one.tobytes() == two.tobytes() == odd.tobytes()
    assert len(np.unique(one[:, 0])) == 23  # every replication has its own stream


def test_seed_sequence_is_copied_and_explicit_seeds_are_used_as_given() -> None:
    root = np.random.SeedSequence(5)
    root.spawn(3)  # spawning is stateful; the wrapper must not depend on it
    a = run_replications(_draw, 4, seed=root, n_jobs=1, args=(2,))
    b = run_replications(_draw, 4, seed=np.random.SeedSequence(5), n_jobs=1, args=(2,))
    assert np.stack(a).tobytes() == np.stack(b).tobytes()
    given = np.random.SeedSequence(9).spawn(2)[1].spawn(3)
    c = run_replications(_draw, 3, seed=given, n_jobs=2, args=(2,))
    assert np.stack(c).tobytes() == np.stack([_draw(s, 2) for s in given]).tobytes()
    assert [s.spawn_key for s in spawn_seeds(root, 2)] == [(0,), (1,)]


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_n_jobs_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="n_jobs"):
        run_replications(_draw, 2, seed=1, n_jobs=bad, args=(1,))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": -1}, "argument n"),
        ({"n": 2, "batch_size": 0}, "batch_size"),
        ({"n": 3, "seed": np.random.SeedSequence(1).spawn(2)}, "exactly n = 3"),
        ({"n": 2, "seed": 1.5}, "seed must be"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, match: str) -> None:
    kwargs.setdefault("seed", 1)
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match=match):
        run_replications(_draw, n, n_jobs=1, args=(1,), **kwargs)


def test_default_jobs_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANALYSIS_JOBS", raising=False)
    assert default_jobs() == 1
    monkeypatch.setenv("ANALYSIS_JOBS", "2")
    assert default_jobs() == 2
    for bad in ("0", "two", "-3"):
        monkeypatch.setenv("ANALYSIS_JOBS", bad)
        with pytest.raises(ValueError, match="ANALYSIS_JOBS"):
            default_jobs()


def test_environment_default_gives_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYSIS_JOBS", "2")
    env = run_replications(_draw, 9, seed=3, args=(2,))
    one = run_replications(_draw, 9, seed=3, n_jobs=1, args=(2,))
    assert np.stack(env).tobytes() == np.stack(one).tobytes()


def _where(ss: np.random.SeedSequence) -> str:
    """The dask worker running this replication ("local" outside a dask worker)."""
    from dask.distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:
        return "local"


def test_dask_backend_gives_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """joblib's Dask backend, chosen by the caller or by DASK_SCHEDULER_ADDRESS."""
    distributed = pytest.importorskip("dask.distributed")
    from joblib import parallel_config

    from analysis import replicate

    serial = np.stack(run_replications(_draw, 11, seed=6, n_jobs=1, args=(3,)))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster), parallel_config(backend="dask"):
            by_config = np.stack(run_replications(_draw, 11, seed=6, n_jobs=2, args=(3,)))
            where = set(run_replications(_where, 6, seed=1, n_jobs=2))
        assert "local" not in where  # every replication ran on a dask worker
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        monkeypatch.setattr(replicate, "_DASK_CLIENTS", {})
        try:
            by_env = np.stack(run_replications(_draw, 11, seed=6, n_jobs=1, args=(3,)))
            assert "local" not in set(run_replications(_where, 4, seed=1, n_jobs=1))
            assert list(replicate._DASK_CLIENTS) == [cluster.scheduler_address]
        finally:
            for client in replicate._DASK_CLIENTS.values():
                client.close()
    assert serial.tobytes() == by_config.tobytes() == by_env.tobytes()


def _nested_jobs(ss: np.random.SeedSequence) -> int:
    from analysis.replicate import default_jobs

    return default_jobs()


def test_a_nested_loop_in_a_worker_defaults_to_one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYSIS_JOBS", "2")
    assert default_jobs() == 2
    assert set(run_replications(_nested_jobs, 4, seed=1, n_jobs=2)) == {1}
