from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import GatewayKey


def gateway_banners(user) -> list[dict]:
    """Site-wide gateway trouble, for site admins: it stops everyone's work."""
    if not user.is_staff:
        return []
    from prompts.models import DispatchPause

    banners = []
    active = GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE).first()
    if active is None:
        failing = GatewayKey.objects.filter(status=GatewayKey.Status.FAILING).exists()
        banners.append({"level": "error", "text": _(
            "The gateway refused the API key: jobs are waiting. Add or activate a working key "
            "in the admin console; waiting jobs resume by themselves.") if failing else _(
            "No gateway API key is active: jobs wait until one is added in the admin console.")})
    elif active.activated_at and active.activated_at < timezone.now() - timedelta(
            days=settings.GATEWAY_KEY_ROTATE_AFTER_DAYS):
        banners.append({"level": "warning", "text": _(
            "The active gateway key is more than %(days)s days old: time to rotate it.")
            % {"days": settings.GATEWAY_KEY_ROTATE_AFTER_DAYS}})
    pause = DispatchPause.objects.filter(cleared_at__isnull=True).first()
    if pause is not None:
        banners.append({"level": "error", "text": _(
            "The gateway balance is exhausted: dispatch is paused and jobs are waiting. Top up "
            "the gateway account, then resume dispatch in the admin console.")})
    return banners


def hold_banners(membership) -> list[dict]:
    from prompts.models import ModerationHold

    holds = ModerationHold.objects.filter(team_id=membership.team_id, released_at__isnull=True)
    if holds.filter(user_id=membership.user_id).exists():
        return [{"level": "warning", "text": _(
            "The gateway's moderation rejected several of your briefs within an hour. To protect "
            "the team's gateway account, your new jobs wait until a manager releases them.")}]
    if membership.is_manager and holds.exists():
        return [{"level": "warning", "text": _(
            "A team member's jobs are on hold after repeated moderation rejections. Review them "
            "under Moderation holds."), "url": "hold_list"}]
    return []


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if getattr(request, "htmx", False):
        # A fragment (a status poll every 1.5 s, say) shows no navigation and no banners.
        return {}
    membership = request.membership
    banners = gateway_banners(user)
    if membership:
        from prompts.selectors.budgets import budget_banners

        banners += budget_banners(team_id=membership.team_id, user_id=user.id)
        banners += hold_banners(membership)
    return {
        "current_membership": membership or None,
        "user_memberships": user.memberships.select_related("team").order_by("team__name"),
        "banners": banners,
    }
