"""Settling a probable match by time alone: the run lists it, unsettled; a manager of the
call's team (or a site admin) confirms it on the run's page, and the unconfirmed call takes the
gateway's tokens and ¥, once, audited, with the run's figures following."""

import json
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from prompts.models import DailyUsage, GatewayCall, ReconciliationItem
from prompts.usage.ledger import ledger_open
from prompts.usage.reconciliation.runs import reconciliation_run
from tests.clock import local
from tests.factories import JobFactory

AT = local(2026, 11, 20, 9)


@pytest.fixture
def time_only_run(frozen_clock, crew, project, price):
    """An unknown call (a worker died mid-call) and one log entry 5 s later without our
    request id: a match by model and time alone, which the run leaves for a person."""
    job = JobFactory(project=project, created_by=crew.member)
    call = ledger_open(job=job, attempt=1, team_id=crew.team.id, key_id=None, price=price,
                       started_at=AT)
    GatewayCall.objects.filter(pk=call.pk).update(state="unknown")
    entry = {"created_at": int(AT.timestamp()) + 5, "model_name": call.model,
             "prompt_tokens": 1000, "completion_tokens": 500, "request_id": ""}
    run = reconciliation_run(since=date(2026, 11, 20), until=date(2026, 11, 20),
                             file_data=json.dumps([entry]).encode(), filename="log.json")
    [item] = run.items.all()
    assert (item.kind, item.call_id, item.state) == ("gateway_only", call.pk, "unknown")
    assert (run.settled_unknown, run.gateway_only, run.difference) == (
        0, 1, Decimal("0.006000"))
    return run, item, call


def _browser(user) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def _settle(browser: Client, run, item, team=None):
    page = reverse("reconciliation_detail", args=[run.pk])
    browser.get(page, {"team": team.pk} if team else {})
    url = reverse("reconciliation_item_settle", args=[run.pk, item.pk])
    if team:
        url += f"?team={team.pk}"
    return browser.post(url, {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
                        follow=True)


def test_a_manager_settles_a_match_by_time_once(time_only_run, crew):
    run, item, call = time_only_run
    browser = _browser(crew.manager)
    detail = browser.get(reverse("reconciliation_detail", args=[run.pk]), {"team": crew.team.pk})
    assert "Settle with the gateway's numbers" in detail.content.decode()
    spent_before = DailyUsage.objects.aggregate(cost=Sum("cost"))["cost"] or 0

    page = _settle(browser, run, item, crew.team)

    html = page.content.decode()
    assert page.status_code == 200
    assert f"Call {call.pk} is settled with the gateway&#x27;s tokens and ¥0.006." in html
    assert "confirmed by a person" in html and "Settle with the gateway" not in html
    call.refresh_from_db()
    assert (call.state, call.outcome, call.prompt_tokens, call.completion_tokens) == (
        "completed", "lost", 1000, 500)
    assert call.cost == Decimal("0.006000") and call.price_id is not None
    spent_after = DailyUsage.objects.aggregate(cost=Sum("cost"))["cost"]
    assert spent_after - spent_before == Decimal("0.006000")  # in every report from now on
    run.refresh_from_db()
    assert (run.settled_unknown, run.gateway_only, run.difference) == (1, 0, Decimal("0"))
    assert run.teams[str(crew.team.pk)]["settled"] == 1
    assert run.teams[str(crew.team.pk)]["differences"] == 0
    [event] = AuditEvent.objects.filter(action="ledger.settle")
    assert (event.actor, event.after["source"], event.after["run"]) == (
        crew.manager, "billed", run.pk)

    # The same click again (a second tab, back and resubmit): nothing more is settled.
    again = _settle(browser, run, item, crew.team)
    assert "Nothing was settled" in again.content.decode()
    assert AuditEvent.objects.filter(action="ledger.settle").count() == 1
    assert DailyUsage.objects.aggregate(cost=Sum("cost"))["cost"] == spent_after
    run.refresh_from_db()
    assert (run.settled_unknown, run.difference) == (1, Decimal("0"))


def test_a_site_admin_settles_it_too(time_only_run, admin_user):
    run, item, call = time_only_run
    page = _settle(_browser(admin_user), run, item)
    assert page.status_code == 200
    call.refresh_from_db()
    assert call.state == "completed"
    assert ReconciliationItem.objects.get(pk=item.pk).kind == "settled"


def test_nobody_else_can_settle_it(time_only_run, crew, client):
    run, item, call = time_only_run
    url = reverse("reconciliation_item_settle", args=[run.pk, item.pk])
    for user in (crew.member, crew.outsider):  # a member; the other team's manager
        client.force_login(user)
        assert client.post(f"{url}?team={crew.team.pk}").status_code == 404
        assert client.post(f"{url}?team={crew.other_team.pk}").status_code == 404
    client.force_login(crew.manager)
    assert client.get(f"{url}?team={crew.team.pk}").status_code == 405
    other_run_url = reverse("reconciliation_item_settle", args=[run.pk + 1, item.pk])
    assert client.post(f"{other_run_url}?team={crew.team.pk}").status_code == 404
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(crew.manager)
    assert browser.post(f"{url}?team={crew.team.pk}").status_code == 403  # no CSRF token
    call.refresh_from_db()
    assert call.state == "unknown"
    assert not AuditEvent.objects.filter(action="ledger.settle").exists()


def test_it_settles_nothing_once_a_late_answer_completed_the_call(time_only_run, crew, price):
    run, item, call = time_only_run
    GatewayCall.objects.filter(pk=call.pk).update(
        state="completed", outcome="ok", prompt_tokens=1000, completion_tokens=500,
        cost=Decimal("0.006000"), price=price)
    page = _settle(_browser(crew.manager), run, item, crew.team)
    assert "Nothing was settled" in page.content.decode()
    assert ReconciliationItem.objects.get(pk=item.pk).kind == "gateway_only"
    run.refresh_from_db()
    assert run.settled_unknown == 0


def test_it_offers_no_button_for_a_match_by_request_id_or_a_drift(frozen_clock, crew, project,
                                                                  price, charge):
    called = charge(user=crew.member, project=project, at=AT)
    GatewayCall.objects.filter(pk=called.pk).update(client_request_id="0" * 32)
    called.refresh_from_db()
    entry = {"created_at": int(AT.timestamp()) + 3, "model_name": called.model,
             "prompt_tokens": 1000, "completion_tokens": 900,
             "request_id": str(called.client_request_id)}
    run = reconciliation_run(since=date(2026, 11, 20), until=date(2026, 11, 20),
                             file_data=json.dumps([entry]).encode(), filename="log.json")
    [drift] = run.items.all()
    assert drift.kind == "token_drift"
    browser = _browser(crew.manager)
    detail = browser.get(reverse("reconciliation_detail", args=[run.pk]), {"team": crew.team.pk})
    assert "Settle with the gateway" not in detail.content.decode()
    page = _settle(browser, run, drift, crew.team)
    assert "Nothing was settled" in page.content.decode()
    called.refresh_from_db()
    assert (called.completion_tokens, called.cost) == (500, Decimal("0.006000"))  # the ledger's
    assert ReconciliationItem.objects.get(pk=drift.pk).kind == "token_drift"
    assert not AuditEvent.objects.filter(action="ledger.settle").exists()
