"""Events for the team's webhooks, written to the outbox in the caller's transaction.

The pipeline and usage areas sit below the workspace, which delivers webhooks; they call
these functions (one line each) and the outbox row commits or rolls back with the change
it reports. After the commit the fan-out task is sent by name, so nothing here imports the
workspace. A team with no endpoint for the kind gets no row at all.
"""

import logging

from celery import current_app
from django.db import transaction

from prompts.models import GenerationJob, WebhookEndpoint, WebhookEvent, WebhookEventKind

logger = logging.getLogger(__name__)

FAN_OUT_TASK = "prompts.tasks.fan_out_webhook_events"
# A job's final status → the event a pipeline hears about.
JOB_STATUS_EVENTS = {
    GenerationJob.Status.SUCCEEDED: WebhookEventKind.JOB_SUCCEEDED,
    GenerationJob.Status.FAILED: WebhookEventKind.JOB_FAILED,
    GenerationJob.Status.REJECTED: WebhookEventKind.JOB_FAILED,
}


def team_wants(team_id: int, kind: str) -> bool:
    """Whether any active endpoint of the team subscribes to `kind`."""
    subscriptions = WebhookEndpoint.objects.filter(team_id=team_id, is_active=True) \
        .values_list("events", flat=True)
    return any(kind in (events or []) for events in subscriptions)


def event_emit(*, team_id: int, kind: str, payload: dict | None = None, job_id: int | None = None,
               record_id: int | None = None, endpoint_id: int | None = None,
               listening: bool = False) -> WebhookEvent | None:
    """An outbox row for the event, if anyone listens (a test event always has a listener;
    `listening`: the caller has checked). `payload` may be left None for job events: the
    fan-out builds it from the job."""
    if endpoint_id is None and not listening and not team_wants(team_id, kind):
        return None
    event = WebhookEvent.objects.create(team_id=team_id, kind=kind, payload=payload,
                                        job_id=job_id, record_id=record_id,
                                        endpoint_id=endpoint_id)
    transaction.on_commit(fan_out_soon)
    return event


def fan_out_soon() -> None:
    """Wake the fan-out task. If the broker is down the beat sweep finds the event later."""
    try:
        current_app.send_task(FAN_OUT_TASK)
    except Exception:
        logger.exception("broker unreachable: webhook events left for the sweep")


def job_event_emit(*, job_id: int, team_id: int, status: str) -> WebhookEvent | None:
    """job.succeeded or job.failed for a job that has just reached `status`."""
    kind = JOB_STATUS_EVENTS.get(status)
    if kind is None:
        return None
    return event_emit(team_id=team_id, kind=kind, job_id=job_id)


def jobs_event_emit(*, job_ids: list[int], status: str) -> None:
    """job.failed (or succeeded) for several jobs one sweep has just finished; each team's
    subscriptions are read once, not once per job."""
    kind = JOB_STATUS_EVENTS.get(status)
    if kind is None:
        return
    wanted: dict[int, bool] = {}
    teams = GenerationJob.objects.filter(pk__in=job_ids).values_list("id", "project__team_id")
    for job_id, team_id in teams:
        if team_id not in wanted:
            wanted[team_id] = team_wants(team_id, kind)
        if wanted[team_id]:
            event_emit(team_id=team_id, kind=kind, job_id=job_id, listening=True)


def budget_event_emit(budget, spent, month) -> WebhookEvent | None:
    """budget.warning, when a monthly budget has reached its warning level in `month`."""
    return event_emit(team_id=budget.team_id, kind=WebhookEventKind.BUDGET_WARNING, payload={
        "budget": {"team": budget.team.name,
                   "user": budget.user.username if budget.user_id else None,
                   "monthly_limit": str(budget.monthly_limit), "warn_at": str(budget.warn_at)},
        "spent": f"{spent:.6f}",
        "month": month.strftime("%Y-%m"),
    })
