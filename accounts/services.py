"""Writes for accounts: the audit log, teams and roles, personal API tokens, users."""

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.logging import register_secret
from accounts.models import ApiToken, AuditEvent, Membership, Team, User

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


# Personal API tokens (prefix + HMAC, like healthchecks: the plaintext is shown once) ------

TOKEN_PREFIX = "gw_"
TOKEN_PREFIX_CHARS = 8


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _legacy_token_digests(token: str) -> list[str]:
    """How tokens made before SHA-256 were stored: an HMAC keyed on the secret key, tried
    with DJANGO_SECRET_KEY and each of DJANGO_SECRET_KEY_FALLBACKS."""
    return [salted_hmac("grokweb.api_token", token, secret=secret, algorithm="sha256").hexdigest()
            for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]


def _token_matches(token: ApiToken, plaintext: str) -> bool:
    if token.digest_scheme == ApiToken.DigestScheme.SHA256:
        return hmac.compare_digest(token.token_digest, _token_digest(plaintext))
    if not any(hmac.compare_digest(token.token_digest, legacy)
               for legacy in _legacy_token_digests(plaintext)):
        return False
    # Upgrade on first use: from now on no secret key is involved.
    ApiToken.objects.filter(pk=token.pk).update(
        token_digest=_token_digest(plaintext), digest_scheme=ApiToken.DigestScheme.SHA256)
    return True


def api_token_create(
    *, user: User, name: str, ip_address: str | None = None
) -> tuple[ApiToken, str]:
    """Returns the token row and its plaintext, which is never stored or shown again."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    register_secret(plaintext)
    with transaction.atomic():
        token = ApiToken(user=user, name=name.strip(),
                         prefix=plaintext[len(TOKEN_PREFIX):][:TOKEN_PREFIX_CHARS],
                         token_digest=_token_digest(plaintext))
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
    if token is None or not _token_matches(token, plaintext):
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


def user_sessions_end(*, user: User) -> int:
    """Delete every session the user is signed in with; returns how many. Sessions are
    stored signed, not indexed by user, so each live one is read (a console action, rare)."""
    ended = [session.pk for session in Session.objects.filter(expire_date__gt=timezone.now())
             if session.get_decoded().get("_auth_user_id") == str(user.pk)]
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)


def user_set_active(
    *, user: User, active: bool, actor: User, ip_address: str | None = None
) -> User:
    """Deactivating is final for what the user held: every session is deleted and every API
    token revoked (audited), so re-activating gives back the account, never an old session
    or token. Requests in between are refused anyway: both check `is_active`."""
    if user.is_active == active:
        return user
    before = _user_snapshot(user)
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=active)
        user.refresh_from_db()
        after = _user_snapshot(user)
        if not active:
            revoked = list(ApiToken.objects.filter(user=user, revoked_at__isnull=True)
                           .values_list("prefix", flat=True))
            ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
                revoked_at=timezone.now())
            after |= {"sessions_ended": user_sessions_end(user=user),
                      "tokens_revoked": revoked}
        audit_record(actor=actor, action="user.activate" if active else "user.deactivate",
                     target=user, before=before, after=after, ip_address=ip_address)
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
