"""Generate: the form with its live estimate; a job's live status; cancel and retry."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import parse_id
from prompts.access import job_for_member, project_for_member, reference_for_member
from prompts.gateway.limits import TASK_PRESETS, TEMPERATURE_WARN_ABOVE
from prompts.pipeline.control import job_cancel, job_retry
from prompts.pipeline.creation import JobRefused, JobSpec, job_create_once
from prompts.workspace.formats.pngmeta import read_generation_metadata
from prompts.workspace.forms import GenerateForm, JobFilterForm
from prompts.workspace.selectors.jobs import (
    job_estimate,
    job_problem,
    job_project_choices,
    job_timeline,
    jobs_explained,
    jobs_for_team,
)
from prompts.workspace.views.common import page_of, query_without_page, refuse_if_archived

SPLIT_OFFER_CODES = ("too_many_tokens", "brief_too_long")


def generate_context(form: GenerateForm, **extra) -> dict:
    return {"form": form, "presets": {k: str(v) for k, v in TASK_PRESETS.items()},
            "warn_above": str(TEMPERATURE_WARN_ABOVE), **extra}


def _initial_brief(request: HttpRequest, project) -> dict:
    """A starting brief: typed into the URL, or read from a reference's A1111 PNG text."""
    reference_id = parse_id(request.GET.get("from_reference"))
    if reference_id is not None:
        reference = reference_for_member(request.user, reference_id)
        metadata = read_generation_metadata({"parameters": reference.png_parameters})
        if reference.project_id == project.pk and metadata and metadata.positive_prompt:
            return {"brief": metadata.positive_prompt, "references": [reference.pk]}
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
    data = form.cleaned_data
    spec = JobSpec(brief=data.get("brief", ""), task_type=data.get("task_type", "balanced"),
                   max_tokens=data.get("max_tokens"), references=list(data.get("references", [])))
    temperature = data.get("temperature") or TASK_PRESETS.get(spec.task_type)
    return render(request, "partials/job_estimate.html", {
        "estimate": job_estimate(spec), "temperature": temperature,
        "hot": temperature is not None and temperature > TEMPERATURE_WARN_ABOVE,
    })


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    """Every job of the current team, newest first; a user in no team sees an empty page."""
    membership = request.membership
    if not membership:
        return render(request, "prompts/job_list.html", {"no_team": True})
    form = JobFilterForm(request.GET, projects=job_project_choices(team_id=membership.team_id))
    page = page_of(request, jobs_for_team(team_id=membership.team_id, user_id=request.user.id,
                                          filters=form.filters()))
    page.object_list = jobs_explained(page.object_list)
    return render(request, "prompts/job_list.html", {
        "form": form, "page": page, "query": query_without_page(request),
    })


def _job_context(job) -> dict:
    return {"job": job, "timeline": job_timeline(job), "problem": job_problem(job),
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
