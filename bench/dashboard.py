"""Benchmark: the usage dashboard, a year-long team report and the CSV export on 1M (or
--rows) ledger rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/grokweb_bench .venv/bin/python bench/dashboard.py
    DATABASE_URL=… .venv/bin/python bench/dashboard.py --rows 10000000

Fills PostgreSQL (once; --rebuild to start again) with --rows GatewayCall rows (default
1,000,000) for 10 users in each of 5 teams per million rows (50 teams at 10M: every team
and user as busy as at 1M) over the last 365 days, with the write-ahead columns (a client
request id per row, the gateway's id, the maximum cost; 0.01% of the rows unknown, as after
dead workers), builds DailyUsage from them with one INSERT … SELECT … GROUP BY (30% of the
successful calls' records accepted), checks the rollup against the ledger, then measures
with the Django test Client (the whole request: middleware, session, queries, template)
over 20 requests each: the member's dashboard and the manager's year-long report, and the
peak memory of streaming the year's CSV export. Prints a Markdown table for
docs/performance.md.
"""

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Budget, Membership, Team, User  # noqa: E402
from prompts.models import DailyUsage, GatewayCall, ModelPrice, Project  # noqa: E402

CALLS = 1_000_000
USERS_PER_TEAM, PROJECTS_PER_TEAM = 10, 4
DAYS = 365
PRICED, UNPRICED = "grok-build-0.1", "grok-experimental"
REQUESTS = 20
PREFIX = "bench-"


def build(calls: int) -> None:
    """Teams, users, projects and a price through the ORM; jobs, calls and the rollup in SQL.
    A fifth of the jobs needed a second attempt."""
    now = timezone.now()
    jobs = calls * 4 // 5
    teams_n = max(5, calls * 5 // CALLS)
    people = teams_n * USERS_PER_TEAM
    with transaction.atomic():
        teams = [Team.objects.create(name=f"{PREFIX}team-{t}") for t in range(teams_n)]
        for t, team in enumerate(teams):
            for u in range(USERS_PER_TEAM):
                user = User.objects.create_user(f"{PREFIX}user-{t}-{u}", password="bench")
                role = Membership.Role.MANAGER if u == 0 else Membership.Role.MEMBER
                Membership.objects.create(user=user, team=team, role=role)
            for p in range(PROJECTS_PER_TEAM):
                Project.objects.create(team=team, name=f"项目 {p}")
        ModelPrice.objects.get_or_create(
            model=PRICED, effective_from=now - timedelta(days=2 * DAYS),
            defaults={"input_per_mtok": 2, "output_per_mtok": 8})
    users = list(User.objects.filter(username__startswith=PREFIX).order_by("id")
                 .values_list("id", flat=True))
    projects = list(Project.objects.filter(team__name__startswith=PREFIX).order_by("id")
                    .values_list("id", "team_id"))
    price_id = ModelPrice.objects.filter(model=PRICED).order_by("effective_from").first().pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        # Job g belongs to user (g % people) and one of that user's team's 4 projects.
        cursor.execute("""
            CREATE TEMP TABLE bench_people AS
            SELECT (n - 1) AS slot, u AS user_id FROM unnest(%s::bigint[]) WITH ORDINALITY AS x(u, n)
        """, [users])
        cursor.execute("""
            CREATE TEMP TABLE bench_projects AS
            SELECT (n - 1) AS slot, p AS project_id, t AS team_id
            FROM unnest(%s::bigint[], %s::bigint[]) WITH ORDINALITY AS x(p, t, n)
        """, [[p for p, _t in projects], [t for _p, t in projects]])
        t0 = time.perf_counter()
        cursor.execute("""
            INSERT INTO prompts_generationjob
              (project_id, created_by_id, brief, image_urls, task_type, temperature, max_tokens,
               model, estimated_input_tokens, status, wait_reason, attempts, repair_attempted,
               error_code, error_message, created_at, started_at, finished_at)
            SELECT pr.project_id, pe.user_id, 'bench brief ' || g, '[]'::jsonb, 'balanced', 0.65,
                   1024, CASE WHEN g %% 53 = 7 THEN %s ELSE %s END, 1500, 'succeeded', '',
                   CASE WHEN g <= %s THEN 2 ELSE 1 END, false, '', '', at, at, at
            FROM (
              SELECT g, %s::timestamptz - (random() * %s) * interval '1 day' AS at
              FROM generate_series(1, %s) AS g
            ) jobs
            JOIN bench_people pe ON pe.slot = g %% %s
            JOIN bench_projects pr ON pr.slot = (g %% %s) / 10 * 4 + (g / %s) %% 4
        """, [UNPRICED, PRICED, calls - jobs, now, DAYS, jobs, people, people, people])
        cursor.execute("SELECT min(id) FROM prompts_generationjob WHERE brief LIKE 'bench brief %%'")
        first_job = cursor.fetchone()[0]
        print(f"  jobs: {jobs:,} in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        # Attempt 1 of the first fifth of the jobs was a transient 503 with no tokens; of the
        # rest, about 3% were moderation rejections (input billed) and 1% invalid requests.
        # 1 row in 10,000 is unknown (its worker died mid-call), held at its maximum cost.
        cursor.execute("""
            INSERT INTO prompts_gatewaycall
              (job_id, attempt, team_id, user_id, project_id, model, http_status, state,
               outcome, error_message, latency_ms, prompt_tokens, completion_tokens, cost,
               price_id, max_cost, client_request_id, request_id, retry_after_honoured,
               started_at, created_at)
            SELECT c.job_id, c.attempt, pr.team_id, j.created_by_id, j.project_id, j.model,
                   CASE WHEN c.unknown THEN NULL ELSE c.http_status END,
                   CASE WHEN c.unknown THEN 'unknown' ELSE 'completed' END,
                   CASE WHEN c.unknown THEN '' ELSE c.outcome END, '',
                   800 + (random() * 4000)::int,
                   CASE WHEN c.unknown THEN 0 ELSE c.prompt_tokens END,
                   CASE WHEN c.unknown THEN 0 ELSE c.completion_tokens END,
                   CASE WHEN j.model = %s AND NOT c.unknown THEN round((c.prompt_tokens * 2.0
                        + c.completion_tokens * 8.0) / 1000000, 6) END,
                   CASE WHEN j.model = %s AND NOT c.unknown THEN %s::bigint END,
                   CASE WHEN j.model = %s THEN 0.011192 END,
                   gen_random_uuid(),
                   CASE WHEN c.unknown THEN '' ELSE 'sim-' || c.job_id || '-' || c.attempt END,
                   false, j.created_at + c.attempt * interval '3 seconds',
                   j.created_at + c.attempt * interval '3 seconds'
            FROM (
              SELECT job_id, attempt, r, (random() < 0.0001) AS unknown,
                     CASE WHEN retried THEN 503 WHEN r < 0.03 THEN 200 WHEN r < 0.04 THEN 400
                          ELSE 200 END AS http_status,
                     CASE WHEN retried THEN 'transient' WHEN r < 0.03 THEN 'moderation'
                          WHEN r < 0.04 THEN 'invalid' ELSE 'ok' END AS outcome,
                     CASE WHEN retried OR (r >= 0.03 AND r < 0.04) THEN 0
                          ELSE 600 + (random() * 2400)::int END AS prompt_tokens,
                     CASE WHEN retried OR r < 0.04 THEN 0
                          ELSE 200 + (random() * 800)::int END AS completion_tokens
              FROM (
                SELECT %s + (g - 1) %% %s AS job_id, (g - 1) / %s + 1 AS attempt,
                       random() AS r,
                       (g <= %s) AS retried
                FROM generate_series(1, %s) AS g
              ) raw
            ) c
            JOIN prompts_generationjob j ON j.id = c.job_id
            JOIN prompts_project pr ON pr.id = j.project_id
        """, [PRICED, PRICED, price_id, PRICED, first_job, jobs, jobs, calls - jobs, calls])
        # The attempt-1 rows of retried jobs are g <= calls - jobs: transient.
        print(f"  ledger: {calls:,} calls in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        cursor.execute("""
            INSERT INTO prompts_dailyusage
              (day, team_id, user_id, project_id, model, calls, ok_calls, moderation_calls,
               failed_calls, prompt_tokens, completion_tokens, cost, waste_cost, unpriced_calls,
               accepted_records)
            SELECT (started_at AT TIME ZONE %s)::date, team_id, user_id, project_id, model,
                   count(*), count(*) FILTER (WHERE outcome = 'ok'),
                   count(*) FILTER (WHERE outcome = 'moderation'),
                   count(*) FILTER (WHERE outcome NOT IN ('ok', 'moderation')),
                   sum(prompt_tokens), sum(completion_tokens), coalesce(sum(cost), 0),
                   coalesce(sum(cost) FILTER (WHERE outcome <> 'ok'), 0),
                   count(*) FILTER (WHERE price_id IS NULL),
                   count(*) FILTER (WHERE outcome = 'ok' AND id %% 10 < 3)
            FROM prompts_gatewaycall
            WHERE user_id = ANY(%s) AND state = 'completed'
            GROUP BY 1, 2, 3, 4, 5
        """, [str(timezone.get_current_timezone()), users])
        print(f"  rollup: {DailyUsage.objects.count():,} DailyUsage rows in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        cursor.execute("ANALYZE")


def reconcile() -> None:
    """The rollup must equal the ledger, or the measurements mean nothing."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT (SELECT count(*) FROM prompts_gatewaycall WHERE state = 'completed'),
                   (SELECT sum(calls) FROM prompts_dailyusage),
                   (SELECT sum(cost) FROM prompts_gatewaycall),
                   (SELECT sum(cost) FROM prompts_dailyusage),
                   (SELECT count(*) FROM prompts_gatewaycall
                     WHERE cost IS NULL AND state = 'completed'),
                   (SELECT sum(unpriced_calls) FROM prompts_dailyusage)
        """)
        calls, rolled_calls, cost, rolled_cost, unpriced, rolled_unpriced = cursor.fetchone()
    assert (calls, cost, unpriced) == (rolled_calls, rolled_cost, rolled_unpriced), "mismatch"
    print(f"  reconciled: {calls:,} calls, ¥{cost}, {unpriced:,} unpriced")


def timed(client: Client, url: str, params: dict) -> tuple[list[float], list[float], int]:
    """Wall time per request, and this process's CPU time (Django's share without the
    database's; less disturbed when other work shares the machine)."""
    for _ in range(2):  # warm-up: connection, template and translation caches
        assert client.get(url, params).status_code == 200
    times, cpu = [], []
    for _ in range(REQUESTS):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, params)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url, params)
    return times, cpu, len(queries.captured_queries)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def export_memory(client: Client, params: dict) -> tuple[float, float, int, int]:
    """Peak Python allocations (tracemalloc) and peak RSS growth (VmHWM, reset first through
    /proc/self/clear_refs) while the year's CSV streams; the body is counted, not kept."""
    Path("/proc/self/clear_refs").write_text("5")
    rss_before = _vm_hwm_mb()
    tracemalloc.start()
    response = client.get(reverse("usage_report_csv"), params)
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20, _vm_hwm_mb() - rss_before, size, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="drop the bench data first")
    parser.add_argument("--rows", type=int, default=CALLS, help="ledger rows (default 1M)")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL=postgres://… (this benchmark is for PostgreSQL).")
    setup_test_environment(debug=False)
    call_command("migrate", verbosity=0)
    if args.rebuild:
        call_command("flush", interactive=False, verbosity=0)
    if GatewayCall.objects.count() != args.rows:
        if GatewayCall.objects.exists():
            sys.exit("The database holds other ledger rows: use --rebuild on a bench database.")
        print("Building the data set…", flush=True)
        t0 = time.perf_counter()
        build(args.rows)
        print(f"  built in {time.perf_counter() - t0:.0f} s")
    reconcile()

    team = Team.objects.get(name=f"{PREFIX}team-0")
    member = User.objects.get(username=f"{PREFIX}user-0-1")
    manager = User.objects.get(username=f"{PREFIX}user-0-0")
    # Budgets as a real team has them: the banner and the dashboard both read them.
    Budget.objects.get_or_create(team=team, user=None, defaults={"monthly_limit": 5000})
    Budget.objects.get_or_create(team=team, user=member, defaults={"monthly_limit": 800})
    today = timezone.localdate()
    year = {"team": team.pk, "since": str(today - timedelta(days=DAYS - 1)),
            "until": str(today)}
    client = Client()
    results = []
    client.force_login(member)
    results.append(("dashboard (member, home page)", 50, *timed(client, reverse("home"), {})))
    client.force_login(manager)
    for group_by in ("user", "day"):
        results.append((f"team report, 365 days, by {group_by}", 100,
                        *timed(client, reverse("usage_report"), {**year, "group_by": group_by})))
    peak, rss, size, lines = export_memory(client, {**year, "group_by": "detail"})

    rollup_rows = DailyUsage.objects.filter(team=team, day__gte=year["since"]).count()
    print()
    print(f"Machine: {os.cpu_count()} vCPU, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, Django {django.get_version()}, "
          f"PostgreSQL {connection.cursor().connection.info.server_version}")
    print(f"Ledger rows: {GatewayCall.objects.count():,}; DailyUsage rows: "
          f"{DailyUsage.objects.count():,} ({rollup_rows:,} for the reported team's year)")
    print()
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}")
    print()
    print("| page | goal p95 | p50 | p95 | CPU p50 (web process) | queries |")
    print("|---|---|---|---|---|---|")
    for name, goal, times, cpu, queries in results:
        print(f"| {name} | ≤ {goal} ms | {statistics.median(times):.1f} ms | "
              f"{p95(times):.1f} ms | {statistics.median(cpu):.1f} ms | {queries} |")
    print(f"| CSV export, 365 days, every day × user × project × model ({lines - 2:,} rows, "
          f"{size / 2**20:.1f} MB) | < 100 MB | peak Python allocations {peak:.1f} MB | "
          f"peak RSS growth {rss:.1f} MB | | |")


if __name__ == "__main__":
    main()
