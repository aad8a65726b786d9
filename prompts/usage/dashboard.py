"""The member's dashboard: their own usage in their current team, today, 7 days, this month,
a 30-day chart and their projects — read from the daily rollup."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prompts.models import DailyUsage
from prompts.usage.budget_status import BudgetStatus, budget_statuses
from prompts.usage.budgets import Unconfirmed, budgets_for, spent_in_month
from prompts.usage.forecast import Forecast, budget_forecasts
from prompts.usage.periods import month_start
from prompts.usage.reports import Usage, sums

CHART_DAYS = 30


@dataclass
class Period:
    name: str
    since: date
    usage: Usage


@dataclass
class Dashboard:
    today: date
    periods: list[Period]
    month: Usage
    daily: list[Usage]
    chart: dict
    projects: list[Usage]
    budgets: list[BudgetStatus]
    forecasts: list[Forecast]
    unconfirmed: Unconfirmed  # the user's this month: in no figure above

    @property
    def unpriced_calls(self) -> int:
        return self.month.unpriced_calls


def usage_dashboard(*, user_id: int, team_id: int, now: datetime | None = None) -> Dashboard:
    """One user's usage in one team: today, 7 days, this month, a 30-day chart, projects,
    budgets with the month-end forecast, and their unconfirmed calls.

    Seven queries (3 of the rollup on its (user, day) index, the budgets, the month's
    spending with what open calls hold, the run rate, queued jobs) and one per model of
    queued work."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    month = month_start(today)
    week = today - timedelta(days=6)
    mine = DailyUsage.objects.filter(user_id=user_id, team_id=team_id)

    row = mine.filter(day__gte=min(month, week), day__lte=today).aggregate(
        **sums("today_", Q(day=today)), **sums("week_", Q(day__gte=week)),
        **sums("month_", Q(day__gte=month)),
    )
    periods = [
        Period(str(_("Today")), today, Usage.from_row(row, prefix="today_")),
        Period(str(_("Last 7 days")), week, Usage.from_row(row, prefix="week_")),
        Period(str(_("This month")), month, Usage.from_row(row, prefix="month_")),
    ]

    first_chart_day = today - timedelta(days=CHART_DAYS - 1)
    by_day = {
        r["day"]: Usage.from_row(r, key=r["day"], label=r["day"].isoformat())
        for r in mine.filter(day__gte=first_chart_day, day__lte=today)
        .values("day").annotate(**sums()).order_by()
    }
    daily = [
        by_day.get(day) or Usage(key=day, label=day.isoformat())
        for day in (first_chart_day + timedelta(days=n) for n in range(CHART_DAYS))
    ]

    projects = [
        Usage.from_row(r, key=r["project_id"], label=r["project__name"])
        for r in mine.filter(day__gte=month, day__lte=today)
        .values("project_id", "project__name").annotate(**sums()).order_by("-cost",
                                                                               "project__name")
    ]
    budgets = budgets_for(team_id=team_id, user_id=user_id)
    spend = spent_in_month(team_id=team_id, day=today)
    return Dashboard(
        today=today,
        periods=periods,
        month=periods[2].usage,
        daily=daily,
        chart=_chart(daily),
        projects=projects,
        budgets=budget_statuses(team_id=team_id, user_id=user_id, budgets=budgets,
                                spend=spend),
        forecasts=budget_forecasts(team_id=team_id, user_id=user_id, spend=spend,
                                   budgets=budgets, now=now),
        unconfirmed=spend.unconfirmed_of(user_id),
    )


def _chart(daily: list[Usage]) -> dict:
    """Data for the vendored Chart.js, passed to the page with json_script."""
    return {
        "labels": [usage.key.strftime("%m-%d") for usage in daily],
        "input_tokens": [usage.prompt_tokens for usage in daily],
        "output_tokens": [usage.completion_tokens for usage in daily],
        # Exact (6 places); the chart labels them with the one display rule (static/js/money.js).
        "cost": [float(usage.cost) for usage in daily],
        "names": {
            "input_tokens": str(_("Input tokens")),
            "output_tokens": str(_("Output tokens")),
            "cost": str(_("Cost (¥)")),
            "tokens": str(_("Tokens")),
        },
    }
