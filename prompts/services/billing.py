"""Money writes: the price book, explicit re-pricing of history, budgets and their warnings.

Every change here is audited. A new price only affects calls made after it takes effect;
recorded costs change only through `calls_reprice`, an admin's explicit, audited action.
"""

import bisect
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Budget, Membership, Team, User
from accounts.services import audit_record
from prompts.models import DailyUsage, GatewayCall, ModelPrice
from prompts.selectors.money import yuan
from prompts.services.budgets import local_midnight, month_start, spent_in_month
from prompts.services.ledger import LEDGER_PLACES, call_cost

logger = logging.getLogger(__name__)


def _price_snapshot(price: ModelPrice) -> dict:
    return {
        "model": price.model,
        "input_per_mtok": str(price.input_per_mtok),
        "output_per_mtok": str(price.output_per_mtok),
        "effective_from": price.effective_from.isoformat(),
        "usd_input_per_mtok": str(price.usd_input_per_mtok or ""),
        "usd_output_per_mtok": str(price.usd_output_per_mtok or ""),
        "usd_rate": str(price.usd_rate or ""),
        "usd_rate_date": price.usd_rate_date.isoformat() if price.usd_rate_date else "",
    }


def price_set(
    *,
    model: str,
    input_per_mtok: Decimal,
    output_per_mtok: Decimal,
    effective_from: datetime | None = None,
    usd_rate: Decimal | None = None,
    usd_rate_date: date | None = None,
    note: str = "",
    actor: User | None,
    ip_address: str | None = None,
) -> ModelPrice:
    """Add a price from `effective_from` (default now). With `usd_rate` the two amounts are in
    USD per 1M tokens and are converted to ¥ at that rate (dated `usd_rate_date`); both are
    kept. Earlier calls keep the price they were charged at."""
    if usd_rate is not None:
        if usd_rate <= 0:
            raise ValidationError({"usd_rate": _("The exchange rate must be above zero.")})
        price = ModelPrice(
            usd_input_per_mtok=input_per_mtok,
            usd_output_per_mtok=output_per_mtok,
            usd_rate=usd_rate,
            usd_rate_date=usd_rate_date or timezone.localdate(),
            input_per_mtok=(input_per_mtok * usd_rate).quantize(LEDGER_PLACES, ROUND_HALF_UP),
            output_per_mtok=(output_per_mtok * usd_rate).quantize(LEDGER_PLACES, ROUND_HALF_UP),
        )
    else:
        price = ModelPrice(input_per_mtok=input_per_mtok, output_per_mtok=output_per_mtok)
    price.model = model.strip()
    price.effective_from = effective_from or timezone.now()
    price.note = note
    price.created_by = actor
    if ModelPrice.objects.filter(model=price.model, effective_from=price.effective_from).exists():
        raise ValidationError({"effective_from": _(
            "This model already has a price from that moment. Prices are never edited: "
            "choose another effective date.")})
    price.full_clean()
    with transaction.atomic():
        price.save()
        audit_record(actor=actor, action="price.set", target=price,
                     after=_price_snapshot(price), ip_address=ip_address)
    return price


@dataclass(frozen=True)
class RepriceResult:
    calls: int
    changed: int
    cost_before: Decimal
    cost_after: Decimal
    unpriced_before: int
    unpriced_after: int


def calls_reprice(
    *, model: str, since: date, until: date, actor: User | None, ip_address: str | None = None
) -> RepriceResult:
    """Re-price the recorded calls of `model` made on local days since..until (inclusive) at
    the prices now in the price book, and rebuild those days' rollup. Audited.

    This is the only code that changes a recorded cost; it exists for calls that were
    recorded unpriced or at a price entered by mistake."""
    if until < since:
        raise ValidationError(_("The end date is before the start date."))
    prices = list(ModelPrice.objects.filter(model=model).order_by("effective_from"))
    starts = [price.effective_from for price in prices]
    before = {"calls": 0, "cost": Decimal(0), "unpriced": 0}
    after = dict(before)
    changed: list[GatewayCall] = []
    buckets: dict[tuple, DailyUsage] = {}
    with transaction.atomic():
        calls = GatewayCall.objects.select_for_update().filter(
            model=model,
            started_at__gte=local_midnight(since),
            started_at__lt=local_midnight(until + timedelta(days=1)),
        ).order_by("id")
        for call in calls.iterator(chunk_size=2000):
            before["calls"] += 1
            before["cost"] += call.cost or 0
            before["unpriced"] += call.price_id is None
            index = bisect.bisect_right(starts, call.started_at) - 1
            price = prices[index] if index >= 0 else None
            cost = call_cost(price, call.prompt_tokens, call.completion_tokens) if price else None
            if (call.price_id, call.cost) != (price.pk if price else None, cost):
                call.price, call.cost = price, cost
                changed.append(call)
            after["calls"] += 1
            after["cost"] += cost or 0
            after["unpriced"] += price is None
            _bucket_add(buckets, call)
        GatewayCall.objects.bulk_update(changed, ["price", "cost"], batch_size=1000)
        DailyUsage.objects.filter(model=model, day__gte=since, day__lte=until).delete()
        DailyUsage.objects.bulk_create(buckets.values(), batch_size=1000)
        audit_record(
            actor=actor, action="calls.reprice", target=None,
            before={"model": model, "since": since.isoformat(), "until": until.isoformat(),
                    **_json_totals(before)},
            after={"changed": len(changed), **_json_totals(after)},
            ip_address=ip_address,
        )
    return RepriceResult(
        calls=before["calls"], changed=len(changed), cost_before=before["cost"],
        cost_after=after["cost"], unpriced_before=before["unpriced"],
        unpriced_after=after["unpriced"],
    )


def _json_totals(totals: dict) -> dict:
    return {"calls": totals["calls"], "cost": str(totals["cost"]),
            "unpriced_calls": totals["unpriced"]}


def _bucket_add(buckets: dict, call: GatewayCall) -> None:
    """Add a call to its rollup bucket, by the same rules as ledger.rollup_add."""
    day = timezone.localdate(call.started_at)
    key = (day, call.team_id, call.user_id, call.project_id, call.model)
    bucket = buckets.get(key)
    if bucket is None:
        bucket = buckets[key] = DailyUsage(
            day=day, team_id=call.team_id, user_id=call.user_id, project_id=call.project_id,
            model=call.model, cost=Decimal(0), waste_cost=Decimal(0),
            calls=0, ok_calls=0, moderation_calls=0, failed_calls=0, prompt_tokens=0,
            completion_tokens=0, unpriced_calls=0,
        )
    ok = call.outcome == GatewayCall.Outcome.OK
    moderation = call.outcome == GatewayCall.Outcome.MODERATION
    cost = call.cost or Decimal(0)
    bucket.calls += 1
    bucket.ok_calls += ok
    bucket.moderation_calls += moderation
    bucket.failed_calls += not ok and not moderation
    bucket.prompt_tokens += call.prompt_tokens
    bucket.completion_tokens += call.completion_tokens
    bucket.cost += cost
    bucket.waste_cost += Decimal(0) if ok else cost
    bucket.unpriced_calls += call.price_id is None


# Budgets -----------------------------------------------------------------------------------


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

    Called by the beat sweeper (prompts.services.dispatch.jobs_sweep), not on the ledger's
    hot path: a warning a few seconds late costs nothing, a query per gateway call would.
    Returns how many warnings went out."""
    month = month_start(day)
    sent = 0
    pending = Budget.objects.filter(
        Q(warned_for_month__isnull=True) | Q(warned_for_month__lt=month)
    ).select_related("team", "user")
    for budget in pending:
        spent = spent_in_month(team_id=budget.team_id, user_id=budget.user_id, day=day)
        if spent <= 0 or spent < budget.monthly_limit * budget.warn_at:
            continue
        claimed = Budget.objects.filter(pk=budget.pk).filter(
            Q(warned_for_month__isnull=True) | Q(warned_for_month__lt=month)
        ).update(warned_for_month=month)
        if claimed:
            _budget_warning_mail(budget, spent)
            sent += 1
    return sent


def _budget_warning_mail(budget: Budget, spent: Decimal) -> None:
    recipients = list(
        User.objects.filter(memberships__team=budget.team, memberships__role="manager",
                            is_active=True).exclude(email="").values_list("email", flat=True)
    )
    values = {"team": budget.team.name, "user": budget.user.username if budget.user else "",
              "spent": yuan(spent), "limit": yuan(budget.monthly_limit),
              "pct": int(spent * 100 / budget.monthly_limit) if budget.monthly_limit else 100}
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
