"""Access helpers: every read of a team-scoped object goes through one of these.

An object of a team the user is not in raises Http404, never 403, so its existence is not confirmed.
"""

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
