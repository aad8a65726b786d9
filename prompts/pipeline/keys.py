"""Gateway keys: added, verified, activated, rotated, retired, revoked — and the failover
when the gateway refuses the active key. Secrets are stored encrypted; the plaintext is only
ever held for one attempt and registered with the log redaction."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.crypto import decrypt_secret, encrypt_secret, fingerprint_secret, mask_secret
from accounts.logging import register_secret
from accounts.models import GatewayKey, User
from accounts.services import audit_record
from prompts.gateway.errors import AuthError, GatewayError, InvalidRequestError
from prompts.pipeline.client import gateway_client
from prompts.pipeline.dispatch import jobs_resume

logger = logging.getLogger(__name__)

# The bundled simulator's key (`make run`, seed_demo): worthless at any real gateway, so a
# configured GATEWAY_API_KEY replaces it.
SIMULATOR_DEMO_KEY = "sim-demo-key-grokweb"
SIMULATOR_DEMO_FINGERPRINT = fingerprint_secret(SIMULATOR_DEMO_KEY)


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
    *, key: GatewayKey, actor: User | None = None, ip_address: str | None = None,
    verification: dict | None = None,
) -> GatewayKey:
    """Make `key` the one every new attempt uses; the previous active key starts retiring.
    `verification` (the check that preceded it) is recorded with the activation."""
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
                     after=_key_snapshot(key) | (verification or {}), ip_address=ip_address)
    # Jobs parked for want of a key can go again.
    jobs_resume(reason="key")
    return key


@dataclass(frozen=True)
class ActiveKey:
    id: int
    secret: str


def gateway_key_active() -> ActiveKey | None:
    """The key every new attempt must use, decrypted; None when no key is usable."""
    key = GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE).only(
        "id", "secret_encrypted", "fingerprint"
    ).first()
    if settings.GATEWAY_API_KEY and (key is None or key.fingerprint == SIMULATOR_DEMO_FINGERPRINT):
        key = gateway_key_bootstrap() or key
    if key is None:
        return None
    return gateway_key_from_store(key_id=key.id, secret_encrypted=key.secret_encrypted)


def gateway_key_from_store(*, key_id: int, secret_encrypted: str) -> ActiveKey:
    """Decrypt a stored key for one attempt (the worker reads the row with the job)."""
    secret = decrypt_secret(secret_encrypted)
    register_secret(secret)
    return ActiveKey(id=key_id, secret=secret)


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


def gateway_key_bootstrap() -> GatewayKey | None:
    """Import GATEWAY_API_KEY into the encrypted store and activate it, when it is not stored
    yet and no key but the simulator's demo key is active. Runs at start (seed_demo, a worker
    coming up) and when an attempt finds no active key. Returns the imported key, else None.

    A key stored before is left as an admin left it (retired, revoked or failing), and a key
    an admin activated is never replaced by the environment."""
    secret = settings.GATEWAY_API_KEY.strip()
    if not secret:
        return None
    fingerprint = fingerprint_secret(secret)
    if GatewayKey.objects.filter(fingerprint=fingerprint).exists():
        return None
    active = GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE).only("fingerprint").first()
    if active is not None and active.fingerprint != SIMULATOR_DEMO_FINGERPRINT:
        return None
    try:
        key = gateway_key_add(name=f"env-{fingerprint[:6]}", secret=secret, activate=True)
    except IntegrityError:
        return None  # another process imported it at the same moment
    logger.info("imported GATEWAY_API_KEY as gateway key %s (%s) and activated it",
                key.name, key.masked)
    return key


def gateway_key_is_demo(key: GatewayKey) -> bool:
    return key.fingerprint == SIMULATOR_DEMO_FINGERPRINT


def gateway_keys_sharing_secret(*, fingerprint: str, exclude_id: int | None = None) -> list[str]:
    """Names of stored keys with this secret (same fingerprint): adding a secret twice under
    two names makes a failover to "the other key" no failover at all."""
    return list(GatewayKey.objects.filter(fingerprint=fingerprint).exclude(pk=exclude_id)
                .order_by("name").values_list("name", flat=True))


def gateway_key_verify(
    *, key: GatewayKey, actor: User | None = None, ip_address: str | None = None,
    audit: bool = True,
) -> tuple[bool, str]:
    """Ask the gateway whether it accepts the key (GET /models). Records the result, and
    audits it unless the caller records it with what it does next (`audit=False`)."""
    now = timezone.now()
    secret = decrypt_secret(key.secret_encrypted)
    register_secret(secret)
    try:
        models = gateway_client().list_models(secret)
    except (AuthError, InvalidRequestError) as error:
        if isinstance(error, InvalidRequestError) and error.http_status != 400:
            ok, detail = False, error.message  # e.g. a gateway without GET /models
        else:
            _mark_refused(key, error=str(error)[:500], now=now)
            ok, detail = False, error.message
    except GatewayError as error:
        ok, detail = False, error.message
    else:
        GatewayKey.objects.filter(pk=key.pk).update(verified_at=now)
        key.verified_at = now
        ok, detail = True, ", ".join(models[:5]) or "ok"
    if audit:
        _verification_audit(key, ok, detail, actor=actor, ip_address=ip_address)
    return ok, detail


def _verification_audit(key: GatewayKey, ok: bool, detail: str, *, actor: User | None,
                        ip_address: str | None) -> None:
    audit_record(actor=actor, action="gateway_key.verify", target=key,
                 after=_key_snapshot(key) | {"accepted": ok, "detail": detail[:200]},
                 ip_address=ip_address)


def _mark_refused(key: GatewayKey, *, error: str, now) -> None:
    """The gateway refused the key (401/403; a 400 to a bodiless GET, as LiteLLM's proxy
    answers an unknown key). A key in reserve becomes failing at once, so nobody is offered
    to activate it; the active key is left to the failover that its jobs trigger."""
    fields = {"last_error": error, "last_error_at": now, "verified_at": None}
    if key.status == GatewayKey.Status.STANDBY:
        fields["status"] = GatewayKey.Status.FAILING
    GatewayKey.objects.filter(pk=key.pk).update(**fields)
    for name, value in fields.items():
        setattr(key, name, value)


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


def gateway_key_mark_standby(
    *, key: GatewayKey, actor: User | None = None, ip_address: str | None = None
) -> GatewayKey:
    """Keep a retiring, retired or failing key in reserve. It must be verified again before a
    failover may pick it: the gateway may have refused it for a reason."""
    allowed = [GatewayKey.Status.RETIRING, GatewayKey.Status.RETIRED, GatewayKey.Status.FAILING]
    before = _key_snapshot(key)
    with transaction.atomic():
        changed = GatewayKey.objects.filter(pk=key.pk, status__in=allowed).update(
            status=GatewayKey.Status.STANDBY, retiring_until=None, verified_at=None
        )
        key.refresh_from_db()
        if changed:
            audit_record(actor=actor, action="gateway_key.standby", target=key, before=before,
                         after=_key_snapshot(key), ip_address=ip_address)
    return key


def gateway_key_rotate(
    *, key: GatewayKey, actor: User | None = None, ip_address: str | None = None
) -> tuple[bool, str]:
    """Verify `key` at the gateway and, only if it is accepted, activate it; the previous
    active key starts retiring. Returns (activated, the gateway's answer)."""
    if key.status == GatewayKey.Status.REVOKED:
        return False, "revoked"
    # One check, one audit entry: with the activation when it passes, alone when it fails.
    ok, detail = gateway_key_verify(key=key, actor=actor, ip_address=ip_address, audit=False)
    if ok:
        gateway_key_activate(key=key, actor=actor, ip_address=ip_address,
                             verification={"accepted": True, "detail": detail[:200]})
    else:
        _verification_audit(key, ok, detail, actor=actor, ip_address=ip_address)
    return ok, detail


@dataclass(frozen=True)
class Failover:
    """After the gateway refused a key: `stopped` when no key is left to send with."""

    stopped: bool


def _verified_standby() -> GatewayKey | None:
    return (
        GatewayKey.objects.filter(status=GatewayKey.Status.STANDBY, verified_at__isnull=False)
        .order_by("-verified_at").first()
    )


def failover_after_refusal(*, key_id: int, error: str) -> Failover:
    """Mark the refused key failing; if it was the active one, activate the most recently
    verified standby. A retiring key's refusal changes nothing for other jobs."""
    was_active = gateway_key_mark_failing(key_id=key_id, error=error)
    if not was_active:
        return Failover(stopped=False)
    standby = _verified_standby()
    if standby is None:
        return Failover(stopped=True)
    gateway_key_activate(key=standby)
    return Failover(stopped=False)


def gateway_keys_retire_due(now: datetime) -> int:
    """Retiring keys past their grace period retire: no attempt uses them any more."""
    return GatewayKey.objects.filter(
        status=GatewayKey.Status.RETIRING, retiring_until__lte=now
    ).update(status=GatewayKey.Status.RETIRED)
