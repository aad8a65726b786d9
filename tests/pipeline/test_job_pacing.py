"""The limiter inside job_run: jobs wait for their slot at the gateway without spending an
attempt, a 429's Retry-After holds back every job on the key, and the tokens-per-minute
schedule follows what the gateway really counted."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from prompts.models import GatewayCall, GenerationJob
from prompts.pipeline.creation import JobSpec, job_create
from prompts.pipeline.limiter import limiter_wait_s
from prompts.pipeline.run import job_run
from tests.processes import wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_job(crew, project):
    def make(brief="Still life: a brass compass on a sea chart, raking light"):
        return job_create(user=crew.member, project=project, spec=JobSpec(brief=brief))

    return make


def reload(job) -> GenerationJob:
    return GenerationJob.objects.get(pk=job.pk)


def test_it_holds_back_every_job_on_the_key_after_a_429(gateway, make_job, active_key,
                                                         shared_limiter):
    gateway.script([{"status": 429, "headers": {"Retry-After": "9"}}])
    first, second, third = make_job(), make_job(), make_job()
    assert job_run(first.id) == "queued"
    assert limiter_wait_s(key_id=active_key.id) == pytest.approx(9, abs=0.5)
    before = timezone.now()
    # The other jobs were due now, but nobody sends on this key until the pause ends.
    assert job_run(second.id) is None
    assert job_run(third.id) is None
    assert gateway.stats()["received"] == 1
    for job in (second, third):
        job = reload(job)
        assert job.status == "queued" and job.attempts == 0
        assert before + timedelta(seconds=8) < job.next_attempt_at < before + timedelta(seconds=10)
    assert not GatewayCall.objects.filter(job__in=[second, third]).exists()


def test_it_reschedules_a_job_over_the_rpm_without_spending_an_attempt(gateway, make_job,
                                                                        settings, shared_limiter):
    settings.GATEWAY_RPM = 6  # one call every 10 s
    settings.GATEWAY_LIMITER_MAX_SLEEP_S = 0.5
    first, second = make_job(), make_job()
    assert job_run(first.id) == "succeeded"
    before = timezone.now()
    assert job_run(second.id) is None
    second = reload(second)
    assert second.status == "queued" and second.attempts == 0
    assert before + timedelta(seconds=9) < second.next_attempt_at < before + timedelta(seconds=11)
    assert gateway.stats()["received"] == 1


def test_it_sleeps_for_a_slot_that_is_a_moment_away(gateway, make_job, settings,
                                                     shared_limiter):
    settings.GATEWAY_RPM = 300  # one call every 200 ms
    jobs = [make_job() for _ in range(3)]
    started = time.monotonic()
    assert [job_run(job.id) for job in jobs] == ["succeeded"] * 3
    assert time.monotonic() - started >= 0.38
    assert gateway.stats()["received"] == 3


def test_it_charges_the_token_schedule_what_the_gateway_reported(gateway, make_job, settings,
                                                                  active_key, shared_limiter):
    settings.GATEWAY_RPM = 0
    settings.GATEWAY_TPM = 6_000  # 10 ms per token
    job = make_job()
    reserved = job.estimated_input_tokens + job.max_tokens
    assert job_run(job.id) == "succeeded"
    call = GatewayCall.objects.get(job=job)
    used = call.prompt_tokens + call.completion_tokens
    assert used < reserved - 200
    # The next request waits for the tokens really used, not for max_tokens.
    slot = shared_limiter.acquire(active_key.id, 1, 60)
    assert slot.wait_s <= used * 0.01 + 0.05
    assert slot.wait_s >= used * 0.01 - 5


def test_it_lets_a_deferred_job_through_once_its_slot_comes(gateway, make_job, settings,
                                                            shared_limiter):
    settings.GATEWAY_RPM = 120  # one call every 500 ms
    settings.GATEWAY_LIMITER_MAX_SLEEP_S = 0.1
    first, second = make_job(), make_job()
    assert job_run(first.id) == "succeeded"
    assert job_run(second.id) is None
    # A redelivery before its slot does nothing; the first one after it runs the job.
    wait_until(lambda: job_run(second.id) == "succeeded", 5, "the deferred job's slot")
    assert reload(second).attempts == 1


def test_it_holds_every_job_back_while_the_gateway_refuses_connections(
        gateway, make_job, active_key, settings, shared_limiter):
    from prompts.pipeline.client import gateway_client
    from tests.processes import free_port

    settings.GATEWAY_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"  # nobody listens
    settings.GATEWAY_BACKOFF_BASE_S = 5
    settings.GATEWAY_BACKOFF_CAP_S = 60
    gateway_client.cache_clear()
    first, second, third = make_job(), make_job(), make_job()
    assert job_run(first.id) == "queued"
    assert GatewayCall.objects.get(job=first).outcome == "transient"
    assert limiter_wait_s(key_id=active_key.id) == pytest.approx(5, abs=0.5)
    # The others keep their attempts for when the gateway is back.
    assert job_run(second.id) is None and job_run(third.id) is None
    assert [reload(job).attempts for job in (second, third)] == [0, 0]
    assert GatewayCall.objects.count() == 1
    gateway_client.cache_clear()
