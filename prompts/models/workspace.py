"""A team's work: projects, their reference images and batches."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User
from prompts.gateway.limits import IMAGE_MAX_BYTES

# Written by seed_demo; shown translated (Project.shown_description).
DEMO_PROJECT_DESCRIPTION = gettext_noop("Example project for trying GrokWeb.")


class Project(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Preselected in the project's generation forms; used when an entry point names none.
    default_style = models.ForeignKey(
        "prompts.HouseStyle", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("default house style"),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="project_unique_team_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def shown_description(self) -> str:
        """The description; the demo's own text (written by seed_demo) in the reader's
        language."""
        if self.description == DEMO_PROJECT_DESCRIPTION:
            return gettext(DEMO_PROJECT_DESCRIPTION)
        return self.description


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
                condition=Q(send_bytes__lt=IMAGE_MAX_BYTES), name="reference_send_under_5mb"
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
