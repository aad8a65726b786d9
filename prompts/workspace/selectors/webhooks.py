"""Reads for webhooks: the JSON an event carries, a team's endpoints and their delivery log."""

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from prompts.models import (
    GenerationJob,
    PromptRecord,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
)

LOG_SIZE = 100


def record_data(record: PromptRecord) -> dict:
    """A record as webhooks carry it: prompts and settings, where it lives, its review."""
    return {
        "id": record.pk,
        "url": settings.SITE_URL + reverse("record_detail", args=[record.pk]),
        "project": {"id": record.project_id, "name": record.project.name},
        "positive_prompt": record.positive_prompt,
        "negative_prompt": record.negative_prompt,
        "width": record.width, "height": record.height, "steps": record.steps,
        "cfg_scale": str(record.cfg_scale) if record.cfg_scale is not None else None,
        "sampler": record.sampler, "style": record.style, "seed": record.seed,
        "needs_review": record.needs_review,
        "review_status": record.review_status,
        "approved_by": record.approved_by.get_username() if record.approved_by_id else None,
        "approved_at": record.approved_at.isoformat() if record.approved_at else None,
    }


def job_data(job: GenerationJob) -> dict:
    """A finished job and, when it succeeded, its record."""
    record = PromptRecord.objects.select_related("project", "approved_by") \
        .filter(job=job).first()
    version = job.style_version
    return {
        "job": {
            "id": job.pk, "status": job.status,
            "url": settings.SITE_URL + reverse("job_detail", args=[job.pk]),
            "project": {"id": job.project_id, "name": job.project.name},
            "batch": job.batch_id, "parent": job.parent_id,
            "brief": job.brief, "task_type": job.task_type, "model": job.model,
            "created_by": job.created_by.get_username(),
            "created_at": job.created_at.isoformat(),
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "error": {"code": job.error_code, "message": job.error_message}
            if job.error_code and job.error_code != "needs_review" else None,
            "template": {"id": job.template_id, "name": job.template.name,
                         "values": job.template_values} if job.template_id else None,
            "house_style": {"name": version.style.name, "version": version.number}
            if version else None,
        },
        "record": record_data(record) if record else None,
    }


def event_envelope(event: WebhookEvent, data: dict) -> dict:
    return {"id": f"evt_{event.pk}", "type": event.kind,
            "created_at": event.created_at.isoformat(),
            "team": {"id": event.team_id, "name": event.team.name}, "data": data}


def event_data(event: WebhookEvent) -> dict:
    """What the event says, read when it is fanned out: a job event is written before the
    job's record exists, in the same transaction."""
    if event.payload is not None:
        return event.payload
    if event.job_id is not None:
        job = GenerationJob.objects.select_related(
            "project", "created_by", "template", "style_version__style").get(pk=event.job_id)
        return job_data(job)
    return {}


def endpoints_for_team(*, team_id: int) -> QuerySet:
    return (WebhookEndpoint.objects.filter(team_id=team_id)
            .annotate(delivered=Count("deliveries", filter=Q(deliveries__status="succeeded")),
                      failed=Count("deliveries", filter=Q(deliveries__status="failed")),
                      waiting=Count("deliveries", filter=Q(deliveries__status__in=[
                          "pending", "sending"])))
            .order_by("-created_at", "-id"))


def endpoint_log(*, endpoint: WebhookEndpoint) -> list[WebhookDeliveryAttempt]:
    """The endpoint's latest attempts, newest first, with their delivery and event."""
    return list(WebhookDeliveryAttempt.objects.filter(delivery__endpoint=endpoint)
                .select_related("delivery__event").order_by("-started_at", "-id")[:LOG_SIZE])


def endpoint_pending(*, endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    return list(endpoint.deliveries.filter(status__in=["pending", "sending"])
                .select_related("event").order_by("next_attempt_at", "id")[:LOG_SIZE])
