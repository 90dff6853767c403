r"""A simulated panel with a known effect, for testing the estimators.

Data-generating process (interactive fixed effects, one treated unit)
---------------------------------------------------------------------
.. math::

    Y_{it} = \alpha_i + \delta_t + \lambda_i' F_t + \tau\, 1\{i = 1, t \ge \text{start}\}
             + \sigma \varepsilon_{it}, \qquad \varepsilon_{it} \sim N(0, 1),

with :math:`F_t` independent Gaussian random walks (``n_factors`` of them) and
:math:`\delta_t` a common random walk.  Donors come in mirrored pairs around a centre,
:math:`(\alpha_c \pm a_h, \lambda_c \pm l_h)`, and the treated unit sits at the centre
:math:`(\alpha_c, \lambda_c)`.  Hence

* the treated unit is inside the convex hull of the donors (it is the average of any mirrored
  pair), so a synthetic control without intercept can reproduce its untreated path;
* the donors' average has the treated unit's loadings, so DiD is unbiased too, although the
  donors' trends are not parallel to each other (the factors are non-stationary);
* the true effect is :math:`\tau` in every post-period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SimulatedPanel:
    """A simulated long panel and what the estimators should find.

    Attributes
    ----------
    data
        Long panel with columns ``unit, time, y, y0`` (``y0``: untreated potential outcome).
    treated_unit
        Name of the treated unit (``"treated"``).
    start
        First treated period.
    effect
        True effect in every post-period.
    """

    data: pd.DataFrame
    treated_unit: str
    start: int
    effect: float


def simulate_panel(
    *,
    n_donors: int = 30,
    n_pre: int = 15,
    n_post: int = 10,
    n_factors: int = 2,
    effect: float = -3.0,
    noise: float = 0.5,
    first_period: int = 2004,
    seed: int = 0,
) -> SimulatedPanel:
    """Simulate the panel described in the module docstring.

    Parameters
    ----------
    n_donors
        Number of control units (an odd number adds one donor at the centre).
    n_pre, n_post
        Numbers of pre- and post-treatment periods.
    n_factors
        Number of latent factors.
    effect
        True effect on the treated unit from ``start`` on.
    noise
        Standard deviation of the idiosyncratic noise, ``sigma``.
    first_period
        Label of the first period; ``start = first_period + n_pre``.
    seed
        Seed of ``np.random.default_rng``.

    Returns
    -------
    SimulatedPanel
    """
    if n_donors < 2 or n_pre < 2 or n_post < 1:
        raise ValueError("need n_donors >= 2, n_pre >= 2, n_post >= 1")
    rng = np.random.default_rng(seed)
    n_t = n_pre + n_post
    times = np.arange(first_period, first_period + n_t)
    factors = rng.normal(size=(n_t, n_factors)).cumsum(axis=0)
    common = rng.normal(scale=0.5, size=n_t).cumsum()
    alpha_c, lam_c = 10.0, np.ones(n_factors)
    half = rng.normal(scale=2.0, size=n_donors // 2)
    half_lam = rng.normal(size=(n_donors // 2, n_factors))
    alphas = [alpha_c] + [alpha_c + s * a for a in half for s in (1, -1)]
    lams = [lam_c] + [lam_c + s * lv for lv in half_lam for s in (1, -1)]
    if n_donors % 2:
        alphas.append(alpha_c)
        lams.append(lam_c)
    alpha = np.array(alphas)
    lam = np.array(lams)  # (n_units, K); row 0 = treated
    y0 = alpha[None, :] + common[:, None] + factors @ lam.T
    y0 = y0 + noise * rng.normal(size=y0.shape)
    units = ["treated"] + [f"donor_{j:02d}" for j in range(1, n_donors + 1)]
    post = times >= first_period + n_pre
    y = y0.copy()
    y[post, 0] += effect
    data = pd.DataFrame(
        {
            "unit": np.tile(units, n_t),
            "time": np.repeat(times, len(units)),
            "y": y.ravel(),
            "y0": y0.ravel(),
        }
    )
    return SimulatedPanel(
        data=data, treated_unit="treated", start=int(first_period + n_pre), effect=float(effect)
    )
