"""Generation jobs and the prompt records they produce."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from prompts.gateway.limits import DEFAULT_MAX_TOKENS, MAX_TOKENS_LIMIT
from prompts.models.workspace import Batch, Project, ReferenceImage


class TaskType(models.TextChoices):
    STRICT = "strict", _("Strict reference matching")
    BALANCED = "balanced", _("Balanced")
    CREATIVE = "creative", _("Creative exploration")


class GenerationJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        WAITING = "waiting", _("Waiting")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    class WaitReason(models.TextChoices):
        NONE = "", ""
        KEY = "key", _("No usable gateway key")
        BALANCE = "balance", _("Gateway balance exhausted")
        BUDGET = "budget", _("Monthly budget reached")
        MODERATION_HOLD = "moderation_hold", _("Held after repeated moderation rejections")

    FINAL_STATUSES = ("succeeded", "failed", "rejected", "cancelled")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jobs")
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="jobs")
    brief = models.TextField(_("brief"))
    references = models.ManyToManyField(ReferenceImage, blank=True, related_name="jobs")
    image_urls = models.JSONField(default=list, blank=True)
    task_type = models.CharField(
        _("task type"), max_length=16, choices=TaskType.choices, default=TaskType.BALANCED
    )
    temperature = models.DecimalField(_("temperature"), max_digits=3, decimal_places=2)
    max_tokens = models.PositiveIntegerField(_("max tokens"), default=DEFAULT_MAX_TOKENS)
    model = models.CharField(_("model"), max_length=100)
    estimated_input_tokens = models.PositiveIntegerField(default=0)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    wait_reason = models.CharField(
        max_length=20, choices=WaitReason.choices, default=WaitReason.NONE, blank=True
    )
    attempts = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    repair_attempted = models.BooleanField(default=False)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The studio: the template and values the brief came from, the house style version the
    # worker sends and enforces.
    template = models.ForeignKey(
        "prompts.BriefTemplate", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="jobs",
    )
    template_values = models.JSONField(null=True, blank=True)
    style_version = models.ForeignKey(
        "prompts.HouseStyleVersion", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="jobs",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("generation job")
        verbose_name_plural = _("generation jobs")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="job_status_next")]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "queued", "running", "waiting", "succeeded", "failed", "rejected",
                        "cancelled",
                    ]
                ),
                name="job_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(temperature__gte=0) & Q(temperature__lte=2), name="job_temperature_range"
            ),
            models.CheckConstraint(
                condition=Q(max_tokens__gte=1) & Q(max_tokens__lte=MAX_TOKENS_LIMIT),
                name="job_max_tokens_range",
            ),
            # A running job always holds a lease; a waiting job always says why.
            models.CheckConstraint(
                condition=~Q(status="running") | Q(lease_until__isnull=False),
                name="job_running_has_lease",
            ),
            models.CheckConstraint(
                condition=~Q(status="waiting") | ~Q(wait_reason=""),
                name="job_waiting_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    @property
    def house_rules(self):
        """The house style's rules as plain values for the gateway, or None."""
        return self.style_version.rules() if self.style_version_id else None


class PromptRecord(models.Model):
    class Review(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING = "pending", _("In review")
        CHANGES_REQUESTED = "changes_requested", _("Changes requested")
        APPROVED = "approved", _("Approved")

    job = models.OneToOneField(GenerationJob, on_delete=models.CASCADE, related_name="record")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="records")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="records")
    positive_prompt = models.TextField(_("positive prompt"), blank=True)
    negative_prompt = models.TextField(_("negative prompt"), blank=True)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    steps = models.PositiveIntegerField(_("steps"), null=True, blank=True)
    cfg_scale = models.DecimalField(
        _("CFG scale"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    sampler = models.CharField(_("sampler"), max_length=60, blank=True)
    style = models.CharField(_("style"), max_length=200, blank=True)
    seed = models.BigIntegerField(_("seed"), null=True, blank=True)
    visual_features = models.JSONField(_("visual features"), null=True, blank=True)
    raw_text = models.TextField(blank=True)
    needs_review = models.BooleanField(_("needs review"), default=False)
    tags = models.ManyToManyField("Tag", blank=True, related_name="records")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Review: an approved record is locked (a change is a re-run: a new, linked record).
    review_status = models.CharField(
        _("review"), max_length=20, choices=Review.choices, default=Review.DRAFT, db_index=True
    )
    approved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("prompt record")
        verbose_name_plural = _("prompt records")
        constraints = [
            models.CheckConstraint(
                condition=Q(review_status__in=["draft", "pending", "changes_requested",
                                               "approved"]),
                name="record_review_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(review_status="approved", approved_at__isnull=False)
                | (~Q(review_status="approved") & Q(approved_at__isnull=True)),
                name="record_approved_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.positive_prompt[:60] or f"Record {self.pk}"

    @property
    def is_locked(self) -> bool:
        return self.review_status == self.Review.APPROVED


class SubmissionKey(models.Model):
    """What a one-time key already created: a job-creating form's submission token, or the
    API's `Idempotency-Key` header. One row per (user, key), written in the transaction that
    creates the job or batch, so a repeat — a double click, back and resubmit, a client's
    retry — finds the first one instead of creating and billing a second.

    `fingerprint` is a digest of what was asked (the API's JSON body); a key sent again with
    another request is refused. API keys count for SUBMISSION_KEY_HOURS."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=300)
    fingerprint = models.CharField(max_length=64, blank=True)
    job = models.ForeignKey(GenerationJob, null=True, blank=True, on_delete=models.CASCADE,
                            related_name="+")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("submission key")
        verbose_name_plural = _("submission keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="submissionkey_unique_user_key"),
            models.CheckConstraint(
                condition=Q(job__isnull=False, batch__isnull=True)
                | Q(job__isnull=True, batch__isnull=False),
                name="submissionkey_job_or_batch",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
