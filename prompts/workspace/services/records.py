"""What teammates do with a prompt record: favourite, tag, rate, comment, edit, re-run, and
what makes a record count as accepted."""

from collections import Counter
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.services import audit_record
from prompts.models import Comment, Favourite, GenerationJob, PromptRecord, Rating, Tag
from prompts.pipeline.creation import JobSpec
from prompts.pipeline.submissions import job_create_once
from prompts.usage.ledger import rollup_accept
from prompts.workspace.services.reviews import record_check_unlocked

MAX_TAGS = 20
ACCEPTED_STARS = 4


@transaction.atomic
def records_accept(*, record_ids: Iterable[int], exported: bool = False) -> int:
    """Someone kept these records: favourited, exported (`exported`: also note the first
    export) or rated them 4 stars or more. Each record is accepted once, counted in the
    rollup bucket of the day it was made, for the cost per accepted record. Returns how
    many were accepted for the first time."""
    ids = list(record_ids)
    now = timezone.now()
    if exported:
        PromptRecord.objects.filter(pk__in=ids, exported_at__isnull=True).update(exported_at=now)
    # Locked, so two people accepting one record at once count it once.
    fresh = list(PromptRecord.objects.select_for_update().filter(
        pk__in=ids, accepted_at__isnull=True).values_list(
        "id", "created_at", "project__team_id", "author_id", "project_id", "job__model"))
    if not fresh:
        return 0
    PromptRecord.objects.filter(pk__in=[row[0] for row in fresh]).update(accepted_at=now)
    rollup_accept(Counter((timezone.localdate(created), team_id, author_id, project_id, model)
                          for _id, created, team_id, author_id, project_id, model in fresh))
    return len(fresh)


def record_favourite_toggle(*, record: PromptRecord, user: User) -> bool:
    """Returns whether the record is now one of the user's favourites."""
    deleted, _rows = Favourite.objects.filter(record=record, user=user).delete()
    if deleted:
        return False
    Favourite.objects.get_or_create(record=record, user=user)
    records_accept(record_ids=[record.pk])
    return True


@transaction.atomic
def record_tags_set(*, record: PromptRecord, names: list[str]) -> list[Tag]:
    """Replace the record's tags; tags are the team's, created on first use. An approved
    record's tags are locked with it."""
    if record.is_locked:
        raise ValidationError(_("This record is approved and locked. Re-run it to make a new "
                                "version."))
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
    if stars >= ACCEPTED_STARS:
        records_accept(record_ids=[record.pk])
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


EDITABLE_FIELDS = ("positive_prompt", "negative_prompt", "width", "height", "steps", "cfg_scale",
                   "sampler", "seed")


def record_edit(*, record: PromptRecord, user: User, values: dict,
                ip_address: str | None = None) -> PromptRecord:
    """Change the record's prompts and settings by hand. Refused (ReviewRefused) when it is
    approved or in review. A record that needed review no longer does once it has a prompt."""
    record_check_unlocked(record)
    before = {name: str(getattr(record, name)) for name in EDITABLE_FIELDS}
    with transaction.atomic():
        updated = {name: values[name] for name in EDITABLE_FIELDS if name in values}
        if updated.get("positive_prompt", "").strip():
            updated["needs_review"] = False
        # Conditional, so a submit for review that lands first wins and the edit is refused.
        changed = PromptRecord.objects.filter(
            pk=record.pk, review_status__in=[PromptRecord.Review.DRAFT,
                                             PromptRecord.Review.CHANGES_REQUESTED],
        ).update(**updated)
        record.refresh_from_db()
        if not changed:
            record_check_unlocked(record)
        audit_record(actor=user, action="record.edit", target=record, before=before,
                     after={name: str(getattr(record, name)) for name in EDITABLE_FIELDS},
                     ip_address=ip_address)
    return record
