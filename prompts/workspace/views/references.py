"""Reference images: upload (several files), https links, consent, scoped image files."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from grokweb.refusals import Refusal
from prompts.access import project_for_member, reference_for_member
from prompts.workspace.forms import ReferenceUploadForm, ReferenceUrlForm
from prompts.workspace.services.references import (
    reference_archive,
    reference_confirm_consent,
    reference_upload,
    reference_upload_from_url,
)
from prompts.workspace.views.common import refuse_if_archived
from prompts.workspace.views.projects import UPLOAD_RESULTS_KEY, render_project

IMAGE_FIELDS = {"thumbnail": "thumbnail", "send": "send_file"}


@require_POST
@login_required
def reference_upload_view(request: HttpRequest, project_id: int) -> HttpResponse:
    """Each file is stored or refused on its own; the project page then says which."""
    project = project_for_member(request.user, project_id)
    if refused := refuse_if_archived(request, project):
        return refused
    form = ReferenceUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render_project(request, project, upload_form=form, failed=True)
    results = [
        # Reading one byte past the limit is enough for the size check to refuse the file.
        _store(reference_upload, upload.name, project=project, user=request.user,
               data=upload.read(settings.REFERENCE_MAX_UPLOAD_BYTES + 1),
               original_name=upload.name, **_consent(form))
        for upload in form.cleaned_data["files"]
    ]
    return _back_to_project(request, project, results)


@require_POST
@login_required
def reference_from_url(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_member(request.user, project_id)
    if refused := refuse_if_archived(request, project):
        return refused
    form = ReferenceUrlForm(request.POST)
    if not form.is_valid():
        return render_project(request, project, url_form=form, failed=True)
    url = form.cleaned_data["url"].strip()
    result = _store(reference_upload_from_url, url, project=project, user=request.user,
                    url=url, **_consent(form))
    if result["error"]:
        # Refused: the form again, with the link still in it to correct.
        form.add_error("url", result["error"])
        return render_project(request, project, url_form=form, failed=True)
    return _back_to_project(request, project, [result])


def _consent(form) -> dict:
    return {"shows_person": form.cleaned_data["shows_person"],
            "consent": form.cleaned_data["consent"]}


def _store(service, name: str, **kwargs) -> dict:
    """Run one upload; the result names the file and says what happened, for the page."""
    try:
        upload = service(**kwargs)
    except Refusal as refused:  # the image, the link, or an archived project
        return {"name": name, "error": str(refused.message), "outcome": "refused",
                "reference_id": None, "suggested": False}
    outcome = "created" if upload.created else "restored" if upload.restored else "existing"
    return {"name": name, "error": None, "outcome": outcome, "reference_id": upload.reference.pk,
            "suggested": bool(upload.suggested_brief)}


def _back_to_project(request: HttpRequest, project, results: list[dict]) -> HttpResponse:
    """POST, then redirect: the results wait in the session for the page, read once, so a
    reload neither uploads again nor shows them twice."""
    request.session[UPLOAD_RESULTS_KEY] = results
    return redirect(reverse("project_detail", args=[project.pk]) + "#references")


@login_required
def reference_image(request: HttpRequest, reference_id: int, kind: str) -> FileResponse:
    """Reference files are served only to the project's team: MEDIA has no public URL."""
    reference = reference_for_member(request.user, reference_id)
    if kind not in IMAGE_FIELDS:
        raise Http404
    response = FileResponse(getattr(reference, IMAGE_FIELDS[kind]).open("rb"),
                            content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_POST
@login_required
def reference_consent(request: HttpRequest, reference_id: int) -> HttpResponse:
    reference = reference_for_member(request.user, reference_id)
    if request.POST.get("consent") != "1":
        messages.error(request, _("Tick the box to confirm the rights and the person’s consent."))
    else:
        reference_confirm_consent(reference=reference, user=request.user)
        messages.success(request, _("Consent recorded: “%(name)s” can be sent.")
                         % {"name": reference.original_name})
    return redirect("project_detail", project_id=reference.project_id)


@require_POST
@login_required
def reference_archive_view(request: HttpRequest, reference_id: int) -> HttpResponse:
    """Remove a reference from its project; past jobs and records keep showing it."""
    reference = reference_for_member(request.user, reference_id)
    reference_archive(reference=reference, user=request.user)
    messages.success(request, _("“%(name)s” removed from the project. Upload it again to bring "
                                "it back.") % {"name": reference.original_name})
    return redirect(reverse("project_detail", args=[reference.project_id]) + "#references")
