"""Reconciliation: where the gateway's usage log is read, each run against it, and what
each run found call by call."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User
from prompts.models.ledger import GatewayCall


class GatewayLogSource(models.Model):
    """The gateway's usage log as a site admin set it on the Reconciliation page: one row.

    The access token is stored encrypted like the gateway keys (MultiFernet over
    FIELD_ENCRYPTION_KEYS; `reencrypt_secrets` re-encrypts it) and shown masked. Empty
    fields fall back to GATEWAY_LOG_URL / GATEWAY_LOG_TOKEN / GATEWAY_LOG_USER_ID."""

    url = models.URLField(_("log URL"), max_length=500, blank=True)
    token_encrypted = models.TextField(blank=True, editable=False)
    token_masked = models.CharField(_("access token"), max_length=40, blank=True,
                                    editable=False)
    user_id = models.CharField(_("gateway user id"), max_length=20, blank=True)
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("gateway log source")
        verbose_name_plural = _("gateway log sources")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="logsource_single_row")]

    def __str__(self) -> str:
        return self.url or "GATEWAY_LOG_URL"


class ReconciliationRun(models.Model):
    """One comparison of the ledger with the gateway's log over local days [since, until]."""

    class Source(models.TextChoices):
        PULL = "pull", _("Pulled from the gateway")
        FILE = "file", _("Imported file")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        OK = "ok", _("Done")
        FAILED = "failed", _("Failed")

    since = models.DateField(_("from"))
    until = models.DateField(_("to (inclusive)"))
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    source_name = models.CharField(max_length=300, blank=True)  # the file's name, or the URL
    trigger = models.CharField(max_length=16, default="command")  # command | page | nightly
    status = models.CharField(_("status"), max_length=8, choices=Status.choices,
                              default=Status.OK)
    error = models.TextField(blank=True)
    # An uploaded log waiting for the worker that runs it (removed once it has run).
    log_file = models.FileField(upload_to="reconciliation/", max_length=200, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ledger_calls = models.PositiveIntegerField(default=0)
    gateway_entries = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    token_drift = models.PositiveIntegerField(default=0)
    gateway_only = models.PositiveIntegerField(default=0)
    ledger_only = models.PositiveIntegerField(default=0)
    settled_unknown = models.PositiveIntegerField(default=0)
    settled_not_billed = models.PositiveIntegerField(default=0)
    unpriced_ledger = models.PositiveIntegerField(default=0)
    unpriced_gateway = models.PositiveIntegerField(default=0)
    # The gateway's ¥, and the ledger's after this run settled unknown rows.
    yuan_gateway = models.DecimalField(max_digits=20, decimal_places=6, default=0)
    yuan_ledger = models.DecimalField(max_digits=20, decimal_places=6, default=0)
    yuan_ledger_before = models.DecimalField(max_digits=20, decimal_places=6, default=0)
    difference = models.DecimalField(max_digits=20, decimal_places=6, default=0)
    # Per team (managers see their own): {"<team id>": {"calls": n, "yuan_ledger": "…"}}.
    teams = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        constraints = [
            models.CheckConstraint(condition=Q(until__gte=models.F("since")),
                                   name="reconrun_until_after_since"),
            models.CheckConstraint(condition=Q(status__in=["running", "ok", "failed"]),
                                   name="reconrun_status_valid"),
        ]

    def __str__(self) -> str:
        return f"reconciliation {self.pk}: {self.since}..{self.until}"

    @property
    def differences(self) -> int:
        return self.token_drift + self.gateway_only + self.ledger_only


class ReconciliationItem(models.Model):
    """A call on which the ledger and the log did not simply agree, or a row the run settled."""

    class Kind(models.TextChoices):
        TOKEN_DRIFT = "token_drift", _("Token drift")
        GATEWAY_ONLY = "gateway_only", _("Billed by the gateway only")
        LEDGER_ONLY = "ledger_only", _("In the ledger only")
        SETTLED = "settled", _("Unconfirmed call settled from the log")

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    call = models.ForeignKey(GatewayCall, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    # The call's team; null for a log entry no ledger row explains (site admins see those).
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    model = models.CharField(max_length=100)
    started_at = models.DateTimeField(null=True, blank=True)  # the ledger row's
    logged_at = models.DateTimeField(null=True, blank=True)  # the log entry's
    client_request_id = models.CharField(max_length=100, blank=True)
    request_id = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=12, blank=True)  # the ledger row's, before the run
    ledger_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    ledger_completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    ledger_cost = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    gateway_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    gateway_completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    gateway_cost = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    quota = models.BigIntegerField(null=True, blank=True)
    # settled: matched by request id; a probable match by time alone is left unknown.
    by_request_id = models.BooleanField(default=False)
    # ledger_only: an unknown row the log does not have, settled as not billed (¥0).
    settled_not_billed = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("reconciliation item")
        verbose_name_plural = _("reconciliation items")
        indexes = [models.Index(fields=["run", "team"], name="reconitem_run_team")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["token_drift", "gateway_only", "ledger_only", "settled"]),
                name="reconitem_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.call_id or self.request_id}"
