"""Where the gateway's usage log is read: its URL and access token.

Set by a site admin on the Reconciliation page (the token stored encrypted with
FIELD_ENCRYPTION_KEYS, like the gateway keys, and shown masked), else GATEWAY_LOG_URL /
GATEWAY_LOG_TOKEN / GATEWAY_LOG_USER_ID; the URL defaults to GATEWAY_BASE_URL without /v1
plus /api/log/self. The token in plain text is only ever held for one pull, and is
registered with the log redaction as soon as it is read.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.crypto import decrypt_secret, encrypt_secret, mask_secret
from accounts.logging import register_secret
from accounts.models import User
from accounts.services import audit_record
from prompts.gateway.usage_log import default_log_url
from prompts.models import GatewayLogSource


@dataclass(frozen=True)
class LogSource:
    url: str
    token: str = ""
    user_id: str = ""
    token_masked: str = ""
    token_from: str = ""  # "page", "environment" or "" (none)

    @property
    def configured(self) -> bool:
        return bool(self.token)


def log_source() -> LogSource:
    """The usage log to pull, with its token decrypted (empty when none is set)."""
    stored = GatewayLogSource.objects.filter(pk=1).first()
    url = (stored.url if stored and stored.url else settings.GATEWAY_LOG_URL) or \
        default_log_url(settings.GATEWAY_BASE_URL)
    user_id = (stored.user_id if stored and stored.user_id else settings.GATEWAY_LOG_USER_ID)
    if stored and stored.token_encrypted:
        token = decrypt_secret(stored.token_encrypted)
        register_secret(token)
        return LogSource(url=url, token=token, user_id=user_id,
                         token_masked=stored.token_masked, token_from="page")
    token = settings.GATEWAY_LOG_TOKEN
    return LogSource(url=url, token=token, user_id=user_id,
                     token_masked=mask_secret(token) if token else "",
                     token_from="environment" if token else "")


def log_source_settings() -> dict:
    """What the page's form shows: the stored URL and user id (never the token)."""
    stored = GatewayLogSource.objects.filter(pk=1).first()
    return {"url": stored.url, "user_id": stored.user_id} if stored else {}


def log_source_set(*, url: str, token: str | None, user_id: str, actor: User | None,
                   ip_address: str | None = None) -> GatewayLogSource:
    """Store where the log is read. `token` None keeps the stored token; "" removes it.
    Audited, never with the token (only its masked form)."""
    user_id = user_id.strip()
    if user_id and not user_id.isdigit():
        raise ValidationError({"user_id": _("The gateway's user id is a number.")})
    with transaction.atomic():
        source, _created = GatewayLogSource.objects.select_for_update().get_or_create(pk=1)
        before = {"url": source.url, "token": source.token_masked, "user_id": source.user_id}
        source.url = url.strip()
        source.user_id = user_id
        if token is not None:
            token = token.strip()
            if token:
                register_secret(token)
            source.token_encrypted = encrypt_secret(token) if token else ""
            source.token_masked = mask_secret(token) if token else ""
        source.updated_by = actor if actor is not None and actor.is_authenticated else None
        source.full_clean()
        source.save()
        audit_record(actor=actor, action="gateway_log.set", target=source, before=before,
                     after={"url": source.url, "token": source.token_masked,
                            "user_id": source.user_id}, ip_address=ip_address)
    return source
