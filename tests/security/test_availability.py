"""Availability: no input can hang a worker or crash a page.

Each test replays a finding of the security review (issue 11) against the running app; the
walk at the end sends every URL and API endpoint the values that crashed some of them."""

import io
import json
import time

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from accounts.models import Membership
from accounts.services import api_token_create
from prompts.models import GenerationJob, ReferenceImage
from prompts.workspace.formats.pngmeta import MAX_TEXT_CHARS
from tests.factories import MembershipFactory
from tests.workspace.conftest import make_record

# 4. ReDoS in the A1111 PNG text ------------------------------------------------------------


def _png_with_parameters(text: str) -> bytes:
    """A small PNG whose zTXt `parameters` chunk holds `text` (a million characters of one
    letter compress to about a kilobyte)."""
    info = PngInfo()
    info.add_text("parameters", text, zip=True)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 120, 200)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


# The review's file: the old pattern `(\w[\w \-/]+):` backtracked quadratically on a last
# line with no colon (0.8 s at 10k characters, 7.9 s at 40k; this one would take over an
# hour). The bound below is generous: it guards against quadratic time, not for speed.
QUADRATIC_GUARD_S = 2.0


def test_it_reads_a_png_whose_parameters_would_backtrack_in_linear_time(member_client,
                                                                        project):
    png = _png_with_parameters("prompt\n" + "a" * 1_000_000)
    assert len(png) < 5_000
    upload = io.BytesIO(png)
    upload.name = "bomb.png"
    started = time.monotonic()
    response = member_client.post(f"/projects/{project.id}/references/upload/",
                                  {"files": [upload]})
    assert time.monotonic() - started < QUADRATIC_GUARD_S
    assert response.status_code == 302  # stored, then the project page reports it
    reference = ReferenceImage.objects.get()
    assert reference.png_parameters == ""  # past what the reader parses: not kept
    started = time.monotonic()
    page = member_client.get(f"/projects/{project.id}/generate/?from_reference={reference.id}")
    assert time.monotonic() - started < QUADRATIC_GUARD_S
    assert page.status_code == 200


def test_it_opens_the_generate_page_fast_from_a_long_stored_text(member_client, project, crew):
    # A 40k-character variant under the cap (stored before the cap existed, or just under it)
    # took the old parser 5 to 8 s on every open of the generate page.
    reference = ReferenceImage.objects.create(
        project=project, uploaded_by=crew.member, original_name="long.png", sha256="0" * 64,
        original_format="PNG", width=64, height=64, send_width=64, send_height=64, send_bytes=1,
        png_parameters="prompt\n" + "a" * (MAX_TEXT_CHARS - 10))
    started = time.monotonic()
    page = member_client.get(f"/projects/{project.id}/generate/?from_reference={reference.id}")
    assert time.monotonic() - started < QUADRATIC_GUARD_S
    assert page.status_code == 200


# 5. Bad input is a 4xx with a message, never a 500 ------------------------------------------


@pytest.fixture
def api(crew):
    token = api_token_create(user=crew.member, name="walk")[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def post(body: str | bytes, **headers):
        return client.post("/api/v1/jobs", body, content_type="application/json", **headers)

    post.client = client
    return post


@pytest.mark.parametrize("temperature", ['"NaN"', '"sNaN"', '"Infinity"', "NaN", "1e999999",
                                         '"-Infinity"'])
def test_it_refuses_a_temperature_that_is_not_a_number(api, project, temperature):
    response = api(f'{{"project": {project.id}, "brief": "x", "temperature": {temperature}}}')
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] in ("invalid_field", "invalid_json",
                                                "invalid_temperature")
    assert not GenerationJob.objects.exists()


def test_it_refuses_json_nested_too_deep_to_read(api):
    response = api("[" * 100_000)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    response = api('{"project": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert response.status_code == 400


def test_it_refuses_a_nul_in_an_api_brief_on_every_database(api, project):
    response = api(json.dumps({"project": project.id, "brief": "before\x00after"}))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_brief"
    response = api(json.dumps({"project": "Spring\x00Campaign", "brief": "x"}))
    assert response.status_code == 400
    assert not GenerationJob.objects.exists()


def test_it_refuses_a_project_id_beyond_any_row(api):
    response = api(json.dumps({"project": 99999999999999999999999, "brief": "x"}))
    assert response.status_code == 404
    response = api(json.dumps({"project": "99999999999999999999999", "brief": "x"}))
    assert response.status_code == 404


def test_it_answers_a_team_switch_to_abc_with_400(member_client):
    response = member_client.post("/accounts/team/switch/", {"team": "abc"})
    assert response.status_code == 400
    assert "Choose one of your teams" in response.content.decode()


def test_it_answers_huge_ids_in_reports_and_exports_without_a_500(manager_client, crew,
                                                                  project):
    record = make_record(project, crew.member)
    assert manager_client.get("/usage/report/?team=99999999999999999999999").status_code == 404
    response = manager_client.get(
        f"/library/export/?ids=99999999999999999999999&ids={record.id}&format=csv")
    assert response.status_code == 200 and "lighthouse" in response.content.decode()
    response = manager_client.get("/library/export/?ids=99999999999999999999999&format=csv",
                                  follow=True)
    assert "Tick the records to export first." in response.content.decode()


# The walk: every URL pattern and API endpoint with values that crashed some of them --------

BAD_VALUES = ["abc", "99999999999999999999999", "-1", "NaN", "1e999", "²", "nul\x00here",
              "[" * 2000]
# Every query and form field name the views read.
FIELD_NAMES = (
    "action actor active archive archived author body brief confirm consent currency date_from "
    "date_to description effective_from email favourites format from_reference group_by ids "
    "input_per_mtok is_staff max_tokens mine model month monthly_limit name next note "
    "output_per_mtok page password prefill project q references role secret shows_person "
    "since split stars status tag tags task_type team temperature text title until url "
    "usd_rate usd_rate_date user username warn_at_percent"
).split()
SKIPPED = {"logout"}  # signs the walker out; its own tests cover it
UNHEALTHY = {"/healthz"}  # 503 is its answer while no gateway key is active
HUGE = "99999999999999999999999"


def _walk(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if getattr(entry, "namespace", None) == "admin":
                continue  # Django's own admin
            yield from _walk(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and entry.name not in SKIPPED:
            yield entry.name, prefix + str(entry.pattern)


def _fill(route: str) -> str:
    """A route with a huge number for every <int:…>, nonsense for every other parameter."""
    import re

    route = re.sub(r"<int:\w+>", HUGE, route)
    route = re.sub(r"<export:\w+>", "csv", route)
    return "/" + re.sub(r"<(?:\w+:)?\w+>", "abc", route).lstrip("^").rstrip("$")


@pytest.fixture
def walker(crew, admin_user):
    """A site admin who manages the team: the user who can open every page."""
    MembershipFactory(user=admin_user, team=crew.team, role=Membership.Role.MANAGER)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    return client


def test_it_answers_every_url_with_bad_values_without_a_5xx(walker, api, project, crew):
    make_record(project, crew.member)
    token_client = api.client
    routes = sorted(set(_walk(get_resolver())))
    assert len(routes) > 40
    failures = []
    for _name, route in routes:
        path = _fill(route)
        for value in BAD_VALUES:
            query = {field: value for field in FIELD_NAMES}
            client = token_client if path.startswith("/api/") else walker
            for method in ("get", "post"):
                response = getattr(client, method)(path, query)
                if response.status_code >= 500 and not (
                        path in UNHEALTHY and response.status_code == 503):
                    failures.append(f"{method.upper()} {path} {value[:12]!r}: "
                                    f"{response.status_code}")
    for body in ("[" * 100_000, '{"project": NaN}', '{"brief": "\\u0000"}', "\xff\xfe",
                 json.dumps({"project": HUGE, "brief": "x", "max_tokens": 10**30,
                             "temperature": "NaN", "images": ["https://169.254.169.254/"]})):
        for path in ("/api/v1/jobs", "/api/v1/usage"):
            response = token_client.post(path, body, content_type="application/json")
            if response.status_code >= 500:
                failures.append(f"POST {path} {body[:20]!r}: {response.status_code}")
    assert not failures, "\n".join(failures)


# 14. First run against a real gateway ----------------------------------------------------

REAL_KEY = "sk-litellm-master-key-0123456789"
SPEC = {"positive_prompt": "a tea farmer in morning mist, 35mm", "negative_prompt": "blurry",
        "width": 832, "height": 1216, "steps": 30, "cfg_scale": 6.5, "sampler": "Euler a",
        "style": "photo", "seed": 7, "visual_features": None}


class StrictGateway:
    """A second OpenAI-compatible server on loopback that is not the bundled simulator: it
    knows one key and, like LiteLLM's proxy without a database, answers any other key with
    a 400. It records the keys it was sent."""

    def __init__(self, key: str):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        gateway = self
        self.keys_seen: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
                gateway.keys_seen.append(sent)
                if sent != key:
                    self._answer(400, {"error": {
                        "message": "Authentication Error, Invalid proxy server token passed.",
                        "type": "auth_error", "param": "None", "code": "400"}})
                return sent == key

            def do_GET(self):
                if self._authorised():
                    self._answer(200, {"object": "list", "data": [{"id": "grok-build-0.1"}]})

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self._authorised():
                    self._answer(200, {
                        "id": "chatcmpl-1", "object": "chat.completion", "model": "grok-build-0.1",
                        "choices": [{"index": 0, "finish_reason": "stop", "message": {
                            "role": "assistant", "content": json.dumps(SPEC)}}],
                        "usage": {"prompt_tokens": 420, "completion_tokens": 96}})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def real_gateway(db, settings, monkeypatch, tmp_path):
    """`GATEWAY_BASE_URL=… GATEWAY_API_KEY=… make run`: the settings it gives."""
    from prompts.management.commands import seed_demo
    from prompts.pipeline.client import gateway_client

    gateway = StrictGateway(REAL_KEY)
    monkeypatch.setattr(seed_demo, "LOGINS_FILE", tmp_path / "demo-logins.txt")
    settings.GATEWAY_BASE_URL = gateway.base_url
    settings.GATEWAY_API_KEY = REAL_KEY
    settings.GATEWAY_BACKOFF_BASE_S = settings.GATEWAY_BACKOFF_CAP_S = 0.01
    gateway_client.cache_clear()
    yield gateway
    gateway_client.cache_clear()
    gateway.close()


def _first_job_runs(gateway: StrictGateway) -> None:
    from prompts.models import Project
    from prompts.pipeline.creation import JobSpec, job_create
    from tests.conftest import drain

    member = Project.objects.get(name="Demo").team.members.get(username="member")
    job = job_create(user=member, project=Project.objects.get(name="Demo"),
                     spec=JobSpec(brief="A tea farmer in morning mist"))
    assert drain(job.id) == "succeeded"
    job.refresh_from_db()
    assert job.record.positive_prompt == SPEC["positive_prompt"]
    assert set(gateway.keys_seen) == {REAL_KEY}  # the demo key never went out


def test_it_runs_the_first_job_on_a_fresh_install_against_a_real_gateway(real_gateway):
    from django.core.management import call_command

    from accounts.models import GatewayKey

    out = io.StringIO()
    call_command("seed_demo", "--password", "demo-pass-123", stdout=out)
    active = GatewayKey.objects.get(status="active")
    assert active.masked in out.getvalue() and REAL_KEY not in out.getvalue()
    assert not GatewayKey.objects.filter(name="simulator").exists()
    _first_job_runs(real_gateway)


def test_it_replaces_the_demo_key_when_the_install_moves_to_a_real_gateway(real_gateway,
                                                                           settings):
    from django.core.management import call_command

    from accounts.models import GatewayKey
    from prompts.pipeline.keys import SIMULATOR_DEMO_KEY, gateway_key_add

    # Yesterday: `make run` with the bundled simulator.
    gateway_key_add(name="simulator", secret=SIMULATOR_DEMO_KEY, activate=True)
    call_command("seed_demo", "--password", "demo-pass-123", stdout=io.StringIO())
    statuses = dict(GatewayKey.objects.values_list("name", "status"))
    assert statuses["simulator"] == "retiring"
    assert GatewayKey.objects.get(status="active").name.startswith("env-")
    _first_job_runs(real_gateway)


def test_it_imports_the_key_when_a_worker_starts(real_gateway):
    from celery.signals import worker_ready

    import prompts.tasks  # noqa: F401  (a worker loads its tasks, and with them the receiver)
    from accounts.models import GatewayKey
    from prompts.pipeline.keys import SIMULATOR_DEMO_KEY, gateway_key_add

    gateway_key_add(name="simulator", secret=SIMULATOR_DEMO_KEY, activate=True)
    worker_ready.send(sender=None)
    assert GatewayKey.objects.get(status="active").name.startswith("env-")


def test_it_leaves_a_key_an_admin_activated_alone(real_gateway, active_key):
    from django.core.management import call_command

    from accounts.models import GatewayKey

    out = io.StringIO()
    call_command("seed_demo", "--password", "demo-pass-123", stdout=out)
    assert GatewayKey.objects.get(status="active") == active_key
    assert not GatewayKey.objects.filter(name__startswith="env-").exists()


def test_it_warns_when_a_real_gateway_has_no_key(real_gateway, settings):
    from django.core.management import call_command

    from accounts.models import GatewayKey

    settings.GATEWAY_API_KEY = ""
    out = io.StringIO()
    call_command("seed_demo", "--password", "demo-pass-123", stdout=out)
    assert not GatewayKey.objects.exists()  # not the simulator's key: it is worthless here
    assert "set GATEWAY_API_KEY" in out.getvalue()
