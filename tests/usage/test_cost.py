"""Cost arithmetic against hand-computed values; rounding happens only for display."""

from decimal import Decimal

import pytest
from django.urls import reverse

from prompts.models import ModelPrice
from prompts.usage.ledger import call_cost
from prompts.usage.money import yuan
from prompts.usage.reports import usage_report
from tests.clock import local
from tests.factories import MembershipFactory, UserFactory


def _price(input_per_mtok: str, output_per_mtok: str) -> ModelPrice:
    return ModelPrice(input_per_mtok=Decimal(input_per_mtok),
                      output_per_mtok=Decimal(output_per_mtok))


@pytest.mark.parametrize(
    ("price_in", "price_out", "prompt", "completion", "expected"),
    [
        ("2", "8", 1000, 500, "0.006000"),          # (1000×2 + 500×8) / 1e6
        ("2", "8", 1, 0, "0.000002"),               # one token
        ("0.5", "0", 1, 0, "0.000001"),             # 0.0000005 rounds half up at 6 places
        ("0.3", "0", 1, 0, "0.000000"),             # 0.0000003 is below the ledger's precision
        ("2", "8", 199_999, 32_768, "0.662142"),    # the largest single request
        ("1234.567891", "0", 10_000_000_000, 0, "12345678.910000"),  # huge totals stay exact
        ("12.5", "37.5", 0, 0, "0.000000"),         # a refused call with no tokens
    ],
)
def test_it_charges_hand_computed_amounts(price_in, price_out, prompt, completion, expected):
    cost = call_cost(_price(price_in, price_out), prompt, completion)
    assert cost == Decimal(expected)
    assert str(cost) == expected  # six places, never a float


def test_it_rounds_half_up_only_when_displaying():
    assert yuan(Decimal("2.345000")) == "2.35"  # half up, not banker's 2.34
    assert yuan(Decimal("2.344999")) == "2.34"
    assert yuan(Decimal("1234567.891")) == "1,234,567.89"
    assert yuan(None) == "0.00"
    assert yuan(Decimal("0.000402")) == "0.0004"  # under ¥1: up to 4 places
    assert yuan(Decimal("0.000049")) == "<0.0001"  # charged, but less than ¥0.0001


def test_it_sums_exact_costs_and_rounds_the_total_once(crew, project, price, charge,
                                                       manager_client):
    # Three people each spend ¥0.00402: shown per row as ¥0.004, but the team spent
    # ¥0.01206, which shows as ¥0.0121; rounding each row first would give ¥0.012.
    people = [crew.member, crew.manager, UserFactory(username="mei")]
    MembershipFactory(user=people[2], team=crew.team)
    for person in people:
        charge(user=person, project=project, at=local(2026, 3, 10), prompt=2010, completion=0)

    report = usage_report(team=crew.team, since=local(2026, 3, 1).date(),
                          until=local(2026, 3, 31).date(), group_by="user")
    assert [row.cost for row in report.rows] == [Decimal("0.00402")] * 3
    assert report.total.cost == Decimal("0.012060")

    page = manager_client.get(reverse("usage_report"), {
        "team": crew.team.pk, "since": "2026-03-01", "until": "2026-03-31", "group_by": "user"})
    html = page.content.decode()
    tbody = html[html.index("<tbody>"):html.index("</tbody>")]
    assert tbody.count("¥0.004<") == 3
    tfoot = html[html.index("<tfoot>"):html.index("</tfoot>")]
    assert "¥0.0121" in tfoot
