"""Protecting the shared gateway account: blocked terms before any call, and a circuit
breaker that holds a user's jobs after repeated moderation rejections."""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from prompts.models import BlockedTerm, GatewayCall, GenerationJob, ModerationHold
from prompts.pipeline.dispatch import jobs_resume

BREAKER_WINDOW = timedelta(hours=1)


def blocked_terms() -> list[str]:
    return list(BlockedTerm.objects.values_list("term", flat=True))


def blocked_term_in(text: str, terms: list[str] | None = None) -> str | None:
    """The first blocked term in `text`; pass `terms` to check many texts with one query."""
    lowered = text.casefold()
    for term in blocked_terms() if terms is None else terms:
        if term.casefold() in lowered:
            return term
    return None


def hold_is_open(*, user_id: int, team_id: int) -> bool:
    return ModerationHold.objects.filter(
        user_id=user_id, team_id=team_id, released_at__isnull=True
    ).exists()


def breaker_check(*, user_id: int, team_id: int) -> bool:
    """After a moderation rejection: open a hold when the user hit the limit. True if opened."""
    since = timezone.now() - BREAKER_WINDOW
    rejections = GatewayCall.objects.filter(
        user_id=user_id, team_id=team_id, outcome=GatewayCall.Outcome.MODERATION,
        started_at__gte=since,
    ).count()
    if rejections < settings.MODERATION_BREAKER_LIMIT or hold_is_open(
        user_id=user_id, team_id=team_id
    ):
        return False
    try:
        with transaction.atomic():
            ModerationHold.objects.create(user_id=user_id, team_id=team_id)
    except IntegrityError:
        return False  # another worker opened it first
    GenerationJob.objects.filter(
        created_by_id=user_id, project__team_id=team_id, status=GenerationJob.Status.QUEUED
    ).update(status=GenerationJob.Status.WAITING,
             wait_reason=GenerationJob.WaitReason.MODERATION_HOLD)
    return True


def hold_release(*, hold: ModerationHold, released_by: User,
                 ip_address: str | None = None) -> int:
    """A manager releases the hold (audited); the user's held jobs go back to the queue."""
    with transaction.atomic():
        released = ModerationHold.objects.filter(pk=hold.pk, released_at__isnull=True).update(
            released_at=timezone.now(), released_by=released_by
        )
        if not released:
            return 0  # someone released it a moment ago
        resumed = jobs_resume(reason=GenerationJob.WaitReason.MODERATION_HOLD,
                              user_id=hold.user_id, team_id=hold.team_id)
        audit_record(actor=released_by, action="moderation_hold.release", target=hold,
                     after={"user": hold.user.username, "team": hold.team.name,
                            "resumed_jobs": resumed}, ip_address=ip_address)
    return resumed
