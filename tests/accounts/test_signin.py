"""Sign-in hardening: lock-out per account and per address, audit of failures, cookies."""

import json
import os
import subprocess
import sys
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.urls import reverse

from accounts.models import AuditEvent
from tests.conftest import PASSWORD


def _login(client, username, password, ip="10.0.0.1", **extra):
    return client.post(reverse("login"), {"username": username, "password": password},
                       REMOTE_ADDR=ip, **extra)


def test_it_locks_an_account_at_the_wrong_password_after_the_allowed_ones(client, crew,
                                                                          settings):
    # N = AXES_FAILURE_LIMIT - 1 wrong passwords are answered normally; the N+1th locks.
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _login(client, "ming", "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    response = _login(client, "ming", "wrong")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "Try again in 15 minutes" in response.content.decode()
    # Locked from this address: even the right password is refused here.
    response = _login(client, "ming", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_lets_the_right_password_in_after_the_lock_out_window(client, crew, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = 0.25  # hours
    for _ in range(3):
        _login(client, "ming", "wrong")
    assert _login(client, "ming", PASSWORD).status_code == 429
    # Time passes: the attempts are older than the cool-off.
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(
            attempt_time=attempt.attempt_time - timedelta(hours=0.25, seconds=1))
    response = _login(client, "ming", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(crew.member.pk)


def test_it_locks_an_address_that_tries_many_accounts(client, crew, settings):
    # No account reaches its limit from this address, but the address reaches its own.
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_ADDRESS_FAILURE_LIMIT = 4
    for username in ("ming", "mia", "otto"):
        assert _login(client, username, "wrong", ip="10.9.9.9").status_code == 200
    response = _login(client, "ming", "wrong", ip="10.9.9.9")
    assert response.status_code == 429
    assert _login(client, "mia", PASSWORD, ip="10.9.9.9").status_code == 429
    assert _login(client, "mia", PASSWORD, ip="10.1.1.1").status_code == 302


def test_it_writes_failed_sign_ins_and_lock_outs_to_the_audit_log(client, crew, settings):
    settings.AXES_FAILURE_LIMIT = 2
    _login(client, "ming", "wrong-password-1")
    _login(client, "ming", "wrong-password-2")
    failed = AuditEvent.objects.filter(action="auth.login_failed")
    assert failed.count() == 2
    assert failed.first().after == {"username": "ming"}
    assert failed.first().ip_address == "10.0.0.1"
    assert AuditEvent.objects.filter(action="auth.locked_out").exists()
    assert "wrong-password" not in json.dumps(list(AuditEvent.objects.values("before", "after")))


def test_it_explains_the_lock_out_in_chinese(client, crew, settings):
    settings.AXES_FAILURE_LIMIT = 1
    response = _login(client, "ming", "wrong", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 429
    assert 'lang="zh-hans"' in response.content.decode()


def test_it_expires_sessions_and_keeps_password_validators_on():
    assert 0 < settings.SESSION_COOKIE_AGE <= 60 * 60 * 24
    assert settings.SESSION_COOKIE_HTTPONLY
    names = [v["NAME"].rsplit(".", 1)[-1] for v in settings.AUTH_PASSWORD_VALIDATORS]
    assert {"MinimumLengthValidator", "CommonPasswordValidator",
            "AdminStrongPasswordValidator"} <= set(names)


def test_it_uses_secure_cookies_and_hsts_in_production_mode(tmp_path):
    env = os.environ | {
        "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "example.com",
        "FIELD_ENCRYPTION_KEYS": "ZGV2ZWxvcG1lbnQta2V5LWZvci1ncm9rd2ViLW9ubHk=",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "DJANGO_SETTINGS_MODULE": "grokweb.settings",
    }
    code = ("import json; from django.conf import settings as s; print(json.dumps(["
            "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
            "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SESSION_COOKIE_HTTPONLY]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=settings.BASE_DIR, check=True).stdout
    secure, csrf_secure, hsts, subdomains, httponly = json.loads(out)
    assert secure and csrf_secure and subdomains and httponly
    assert hsts >= 60 * 60 * 24 * 30


def test_it_lets_a_site_admin_lift_lock_outs(crew, settings, admin_client):
    from django.test import Client

    client = Client()
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        _login(client, "ming", "wrong")
    assert _login(client, "ming", PASSWORD).status_code == 429
    admin_client.post(reverse("console_lockouts_clear"))
    assert _login(client, "ming", PASSWORD).status_code == 302
    assert AuditEvent.objects.filter(action="auth.lockouts_cleared", actor__username="ada").exists()
