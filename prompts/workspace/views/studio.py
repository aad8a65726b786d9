"""The studio hub, brief templates (and generating from them) and house styles."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import actor_of, parse_id
from prompts.access import project_for_member, style_for_member, template_for_member
from prompts.pipeline.creation import JobRefused
from prompts.pipeline.submissions import batch_create_once, job_create_once
from prompts.workspace.formats.generator_formats import A1111_SAMPLER_LABELS
from prompts.workspace.selectors.studio import (
    studio_overview,
    style_versions,
    styles_for_team,
    templates_for_team,
)
from prompts.workspace.services.styles import (
    StyleRefused,
    project_default_style_set,
    style_archive,
    style_create,
    style_version_add,
)
from prompts.workspace.services.templates import (
    TemplateRefused,
    template_archive,
    template_create,
    template_update,
)
from prompts.workspace.studio_forms import (
    ProjectStyleForm,
    StyleCreateForm,
    StyleVersionForm,
    TemplateBatchForm,
    TemplateForm,
    TemplateGenerateForm,
)
from prompts.workspace.views.common import (
    current_membership,
    refusal_with_source_row,
    refuse_if_archived,
)
from prompts.workspace.views.jobs import redirect_to_job


def refusal_on_form(form, refused) -> None:
    """A service's refusal shown on the field it names, else above the form."""
    field = refused.field if refused.field in form.fields else None
    form.add_error(field, refused.message)


@login_required
def studio(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    return render(request, "studio/hub.html", {"overview": studio_overview(
        team_id=membership.team_id, is_manager=membership.is_manager)})


# Templates --------------------------------------------------------------------------------

@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    form = TemplateForm(request.POST or None, team_id=membership.team_id)
    if request.method == "POST" and form.is_valid():
        try:
            template = template_create(team=membership.team, user=request.user,
                                       ip_address=actor_of(request)["ip_address"],
                                       **form.cleaned_data)
        except TemplateRefused as refused:
            refusal_on_form(form, refused)
        else:
            messages.success(request, _("Template “%(name)s” saved.") % {"name": template.name})
            return redirect("template_list")
    archived = request.GET.get("archived") == "1"
    return render(request, "studio/templates.html", {
        "templates": templates_for_team(team_id=membership.team_id, archived=archived),
        "form": form, "archived": archived,
        "projects": membership.team.projects.filter(archived_at__isnull=True),
    }, status=422 if form.errors else 200)


@login_required
def template_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    template = template_for_member(request.user, template_id)
    initial = {"name": template.name, "body": template.body, "task_type": template.task_type,
               "style": template.style_id}
    form = TemplateForm(request.POST or None, team_id=template.team_id, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            template_update(template=template, user=request.user,
                            ip_address=actor_of(request)["ip_address"], **form.cleaned_data)
        except TemplateRefused as refused:
            refusal_on_form(form, refused)
        else:
            messages.success(request, _("Template saved. Records made earlier keep their brief."))
            return redirect("template_list")
    return render(request, "studio/template_edit.html", {"template": template, "form": form},
                  status=422 if form.errors else 200)


@require_POST
@login_required
def template_archive_view(request: HttpRequest, template_id: int) -> HttpResponse:
    template = template_for_member(request.user, template_id)
    archive = request.POST.get("archive", "1") == "1"
    template_archive(template=template, user=request.user, archived=archive,
                     ip_address=actor_of(request)["ip_address"])
    messages.success(request, _("Template archived.") if archive else _("Template restored."))
    return redirect("template_list")


@login_required
def template_use(request: HttpRequest, template_id: int) -> HttpResponse:
    """From the templates page: the chosen project's generate or batch page."""
    template = template_for_member(request.user, template_id)
    project_id = parse_id(request.GET.get("project"))
    if project_id is None:
        raise Http404
    project = project_for_member(request.user, project_id)
    name = "template_batch" if request.GET.get("mode") == "batch" else "template_generate"
    return redirect(name, project_id=project.pk, template_id=template.pk)


def _template_for_project(request, project_id: int, template_id: int):
    project = project_for_member(request.user, project_id)
    template = template_for_member(request.user, template_id)
    if template.team_id != project.team_id or template.archived_at is not None:
        raise Http404
    return project, template


@login_required
def template_generate(request: HttpRequest, project_id: int, template_id: int) -> HttpResponse:
    project, template = _template_for_project(request, project_id, template_id)
    if refused := refuse_if_archived(request, project):
        return refused
    form = TemplateGenerateForm(request.POST or None, template=template, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            job, created = job_create_once(user=request.user, project=project,
                                           spec=form.cleaned_data["spec"],
                                           key=form.submission_key("template-job"))
        except JobRefused as refused:
            form.add_error(None, refused.message)
        else:
            return redirect_to_job(request, job, created=created)
    return render(request, "studio/template_generate.html", {
        "form": form, "project": project, "template": template,
    }, status=422 if form.errors else 200)


@login_required
def template_batch(request: HttpRequest, project_id: int, template_id: int) -> HttpResponse:
    project, template = _template_for_project(request, project_id, template_id)
    if refused := refuse_if_archived(request, project):
        return refused
    form = TemplateBatchForm(request.POST or None, request.FILES or None, template=template,
                             project=project)
    if request.method == "POST" and form.is_valid():
        try:
            batch, _created = batch_create_once(
                user=request.user, project=project, specs=form.cleaned_data["specs"],
                title=form.cleaned_data["title"] or template.name,
                key=form.submission_key("template-batch"))
        except JobRefused as refused:
            form.add_error(None, refusal_with_source_row(refused, form.source_rows))
        else:
            return redirect("batch_detail", batch_id=batch.pk)
    return render(request, "studio/template_batch.html", {
        "form": form, "project": project, "template": template,
    }, status=422 if form.errors else 200)


# House styles -----------------------------------------------------------------------------

@login_required
def style_list(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    form = StyleCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            style = style_create(team=membership.team, user=request.user, name=data["name"],
                                 description=data["description"], rules=form.rules(),
                                 ip_address=actor_of(request)["ip_address"])
        except StyleRefused as refused:
            refusal_on_form(form, refused)
        else:
            messages.success(request, _("House style “%(name)s” saved.") % {"name": style.name})
            return redirect("style_detail", style_id=style.pk)
    archived = request.GET.get("archived") == "1"
    return render(request, "studio/styles.html", {
        "styles": styles_for_team(team_id=membership.team_id, archived=archived),
        "form": form, "archived": archived, "sampler_names": A1111_SAMPLER_LABELS,
    }, status=422 if form.errors else 200)


@login_required
def style_detail(request: HttpRequest, style_id: int) -> HttpResponse:
    """The style's versions; saving the form adds the next one."""
    style = style_for_member(request.user, style_id)
    versions = style_versions(style)
    current = versions[0] if versions else None
    form = StyleVersionForm(request.POST or None, initial=_version_initial(current))
    if request.method == "POST" and form.is_valid():
        try:
            version = style_version_add(style=style, user=request.user, rules=form.rules(),
                                        note=form.cleaned_data["note"],
                                        ip_address=actor_of(request)["ip_address"])
        except StyleRefused as refused:
            refusal_on_form(form, refused)
        else:
            messages.success(request, _("Version %(n)s saved. Records made earlier keep the "
                                        "version they used.") % {"n": version.number})
            return redirect("style_detail", style_id=style.pk)
    return render(request, "studio/style_detail.html", {
        "style": style, "versions": versions, "current": current, "form": form,
        "sampler_names": A1111_SAMPLER_LABELS,
    }, status=422 if form.errors else 200)


def _version_initial(version) -> dict:
    if version is None:
        return {}
    return {"negative_terms": version.negative_terms, "style_words": version.style_words,
            "width": version.width, "height": version.height, "aspect": version.aspect,
            "sampler": version.sampler, "steps": version.steps, "cfg_scale": version.cfg_scale,
            "checkpoint": version.checkpoint}


@require_POST
@login_required
def style_archive_view(request: HttpRequest, style_id: int) -> HttpResponse:
    style = style_for_member(request.user, style_id)
    archive = request.POST.get("archive", "1") == "1"
    style_archive(style=style, user=request.user, archived=archive,
                  ip_address=actor_of(request)["ip_address"])
    messages.success(request, _("House style archived.") if archive
                     else _("House style restored."))
    return redirect("style_list")


@require_POST
@login_required
def project_style_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_member(request.user, project_id)
    form = ProjectStyleForm(request.POST, team_id=project.team_id)
    if form.is_valid():
        try:
            project_default_style_set(project=project, style=form.cleaned_data["style"],
                                      user=request.user, ip_address=actor_of(request)["ip_address"])
        except StyleRefused as refused:
            messages.error(request, refused.message)
        else:
            messages.success(request, _("Default house style saved."))
    else:
        messages.error(request, _("Choose one of this team's house styles."))
    return redirect("project_detail", project_id=project.pk)
