"""Keeping gateway keys, API tokens and other secrets out of every log line and error report.

Two layers, so no handler or logger can be forgotten:
- `install_redaction()` wraps the log-record factory: every record any logger creates is
  redacted once, at birth (message, args, exception and stack text), before any handler,
  third-party or not, sees it;
- `RedactSecretsFilter` on the root handler repeats the work for records made by code that
  builds `LogRecord`s by hand (e.g. records unpickled from another process).
Error reports (Django's 500 e-mails and debug pages) go through `RedactingExceptionReporterFilter`.
"""

import logging
import re
from urllib.parse import urlsplit

from django.views.debug import SafeExceptionReporterFilter

# Key-shaped strings: sk-… style keys, Bearer/Basic credentials, our personal API tokens,
# Fernet tokens (an encrypted secret is still nobody's business) and key=value pairs.
KEY_PATTERNS = [
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)\b((?:bearer|basic)\s+)[A-Za-z0-9_\-\.=+/]{8,}"),
    re.compile(r"\bgw_[A-Za-z0-9_\-]{8,}"),
    # Webhook signing secrets, and share-link tokens in request paths (/s/<token>/).
    re.compile(r"\bwhsec_[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(/s/)[A-Za-z0-9_\-]{20,}"),
    re.compile(r"\bgAAAAA[A-Za-z0-9_\-=]{20,}"),
    re.compile(
        r"(?i)((?:api[_-]?key|secret|token|password|passwd|authorization)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]{6,}"
    ),
    # Sign-in links: an invitation or password link (`/accounts/password/<uid>/<token>/`,
    # Django's `/reset/<uid>/<token>/`) lets whoever reads it choose the account's password.
    re.compile(r"(?i)(/(?:password|reset)/)[A-Za-z0-9_\-]+/[A-Za-z0-9_\-]+"),
]
REDACTED = "[redacted]"

_known_secrets: set[str] = set()


def register_secret(secret: str) -> None:
    """Remember a secret so that it is redacted wherever it turns up, whatever its shape."""
    if secret and len(secret) >= 6:
        _known_secrets.add(secret)


def _keep_group_1(match: re.Match) -> str:
    return (match.group(1) if match.re.groups else "") + REDACTED


def redact(text: str) -> str:
    # Longest first, so a secret that contains another is removed whole.
    for secret in sorted(_known_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in KEY_PATTERNS:
        text = pattern.sub(_keep_group_1, text)
    return text


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a record in place: its message with args merged, exception and stack text."""
    if getattr(record, "_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep what we can show, redacted
        message = f"{record.msg} {record.args!r}"
    cleaned = redact(message)
    if cleaned != message or record.args:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._redacted = True
    return record


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_original_factory = None


def install_redaction() -> None:
    """Redact every record every logger creates (idempotent), and learn the secrets that
    live in settings."""
    global _original_factory
    from django.conf import settings

    if _original_factory is None:
        _original_factory = logging.getLogRecordFactory()

        def redacting_factory(*args, **kwargs):
            return redact_record(_original_factory(*args, **kwargs))

        logging.setLogRecordFactory(redacting_factory)
    for secret in [settings.SECRET_KEY, settings.GATEWAY_API_KEY,
                   getattr(settings, "EMAIL_HOST_PASSWORD", ""),
                   *settings.FIELD_ENCRYPTION_KEYS,
                   *[db.get("PASSWORD", "") for db in settings.DATABASES.values()],
                   urlsplit(getattr(settings, "REDIS_URL", "") or "").password or ""]:
        register_secret(secret or "")


def redaction_filter() -> RedactSecretsFilter:
    """LOGGING's filter factory: installing the record factory happens with it, at the
    moment Django configures logging, before any request or task runs."""
    install_redaction()
    return RedactSecretsFilter()


class RedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's error reports hide settings named like secrets; this also redacts values
    (frame variables, request data) that hold one."""

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        return redact(cleansed) if type(cleansed) is str else cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, redact(value) if type(value) is str else _redact_repr(value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def get_post_parameters(self, request):
        params = super().get_post_parameters(request)
        if not params:
            return params
        cleaned = params.copy()
        for name in list(cleaned):
            value = str(cleaned[name])
            if name in ("secret", "password", "token") or redact(value) != value:
                cleaned[name] = self.cleansed_substitute
        return cleaned


def _redact_repr(value):
    """Frame values are rendered with repr(); hand the template a redacted string when
    the repr holds a secret."""
    try:
        text = repr(value)
    except Exception:
        return value
    cleaned = redact(text)
    return cleaned if cleaned != text else value
