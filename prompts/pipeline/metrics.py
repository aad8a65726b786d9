"""What /metrics reports: a handful of aggregate queries, never a loop over rows."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from accounts.models import GatewayKey
from prompts.models import DailyUsage, GatewayCall, GenerationJob
from prompts.pipeline.limiter import STAT_FIELDS, limiter_stats

# Upper bounds of the gateway latency histogram, in milliseconds.
LATENCY_BUCKETS_MS = (100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000)


@dataclass(frozen=True)
class Metrics:
    jobs_by_status: dict[str, int]
    calls_by_outcome: dict[str, int]
    latency_buckets: list[tuple[int, int]]  # (le in ms, cumulative count)
    latency_count: int
    latency_sum_ms: int
    limiter: dict[str, dict[str, int]]  # key name -> counters
    spent_by_model: dict[str, Decimal]
    unpriced_calls: int


def metrics_snapshot() -> Metrics:
    jobs = dict.fromkeys(GenerationJob.Status.values, 0)
    jobs.update(GenerationJob.objects.order_by().values_list("status").annotate(n=Count("id")))
    calls = dict.fromkeys(GatewayCall.Outcome.values, 0)
    calls.update(GatewayCall.objects.order_by().values_list("outcome").annotate(n=Count("id")))
    latency = GatewayCall.objects.aggregate(
        count=Count("id"), total=Sum("latency_ms"),
        **{f"le_{le}": Count("id", filter=Q(latency_ms__lte=le)) for le in LATENCY_BUCKETS_MS},
    )
    spent = DailyUsage.objects.order_by().values("model").annotate(
        cost=Sum("cost"), unpriced=Sum("unpriced_calls"))
    keys = dict(GatewayKey.objects.values_list("id", "name"))
    counters = limiter_stats(key_ids=list(keys))
    return Metrics(
        jobs_by_status=jobs,
        calls_by_outcome=calls,
        latency_buckets=[(le, latency[f"le_{le}"]) for le in LATENCY_BUCKETS_MS],
        latency_count=latency["count"],
        latency_sum_ms=latency["total"] or 0,
        limiter={
            keys[key_id]: {field: values.get(field, 0) for field in STAT_FIELDS}
            for key_id, values in counters.items()
        },
        spent_by_model={row["model"]: row["cost"] or Decimal(0) for row in spent},
        unpriced_calls=sum(row["unpriced"] or 0 for row in spent),
    )
