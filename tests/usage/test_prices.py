"""The price book: price changes never rewrite history; unpriced is loud; re-pricing is
explicit and audited."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from prompts.models import DailyUsage, GatewayCall, ModelPrice
from prompts.usage.periods import local_midnight
from prompts.usage.prices import calls_reprice, price_set
from prompts.usage.reports import usage_report
from tests.clock import local

from .conftest import MODEL


def test_it_keeps_earlier_costs_when_the_price_changes_mid_month(crew, project, price, charge):
    early = charge(user=crew.member, project=project, at=local(2026, 3, 5), prompt=1_000_000,
                   completion=1_000_000)
    price_set(model=MODEL, input_per_mtok=Decimal("4"), output_per_mtok=Decimal("16"),
              effective_from=local_midnight(date(2026, 3, 15)), actor=crew.manager)
    late = charge(user=crew.member, project=project, at=local(2026, 3, 20),
                  prompt=1_000_000, completion=1_000_000)

    early.refresh_from_db()
    assert (early.cost, early.price_id) == (Decimal("10"), price.pk)   # 2 + 8
    assert late.cost == Decimal("20")                                  # 4 + 16
    report = usage_report(team=crew.team, since=date(2026, 3, 1), until=date(2026, 3, 31),
                          group_by="day")
    assert [row.cost for row in report.rows] == [Decimal("10"), Decimal("20")]
    assert report.total.cost == Decimal("30")


def test_it_records_calls_without_a_price_as_unpriced(crew, project, charge, manager_client):
    call = charge(user=crew.member, project=project, model="grok-new", at=local(2026, 3, 3))
    assert call.cost is None and call.price is None
    assert DailyUsage.objects.get().unpriced_calls == 1

    html = manager_client.get(reverse("usage_report"), {
        "team": crew.team.pk, "since": "2026-03-01", "until": "2026-03-31"}).content.decode()
    assert "unpriced calls: 1" in html
    assert "¥0.00" not in html


def test_it_converts_a_usd_price_at_its_dated_rate_and_shows_both(crew, admin_user):
    price = price_set(model="grok-usd", input_per_mtok=Decimal("1.5"),
                      output_per_mtok=Decimal("6"), usd_rate=Decimal("7.1234"),
                      usd_rate_date=date(2026, 11, 20), actor=admin_user)
    assert price.input_per_mtok == Decimal("10.685100")
    assert price.output_per_mtok == Decimal("42.740400")
    assert (price.usd_input_per_mtok, price.usd_rate) == (Decimal("1.5"), Decimal("7.1234"))

    client = Client()
    client.force_login(admin_user)
    html = client.get(reverse("price_book")).content.decode()
    assert "10.6851" in html and "42.7404" in html
    assert "US$1.5 / US$6 at ¥7.1234 per US$ (2026-11-20)" in html


def test_it_refuses_two_prices_at_the_same_moment(crew, admin_user):
    moment = local_midnight(date(2026, 6, 1))
    price_set(model="m", input_per_mtok=Decimal(1), output_per_mtok=Decimal(1),
              effective_from=moment, actor=admin_user)
    with pytest.raises(ValidationError, match="never edited"):
        price_set(model="m", input_per_mtok=Decimal(2), output_per_mtok=Decimal(2),
                  effective_from=moment, actor=admin_user)


def test_it_adds_a_price_on_the_page_with_csrf_and_audits_it(crew, admin_user, frozen_clock):
    # The clock stands at 2026-11-20: a price from 2026-12-01 is scheduled.
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    url = reverse("price_book")
    data = {"model": "grok-build-0.2", "currency": "CNY", "input_per_mtok": "3.5",
            "output_per_mtok": "12", "effective_from": "2026-12-01", "note": "list price"}
    assert client.post(url, data).status_code == 403
    client.get(url)
    data["csrfmiddlewaretoken"] = client.cookies["csrftoken"].value
    assert client.post(url, data).status_code == 302

    price = ModelPrice.objects.get(model="grok-build-0.2")
    assert price.effective_from == local(2026, 12, 1, 0)
    assert price.created_by == admin_user
    event = AuditEvent.objects.get(action="price.set")
    assert Decimal(event.after["input_per_mtok"]) == Decimal("3.5") and event.actor == admin_user
    page = client.get(url).content.decode()
    assert "scheduled" in page and "list price" in page

    data.update(currency="USD", effective_from="2026-12-02")
    page = client.post(url, data)
    assert page.status_code == 200
    assert "A price in USD needs the USD→¥ rate." in page.content.decode()


def test_it_shows_the_price_book_only_to_site_admins(crew, client):
    for user in (crew.member, crew.manager, crew.outsider):
        client.force_login(user)
        assert client.get(reverse("price_book")).status_code == 404
        assert client.post(reverse("price_reprice")).status_code == 404


def test_it_reprices_history_only_when_asked_and_audits_it(crew, project, charge, admin_user):
    unpriced = charge(user=crew.member, project=project, model="grok-late",
                      at=local(2026, 4, 10), prompt=1_000_000, completion=0)
    failed = charge(user=crew.member, project=project, model="grok-late",
                    at=local(2026, 4, 11), prompt=500_000, completion=0, outcome="transient")
    price_set(model="grok-late", input_per_mtok=Decimal("3"), output_per_mtok=Decimal("9"),
              effective_from=local_midnight(date(2026, 4, 1)), actor=admin_user)
    unpriced.refresh_from_db()
    assert unpriced.cost is None  # a new price does not rewrite history by itself

    client = Client()
    client.force_login(admin_user)
    form = {"model": "grok-late", "since": "2026-04-01", "until": "2026-04-30"}
    page = client.post(reverse("price_reprice"), form)
    assert page.status_code == 200 and page.context["reprice_form"].errors  # not confirmed
    response = client.post(reverse("price_reprice"), {**form, "confirm": "on"}, follow=True)
    assert "Re-priced 2 of 2 calls" in response.content.decode()

    assert GatewayCall.objects.get(pk=unpriced.pk).cost == Decimal("3")
    assert GatewayCall.objects.get(pk=failed.pk).cost == Decimal("1.5")
    days = {row.day: row for row in DailyUsage.objects.filter(model="grok-late")}
    assert (days[date(2026, 4, 10)].cost, days[date(2026, 4, 10)].unpriced_calls) == (
        Decimal("3"), 0)
    assert days[date(2026, 4, 11)].waste_cost == Decimal("1.5")
    event = AuditEvent.objects.get(action="calls.reprice")
    assert event.before["unpriced_calls"] == 2 and event.after["unpriced_calls"] == 0
    assert event.after["cost"] == "4.500000"


def test_it_leaves_other_models_and_days_alone_when_repricing(crew, project, price, charge):
    kept = charge(user=crew.member, project=project, at=local(2026, 4, 10))
    outside = charge(user=crew.member, project=project, model="x", at=local(2026, 5, 1, 0, 1))
    result = calls_reprice(model="x", since=date(2026, 4, 1), until=date(2026, 4, 30),
                           actor=None)
    assert (result.calls, result.changed) == (0, 0)
    assert GatewayCall.objects.get(pk=kept.pk).cost == Decimal("0.006")
    assert DailyUsage.objects.filter(model="x").count() == 1
    assert GatewayCall.objects.get(pk=outside.pk).cost is None


def test_it_manages_prices_with_manage_py_model_price(crew, project, charge, capsys):
    charge(user=crew.member, project=project, model="cli-model", at=local(2026, 2, 10))
    call_command("model_price", "set", "--model", "cli-model", "--input-per-mtok", "2",
                 "--output-per-mtok", "8", "--effective-from", "2026-01-01")
    call_command("model_price", "set", "--model", "cli-model", "--input-per-mtok", "0.5",
                 "--output-per-mtok", "2", "--usd-rate", "7.2", "--rate-date", "2026-12-01",
                 "--effective-from", "2099-01-01")
    call_command("model_price", "list")
    out = capsys.readouterr().out
    assert "cli-model  from 2026-01-01 00:00  ¥2 in / ¥8 out per 1M tokens  (in force)" in out
    assert "¥3.6 in / ¥14.4 out" in out and "US$0.5 / US$2 at 7.2 on 2026-12-01" in out
    assert "(scheduled)" in out
    call_command("model_price", "reprice", "--model", "cli-model", "--since", "2026-02-01",
                 "--until", "2026-02-28")
    assert "Re-priced 1 of 1 calls" in capsys.readouterr().out
    assert AuditEvent.objects.filter(action__in=["price.set", "calls.reprice"]).count() == 3
