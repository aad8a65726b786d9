"""Retries, keys, duplicate deliveries, lost workers: no job lost, none run or billed twice."""

import io
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from PIL import Image

from accounts.models import GatewayKey
from prompts.models import GatewayCall, GenerationJob, PromptRecord
from prompts.pipeline.keys import gateway_key_activate, gateway_key_add
from prompts.pipeline.run import _claim, _job_images, job_run
from prompts.pipeline.sweeper import jobs_sweep
from prompts.workspace.services.references import reference_create
from tests.conftest import SIM_STANDBY_KEY, drain
from tests.pipeline.conftest import reload


@pytest.mark.django_db
def test_it_gives_up_after_max_attempts_with_the_reason(gateway, make_job, settings):
    settings.GATEWAY_MAX_ATTEMPTS = 3
    gateway.script([{"status": 503}] * 5)
    job = make_job()
    assert drain(job.id) == "failed"
    job = reload(job)
    assert job.error_code == "transient"
    assert "3 times" in job.error_message
    assert GatewayCall.objects.filter(job=job).count() == 3
    assert gateway.stats()["received"] == 3


@pytest.mark.django_db
@pytest.mark.parametrize("style", ["http400", "finish_reason", "sensitive_words"])
def test_it_never_retries_a_moderation_rejection(gateway, make_job, style):
    gateway.configure(moderation_style=style)
    job = make_job(brief="portrait, 裸体, studio light")
    assert drain(job.id) == "rejected"
    assert GatewayCall.objects.filter(job=job).count() == 1


@pytest.mark.django_db
def test_it_resumes_key_waiting_jobs_after_a_key_change(gateway, make_job, active_key):
    gateway.configure(keys=[SIM_STANDBY_KEY])  # the gateway revoked the active key
    jobs = [make_job(brief=f"Brief {n}: harbour at dawn") for n in range(3)]
    for job in jobs:
        assert drain(job.id) == "waiting"
    assert {reload(j).wait_reason for j in jobs} == {"key"}
    new_key = gateway_key_add(name="rotated", secret=SIM_STANDBY_KEY)
    gateway_key_activate(key=new_key)  # resumes the waiting jobs; nobody resubmits
    assert set(GenerationJob.objects.values_list("status", flat=True)) == {"queued"}
    for job in jobs:
        assert drain(job.id) == "succeeded"
    after = GatewayCall.objects.filter(outcome="ok")
    assert set(after.values_list("key_id", flat=True)) == {new_key.id}


@pytest.mark.django_db
def test_it_fails_over_to_a_verified_standby_key(gateway, make_job, active_key):
    standby = gateway_key_add(name="standby", secret=SIM_STANDBY_KEY)
    GatewayKey.objects.filter(pk=standby.pk).update(verified_at=timezone.now())
    gateway.script([{"status": 401}])
    job = make_job()
    assert drain(job.id) == "succeeded"
    statuses = dict(GatewayKey.objects.values_list("name", "status"))
    assert statuses == {"primary": "failing", "standby": "active"}
    first, second = GatewayCall.objects.filter(job=job).order_by("attempt")
    assert (first.outcome, first.key_id) == ("auth", active_key.id)
    assert (second.outcome, second.key_id) == ("ok", standby.id)


@pytest.mark.django_db
def test_it_does_nothing_on_a_second_delivery(gateway, make_job):
    job = make_job()
    assert job_run(job.id) == "succeeded"
    assert job_run(job.id) is None
    assert GatewayCall.objects.filter(job=job).count() == 1
    assert PromptRecord.objects.filter(job=job).count() == 1
    assert gateway.stats()["received"] == 1


@pytest.mark.django_db(transaction=True)
def test_it_runs_a_job_once_when_two_deliveries_race(gateway, make_job):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL (CI)")
    gateway.configure(latency_ms=300)
    job = make_job()
    results = []

    def deliver():
        try:
            results.append(job_run(job.id))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [None, None, None, "succeeded"]
    assert GatewayCall.objects.filter(job=job).count() == 1
    assert gateway.stats()["received"] == 1


@pytest.mark.django_db
def test_it_requeues_a_job_whose_worker_died_and_finishes_it_once(gateway, make_job):
    job = make_job()
    assert _claim(job.id)  # a worker took it, then was killed before calling
    assert reload(job).attempts == 1
    GenerationJob.objects.filter(pk=job.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1))
    assert job_run(job.id) is None  # still "running": a redelivery cannot take it
    counts = jobs_sweep()
    assert counts["expired"] == 1
    assert reload(job).status == "queued"
    assert drain(job.id) == "succeeded"
    job = reload(job)
    assert job.attempts == 2
    assert GatewayCall.objects.filter(job=job).count() == 1
    assert gateway.stats()["received"] == 1


@pytest.mark.django_db
def test_it_resends_a_queued_job_whose_message_was_lost(gateway, make_job):
    job = make_job()
    old = timezone.now() - timedelta(minutes=5)
    GenerationJob.objects.filter(pk=job.pk).update(dispatched_at=old, created_at=old)
    assert jobs_sweep()["resent"] == 1


@pytest.mark.django_db
def test_it_sends_a_large_photo_as_a_jpeg_data_url_under_5_mb(gateway, crew, project, make_job):
    image = Image.effect_noise((3000, 4000), 64).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    reference, _ = reference_create(project=project, user=crew.member, data=buffer.getvalue(),
                                    original_name="portrait.jpg")
    job = make_job(references=[reference])
    [url] = _job_images(job)
    assert url.startswith("data:image/jpeg;base64,")
    import base64

    raw = base64.b64decode(url.split(",", 1)[1])
    assert len(raw) < 5 * 1024 * 1024
    assert max(Image.open(io.BytesIO(raw)).size) <= 2048
    assert drain(job.id) == "succeeded"
    assert reload(job).record.visual_features


@pytest.mark.django_db
def test_it_imports_gateway_api_key_when_no_key_is_active(simulator, make_job, settings):
    from tests.conftest import SIM_KEY

    settings.GATEWAY_API_KEY = SIM_KEY
    job = make_job()
    assert drain(job.id) == "succeeded"
    key = GatewayKey.objects.get()
    assert key.status == "active" and key.name.startswith("env-")
    assert SIM_KEY not in key.secret_encrypted


@pytest.mark.django_db
def test_it_gives_a_retried_job_a_fresh_attempt_budget(gateway, make_job, settings):
    from prompts.pipeline.control import job_retry

    settings.GATEWAY_MAX_ATTEMPTS = 2
    gateway.script([{"status": 503}] * 3)
    job = make_job()
    assert drain(job.id) == "failed"
    assert job_retry(job=reload(job))
    # One more 503 is this run's first failure, not the third: it is retried and succeeds.
    assert drain(job.id) == "succeeded"
    assert [c.outcome for c in GatewayCall.objects.filter(job=job).order_by("attempt")] == [
        "transient", "transient", "transient", "ok"]
