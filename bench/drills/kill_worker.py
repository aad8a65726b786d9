"""Fault drill: SIGKILL one of two workers in the middle of a 200-job batch.

    .venv/bin/python bench/drills/kill_worker.py [--jobs 200] [--port 8907]

Two Celery worker processes (8 threads each) share the batch; when a third of it is done
one of them is killed with SIGKILL (no chance to finish, ack or reject anything). Its
in-flight jobs keep their lease until it expires and the beat sweeper re-queues them; the
messages it had prefetched stay unacknowledged in Redis, and the sweeper re-sends those
jobs. A call that was in flight at the gateway when the worker died was answered but never
recorded: the report lists such calls by request id.
"""

import argparse
import shlex
import signal
import sys

import harness


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--port", type=int, default=8907)
    args = parser.parse_args()

    def kill_one(run: harness.DrillRun) -> None:
        from prompts.models import GenerationJob

        run.wait_finished(args.jobs // 3)
        running = set(run.batch.jobs.filter(status=GenerationJob.Status.RUNNING)
                      .values_list("id", flat=True))
        run.procs.stop(run.workers["a"], signal.SIGKILL)
        run.note(f"SIGKILL worker a; {len(running)} job(s) were running on a or b")

    report = harness.drill("kill", kill_one, port=args.port, jobs=args.jobs,
                           workers=("a", "b"), latency_ms=500)
    command = shlex.join([".venv/bin/python", "bench/drills/kill_worker.py", *sys.argv[1:]])
    return 0 if harness.print_report("Drill: SIGKILL one of two workers", command, report) else 1


if __name__ == "__main__":
    sys.exit(main())
