"""Money arithmetic in integer euro cents.

Every amount the engine stores is an ``int`` number of cents, so sums and caps are exact.
A fractional amount appears only where a price is multiplied by a quantity, a fraction or a
quality multiplier; that product is computed exactly in :class:`decimal.Decimal` (60
significant digits) and rounded **once**, to the cent, with the agreement's rounding rule
(``half_even``, banker's rounding, by default; or ``half_up``).

Numbers read from YAML or from a DataFrame as binary floats are converted through their
shortest decimal representation (``repr``), so ``0.1`` is taken as exactly one tenth and not as
``0.1000000000000000055…``; this is what a person reading the file or the table sees.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

ROUNDINGS = {"half_even": ROUND_HALF_EVEN, "half_up": ROUND_HALF_UP}
ALLOCATIONS = ("pro_rata", "metric_order")
PRECISION = 60


def to_decimal(x: object) -> Decimal:
    """Return ``x`` as an exact :class:`~decimal.Decimal`.

    Raises
    ------
    ValueError
        If ``x`` is not a finite real number (booleans are refused too).
    """
    if isinstance(x, bool) or x is None:
        raise ValueError(f"not a number: {x!r}")
    if isinstance(x, Decimal):
        d = x
    elif isinstance(x, numbers.Integral):
        d = Decimal(int(x))
    elif isinstance(x, numbers.Real):
        f = float(x)
        if not math.isfinite(f):
            raise ValueError(f"not a finite number: {x!r}")
        d = Decimal(repr(f))
    elif isinstance(x, str):
        try:
            d = Decimal(x.strip())
        except InvalidOperation as err:
            raise ValueError(f"not a number: {x!r}") from err
    else:
        raise ValueError(f"not a number: {x!r}")
    if not d.is_finite():
        raise ValueError(f"not a finite number: {x!r}")
    return d


def euros_to_cents(x: object) -> int:
    """Convert an amount in euros with at most two decimals to integer cents.

    Raises
    ------
    ValueError
        If ``x`` is not a finite number or has fractions of a cent.
    """
    d = to_decimal(x) * 100
    if d != d.to_integral_value():
        raise ValueError(f"{x!r} has fractions of a cent (at most two decimals allowed)")
    return int(d)


def round_to_cents(amount_cents: Decimal, rounding: str) -> int:
    """Round an exact amount in cents to an integer number of cents."""
    return int(amount_cents.quantize(Decimal(1), rounding=ROUNDINGS[rounding]))


def product_cents(price_cents: int, *factors: Decimal, rounding: str) -> tuple[Decimal, int]:
    """Return ``price_cents × Π factors`` exactly and rounded once to the cent."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        exact = Decimal(price_cents)
        for f in factors:
            exact *= f
        return exact, round_to_cents(exact, rounding)


def divide(a: Decimal, b: Decimal) -> Decimal:
    """Exact-as-possible quotient (60 significant digits)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return a / b


def cents_to_euros(cents: int) -> Decimal:
    """Return an amount in cents as exact euros (two decimals)."""
    return (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))


def format_eur(cents: int | None) -> str:
    """Format cents as ``€12,345.67`` (``"—"`` for ``None``)."""
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    return f"{sign}€{abs(cents_to_euros(cents)):,.2f}"


def allocate(total: int, amounts: Sequence[int], method: str) -> list[int]:
    """Share ``total`` cents among claims ``amounts`` (each claim gets at most its amount).

    ``pro_rata``
        Each claim gets ``floor(total · a_k / Σa)`` cents; the cents left over (fewer than
        the number of claims) go one each to the claims with the largest remainders, ties
        to the claim listed first (Hamilton's largest-remainder method).
    ``metric_order``
        Claims are served in order, each in full, until ``total`` runs out.

    Parameters
    ----------
    total
        Cents to share, ``0 <= total <= sum(amounts)``.
    amounts
        Non-negative claims in cents, in metric order.
    method
        ``"pro_rata"`` or ``"metric_order"``.

    Returns
    -------
    list of int
        Shares in cents; they sum exactly to ``total``.
    """
    s = sum(amounts)
    if any(a < 0 for a in amounts) or not 0 <= total <= s:
        raise ValueError(f"cannot allocate {total} among {list(amounts)}")
    if total == s:
        return list(amounts)
    if method == "metric_order":
        out, left = [], total
        for a in amounts:
            take = min(a, left)
            out.append(take)
            left -= take
        return out
    if method != "pro_rata":
        raise ValueError(f"unknown allocation {method!r}")
    floors = [total * a // s for a in amounts]
    rems = [total * a % s for a in amounts]
    left = total - sum(floors)
    order = sorted(range(len(amounts)), key=lambda i: (-rems[i], i))
    for i in order[:left]:
        floors[i] += 1
    return floors
