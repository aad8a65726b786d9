"""Benchmark: reconciling 1,000,000 ledger rows against 1,000,000 gateway log entries.

    .venv/bin/python bench/reconcile.py [--rows 1000000] [--rate 2] [--seed 7]

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
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
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


def log_entries(rows: int, rate: float, seed: int) -> Iterator[UsageLogEntry]:
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
        request_id = {"none": "", "client": f"c-{i:012d}", "gateway": f"g-{i:012d}"}[style]
        quota = (prompt * 2 + completion * 8) // 10  # the gateway's units, ¥1 = 100,000
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=2.0, help="calls per second")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rows, rate, seed = args.rows, args.rate, args.seed

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
