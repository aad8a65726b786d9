"""Managers release the moderation hold on a teammate's jobs."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.access import client_ip, managed_team
from prompts.models import ModerationHold
from prompts.pipeline.moderation import hold_release
from prompts.pipeline.selectors import holds_for_team


@login_required
def hold_list(request: HttpRequest) -> HttpResponse:
    team = managed_team(request)
    return render(request, "prompts/holds.html", {"team": team, "holds": holds_for_team(team)})


@require_POST
@login_required
def hold_release_view(request: HttpRequest, hold_id: int) -> HttpResponse:
    team = managed_team(request)
    hold = get_object_or_404(ModerationHold.objects.select_related("user", "team"), pk=hold_id,
                             team=team, released_at__isnull=True)
    resumed = hold_release(hold=hold, released_by=request.user, ip_address=client_ip(request))
    messages.success(request, ngettext(
        "Released %(user)s: %(count)s waiting job went back to the queue.",
        "Released %(user)s: %(count)s waiting jobs went back to the queue.", resumed)
        % {"user": hold.user.username, "count": resumed})
    return redirect(f"{reverse('hold_list')}?team={team.pk}")
