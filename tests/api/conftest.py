import pytest
from django.test import Client

from accounts.services import api_token_create


@pytest.fixture
def member_token(crew) -> str:
    return api_token_create(user=crew.member, name="ci")[1]


@pytest.fixture
def outsider_token(crew) -> str:
    return api_token_create(user=crew.outsider, name="elsewhere")[1]


@pytest.fixture
def api():
    """A JSON API client: api(method, path, token, json=..., **headers)."""
    client = Client()

    def call(method: str, path: str, token: str | None = None, json=None, **extra):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        if json is not None:
            import json as jsonlib

            extra.setdefault("data", jsonlib.dumps(json))
            extra.setdefault("content_type", "application/json")
        return getattr(client, method)(f"/api/v1/{path}", **headers, **extra)

    return call
