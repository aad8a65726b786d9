"""Usage and ¥: the member's dashboard, the manager's reports and budgets, the price book."""

import csv
from collections.abc import Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import require_site_admin, team_for_manager
from accounts.models import Budget, Team
from prompts.forms_usage import (
    BudgetForm,
    CsvExportForm,
    PriceForm,
    ReportFilterForm,
    RepriceForm,
    StatementForm,
)
from prompts.selectors import usage as usage_selectors
from prompts.selectors.budgets import team_budget_statuses
from prompts.selectors.money import yuan
from prompts.services.billing import budget_remove, budget_set, calls_reprice, price_set


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _managed_team(request: HttpRequest, team_id=None) -> Team:
    """The team asked for (?team=, else the current one) if the user manages it or is a site
    admin; anyone else gets a 404."""
    raw = team_id or request.GET.get("team") or getattr(request.membership, "team_id", None)
    try:
        team_id = int(raw)
    except (TypeError, ValueError):
        raise Http404 from None
    if request.user.is_staff:
        return get_object_or_404(Team, pk=team_id)
    return team_for_manager(request.user, team_id)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own usage in their current team; there is no way to ask for
    someone else's."""
    membership = request.membership
    dashboard = usage_selectors.usage_dashboard(
        user_id=request.user.id, team_id=membership.team_id) if membership else None
    return render(request, "prompts/home.html", {"membership": membership,
                                                  "dashboard": dashboard})


@login_required
def usage_report(request: HttpRequest) -> HttpResponse:
    team = _managed_team(request)
    form = ReportFilterForm(request.GET)
    filters = form.filters()
    report = usage_selectors.usage_report(team=team, **filters) if filters else None
    context = {"team": team, "form": form, "report": report,
               "teams": usage_selectors.managed_teams(request.user)}
    template = "partials/usage_report_table.html" if request.htmx else "usage/report.html"
    return render(request, template, context)


class _Echo:
    """csv.writer writes into this and gets the line back, so rows can be streamed."""

    def write(self, value: str) -> str:
        return value


def _csv_stream(rows: Iterator[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # UTF-8 BOM: spreadsheet programs then read Chinese names correctly
    for row in rows:
        yield writer.writerow(row)


@login_required
def usage_report_csv(request: HttpRequest) -> HttpResponse:
    team = _managed_team(request)
    filters = CsvExportForm(request.GET).filters()
    if filters is None:
        return redirect(f"{reverse('usage_report')}?{request.GET.urlencode()}")
    rows = usage_selectors.usage_csv_rows(team=team, **filters)
    response = StreamingHttpResponse(_csv_stream(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="usage-team{team.pk}-{filters["since"]}-{filters["until"]}-'
        f'{filters["group_by"]}.csv"')
    return response


@login_required
def usage_statement(request: HttpRequest) -> HttpResponse:
    team = _managed_team(request)
    form = StatementForm(request.GET)
    month = form.month_or_current()
    statement = usage_selectors.usage_statement(team=team, month=month) if month else None
    return render(request, "usage/statement.html", {
        "team": team, "form": form, "statement": statement,
        "teams": usage_selectors.managed_teams(request.user)})


@login_required
def budget_list(request: HttpRequest) -> HttpResponse:
    team = _managed_team(request)
    form = BudgetForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            budget_set(team=team, user=form.cleaned_data["user"],
                       monthly_limit=form.cleaned_data["monthly_limit"], warn_at=form.warn_at,
                       actor=request.user, ip_address=_client_ip(request))
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, _("Budget saved. Jobs waiting for the budget resume "
                                        "within a minute if it now allows them."))
            return redirect(f"{reverse('budget_list')}?team={team.pk}")
    return render(request, "usage/budgets.html", {
        "team": team, "form": form, "statuses": team_budget_statuses(team_id=team.pk),
        "teams": usage_selectors.managed_teams(request.user)})


@login_required
@require_POST
def budget_delete(request: HttpRequest, budget_id: int) -> HttpResponse:
    budget = get_object_or_404(Budget.objects.select_related("team", "user"), pk=budget_id)
    team = _managed_team(request, team_id=budget.team_id)
    budget_remove(budget=budget, actor=request.user, ip_address=_client_ip(request))
    messages.success(request, _("Budget removed."))
    return redirect(f"{reverse('budget_list')}?team={team.pk}")


@login_required
def price_book(request: HttpRequest) -> HttpResponse:
    require_site_admin(request.user)
    form = PriceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            price_set(**form.price_kwargs(), actor=request.user, ip_address=_client_ip(request))
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, _("Price added. Calls already recorded keep their cost."))
            return redirect("price_book")
    return _price_page(request, form=form, reprice_form=RepriceForm())


def _price_page(request, *, form, reprice_form) -> HttpResponse:
    return render(request, "usage/prices.html", {
        "form": form, "reprice_form": reprice_form, "book": usage_selectors.price_book()})


@login_required
@require_POST
def price_reprice(request: HttpRequest) -> HttpResponse:
    require_site_admin(request.user)
    form = RepriceForm(request.POST)
    if not form.is_valid():
        return _price_page(request, form=PriceForm(), reprice_form=form)
    result = calls_reprice(**{k: form.cleaned_data[k] for k in ("model", "since", "until")},
                           actor=request.user, ip_address=_client_ip(request))
    messages.success(request, _(
        "Re-priced %(changed)s of %(calls)s calls: ¥%(before)s became ¥%(after)s; unpriced "
        "calls %(unpriced_before)s became %(unpriced_after)s.") % {
        "changed": result.changed, "calls": result.calls, "before": yuan(result.cost_before),
        "after": yuan(result.cost_after), "unpriced_before": result.unpriced_before,
        "unpriced_after": result.unpriced_after})
    return redirect("price_book")
