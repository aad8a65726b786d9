"""Reads for the studio: templates and styles, the review queue, share links, the hub."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import Membership, User
from prompts.models import (
    BriefTemplate,
    HouseStyle,
    HouseStyleVersion,
    PromptRecord,
    ReviewStep,
    ShareLink,
    TeamReviewer,
    WebhookEndpoint,
)

Review = PromptRecord.Review


def templates_for_team(*, team_id: int, archived: bool = False) -> QuerySet:
    return (BriefTemplate.objects.filter(team_id=team_id, archived_at__isnull=not archived)
            .select_related("style").annotate(records=Count("jobs__record"))
            .order_by("name"))


def styles_for_team(*, team_id: int, archived: bool = False) -> QuerySet:
    latest = HouseStyleVersion.objects.filter(style=OuterRef("pk")).order_by("-number")
    return (HouseStyle.objects.filter(team_id=team_id, archived_at__isnull=not archived)
            .annotate(latest_number=Max("versions__number"),
                      latest_id=Subquery(latest.values("id")[:1]))
            .order_by("name"))


def style_versions(style: HouseStyle) -> list[HouseStyleVersion]:
    return list(style.versions.select_related("created_by")
                .annotate(jobs_count=Count("jobs")).order_by("-number"))


# Review -----------------------------------------------------------------------------------

def manages_team(*, user: User, team_id: int) -> bool:
    """A manager of the team: may also take an approval back."""
    return Membership.objects.filter(user=user, team_id=team_id,
                                     role=Membership.Role.MANAGER).exists()


def can_review(*, user: User, team_id: int) -> bool:
    """Managers, and the members a manager named reviewers (while still members)."""
    return (manages_team(user=user, team_id=team_id)
            or TeamReviewer.objects.filter(user=user, team_id=team_id,
                                           user__memberships__team_id=team_id).exists())


@dataclass(frozen=True)
class RecordStudio:
    """The studio's part of a record's page."""

    history: list
    can_review: bool
    can_revoke: bool  # a manager of the team: may take an approval back
    compare_ids: str  # the record with its parent and re-runs, up to four
    template: object
    template_values: dict | None
    style_version: object


def record_studio(*, record: PromptRecord, user: User) -> RecordStudio:
    job = record.job
    chain = []
    if job.parent_id:
        chain += list(PromptRecord.objects.filter(job_id=job.parent_id).values_list("id", flat=True))
    chain.append(record.pk)
    chain += list(PromptRecord.objects.filter(job__parent_id=job.pk).order_by("id")
                  .values_list("id", flat=True)[:3])
    return RecordStudio(
        history=review_history(record),
        can_review=can_review(user=user, team_id=record.project.team_id),
        can_revoke=(record.review_status == Review.APPROVED
                    and manages_team(user=user, team_id=record.project.team_id)),
        compare_ids=",".join(str(pk) for pk in chain[:4]) if len(chain) > 1 else "",
        template=job.template, template_values=job.template_values,
        style_version=job.style_version,
    )


@dataclass(frozen=True)
class ReviewQueue:
    pending: list
    changes_requested: list
    recently_approved: list
    counts: dict
    is_reviewer: bool
    reviewers: list


def _submitted_at():
    return Subquery(ReviewStep.objects.filter(record=OuterRef("pk"), action="submit")
                    .order_by("-created_at").values("created_at")[:1])


def review_queue(*, team_id: int, user: User, is_reviewer: bool) -> ReviewQueue:
    records = (PromptRecord.objects.filter(project__team_id=team_id)
               .select_related("project", "author", "job", "approved_by"))
    counts = records.aggregate(
        pending=Count("id", filter=Q(review_status=Review.PENDING)),
        changes_requested=Count("id", filter=Q(review_status=Review.CHANGES_REQUESTED)),
        approved=Count("id", filter=Q(review_status=Review.APPROVED)),
        approved_week=Count("id", filter=Q(review_status=Review.APPROVED,
                                           approved_at__gte=timezone.now() - timedelta(days=7))),
    )
    return ReviewQueue(
        pending=list(records.filter(review_status=Review.PENDING)
                     .annotate(submitted_at=_submitted_at()).order_by("submitted_at", "id")),
        changes_requested=list(records.filter(review_status=Review.CHANGES_REQUESTED)
                               .order_by("-id")[:50]),
        recently_approved=list(records.filter(review_status=Review.APPROVED)
                               .order_by("-approved_at")[:10]),
        counts=counts, is_reviewer=is_reviewer,
        reviewers=list(TeamReviewer.objects.filter(team_id=team_id).select_related("user")
                       .order_by("user__username")),
    )


def pending_review_count(*, team_id: int) -> int:
    return PromptRecord.objects.filter(project__team_id=team_id,
                                       review_status=Review.PENDING).count()


def reviewer_candidates(*, team_id: int) -> list[tuple[int, str]]:
    """Members who are neither managers (who review anyway) nor reviewers yet."""
    named = TeamReviewer.objects.filter(team_id=team_id).values("user_id")
    return list(Membership.objects.filter(team_id=team_id, role=Membership.Role.MEMBER)
                .exclude(user_id__in=named).order_by("user__username")
                .values_list("user_id", "user__username"))


def review_history(record: PromptRecord) -> list[ReviewStep]:
    return list(record.review_steps.select_related("actor"))


def house_library(*, team_id: int) -> QuerySet:
    """The team's approved records, newest approval first."""
    return (PromptRecord.objects.filter(project__team_id=team_id, review_status=Review.APPROVED)
            .select_related("project", "author", "approved_by", "job")
            .prefetch_related("job__references").order_by("-approved_at", "-id"))


# Share links -------------------------------------------------------------------------------

def share_links_for_team(*, team_id: int) -> list[ShareLink]:
    now = timezone.now()
    links = list(ShareLink.objects.filter(team_id=team_id)
                 .select_related("record", "project", "created_by", "revoked_by")[:200])
    for link in links:
        link.state = ("revoked" if link.revoked_at else "expired" if link.expires_at <= now
                      else "live")
    return links


@dataclass(frozen=True)
class SharedPage:
    link: ShareLink
    title: str
    records: list  # [(record, [references])]


def shared_page(link: ShareLink) -> SharedPage:
    """What a share link shows: the record, or the project's approved records; prompts,
    settings and references only."""
    if link.record_id is not None:
        records = PromptRecord.objects.filter(pk=link.record_id)
        title = link.record.project.name
    else:
        records = PromptRecord.objects.filter(project_id=link.project_id,
                                              review_status=Review.APPROVED)
        title = link.project.name
    records = records.prefetch_related("job__references").order_by("-approved_at", "-id")
    return SharedPage(link=link, title=title,
                      records=[(record, list(record.job.references.all())) for record in records])


def shared_reference_ids(link: ShareLink) -> set[int]:
    """The references a share link may show: those of its records."""
    records = PromptRecord.objects.filter(pk=link.record_id) if link.record_id else \
        PromptRecord.objects.filter(project_id=link.project_id, review_status=Review.APPROVED)
    return set(records.values_list("job__references", flat=True)) - {None}


# The hub ----------------------------------------------------------------------------------

def studio_overview(*, team_id: int, is_manager: bool) -> dict:
    return {
        "templates": BriefTemplate.objects.filter(team_id=team_id,
                                                  archived_at__isnull=True).count(),
        "styles": HouseStyle.objects.filter(team_id=team_id, archived_at__isnull=True).count(),
        "pending": pending_review_count(team_id=team_id),
        "approved": PromptRecord.objects.filter(project__team_id=team_id,
                                                review_status=Review.APPROVED).count(),
        "live_links": ShareLink.objects.filter(team_id=team_id, revoked_at__isnull=True,
                                               expires_at__gt=timezone.now()).count(),
        "endpoints": WebhookEndpoint.objects.filter(team_id=team_id).count()
        if is_manager else None,
    }
