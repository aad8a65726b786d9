"""Showing ¥: the only place an amount is rounded (2 places, half up, thousands grouped)."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def yuan(amount: Decimal | None) -> str:
    return f"{(amount or Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP):,}"
