"""Fault drill: restart Redis (broker, cache and limiter) in the middle of a batch.

    .venv/bin/python bench/drills/restart_redis.py [--jobs 200] [--port 8907] [--redis-port 6390]

Runs a private, non-persistent redis-server on --redis-port (never the shared one), so a
restart loses everything in it: queued messages, prefetched-but-unacked messages, the
limiter's schedule. When a third of the batch is done it is shut down (nosave), left down
for --down-s seconds and started again, empty. PostgreSQL still says which jobs are queued:
the beat sweeper re-sends every queued job whose message went missing.
"""

import argparse
import shlex
import subprocess
import sys
import time

import harness


def redis_server(port: int) -> None:
    subprocess.run(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                    "--daemonize", "yes", "--dir", str(harness.SCRATCH),
                    "--pidfile", str(harness.SCRATCH / f"redis-{port}.pid"),
                    "--logfile", str(harness.SCRATCH / f"redis-{port}.log")], check=True)
    harness.wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"],
                                              capture_output=True).stdout.strip() == b"PONG",
                       10, "redis-server")


def redis_shutdown(port: int) -> None:
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--port", type=int, default=8907)
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument("--down-s", type=float, default=5)
    args = parser.parse_args()
    redis_server(args.redis_port)

    def restart(run: harness.DrillRun) -> None:
        run.wait_finished(args.jobs // 3)
        redis_shutdown(args.redis_port)
        run.note(f"redis-server on {args.redis_port} shut down (nosave); "
                 f"{harness.finished_count(run.batch)} jobs finished")
        time.sleep(args.down_s)
        redis_server(args.redis_port)
        run.note("redis-server started again, empty")

    try:
        report = harness.drill("redis", restart, port=args.port, jobs=args.jobs,
                               workers=("a", "b"),
                               REDIS_URL=f"redis://127.0.0.1:{args.redis_port}/0")
    finally:
        redis_shutdown(args.redis_port)
    command = shlex.join([".venv/bin/python", "bench/drills/restart_redis.py", *sys.argv[1:]])
    return 0 if harness.print_report("Drill: restart Redis mid-batch", command, report) else 1


if __name__ == "__main__":
    sys.exit(main())
