"""Budget state for banners, the dashboard and the budget pages, read from the daily rollup."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _

from accounts.models import Budget
from prompts.usage.budgets import MonthSpend, budgets_for, spent_in_month
from prompts.usage.money import percent_of, yuan


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    spent: Decimal

    @property
    def is_team(self) -> bool:
        return self.budget.user_id is None

    @property
    def share(self) -> Decimal:
        """Spent / limit; a limit of ¥0 counts as used up."""
        if self.budget.monthly_limit <= 0:
            return Decimal(1)
        return self.spent / self.budget.monthly_limit

    @property
    def percent(self) -> int:
        """From the amounts as shown next to it (prompts.usage.money.percent_of)."""
        return percent_of(self.spent, self.budget.monthly_limit)

    @property
    def bar_percent(self) -> int:
        return min(self.percent, 100)

    @property
    def remaining(self) -> Decimal:
        return max(self.budget.monthly_limit - self.spent, Decimal(0))

    @property
    def level(self) -> str:
        if self.share >= 1:
            return "error"
        if self.share >= self.budget.warn_at:
            return "warning"
        return "ok"


def budget_statuses(*, team_id: int, user_id: int | None, day: date | None = None,
                    budgets: list[Budget] | None = None, spend: MonthSpend | None = None
                    ) -> list[BudgetStatus]:
    """The team's budget, then the user's own budget in that team, with this month's spending.

    Two queries whatever the number of budgets (none for what the caller passes in)."""
    if budgets is None:
        budgets = budgets_for(team_id=team_id, user_id=user_id)
    if not budgets:
        return []
    spent = spend or spent_in_month(team_id=team_id, day=day, held=False)
    return [BudgetStatus(budget=budget, spent=spent.of(budget.user_id)) for budget in budgets]


def team_budget_statuses(*, team_id: int, day: date | None = None) -> list[BudgetStatus]:
    """Every budget of a team (the team's first, then users' by name) for the budget page."""
    budgets = list(Budget.objects.filter(team_id=team_id).select_related("user", "updated_by"))
    spent = spent_in_month(team_id=team_id, day=day, held=False)
    statuses = [BudgetStatus(budget=budget, spent=spent.of(budget.user_id)) for budget in budgets]
    statuses.sort(key=lambda s: (not s.is_team, s.budget.user.username if s.budget.user else ""))
    return statuses


def _banner_text(status: BudgetStatus) -> str:
    # Whole sentences per case, never fragments: word order differs in Chinese.
    values = {
        "limit": yuan(status.budget.monthly_limit),
        "spent": yuan(status.spent),
        "pct": status.percent,
    }
    if status.level == "error":
        if status.is_team:
            return _(
                "The team's monthly budget of ¥%(limit)s is used up: new jobs are refused and "
                "queued ones wait until a manager raises it or the month turns."
            ) % values
        return _(
            "Your monthly budget of ¥%(limit)s is used up: your new jobs are refused and your "
            "queued ones wait until a manager raises it or the month turns."
        ) % values
    if status.is_team:
        return _(
            "The team has used %(pct)s%% of its monthly budget (¥%(spent)s of ¥%(limit)s)."
        ) % values
    return _(
        "You have used %(pct)s%% of your monthly budget (¥%(spent)s of ¥%(limit)s)."
    ) % values


def budget_banners(*, team_id: int, user_id: int) -> list[dict]:
    return [
        {"level": status.level, "text": _banner_text(status)}
        for status in budget_statuses(team_id=team_id, user_id=user_id)
        if status.level != "ok"
    ]
