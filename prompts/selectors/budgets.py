"""Budget state for banners and pages."""

from django.utils.translation import gettext as _

from accounts.models import Budget
from prompts.services.budgets import spent_in_month


def budget_banners(*, team_id: int, user_id: int) -> list[dict]:
    banners = []
    budgets = Budget.objects.filter(team_id=team_id).filter(user__isnull=True) | \
        Budget.objects.filter(team_id=team_id, user_id=user_id)
    for budget in budgets:
        if budget.monthly_limit <= 0:
            spent_share = 1
        else:
            spent = spent_in_month(team_id=team_id, user_id=budget.user_id)
            spent_share = spent / budget.monthly_limit
        whose = _("Your") if budget.user_id else _("The team's")
        if spent_share >= 1:
            banners.append({"level": "error", "text": _(
                "%(whose)s monthly budget of ¥%(limit)s is used up: new jobs are refused and "
                "queued ones wait until a manager raises it or the month turns.")
                % {"whose": whose, "limit": budget.monthly_limit}})
        elif spent_share >= budget.warn_at:
            banners.append({"level": "warning", "text": _(
                "%(whose)s monthly budget is %(pct)s%% used (¥%(limit)s).")
                % {"whose": whose, "pct": int(spent_share * 100), "limit": budget.monthly_limit}})
    return banners
