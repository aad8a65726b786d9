"""What users do to jobs already made: cancel or retry one, or a whole batch's."""

from django.db import transaction
from django.utils import timezone

from prompts.models import Batch, GenerationJob
from prompts.pipeline.dispatch import job_enqueue

Status = GenerationJob.Status
WaitReason = GenerationJob.WaitReason


def job_cancel(*, job: GenerationJob) -> bool:
    """Cancel a job that has not started its call; a running attempt is left to finish."""
    return bool(
        GenerationJob.objects.filter(
            pk=job.pk, status__in=[Status.QUEUED, Status.WAITING]
        ).update(status=Status.CANCELLED, wait_reason=WaitReason.NONE,
                 finished_at=timezone.now())
    )


def job_retry(*, job: GenerationJob) -> bool:
    """Send a failed job again; the attempt budget starts afresh."""
    with transaction.atomic():
        # started_at marks the start of the current run: failures before it don't count.
        retried = GenerationJob.objects.filter(pk=job.pk, status=Status.FAILED).update(
            status=Status.QUEUED, error_code="", error_message="", finished_at=None,
            next_attempt_at=None, repair_attempted=False, started_at=None,
        )
        if retried:
            job_enqueue(job.pk)
    return bool(retried)


@transaction.atomic
def batch_cancel(*, batch: Batch) -> int:
    """Cancel the batch's jobs that have not started; running ones finish. Returns how many."""
    cancelled = sum(
        job_cancel(job=job)
        for job in batch.jobs.filter(status__in=[Status.QUEUED, Status.WAITING]).only("pk")
    )
    if batch.cancelled_at is None:
        batch.cancelled_at = timezone.now()
        batch.save(update_fields=["cancelled_at"])
    return cancelled


@transaction.atomic
def batch_retry_failed(*, batch: Batch) -> int:
    """Send the batch's failed jobs again. Returns how many."""
    retried = sum(job_retry(job=job) for job in batch.jobs.filter(status=Status.FAILED).only("pk"))
    if retried and batch.cancelled_at is not None:
        batch.cancelled_at = None
        batch.save(update_fields=["cancelled_at"])
    return retried
