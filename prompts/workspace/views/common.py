"""Helpers the workspace views share: the current team, pages, downloads, archived projects."""

from functools import wraps

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.models import Membership
from prompts.models import Project
from prompts.pipeline.creation import JobRefused
from prompts.workspace.exports import FORMATS, ExportFile, export_records
from prompts.workspace.services.records import records_accept

PAGE_SIZE = 50


def current_membership(request: HttpRequest) -> Membership:
    """The team the user works in; a user in no team has no workspace."""
    if not request.membership:
        raise Http404
    return request.membership


def team_required(view):
    """Team pages (projects, library, jobs, batches) for a user in no team: a page that
    says how to get into one, instead of a 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.membership:
            return render(request, "prompts/no_team.html")
        return view(request, *args, **kwargs)

    return wrapper


def page_of(request: HttpRequest, items, per_page: int = PAGE_SIZE) -> Page:
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The current filters as a query string, for pagination links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def download(export: ExportFile) -> HttpResponse:
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


def export_response(records, *, fmt: str, stem: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404
    records = list(records)
    response = download(export_records(records, fmt=fmt, stem=stem))
    records_accept(record_ids=[record.pk for record in records], exported=True)
    return response


def refuse_if_archived(request: HttpRequest, project: Project) -> HttpResponse | None:
    """Archived projects take no new work: a redirect with a message, or None."""
    if project.archived_at is None:
        return None
    messages.error(request, _("This project is archived. Restore it to add work."))
    return redirect("project_detail", project_id=project.pk)


def refusal_with_source_row(refused: JobRefused, source_rows: list[int]) -> str:
    """batch_create counts specs; the user counts lines of their text or rows of the CSV."""
    if refused.row is None or refused.__cause__ is None:
        return refused.message
    return _("Row %(row)s: %(reason)s") % {"row": source_rows[refused.row - 1],
                                           "reason": refused.__cause__.message}
