"""The site's own 404, 403 and 500 pages, the page for a user in no team, and the favicon."""

import pytest
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views import defaults

from tests.factories import UserFactory


def test_it_answers_an_unknown_address_with_the_sites_404_page(member_client):
    response = member_client.get("/no/such/page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert 'id="error-404"' in page and 'class="topbar"' in page  # the site's layout
    assert "belongs to a team you are not in" in page
    assert "Using the URLconf" not in page  # not Django's page listing every pattern


def test_it_answers_another_teams_object_with_the_same_404(client, crew, project):
    client.force_login(crew.outsider)
    response = client.get(reverse("project_detail", args=[project.id]))
    assert response.status_code == 404 and 'id="error-404"' in response.content.decode()


def test_it_shows_the_404_page_in_chinese(member_client):
    page = member_client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '<html lang="zh-hans">' in page and "找不到页面" in page


def test_it_renders_a_403_in_the_sites_layout(rf, crew):
    request = rf.get("/somewhere/")
    request.user = crew.member
    request.membership = None
    response = defaults.permission_denied(request, PermissionDenied())
    page = response.content.decode()
    assert response.status_code == 403 and 'id="error-403"' in page and "topbar" in page


def test_it_renders_the_500_page_without_a_database_or_context_processors():
    # No django_db mark: any query would fail the test. No request: no context processors.
    for language, title in (("en", "Something went wrong"), ("zh-hans", "出错了")):
        with translation.override(language):
            page = render_to_string("500.html")
        assert title in page and f'<html lang="{language}">' in page
    response = defaults.server_error(RequestFactory().get("/"))
    assert response.status_code == 500 and 'id="error-500"' in response.content.decode()


def test_it_says_how_to_get_into_a_team_instead_of_a_404(client, db):
    client.force_login(UserFactory(username="nova"))
    for name in ("project_list", "library", "batch_list", "job_list", "home"):
        response = client.get(reverse(name))
        page = response.content.decode()
        assert response.status_code == 200, name
        assert "You are not in a team yet" in page, name
        assert "add your account <strong>nova</strong> to the team" in page, name


def test_it_offers_a_site_admin_without_a_team_the_console(client, db):
    client.force_login(UserFactory(username="root", is_staff=True))
    page = client.get(reverse("project_list")).content.decode()
    assert reverse("console_users") in page.split('id="no-team"')[1]


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/no/such/page/"])
def test_it_links_a_favicon_that_exists(client, db, path):
    page = client.get(path, follow=True).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert finders.find("favicon.svg")


def test_it_answers_the_favicon_ico_that_browsers_ask_for(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/favicon.ico"
    assert finders.find("favicon.ico")
