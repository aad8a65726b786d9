"""Benchmark: GrokWeb's own time around a gateway call, with a gateway that answers at once.

    .venv/bin/python bench/overhead.py [--jobs 500] [--warmup 50] [--port 8906]

The simulator runs at 0 ms latency in this process, with two hooks that stamp, per request
id, when the request arrived and when its answer was written (no change to the simulator
itself). A Celery worker process (threads pool, 8 threads) runs with two signal hooks that
stamp when each task started and when it returned, i.e. after job_run's transaction
committed. Jobs are created one at a time with `job_create` (validation, INSERT, COMMIT,
apply_async), each after the previous one finished, on PostgreSQL (grokweb_tp) and Redis
db 7 unless DATABASE_URL / REDIS_URL say otherwise. Reported per job, p50 / p99:

  creation → gateway received: from calling job_create to the request arriving;
  gateway answered → committed: from the answer being written to the task returning after
  its COMMIT (the record, the ledger row, the rollup and the job's final state).

Goal: each p50 ≤ 10 ms and p99 ≤ 50 ms.
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

    import prompts.pipeline.creation as jobs

    timings: dict[str, list[float]] = {}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        return wrapper

    for name in ("job_run", "_preflight", "limiter_acquire", "_claim", "_after_answer"):
        setattr(jobs, name, timed(name, getattr(jobs, name)))
    client = jobs.gateway_client()
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
            received[self.request_id] = time.time()
            super()._chat()

        def _send(self, status, data, content_type, headers) -> None:
            super()._send(status, data, content_type, headers)
            if self.path == "/v1/chat/completions":
                answered[self.request_id] = time.time()

    handle = start_simulator(SimulatorConfig(keys=[harness.KEY_SECRET], latency_ms=0), port=port)
    handle._server.RequestHandlerClass = TimedHandler
    return handle, received, answered


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


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
    harness.setup(GATEWAY_RPM="0", GATEWAY_TPM="0")
    harness.empty_redis()
    import redis
    from django.conf import settings

    from prompts.models import GatewayCall, GenerationJob
    from prompts.pipeline.creation import JobSpec, job_create

    user, project, _ = harness.seed("overhead")
    queue = redis.Redis.from_url(settings.REDIS_URL)
    sim, received, answered = timed_simulator(args.port)
    rows = []
    try:
        with harness.Processes(env={"GATEWAY_BASE_URL": sim.base_url, "GATEWAY_RPM": "0",
                                    "GATEWAY_TPM": "0"}) as procs:
            procs.spawn("bench/overhead.py", "--worker", log="worker-overhead.log")
            from grokweb.celery import app

            harness.wait_until(lambda: any("overhead" in next(iter(r))
                                           for r in app.control.ping(timeout=0.5) or []),
                               60, "the worker")
            for n in range(args.warmup + args.jobs):
                created = time.time()
                job = job_create(user=user, project=project,
                                 spec=JobSpec(brief=f"Overhead #{n}: a teal bicycle, studio light"))
                returned = time.time()
                _, raw = queue.blpop(DONE_LIST, timeout=30)
                done = json.loads(raw)
                while done["job"] != job.id:  # a stray message from an earlier run
                    _, raw = queue.blpop(DONE_LIST, timeout=30)
                    done = json.loads(raw)
                if n >= args.warmup:
                    rows.append((job.id, created, returned, done))
                time.sleep(0.005)
    finally:
        sim.stop()
    calls = dict(GatewayCall.objects.filter(job_id__in=[r[0] for r in rows])
                 .values_list("job_id", "request_id"))
    statuses = set(GenerationJob.objects.filter(pk__in=[r[0] for r in rows])
                   .values_list("status", flat=True))
    to_gateway, to_commit, create, to_task, task_to_gateway = [], [], [], [], []
    for job_id, created, returned, done in rows:
        request_id = calls[job_id]
        to_gateway.append((received[request_id] - created) * 1000)
        to_commit.append((done["end"] - answered[request_id]) * 1000)
        create.append((returned - created) * 1000)
        to_task.append((done["start"] - returned) * 1000)
        task_to_gateway.append((received[request_id] - done["start"]) * 1000)

    def line(label, values, goal=""):
        return (f"| {label} | {statistics.median(values):.1f} | {percentile(values, 99):.1f} "
                f"| {goal} |")

    print(f"command:\n  {command}\nmachine: {harness.machine()}")
    print(f"jobs measured: {len(rows)} (after {args.warmup} warm-up); statuses: {statuses}")
    print("| interval (ms) | p50 | p99 | goal |\n|---|---|---|---|")
    print(line("**creation → gateway received**", to_gateway, "p50 ≤ 10, p99 ≤ 50"))
    print(line("  job_create (validate, INSERT, COMMIT, apply_async)", create))
    print(line("  apply_async returned → task started in the worker", to_task))
    print(line("  task started → gateway received (checks, limiter, claim, payload)",
               task_to_gateway))
    print(line("**gateway answered → committed**", to_commit, "p50 ≤ 10, p99 ≤ 50"))
    ok = (statistics.median(to_gateway) <= 10 and percentile(to_gateway, 99) <= 50
          and statistics.median(to_commit) <= 10 and percentile(to_commit, 99) <= 50)
    print("goals met" if ok else "GOALS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
