"""Where this month's spending is heading: spent so far, plus what open calls hold, plus the
most that queued and waiting jobs can cost, plus the recent daily run rate for the time
left in the month. For the team (against its budget), the member (against theirs) and
each project; on the dashboard and the manager's report.

The run rate is the average ¥ a day over the last RATE_DAYS full days before today (today's
spending is already in "spent"); the time left runs from now to the month's end, so a
forecast made in the morning counts most of today at the run rate.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import Budget
from prompts.models import DailyUsage, GatewayCall, GenerationJob, Project
from prompts.usage.budgets import MonthSpend, budgets_for, spent_in_month
from prompts.usage.ledger import LEDGER_PLACES, call_cost, price_in_force
from prompts.usage.periods import local_midnight, month_start, next_month_start

RATE_DAYS = 7
DAY_S = Decimal(86_400)


@dataclass(frozen=True)
class Forecast:
    """A month-end projection; `budget` is what it is compared with, if any."""

    label: str
    spent: Decimal
    reserved: Decimal  # calls in flight and unconfirmed, at their maximum cost
    queued: Decimal  # queued and waiting jobs, at their maximum cost
    rate: Decimal  # ¥ a day, recently
    days_left: Decimal
    budget: Budget | None = None
    queued_unpriced: int = 0  # queued jobs of models without a price: not in `queued`

    @property
    def projected(self) -> Decimal:
        return (self.spent + self.reserved + self.queued + self.rate * self.days_left
                ).quantize(LEDGER_PLACES, ROUND_HALF_UP)

    @property
    def empty(self) -> bool:
        """Nothing priced spent, held, queued or recently run: there is nothing to project."""
        return not (self.spent or self.reserved or self.queued or self.rate)

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and self.projected > self.budget.monthly_limit

    @property
    def early_warning(self) -> bool:
        """Heading past the budget while spending is still below its warning mark: the case
        the 80% e-mail and banner would only notice later."""
        return self.over_budget and self.spent < self.budget.monthly_limit * self.budget.warn_at


@dataclass(frozen=True)
class _Pending:
    """The maximum cost of queued and waiting jobs, per key (a user or a project)."""

    amounts: dict
    unpriced: dict


def _days_left(now: datetime) -> Decimal:
    end = local_midnight(next_month_start(timezone.localdate(now)))
    return (Decimal((end - now).total_seconds()) / DAY_S).quantize(Decimal("0.0001"))


def _pending(team_id: int, key: str, now: datetime) -> _Pending:
    """Queued and waiting jobs' maximum cost by `key` ("created_by_id" or "project_id")."""
    rows = (GenerationJob.objects.filter(project__team_id=team_id,
                                         status__in=[GenerationJob.Status.QUEUED,
                                                     GenerationJob.Status.WAITING])
            .values(key, "model").order_by()
            .annotate(jobs=Count("id"), tokens_in=Sum("estimated_input_tokens"),
                      tokens_out=Sum("max_tokens")))
    amounts: dict = {}
    unpriced: dict = {}
    prices: dict = {}
    for row in rows:
        model = row["model"]
        if model not in prices:
            prices[model] = price_in_force(model, now)
        if prices[model] is None:
            unpriced[row[key]] = unpriced.get(row[key], 0) + row["jobs"]
            continue
        cost = call_cost(prices[model], row["tokens_in"] or 0, row["tokens_out"] or 0)
        amounts[row[key]] = amounts.get(row[key], Decimal(0)) + cost
    return _Pending(amounts, unpriced)


def _windows(today) -> tuple[Q, Q]:
    """Rollup days of the run rate (the RATE_DAYS full days before today) and of the month."""
    since = today - timedelta(days=RATE_DAYS)
    return Q(day__gte=since, day__lt=today), Q(day__gte=month_start(today), day__lte=today)


def _rate(total: Decimal | None) -> Decimal:
    return ((total or Decimal(0)) / RATE_DAYS).quantize(LEDGER_PLACES, ROUND_HALF_UP)


def budget_forecasts(*, team_id: int, user_id: int | None, spend: MonthSpend | None = None,
                     budgets: list[Budget] | None = None,
                     now: datetime | None = None) -> list[Forecast]:
    """The team's forecast against its budget, then the member's against theirs (if they
    have one). `spend` (this month's spent_in_month) and `budgets` (budgets_for) when the
    caller has them already. Two queries, and one per model of queued work."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    spend = spend or spent_in_month(team_id=team_id, day=today)
    if budgets is None:
        budgets = budgets_for(team_id=team_id, user_id=user_id)
    recent, _month = _windows(today)
    rates = dict(DailyUsage.objects.filter(recent, team_id=team_id).values("user_id")
                 .order_by().annotate(cost=Sum("cost")).values_list("user_id", "cost"))
    pending = _pending(team_id, "created_by_id", now)
    days_left = _days_left(now)
    team_budget = next((budget for budget in budgets if budget.user_id is None), None)
    forecasts = []
    for whose, budget in [(None, team_budget)] + [(b.user_id, b) for b in budgets if b.user_id]:
        if whose is None:
            rate = sum((v or Decimal(0) for v in rates.values()), Decimal(0))
            queued = sum(pending.amounts.values(), Decimal(0))
            unpriced = sum(pending.unpriced.values())
        else:
            rate = rates.get(whose) or Decimal(0)
            queued = pending.amounts.get(whose, Decimal(0))
            unpriced = pending.unpriced.get(whose, 0)
        forecasts.append(Forecast(
            label="team" if whose is None else "user", spent=spend.of(whose),
            reserved=spend.reserved_of(whose), queued=queued, rate=_rate(rate),
            days_left=days_left, budget=budget, queued_unpriced=unpriced))
    return forecasts


def project_forecasts(*, team_id: int, now: datetime | None = None) -> list[Forecast]:
    """Each project of the team with spending this month, work pending or a recent run rate,
    by name. Four queries (three with no queued work of a priced model)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    recent, month = _windows(today)
    usage = {
        row["project_id"]: row
        for row in DailyUsage.objects.filter(recent | month, team_id=team_id)
        .values("project_id").order_by()
        .annotate(month=Sum("cost", filter=month), recent=Sum("cost", filter=recent))
    }
    first = month_start(today)
    held = dict(
        GatewayCall.objects.filter(team_id=team_id, started_at__gte=local_midnight(first),
                                   started_at__lt=local_midnight(next_month_start(first)))
        .exclude(state=GatewayCall.State.COMPLETED)
        .values("project_id").order_by().annotate(held=Sum("max_cost"))
        .values_list("project_id", "held"))
    pending = _pending(team_id, "project_id", now)
    keys = set(usage) | set(held) | set(pending.amounts) | set(pending.unpriced)
    names = dict(Project.objects.filter(pk__in=keys).values_list("id", "name"))
    days_left = _days_left(now)
    forecasts = [
        Forecast(label=names[key],
                 spent=((usage.get(key) or {}).get("month") or Decimal(0)).quantize(
                     LEDGER_PLACES),
                 reserved=(held.get(key) or Decimal(0)).quantize(LEDGER_PLACES),
                 queued=pending.amounts.get(key, Decimal(0)),
                 rate=_rate((usage.get(key) or {}).get("recent")),
                 days_left=days_left, queued_unpriced=pending.unpriced.get(key, 0))
        for key in keys
    ]
    return sorted(forecasts, key=lambda forecast: forecast.label)
