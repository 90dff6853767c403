"""Shared machinery of the property-based (fuzz) tests of the loaders.

The four ``tests/test_fuzz_*.py`` files take a valid input (a real raw file, a simulated
programme panel, ``config/siinc.yaml``, a small valid plan), apply one known-bad mutation and
check the outcome: a :class:`~analysis.errors.DataValidationError` that names the source, or a
documented, reported handling (e.g. rows excluded and counted). Valid inputs whose rows are
shuffled must give the same result.

Sizing
------
Two hypothesis profiles are registered here: ``ci`` (the default: deterministic, CI-sized, each
loader gets at least 200 malformed inputs) and ``local`` (10 times more examples). Choose with
the environment variable ``FUZZ_PROFILE=local``. Tests take their settings from
:func:`fuzz_settings`, which scales the profile's ``max_examples`` by a per-test share.

Counting
--------
Every example calls :func:`record` with the loader, the kind of input (``malformed`` or
``valid``) and the outcome category. A session-scoped fixture (:func:`fuzz_summary`, imported
by each fuzz test module) prints one line per loader to the real stderr when the session ends:
loader → inputs tried → outcomes. Nothing is written to disk.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from analysis.errors import DataValidationError

# --------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------

_COMMON = dict(
    deadline=None,
    derandomize=True,  # the same examples on every run: reproducible CI
    database=None,  # no example database (replays would change the counts)
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
settings.register_profile("ci", max_examples=100, **_COMMON)
settings.register_profile("local", max_examples=1000, **_COMMON)

PROFILE = os.environ.get("FUZZ_PROFILE", "ci")
if PROFILE not in ("ci", "local"):
    raise RuntimeError(f"FUZZ_PROFILE must be 'ci' or 'local', not {PROFILE!r}")


def fuzz_settings(share: float = 1.0) -> settings:
    """Settings for one fuzz test: ``share`` × the profile's ``max_examples`` (at least 1)."""
    prof = settings.get_profile(PROFILE)
    return settings(prof, max_examples=max(1, round(prof.max_examples * share)))


# --------------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------------

#: (loader, kind, outcome) -> number of inputs tried.
COUNTS: Counter[tuple[str, str, str]] = Counter()

ERROR = "DataValidationError"
SCHEMA_ERROR = "DataValidationError (processed-panel schema)"
SAME = "accepted: identical result"
VALID_SAME = "valid input, same result"


def record(loader: str, outcome: str, *, kind: str = "malformed") -> None:
    """Count one input tried on ``loader`` with its outcome category."""
    COUNTS[(loader, kind, outcome)] += 1


def summary_lines(counts: Counter[tuple[str, str, str]] | None = None) -> list[str]:
    """One line per loader and kind: ``loader: N malformed inputs -> outcome n, ...``."""
    counts = COUNTS if counts is None else counts
    lines = []
    for loader in sorted({k[0] for k in counts}):
        for kind in ("malformed", "valid"):
            items = {o: n for (ld, kd, o), n in counts.items() if ld == loader and kd == kind}
            if not items:
                continue
            total = sum(items.values())
            detail = "; ".join(f"{o}: {n}" for o, n in sorted(items.items(), key=lambda x: -x[1]))
            lines.append(f"  {loader}: {total} {kind} inputs -> {detail}")
    return lines


_printed = False


@pytest.fixture(scope="session", autouse=True)
def fuzz_summary(request: pytest.FixtureRequest):
    """Print the per-loader counts to the real stderr once, when the session ends.

    pytest captures file descriptor 2 itself, so the capture is suspended while printing
    (what ``capsys.disabled()`` does, for a session-scoped fixture).
    """
    yield
    global _printed
    if _printed or not COUNTS or sys.__stderr__ is None:
        return
    _printed = True
    text = (
        f"\nfuzz summary (hypothesis profile {PROFILE!r}): loader -> inputs tried -> "
        "outcomes\n" + "\n".join(summary_lines()) + "\n"
    )
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        sys.__stderr__.write(text)
        sys.__stderr__.flush()
        return
    with capman.global_and_fixture_disabled():
        sys.__stderr__.write(text)
        sys.__stderr__.flush()


# --------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------


def expect_error(call: Callable[[], Any], *, source: str) -> DataValidationError:
    """Run ``call``; it must raise :class:`DataValidationError` naming ``source``.

    Any other exception propagates (an unhandled exception is a test failure); a normal return
    fails the test (a known-bad input was accepted).
    """
    try:
        result = call()
    except DataValidationError as err:
        assert source in str(err), f"the error does not name {source!r}:\n{err}"
        assert err.violations and all(v.rule for v in err.violations), str(err)
        return err
    raise AssertionError(f"malformed input accepted; result:\n{result!r}"[:2000])


def outcome_of(call: Callable[[], Any], *, source: str) -> tuple[str, Any]:
    """Run ``call`` on an input that may or may not be valid: ``(ERROR, err)`` or ``("ok", result)``.

    Any exception other than :class:`DataValidationError` propagates; an error must name the
    source.
    """
    try:
        result = call()
    except DataValidationError as err:
        assert source in str(err), f"the error does not name {source!r}:\n{err}"
        return ERROR, err
    return "ok", result


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

#: Tokens that are not numbers in any convention the loaders accept.
BAD_NUMBERS = (
    "abc",
    "12,3,4",
    "1.2.3",
    "--5",
    "5-",
    "1e",
    "12%",
    "x12",
    "#N/A",
    "?",
    "1 2",
    "0x1F",
    "12..5",
    "€5",
    "½",
    "١٢",
)
#: Non-finite spellings.
NON_FINITE = ("inf", "-inf", "Infinity", "nan")


class Mutated(bytes):
    """Mutated file content whose repr is short (hypothesis prints draws of failing tests)."""

    description = ""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes: {self.description}>"


def mutated(blob: bytes, description: str) -> Mutated:
    """Wrap file content so that hypothesis reports show ``description`` instead of it."""
    out = Mutated(blob)
    out.description = description
    return out


@st.composite
def byte_corruption(draw: st.DrawFn, data: bytes) -> tuple[str, bytes]:
    """Randomly corrupt ``data``: flip, overwrite, insert, delete, truncate or duplicate bytes.

    Returns ``(description, corrupted)``; the corrupted bytes always differ from ``data``.
    """
    n = len(data)
    op = draw(
        st.sampled_from(["overwrite", "insert", "delete", "truncate", "duplicate", "bitflip"])
    )
    pos = draw(st.integers(0, n - 1))
    if op == "overwrite":
        k = draw(st.integers(1, 8))
        new = draw(st.binary(min_size=k, max_size=k))
        out = data[:pos] + new + data[pos + k :]
    elif op == "insert":
        out = data[:pos] + draw(st.binary(min_size=1, max_size=8)) + data[pos:]
    elif op == "delete":
        k = draw(st.integers(1, 64))
        out = data[:pos] + data[pos + k :]
    elif op == "truncate":
        out = data[:pos]
    elif op == "duplicate":
        k = draw(st.integers(1, 64))
        out = data[:pos] + data[pos : pos + k] + data[pos:]
    else:
        bit = draw(st.integers(0, 7))
        out = data[:pos] + bytes([data[pos] ^ (1 << bit)]) + data[pos + 1 :]
    if out == data:  # e.g. overwriting a byte with itself: force a change
        out = data[:pos]
    desc = (
        f"{op}@{pos}: {data[max(0, pos - 12) : pos + 12]!r} -> {out[max(0, pos - 12) : pos + 12]!r}"
    )
    return desc, mutated(out, desc)


def encodings_of(text: str) -> st.SearchStrategy[tuple[str, bytes]]:
    """The text in an encoding the loaders refuse (they read UTF-8 only).

    Every choice contains at least one byte sequence that is not valid UTF-8 (UTF-16/32 with
    their byte-order marks, Latin-1/cp1252 with an accented letter added to the first line).
    """
    first, _, rest = text.partition("\n")
    accented = f"{first}é\n{rest}"  # guarantees a non-ASCII character
    return st.sampled_from(
        [
            ("utf-16", mutated(text.encode("utf-16"), "utf-16")),
            ("utf-16-le", mutated(b"\xff\xfe" + text.encode("utf-16-le"), "utf-16-le")),
            ("utf-32", mutated(text.encode("utf-32"), "utf-32")),
            ("latin-1", mutated(accented.encode("latin-1", errors="replace"), "latin-1")),
            ("cp1252", mutated(accented.encode("cp1252", errors="replace"), "cp1252")),
        ]
    )


def permutation(n: int) -> st.SearchStrategy[list[int]]:
    """A permutation of ``range(n)`` that is not the identity (for ``n`` ≥ 2).

    Small ``n``: hypothesis draws the permutation itself (and can shrink it). Large ``n``
    (rows of a file): it draws a seed for ``np.random.default_rng``, which is much faster
    than drawing thousands of elements.
    """
    if n <= 30:
        return st.permutations(list(range(n))).filter(lambda p: n < 2 or p != sorted(p))
    return (
        st.integers(0, 2**32 - 1)
        .map(lambda seed: np.random.default_rng(seed).permutation(n).tolist())
        .filter(lambda p: p != sorted(p))
    )
