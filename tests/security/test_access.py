"""Access: no link, header or lock-out that lets someone in or locks the right person out.

Each test replays a finding of the security review (issue 11) against the running app."""

import base64
import io
import json
import logging
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils.crypto import salted_hmac

from accounts.models import ApiToken, AuditEvent
from accounts.services import api_token_authenticate, api_token_create
from prompts.models import Batch, GenerationJob, ReferenceImage
from prompts.workspace import url_fetch
from prompts.workspace.services.projects import project_archive
from tests.conftest import ADMIN_PASSWORD, PASSWORD
from tests.workspace.conftest import image_bytes, make_record

GOOD_FERNET = "ZGV2ZWxvcG1lbnQta2V5LWZvci1ncm9rd2ViLW9ubHk="
PRODUCTION = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 50,
              "DJANGO_ALLOWED_HOSTS": "grokweb.example.com", "FIELD_ENCRYPTION_KEYS": GOOD_FERNET,
              "REDIS_URL": "redis://cache:6379/0",
              "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"}


def production_settings(overrides: dict, probe: str = "") -> subprocess.CompletedProcess:
    """Load the settings in a fresh process, in production mode with `overrides`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "REDIS_URL", "EMAIL_", "FIELD_ENCRYPTION"))}
    env |= {"DJANGO_SETTINGS_MODULE": "grokweb.settings"} | PRODUCTION
    env |= overrides
    env = {k: v for k, v in env.items() if v is not None}
    code = "import django; django.setup(); from django.conf import settings as s; " + (probe or "pass")
    return subprocess.run([sys.executable, "-c", code], cwd=django_settings.BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=60)


# 6. Invitation links in the production log ------------------------------------------------


@pytest.mark.parametrize("backend", [None, "django.core.mail.backends.console.EmailBackend",
                                     "django.core.mail.backends.filebased.EmailBackend"])
def test_it_refuses_production_with_an_e_mail_backend_that_writes_links_out(backend):
    result = production_settings({"EMAIL_BACKEND": backend})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "EMAIL_BACKEND" in result.stderr


def test_it_redacts_sign_in_links_in_every_log_line(caplog, crew):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(crew.member.pk))
    token = default_token_generator.make_token(crew.member)
    link = f"https://grokweb.example.com/accounts/password/{uid}/{token}/"
    with caplog.at_level(logging.INFO):
        logging.getLogger("anything").info("invitation for ming: %s", link)
        logging.getLogger("django.request").warning("Not Found: /reset/%s/%s/", uid, token)
    text = caplog.text
    assert token not in text
    assert "/accounts/password/[redacted]" in text and "/reset/[redacted]" in text


def test_it_sends_the_invitation_link_only_in_the_e_mail(admin_client, mailoutbox, caplog,
                                                         django_capture_on_commit_callbacks):
    with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("console_user_create"),
                          {"username": "newbie", "email": "newbie@example.com"})
    assert len(mailoutbox) == 1
    link = re.search(r"https?://\S+/accounts/password/\S+/", mailoutbox[0].body).group(0)
    assert link not in caplog.text


# 7. API image links through the SSRF guard ----------------------------------------------


@pytest.fixture
def member_token(crew):
    return api_token_create(user=crew.member, name="ci")[1]


def _api_job(token, body):
    return Client().post("/api/v1/jobs", json.dumps(body), content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.mark.parametrize("url", [
    "https://169.254.169.254/latest/meta-data/",
    "https://127.0.0.1:8000/admin/",
    "https://[::1]/x.png",
    "https://10.0.0.5/x.png",
    "https://metadata.internal.example/computeMetadata/v1/",
])
def test_it_refuses_api_image_links_to_private_addresses(member_token, project, url,
                                                         monkeypatch):
    monkeypatch.setattr(url_fetch, "resolve_host", lambda host, port: ["169.254.169.254"]
                        if host == "metadata.internal.example" else [host.strip("[]")])
    response = _api_job(member_token, {"project": project.id, "brief": "x", "images": [url]})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "image_private_address"
    assert not GenerationJob.objects.exists()  # nothing is forwarded to the gateway


def test_it_refuses_plain_http_image_links(member_token, project):
    response = _api_job(member_token, {"project": project.id, "brief": "x",
                                       "images": ["http://169.254.169.254/latest/meta-data/"]})
    assert response.status_code == 400
    assert not GenerationJob.objects.exists()


# 8. Lock-out per account and address; the client address behind a trusted proxy --------


def _login(client, username, password, **meta):
    return client.post(reverse("login"), {"username": username, "password": password}, **meta)


def test_it_keeps_the_real_admin_in_while_a_stranger_guesses_their_password(
        client, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 5
    for _ in range(5):
        _login(client, "ada", "guess", REMOTE_ADDR="203.0.113.66")
    assert _login(client, "ada", ADMIN_PASSWORD, REMOTE_ADDR="203.0.113.66").status_code == 429
    admin = Client()
    assert _login(admin, "ada", ADMIN_PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302


def test_it_locks_an_address_spraying_accounts_at_its_own_higher_limit(client, crew, settings):
    settings.AXES_FAILURE_LIMIT, settings.AXES_ADDRESS_FAILURE_LIMIT = 3, 6
    for username in ("ming", "mia", "otto", "ming", "mia"):
        assert _login(client, username, "x", REMOTE_ADDR="203.0.113.9").status_code == 200
    assert _login(client, "otto", "x", REMOTE_ADDR="203.0.113.9").status_code == 429
    assert _login(client, "ming", PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429
    assert _login(Client(), "ming", PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 302


def test_it_ignores_x_forwarded_for_without_a_trusted_proxy(client, crew, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.AXES_FAILURE_LIMIT = 2
    # An attacker cannot dodge the lock by inventing a new address per attempt.
    for fake in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        response = _login(client, "ming", "x", REMOTE_ADDR="203.0.113.5",
                          HTTP_X_FORWARDED_FOR=fake)
    assert response.status_code == 429
    assert set(AuditEvent.objects.filter(action="auth.login_failed")
               .values_list("ip_address", flat=True)) == {"203.0.113.5"}


def test_it_takes_the_client_address_from_the_trusted_proxy_depth(client, crew, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.AXES_FAILURE_LIMIT = 2
    # The proxy (10.0.0.2) appended the address it saw; what the client wrote is ignored.
    for spoofed in ("1.1.1.1", "2.2.2.2"):
        _login(client, "ming", "x", REMOTE_ADDR="10.0.0.2",
               HTTP_X_FORWARDED_FOR=f"{spoofed}, 203.0.113.5")
    assert _login(client, "ming", PASSWORD, REMOTE_ADDR="10.0.0.2",
                  HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    # Another client behind the same proxy is not locked out with them.
    assert _login(Client(), "ming", PASSWORD, REMOTE_ADDR="10.0.0.2",
                  HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 302
    assert set(AuditEvent.objects.filter(action="auth.login_failed")
               .values_list("ip_address", flat=True)) == {"203.0.113.5"}


def test_it_trusts_x_forwarded_proto_only_behind_a_configured_proxy():
    probe = "print(s.SECURE_PROXY_SSL_HEADER)"
    assert production_settings({}, probe).stdout.strip() == "None"
    behind = production_settings({"DJANGO_TRUSTED_PROXY_COUNT": "1"}, probe)
    assert behind.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')"


# 9. Deactivation is final -------------------------------------------------------------------


def test_it_ends_sessions_and_revokes_tokens_when_a_user_is_deactivated(admin_client, crew):
    token = api_token_create(user=crew.member, name="ci")[1]
    browser = Client()
    browser.force_login(crew.member)
    other = Client()
    other.force_login(crew.manager)
    admin_client.post(reverse("console_user_active", args=[crew.member.id]), {"active": "0"})
    admin_client.post(reverse("console_user_active", args=[crew.member.id]), {"active": "1"})
    # Re-activated: the account is back, the old session and token are not.
    assert browser.get("/").status_code == 302
    assert api_token_authenticate(plaintext=token) is None
    assert ApiToken.objects.get(user=crew.member).revoked_at is not None
    sessions = [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()]
    assert str(crew.member.pk) not in sessions and str(crew.manager.pk) in sessions
    event = AuditEvent.objects.get(action="user.deactivate")
    assert event.after["sessions_ended"] == 1 and len(event.after["tokens_revoked"]) == 1


# 11. Headers: CSP, Permissions-Policy; the console does not confirm it exists ---------------

INLINE = [re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE),
          # Scripts come from files; a JSON data block (json_script) runs nothing.
          re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>",
                     re.IGNORECASE),
          re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE),
          re.compile(r"<style", re.IGNORECASE)]


def test_it_sends_a_content_security_policy_and_a_permissions_policy(member_client):
    response = member_client.get("/")
    policy = dict(part.strip().split(" ", 1) for part in
                  response["Content-Security-Policy"].split(";") if part.strip())
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]


def test_it_renders_no_inline_script_handler_or_style(crew, project, admin_client):
    from accounts.models import Budget
    from prompts.models import GatewayModel

    record = make_record(project, crew.member)
    reference = ReferenceImage.objects.create(
        project=project, uploaded_by=crew.member, original_name="r.png", sha256="1" * 64,
        original_format="PNG", width=64, height=64, send_width=64, send_height=64, send_bytes=1)
    batch = Batch.objects.create(project=project, created_by=crew.member)
    Budget.objects.create(team=crew.team, monthly_limit=10)
    GatewayModel.objects.get_or_create(name="grok-build-0.1")
    from tests.factories import MembershipFactory

    MembershipFactory(user=crew.manager.__class__.objects.get(username="ada"), team=crew.team,
                      role="manager")
    pages = ["/", "/projects/", f"/projects/{project.id}/", f"/projects/{project.id}/generate/",
             f"/records/{record.id}/", f"/records/{record.id}/rerun/", "/library/", "/jobs/",
             f"/jobs/{record.job_id}/", f"/batches/{batch.id}/", f"/projects/{project.id}/batches/new/",
             "/batches/", f"/usage/report/?team={crew.team.id}",
             f"/usage/budgets/?team={crew.team.id}", "/accounts/tokens/", "/console/",
             "/console/users/", "/console/audit/"]
    assert reference.id
    for page in pages:
        response = admin_client.get(page, follow=True)
        assert response.status_code == 200, page
        html = response.content.decode()
        for pattern in INLINE:
            assert not pattern.search(html), f"{page}: {pattern.search(html).group(0)}"
    login = Client().get(reverse("login")).content.decode()
    assert not any(pattern.search(login) for pattern in INLINE)


@pytest.mark.parametrize("path", ["/console/", "/console/keys/", "/console/users/",
                                  "/console/audit/", "/console/audit/export.csv"])
def test_it_answers_anonymous_visitors_of_the_console_with_404(client, path):
    response = client.get(path)
    assert response.status_code == 404  # not a redirect to the login page that confirms it


# 12. Archived projects take no work, at any entry point ---------------------------------------


@pytest.fixture
def archived(project, crew):
    record = make_record(project, crew.member)
    project_archive(project=project, archived=True)
    project.refresh_from_db()
    return record


def _png_data_url() -> str:
    return "data:image/png;base64," + base64.b64encode(image_bytes("PNG")).decode()


def test_it_refuses_new_work_in_an_archived_project_everywhere(member_client, member_token,
                                                               project, archived, crew,
                                                               tmp_path):
    jobs_before, refs_before = GenerationJob.objects.count(), ReferenceImage.objects.count()
    # Web: generate, re-run, batch, upload, link.
    response = member_client.post(reverse("generate", args=[project.id]),
                                  {"brief": "x", "task_type": "balanced"}, follow=True)
    assert "This project is archived" in response.content.decode()
    response = member_client.post(reverse("record_rerun", args=[archived.id]),
                                  {"brief": "x", "task_type": "balanced"})
    assert response.status_code == 422 and "This project is archived" in response.content.decode()
    member_client.post(reverse("batch_new", args=[project.id]),
                       {"text": "x", "split": "line", "task_type": "balanced"})
    upload = io.BytesIO(image_bytes())
    upload.name = "new.jpg"
    member_client.post(reverse("reference_upload", args=[project.id]), {"files": [upload]})
    member_client.post(reverse("reference_from_url", args=[project.id]),
                       {"url": "https://images.example.com/a.jpg"})
    # API: a job, and a job whose data-URL image would be stored as a reference.
    for body in ({"project": project.id, "brief": "x"},
                 {"project": project.id, "brief": "x", "images": [_png_data_url()]}):
        response = _api_job(member_token, body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "project_archived"
    # Command: a job, and one with an image.
    image = tmp_path / "ref.jpg"
    image.write_bytes(image_bytes())
    for extra in ([], ["--image", str(image)]):
        with pytest.raises(CommandError, match="archived"):
            call_command("generate", "--user", "ming", "--project", project.name,
                         "--brief", "x", *extra, stdout=io.StringIO())
    assert GenerationJob.objects.count() == jobs_before
    assert ReferenceImage.objects.count() == refs_before


def test_it_refuses_references_in_an_archived_project_in_the_service(project, crew, archived):
    from prompts.pipeline.creation import JobRefused
    from prompts.workspace.services.references import reference_create

    with pytest.raises(JobRefused) as refused:
        reference_create(project=project, user=crew.member, data=image_bytes(),
                         original_name="x.jpg")
    assert refused.value.code == "project_archived"


# 13. Rotating DJANGO_SECRET_KEY keeps API tokens working -------------------------------------


def test_it_keeps_api_tokens_working_after_the_secret_key_is_rotated(crew, settings):
    token, plaintext = api_token_create(user=crew.member, name="ci")
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    settings.SECRET_KEY_FALLBACKS = []
    assert api_token_authenticate(plaintext=plaintext) == token
    response = Client().get("/api/v1/usage", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert response.status_code == 200


def test_it_upgrades_a_token_made_with_the_secret_key_on_first_use(crew, settings):
    plaintext = "gw_legacytokenvalue-made-before-the-upgrade-000000"
    legacy = ApiToken.objects.create(
        user=crew.member, name="old", prefix=plaintext[3:11], digest_scheme="salted-hmac",
        token_digest=salted_hmac("grokweb.api_token", plaintext, algorithm="sha256").hexdigest())
    # Mid-rotation: the old key is a fallback.
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated-" + "y" * 50, [old_key]
    assert api_token_authenticate(plaintext=plaintext) == legacy
    legacy.refresh_from_db()
    assert legacy.digest_scheme == "sha256"
    settings.SECRET_KEY_FALLBACKS = []  # the old key is gone: the token still works
    assert api_token_authenticate(plaintext=plaintext) == legacy
    assert api_token_authenticate(plaintext=plaintext[:-1] + "1") is None


# 15. Keys added in the console -------------------------------------------------------------


def test_it_marks_a_key_that_fails_verification_failing_at_once(admin_client, simulator):
    response = admin_client.post(reverse("console_key_add"),
                                 {"name": "typo", "secret": "sim-not-a-key-it-knows"}, follow=True)
    assert "The gateway refused typo" in response.content.decode()
    from accounts.models import GatewayKey

    key = GatewayKey.objects.get(name="typo")
    assert key.status == "failing" and key.last_error
    row = re.search(rf'<tr id="key-{key.id}".*?</tr>', response.content.decode(), re.S).group(0)
    assert "Activate" not in row


def test_it_warns_when_a_secret_is_added_twice_under_two_names(admin_client, active_key,
                                                               simulator):
    from tests.conftest import SIM_KEY

    response = admin_client.post(reverse("console_key_add"),
                                 {"name": "primary-copy", "secret": SIM_KEY}, follow=True)
    page = response.content.decode()
    assert "This secret is stored already as primary" in page

