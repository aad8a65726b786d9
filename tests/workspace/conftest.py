"""Workspace fixtures: images made with Pillow, records with ledger rows, a second member."""

import io
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


# Webhooks: a receiver on loopback, and the URL policy that may reach it ---------------------

class WebhookReceiver:
    """A loopback HTTP server that records each POST and answers with the next status in
    `statuses` (the last one repeats)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses = [200]
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "body": body})
                status = receiver.statuses[min(len(receiver.requests), len(receiver.statuses)) - 1]
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answer {status}".encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/grokweb"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_receiver(monkeypatch):
    """A receiver, and webhooks allowed to reach it over plain HTTP on loopback: the one
    difference from production's policy (public https addresses only)."""
    from prompts.workspace import url_fetch
    from prompts.workspace.services import webhooks

    monkeypatch.setattr(webhooks, "URL_POLICY", url_fetch._FetchPolicy(
        schemes=("http", "https"),
        address_allowed=lambda address: address.is_loopback
        or url_fetch.is_public_address(address),
        ssl_context=None))
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


def deliver_all(max_rounds: int = 20) -> None:
    """Fan out and deliver every webhook the way the workers would, skipping backoff waits."""
    from prompts.models import WebhookDelivery
    from prompts.workspace.services.webhook_delivery import webhook_deliver, webhook_events_fan_out

    for _ in range(max_rounds):
        webhook_events_fan_out()
        pending = list(WebhookDelivery.objects.filter(status="pending").values_list("id",
                                                                                    flat=True))
        if not pending:
            return
        WebhookDelivery.objects.filter(pk__in=pending).update(next_attempt_at=None)
        for delivery_id in pending:
            webhook_deliver(delivery_id)
