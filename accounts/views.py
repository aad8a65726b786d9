import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import client_ip, membership_for_user, parse_id
from accounts.forms import ApiTokenCreateForm
from accounts.health import health_checks
from accounts.middleware import SESSION_TEAM_KEY
from accounts.models import ApiToken
from accounts.selectors import api_tokens_for_user
from accounts.services import api_token_create, api_token_revoke


@require_POST
@login_required
def switch_team(request: HttpRequest) -> HttpResponse:
    team_id = parse_id(request.POST.get("team"))
    if team_id is None:  # only a hand-made request: the menu offers the user's teams
        return HttpResponseBadRequest(_("Choose one of your teams."))
    membership = membership_for_user(request.user, team_id)
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


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' lock-out page (AXES_LOCKOUT_CALLABLE): says, in minutes and in the user's
    language, when to try again."""
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME * 60))
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)


# Personal API tokens ----------------------------------------------------------------------


# A new token's plaintext waits here for the page the creation redirects to, which reads it
# once: never in a URL, never in a log line (it is registered with the log redaction).
NEW_TOKEN_KEY = "new_api_token"


def _tokens_page(request: HttpRequest, *, form=None, status=200) -> HttpResponse:
    new_token = request.session.pop(NEW_TOKEN_KEY, None)
    created = (ApiToken.objects.filter(pk=new_token["id"], user=request.user).first()
               if new_token else None)
    response = render(request, "accounts/tokens.html", {
        "tokens": api_tokens_for_user(request.user), "form": form or ApiTokenCreateForm(),
        "created": created, "plaintext": new_token["plaintext"] if created else None,
        "openapi_url": request.build_absolute_uri(reverse("api_openapi")),
    }, status=status)
    add_never_cache_headers(response)  # it may show a new token's plaintext
    return response


@require_GET
@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    return _tokens_page(request)


@require_POST
@login_required
def token_create(request: HttpRequest) -> HttpResponse:
    """POST, then redirect: a reload of the page cannot create a second token."""
    form = ApiTokenCreateForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, form=form, status=400)
    token, plaintext = api_token_create(user=request.user, name=form.cleaned_data["name"],
                                        ip_address=client_ip(request))
    request.session[NEW_TOKEN_KEY] = {"id": token.pk, "plaintext": plaintext}
    return redirect("token_list")


@require_POST
@login_required
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    api_token_revoke(token=token, actor=request.user, ip_address=client_ip(request))
    messages.info(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
    return redirect("token_list")
