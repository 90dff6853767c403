"""One seed per run, split into named random streams.

A run has one ``seed`` (a plan parameter).  Every random procedure of the run draws from its
own named stream, a child of ``numpy.random.SeedSequence(seed)``::

    streams = SeedStreams(seed)
    rng = streams.generator("bootstrap")      # a numpy Generator
    s = streams.seed_for("placebo")               # an integer seed, for backends that take one

Each name is bound to a fixed position of ``SeedSequence(seed).spawn(len(STREAMS))``, so
adding a stream at the end of :data:`STREAMS` changes no existing stream, two procedures never
share random numbers, and no ``seed + 1`` arithmetic is needed.  The provenance block of every
report lists the run's streams (:meth:`SeedStreams.to_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from analysis.i18n import N_

__all__ = ["STREAMS", "SeedStreams"]

#: Named streams, in spawn order (append only: positions are part of every published number).
STREAMS: tuple[str, ...] = (
    "data",  # simulated pupil panels
    "bands",  # multiplier-bootstrap uniform bands
    "bootstrap",  # wild cluster bootstrap
    "randomization",  # randomization inference (re-assignments)
    "placebo",  # placebo standard errors, placebo-in-space/time draws
    "power",  # simulated power replications
)

_DESCRIPTIONS = MappingProxyType(
    {
        "data": N_("simulated pupil panels"),
        "bands": N_("multiplier-bootstrap uniform bands"),
        "bootstrap": N_("wild cluster bootstrap"),
        "randomization": N_("randomization inference"),
        "placebo": N_("placebo standard errors and placebo draws"),
        "power": N_("simulated power replications"),
    }
)


@dataclass(frozen=True)
class SeedStreams:
    """The named random streams of one run, derived from its single ``seed``.

    Parameters
    ----------
    seed
        The run's seed (a non-negative integer).
    """

    seed: int

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise TypeError(f"seed must be an integer, got {type(self.seed).__name__}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")

    def sequence(self, name: str) -> np.random.SeedSequence:
        """The :class:`numpy.random.SeedSequence` of stream ``name``."""
        if name not in STREAMS:
            raise KeyError(f"unknown random stream {name!r}; the streams are {', '.join(STREAMS)}")
        return np.random.SeedSequence(int(self.seed)).spawn(len(STREAMS))[STREAMS.index(name)]

    def generator(self, name: str) -> np.random.Generator:
        """A fresh :class:`numpy.random.Generator` on stream ``name``."""
        return np.random.default_rng(self.sequence(name))

    def seed_for(self, name: str) -> int:
        """An integer seed derived from stream ``name`` (for backends that take an ``int``)."""
        return int(self.sequence(name).generate_state(1, dtype=np.uint32)[0])

    def to_dict(self) -> dict[str, object]:
        """The run seed and each stream's derived integer seed and use (for provenance)."""
        return {
            "seed": int(self.seed),
            "streams": {
                name: {"seed": self.seed_for(name), "use": _DESCRIPTIONS[name]} for name in STREAMS
            },
        }
