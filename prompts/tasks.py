"""Celery tasks: thin. They take ids, tolerate missing rows and call a service."""

import logging

from celery import shared_task
from celery.signals import worker_ready

from prompts.pipeline.keys import gateway_key_bootstrap
from prompts.pipeline.run import job_run
from prompts.pipeline.sweeper import jobs_sweep
from prompts.usage.budgets import budget_warnings_send
from prompts.usage.reconciliation.nightly import reconcile_yesterday as reconcile_day_before
from prompts.usage.reconciliation.queued import reconciliation_execute
from prompts.workspace.services.webhook_delivery import (
    webhook_deliver,
    webhook_events_fan_out,
    webhooks_sweep,
)

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: int) -> str | None:
    return job_run(job_id)


@shared_task(ignore_result=True)
def sweep_jobs() -> dict[str, int]:
    counts = jobs_sweep()
    if any(counts.values()):
        logger.info("sweep: %s", counts)
    return counts


@shared_task(ignore_result=True)
def send_budget_warnings() -> int:
    return budget_warnings_send()


@worker_ready.connect(dispatch_uid="prompts.import_gateway_api_key")
def import_gateway_api_key(**_kwargs) -> None:
    """At a worker's start, a new GATEWAY_API_KEY becomes the active key (unless an admin
    chose another): see gateway_key_bootstrap."""
    gateway_key_bootstrap()


@shared_task(ignore_result=True)
def fan_out_webhook_events() -> int:
    return webhook_events_fan_out()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> str | None:
    return webhook_deliver(delivery_id)


@shared_task(ignore_result=True)
def sweep_webhooks() -> dict[str, int]:
    counts = webhooks_sweep()
    if any(counts.values()):
        logger.info("webhook sweep: %s", counts)
    return counts


# A day's log from a busy gateway can take longer than the job lease's limits.
@shared_task(ignore_result=True, soft_time_limit=3300, time_limit=3600)
def reconcile_yesterday() -> int | None:
    run = reconcile_day_before()
    return run.pk if run else None


# A month's log, or a 200 MB file, takes minutes: not the job lease's limits either.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             soft_time_limit=3300, time_limit=3600)
def reconcile_run(run_id: int) -> str | None:
    run = reconciliation_execute(run_id)
    return run.status if run else None
