"""Benchmark of every estimator wrapper against the backend call it wraps (issue 14).

    python benchmarks/bench_wrappers.py [--rounds N] [--json PATH] [--only NAME]

Target (issue 14): every wrapper takes at most 1.2 times its backend call.

How the backend call is obtained: the wrapper is run once on the reference data with the
backend entry point (``pyfixest.feols``, ``diff_diff.<Estimator>.fit``, ``moderndid.cont_did``,
``statsmodels`` ``OLS``) patched to record every call it receives (a deep copy of the
estimator object, the frame and the options, taken before the call).  The backend timing
replays exactly those calls — the same data and the same options the wrapper passes, every
call the wrapper makes (e.g. one ``TripleDifference.fit`` per cell) — under the same warning
filters and contexts the wrapper opens.  So the ratio is the cost of everything the wrapper
does besides the backend: input checks, preparation, the result object.

Timing: one warm-up of each, then ``rounds`` alternating pairs (wrapper, backend; the order
swapped every round), medians of ``time.perf_counter``; ``did.dose_response`` (seconds per
call) at most 3 rounds.  The command line restarts itself in the environment of the runs
(:data:`analysis.pipeline.runner.DETERMINISTIC_ENV`: one thread per library), so call it as a
command (``make bench``: ``python benchmarks/bench_wrappers.py --json PATH``) rather than
``run()`` from a process whose thread pools are already sized.  The printed table is
markdown; the ``--json`` output is a list of records ``{"name", "wrapper_s", "backend_s",
"ratio", "rounds"}``.  The default (15 rounds) takes about two and a half minutes on the
2-core machine; the load average is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import paths

KW = {"outcome": "lemp", "unit": "countyreal", "time": "year"}
KWC = {**KW, "cohort": "first.treat"}
PROP99 = {
    "outcome": "packs",
    "unit": "state",
    "time": "year",
    "treated_unit": "California",
    "start": 1989,
}


# --------------------------------------------------------------------------- data
def _mpdta() -> pd.DataFrame:
    from analysis.did import datasets

    df = datasets.mpdta()
    df["D"] = ((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).astype(int)
    return df


def _prop99() -> pd.DataFrame:
    wide = pd.read_csv(paths.REFERENCE_DIR / "california_prop99.csv")
    long = wide.melt(id_vars="Year", var_name="state", value_name="packs")
    return long.rename(columns={"Year": "year"})


def _cai() -> pd.DataFrame:
    df = pd.read_csv(paths.REFERENCE_DIR / "triplediff_cai2016" / "cai2016.csv")
    df["cohort"] = np.where(df["treatment"] == 1, 2003, 0)
    return df


def _contdid() -> pd.DataFrame:
    return pd.read_csv(paths.REFERENCE_DIR / "contdid_cck" / "contdid_readme_df2.csv")


# --------------------------------------------------------------------------- recording
@dataclass
class _Call:
    """One recorded backend call: ``func(*args, **kwargs)`` with ``self`` first for methods."""

    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@contextlib.contextmanager
def _recording(owner: Any, attr: str, calls: list[_Call]) -> Iterator[None]:
    """Patch ``owner.attr`` so that each call is recorded (deep copies) and then made."""
    original = getattr(owner, attr)
    own = attr in vars(owner)  # else inherited: remove the patch rather than copy it down

    def recorder(*args: Any, **kwargs: Any) -> Any:
        calls.append(_Call(original, copy.deepcopy(args), copy.deepcopy(kwargs)))
        return original(*args, **kwargs)

    setattr(owner, attr, recorder)
    try:
        yield
    finally:
        if own:
            setattr(owner, attr, original)
        else:
            delattr(owner, attr)


def _ols_recording(calls: list[_Call]) -> contextlib.AbstractContextManager[None]:
    """statsmodels: the backend call is ``OLS(endog, exog).fit(**options)`` (both timed)."""
    from statsmodels.regression.linear_model import OLS

    stack = contextlib.ExitStack()
    init, fit = OLS.__init__, OLS.fit
    pending: dict[int, tuple[tuple[Any, ...], dict[str, Any]]] = {}

    def rec_init(self: Any, *args: Any, **kwargs: Any) -> None:
        pending[id(self)] = (copy.deepcopy(args), copy.deepcopy(kwargs))
        init(self, *args, **kwargs)

    def rec_fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        a, k = pending.pop(id(self))
        fa, fk = copy.deepcopy(args), copy.deepcopy(kwargs)
        calls.append(_Call(lambda: OLS(*a, **k).fit(*fa, **fk), (), {}))
        return fit(self, *args, **kwargs)

    OLS.__init__, OLS.fit = rec_init, rec_fit  # type: ignore[method-assign]
    stack.callback(setattr, OLS, "__init__", init)
    stack.callback(setattr, OLS, "fit", fit)
    return stack


# --------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """A wrapper, the backend entry point it calls and the contexts it opens around it."""

    name: str
    backend: str
    data: str
    load: Callable[[], pd.DataFrame]
    call: Callable[[pd.DataFrame], Any]
    patch: Callable[[list[_Call]], contextlib.AbstractContextManager[None]]
    context: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext
    max_rounds: int | None = None  # a slow case (seconds per call) is timed fewer times


def _method(path: str) -> Callable[[list[_Call]], contextlib.AbstractContextManager[None]]:
    """Record calls of ``module.Class.method`` (``path``)."""
    import importlib

    mod, cls, meth = path.rsplit(".", 2)

    def patch(calls: list[_Call]) -> contextlib.AbstractContextManager[None]:
        owner = getattr(importlib.import_module(mod), cls)
        return _recording(owner, meth, calls)

    return patch


def _function(path: str) -> Callable[[list[_Call]], contextlib.AbstractContextManager[None]]:
    """Record calls of ``module.function`` (``path``), looked up as an attribute."""
    import importlib

    mod, fn = path.rsplit(".", 1)

    def patch(calls: list[_Call]) -> contextlib.AbstractContextManager[None]:
        return _recording(importlib.import_module(mod), fn, calls)

    return patch


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The wrappers' warning filters (backend warnings are not the wrappers' cost)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _gmm() -> Iterator[None]:
    """The context ``did.imputation`` and ``did.two_stage`` open around the fit."""
    from analysis.did.event_study import _scalable_gmm_variance

    with _quiet(), _scalable_gmm_variance():
        yield


def _cases() -> list[Case]:
    from analysis import did, synth
    from analysis.did.dose import dose_response
    from analysis.did.triple import triple_differences

    feols = _function("pyfixest.feols")
    dd = "diff_diff."
    return [
        Case(
            "did.twfe",
            "pf.feols",
            "mpdta",
            _mpdta,
            lambda d: did.twfe(d, **KW, treated="D"),
            feols,
        ),
        Case(
            "did.staggered",
            "CallawaySantAnna.fit",
            "mpdta",
            _mpdta,
            lambda d: did.staggered(d, **KWC),
            _method(dd + "CallawaySantAnna.fit"),
        ),
        Case(
            "did.imputation",
            "ImputationDiD.fit",
            "mpdta",
            _mpdta,
            lambda d: did.imputation(d, **KWC),
            _method(dd + "ImputationDiD.fit"),
            _gmm,
        ),
        Case(
            "did.two_stage",
            "TwoStageDiD.fit",
            "mpdta",
            _mpdta,
            lambda d: did.two_stage(d, **KWC),
            _method(dd + "TwoStageDiD.fit"),
            _gmm,
        ),
        Case(
            "did.etwfe",
            "WooldridgeDiD.fit",
            "mpdta",
            _mpdta,
            lambda d: did.etwfe(d, **KWC),
            _method(dd + "WooldridgeDiD.fit"),
        ),
        Case(
            "did.did_2x2",
            "sm.OLS(y, X).fit",
            "card_krueger",
            lambda: did.datasets.card_krueger(),
            lambda d: did.did_2x2(d, outcome="fte", treated="nj", post="post", cluster="store"),
            _ols_recording,
        ),
        Case(
            "did.triple_differences",
            "TripleDifference.fit (each cell)",
            "cai2016",
            _cai,
            lambda d: triple_differences(
                d,
                outcome="checksaving_ratio",
                unit="hhno",
                time="year",
                cohort="cohort",
                partition="sector",
            ),
            _method(dd + "TripleDifference.fit"),
        ),
        Case(
            "did.dose_response",
            "moderndid.cont_did",
            "contdid",
            _contdid,
            lambda d: dose_response(
                d,
                outcome="Y",
                unit="id",
                time="time_period",
                cohort="G",
                dose="D",
                method="cck",
                control="notyet",
                biters=100,
                seed=42,
            ),
            _function("moderndid.cont_did"),
            max_rounds=3,
        ),
        Case(
            "synth.synthetic_control",
            "SyntheticControl.fit",
            "prop99",
            _prop99,
            lambda d: synth.synthetic_control(d, **PROP99),
            _method(dd + "SyntheticControl.fit"),
        ),
        Case(
            "synth.synthetic_did",
            "SyntheticDiD.fit",
            "prop99",
            _prop99,
            lambda d: synth.synthetic_did(d, **PROP99),
            _method(dd + "SyntheticDiD.fit"),
        ),
        Case(
            "synth.panel_did",
            "pf.feols",
            "prop99",
            _prop99,
            lambda d: synth.panel_did(d, **PROP99),
            feols,
        ),
    ]


# --------------------------------------------------------------------------- timing
def _replay(calls: list[_Call], context: Callable[[], Any]) -> Callable[[], None]:
    """The recorded backend calls, each on a fresh deep copy of what it received."""

    def backend() -> None:
        fresh = [(c.func, copy.deepcopy(c.args), copy.deepcopy(c.kwargs)) for c in calls]
        with _quiet(), context():
            t0 = time.perf_counter()
            for func, args, kwargs in fresh:
                func(*args, **kwargs)
            backend.elapsed = time.perf_counter() - t0  # type: ignore[attr-defined]

    return backend


def measure(case: Case, *, rounds: int) -> dict[str, Any]:
    """Time ``case``'s wrapper and backend calls, alternating; medians and their ratio."""
    rounds = min(rounds, case.max_rounds or rounds)
    data = case.load()
    calls: list[_Call] = []
    with case.patch(calls), _quiet():
        case.call(data)  # records the backend calls (and warms up the wrapper)
    if not calls:
        raise RuntimeError(f"{case.name}: the wrapper made no {case.backend} call")
    backend = _replay(calls, case.context)
    backend()  # warm-up

    def wrapper() -> float:
        with _quiet():
            t0 = time.perf_counter()
            case.call(data)
            return time.perf_counter() - t0

    def timed_backend() -> float:
        backend()
        return backend.elapsed  # type: ignore[attr-defined]

    w, b = [], []
    for r in range(rounds):
        if r % 2 == 0:
            w.append(wrapper())
            b.append(timed_backend())
        else:
            b.append(timed_backend())
            w.append(wrapper())
    wm, bm = statistics.median(w), statistics.median(b)
    return {
        "name": case.name,
        "wrapper_s": wm,
        "backend_s": bm,
        "ratio": wm / bm,
        "rounds": rounds,
    }


def run(*, rounds: int = 15, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Measure every wrapper (or those named in ``only``); the JSON records, in table order."""
    cases = _cases()
    if only:
        unknown = sorted(set(only) - {c.name for c in cases})
        if unknown:
            raise SystemExit(f"unknown wrapper(s) {unknown}; known: {[c.name for c in cases]}")
        cases = [c for c in cases if c.name in only]
    return [measure(c, rounds=rounds) for c in cases]


def table(records: list[dict[str, Any]]) -> str:
    """Markdown table of the records (backend and data named from the cases)."""
    info = {c.name: c for c in _cases()}
    lines = [
        "| wrapper | backend | data | wrapper (ms) | backend (ms) | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in records:
        c = info[r["name"]]
        lines.append(
            f"| {r['name']} | {c.backend} | {c.data} | {1e3 * r['wrapper_s']:.1f} "
            f"| {1e3 * r['backend_s']:.1f} | {r['ratio']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15, help="alternating pairs (default 15)")
    p.add_argument("--json", type=Path, help="write the records to this file")
    p.add_argument("--only", action="append", help="a wrapper name (repeatable)")
    a = p.parse_args(argv)
    if a.rounds < 1:
        p.error("--rounds must be >= 1")
    from analysis.pipeline.runner import DETERMINISTIC_ENV

    if any(os.environ.get(k) != v for k, v in DETERMINISTIC_ENV.items()):
        # the runs' environment (one thread per library): restart with it, before numpy's
        # and the backends' thread pools are sized
        os.execve(
            sys.executable,
            [sys.executable, *sys.argv],
            {**os.environ, **DETERMINISTIC_ENV},
        )
    load0 = os.getloadavg()
    records = run(rounds=a.rounds, only=a.only)
    load1 = os.getloadavg()
    print(table(records))
    print(
        f"\n{a.rounds} rounds; load average {load0[0]:.2f} before, {load1[0]:.2f} after",
        file=sys.stderr,
    )
    if a.json:
        a.json.write_text(json.dumps(records, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
