"""Beat's safety net for jobs: none lost, none run twice, none parked for ever.

`jobs_sweep` runs each duty in turn and reports how many jobs (or keys) each one moved.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import GatewayKey
from prompts.events import jobs_event_emit
from prompts.models import GatewayCall, GenerationJob, ModerationHold
from prompts.pipeline.dispatch import dispatch_paused, jobs_enqueue, jobs_resume
from prompts.pipeline.keys import gateway_keys_retire_due
from prompts.pipeline.submissions import submission_keys_expire
from prompts.usage.budgets import budget_room
from prompts.usage.ledger import max_cost, price_in_force
from prompts.usage.reconciliation.queued import reconciliations_expire

logger = logging.getLogger(__name__)

Status = GenerationJob.Status
WaitReason = GenerationJob.WaitReason
RESEND_BATCH = 1000


def requeue_expired(now: datetime) -> int:
    """Running jobs whose lease expired (their worker died) go back to the queue, unless
    this run has used all its attempts: a job whose answers keep killing the worker, or
    cannot be stored, ends failed instead of being billed again and again."""
    with transaction.atomic():
        expired = list(
            GenerationJob.objects.select_for_update(skip_locked=True)
            .filter(status=Status.RUNNING, lease_until__lt=now)
            .annotate(run_attempts=_run_attempts())
            .values_list("id", "run_attempts")
        )
        spent = [job_id for job_id, attempts in expired
                 if attempts >= settings.GATEWAY_MAX_ATTEMPTS]
        retry = [job_id for job_id, attempts in expired if job_id not in spent]
        if spent:
            GenerationJob.objects.filter(pk__in=spent, status=Status.RUNNING).update(
                status=Status.FAILED, lease_until=None, finished_at=now, error_code="lost",
                error_message=str(_("The worker stopped during this job's last %(n)s "
                                    "attempts; gave up.") % {"n": settings.GATEWAY_MAX_ATTEMPTS}))
            jobs_event_emit(job_ids=spent, status=Status.FAILED)
        if retry:
            GenerationJob.objects.filter(pk__in=retry, status=Status.RUNNING).update(
                status=Status.QUEUED, lease_until=None, next_attempt_at=now
            )
            jobs_enqueue(retry)
        if expired:
            logger.warning("job leases expired: %d re-queued, %d failed after %d attempts",
                           len(retry), len(spent), settings.GATEWAY_MAX_ATTEMPTS)
    return len(expired)


def _run_attempts() -> Coalesce:
    """Attempts of the job's current run: its ledger rows since it was (re)started."""
    return Coalesce(Subquery(
        GatewayCall.objects.filter(job_id=OuterRef("pk"), started_at__gte=OuterRef("started_at"))
        .order_by().values("job_id").annotate(n=Count("id")).values("n")[:1],
        output_field=IntegerField(),
    ), 0)


def mark_unknown(now: datetime) -> int:
    """Write-ahead rows still in flight after any attempt's lease: their worker died with
    the call open. The gateway may have billed them; they are unconfirmed until the
    reconciliation against its log settles them."""
    return GatewayCall.objects.filter(
        state=GatewayCall.State.IN_FLIGHT,
        started_at__lt=now - timedelta(seconds=settings.JOB_LEASE_S),
    ).update(state=GatewayCall.State.UNKNOWN)


def resend_lost(now: datetime) -> int:
    """Queued jobs whose message went missing are sent again (a duplicate is harmless: the
    claim lets only one delivery run)."""
    grace = timedelta(seconds=max(settings.SWEEP_INTERVAL_S * 2, 30))
    stale = list(
        GenerationJob.objects.filter(status=Status.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now - grace))
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=now - grace))
        .values_list("id", flat=True)[:RESEND_BATCH]
    )
    if stale:
        with transaction.atomic():
            jobs_enqueue(stale)
    return len(stale)


def _parked(reason: str):
    return (GenerationJob.objects.filter(status=Status.WAITING, wait_reason=reason)
            .values_list("project__team_id", "created_by_id").order_by().distinct())


def resume_parked(now: datetime) -> int:
    """Parked jobs whose cause has cleared: a key is active, the balance pause is lifted,
    the budget allows them again, the moderation hold was released."""
    resumed = 0
    if GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE).exists():
        resumed += jobs_resume(reason=WaitReason.KEY)
    if dispatch_paused() is None:
        resumed += jobs_resume(reason=WaitReason.BALANCE)
    for team_id, user_id in _parked(WaitReason.BUDGET):
        fitting = _fitting_budget(team_id, user_id, now)
        if fitting:
            resumed += jobs_resume(reason=WaitReason.BUDGET, job_ids=fitting)
    for team_id, user_id in _parked(WaitReason.MODERATION_HOLD):
        if not ModerationHold.objects.filter(user_id=user_id, team_id=team_id,
                                             released_at__isnull=True).exists():
            resumed += jobs_resume(reason=WaitReason.MODERATION_HOLD, user_id=user_id,
                                   team_id=team_id)
    return resumed


def _fitting_budget(team_id: int, user_id: int, now: datetime) -> list[int]:
    """The user's jobs waiting for budget (oldest first) whose maximum costs fit together in
    the room their budgets have left: only those go back to the queue, so the rest do not
    take a worker just to wait again."""
    room = budget_room(team_id=team_id, user_id=user_id)
    waiting = (GenerationJob.objects.filter(status=Status.WAITING, wait_reason=WaitReason.BUDGET,
                                            created_by_id=user_id, project__team_id=team_id)
               .order_by("id").values_list("id", "model", "estimated_input_tokens",
                                           "max_tokens"))
    if room is None:  # the budget was removed
        return [job_id for job_id, *_rest in waiting]
    fitting, prices = [], {}
    for job_id, model, estimated, max_tokens in waiting:
        if model not in prices:
            prices[model] = price_in_force(model, now)
        cost = max_cost(prices[model], input_tokens=estimated, max_tokens=max_tokens) or 0
        if room <= 0 or cost > room:
            break
        room -= cost
        fitting.append(job_id)
    return fitting


DUTIES = {
    "unknown_calls": mark_unknown,
    "expired": requeue_expired,
    "resent": resend_lost,
    "resumed": resume_parked,
    "retired_keys": gateway_keys_retire_due,
    "submission_keys": submission_keys_expire,
    "stale_reconciliations": reconciliations_expire,
}


def jobs_sweep() -> dict[str, int]:
    now = timezone.now()
    return {name: duty(now) for name, duty in DUTIES.items()}
