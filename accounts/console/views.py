"""The site admins' console: audit log, users, teams, roles and sign-in lock-outs.

Every view is for active site admins only; anyone else gets a 404 (the console does not
confirm it exists). Writes are POST + redirect, so a reload never repeats one.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import services
from accounts.access import actor_of, site_admin_required
from accounts.console import selectors
from accounts.console.forms import (
    AuditFilterForm,
    MembershipSetForm,
    TeamCreateForm,
    UserCreateForm,
)
from accounts.models import Membership, User
from grokweb.csvexport import csv_response

AUDIT_PAGE_SIZE = 50


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


@require_GET
@site_admin_required
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    _form, filters = _audit_filters(request)
    header = ["time", "actor", "action", "target_type", "target_id", "target", "ip_address",
              "before", "after"]
    return csv_response(selectors.audit_rows_for_csv(filters, header),
                        filename="grokweb-audit.csv")


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
    user = services.user_create(**form.cleaned_data, **actor_of(request))
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
    team = services.team_create(name=form.cleaned_data["name"], **actor_of(request))
    messages.success(request, _("Created the team %(team)s.") % {"team": team.name})
    return redirect("console_users")


@require_POST
@site_admin_required
def membership_set(request: HttpRequest) -> HttpResponse:
    form = MembershipSetForm(request.POST)
    if not form.is_valid():
        return _users_page(request, status=400, membership_form=form)
    membership = services.membership_set(**form.cleaned_data, **actor_of(request))
    messages.success(request, _("%(user)s is %(role)s of %(team)s.") % {
        "user": membership.user.username, "role": membership.get_role_display(),
        "team": membership.team.name})
    return redirect("console_users")


@require_POST
@site_admin_required
def membership_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.select_related("user", "team"),
                                   pk=membership_id)
    services.membership_remove(membership=membership, **actor_of(request))
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
                                    **actor_of(request))
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
                                   **actor_of(request))
    messages.info(request, _("Saved the site admin rights of %(user)s.") % {"user": user.username})
    return redirect("console_users")


@require_POST
@site_admin_required
def lockouts_clear(request: HttpRequest) -> HttpResponse:
    services.signin_lockouts_clear(**actor_of(request))
    messages.success(request, _("Sign-in lock-outs cleared: everyone can try again."))
    return redirect("console_users")
