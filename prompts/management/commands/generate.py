import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import F

from accounts.models import User
from grokweb.refusals import Refusal
from prompts.models import GenerationJob, Project
from prompts.pipeline.creation import JobRefused, JobSpec, batch_create, job_create
from prompts.workspace.selectors.jobs import job_as_dict
from prompts.workspace.services.references import reference_create

POLL_S = 0.2


class Command(BaseCommand):
    help = (
        "Queue one job (--brief) or a batch (--brief-file, one brief per line) for a user's "
        "project; with --wait, block until every job ends and print them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True)
        parser.add_argument("--project", required=True, help="project name in one of the user's teams")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--brief")
        source.add_argument("--brief-file", type=Path)
        parser.add_argument("--image", action="append", default=[], type=Path,
                            help="a reference image file (repeatable)")
        parser.add_argument("--task-type", choices=["strict", "balanced", "creative"],
                            default="balanced")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=900, help="seconds --wait waits")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        user = User.objects.filter(username=opts["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {opts['user']!r}.")
        # An open project first; an archived one is found too, so the refusal can say why.
        project = Project.objects.filter(
            name=opts["project"], team__memberships__user=user
        ).order_by(F("archived_at").asc(nulls_first=True)).first()
        if project is None:
            raise CommandError(f"{user.username} has no project named {opts['project']!r}.")
        references = []
        for path in opts["image"]:
            try:
                ref, _created = reference_create(project=project, user=user,
                                                 data=path.read_bytes(), original_name=path.name)
            except (OSError, Refusal) as error:
                raise CommandError(f"{path}: {getattr(error, 'message', error)}") from error
            references.append(ref)
        try:
            if opts["brief_file"] is not None:
                lines = opts["brief_file"].read_text(encoding="utf-8").splitlines()
                specs = [JobSpec(brief=line, task_type=opts["task_type"], references=references)
                         for line in lines if line.strip()]
                if not specs:
                    raise CommandError(f"{opts['brief_file']} holds no brief.")
                batch = batch_create(user=user, project=project, specs=specs,
                                     title=opts["brief_file"].name)
                job_ids = list(batch.jobs.order_by("id").values_list("id", flat=True))
            else:
                job = job_create(user=user, project=project, spec=JobSpec(
                    brief=opts["brief"], task_type=opts["task_type"], references=references))
                job_ids = [job.id]
        except JobRefused as refused:
            raise CommandError(str(refused.message)) from refused

        if not opts["wait"]:
            self.stdout.write(f"Queued job(s): {', '.join(map(str, job_ids))}")
            return
        deadline = time.monotonic() + opts["timeout"]
        while time.monotonic() < deadline:
            open_jobs = GenerationJob.objects.filter(pk__in=job_ids).exclude(
                status__in=GenerationJob.FINAL_STATUSES)
            if not open_jobs.exists():
                break
            time.sleep(POLL_S)
        jobs = [job_as_dict(job) for job in
                GenerationJob.objects.filter(pk__in=job_ids).select_related("record")
                .order_by("id")]
        if opts["json"]:
            out = jobs[0] if opts["brief"] is not None else jobs
            self.stdout.write(json.dumps(out, ensure_ascii=False, indent=2))
        else:
            for job in jobs:
                line = f"job {job['id']}: {job['status']} after {job['attempts']} attempt(s)"
                if job["error"]:
                    line += f" — {job['error']['code']}: {job['error']['message']}"
                self.stdout.write(line)
                if job["record"]:
                    self.stdout.write(f"  + {job['record']['positive_prompt']}")
                    self.stdout.write(f"  - {job['record']['negative_prompt']}")
        if any(job["status"] != "succeeded" for job in jobs):
            raise SystemExit(1)
