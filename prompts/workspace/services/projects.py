"""Projects: created, renamed and archived by members of their team."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User
from prompts.models import Project


def _check_name_free(*, team: Team, name: str, exclude_id: int | None = None) -> None:
    taken = Project.objects.filter(team=team, name__iexact=name).exclude(pk=exclude_id)
    if taken.exists():
        raise ValidationError(
            {"name": _("Your team already has a project called “%(name)s”.") % {"name": name}}
        )


@transaction.atomic
def project_create(*, team: Team, user: User, name: str, description: str = "") -> Project:
    name = name.strip()
    _check_name_free(team=team, name=name)
    project = Project(team=team, created_by=user, name=name, description=description.strip())
    project.full_clean()
    project.save()
    return project


@transaction.atomic
def project_rename(*, project: Project, name: str, description: str | None = None) -> Project:
    name = name.strip()
    _check_name_free(team=project.team, name=name, exclude_id=project.pk)
    project.name = name
    if description is not None:
        project.description = description.strip()
    project.full_clean()
    project.save(update_fields=["name", "description"])
    return project


def project_archive(*, project: Project, archived: bool = True) -> Project:
    """Archived projects leave the project list and take no new work; nothing is deleted."""
    project.archived_at = timezone.now() if archived else None
    project.save(update_fields=["archived_at"])
    return project
