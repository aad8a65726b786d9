from django.conf import settings


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"LANGUAGES": settings.LANGUAGES}
    membership = request.membership
    return {
        "LANGUAGES": settings.LANGUAGES,
        "current_membership": membership if membership else None,
        "user_memberships": user.memberships.select_related("team").order_by("team__name"),
    }
