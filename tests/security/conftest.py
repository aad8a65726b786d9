"""Security fixtures: the usage ledger's `charge`, and pages' one-time submission tokens."""

import re

from tests.usage.conftest import charge  # noqa: F401  (re-exported fixture)

TOKEN = re.compile(r'name="submission_token" value="([A-Za-z0-9_-]+)"')


def submission_token(page) -> str:
    """The one-time token a job-creating form was rendered with."""
    match = TOKEN.search(page.content.decode())
    assert match, "the form carries no submission token"
    return match.group(1)
