
from prompts.models import GenerationJob
from prompts.pipeline.creation import JobSpec, job_create
from tests.processes import wait_until


def test_it_runs_a_job_through_a_real_worker_and_broker(celery_worker_thread, crew, project):
    job = job_create(user=crew.member, project=project,
                     spec=JobSpec(brief="Mood board: neon night market, rain"))
    wait_until(lambda: GenerationJob.objects.get(pk=job.pk).is_final, 20, "the job to end")
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.SUCCEEDED
    assert job.record.positive_prompt
    assert job.calls.count() == 1
