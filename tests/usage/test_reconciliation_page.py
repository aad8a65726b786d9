"""The Reconciliation page: managers see their team's part of each run, site admins see
everything and run it; the log token is stored encrypted and shown nowhere; the nightly run."""

import io
import json
import logging
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.crypto import decrypt_secret
from accounts.models import AuditEvent
from prompts.gateway.simulator import DEFAULT_LOG_TOKEN
from prompts.models import GatewayCall, GatewayLogSource, ReconciliationRun
from prompts.usage.reconciliation.nightly import reconcile_yesterday
from prompts.usage.reconciliation.queued import reconciliation_execute, reconciliation_queue
from prompts.usage.reconciliation.runs import reconciliation_run
from prompts.usage.reconciliation.source import log_source, log_source_set
from tests.clock import local
from tests.conftest import drain
from tests.factories import MembershipFactory, ProjectFactory

LOG_TOKEN = "nlt-9f8e7d6c5b4a39281706"


def _upload(entries) -> io.BytesIO:
    data = io.BytesIO(json.dumps({"success": True, "data": {"items": entries}}).encode())
    data.name = "log.json"
    return data


@pytest.fixture
def two_teams_run(frozen_clock, crew, project, price, charge):
    """A run over 2026-11-20 with one call of each team; only the outsider's team differs."""
    elsewhere = ProjectFactory(team=crew.other_team, name="Elsewhere")
    at = local(2026, 11, 20, 9)
    ours = charge(user=crew.member, project=project, at=at)
    theirs = charge(user=crew.outsider, project=elsewhere, at=at + timedelta(minutes=5))
    for call in (ours, theirs):
        GatewayCall.objects.filter(pk=call.pk).update(client_request_id=uuid.uuid4())
        call.refresh_from_db()
    entries = [{"created_at": int(at.timestamp()) + 3, "model_name": call.model,
                "prompt_tokens": 1000, "completion_tokens": 500 if call is ours else 700,
                "request_id": str(call.client_request_id)} for call in (ours, theirs)]
    return reconciliation_run(since=date(2026, 11, 20), until=date(2026, 11, 20),
                              file_data=json.dumps(entries).encode(), filename="log.json")


def test_it_shows_a_manager_only_their_teams_part(two_teams_run, crew, manager_client):
    run = two_teams_run
    assert (run.matched, run.token_drift) == (1, 1)
    page = manager_client.get(reverse("reconciliation_list"), {"team": crew.team.pk})
    assert page.status_code == 200
    [(shown, part)] = page.context["rows"]
    assert (part.calls, part.differences, part.yuan_ledger) == (1, 0, Decimal("0.006"))
    html = page.content.decode()
    assert "0.013600" not in html  # the site's gateway total is not the team's business

    detail = manager_client.get(reverse("reconciliation_detail", args=[run.pk]),
                                {"team": crew.team.pk})
    assert list(detail.context["items"]) == []  # the drift is the other team's
    assert "Every call of your team in this period" in detail.content.decode()
    csv = manager_client.get(reverse("reconciliation_csv", args=[run.pk]),
                             {"team": crew.team.pk})
    assert len(b"".join(csv.streaming_content).decode("utf-8-sig").splitlines()) == 1


def test_it_shows_a_site_admin_every_item_with_csv(two_teams_run, admin_client):
    run = two_teams_run
    detail = admin_client.get(reverse("reconciliation_detail", args=[run.pk]))
    [item] = detail.context["items"]
    assert (item.kind, item.team.name) == ("token_drift", "Elsewhere Inc")
    html = detail.content.decode()
    assert "0.013600" in html and "0.001600" in html
    csv = admin_client.get(reverse("reconciliation_csv", args=[run.pk]))
    lines = b"".join(csv.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Kind,Call,Team") and "Token drift" in lines[1]
    assert "0.006000" in lines[1] and "0.007600" in lines[1]


def test_it_hides_reconciliation_from_members_and_outsiders(two_teams_run, crew, client):
    run = two_teams_run
    client.force_login(crew.member)
    for url in (reverse("reconciliation_list"),
                reverse("reconciliation_detail", args=[run.pk]),
                reverse("reconciliation_csv", args=[run.pk])):
        assert client.get(url, {"team": crew.team.pk}).status_code == 404
    client.force_login(crew.outsider)  # manager of the other team, not of this one
    assert client.get(reverse("reconciliation_list"), {"team": crew.team.pk}).status_code == 404
    client.force_login(crew.manager)
    assert client.post(reverse("reconciliation_start"), {
        "since": "2026-11-20", "until": "2026-11-20"}).status_code == 404
    assert client.post(reverse("reconciliation_source"), {"token": "x"}).status_code == 404


def test_it_lets_a_site_admin_reconcile_an_uploaded_file(frozen_clock, crew, project, price,
                                                         charge, admin_user):
    call = charge(user=crew.member, project=project, at=local(2026, 11, 19, 9))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    browser.get(reverse("reconciliation_list"))
    entry = {"created_at": int(call.started_at.timestamp()) + 2, "model_name": call.model,
             "prompt_tokens": 1000, "completion_tokens": 500}
    response = browser.post(reverse("reconciliation_start"), {
        "since": "2026-11-19", "until": "2026-11-19", "log_file": _upload([entry]),
        "csrfmiddlewaretoken": browser.cookies["csrftoken"].value})
    run = ReconciliationRun.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{run.pk}/")
    # Stored as running at once; the file waits for the worker under a name of our own.
    assert (run.status, run.source, run.source_name) == ("running", "file", "log.json")
    stored = run.log_file.name
    assert stored.startswith("reconciliation/") and "log.json" not in stored
    waiting = browser.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' in waiting and "A worker is reconciling" in waiting

    run = reconciliation_execute(run.pk)  # what the worker does
    assert (run.status, run.source, run.trigger, run.created_by, run.matched,
            run.difference) == ("ok", "file", "page", admin_user, 1, Decimal("0"))
    assert not run.log_file and not default_storage.exists(stored)
    done = browser.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' not in done and 'id="run-items"' in done
    # The task delivered a second time (its worker died after the commit) does nothing.
    assert reconciliation_execute(run.pk) is None
    assert ReconciliationRun.objects.get().matched == 1


def test_it_fails_a_pull_without_a_log_token_at_once(db, admin_client):
    response = admin_client.post(reverse("reconciliation_start"), {
        "since": "2026-11-19", "until": "2026-11-19"}, follow=True)
    run = ReconciliationRun.objects.get()
    assert (run.status, run.source) == ("failed", "pull")
    assert "no access token" in response.content.decode()


def test_the_sweep_fails_a_run_no_worker_finished(frozen_clock, crew, admin_user):
    from prompts.pipeline.sweeper import jobs_sweep

    run = reconciliation_queue(since=date(2026, 11, 19), until=date(2026, 11, 19),
                               upload=SimpleUploadedFile("log.json", b"[]"), actor=admin_user)
    stored = run.log_file.name
    frozen_clock.shift(timedelta(hours=1))
    assert jobs_sweep()["stale_reconciliations"] == 0
    frozen_clock.shift(timedelta(hours=1, seconds=1))
    assert jobs_sweep()["stale_reconciliations"] == 1
    run.refresh_from_db()
    assert run.status == "failed" and "start it again" in run.error
    assert not default_storage.exists(stored)
    assert reconciliation_execute(run.pk) is None  # a late delivery changes nothing


def test_it_keeps_the_log_token_encrypted_and_out_of_pages_logs_and_the_database(
        db, admin_client, caplog, settings):
    caplog.set_level("DEBUG")
    response = admin_client.post(reverse("reconciliation_source"), {
        "url": "https://gateway.example.com/api/log/self", "token": LOG_TOKEN,
        "user_id": "42"})
    assert response.status_code == 302
    stored = GatewayLogSource.objects.get()
    assert LOG_TOKEN not in stored.token_encrypted
    assert decrypt_secret(stored.token_encrypted) == LOG_TOKEN
    assert log_source().token == LOG_TOKEN and log_source().user_id == "42"

    page = admin_client.get(reverse("reconciliation_list")).content.decode()
    assert LOG_TOKEN not in page and stored.token_masked in page
    event = AuditEvent.objects.get(action="gateway_log.set")
    assert LOG_TOKEN not in json.dumps(event.after)
    # A pull that fails (nobody listens there) must not quote the token either.
    settings.GATEWAY_LOG_URL = ""
    log_source_set(url="http://127.0.0.1:9/api/log/self", token=None, user_id="",
                   actor=None)
    out = io.StringIO()
    with pytest.raises(CommandError, match="could not connect"):
        call_command("gateway_reconcile", "--since", "2026-11-20", "--until", "2026-11-20",
                     "--pull", stdout=out)
    run = ReconciliationRun.objects.get()
    assert LOG_TOKEN not in run.error + run.source_name + out.getvalue()
    assert LOG_TOKEN not in caplog.text
    logging.getLogger("prompts").warning("pulling with %s", LOG_TOKEN)
    assert LOG_TOKEN not in caplog.records[-1].getMessage()

    admin_client.post(reverse("reconciliation_source"), {"url": "", "remove_token": "on"})
    assert GatewayLogSource.objects.get().token_encrypted == ""


def test_it_reconciles_yesterday_every_night_once_and_mails_a_difference(
        gateway, make_job, price, admin_user, settings):
    settings.GATEWAY_LOG_TOKEN = ""
    assert reconcile_yesterday() is None  # no log source: nothing to do
    settings.GATEWAY_LOG_TOKEN = DEFAULT_LOG_TOKEN
    settings.RECONCILE_ALERT_RMB = Decimal("0.001")
    assert drain(make_job().id) == "succeeded"
    gateway.script([{"status": 200, "billed": True, "log_tokens": {
        "prompt_tokens": 90_000, "completion_tokens": 10}}])
    assert drain(make_job(brief="another kite").id) == "succeeded"  # billed far more

    tomorrow = timezone.localdate() + timedelta(days=1)
    run = reconcile_yesterday(today=tomorrow)
    assert (run.trigger, run.token_drift) == ("nightly", 1)
    assert run.difference > Decimal("0.1")
    [alert] = mail.outbox
    assert alert.to == [admin_user.email] and "differ by" in alert.subject
    assert f"/usage/reconciliation/{run.pk}/" in alert.body
    assert reconcile_yesterday(today=tomorrow) is None  # once a night


def test_it_re_encrypts_the_log_token_with_the_other_secrets(db, settings):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    log_source_set(url="", token=LOG_TOKEN, user_id="", actor=None)
    before = GatewayLogSource.objects.get().token_encrypted
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "1 gateway log sources" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new]
    after = GatewayLogSource.objects.get().token_encrypted
    assert after != before and decrypt_secret(after) == LOG_TOKEN
    log_source_set(url="", token="", user_id="", actor=None)  # removed: nothing to move
    call_command("reencrypt_secrets", stdout=io.StringIO())
    assert GatewayLogSource.objects.get().token_encrypted == ""


def test_it_lists_runs_for_a_site_admin_with_team_figures_for_a_manager_of_two(
        two_teams_run, crew, client):
    MembershipFactory(user=crew.manager, team=crew.other_team, role="manager")
    client.force_login(crew.manager)
    page = client.get(reverse("reconciliation_list"), {"team": crew.other_team.pk})
    [(_run, part)] = page.context["rows"]
    assert (part.calls, part.differences) == (1, 1)
