"""The real thing: a Celery worker process, the simulator process, the real broker and
database (Redis and PostgreSQL in CI), and injected faults."""

import os
import subprocess
import sys

import pytest
import requests

from grokweb.celery import app
from prompts.models import GatewayCall, GenerationJob
from prompts.pipeline.creation import JobSpec, batch_create
from prompts.pipeline.keys import gateway_key_add
from tests.processes import ROOT, database_url, free_port, wait_until

KEY = "sim-e2e-key-000000000001"
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]








@pytest.fixture
def processes():
    started = []
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(),
           "GATEWAY_BASE_URL": f"http://127.0.0.1:{port}/v1",
           "GATEWAY_BACKOFF_BASE_S": "0.05", "GATEWAY_BACKOFF_CAP_S": "0.5",
           "DJANGO_SETTINGS_MODULE": "grokweb.settings"}

    def spawn(*args):
        process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(process)
        return process

    spawn("manage.py", "gateway_simulator", "--port", str(port), "--keys", KEY,
          "--fault-rate", "0.1", "--latency-ms", "20", "--seed", "5")
    sim = f"http://127.0.0.1:{port}"

    def sim_up():
        try:
            return requests.get(f"{sim}/_sim/stats", timeout=1).ok
        except requests.ConnectionError:
            return False

    wait_until(sim_up, 30, "the simulator")
    app.control.purge()
    spawn("-m", "celery", "-A", "grokweb", "worker", "--pool", "threads", "--concurrency", "8",
          "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle")
    yield sim
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_it_finishes_30_jobs_through_faults_and_bills_every_answered_call(processes, crew,
                                                                         project):
    gateway_key_add(name="e2e", secret=KEY, activate=True)
    specs = [JobSpec(brief=f"Product shot {n}: ceramic teapot on linen, soft window light")
             for n in range(30)]
    batch = batch_create(user=crew.member, project=project, specs=specs)

    def all_final():
        return not batch.jobs.exclude(status__in=GenerationJob.FINAL_STATUSES).exists()

    wait_until(all_final, 180, "30 jobs to finish")
    statuses = list(batch.jobs.values_list("status", flat=True))
    assert statuses.count("succeeded") == 30, statuses
    stats = requests.get(f"{processes}/_sim/stats", timeout=5).json()
    ledger = GatewayCall.objects.filter(job__batch=batch).count()
    assert ledger == stats["received"]
    assert sum(stats["faults"].values()) > 0, "the run should have met injected faults"
    assert GatewayCall.objects.filter(job__batch=batch, outcome="transient").count() == sum(
        stats["faults"].values())
