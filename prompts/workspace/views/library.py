"""The prompt library: the team's records, one record in full, and what teammates do with it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import parse_id
from prompts.access import record_for_member
from prompts.gateway.limits import DEFAULT_MAX_TOKENS, TASK_PRESETS
from prompts.pipeline.creation import JobRefused
from prompts.workspace.forms import (
    CommentForm,
    GenerateForm,
    LibraryFilterForm,
    RatingForm,
    TagsForm,
)
from prompts.workspace.selectors.library import (
    LibraryFilters,
    library_choices,
    library_records,
    record_detail,
    records_for_export,
)
from prompts.workspace.selectors.studio import record_studio
from prompts.workspace.services.records import (
    record_comment_add,
    record_favourite_toggle,
    record_rate,
    record_rerun,
    record_tags_set,
)
from prompts.workspace.views.common import (
    current_membership,
    export_response,
    page_of,
    query_without_page,
    team_required,
)
from prompts.workspace.views.jobs import generate_context, redirect_to_job


@login_required
@team_required
def library(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    form = LibraryFilterForm(request.GET or None,
                             choices=library_choices(team_id=membership.team_id))
    records = library_records(team_id=membership.team_id, user_id=request.user.id,
                              filters=form.filters() if request.GET else LibraryFilters())
    return render(request, "prompts/library.html", {
        "form": form, "page": page_of(request, records), "query": query_without_page(request),
    })


@login_required
@team_required
def library_export(request: HttpRequest) -> HttpResponse:
    """The records ticked in the library, in one file."""
    membership = current_membership(request)
    ids = [parse_id(value) for value in request.GET.getlist("ids")]
    ids = [value for value in ids if value is not None]
    if not ids:
        messages.error(request, _("Tick the records to export first."))
        return redirect("library")
    records = library_records(team_id=membership.team_id, user_id=request.user.id,
                              filters=LibraryFilters()).filter(pk__in=ids)
    return export_response(records_for_export(records), fmt=request.GET.get("format", ""),
                           stem="records")


def _record_url(record) -> str:
    return reverse("record_detail", args=[record.pk])


def _record_page(request: HttpRequest, record, status: int = 200, **forms) -> HttpResponse:
    detail = record_detail(record=record, user=request.user)
    context = {
        "d": detail, "record": record, "job": record.job,
        "tags_form": TagsForm(initial={"tags": ", ".join(t.name for t in detail.tags)}),
        "rating_form": RatingForm(initial={"stars": detail.my_rating}),
        "comment_form": CommentForm(), **forms,
        "studio": record_studio(record=record, user=request.user),
    }
    return render(request, "prompts/record_detail.html", context, status=status)


@login_required
def record_detail_view(request: HttpRequest, record_id: int) -> HttpResponse:
    return _record_page(request, record_for_member(request.user, record_id))


@require_POST
@login_required
def record_favourite(request: HttpRequest, record_id: int) -> HttpResponse:
    record = record_for_member(request.user, record_id)
    is_favourite = record_favourite_toggle(record=record, user=request.user)
    if request.htmx:
        return render(request, "partials/record_favourite.html",
                      {"record": record, "is_favourite": is_favourite})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = _record_url(record)
    return redirect(target)


@require_POST
@login_required
def record_tags(request: HttpRequest, record_id: int) -> HttpResponse:
    record = record_for_member(request.user, record_id)
    form = TagsForm(request.POST)
    if form.is_valid():
        try:
            record_tags_set(record=record, names=form.cleaned_data["tags"])
        except ValidationError as error:
            form.add_error("tags", error)
        else:
            return redirect(_record_url(record))
    return _record_page(request, record, status=400, tags_form=form)


@require_POST
@login_required
def record_rating(request: HttpRequest, record_id: int) -> HttpResponse:
    record = record_for_member(request.user, record_id)
    form = RatingForm(request.POST)
    if not form.is_valid():
        return _record_page(request, record, status=400, rating_form=form)
    record_rate(record=record, user=request.user, stars=form.cleaned_data["stars"])
    return redirect(_record_url(record))


@require_POST
@login_required
def record_comment(request: HttpRequest, record_id: int) -> HttpResponse:
    record = record_for_member(request.user, record_id)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _record_page(request, record, status=400, comment_form=form)
    record_comment_add(record=record, user=request.user, body=form.cleaned_data["body"])
    return redirect(_record_url(record) + "#comments")


@login_required
def record_rerun_view(request: HttpRequest, record_id: int) -> HttpResponse:
    """Re-run with edits: the parent's brief and settings, editable; a new linked job."""
    record = record_for_member(request.user, record_id)
    job = record.job
    initial = {**GenerateForm.initial_from_brief(job.brief), "task_type": job.task_type,
               "references": list(job.references.all()),
               "max_tokens": None if job.max_tokens == DEFAULT_MAX_TOKENS else job.max_tokens,
               # The parent's preset is left empty, so another task type brings its own.
               "temperature": None if job.temperature == TASK_PRESETS.get(job.task_type)
               else job.temperature,
               "style": job.style_version.style_id if job.style_version_id else None}
    form = GenerateForm(request.POST or None, project=record.project, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            child, created = record_rerun(record=record, user=request.user, spec=form.job_spec(),
                                          key=form.submission_key("job"))
        except JobRefused as refused:
            form.add_error(None, refused.message)
        else:
            return redirect_to_job(request, child, created=created)
    return render(request, "prompts/generate.html", generate_context(
        form, project=record.project, parent=record), status=422 if form.errors else 200)


@login_required
def record_export(request: HttpRequest, record_id: int, fmt: str) -> HttpResponse:
    record = record_for_member(request.user, record_id)
    records = records_for_export(type(record).objects.filter(pk=record.pk))
    return export_response(records, fmt=fmt, stem=f"record-{record.pk}")
