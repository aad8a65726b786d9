"""Writes for accounts: teams and roles, gateway keys, the audit log."""

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.crypto import decrypt_secret, encrypt_secret, fingerprint_secret, mask_secret
from accounts.logging import register_secret
from accounts.models import ApiToken, AuditEvent, GatewayKey, Membership, Team, User

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


def team_create(
    *, name: str, actor: User | None = None, ip_address: str | None = None
) -> Team:
    with transaction.atomic():
        team = Team(name=name.strip())
        team.full_clean()
        team.save()
        audit_record(actor=actor, action="team.create", target=team, after={"name": team.name},
                     ip_address=ip_address)
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
    if key is None and settings.GATEWAY_API_KEY:
        key = gateway_key_bootstrap()
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


def gateway_key_verify(
    *, key: GatewayKey, actor: User | None = None, ip_address: str | None = None
) -> tuple[bool, str]:
    """Ask the gateway whether it accepts the key (GET /models). Records the result."""
    from prompts.gateway.errors import AuthError, GatewayError
    from prompts.services.jobs import gateway_client

    now = timezone.now()
    secret = decrypt_secret(key.secret_encrypted)
    register_secret(secret)
    try:
        models = gateway_client().list_models(secret)
    except AuthError as error:
        GatewayKey.objects.filter(pk=key.pk).update(last_error=str(error)[:500],
                                                    last_error_at=now, verified_at=None)
        key.verified_at, key.last_error, key.last_error_at = None, str(error)[:500], now
        ok, detail = False, error.message
    except GatewayError as error:
        ok, detail = False, error.message
    else:
        GatewayKey.objects.filter(pk=key.pk).update(verified_at=now)
        key.verified_at = now
        ok, detail = True, ", ".join(models[:5]) or "ok"
    audit_record(actor=actor, action="gateway_key.verify", target=key,
                 after=_key_snapshot(key) | {"accepted": ok, "detail": detail[:200]},
                 ip_address=ip_address)
    return ok, detail


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
    ok, detail = gateway_key_verify(key=key, actor=actor, ip_address=ip_address)
    if ok:
        gateway_key_activate(key=key, actor=actor, ip_address=ip_address)
    return ok, detail


def dispatch_resume(*, actor: User, ip_address: str | None = None) -> int:
    """An admin says the gateway balance is topped up: parked jobs go again."""
    from prompts.services.dispatch import dispatch_paused, pause_clear

    pause = dispatch_paused()
    resumed = pause_clear(cleared_by=actor)
    audit_record(actor=actor, action="dispatch.resume", target=pause,
                 before={"paused": pause is not None}, after={"resumed_jobs": resumed},
                 ip_address=ip_address)
    return resumed


# Personal API tokens (prefix + HMAC, like healthchecks: the plaintext is shown once) ------

TOKEN_PREFIX = "gw_"
TOKEN_PREFIX_CHARS = 8


def _token_hmac(token: str) -> str:
    return salted_hmac("grokweb.api_token", token, algorithm="sha256").hexdigest()


def api_token_create(
    *, user: User, name: str, ip_address: str | None = None
) -> tuple[ApiToken, str]:
    """Returns the token row and its plaintext, which is never stored or shown again."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    register_secret(plaintext)
    with transaction.atomic():
        token = ApiToken(user=user, name=name.strip(),
                         prefix=plaintext[len(TOKEN_PREFIX):][:TOKEN_PREFIX_CHARS],
                         token_hmac=_token_hmac(plaintext))
        token.full_clean()
        token.save()
        audit_record(actor=user, action="api_token.create", target=token,
                     after={"name": token.name, "prefix": token.prefix}, ip_address=ip_address)
    return token, plaintext


def api_token_revoke(
    *, token: ApiToken, actor: User, ip_address: str | None = None
) -> ApiToken:
    if token.revoked_at is None:
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now())
        token.refresh_from_db()
        audit_record(actor=actor, action="api_token.revoke", target=token,
                     after={"name": token.name, "prefix": token.prefix},
                     ip_address=ip_address)
    return token


def api_token_authenticate(*, plaintext: str) -> ApiToken | None:
    """The live token this plaintext belongs to, with its user; None for anything else
    (unknown, revoked, or its user deactivated)."""
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    prefix = plaintext[len(TOKEN_PREFIX):][:TOKEN_PREFIX_CHARS]
    token = (ApiToken.objects.select_related("user")
             .filter(prefix=prefix, revoked_at__isnull=True, user__is_active=True).first())
    if token is None or not hmac.compare_digest(token.token_hmac, _token_hmac(plaintext)):
        return None
    now = timezone.now()
    # One write a minute at most, not one per request.
    if token.last_used_at is None or token.last_used_at < now - timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# Users and roles ------------------------------------------------------------------------


def _user_snapshot(user: User) -> dict:
    return {"username": user.username, "email": user.email, "is_active": user.is_active,
            "is_staff": user.is_staff}


def user_create(
    *,
    username: str,
    email: str,
    password: str | None = None,
    is_staff: bool = False,
    actor: User | None = None,
    ip_address: str | None = None,
) -> User:
    """Create a user. Without a password the user is invited: they get an e-mail with a link
    to choose one (the same link Django's password reset uses)."""
    with transaction.atomic():
        user = User(username=username.strip(), email=email.strip(), is_staff=is_staff)
        if password:
            validate_password(password, user)
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean()
        user.save()
        audit_record(actor=actor, action="user.create", target=user,
                     after=_user_snapshot(user) | {"invited": not password},
                     ip_address=ip_address)
    if not password:
        transaction.on_commit(lambda: user_invite_send(user=user))
    return user


def user_invite_send(*, user: User) -> None:
    from django.contrib.auth.tokens import default_token_generator
    from django.core.mail import send_mail
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    link = settings.SITE_URL + reverse("password_reset_confirm", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user)})
    send_mail(
        "GrokWeb: you are invited", f"Hello {user.username},\n\nChoose your password here "
        f"(the link works once, for a few days):\n{link}\n\nYour user name is {user.username}.",
        None, [user.email], fail_silently=True,
    )


def user_set_active(
    *, user: User, active: bool, actor: User, ip_address: str | None = None
) -> User:
    """Deactivating signs the user out everywhere and stops their API tokens at once: both
    check `is_active` on every request."""
    if user.is_active != active:
        before = _user_snapshot(user)
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(is_active=active)
            user.refresh_from_db()
            audit_record(actor=actor, action="user.activate" if active else "user.deactivate",
                         target=user, before=before, after=_user_snapshot(user),
                         ip_address=ip_address)
    return user


def user_set_staff(
    *, user: User, is_staff: bool, actor: User, ip_address: str | None = None
) -> User:
    if user.is_staff != is_staff:
        before = _user_snapshot(user)
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(is_staff=is_staff)
            user.refresh_from_db()
            audit_record(actor=actor, action="user.staff", target=user, before=before,
                         after=_user_snapshot(user), ip_address=ip_address)
    return user


def membership_remove(
    *, membership: Membership, actor: User, ip_address: str | None = None
) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="membership.remove", target=membership,
                     before={"team": membership.team.name, "user": membership.user.username,
                             "role": membership.role}, ip_address=ip_address)
        membership.delete()


def login_failure_record(*, username: str, ip_address: str | None, locked_out: bool) -> None:
    """A failed sign-in (and a lock-out) goes to the audit log; never the password tried."""
    audit_record(actor=None, action="auth.locked_out" if locked_out else "auth.login_failed",
                 target=None, after={"username": username[:150]}, ip_address=ip_address)


def signin_lockouts_clear(*, actor: User, ip_address: str | None = None) -> int:
    """Lift every sign-in lock-out (accounts and addresses) at once."""
    from axes.utils import reset

    cleared = reset()
    audit_record(actor=actor, action="auth.lockouts_cleared", after={"attempts": cleared},
                 ip_address=ip_address)
    return cleared
