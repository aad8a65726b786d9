"""The daily rollup equals the ledger after a mixed run through the real pipeline."""

from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from prompts.models import DailyUsage, GatewayCall
from prompts.pipeline.creation import JobSpec, job_create
from prompts.usage.reports import usage_report
from tests.conftest import drain


def test_it_keeps_the_rollup_equal_to_the_ledger_after_a_mixed_run(crew, project, price,
                                                                   gateway):
    gateway.script([
        {"status": 503},                                     # job 1: transient, retried
        {"status": 200},                                     #        then succeeds
        {"status": 200, "finish_reason": "content_filter"},  # job 2: rejected, tokens billed
        {"status": 429, "headers": {"Retry-After": "0"}},    # job 3: rate limited, retried
        {"status": 200},                                     #        then succeeds
    ])
    statuses = []
    for brief in ("A lighthouse at dusk", "A portrait in rain", "A tea house in Hangzhou"):
        job = job_create(user=crew.member, project=project, spec=JobSpec(brief=brief))
        statuses.append(drain(job.id))
    assert statuses == ["succeeded", "rejected", "succeeded"]

    ledger = GatewayCall.objects.aggregate(
        calls=Count("id"),
        ok_calls=Count("id", filter=Q(outcome="ok")),
        moderation_calls=Count("id", filter=Q(outcome="moderation")),
        prompt_tokens=Sum("prompt_tokens"),
        completion_tokens=Sum("completion_tokens"),
        cost=Sum("cost"),
    )
    ledger["waste_cost"] = GatewayCall.objects.exclude(outcome="ok").aggregate(
        waste=Sum("cost"))["waste"]
    rollup = DailyUsage.objects.aggregate(
        calls=Sum("calls"), ok_calls=Sum("ok_calls"), moderation_calls=Sum("moderation_calls"),
        failed_calls=Sum("failed_calls"), prompt_tokens=Sum("prompt_tokens"),
        completion_tokens=Sum("completion_tokens"), cost=Sum("cost"),
        waste_cost=Sum("waste_cost"), unpriced_calls=Sum("unpriced_calls"),
    )
    assert ledger["calls"] == rollup["calls"] == 5
    assert (rollup["ok_calls"], rollup["moderation_calls"], rollup["failed_calls"]) == (2, 1, 2)
    for name in ("ok_calls", "moderation_calls", "prompt_tokens", "completion_tokens"):
        assert rollup[name] == ledger[name], name
    assert Decimal(rollup["cost"]) == Decimal(ledger["cost"]) > 0
    assert Decimal(rollup["waste_cost"]) == Decimal(ledger["waste_cost"]) > 0  # the rejection
    assert rollup["unpriced_calls"] == 0

    today = timezone.localdate()
    report = usage_report(team=crew.team, since=today, until=today, group_by="user")
    assert report.total.cost == Decimal(ledger["cost"])
    assert report.total.calls == 5
