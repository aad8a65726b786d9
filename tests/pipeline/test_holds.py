import pytest
from django.test import Client
from django.urls import reverse

from prompts.models import GenerationJob, ModerationHold
from prompts.pipeline.creation import JobSpec, job_create

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
    assert "1 waiting job(s) went back to the queue" in response.content.decode()
    assert GenerationJob.objects.get().status == "queued"
    assert ModerationHold.objects.get().released_by == crew.manager


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
