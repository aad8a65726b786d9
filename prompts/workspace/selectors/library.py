"""Reads for the prompt library: the team's records, filtered, and one record in full."""

import difflib
import re
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Avg, Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from prompts.gateway.kept_settings import split_kept_settings
from prompts.models import (
    BriefTemplate,
    Favourite,
    Project,
    PromptRecord,
    Rating,
    ReferenceImage,
    Tag,
)
from prompts.workspace.selectors.jobs import job_costs

DIFF_FIELDS = (
    ("brief", _("Brief")),
    ("positive_prompt", _("Positive prompt")),
    ("negative_prompt", _("Negative prompt")),
    ("size", _("Size")),
    ("steps", _("Steps")),
    ("cfg_scale", _("CFG scale")),
    ("sampler", _("Sampler")),
    ("style", _("Style")),
    ("seed", _("Seed")),
    ("task_type", _("Task type")),
    ("temperature", _("Temperature")),
)
# Long texts are compared word by word; the rest are single values shown as old → new.
WORD_DIFF_FIELDS = ("brief", "positive_prompt", "negative_prompt")
VISUAL_FEATURE_LABELS = {
    "face": _("Face"),
    "hairstyle": _("Hairstyle"),
    "lighting": _("Lighting"),
    "palette": _("Palette"),
    "composition": _("Composition"),
    "style_direction": _("Style direction"),
}
# Words, separators, and single CJK characters (Chinese has no spaces between words).
_WORDS = re.compile(r"\s+|[\u3400-\u9fff]|[^\s,，、;；\u3400-\u9fff]+|[,，、;；]")


@dataclass(frozen=True)
class LibraryFilters:
    q: str = ""
    project_id: int | None = None
    author_id: int | None = None
    status: str = ""  # "ok" or "needs_review"
    favourites: bool = False
    tag_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    template_id: int | None = None
    review: str = ""  # a PromptRecord.Review value


def library_records(*, team_id: int, user_id: int, filters: LibraryFilters) -> QuerySet:
    """The team's records, newest first, with `is_favourite` (for this user), `rating_avg`,
    the tags and the job's references (their thumbnails) prefetched: a fixed number of
    queries for any page size."""
    ratings = Rating.objects.filter(record=OuterRef("pk")).values("record")
    records = (
        PromptRecord.objects.filter(project__team_id=team_id)
        .select_related("project", "author", "job")
        .prefetch_related("tags", Prefetch("job__references",
                                           queryset=ReferenceImage.objects.order_by("id")))
        .annotate(
            is_favourite=Exists(Favourite.objects.filter(record=OuterRef("pk"), user_id=user_id)),
            rating_avg=Subquery(ratings.annotate(avg=Avg("stars")).values("avg")[:1]),
        )
        .order_by("-created_at", "-id")
    )
    if filters.q:
        records = records.filter(
            Q(job__brief__icontains=filters.q)
            | Q(positive_prompt__icontains=filters.q)
            | Q(negative_prompt__icontains=filters.q)
        )
    if filters.project_id:
        records = records.filter(project_id=filters.project_id)
    if filters.author_id:
        records = records.filter(author_id=filters.author_id)
    if filters.status:
        records = records.filter(needs_review=filters.status == "needs_review")
    if filters.favourites:
        records = records.filter(is_favourite=True)
    if filters.tag_id:
        records = records.filter(tags__id=filters.tag_id)
    if filters.date_from:
        records = records.filter(created_at__date__gte=filters.date_from)
    if filters.date_to:
        records = records.filter(created_at__date__lte=filters.date_to)
    if filters.template_id:
        records = records.filter(job__template_id=filters.template_id)
    if filters.review:
        records = records.filter(review_status=filters.review)
    return records


def library_choices(*, team_id: int) -> dict:
    """What the library's filters offer: the team's projects, members and tags."""
    return {
        "projects": list(Project.objects.filter(team_id=team_id).values_list("id", "name")),
        "authors": list(
            User.objects.filter(memberships__team_id=team_id).order_by("username")
            .values_list("id", "username")
        ),
        "tags": list(Tag.objects.filter(team_id=team_id).values_list("id", "name")),
        "templates": list(BriefTemplate.objects.filter(team_id=team_id)
                          .values_list("id", "name")),
    }


@dataclass
class RecordDetail:
    record: PromptRecord
    references: list
    costs: object
    tags: list
    is_favourite: bool
    my_rating: int | None
    rating_avg: float | None
    rating_count: int
    comments: list
    parent_record: PromptRecord | None
    diff: list
    children: list = field(default_factory=list)
    visual_features: list = field(default_factory=list)


def record_detail(*, record: PromptRecord, user: User) -> RecordDetail:
    job = record.job
    ratings = Rating.objects.filter(record=record).aggregate(avg=Avg("stars"), n=Count("id"))
    parent_record = (
        PromptRecord.objects.select_related("job").filter(job_id=job.parent_id).first()
        if job.parent_id else None
    )
    return RecordDetail(
        record=record,
        references=list(job.references.all()),
        costs=job_costs(job),
        tags=list(record.tags.all()),
        is_favourite=Favourite.objects.filter(record=record, user=user).exists(),
        my_rating=Rating.objects.filter(record=record, user=user)
        .values_list("stars", flat=True).first(),
        rating_avg=ratings["avg"],
        rating_count=ratings["n"],
        comments=list(record.comments.select_related("author")),
        parent_record=parent_record,
        diff=record_diff(parent_record, record) if parent_record else [],
        children=list(
            PromptRecord.objects.filter(job__parent_id=job.id).order_by("created_at")
        ),
        visual_features=visual_feature_rows(record.visual_features),
    )


def visual_feature_rows(features: dict | None) -> list[tuple[str, str]]:
    """(label, value) in the spec's order, labels in the reader's language."""
    features = features or {}
    rows = [(str(label), features[key]) for key, label in VISUAL_FEATURE_LABELS.items()
            if features.get(key)]
    rows += [(key.replace("_", " ").capitalize(), value) for key, value in features.items()
             if key not in VISUAL_FEATURE_LABELS and value]
    return rows


def _field_text(record: PromptRecord, name: str) -> str:
    if name == "brief":
        return split_kept_settings(record.job.brief)[0]
    if name == "task_type":
        return str(record.job.get_task_type_display())
    if name == "temperature":
        return str(record.job.temperature)
    if name == "size":
        return f"{record.width}×{record.height}" if record.width else ""
    if name == "seed" and record.seed is None and not record.needs_review:
        return str(_("random"))
    value = getattr(record, name)
    return "" if value is None else str(value)


def word_diff(old: str, new: str) -> list[dict]:
    """Word-level changes: [{"op": "equal"|"delete"|"insert", "text"}]."""
    old_words, new_words = _WORDS.findall(old), _WORDS.findall(new)
    segments = []
    matcher = difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op in ("delete", "replace"):
            segments.append({"op": "delete", "text": "".join(old_words[a1:a2])})
        if op in ("insert", "replace"):
            segments.append({"op": "insert", "text": "".join(new_words[b1:b2])})
        if op == "equal":
            segments.append({"op": "equal", "text": "".join(old_words[a1:a2])})
    return _joined_changes(segments)


def _joined_changes(segments: list[dict]) -> list[dict]:
    """Changes separated only by a space read as one: "-morning mist +golden hour", not
    "-morning +golden -mist +hour"."""
    joined: list[dict] = []
    index = 0
    while index < len(segments):
        segment = segments[index]
        if segment["op"] != "equal":
            deleted, inserted = [], []
            while index < len(segments):
                current = segments[index]
                follows = index + 1 < len(segments) and segments[index + 1]["op"] != "equal"
                if current["op"] == "equal" and not (current["text"].isspace() and follows):
                    break
                if current["op"] in ("equal", "delete"):
                    deleted.append(current["text"])
                if current["op"] in ("equal", "insert"):
                    inserted.append(current["text"])
                index += 1
            joined += [{"op": op, "text": "".join(parts)}
                       for op, parts in (("delete", deleted), ("insert", inserted)) if parts]
            continue
        joined.append(segment)
        index += 1
    return joined


def record_diff(old: PromptRecord, new: PromptRecord) -> list[dict]:
    """Per field of the two records (and their jobs' briefs and settings): whether it changed,
    and how — a word-level diff for long texts, old → new for single values."""
    rows = []
    for name, label in DIFF_FIELDS:
        before, after = _field_text(old, name), _field_text(new, name)
        changed = before != after
        words = name in WORD_DIFF_FIELDS
        rows.append({
            "field": name, "label": label, "changed": changed, "words": words,
            "segments": word_diff(before, after) if changed and words else [],
            "old": before, "new": after, "text": after,
        })
    return rows


def records_for_export(records: QuerySet) -> QuerySet:
    """Records with everything an export reads, oldest first."""
    return (
        records.select_related("job__style_version", "project", "author")
        .prefetch_related("tags", "job__references")
        .order_by("created_at", "id")
    )
