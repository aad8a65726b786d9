"""What teammates do with a prompt record: favourite, tag, rate, comment, re-run with edits."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from prompts.models import Comment, Favourite, GenerationJob, PromptRecord, Rating, Tag
from prompts.pipeline.creation import JobSpec, job_create_once

MAX_TAGS = 20


def record_favourite_toggle(*, record: PromptRecord, user: User) -> bool:
    """Returns whether the record is now one of the user's favourites."""
    deleted, _rows = Favourite.objects.filter(record=record, user=user).delete()
    if deleted:
        return False
    Favourite.objects.get_or_create(record=record, user=user)
    return True


@transaction.atomic
def record_tags_set(*, record: PromptRecord, names: list[str]) -> list[Tag]:
    """Replace the record's tags; tags are the team's, created on first use."""
    cleaned = []
    for name in names:
        name = name.strip()[:50]
        if name and name.lower() not in {c.lower() for c in cleaned}:
            cleaned.append(name)
    if len(cleaned) > MAX_TAGS:
        raise ValidationError(_("A record can have at most %(n)s tags.") % {"n": MAX_TAGS})
    team_id = record.project.team_id
    existing = {tag.name.lower(): tag for tag in Tag.objects.filter(team_id=team_id)}
    tags = []
    for name in cleaned:
        tag = existing.get(name.lower())
        if tag is None:
            tag, _created = Tag.objects.get_or_create(team_id=team_id, name=name)
        tags.append(tag)
    record.tags.set(tags)
    return tags


def record_rate(*, record: PromptRecord, user: User, stars: int) -> Rating:
    if not 1 <= stars <= 5:
        raise ValidationError(_("Choose from 1 to 5 stars."))
    rating, _created = Rating.objects.update_or_create(
        record=record, user=user, defaults={"stars": stars}
    )
    return rating


def record_comment_add(*, record: PromptRecord, user: User, body: str) -> Comment:
    comment = Comment(record=record, author=user, body=body.strip())
    if not comment.body:
        raise ValidationError(_("Write a comment first."))
    comment.full_clean()
    comment.save()
    return comment


def record_rerun(
    *, record: PromptRecord, user: User, spec: JobSpec, key: str = ""
) -> tuple[GenerationJob, bool]:
    """A new job with the edited brief and settings, linked to the record's job as parent;
    (job, created), at most once per `key` as job_create_once. Raises JobRefused as
    job_create does (an archived project too)."""
    return job_create_once(user=user, project=record.project, spec=spec, key=key,
                           parent=record.job)
