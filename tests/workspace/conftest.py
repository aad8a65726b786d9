"""Workspace fixtures: images made with Pillow, records with ledger rows, a second member."""

import io
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image, ImageDraw

from prompts.models import GenerationJob, PromptRecord
from prompts.usage.ledger import CallFacts, ledger_record
from tests.factories import JobFactory


def image_bytes(fmt: str = "JPEG", size=(640, 480), **params) -> bytes:
    image = Image.new("RGB", size, (20, 90, 200))
    ImageDraw.Draw(image).ellipse((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2),
                                  fill=(230, 180, 40))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def make_record(project, user, *, brief="A lighthouse keeper at dusk", calls=(("ok", 200),),
                **fields) -> PromptRecord:
    """A succeeded job with its record and one ledger row per (outcome, http status)."""
    job = JobFactory(project=project, created_by=user, brief=brief, status="succeeded",
                     attempts=len(calls), finished_at=timezone.now())
    for attempt, (outcome, status) in enumerate(calls, start=1):
        ledger_record(job=job, attempt=attempt, facts=CallFacts(
            outcome=outcome, started_at=timezone.now(), key_id=None, http_status=status,
            prompt_tokens=1000, completion_tokens=200 if outcome == "ok" else 0,
            retry_delay_s=None if outcome == "ok" else 1.5))
    values = dict(
        positive_prompt="portrait of an old lighthouse keeper, golden hour, 85mm",
        negative_prompt="blurry, extra fingers", width=832, height=1216, steps=30,
        cfg_scale=Decimal("6.5"), sampler="DPM++ 2M Karras", style="cinematic", seed=12345,
        visual_features={"face": "weathered", "hairstyle": "grey beard",
                         "lighting": "warm rim light", "palette": "amber and teal",
                         "composition": "centered", "style_direction": "film still"},
    )
    values.update(fields)
    return PromptRecord.objects.create(job=job, project=project, author=user, **values)


@pytest.fixture
def record(project, crew):
    return make_record(project, crew.member)


@pytest.fixture
def outsider_client(crew):
    client = Client()
    client.force_login(crew.outsider)
    return client


@pytest.fixture
def csrf_client(crew):
    client = Client(enforce_csrf_checks=True)
    client.force_login(crew.member)
    return client


@pytest.fixture
def queued_job(project, crew):
    return JobFactory(project=project, created_by=crew.member, status=GenerationJob.Status.QUEUED)
