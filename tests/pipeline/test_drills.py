"""Fault drills small enough for CI: real worker processes, beat, the simulator process,
the real broker and database (Redis and PostgreSQL in CI). The full-size drills are
bench/drills/*.py."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.db.models import Count, F
from django.utils import timezone

from grokweb.celery import app
from prompts.models import GatewayCall, GenerationJob, PromptRecord
from prompts.pipeline.creation import JobSpec, batch_create
from prompts.pipeline.keys import gateway_key_add
from tests.processes import ROOT, database_url, free_port, wait_until

KEY = "sim-drill-key-000000000001"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL,
                       reason="several workers share a Redis broker; embedded runs one worker"),
]








@pytest.fixture
def cluster(tmp_path):
    started = []
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(),
           "GATEWAY_BASE_URL": f"http://127.0.0.1:{port}/v1", "GATEWAY_RPM": "300",
           "SWEEP_INTERVAL_S": "1", "DJANGO_SETTINGS_MODULE": "grokweb.settings"}

    def spawn(*args):
        process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        return process

    def sim_up():
        try:
            return requests.get(f"http://127.0.0.1:{port}/_sim/stats", timeout=1).ok
        except requests.ConnectionError:
            return False

    spawn("manage.py", "gateway_simulator", "--port", str(port), "--keys", KEY,
          "--latency-ms", "400", "--seed", "9")
    wait_until(sim_up, 30, "the simulator")
    app.control.purge()
    workers = [spawn("-m", "celery", "-A", "grokweb", "worker", "--pool", "threads",
                     "--concurrency", "4", "-n", f"drill{n}@%h", "--loglevel", "WARNING",
                     "--without-gossip", "--without-mingle") for n in range(2)]
    spawn("-m", "celery", "-A", "grokweb", "beat", "--loglevel", "WARNING",
          "-s", str(tmp_path / "beat-schedule"))
    yield port, workers
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_it_finishes_every_job_once_when_a_worker_is_killed_mid_batch(cluster, crew, project):
    port, workers = cluster
    gateway_key_add(name="drill", secret=KEY, activate=True)
    specs = [JobSpec(brief=f"Drill {n}: a copper kettle on a stove, morning haze")
             for n in range(20)]
    batch = batch_create(user=crew.member, project=project, specs=specs)
    wait_until(lambda: batch.jobs.filter(status="succeeded").count() >= 5, 60, "5 jobs done")
    running = set(batch.jobs.filter(status="running").values_list("id", flat=True))
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait(timeout=10)
    # The survivor's calls take 0.4 s; what is still running after 3 s was the dead worker's.
    time.sleep(3)
    orphans = batch.jobs.filter(pk__in=running, status="running")
    # Skip their lease (190 s in production) so the sweeper re-queues them now.
    orphans.update(lease_until=timezone.now() - timedelta(seconds=1))

    wait_until(lambda: not batch.jobs.exclude(status__in=GenerationJob.FINAL_STATUSES).exists(),
               120, "every job to finish")
    assert batch.jobs.filter(status="succeeded").count() == 20
    # Never run twice: one successful call and one record per job.
    assert not (GatewayCall.objects.filter(job__batch=batch, outcome="ok")
                .values("job").annotate(n=Count("id")).filter(n__gt=1).exists())
    assert PromptRecord.objects.filter(job__batch=batch).count() == 20
    # Every call the gateway received is in the ledger, except the ones in flight on the
    # killed worker: claimed attempts with no ledger row, which the gateway may have answered.
    received = requests.get(f"http://127.0.0.1:{port}/_sim/stats", timeout=5).json()["received"]
    ledger = GatewayCall.objects.filter(job__batch=batch).count()
    unrecorded = sum(job.attempts - job.recorded for job in batch.jobs.annotate(
        recorded=Count("calls")).filter(attempts__gt=F("recorded")))
    assert ledger <= received <= ledger + unrecorded
