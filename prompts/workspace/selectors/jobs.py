"""Reads about jobs: their JSON shape (CLI and API), their timeline, state and costs."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from prompts.models import GatewayCall, GenerationJob, Project, PromptRecord
from prompts.usage.money import exact, yuan
from prompts.usage.periods import local_midnight


def record_as_dict(record: PromptRecord) -> dict:
    return {
        "id": record.id,
        "positive_prompt": record.positive_prompt,
        "negative_prompt": record.negative_prompt,
        "width": record.width,
        "height": record.height,
        "steps": record.steps,
        "cfg_scale": float(record.cfg_scale) if record.cfg_scale is not None else None,
        "sampler": record.sampler,
        "style": record.style,
        "seed": record.seed,
        "visual_features": record.visual_features,
        "needs_review": record.needs_review,
        "raw_text": record.raw_text if record.needs_review else None,
    }


def job_as_dict(job: GenerationJob) -> dict:
    record = getattr(job, "record", None) if job.status == GenerationJob.Status.SUCCEEDED else None
    return {
        "id": job.id,
        "status": job.status,
        "wait_reason": job.wait_reason or None,
        "attempts": job.attempts,
        "task_type": job.task_type,
        "temperature": float(job.temperature),
        "max_tokens": job.max_tokens,
        "model": job.model,
        "estimated_input_tokens": job.estimated_input_tokens,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": {"code": job.error_code, "message": job.error_message}
        if job.error_code and job.error_code != "needs_review" else None,
        "record": record_as_dict(record) if record else None,
        "usage": job_usage_dict(job),
    }


def job_usage_dict(job: GenerationJob) -> dict:
    """Tokens and ¥ of every call the job made so far: exact ¥ for programs (6 places) and
    the same amount as pages show it."""
    totals = job_costs(job).total
    return {
        "calls": totals.calls,
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "cost_rmb": exact(totals.cost),
        "cost_display": f"¥{yuan(totals.cost)}",
        "unpriced_calls": totals.unpriced_calls,
    }


def job_summary_dict(job: GenerationJob) -> dict:
    """A job in the API's list: what it is and how it stands; its record is one GET away."""
    return {
        "id": job.id,
        "status": job.status,
        "wait_reason": job.wait_reason or None,
        "attempts": job.attempts,
        "project": {"id": job.project_id, "name": job.project.name},
        "batch": job.batch_id,
        "task_type": job.task_type,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": {"code": job.error_code, "message": job.error_message}
        if job.error_code and job.error_code != "needs_review" else None,
    }


def jobs_of_user(*, user_id: int, status: str = "", project=None, since=None) -> QuerySet:
    """The user's own jobs in the teams they are still in, newest first (the API's list)."""
    jobs = (
        GenerationJob.objects.filter(created_by_id=user_id,
                                     project__team__memberships__user_id=user_id)
        .select_related("project").order_by("-created_at", "-id")
    )
    if status:
        jobs = jobs.filter(status=status)
    if project is not None:
        jobs = jobs.filter(project=project)
    if since is not None:
        jobs = jobs.filter(created_at__gte=local_midnight(since))
    return jobs


# The workspace: what a job cost, how it went, and what it will cost -----------------------

@dataclass(frozen=True)
class CallTotals:
    """Ledger totals over some GatewayCall rows. `cost` covers the priced calls only."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)
    unpriced_calls: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


# Named apart from the fields: an aggregate called "cost" would hide the column from filters.
_TOTALS = {
    "n_calls": Count("id"),
    "n_prompt_tokens": Coalesce(Sum("prompt_tokens"), 0),
    "n_completion_tokens": Coalesce(Sum("completion_tokens"), 0),
    "n_cost": Coalesce(Sum("cost"), Decimal(0), output_field=DecimalField()),
    "n_unpriced_calls": Count("id", filter=Q(cost__isnull=True)),
}


def call_totals(calls: QuerySet[GatewayCall]) -> CallTotals:
    """Totals of the completed calls: one in flight, or unconfirmed, has no cost yet."""
    row = calls.filter(state=GatewayCall.State.COMPLETED).aggregate(**_TOTALS)
    return CallTotals(**{name[2:]: value for name, value in row.items()})


@dataclass(frozen=True)
class JobCosts:
    """What a job cost: the call that produced the record, and everything else (retries,
    rejections, failures, a repair) that cost tokens without producing it."""

    total: CallTotals
    successful: CallTotals
    rest: CallTotals


def job_costs(job: GenerationJob) -> JobCosts:
    calls = GatewayCall.objects.filter(job=job)
    total = call_totals(calls)
    successful = call_totals(calls.filter(outcome=GatewayCall.Outcome.OK))
    rest = CallTotals(
        calls=total.calls - successful.calls,
        prompt_tokens=total.prompt_tokens - successful.prompt_tokens,
        completion_tokens=total.completion_tokens - successful.completion_tokens,
        cost=total.cost - successful.cost,
        unpriced_calls=total.unpriced_calls - successful.unpriced_calls,
    )
    return JobCosts(total=total, successful=successful, rest=rest)


def _seconds(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _call_label(call: GatewayCall) -> str:
    return str(call.http_status) if call.http_status else str(call.get_outcome_display())


def timeline_entry(call: GatewayCall) -> str:
    """One attempt in words, e.g. "429 — waited 12 s per Retry-After"."""
    if call.state == GatewayCall.State.IN_FLIGHT:
        return str(_("at the gateway now"))
    if call.state == GatewayCall.State.UNKNOWN:
        return str(_("unconfirmed: the worker stopped before the answer came; reconciliation "
                     "with the gateway's log will say what it cost"))
    label = _call_label(call)
    outcome = call.outcome
    if outcome == GatewayCall.Outcome.LOST:
        if call.cost == 0:
            return str(_("the worker stopped before the answer came; the gateway did not "
                         "bill it"))
        return str(_("the worker stopped before the answer came; the gateway's log says it "
                     "was billed"))
    if outcome == GatewayCall.Outcome.OK:
        return str(_("succeeded"))
    if outcome in (GatewayCall.Outcome.RATE_LIMITED, GatewayCall.Outcome.TRANSIENT):
        if call.retry_delay_s is None:
            return _("%(status)s — gave up") % {"status": label}
        if call.retry_after_honoured:
            return _("%(status)s — waited %(seconds)s s per Retry-After") % {
                "status": label, "seconds": _seconds(call.retry_delay_s)}
        return _("%(status)s — retried after %(seconds)s s") % {
            "status": label, "seconds": _seconds(call.retry_delay_s)}
    if outcome == GatewayCall.Outcome.PARSE:
        return str(_("the answer was not a valid prompt spec"))
    if outcome == GatewayCall.Outcome.MODERATION:
        return _("%(status)s — rejected by the content filter") % {"status": label}
    if outcome == GatewayCall.Outcome.AUTH:
        return _("%(status)s — the API key was refused") % {"status": label}
    if outcome == GatewayCall.Outcome.BALANCE:
        return _("%(status)s — the gateway balance is exhausted") % {"status": label}
    return _("%(status)s — not retried") % {"status": label}


def job_timeline(job: GenerationJob) -> list[dict]:
    """Every attempt of the job, oldest first, in words."""
    return [
        {"attempt": call.attempt, "at": call.started_at, "outcome": call.outcome,
         "text": timeline_entry(call), "latency_ms": call.latency_ms}
        for call in GatewayCall.objects.filter(job=job).order_by("attempt")
    ]


ERROR_EXPLANATIONS = {
    "moderation": gettext_lazy("The gateway's content filter refused this brief or its references. "
                    "Rejections are never retried: rephrase the brief or change the references."),
    "invalid": gettext_lazy("The gateway refused the request as invalid. Sending it again would fail the "
                 "same way: check the brief and the references."),
    "too_large": gettext_lazy("The request was too large for the gateway. Use fewer or smaller references, "
                   "or a shorter brief."),
    "transient": gettext_lazy("The gateway kept failing (server errors or timeouts), so the job gave up "
                   "after several tries. Retry it later."),
    "rate_limited": gettext_lazy("The gateway stayed rate limited after many tries. Retry the job later."),
    "needs_review": gettext_lazy("The model's answer could not be read as a prompt spec, even after one "
                      "repair attempt. Its raw text is kept below for review."),
    "auth": gettext_lazy("The gateway refused the API key. A site admin has been told."),
    "balance": gettext_lazy("The gateway account has no balance left. A site admin has been told."),
}
WAIT_EXPLANATIONS = {
    "key": gettext_lazy("No usable gateway API key: a site admin has been told. The job continues by "
             "itself once a key works."),
    "balance": gettext_lazy("The gateway balance is exhausted: dispatch is paused. The job continues by "
                 "itself once an admin resumes it."),
    "budget": gettext_lazy("What is left of the monthly budget does not cover the most this job can "
                "cost (every job reserves its maximum before it is sent). It starts by itself "
                "when running jobs finish and free what they reserved, when a manager raises "
                "the budget, or when the month turns."),
    "moderation_hold": gettext_lazy("Your recent briefs were rejected several times, so new jobs wait "
                         "until a manager releases the hold."),
}


ERROR_LABELS = {
    "moderation": gettext_lazy("content filter"),
    "invalid": gettext_lazy("invalid request"),
    "too_large": gettext_lazy("request too large"),
    "transient": gettext_lazy("gateway errors"),
    "rate_limited": gettext_lazy("rate limited"),
    "needs_review": gettext_lazy("needs review"),
    "auth": gettext_lazy("key refused"),
    "balance": gettext_lazy("balance exhausted"),
}


def error_label(code: str) -> str:
    """A job's error code in the reader's words ("invalid" → "invalid request")."""
    return str(ERROR_LABELS.get(code, code))


def job_is_retrying(job: GenerationJob) -> bool:
    """Queued again after a failed attempt, with the next attempt scheduled (backoff or
    Retry-After): shown as "Retrying", not as a fresh "Queued"."""
    return (job.status == GenerationJob.Status.QUEUED and job.attempts > 0
            and job.next_attempt_at is not None)


def job_display_status(job: GenerationJob) -> tuple[str, str]:
    """(code, label) for a job's badge: its status, or "retrying"."""
    if job_is_retrying(job):
        return "retrying", str(_("Retrying"))
    return job.status, str(job.get_status_display())


def job_retry_state(job: GenerationJob) -> dict | None:
    """While retries run: when the next attempt starts and what went wrong last time."""
    if not job_is_retrying(job):
        return None
    last = GatewayCall.objects.filter(job=job).order_by("-attempt").first()
    return {
        "next_attempt_at": job.next_attempt_at,
        "last_error": timeline_entry(last) if last else "",
        "last_detail": last.error_message if last else "",
    }


def job_problem(job: GenerationJob) -> dict | None:
    """Why the job failed, was rejected, needs review or waits: an explanation for the user and
    the gateway's own words as detail."""
    if job.status == GenerationJob.Status.WAITING:
        return {"explanation": WAIT_EXPLANATIONS.get(job.wait_reason, job.get_wait_reason_display()),
                "detail": ""}
    if not job.error_code:
        return None
    explanation = ERROR_EXPLANATIONS.get(job.error_code, _("The job did not finish."))
    return {"explanation": explanation, "detail": job.error_message, "code": job.error_code}


# The jobs page: every job of the team, filtered -------------------------------------------

@dataclass(frozen=True)
class JobFilters:
    status: str = ""
    mine: bool = True
    project_id: int | None = None


def jobs_for_team(*, team_id: int, user_id: int, filters: JobFilters) -> QuerySet:
    """The team's jobs, newest first, with project and author joined in."""
    jobs = (
        GenerationJob.objects.filter(project__team_id=team_id)
        .select_related("project", "created_by")
        .order_by("-created_at", "-id")
    )
    if filters.status:
        jobs = jobs.filter(status=filters.status)
    if filters.mine:
        jobs = jobs.filter(created_by_id=user_id)
    if filters.project_id:
        jobs = jobs.filter(project_id=filters.project_id)
    return jobs


def jobs_explained(jobs: Iterable[GenerationJob]) -> list[GenerationJob]:
    """The jobs with `problem` attached: job_problem's explanation for a failed or rejected
    job, None otherwise (a waiting job shows its wait reason instead)."""
    ended_badly = (GenerationJob.Status.FAILED, GenerationJob.Status.REJECTED)
    jobs = list(jobs)
    for job in jobs:
        job.problem = job_problem(job) if job.status in ended_badly else None
    return jobs


def job_project_choices(*, team_id: int) -> list[tuple[int, str]]:
    return list(Project.objects.filter(team_id=team_id).order_by("name").values_list("id", "name"))
