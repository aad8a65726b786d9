import io
import sys

import pytest
from django.core.management import CommandError, call_command

from accounts.models import GatewayKey
from tests.conftest import SIM_KEY, SIM_STANDBY_KEY


def _run(monkeypatch, *args, stdin: str = "") -> str:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command("gateway_key", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_adds_rotates_lists_and_revokes_with_the_secret_on_stdin(db, monkeypatch,
                                                                   simulator):
    output = _run(monkeypatch, "add", "--name", "primary", stdin=SIM_KEY + "\n")
    output += _run(monkeypatch, "rotate", "--name", "next", stdin=SIM_STANDBY_KEY + "\n")
    assert dict(GatewayKey.objects.values_list("name", "status")) == {
        "primary": "retiring", "next": "active"}
    output += _run(monkeypatch, "list")
    assert "…" + SIM_KEY[-4:] in output and "retiring" in output
    output += _run(monkeypatch, "revoke", "--name", "primary")
    output += _run(monkeypatch, "standby", "--name", "primary")
    assert GatewayKey.objects.get(name="primary").status == "revoked"  # revoked stays revoked
    assert SIM_KEY not in output and SIM_STANDBY_KEY not in output


def test_it_refuses_to_rotate_to_a_key_the_gateway_refuses(monkeypatch, simulator, active_key):
    with pytest.raises(CommandError, match="refused"):
        _run(monkeypatch, "rotate", "--name", "typo", stdin="sim-typo-key-000\n")
    active_key.refresh_from_db()
    assert active_key.status == "active"
