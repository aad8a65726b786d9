"""GrokWeb settings: the only module that reads environment variables.

With no environment at all it runs embedded: SQLite and a kombu filesystem broker
under var/, a local-memory cache and an in-process rate limiter. DATABASE_URL and
REDIS_URL switch to PostgreSQL and Redis.
"""

import os
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


DEFAULT_SECRET_KEY = "grokweb-development-secret-key-not-for-production"
CONSOLE_EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
UNSAFE_EMAIL_BACKENDS = (CONSOLE_EMAIL_BACKEND, "django.core.mail.backends.filebased.EmailBackend")
# A fixed Fernet key so the embedded default works with no configuration; refused in production.
DEVELOPMENT_FIELD_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQta2V5LWZvci1ncm9rd2ViLW9ubHk="

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEFAULT_SECRET_KEY)
# Rotating DJANGO_SECRET_KEY: put the old key here until sessions and links made with it expire.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)
FIELD_ENCRYPTION_KEYS = env_list(
    "FIELD_ENCRYPTION_KEYS", [DEVELOPMENT_FIELD_ENCRYPTION_KEY] if DEBUG else []
)

if not DEBUG:
    if SECRET_KEY == DEFAULT_SECRET_KEY or not SECRET_KEY:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set to a long random value when DJANGO_DEBUG is off."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DJANGO_ALLOWED_HOSTS must list the host names this site serves when DJANGO_DEBUG is off."
        )
    if not FIELD_ENCRYPTION_KEYS:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold at least one Fernet key when DJANGO_DEBUG is off "
            "(generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')."
        )
    # Every web process and worker must share one rate limit, one limiter and one broker.
    if not env_str("REDIS_URL"):
        raise ImproperlyConfigured(
            "REDIS_URL must point at Redis when DJANGO_DEBUG is off: the API rate limit, the "
            "gateway rate limiter and the job queue must be shared by every process."
        )
    # The console backend prints invitation and password links into the log.
    if env_str("EMAIL_BACKEND", CONSOLE_EMAIL_BACKEND) in UNSAFE_EMAIL_BACKENDS:
        raise ImproperlyConfigured(
            "EMAIL_BACKEND must send real e-mail when DJANGO_DEBUG is off (e.g. "
            "django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST): the console and file "
            "backends would write sign-in links where anyone who reads the logs can use them."
        )

CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# How many reverse proxies stand in front of the web process, each appending to
# X-Forwarded-For. 0 (compose puts gunicorn directly on a port): the connection's address is
# the client's and X-Forwarded-* headers are ignored, since any client can send them.
TRUSTED_PROXY_COUNT = env_int("DJANGO_TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("DJANGO_TRUSTED_PROXY_COUNT must be 0 or more.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "csp",
    "accounts",
    "prompts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.CurrentTeamMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "grokweb.urls"
WSGI_APPLICATION = "grokweb.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "prompts.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL says otherwise.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'grokweb.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # web, worker and beat share the file: WAL and a busy timeout keep them from tripping.
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so worker and live-server processes in tests see the same data.
    DATABASES["default"]["TEST"] = {
        "NAME": env_str("GROKWEB_TEST_DB", str(VAR_DIR / "test.sqlite3"))
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (django-axes): an account from one address locks after
# AXES_FAILURE_LIMIT failures; an address alone (trying many accounts) after the higher
# AXES_ADDRESS_FAILURE_LIMIT. An account is never locked for everyone: a stranger guessing
# the admin's password cannot lock the real admin out from another address.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_ADDRESS_FAILURE_LIMIT = env_int("AXES_ADDRESS_FAILURE_LIMIT", 20)
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_MINUTES", 15) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], ["ip_address"]]
AXES_HANDLER = "accounts.lockout.AccountAndAddressHandler"
AXES_CLIENT_IP_CALLABLE = "accounts.access.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    if TRUSTED_PROXY_COUNT:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", False)
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): scripts and styles only from our own static files, so
# injected markup can run nothing. Pages carry no inline script, handler or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Permissions-Policy: no page needs a camera, microphone, location or payment; copying a new
# API token or a prompt writes to the clipboard.
PERMISSIONS_POLICY = {
    "accelerometer": [], "camera": [], "display-capture": [], "geolocation": [],
    "gyroscope": [], "magnetometer": [], "microphone": [], "payment": [], "usb": [],
    "clipboard-write": ["self"], "fullscreen": ["self"],
}

# Internationalisation: English and Simplified Chinese.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Uploads: references are checked by Pillow; this caps what reaches it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
REFERENCE_MAX_UPLOAD_BYTES = env_int("REFERENCE_MAX_UPLOAD_BYTES", 30 * 1024 * 1024)

# Cache and Celery broker: Redis when REDIS_URL is set, embedded otherwise.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Above the longest countdown a retry can take (Retry-After is capped at 300 s) and
        # above the job lease, so Redis never hands a message to a second worker early.
        "visibility_timeout": 3600,
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    BROKER_DIR = VAR_DIR / "broker"
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_POOL = env_str("CELERY_POOL", "threads")
CELERY_WORKER_CONCURRENCY = env_int("CELERY_CONCURRENCY", 8)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# The gateway.
# Where `make run` starts the bundled simulator; its demo key is installed only for it.
GATEWAY_SIMULATOR_URL = "http://127.0.0.1:8900/v1"
GATEWAY_BASE_URL = env_str("GATEWAY_BASE_URL", GATEWAY_SIMULATOR_URL).rstrip("/")
GATEWAY_MODEL = env_str("GATEWAY_MODEL", "grok-build-0.1")
GATEWAY_API_KEY = env_str("GATEWAY_API_KEY")
GATEWAY_TIMEOUT_S = env_float("GATEWAY_TIMEOUT_S", 120)
GATEWAY_CONNECT_TIMEOUT_S = 10.0
GATEWAY_MAX_ATTEMPTS = env_int("GATEWAY_MAX_ATTEMPTS", 5)
GATEWAY_RPM = env_int("GATEWAY_RPM", 0)
GATEWAY_TPM = env_int("GATEWAY_TPM", 0)
GATEWAY_BACKOFF_BASE_S = env_float("GATEWAY_BACKOFF_BASE_S", 2.0)
GATEWAY_BACKOFF_CAP_S = env_float("GATEWAY_BACKOFF_CAP_S", 60.0)
GATEWAY_RETRY_AFTER_CAP_S = env_float("GATEWAY_RETRY_AFTER_CAP_S", 300.0)
GATEWAY_KEY_GRACE_MINUTES = env_int("GATEWAY_KEY_GRACE_MINUTES", 15)
GATEWAY_KEY_ROTATE_AFTER_DAYS = 90
# A running job's lease: the read timeout, the connect timeout and room for the bookkeeping.
JOB_LEASE_S = int(GATEWAY_TIMEOUT_S + GATEWAY_CONNECT_TIMEOUT_S + 60)
CELERY_TASK_SOFT_TIME_LIMIT = JOB_LEASE_S - 20
CELERY_TASK_TIME_LIMIT = JOB_LEASE_S - 5
SWEEP_INTERVAL_S = env_int("SWEEP_INTERVAL_S", 30)
MODERATION_BREAKER_LIMIT = env_int("MODERATION_BREAKER_LIMIT", 3)
DEFAULT_BUDGET_WARN_AT = Decimal("0.80")

CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {"task": "prompts.tasks.sweep_jobs", "schedule": float(SWEEP_INTERVAL_S)},
    "send-budget-warnings": {"task": "prompts.tasks.send_budget_warnings",
                             "schedule": float(SWEEP_INTERVAL_S)},
    "sweep-webhooks": {"task": "prompts.tasks.sweep_webhooks",
                       "schedule": float(SWEEP_INTERVAL_S)},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

EMAIL_BACKEND = env_str("EMAIL_BACKEND", CONSOLE_EMAIL_BACKEND)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "grokweb@localhost")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "accounts.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}

# --- Admin console area: redaction, API tokens, sign-in hardening --------------------------
# Every record of every logger is redacted when it is created (accounts.logging).
LOGGING["filters"]["redact_secrets"]["()"] = "accounts.logging.redaction_filter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "accounts.logging.RedactingExceptionReporterFilter"
# Personal API tokens: requests per token per minute (429 with Retry-After beyond it).
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 60)
# Site admins must use a strong password (length and character classes), members the defaults.
ADMIN_STRONG_PASSWORDS = env_bool("ADMIN_STRONG_PASSWORDS", True)
ADMIN_PASSWORD_MIN_LENGTH = env_int("ADMIN_PASSWORD_MIN_LENGTH", 14)
AUTH_PASSWORD_VALIDATORS.append({"NAME": "accounts.validators.AdminStrongPasswordValidator"})
# The lock-out page says in minutes, in the user's language, when to try again.
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)

# --- Throughput area: shared rate limiter and /metrics -------------------------------------
# A worker thread sleeps up to this long for its reserved slot at the gateway; a job that
# would wait longer is re-scheduled instead, so the thread stays free for other work.
GATEWAY_LIMITER_MAX_SLEEP_S = env_float("GATEWAY_LIMITER_MAX_SLEEP_S", 2.0)
# Keep each worker thread's database connection across tasks (see grokweb/celery.py).
CELERY_DB_REUSE_MAX = 1_000_000
# /metrics answers site admins (session) or `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = env_str("METRICS_TOKEN")

# --- Studio area: signed webhooks ------------------------------------------------------------
# A delivery is tried at most WEBHOOK_MAX_ATTEMPTS times, waiting base * 2**(n-1) seconds
# after try n; each POST may take WEBHOOK_TIMEOUT_S to connect and per read.
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6)
WEBHOOK_BACKOFF_BASE_S = env_float("WEBHOOK_BACKOFF_BASE_S", 30.0)
WEBHOOK_TIMEOUT_S = env_float("WEBHOOK_TIMEOUT_S", 10.0)
WEBHOOK_RETENTION_DAYS = env_int("WEBHOOK_RETENTION_DAYS", 30)
