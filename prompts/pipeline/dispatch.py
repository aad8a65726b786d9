"""Getting jobs to workers: enqueue after commit, park and resume, the balance pause."""

import logging

from celery import current_app
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from prompts.models import DispatchPause, GenerationJob

logger = logging.getLogger(__name__)

Status = GenerationJob.Status
WaitReason = GenerationJob.WaitReason
# Sent by name: the task module imports the pipeline, not the other way round.
RUN_JOB_TASK = "prompts.tasks.run_job"


def _send(job_ids: list[int], countdown: float | None, stamped: bool = False) -> None:
    """Publish to the broker. If it is down the jobs stay queued and the sweeper re-sends
    them: a broker outage delays a brief, it never loses one. `stamped`: the caller wrote
    dispatched_at with the job already (a new job), so no UPDATE is needed."""
    sent = []
    try:
        for job_id in job_ids:
            current_app.send_task(RUN_JOB_TASK, args=(job_id,), countdown=countdown)
            sent.append(job_id)
    except Exception:
        logger.exception("broker unreachable: %d job(s) left queued for the sweeper",
                         len(job_ids) - len(sent))
    if sent and not stamped:
        GenerationJob.objects.filter(pk__in=sent).update(dispatched_at=timezone.now())


def job_enqueue(job_id: int, *, countdown: float | None = None, stamped: bool = False) -> None:
    """Send the job's id to a worker once the current transaction commits."""
    transaction.on_commit(lambda: _send([job_id], countdown, stamped))


def jobs_enqueue(job_ids: list[int], *, stamped: bool = False) -> None:
    if job_ids:
        transaction.on_commit(lambda: _send(list(job_ids), None, stamped))


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


def dispatch_resume(*, actor: User | None, ip_address: str | None = None) -> int:
    """An admin says the gateway balance is topped up: parked jobs go again. Audited."""
    pause = dispatch_paused()
    DispatchPause.objects.filter(cleared_at__isnull=True).update(
        cleared_at=timezone.now(), cleared_by=actor
    )
    resumed = jobs_resume(reason=WaitReason.BALANCE)
    audit_record(actor=actor, action="dispatch.resume", target=pause,
                 before={"paused": pause is not None}, after={"resumed_jobs": resumed},
                 ip_address=ip_address)
    return resumed
