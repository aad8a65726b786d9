"""Beat's safety net for jobs: none lost, none run twice, none parked for ever.

`jobs_sweep` runs each duty in turn and reports how many jobs (or keys) each one moved.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import GatewayKey
from prompts.models import GenerationJob, ModerationHold
from prompts.pipeline.dispatch import dispatch_paused, jobs_enqueue, jobs_resume
from prompts.pipeline.keys import gateway_keys_retire_due
from prompts.usage.budgets import budget_exceeded

logger = logging.getLogger(__name__)

Status = GenerationJob.Status
WaitReason = GenerationJob.WaitReason
RESEND_BATCH = 1000


def requeue_expired(now: datetime) -> int:
    """Running jobs whose lease expired (their worker died) go back to the queue."""
    with transaction.atomic():
        expired = list(
            GenerationJob.objects.select_for_update(skip_locked=True)
            .filter(status=Status.RUNNING, lease_until__lt=now)
            .values_list("id", flat=True)
        )
        if expired:
            GenerationJob.objects.filter(pk__in=expired, status=Status.RUNNING).update(
                status=Status.QUEUED, lease_until=None, next_attempt_at=now
            )
            jobs_enqueue(expired)
            logger.warning("re-queued %d job(s) whose worker lease expired", len(expired))
    return len(expired)


def resend_lost(now: datetime) -> int:
    """Queued jobs whose message went missing are sent again (a duplicate is harmless: the
    claim lets only one delivery run)."""
    grace = timedelta(seconds=max(settings.SWEEP_INTERVAL_S * 2, 30))
    stale = list(
        GenerationJob.objects.filter(status=Status.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now - grace))
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=now - grace))
        .values_list("id", flat=True)[:RESEND_BATCH]
    )
    if stale:
        with transaction.atomic():
            jobs_enqueue(stale)
    return len(stale)


def _parked(reason: str):
    return (GenerationJob.objects.filter(status=Status.WAITING, wait_reason=reason)
            .values_list("project__team_id", "created_by_id").distinct())


def resume_parked(now: datetime) -> int:
    """Parked jobs whose cause has cleared: a key is active, the balance pause is lifted,
    the budget allows them again, the moderation hold was released."""
    resumed = 0
    if GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE).exists():
        resumed += jobs_resume(reason=WaitReason.KEY)
    if dispatch_paused() is None:
        resumed += jobs_resume(reason=WaitReason.BALANCE)
    for team_id, user_id in _parked(WaitReason.BUDGET):
        if budget_exceeded(team_id=team_id, user_id=user_id) is None:
            resumed += jobs_resume(reason=WaitReason.BUDGET, user_id=user_id, team_id=team_id)
    for team_id, user_id in _parked(WaitReason.MODERATION_HOLD):
        if not ModerationHold.objects.filter(user_id=user_id, team_id=team_id,
                                             released_at__isnull=True).exists():
            resumed += jobs_resume(reason=WaitReason.MODERATION_HOLD, user_id=user_id,
                                   team_id=team_id)
    return resumed


DUTIES = {
    "expired": requeue_expired,
    "resent": resend_lost,
    "resumed": resume_parked,
    "retired_keys": gateway_keys_retire_due,
}


def jobs_sweep() -> dict[str, int]:
    now = timezone.now()
    return {name: duty(now) for name, duty in DUTIES.items()}
