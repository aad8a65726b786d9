"""The month-end forecast: spent + held + queued at most + the recent run rate for the time
left, on a fixed clock (2026-11-20 10:00 in Shanghai: 10 days and 14 hours left)."""

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from prompts.models import GatewayCall
from prompts.usage.budgets import budget_set
from prompts.usage.forecast import budget_forecasts, project_forecasts
from prompts.usage.ledger import ledger_open
from tests.clock import local
from tests.factories import JobFactory, ProjectFactory

DAYS_LEFT = Decimal("10.5833")  # 2026-11-20 10:00 → 2026-12-01 00:00


def _spend(charge, user, project, yuan: str, at):
    """¥`yuan` at ¥2 per 1M input tokens."""
    charge(user=user, project=project, at=at, prompt=int(Decimal(yuan) * 500_000), completion=0)


def test_it_projects_the_month_end_from_spending_held_queued_and_the_run_rate(
        frozen_clock, crew, project, price, charge):
    budget_set(team=crew.team, monthly_limit=Decimal("50"), actor=crew.manager)
    # The last 7 full days (11-13..11-19): ¥14, so ¥2 a day; earlier days do not count.
    for day in range(13, 20):
        _spend(charge, crew.member, project, "2", local(2026, 11, day, 15))
    _spend(charge, crew.member, project, "5", local(2026, 11, 3, 15))
    _spend(charge, crew.member, project, "1", local(2026, 11, 20, 9))  # today
    _spend(charge, crew.member, project, "9", local(2026, 10, 31, 23, 59))  # last month
    # A call in flight (held at its maximum) and a queued job (at most ¥0.0046).
    job = JobFactory(project=project, created_by=crew.member, estimated_input_tokens=300,
                     max_tokens=500, status="running", lease_until=timezone.now())
    ledger_open(job=job, attempt=1, team_id=crew.team.id, key_id=None, price=price,
                started_at=timezone.now())
    JobFactory(project=project, created_by=crew.member, estimated_input_tokens=300,
               max_tokens=500)

    [team] = budget_forecasts(team_id=crew.team.id, user_id=crew.member.id)
    assert team.spent == Decimal("20")  # 14 + 5 + 1, not October's 9
    assert team.reserved == Decimal("0.004600")
    assert team.queued == Decimal("0.004600")
    assert (team.rate, team.days_left) == (Decimal("2"), DAYS_LEFT)
    assert team.projected == Decimal("41.175800")  # 20 + 0.0046 × 2 + 2 × 10.5833
    assert not team.over_budget


def test_it_warns_when_the_pace_crosses_the_budget_before_the_warning_mark(
        frozen_clock, crew, project, price, charge, member_client, manager_browser):
    budget_set(team=crew.team, monthly_limit=Decimal("40"), actor=crew.manager)
    for day in range(13, 20):
        _spend(charge, crew.member, project, "3", local(2026, 11, day, 15))

    [team] = budget_forecasts(team_id=crew.team.id, user_id=crew.member.id)
    # 21 spent is 52% of the budget, well below the 80% warning; at ¥3 a day it ends at 52.75.
    assert team.projected == Decimal("52.749900")
    assert team.over_budget and team.early_warning

    html = member_client.get(reverse("home")).content.decode()
    assert "¥52.75 by the end of the month" in html
    assert "At this pace the month ends above the budget of ¥40.00" in html
    assert "spending has not reached the warning mark yet" in html
    report = manager_browser.get(reverse("usage_report"), {"team": crew.team.pk}).content.decode()
    assert "At this pace the month ends above the budget of ¥40.00" in report


def test_it_forecasts_each_project_and_the_members_own_budget(frozen_clock, crew, project,
                                                              price, charge):
    other = ProjectFactory(team=crew.team, name="Autumn")
    budget_set(team=crew.team, user=crew.member, monthly_limit=Decimal("10"),
               actor=crew.manager)
    _spend(charge, crew.member, project, "7", local(2026, 11, 19, 15))
    _spend(charge, crew.manager, other, "14", local(2026, 11, 18, 15))
    JobFactory(project=other, created_by=crew.manager, model="no-price-yet")

    team, mine = budget_forecasts(team_id=crew.team.id, user_id=crew.member.id)
    assert (team.budget, team.spent, team.rate) == (None, Decimal("21"), Decimal("3"))
    assert team.queued_unpriced == 1
    assert (mine.budget.user, mine.spent, mine.rate) == (crew.member, Decimal("7"), Decimal("1"))
    assert mine.projected == Decimal("17.583300") and mine.over_budget

    projects = {f.label: f for f in project_forecasts(team_id=crew.team.id)}
    assert projects["Spring Campaign"].projected == Decimal("17.583300")
    assert projects["Autumn"].projected == Decimal("35.166600")  # 14 + 2 × 10.5833
    assert projects["Autumn"].queued_unpriced == 1


def test_it_counts_only_open_calls_of_this_month_as_held(frozen_clock, crew, project, price):
    job = JobFactory(project=project, created_by=crew.member)
    old = ledger_open(job=job, attempt=1, team_id=crew.team.id, key_id=None, price=price,
                      started_at=timezone.now() - timedelta(days=40))
    GatewayCall.objects.filter(pk=old.pk).update(state="unknown")
    [team] = budget_forecasts(team_id=crew.team.id, user_id=crew.member.id)
    assert team.reserved == 0
