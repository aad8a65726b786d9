"""Monthly ¥ budgets: what a team (or one member in it) has spent this month, whether a
limit is reached, setting and removing limits, and the warn-once e-mail to managers.

Spending is read from the daily rollup; calls still open (in flight, or unknown until the
reconciliation settles them) are held at their maximum cost. Unpriced calls add nothing to
spending (they are shown loudly everywhere money is summed instead). How a job reserves its
maximum cost before its call is prompts.usage.reservations.
"""

import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, F, Q, Sum, Value
from django.utils.translation import gettext as _

from accounts.models import Budget, Membership, Team, User
from accounts.services import audit_record
from prompts.events import budget_event_emit
from prompts.models import DailyUsage, GatewayCall
from prompts.usage.ledger import LEDGER_PLACES
from prompts.usage.money import percent_of, yuan
from prompts.usage.periods import local_midnight, month_start, next_month_start

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unconfirmed:
    """Calls whose worker died before the answer: maybe billed, at most `at_most` (the sum of
    their maximum costs); `unpriced` of them have no maximum (the model had no price)."""

    calls: int = 0
    at_most: Decimal = Decimal("0.000000")
    unpriced: int = 0

    @property
    def priced(self) -> int:
        return self.calls - self.unpriced

    def __add__(self, other: "Unconfirmed") -> "Unconfirmed":
        return Unconfirmed(self.calls + other.calls, self.at_most + other.at_most,
                           self.unpriced + other.unpriced)


@dataclass(frozen=True)
class MonthSpend:
    """¥ a team spent in one local month, and what it holds besides: the maximum cost of its
    calls in flight and of its unconfirmed calls (reserved against its budgets until they
    are completed or reconciled). In total and per member."""

    team: Decimal
    by_user: dict[int, Decimal]
    reserved_team: Decimal = Decimal("0.000000")
    reserved_by_user: dict[int, Decimal] = field(default_factory=dict)
    unconfirmed_by_user: dict[int, Unconfirmed] = field(default_factory=dict)

    def of(self, user_id: int | None) -> Decimal:
        """What was spent: the team's total for None, else the member's share."""
        if user_id is None:
            return self.team
        return self.by_user.get(user_id, Decimal(0))

    def reserved_of(self, user_id: int | None) -> Decimal:
        if user_id is None:
            return self.reserved_team
        return self.reserved_by_user.get(user_id, Decimal(0))

    def used_of(self, user_id: int | None) -> Decimal:
        """Spent and reserved: what a budget has no more room for."""
        return self.of(user_id) + self.reserved_of(user_id)

    def unconfirmed_of(self, user_id: int | None) -> Unconfirmed:
        if user_id is not None:
            return self.unconfirmed_by_user.get(user_id, Unconfirmed())
        return sum(self.unconfirmed_by_user.values(), Unconfirmed())


def spent_in_month(*, team_id: int, day: date | None = None, held: bool = True) -> MonthSpend:
    """What the team spent in the month of `day` (default today) and what its open calls
    hold, in one query. The only place "spent this month" is computed: budgets, their
    reservations, banners, pages, forecasts and e-mails read it.

    Spending is the daily rollup of completed calls; an open call (in flight, or unknown
    until reconciliation settles it) is held at its maximum cost, by the month it started.
    `held=False` reads the spending alone (what a banner or "used up" compares)."""
    first = month_start(day)
    spent = (
        DailyUsage.objects.filter(team_id=team_id, day__gte=first, day__lt=next_month_start(day))
        .values("user_id").order_by()
        .annotate(kind=Value("spent"), amount=Sum("cost"), calls=Value(0),
                  unpriced=Value(0))
        .values_list("kind", "user_id", "amount", "calls", "unpriced")
    )
    open_calls = (
        GatewayCall.objects.filter(team_id=team_id, started_at__gte=local_midnight(first),
                                   started_at__lt=local_midnight(next_month_start(day)))
        .exclude(state=GatewayCall.State.COMPLETED)  # the partial index call_open_state
        .values("state", "user_id").order_by()
        .annotate(kind=F("state"), amount=Sum("max_cost"), calls=Count("id"),
                  unpriced=Count("id", filter=Q(max_cost__isnull=True)))
        .values_list("kind", "user_id", "amount", "calls", "unpriced")
    )
    by_user: dict[int, Decimal] = {}
    reserved: dict[int, Decimal] = {}
    unconfirmed: dict[int, Unconfirmed] = {}
    for kind, user_id, amount, calls, unpriced in (spent.union(open_calls, all=True)
                                                   if held else spent):
        # SQLite returns sums with stray digits; the ledger's precision is 6 places.
        amount = (amount or Decimal(0)).quantize(LEDGER_PLACES)
        if kind == "spent":
            by_user[user_id] = by_user.get(user_id, Decimal(0)) + amount
            continue
        reserved[user_id] = reserved.get(user_id, Decimal(0)) + amount
        if kind == GatewayCall.State.UNKNOWN:
            unconfirmed[user_id] = Unconfirmed(calls, amount, unpriced)
    return MonthSpend(team=sum(by_user.values(), Decimal("0.000000")), by_user=by_user,
                      reserved_team=sum(reserved.values(), Decimal("0.000000")),
                      reserved_by_user=reserved, unconfirmed_by_user=unconfirmed)


def budgets_for(*, team_id: int, user_id: int | None) -> list[Budget]:
    """The team's budget and the user's own budget in that team (team's first)."""
    budgets = Budget.objects.filter(Q(user__isnull=True) | Q(user_id=user_id), team_id=team_id)
    return sorted(budgets, key=lambda budget: budget.user_id is not None)


def budget_exceeded(*, team_id: int, user_id: int, day: date | None = None) -> Budget | None:
    """The team's or the user's budget that the month's spending has reached, if any."""
    budgets = budgets_for(team_id=team_id, user_id=user_id)
    if not budgets:
        return None
    spent = spent_in_month(team_id=team_id, day=day, held=False)
    for budget in budgets:
        if spent.of(budget.user_id) >= budget.monthly_limit:
            return budget
    return None


def budget_room(*, team_id: int, user_id: int, day: date | None = None) -> Decimal | None:
    """What the user's jobs in the team may still reserve this month: the least room left
    in the team's and the user's budget (spent and reserved taken off). None: no budget."""
    budgets = budgets_for(team_id=team_id, user_id=user_id)
    if not budgets:
        return None
    spent = spent_in_month(team_id=team_id, day=day)
    return min(budget.monthly_limit - spent.used_of(budget.user_id) for budget in budgets)


def _budget_snapshot(budget: Budget | None) -> dict | None:
    if budget is None:
        return None
    return {"team": budget.team.name, "user": budget.user.username if budget.user else None,
            "monthly_limit": str(budget.monthly_limit), "warn_at": str(budget.warn_at)}


def budget_set(
    *,
    team: Team,
    user: User | None = None,
    monthly_limit: Decimal,
    warn_at: Decimal | None = None,
    actor: User | None,
    ip_address: str | None = None,
) -> Budget:
    """Set the team's monthly ¥ limit, or one member's within the team. Audited.

    A changed limit re-arms the month's warning e-mail. Jobs waiting for the budget resume
    on the sweeper's next round (every SWEEP_INTERVAL_S) once nothing is exceeded."""
    if user is not None and not Membership.objects.filter(team=team, user=user).exists():
        raise ValidationError({"user": _("%(user)s is not a member of %(team)s.")
                               % {"user": user.username, "team": team.name}})
    with transaction.atomic():
        budget = Budget.objects.select_for_update().filter(team=team, user=user).first()
        before = _budget_snapshot(budget)
        if budget is None:
            budget = Budget(team=team, user=user)
        changed = (budget.monthly_limit, budget.warn_at) != (
            monthly_limit, warn_at if warn_at is not None else budget.warn_at)
        budget.monthly_limit = monthly_limit
        budget.warn_at = warn_at if warn_at is not None else (
            budget.warn_at or settings.DEFAULT_BUDGET_WARN_AT)
        budget.updated_by = actor
        if changed:
            budget.warned_for_month = None
        budget.full_clean()
        budget.save()
        audit_record(actor=actor, action="budget.set", target=budget, before=before,
                     after=_budget_snapshot(budget), ip_address=ip_address)
    return budget


def budget_remove(*, budget: Budget, actor: User | None, ip_address: str | None = None) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="budget.remove", target=budget,
                     before=_budget_snapshot(budget), ip_address=ip_address)
        budget.delete()


def budget_warnings_send(*, day: date | None = None) -> int:
    """E-mail the team's managers once a month when a budget reaches its warn level.

    Run by beat (prompts.tasks.send_budget_warnings), not on the ledger's
    hot path: a warning a few seconds late costs nothing, a query per gateway call would.
    Returns how many warnings went out."""
    month = month_start(day)
    sent = 0
    pending = Budget.objects.filter(
        Q(warned_for_month__isnull=True) | Q(warned_for_month__lt=month)
    ).select_related("team", "user")
    spending: dict[int, MonthSpend] = {}
    for budget in pending:
        if budget.team_id not in spending:
            spending[budget.team_id] = spent_in_month(team_id=budget.team_id, day=day, held=False)
        spent = spending[budget.team_id].of(budget.user_id)
        if spent <= 0 or spent < budget.monthly_limit * budget.warn_at:
            continue
        claimed = Budget.objects.filter(pk=budget.pk).filter(
            Q(warned_for_month__isnull=True) | Q(warned_for_month__lt=month)
        ).update(warned_for_month=month)
        if claimed:
            _budget_warning_mail(budget, spent)
            budget_event_emit(budget, spent, month)
            sent += 1
    return sent


def _budget_warning_mail(budget: Budget, spent: Decimal) -> None:
    recipients = list(
        User.objects.filter(memberships__team=budget.team, memberships__role="manager",
                            is_active=True).exclude(email="").values_list("email", flat=True)
    )
    values = {"team": budget.team.name, "user": budget.user.username if budget.user else "",
              "spent": yuan(spent), "limit": yuan(budget.monthly_limit),
              "pct": percent_of(spent, budget.monthly_limit)}
    if budget.user is None:
        subject = _("GrokWeb: %(team)s has used %(pct)s%% of its monthly budget") % values
    else:
        subject = _("GrokWeb: %(user)s in %(team)s has used %(pct)s%% of their monthly budget"
                    ) % values
    body = _(
        "Spent this month: ¥%(spent)s of ¥%(limit)s.\n\nAt 100%% new jobs are refused and "
        "queued ones wait until the limit is raised or the month turns.\n\nBudgets: %(url)s"
    ) % {**values, "url": f"{settings.SITE_URL}/usage/budgets/?team={budget.team_id}"}
    logger.warning("%s", subject)
    if recipients:
        send_mail(subject, body, None, recipients, fail_silently=True)
