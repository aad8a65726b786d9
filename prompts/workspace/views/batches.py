"""Batches: many briefs at once, their progress, cancel, retry-failed, export."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from prompts.access import batch_for_member, project_for_member
from prompts.models import PromptRecord
from prompts.pipeline.control import batch_cancel, batch_retry_failed
from prompts.pipeline.creation import JobRefused
from prompts.pipeline.submissions import batch_create_once
from prompts.workspace.batch_forms import BatchForm
from prompts.workspace.selectors.batches import batch_jobs, batch_progress, batches_for_team
from prompts.workspace.selectors.estimates import brief_split_rows, jobs_estimate
from prompts.workspace.selectors.library import records_for_export
from prompts.workspace.views.common import (
    current_membership,
    export_response,
    page_of,
    refusal_with_source_row,
    refuse_if_archived,
    team_required,
)

BATCH_PAGE_SIZE = 100


@login_required
@team_required
def batch_list(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    return render(request, "prompts/batch_list.html",
                  {"batches": batches_for_team(team_id=membership.team_id)})


@login_required
def batch_new(request: HttpRequest, project_id: int) -> HttpResponse:
    """The batch form. With `prefill`, briefs handed over from Generate are shown for review
    without creating anything (with `split_long`, a brief too long for one request is
    split into rows that fit)."""
    project = project_for_member(request.user, project_id)
    if refused := refuse_if_archived(request, project):
        return refused
    prefill = request.POST.get("prefill") == "1"
    initial = _prefill(request, project) if prefill else {}
    split_rows = initial.pop("split_rows", None)
    form = BatchForm(None if prefill else (request.POST or None), request.FILES or None,
                     project=project, initial=initial)
    if request.method == "POST" and not prefill and form.is_valid():
        try:
            batch, created = batch_create_once(
                user=request.user, project=project, specs=form.cleaned_data["specs"],
                title=form.cleaned_data["title"], key=form.submission_key("batch"))
        except JobRefused as refused:
            form.add_error(None, refusal_with_source_row(refused, form.source_rows))
        else:
            if not created:
                messages.info(request, _("This form was sent already: here is the batch it "
                                         "created."))
            return redirect("batch_detail", batch_id=batch.pk)
    return render(request, "prompts/batch_new.html", {
        "form": form, "project": project, "split_rows": split_rows,
    }, status=422 if form.errors else 200)


def _prefill(request: HttpRequest, project) -> dict:
    references = list(project.references.filter(
        archived_at__isnull=True, pk__in=[int(pk) for pk in request.POST.getlist("references")
                                          if pk.isdigit()]))
    text = request.POST.get("text", "")
    initial = {"text": text, "split": request.POST.get("split", "line"),
               "title": request.POST.get("title", ""),
               "task_type": request.POST.get("task_type", ""),
               "references": [ref.pk for ref in references]}
    if request.POST.get("split_long") == "1":
        rows = brief_split_rows(text, references)
        initial.update(text="\n\n".join(rows), split="paragraph", split_rows=len(rows))
    return initial


@require_POST
@login_required
def batch_estimate(request: HttpRequest, project_id: int) -> HttpResponse:
    """The htmx fragment beside the batch form: jobs, input tokens and ¥ at most, before the
    batch is created."""
    project = project_for_member(request.user, project_id)
    form = BatchForm(request.POST, request.FILES or None, project=project)
    if not form.is_valid():
        return render(request, "partials/batch_estimate_pending.html", {"form": form})
    return render(request, "partials/job_estimate.html", {"estimate": jobs_estimate(
        form.cleaned_data["specs"], team_id=project.team_id, user_id=request.user.id)})


def _batch_context(request: HttpRequest, batch) -> dict:
    return {"batch": batch, "progress": batch_progress(batch=batch),
            "page": page_of(request, batch_jobs(batch=batch), BATCH_PAGE_SIZE)}


@login_required
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = batch_for_member(request.user, batch_id)
    return render(request, "prompts/batch_detail.html", _batch_context(request, batch))


@login_required
def batch_progress_view(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The live part of the batch page, polled by htmx while jobs are still going."""
    batch = batch_for_member(request.user, batch_id)
    return render(request, "partials/batch_progress.html", _batch_context(request, batch))


@require_POST
@login_required
def batch_cancel_view(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = batch_for_member(request.user, batch_id)
    count = batch_cancel(batch=batch)
    messages.success(request, ngettext(
        "%(n)s job cancelled; running ones finish.",
        "%(n)s jobs cancelled; running ones finish.", count) % {"n": count})
    return redirect("batch_detail", batch_id=batch.pk)


@require_POST
@login_required
def batch_retry_view(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = batch_for_member(request.user, batch_id)
    count = batch_retry_failed(batch=batch)
    messages.success(request, ngettext(
        "%(n)s failed job sent again.", "%(n)s failed jobs sent again.", count) % {"n": count})
    return redirect("batch_detail", batch_id=batch.pk)


@login_required
def batch_export(request: HttpRequest, batch_id: int, fmt: str) -> HttpResponse:
    batch = batch_for_member(request.user, batch_id)
    records = records_for_export(PromptRecord.objects.filter(job__batch=batch))
    return export_response(records, fmt=fmt, stem=f"batch-{batch.pk}")
