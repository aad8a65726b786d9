import pytest

from prompts.models import GenerationJob
from prompts.pipeline.creation import JobSpec, job_create
from tests.factories import ModelPriceFactory


@pytest.fixture
def price(db):
    return ModelPriceFactory()


@pytest.fixture
def make_job(crew, project):
    def make(brief="A portrait of a lighthouse keeper at dusk, film grain", user=None, **spec):
        return job_create(user=user or crew.member, project=project,
                          spec=JobSpec(brief=brief, **spec))

    return make


def reload(job) -> GenerationJob:
    return GenerationJob.objects.get(pk=job.pk)
