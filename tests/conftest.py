"""Shared fixtures: the three-user pattern (manager, member, outsider) of one team."""

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine

from accounts.models import Membership, Team, User
from tests.clock import FROZEN_NOW, LONG_AGO
from tests.factories import (
    MembershipFactory,
    ModelPriceFactory,
    ProjectFactory,
    TeamFactory,
    UserFactory,
)

PASSWORD = "correct-horse-battery"
ADMIN_PASSWORD = "Str0ng-Admin-Passw0rd!"


def pytest_configure(config):
    """A fast password hasher: the production one (PBKDF2, a million rounds, ~0.17 s per
    user) would spend most of the suite's time hashing test passwords."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Crew:
    team: Team
    manager: User
    member: User
    outsider: User
    other_team: Team


@pytest.fixture
def crew(db) -> Crew:
    team = TeamFactory(name="Pixel Foundry")
    other_team = TeamFactory(name="Elsewhere Inc")
    manager = UserFactory(username="mia")
    member = UserFactory(username="ming")
    outsider = UserFactory(username="otto")
    MembershipFactory(user=manager, team=team, role=Membership.Role.MANAGER)
    MembershipFactory(user=member, team=team, role=Membership.Role.MEMBER)
    MembershipFactory(user=outsider, team=other_team, role=Membership.Role.MANAGER)
    return Crew(team=team, manager=manager, member=member, outsider=outsider,
                other_team=other_team)


@pytest.fixture
def project(crew):
    return ProjectFactory(team=crew.team, name="Spring Campaign")


@pytest.fixture
def make_job(crew, project):
    """A job made as every entry point makes it (job_create), queued."""
    from prompts.pipeline.creation import JobSpec, job_create

    def make(brief="A portrait of a lighthouse keeper at dusk, film grain", user=None, **spec):
        return job_create(user=user or crew.member, project=project,
                          spec=JobSpec(brief=brief, **spec))

    return make


@pytest.fixture
def member_client(client, crew):
    client.force_login(crew.member)
    return client


@pytest.fixture
def manager_client(client, crew):
    client.force_login(crew.manager)
    return client


@pytest.fixture
def admin_user(db) -> User:
    """A site admin (the password passes the strong-password rule for admins)."""
    return UserFactory(username="ada", is_staff=True, password=ADMIN_PASSWORD)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def price(db):
    """¥2 per 1M input tokens, ¥8 per 1M output tokens for the default model, in force
    before any moment a test records."""
    return ModelPriceFactory(input_per_mtok=Decimal("2"), output_per_mtok=Decimal("8"),
                             effective_from=LONG_AGO)


@pytest.fixture
def frozen_clock():
    """The clock stands still at FROZEN_NOW for the whole test."""
    with time_machine.travel(FROZEN_NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _calendar_check():
    """`TRAVEL_TO=2031-07-15T10:00:00+08:00 make test` runs the suite on another day: a test
    that fails only then depends on the calendar."""
    when = os.environ.get("TRAVEL_TO")
    if not when:
        yield
        return
    with time_machine.travel(datetime.fromisoformat(when), tick=True):
        yield


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in English, whatever language the previous one switched to."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# The gateway: the bundled simulator over real HTTP on loopback --------------------------

SIM_KEY = "sim-test-key-primary-0001"
SIM_STANDBY_KEY = "sim-test-key-standby-0002"


@pytest.fixture(scope="session")
def simulator_server():
    from prompts.gateway.simulator import SimulatorConfig, start_simulator

    server = start_simulator(SimulatorConfig(keys=[SIM_KEY, SIM_STANDBY_KEY], seed=11))
    yield server
    server.stop()


@pytest.fixture
def simulator(simulator_server, settings):
    """The simulator, reset, with GATEWAY_BASE_URL pointing at it and fast retries."""
    from prompts.pipeline.client import gateway_client

    simulator_server.reset()
    settings.GATEWAY_BASE_URL = simulator_server.base_url
    settings.GATEWAY_BACKOFF_BASE_S = 0.01
    settings.GATEWAY_BACKOFF_CAP_S = 0.05
    gateway_client.cache_clear()
    yield simulator_server
    gateway_client.cache_clear()
    simulator_server.reset()


@pytest.fixture
def active_key(db):
    from prompts.pipeline.keys import gateway_key_add

    return gateway_key_add(name="primary", secret=SIM_KEY, activate=True)


@pytest.fixture
def gateway(simulator, active_key):
    """A working gateway: simulator up and an active key it accepts."""
    return simulator


@pytest.fixture(autouse=True)
def _fresh_cache():
    """An empty cache and a new in-process rate limiter for every test (with REDIS_URL the
    limiter's state lives in the cache's Redis database, which clear() empties)."""
    from django.core.cache import cache

    from prompts.pipeline.limiter import _limiter_for

    cache.clear()
    _limiter_for.cache_clear()
    yield
    cache.clear()


def drain(job_id: int, max_rounds: int = 50) -> str:
    """Run a job the way a worker would until it ends or parks, skipping retry waits."""
    from django.core.cache import cache

    from accounts.models import GatewayKey
    from prompts.models import GenerationJob
    from prompts.pipeline.limiter import pause_cache_key
    from prompts.pipeline.run import job_run

    status = ""
    for _ in range(max_rounds):
        GenerationJob.objects.filter(pk=job_id, status="queued").update(next_attempt_at=None)
        cache.delete_many([pause_cache_key(pk) for pk in GatewayKey.objects.values_list("pk", flat=True)])
        job_run(job_id)
        status = GenerationJob.objects.values_list("status", flat=True).get(pk=job_id)
        if status not in ("queued", "running"):
            return status
    return status


@pytest.fixture
def celery_worker_thread(transactional_db, gateway):
    """A real Celery worker, in a thread of the test process, consuming the real broker."""
    from celery.contrib.testing.worker import start_worker

    from grokweb.celery import app

    app.control.purge()
    with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False,
                      shutdown_timeout=10, loglevel="WARNING") as worker:
        yield worker
        # Asking the worker to stop takes ~1 s; leaving it to notice the shutdown flag, ~3 s.
        worker.stop()
    app.control.purge()


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
