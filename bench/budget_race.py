"""Benchmark: 40 jobs submitted at once through the API against a small monthly budget.

    .venv/bin/python bench/budget_race.py [--jobs 40] [--budget 0.02] [--threads 8]
    .venv/bin/python bench/budget_race.py --row-lock   # reserve with a row lock, not Redis

The measurement the issue made on main before reservations (¥0.054945 spent against ¥0.03,
83% past the budget), repeated: a budget, then `--jobs` POST /api/v1/jobs from 8 clients at
once, then `--threads` worker threads running every queued job at the same time against
the bundled simulator (150 ms per call, so many calls are at the gateway together), the
sweeper resuming waiting jobs whose maximum fits, until nothing moves. PostgreSQL and
Redis (the harness's database and Redis db, or DATABASE_URL / REDIS_URL).
"""

import argparse
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "drills"))
import harness  # noqa: E402


def submit(token: str, project_id: int, n: int, clients: int = 8) -> list[int]:
    from django.db import connections
    from django.test import Client

    start = threading.Barrier(clients)

    def post(numbers):
        client = Client()
        start.wait()
        ids = []
        for number in numbers:
            response = client.post("/api/v1/jobs", data=json.dumps({
                "project": project_id, "brief": f"Race #{number}: a tin robot in the rain",
                "max_tokens": 256}), content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}")
            assert response.status_code == 202, response.content
            ids.append(response.json()["id"])
        connections.close_all()
        return ids

    with ThreadPoolExecutor(clients) as pool:
        return sorted(i for ids in pool.map(post, [range(k, n, clients) for k in range(clients)])
                      for i in ids)


def work(job_ids: list[int], threads: int) -> None:
    from django.db import connections

    from prompts.pipeline.run import job_run

    def run(mine):
        for job_id in mine:
            job_run(job_id)
        connections.close_all()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, [job_ids[k::threads] for k in range(threads)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--budget", default="0.02")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--row-lock", action="store_true")
    args = parser.parse_args()
    harness.setup(GATEWAY_RPM="0", GATEWAY_TPM="0")
    harness.empty_redis()
    harness.fresh_ledger()
    from django.conf import settings
    from django.db.models import Count, Sum
    from django.test.utils import setup_test_environment

    from accounts.models import Budget
    from accounts.services import api_token_create
    from prompts.gateway.simulator import SimulatorConfig, start_simulator
    from prompts.models import DailyUsage, GenerationJob
    from prompts.pipeline.client import gateway_client
    from prompts.pipeline.sweeper import jobs_sweep
    from prompts.usage.budgets import spent_in_month

    setup_test_environment()
    settings.API_RATE_LIMIT_PER_MINUTE = 100_000
    if args.row_lock:
        settings.REDIS_URL = ""
    user, project, _key = harness.seed("budget race")
    Budget.objects.filter(team_id=project.team_id).delete()
    Budget.objects.create(team_id=project.team_id, monthly_limit=Decimal(args.budget))
    sim = start_simulator(SimulatorConfig(keys=[harness.KEY_SECRET], latency_ms=150))
    settings.GATEWAY_BASE_URL = sim.base_url
    gateway_client.cache_clear()
    try:
        token = api_token_create(user=user, name="budget race")[1]
        job_ids = submit(token, project.pk, args.jobs)
        rounds = 0
        while rounds < 30:
            rounds += 1
            work(list(GenerationJob.objects.filter(pk__in=job_ids, status="queued")
                      .values_list("id", flat=True)), args.threads)
            if not jobs_sweep()["resumed"]:
                break
        calls = sim.stats()["received"]
    finally:
        sim.stop()
    statuses = dict(GenerationJob.objects.filter(pk__in=job_ids).values_list("status")
                    .annotate(n=Count("id")).values_list("status", "n"))
    spent = DailyUsage.objects.filter(team_id=project.team_id).aggregate(s=Sum("cost"))["s"]
    month = spent_in_month(team_id=project.team_id)
    budget = Decimal(args.budget)
    print(f"machine: {harness.machine()}")
    print(f"reservations: {'row lock (PostgreSQL)' if args.row_lock else 'Redis script'}; "
          f"{args.jobs} jobs through the API at once, {args.threads} worker threads, "
          f"{rounds} round(s) of running and resuming")
    print(f"budget ¥{budget}, spent ¥{spent} ({spent / budget:.1%} of it), still held "
          f"¥{month.reserved_team}; gateway calls {calls}; jobs {statuses}")
    ok = spent <= budget and month.reserved_team == 0
    print("goal met: spent at most the budget" if ok else "GOAL MISSED: spent past the budget")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
