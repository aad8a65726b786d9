"""Managers release the moderation hold on a teammate's jobs."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import team_for_manager
from prompts.models import ModerationHold
from prompts.selectors.moderation import holds_for_team
from prompts.services.moderation import hold_release


def _managed_team(request: HttpRequest):
    if not request.membership:
        raise Http404
    return team_for_manager(request.user, request.membership.team_id)


@login_required
def hold_list(request: HttpRequest) -> HttpResponse:
    team = _managed_team(request)
    return render(request, "prompts/holds.html", {"team": team, "holds": holds_for_team(team)})


@require_POST
@login_required
def hold_release_view(request: HttpRequest, hold_id: int) -> HttpResponse:
    team = _managed_team(request)
    hold = get_object_or_404(ModerationHold, pk=hold_id, team=team, released_at__isnull=True)
    resumed = hold_release(hold=hold, released_by=request.user)
    messages.success(request, _("Released. %(count)s waiting job(s) went back to the queue.")
                     % {"count": resumed})
    return redirect("hold_list")
