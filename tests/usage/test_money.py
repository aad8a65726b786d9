"""One display rule for ¥ and percentages, and every place that shows them agreeing."""

from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from prompts.usage.budget_status import budget_banners, budget_statuses
from prompts.usage.budgets import budget_set, budget_warnings_send
from prompts.usage.money import exact, percent_of, shares, yuan


@pytest.mark.parametrize(("amount", "shown"), [
    ("0", "0.00"),
    ("0.005300", "0.0053"),          # under ¥1: up to 4 decimals
    ("0.034200", "0.0342"),
    ("0.050000", "0.05"),            # at least 2
    ("0.500000", "0.50"),
    ("0.000049", "<0.0001"),         # charged, but it would round to ¥0.0000
    ("0.000050", "0.0001"),          # half up
    ("0.999960", "1.00"),            # rounds up to ¥1: from there, 2 decimals
    ("12.400000", "12.40"),
    ("12.405000", "12.41"),
    ("1234567.891000", "1,234,567.89"),
    ("-0.500000", "-0.50"),
])
def test_it_shows_yuan_by_one_rule(amount, shown):
    assert yuan(Decimal(amount)) == shown


def test_it_keeps_six_exact_places_for_csv_and_json():
    assert exact(Decimal("0.0053")) == "0.005300" and exact(None) == "0.000000"


@pytest.mark.parametrize(("spent", "limit", "percent"), [
    ("0.050500", "0.05", 101),   # "¥0.0505 of ¥0.05 (101%)", not "¥0.05 of ¥0.05 (101%)"
    ("0.049996", "0.05", 100),   # shown as ¥0.05 of ¥0.05: the percentage says the same
    ("49.996", "50", 100),       # ¥50.00 of ¥50.00
    ("0.0465", "0.05", 93),
    ("12.40", "0", 100),         # a limit of ¥0 is used up
    ("0", "10", 0),
])
def test_it_computes_a_percentage_from_the_amounts_as_shown(spent, limit, percent):
    assert percent_of(Decimal(spent), Decimal(limit)) == percent


@pytest.mark.parametrize("parts", [[4, 1, 1], [1, 1, 1], [2, 1, 0], [997, 2, 1], [1, 0, 0]])
def test_it_makes_shares_add_up_to_100(parts):
    result = shares(parts)
    assert sum(result) == Decimal("100.0")
    for share, part in zip(result, parts, strict=True):
        assert abs(share - Decimal(part) * 100 / sum(parts)) < Decimal("0.1")


def test_it_has_no_shares_of_nothing():
    assert shares([0, 0, 0]) == [None, None, None]


def test_it_shows_the_same_amounts_and_percentage_on_the_row_banner_and_dashboard(
        crew, project, price, charge):
    manager_client, member_client = Client(), Client()
    manager_client.force_login(crew.manager)
    member_client.force_login(crew.member)
    budget_set(team=crew.team, monthly_limit=Decimal("0.05"), warn_at=Decimal("0.5"),
               actor=crew.manager)
    charge(user=crew.member, project=project, prompt=25_250, completion=0)  # ¥0.0505
    status = budget_statuses(team_id=crew.team.id, user_id=None)[0]
    assert (status.percent, status.level) == (101, "error")

    row = manager_client.get(reverse("budget_list")).content.decode().split(
        'id="budgets"')[1].split("</tbody>")[0]
    assert "¥0.0505</td>" in row and "¥0.05</td>" in row and "101%" in row
    dashboard = member_client.get(reverse("home")).content.decode()
    assert "¥0.0505 of ¥0.05 (101%)" in dashboard

    budget_set(team=crew.team, monthly_limit=Decimal("0.06"), warn_at=Decimal("0.5"),
               actor=crew.manager)  # now ¥0.0505 of ¥0.06: 84%, a warning
    english = budget_banners(team_id=crew.team.id, user_id=crew.member.id)[0]["text"]
    chinese = member_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="zh-hans").content
    assert "used 84% of its monthly budget (¥0.0505 of ¥0.06)" in english
    assert "84%（¥0.0505 / ¥0.06）" in chinese.decode()


def test_it_writes_the_budget_e_mail_with_the_same_rule(crew, project, price, charge):
    crew.manager.email = "mia@example.com"
    crew.manager.save()
    budget_set(team=crew.team, monthly_limit=Decimal("0.05"), actor=crew.manager)
    charge(user=crew.member, project=project, prompt=20_000, completion=0)  # ¥0.04: 80%
    assert budget_warnings_send() == 1
    assert "80%" in mail.outbox[0].subject
    assert "¥0.04 of ¥0.05" in mail.outbox[0].body
