"""Review and sharing: who may approve, every review step, and links for clients."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User
from prompts.models.jobs import PromptRecord
from prompts.models.workspace import Project


class TeamReviewer(models.Model):
    """A member a manager named reviewer: they may approve like a manager."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="reviewers")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reviewer_roles")
    named_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("reviewer")
        verbose_name_plural = _("reviewers")
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="reviewer_unique_team_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} reviews for {self.team_id}"


class ReviewStep(models.Model):
    """One transition of a record's review, with the comment that came with it."""

    class Action(models.TextChoices):
        SUBMIT = "submit", _("submitted for review")
        APPROVE = "approve", _("approved")
        REQUEST_CHANGES = "request_changes", _("requested changes")
        WITHDRAW = "withdraw", _("withdrew from review")
        REVOKE = "revoke", _("revoked the approval")

    record = models.ForeignKey(PromptRecord, on_delete=models.CASCADE,
                               related_name="review_steps")
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    action = models.CharField(max_length=20, choices=Action.choices)
    comment = models.TextField(_("comment"), max_length=4000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("review step")
        verbose_name_plural = _("review steps")

    def __str__(self) -> str:
        return f"record {self.record_id}: {self.action}"


class ShareLink(models.Model):
    """A read-only link for someone without an account: one record, or a project's approved
    records. Only a keyed hash of its token is stored; the link is shown once."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="share_links")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="share_links")
    record = models.ForeignKey(PromptRecord, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="share_links")
    label = models.CharField(_("label"), max_length=120, blank=True)
    token_hmac = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=8, editable=False)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    views = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("share link")
        verbose_name_plural = _("share links")
        constraints = [
            models.CheckConstraint(
                condition=(Q(project__isnull=False) & Q(record__isnull=True))
                | (Q(project__isnull=True) & Q(record__isnull=False)),
                name="sharelink_one_target",
            ),
        ]

    def __str__(self) -> str:
        return self.label or f"{self.token_prefix}…"
