"""Writes for accounts: teams and roles, gateway keys, the audit log."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.crypto import decrypt_secret, encrypt_secret, fingerprint_secret, mask_secret
from accounts.logging import register_secret
from accounts.models import AuditEvent, GatewayKey, Membership, Team, User

logger = logging.getLogger(__name__)


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: Any = None,
    before: dict | None = None,
    after: dict | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=type(target).__name__ if target is not None else "",
        target_id=str(getattr(target, "pk", "") or ""),
        target_repr=str(target)[:200] if target is not None else "",
        before=before,
        after=after,
        ip_address=ip_address,
    )


def team_create(*, name: str) -> Team:
    team = Team(name=name)
    team.full_clean()
    team.save()
    return team


def membership_set(
    *, team: Team, user: User, role: str, actor: User | None = None, ip_address: str | None = None
) -> Membership:
    with transaction.atomic():
        membership, created = Membership.objects.select_for_update().get_or_create(
            team=team, user=user, defaults={"role": role}
        )
        before = None if created else {"role": membership.role}
        if not created and membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
        if created or before != {"role": role}:
            audit_record(
                actor=actor,
                action="membership.set",
                target=membership,
                before=before,
                after={"team": team.name, "user": user.username, "role": role},
                ip_address=ip_address,
            )
    return membership


# Gateway keys ---------------------------------------------------------------------------


def _key_snapshot(key: GatewayKey) -> dict:
    return {"name": key.name, "masked": key.masked, "fingerprint": key.fingerprint,
            "status": key.status}


def gateway_key_add(
    *,
    name: str,
    secret: str,
    activate: bool = False,
    actor: User | None = None,
    ip_address: str | None = None,
) -> GatewayKey:
    secret = secret.strip()
    if not secret:
        raise ValueError("the key is empty")
    register_secret(secret)
    with transaction.atomic():
        key = GatewayKey(
            name=name,
            secret_encrypted=encrypt_secret(secret),
            masked=mask_secret(secret),
            fingerprint=fingerprint_secret(secret),
            status=GatewayKey.Status.STANDBY,
            added_by=actor if actor is not None and actor.is_authenticated else None,
        )
        key.full_clean()
        key.save()
        audit_record(actor=actor, action="gateway_key.add", target=key,
                     after=_key_snapshot(key), ip_address=ip_address)
        if activate:
            gateway_key_activate(key=key, actor=actor, ip_address=ip_address)
    return key


def gateway_key_activate(
    *, key: GatewayKey, actor: User | None = None, ip_address: str | None = None
) -> GatewayKey:
    """Make `key` the one every new attempt uses; the previous active key starts retiring."""
    now = timezone.now()
    with transaction.atomic():
        previous = list(
            GatewayKey.objects.select_for_update().filter(status=GatewayKey.Status.ACTIVE)
            .exclude(pk=key.pk)
        )
        for old in previous:
            before = _key_snapshot(old)
            old.status = GatewayKey.Status.RETIRING
            old.retiring_until = now + timedelta(minutes=settings.GATEWAY_KEY_GRACE_MINUTES)
            old.save(update_fields=["status", "retiring_until"])
            audit_record(actor=actor, action="gateway_key.retire", target=old, before=before,
                         after=_key_snapshot(old), ip_address=ip_address)
        before = _key_snapshot(key)
        key.status = GatewayKey.Status.ACTIVE
        key.activated_at = now
        key.last_error = ""
        key.save(update_fields=["status", "activated_at", "last_error"])
        audit_record(actor=actor, action="gateway_key.activate", target=key, before=before,
                     after=_key_snapshot(key), ip_address=ip_address)
    # Jobs parked for want of a key can go again.
    from prompts.services.dispatch import jobs_resume

    jobs_resume(reason="key")
    return key


@dataclass(frozen=True)
class ActiveKey:
    id: int
    secret: str


def gateway_key_active() -> ActiveKey | None:
    """The key every new attempt must use, decrypted; None when no key is usable."""
    key = GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE).only(
        "id", "secret_encrypted"
    ).first()
    if key is None:
        return None
    secret = decrypt_secret(key.secret_encrypted)
    register_secret(secret)
    return ActiveKey(id=key.id, secret=secret)


def gateway_key_mark_failing(*, key_id: int, error: str) -> bool:
    """Mark a refused key failing. Returns True when it was the active key (dispatch stops)."""
    now = timezone.now()
    updated = GatewayKey.objects.filter(
        pk=key_id, status__in=[GatewayKey.Status.ACTIVE, GatewayKey.Status.RETIRING]
    ).update(status=GatewayKey.Status.FAILING, last_error=error[:500], last_error_at=now)
    if updated:
        key = GatewayKey.objects.get(pk=key_id)
        audit_record(actor=None, action="gateway_key.failing", target=key,
                     after=_key_snapshot(key) | {"error": error[:200]})
        logger.error("gateway key %s (%s) refused by the gateway: %s", key.name, key.masked, error)
    return bool(updated)


def gateway_key_touch(*, key_id: int) -> None:
    GatewayKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())


def gateway_key_bootstrap() -> GatewayKey | None:
    """Import GATEWAY_API_KEY into the encrypted store when no key is active."""
    secret = settings.GATEWAY_API_KEY.strip()
    if not secret or GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE).exists():
        return None
    fingerprint = fingerprint_secret(secret)
    existing = GatewayKey.objects.filter(fingerprint=fingerprint).first()
    if existing is not None:
        return None  # imported before and since retired, revoked or failing: leave it be
    try:
        return gateway_key_add(name=f"env-{fingerprint[:6]}", secret=secret, activate=True)
    except IntegrityError:
        return None  # another process imported it at the same moment


def gateway_key_verify(*, key: GatewayKey) -> tuple[bool, str]:
    """Ask the gateway whether it accepts the key (GET /models). Records the result."""
    from prompts.gateway.errors import AuthError, GatewayError
    from prompts.services.jobs import gateway_client

    now = timezone.now()
    try:
        models = gateway_client().list_models(decrypt_secret(key.secret_encrypted))
    except AuthError as error:
        GatewayKey.objects.filter(pk=key.pk).update(last_error=str(error)[:500],
                                                    last_error_at=now)
        return False, error.message
    except GatewayError as error:
        return False, error.message
    GatewayKey.objects.filter(pk=key.pk).update(verified_at=now)
    key.verified_at = now
    return True, ", ".join(models[:5]) or "ok"


def gateway_key_revoke(
    *, key: GatewayKey, actor: User | None = None, ip_address: str | None = None
) -> GatewayKey:
    """Stop using a key at once (a leak): not even attempts in their grace period use it."""
    before = _key_snapshot(key)
    GatewayKey.objects.filter(pk=key.pk).update(status=GatewayKey.Status.REVOKED,
                                                retiring_until=None)
    key.refresh_from_db()
    audit_record(actor=actor, action="gateway_key.revoke", target=key, before=before,
                 after=_key_snapshot(key), ip_address=ip_address)
    return key
