"""Site-wide template context: the team switcher, the banners above every page, and the
managers' link to moderation holds while there are any."""

from prompts.pipeline.selectors import gateway_banners, hold_banners, open_hold_count
from prompts.usage.budget_status import budget_banners


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if getattr(request, "htmx", False):
        # A fragment (a status poll every 1.5 s, say) shows no navigation and no banners.
        return {}
    membership = request.membership
    banners = gateway_banners(user)
    open_holds = 0
    if membership:
        banners += budget_banners(team_id=membership.team_id, user_id=user.id)
        banners += hold_banners(membership)
        if membership.is_manager:
            open_holds = open_hold_count(membership.team_id)
    return {
        "current_membership": membership or None,
        "user_memberships": user.memberships.select_related("team").order_by("team__name"),
        "banners": banners,
        "open_holds": open_holds,
    }
