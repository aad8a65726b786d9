"""Review and approval: submit, withdraw, approve or request changes; naming reviewers.

draft ─submit→ pending ─approve→ approved (locked: a change is a re-run)
                 │  └─request changes→ changes_requested ─submit→ pending
                 └─withdraw→ draft
approved ─revoke (a manager, with a reason)→ changes_requested
Managers and the members a manager named reviewers decide; nobody approves their own
record. Only a manager takes an approval back: the record leaves the house library, its
share links stop working, and webhooks hear `record.approval_revoked`. Every transition is
a ReviewStep and an audit event, written with a conditional update so two reviewers deciding
at once cannot both win.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Team, User
from accounts.services import audit_record
from grokweb.refusals import Refusal
from prompts.events import event_emit
from prompts.models import PromptRecord, ReviewStep, ShareLink, TeamReviewer, WebhookEventKind
from prompts.workspace.selectors.studio import can_review, manages_team
from prompts.workspace.selectors.webhooks import record_data
from prompts.workspace.services.shares import share_link_revoke

Review = PromptRecord.Review
Action = ReviewStep.Action


class ReviewRefused(Refusal):
    """A review step this user may not take, or not now."""


def _move(record: PromptRecord, *, user: User, action: str, sources: tuple[str, ...],
          target: str, comment: str, ip_address: str | None, **fields) -> PromptRecord:
    """The transition, if the record is still in one of `sources`; refused otherwise."""
    before = record.review_status
    with transaction.atomic():
        moved = PromptRecord.objects.filter(pk=record.pk, review_status__in=sources) \
            .update(review_status=target, **fields)
        if not moved:
            raise ReviewRefused("review_state", _("This record's review has moved on; reload "
                                                  "the page to see where it stands."))
        ReviewStep.objects.create(record=record, actor=user, action=action,
                                  comment=comment.strip())
        audit_record(actor=user, action=f"record.review.{action}", target=record,
                     before={"review": before},
                     after={"review": target, "comment": comment.strip()[:500]},
                     ip_address=ip_address)
        record.refresh_from_db()
        if target == Review.APPROVED:
            event_emit(team_id=record.project.team_id, kind=WebhookEventKind.RECORD_APPROVED,
                       record_id=record.pk, payload={"record": record_data(record),
                                                     "comment": comment.strip()})
    return record


def record_submit(*, record: PromptRecord, user: User, comment: str = "",
                  ip_address: str | None = None) -> PromptRecord:
    if not record.positive_prompt.strip():
        raise ReviewRefused("nothing_to_review", _(
            "This record has no positive prompt yet. Edit it or re-run it first."))
    return _move(record, user=user, action=Action.SUBMIT, sources=(Review.DRAFT,
                 Review.CHANGES_REQUESTED), target=Review.PENDING, comment=comment,
                 ip_address=ip_address)


def record_withdraw(*, record: PromptRecord, user: User,
                    ip_address: str | None = None) -> PromptRecord:
    """The author, or a reviewer, takes the record back out of review."""
    if record.author_id != user.pk and not can_review(user=user,
                                                      team_id=record.project.team_id):
        raise ReviewRefused("not_author", _(
            "Only the record's author or a reviewer can withdraw it from review."), status=403)
    return _move(record, user=user, action=Action.WITHDRAW, sources=(Review.PENDING,),
                 target=Review.DRAFT, comment="", ip_address=ip_address)


def record_review_decide(*, record: PromptRecord, user: User, decision: str, comment: str = "",
                         ip_address: str | None = None) -> PromptRecord:
    """Approve, or request changes with a comment."""
    if not can_review(user=user, team_id=record.project.team_id):
        raise ReviewRefused("not_reviewer", _(
            "Only managers and the reviewers they name can approve or request changes."),
            status=403)
    if decision == "approve":
        if record.author_id == user.pk:
            raise ReviewRefused("own_record", _(
                "You cannot approve your own record; another reviewer must."), status=403)
        return _move(record, user=user, action=Action.APPROVE, sources=(Review.PENDING,),
                     target=Review.APPROVED, comment=comment, ip_address=ip_address,
                     approved_by=user, approved_at=timezone.now())
    if decision == "request_changes":
        if not comment.strip():
            raise ReviewRefused("comment_needed", _("Say what should change."), field="comment")
        return _move(record, user=user, action=Action.REQUEST_CHANGES, sources=(Review.PENDING,),
                     target=Review.CHANGES_REQUESTED, comment=comment, ip_address=ip_address)
    raise ReviewRefused("bad_decision", _("Approve or request changes."))


def record_approval_revoke(*, record: PromptRecord, user: User, comment: str,
                           ip_address: str | None = None) -> PromptRecord:
    """A manager takes an approval back, saying why: changes requested, out of the house
    library, unlocked, and the record's live share links revoked, in one transaction."""
    if not manages_team(user=user, team_id=record.project.team_id):
        raise ReviewRefused("not_manager", _(
            "Only a manager of the team can revoke an approval."), status=403)
    if not comment.strip():
        raise ReviewRefused("comment_needed", _("Say why the approval is revoked."),
                            field="comment")
    with transaction.atomic():
        record = _move(record, user=user, action=Action.REVOKE, sources=(Review.APPROVED,),
                       target=Review.CHANGES_REQUESTED, comment=comment,
                       ip_address=ip_address, approved_by=None, approved_at=None)
        for link in ShareLink.objects.filter(record=record, revoked_at__isnull=True):
            share_link_revoke(link=link, user=user, ip_address=ip_address)
        event_emit(team_id=record.project.team_id,
                   kind=WebhookEventKind.RECORD_APPROVAL_REVOKED, record_id=record.pk,
                   payload={"record": record_data(record), "comment": comment.strip()})
    return record


def record_check_unlocked(record: PromptRecord) -> None:
    """Approved records are locked; one in review waits for its decision."""
    if record.review_status == Review.APPROVED:
        raise ReviewRefused("record_locked", _(
            "This record is approved and locked. Re-run it to make a new version."), status=409)
    if record.review_status == Review.PENDING:
        raise ReviewRefused("record_in_review", _(
            "This record is in review. Withdraw it from review to change it."), status=409)


# Reviewers -------------------------------------------------------------------------------

def reviewer_add(*, team: Team, user: User, actor: User,
                 ip_address: str | None = None) -> TeamReviewer:
    if not Membership.objects.filter(team=team, user=user).exists():
        raise ReviewRefused("not_member", _("Only members of the team can review."))
    with transaction.atomic():
        reviewer, created = TeamReviewer.objects.get_or_create(
            team=team, user=user, defaults={"named_by": actor})
        if created:
            audit_record(actor=actor, action="reviewer.add", target=reviewer,
                         after={"team": team.name, "user": user.username},
                         ip_address=ip_address)
    return reviewer


def reviewer_remove(*, reviewer: TeamReviewer, actor: User,
                    ip_address: str | None = None) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="reviewer.remove", target=reviewer,
                     before={"team": reviewer.team.name, "user": reviewer.user.username},
                     ip_address=ip_address)
        reviewer.delete()
