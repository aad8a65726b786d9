"""Unconfirmed calls (their worker died before the answer) are shown apart on every usage page
and export, at most the sum of their maximum costs: never ¥0, never silently."""

from django.urls import reverse

from accounts.services import api_token_create
from prompts.models import GatewayCall
from prompts.usage.ledger import ledger_open
from tests.clock import local
from tests.factories import JobFactory


def _unconfirmed(crew, project, price, *, at, user=None, n=1) -> None:
    for _n in range(n):
        job = JobFactory(project=project, created_by=user or crew.member,
                         estimated_input_tokens=1000, max_tokens=1024)
        call = ledger_open(job=job, attempt=1, team_id=crew.team.id, key_id=None, price=price,
                           started_at=at)
        GatewayCall.objects.filter(pk=call.pk).update(state="unknown")


def test_it_shows_unconfirmed_calls_apart_on_the_dashboard_and_the_reports(
        frozen_clock, crew, project, price, charge, member_client, manager_browser):
    charge(user=crew.member, project=project, at=local(2026, 11, 20, 8))
    # Three calls at most ¥0.010192 each ((1000 × 2 + 1024 × 8) / 1e6): ¥0.0306 shown.
    _unconfirmed(crew, project, price, at=local(2026, 11, 20, 9), n=3)

    home = member_client.get(reverse("home"))
    assert home.context["dashboard"].unconfirmed.calls == 3
    html = home.content.decode()
    assert "3 unconfirmed calls, at most ¥0.0306" in html
    assert home.context["dashboard"].month.calls == 1  # in no figure above

    for name, params in (("usage_report", {"since": "2026-11-01", "until": "2026-11-30"}),
                         ("usage_statement", {"month": "2026-11"})):
        page = manager_browser.get(reverse(name), {"team": crew.team.pk, **params})
        assert "3 unconfirmed calls, at most ¥0.0306" in page.content.decode(), name

    csv = manager_browser.get(reverse("usage_report_csv"), {
        "team": crew.team.pk, "since": "2026-11-01", "until": "2026-11-30", "group_by": "user"})
    lines = b"".join(csv.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[-2].startswith("Total,1,")
    last = lines[-1].split(",")
    assert last[0].startswith("Unconfirmed calls") and last[1] == "3"
    assert "0.030576" in last  # the most they can have cost, exactly


def test_it_reports_unconfirmed_calls_in_the_api_usage(frozen_clock, crew, project, price,
                                                       client):
    _unconfirmed(crew, project, price, at=local(2026, 11, 20, 9), n=2)
    token = api_token_create(user=crew.member, name="ci")[1]
    body = client.get("/api/v1/usage", {"since": "2026-11-01", "until": "2026-11-30"},
                      HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert (body["calls"], body["cost_rmb"]) == (0, "0.000000")
    assert (body["unconfirmed_calls"], body["unconfirmed_at_most_rmb"]) == (2, "0.020384")


def test_it_says_unpriced_unconfirmed_calls_have_no_maximum(frozen_clock, crew, project,
                                                            member_client):
    _unconfirmed(crew, project, None, at=local(2026, 11, 20, 9))
    html = member_client.get(reverse("home")).content.decode()
    assert "at most ¥0" not in html
    assert "1 unconfirmed call for a model with no price: no maximum" in html
    assert GatewayCall.objects.get().max_cost is None


def test_it_says_on_the_job_page_that_an_attempt_is_unconfirmed(frozen_clock, crew, project,
                                                               price, member_client):
    _unconfirmed(crew, project, price, at=local(2026, 11, 20, 9))
    call = GatewayCall.objects.get()
    html = member_client.get(reverse("job_detail", args=[call.job_id])).content.decode()
    assert "unconfirmed: the worker stopped before the answer came" in html
    GatewayCall.objects.filter(pk=call.pk).update(state="completed", outcome="lost",
                                                  cost=0)
    html = member_client.get(reverse("job_detail", args=[call.job_id])).content.decode()
    assert "the gateway did not bill it" in html
