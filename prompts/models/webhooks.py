"""Signed webhooks: a team's endpoints, the outbox of events, each delivery and its attempts.

Events are written to the outbox (WebhookEvent) in the same transaction as the change they
report; a Celery task fans each event out to the endpoints that want it (WebhookDelivery)
and posts it, one WebhookDeliveryAttempt row per try, as saleor does.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User
from prompts.models.jobs import GenerationJob, PromptRecord


class WebhookEventKind(models.TextChoices):
    JOB_SUCCEEDED = "job.succeeded", _("A job succeeded")
    JOB_FAILED = "job.failed", _("A job failed or was rejected")
    RECORD_APPROVED = "record.approved", _("A record was approved")
    RECORD_APPROVAL_REVOKED = "record.approval_revoked", _("A record's approval was revoked")
    BUDGET_WARNING = "budget.warning", _("A budget reached its warning level")
    TEST = "webhook.test", _("Test event")


SUBSCRIBABLE_EVENTS = (WebhookEventKind.JOB_SUCCEEDED, WebhookEventKind.JOB_FAILED,
                       WebhookEventKind.RECORD_APPROVED,
                       WebhookEventKind.RECORD_APPROVAL_REVOKED,
                       WebhookEventKind.BUDGET_WARNING)


class WebhookEndpoint(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # The subscribed kinds (SUBSCRIBABLE_EVENTS values).
    events = models.JSONField(_("events"), default=list)
    # MultiFernet token over FIELD_ENCRYPTION_KEYS; the plaintext is shown once.
    secret_encrypted = models.TextField(editable=False)
    secret_masked = models.CharField(max_length=40, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """The outbox: one row per event, written with the change it reports. `payload` is
    filled once, when the event is fanned out (a job's record is written after its status),
    and every attempt of every delivery sends those same bytes."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40, choices=WebhookEventKind.choices)
    job = models.ForeignKey(GenerationJob, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    record = models.ForeignKey(PromptRecord, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    # Set for a test event: only this endpoint receives it.
    endpoint = models.ForeignKey(WebhookEndpoint, null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+")
    payload = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        indexes = [
            models.Index(fields=["created_at"], condition=Q(fanned_out_at__isnull=True),
                         name="webhookevent_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: its state, mirrored from the attempts."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE,
                                 related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="delivery_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "succeeded", "failed"]),
                name="delivery_status_valid",
            ),
            models.CheckConstraint(condition=~Q(status="sending") | Q(lease_until__isnull=False),
                                   name="delivery_sending_has_lease"),
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} → endpoint {self.endpoint_id}: {self.status}"


class WebhookDeliveryAttempt(models.Model):
    """One POST: when, how long, the status code and the start of the answer."""

    class Outcome(models.TextChoices):
        IN_FLIGHT = "in_flight", _("Sending")
        OK = "ok", _("Delivered")
        RETRY = "retry", _("Will retry")
        GAVE_UP = "gave_up", _("Not retried")

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE,
                                 related_name="attempt_rows")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices,
                               default=Outcome.IN_FLIGHT)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("webhook delivery attempt")
        verbose_name_plural = _("webhook delivery attempts")
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="attempt_number_gte_1"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.delivery_id} attempt {self.number}: {self.outcome}"
