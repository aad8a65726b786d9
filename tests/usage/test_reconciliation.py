"""Reconciliation through `gateway_reconcile`: every category with a handful of rows, the
file import in both formats, broken logs, settling unconfirmed calls, pulling from the
simulator."""

import io
import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from accounts.models import AuditEvent
from prompts.gateway.payloads import build_chat_payload
from prompts.gateway.simulator import DEFAULT_LOG_TOKEN
from prompts.models import (
    DailyUsage,
    GatewayCall,
    ReconciliationItem,
    ReconciliationRun,
)
from prompts.pipeline.client import gateway_client
from prompts.usage.ledger import CallFacts, ledger_open, ledger_record
from tests.clock import SHANGHAI, local
from tests.conftest import SIM_KEY, drain
from tests.factories import JobFactory

DAY = "2026-11-20"
MODEL = "grok-build-0.1"


def _completed(crew, project, at, prompt=1000, completion=500) -> GatewayCall:
    job = JobFactory(project=project, created_by=crew.member)
    call = ledger_record(job=job, attempt=1, facts=CallFacts(
        outcome="ok", started_at=at, key_id=None, prompt_tokens=prompt,
        completion_tokens=completion, http_status=200))
    GatewayCall.objects.filter(pk=call.pk).update(client_request_id=uuid.uuid4())
    call.refresh_from_db()
    return call


def _unknown(crew, project, at, price) -> GatewayCall:
    """What a worker killed mid-call leaves, after the sweeper: an unknown row."""
    job = JobFactory(project=project, created_by=crew.member)
    call = ledger_open(job=job, attempt=1, team_id=crew.team.id, key_id=None, price=price,
                       started_at=at)
    GatewayCall.objects.filter(pk=call.pk).update(state="unknown")
    call.refresh_from_db()
    return call


def _entry(call_or_id, at, prompt=1000, completion=500) -> dict:
    request_id = str(call_or_id.client_request_id) if isinstance(call_or_id, GatewayCall) \
        else call_or_id
    return {"id": 7, "created_at": int(at.timestamp()), "type": 2, "model_name": MODEL,
            "token_name": "grokweb", "prompt_tokens": prompt, "completion_tokens": completion,
            "quota": prompt + 2 * completion, "use_time": 3, "request_id": request_id,
            "other": "{}"}


def _log_file(tmp_path, entries, name="log.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"success": True, "message": "",
                                "data": {"items": entries, "total": len(entries)}}))
    return str(path)


def _reconcile(*args) -> dict:
    out = io.StringIO()
    call_command("gateway_reconcile", "--since", DAY, "--until", DAY, *args, "--format", "json",
                 stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def handful(crew, project, price, frozen_clock):
    """One call of each kind on 2026-11-20."""
    at = local(2026, 11, 20, 9, 0)
    calls = {
        "matched": _completed(crew, project, at),
        "drift": _completed(crew, project, at + timedelta(minutes=10)),
        "ledger_only": _completed(crew, project, at + timedelta(minutes=20), prompt=3000),
        "unknown_billed": _unknown(crew, project, at + timedelta(minutes=30), price),
        "unknown_unbilled": _unknown(crew, project, at + timedelta(minutes=40), price),
    }
    entries = [
        _entry(calls["matched"], at + timedelta(seconds=4)),
        _entry(calls["drift"], at + timedelta(minutes=10, seconds=4), completion=620),
        _entry(str(uuid.uuid4()), at + timedelta(minutes=15), prompt=2000, completion=100),
        _entry(calls["unknown_billed"], at + timedelta(minutes=30, seconds=9), prompt=800,
               completion=300),
    ]
    return calls, entries


def test_it_sorts_a_handful_of_calls_into_every_category(handful, tmp_path):
    calls, entries = handful
    found = _reconcile("--file", _log_file(tmp_path, entries))

    assert set(found) == {"matched", "token_drift", "gateway_only", "ledger_only",
                          "settled_unknown", "yuan_gateway", "yuan_ledger", "difference"}
    assert found["matched"] == 1
    [drift] = found["token_drift"]
    assert drift["call_id"] == calls["drift"].pk
    assert (drift["ledger"]["completion_tokens"], drift["gateway"]["completion_tokens"]) == (
        500, 620)
    assert (drift["ledger"]["cost"], drift["gateway"]["cost"]) == ("0.006000", "0.006960")
    [billed_only] = found["gateway_only"]
    assert (billed_only["prompt_tokens"], billed_only["cost"]) == (2000, "0.004800")
    assert billed_only["call_id"] is None
    ledger_only = {row["call_id"]: row for row in found["ledger_only"]}
    assert ledger_only[calls["ledger_only"].pk]["cost"] == "0.010000"
    unbilled = ledger_only[calls["unknown_unbilled"].pk]
    assert unbilled["unconfirmed"] and unbilled["settled_not_billed"]
    assert found["settled_unknown"] == 1
    # gateway: 0.006 + 0.00696 + 0.0048 + (800×2 + 300×8)/1e6; ledger after settling the same
    # unknown call: 0.006 + 0.006 + 0.010 + 0.004 (+ ¥0 for the call nobody billed).
    assert (found["yuan_gateway"], found["yuan_ledger"]) == ("0.021760", "0.026000")
    assert found["difference"] == "-0.004240"


def test_it_settles_an_unknown_call_from_the_log_so_the_ledger_is_the_bill(handful, tmp_path,
                                                                            crew):
    calls, entries = handful
    before = DailyUsage.objects.aggregate(cost=Sum("cost"))["cost"]
    _reconcile("--file", _log_file(tmp_path, entries))

    settled = GatewayCall.objects.get(pk=calls["unknown_billed"].pk)
    assert (settled.state, settled.outcome) == ("completed", "lost")
    assert (settled.prompt_tokens, settled.completion_tokens) == (800, 300)
    assert settled.cost == Decimal("0.004000") and settled.price_id is not None
    unbilled = GatewayCall.objects.get(pk=calls["unknown_unbilled"].pk)
    assert (unbilled.state, unbilled.cost) == ("completed", Decimal("0"))
    after = DailyUsage.objects.aggregate(cost=Sum("cost"))["cost"]
    assert after - before == Decimal("0.004000")  # in the rollup, so in every report
    assert DailyUsage.objects.aggregate(n=Sum("calls"))["n"] == 5
    events = AuditEvent.objects.filter(action="ledger.settle")
    assert sorted(event.after["source"] for event in events) == ["billed", "not_billed"]
    run = ReconciliationRun.objects.get()
    assert run.teams[str(crew.team.id)]["settled"] == 1

    again = _reconcile("--file", _log_file(tmp_path, entries))  # nothing left to settle
    assert again["settled_unknown"] == 0 and again["matched"] == 2


def test_it_leaves_a_probable_match_by_time_alone_unsettled(crew, project, price, frozen_clock,
                                                            tmp_path):
    at = local(2026, 11, 20, 9, 0)
    call = _unknown(crew, project, at, price)
    found = _reconcile("--file", _log_file(tmp_path, [_entry("", at + timedelta(seconds=5))]))
    assert found["settled_unknown"] == 0
    [entry] = found["gateway_only"]
    assert (entry["call_id"], entry["call_state"], entry["by_request_id"]) == (
        call.pk, "unknown", False)
    call.refresh_from_db()
    assert call.state == "unknown"


def test_it_reads_a_csv_with_a_bom_and_a_gbk_csv(handful, tmp_path):
    calls, entries = handful
    header = "created_at,model_name,prompt_tokens,completion_tokens,quota,request_id,token_name\n"
    # Local times without an offset (read in Asia/Shanghai), as an exported sheet has them.
    lines = "".join(
        f"{datetime.fromtimestamp(e['created_at'], SHANGHAI):%Y-%m-%d %H:%M:%S},"
        f"{e['model_name']},{e['prompt_tokens']},{e['completion_tokens']},{e['quota']},"
        f"{e['request_id']},令牌\n" for e in entries)
    csv_bom = tmp_path / "log.csv"
    csv_bom.write_bytes(("\ufeff" + header + lines).encode("utf-8"))
    from_json = _reconcile("--file", _log_file(tmp_path, entries))
    GatewayCall.objects.filter(outcome="lost").update(state="unknown")  # settle them again
    from_csv = _reconcile("--file", str(csv_bom))
    assert from_csv["matched"] == from_json["matched"] == 1
    assert from_csv["yuan_gateway"] == from_json["yuan_gateway"]

    gbk = tmp_path / "log-gbk.csv"
    gbk.write_bytes((header + lines).encode("gbk"))  # what Excel in China saves
    from_gbk = _reconcile("--file", str(gbk))
    assert from_gbk["yuan_gateway"] == from_json["yuan_gateway"]


@pytest.mark.parametrize("content, message", [
    (b'{"success": true, "data": {"items": [{"created_at": 1790000000, "model_na',
     "truncated"),
    (b'{"success": true, "data": {"items": [{"created_at": "yesterday", "model_name": "m", '
     b'"prompt_tokens": 1, "completion_tokens": 1}]}}', "created_at"),
    (b"created_at,model_name\n1790000000,m\n", "no column prompt_tokens"),
    ("created_at,model_name,prompt_tokens,completion_tokens\n1790000000,模型,1,1\n"
     .encode("utf-16"), "UTF-16"),
])
def test_it_refuses_a_broken_log_and_stores_nothing_but_the_failure(handful, tmp_path, content,
                                                                   message):
    calls, _entries = handful
    path = tmp_path / ("log.json" if content.startswith(b"{") else "log.csv")
    path.write_bytes(content)
    with pytest.raises(CommandError) as refused:
        call_command("gateway_reconcile", "--since", DAY, "--until", DAY, "--file", str(path))
    assert message in str(refused.value) and "Nothing was settled" in str(refused.value)
    run = ReconciliationRun.objects.get()
    assert run.status == "failed" and message in run.error
    assert not ReconciliationItem.objects.exists()
    assert GatewayCall.objects.filter(state="unknown").count() == 2
    assert not AuditEvent.objects.filter(action="ledger.settle").exists()


def test_it_pulls_the_simulators_log_and_matches_every_call(gateway, make_job, price, settings):
    settings.GATEWAY_LOG_TOKEN = DEFAULT_LOG_TOKEN
    for n in range(3):
        assert drain(make_job(brief=f"A kite over dunes #{n}").id) == "succeeded"
    today = timezone.localdate()
    out = io.StringIO()
    call_command("gateway_reconcile", "--since", str(today - timedelta(days=1)),
                 "--until", str(today), "--pull", stdout=out)
    text = out.getvalue()
    assert "All 3 calls matched." in text
    assert "difference: ¥0.000000" in text
    run = ReconciliationRun.objects.get()
    assert (run.source, run.gateway_entries, run.ledger_calls) == ("pull", 3, 3)


def test_it_settles_a_call_whose_worker_died_after_sending_it(gateway, make_job, price, crew,
                                                             settings):
    """The gateway answered and billed a call nobody was left to record: after the pull the
    team's ¥ equals the gateway's log to the fen."""
    settings.GATEWAY_LOG_TOKEN = DEFAULT_LOG_TOKEN
    assert drain(make_job().id) == "succeeded"
    orphan = JobFactory(project=make_job().project, created_by=crew.member)
    call = ledger_open(job=orphan, attempt=1, team_id=crew.team.id, key_id=None, price=price,
                       started_at=timezone.now())
    payload = build_chat_payload(model=MODEL, brief="a lantern", images=[], temperature=0.6,
                                 max_tokens=256)
    gateway_client().chat(SIM_KEY, payload, request_id=str(call.client_request_id))
    GatewayCall.objects.filter(pk=call.pk).update(state="unknown")  # the sweeper's verdict

    today = timezone.localdate()
    call_command("gateway_reconcile", "--since", str(today - timedelta(days=1)),
                 "--until", str(today), "--pull", stdout=io.StringIO())
    call.refresh_from_db()
    assert (call.state, call.outcome) == ("completed", "lost")
    log = gateway.usage_log()
    billed = sum(Decimal(e["prompt_tokens"] * 2 + e["completion_tokens"] * 8) for e in log)
    team = DailyUsage.objects.filter(team=crew.team).aggregate(cost=Sum("cost"))["cost"]
    assert team == (billed / 1_000_000).quantize(Decimal("0.000001"))


def test_it_says_when_no_log_token_is_set(db, settings):
    settings.GATEWAY_LOG_TOKEN = ""
    with pytest.raises(CommandError, match="no access token"):
        call_command("gateway_reconcile", "--since", DAY, "--until", DAY, "--pull")
