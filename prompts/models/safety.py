"""Protecting the shared gateway account: blocked terms, moderation holds, dispatch pauses."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User


class BlockedTerm(models.Model):
    """A word refused before any call, to protect the shared gateway account from suspension."""

    term = models.CharField(_("term"), max_length=100, unique=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["term"]
        verbose_name = _("blocked term")
        verbose_name_plural = _("blocked terms")

    def __str__(self) -> str:
        return self.term


class ModerationHold(models.Model):
    """Set when a user's briefs were rejected too often; their new jobs wait until released."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="moderation_holds")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    released_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("moderation hold")
        verbose_name_plural = _("moderation holds")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "team"],
                condition=Q(released_at__isnull=True),
                name="hold_one_open_per_user_team",
            ),
        ]

    def __str__(self) -> str:
        return f"hold on user {self.user_id} in team {self.team_id}"


class DispatchPause(models.Model):
    """While one is open (cleared_at null) no job is sent: the gateway balance is exhausted."""

    reason = models.CharField(max_length=20, default="balance")
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("dispatch pause")
        verbose_name_plural = _("dispatch pauses")
        constraints = [
            models.UniqueConstraint(
                fields=["reason"], condition=Q(cleared_at__isnull=True), name="pause_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} pause since {self.created_at:%Y-%m-%d %H:%M}"
