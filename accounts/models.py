from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """Site admins are `is_staff`; team roles live on Membership."""

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(User, through="Membership", related_name="teams")

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        MANAGER = "manager", _("Manager")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team"),
            models.CheckConstraint(
                condition=Q(role__in=["member", "manager"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.team} ({self.role})"

    @property
    def is_manager(self) -> bool:
        return self.role == self.Role.MANAGER


class GatewayKey(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        STANDBY = "standby", _("Standby")
        RETIRING = "retiring", _("Retiring")
        RETIRED = "retired", _("Retired")
        REVOKED = "revoked", _("Revoked")
        FAILING = "failing", _("Failing")

    name = models.CharField(_("name"), max_length=100, unique=True)
    # MultiFernet token over FIELD_ENCRYPTION_KEYS; the plaintext never touches the database.
    secret_encrypted = models.TextField(editable=False)
    masked = models.CharField(_("key"), max_length=40, editable=False)
    fingerprint = models.CharField(_("fingerprint"), max_length=16, editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.STANDBY
    )
    added_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retiring_until = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("gateway key")
        verbose_name_plural = _("gateway keys")
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="gatewaykey_one_active"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["active", "standby", "retiring", "retired", "revoked", "failing"]
                ),
                name="gatewaykey_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked})"


class ApiToken(models.Model):
    """A personal API token: only a prefix and a digest of the whole token are stored.

    The digest is SHA-256 of the token (256 random bits), keyed on nothing, so no server
    secret can be rotated out from under it. Tokens made before that were an HMAC keyed on
    DJANGO_SECRET_KEY (`salted-hmac`); each is re-stored as SHA-256 the first time it is used."""

    class DigestScheme(models.TextChoices):
        SHA256 = "sha256", "SHA-256"
        SALTED_HMAC = "salted-hmac", "HMAC keyed on DJANGO_SECRET_KEY (older tokens)"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    token_digest = models.CharField(max_length=64, editable=False)
    digest_scheme = models.CharField(max_length=16, choices=DigestScheme.choices,
                                     default=DigestScheme.SHA256, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AuditEventAppendOnly(Exception):
    """An audit row was about to be changed or deleted: the log is append-only."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        # Deleting a user sets `actor` to NULL (on_delete=SET_NULL): the one change allowed.
        if set(kwargs) == {"actor"} and kwargs["actor"] is None:
            return super().update(**kwargs)
        raise AuditEventAppendOnly("audit events cannot be changed")

    def delete(self):
        raise AuditEventAppendOnly("audit events cannot be deleted")


class AuditEvent(models.Model):
    """Append-only record of security- and money-relevant changes. Never holds a secret.

    Python refuses updates and deletes here; on PostgreSQL a trigger (migration
    0002_console_audit_append_only) refuses them in the database too."""

    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target"), max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditEventAppendOnly("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditEventAppendOnly("audit events cannot be deleted")


class Budget(models.Model):
    """A monthly ¥ limit for a team, or for one user within a team."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="budgets")
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    monthly_limit = models.DecimalField(_("monthly limit (¥)"), max_digits=14, decimal_places=2)
    warn_at = models.DecimalField(
        _("warn at"), max_digits=3, decimal_places=2, default=Decimal("0.80")
    )
    # The first day of the month whose warning e-mail went out, so it is sent once a month.
    warned_for_month = models.DateField(null=True, blank=True)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        constraints = [
            models.UniqueConstraint(
                fields=["team"], condition=Q(user__isnull=True), name="budget_one_per_team"
            ),
            models.UniqueConstraint(
                fields=["team", "user"],
                condition=Q(user__isnull=False),
                name="budget_one_per_team_user",
            ),
            models.CheckConstraint(condition=Q(monthly_limit__gte=0), name="budget_limit_gte_0"),
            models.CheckConstraint(
                condition=Q(warn_at__gt=0) & Q(warn_at__lte=1), name="budget_warn_at_range"
            ),
        ]

    def __str__(self) -> str:
        who = self.user or self.team
        return f"{who}: ¥{self.monthly_limit}/month"


