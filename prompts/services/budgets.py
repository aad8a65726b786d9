"""Monthly ¥ budgets: how much a team or user has spent this month, and whether a limit is hit.

Months are local (TIME_ZONE, Asia/Shanghai by default) and read from the daily rollup.
"""

from datetime import date
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import Budget
from prompts.models import DailyUsage


def month_start(day: date | None = None) -> date:
    day = day or timezone.localdate()
    return day.replace(day=1)


def spent_in_month(*, team_id: int, user_id: int | None = None, day: date | None = None) -> Decimal:
    filters = Q(team_id=team_id, day__gte=month_start(day))
    if user_id is not None:
        filters &= Q(user_id=user_id)
    total = DailyUsage.objects.filter(filters).aggregate(total=Sum("cost"))["total"]
    return total or Decimal(0)


def budget_exceeded(*, team_id: int, user_id: int) -> Budget | None:
    """The team's or the user's budget that this month's spending has reached, if any."""
    budgets = Budget.objects.filter(Q(user__isnull=True) | Q(user_id=user_id), team_id=team_id)
    for budget in budgets:
        spent = spent_in_month(team_id=team_id, user_id=budget.user_id)
        if spent >= budget.monthly_limit:
            return budget
    return None
