from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import GatewayKey, Team, User


class GatewayModel(models.Model):
    """A model name the gateway serves that admins have enabled; the default is GATEWAY_MODEL."""

    name = models.CharField(_("model"), max_length=100, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("gateway model")
        verbose_name_plural = _("gateway models")

    def __str__(self) -> str:
        return self.name


class ModelPrice(models.Model):
    """¥ per million tokens for a model from a moment on. Rows are never edited, only added."""

    model = models.CharField(_("model"), max_length=100)
    input_per_mtok = models.DecimalField(
        _("¥ per 1M input tokens"), max_digits=14, decimal_places=6
    )
    output_per_mtok = models.DecimalField(
        _("¥ per 1M output tokens"), max_digits=14, decimal_places=6
    )
    effective_from = models.DateTimeField(_("effective from"))
    # When the price was entered in USD: the USD figures and the rate that converted them.
    usd_input_per_mtok = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    usd_output_per_mtok = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True
    )
    usd_rate = models.DecimalField(
        _("USD→¥ rate"), max_digits=10, decimal_places=4, null=True, blank=True
    )
    usd_rate_date = models.DateField(null=True, blank=True)
    is_example = models.BooleanField(_("example price"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model", "-effective_from"]
        verbose_name = _("model price")
        verbose_name_plural = _("model prices")
        constraints = [
            models.UniqueConstraint(
                fields=["model", "effective_from"], name="modelprice_unique_model_from"
            ),
            models.CheckConstraint(
                condition=Q(input_per_mtok__gte=0) & Q(output_per_mtok__gte=0),
                name="modelprice_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} from {self.effective_from:%Y-%m-%d}"


class Project(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="project_unique_team_name"),
        ]

    def __str__(self) -> str:
        return self.name


def reference_path(instance: "ReferenceImage", filename: str) -> str:
    return f"references/{instance.project_id}/{filename}"


class ReferenceImage(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="references")
    uploaded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    original_name = models.CharField(_("file name"), max_length=255)
    source_url = models.URLField(_("source URL"), max_length=2000, blank=True)
    original = models.FileField(upload_to=reference_path, max_length=300)
    send_file = models.FileField(upload_to=reference_path, max_length=300)
    thumbnail = models.FileField(upload_to=reference_path, max_length=300)
    sha256 = models.CharField(max_length=64)
    original_format = models.CharField(max_length=8)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    send_width = models.PositiveIntegerField()
    send_height = models.PositiveIntegerField()
    send_bytes = models.PositiveIntegerField()
    shows_person = models.BooleanField(_("shows a real person"), default=False)
    consent_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    consent_at = models.DateTimeField(null=True, blank=True)
    png_parameters = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Removed from the project, not deleted: past jobs and records still show it.
    archived_at = models.DateTimeField(_("removed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("reference image")
        verbose_name_plural = _("reference images")
        constraints = [
            models.UniqueConstraint(fields=["project", "sha256"], name="reference_unique_sha"),
            models.CheckConstraint(
                condition=Q(send_bytes__lt=5 * 1024 * 1024), name="reference_send_under_5mb"
            ),
            models.CheckConstraint(
                condition=Q(consent_at__isnull=True) | Q(consent_by__isnull=False),
                name="reference_consent_has_user",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def sendable(self) -> bool:
        return not self.shows_person or self.consent_at is not None


class Batch(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="batches")
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("batch")
        verbose_name_plural = _("batches")

    def __str__(self) -> str:
        return self.title or f"Batch {self.pk}"


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
    max_tokens = models.PositiveIntegerField(_("max tokens"), default=1024)
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
                condition=Q(max_tokens__gte=1) & Q(max_tokens__lte=32768),
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


class PromptRecord(models.Model):
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

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("prompt record")
        verbose_name_plural = _("prompt records")

    def __str__(self) -> str:
        return self.positive_prompt[:60] or f"Record {self.pk}"


class Tag(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(_("tag"), max_length=50)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class Favourite(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="favourites")
    record = models.ForeignKey(PromptRecord, on_delete=models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "record"], name="favourite_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ★ {self.record_id}"


class Rating(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="ratings")
    record = models.ForeignKey(PromptRecord, on_delete=models.CASCADE, related_name="ratings")
    stars = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "record"], name="rating_unique"),
            models.CheckConstraint(
                condition=Q(stars__gte=1) & Q(stars__lte=5), name="rating_stars_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.record_id}: {self.stars}/5"


class Comment(models.Model):
    record = models.ForeignKey(PromptRecord, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    body = models.TextField(_("comment"), max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:60]


class GatewayCall(models.Model):
    """The ledger: one row per HTTP attempt at the gateway, with the price it was charged at."""

    class Outcome(models.TextChoices):
        OK = "ok", _("OK")
        MODERATION = "moderation", _("Moderation rejection")
        INVALID = "invalid", _("Invalid request")
        AUTH = "auth", _("Key refused")
        BALANCE = "balance", _("Balance exhausted")
        TOO_LARGE = "too_large", _("Too large")
        RATE_LIMITED = "rate_limited", _("Rate limited")
        TRANSIENT = "transient", _("Transient failure")
        PARSE = "parse", _("Unparseable answer")

    job = models.ForeignKey(GenerationJob, on_delete=models.PROTECT, related_name="calls")
    attempt = models.PositiveIntegerField()
    # Denormalised from the job so usage queries and the rollup need no joins.
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    key = models.ForeignKey(
        GatewayKey, null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )
    model = models.CharField(max_length=100)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error_message = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    # Null cost means unpriced: there was no price for the model at the time of the call.
    cost = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    price = models.ForeignKey(
        ModelPrice, null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )
    request_id = models.CharField(max_length=100, blank=True)
    # The wait chosen before the next attempt (Retry-After or backoff), for the job timeline.
    retry_delay_s = models.FloatField(null=True, blank=True)
    retry_after_honoured = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["job_id", "attempt"]
        verbose_name = _("gateway call")
        verbose_name_plural = _("gateway calls")
        indexes = [
            models.Index(fields=["team", "created_at"], name="call_team_created"),
            models.Index(fields=["user", "created_at"], name="call_user_created"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["job", "attempt"], name="call_unique_job_attempt"),
            models.CheckConstraint(
                condition=(Q(price__isnull=True) & Q(cost__isnull=True))
                | (Q(price__isnull=False) & Q(cost__isnull=False)),
                name="call_priced_has_cost",
            ),
            models.CheckConstraint(condition=Q(attempt__gte=1), name="call_attempt_gte_1"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} attempt {self.attempt}: {self.outcome}"

    @property
    def unpriced(self) -> bool:
        return self.price_id is None


class DailyUsage(models.Model):
    """Ledger totals per local day × team × user × project × model, kept in the ledger's transaction."""

    day = models.DateField()
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=100)
    calls = models.PositiveIntegerField(default=0)
    ok_calls = models.PositiveIntegerField(default=0)
    moderation_calls = models.PositiveIntegerField(default=0)
    failed_calls = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=20, decimal_places=6, default=Decimal("0"))
    # Cost of calls that produced no record: retries, rejections, failures.
    waste_cost = models.DecimalField(max_digits=20, decimal_places=6, default=Decimal("0"))
    unpriced_calls = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        indexes = [
            models.Index(fields=["team", "day"], name="usage_team_day"),
            models.Index(fields=["user", "day"], name="usage_user_day"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "team", "user", "project", "model"], name="usage_unique_bucket"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.user_id}/{self.project_id}/{self.model}"


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
        constraints = [
            models.UniqueConstraint(
                fields=["reason"], condition=Q(cleared_at__isnull=True), name="pause_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} pause since {self.created_at:%Y-%m-%d %H:%M}"
