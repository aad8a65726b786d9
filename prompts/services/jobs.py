"""A job's life: created by a user, claimed and run by a worker, finished exactly once.

Everything that decides what a job does with a gateway answer lives in `job_run` and the
`_after_*` functions below (DESIGN.md, "Gateway responses → what the job does").
"""

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Budget, GatewayKey, User
from accounts.services import (
    gateway_key_activate,
    gateway_key_active,
    gateway_key_from_store,
    gateway_key_mark_failing,
)
from prompts.estimate import TokenLimitExceeded, check_token_limit, estimate_input_tokens
from prompts.gateway.client import GatewayClient, GatewayResult
from prompts.gateway.errors import UNREACHABLE, GatewayError, SpecParseError
from prompts.gateway.payloads import (
    DEFAULT_MAX_TOKENS,
    TASK_PRESETS,
    build_chat_payload,
    image_data_url,
)
from prompts.gateway.spec import parse_prompt_spec
from prompts.models import (
    Batch,
    DispatchPause,
    GatewayCall,
    GatewayModel,
    GenerationJob,
    Project,
    PromptRecord,
    ReferenceImage,
)
from prompts.services.budgets import budget_exceeded
from prompts.services.dispatch import job_enqueue, jobs_enqueue
from prompts.services.ledger import CallFacts, ledger_record
from prompts.services.limiter import (
    limiter_acquire,
    limiter_pause,
    limiter_settle,
    limiter_trip,
    limiter_wait_s,
)
from prompts.services.moderation import (
    blocked_term_in,
    blocked_terms,
    breaker_check,
    hold_is_open,
)

logger = logging.getLogger(__name__)

Status = GenerationJob.Status
WaitReason = GenerationJob.WaitReason

MAX_BRIEF_CHARS = 400_000
# A repair attempt asks again at a lower temperature: fewer creative detours, more JSON.
REPAIR_TEMPERATURE = 0.2
# 429s are retried longer than other transient failures: they say "later", not "broken".
RATE_LIMIT_ATTEMPTS_FACTOR = 3


class JobRefused(Exception):
    """A job that must not be created; the message is for the user, in their language.
    From batch_create, `row` is the 1-based position of the refused spec."""

    def __init__(self, code: str, message, row: int | None = None) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.row = row


@dataclass(frozen=True)
class JobSpec:
    """What a user asks for; `job_create` validates it and turns it into a job."""

    brief: str
    task_type: str = "balanced"
    temperature: Decimal | None = None
    max_tokens: int | None = None
    references: Sequence[ReferenceImage] = ()
    image_urls: Sequence[str] = ()
    model: str = ""


def enabled_models() -> list[str]:
    """The default model (GATEWAY_MODEL) first, then the others admins enabled."""
    names = GatewayModel.objects.filter(enabled=True).values_list("name", flat=True)
    return [settings.GATEWAY_MODEL] + sorted(n for n in names if n != settings.GATEWAY_MODEL)


def default_temperature(task_type: str) -> Decimal:
    return TASK_PRESETS.get(task_type, TASK_PRESETS["balanced"])


def job_estimate_tokens(spec: JobSpec) -> int:
    return estimate_input_tokens(
        text=spec.brief,
        image_sizes=[(ref.send_width, ref.send_height) for ref in spec.references],
        url_images=len(spec.image_urls),
    )


def _validate_spec(*, user: User, project: Project, spec: JobSpec,
                   terms: list[str] | None = None, check_budget: bool = True) -> int:
    """Refuse, before any call and at no cost, what must not reach the gateway. A batch
    passes the blocked terms and checks the budget once, not once per row."""
    brief = spec.brief.strip()
    if not brief:
        raise JobRefused("empty_brief", _("Write a brief first."))
    if len(brief) > MAX_BRIEF_CHARS:
        raise JobRefused(
            "brief_too_long",
            _("This brief is too long to send in one request. Split it into a batch."),
        )
    if spec.model and spec.model not in enabled_models():
        raise JobRefused("unknown_model", _("“%(model)s” is not an enabled model.")
                         % {"model": spec.model})
    if spec.task_type not in TASK_PRESETS:
        raise JobRefused("invalid_task_type", _("Choose strict, balanced or creative."))
    if spec.temperature is not None and not (Decimal(0) <= spec.temperature <= Decimal(2)):
        raise JobRefused("invalid_temperature", _("Temperature must be between 0 and 2."))
    if spec.max_tokens is not None and not (1 <= spec.max_tokens <= 32768):
        raise JobRefused("invalid_max_tokens", _("Max tokens must be between 1 and 32768."))
    for ref in spec.references:
        if ref.project_id != project.id:
            raise JobRefused("reference_elsewhere", _("A reference belongs to another project."))
        if ref.archived_at is not None:
            raise JobRefused(
                "reference_archived",
                _("“%(name)s” was removed from this project. Upload it again to use it.")
                % {"name": ref.original_name},
            )
        if not ref.sendable:
            raise JobRefused(
                "consent_missing",
                _("“%(name)s” shows a real person: confirm you hold the rights and the "
                  "person’s consent before sending it.") % {"name": ref.original_name},
            )
    for url in spec.image_urls:
        if not url.startswith("https://"):
            raise JobRefused("invalid_image_url", _("Image links must start with https://."))
    term = blocked_term_in(brief, terms)
    if term is not None:
        raise JobRefused(
            "blocked_term",
            _("The brief contains “%(term)s”, which this site does not send to the gateway. "
              "Nothing was charged.") % {"term": term},
        )
    estimated = job_estimate_tokens(spec)
    try:
        check_token_limit(estimated, settings.GATEWAY_INPUT_TOKEN_LIMIT)
    except TokenLimitExceeded as over:
        raise JobRefused(
            "too_many_tokens",
            _("This request is estimated at %(estimated)s input tokens; one request must stay "
              "under %(limit)s. Split the brief into a batch or use fewer references.")
            % {"estimated": f"{over.estimated:,}", "limit": f"{over.limit:,}"},
        ) from over
    budget = budget_exceeded(team_id=project.team_id, user_id=user.id) if check_budget else None
    if budget is not None:
        raise JobRefused(
            "budget_exceeded",
            _("The monthly budget of ¥%(limit)s is used up. Ask a manager to raise it; it "
              "resets on the 1st.") % {"limit": budget.monthly_limit},
        )
    return estimated


def _new_job(*, user, project, spec, estimated, batch=None, parent=None,
             held=None) -> GenerationJob:
    if held is None:
        held = hold_is_open(user_id=user.id, team_id=project.team_id)
    return GenerationJob(
        project=project,
        batch=batch,
        parent=parent,
        created_by=user,
        brief=spec.brief.strip(),
        image_urls=list(spec.image_urls),
        task_type=spec.task_type,
        temperature=spec.temperature if spec.temperature is not None
        else default_temperature(spec.task_type),
        max_tokens=spec.max_tokens or DEFAULT_MAX_TOKENS,
        model=spec.model or settings.GATEWAY_MODEL,
        estimated_input_tokens=estimated,
        status=Status.WAITING if held else Status.QUEUED,
        wait_reason=WaitReason.MODERATION_HOLD if held else WaitReason.NONE,
    )


def job_create(
    *, user: User, project: Project, spec: JobSpec, parent: GenerationJob | None = None
) -> GenerationJob:
    """Validate, save the job, and send it to a worker after the transaction commits."""
    estimated = _validate_spec(user=user, project=project, spec=spec)
    with transaction.atomic():
        job = _new_job(user=user, project=project, spec=spec, estimated=estimated, parent=parent)
        # The database enforces the check constraints and foreign keys on INSERT; checking
        # them here too cost 17 round trips (SAVEPOINT, SELECT, RELEASE for each of five
        # constraints; a SELECT for the project and the user we were handed).
        job.full_clean(exclude=["references", "project", "created_by", "parent"],
                       validate_constraints=False)
        job.save()
        if spec.references:
            job.references.set(spec.references)
        if job.status == Status.QUEUED:
            job_enqueue(job.id)
    return job


def batch_create(
    *, user: User, project: Project, specs: Sequence[JobSpec], title: str = ""
) -> Batch:
    """All rows are validated first; one refusal creates nothing (JobRefused names the row)."""
    estimates = []
    terms = blocked_terms()
    for row, spec in enumerate(specs, start=1):
        try:
            estimates.append(_validate_spec(user=user, project=project, spec=spec, terms=terms,
                                            check_budget=row == 1))
        except JobRefused as refused:
            raise JobRefused(
                refused.code,
                _("Row %(row)s: %(reason)s") % {"row": row, "reason": refused.message},
                row=row,
            ) from refused
    held = hold_is_open(user_id=user.id, team_id=project.team_id)
    with transaction.atomic():
        batch = Batch.objects.create(project=project, created_by=user, title=title[:200])
        jobs = [
            _new_job(user=user, project=project, spec=spec, estimated=estimated, batch=batch,
                     held=held)
            for spec, estimated in zip(specs, estimates, strict=True)
        ]
        GenerationJob.objects.bulk_create(jobs)
        created = list(batch.jobs.order_by("id"))
        links = [
            GenerationJob.references.through(generationjob_id=job.id, referenceimage_id=ref.id)
            for job, spec in zip(created, specs, strict=True)
            for ref in spec.references
        ]
        GenerationJob.references.through.objects.bulk_create(links)
        jobs_enqueue([job.id for job in created if job.status == Status.QUEUED])
    return batch


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


# Running a job ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def gateway_client() -> GatewayClient:
    """One pooled client per worker process."""
    return GatewayClient(
        settings.GATEWAY_BASE_URL,
        model=settings.GATEWAY_MODEL,
        timeout_s=settings.GATEWAY_TIMEOUT_S,
        connect_timeout_s=settings.GATEWAY_CONNECT_TIMEOUT_S,
    )


def _park(job_id: int, reason: str) -> bool:
    return bool(
        GenerationJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
            status=Status.WAITING, wait_reason=reason
        )
    )


def _claim(job_id: int) -> bool:
    """Take the job for this worker with a lease. False when it is not ours: running
    elsewhere, finished, parked, or not yet due (a second delivery)."""
    now = timezone.now()
    return bool(GenerationJob.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        pk=job_id,
        status=Status.QUEUED,
    ).update(
        status=Status.RUNNING,
        lease_until=now + timedelta(seconds=settings.JOB_LEASE_S),
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), now),
    ))


@dataclass(frozen=True)
class Preflight:
    """Everything a worker must know before it may claim a job, read in one query."""

    status: str
    next_attempt_at: datetime | None
    team_id: int
    user_id: int
    reserve_tokens: int
    dispatch_paused: bool
    has_budget: bool
    has_references: bool
    key_id: int | None
    key_secret_encrypted: str | None


def _preflight(job_id: int) -> Preflight | None:
    active_key = GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE)
    row = (
        GenerationJob.objects.filter(pk=job_id)
        .annotate(
            paused=Exists(DispatchPause.objects.filter(cleared_at__isnull=True)),
            budgeted=Exists(
                Budget.objects.filter(team_id=OuterRef("project__team_id")).filter(
                    Q(user__isnull=True) | Q(user_id=OuterRef("created_by_id")))
            ),
            referenced=Exists(
                GenerationJob.references.through.objects.filter(generationjob_id=OuterRef("pk"))
            ),
            active_key_id=Subquery(active_key.values("id")[:1]),
            active_key_secret=Subquery(active_key.values("secret_encrypted")[:1]),
        )
        .values_list(
            "status", "next_attempt_at", "project__team_id", "created_by_id",
            "estimated_input_tokens", "max_tokens", "paused", "budgeted", "referenced",
            "active_key_id", "active_key_secret",
        )
        .first()
    )
    if row is None:
        return None
    (status, next_at, team_id, user_id, estimated, max_tokens, paused, budgeted, referenced,
     key_id, key_secret) = row
    return Preflight(
        status=status, next_attempt_at=next_at, team_id=team_id, user_id=user_id,
        # The tokens-per-minute limiter holds the input estimate plus the most the answer
        # may use, until the gateway reports the real usage.
        reserve_tokens=estimated + max_tokens if settings.GATEWAY_TPM else 0,
        dispatch_paused=paused, has_budget=budgeted, has_references=referenced,
        key_id=key_id, key_secret_encrypted=key_secret,
    )


def job_run(job_id: int) -> str | None:
    """One attempt at the gateway for a job. Returns the job's new status, or None if this
    delivery had nothing to do."""
    pre = _preflight(job_id)
    if pre is None or pre.status != Status.QUEUED or (
        pre.next_attempt_at is not None and pre.next_attempt_at > timezone.now()
    ):
        return None  # gone, taken, finished, parked, or not yet due: a duplicate delivery
    if pre.dispatch_paused:
        _park(job_id, WaitReason.BALANCE)
        return Status.WAITING
    if pre.has_budget and budget_exceeded(team_id=pre.team_id, user_id=pre.user_id):
        _park(job_id, WaitReason.BUDGET)
        return Status.WAITING
    if pre.key_id is not None:
        key = gateway_key_from_store(key_id=pre.key_id, secret_encrypted=pre.key_secret_encrypted)
    else:
        key = gateway_key_active()  # none active: it may import GATEWAY_API_KEY
    if key is None:
        _park(job_id, WaitReason.KEY)
        return Status.WAITING
    tokens = pre.reserve_tokens
    slot = limiter_acquire(key_id=key.id, tokens=tokens)
    if not slot.reserved:
        # Over the key's rpm/tpm, or everyone on this key must wait (Retry-After, or the
        # gateway unreachable): come back then, without an attempt.
        _come_back(job_id, slot.wait_s)
        return None
    if slot.wait_s > 0:
        time.sleep(slot.wait_s)  # our reserved slot; bounded by GATEWAY_LIMITER_MAX_SLEEP_S
        paused_s = limiter_wait_s(key_id=key.id)
        if paused_s > 0:  # a pause that began while we slept holds us back too
            _come_back(job_id, paused_s)
            return None
    if not _claim(job_id):
        return None
    job = GenerationJob.objects.select_related("project").get(pk=job_id)
    attempt = job.attempts  # ours until we finish: only this worker's attempt can change it
    previous_raw = None
    if job.repair_attempted:
        previous_raw = (
            GatewayCall.objects.filter(job=job, outcome=GatewayCall.Outcome.PARSE)
            .order_by("-attempt").values_list("error_message", flat=True).first()
        )
    payload = build_chat_payload(
        model=job.model,
        brief=job.brief,
        images=_job_images(job) if pre.has_references else list(job.image_urls),
        temperature=REPAIR_TEMPERATURE if previous_raw else float(job.temperature),
        max_tokens=job.max_tokens,
        repair_of=previous_raw,
    )
    started_at = timezone.now()
    try:
        result = gateway_client().chat(key.secret, payload)
    except GatewayError as error:
        status = _after_error(job, attempt, key.id, started_at, error)
        limiter_settle(key_id=key.id, reserved_tokens=tokens,
                       used_tokens=error.prompt_tokens + error.completion_tokens)
        return status
    status = _after_answer(job, attempt, key.id, started_at, result)
    limiter_settle(key_id=key.id, reserved_tokens=tokens,
                   used_tokens=result.prompt_tokens + result.completion_tokens)
    return status


def _come_back(job_id: int, seconds: float) -> None:
    if GenerationJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        next_attempt_at=timezone.now() + timedelta(seconds=seconds)
    ):
        job_enqueue(job_id, countdown=seconds)


def _job_images(job: GenerationJob) -> list[str]:
    images = []
    for ref in job.references.all():
        with ref.send_file.open("rb") as handle:
            images.append(image_data_url(handle.read(), "image/jpeg"))
    return images + list(job.image_urls)


def _finish(job: GenerationJob, attempt: int, **changes) -> bool:
    """Move the job on from `running`, only if this worker still holds this attempt."""
    changes.setdefault("lease_until", None)
    return bool(
        GenerationJob.objects.filter(pk=job.pk, status=Status.RUNNING, attempts=attempt)
        .update(**changes)
    )


def _after_answer(job, attempt, key_id, started_at, result: GatewayResult) -> str:
    facts = dict(
        started_at=started_at, key_id=key_id, http_status=result.http_status,
        latency_ms=result.latency_ms, prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens, request_id=result.request_id,
    )
    now = timezone.now()
    try:
        spec = parse_prompt_spec(result.message)
    except SpecParseError as error:
        raw = error.raw_text or result.content
        with transaction.atomic():
            ledger_record(job=job, attempt=attempt,
                          facts=CallFacts(outcome="parse", error_message=raw, **facts))
            if not job.repair_attempted:
                if _finish(job, attempt, status=Status.QUEUED, repair_attempted=True,
                           next_attempt_at=None):
                    job_enqueue(job.id)
                return Status.QUEUED
            if _finish(job, attempt, status=Status.SUCCEEDED, finished_at=now,
                       error_code="needs_review", error_message=""):
                PromptRecord.objects.create(job=job, project=job.project, author_id=job.created_by_id,
                                            raw_text=raw, needs_review=True)
        return Status.SUCCEEDED
    with transaction.atomic():
        ledger_record(job=job, attempt=attempt, facts=CallFacts(outcome="ok", **facts))
        if _finish(job, attempt, status=Status.SUCCEEDED, finished_at=now, error_code="",
                   error_message=""):
            PromptRecord.objects.create(
                job=job, project=job.project, author_id=job.created_by_id,
                positive_prompt=spec.positive_prompt, negative_prompt=spec.negative_prompt,
                width=spec.width, height=spec.height, steps=spec.steps,
                cfg_scale=Decimal(str(spec.cfg_scale)).quantize(Decimal("0.1")),
                sampler=spec.sampler, style=spec.style, seed=spec.seed,
                visual_features=spec.visual_features, raw_text=result.content,
            )
    return Status.SUCCEEDED


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


def _after_error(job, attempt, key_id, started_at, error: GatewayError) -> str:
    outcome = error.outcome
    now = timezone.now()
    facts = dict(
        outcome=outcome, started_at=started_at, key_id=key_id, http_status=error.http_status,
        latency_ms=error.latency_ms, prompt_tokens=error.prompt_tokens,
        completion_tokens=error.completion_tokens, request_id=error.request_id,
        error_message=error.message,
    )
    logger.info("job %s attempt %s: %s", job.pk, attempt, error)

    if outcome in ("rate_limited", "transient"):
        if error.code == UNREACHABLE:
            # Nobody answered: hold every job on this key back rather than let each one
            # spend its attempts against a gateway that is down.
            limiter_trip(key_id=key_id)
        failures = _failures(job, outcome) + 1
        limit = settings.GATEWAY_MAX_ATTEMPTS * (
            RATE_LIMIT_ATTEMPTS_FACTOR if outcome == "rate_limited" else 1
        )
        honoured = outcome == "rate_limited" and error.retry_after_s is not None
        if honoured:
            delay = min(error.retry_after_s, settings.GATEWAY_RETRY_AFTER_CAP_S)
        else:
            delay = backoff_delay(failures)
        with transaction.atomic():
            if failures >= limit:
                ledger_record(job=job, attempt=attempt, facts=CallFacts(**facts))
                _finish(job, attempt, status=Status.FAILED, finished_at=now,
                        error_code=outcome,
                        error_message=_give_up_message(outcome, failures, error))
                return Status.FAILED
            ledger_record(job=job, attempt=attempt, facts=CallFacts(
                **facts, retry_delay_s=round(delay, 3), retry_after_honoured=honoured))
            if _finish(job, attempt, status=Status.QUEUED,
                       next_attempt_at=now + timedelta(seconds=delay)):
                job_enqueue(job.id, countdown=delay)
        if honoured:
            limiter_pause(key_id=key_id, seconds=delay)
        return Status.QUEUED

    if outcome == "moderation":
        with transaction.atomic():
            ledger_record(job=job, attempt=attempt, facts=CallFacts(**facts))
            _finish(job, attempt, status=Status.REJECTED, finished_at=now,
                    error_code="moderation", error_message=error.message)
        breaker_check(user_id=job.created_by_id, team_id=job.project.team_id)
        return Status.REJECTED

    if outcome == "auth":
        with transaction.atomic():
            ledger_record(job=job, attempt=attempt, facts=CallFacts(**facts))
            was_active = gateway_key_mark_failing(key_id=key_id, error=str(error))
            standby = _verified_standby() if was_active else None
            if standby is not None:
                gateway_key_activate(key=standby)
            status = Status.QUEUED if standby is not None or not was_active else Status.WAITING
            if _finish(job, attempt, status=status,
                       wait_reason=WaitReason.KEY if status == Status.WAITING else "",
                       next_attempt_at=None):
                if status == Status.QUEUED:
                    job_enqueue(job.id)
        if was_active and standby is None:
            from prompts.services.alerts import alert_site_admins

            alert_site_admins(kind="key", detail=str(error))
        return status

    if outcome == "balance":
        with transaction.atomic():
            ledger_record(job=job, attempt=attempt, facts=CallFacts(**facts))
            opened = not DispatchPause.objects.filter(cleared_at__isnull=True).exists()
            if opened:
                DispatchPause.objects.create(reason="balance", detail=error.message[:500])
            _finish(job, attempt, status=Status.WAITING, wait_reason=WaitReason.BALANCE)
        if opened:
            from prompts.services.alerts import alert_site_admins

            alert_site_admins(kind="balance", detail=error.message)
        return Status.WAITING

    # invalid request, too large: the same request would fail the same way again.
    message = error.message
    if outcome == "too_large":
        message = str(_("The gateway said the request is too large (413). Use fewer or smaller "
                        "references, or a shorter brief.")) + f" ({error.message})"
    with transaction.atomic():
        ledger_record(job=job, attempt=attempt, facts=CallFacts(**facts))
        _finish(job, attempt, status=Status.FAILED, finished_at=now, error_code=outcome,
                error_message=message)
    return Status.FAILED


def _give_up_message(outcome: str, failures: int, error: GatewayError) -> str:
    if outcome == "rate_limited":
        return str(_("Still rate limited after %(n)s tries; gave up. Last answer: %(last)s")
                   % {"n": failures, "last": error.message})
    return str(_("The gateway failed %(n)s times in a row; gave up. Last answer: %(last)s")
               % {"n": failures, "last": error})


def _verified_standby() -> GatewayKey | None:
    return (
        GatewayKey.objects.filter(status=GatewayKey.Status.STANDBY, verified_at__isnull=False)
        .order_by("-verified_at").first()
    )
