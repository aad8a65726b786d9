"""Benchmark: reconciling 1,000,000 ledger rows against 1,000,000 gateway log entries.

    .venv/bin/python bench/reconcile.py [--rows 1000000] [--rate 2] [--seed 7]
    DATABASE_URL=postgres://…/grokweb_recon_bench .venv/bin/python bench/reconcile.py --database

With --database the ledger rows are GatewayCall rows in PostgreSQL (written once with COPY;
--rebuild starts over) and the whole service runs: `reconciliation_run` streams them from a
server-side cursor in the order the calls started, matches them against the log entries
generated on the fly, settles the unknown rows from their entries (rollup, audit) and stores
the run with its items in one transaction. Between runs the settled rows are made unknown
again, so every run does the same work.

`--rows` calls are made up, `--rate` calls a second on average (2/s: a million calls in
under six days, several times a busy team's month). Of them 1 % come back from the gateway
with other completion tokens (token drift), 0.1 % are only in the ledger, 0.1 % only in the
gateway's log, 0.05 % are `unknown` rows (a dead worker) that the gateway billed. The
gateway stamps its entry in whole seconds 1-30 s after the call started; 30 % of its entries
carry no request id (older gateways), 35 % carry our X-Request-Id and 35 % its own id, which
our ledger stored. Both sides are generators, sorted by time as the matcher requires, and
are produced while the matcher consumes them: nothing but the matcher's window and its
findings is held in memory.

Goal: ≤ 60 s and ≤ 500 MB peak RSS on a 2-core machine. Prints the elapsed seconds (and,
separately, the time to generate the input alone), the peak RSS (ru_maxrss) and the
category counts, and fails unless they equal what was injected.
"""

import argparse
import heapq
import random
import resource
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prompts.gateway.usage_log import UsageLogEntry, quota_to_yuan  # noqa: E402
from prompts.usage.reconciliation.matching import LedgerSide, reconcile  # noqa: E402

MODEL = "grok-build-0.1"
START = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
QUOTA_PER_YUAN = Decimal(100_000)
PER_MILLION = Decimal(1_000_000)
LEDGER_PLACES = Decimal("0.000001")
# Cumulative shares of each kind of call; the rest are plain matches.
KINDS = (("ledger_only", 0.001), ("gateway_only", 0.002), ("unknown", 0.0025), ("drift", 0.0125))


def calls(rows: int, rate: float, seed: int) -> Iterator[tuple]:
    """(kind, i, started, latency, prompt, completion, id style), in started order."""
    rng = random.Random(seed)
    started = START
    for i in range(rows):
        started += rng.expovariate(rate)
        draw = rng.random()
        kind = next((name for name, share in KINDS if draw < share), "match")
        yield (
            kind,
            i,
            started,
            rng.uniform(1, 30),
            rng.randint(300, 20_000),
            rng.randint(50, 2_000),
            _id_style(rng),
        )


def _id_style(rng: random.Random) -> str:
    draw = rng.random()
    return "none" if draw < 0.30 else "client" if draw < 0.65 else "gateway"


def ledger_rows(rows: int, rate: float, seed: int) -> Iterator[LedgerSide]:
    for kind, i, started, _, prompt, completion, style in calls(rows, rate, seed):
        if kind == "gateway_only":
            continue
        at = datetime.fromtimestamp(started, UTC)
        if kind == "unknown":
            yield LedgerSide(i, at, MODEL, 0, 0, None, f"c-{i:012d}", "", "unknown")
            continue
        gateway_id = f"g-{i:012d}" if style == "gateway" else f"chatcmpl-{i:012d}"
        yield LedgerSide(
            i,
            at,
            MODEL,
            prompt,
            completion,
            _ledger_cost(prompt, completion),
            f"c-{i:012d}",
            gateway_id,
            "completed",
        )


def log_entries(rows: int, rate: float, seed: int, client_id=lambda i: f"c-{i:012d}",
                exact_quota: bool = False) -> Iterator[UsageLogEntry]:
    """Entries in created_at order: a call's entry is held back until no later call can
    produce an earlier one (every entry comes after its call started)."""
    waiting: list[tuple[int, int, UsageLogEntry]] = []
    for kind, i, started, latency, prompt, completion, style in calls(rows, rate, seed):
        while waiting and waiting[0][0] <= started:
            yield heapq.heappop(waiting)[2]
        if kind == "ledger_only":
            continue
        if kind == "drift":
            completion += 1 + i % 97
        created = int(started + latency)
        request_id = {"none": "", "client": client_id(i), "gateway": f"g-{i:012d}"}[style]
        # The gateway's units: ¥1 = 100,000 (or 1,000,000 with exact_quota)
        quota = prompt * 2 + completion * 8 if exact_quota else (prompt * 2 + completion * 8) // 10
        entry = UsageLogEntry(
            str(i % 1024),
            datetime.fromtimestamp(created, UTC),
            MODEL,
            prompt,
            completion,
            quota,
            None,
            request_id,
            "grokweb",
        )
        heapq.heappush(waiting, (created, i, entry))
    while waiting:
        yield heapq.heappop(waiting)[2]


def _ledger_cost(prompt: int, completion: int) -> Decimal:
    raw = (prompt * Decimal(2) + completion * Decimal(8)) / PER_MILLION
    return raw.quantize(LEDGER_PLACES, rounding=ROUND_HALF_UP)


def price(entry: UsageLogEntry) -> Decimal | None:
    return None if entry.quota is None else quota_to_yuan(entry.quota, QUOTA_PER_YUAN)


def injected(rows: int, rate: float, seed: int) -> Counter:
    return Counter(kind for kind, *_ in calls(rows, rate, seed))


def _client_id(i: int) -> str:
    """Our X-Request-Id for call i: a UUID, as the worker sends."""
    return str(uuid.UUID(int=i + 1))


def db_log_entries(rows: int, rate: float, seed: int) -> Iterator[UsageLogEntry]:
    """The gateway's log for the database's ledger: our request ids are UUIDs (as the worker
    sends them), and the quota is exact (¥1 = 1,000,000 quota)."""
    return log_entries(rows, rate, seed, client_id=_client_id, exact_quota=True)


def _setup_django():
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build_database(rows: int, rate: float, seed: int) -> None:
    """A team, a user, a project, a price, 1,000 jobs and one GatewayCall per ledger row
    (attempts 1..n of the jobs), written with COPY."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Membership, Team, User
    from prompts.models import GenerationJob, ModelPrice, Project

    team = Team.objects.create(name="recon-bench")
    user = User.objects.create_user("recon-bench", password="bench")
    Membership.objects.create(user=user, team=team, role="manager")
    project = Project.objects.create(team=team, name="recon-bench")
    price = ModelPrice.objects.create(model=MODEL, input_per_mtok=2, output_per_mtok=8,
                                      effective_from=datetime(2020, 1, 1, tzinfo=UTC))
    jobs = GenerationJob.objects.bulk_create([
        GenerationJob(project=project, created_by=user, brief=f"bench {n}", temperature=0.65,
                      model=MODEL, status="succeeded") for n in range(1000)])
    job_ids = [job.pk for job in jobs]
    now = timezone.now()
    columns = ("job_id", "attempt", "team_id", "user_id", "project_id", "model", "http_status",
               "state", "outcome", "error_message", "latency_ms", "prompt_tokens",
               "completion_tokens", "cost", "price_id", "max_cost", "client_request_id",
               "request_id", "retry_after_honoured", "started_at", "created_at")
    began = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.connection.cursor().copy(
                f"COPY prompts_gatewaycall ({', '.join(columns)}) FROM STDIN") as copy:
            written = 0
            for side in ledger_rows(rows, rate, seed):
                i = side.call_id
                unknown = side.state == "unknown"
                copy.write_row((
                    job_ids[i % 1000], i // 1000 + 1, team.pk, user.pk, project.pk, MODEL,
                    None if unknown else 200, side.state, "" if unknown else "ok", "", 0,
                    side.prompt_tokens, side.completion_tokens, side.cost,
                    None if unknown else price.pk, Decimal("0.010000"), _client_id(i),
                    "" if side.gateway_request_id.startswith("chatcmpl") or unknown
                    else side.gateway_request_id, False, side.started_at, now))
                written += 1
        cursor.execute("ANALYZE prompts_gatewaycall")
    print(f"  {written:,} ledger rows written in {time.perf_counter() - began:.0f} s",
          flush=True)


def reset_database() -> None:
    """Undo a previous run: its settlements, rollup rows and stored runs."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE prompts_reconciliationitem, prompts_reconciliationrun, "
                       "prompts_dailyusage")
        cursor.execute("UPDATE prompts_gatewaycall SET state = 'unknown', outcome = '', "
                       "http_status = NULL, prompt_tokens = 0, completion_tokens = 0, "
                       "cost = NULL, price_id = NULL, request_id = '' WHERE outcome = 'lost'")


def main_database(rows: int, rate: float, seed: int, rebuild: bool) -> int:
    _setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from prompts.models import GatewayCall
    from prompts.usage.reconciliation.runs import reconciliation_run

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL=postgres://… (the database mode is for PostgreSQL).")
    if rebuild:
        call_command("flush", interactive=False, verbosity=0)
    if GatewayCall.objects.count() != rows - injected(rows, rate, seed)["gateway_only"]:
        if GatewayCall.objects.exists():
            sys.exit("The database holds other ledger rows: use --rebuild on a bench database.")
        print("Writing the ledger…", flush=True)
        build_database(rows, rate, seed)
    reset_database()
    settings.GATEWAY_QUOTA_PER_YUAN = Decimal(1_000_000)
    settings.RECONCILE_WINDOW_S = 120
    first = datetime.fromtimestamp(START, UTC).date()
    last = max(GatewayCall.objects.order_by("-started_at").values_list(
        "started_at", flat=True)[:1]).date() + timedelta(days=1)

    began = time.perf_counter()
    generated = sum(1 for _ in db_log_entries(rows, rate, seed))
    generate_s = time.perf_counter() - began

    began = time.perf_counter()
    run = reconciliation_run(since=first - timedelta(days=1), until=last,
                             entries=db_log_entries(rows, rate, seed), filename="generated")
    elapsed_s = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # An unknown row is settled by itself only when the log carries our request id; one
    # matched by time alone is reported as billed by the gateway only, for a person to check.
    expected = Counter(
        "gateway_only" if kind == "unknown" and style != "client" else kind
        for kind, *_rest, style in calls(rows, rate, seed))
    found = {"matched": run.matched, "drift": run.token_drift, "ledger_only": run.ledger_only,
             "gateway_only": run.gateway_only, "unknown": run.settled_unknown}
    wanted = {"matched": expected["match"], **{k: expected[k] for k in found if k != "matched"}}
    print(f"rows: {rows:,} calls at {rate}/s from PostgreSQL: {run.ledger_calls:,} ledger "
          f"rows, {run.gateway_entries:,} log entries")
    print(f"reconciliation_run: {elapsed_s:.1f} s (read, match, settle, store; of which "
          f"generating the {generated:,} log entries alone takes {generate_s:.1f} s); "
          f"status {run.status} {run.error}")
    print(f"peak RSS: {peak_mb:.0f} MB")
    print(f"found:    {found}")
    print(f"injected: {wanted}")
    print(f"yuan gateway {run.yuan_gateway}, ledger {run.yuan_ledger} (before settling "
          f"{run.yuan_ledger_before}), difference {run.difference}")
    if found != wanted:
        print("FAIL: the categories differ from what was injected")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=2.0, help="calls per second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", action="store_true",
                        help="the ledger in PostgreSQL (DATABASE_URL), the whole service")
    parser.add_argument("--rebuild", action="store_true", help="with --database: start over")
    args = parser.parse_args()
    rows, rate, seed = args.rows, args.rate, args.seed
    if args.database:
        return main_database(rows, rate, seed, args.rebuild)

    began = time.perf_counter()
    generated = sum(1 for _ in ledger_rows(rows, rate, seed)) + sum(
        1 for _ in log_entries(rows, rate, seed)
    )
    generate_s = time.perf_counter() - began

    began = time.perf_counter()
    result = reconcile(ledger_rows(rows, rate, seed), log_entries(rows, rate, seed), price=price)
    elapsed_s = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    expected = injected(rows, rate, seed)
    found = {
        "matched": result.matched,
        "drift": len(result.token_drift),
        "ledger_only": len(result.ledger_only),
        "gateway_only": len(result.gateway_only),
        "unknown": result.settled_unknown,
    }
    wanted = {"matched": expected["match"], **{k: expected[k] for k in found if k != "matched"}}
    print(f"rows: {rows:,} calls at {rate}/s, {generated:,} ledger rows + log entries")
    print(f"reconcile: {elapsed_s:.1f} s (generating the input alone: {generate_s:.1f} s)")
    print(f"peak RSS: {peak_mb:.0f} MB")
    print(f"found:    {found}")
    print(f"injected: {wanted}")
    print(
        f"yuan gateway {result.yuan_gateway}, ledger {result.yuan_ledger}, "
        f"difference {result.difference}"
    )
    if found != wanted:
        print("FAIL: the categories differ from what was injected")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
