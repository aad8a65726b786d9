"""The ledger: one GatewayCall per HTTP attempt, priced at the price in force, rolled up daily.

Money is Decimal throughout; the ledger keeps 6 decimal places and nothing is rounded
until it is displayed.
"""

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


def ledger_record(*, job: GenerationJob, attempt: int, facts: CallFacts) -> GatewayCall:
    """Write the attempt's ledger row and its rollup. Call inside the job's transaction."""
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
