"""Local days and months (TIME_ZONE, Asia/Shanghai by default): usage and budgets count in them.

DailyUsage.day is the local day of each call, so a call at 23:59 on the 31st and one at
00:01 on the 1st fall in different months.
"""

from datetime import date, datetime, time

from django.utils import timezone


def month_start(day: date | None = None) -> date:
    day = day or timezone.localdate()
    return day.replace(day=1)


def next_month_start(day: date | None = None) -> date:
    first = month_start(day)
    return first.replace(year=first.year + 1, month=1) if first.month == 12 else \
        first.replace(month=first.month + 1)


def local_midnight(day: date) -> datetime:
    """The aware start of a local day."""
    return timezone.make_aware(datetime.combine(day, time.min))
