"""Fault drill: the key revoked at the gateway mid-batch, then rotated in GrokWeb.

    .venv/bin/python bench/drills/key_revoked.py [--jobs 200] [--port 8909] [--rotate-after-s 10]

When a third of the batch is done the simulator stops accepting GrokWeb's key
(POST /_sim/config {"keys": [new]}): calls get 401, the key is marked failing, jobs park
as waiting for a key and admins are alerted. --rotate-after-s later an operator rotates:
`manage.py gateway_key rotate --name NAME` with the new secret on stdin, which verifies
and activates it; parked jobs resume.
"""

import argparse
import os
import shlex
import subprocess
import sys
import time

import harness


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--port", type=int, default=8909)
    parser.add_argument("--rotate-after-s", type=float, default=10)
    args = parser.parse_args()
    name = f"rotated-{time.strftime('%Y%m%d-%H%M%S')}"
    secret = f"sim-rotated-key-{time.time_ns()}"

    def revoke_and_rotate(run: harness.DrillRun) -> None:
        from prompts.models import GenerationJob

        run.wait_finished(args.jobs // 3)
        harness.sim_post(run.port, "/_sim/config", {"keys": [secret]})
        run.note(f"key revoked at the gateway; {harness.finished_count(run.batch)} jobs finished")
        time.sleep(args.rotate_after_s)
        waiting = run.batch.jobs.filter(status=GenerationJob.Status.WAITING).count()
        rotated = subprocess.run(
            [sys.executable, "manage.py", "gateway_key", "rotate", "--name", name],
            input=secret + "\n", text=True, capture_output=True, cwd=harness.ROOT,
            env={**os.environ, **run.procs.env})
        run.note(f"{waiting} jobs waiting for a key; gateway_key rotate exit {rotated.returncode}: "
                 f"{(rotated.stdout or rotated.stderr).strip()[:200]}")

    report = harness.drill("revoked", revoke_and_rotate, port=args.port, jobs=args.jobs)
    command = shlex.join([".venv/bin/python", "bench/drills/key_revoked.py", *sys.argv[1:]])
    return 0 if harness.print_report("Drill: key revoked, then rotated", command, report) else 1


if __name__ == "__main__":
    sys.exit(main())
