"""A worker's run of one job: check, claim, call the gateway once, hand the answer on.

Read top to bottom: `job_run` is the whole attempt. What the job does with the answer is
decided in prompts.pipeline.outcomes, in one table.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone

from prompts.gateway.errors import GatewayError
from prompts.gateway.payloads import build_chat_payload, image_data_url
from prompts.models import GatewayCall, GenerationJob
from prompts.pipeline.client import gateway_client
from prompts.pipeline.dispatch import job_enqueue
from prompts.pipeline.keys import gateway_key_active, gateway_key_from_store
from prompts.pipeline.limiter import limiter_acquire, limiter_settle, limiter_wait_s
from prompts.pipeline.outcomes import Attempt, after_answer, after_error
from prompts.usage.ledger import ledger_open, max_cost
from prompts.usage.reservations import BudgetLimits, budget_reserve

Status = GenerationJob.Status
WaitReason = GenerationJob.WaitReason

# A repair attempt asks again at a lower temperature: fewer creative detours, more JSON.
REPAIR_TEMPERATURE = 0.2


@dataclass(frozen=True)
class PriceInForce:
    """The model's price when the attempt starts (what the ledger row is charged at)."""

    id: int
    input_per_mtok: Decimal
    output_per_mtok: Decimal


@dataclass(frozen=True)
class Preflight:
    """Everything a worker must know before it may claim a job, read in one query."""

    status: str
    due: bool
    team_id: int
    user_id: int
    reserve_tokens: int
    dispatch_paused: bool
    limits: BudgetLimits
    max_cost: Decimal | None  # the attempt's most: input estimate and max_tokens, priced
    has_references: bool
    key_id: int | None
    key_secret_encrypted: str | None
    price: PriceInForce | None
    webhooks: bool  # the team has an active webhook endpoint: its job events are worth a look


# Plain SQL, compiled by hand once: the ORM spent ~2 ms in Python building this query for
# every attempt, more than the query itself. Portable between PostgreSQL and SQLite.
_PREFLIGHT_SQL = """
SELECT j.status,
       (j.next_attempt_at IS NULL OR j.next_attempt_at <= %s),
       p.team_id, j.created_by_id, j.estimated_input_tokens, j.max_tokens,
       EXISTS (SELECT 1 FROM prompts_dispatchpause d WHERE d.cleared_at IS NULL),
       (SELECT b.id FROM accounts_budget b WHERE b.team_id = p.team_id AND b.user_id IS NULL),
       (SELECT CAST(b.monthly_limit AS TEXT) FROM accounts_budget b
         WHERE b.team_id = p.team_id AND b.user_id IS NULL),
       (SELECT b.id FROM accounts_budget b
         WHERE b.team_id = p.team_id AND b.user_id = j.created_by_id),
       (SELECT CAST(b.monthly_limit AS TEXT) FROM accounts_budget b
         WHERE b.team_id = p.team_id AND b.user_id = j.created_by_id),
       EXISTS (SELECT 1 FROM prompts_generationjob_references r WHERE r.generationjob_id = j.id),
       EXISTS (SELECT 1 FROM prompts_webhookendpoint w WHERE w.team_id = p.team_id AND w.is_active),
       k.id, k.secret_encrypted,
       mp.id, CAST(mp.input_per_mtok AS TEXT), CAST(mp.output_per_mtok AS TEXT)
  FROM prompts_generationjob j
  JOIN prompts_project p ON p.id = j.project_id
  LEFT JOIN accounts_gatewaykey k ON k.status = 'active'
  LEFT JOIN prompts_modelprice mp ON mp.id = (
       SELECT m.id FROM prompts_modelprice m
        WHERE m.model = j.model AND m.effective_from <= %s
        ORDER BY m.effective_from DESC LIMIT 1)
 WHERE j.id = %s
"""


def _preflight(job_id: int, now: datetime) -> Preflight | None:
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(_PREFLIGHT_SQL, [at, at, job_id])
        row = cursor.fetchone()
    if row is None:
        return None
    (status, due, team_id, user_id, estimated, max_tokens, paused, team_budget_id, team_limit,
     user_budget_id, user_limit, referenced, webhooks, key_id, key_secret, price_id,
     input_price, output_price) = row
    price = (PriceInForce(price_id, Decimal(input_price), Decimal(output_price))
             if price_id is not None else None)
    return Preflight(
        status=status, due=bool(due), team_id=team_id, user_id=user_id,
        # The tokens-per-minute limiter holds the input estimate plus the most the answer
        # may use, until the gateway reports the real usage.
        reserve_tokens=estimated + max_tokens if settings.GATEWAY_TPM else 0,
        dispatch_paused=bool(paused),
        limits=BudgetLimits(
            team_id=team_id, user_id=user_id, team_budget_id=team_budget_id,
            team_limit=Decimal(team_limit) if team_limit is not None else None,
            user_budget_id=user_budget_id,
            user_limit=Decimal(user_limit) if user_limit is not None else None),
        max_cost=max_cost(price, input_tokens=estimated, max_tokens=max_tokens),
        has_references=bool(referenced), key_id=key_id, key_secret_encrypted=key_secret,
        price=price, webhooks=bool(webhooks),
    )


def _park(job_id: int, reason: str) -> str:
    GenerationJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.WAITING, wait_reason=reason)
    return Status.WAITING


def _come_back(job_id: int, seconds: float) -> None:
    if GenerationJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        next_attempt_at=timezone.now() + timedelta(seconds=seconds)
    ):
        job_enqueue(job_id, countdown=seconds)


_CLAIM_SQL = """
UPDATE prompts_generationjob
   SET status = 'running', lease_until = %s, attempts = attempts + 1,
       started_at = COALESCE(started_at, %s)
 WHERE id = %s AND status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
RETURNING *
"""


def _claim(job_id: int) -> GenerationJob | None:
    """Take the job for this worker with a lease, and read it, in one statement. None when
    it is not ours: running elsewhere, finished, parked, or not yet due (a second
    delivery)."""
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.JOB_LEASE_S)
    at = connection.ops.adapt_datetimefield_value
    claimed = list(GenerationJob.objects.raw(
        _CLAIM_SQL, [at(lease_until), at(now), job_id, at(now)]))
    return claimed[0] if claimed else None


def _key_for(pre: Preflight):
    if pre.key_id is not None:
        return gateway_key_from_store(key_id=pre.key_id, secret_encrypted=pre.key_secret_encrypted)
    return gateway_key_active()  # none active: it may import GATEWAY_API_KEY


def _wait_for_slot(job_id: int, key_id: int, tokens: int) -> bool:
    """Our turn at the gateway under the key's rpm/tpm. False: the job was re-scheduled."""
    slot = limiter_acquire(key_id=key_id, tokens=tokens)
    if not slot.reserved:
        # Over the key's limits, or everyone on this key must wait (Retry-After, or the
        # gateway unreachable): come back then, without an attempt.
        _come_back(job_id, slot.wait_s)
        return False
    if slot.wait_s > 0:
        time.sleep(slot.wait_s)  # our reserved slot; bounded by GATEWAY_LIMITER_MAX_SLEEP_S
        paused_s = limiter_wait_s(key_id=key_id)
        if paused_s > 0:  # a pause that began while we slept holds us back too
            _come_back(job_id, paused_s)
            return False
    return True


def _job_images(job: GenerationJob) -> list[str]:
    images = []
    for ref in job.references.all():
        with ref.send_file.open("rb") as handle:
            images.append(image_data_url(handle.read(), "image/jpeg"))
    return images + list(job.image_urls)


def _payload(job: GenerationJob, has_references: bool) -> dict:
    previous_raw = None
    if job.repair_attempted:
        previous_raw = (
            GatewayCall.objects.filter(job=job, outcome=GatewayCall.Outcome.PARSE)
            .order_by("-attempt").values_list("error_message", flat=True).first()
        )
    return build_chat_payload(
        model=job.model,
        brief=job.brief,
        images=_job_images(job) if has_references else list(job.image_urls),
        temperature=REPAIR_TEMPERATURE if previous_raw else float(job.temperature),
        max_tokens=job.max_tokens,
        repair_of=previous_raw,
        house_style=job.house_rules,
    )


@dataclass(frozen=True)
class Opened:
    """A claimed attempt: the job, its write-ahead ledger row and the request to send."""

    job: GenerationJob
    call: GatewayCall
    payload: dict


def _open_attempt(job_id: int, pre: Preflight, key_id: int) -> Opened | None:
    """Claim the job and write its attempt's in-flight ledger row, the payload built in
    between (a job whose references cannot be read opens no row). None: not ours."""
    job = _claim(job_id)
    if job is None:
        return None
    payload = _payload(job, pre.has_references)
    # The attempt number is ours until we finish: only this worker's attempt can change it.
    call = ledger_open(job=job, attempt=job.attempts, team_id=pre.team_id, key_id=key_id,
                       price=pre.price, started_at=timezone.now())
    return Opened(job=job, call=call, payload=payload)


def job_run(job_id: int) -> str | None:
    """One attempt at the gateway for a job. Returns the job's new status, or None if this
    delivery had nothing to do."""
    pre = _preflight(job_id, timezone.now())
    if pre is None or pre.status != Status.QUEUED or not pre.due:
        return None  # gone, taken, finished, parked, or not yet due: a duplicate delivery
    if pre.dispatch_paused:
        return _park(job_id, WaitReason.BALANCE)
    key = _key_for(pre)
    if key is None:
        return _park(job_id, WaitReason.KEY)
    if not _wait_for_slot(job_id, key.id, pre.reserve_tokens):
        return None
    held: tuple[str, ...] = ()
    if pre.limits.any:
        # The job's maximum cost against its budgets, atomically with opening the attempt.
        reservation = budget_reserve(limits=pre.limits, amount=pre.max_cost,
                                     open_attempt=lambda: _open_attempt(job_id, pre, key.id))
        if reservation.retry_s:
            _come_back(job_id, reservation.retry_s)
            return None
        if reservation.refused_by:
            return _park(job_id, WaitReason.BUDGET)
        opened, held = reservation.opened, reservation.redis_keys
    else:
        opened = _open_attempt(job_id, pre, key.id)
    if opened is None:
        return None
    job, call = opened.job, opened.call
    attempt = Attempt(job=job, number=job.attempts, team_id=pre.team_id, key_id=key.id,
                      call=call, price=pre.price, held=held, webhooks=pre.webhooks)
    try:
        result = gateway_client().chat(key.secret, opened.payload,
                                       request_id=str(call.client_request_id))
    except GatewayError as error:
        status = after_error(attempt, error)
        used = error.prompt_tokens + error.completion_tokens
    else:
        status = after_answer(attempt, result)
        used = result.prompt_tokens + result.completion_tokens
    limiter_settle(key_id=key.id, reserved_tokens=pre.reserve_tokens, used_tokens=used)
    return status
