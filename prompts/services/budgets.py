"""Monthly ¥ budgets: how much a team or user has spent in a month, and whether a limit is hit.

Months are local (TIME_ZONE, Asia/Shanghai by default): DailyUsage.day is the local day of
each call, so a call at 23:59 on the 31st and one at 00:01 on the 1st fall in different
months. Spending is read from the daily rollup, never from the ledger. Unpriced calls add
nothing to spending (they are shown loudly everywhere money is summed instead).
"""

from datetime import date, datetime, time
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import Budget
from prompts.models import DailyUsage


def month_start(day: date | None = None) -> date:
    day = day or timezone.localdate()
    return day.replace(day=1)


def local_midnight(day: date) -> datetime:
    """The aware start of a local day."""
    return timezone.make_aware(datetime.combine(day, time.min))


def next_month_start(day: date | None = None) -> date:
    first = month_start(day)
    return first.replace(year=first.year + 1, month=1) if first.month == 12 else \
        first.replace(month=first.month + 1)


def spent_in_month(*, team_id: int, user_id: int | None = None, day: date | None = None) -> Decimal:
    """¥ spent in the month of `day` (default today): the team's, or one user's in the team."""
    filters = Q(team_id=team_id, day__gte=month_start(day), day__lt=next_month_start(day))
    if user_id is not None:
        filters &= Q(user_id=user_id)
    total = DailyUsage.objects.filter(filters).aggregate(total=Sum("cost"))["total"]
    return total or Decimal(0)


def budget_exceeded(*, team_id: int, user_id: int, day: date | None = None) -> Budget | None:
    """The team's or the user's budget that the month's spending has reached, if any."""
    budgets = Budget.objects.filter(Q(user__isnull=True) | Q(user_id=user_id), team_id=team_id)
    for budget in budgets:
        spent = spent_in_month(team_id=team_id, user_id=budget.user_id, day=day)
        if spent >= budget.monthly_limit:
            return budget
    return None
