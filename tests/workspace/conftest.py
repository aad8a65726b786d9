"""Workspace fixtures: images made with Pillow, records with ledger rows, a second member."""

import io
import socket
import ssl
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image, ImageDraw

from prompts.models import GenerationJob, PromptRecord
from prompts.usage.ledger import CallFacts, ledger_record
from prompts.workspace import url_fetch
from tests.factories import JobFactory
from tests.workspace.url_servers import ImageServer, self_signed_certificate


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


# Fetching references from URLs: a fake resolver and image servers on loopback -------------


@pytest.fixture
def dns(monkeypatch):
    """name -> addresses (IPv4 literals resolve to themselves); lookups are recorded."""

    class FakeDns(dict):
        lookups: list[str] = []

        def resolve(self, host: str, port: int) -> list[str]:
            self.lookups.append(host)
            if host.replace(".", "").isdigit():
                return [host]
            if host not in self:
                raise socket.gaierror(socket.EAI_NONAME, "unknown name")
            return self[host]

    fake = FakeDns()
    fake.lookups = []
    monkeypatch.setattr(url_fetch, "resolve_host", fake.resolve)
    return fake


@pytest.fixture
def server():
    image_server = ImageServer()
    yield image_server
    image_server.close()


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 whose certificate names images.test."""
    cert_file, key_file, pem = self_signed_certificate(tmp_path, "images.test")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    image_server = ImageServer(server_context)
    image_server.client_context = ssl.create_default_context(cadata=pem)
    yield image_server
    image_server.close()
