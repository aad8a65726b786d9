"""Access helpers: every read of a team-scoped object goes through one of these.

An object of a team the user is not in raises Http404, never 403, so its existence is not confirmed.
"""

import ipaddress
from functools import wraps

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import Membership, Team, User


def membership_for_user(user: User, team_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("team"), user=user, team_id=team_id
    )


def team_for_member(user: User, team_id: int) -> Team:
    return membership_for_user(user, team_id).team


def team_for_manager(user: User, team_id: int) -> Team:
    membership = membership_for_user(user, team_id)
    if not membership.is_manager:
        raise Http404
    return membership.team


def require_site_admin(user: User) -> None:
    if not (user.is_authenticated and user.is_staff and user.is_active):
        raise Http404


MAX_ID = 2**63 - 1  # a bigint primary key: anything larger can name no row


def parse_id(raw) -> int | None:
    """A primary key from user input, or None for anything that cannot name a row
    (not a number, zero or negative, beyond a bigint)."""
    text = str(raw).strip() if raw is not None else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:  # not "²" or "١"
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def managed_teams(user: User) -> list[Team]:
    """Teams whose reports, budgets and holds the user may open: every team for a site
    admin, else the teams they manage."""
    if user.is_staff:
        return list(Team.objects.order_by("name"))
    return list(Team.objects.filter(memberships__user=user, memberships__role="manager")
                .order_by("name"))


def managed_team(request, team_id=None) -> Team:
    """The team asked for (`team_id`, else ?team=, else the current one) if the user manages
    it or is a site admin; anyone else, and any id that names no team, gets a 404."""
    raw = team_id or request.GET.get("team") or getattr(request.membership, "team_id", None)
    parsed = parse_id(raw)
    if parsed is None:
        raise Http404
    if request.user.is_staff and request.user.is_active:
        return get_object_or_404(Team, pk=parsed)
    return team_for_manager(request.user, parsed)


def _valid_ip(text: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((text or "").strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The address the request came from, for sign-in throttling and the audit log.

    With DJANGO_TRUSTED_PROXY_COUNT = N > 0, each of the N proxies appended the address it
    was reached from to X-Forwarded-For, so the client is the N-th entry from the right;
    entries further left were written by the client and are never trusted. With 0, the
    header is ignored and the connection's address is the client's."""
    remote = _valid_ip(request.META.get("REMOTE_ADDR"))
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
                 if part.strip()]
    if not forwarded:
        return remote
    return _valid_ip(forwarded[-min(count, len(forwarded))]) or remote


def actor_of(request) -> dict:
    """Who did it and from where, for the audit log: `**actor_of(request)`."""
    return {"actor": request.user, "ip_address": client_ip(request)}


def site_admin_required(view):
    """Console pages: active site admins only; anyone else, signed in or not, gets a 404
    (the console does not confirm it exists)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        require_site_admin(request.user)
        return view(request, *args, **kwargs)

    return wrapper
