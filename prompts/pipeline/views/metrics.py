"""GET /metrics: Prometheus text format for site admins or a scraper holding METRICS_TOKEN."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.access import require_site_admin
from prompts.pipeline.metrics import Metrics, metrics_snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        expected = settings.METRICS_TOKEN
        if not (expected and hmac.compare_digest(token.strip().encode(), expected.encode())):
            response = HttpResponse("invalid metrics token\n", status=401, content_type=CONTENT_TYPE)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    else:
        require_site_admin(request.user)
    return HttpResponse(exposition(metrics_snapshot()), content_type=CONTENT_TYPE)


def _label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(snapshot: Metrics) -> str:
    lines = [
        "# HELP grokweb_jobs Generation jobs by status.",
        "# TYPE grokweb_jobs gauge",
        *(f'grokweb_jobs{{status="{status}"}} {n}'
          for status, n in sorted(snapshot.jobs_by_status.items())),
        "# HELP grokweb_gateway_calls_total Gateway calls (ledger rows) by outcome.",
        "# TYPE grokweb_gateway_calls_total counter",
        *(f'grokweb_gateway_calls_total{{outcome="{outcome}"}} {n}'
          for outcome, n in sorted(snapshot.calls_by_outcome.items())),
        "# HELP grokweb_gateway_latency_seconds Gateway call latency.",
        "# TYPE grokweb_gateway_latency_seconds histogram",
        *(f'grokweb_gateway_latency_seconds_bucket{{le="{le / 1000:g}"}} {n}'
          for le, n in snapshot.latency_buckets),
        f'grokweb_gateway_latency_seconds_bucket{{le="+Inf"}} {snapshot.latency_count}',
        f"grokweb_gateway_latency_seconds_sum {snapshot.latency_sum_ms / 1000:.3f}",
        f"grokweb_gateway_latency_seconds_count {snapshot.latency_count}",
    ]
    limiter = [
        ("granted", "grokweb_limiter_granted_total", "Slots the rate limiter gave out."),
        ("slept", "grokweb_limiter_waits_total", "Slots a worker slept for before sending."),
        ("deferred", "grokweb_limiter_deferred_total",
         "Jobs sent back to the queue because the wait was too long."),
        ("paused", "grokweb_limiter_paused_total",
         "Deferrals caused by a gateway Retry-After pause."),
    ]
    for field, name, help_text in limiter:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
        lines += [f'{name}{{key="{_label(key)}"}} {counters[field]}'
                  for key, counters in sorted(snapshot.limiter.items())]
    lines += ["# HELP grokweb_limiter_wait_seconds_total Time workers slept for their slots.",
              "# TYPE grokweb_limiter_wait_seconds_total counter"]
    lines += [f'grokweb_limiter_wait_seconds_total{{key="{_label(key)}"}} '
              f'{counters["slept_ms"] / 1000:.3f}'
              for key, counters in sorted(snapshot.limiter.items())]
    lines += [
        "# HELP grokweb_spent_yuan_total RMB spent at the gateway (priced calls).",
        "# TYPE grokweb_spent_yuan_total counter",
        *(f'grokweb_spent_yuan_total{{model="{_label(model)}"}} {cost}'
          for model, cost in sorted(snapshot.spent_by_model.items())),
        "# HELP grokweb_unpriced_calls_total Calls to a model with no price.",
        "# TYPE grokweb_unpriced_calls_total counter",
        f"grokweb_unpriced_calls_total {snapshot.unpriced_calls}",
    ]
    return "\n".join(lines) + "\n"
