"""Shared fixtures: the three-user pattern (manager, member, outsider) of one team."""

from dataclasses import dataclass

import pytest

from accounts.models import Membership, Team, User
from tests.factories import MembershipFactory, ProjectFactory, TeamFactory, UserFactory

PASSWORD = "correct-horse-battery"


@dataclass
class Crew:
    team: Team
    manager: User
    member: User
    outsider: User
    other_team: Team


@pytest.fixture
def crew(db) -> Crew:
    team = TeamFactory(name="Pixel Foundry")
    other_team = TeamFactory(name="Elsewhere Inc")
    manager = UserFactory(username="mia")
    member = UserFactory(username="ming")
    outsider = UserFactory(username="otto")
    MembershipFactory(user=manager, team=team, role=Membership.Role.MANAGER)
    MembershipFactory(user=member, team=team, role=Membership.Role.MEMBER)
    MembershipFactory(user=outsider, team=other_team, role=Membership.Role.MANAGER)
    return Crew(team=team, manager=manager, member=member, outsider=outsider,
                other_team=other_team)


@pytest.fixture
def project(crew):
    return ProjectFactory(team=crew.team, name="Spring Campaign")


@pytest.fixture
def member_client(client, crew):
    client.force_login(crew.member)
    return client


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
