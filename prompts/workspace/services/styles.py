"""House styles: created with a first version; a change is a new version, never an edit."""

from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User
from accounts.services import audit_record
from grokweb.refusals import Refusal
from prompts.gateway.spec import split_terms
from prompts.models import HouseStyle, HouseStyleVersion, Project


class StyleRefused(Refusal):
    """A house style that cannot be saved or used."""


@dataclass(frozen=True)
class StyleRules:
    """What one version says; the form's cleaned data."""

    negative_terms: str = ""
    style_words: str = ""
    width: int | None = None
    height: int | None = None
    aspect_width: int | None = None
    aspect_height: int | None = None
    sampler: str = ""
    steps: int | None = None
    cfg_scale: Decimal | None = None
    checkpoint: str = ""


def _normalised(rules: StyleRules) -> dict:
    values = asdict(rules)
    # Terms are kept one way: comma-separated, single-spaced, in the order given.
    values["negative_terms"] = ", ".join(split_terms(rules.negative_terms))
    values["style_words"] = ", ".join(split_terms(rules.style_words))
    values["sampler"] = rules.sampler.strip()
    values["checkpoint"] = rules.checkpoint.strip()
    if not any(value not in (None, "") for value in values.values()):
        raise StyleRefused("empty_style", _("A house style needs at least one rule."))
    return values


def _version_snapshot(version: HouseStyleVersion) -> dict:
    return {"number": version.number, "negative_terms": version.negative_terms,
            "style_words": version.style_words, "size": f"{version.width}x{version.height}"
            if version.width else None, "aspect": version.aspect or None,
            "sampler": version.sampler, "steps": version.steps,
            "cfg_scale": str(version.cfg_scale) if version.cfg_scale is not None else None,
            "checkpoint": version.checkpoint}


@transaction.atomic
def style_create(*, team: Team, user: User, name: str, description: str = "",
                 rules: StyleRules, ip_address: str | None = None) -> HouseStyle:
    values = _normalised(rules)
    name = name.strip()
    if HouseStyle.objects.filter(team=team, name=name).exists():
        raise StyleRefused("name_taken", _("The team already has a house style called "
                                           "“%(name)s”.") % {"name": name}, field="name")
    style = HouseStyle.objects.create(team=team, name=name, description=description.strip(),
                                      created_by=user)
    version = HouseStyleVersion.objects.create(style=style, number=1, created_by=user, **values)
    audit_record(actor=user, action="style.create", target=style,
                 after={"name": style.name} | _version_snapshot(version), ip_address=ip_address)
    return style


def style_version_add(*, style: HouseStyle, user: User, rules: StyleRules, note: str = "",
                      ip_address: str | None = None) -> HouseStyleVersion:
    """The style's next version. Jobs already made keep the version they used."""
    values = _normalised(rules)
    for _try in range(3):
        try:
            with transaction.atomic():
                latest = style.versions.aggregate(n=Max("number"))["n"] or 0
                version = HouseStyleVersion.objects.create(
                    style=style, number=latest + 1, created_by=user, note=note.strip()[:300],
                    **values)
                audit_record(actor=user, action="style.version", target=style,
                             after={"note": version.note} | _version_snapshot(version),
                             ip_address=ip_address)
            return version
        except IntegrityError:
            continue  # two editors at once: the other took this number, take the next
    raise StyleRefused("busy", _("Someone else is changing this style. Try again."))


@transaction.atomic
def style_archive(*, style: HouseStyle, user: User, archived: bool = True,
                  ip_address: str | None = None) -> HouseStyle:
    """An archived style is offered nowhere; projects that defaulted to it have none."""
    if (style.archived_at is not None) != archived:
        style.archived_at = timezone.now() if archived else None
        style.save(update_fields=["archived_at"])
        if archived:
            Project.objects.filter(default_style=style).update(default_style=None)
        audit_record(actor=user, action="style.archive" if archived else "style.restore",
                     target=style, ip_address=ip_address)
    return style


@transaction.atomic
def project_default_style_set(*, project: Project, style: HouseStyle | None, user: User,
                              ip_address: str | None = None) -> Project:
    if style is not None and (style.team_id != project.team_id or style.archived_at):
        raise StyleRefused("style_unavailable", _("Choose one of this team's house styles."),
                           field="style")
    if project.default_style_id != (style.pk if style else None):
        before = project.default_style_id
        project.default_style = style
        project.save(update_fields=["default_style"])
        audit_record(actor=user, action="project.default_style", target=project,
                     before={"style": before}, after={"style": style.pk if style else None},
                     ip_address=ip_address)
    return project
