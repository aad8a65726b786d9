"""Access helpers for the workspace: one per kind of object, each 404 for outsiders.

Built like accounts/access.py: the membership join is in the query, so an object of a team
the user is not in is indistinguishable from one that does not exist.
"""

from django.shortcuts import get_object_or_404

from accounts.models import User
from prompts.models import Batch, GenerationJob, Project, PromptRecord, ReferenceImage


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
