"""Access helpers for the workspace: one per kind of object, each 404 for outsiders.

Built like accounts/access.py: the membership join is in the query, so an object of a team
the user is not in is indistinguishable from one that does not exist.
"""

from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import User
from prompts.models import (
    Batch,
    BriefTemplate,
    GenerationJob,
    HouseStyle,
    Project,
    PromptRecord,
    ReferenceImage,
    ShareLink,
    WebhookEndpoint,
)


def project_for_member(user: User, project_id: int) -> Project:
    return get_object_or_404(
        Project.objects.select_related("team").filter(team__memberships__user=user),
        pk=project_id,
    )


def reference_for_member(user: User, reference_id: int) -> ReferenceImage:
    return get_object_or_404(
        ReferenceImage.objects.select_related("project").filter(
            project__team__memberships__user=user
        ),
        pk=reference_id,
    )


def job_for_member(user: User, job_id: int) -> GenerationJob:
    return get_object_or_404(
        GenerationJob.objects.select_related("project", "created_by", "batch").filter(
            project__team__memberships__user=user
        ),
        pk=job_id,
    )


def record_for_member(user: User, record_id: int) -> PromptRecord:
    return get_object_or_404(
        PromptRecord.objects.select_related("project", "author", "job", "job__parent").filter(
            project__team__memberships__user=user
        ),
        pk=record_id,
    )


def batch_for_member(user: User, batch_id: int) -> Batch:
    return get_object_or_404(
        Batch.objects.select_related("project", "created_by").filter(
            project__team__memberships__user=user
        ),
        pk=batch_id,
    )


def records_for_member(user: User, record_ids: list[int]) -> list[PromptRecord]:
    """Several records, in the order asked; one that is not the user's team's is a 404 for
    the lot, so a mixed list confirms nothing."""
    records = PromptRecord.objects.filter(project__team__memberships__user=user,
                                          pk__in=record_ids).in_bulk()
    if len(records) != len(set(record_ids)):
        raise Http404
    return [records[record_id] for record_id in record_ids]


def template_for_member(user: User, template_id: int) -> BriefTemplate:
    return get_object_or_404(
        BriefTemplate.objects.select_related("team", "style").filter(
            team__memberships__user=user),
        pk=template_id,
    )


def style_for_member(user: User, style_id: int) -> HouseStyle:
    return get_object_or_404(
        HouseStyle.objects.select_related("team").filter(team__memberships__user=user),
        pk=style_id,
    )


def share_link_for_member(user: User, link_id: int) -> ShareLink:
    return get_object_or_404(
        ShareLink.objects.select_related("record", "project").filter(
            team__memberships__user=user),
        pk=link_id,
    )


def webhook_for_manager(user: User, endpoint_id: int) -> WebhookEndpoint:
    """Webhooks are the managers' business: members get a 404 too."""
    return get_object_or_404(
        WebhookEndpoint.objects.select_related("team").filter(
            team__memberships__user=user, team__memberships__role="manager"),
        pk=endpoint_id,
    )
