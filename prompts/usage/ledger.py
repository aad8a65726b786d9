"""The ledger: one GatewayCall per HTTP attempt, priced at the price in force, rolled up daily.

Money is Decimal throughout; the ledger keeps 6 decimal places and nothing is rounded
until it is displayed.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from prompts.models import DailyUsage, GatewayCall, GenerationJob, ModelPrice

LEDGER_PLACES = Decimal("0.000001")
PER_MILLION = Decimal(1_000_000)


def price_in_force(model: str, at: datetime) -> ModelPrice | None:
    """The newest price for `model` that had taken effect at `at`; None means unpriced."""
    return (
        ModelPrice.objects.filter(model=model, effective_from__lte=at)
        .order_by("-effective_from")
        .first()
    )


def call_cost(price: ModelPrice, prompt_tokens: int, completion_tokens: int) -> Decimal:
    raw = (
        Decimal(prompt_tokens) * price.input_per_mtok
        + Decimal(completion_tokens) * price.output_per_mtok
    ) / PER_MILLION
    return raw.quantize(LEDGER_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CallFacts:
    """What one attempt at the gateway produced, whatever its outcome."""

    outcome: str
    started_at: datetime
    key_id: int | None
    http_status: int | None = None
    latency_ms: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    request_id: str = ""
    error_message: str = ""
    retry_delay_s: float | None = None
    retry_after_honoured: bool = False


def max_cost(price: ModelPrice | None, *, input_tokens: int, max_tokens: int) -> Decimal | None:
    """The most one attempt can cost: its input estimate (which errs high) and every output
    token it may use. None when the model is unpriced."""
    return call_cost(price, input_tokens, max_tokens) if price is not None else None


def ledger_open(*, job: GenerationJob, attempt: int, team_id: int, key_id: int | None,
                price, started_at: datetime) -> GatewayCall:
    """The write-ahead row, committed before the request is sent: an attempt the gateway may
    bill exists in the ledger even if this worker dies before the answer arrives. Its
    client_request_id goes to the gateway as X-Request-Id and Idempotency-Key."""
    return GatewayCall.objects.create(
        job=job, attempt=attempt, team_id=team_id, user_id=job.created_by_id,
        project_id=job.project_id, key_id=key_id, model=job.model,
        state=GatewayCall.State.IN_FLIGHT, outcome="",
        max_cost=max_cost(price, input_tokens=job.estimated_input_tokens,
                          max_tokens=job.max_tokens),
        client_request_id=uuid.uuid4(), started_at=started_at,
    )


def ledger_complete(*, call: GatewayCall, facts: CallFacts, price) -> GatewayCall:
    """Complete the write-ahead row in place with the answer and add it to the rollup, in its
    own transaction: what follows (the record, the job's state) cannot take it back.
    `price` is the price in force when the call started (anything with an id and the two
    per-million rates), or None: unpriced."""
    cost = call_cost(price, facts.prompt_tokens, facts.completion_tokens) if price else None
    fields = {
        "state": GatewayCall.State.COMPLETED,
        "outcome": facts.outcome,
        "http_status": facts.http_status,
        "latency_ms": facts.latency_ms,
        "prompt_tokens": facts.prompt_tokens,
        "completion_tokens": facts.completion_tokens,
        "cost": cost,
        "price_id": price.id if price else None,
        "request_id": facts.request_id[:100],
        "error_message": facts.error_message[:2000],
        "retry_delay_s": facts.retry_delay_s,
        "retry_after_honoured": facts.retry_after_honoured,
    }
    with transaction.atomic():
        # A late answer completes a row the sweeper had already called unknown.
        if GatewayCall.objects.filter(
            pk=call.pk, state__in=[GatewayCall.State.IN_FLIGHT, GatewayCall.State.UNKNOWN]
        ).update(**fields):
            for name, value in fields.items():
                setattr(call, name, value)
            rollup_add(call)
    return call


def ledger_record(*, job: GenerationJob, attempt: int, facts: CallFacts) -> GatewayCall:
    """A completed row written in one go, with its rollup (imports, drills and tests that
    record history); the worker writes ahead with ledger_open and ledger_complete."""
    price = price_in_force(job.model, facts.started_at)
    cost = call_cost(price, facts.prompt_tokens, facts.completion_tokens) if price else None
    call = GatewayCall.objects.create(
        job=job,
        attempt=attempt,
        team_id=job.project.team_id,
        user_id=job.created_by_id,
        project_id=job.project_id,
        key_id=facts.key_id,
        model=job.model,
        http_status=facts.http_status,
        outcome=facts.outcome,
        error_message=facts.error_message[:2000],
        latency_ms=facts.latency_ms,
        prompt_tokens=facts.prompt_tokens,
        completion_tokens=facts.completion_tokens,
        cost=cost,
        price=price,
        request_id=facts.request_id[:100],
        retry_delay_s=facts.retry_delay_s,
        retry_after_honoured=facts.retry_after_honoured,
        started_at=facts.started_at,
    )
    rollup_add(call)
    return call


def rollup_bucket(call: GatewayCall) -> dict:
    """The DailyUsage bucket of a ledger row: its local day × team × user × project × model."""
    return {
        "day": timezone.localdate(call.started_at),
        "team_id": call.team_id,
        "user_id": call.user_id,
        "project_id": call.project_id,
        "model": call.model,
    }


def rollup_delta(call: GatewayCall) -> dict:
    """What one ledger row adds to its bucket: the only definition of the rollup's sums."""
    ok = call.outcome == GatewayCall.Outcome.OK
    moderation = call.outcome == GatewayCall.Outcome.MODERATION
    cost = call.cost or Decimal(0)
    return {
        "calls": 1,
        "ok_calls": int(ok),
        "moderation_calls": int(moderation),
        "failed_calls": int(not ok and not moderation),
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "cost": cost,
        # Cost of calls that produced no record: retries, rejections, failures.
        "waste_cost": Decimal(0) if ok else cost,
        "unpriced_calls": int(call.price_id is None),
    }


def rollup_add(call: GatewayCall) -> None:
    """Add one ledger row to its DailyUsage bucket, in the caller's transaction."""
    delta = rollup_delta(call)
    bucket = rollup_bucket(call)
    increments = {name: F(name) + value for name, value in delta.items()}
    if DailyUsage.objects.filter(**bucket).update(**increments):
        return
    try:
        with transaction.atomic():
            DailyUsage.objects.create(**bucket, **delta)
    except IntegrityError:
        # Another worker created the bucket between our update and insert.
        DailyUsage.objects.filter(**bucket).update(**increments)
