"""Share links: read-only pages for a client without an account. Only approved work, only
prompts, settings and reference thumbnails; expiry, revocation and scoping; views counted."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from prompts.models import ShareLink
from prompts.workspace.services.references import reference_create
from prompts.workspace.services.reviews import record_review_decide, record_submit
from prompts.workspace.services.shares import (
    ShareRefused,
    share_link_create,
    share_link_revoke,
)
from tests.factories import ProjectFactory
from tests.workspace.conftest import image_bytes, make_record


def approve(record, crew):
    record_submit(record=record, user=crew.member)
    return record_review_decide(record=record, user=crew.manager, decision="approve")


@pytest.fixture
def approved(project, crew, price):
    record = make_record(project, crew.member, positive_prompt="a jade teapot, soft light")
    reference, _created = reference_create(project=project, user=crew.member,
                                           data=image_bytes(), original_name="teapot.jpg")
    record.job.references.add(reference)
    return approve(record, crew)


def open_link(token: str):
    return Client().get(reverse("shared", args=[token]))


def test_it_shows_an_approved_record_to_anyone_with_the_link(approved, crew):
    link, token = share_link_create(user=crew.member, record=approved, label="Client A")
    response = open_link(token)
    html = response.content.decode()
    assert response.status_code == 200
    assert "a jade teapot, soft light" in html and "blurry, extra fingers" in html
    assert "832×1216" in html and "DPM++ 2M Karras" in html
    reference = approved.job.references.get()
    assert reverse("shared_reference", args=[token, reference.id]) in html
    # Never costs, people or the members' pages.
    for secret in ("¥", crew.member.username, crew.manager.username, "/records/", "/projects/",
                   "Log out", "Client A"):
        assert secret not in html
    assert response["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response["X-Robots-Tag"]
    link.refresh_from_db()
    assert link.views == 1 and link.last_viewed_at is not None


def test_only_a_hash_of_the_token_is_stored(approved, crew):
    link, token = share_link_create(user=crew.member, record=approved)
    row = ShareLink.objects.filter(pk=link.pk).values().get()
    assert token not in str(row)
    assert link.token_prefix == token[:6]
    event = AuditEvent.objects.get(action="share_link.create")
    assert token not in str(event.after) and event.actor == crew.member


def test_the_thumbnail_comes_through_the_token_and_only_for_its_records(approved, project,
                                                                        crew):
    _link, token = share_link_create(user=crew.member, record=approved)
    reference = approved.job.references.get()
    image = Client().get(reverse("shared_reference", args=[token, reference.id]))
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    other, _ = reference_create(project=project, user=crew.member,
                                data=image_bytes("JPEG", (300, 300)), original_name="other.jpg")
    assert Client().get(reverse("shared_reference", args=[token, other.id])).status_code == 404
    # The members' image view stays members only.
    assert Client().get(reverse("reference_image", args=[reference.id, "thumbnail"])) \
        .status_code == 302


def test_an_expired_link_is_a_plain_404(approved, crew):
    _link, token = share_link_create(user=crew.member, record=approved, days=7)
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1), tick=False):
        response = open_link(token)
    assert response.status_code == 404
    assert "jade teapot" not in response.content.decode()


def test_a_revoked_link_is_a_plain_404_and_the_revocation_is_audited(approved, crew):
    link, token = share_link_create(user=crew.member, record=approved)
    assert open_link(token).status_code == 200
    share_link_revoke(link=link, user=crew.manager)
    assert open_link(token).status_code == 404
    assert open_link("x" * 43).status_code == 404
    assert AuditEvent.objects.filter(action="share_link.revoke", actor=crew.manager).exists()


def test_a_project_link_shows_only_that_projects_approved_records(approved, project, crew):
    draft = make_record(project, crew.member, positive_prompt="an unapproved draft")
    elsewhere = approve(make_record(ProjectFactory(team=crew.team, name="Other"), crew.member,
                                    positive_prompt="approved in another project"), crew)
    _link, token = share_link_create(user=crew.member, project=project)
    html = open_link(token).content.decode()
    assert "a jade teapot, soft light" in html
    assert draft.positive_prompt not in html and elsewhere.positive_prompt not in html


def test_only_approved_records_can_be_shared(record, crew):
    with pytest.raises(ShareRefused) as refused:
        share_link_create(user=crew.member, record=record)
    assert refused.value.code == "not_approved"


@pytest.mark.parametrize("days", [0, 91])
def test_a_link_lasts_from_one_to_ninety_days(approved, crew, days):
    with pytest.raises(ShareRefused):
        share_link_create(user=crew.member, record=approved, days=days)


def test_the_record_page_makes_a_link_shown_once(member_client, approved):
    response = member_client.post(reverse("record_share", args=[approved.id]),
                                  {"label": "for the client", "days": "14"})
    assert response.status_code == 302 and response["Location"] == reverse("share_list")
    first = member_client.get(reverse("share_list")).content.decode()
    assert "it is shown only once" in first
    link = ShareLink.objects.get()
    assert round((link.expires_at - link.created_at).total_seconds() / 86400) == 14
    again = member_client.get(reverse("share_list")).content.decode()
    assert "it is shown only once" not in again and "for the client" in again


def test_outsiders_cannot_revoke_or_list_our_links(outsider_client, approved, crew):
    link, token = share_link_create(user=crew.member, record=approved)
    assert outsider_client.post(reverse("share_revoke", args=[link.id])).status_code == 404
    assert outsider_client.post(reverse("record_share", args=[approved.id]),
                                {"days": "7"}).status_code == 404
    assert f"share-{link.id}" not in outsider_client.get(reverse("share_list")).content.decode()
    assert open_link(token).status_code == 200
