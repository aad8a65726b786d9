import pytest
from django.conf import settings as django_settings

from prompts.models import GenerationJob
from prompts.pipeline.limiter import LocalLimiter, RedisLimiter, limiter


def reload(job) -> GenerationJob:
    return GenerationJob.objects.get(pk=job.pk)


@pytest.fixture(params=["in_process", "redis"])
def backend(request, settings):
    """Each limiter implementation: Redis only when REDIS_URL points at a real server."""
    if request.param == "redis":
        if not django_settings.REDIS_URL:
            pytest.skip("REDIS_URL is not set: the Redis limiter runs in CI")
        instance = RedisLimiter(django_settings.REDIS_URL)
    else:
        instance = LocalLimiter()
    for key_id in (1, 2):
        instance.reset(key_id)
    yield instance
    for key_id in (1, 2):
        instance.reset(key_id)


@pytest.fixture
def shared_limiter():
    """The process's limiter as job_run uses it, emptied before and after."""
    from accounts.models import GatewayKey

    def reset():
        for key_id in GatewayKey.objects.values_list("id", flat=True):
            limiter().reset(key_id)

    reset()
    yield limiter()
    reset()
