"""Projects: the team's list, one project's overview, rename, archive, export."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from prompts.access import project_for_member
from prompts.models import PromptRecord
from prompts.workspace.forms import ProjectForm, ReferenceUploadForm, ReferenceUrlForm
from prompts.workspace.selectors.library import records_for_export
from prompts.workspace.selectors.projects import project_overview, projects_for_team
from prompts.workspace.selectors.studio import templates_for_team
from prompts.workspace.services.projects import project_archive, project_create, project_rename
from prompts.workspace.studio_forms import ProjectStyleForm
from prompts.workspace.views.common import current_membership, export_response, team_required


@login_required
@team_required
def project_list(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = project_create(team=membership.team, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("project_detail", project_id=project.pk)
    archived = request.GET.get("archived") == "1"
    return render(request, "prompts/project_list.html", {
        "projects": projects_for_team(team_id=membership.team_id, archived=archived),
        "form": form, "archived": archived, "team": membership.team,
    })


# Where the upload views leave their per-file results for the project page (read once).
UPLOAD_RESULTS_KEY = "reference_upload_results"


def render_project(request: HttpRequest, project, **extra) -> HttpResponse:
    """The project page; a form that did not validate is shown with its errors."""
    context = {
        "overview": project_overview(project=project),
        "upload_form": ReferenceUploadForm(), "url_form": ReferenceUrlForm(),
        "rename_form": ProjectForm(initial={"name": project.name,
                                            "description": project.description}),
        "upload_results": request.session.pop(UPLOAD_RESULTS_KEY, None),
        "style_form": ProjectStyleForm(team_id=project.team_id,
                                       initial={"style": project.default_style_id}),
        "templates": templates_for_team(team_id=project.team_id),
    }
    context.update(extra)
    return render(request, "prompts/project_detail.html", context,
                  status=400 if extra.get("failed") else 200)


@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    return render_project(request, project_for_member(request.user, project_id))


@require_POST
@login_required
def project_rename_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_member(request.user, project_id)
    form = ProjectForm(request.POST)
    if form.is_valid():
        try:
            project_rename(project=project, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Project saved."))
            return redirect("project_detail", project_id=project.pk)
    project.refresh_from_db()
    return render_project(request, project, rename_form=form, failed=True)


@require_POST
@login_required
def project_archive_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_member(request.user, project_id)
    archive = request.POST.get("archive", "1") == "1"
    project_archive(project=project, archived=archive)
    if archive:
        messages.success(request, _("Project archived."))
        return redirect("project_list")
    messages.success(request, _("Project restored."))
    return redirect("project_detail", project_id=project.pk)


@login_required
def project_export(request: HttpRequest, project_id: int, fmt: str) -> HttpResponse:
    project = project_for_member(request.user, project_id)
    records = records_for_export(PromptRecord.objects.filter(project=project))
    return export_response(records, fmt=fmt, stem=f"project-{project.pk}")
