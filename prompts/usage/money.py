"""Showing ¥ and shares: the only place an amount or a percentage is rounded for people.

One rule for pages, the chart (static/js/money.js follows it), banners, e-mails and the
API's formatted fields: amounts under ¥1 with up to 4 decimals (¥0.0053, ¥0.05), from ¥1
with 2 (¥12.40), thousands grouped, half up. CSV and JSON keep the ledger's exact 6 places
(`exact`).

A percentage shown next to amounts is computed from the amounts as shown, so a reader who
divides them gets the same figure: "¥0.0505 of ¥0.05 (101%)", never "¥0.05 of ¥0.05
(101%)". Shares of a whole (success, failure and moderation rates) add up to exactly 100.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
SMALLEST = Decimal("0.0001")
EXACT = Decimal("0.000001")


def yuan_rounded(amount: Decimal | None) -> Decimal:
    """The amount as it is shown: 4 places under ¥1, else 2 (half up)."""
    amount = Decimal(amount or 0)
    fine = amount.quantize(SMALLEST, rounding=ROUND_HALF_UP)
    if abs(fine) < 1:
        return fine
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def yuan(amount: Decimal | None) -> str:
    """"0.0053", "0.05", "0.50", "12.40", "1,234.50" (no ¥ sign: the text around it has one)."""
    amount = Decimal(amount or 0)
    rounded = yuan_rounded(amount)
    if rounded == 0 and amount != 0:
        # A token or two costs less than ¥0.0001: "0.00" would read as free.
        return "<0.0001" if amount > 0 else "-<0.0001"
    if abs(rounded) < 1:
        # Up to 4 places, at least 2: 0.0053, 0.034, 0.05.
        text = f"{rounded:f}".rstrip("0")
        whole, _dot, fraction = text.partition(".")
        return f"{whole}.{fraction.ljust(2, '0')}"
    return f"{rounded:,.2f}"


def exact(amount: Decimal | None) -> str:
    """The ledger's 6 places, for CSV and JSON: "0.005300"."""
    return str(Decimal(amount or 0).quantize(EXACT, rounding=ROUND_HALF_UP))


def percent_of(part: Decimal, whole: Decimal) -> int:
    """Whole percent of `part` in `whole`, from the amounts as shown, rounded down (a budget
    at 99.6% is not yet used up). A whole of ¥0 counts as used up."""
    shown_whole = yuan_rounded(whole)
    if shown_whole <= 0:
        return 100
    share = yuan_rounded(part) * 100 / shown_whole
    return int(share.to_integral_value(rounding=ROUND_DOWN))


def shares(parts: list[int], places: int = 1) -> list[Decimal | None]:
    """Percentages of `parts` in their sum that add up to exactly 100: each is rounded down,
    then the leftover units go to the largest remainders. None for all when the sum is 0."""
    whole = sum(parts)
    if not whole:
        return [None] * len(parts)
    unit = Decimal(1).scaleb(-places)
    exact_shares = [Decimal(part) * 100 / whole for part in parts]
    floors = [share.quantize(unit, rounding=ROUND_DOWN) for share in exact_shares]
    leftover = int(((Decimal(100) - sum(floors)) / unit).to_integral_value())
    by_remainder = sorted(range(len(parts)), key=lambda i: exact_shares[i] - floors[i],
                          reverse=True)
    for index in by_remainder[:leftover]:
        floors[index] += unit
    return floors
