from django.utils.functional import SimpleLazyObject

SESSION_TEAM_KEY = "team_id"


def current_membership(request):
    """The membership the user is working in: the one chosen in the session, else the first."""
    user = request.user
    if not user.is_authenticated:
        return None
    memberships = list(user.memberships.select_related("team").order_by("team__name"))
    if not memberships:
        return None
    chosen = request.session.get(SESSION_TEAM_KEY)
    for membership in memberships:
        if membership.team_id == chosen:
            return membership
    return memberships[0]


class CurrentTeamMiddleware:
    """Sets request.membership (lazily) to the team the user works in; None without one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = SimpleLazyObject(lambda: current_membership(request))
        return self.get_response(request)
