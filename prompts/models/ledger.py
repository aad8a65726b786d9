"""The ledger: one row per attempt at the gateway, and its daily rollup."""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import GatewayKey, Team, User
from prompts.models.jobs import GenerationJob
from prompts.models.pricing import ModelPrice
from prompts.models.workspace import Project


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

    class State(models.TextChoices):
        # Written before the request is sent, completed in place by the answer; a row left
        # in flight by a dead worker becomes unknown until reconciliation settles it.
        IN_FLIGHT = "in_flight", _("In flight")
        COMPLETED = "completed", _("Completed")
        UNKNOWN = "unknown", _("Unconfirmed")

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
    state = models.CharField(max_length=12, choices=State.choices, default=State.COMPLETED)
    # Blank while the call is in flight or unknown.
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    error_message = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    # Null cost means unpriced: there was no price for the model at the time of the call.
    cost = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    price = models.ForeignKey(
        ModelPrice, null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )
    # The most this attempt can cost: its input estimate and max_tokens at the price in force.
    # What an unconfirmed call is shown as, at most.
    max_cost = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    # Ours, sent as X-Request-Id and Idempotency-Key; and the gateway's own id for the call.
    client_request_id = models.UUIDField(null=True, blank=True, unique=True)
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
            # The few calls not yet completed, for the sweeper and the usage pages.
            models.Index(fields=["state", "started_at"], condition=~Q(state="completed"),
                         name="call_open_state"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["job", "attempt"], name="call_unique_job_attempt"),
            models.CheckConstraint(
                condition=(Q(price__isnull=True) & Q(cost__isnull=True))
                | (Q(price__isnull=False) & Q(cost__isnull=False)),
                name="call_priced_has_cost",
            ),
            models.CheckConstraint(condition=Q(attempt__gte=1), name="call_attempt_gte_1"),
            models.CheckConstraint(
                condition=Q(state__in=["in_flight", "completed", "unknown"]),
                name="call_state_valid",
            ),
            models.CheckConstraint(condition=~Q(state="completed") | ~Q(outcome=""),
                                   name="call_completed_has_outcome"),
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
