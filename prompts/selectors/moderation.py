from django.db.models import Count, Q

from accounts.models import Team
from prompts.models import GenerationJob, ModerationHold


def holds_for_team(team: Team) -> list[ModerationHold]:
    return list(
        ModerationHold.objects.filter(team=team, released_at__isnull=True)
        .select_related("user")
        .annotate(waiting_jobs=Count(
            "user__jobs",
            filter=Q(user__jobs__status=GenerationJob.Status.WAITING,
                     user__jobs__wait_reason=GenerationJob.WaitReason.MODERATION_HOLD,
                     user__jobs__project__team=team)))
        .order_by("created_at")
    )
