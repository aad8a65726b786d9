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
                                                              admin_user, tmp_path):
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
