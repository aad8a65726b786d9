"""Projects: list, create, rename, archive, and what each shows (references, jobs, ¥)."""

from django.urls import reverse

from prompts.models import Project
from tests.factories import ModelPriceFactory, ProjectFactory
from tests.workspace.conftest import make_record


def test_it_creates_a_project_for_the_current_team(member_client, crew):
    response = member_client.post(reverse("project_list"),
                                  {"name": "Autumn Lookbook", "description": "秋季"})
    project = Project.objects.get(name="Autumn Lookbook")
    assert project.team == crew.team and project.created_by == crew.member
    assert response["Location"] == reverse("project_detail", args=[project.id])


def test_it_refuses_a_second_project_with_the_same_name(member_client, project):
    response = member_client.post(reverse("project_list"), {"name": "spring campaign"})
    assert response.status_code == 200
    assert "already has a project called" in response.content.decode()
    assert Project.objects.count() == 1


def test_it_lists_only_the_current_teams_active_projects(member_client, project, crew):
    ProjectFactory(team=crew.other_team, name="Secret Elsewhere")
    ProjectFactory(team=crew.team, name="Old Stuff", archived_at="2025-01-01T00:00Z")
    page = member_client.get(reverse("project_list")).content.decode()
    assert "Spring Campaign" in page
    assert "Secret Elsewhere" not in page and "Old Stuff" not in page
    archived = member_client.get(reverse("project_list"), {"archived": "1"}).content.decode()
    assert "Old Stuff" in archived and "Spring Campaign" not in archived


def test_it_renames_and_archives_and_restores(member_client, project):
    member_client.post(reverse("project_rename", args=[project.id]),
                       {"name": "Spring Campaign 2026", "description": "new"})
    project.refresh_from_db()
    assert project.name == "Spring Campaign 2026" and project.description == "new"
    member_client.post(reverse("project_archive", args=[project.id]), {"archive": "1"})
    project.refresh_from_db()
    assert project.archived_at is not None
    response = member_client.get(reverse("generate", args=[project.id]))
    assert response.status_code == 302  # archived projects take no new work
    member_client.post(reverse("project_archive", args=[project.id]), {"archive": "0"})
    project.refresh_from_db()
    assert project.archived_at is None


def test_it_shows_references_jobs_records_and_yuan_spent(member_client, project, crew):
    ModelPriceFactory()
    make_record(project, crew.member, calls=(("transient", 503), ("ok", 200)))
    page = member_client.get(reverse("project_detail", args=[project.id])).content.decode()
    # 2 calls × 1000 input tokens at ¥2/M + 200 output tokens at ¥8/M = ¥0.0056
    assert "¥0.0056" in page
    assert "portrait of an old lighthouse keeper" in page
    assert "unpriced" not in page


def test_it_shows_unpriced_calls_loudly_never_yuan_zero(member_client, project, crew):
    make_record(project, crew.member)  # no ModelPrice at all
    page = member_client.get(reverse("project_detail", args=[project.id])).content.decode()
    assert "unpriced calls: 1" in page
    assert "¥0.0000" not in page
    listing = member_client.get(reverse("project_list")).content.decode()
    assert "unpriced calls: 1" in listing and "¥0.0000" not in listing
