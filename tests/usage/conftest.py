"""Usage fixtures: `charge` records a gateway call through the real ledger."""

import pytest
from django.utils import timezone

from prompts.usage.ledger import CallFacts, ledger_record
from tests.factories import JobFactory

MODEL = "grok-build-0.1"


@pytest.fixture
def charge(db):
    """Record one attempt at the gateway as the worker would: ledger row plus rollup."""

    def record(*, user, project, at=None, prompt=1000, completion=500, outcome="ok",
               model=MODEL):
        job = JobFactory(project=project, created_by=user, model=model, status="succeeded")
        return ledger_record(job=job, attempt=1, facts=CallFacts(
            outcome=outcome, started_at=at or timezone.now(), key_id=None,
            prompt_tokens=prompt, completion_tokens=completion))

    return record


@pytest.fixture
def manager_browser(crew):
    """The manager in a browser of their own, beside member_client (which shares `client`
    with manager_client)."""
    from django.test import Client

    browser = Client()
    browser.force_login(crew.manager)
    return browser
