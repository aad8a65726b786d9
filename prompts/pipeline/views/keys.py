"""The console's gateway pages: keys (add, verify, activate, standby, revoke) and dispatch.

Site admins only; anyone else gets a 404. Writes are POST + redirect.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.access import actor_of, site_admin_required
from accounts.models import GatewayKey
from prompts.pipeline import keys
from prompts.pipeline.dispatch import dispatch_paused, dispatch_resume
from prompts.pipeline.forms import GatewayKeyAddForm
from prompts.pipeline.selectors import gateway_keys_for_console


def _console_context(add_form=None) -> dict:
    return {"keys": gateway_keys_for_console(), "pause": dispatch_paused(),
            "add_form": add_form or GatewayKeyAddForm()}


@require_GET
@site_admin_required
def console(request: HttpRequest) -> HttpResponse:
    return render(request, "console/home.html", _console_context())


@require_GET
@site_admin_required
def console_keys(request: HttpRequest) -> HttpResponse:
    """The keys table alone, for htmx to refresh in place (statuses change by themselves)."""
    return render(request, "partials/console_keys.html", _console_context())


@require_POST
@site_admin_required
def key_add(request: HttpRequest) -> HttpResponse:
    form = GatewayKeyAddForm(request.POST)
    if not form.is_valid():
        return render(request, "console/home.html", _console_context(form), status=400)
    key = keys.gateway_key_add(name=form.cleaned_data["name"],
                                   secret=form.cleaned_data["secret"], **actor_of(request))
    if same := keys.gateway_keys_sharing_secret(fingerprint=key.fingerprint, exclude_id=key.pk):
        messages.warning(request, _("This secret is stored already as %(names)s: the two names "
                                    "are one key, so one cannot stand in for the other.")
                         % {"names": ", ".join(same)})
    _report_verification(request, key, *keys.gateway_key_verify(key=key, **actor_of(request)))
    return redirect("console")


def _report_verification(request: HttpRequest, key: GatewayKey, ok: bool, detail: str) -> None:
    if ok:
        messages.success(request, _("The gateway accepts %(key)s (models: %(detail)s).")
                         % {"key": key.name, "detail": detail})
    else:
        messages.error(request, _("The gateway refused %(key)s: %(detail)s")
                       % {"key": key.name, "detail": detail})


@require_POST
@site_admin_required
def key_verify(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(GatewayKey, pk=key_id)
    _report_verification(request, key, *keys.gateway_key_verify(key=key, **actor_of(request)))
    return redirect("console")


@require_POST
@site_admin_required
def key_activate(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(GatewayKey, pk=key_id)
    activated, detail = keys.gateway_key_rotate(key=key, **actor_of(request))
    if activated:
        messages.success(request, _("%(key)s is active. The previous key is retiring: attempts "
                                    "already under way may finish with it.") % {"key": key.name})
    else:
        _report_verification(request, key, False, detail)
    return redirect("console")


@require_POST
@site_admin_required
def key_standby(request: HttpRequest, key_id: int) -> HttpResponse:
    key = keys.gateway_key_mark_standby(key=get_object_or_404(GatewayKey, pk=key_id),
                                            **actor_of(request))
    messages.info(request, _("%(key)s is now: %(status)s.")
                  % {"key": key.name, "status": key.get_status_display()})
    return redirect("console")


@require_POST
@site_admin_required
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = keys.gateway_key_revoke(key=get_object_or_404(GatewayKey, pk=key_id),
                                      **actor_of(request))
    messages.warning(request, _("%(key)s is revoked: it is never sent again.")
                     % {"key": key.name})
    return redirect("console")


@require_POST
@site_admin_required
def dispatch_resume_view(request: HttpRequest) -> HttpResponse:
    resumed = dispatch_resume(**actor_of(request))
    messages.success(request, _("Dispatch resumed; %(n)s waiting job(s) sent again.")
                     % {"n": resumed})
    return redirect("console")
