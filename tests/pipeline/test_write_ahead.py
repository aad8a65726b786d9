"""The write-ahead ledger: every attempt the gateway may bill is in the ledger before the
request leaves, an answer's row survives whatever fails after it, and no job loops."""

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError
from django.utils import timezone

from prompts.models import DailyUsage, GatewayCall, GenerationJob, PromptRecord
from prompts.pipeline.run import _claim, job_run
from prompts.pipeline.sweeper import jobs_sweep
from prompts.usage.ledger import ledger_open
from tests.conftest import drain
from tests.pipeline.conftest import reload
from tests.processes import wait_until

SPEC = {"positive_prompt": "a red kite over dunes", "negative_prompt": "blurry", "width": 1024,
        "height": 1024, "steps": 30, "cfg_scale": 7, "sampler": "Euler a", "style": "photo",
        "seed": 7, "visual_features": None}


def _answer(**changes) -> dict:
    return {"status": 200, "content": json.dumps({**SPEC, **changes})}


@pytest.mark.django_db(transaction=True)
def test_it_commits_the_row_before_the_request_leaves(gateway, make_job, price):
    gateway.script([{**_answer(), "delay_ms": 1500}])
    job = make_job()
    worker = threading.Thread(target=job_run, args=(job.id,))
    worker.start()
    try:
        wait_until(lambda: gateway.stats()["received"] == 1, 10, "the request at the gateway")
        # The gateway is still working on it: the row is already committed, in flight.
        call = GatewayCall.objects.get(job=job)
        assert call.state == "in_flight" and call.cost is None
        assert call.max_cost > 0  # what it can cost at most, for budgets and unconfirmed calls
    finally:
        worker.join(timeout=10)
    call.refresh_from_db()
    assert (call.state, call.outcome) == ("completed", "ok") and call.cost > 0
    assert reload(job).status == "succeeded"


@pytest.mark.django_db
def test_it_sends_its_request_id_and_keeps_the_gateways(gateway, make_job):
    assert drain(make_job().id) == "succeeded"
    call = GatewayCall.objects.get()
    entry = gateway.usage_log()[0]
    assert entry["request_id"] == str(call.client_request_id)  # X-Request-Id reached the log
    assert call.request_id.startswith("sim-")  # the gateway's own id (X-Oneapi-Request-Id)
    assert call.request_id != str(call.client_request_id)


@pytest.mark.django_db
def test_it_stores_an_answer_whose_seed_no_column_holds(gateway, make_job, price):
    # Reproduces the loop: seed 1e30 raised OverflowError while saving, the transaction took
    # the ledger row with it, and the sweeper re-ran the job: billed calls, no ledger rows.
    gateway.script([_answer(seed=1e30, sampler="S" * 500)])
    job = make_job()
    assert drain(job.id) == "succeeded"
    record = PromptRecord.objects.get(job=job)
    assert record.seed is None and len(record.sampler) == 60 and record.needs_review
    call = GatewayCall.objects.get(job=job)
    assert (call.state, call.outcome) == ("completed", "ok") and call.cost > 0
    assert gateway.stats()["received"] == 1


@pytest.mark.django_db
def test_it_keeps_the_billed_row_when_the_record_cannot_be_stored(gateway, make_job, price,
                                                                 monkeypatch):
    def refuse(self, *args, **kwargs):
        raise DatabaseError("value too long for type character varying(60)")

    monkeypatch.setattr(PromptRecord, "save", refuse)
    job = make_job()
    assert drain(job.id) == "failed"
    job = reload(job)
    assert job.error_code == "store_failed" and "could not be stored" in job.error_message
    call = GatewayCall.objects.get(job=job)
    assert (call.state, call.outcome) == ("completed", "ok") and call.cost > 0
    assert DailyUsage.objects.get().cost == call.cost
    assert gateway.stats()["received"] == 1  # not tried again: that would be billed again


def _worker_dies_mid_call(job, team_id) -> GatewayCall:
    """What a SIGKILL during the call leaves: the job running, its row in flight."""
    claimed = _claim(job.id)
    assert claimed is not None
    call = ledger_open(job=claimed, attempt=claimed.attempts, team_id=team_id, key_id=None,
                       price=None, started_at=timezone.now())
    long_ago = timezone.now() - timedelta(hours=1)
    # The run began before its calls; the lease and the call are older than any lease.
    GenerationJob.objects.filter(pk=job.pk).update(
        lease_until=long_ago, started_at=long_ago - timedelta(hours=1))
    GatewayCall.objects.filter(pk=call.pk).update(started_at=long_ago)
    return call


@pytest.mark.django_db
def test_it_calls_a_row_left_in_flight_unknown_never_free(gateway, make_job, crew, price):
    job = make_job()
    call = _worker_dies_mid_call(job, crew.team.id)
    counts = jobs_sweep()
    assert (counts["unknown_calls"], counts["expired"]) == (1, 1)
    call.refresh_from_db()
    assert (call.state, call.cost) == ("unknown", None)  # unconfirmed, not ¥0
    assert not DailyUsage.objects.exists()
    assert reload(job).status == "queued"
    assert drain(job.id) == "succeeded"


@pytest.mark.django_db
def test_it_gives_up_on_a_job_whose_worker_keeps_dying(gateway, make_job, crew, settings):
    settings.GATEWAY_MAX_ATTEMPTS = 2
    job = make_job()
    _worker_dies_mid_call(job, crew.team.id)
    jobs_sweep()
    assert reload(job).status == "queued"
    _worker_dies_mid_call(job, crew.team.id)
    jobs_sweep()
    job = reload(job)
    assert (job.status, job.error_code) == ("failed", "lost")
    assert "2 attempts" in job.error_message
    assert set(GatewayCall.objects.filter(job=job).values_list("state", flat=True)) == {
        "unknown"}
    assert gateway.stats()["received"] == 0


@pytest.mark.django_db
def test_it_completes_a_row_once_even_if_the_answer_comes_late(gateway, make_job, crew, price):
    job = make_job()
    call = _worker_dies_mid_call(job, crew.team.id)
    jobs_sweep()  # unknown now
    from prompts.usage.ledger import CallFacts, ledger_complete

    facts = CallFacts(outcome="ok", started_at=call.started_at, key_id=None,
                      prompt_tokens=1000, completion_tokens=500)
    ledger_complete(call=call, facts=facts, price=price)
    ledger_complete(call=call, facts=facts, price=price)  # a second completion is ignored
    call.refresh_from_db()
    assert (call.state, call.cost) == ("completed", Decimal("0.006000"))
    assert DailyUsage.objects.get().calls == 1
