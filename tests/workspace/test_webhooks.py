"""Signed webhooks: endpoints behind the SSRF guard, a secret shown once and kept encrypted,
events from the outbox, signatures checked by the README's own verifier, bounded retries."""

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Budget
from prompts.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
)
from prompts.pipeline.creation import JobSpec, job_create
from prompts.usage.budgets import budget_warnings_send
from prompts.workspace import url_fetch
from prompts.workspace.services.reviews import record_review_decide, record_submit
from prompts.workspace.services.webhook_delivery import (
    webhook_deliver,
    webhook_events_fan_out,
    webhooks_sweep,
)
from prompts.workspace.services.webhooks import (
    webhook_endpoint_create,
    webhook_test_send,
)
from prompts.workspace.url_fetch import UrlRefused
from tests.conftest import deliver_all, drain
from tests.workspace.conftest import make_record

README = Path(__file__).resolve().parents[2] / "README.md"
ALL_EVENTS = ["job.succeeded", "job.failed", "record.approved", "record.approval_revoked",
              "budget.warning"]


def readme_verifier():
    """The README's verifier, exactly as a pipeline engineer would paste it."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("#### Checking a webhook's signature"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - the README's code is the thing under test
    return namespace["verify"]


@pytest.fixture
def endpoint(webhook_receiver, crew):
    endpoint, secret = webhook_endpoint_create(team=crew.team, user=crew.manager,
                                               url=webhook_receiver.url, events=ALL_EVENTS)
    endpoint.plaintext = secret
    return endpoint


def approve(record, crew):
    record_submit(record=record, user=crew.member)
    return record_review_decide(record=record, user=crew.manager, decision="approve",
                                comment="ship it")


# Signatures --------------------------------------------------------------------------------

def test_a_delivery_passes_the_readmes_verifier(endpoint, webhook_receiver, record, crew):
    approve(record, crew)
    deliver_all()
    [request] = webhook_receiver.requests
    headers, body = request["headers"], request["body"]
    verify = readme_verifier()
    assert verify(endpoint.plaintext, headers["X-GrokWeb-Signature"], body)
    assert not verify(endpoint.plaintext, headers["X-GrokWeb-Signature"], body + b" ")
    assert not verify("whsec_wrong", headers["X-GrokWeb-Signature"], body)
    event = json.loads(body)
    assert headers["X-GrokWeb-Event"] == event["type"] == "record.approved"
    assert event["data"]["record"]["id"] == record.id
    assert event["data"]["record"]["approved_by"] == crew.manager.username
    assert event["team"] == {"id": crew.team.id, "name": crew.team.name}


def test_the_verifier_refuses_an_old_signature(endpoint, webhook_receiver, record, crew):
    approve(record, crew)
    with time_machine.travel(timezone.now() - timedelta(minutes=10)):
        deliver_all()
    request = webhook_receiver.requests[0]
    assert not readme_verifier()(endpoint.plaintext, request["headers"]["X-GrokWeb-Signature"],
                                 request["body"])


# Endpoints --------------------------------------------------------------------------------

def test_the_secret_is_shown_once_and_stored_encrypted(manager_client, webhook_receiver, crew):
    response = manager_client.post(reverse("webhook_list"), {
        "url": webhook_receiver.url, "events": ["record.approved"], "is_active": "on"})
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    page = manager_client.get(response["Location"]).content.decode()
    secret = re.search(r"(whsec_[A-Za-z0-9_\-]+)", page).group(1)
    assert secret not in str(WebhookEndpoint.objects.filter(pk=endpoint.pk).values().get())
    assert secret not in manager_client.get(response["Location"]).content.decode()
    assert AuditEvent.objects.filter(action="webhook.create", actor=crew.manager).exists()
    assert secret not in str(list(AuditEvent.objects.values()))


@pytest.fixture
def fake_dns(monkeypatch):
    answers = {}
    monkeypatch.setattr(url_fetch, "resolve_host", lambda host, port: answers.get(host, [host]))
    return answers


@pytest.mark.parametrize("url,message", [
    ("https://127.0.0.1/hook", "private or local network address"),
    ("https://10.1.2.3/hook", "private or local network address"),
    ("https://hooks.internal.example/x", "private or local network address"),
    ("http://hooks.example.com/x", "Only https:// links"),
])
def test_a_private_address_url_is_refused_when_saved(manager_client, fake_dns, url, message):
    fake_dns["hooks.internal.example"] = ["192.168.1.20"]
    fake_dns["hooks.example.com"] = ["93.184.216.34"]
    response = manager_client.post(reverse("webhook_list"), {
        "url": url, "events": ["job.succeeded"], "is_active": "on"})
    assert response.status_code == 422 and message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_url_that_turns_private_later_is_refused_at_delivery(fake_dns, crew, record):
    fake_dns["hooks.example.com"] = ["93.184.216.34"]
    endpoint, _secret = webhook_endpoint_create(team=crew.team, user=crew.manager,
                                                url="https://hooks.example.com/in",
                                                events=ALL_EVENTS)
    fake_dns["hooks.example.com"] = ["169.254.169.254"]  # DNS changed: rebinding
    approve(record, crew)
    deliver_all()
    [attempt] = WebhookDeliveryAttempt.objects.all()
    assert attempt.status_code is None and "private" in attempt.error
    assert attempt.outcome == "gave_up"
    assert WebhookDelivery.objects.get().status == "failed"


# Retries ----------------------------------------------------------------------------------

def test_retries_are_bounded(endpoint, webhook_receiver, record, crew, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    webhook_receiver.statuses = [500]
    approve(record, crew)
    deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert len(webhook_receiver.requests) == 4
    assert delivery.status == "failed" and delivery.attempts == 4
    outcomes = list(delivery.attempt_rows.order_by("number").values_list("outcome", "status_code"))
    assert outcomes == [("retry", 500)] * 3 + [("gave_up", 500)]
    assert len({request["body"] for request in webhook_receiver.requests}) == 1  # same body


def test_backoff_doubles(endpoint, webhook_receiver, record, crew, settings, frozen_clock):
    settings.WEBHOOK_BACKOFF_BASE_S = 30
    webhook_receiver.statuses = [503]
    approve(record, crew)
    webhook_events_fan_out()
    delivery = WebhookDelivery.objects.get()
    waits = []
    for _ in range(3):
        webhook_deliver(delivery.pk)
        delivery.refresh_from_db()
        waits.append((delivery.next_attempt_at - timezone.now()).total_seconds())
        frozen_clock.shift(waits[-1])
    assert waits == [30, 60, 120]


def test_a_4xx_is_not_retried_but_408_and_429_are(endpoint, webhook_receiver, record, crew):
    webhook_receiver.statuses = [429, 408, 404]
    approve(record, crew)
    deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert [row.status_code for row in delivery.attempt_rows.order_by("number")] == [429, 408,
                                                                                     404]
    assert delivery.status == "failed" and len(webhook_receiver.requests) == 3


def test_a_second_copy_of_a_message_does_nothing(endpoint, webhook_receiver, record, crew):
    approve(record, crew)
    webhook_events_fan_out()
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery.pk) == "succeeded"
    assert webhook_deliver(delivery.pk) is None
    assert webhook_events_fan_out() == 0
    assert len(webhook_receiver.requests) == 1


def test_the_sweep_revives_a_delivery_whose_worker_died(endpoint, webhook_receiver, record,
                                                        crew, frozen_clock):
    approve(record, crew)
    webhook_events_fan_out()
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="sending", attempts=1, lease_until=timezone.now() - timedelta(seconds=1))
    WebhookDeliveryAttempt.objects.create(delivery=delivery, number=1,
                                          started_at=timezone.now())
    assert webhooks_sweep()["revived"] == 1
    assert webhook_deliver(delivery.pk) == "succeeded"
    assert list(delivery.attempt_rows.order_by("number").values_list("outcome", flat=True)) == [
        "retry", "ok"]


# Events -----------------------------------------------------------------------------------

def test_a_team_without_endpoints_writes_no_events(record, crew):
    approve(record, crew)
    assert not WebhookEvent.objects.exists()


def test_a_finished_job_sends_job_succeeded_with_its_record(endpoint, webhook_receiver, gateway,
                                                            project, crew):
    job = job_create(user=crew.member, project=project, spec=JobSpec(brief="A jade teapot"))
    assert drain(job.id) == "succeeded"
    event = WebhookEvent.objects.get()
    assert (event.kind, event.job_id, event.payload) == ("job.succeeded", job.id, None)
    deliver_all()
    body = json.loads(webhook_receiver.requests[0]["body"])
    assert body["type"] == "job.succeeded" and body["id"] == f"evt_{event.id}"
    assert body["data"]["job"]["status"] == "succeeded"
    assert body["data"]["record"]["positive_prompt"] == job.record.positive_prompt


def test_a_failed_job_sends_job_failed(endpoint, webhook_receiver, gateway, project, crew):
    gateway.script([{"status": 400, "error": {"message": "bad model parameter"}}])
    job = job_create(user=crew.member, project=project, spec=JobSpec(brief="A jade teapot"))
    assert drain(job.id) == "failed"
    deliver_all()
    body = json.loads(webhook_receiver.requests[0]["body"])
    assert body["type"] == "job.failed" and body["data"]["record"] is None
    assert body["data"]["job"]["error"]["code"] == "invalid"


def test_the_event_rolls_back_with_the_change(endpoint, record, crew):
    with pytest.raises(RuntimeError), transaction.atomic():
        approve(record, crew)
        assert WebhookEvent.objects.count() == 1
        raise RuntimeError
    assert not WebhookEvent.objects.exists()


def test_a_budget_warning_is_sent(endpoint, webhook_receiver, project, crew, price):
    make_record(project, crew.member)  # ¥0.0036 spent
    Budget.objects.create(team=crew.team, monthly_limit=Decimal("0.004"), warn_at=Decimal("0.5"))
    assert budget_warnings_send() == 1
    deliver_all()
    body = json.loads(webhook_receiver.requests[0]["body"])
    assert body["type"] == "budget.warning"
    assert body["data"]["spent"] == "0.003600" and body["data"]["budget"]["team"] == crew.team.name


def test_a_revoked_approval_is_sent_with_the_reason(endpoint, webhook_receiver, record, crew):
    from prompts.workspace.services.reviews import record_approval_revoke

    approve(record, crew)
    record_approval_revoke(record=record, user=crew.manager, comment="Logo in the prompt")
    deliver_all()
    bodies = sorted((json.loads(request["body"]) for request in webhook_receiver.requests),
                    key=lambda body: int(body["id"].removeprefix("evt_")))
    assert [body["type"] for body in bodies] == ["record.approved", "record.approval_revoked"]
    revoked = bodies[1]["data"]
    assert revoked["comment"] == "Logo in the prompt"
    assert revoked["record"]["id"] == record.id
    assert (revoked["record"]["review_status"], revoked["record"]["approved_by"]) == (
        "changes_requested", None)


def test_an_endpoint_hears_only_what_it_subscribed_to(webhook_receiver, record, crew):
    webhook_endpoint_create(team=crew.team, user=crew.manager, url=webhook_receiver.url,
                            events=["job.failed"])
    approve(record, crew)
    deliver_all()
    assert webhook_receiver.requests == []


# The pages -------------------------------------------------------------------------------

def test_send_test_delivers_to_that_endpoint_and_the_log_shows_it(manager_client, endpoint,
                                                                  webhook_receiver, crew):
    other, _secret = webhook_endpoint_create(team=crew.team, user=crew.manager,
                                             url=webhook_receiver.url + "/other",
                                             events=ALL_EVENTS)
    webhook_receiver.statuses = [202]
    response = manager_client.post(reverse("webhook_test", args=[endpoint.id]))
    assert response.status_code == 302
    deliver_all()
    [request] = webhook_receiver.requests
    assert request["path"] == "/hooks/grokweb"
    assert json.loads(request["body"])["type"] == "webhook.test"
    html = manager_client.get(reverse("webhook_detail", args=[endpoint.id])).content.decode()
    assert "webhook.test" in html and ">202<" in html and "answer 202" in html
    assert not WebhookDelivery.objects.filter(endpoint=other).exists()


def test_members_and_outsiders_get_404(member_client, endpoint, crew):
    outsider = Client()
    outsider.force_login(crew.outsider)
    for client in (member_client, outsider):
        assert client.get(reverse("webhook_detail", args=[endpoint.id])).status_code == 404
        assert client.post(reverse("webhook_test", args=[endpoint.id])).status_code == 404
        assert client.post(reverse("webhook_delete", args=[endpoint.id])).status_code == 404
    assert member_client.get(reverse("webhook_list")).status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_the_test_service_is_audited(endpoint, crew):
    webhook_test_send(endpoint=endpoint, user=crew.manager)
    assert AuditEvent.objects.filter(action="webhook.test", actor=crew.manager).exists()


def test_refusals_of_the_guard_name_the_reason():
    with pytest.raises(UrlRefused) as refused:
        url_fetch.url_vet("https://[::1]/x")
    assert refused.value.code == "private_address"


def test_the_secret_moves_with_the_encryption_keys(webhook_receiver, crew, record, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    endpoint, secret = webhook_endpoint_create(team=crew.team, user=crew.manager,
                                               url=webhook_receiver.url, events=ALL_EVENTS)
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("reencrypt_secrets", stdout=open("/dev/null", "w"))
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone
    approve(record, crew)
    deliver_all()
    request = webhook_receiver.requests[0]
    assert readme_verifier()(secret, request["headers"]["X-GrokWeb-Signature"], request["body"])


def test_webhook_secrets_and_share_tokens_never_reach_the_logs(caplog):
    import logging

    logging.getLogger("grokweb.test").warning(
        "posted with whsec_abcdefghijklmnop to GET /s/AbCdEfGhIjKlMnOpQrStUvWxYz012345/")
    assert "whsec_abcdefghijklmnop" not in caplog.text
    assert "AbCdEfGhIjKlMnOpQrStUvWxYz012345" not in caplog.text and "/s/[redacted]" in caplog.text


def test_a_job_the_sweeper_gives_up_on_sends_job_failed(endpoint, webhook_receiver, gateway,
                                                        project, crew, settings):
    from prompts.pipeline.sweeper import jobs_sweep
    from tests.pipeline.test_write_ahead import _worker_dies_mid_call

    settings.GATEWAY_MAX_ATTEMPTS = 1
    job = job_create(user=crew.member, project=project, spec=JobSpec(brief="A jade teapot"))
    _worker_dies_mid_call(job, crew.team.id)
    jobs_sweep()
    deliver_all()
    body = json.loads(webhook_receiver.requests[0]["body"])
    assert body["type"] == "job.failed"
    assert body["data"]["job"]["error"]["code"] == "lost"
