import pytest
from django.http import Http404
from django.urls import reverse

from accounts.access import membership_for_user, team_for_manager, team_for_member
from accounts.models import Membership
from tests.factories import MembershipFactory, TeamFactory


def test_it_gives_members_their_team_and_outsiders_404(crew):
    assert team_for_member(crew.member, crew.team.id) == crew.team
    assert team_for_member(crew.manager, crew.team.id) == crew.team
    with pytest.raises(Http404):
        team_for_member(crew.outsider, crew.team.id)


def test_it_gives_manager_pages_to_managers_only(crew):
    assert team_for_manager(crew.manager, crew.team.id) == crew.team
    with pytest.raises(Http404):
        team_for_manager(crew.member, crew.team.id)
    with pytest.raises(Http404):
        team_for_manager(crew.outsider, crew.team.id)


def test_it_allows_one_membership_per_user_and_team(crew):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=crew.member, team=crew.team, role="manager")
    assert membership_for_user(crew.member, crew.team.id).role == "member"


def test_it_switches_between_the_users_own_teams(member_client, crew):
    second = TeamFactory(name="Night Shift")
    MembershipFactory(user=crew.member, team=second)
    response = member_client.post(reverse("switch_team"), {"team": second.id, "next": "/"},
                                  follow=True)
    assert "Night Shift" in response.content.decode().split("<main")[1]


def test_it_refuses_to_switch_into_another_team_with_404(member_client, crew):
    response = member_client.post(reverse("switch_team"), {"team": crew.other_team.id})
    assert response.status_code == 404


def test_it_ignores_an_offsite_next_after_switching(member_client, crew):
    response = member_client.post(reverse("switch_team"),
                                  {"team": crew.team.id, "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_it_skips_navigation_queries_for_htmx_fragments(crew, django_assert_num_queries):
    from django.test import RequestFactory
    from django_htmx.middleware import HtmxDetails

    from prompts.context_processors import navigation

    request = RequestFactory().get("/", HTTP_HX_REQUEST="true")
    request.user = crew.member
    request.htmx = HtmxDetails(request)
    with django_assert_num_queries(0):
        assert navigation(request) == {}
