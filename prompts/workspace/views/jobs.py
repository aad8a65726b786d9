"""Generate: the form with its live estimate; a job's live status; cancel and retry."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import parse_id
from prompts.access import job_for_member, project_for_member, reference_for_member
from prompts.gateway.kept_settings import brief_with_kept_settings, kept_settings_clean
from prompts.gateway.limits import TASK_PRESETS, TEMPERATURE_WARN_ABOVE
from prompts.pipeline.control import job_cancel, job_retry
from prompts.pipeline.creation import JobRefused
from prompts.pipeline.submissions import job_create_once
from prompts.workspace.forms import GenerateForm, JobFilterForm
from prompts.workspace.selectors.estimates import jobs_estimate
from prompts.workspace.selectors.jobs import (
    job_costs,
    job_problem,
    job_project_choices,
    job_retry_state,
    job_timeline,
    jobs_explained,
    jobs_for_team,
)
from prompts.workspace.selectors.projects import reference_generation_metadata
from prompts.workspace.views.common import (
    page_of,
    query_without_page,
    refuse_if_archived,
    team_required,
)

SPLIT_OFFER_CODES = ("too_many_tokens", "brief_too_long")


def generate_context(form: GenerateForm, **extra) -> dict:
    return {"form": form, "presets": {k: str(v) for k, v in TASK_PRESETS.items()},
            "warn_above": str(TEMPERATURE_WARN_ABOVE), **extra}


def _initial_brief(request: HttpRequest, project) -> dict:
    """A starting brief: typed into the URL, or read from a generator PNG's prompt and
    settings (the settings go to "Keep these settings")."""
    reference_id = parse_id(request.GET.get("from_reference"))
    if reference_id is not None:
        reference = reference_for_member(request.user, reference_id)
        metadata = reference_generation_metadata(reference)
        if reference.project_id == project.pk and metadata and metadata.positive_prompt:
            kept = kept_settings_clean(
                negative_prompt=metadata.negative_prompt, steps=metadata.steps,
                sampler=metadata.sampler, cfg_scale=metadata.cfg_scale, seed=metadata.seed,
                width=metadata.width, height=metadata.height)
            return {**GenerateForm.initial_from_brief(
                brief_with_kept_settings(metadata.positive_prompt, kept)),
                "references": [reference.pk]}
    return {"brief": request.GET.get("brief", "")}


def redirect_to_job(request: HttpRequest, job, *, created: bool) -> HttpResponse:
    if not created:
        messages.info(request, _("This form was sent already: here is the job it created. "
                                 "Open the form again for another job."))
    return redirect("job_detail", job_id=job.pk)


@login_required
def generate(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_member(request.user, project_id)
    if refused := refuse_if_archived(request, project):
        return refused
    form = GenerateForm(request.POST or None, project=project,
                        initial=None if request.POST else _initial_brief(request, project))
    if request.method == "POST" and form.is_valid():
        try:
            job, created = job_create_once(user=request.user, project=project,
                                           spec=form.job_spec(), key=form.submission_key("job"))
        except JobRefused as refused:
            form.add_error(None, refused.message)
            offer_split = refused.code in SPLIT_OFFER_CODES
            return render(request, "prompts/generate.html", generate_context(
                form, project=project, offer_split=offer_split), status=422)
        return redirect_to_job(request, job, created=created)
    return render(request, "prompts/generate.html", generate_context(form, project=project))


@require_POST
@login_required
def generate_estimate(request: HttpRequest, project_id: int) -> HttpResponse:
    """The htmx fragment under the form: input tokens, ¥ upper bound, warnings."""
    project = project_for_member(request.user, project_id)
    form = GenerateForm(request.POST, project=project)
    form.is_valid()
    spec = form.job_spec()
    temperature = spec.temperature if spec.temperature is not None else \
        TASK_PRESETS.get(spec.task_type)
    return render(request, "partials/job_estimate.html", {
        "estimate": jobs_estimate([spec], team_id=project.team_id, user_id=request.user.id),
        "temperature": temperature,
        "hot": temperature is not None and temperature > TEMPERATURE_WARN_ABOVE,
    })


@login_required
@team_required
def job_list(request: HttpRequest) -> HttpResponse:
    """Every job of the current team, newest first."""
    membership = request.membership
    form = JobFilterForm(request.GET, projects=job_project_choices(team_id=membership.team_id))
    page = page_of(request, jobs_for_team(team_id=membership.team_id, user_id=request.user.id,
                                          filters=form.filters()))
    page.object_list = jobs_explained(page.object_list)
    return render(request, "prompts/job_list.html", {
        "form": form, "page": page, "query": query_without_page(request),
    })


def _job_context(job) -> dict:
    """The live part of the job page: state, retries, timeline; once done, what it cost."""
    done = job.is_final
    return {"job": job, "timeline": job_timeline(job), "problem": job_problem(job),
            "retry": job_retry_state(job),
            "costs": job_costs(job) if done else None,
            "sent_references": list(job.references.all()) if done else [],
            "record": getattr(job, "record", None) if job.status == "succeeded" else None}


@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_for_member(request.user, job_id)
    return render(request, "prompts/job_detail.html", _job_context(job))


@login_required
def job_status(request: HttpRequest, job_id: int) -> HttpResponse:
    """The live part of the job page, polled by htmx while the job is not final."""
    job = job_for_member(request.user, job_id)
    return render(request, "partials/job_status.html", _job_context(job))


@require_POST
@login_required
def job_cancel_view(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_for_member(request.user, job_id)
    if job_cancel(job=job):
        messages.success(request, _("Job cancelled."))
    else:
        messages.error(request, _("Only a queued or waiting job can be cancelled."))
    return redirect("job_detail", job_id=job.pk)


@require_POST
@login_required
def job_retry_view(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_for_member(request.user, job_id)
    if job_retry(job=job):
        messages.success(request, _("Job sent again."))
    else:
        messages.error(request, _("Only a failed job can be retried."))
    return redirect("job_detail", job_id=job.pk)
