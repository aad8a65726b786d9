import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DATABASES['default']['ENGINE']); print(settings.CELERY_BROKER_URL); "
    "print(settings.CACHES['default']['BACKEND']); print(settings.TIME_ZONE)"
)
GOOD_FERNET = "ZGV2ZWxvcG1lbnQta2V5LWZvci1ncm9rd2ViLW9ubHk="


def run_settings(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "FIELD_ENCRYPTION", "GATEWAY_", "TIME_ZONE",
                                "EMAIL_"))}
    env["DJANGO_SETTINGS_MODULE"] = "grokweb.settings"
    env.update(env_overrides)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_it_boots_embedded_with_no_environment():
    result = run_settings({})
    assert result.returncode == 0, result.stderr
    engine, broker, cache, tz = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert broker == "filesystem://"
    assert cache.endswith("LocMemCache")
    assert tz == "Asia/Shanghai"


def test_it_switches_to_postgres_and_redis_from_urls():
    result = run_settings({"DATABASE_URL": "postgres://u:p@db:5432/grokweb",
                           "REDIS_URL": "redis://cache:6379/0"})
    assert result.returncode == 0, result.stderr
    engine, broker, cache, _ = result.stdout.split()
    assert engine == "django.db.backends.postgresql"
    assert broker == "redis://cache:6379/0"
    assert cache.endswith("RedisCache")


PRODUCTION = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 50,
              "DJANGO_ALLOWED_HOSTS": "grokweb.example.com", "FIELD_ENCRYPTION_KEYS": GOOD_FERNET,
              "REDIS_URL": "redis://cache:6379/0",
              "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"}


def test_it_starts_in_production_when_everything_is_set():
    result = run_settings(PRODUCTION)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "missing, variable",
    [
        ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY"),
        ("DJANGO_ALLOWED_HOSTS", "DJANGO_ALLOWED_HOSTS"),
        ("FIELD_ENCRYPTION_KEYS", "FIELD_ENCRYPTION_KEYS"),
        ("REDIS_URL", "REDIS_URL"),
        ("EMAIL_BACKEND", "EMAIL_BACKEND"),
    ],
)
def test_it_refuses_production_without_each_required_variable(missing, variable):
    env = dict(PRODUCTION)
    del env[missing]
    result = run_settings(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr


def test_it_rejects_a_malformed_boolean():
    result = run_settings({"DJANGO_DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DJANGO_DEBUG" in result.stderr
