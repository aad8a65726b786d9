import pytest

from tests.factories import UserFactory

ADMIN_PASSWORD = "Str0ng-Admin-Passw0rd!"


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada", is_staff=True, password=ADMIN_PASSWORD)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client
