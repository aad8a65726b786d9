"""Reads about projects: the team's list with what each spent, and one project's overview."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from prompts.models import Batch, DailyUsage, GenerationJob, Project, PromptRecord, ReferenceImage
from prompts.workspace.formats.pngmeta import (
    GenerationMetadata,
    read_generation_metadata,
    read_png_generation_metadata,
)
from prompts.workspace.selectors.jobs import CallTotals

RECENT = 10


def _spend_by_project(project_ids: list[int]) -> dict[int, CallTotals]:
    rows = (
        DailyUsage.objects.filter(project_id__in=project_ids)
        .values("project_id")
        .annotate(
            calls_sum=Sum("calls"), prompt_sum=Sum("prompt_tokens"),
            completion_sum=Sum("completion_tokens"), cost_sum=Sum("cost"),
            unpriced_sum=Sum("unpriced_calls"),
        )
    )
    return {
        row["project_id"]: CallTotals(
            calls=row["calls_sum"] or 0, prompt_tokens=row["prompt_sum"] or 0,
            completion_tokens=row["completion_sum"] or 0, cost=row["cost_sum"] or Decimal(0),
            unpriced_calls=row["unpriced_sum"] or 0,
        )
        for row in rows
    }


def projects_for_team(*, team_id: int, archived: bool = False) -> list[Project]:
    """The team's projects with `n_references`, `n_jobs`, `n_records` and `spend` attached."""
    projects = list(
        Project.objects.filter(team_id=team_id, archived_at__isnull=not archived)
        .annotate(
            n_references=Count("references", distinct=True),
            n_jobs=Count("jobs", distinct=True),
            n_records=Count("records", distinct=True),
        )
        .order_by("name")
    )
    spend = _spend_by_project([project.id for project in projects])
    for project in projects:
        project.spend = spend.get(project.id, CallTotals())
    return projects


@dataclass(frozen=True)
class ProjectOverview:
    project: Project
    references: list
    recent_jobs: list
    recent_records: list
    recent_batches: list
    job_counts: dict
    spend: CallTotals


def project_overview(*, project: Project) -> ProjectOverview:
    counts = GenerationJob.objects.filter(project=project).aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status__in=["queued", "running", "waiting"])),
        succeeded=Count("id", filter=Q(status="succeeded")),
        failed=Count("id", filter=Q(status__in=["failed", "rejected"])),
    )
    return ProjectOverview(
        project=project,
        references=list(
            project.references.filter(archived_at__isnull=True)
            .select_related("consent_by").order_by("-created_at")
        ),
        recent_jobs=list(
            project.jobs.select_related("created_by").order_by("-created_at", "-id")[:RECENT]
        ),
        recent_records=list(
            PromptRecord.objects.filter(project=project).select_related("author")
            .order_by("-created_at", "-id")[:RECENT]
        ),
        recent_batches=list(Batch.objects.filter(project=project).order_by("-created_at")[:5]),
        job_counts=counts,
        spend=_spend_by_project([project.id]).get(project.id, CallTotals()),
    )


def reference_generation_metadata(reference: ReferenceImage) -> GenerationMetadata | None:
    """The prompt and settings a generator wrote into a reference PNG: A1111's text kept at
    upload, else the ComfyUI or InvokeAI chunks read again from the stored file."""
    if reference.png_parameters:
        found = read_generation_metadata({"parameters": reference.png_parameters})
        if found is not None:
            return found
    if reference.original_format != "PNG":
        return None
    with reference.original.open("rb") as handle:
        return read_png_generation_metadata(handle.read())
