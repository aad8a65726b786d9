"""Rotating the gateway key in the middle of a batch: nothing fails, nothing is lost, the old
key is never chosen for a new attempt and not used at all after its grace period."""

import time
from datetime import timedelta

from django.utils import timezone

from accounts.models import GatewayKey
from prompts.models import GatewayCall, GenerationJob
from prompts.pipeline.creation import JobSpec, batch_create
from prompts.pipeline.keys import gateway_key_add, gateway_key_revoke, gateway_key_rotate
from prompts.pipeline.run import job_run
from prompts.pipeline.sweeper import jobs_sweep
from tests.conftest import SIM_KEY, SIM_STANDBY_KEY, drain
from tests.processes import wait_until


def _batch(crew, project, n: int):
    specs = [JobSpec(brief=f"Portrait number {i} of a lighthouse keeper") for i in range(n)]
    return list(batch_create(user=crew.member, project=project, specs=specs).jobs.order_by("id"))


def test_it_rotates_mid_batch_without_a_failed_job(gateway, active_key, crew, project):
    jobs = _batch(crew, project, 10)
    for job in jobs[:4]:
        assert drain(job.id) == "succeeded"

    new = gateway_key_add(name="next", secret=SIM_STANDBY_KEY)
    switched_at = timezone.now()
    assert gateway_key_rotate(key=new)[0]
    active_key.refresh_from_db()
    assert active_key.status == "retiring"

    for job in jobs[4:7]:
        assert drain(job.id) == "succeeded"
    # The grace period ends; the old key is now refused at the gateway too.
    GatewayKey.objects.filter(pk=active_key.pk).update(retiring_until=timezone.now())
    assert jobs_sweep()["retired_keys"] == 1
    gateway.configure(keys=[SIM_STANDBY_KEY])
    for job in jobs[7:]:
        assert drain(job.id) == "succeeded"

    assert set(GenerationJob.objects.values_list("status", flat=True)) == {"succeeded"}
    after = GatewayCall.objects.filter(started_at__gte=switched_at)
    assert after.count() == 6 and set(after.values_list("key_id", flat=True)) == {new.id}
    assert GatewayCall.objects.filter(key=active_key).count() == 4
    by_key = gateway.stats()["by_key"]
    assert by_key == {f"…{SIM_KEY[-4:]}": 4, f"…{SIM_STANDBY_KEY[-4:]}": 6}
    active_key.refresh_from_db()
    assert active_key.status == "retired"


def test_it_lets_attempts_under_way_finish_with_the_retiring_key(transactional_db, gateway,
                                                                 active_key, crew,
                                                                 project):
    """An attempt that took the old key before the switch completes with it; the next
    attempt of any job takes the new one."""
    (job, later) = _batch(crew, project, 2)
    gateway.configure(latency_ms=600)
    new = gateway_key_add(name="next", secret=SIM_STANDBY_KEY)

    import threading

    from django.db import close_old_connections

    def run():
        job_run(job.id)
        close_old_connections()

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.2)  # the attempt is at the gateway with the old key
    assert gateway_key_rotate(key=new)[0]
    worker.join()
    gateway.configure(latency_ms=0)
    assert drain(later.id) == "succeeded"
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert GatewayCall.objects.get(job=job).key_id == active_key.id
    assert GatewayCall.objects.get(job=later).key_id == new.id


def test_it_stops_using_a_revoked_key_at_once(gateway, active_key, crew, project):
    first, second = _batch(crew, project, 2)
    assert drain(first.id) == "succeeded"
    gateway_key_revoke(key=active_key)
    assert drain(second.id) == "waiting"
    second.refresh_from_db()
    assert second.wait_reason == "key"
    assert gateway.stats()["received"] == 1
    assert GatewayCall.objects.filter(job=second).count() == 0


def test_it_never_chooses_a_retiring_or_revoked_key(gateway, active_key, crew, project):
    new = gateway_key_add(name="next", secret=SIM_STANDBY_KEY)
    gateway_key_rotate(key=new)
    gateway_key_revoke(key=new)
    # Retiring (the old key) is not active: with the new one revoked, jobs wait.
    (job,) = _batch(crew, project, 1)
    assert drain(job.id) == "waiting"
    assert gateway.stats()["received"] == 0


def test_it_rotates_while_a_real_worker_runs_the_batch(celery_worker_thread, gateway,
                                                       active_key, crew, project):
    # Four threads, 0.4 s a call: 16 jobs take four rounds, so the switch after the first
    # round leaves at least two rounds to start after it, however the polling falls.
    gateway.configure(latency_ms=400)
    jobs = _batch(crew, project, 16)
    assert len(jobs) == 16
    wait_until(lambda: GenerationJob.objects.filter(status="succeeded").count() >= 4, 30,
               "four jobs done with the old key")
    new = gateway_key_add(name="next", secret=SIM_STANDBY_KEY)
    switched_at = timezone.now()
    assert gateway_key_rotate(key=new)[0]
    wait_until(lambda: not GenerationJob.objects.exclude(
        status__in=GenerationJob.FINAL_STATUSES).exists(), 30, "every job to end")
    assert set(GenerationJob.objects.values_list("status", flat=True)) == {"succeeded"}
    assert GatewayCall.objects.count() == 16
    assert GatewayCall.objects.filter(key=active_key).count() >= 4
    assert GatewayCall.objects.filter(key=new).exists()
    # An attempt reads the active key just before its row is written; allow a busy machine
    # that moment, then no attempt may start with the old key.
    late_with_old = GatewayCall.objects.filter(
        key=active_key, started_at__gt=switched_at + timedelta(seconds=0.3))
    assert not late_with_old.exists()
