"""Reads for the pipeline's pages: the console's keys, moderation holds, and the banners
that tell people when the gateway has stopped their work."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Case, Count, IntegerField, Max, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import GatewayKey, Team
from prompts.models import DispatchPause, GatewayCall, GenerationJob, ModerationHold
from prompts.pipeline.moderation import BREAKER_WINDOW

HOLD_BRIEFS_SHOWN = 5


def holds_for_team(team: Team) -> list[ModerationHold]:
    """Open holds, each with `waiting_jobs` and `rejected_jobs`: the member's briefs the
    gateway's moderation rejected in the hour before the hold (newest first), which a
    manager reads before releasing it."""
    holds = list(
        ModerationHold.objects.filter(team=team, released_at__isnull=True)
        .select_related("user")
        .annotate(waiting_jobs=Count(
            "user__jobs",
            filter=Q(user__jobs__status=GenerationJob.Status.WAITING,
                     user__jobs__wait_reason=GenerationJob.WaitReason.MODERATION_HOLD,
                     user__jobs__project__team=team)))
        .order_by("created_at")
    )
    for hold in holds:
        hold.rejected_jobs = list(
            GenerationJob.objects.filter(
                created_by_id=hold.user_id, project__team=team,
                calls__outcome=GatewayCall.Outcome.MODERATION,
                calls__started_at__gte=hold.created_at - BREAKER_WINDOW,
                calls__started_at__lte=hold.created_at,
            ).select_related("project").distinct().order_by("-created_at")[:HOLD_BRIEFS_SHOWN]
        )
    return holds


def open_hold_count(team_id: int) -> int:
    return ModerationHold.objects.filter(team_id=team_id, released_at__isnull=True).count()


STATUS_ORDER = ["active", "standby", "retiring", "failing", "retired", "revoked"]


def gateway_keys_for_console() -> list[GatewayKey]:
    """Every key, the one in use first; `last_used` is the start of its latest attempt,
    `accepted` whether the gateway's latest answer to it was yes, `last_error_text` its
    latest refusal in the reader's words."""
    keys = list(
        GatewayKey.objects.select_related("added_by")
        .annotate(
            last_call_at=Max("calls__started_at"),
            status_rank=Case(*[When(status=s, then=Value(i)) for i, s in enumerate(STATUS_ORDER)],
                             output_field=IntegerField()),
        )
        .annotate(last_used=Coalesce("last_call_at", "last_used_at"))
        .order_by("status_rank", "-created_at")
    )
    for key in keys:
        key.accepted = key.verified_at is not None and (
            key.last_error_at is None or key.verified_at > key.last_error_at)
        key.last_error_text = gateway_error_text(key.last_error)
    return keys


def gateway_error_text(stored: str) -> str:
    """A stored gateway error ("auth (401 invalid_api_key): Incorrect API key provided.") with
    its code part in words ("Key refused (401): Incorrect API key provided.")."""
    head, separator, message = stored.partition("): ")
    outcome, _paren, status = head.partition(" (")
    if not separator or outcome not in GatewayCall.Outcome.values:
        return stored
    label = GatewayCall.Outcome(outcome).label
    http_status = status.split(" ")[0]
    if http_status.isdigit():
        return _("%(outcome)s (%(status)s): %(message)s") % {
            "outcome": label, "status": http_status, "message": message}
    return _("%(outcome)s: %(message)s") % {"outcome": label, "message": message}


def gateway_banners(user) -> list[dict]:
    """Site-wide gateway trouble, for site admins: it stops everyone's work."""
    if not user.is_staff:
        return []
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
