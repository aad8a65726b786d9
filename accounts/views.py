from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import membership_for_user
from accounts.health import health_checks
from accounts.middleware import SESSION_TEAM_KEY


@require_POST
@login_required
def switch_team(request: HttpRequest) -> HttpResponse:
    membership = membership_for_user(request.user, int(request.POST.get("team", 0) or 0))
    request.session[SESSION_TEAM_KEY] = membership.team_id
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = health_checks()
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)
