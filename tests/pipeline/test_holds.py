import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from prompts.models import GenerationJob, ModerationHold
from prompts.pipeline.creation import JobSpec, job_create
from prompts.usage.ledger import CallFacts, ledger_record
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hold(crew, project):
    hold = ModerationHold.objects.create(user=crew.member, team=crew.team)
    job_create(user=crew.member, project=project, spec=JobSpec(brief="a calm lake"))
    return hold


def test_it_tells_the_held_member_why_their_jobs_wait(client, crew, hold):
    client.force_login(crew.member)
    body = client.get("/").content.decode()
    assert "your new jobs wait until a manager releases them" in body


def test_it_lets_a_manager_release_a_hold(client, crew, hold):
    client.force_login(crew.manager)
    page = client.get(reverse("hold_list")).content.decode()
    assert "ming" in page
    response = client.post(reverse("hold_release", args=[hold.id]), follow=True)
    assert "Released ming: 1 waiting job went back to the queue." in response.content.decode()
    assert GenerationJob.objects.get().status == "queued"
    assert ModerationHold.objects.get().released_by == crew.manager


def test_it_audits_a_release_with_who_and_how_many_jobs(client, crew, hold):
    client.force_login(crew.manager)
    client.post(reverse("hold_release", args=[hold.id]), REMOTE_ADDR="203.0.113.9")
    event = AuditEvent.objects.get(action="moderation_hold.release")
    assert event.actor == crew.manager and event.ip_address == "203.0.113.9"
    assert event.after == {"user": "ming", "team": crew.team.name, "resumed_jobs": 1}
    client.post(reverse("hold_release", args=[hold.id]))  # released already: a 404, no entry
    assert AuditEvent.objects.filter(action="moderation_hold.release").count() == 1


def test_it_shows_the_rejected_briefs_that_caused_the_hold(client, crew, project):
    for brief in ("a forbidden scene one", "a forbidden scene two", "a forbidden scene three"):
        job = JobFactory(project=project, created_by=crew.member, brief=brief, status="rejected",
                         error_code="moderation", error_message="content_policy_violation")
        ledger_record(job=job, attempt=1, facts=CallFacts(
            outcome="moderation", started_at=timezone.now(), key_id=None, http_status=400))
    JobFactory(project=project, created_by=crew.member, brief="a fine picnic", status="failed")
    hold = ModerationHold.objects.create(user=crew.member, team=crew.team)
    client.force_login(crew.manager)
    page = client.get(reverse("hold_list")).content.decode()
    section = page.split(f'id="hold-{hold.id}"')[1]
    for brief in ("a forbidden scene one", "a forbidden scene two", "a forbidden scene three"):
        assert brief in section
    assert "a fine picnic" not in section
    assert "content_policy_violation" in section


def test_it_links_the_holds_from_the_managers_navigation_while_there_are_any(client, crew,
                                                                           hold):
    client.force_login(crew.manager)
    nav = client.get(reverse("home")).content.decode().split("</nav>")[0]
    assert f'href="{reverse("hold_list")}" id="nav-holds"' in nav and ">1</span>" in nav
    client.force_login(crew.member)
    assert 'id="nav-holds"' not in client.get(reverse("home")).content.decode()
    hold.released_at = timezone.now()
    hold.save()
    client.force_login(crew.manager)
    assert 'id="nav-holds"' not in client.get(reverse("home")).content.decode()


def test_it_hides_holds_from_members(client, crew, hold):
    client.force_login(crew.member)
    assert client.get(reverse("hold_list")).status_code == 404
    assert client.post(reverse("hold_release", args=[hold.id])).status_code == 404


def test_it_hides_another_teams_holds_from_its_managers(client, crew, hold):
    client.force_login(crew.outsider)  # manager of another team
    assert "ming" not in client.get(reverse("hold_list")).content.decode()
    assert client.post(reverse("hold_release", args=[hold.id])).status_code == 404
    assert ModerationHold.objects.get().released_at is None


def test_it_requires_csrf_to_release(crew, hold):
    client = Client(enforce_csrf_checks=True)
    client.force_login(crew.manager)
    assert client.post(reverse("hold_release", args=[hold.id])).status_code == 403
