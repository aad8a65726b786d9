"""Fault drill: the gateway down (connection refused) for 60 s, then back.

    .venv/bin/python bench/drills/gateway_down.py [--jobs 200] [--port 8908] [--down-s 60]

When a third of the batch is done the simulator process is stopped: every connection is
refused. After --down-s seconds it is started again on the same port. The gateway's count
is the sum of both simulator lifetimes; attempts refused while it was down are ledger rows
without an HTTP status (they never reached a gateway).
"""

import argparse
import shlex
import sys
import time

import harness


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--port", type=int, default=8908)
    parser.add_argument("--down-s", type=float, default=60)
    args = parser.parse_args()

    def outage(run: harness.DrillRun) -> None:
        run.wait_finished(args.jobs // 3)
        before = harness.sim_stats(run.port)
        run.procs.stop(run.simulator)
        answered = harness.answered_in_log("simulator-down.log")  # the ones answered while stopping
        run.gateway_before = {"received": max(before["received"], answered), "answered": answered}
        run.note(f"gateway stopped (connection refused); {harness.finished_count(run.batch)} "
                 f"jobs finished")
        time.sleep(args.down_s)
        run.simulator = run.procs.simulator(run.port, "--rpm", run.env["GATEWAY_RPM"],
                                            "--latency-ms", "300", "--seed", "4",
                                            log="simulator-down-after.log")
        run.note(f"gateway back after {args.down_s:.0f} s; "
                 f"{harness.finished_count(run.batch)} jobs finished")

    (harness.SCRATCH / "simulator-down-after.log").unlink(missing_ok=True)
    report = harness.drill("down", outage, port=args.port, jobs=args.jobs)
    command = shlex.join([".venv/bin/python", "bench/drills/gateway_down.py", *sys.argv[1:]])
    return 0 if harness.print_report("Drill: gateway down 60 s", command, report) else 1


if __name__ == "__main__":
    sys.exit(main())
