"""The team's studio: brief templates with variables and versioned house styles."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User
from prompts.gateway.spec import (
    CFG_MAX,
    CFG_MIN,
    DIMENSION_MAX,
    DIMENSION_MIN,
    STEPS_MAX,
    STEPS_MIN,
    HouseRules,
)
from prompts.models.jobs import TaskType


class HouseStyle(models.Model):
    """A team's named style. What it says lives in its versions: a change is a new version,
    so every record keeps the exact rules it was made with."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="house_styles")
    name = models.CharField(_("name"), max_length=120)
    description = models.CharField(_("description"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("house style")
        verbose_name_plural = _("house styles")
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="housestyle_unique_team_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def current_version(self) -> "HouseStyleVersion | None":
        return self.versions.order_by("-number").first()


class HouseStyleVersionImmutable(Exception):
    """A house style version was about to change: versions are written once."""


class HouseStyleVersionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise HouseStyleVersionImmutable("house style versions cannot be changed")


class HouseStyleVersion(models.Model):
    """One version of a house style. Written once, never changed: jobs point at it."""

    style = models.ForeignKey(HouseStyle, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    negative_terms = models.TextField(_("negative terms always present"), blank=True)
    style_words = models.TextField(_("style words"), blank=True)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    aspect_width = models.PositiveSmallIntegerField(null=True, blank=True)
    aspect_height = models.PositiveSmallIntegerField(null=True, blank=True)
    sampler = models.CharField(_("sampler"), max_length=60, blank=True)
    steps = models.PositiveIntegerField(_("steps"), null=True, blank=True)
    cfg_scale = models.DecimalField(
        _("CFG scale"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    checkpoint = models.CharField(_("checkpoint"), max_length=255, blank=True)
    note = models.CharField(_("what changed"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = HouseStyleVersionQuerySet.as_manager()

    class Meta:
        ordering = ["style_id", "-number"]
        verbose_name = _("house style version")
        verbose_name_plural = _("house style versions")
        constraints = [
            models.UniqueConstraint(fields=["style", "number"], name="styleversion_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="styleversion_number_gte_1"),
            models.CheckConstraint(
                condition=(Q(width__isnull=True) & Q(height__isnull=True))
                | (Q(width__isnull=False) & Q(height__isnull=False)
                   & Q(width__gte=DIMENSION_MIN) & Q(width__lte=DIMENSION_MAX)
                   & Q(height__gte=DIMENSION_MIN) & Q(height__lte=DIMENSION_MAX)),
                name="styleversion_size_pair_in_range",
            ),
            models.CheckConstraint(
                condition=(Q(aspect_width__isnull=True) & Q(aspect_height__isnull=True))
                | (Q(aspect_width__isnull=False) & Q(aspect_height__isnull=False)
                   & Q(aspect_width__gte=1) & Q(aspect_height__gte=1) & Q(width__isnull=True)),
                name="styleversion_aspect_pair_or_size",
            ),
            models.CheckConstraint(
                condition=Q(steps__isnull=True) | (Q(steps__gte=STEPS_MIN) & Q(steps__lte=STEPS_MAX)),
                name="styleversion_steps_range",
            ),
            models.CheckConstraint(
                condition=Q(cfg_scale__isnull=True)
                | (Q(cfg_scale__gte=CFG_MIN) & Q(cfg_scale__lte=CFG_MAX)),
                name="styleversion_cfg_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.style.name} v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise HouseStyleVersionImmutable("house style versions cannot be changed")
        super().save(*args, **kwargs)

    def rules(self) -> HouseRules:
        """What the gateway's payload builder and the spec enforcer read: plain values."""
        return HouseRules(
            negative_terms=self.negative_terms, style_words=self.style_words,
            width=self.width, height=self.height,
            aspect=(self.aspect_width, self.aspect_height) if self.aspect_width else None,
            sampler=self.sampler, steps=self.steps,
            cfg_scale=float(self.cfg_scale) if self.cfg_scale is not None else None,
        )

    @property
    def aspect(self) -> str:
        return f"{self.aspect_width}:{self.aspect_height}" if self.aspect_width else ""


class BriefTemplate(models.Model):
    """A brief with `{variables}`; generating from it asks for one value per variable."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="brief_templates")
    name = models.CharField(_("name"), max_length=120)
    body = models.TextField(_("template"), max_length=20_000)
    # The variable names in order of first use, kept in step with `body` by the service.
    variables = models.JSONField(default=list, blank=True)
    task_type = models.CharField(
        _("task type"), max_length=16, choices=TaskType.choices, default=TaskType.BALANCED
    )
    style = models.ForeignKey(
        HouseStyle, null=True, blank=True, on_delete=models.SET_NULL, related_name="templates",
        verbose_name=_("house style"),
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("brief template")
        verbose_name_plural = _("brief templates")
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="template_unique_team_name"),
        ]

    def __str__(self) -> str:
        return self.name
