"""Shared by bench/throughput.py, bench/overhead.py and the fault drills.

Everything runs as it does in production, on loopback: the bundled gateway simulator and
Celery workers as separate processes, PostgreSQL and Redis. By default a private database
(grokweb_tp, created if missing) and Redis db 7, which the harness empties at the start of
each run; override with DATABASE_URL / REDIS_URL. Call `setup()` before importing models.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
SCRATCH = Path(os.environ.get("BENCH_SCRATCH", "/tmp/tp"))
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/grokweb_tp"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
KEY_SECRET = "sim-bench-key-0000000000000001"
PRICE = ("1.50", "6.00")  # ¥ per 1M input / output tokens, an example price


def setup(**env: str) -> None:
    """Point this process (and the processes it starts) at the bench database and Redis,
    migrate, and set Django up. `env` adds settings such as GATEWAY_RPM."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.update(env)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    _create_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _create_database(url: str) -> None:
    parsed = urlparse(url)
    if not parsed.scheme.startswith("postgres"):
        return
    import psycopg

    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def empty_redis(url: str | None = None) -> None:
    """Empty the bench's own Redis db (never FLUSHALL: other dbs belong to others)."""
    import redis

    redis.Redis.from_url(url or os.environ["REDIS_URL"]).flushdb()


def seed(label: str):
    """A team, a member, a project, the simulator's key (active) and a price. Returns
    (member, project, key)."""
    from django.utils import timezone

    from accounts.models import GatewayKey, Membership, Team, User
    from prompts.models import ModelPrice, Project
    from prompts.pipeline.keys import gateway_key_activate, gateway_key_add

    team, _ = Team.objects.get_or_create(name="Throughput Bench")
    user, created = User.objects.get_or_create(username="bench-member")
    if created:
        user.set_password("bench-pass-123")
        user.save()
    Membership.objects.get_or_create(user=user, team=team,
                                     defaults={"role": Membership.Role.MEMBER})
    project, _ = Project.objects.get_or_create(team=team, name=f"{label}")
    if not ModelPrice.objects.filter(model="grok-build-0.1").exists():
        ModelPrice.objects.create(model="grok-build-0.1", input_per_mtok=PRICE[0],
                                  output_per_mtok=PRICE[1],
                                  effective_from=timezone.now() - timedelta(days=1))
    key = GatewayKey.objects.filter(name="bench").first()
    if key is None:
        key = gateway_key_add(name="bench", secret=KEY_SECRET)
    if key.status != GatewayKey.Status.ACTIVE:
        gateway_key_activate(key=key)  # a drill may have rotated it away
    GatewayKey.objects.exclude(pk=key.pk).update(status=GatewayKey.Status.RETIRED)
    return user, project, key


def make_batch(user, project, n: int, label: str):
    from prompts.pipeline.creation import JobSpec, batch_create

    specs = [JobSpec(brief=f"{label} #{i}: a paper lantern over a night market, rain, "
                           f"shallow depth of field") for i in range(n)]
    return batch_create(user=user, project=project, specs=specs, title=label)


@dataclass
class Processes:
    """Child processes of one run; every one is stopped by its own pid at the end."""

    env: dict = field(default_factory=dict)
    children: list = field(default_factory=list)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()

    def spawn(self, *args: str, log: str, **env: str) -> subprocess.Popen:
        full_env = {**os.environ, **self.env, **env}
        with open(SCRATCH / log, "ab") as out:
            child = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=full_env,
                                     stdout=out, stderr=subprocess.STDOUT)
        self.children.append(child)
        return child

    def simulator(self, port: int, *options: str, log: str = "simulator.log") -> subprocess.Popen:
        """The simulator, keeping its usage log in SCRATCH/usage-<port>.jsonl: a simulator
        started again on the same port serves what it billed before."""
        child = self.spawn("manage.py", "gateway_simulator", "--port", str(port),
                           "--keys", KEY_SECRET, "--log-file",
                           str(SCRATCH / f"usage-{port}.jsonl"), *options, log=log,
                           LOG_LEVEL="INFO")
        wait_until(lambda: sim_stats(port) is not None, 30, "the simulator")
        return child

    def worker(self, name: str, concurrency: int, **env: str) -> subprocess.Popen:
        child = self.spawn("-m", "celery", "-A", "grokweb", "worker", "--pool", "threads",
                           "--concurrency", str(concurrency), "-n", f"{name}@%h",
                           "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                           log=f"worker-{name}.log", **env)
        from grokweb.celery import app

        def ready():
            replies = app.control.ping(timeout=0.5) or []
            return any(name in next(iter(reply)) for reply in replies)

        wait_until(ready, 60, f"worker {name}")
        return child

    def beat(self, **env: str) -> subprocess.Popen:
        schedule = SCRATCH / "celerybeat-schedule"
        for stale in SCRATCH.glob("celerybeat-schedule*"):
            stale.unlink()
        return self.spawn("-m", "celery", "-A", "grokweb", "beat", "--loglevel", "WARNING",
                          "-s", str(schedule), log="beat.log", **env)

    @staticmethod
    def stop(child: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        child.send_signal(sig)
        child.wait(timeout=30)


def sim_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def sim_stats(port: int) -> dict | None:
    import requests

    try:
        return requests.get(f"{sim_url(port)}/_sim/stats", timeout=2).json()
    except requests.RequestException:
        return None


def sim_post(port: int, path: str, body) -> dict:
    import requests

    response = requests.post(f"{sim_url(port)}{path}", data=json.dumps(body), timeout=5)
    response.raise_for_status()
    return response.json()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


def unfinished(batch) -> int:
    from prompts.models import GenerationJob

    return batch.jobs.exclude(status__in=GenerationJob.FINAL_STATUSES).count()


def finished_count(batch) -> int:
    from prompts.models import GenerationJob

    return batch.jobs.filter(status__in=GenerationJob.FINAL_STATUSES).count()


def wait_batch(batch, timeout: float, progress_every: float = 10) -> bool:
    """Wait until every job of the batch is final; True if it got there in time."""
    deadline = time.monotonic() + timeout
    shown = time.monotonic()
    while time.monotonic() < deadline:
        left = unfinished(batch)
        if not left:
            return True
        if time.monotonic() - shown >= progress_every:
            print(f"  … {left} job(s) not finished yet", flush=True)
            shown = time.monotonic()
        time.sleep(0.1)
    return False


def ledger_report(batch, gateway_received: int, gateway_answered: int) -> dict:
    """The figures every drill reports, from the database and the gateway's own counters."""
    from django.db.models import Count, Q

    from prompts.models import GatewayCall, PromptRecord

    statuses = Counter(dict(batch.jobs.values_list("status").annotate(n=Count("id"))))
    calls = GatewayCall.objects.filter(job__batch=batch)
    per_job = calls.values("job").annotate(ok=Count("id", filter=Q(outcome="ok")))
    records = PromptRecord.objects.filter(job__batch=batch).values("job").annotate(n=Count("id"))
    return {
        "jobs": sum(statuses.values()),
        "statuses": dict(statuses),
        "lost": sum(n for status, n in statuses.items()
                    if status not in ("succeeded", "failed", "rejected", "cancelled")),
        "run_twice": per_job.filter(ok__gt=1).count() + records.filter(n__gt=1).count(),
        "ledger_rows": calls.count(),
        "ledger_rows_answered": calls.filter(http_status__isnull=False).count(),
        "ledger_rows_no_answer": calls.filter(http_status__isnull=True).count(),
        "ledger_by_outcome": dict(calls.values_list("outcome").annotate(n=Count("id"))),
        "gateway_received": gateway_received,
        "gateway_answered": gateway_answered,
    }


def machine() -> str:
    import platform

    load = os.getloadavg()
    return (f"{os.cpu_count()} vCPU, Python {platform.python_version()}, "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


# --- Fault drills --------------------------------------------------------------------------

# Drills shorten the lease (GATEWAY_TIMEOUT_S 10 → lease 80 s) and sweep every 5 s, so a
# drill that depends on the sweeper ends in minutes; production keeps 120 s and 30 s.
DRILL_ENV = {"GATEWAY_TIMEOUT_S": "10", "SWEEP_INTERVAL_S": "5"}


@dataclass
class DrillRun:
    """What a drill's action gets: the processes, the batch and the simulator's port."""

    procs: Processes
    batch: object
    port: int
    simulator: subprocess.Popen
    workers: dict
    env: dict
    notes: list = field(default_factory=list)
    gateway_before: dict = field(default_factory=lambda: {"received": 0, "answered": 0})

    def wait_finished(self, n: int, timeout: float = 120) -> None:
        wait_until(lambda: finished_count(self.batch) >= n, timeout, f"{n} finished jobs")

    def note(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.notes.append(f"{stamp} {text}")
        print(f"  {stamp} {text}", flush=True)


def fresh_ledger() -> None:
    """Empty the bench database's jobs, ledger and reconciliations, so that reconciling today
    against this run's simulator (whose log starts empty) compares this run only."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE prompts_reconciliationitem, prompts_reconciliationrun, "
            "prompts_gatewaycall, prompts_dailyusage, prompts_promptrecord, "
            "prompts_generationjob, prompts_batch CASCADE")


def reconcile_with_simulator(batch, port: int, since) -> dict:
    """Reconcile since..today against the simulator's own usage log (pulled, as from a real
    gateway), once the dead worker's calls are unknown; then compare the team's ¥ with the
    log priced at our price, to the fen. The simulator keeps its log in a file, so a
    simulator stopped and started again in a drill still serves all of it."""
    from decimal import Decimal

    from django.conf import settings
    from django.db.models import Sum
    from django.utils import timezone

    from prompts.gateway.simulator import DEFAULT_LOG_TOKEN
    from prompts.models import DailyUsage, GatewayCall
    from prompts.usage.ledger import call_cost, price_in_force
    from prompts.usage.reconciliation.runs import reconciliation_run

    # A row left in flight by the killed worker becomes unknown one lease after it started.
    wait_until(lambda: not GatewayCall.objects.filter(job__batch=batch, state="in_flight")
               .exists(), 180, "calls left in flight to be marked unknown")
    settings.GATEWAY_BASE_URL = f"{sim_url(port)}/v1"
    settings.GATEWAY_LOG_TOKEN = DEFAULT_LOG_TOKEN
    import requests

    log = requests.get(f"{sim_url(port)}/_sim/log", timeout=30).json()
    run = reconciliation_run(since=since, until=timezone.localdate(), trigger="drill")
    billed = Decimal("0.000000")
    for entry in log:
        price = price_in_force(entry["model_name"], timezone.now())
        billed += call_cost(price, entry["prompt_tokens"], entry["completion_tokens"])
    team = DailyUsage.objects.filter(team_id=batch.project.team_id).aggregate(
        cost=Sum("cost"))["cost"] or Decimal(0)
    return {"run": run.pk, "status": run.status, "error": run.error, "matched": run.matched,
            "token_drift": run.token_drift, "gateway_only": run.gateway_only,
            "ledger_only": run.ledger_only, "settled_unknown": run.settled_unknown,
            "settled_not_billed": run.settled_not_billed,
            "yuan_gateway": run.yuan_gateway, "yuan_ledger": run.yuan_ledger,
            "difference": run.difference, "team_yuan": team.quantize(Decimal("0.000001")),
            "log_yuan": billed, "equal": run.status == "ok" and run.difference == 0
            and team.quantize(Decimal("0.000001")) == billed}


def drill(name: str, action, *, port: int, jobs: int = 200, rpm: int = 600,
          latency_ms: int = 300, workers: tuple = ("a",), concurrency: int = 8,
          timeout: float = 600, **env: str) -> dict:
    """Run one fault drill: simulator, workers and beat as processes, a batch of `jobs`,
    `action(run)` in the middle, then wait for the batch, count, and reconcile the ledger
    against the simulator's usage log."""
    env = {**DRILL_ENV, "GATEWAY_RPM": str(rpm), **env}
    setup(**env)
    empty_redis()
    fresh_ledger()
    log = SCRATCH / f"simulator-{name}.log"
    log.unlink(missing_ok=True)
    (SCRATCH / f"usage-{port}.jsonl").unlink(missing_ok=True)  # a fresh gateway log
    user, project, _ = seed("drills")
    from django.utils import timezone

    first_day = timezone.localdate()
    started = time.monotonic()
    with Processes(env={**env, "GATEWAY_BASE_URL": f"{sim_url(port)}/v1"}) as procs:
        sim = procs.simulator(port, "--rpm", str(rpm), "--latency-ms", str(latency_ms),
                              "--seed", "3", log=log.name)
        running = {label: procs.worker(f"{name}-{label}", concurrency) for label in workers}
        procs.beat()
        batch = make_batch(user, project, jobs, f"drill {name} {time.strftime('%H:%M:%S')}")
        run = DrillRun(procs=procs, batch=batch, port=port, simulator=sim, workers=running,
                       env=env)
        action(run)
        completed = wait_batch(batch, timeout)
        stats = sim_stats(run.port) or {"received": 0, "answered": 0}
        seconds = round(time.monotonic() - started, 1)
        reconciled = reconcile_with_simulator(batch, run.port, first_day)
    received = run.gateway_before["received"] + stats["received"]
    answered = run.gateway_before["answered"] + stats["answered"]
    report = ledger_report(batch, received, answered)
    report.update(completed=completed, seconds=seconds, reconciled=reconciled,
                  unrecorded=unrecorded_attempts(batch), notes=run.notes)
    return report


def answered_in_log(name: str) -> int:
    """Chat calls a simulator answered, from its log (one line per answer written)."""
    path = SCRATCH / name
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return sum("POST /v1/chat/completions" in line for line in lines)


def unrecorded_attempts(batch) -> dict[int, int]:
    """Jobs with claimed attempts that have no ledger row: the worker died between the claim
    and writing the attempt's row, before anything was sent. {job id: attempts}."""
    from django.db.models import Count, F

    rows = (batch.jobs.annotate(recorded=Count("calls")).filter(attempts__gt=F("recorded"))
            .values_list("id", "attempts", "recorded"))
    return {job_id: attempts - recorded for job_id, attempts, recorded in rows}


def print_report(title: str, command: str, report: dict) -> bool:
    print(f"\n{title}\ncommand:\n  {command}\nmachine: {machine()}")
    for key in ("jobs", "statuses", "completed", "seconds", "lost", "run_twice", "ledger_rows",
                "ledger_rows_answered", "ledger_rows_no_answer", "ledger_by_outcome",
                "gateway_received", "gateway_answered"):
        print(f"  {key}: {report[key]}")
    unrecorded = sum(report["unrecorded"].values())
    print(f"  attempts claimed but with no ledger row (worker died before writing it): "
          f"{unrecorded}")
    reconciled = report["reconciled"]
    print("  reconciliation against the gateway's usage log: " + ", ".join(
        f"{key} {reconciled[key]}" for key in (
            "run", "matched", "token_drift", "gateway_only", "ledger_only", "settled_unknown",
            "settled_not_billed", "yuan_gateway", "yuan_ledger", "difference")))
    print(f"  team ¥ {reconciled['team_yuan']} / the simulator's log priced ¥"
          f"{reconciled['log_yuan']}")
    equal = reconciled["equal"]
    print("  ledger = gateway after reconciliation" if equal else
          f"  LEDGER ≠ GATEWAY after reconciliation ({reconciled['error'] or 'see above'})")
    ok = (report["completed"] and report["lost"] == 0 and report["run_twice"] == 0
          and report["statuses"].get("succeeded", 0) == report["jobs"] and equal)
    print("goal met: 0 lost, 0 run twice, every job succeeded without resubmission, "
          "ledger = gateway after reconciliation" if ok else "GOAL MISSED (see above)")
    return ok
