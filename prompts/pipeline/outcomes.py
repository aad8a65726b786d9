"""What a job does with the gateway's answer: one place, one handler per outcome.

The table follows DESIGN.md ("Gateway responses → what the job does"). Every handler writes
the attempt's ledger row and moves the job on from `running` in one transaction, and only
if this worker still holds the attempt (`_finish`), so a job finishes exactly once.
"""

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prompts.events import job_event_emit
from prompts.gateway.client import GatewayResult
from prompts.gateway.errors import UNREACHABLE, GatewayError, SpecParseError
from prompts.gateway.kept_settings import kept_settings_apply, split_kept_settings
from prompts.gateway.spec import enforce_house_style, parse_prompt_spec
from prompts.models import DispatchPause, GatewayCall, GenerationJob, PromptRecord
from prompts.pipeline.alerts import alert_site_admins
from prompts.pipeline.dispatch import job_enqueue
from prompts.pipeline.keys import failover_after_refusal
from prompts.pipeline.limiter import limiter_pause, limiter_trip
from prompts.pipeline.moderation import breaker_check
from prompts.usage.ledger import CallFacts, ledger_complete
from prompts.usage.reservations import budget_settle

logger = logging.getLogger(__name__)

Status = GenerationJob.Status
WaitReason = GenerationJob.WaitReason

# 429s are retried longer than other transient failures: they say "later", not "broken".
RATE_LIMIT_ATTEMPTS_FACTOR = 3
# The raw answer kept with a record (a reply of megabytes is cut, not refused).
RAW_TEXT_LIMIT = 100_000


@dataclass(frozen=True)
class Attempt:
    """One claimed attempt: the job as claimed, its attempt number, the key it used and its
    write-ahead ledger row."""

    job: GenerationJob
    number: int
    team_id: int
    key_id: int
    call: GatewayCall
    price: object | None  # ModelPrice or run.PriceInForce: what the call is charged at
    held: tuple[str, ...] = ()  # Redis keys of the budgets its maximum cost is reserved in
    # The team has an active webhook endpoint (read with the job): without one, finishing a
    # job looks for no subscription.
    webhooks: bool = True

    def record(self, facts_from, **extra) -> GatewayCall:
        """Complete the attempt's ledger row (and rollup) and commit it: billed usage is in
        the ledger before anything else about the job is written. A budget reservation
        settles at the real cost."""
        facts = CallFacts(
            started_at=self.call.started_at, key_id=self.key_id,
            http_status=facts_from.http_status, latency_ms=facts_from.latency_ms,
            prompt_tokens=facts_from.prompt_tokens,
            completion_tokens=facts_from.completion_tokens, request_id=facts_from.request_id,
            **extra,
        )
        call = ledger_complete(call=self.call, facts=facts, price=self.price)
        if self.held and call.state == GatewayCall.State.COMPLETED:
            budget_settle(call=call, before=call.max_cost, keys=self.held)
        return call

    def finish(self, **changes) -> bool:
        """Move the job on from `running`, only if this worker still holds this attempt."""
        changes.setdefault("lease_until", None)
        finished = bool(
            GenerationJob.objects.filter(pk=self.job.pk, status=Status.RUNNING,
                                         attempts=self.number).update(**changes)
        )
        if finished and self.webhooks:
            job_event_emit(job_id=self.job.pk, team_id=self.team_id, status=changes["status"])
        return finished


# A 200 answer -----------------------------------------------------------------------------


def after_answer(attempt: Attempt, result: GatewayResult) -> str:
    try:
        spec = parse_prompt_spec(result.message)
    except SpecParseError as error:
        return _unparseable(attempt, result, error.raw_text or result.content)
    # What the brief asked to keep (a generator PNG's settings, say) wins over the answer;
    # the team's house style, a rule, wins over both.
    spec = kept_settings_apply(spec, split_kept_settings(attempt.job.brief)[1])
    spec = enforce_house_style(spec, attempt.job.house_rules)
    attempt.record(result, outcome="ok")
    job = attempt.job
    record = PromptRecord(
        job=job, project_id=job.project_id, author_id=job.created_by_id,
        positive_prompt=spec.positive_prompt, negative_prompt=spec.negative_prompt,
        width=spec.width, height=spec.height, steps=spec.steps,
        cfg_scale=Decimal(str(spec.cfg_scale)).quantize(Decimal("0.1")),
        sampler=spec.sampler, style=spec.style, seed=spec.seed,
        visual_features=spec.visual_features, raw_text=result.content[:RAW_TEXT_LIMIT],
        needs_review=spec.needs_review,
    )
    try:
        with transaction.atomic():
            if attempt.finish(status=Status.SUCCEEDED, finished_at=timezone.now(),
                              error_code="needs_review" if spec.needs_review else "",
                              error_message=""):
                record.save()
    except DatabaseError as error:
        # The answer is paid for and in the ledger; trying again would pay again.
        logger.exception("job %s: the answer could not be stored", job.pk)
        attempt.finish(status=Status.FAILED, finished_at=timezone.now(),
                       error_code="store_failed",
                       error_message=str(_("The gateway answered but the answer could not be "
                                           "stored: %(error)s") % {"error": error})[:2000])
        return Status.FAILED
    return Status.SUCCEEDED


def _unparseable(attempt: Attempt, result: GatewayResult, raw: str) -> str:
    """One repair attempt at a lower temperature, then a record that needs review."""
    job = attempt.job
    raw = raw[:RAW_TEXT_LIMIT]
    attempt.record(result, outcome="parse", error_message=raw)
    with transaction.atomic():
        if not job.repair_attempted:
            if attempt.finish(status=Status.QUEUED, repair_attempted=True, next_attempt_at=None):
                job_enqueue(job.id)
            return Status.QUEUED
        if attempt.finish(status=Status.SUCCEEDED, finished_at=timezone.now(),
                          error_code="needs_review", error_message=""):
            PromptRecord.objects.create(job=job, project_id=job.project_id,
                                        author_id=job.created_by_id, raw_text=raw,
                                        needs_review=True)
    return Status.SUCCEEDED


# An error ---------------------------------------------------------------------------------


def after_error(attempt: Attempt, error: GatewayError) -> str:
    logger.info("job %s attempt %s: %s", attempt.job.pk, attempt.number, error)
    handler = _ERROR_HANDLERS.get(error.outcome, _give_up)
    return handler(attempt, error)


def backoff_delay(failures: int) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**(n-1)))."""
    ceiling = min(settings.GATEWAY_BACKOFF_CAP_S,
                  settings.GATEWAY_BACKOFF_BASE_S * 2 ** max(failures - 1, 0))
    return random.uniform(0, ceiling)


def _failures(job: GenerationJob, outcome: str) -> int:
    """This run's failures of one kind (a retry by the user starts a new run)."""
    calls = GatewayCall.objects.filter(job=job, outcome=outcome)
    if job.started_at is not None:
        calls = calls.filter(started_at__gte=job.started_at)
    return calls.count()


def _retry_later(attempt: Attempt, error: GatewayError) -> str:
    """Rate limited or transient: again after Retry-After or a backoff, up to the limit."""
    outcome = error.outcome
    if error.code == UNREACHABLE:
        # Nobody answered: hold every job on this key back rather than let each one
        # spend its attempts against a gateway that is down.
        limiter_trip(key_id=attempt.key_id)
    failures = _failures(attempt.job, outcome) + 1
    limit = settings.GATEWAY_MAX_ATTEMPTS * (
        RATE_LIMIT_ATTEMPTS_FACTOR if outcome == "rate_limited" else 1)
    honoured = outcome == "rate_limited" and error.retry_after_s is not None
    delay = (min(error.retry_after_s, settings.GATEWAY_RETRY_AFTER_CAP_S) if honoured
             else backoff_delay(failures))
    if failures >= limit:
        return _give_up(attempt, error, message=_give_up_message(outcome, failures, error))
    attempt.record(error, outcome=outcome, error_message=error.message,
                   retry_delay_s=round(delay, 3), retry_after_honoured=honoured)
    with transaction.atomic():
        if attempt.finish(status=Status.QUEUED,
                          next_attempt_at=timezone.now() + timedelta(seconds=delay)):
            job_enqueue(attempt.job.id, countdown=delay)
    if honoured:
        limiter_pause(key_id=attempt.key_id, seconds=delay)
    return Status.QUEUED


def _rejected(attempt: Attempt, error: GatewayError) -> str:
    """Moderation: never retried; repeated rejections put the user's jobs on hold."""
    attempt.record(error, outcome=error.outcome, error_message=error.message)
    with transaction.atomic():
        attempt.finish(status=Status.REJECTED, finished_at=timezone.now(),
                       error_code="moderation", error_message=error.message)
    breaker_check(user_id=attempt.job.created_by_id, team_id=attempt.team_id)
    return Status.REJECTED


def _key_refused(attempt: Attempt, error: GatewayError) -> str:
    """The key was refused: fail over to a verified standby, else wait for an admin."""
    attempt.record(error, outcome=error.outcome, error_message=error.message)
    with transaction.atomic():
        failover = failover_after_refusal(key_id=attempt.key_id, error=str(error))
        status = Status.WAITING if failover.stopped else Status.QUEUED
        if attempt.finish(status=status, next_attempt_at=None,
                          wait_reason=WaitReason.KEY if failover.stopped else ""):
            if status == Status.QUEUED:
                job_enqueue(attempt.job.id)
    if failover.stopped:
        alert_site_admins(kind="key", detail=str(error))
    return status


def _balance_exhausted(attempt: Attempt, error: GatewayError) -> str:
    """No balance: all dispatch pauses until an admin says it is topped up."""
    attempt.record(error, outcome=error.outcome, error_message=error.message)
    with transaction.atomic():
        opened = not DispatchPause.objects.filter(cleared_at__isnull=True).exists()
        if opened:
            DispatchPause.objects.create(reason="balance", detail=error.message[:500])
        attempt.finish(status=Status.WAITING, wait_reason=WaitReason.BALANCE)
    if opened:
        alert_site_admins(kind="balance", detail=error.message)
    return Status.WAITING


def _give_up(attempt: Attempt, error: GatewayError, message: str | None = None) -> str:
    """Invalid request, too large, or out of attempts: the same request fails again."""
    if message is None:
        message = error.message
        if error.outcome == "too_large":
            message = str(_("The gateway said the request is too large (413). Use fewer or "
                            "smaller references, or a shorter brief.")) + f" ({error.message})"
    attempt.record(error, outcome=error.outcome, error_message=error.message)
    attempt.finish(status=Status.FAILED, finished_at=timezone.now(),
                   error_code=error.outcome, error_message=message)
    return Status.FAILED


def _give_up_message(outcome: str, failures: int, error: GatewayError) -> str:
    if outcome == "rate_limited":
        return str(_("Still rate limited after %(n)s tries; gave up. Last answer: %(last)s")
                   % {"n": failures, "last": error.message})
    return str(_("The gateway failed %(n)s times in a row; gave up. Last answer: %(last)s")
               % {"n": failures, "last": error})


_ERROR_HANDLERS = {
    "rate_limited": _retry_later,
    "transient": _retry_later,
    "moderation": _rejected,
    "auth": _key_refused,
    "balance": _balance_exhausted,
    "invalid": _give_up,
    "too_large": _give_up,
}
