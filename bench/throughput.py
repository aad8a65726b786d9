"""Benchmark: a batch at the gateway account's limit.

    .venv/bin/python bench/throughput.py [--jobs 600] [--rpm 1200] [--latency-ms 300]
        [--fault-rate 0.02] [--workers 1] [--concurrency 16] [--port 8906]

Starts the bundled simulator (--rpm, --latency-ms, --fault-rate, a fixed seed) and Celery
worker processes with GATEWAY_RPM set to the same rpm, on PostgreSQL (grokweb_tp) and Redis
db 7 unless DATABASE_URL / REDIS_URL say otherwise; creates one batch of N jobs and waits
for every job to end. Reports the makespan (batch_create called → last job finished)
against the ideal N / rpm, the share of calls answered 429, failed and lost jobs.
Goals: ≥ 95% of the ideal rate, ≤ 1% of calls 429, 0 lost, < 0.5% failed.
"""

import argparse
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "drills"))
import harness  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--rpm", type=int, default=1200)
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--fault-rate", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=8906)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--limiter-rpm", type=int, default=None,
                        help="GATEWAY_RPM for GrokWeb (default: --rpm; 0 turns the limiter off)")
    args = parser.parse_args()
    command = "  " + shlex.join([".venv/bin/python", "bench/throughput.py", *sys.argv[1:]])
    limiter_rpm = args.rpm if args.limiter_rpm is None else args.limiter_rpm

    harness.setup(GATEWAY_RPM=str(limiter_rpm))
    harness.empty_redis()
    from django.db.models import Max

    from prompts.models import GatewayCall

    user, project, key = harness.seed("throughput")
    with harness.Processes() as procs:
        procs.simulator(args.port, "--rpm", str(args.rpm), "--latency-ms", str(args.latency_ms),
                        "--fault-rate", str(args.fault_rate), "--seed", str(args.seed))
        env = {"GATEWAY_BASE_URL": f"{harness.sim_url(args.port)}/v1",
               "GATEWAY_RPM": str(limiter_rpm)}
        for n in range(args.workers):
            procs.worker(f"tp{n}", args.concurrency, **env)
        procs.beat(**env)
        started = time.time()
        batch = harness.make_batch(user, project, args.jobs, f"throughput {time.strftime('%H:%M:%S')}")
        created = time.time() - started
        done = harness.wait_batch(batch, timeout=args.jobs / args.rpm * 60 * 4 + 120)
        last = batch.jobs.aggregate(last=Max("finished_at"))["last"]
        makespan = (last.timestamp() if last else time.time()) - started
        stats = harness.sim_stats(args.port)
    report = harness.ledger_report(batch, stats["received"], stats["answered"])
    ideal = args.jobs / args.rpm * 60
    calls_429 = stats["by_status"].get("429", 0)
    failed = report["statuses"].get("failed", 0)
    rate = ideal / makespan
    first_call = GatewayCall.objects.filter(job__batch=batch).order_by("started_at").first()
    print("command:\n" + command)
    print(f"machine: {harness.machine()}")
    print(f"simulator: --rpm {args.rpm} --latency-ms {args.latency_ms} --fault-rate "
          f"{args.fault_rate} --seed {args.seed}; GATEWAY_RPM={limiter_rpm}; "
          f"{args.workers} worker(s) × {args.concurrency} threads")
    print(f"jobs {args.jobs}: created and queued in {created:.2f} s; all final: {done}")
    if first_call:
        print(f"first call started {first_call.started_at.timestamp() - started:.2f} s "
              f"after batch_create was called")
    print(f"makespan {makespan:.2f} s; ideal {ideal:.2f} s; rate {rate:.1%} of ideal "
          f"(goal ≥ 95%)")
    print(f"calls at the gateway {stats['received']}; 429 {calls_429} "
          f"({calls_429 / max(stats['received'], 1):.2%}, goal ≤ 1%); faults injected "
          f"{sum(stats['faults'].values())}")
    print(f"failed {failed} ({failed / args.jobs:.2%}, goal < 0.5%); lost {report['lost']} "
          f"(goal 0); run twice {report['run_twice']}")
    print(f"ledger rows {report['ledger_rows']} vs gateway received {stats['received']}; "
          f"statuses {report['statuses']}")
    ok = (rate >= 0.95 and calls_429 <= 0.01 * stats["received"] and report["lost"] == 0
          and failed < 0.005 * args.jobs)
    print("goals met" if ok else "GOALS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
