"""Signed webhooks, for the team's managers: endpoints, their secret (shown once), a test
event, and the delivery log."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import actor_of, team_for_manager
from prompts.access import webhook_for_manager
from prompts.workspace.selectors.webhooks import endpoint_log, endpoint_pending, endpoints_for_team
from prompts.workspace.services.webhooks import (
    WebhookRefused,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
    webhook_secret_rotate,
    webhook_test_send,
)
from prompts.workspace.studio_forms import WebhookEndpointForm
from prompts.workspace.url_fetch import UrlRefused
from prompts.workspace.views.common import current_membership

SESSION_SECRET = "webhook_secret_once"


def _refused_on(form, refused) -> None:
    form.add_error("events" if refused.field == "events" else "url", refused.message)


def _show_secret_once(request: HttpRequest, endpoint_id: int, secret: str) -> None:
    request.session[SESSION_SECRET] = {"id": endpoint_id, "secret": secret}


@login_required
def webhook_list(request: HttpRequest) -> HttpResponse:
    team = team_for_manager(request.user, current_membership(request).team_id)
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = webhook_endpoint_create(
                team=team, user=request.user, ip_address=actor_of(request)["ip_address"],
                **form.cleaned_data)
        except (UrlRefused, WebhookRefused) as refused:
            _refused_on(form, refused)
        else:
            _show_secret_once(request, endpoint.pk, secret)
            return redirect("webhook_detail", endpoint_id=endpoint.pk)
    return render(request, "studio/webhooks.html", {
        "endpoints": endpoints_for_team(team_id=team.pk), "form": form,
    }, status=422 if form.errors else 200)


@login_required
def webhook_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = webhook_for_manager(request.user, endpoint_id)
    initial = {"url": endpoint.url, "description": endpoint.description,
               "events": endpoint.events, "is_active": endpoint.is_active}
    form = WebhookEndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            webhook_endpoint_update(endpoint=endpoint, user=request.user,
                                    ip_address=actor_of(request)["ip_address"],
                                    **form.cleaned_data)
        except (UrlRefused, WebhookRefused) as refused:
            _refused_on(form, refused)
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect("webhook_detail", endpoint_id=endpoint.pk)
    once = request.session.pop(SESSION_SECRET, None)
    return render(request, "studio/webhook_detail.html", {
        "endpoint": endpoint, "form": form, "log": endpoint_log(endpoint=endpoint),
        "pending": endpoint_pending(endpoint=endpoint),
        "secret": once["secret"] if once and once["id"] == endpoint.pk else None,
    }, status=422 if form.errors else 200)


@require_POST
@login_required
def webhook_test_view(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = webhook_for_manager(request.user, endpoint_id)
    webhook_test_send(endpoint=endpoint, user=request.user,
                      ip_address=actor_of(request)["ip_address"])
    messages.success(request, _("Test event sent; its delivery shows in the log below."))
    return redirect("webhook_detail", endpoint_id=endpoint.pk)


@require_POST
@login_required
def webhook_rotate_view(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = webhook_for_manager(request.user, endpoint_id)
    secret = webhook_secret_rotate(endpoint=endpoint, user=request.user,
                                   ip_address=actor_of(request)["ip_address"])
    _show_secret_once(request, endpoint.pk, secret)
    return redirect("webhook_detail", endpoint_id=endpoint.pk)


@require_POST
@login_required
def webhook_delete_view(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = webhook_for_manager(request.user, endpoint_id)
    webhook_endpoint_delete(endpoint=endpoint, user=request.user,
                            ip_address=actor_of(request)["ip_address"])
    messages.success(request, _("Endpoint deleted."))
    return redirect("webhook_list")
