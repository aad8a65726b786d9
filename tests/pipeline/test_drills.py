"""Fault drills small enough for CI: real worker processes, beat, the simulator process,
the real broker and database (Redis and PostgreSQL in CI). The full-size drills are
bench/drills/*.py."""

import io
import os
import signal
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from django.db.models import Count, Sum
from django.utils import timezone

from grokweb.celery import app
from prompts.gateway.simulator import DEFAULT_LOG_TOKEN
from prompts.models import (
    DailyUsage,
    GatewayCall,
    GenerationJob,
    PromptRecord,
    ReconciliationRun,
)
from prompts.pipeline.creation import JobSpec, batch_create
from prompts.pipeline.keys import gateway_key_add
from prompts.pipeline.sweeper import mark_unknown
from prompts.usage.ledger import call_cost
from tests.processes import ROOT, database_url, free_port, wait_until

KEY = "sim-drill-key-000000000001"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL,
                       reason="several workers share a Redis broker; embedded runs one worker"),
]


def sim_config(port: int, **changes) -> None:
    requests.post(f"http://127.0.0.1:{port}/_sim/config", json=changes, timeout=5
                  ).raise_for_status()


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


def test_it_finishes_every_job_once_and_reconciles_to_the_fen_when_a_worker_is_killed(
        cluster, crew, project, price, settings):
    port, workers = cluster
    gateway_key_add(name="drill", secret=KEY, activate=True)
    specs = [JobSpec(brief=f"Drill {n}: a copper kettle on a stove, morning haze")
             for n in range(20)]
    batch = batch_create(user=crew.member, project=project, specs=specs)
    wait_until(lambda: batch.jobs.filter(status="succeeded").count() >= 5, 60, "5 jobs done")
    # Slow the gateway down until every thread of both workers waits at it, so the worker
    # is killed with calls in flight (the simulator still answers and bills them).
    sim_config(port, latency_ms=3000)
    wait_until(lambda: GatewayCall.objects.filter(job__batch=batch, state="in_flight").count()
               >= 8, 60, "8 calls at the gateway")
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait(timeout=10)
    killed_at = timezone.now()
    sim_config(port, latency_ms=400)

    # The survivor drains the queue; the dead worker's jobs keep their lease and their
    # write-ahead rows stay in flight (the simulator still answers and bills those calls).
    def only_the_dead_left():
        # The survivor's own calls sent before the kill (3 s each) must have come back
        # first: until then they look like the dead worker's.
        if timezone.now() < killed_at + timedelta(seconds=5):
            return False
        open_jobs = batch.jobs.exclude(status__in=GenerationJob.FINAL_STATUSES)
        dead = open_jobs.filter(status="running", calls__state="in_flight",
                                calls__started_at__lt=killed_at).distinct()
        return open_jobs.count() == dead.count()

    wait_until(only_the_dead_left, 60, "the survivor to finish the rest")
    orphans = batch.jobs.exclude(status__in=GenerationJob.FINAL_STATUSES)
    orphaned_calls = set(GatewayCall.objects.filter(job__in=orphans, state="in_flight")
                         .values_list("id", flat=True))
    # Skip their lease (190 s in production): their calls become unknown, and the sweeper
    # in beat re-queues the jobs now.
    assert mark_unknown(timezone.now() + timedelta(seconds=settings.JOB_LEASE_S)) == len(
        orphaned_calls)
    orphans.update(lease_until=timezone.now() - timedelta(seconds=1))

    wait_until(lambda: not batch.jobs.exclude(status__in=GenerationJob.FINAL_STATUSES).exists(),
               120, "every job to finish")
    assert batch.jobs.filter(status="succeeded").count() == 20
    # Never run twice: one successful call and one record per job.
    assert not (GatewayCall.objects.filter(job__batch=batch, outcome="ok")
                .values("job").annotate(n=Count("id")).filter(n__gt=1).exists())
    assert PromptRecord.objects.filter(job__batch=batch).count() == 20
    # Every call the gateway received has a ledger row, written before it was sent.
    stats = requests.get(f"http://127.0.0.1:{port}/_sim/stats", timeout=5).json()
    assert GatewayCall.objects.filter(job__batch=batch).count() >= stats["received"]
    assert orphaned_calls, "the worker was killed with no call in flight: nothing to reconcile"

    # Reconciliation against the simulator's own log settles the unknown calls: the team's ¥
    # is then what the gateway billed, to the fen.
    settings.GATEWAY_BASE_URL = f"http://127.0.0.1:{port}/v1"
    settings.GATEWAY_LOG_TOKEN = DEFAULT_LOG_TOKEN
    today = timezone.localdate()
    out = io.StringIO()
    call_command("gateway_reconcile", "--since", str(today - timedelta(days=1)),
                 "--until", str(today), "--pull", stdout=out)
    assert not GatewayCall.objects.filter(pk__in=orphaned_calls, state="unknown").exists()
    run = ReconciliationRun.objects.get()
    assert run.settled_unknown + run.settled_not_billed == len(orphaned_calls)
    assert (run.token_drift, run.gateway_only, run.difference) == (0, 0, Decimal("0"))
    log = requests.get(f"http://127.0.0.1:{port}/_sim/log", timeout=5).json()
    billed = sum(call_cost(price, entry["prompt_tokens"], entry["completion_tokens"])
                 for entry in log)
    team = DailyUsage.objects.filter(team=crew.team).aggregate(cost=Sum("cost"))["cost"]
    assert team.quantize(Decimal("0.000001")) == billed
    assert "difference: ¥0.000000" in out.getvalue()
