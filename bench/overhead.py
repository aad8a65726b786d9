"""Benchmark: GrokWeb's own time around a gateway call, with a gateway that answers at once.

    .venv/bin/python bench/overhead.py [--jobs 500] [--warmup 50] [--port 8906]
    BENCH_SECTIONS=1 .venv/bin/python bench/overhead.py   # also times job_run's steps

Everything runs as in production, measured from outside: a warm web process (gunicorn,
DEBUG off), a Celery worker process (threads pool, 8 threads), PostgreSQL (grokweb_tp) and
Redis db 7 unless DATABASE_URL / REDIS_URL say otherwise. Jobs are submitted one at a time
with `POST /api/v1/jobs` (a personal API token, keep-alive), each after the previous one
finished. The simulator runs at 0 ms latency in this process, with two hooks that stamp,
per request id, when the request arrived and when its answer was written (a subclass of its
handler; no change to the simulator). The worker stamps, with Celery's task signals, when
each task started and when it returned (after its transaction committed). Reported per
job, p50 / p99:

  API request → gateway received: from sending the POST to the request reaching the gateway;
  gateway answered → committed: from the answer being written to the task returning after
  its COMMIT (the record, the ledger row, the rollup and the job's final state).

Goals: API request → gateway p50 ≤ 10 ms, p99 ≤ 25 ms; answered → committed p50 ≤ 10 ms,
p99 ≤ 50 ms.
"""

import argparse
import json
import os
import shlex
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "drills"))
import harness  # noqa: E402

DONE_LIST = "bench:overhead:done"
WEB_PORT_OFFSET = 1  # gunicorn listens on --port + 1
# Production mode for the web and the worker: DEBUG off keeps no query log.
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "bench-overhead-secret-key-not-for-production-0123456789",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_SECURE_COOKIES": "0",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "GATEWAY_RPM": "0",
    "GATEWAY_TPM": "0",
    "API_RATE_LIMIT_PER_MINUTE": "100000",
}


def run_worker() -> None:
    """The worker process: a normal worker plus two timestamps per task in Redis."""
    harness.setup()
    import redis
    from celery.signals import task_postrun, task_prerun
    from django.conf import settings

    from grokweb.celery import app

    client = redis.Redis.from_url(settings.REDIS_URL)
    started = threading.local()

    @task_prerun.connect(weak=False)
    def stamp_start(task_id=None, args=None, **kwargs):
        started.at = time.time()

    @task_postrun.connect(weak=False)
    def stamp_end(task_id=None, args=None, retval=None, **kwargs):
        end = time.time()
        client.rpush(DONE_LIST, json.dumps({"job": args[0], "start": started.at, "end": end,
                                            "status": retval}))

    if os.environ.get("BENCH_SECTIONS"):
        _stamp_sections()
    app.worker_main(["worker", "--pool", "threads", "--concurrency",
                     os.environ.get("BENCH_CONCURRENCY", "8"), "-n", "overhead@%h",
                     "--loglevel", "WARNING", "--without-gossip", "--without-mingle"])


def _stamp_sections() -> None:
    """BENCH_SECTIONS=1: time job_run's steps in the worker; p50s written at exit."""
    import atexit

    from prompts.pipeline import client as pipeline_client
    from prompts.pipeline import run

    timings: dict[str, list[float]] = {}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        return wrapper

    for name in ("job_run", "_preflight", "_wait_for_slot", "_claim", "_payload",
                 "after_answer"):
        setattr(run, name, timed(name, getattr(run, name)))
    client = pipeline_client.gateway_client()
    client.chat = timed("chat", client.chat)

    def dump():
        with open(harness.SCRATCH / "overhead-sections.txt", "w") as out:
            for name, values in timings.items():
                out.write(f"{name} p50 {statistics.median(values):.2f} ms n={len(values)}\n")
    atexit.register(dump)


def timed_simulator(port: int):
    from prompts.gateway.simulator import SimulatorConfig, SimulatorHandler, start_simulator

    received, answered = {}, {}

    class TimedHandler(SimulatorHandler):
        def _chat(self) -> None:
            received[self.gateway_id] = time.time()
            super()._chat()

        def _send(self, status, data, content_type, headers) -> None:
            super()._send(status, data, content_type, headers)
            if self.path == "/v1/chat/completions":
                answered[self.gateway_id] = time.time()

    handle = start_simulator(SimulatorConfig(keys=[harness.KEY_SECRET], latency_ms=0), port=port)
    handle._server.RequestHandlerClass = TimedHandler
    return handle, received, answered


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _start_web(procs, port: int) -> str:
    import requests

    procs.spawn("-m", "gunicorn", "grokweb.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", "1", "--worker-class", "gthread", "--threads", "4",
                "--keep-alive", "30", "--log-level", "warning", log="web-overhead.log")
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{url}/healthz", timeout=1).status_code in (200, 503)
        except requests.RequestException:
            return False

    harness.wait_until(up, 60, "the web process")
    return url


def _measure(args, user, project, sim_url: str):
    """Submit jobs one at a time through the API; returns one row of stamps per job."""
    import redis
    import requests
    from django.conf import settings

    from accounts.services import api_token_create

    _, token = api_token_create(user=user, name=f"overhead {time.time():.0f}")
    queue = redis.Redis.from_url(settings.REDIS_URL)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    rows = []
    # The same encryption keys as this process, which stored the gateway key.
    env = {**PRODUCTION_ENV, "GATEWAY_BASE_URL": sim_url,
           "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS)}
    with harness.Processes(env=env) as procs:
        procs.spawn("bench/overhead.py", "--worker", log="worker-overhead.log")
        from grokweb.celery import app

        harness.wait_until(lambda: any("overhead" in next(iter(r))
                                       for r in app.control.ping(timeout=0.5) or []),
                           60, "the worker")
        web = _start_web(procs, args.port + WEB_PORT_OFFSET)
        for n in range(args.warmup + args.jobs):
            sent = time.time()
            response = session.post(f"{web}/api/v1/jobs", json={
                "project": project.id, "brief": f"Overhead #{n}: a teal bicycle, studio light"})
            replied = time.time()
            response.raise_for_status()
            job_id = response.json()["id"]
            _, raw = queue.blpop(DONE_LIST, timeout=30)
            done = json.loads(raw)
            while done["job"] != job_id:  # a stray message from an earlier run
                _, raw = queue.blpop(DONE_LIST, timeout=30)
                done = json.loads(raw)
            if n >= args.warmup:
                rows.append((job_id, sent, replied, done))
            time.sleep(0.005)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--port", type=int, default=8906)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker()
        return 0
    command = shlex.join([".venv/bin/python", "bench/overhead.py", *sys.argv[1:]])
    # The API token's HMAC is keyed on the secret key: this process makes the token.
    harness.setup(GATEWAY_RPM="0", GATEWAY_TPM="0",
                  DJANGO_SECRET_KEY=PRODUCTION_ENV["DJANGO_SECRET_KEY"])
    harness.empty_redis()
    from prompts.models import GatewayCall, GenerationJob

    user, project, _ = harness.seed("overhead")
    sim, received, answered = timed_simulator(args.port)
    try:
        rows = _measure(args, user, project, sim.base_url)
    finally:
        sim.stop()
    calls = dict(GatewayCall.objects.filter(job_id__in=[r[0] for r in rows])
                 .values_list("job_id", "request_id"))
    statuses = set(GenerationJob.objects.filter(pk__in=[r[0] for r in rows])
                   .values_list("status", flat=True))
    to_gateway, to_commit, web, to_task, task_to_gateway = [], [], [], [], []
    for job_id, sent, replied, done in rows:
        request_id = calls[job_id]
        to_gateway.append((received[request_id] - sent) * 1000)
        to_commit.append((done["end"] - answered[request_id]) * 1000)
        web.append((replied - sent) * 1000)
        to_task.append((done["start"] - replied) * 1000)
        task_to_gateway.append((received[request_id] - done["start"]) * 1000)

    def line(label, values, goal=""):
        return (f"| {label} | {statistics.median(values):.1f} | {percentile(values, 99):.1f} "
                f"| {goal} |")

    print(f"command:\n  {command}\nmachine: {harness.machine()}")
    print(f"jobs measured: {len(rows)} (after {args.warmup} warm-up); statuses: {statuses}")
    print("| interval (ms) | p50 | p99 | goal |\n|---|---|---|---|")
    print(line("**API request → gateway received**", to_gateway, "p50 ≤ 10, p99 ≤ 25"))
    print(line("  POST /api/v1/jobs answered (auth, validate, INSERT, COMMIT, publish)", web))
    print(line("  answered → task started in the worker", to_task))
    print(line("  task started → gateway received (checks, limiter, claim, payload)",
               task_to_gateway))
    print(line("**gateway answered → committed**", to_commit, "p50 ≤ 10, p99 ≤ 50"))
    ok = (statistics.median(to_gateway) <= 10 and percentile(to_gateway, 99) <= 25
          and statistics.median(to_commit) <= 10 and percentile(to_commit, 99) <= 50)
    print("goals met" if ok else "GOALS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
