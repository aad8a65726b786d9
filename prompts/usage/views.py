"""Usage and ¥: the member's dashboard, the manager's reports and budgets, the price book."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import client_ip, managed_team, managed_teams, require_site_admin
from accounts.models import Budget
from grokweb.csvexport import csv_response
from prompts.models import ReconciliationRun
from prompts.usage import reports
from prompts.usage.budget_status import team_budget_statuses
from prompts.usage.budgets import budget_remove, budget_set
from prompts.usage.dashboard import usage_dashboard
from prompts.usage.forecast import budget_forecasts, project_forecasts
from prompts.usage.forms import (
    BudgetForm,
    CsvExportForm,
    LogSourceForm,
    PriceForm,
    ReconcileForm,
    ReportFilterForm,
    RepriceForm,
    StatementForm,
)
from prompts.usage.money import yuan
from prompts.usage.prices import calls_reprice, price_set
from prompts.usage.prices import price_book as price_book_rows
from prompts.usage.reconciliation import selectors as recon
from prompts.usage.reconciliation.queued import reconciliation_queue
from prompts.usage.reconciliation.settle import item_settle
from prompts.usage.reconciliation.source import log_source, log_source_set, log_source_settings


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own usage in their current team; there is no way to ask for
    someone else's."""
    membership = request.membership
    dashboard = usage_dashboard(
        user_id=request.user.id, team_id=membership.team_id) if membership else None
    return render(request, "prompts/home.html", {"membership": membership,
                                                  "dashboard": dashboard})


@login_required
def usage_report(request: HttpRequest) -> HttpResponse:
    team = managed_team(request)
    form = ReportFilterForm(request.GET)
    filters = form.filters()
    report = reports.usage_report(team=team, **filters) if filters else None
    context = {"team": team, "form": form, "report": report,
               "teams": managed_teams(request.user)}
    if request.htmx:  # only the table is refreshed; the month-end forecast stays
        return render(request, "partials/usage_report_table.html", context)
    context["forecasts"] = budget_forecasts(team_id=team.pk, user_id=None)
    context["project_forecasts"] = project_forecasts(team_id=team.pk)
    return render(request, "usage/report.html", context)


@login_required
def usage_report_csv(request: HttpRequest) -> HttpResponse:
    team = managed_team(request)
    filters = CsvExportForm(request.GET).filters()
    if filters is None:
        return redirect(f"{reverse('usage_report')}?{request.GET.urlencode()}")
    rows = reports.usage_csv_rows(team=team, **filters)
    return csv_response(rows, filename=f"usage-team{team.pk}-{filters['since']}-"
                                       f"{filters['until']}-{filters['group_by']}.csv")


@login_required
def usage_statement(request: HttpRequest) -> HttpResponse:
    team = managed_team(request)
    form = StatementForm(request.GET)
    month = form.month_or_current()
    statement = reports.usage_statement(team=team, month=month) if month else None
    return render(request, "usage/statement.html", {
        "team": team, "form": form, "statement": statement,
        "teams": managed_teams(request.user)})


@login_required
def budget_list(request: HttpRequest) -> HttpResponse:
    team = managed_team(request)
    form = BudgetForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            budget_set(team=team, user=form.cleaned_data["user"],
                       monthly_limit=form.cleaned_data["monthly_limit"], warn_at=form.warn_at,
                       actor=request.user, ip_address=client_ip(request))
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, _("Budget saved. Jobs waiting for the budget resume "
                                        "within a minute if it now allows them."))
            return redirect(f"{reverse('budget_list')}?team={team.pk}")
    return render(request, "usage/budgets.html", {
        "team": team, "form": form, "statuses": team_budget_statuses(team_id=team.pk),
        "teams": managed_teams(request.user)})


@login_required
@require_POST
def budget_delete(request: HttpRequest, budget_id: int) -> HttpResponse:
    budget = get_object_or_404(Budget.objects.select_related("team", "user"), pk=budget_id)
    team = managed_team(request, team_id=budget.team_id)
    budget_remove(budget=budget, actor=request.user, ip_address=client_ip(request))
    messages.success(request, _("Budget removed."))
    return redirect(f"{reverse('budget_list')}?team={team.pk}")


@login_required
def price_book(request: HttpRequest) -> HttpResponse:
    require_site_admin(request.user)
    form = PriceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            price_set(**form.price_kwargs(), actor=request.user, ip_address=client_ip(request))
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, _("Price added. Calls already recorded keep their cost."))
            return redirect("price_book")
    return _price_page(request, form=form, reprice_form=RepriceForm())


def _price_page(request, *, form, reprice_form) -> HttpResponse:
    return render(request, "usage/prices.html", {
        "form": form, "reprice_form": reprice_form, "book": price_book_rows()})


@login_required
@require_POST
def price_reprice(request: HttpRequest) -> HttpResponse:
    require_site_admin(request.user)
    form = RepriceForm(request.POST)
    if not form.is_valid():
        return _price_page(request, form=PriceForm(), reprice_form=form)
    result = calls_reprice(**{k: form.cleaned_data[k] for k in ("model", "since", "until")},
                           actor=request.user, ip_address=client_ip(request))
    messages.success(request, _(
        "Re-priced %(changed)s of %(calls)s calls: ¥%(before)s became ¥%(after)s; unpriced "
        "calls %(unpriced_before)s became %(unpriced_after)s.") % {
        "changed": result.changed, "calls": result.calls, "before": yuan(result.cost_before),
        "after": yuan(result.cost_after), "unpriced_before": result.unpriced_before,
        "unpriced_after": result.unpriced_after})
    return redirect("price_book")


# Reconciliation ---------------------------------------------------------------------------


def _reconciliation_scope(request: HttpRequest) -> int | None:
    """The team whose part of each run the user sees: None for a site admin (everything),
    else the team they manage (404 for anyone else)."""
    if request.user.is_staff and request.user.is_active and not request.GET.get("team"):
        return None
    return managed_team(request).pk


@login_required
def reconciliation_list(request: HttpRequest) -> HttpResponse:
    team_id = _reconciliation_scope(request)
    page = Paginator(recon.reconciliation_runs(), 30).get_page(request.GET.get("page"))
    rows = [(run, recon.team_part(run, team_id) if team_id else None) for run in page]
    admin = team_id is None
    return render(request, "usage/reconciliation.html", {
        "page": page, "rows": rows, "team_id": team_id, "admin": admin,
        "form": ReconcileForm() if admin else None,
        "source_form": LogSourceForm(initial=log_source_settings()) if admin else None,
        "source": log_source() if admin else None, **_team_nav(request, team_id)})


def _team_nav(request: HttpRequest, team_id: int | None) -> dict:
    """The usage pages' navigation: the managed team, if the page is seen as one."""
    team = managed_team(request, team_id=team_id) if team_id else None
    return {"team": team, "teams": managed_teams(request.user)}


@login_required
@require_POST
def reconciliation_start(request: HttpRequest) -> HttpResponse:
    require_site_admin(request.user)
    form = ReconcileForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("__all__", [])
                                         + form.errors.get("log_file", [])
                                         + [_("Check the dates.")]))
        return redirect("reconciliation_list")
    run = reconciliation_queue(since=form.cleaned_data["since"],
                               until=form.cleaned_data["until"],
                               upload=form.cleaned_data["log_file"], actor=request.user)
    return redirect("reconciliation_detail", run_id=run.pk)


@login_required
@require_POST
def reconciliation_source(request: HttpRequest) -> HttpResponse:
    require_site_admin(request.user)
    form = LogSourceForm(request.POST)
    if form.is_valid():
        log_source_set(url=form.cleaned_data["url"], token=form.token_change(),
                       user_id=form.cleaned_data["user_id"], actor=request.user,
                       ip_address=client_ip(request))
        messages.success(request, _("The gateway's log source is saved."))
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values()
                                         for e in errors))
    return redirect("reconciliation_list")


@login_required
def reconciliation_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    team_id = _reconciliation_scope(request)
    run = get_object_or_404(ReconciliationRun, pk=run_id)
    items = Paginator(recon.run_items(run, team_id=team_id), 100).get_page(
        request.GET.get("page"))
    return render(request, "usage/reconciliation_run.html", {
        "run": run, "items": items,
        "rows": [(item, recon.item_note(item), recon.item_settleable(item)) for item in items],
        "admin": team_id is None, "part": recon.team_part(run, team_id) if team_id else None,
        **_team_nav(request, team_id)})


@login_required
@require_POST
def reconciliation_item_settle(request: HttpRequest, run_id: int, item_id: int) -> HttpResponse:
    """Confirm a probable match by time: the unconfirmed call takes the gateway's numbers."""
    team_id = _reconciliation_scope(request)
    run = get_object_or_404(ReconciliationRun, pk=run_id)
    get_object_or_404(recon.run_items(run, team_id=team_id), pk=item_id)
    call = item_settle(item_id=item_id, run_id=run.pk, team_id=team_id, actor=request.user)
    if call is None:
        messages.info(request, _("Nothing was settled: this call is no longer unconfirmed."))
    else:
        cost = yuan(call.cost) if call.cost is not None else "—"
        messages.success(request, _("Call %(call)s is settled with the gateway's tokens and "
                                    "¥%(cost)s.") % {"call": call.pk, "cost": cost})
    url = reverse("reconciliation_detail", args=[run.pk])
    return redirect(f"{url}?team={team_id}" if team_id else url)


@login_required
def reconciliation_csv(request: HttpRequest, run_id: int) -> HttpResponse:
    team_id = _reconciliation_scope(request)
    run = get_object_or_404(ReconciliationRun, pk=run_id)
    suffix = f"-team{team_id}" if team_id else ""
    return csv_response(recon.run_csv_rows(run, team_id=team_id),
                        filename=f"reconciliation-{run.pk}{suffix}.csv")
