"""The per-user dashboard on the home page."""

from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from prompts.usage.dashboard import usage_dashboard
from tests.clock import local
from tests.factories import ProjectFactory, UserFactory


def test_it_sums_today_the_last_7_days_and_the_month_by_local_day(crew, project, price,
                                                                    charge):
    other = ProjectFactory(team=crew.team, name="Autumn")
    charge(user=crew.member, project=project, at=local(2026, 3, 15, 0, 30))   # today
    charge(user=crew.member, project=other, at=local(2026, 3, 9, 8))         # within 7 days
    charge(user=crew.member, project=other, at=local(2026, 3, 8, 23, 59))    # 8 days ago
    charge(user=crew.member, project=project, at=local(2026, 2, 28, 23, 59))  # last month
    charge(user=crew.member, project=project, at=local(2026, 3, 16, 9))      # tomorrow

    dashboard = usage_dashboard(user_id=crew.member.id, team_id=crew.team.id,
                                now=local(2026, 3, 15, 12))
    today, week, month = (period.usage for period in dashboard.periods)
    assert (today.calls, week.calls, month.calls) == (1, 2, 3)
    assert month.prompt_tokens == 3000 and month.completion_tokens == 1500
    assert month.cost == Decimal("0.018")  # 3 × (1000×2 + 500×8) / 1e6
    assert [(row.label, row.calls) for row in dashboard.projects] == [
        ("Autumn", 2), ("Spring Campaign", 1)]
    assert len(dashboard.daily) == 30 and dashboard.daily[-1].key == date(2026, 3, 15)
    assert dashboard.chart["input_tokens"][-1] == 1000
    # Exact, not rounded to the cent: the chart labels ¥ with the one display rule.
    assert dashboard.chart["cost"][-1] == 0.006


def test_it_shows_success_failure_and_moderation_rates_and_the_waste(crew, project, price,
                                                                     charge, member_client):
    charge(user=crew.member, project=project, prompt=1000, completion=500)
    charge(user=crew.member, project=project, prompt=1000, completion=500)
    charge(user=crew.member, project=project, prompt=2000, completion=0, outcome="moderation")
    charge(user=crew.member, project=project, prompt=0, completion=0, outcome="transient")

    page = member_client.get(reverse("home"))
    today = page.context["dashboard"].periods[0].usage
    assert (today.success_rate, today.failure_rate, today.moderation_rate) == (
        Decimal("50.0"), Decimal("25.0"), Decimal("25.0"))
    assert today.waste_cost == Decimal("0.004")  # the rejected call's 2000 input tokens
    html = page.content.decode()
    assert "50.0%" in html and "25.0%" in html
    assert "Waste (¥)" in html


def test_it_shows_rates_that_add_up_to_exactly_100(crew, project, price, charge, member_client):
    # 4 successes, 1 failure, 1 rejection: rounded one by one, 66.7 + 16.7 + 16.7 = 100.1%.
    for outcome in ("ok", "ok", "ok", "ok", "transient", "moderation"):
        charge(user=crew.member, project=project, prompt=1000, completion=0, outcome=outcome)
    page = member_client.get(reverse("home"))
    today = page.context["dashboard"].periods[0].usage
    rates = (today.success_rate, today.failure_rate, today.moderation_rate)
    assert sum(rates) == Decimal("100.0")
    assert rates == (Decimal("66.7"), Decimal("16.7"), Decimal("16.6"))


def test_it_shows_a_member_only_their_own_usage(crew, project, price, charge, member_client):
    charge(user=crew.member, project=project, prompt=1000, completion=0)
    charge(user=crew.manager, project=project, prompt=900_000, completion=0)

    page = member_client.get(reverse("home"), {"user": crew.manager.pk})
    month = page.context["dashboard"].month
    assert month.prompt_tokens == 1000
    assert "900,000" not in page.content.decode()


def test_it_shows_unpriced_calls_loudly_and_never_zero_yuan(crew, project, charge,
                                                            member_client):
    charge(user=crew.member, project=project, model="unknown-model")
    html = member_client.get(reverse("home")).content.decode()
    assert "unpriced calls: 1" in html
    assert 'role="alert"' in html
    today_cost = html[html.index('data-period="1"'):]
    today_cost = today_cost[:today_cost.index("</td>")]
    assert "unpriced calls: 1" in today_cost and "¥" not in today_cost


def test_it_passes_chart_data_with_json_script_and_the_vendored_chart(crew, project, price,
                                                                      charge, member_client):
    charge(user=crew.member, project=project)
    html = member_client.get(reverse("home")).content.decode()
    assert 'id="usage-chart-data" type="application/json"' in html
    assert "/static/vendor/chart.umd.min.js" in html
    assert "cdn" not in html.lower()
    assert "new Chart" not in html  # the chart is drawn by static/js/usage_chart.js


def test_it_compares_the_month_with_the_users_and_the_teams_budget(crew, project, price,
                                                                   charge, member_client):
    from prompts.usage.budgets import budget_set

    budget_set(team=crew.team, monthly_limit=Decimal("100"), actor=crew.manager)
    budget_set(team=crew.team, user=crew.member, monthly_limit=Decimal("10"),
               actor=crew.manager)
    charge(user=crew.member, project=project, prompt=1_000_000, completion=0)  # ¥2
    charge(user=crew.manager, project=project, prompt=2_000_000, completion=0)  # ¥4

    page = member_client.get(reverse("home"))
    team, mine = page.context["dashboard"].budgets
    assert (team.is_team, team.spent, team.percent) == (True, Decimal("6"), 6)
    assert (mine.is_team, mine.spent, mine.percent) == (False, Decimal("2"), 20)
    html = page.content.decode()
    assert "¥6.00 of ¥100.00 (6%)" in html and "¥2.00 of ¥10.00 (20%)" in html


def test_it_reads_the_dashboard_in_a_fixed_number_of_queries(crew, price, charge,
                                                             member_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert member_client.get(reverse("home")).status_code == 200
        return len(context.captured_queries)

    first = ProjectFactory(team=crew.team, name="P0")
    charge(user=crew.member, project=first)
    few = queries()
    now = timezone.now()
    for n in range(1, 8):
        project = ProjectFactory(team=crew.team, name=f"P{n}")
        for days in range(0, 20, 3):
            charge(user=crew.member, project=project, at=now - timedelta(days=days))
    assert queries() == few  # no query per project, day or budget row
    assert few <= 14  # 12 before the forecast (run rate, queued jobs)


def test_it_welcomes_a_user_without_a_team(client, db):
    client.force_login(UserFactory(username="newbie"))
    page = client.get(reverse("home"))
    assert page.status_code == 200
    assert page.context["dashboard"] is None
    assert "You are not in a team yet" in page.content.decode()
