import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, AuditEvent, AuditEventAppendOnly, GatewayKey, Membership, Team
from accounts.services import audit_record
from prompts.models import DispatchPause
from tests.conftest import SIM_KEY, SIM_STANDBY_KEY
from tests.factories import UserFactory


def test_it_records_every_audited_action_with_actor_and_address(admin_client, simulator, crew):
    c = admin_client
    c.post(reverse("console_key_add"), {"name": "one", "secret": SIM_KEY}, REMOTE_ADDR="10.1.2.3")
    one = GatewayKey.objects.get(name="one")
    c.post(reverse("console_key_activate", args=[one.id]))
    c.post(reverse("console_key_add"), {"name": "two", "secret": SIM_STANDBY_KEY})
    two = GatewayKey.objects.get(name="two")
    c.post(reverse("console_key_verify", args=[two.id]))
    c.post(reverse("console_key_activate", args=[two.id]))
    c.post(reverse("console_key_standby", args=[one.id]))
    c.post(reverse("console_key_revoke", args=[one.id]))
    DispatchPause.objects.create(reason="balance")
    c.post(reverse("console_dispatch_resume"))
    c.post(reverse("console_team_create"), {"name": "Night Shift"})
    c.post(reverse("console_user_create"), {"username": "nina", "password": "a-Fine-pass-2025"})
    c.post(reverse("console_membership_set"), {"user": "nina", "team": Team.objects.get(
        name="Night Shift").id, "role": "manager"})
    nina_membership = Membership.objects.get(user__username="nina")
    c.post(reverse("console_membership_remove", args=[nina_membership.id]))
    c.post(reverse("console_user_active", args=[crew.member.id]), {"active": "0"})
    c.post(reverse("console_user_active", args=[crew.member.id]), {"active": "1"})
    c.post(reverse("console_user_staff", args=[crew.member.id]), {"is_staff": "1"})
    c.post(reverse("token_create"), {"name": "script"})
    c.post(reverse("token_revoke", args=[ApiToken.objects.get().id]))
    c.logout()
    c.post(reverse("login"), {"username": "ada", "password": "nope"})

    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "gateway_key.add", "gateway_key.verify", "gateway_key.activate", "gateway_key.retire",
        "gateway_key.standby", "gateway_key.revoke", "dispatch.resume", "team.create",
        "user.create", "membership.set", "membership.remove", "user.deactivate",
        "user.activate", "user.staff", "api_token.create", "api_token.revoke",
        "auth.login_failed",
    } <= actions
    first = AuditEvent.objects.filter(action="gateway_key.add").order_by("id").first()
    assert first.actor.username == "ada" and first.ip_address == "10.1.2.3"
    assert first.after["masked"] == one.masked
    assert AuditEvent.objects.get(action="gateway_key.retire").before["status"] == "active"
    everything = str(list(AuditEvent.objects.values()))
    assert SIM_KEY not in everything and SIM_STANDBY_KEY not in everything
    assert "a-Fine-pass-2025" not in everything


def test_it_refuses_to_change_or_delete_an_audit_event(db, admin_user):
    event = audit_record(actor=admin_user, action="gateway_key.add", after={"name": "x"})
    event.action = "nothing.happened"
    with pytest.raises(AuditEventAppendOnly):
        event.save()
    with pytest.raises(AuditEventAppendOnly):
        event.delete()
    with pytest.raises(AuditEventAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing.happened")
    with pytest.raises(AuditEventAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "gateway_key.add"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_it_refuses_changes_in_the_database_itself(db, admin_user):
    event = audit_record(actor=admin_user, action="gateway_key.add")
    for sql in ("UPDATE accounts_auditevent SET action = 'x' WHERE id = %s",
                "DELETE FROM accounts_auditevent WHERE id = %s"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, action="gateway_key.add").exists()


def test_it_keeps_the_events_of_a_deleted_user(db, admin_user):
    leaver = UserFactory(username="leaver")
    event = audit_record(actor=leaver, action="membership.set")
    leaver.delete()
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.actor is None and event.action == "membership.set"


def test_it_cannot_be_changed_through_django_admin(admin_client, admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    event = audit_record(actor=admin_user, action="gateway_key.add")
    change = reverse("admin:accounts_auditevent_change", args=[event.pk])
    assert admin_client.get(change).status_code == 200  # view only
    response = admin_client.post(change, {"action": "nothing.happened"})
    assert response.status_code == 403
    delete = reverse("admin:accounts_auditevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "gateway_key.add"


def _events(admin_user, crew):
    audit_record(actor=admin_user, action="gateway_key.add", after={"name": "k"})
    audit_record(actor=crew.manager, action="membership.set", after={"role": "member"})
    audit_record(actor=admin_user, action="team.create")


def _rows(client, **params) -> str:
    """The audit rows alone (the page around them lists every action in a datalist)."""
    return client.get(reverse("console_audit"), params, HTTP_HX_REQUEST="true").content.decode()


def test_it_filters_the_audit_log(admin_client, admin_user, crew):
    _events(admin_user, crew)
    page = admin_client.get(reverse("console_audit")).content.decode()
    assert "<html" in page and "team.create" in page
    body = _rows(admin_client, action="gateway_key")
    assert "<html" not in body
    assert "gateway_key.add" in body and "membership.set" not in body
    body = _rows(admin_client, actor="mia")
    assert "membership.set" in body and "gateway_key.add" not in body
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert "No events match." in _rows(admin_client, since=tomorrow)
    today = timezone.localdate().isoformat()
    assert "team.create" in _rows(admin_client, since=today, until=today)


def test_it_exports_the_filtered_audit_log_as_csv(admin_client, admin_user, crew):
    _events(admin_user, crew)
    response = admin_client.get(reverse("console_audit_export"), {"actor": "ada"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["time", "actor", "action"]
    assert sorted(row[2] for row in rows[1:]) == ["gateway_key.add", "team.create"]


def test_it_tells_each_event_as_a_sentence_with_readable_fields(admin_client, admin_user, crew):
    audit_record(actor=admin_user, action="gateway_key.activate",
                 before={"name": "primary-2026-12", "status": "standby"},
                 after={"name": "primary-2026-12", "status": "active"})
    audit_record(actor=crew.manager, action="budget.set", before=None,
                 after={"team": "Pixel Foundry", "user": None, "monthly_limit": "500.00",
                        "warn_at": "0.80"})
    audit_record(actor=None, action="auth.login_failed", after={"username": "ghost"})
    body = _rows(admin_client)
    assert "ada activated gateway key primary-2026-12" in body
    assert "status:</span> <span class=\"mono\">Standby</span> → <span class=\"mono\">Active" in body
    assert "mia set the monthly budget of the whole team Pixel Foundry" in body
    assert "monthly limit:</span> <span class=\"mono\">¥500.00" in body
    assert "warn at:</span> <span class=\"mono\">80%" in body
    assert "A sign-in as ghost failed" in body
    visible = re.sub(r' data-action="[^"]*"', "", body)
    for code in ("gateway_key.activate", "budget.set", "user: null", ">None<", "monthly_limit"):
        assert code not in visible
    zh = admin_client.get(reverse("console_audit"), HTTP_HX_REQUEST="true",
                          HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "ada 启用了网关密钥 primary-2026-12" in zh
    assert "状态：</span>" in zh


def test_it_logs_one_verification_once(admin_client, simulator):
    admin_client.post(reverse("console_key_add"), {"name": "primary-2026-12", "secret": SIM_KEY})
    key = GatewayKey.objects.get()
    admin_client.post(reverse("console_key_activate", args=[key.id]))
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    # Adding checks the key once; activating checks it again, recorded with the activation.
    assert actions == ["gateway_key.add", "gateway_key.verify", "gateway_key.activate"]
    activation = AuditEvent.objects.get(action="gateway_key.activate")
    assert activation.after["accepted"] is True
    body = _rows(admin_client)
    assert body.count("verified gateway key primary-2026-12") == 1


def test_it_lists_actions_by_name_in_the_filter(admin_client, admin_user, crew):
    _events(admin_user, crew)
    page = admin_client.get(reverse("console_audit")).content.decode()
    assert '<option value="gateway_key.add">Gateway key added</option>' in page
    assert '<option value="membership.set">Role set</option>' in page
