"""Reads about batches: progress, what they cost so far, a summary when done."""

from dataclasses import dataclass

from django.db.models import Count, Q

from prompts.models import Batch, GatewayCall, GenerationJob
from prompts.workspace.selectors.jobs import ERROR_EXPLANATIONS, CallTotals, call_totals

Status = GenerationJob.Status
ACTIVE = ("queued", "running", "waiting")
# The progress bar's segments, in order; queued and running are the bar's empty part.
SEGMENTS = ("succeeded", "failed", "rejected", "waiting", "cancelled")


@dataclass(frozen=True)
class BatchProgress:
    batch: Batch
    total: int
    counts: dict  # status -> jobs
    percent: dict  # segment -> share of the bar, 0-100
    spend: CallTotals
    errors: list  # [{"error_code", "count", "explanation"}] for failed and rejected jobs

    @property
    def active(self) -> int:
        return sum(self.counts[status] for status in ACTIVE)

    @property
    def queued_or_running(self) -> int:
        return self.counts["queued"] + self.counts["running"]

    @property
    def finished(self) -> int:
        return self.total - self.active

    @property
    def is_done(self) -> bool:
        return self.active == 0


def _status_counts(jobs) -> dict:
    return jobs.aggregate(
        total=Count("id"),
        **{status: Count("id", filter=Q(status=status)) for status in Status.values},
    )


def batch_progress(*, batch: Batch) -> BatchProgress:
    counts = _status_counts(GenerationJob.objects.filter(batch=batch))
    total = counts.pop("total")
    percent = {
        segment: round(100 * counts[segment] / total, 1) if total else 0 for segment in SEGMENTS
    }
    errors = [
        {**row, "explanation": ERROR_EXPLANATIONS.get(row["error_code"], "")}
        for row in GenerationJob.objects.filter(
            batch=batch, status__in=[Status.FAILED, Status.REJECTED]
        ).values("error_code").annotate(count=Count("id")).order_by("-count")
    ]
    return BatchProgress(
        batch=batch, total=total, counts=counts, percent=percent,
        spend=call_totals(GatewayCall.objects.filter(job__batch=batch)), errors=errors,
    )


def batch_jobs(*, batch: Batch):
    """The batch's jobs in row order, with their records, for one paginated table."""
    return (
        GenerationJob.objects.filter(batch=batch)
        .select_related("record")
        .order_by("id")
    )


def batches_for_team(*, team_id: int) -> list[Batch]:
    """The team's batches, newest first, each with `n_<status>` counts and `n_jobs`."""
    return list(
        Batch.objects.filter(project__team_id=team_id)
        .select_related("project", "created_by")
        .annotate(
            n_jobs=Count("jobs"),
            n_active=Count("jobs", filter=Q(jobs__status__in=ACTIVE)),
            n_succeeded=Count("jobs", filter=Q(jobs__status=Status.SUCCEEDED)),
            n_failed=Count("jobs", filter=Q(jobs__status__in=[Status.FAILED, Status.REJECTED])),
        )
        .order_by("-created_at")[:200]
    )
