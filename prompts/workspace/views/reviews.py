"""Review and approval: submit, withdraw, decide; the queue, reviewers, the house library;
editing a record by hand while it is not locked."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import actor_of, team_for_manager
from accounts.models import User
from prompts.access import record_for_member
from prompts.models import TeamReviewer
from prompts.workspace.selectors.studio import house_library, review_queue, reviewer_candidates
from prompts.workspace.services.records import EDITABLE_FIELDS, record_edit
from prompts.workspace.services.reviews import (
    ReviewRefused,
    can_review,
    record_approval_revoke,
    record_check_unlocked,
    record_review_decide,
    record_submit,
    record_withdraw,
    reviewer_add,
    reviewer_remove,
)
from prompts.workspace.studio_forms import (
    RecordEditForm,
    ReviewCommentForm,
    ReviewDecisionForm,
    ReviewerForm,
)
from prompts.workspace.views.common import current_membership, page_of


def _back_to(record) -> HttpResponse:
    return redirect("record_detail", record_id=record.pk)


def _review_step(request: HttpRequest, record, step, done: str, **values) -> HttpResponse:
    """One review step from the record's page: the refusal or `done` as a message."""
    try:
        step(record=record, user=request.user, ip_address=actor_of(request)["ip_address"],
             **values)
    except ReviewRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, done)
    return _back_to(record)


def _comment(request: HttpRequest) -> str:
    form = ReviewCommentForm(request.POST)
    return form.cleaned_data["comment"] if form.is_valid() else ""


@require_POST
@login_required
def record_submit_view(request: HttpRequest, record_id: int) -> HttpResponse:
    record = record_for_member(request.user, record_id)
    return _review_step(request, record, record_submit, _("Submitted for review."),
                        comment=_comment(request))


@require_POST
@login_required
def record_withdraw_view(request: HttpRequest, record_id: int) -> HttpResponse:
    record = record_for_member(request.user, record_id)
    return _review_step(request, record, record_withdraw, _("Withdrawn from review."))


@require_POST
@login_required
def record_decide_view(request: HttpRequest, record_id: int) -> HttpResponse:
    record = record_for_member(request.user, record_id)
    form = ReviewDecisionForm(request.POST)
    if not form.is_valid():
        for error in form.errors.values():
            messages.error(request, " ".join(error))
        return _back_to(record)
    try:
        record_review_decide(record=record, user=request.user, ip_address=actor_of(request)[
            "ip_address"], decision=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"])
    except ReviewRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("Approved: the record is in the house library and locked.")
                         if record.review_status == "approved" else _("Changes requested."))
    if request.POST.get("next") == "queue":
        return redirect("review_queue")
    return _back_to(record)


@require_POST
@login_required
def record_revoke_view(request: HttpRequest, record_id: int) -> HttpResponse:
    record = record_for_member(request.user, record_id)
    return _review_step(request, record, record_approval_revoke,
                        _("Approval revoked: the record is out of the house library, "
                          "unlocked, and its share links no longer open."),
                        comment=_comment(request))


@login_required
def record_edit_view(request: HttpRequest, record_id: int) -> HttpResponse:
    record = record_for_member(request.user, record_id)
    if request.method == "GET":
        try:
            record_check_unlocked(record)
        except ReviewRefused as refused:
            messages.info(request, refused.message)
            return _back_to(record)
    initial = {name: getattr(record, name) for name in EDITABLE_FIELDS}
    form = RecordEditForm(request.POST or None, initial=initial)
    status = 422 if form.errors else 200
    if request.method == "POST" and form.is_valid():
        try:
            record_edit(record=record, user=request.user, values=form.cleaned_data,
                        ip_address=actor_of(request)["ip_address"])
        except ReviewRefused as refused:
            form.add_error(None, refused.message)
            status = refused.status
        else:
            messages.success(request, _("Record saved."))
            return _back_to(record)
    return render(request, "studio/record_edit.html", {"record": record, "form": form},
                  status=status)


# The queue, reviewers, the house library ------------------------------------------------

@login_required
def review_queue_view(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    queue = review_queue(team_id=membership.team_id, user=request.user,
                         is_reviewer=can_review(user=request.user, team_id=membership.team_id))
    reviewer_form = ReviewerForm(members=reviewer_candidates(team_id=membership.team_id)) \
        if membership.is_manager else None
    return render(request, "studio/review_queue.html", {
        "queue": queue, "reviewer_form": reviewer_form, "decision_form": ReviewDecisionForm(),
        "is_manager": membership.is_manager,
    })


@require_POST
@login_required
def reviewer_add_view(request: HttpRequest) -> HttpResponse:
    team = team_for_manager(request.user, current_membership(request).team_id)
    form = ReviewerForm(request.POST, members=reviewer_candidates(team_id=team.pk))
    if form.is_valid():
        user = get_object_or_404(User, pk=form.cleaned_data["user"])
        try:
            reviewer_add(team=team, user=user, actor=request.user,
                         ip_address=actor_of(request)["ip_address"])
        except ReviewRefused as refused:
            messages.error(request, refused.message)
        else:
            messages.success(request, _("%(user)s can now approve records.")
                             % {"user": user.username})
    else:
        messages.error(request, _("Choose a member of the team."))
    return redirect("review_queue")


@require_POST
@login_required
def reviewer_remove_view(request: HttpRequest, reviewer_id: int) -> HttpResponse:
    team = team_for_manager(request.user, current_membership(request).team_id)
    reviewer = TeamReviewer.objects.filter(team=team, pk=reviewer_id).select_related(
        "user", "team").first()
    if reviewer is None:
        raise Http404
    reviewer_remove(reviewer=reviewer, actor=request.user,
                    ip_address=actor_of(request)["ip_address"])
    messages.success(request, _("%(user)s no longer reviews.") % {"user": reviewer.user.username})
    return redirect("review_queue")


@login_required
def house_library_view(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    return render(request, "studio/house_library.html", {
        "page": page_of(request, house_library(team_id=membership.team_id), 24),
        "team": membership.team,
    })
