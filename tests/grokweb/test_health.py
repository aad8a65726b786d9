import pytest

from prompts.pipeline.keys import gateway_key_add


@pytest.fixture
def active_key(db):
    return gateway_key_add(name="primary", secret="sim-health-key-123456", activate=True)


def test_it_reports_healthy_with_database_broker_and_key(client, active_key):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "gateway_key": "ok"}


def test_it_is_unhealthy_when_the_broker_is_unreachable(client, active_key, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "unreachable"
    assert response.json()["database"] == "ok"


def test_it_is_unhealthy_without_an_active_gateway_key(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["gateway_key"] == "missing"
