"""Reconciling from the page: the run is stored as running at once and a worker does it, so
a month's log or a 200 MB file never meets a web request's time limit. An uploaded file
waits in storage until its run has read it. A run no worker finished (its task lost, its
worker gone for good) is failed by beat's sweep after RECONCILE_STALE_AFTER, never left
"running" for ever."""

import logging
import uuid
from datetime import date, datetime, timedelta

from celery import current_app
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from prompts.models import ReconciliationRun

from .runs import reconciliation_run
from .source import log_source

logger = logging.getLogger(__name__)

Status = ReconciliationRun.Status
# Sent by name: the task module imports this one, not the other way round.
RECONCILE_TASK = "prompts.tasks.reconcile_run"
RECONCILE_STALE_AFTER = timedelta(hours=2)


def reconciliation_queue(*, since: date, until: date, upload: UploadedFile | None = None,
                         actor: User) -> ReconciliationRun:
    """A run in state running, handed to a worker once it is committed."""
    if upload is not None:
        source, name = ReconciliationRun.Source.FILE, upload.name or "log"
    else:
        pulled = log_source()
        if not pulled.configured:  # fails at once, with the reason: no worker needed
            return reconciliation_run(since=since, until=until, trigger="page", actor=actor)
        source, name = ReconciliationRun.Source.PULL, pulled.url
    run = ReconciliationRun(since=since, until=until, trigger="page", created_by=actor,
                            status=Status.RUNNING, source=source, source_name=name[:300])
    with transaction.atomic():
        if upload is not None:
            # Our own name: the user's file name is kept in source_name, never in a path.
            run.log_file.save(f"{uuid.uuid4().hex}.log", upload, save=False)
        run.save()
        transaction.on_commit(lambda: _send(run.pk))
    return run


def _send(run_id: int) -> None:
    try:
        current_app.send_task(RECONCILE_TASK, args=(run_id,))
    except Exception:
        # Left running: beat's sweep fails it later, with a message to start it again.
        logger.exception("broker unreachable: reconciliation %s not sent", run_id)


def reconciliation_execute(run_id: int) -> ReconciliationRun | None:
    """A worker's part: complete the queued run. A run that is no longer running (a task
    delivered twice, a run the sweep gave up on) is left as it is."""
    run = (ReconciliationRun.objects.select_related("created_by")
           .filter(pk=run_id, status=Status.RUNNING).first())
    if run is None:
        return None
    file_data = None
    if run.log_file:
        with run.log_file.open("rb") as stored:
            file_data = stored.read()
    try:
        run = reconciliation_run(since=run.since, until=run.until, file_data=file_data,
                                 filename=run.source_name, trigger=run.trigger,
                                 actor=run.created_by, run=run)
    except Exception:
        logger.exception("reconciliation %s failed", run_id)
        ReconciliationRun.objects.filter(pk=run_id, status=Status.RUNNING).update(
            status=Status.FAILED, finished_at=timezone.now(),
            error="GrokWeb could not finish this run (an internal error, logged for the "
                  "site's operators). Nothing was settled.")
        run.refresh_from_db()
    if run.log_file:
        run.log_file.delete(save=False)
        ReconciliationRun.objects.filter(pk=run.pk).update(log_file="")
    return run


def reconciliations_expire(now: datetime) -> int:
    """Beat's sweep: runs still running long after they started failed somewhere."""
    stale = ReconciliationRun.objects.filter(status=Status.RUNNING,
                                             started_at__lt=now - RECONCILE_STALE_AFTER)
    expired = 0
    for run in stale:
        if run.log_file:
            run.log_file.delete(save=False)
        expired += ReconciliationRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
            status=Status.FAILED, finished_at=now, log_file="",
            error="No worker finished this run. Nothing was settled; start it again.")
    return expired
