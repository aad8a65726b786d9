from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Budget, Team, User
from prompts.usage.budget_status import team_budget_statuses
from prompts.usage.budgets import budget_set
from prompts.usage.money import yuan


def _amount(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise CommandError(f"{value!r} is not a number.") from None


class Command(BaseCommand):
    help = "Set a team's (or one member's) monthly ¥ budget, or list budgets. Audited."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        set_parser = actions.add_parser("set", help="set or change a monthly budget")
        set_parser.add_argument("--team", required=True, help="team name")
        set_parser.add_argument("--user", help="username: a budget for this member only")
        set_parser.add_argument("--monthly-rmb", required=True, type=_amount, help="limit in ¥")
        set_parser.add_argument("--warn-at", type=_amount,
                                help="share of the limit that warns the managers (default 0.8)")
        list_parser = actions.add_parser("list", help="budgets and this month's spending")
        list_parser.add_argument("--team", help="team name (default: every team)")

    def handle(self, *args, action, **opts):
        if action == "set":
            self._set(**opts)
        else:
            self._list(opts.get("team"))

    def _team(self, name: str) -> Team:
        team = Team.objects.filter(name=name).first()
        if team is None:
            raise CommandError(f"No team named {name!r}.")
        return team

    def _set(self, *, team, user, monthly_rmb, warn_at, **_opts):
        team = self._team(team)
        member = None
        if user:
            member = User.objects.filter(username=user).first()
            if member is None:
                raise CommandError(f"No user {user!r}.")
        try:
            budget = budget_set(team=team, user=member, monthly_limit=monthly_rmb,
                                warn_at=warn_at, actor=None)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        whose = f"{team.name} / {member.username}" if member else team.name
        self.stdout.write(self.style.SUCCESS(
            f"Budget for {whose}: ¥{yuan(budget.monthly_limit)} a month, warning at "
            f"{budget.warn_at:.0%}."))

    def _list(self, team_name: str | None):
        teams = [self._team(team_name)] if team_name else Team.objects.filter(
            pk__in=Budget.objects.values("team_id")).order_by("name")
        for team in teams:
            for status in team_budget_statuses(team_id=team.pk):
                whose = status.budget.user.username if status.budget.user else "(team)"
                self.stdout.write(
                    f"{team.name:24} {whose:16} ¥{yuan(status.budget.monthly_limit):>12} "
                    f"spent ¥{yuan(status.spent):>12} {status.percent:>4}% "
                    f"warn at {status.budget.warn_at:.0%}")
