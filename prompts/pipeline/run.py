"""A worker's run of one job: check, claim, call the gateway once, hand the answer on.

Read top to bottom: `job_run` is the whole attempt. What the job does with the answer is
decided in prompts.pipeline.outcomes, in one table.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Budget, GatewayKey
from prompts.gateway.errors import GatewayError
from prompts.gateway.payloads import build_chat_payload, image_data_url
from prompts.models import DispatchPause, GatewayCall, GenerationJob
from prompts.pipeline.client import gateway_client
from prompts.pipeline.dispatch import job_enqueue
from prompts.pipeline.keys import gateway_key_active, gateway_key_from_store
from prompts.pipeline.limiter import limiter_acquire, limiter_settle, limiter_wait_s
from prompts.pipeline.outcomes import Attempt, after_answer, after_error
from prompts.usage.budgets import budget_exceeded

Status = GenerationJob.Status
WaitReason = GenerationJob.WaitReason

# A repair attempt asks again at a lower temperature: fewer creative detours, more JSON.
REPAIR_TEMPERATURE = 0.2


@dataclass(frozen=True)
class Preflight:
    """Everything a worker must know before it may claim a job, read in one query."""

    status: str
    next_attempt_at: datetime | None
    team_id: int
    user_id: int
    reserve_tokens: int
    dispatch_paused: bool
    has_budget: bool
    has_references: bool
    key_id: int | None
    key_secret_encrypted: str | None

    def due(self) -> bool:
        return self.status == Status.QUEUED and (
            self.next_attempt_at is None or self.next_attempt_at <= timezone.now())


def _preflight(job_id: int) -> Preflight | None:
    active_key = GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE)
    row = (
        GenerationJob.objects.filter(pk=job_id)
        .annotate(
            paused=Exists(DispatchPause.objects.filter(cleared_at__isnull=True)),
            budgeted=Exists(
                Budget.objects.filter(team_id=OuterRef("project__team_id")).filter(
                    Q(user__isnull=True) | Q(user_id=OuterRef("created_by_id")))
            ),
            referenced=Exists(
                GenerationJob.references.through.objects.filter(generationjob_id=OuterRef("pk"))
            ),
            active_key_id=Subquery(active_key.values("id")[:1]),
            active_key_secret=Subquery(active_key.values("secret_encrypted")[:1]),
        )
        .values_list(
            "status", "next_attempt_at", "project__team_id", "created_by_id",
            "estimated_input_tokens", "max_tokens", "paused", "budgeted", "referenced",
            "active_key_id", "active_key_secret",
        )
        .first()
    )
    if row is None:
        return None
    (status, next_at, team_id, user_id, estimated, max_tokens, paused, budgeted, referenced,
     key_id, key_secret) = row
    return Preflight(
        status=status, next_attempt_at=next_at, team_id=team_id, user_id=user_id,
        # The tokens-per-minute limiter holds the input estimate plus the most the answer
        # may use, until the gateway reports the real usage.
        reserve_tokens=estimated + max_tokens if settings.GATEWAY_TPM else 0,
        dispatch_paused=paused, has_budget=budgeted, has_references=referenced,
        key_id=key_id, key_secret_encrypted=key_secret,
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


def _claim(job_id: int) -> bool:
    """Take the job for this worker with a lease. False when it is not ours: running
    elsewhere, finished, parked, or not yet due (a second delivery)."""
    now = timezone.now()
    return bool(GenerationJob.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        pk=job_id,
        status=Status.QUEUED,
    ).update(
        status=Status.RUNNING,
        lease_until=now + timedelta(seconds=settings.JOB_LEASE_S),
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), now),
    ))


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


def job_run(job_id: int) -> str | None:
    """One attempt at the gateway for a job. Returns the job's new status, or None if this
    delivery had nothing to do."""
    pre = _preflight(job_id)
    if pre is None or not pre.due():
        return None  # gone, taken, finished, parked, or not yet due: a duplicate delivery
    if pre.dispatch_paused:
        return _park(job_id, WaitReason.BALANCE)
    if pre.has_budget and budget_exceeded(team_id=pre.team_id, user_id=pre.user_id):
        return _park(job_id, WaitReason.BUDGET)
    key = _key_for(pre)
    if key is None:
        return _park(job_id, WaitReason.KEY)
    if not _wait_for_slot(job_id, key.id, pre.reserve_tokens) or not _claim(job_id):
        return None
    job = GenerationJob.objects.select_related("project", "style_version").get(pk=job_id)
    payload = _payload(job, pre.has_references)
    # The attempt number is ours until we finish: only this worker's attempt can change it.
    attempt = Attempt(job=job, number=job.attempts, key_id=key.id, started_at=timezone.now())
    try:
        result = gateway_client().chat(key.secret, payload)
    except GatewayError as error:
        status = after_error(attempt, error)
        used = error.prompt_tokens + error.completion_tokens
    else:
        status = after_answer(attempt, result)
        used = result.prompt_tokens + result.completion_tokens
    limiter_settle(key_id=key.id, reserved_tokens=pre.reserve_tokens, used_tokens=used)
    return status
