"""A site admin reconciles a downloaded usage log on the Reconciliation page, opens the run
and its per-call detail; a manager sees their team's part."""

import json
import uuid
from decimal import Decimal

from playwright.sync_api import expect

from prompts.models import GatewayCall
from prompts.usage.ledger import CallFacts, ledger_record
from tests.clock import local
from tests.conftest import ADMIN_PASSWORD, PASSWORD
from tests.factories import JobFactory, ModelPriceFactory


def _call(user, project, at) -> GatewayCall:
    job = JobFactory(project=project, created_by=user, status="succeeded")
    call = ledger_record(job=job, attempt=1, facts=CallFacts(
        outcome="ok", started_at=at, key_id=None, prompt_tokens=1000, completion_tokens=500))
    GatewayCall.objects.filter(pk=call.pk).update(client_request_id=uuid.uuid4())
    call.refresh_from_db()
    return call


def test_it_reconciles_an_uploaded_log_and_shows_what_differs(page, login, crew, project,
                                                              admin_user, tmp_path,
                                                              celery_worker_thread):
    # celery_worker_thread: a real worker runs what the page queues; the page refreshes
    # itself until the figures are there.
    ModelPriceFactory(input_per_mtok=Decimal("2"), output_per_mtok=Decimal("8"),
                      effective_from=local(2025, 1, 1, 0))
    same = _call(crew.member, project, local(2026, 3, 2, 9))
    drifted = _call(crew.member, project, local(2026, 3, 2, 10))
    log = tmp_path / "usage-log.json"
    log.write_text(json.dumps({"success": True, "data": {"items": [
        {"created_at": int(call.started_at.timestamp()) + 4, "model_name": call.model,
         "prompt_tokens": 1000, "completion_tokens": tokens,
         "request_id": str(call.client_request_id)}
        for call, tokens in ((same, 500), (drifted, 900))]}}))

    login("ada", ADMIN_PASSWORD)
    page.goto("/usage/reconciliation/")
    page.fill("#reconcile-now input[name=since]", "2026-03-02")
    page.fill("#reconcile-now input[name=until]", "2026-03-02")
    page.set_input_files("#reconcile-now input[type=file]", str(log))
    page.click("#reconcile-now button[type=submit]")
    expect(page.locator("main h1")).to_contain_text("2026-03-02 to 2026-03-02")
    expect(page.locator("#run-difference")).to_have_text("0.003200")  # 400 tokens × ¥8/1M
    expect(page.locator("#run-items tbody tr")).to_have_count(1)
    expect(page.locator("#run-items tbody")).to_contain_text("Token drift")

    page.context.clear_cookies()
    login("mia", PASSWORD)
    page.goto(f"/usage/reconciliation/?team={crew.team.pk}")
    expect(page.locator("#reconciliation-runs tbody tr")).to_have_count(1)
    expect(page.locator("#reconciliation-runs tbody")).to_contain_text("0.012")
    expect(page.locator("#reconciliation-runs")).not_to_contain_text("0.015200")


def test_a_manager_settles_a_match_by_time_with_one_click_of_two(page, login, crew, project,
                                                                 price):
    """The run left an unconfirmed call matched by time alone; the manager double-clicks
    "Settle with the gateway's numbers": one settlement, the difference gone."""
    from datetime import date

    from accounts.models import AuditEvent
    from prompts.usage.ledger import ledger_open
    from prompts.usage.reconciliation.runs import reconciliation_run

    at = local(2026, 3, 2, 9)
    job = JobFactory(project=project, created_by=crew.member)
    call = ledger_open(job=job, attempt=1, team_id=crew.team.id, key_id=None, price=price,
                       started_at=at)
    GatewayCall.objects.filter(pk=call.pk).update(state="unknown")
    entry = {"created_at": int(at.timestamp()) + 6, "model_name": call.model,
             "prompt_tokens": 1000, "completion_tokens": 500, "request_id": ""}
    run = reconciliation_run(since=date(2026, 3, 2), until=date(2026, 3, 2),
                             file_data=json.dumps([entry]).encode(), filename="log.json")

    login("mia", PASSWORD)
    page.goto(f"/usage/reconciliation/{run.pk}/?team={crew.team.pk}")
    expect(page.locator("#run-items tbody")).to_contain_text("matched by time only")
    page.locator(".recon-settle button").dblclick()
    expect(page.locator(".messages")).to_contain_text(f"Call {call.pk} is settled")
    expect(page.locator("#run-items tbody")).to_contain_text("confirmed by a person")
    expect(page.locator(".recon-settle")).to_have_count(0)
    assert AuditEvent.objects.filter(action="ledger.settle").count() == 1
    call.refresh_from_db()
    assert (call.state, call.cost) == ("completed", Decimal("0.006000"))
