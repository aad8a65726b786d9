"""Batch-wide actions; each job still goes through the job service."""

from django.db import transaction
from django.utils import timezone

from prompts.models import Batch, GenerationJob
from prompts.services.jobs import job_cancel, job_retry

Status = GenerationJob.Status


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
