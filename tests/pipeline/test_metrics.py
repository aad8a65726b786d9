"""/metrics: Prometheus text an operator's scraper can read, for admins or a token only."""

import re
from decimal import Decimal

import pytest
from django.test import Client

from prompts.pipeline.creation import JobSpec, job_create
from tests.conftest import drain
from tests.factories import ModelPriceFactory, UserFactory

pytestmark = pytest.mark.django_db

SAMPLE = re.compile(r'^([a-z_:][a-z0-9_:]*)(\{[a-z_]+="(?:[^"\\]|\\.)*"(?:,[a-z_]+="(?:[^"\\]|\\.)*")*\})? (\S+)$')
TOKEN = "metrics-scraper-token-0001"


def parse(text: str) -> dict[str, float]:
    """Every line is a comment or a valid sample; returns {'name{labels}': value}."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        match = SAMPLE.match(line)
        assert match, f"not Prometheus text: {line!r}"
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True))
    return client


def test_it_reports_jobs_calls_latency_spending_and_limiter_waits(gateway, crew, project,
                                                                   admin_client, settings):
    settings.GATEWAY_RPM = 60_000
    ModelPriceFactory()
    jobs = [job_create(user=crew.member, project=project,
                       spec=JobSpec(brief=f"Poster {n}: neon koi in the rain")) for n in range(3)]
    gateway.script([{"status": 503}])
    for job in jobs:
        drain(job.id)
    job_create(user=crew.member, project=project, spec=JobSpec(brief="Queued, not yet run"))

    response = admin_client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = parse(response.content.decode())
    assert samples['grokweb_jobs{status="succeeded"}'] == 3
    assert samples['grokweb_jobs{status="queued"}'] == 1
    assert samples['grokweb_jobs{status="failed"}'] == 0
    assert samples['grokweb_gateway_calls_total{outcome="ok"}'] == 3
    assert samples['grokweb_gateway_calls_total{outcome="transient"}'] == 1
    assert samples["grokweb_gateway_latency_seconds_count"] == 4
    assert samples['grokweb_gateway_latency_seconds_bucket{le="+Inf"}'] == 4
    buckets = [value for name, value in samples.items()
               if name.startswith("grokweb_gateway_latency_seconds_bucket")]
    assert buckets == sorted(buckets), "histogram buckets must be cumulative"
    spent = samples['grokweb_spent_yuan_total{model="grok-build-0.1"}']
    from prompts.models import GatewayCall
    assert Decimal(str(spent)) == sum(c.cost for c in GatewayCall.objects.all())
    assert samples['grokweb_limiter_granted_total{key="primary"}'] == 4


def test_it_answers_a_scraper_with_the_token(settings, db):
    settings.METRICS_TOKEN = TOKEN
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert "grokweb_jobs" in response.content.decode()


def test_it_refuses_a_wrong_token(settings, db):
    settings.METRICS_TOKEN = TOKEN
    response = Client().get("/metrics", headers={"Authorization": "Bearer guessed"})
    assert response.status_code == 401
    assert "grokweb_jobs" not in response.content.decode()


def test_it_accepts_no_token_when_none_is_configured(settings, db):
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 401


def test_it_hides_metrics_from_members_and_anonymous_visitors(member_client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert member_client.get("/metrics").status_code == 404
    assert Client().get("/metrics").status_code == 404
