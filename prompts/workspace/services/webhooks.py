"""A team's webhook endpoints: saved behind the SSRF guard, their secret shown once, a test
event on demand; and the signature every delivery carries.

    X-GrokWeb-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
"""

import hashlib
import hmac
import secrets

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.crypto import encrypt_secret, mask_secret
from accounts.logging import register_secret
from accounts.models import Team, User
from accounts.services import audit_record
from grokweb.refusals import Refusal
from prompts.events import event_emit
from prompts.models import SUBSCRIBABLE_EVENTS, WebhookEndpoint, WebhookEvent, WebhookEventKind
from prompts.workspace.url_fetch import PUBLIC_INTERNET, url_vet

SECRET_PREFIX = "whsec_"
SIGNATURE_HEADER = "X-GrokWeb-Signature"
MAX_ENDPOINTS_PER_TEAM = 20
# What a webhook URL may reach: public https addresses only. Tests swap it for a policy
# that also reaches their loopback receiver; nothing else changes.
URL_POLICY = PUBLIC_INTERNET


class WebhookRefused(Refusal):
    """An endpoint that cannot be saved."""


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def url_policy():
    return URL_POLICY


def _check(url: str, events: list[str]) -> str:
    url = url.strip()
    url_vet(url, policy=url_policy())  # UrlRefused, with the reason, for the form
    unknown = set(events) - {kind.value for kind in SUBSCRIBABLE_EVENTS}
    if not events or unknown:
        raise WebhookRefused("bad_events", _("Choose at least one event."), field="events")
    return url


def _new_secret() -> str:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    register_secret(secret)
    return secret


def _snapshot(endpoint: WebhookEndpoint) -> dict:
    return {"url": endpoint.url, "events": endpoint.events, "is_active": endpoint.is_active,
            "description": endpoint.description}


def webhook_endpoint_create(*, team: Team, user: User, url: str, events: list[str],
                            description: str = "", is_active: bool = True,
                            ip_address: str | None = None) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its signing secret, which is shown once and stored encrypted."""
    url = _check(url, events)
    if WebhookEndpoint.objects.filter(team=team).count() >= MAX_ENDPOINTS_PER_TEAM:
        raise WebhookRefused("too_many", _("A team can have at most %(n)s endpoints.")
                             % {"n": MAX_ENDPOINTS_PER_TEAM})
    secret = _new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            team=team, url=url, events=sorted(set(events)), description=description.strip(),
            is_active=is_active, secret_encrypted=encrypt_secret(secret),
            secret_masked=mask_secret(secret), created_by=user)
        audit_record(actor=user, action="webhook.create", target=endpoint,
                     after=_snapshot(endpoint), ip_address=ip_address)
    return endpoint, secret


def webhook_endpoint_update(*, endpoint: WebhookEndpoint, user: User, url: str,
                            events: list[str], description: str = "", is_active: bool = True,
                            ip_address: str | None = None) -> WebhookEndpoint:
    url = _check(url, events)
    before = _snapshot(endpoint)
    with transaction.atomic():
        endpoint.url, endpoint.events = url, sorted(set(events))
        endpoint.description, endpoint.is_active = description.strip(), is_active
        endpoint.save()
        audit_record(actor=user, action="webhook.update", target=endpoint, before=before,
                     after=_snapshot(endpoint), ip_address=ip_address)
    return endpoint


def webhook_secret_rotate(*, endpoint: WebhookEndpoint, user: User,
                          ip_address: str | None = None) -> str:
    """A new secret, shown once; deliveries from now on are signed with it."""
    secret = _new_secret()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            secret_encrypted=encrypt_secret(secret), secret_masked=mask_secret(secret))
        audit_record(actor=user, action="webhook.rotate_secret", target=endpoint,
                     ip_address=ip_address)
    endpoint.refresh_from_db()
    return secret


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, user: User,
                            ip_address: str | None = None) -> None:
    """Gone with its delivery log; events still queued for it are dropped."""
    with transaction.atomic():
        audit_record(actor=user, action="webhook.delete", target=endpoint,
                     before=_snapshot(endpoint), ip_address=ip_address)
        endpoint.delete()


def webhook_test_send(*, endpoint: WebhookEndpoint, user: User,
                      ip_address: str | None = None) -> WebhookEvent:
    """A `webhook.test` event for this endpoint alone, delivered like any other."""
    with transaction.atomic():
        event = event_emit(team_id=endpoint.team_id, kind=WebhookEventKind.TEST,
                           endpoint_id=endpoint.pk, payload={
                               "message": "GrokWeb test event: the signature and the URL work.",
                               "sent_by": user.get_username()})
        audit_record(actor=user, action="webhook.test", target=endpoint, ip_address=ip_address)
    return event
