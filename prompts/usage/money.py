"""Showing ¥: the only place an amount is rounded (2 places, half up, thousands grouped)."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def yuan(amount: Decimal | None) -> str:
    amount = amount or Decimal(0)
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if rounded == 0 and amount > 0:
        # A single call often costs a fraction of a fen: "0.00" would read as free.
        return "<0.01"
    return f"{rounded:,}"
