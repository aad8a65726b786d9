"""The site admins' console: gateway keys, dispatch, audit log, users, teams and roles.

Every view is for active site admins only; anyone else gets a 404 (the console does not
confirm it exists). Writes are POST + redirect, so a reload never repeats one.
"""

import csv
from functools import wraps

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors, services
from accounts.access import require_site_admin
from accounts.forms import (
    AuditFilterForm,
    GatewayKeyAddForm,
    MembershipSetForm,
    TeamCreateForm,
    UserCreateForm,
)
from accounts.models import GatewayKey, Membership, User
from prompts.services.dispatch import dispatch_paused

AUDIT_PAGE_SIZE = 50


def site_admin_required(view):
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        require_site_admin(request.user)
        return view(request, *args, **kwargs)

    return wrapper


def _actor(request: HttpRequest) -> dict:
    return {"actor": request.user, "ip_address": get_client_ip_address(request)}


def _console_context(add_form=None) -> dict:
    return {"keys": selectors.gateway_keys_for_console(), "pause": dispatch_paused(),
            "add_form": add_form or GatewayKeyAddForm()}


# Gateway keys ----------------------------------------------------------------------------


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
    key = services.gateway_key_add(name=form.cleaned_data["name"],
                                   secret=form.cleaned_data["secret"], **_actor(request))
    _report_verification(request, key, *services.gateway_key_verify(key=key, **_actor(request)))
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
    _report_verification(request, key, *services.gateway_key_verify(key=key, **_actor(request)))
    return redirect("console")


@require_POST
@site_admin_required
def key_activate(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(GatewayKey, pk=key_id)
    activated, detail = services.gateway_key_rotate(key=key, **_actor(request))
    if activated:
        messages.success(request, _("%(key)s is active. The previous key is retiring: attempts "
                                    "already under way may finish with it.") % {"key": key.name})
    else:
        _report_verification(request, key, False, detail)
    return redirect("console")


@require_POST
@site_admin_required
def key_standby(request: HttpRequest, key_id: int) -> HttpResponse:
    key = services.gateway_key_mark_standby(key=get_object_or_404(GatewayKey, pk=key_id),
                                            **_actor(request))
    messages.info(request, _("%(key)s is now: %(status)s.")
                  % {"key": key.name, "status": key.get_status_display()})
    return redirect("console")


@require_POST
@site_admin_required
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = services.gateway_key_revoke(key=get_object_or_404(GatewayKey, pk=key_id),
                                      **_actor(request))
    messages.warning(request, _("%(key)s is revoked: it is never sent again.")
                     % {"key": key.name})
    return redirect("console")


@require_POST
@site_admin_required
def dispatch_resume(request: HttpRequest) -> HttpResponse:
    resumed = services.dispatch_resume(**_actor(request))
    messages.success(request, _("Dispatch resumed; %(n)s waiting job(s) sent again.")
                     % {"n": resumed})
    return redirect("console")


# Audit log -------------------------------------------------------------------------------


def _audit_filters(request: HttpRequest) -> tuple[AuditFilterForm, selectors.AuditFilters]:
    form = AuditFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    return form, selectors.AuditFilters(**{k: v for k, v in data.items() if v})


@require_GET
@site_admin_required
def audit_log(request: HttpRequest) -> HttpResponse:
    form, filters = _audit_filters(request)
    page = Paginator(selectors.audit_events(filters), AUDIT_PAGE_SIZE).get_page(
        request.GET.get("page"))
    selectors.audit_changes(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    template = "partials/console_audit_rows.html" if request.htmx else "console/audit.html"
    return render(request, template, {"form": form, "page": page, "query": query.urlencode(),
                                      "actions": selectors.audit_actions()})


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@site_admin_required
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    _form, filters = _audit_filters(request)
    writer = csv.writer(_Echo())
    header = ["time", "actor", "action", "target_type", "target_id", "target", "ip_address",
              "before", "after"]
    rows = (writer.writerow(row) for row in selectors.audit_rows_for_csv(filters, header))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="grokweb-audit.csv"'
    return response


# Users, teams and roles -------------------------------------------------------------------


def _users_page(request: HttpRequest, status: int = 200, **forms) -> HttpResponse:
    context = {"users": selectors.users_for_console(), "teams": selectors.teams_for_console(),
               "user_form": UserCreateForm(), "membership_form": MembershipSetForm(),
               "team_form": TeamCreateForm(), "roles": Membership.Role.choices} | forms
    return render(request, "console/users.html", context, status=status)


@require_GET
@site_admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    return _users_page(request)


@require_POST
@site_admin_required
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST)
    if not form.is_valid():
        return _users_page(request, status=400, user_form=form)
    user = services.user_create(**form.cleaned_data, **_actor(request))
    messages.success(request, _("Created %(user)s.") % {"user": user.username} if
                     user.has_usable_password() else
                     _("Invited %(user)s: the e-mail with the link is on its way.")
                     % {"user": user.username})
    return redirect("console_users")


@require_POST
@site_admin_required
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamCreateForm(request.POST)
    if not form.is_valid():
        return _users_page(request, status=400, team_form=form)
    team = services.team_create(name=form.cleaned_data["name"], **_actor(request))
    messages.success(request, _("Created the team %(team)s.") % {"team": team.name})
    return redirect("console_users")


@require_POST
@site_admin_required
def membership_set(request: HttpRequest) -> HttpResponse:
    form = MembershipSetForm(request.POST)
    if not form.is_valid():
        return _users_page(request, status=400, membership_form=form)
    membership = services.membership_set(**form.cleaned_data, **_actor(request))
    messages.success(request, _("%(user)s is %(role)s of %(team)s.") % {
        "user": membership.user.username, "role": membership.get_role_display(),
        "team": membership.team.name})
    return redirect("console_users")


@require_POST
@site_admin_required
def membership_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.select_related("user", "team"),
                                   pk=membership_id)
    services.membership_remove(membership=membership, **_actor(request))
    messages.info(request, _("%(user)s left %(team)s.") % {
        "user": membership.user.username, "team": membership.team.name})
    return redirect("console_users")


@require_POST
@site_admin_required
def user_active(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    if user == request.user:
        messages.error(request, _("You cannot deactivate yourself."))
        return redirect("console_users")
    user = services.user_set_active(user=user, active=request.POST.get("active") == "1",
                                    **_actor(request))
    messages.info(request, (_("%(user)s can sign in again.") if user.is_active else _(
        "%(user)s is deactivated: signed out, API tokens refused.")) % {"user": user.username})
    return redirect("console_users")


@require_POST
@site_admin_required
def user_staff(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    if user == request.user:
        messages.error(request, _("You cannot change your own site admin rights."))
        return redirect("console_users")
    user = services.user_set_staff(user=user, is_staff=request.POST.get("is_staff") == "1",
                                   **_actor(request))
    messages.info(request, _("Saved the site admin rights of %(user)s.") % {"user": user.username})
    return redirect("console_users")


@require_POST
@site_admin_required
def lockouts_clear(request: HttpRequest) -> HttpResponse:
    services.signin_lockouts_clear(**_actor(request))
    messages.success(request, _("Sign-in lock-outs cleared: everyone can try again."))
    return redirect("console_users")
