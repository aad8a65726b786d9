import time

from prompts.models import GenerationJob
from prompts.pipeline.creation import JobSpec, job_create


def test_it_runs_a_job_through_a_real_worker_and_broker(celery_worker_thread, crew, project):
    job = job_create(user=crew.member, project=project,
                     spec=JobSpec(brief="Mood board: neon night market, rain"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_final:
            break
        time.sleep(0.1)
    assert job.status == GenerationJob.Status.SUCCEEDED
    assert job.record.positive_prompt
    assert job.calls.count() == 1
