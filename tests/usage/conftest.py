"""Usage fixtures: a price, and `charge` to record a gateway call through the real ledger."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import User
from prompts.usage.ledger import CallFacts, ledger_record
from tests.factories import JobFactory, ModelPriceFactory, UserFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
MODEL = "grok-build-0.1"


def local(year, month, day, hour=12, minute=0) -> datetime:
    """An aware moment in Asia/Shanghai, the site's time zone."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def price(db):
    """¥2 per 1M input tokens, ¥8 per 1M output tokens, in force for the last 400 days."""
    return ModelPriceFactory(input_per_mtok=Decimal("2"), output_per_mtok=Decimal("8"),
                             effective_from=local(2025, 1, 1, 0))


@pytest.fixture
def charge(db):
    """Record one attempt at the gateway as the worker would: ledger row plus rollup."""

    def record(*, user, project, at=None, prompt=1000, completion=500, outcome="ok",
               model=MODEL):
        job = JobFactory(project=project, created_by=user, model=model)
        return ledger_record(job=job, attempt=1, facts=CallFacts(
            outcome=outcome, started_at=at or timezone.now(), key_id=None,
            prompt_tokens=prompt, completion_tokens=completion))

    return record


@pytest.fixture
def admin_user(db) -> User:
    return UserFactory(username="ada", is_staff=True)


@pytest.fixture
def manager_client(client, crew):
    client.force_login(crew.manager)
    return client
