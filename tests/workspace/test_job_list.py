"""The jobs page: every job of the current team, filtered, newest first, with explanations."""

import pytest
from django.test import Client
from django.urls import reverse

from prompts.models import GenerationJob
from tests.factories import JobFactory, ProjectFactory, UserFactory


def jobs_page(client, **params) -> str:
    response = client.get(reverse("job_list"), params)
    assert response.status_code == 200
    return response.content.decode()


def row(job) -> str:
    return f'id="job-row-{job.id}"'


def test_it_lists_my_jobs_newest_first_with_links_and_badges(member_client, project, crew):
    older = JobFactory(project=project, created_by=crew.member, brief="an older kite")
    newer = JobFactory(project=project, created_by=crew.member, brief="a newer kite",
                       status="running", attempts=2, lease_until="2030-01-01T00:00Z")
    page = jobs_page(member_client)
    assert page.index(row(newer)) < page.index(row(older))
    assert f'href="{reverse("job_detail", args=[newer.id])}"' in page
    assert f"#{newer.id}" in page and "a newer kite" in page and "Spring Campaign" in page
    assert 'class="badge status-running"' in page


def test_it_shows_only_my_jobs_by_default_and_everyones_when_unticked(member_client, project,
                                                                     crew):
    mine = JobFactory(project=project, created_by=crew.member)
    theirs = JobFactory(project=project, created_by=crew.manager)
    page = jobs_page(member_client)
    assert row(mine) in page and row(theirs) not in page
    assert '<input type="checkbox" name="mine" id="id_mine" checked>' in page
    # Submitting the filters without the box ticked shows the whole team's jobs.
    page = jobs_page(member_client, status="", project="")
    assert row(mine) in page and row(theirs) in page
    assert "mia" in page and "ming" in page


def test_it_keeps_my_jobs_only_on_a_plain_page_link(member_client, project, crew):
    JobFactory.create_batch(51, project=project, created_by=crew.member)
    theirs = JobFactory(project=project, created_by=crew.manager)
    page = jobs_page(member_client, page=2)
    assert "Page 2 of 2" in page
    assert row(theirs) not in page


def test_it_filters_by_status_and_project(member_client, project, crew):
    other_project = ProjectFactory(team=crew.team, name="Autumn Catalogue")
    failed = JobFactory(project=project, created_by=crew.member, status="failed",
                        error_code="transient")
    queued = JobFactory(project=project, created_by=crew.member)
    elsewhere = JobFactory(project=other_project, created_by=crew.member, status="failed",
                           error_code="invalid")
    page = jobs_page(member_client, status="failed", mine="on")
    assert row(failed) in page and row(elsewhere) in page and row(queued) not in page
    page = jobs_page(member_client, status="failed", mine="on", project=other_project.id)
    assert row(elsewhere) in page and row(failed) not in page and row(queued) not in page
    # The pagination and the form keep the chosen filters.
    assert f'<option value="{other_project.id}" selected>Autumn Catalogue</option>' in page


def test_it_never_shows_another_teams_jobs(member_client, project, crew):
    elsewhere = ProjectFactory(team=crew.other_team, name="Secret Project")
    foreign = JobFactory(project=elsewhere, created_by=crew.outsider, brief="their brief")
    page = jobs_page(member_client, status="", project="")
    assert row(foreign) not in page and "their brief" not in page
    assert "Secret Project" not in page  # not even in the project filter
    page = jobs_page(member_client, status="", project=elsewhere.id)
    assert row(foreign) not in page


def test_it_explains_failed_and_rejected_jobs_and_why_one_waits(member_client, project, crew):
    failed = JobFactory(project=project, created_by=crew.member, status="failed",
                        error_code="transient", error_message="503 five times")
    rejected = JobFactory(project=project, created_by=crew.member, status="rejected",
                          error_code="moderation")
    JobFactory(project=project, created_by=crew.member, status="waiting", wait_reason="budget")
    page = jobs_page(member_client)
    assert "The gateway kept failing (server errors or timeouts)" in page
    assert "content filter refused this brief" in page
    assert "Not enough monthly budget left" in page
    assert row(failed) in page and row(rejected) in page


def test_it_speaks_chinese(member_client, project, crew):
    JobFactory(project=project, created_by=crew.member, status="failed", error_code="transient")
    page = member_client.get(reverse("job_list"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "只看我的任务" in page and "尝试次数" in page and "Attempts" not in page
    assert "网关持续出错" in page  # the job page's explanation, translated


def test_it_shows_an_empty_state_to_a_user_in_no_team(db):
    client = Client()
    client.force_login(UserFactory(username="nomad"))
    page = jobs_page(client)
    assert "You are not in a team yet" in page


def test_it_needs_a_login(client):
    response = client.get(reverse("job_list"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_it_links_jobs_in_the_navigation(member_client):
    page = jobs_page(member_client)
    library, jobs, batches = (page.index(f'href="{reverse(name)}"')
                              for name in ("library", "job_list", "batch_list"))
    assert library < jobs < batches
    assert f'<a href="{reverse("job_list")}" class="active">' in page


@pytest.mark.parametrize("count", [10, 100])
def test_it_reads_a_bounded_number_of_queries(member_client, project, crew,
                                              django_assert_max_num_queries, count):
    other_project = ProjectFactory(team=crew.team, name="Autumn Catalogue")
    statuses = ["succeeded", "failed", "rejected", "queued", "cancelled"]
    for n in range(count):
        JobFactory(project=(project, other_project)[n % 2],
                   created_by=(crew.member, crew.manager)[n % 3 == 0],
                   status=statuses[n % 5], error_code="transient" if n % 5 == 1 else "")
    assert GenerationJob.objects.count() == count
    with django_assert_max_num_queries(10):
        page = jobs_page(member_client, status="", project="")
    assert page.count('id="job-row-') == min(count, 50)
