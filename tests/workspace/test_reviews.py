"""Review and approval: who may decide, what a decision does, the lock, the queue, the
house library, and the audit trail of every transition."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from prompts.models import GenerationJob, PromptRecord, ReviewStep, TeamReviewer
from prompts.workspace.services.reviews import (
    ReviewRefused,
    record_review_decide,
    record_submit,
    reviewer_add,
)
from tests.factories import MembershipFactory, UserFactory
from tests.workspace.conftest import make_record

Review = PromptRecord.Review


@pytest.fixture
def submitted(record, crew):
    return record_submit(record=record, user=crew.member, comment="the best of the batch")


def reload(record) -> PromptRecord:
    return PromptRecord.objects.get(pk=record.pk)


def test_a_member_submits_a_record_for_review(member_client, record, crew):
    response = member_client.post(reverse("record_submit", args=[record.id]),
                                  {"comment": "best one"})
    assert response.status_code == 302
    assert reload(record).review_status == Review.PENDING
    step = ReviewStep.objects.get()
    assert (step.actor, step.action, step.comment) == (crew.member, "submit", "best one")
    assert AuditEvent.objects.filter(action="record.review.submit", actor=crew.member).exists()


def test_a_manager_approves_it_and_the_record_shows_who_and_when(manager_client, submitted,
                                                                crew):
    response = manager_client.post(reverse("record_decide", args=[submitted.id]),
                                   {"decision": "approve", "comment": "ship it"})
    assert response.status_code == 302
    record = reload(submitted)
    assert record.review_status == Review.APPROVED and record.is_locked
    assert record.approved_by == crew.manager and record.approved_at is not None
    html = manager_client.get(reverse("record_detail", args=[record.id])).content.decode()
    assert f"Approved by {crew.manager.username}" in html
    event = AuditEvent.objects.get(action="record.review.approve")
    assert event.actor == crew.manager and event.after["review"] == "approved"


def test_approval_by_a_member_who_is_not_a_reviewer_is_refused(client, submitted, crew):
    other = UserFactory(username="lin")
    MembershipFactory(user=other, team=crew.team)
    client.force_login(other)
    client.post(reverse("record_decide", args=[submitted.id]), {"decision": "approve"})
    assert reload(submitted).review_status == Review.PENDING
    with pytest.raises(ReviewRefused) as refused:
        record_review_decide(record=submitted, user=other, decision="approve")
    assert refused.value.code == "not_reviewer"
    assert not AuditEvent.objects.filter(action="record.review.approve").exists()


def test_a_member_a_manager_named_reviewer_may_approve(submitted, crew):
    other = UserFactory(username="lin")
    MembershipFactory(user=other, team=crew.team)
    reviewer_add(team=crew.team, user=other, actor=crew.manager)
    record_review_decide(record=submitted, user=other, decision="approve")
    assert reload(submitted).approved_by == other
    assert AuditEvent.objects.filter(action="reviewer.add", actor=crew.manager).exists()


def test_nobody_approves_their_own_record(project, crew):
    own = make_record(project, crew.manager)
    record_submit(record=own, user=crew.manager)
    with pytest.raises(ReviewRefused) as refused:
        record_review_decide(record=own, user=crew.manager, decision="approve")
    assert refused.value.code == "own_record"


def test_requesting_changes_needs_a_comment_and_sends_it_back(manager_client, submitted):
    manager_client.post(reverse("record_decide", args=[submitted.id]),
                        {"decision": "request_changes", "comment": ""})
    assert reload(submitted).review_status == Review.PENDING
    manager_client.post(reverse("record_decide", args=[submitted.id]),
                        {"decision": "request_changes", "comment": "warmer light"})
    record = reload(submitted)
    assert record.review_status == Review.CHANGES_REQUESTED and record.approved_at is None
    assert ReviewStep.objects.filter(action="request_changes", comment="warmer light").exists()


def test_two_decisions_at_once_cannot_both_win(submitted, crew):
    other = UserFactory(username="lin")
    MembershipFactory(user=other, team=crew.team)
    TeamReviewer.objects.create(team=crew.team, user=other)
    stale = reload(submitted)
    record_review_decide(record=submitted, user=crew.manager, decision="request_changes",
                         comment="no")
    with pytest.raises(ReviewRefused):
        record_review_decide(record=stale, user=other, decision="approve")
    assert reload(submitted).review_status == Review.CHANGES_REQUESTED


# The lock --------------------------------------------------------------------------------

@pytest.fixture
def approved(submitted, crew):
    return record_review_decide(record=submitted, user=crew.manager, decision="approve")


def test_a_locked_record_refuses_edits(member_client, approved):
    before = reload(approved).positive_prompt
    page = member_client.get(reverse("record_edit", args=[approved.id]))
    assert page.status_code == 302 and page["Location"] == f"/records/{approved.id}/"
    response = member_client.post(reverse("record_edit", args=[approved.id]), {
        "positive_prompt": "something else", "negative_prompt": ""})
    assert response.status_code == 409
    assert "approved and locked" in response.content.decode()
    assert reload(approved).positive_prompt == before
    tags = member_client.post(reverse("record_tags", args=[approved.id]), {"tags": "new"})
    assert tags.status_code == 400 and not reload(approved).tags.exists()


def test_a_record_in_review_refuses_edits_until_withdrawn(member_client, submitted):
    data = {"positive_prompt": "edited by hand", "negative_prompt": "blurry"}
    assert member_client.post(reverse("record_edit", args=[submitted.id]), data) \
        .status_code == 409
    member_client.post(reverse("record_withdraw", args=[submitted.id]))
    assert member_client.post(reverse("record_edit", args=[submitted.id]), data) \
        .status_code == 302
    record = reload(submitted)
    assert record.positive_prompt == "edited by hand" and record.review_status == Review.DRAFT
    assert AuditEvent.objects.filter(action="record.edit").exists()


def test_a_change_to_an_approved_record_is_a_rerun_linked_to_it(member_client, approved):
    response = member_client.post(reverse("record_rerun", args=[approved.id]), {
        "brief": "the same, warmer light", "task_type": "balanced"})
    child = GenerationJob.objects.exclude(pk=approved.job_id).get()
    assert response.status_code == 302 and child.parent_id == approved.job_id
    assert reload(approved).review_status == Review.APPROVED  # untouched


# Taking an approval back -------------------------------------------------------------------

def test_a_manager_revokes_an_approval_with_a_reason_once(manager_client, approved, crew):
    from prompts.models import ShareLink
    from prompts.workspace.services.shares import share_link_create

    link, token = share_link_create(user=crew.member, record=approved)
    page = manager_client.get(reverse("record_detail", args=[approved.id])).content.decode()
    assert 'id="revoke-approval"' in page
    url = reverse("record_revoke", args=[approved.id])

    refused = manager_client.post(url, {"comment": "  "}, follow=True)
    assert "Say why the approval is revoked." in refused.content.decode()
    assert reload(approved).review_status == Review.APPROVED

    done = manager_client.post(url, {"comment": "The client's logo is in the prompt"},
                               follow=True)
    assert "Approval revoked" in done.content.decode()
    record = reload(approved)
    assert record.review_status == Review.CHANGES_REQUESTED and not record.is_locked
    assert (record.approved_by, record.approved_at) == (None, None)
    step = ReviewStep.objects.filter(record=record).last()
    assert (step.actor, step.action, step.comment) == (
        crew.manager, "revoke", "The client's logo is in the prompt")
    assert AuditEvent.objects.filter(action="record.review.revoke", actor=crew.manager).exists()
    assert ShareLink.objects.get(pk=link.pk).revoked_at is not None
    assert AuditEvent.objects.filter(action="share_link.revoke").count() == 1
    assert Client().get(reverse("shared", args=[token])).status_code == 404
    html = manager_client.get(reverse("house_library")).content.decode()
    assert f'id="house-{record.id}"' not in html
    history = manager_client.get(reverse("record_detail", args=[record.id])).content.decode()
    assert "revoked the approval" in history and 'id="revoke-approval"' not in history

    # The same form sent again (a second tab): nothing more happens.
    again = manager_client.post(url, {"comment": "again"}, follow=True)
    assert "review has moved on" in again.content.decode()
    assert ReviewStep.objects.filter(record=record, action="revoke").count() == 1

    # The author can change it and submit it again.
    member = Client()
    member.force_login(crew.member)
    assert member.post(reverse("record_edit", args=[record.id]), {
        "positive_prompt": "a lighthouse, no logo", "negative_prompt": "logo"}).status_code == 302
    record_submit(record=reload(record), user=crew.member)
    assert reload(record).review_status == Review.PENDING


def test_only_a_manager_revokes_an_approval(client, approved, crew):
    reviewer = UserFactory(username="lin")
    MembershipFactory(user=reviewer, team=crew.team)
    reviewer_add(team=crew.team, user=reviewer, actor=crew.manager)
    url = reverse("record_revoke", args=[approved.id])
    for user in (crew.member, reviewer):  # the author; a named reviewer
        client.force_login(user)
        page = client.get(reverse("record_detail", args=[approved.id])).content.decode()
        assert 'id="revoke-approval"' not in page
        response = client.post(url, {"comment": "I changed my mind"}, follow=True)
        assert "Only a manager of the team can revoke an approval." in response.content.decode()
    assert reload(approved).review_status == Review.APPROVED
    assert not AuditEvent.objects.filter(action="record.review.revoke").exists()


def test_a_record_that_is_not_approved_cannot_be_revoked(manager_client, submitted):
    response = manager_client.post(reverse("record_revoke", args=[submitted.id]),
                                   {"comment": "why not"}, follow=True)
    assert "review has moved on" in response.content.decode()
    assert reload(submitted).review_status == Review.PENDING


# Pages ------------------------------------------------------------------------------------

def test_the_queue_counts_what_waits_and_offers_decisions_to_reviewers(manager_client, client,
                                                                      submitted, project, crew):
    make_record(project, crew.member)  # a draft: not in the queue
    html = manager_client.get(reverse("review_queue")).content.decode()
    assert 'id="count-pending">1<' in html
    assert f'action="/records/{submitted.id}/review/decide/"' in html
    client.force_login(crew.member)
    member_html = client.get(reverse("review_queue")).content.decode()
    assert 'id="count-pending">1<' in member_html
    assert "/review/decide/" not in member_html


def test_the_house_library_holds_the_approved_records(member_client, approved, project, crew):
    draft = make_record(project, crew.member, positive_prompt="a draft nobody approved")
    html = member_client.get(reverse("house_library")).content.decode()
    assert f'id="house-{approved.id}"' in html and draft.positive_prompt not in html
    library = member_client.get(reverse("library"), {"review": "approved"}).content.decode()
    assert f"record-row-{approved.id}" in library and f"record-row-{draft.id}" not in library


def test_a_manager_names_and_removes_reviewers(manager_client, crew):
    response = manager_client.post(reverse("reviewer_add"), {"user": crew.member.id})
    assert response.status_code == 302
    reviewer = TeamReviewer.objects.get(team=crew.team, user=crew.member)
    member_client = Client()
    member_client.force_login(crew.member)
    assert member_client.post(reverse("reviewer_remove", args=[reviewer.id])).status_code == 404
    manager_client.post(reverse("reviewer_remove", args=[reviewer.id]))
    assert not TeamReviewer.objects.exists()
    assert AuditEvent.objects.filter(action="reviewer.remove").exists()


def test_members_cannot_name_reviewers(member_client, crew):
    assert member_client.post(reverse("reviewer_add"), {"user": crew.member.id}) \
        .status_code == 404
    assert not TeamReviewer.objects.exists()
