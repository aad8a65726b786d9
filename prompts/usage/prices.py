"""The price book: prices added (never edited), explicit re-pricing of history, the page.

Every change here is audited. A new price only affects calls made after it takes effect;
recorded costs change only through `calls_reprice`, an admin's explicit, audited action.
"""

import bisect
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from prompts.models import DailyUsage, GatewayCall, GatewayModel, ModelPrice
from prompts.usage.ledger import LEDGER_PLACES, call_cost, rollup_bucket, rollup_delta
from prompts.usage.periods import local_midnight
from prompts.usage.reservations import budget_forget


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
        # Completed rows only: open ones are not in the rollup yet.
        calls = GatewayCall.objects.select_for_update().filter(
            model=model, state=GatewayCall.State.COMPLETED,
            started_at__gte=local_midnight(since),
            started_at__lt=local_midnight(until + timedelta(days=1)),
        ).order_by("id")
        for call in calls.iterator(chunk_size=2000):
            before["calls"] += 1
            before["cost"] += call.cost or 0
            before["unpriced"] += call.cost is None
            if not _from_gateway(call):
                index = bisect.bisect_right(starts, call.started_at) - 1
                price = prices[index] if index >= 0 else None
                cost = (call_cost(price, call.prompt_tokens, call.completion_tokens)
                        if price else None)
                if (call.price_id, call.cost) != (price.pk if price else None, cost):
                    call.price, call.cost = price, cost
                    changed.append(call)
            after["calls"] += 1
            after["cost"] += call.cost or 0
            after["unpriced"] += call.cost is None
            _bucket_add(buckets, call)
        GatewayCall.objects.bulk_update(changed, ["price", "cost"], batch_size=1000)
        old = DailyUsage.objects.filter(model=model, day__gte=since, day__lte=until)
        _keep_accepted(buckets, old)
        old.delete()
        DailyUsage.objects.bulk_create(buckets.values(), batch_size=1000)
        audit_record(
            actor=actor, action="calls.reprice", target=None,
            before={"model": model, "since": since.isoformat(), "until": until.isoformat(),
                    **_json_totals(before)},
            after={"changed": len(changed), **_json_totals(after)},
            ip_address=ip_address,
        )
    # Redis's budget counters held the old costs: they are rebuilt from the database.
    transaction.on_commit(budget_forget)
    return RepriceResult(
        calls=before["calls"], changed=len(changed), cost_before=before["cost"],
        cost_after=after["cost"], unpriced_before=before["unpriced"],
        unpriced_after=after["unpriced"],
    )


def _json_totals(totals: dict) -> dict:
    return {"calls": totals["calls"], "cost": str(totals["cost"]),
            "unpriced_calls": totals["unpriced"]}


def _from_gateway(call: GatewayCall) -> bool:
    """A lost call that reconciliation settled at the gateway's own ¥ (not our price book)."""
    return call.outcome == GatewayCall.Outcome.LOST and call.price_id is None \
        and call.cost is not None


def _keep_accepted(buckets: dict, old) -> None:
    """The rebuilt buckets keep the accepted records counted in the old ones."""
    for row in old.filter(accepted_records__gt=0):
        bucket = {"day": row.day, "team_id": row.team_id, "user_id": row.user_id,
                  "project_id": row.project_id, "model": row.model}
        key = tuple(bucket.values())
        if key not in buckets:
            buckets[key] = DailyUsage(**bucket)
        buckets[key].accepted_records = row.accepted_records


def _bucket_add(buckets: dict, call: GatewayCall) -> None:
    """Add a call to its rebuilt rollup bucket, by the ledger's own rule (rollup_delta)."""
    bucket = rollup_bucket(call)
    key = tuple(bucket.values())
    row = buckets.get(key)
    if row is None:
        buckets[key] = DailyUsage(**bucket, **rollup_delta(call))
        return
    for name, value in rollup_delta(call).items():
        setattr(row, name, getattr(row, name) + value)


# The price book page ------------------------------------------------------------------------


@dataclass
class PriceRow:
    price: ModelPrice
    in_force: bool
    scheduled: bool


@dataclass
class PricedModel:
    model: str
    prices: list[PriceRow]
    in_force: ModelPrice | None
    unpriced_calls: int


def price_book() -> list[PricedModel]:
    """Every model with a price, enabled, or with calls: its price history (newest first), the
    price in force now, and how many of its recorded calls are unpriced."""
    now = timezone.now()
    unpriced = {
        row["model"]: row["unpriced"]
        for row in DailyUsage.objects.values("model").annotate(unpriced=Sum("unpriced_calls"))
        .order_by()
    }
    enabled = set(GatewayModel.objects.filter(enabled=True).values_list("name", flat=True))
    history: dict[str, list[ModelPrice]] = {}
    for price in ModelPrice.objects.select_related("created_by").order_by(
            "model", "-effective_from"):
        history.setdefault(price.model, []).append(price)
    book = []
    for model in sorted(set(history) | set(unpriced) | enabled):
        prices = history.get(model, [])
        in_force = next((p for p in prices if p.effective_from <= now), None)
        rows = [PriceRow(price=p, in_force=p == in_force, scheduled=p.effective_from > now)
                for p in prices]
        book.append(PricedModel(model=model, prices=rows, in_force=in_force,
                                unpriced_calls=unpriced.get(model) or 0))
    return book
