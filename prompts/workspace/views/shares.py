"""Share links: made and revoked by the team; opened by anyone holding the link."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import actor_of
from prompts.access import project_for_member, record_for_member, share_link_for_member
from prompts.models import ReferenceImage
from prompts.workspace.selectors.studio import (
    share_links_for_team,
    shared_page,
    shared_reference_ids,
)
from prompts.workspace.services.shares import (
    ShareRefused,
    share_link_create,
    share_link_open,
    share_link_revoke,
)
from prompts.workspace.studio_forms import ShareLinkForm
from prompts.workspace.views.common import current_membership

SESSION_NEW_LINK = "share_link_once"


def _create(request: HttpRequest, **target) -> HttpResponse:
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the link a number of days from 1 to 90."))
        return None
    try:
        link, token = share_link_create(user=request.user, label=form.cleaned_data["label"],
                                        days=form.cleaned_data["days"],
                                        ip_address=actor_of(request)["ip_address"], **target)
    except ShareRefused as refused:
        messages.error(request, refused.message)
        return None
    # Shown once, on the page this redirects to; only a hash of the token is stored.
    request.session[SESSION_NEW_LINK] = {
        "id": link.pk, "url": request.build_absolute_uri(reverse("shared", args=[token]))}
    return redirect("share_list")


@require_POST
@login_required
def record_share_view(request: HttpRequest, record_id: int) -> HttpResponse:
    record = record_for_member(request.user, record_id)
    return _create(request, record=record) or redirect("record_detail", record_id=record.pk)


@require_POST
@login_required
def project_share_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_member(request.user, project_id)
    return _create(request, project=project) or redirect("project_detail", project_id=project.pk)


@login_required
def share_list(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    return render(request, "studio/shares.html", {
        "links": share_links_for_team(team_id=membership.team_id),
        "new_link": request.session.pop(SESSION_NEW_LINK, None),
    })


@require_POST
@login_required
def share_revoke_view(request: HttpRequest, link_id: int) -> HttpResponse:
    link = share_link_for_member(request.user, link_id)
    share_link_revoke(link=link, user=request.user, ip_address=actor_of(request)["ip_address"])
    messages.success(request, _("Link revoked: it opens nothing from now on."))
    return redirect("share_list")


# What a client sees -----------------------------------------------------------------------

def _private(response: HttpResponse) -> HttpResponse:
    """The token is in the URL: never sent on as a Referer, never indexed or cached."""
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    return response


def shared(request: HttpRequest, token: str) -> HttpResponse:
    """Prompts, settings and reference thumbnails; never costs, people or other records.
    Unknown, expired and revoked links are all the same plain 404."""
    link = share_link_open(token)
    if link is None:
        raise Http404
    return _private(render(request, "studio/shared.html", {"page": shared_page(link),
                                                            "token": token}))


def shared_reference(request: HttpRequest, token: str, reference_id: int) -> FileResponse:
    """A reference's thumbnail, served through the share token (not the members' view)."""
    link = share_link_open(token, count_view=False)
    if link is None or reference_id not in shared_reference_ids(link):
        raise Http404
    reference = ReferenceImage.objects.get(pk=reference_id)
    return _private(FileResponse(reference.thumbnail.open("rb"), content_type="image/jpeg"))
