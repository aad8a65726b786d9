import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import GatewayKey, Membership, User
from prompts.models import BriefTemplate, GenerationJob, ModelPrice, Project
from tests.conftest import SIM_KEY, SIM_STANDBY_KEY

pytestmark = pytest.mark.django_db


def run(*args, stdin: str = "") -> str:
    out = io.StringIO()
    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out, stderr=io.StringIO())
    finally:
        sys.stdin = old
    return out.getvalue()


def test_it_seeds_the_demo_and_is_safe_to_run_again(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = run("seed_demo", "--password", "demo-pass-123")
    second = run("seed_demo")
    assert "admin    / demo-pass-123" in first and "member   / demo-pass-123" in second
    assert User.objects.filter(username__in=["admin", "manager", "member"]).count() == 3
    assert Membership.objects.get(user__username="manager").role == "manager"
    assert Project.objects.filter(name="Demo", team__name="Demo Studio").count() == 1
    assert ModelPrice.objects.get().is_example
    assert GatewayKey.objects.get(status="active").name == "simulator"
    assert User.objects.get(username="member").check_password("demo-pass-123")
    # The studio has a template in a house style to try.
    template = BriefTemplate.objects.get(team__name="Demo Studio")
    assert template.variables == ["product", "surface", "angle"]
    assert template.style.name == "Demo catalogue"


def test_it_stores_a_key_from_stdin_verified_and_masked(simulator):
    out = run("gateway_key", "add", "--name", "primary", stdin=SIM_KEY + "\n")
    key = GatewayKey.objects.get(name="primary")
    assert key.status == "active" and key.verified_at is not None
    assert SIM_KEY not in out and key.masked in out
    listing = run("gateway_key", "list")
    assert "primary" in listing and SIM_KEY not in listing and key.masked in listing


def test_it_refuses_a_key_the_gateway_does_not_accept(simulator):
    with pytest.raises(CommandError, match="refused"):
        run("gateway_key", "add", "--name", "bad", stdin="sim-wrong-key-99999999\n")


def test_it_rotates_to_a_new_key_and_retires_the_old_one(simulator, active_key):
    run("gateway_key", "rotate", "--name", "second", stdin=SIM_STANDBY_KEY + "\n")
    statuses = dict(GatewayKey.objects.values_list("name", "status"))
    assert statuses == {"primary": "retiring", "second": "active"}
    run("gateway_key", "revoke", "--name", "primary")
    assert GatewayKey.objects.get(name="primary").status == "revoked"


@pytest.mark.django_db(transaction=True)
def test_it_generates_from_the_command_line_and_prints_json(celery_worker_thread, crew, project):
    out = run("generate", "--user", "ming", "--project", project.name,
              "--brief", "A koi pond in autumn, top-down", "--wait", "--json")
    job = json.loads(out)
    assert job["status"] == "succeeded" and job["attempts"] == 1
    assert job["record"]["positive_prompt"] and job["record"]["width"]


@pytest.mark.django_db(transaction=True)
def test_it_generates_a_batch_from_a_brief_file(celery_worker_thread, crew, project, tmp_path):
    briefs = tmp_path / "briefs.txt"
    briefs.write_text("a red kite over hills\n\na paper lantern festival\n", encoding="utf-8")
    out = run("generate", "--user", "ming", "--project", project.name,
              "--brief-file", str(briefs), "--wait", "--json")
    jobs = json.loads(out)
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded"]
    assert GenerationJob.objects.filter(batch__isnull=False).count() == 2


@pytest.mark.django_db(transaction=True)
def test_it_exits_1_when_a_job_does_not_succeed(celery_worker_thread, gateway, crew, project):
    gateway.script([{"status": 400, "body": {"error": {"message": "bad model"}}}])
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("generate", "--user", "ming", "--project", project.name, "--brief", "x",
                     "--wait", "--timeout", "30", stdout=out)
    assert exit_info.value.code == 1
    assert "failed" in out.getvalue() and "bad model" in out.getvalue()


def test_it_names_a_missing_project(crew):
    with pytest.raises(CommandError, match="no project named"):
        run("generate", "--user", "ming", "--project", "Nope", "--brief", "x")
