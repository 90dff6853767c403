"""What one estimator run returns at the matrix level, and the shared pieces of the estimators."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from analysis._util import version
from analysis.synth._panel import PanelData

if TYPE_CHECKING:  # pragma: no cover
    from analysis.synth.result import SynthResult


@dataclass(frozen=True, eq=False)
class PointFit:
    """One estimator run on a :class:`~analysis.synth._panel.PanelData`.

    Attributes
    ----------
    att
        Average effect over the post-periods, ``mean_{t post}(y_1t - counterfactual_t)``.
    weights
        Donor weights, shape ``(J,)``, in the order of ``panel.donors``.
    counterfactual
        Counterfactual path of the treated unit, shape ``(T,)`` (pre- and post-periods).
    time_weights
        Pre-period weights ``lambda`` (synthetic DiD, DiD), shape ``(n_pre,)``, else ``None``.
    se
        Standard error when the run computed one (synthetic DiD placebo variance).
    extra
        Estimator details (regularisation, backend, ...), JSON-serialisable.
    """

    att: float
    weights: np.ndarray
    counterfactual: np.ndarray
    time_weights: np.ndarray | None = None
    se: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EstimatorSpec:
    """Options of one estimator run, and how it is run: the base of the three estimators.

    Subclasses (:class:`~analysis.synth.synthetic_control.SCSpec`,
    :class:`~analysis.synth.synthetic_did.SDIDSpec`, :class:`~analysis.synth.panel_did.DiDSpec`)
    are frozen dataclasses that add their own options and set the class attributes
    :attr:`method`, :attr:`label` and :attr:`package`; they implement :meth:`fit` (the full
    fit, with its inference if any) and, when a cheaper point estimate exists, :meth:`refit`
    (used inside placebo and leave-one-out loops).  The base class owns what the three share:
    the inference options (``replications``, ``seed``, ``level``) and their validation, the
    backend string, ``options()``/``to_dict()`` and :meth:`run`.

    Attributes
    ----------
    replications
        Placebo draws of the standard error (Arkhangelsky et al. 2021, Algorithm 4).
    seed
        Integer seed of those draws.
    level
        Confidence level of the interval.
    """

    #: Identifier of the estimator (``SynthResult.method``).
    method: ClassVar[str] = ""
    #: Human-readable name (``SynthResult.label``).
    label: ClassVar[str] = ""
    #: Distribution doing the computation (``backend`` is ``"<package> <version>"``).
    package: ClassVar[str] = ""

    replications: int = 200
    seed: int = 0
    level: float = 0.95

    def __post_init__(self) -> None:
        check_options(replications=self.replications, seed=self.seed, level=self.level)

    @property
    def backend(self) -> str:
        """Library (and version) doing the computation."""
        return version(self.package)

    def method_options(self) -> dict[str, Any]:
        """Options specific to the estimator, JSON-serialisable (none by default)."""
        return {}

    def options(self) -> dict[str, Any]:
        """Estimator options, JSON-serialisable: :meth:`method_options` and the inference ones."""
        return {
            **self.method_options(),
            "replications": self.replications,
            "seed": self.seed,
            "level": self.level,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return method, label, backend and options (JSON-serialisable)."""
        return {
            "method": self.method,
            "label": self.label,
            "backend": self.backend,
            "options": self.options(),
        }

    def fit(self, panel: PanelData) -> PointFit:
        """Run the estimator as the public function does (with its inference if any)."""
        raise NotImplementedError

    def refit(self, panel: PanelData) -> PointFit:
        """Point estimate only (used inside placebo and leave-one-out loops); default :meth:`fit`."""
        return self.fit(panel)

    def run(self, panel: PanelData) -> SynthResult:
        """Fit on ``panel`` and wrap the fit into a :class:`~analysis.synth.result.SynthResult`."""
        from analysis.synth.result import make_result

        return make_result(panel, self, self.fit(panel))


#: Type of the ``_spec`` of a result (kept for annotations).
Spec = EstimatorSpec


def did_path(
    y1: np.ndarray, y0: np.ndarray, n_pre: int, omega: np.ndarray, lam: np.ndarray
) -> np.ndarray:
    r"""Counterfactual path of a weighted difference-in-differences.

    .. math::

        \hat Y_{1t}(0) = \sum_j \omega_j Y_{jt}
            + \Big(\sum_{s \le T_0} \lambda_s Y_{1s}
                   - \sum_{s \le T_0} \lambda_s \sum_j \omega_j Y_{js}\Big)

    i.e. the weighted donor path shifted to the treated unit's ``lambda``-weighted pre-period
    level.  The mean post-period gap ``y_1t - \hat Y_{1t}(0)`` equals the synthetic DiD
    estimator of Arkhangelsky et al. (2021, eq. 1) for these weights; with
    ``omega = 1/J`` and ``lambda = 1/T_0`` it is the two-way fixed-effects DiD.
    """
    synth = y0 @ omega
    shift = lam @ y1[:n_pre] - lam @ synth[:n_pre]
    return synth + shift


def check_options(*, replications: int, seed: int, level: float) -> None:
    """Check the inference options shared by the three estimators.

    Raises
    ------
    ValueError
        ``replications`` not an integer >= 2, ``seed`` not an integer, ``level`` not in (0, 1).
    """
    if (
        isinstance(replications, bool)
        or not isinstance(replications, int | np.integer)
        or replications < 2
    ):
        raise ValueError(f"replications must be an integer >= 2, got {replications!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")


def placebo_se(draws: np.ndarray) -> float:
    """Placebo standard error of Arkhangelsky et al. (2021, Algorithm 4).

    ``sqrt((B - 1) / B) * sd(draws)`` as in R ``synthdid::vcov(method = "placebo")``;
    NaN with fewer than two draws.
    """
    draws = np.asarray(draws, dtype=float)
    b = draws.size
    if b < 2:
        return float("nan")
    return float(np.sqrt((b - 1) / b) * np.std(draws, ddof=1))
