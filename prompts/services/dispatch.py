"""Getting jobs to workers: enqueue after commit, resume parked jobs, sweep what was lost."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import GatewayKey
from prompts.models import DispatchPause, GenerationJob, ModerationHold

logger = logging.getLogger(__name__)

Status = GenerationJob.Status
WaitReason = GenerationJob.WaitReason


def _send(job_ids: list[int], countdown: float | None) -> None:
    """Publish to the broker. If it is down the jobs stay queued and the sweeper re-sends
    them: a broker outage delays a brief, it never loses one."""
    from prompts.tasks import run_job

    sent = []
    try:
        for job_id in job_ids:
            run_job.apply_async((job_id,), countdown=countdown)
            sent.append(job_id)
    except Exception:
        logger.exception("broker unreachable: %d job(s) left queued for the sweeper",
                         len(job_ids) - len(sent))
    if sent:
        GenerationJob.objects.filter(pk__in=sent).update(dispatched_at=timezone.now())


def job_enqueue(job_id: int, *, countdown: float | None = None) -> None:
    """Send the job's id to a worker once the current transaction commits."""
    transaction.on_commit(lambda: _send([job_id], countdown))


def jobs_enqueue(job_ids: list[int]) -> None:
    if job_ids:
        transaction.on_commit(lambda: _send(list(job_ids), None))


def dispatch_paused() -> DispatchPause | None:
    return DispatchPause.objects.filter(cleared_at__isnull=True).first()


def jobs_resume(*, reason: str, user_id: int | None = None, team_id: int | None = None) -> int:
    """Put jobs parked for `reason` back in the queue and send them. Returns how many."""
    with transaction.atomic():
        parked = GenerationJob.objects.select_for_update().filter(
            status=Status.WAITING, wait_reason=reason
        )
        if user_id is not None:
            parked = parked.filter(created_by_id=user_id)
        if team_id is not None:
            parked = parked.filter(project__team_id=team_id)
        job_ids = list(parked.values_list("id", flat=True))
        if not job_ids:
            return 0
        GenerationJob.objects.filter(pk__in=job_ids, status=Status.WAITING).update(
            status=Status.QUEUED, wait_reason=WaitReason.NONE, next_attempt_at=None
        )
        jobs_enqueue(job_ids)
    logger.info("resumed %d job(s) that waited for %s", len(job_ids), reason)
    return len(job_ids)


def pause_clear(*, cleared_by=None) -> int:
    """An admin says the gateway balance is topped up: dispatch resumes."""
    DispatchPause.objects.filter(cleared_at__isnull=True).update(
        cleared_at=timezone.now(), cleared_by=cleared_by
    )
    return jobs_resume(reason=WaitReason.BALANCE)


def jobs_sweep() -> dict[str, int]:
    """Beat's safety net: nothing is lost, nothing runs twice.

    - running jobs whose lease expired (their worker died) go back to the queue;
    - queued jobs whose message went missing are sent again (a duplicate is harmless:
      the claim lets only one delivery run);
    - parked jobs whose cause has cleared resume;
    - retiring keys past their grace period retire.
    """
    from prompts.services.budgets import budget_exceeded

    now = timezone.now()
    grace = timedelta(seconds=max(settings.SWEEP_INTERVAL_S * 2, 30))
    counts = {"expired": 0, "resent": 0, "resumed": 0, "retired_keys": 0}

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
        counts["expired"] = len(expired)

    stale = list(
        GenerationJob.objects.filter(status=Status.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now - grace))
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=now - grace))
        .values_list("id", flat=True)[:1000]
    )
    if stale:
        with transaction.atomic():
            jobs_enqueue(stale)
        counts["resent"] = len(stale)

    if GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE).exists():
        counts["resumed"] += jobs_resume(reason=WaitReason.KEY)
    if dispatch_paused() is None:
        counts["resumed"] += jobs_resume(reason=WaitReason.BALANCE)
    budget_waiting = (
        GenerationJob.objects.filter(status=Status.WAITING, wait_reason=WaitReason.BUDGET)
        .values_list("project__team_id", "created_by_id").distinct()
    )
    for team_id, user_id in budget_waiting:
        if budget_exceeded(team_id=team_id, user_id=user_id) is None:
            counts["resumed"] += jobs_resume(reason=WaitReason.BUDGET, user_id=user_id,
                                             team_id=team_id)
    from prompts.services.billing import budget_warnings_send  # usage area: warn-once e-mail
    counts["budget_warnings"] = budget_warnings_send()
    held = (
        GenerationJob.objects.filter(status=Status.WAITING,
                                     wait_reason=WaitReason.MODERATION_HOLD)
        .values_list("project__team_id", "created_by_id").distinct()
    )
    for team_id, user_id in held:
        if not ModerationHold.objects.filter(user_id=user_id, team_id=team_id,
                                             released_at__isnull=True).exists():
            counts["resumed"] += jobs_resume(reason=WaitReason.MODERATION_HOLD,
                                             user_id=user_id, team_id=team_id)

    counts["retired_keys"] = GatewayKey.objects.filter(
        status=GatewayKey.Status.RETIRING, retiring_until__lte=now
    ).update(status=GatewayKey.Status.RETIRED)
    return counts
