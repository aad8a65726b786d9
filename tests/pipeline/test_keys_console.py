from datetime import timedelta

from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import GatewayKey
from prompts.models import DispatchPause, GenerationJob
from prompts.pipeline.keys import gateway_key_add
from tests.conftest import SIM_STANDBY_KEY
from tests.factories import JobFactory

GET_URLS = ["console", "console_keys", "console_audit", "console_audit_export", "console_users"]


def _post_urls(key_id: int, user_id: int, membership_id: int) -> list[str]:
    return [
        reverse("console_key_add"), reverse("console_key_verify", args=[key_id]),
        reverse("console_key_activate", args=[key_id]),
        reverse("console_key_standby", args=[key_id]),
        reverse("console_key_revoke", args=[key_id]), reverse("console_dispatch_resume"),
        reverse("console_user_create"), reverse("console_user_active", args=[user_id]),
        reverse("console_user_staff", args=[user_id]), reverse("console_team_create"),
        reverse("console_membership_set"),
        reverse("console_membership_remove", args=[membership_id]),
        reverse("console_lockouts_clear"),
    ]


def test_it_is_a_404_for_everyone_but_site_admins(client, crew, active_key):
    membership = crew.member.memberships.first()
    for user in (crew.member, crew.manager, crew.outsider):
        client.force_login(user)
        for name in GET_URLS:
            assert client.get(reverse(name)).status_code == 404, name
        for url in _post_urls(active_key.id, crew.member.id, membership.id):
            assert client.post(url, {"active": "0", "is_staff": "1"}).status_code == 404, url
    active_key.refresh_from_db()
    crew.member.refresh_from_db()
    assert active_key.status == "active"
    assert crew.member.is_active and not crew.member.is_staff


def test_it_hides_the_console_from_anonymous_visitors(client, db):
    # A redirect to the login page would confirm the console exists.
    for name in ("console", "console_users", "console_audit"):
        assert client.get(reverse(name)).status_code == 404


def test_it_adds_a_key_verifies_it_and_never_echoes_it(admin_client, simulator, active_key):
    page = admin_client.get(reverse("console")).content.decode()
    assert 'type="password"' in page
    response = admin_client.post(reverse("console_key_add"),
                                 {"name": "next", "secret": SIM_STANDBY_KEY}, follow=True)
    body = response.content.decode()
    assert "The gateway accepts next" in body
    assert SIM_STANDBY_KEY not in body
    assert SIM_STANDBY_KEY not in response.redirect_chain[0][0]
    key = GatewayKey.objects.get(name="next")
    assert key.status == "standby" and key.verified_at is not None
    assert key.masked in body and key.fingerprint in body
    assert key.added_by.username == "ada"


def test_it_shows_the_gateway_refusing_a_new_key(admin_client, simulator, active_key):
    response = admin_client.post(reverse("console_key_add"),
                                 {"name": "typo", "secret": "sim-test-key-with-a-typo"},
                                 follow=True)
    assert "The gateway refused typo" in response.content.decode()
    key = GatewayKey.objects.get(name="typo")
    assert key.verified_at is None and key.last_error


def test_it_keeps_the_secret_out_of_a_form_with_errors(admin_client, active_key):
    response = admin_client.post(reverse("console_key_add"),
                                 {"name": "primary", "secret": SIM_STANDBY_KEY})
    assert response.status_code == 400
    body = response.content.decode()
    assert "A key with this name exists already." in body
    assert SIM_STANDBY_KEY not in body


def test_it_activates_a_key_and_retires_the_old_one_for_the_grace_period(
        admin_client, simulator, active_key):
    new = gateway_key_add(name="next", secret=SIM_STANDBY_KEY)
    before = timezone.now()
    response = admin_client.post(reverse("console_key_activate", args=[new.id]), follow=True)
    assert "next is active" in response.content.decode()
    new.refresh_from_db()
    active_key.refresh_from_db()
    assert new.status == "active"
    assert active_key.status == "retiring"
    grace = timedelta(minutes=settings.GATEWAY_KEY_GRACE_MINUTES)
    assert before + grace <= active_key.retiring_until <= timezone.now() + grace
    assert 'data-status="retiring"' in response.content.decode()


def test_it_will_not_activate_a_key_the_gateway_refuses(admin_client, simulator, active_key):
    bad = gateway_key_add(name="bad", secret="sim-not-a-key-the-gateway-knows")
    response = admin_client.post(reverse("console_key_activate", args=[bad.id]), follow=True)
    assert "The gateway refused bad" in response.content.decode()
    bad.refresh_from_db()
    active_key.refresh_from_db()
    assert (bad.status, active_key.status) == ("failing", "active")


def test_it_revokes_a_key_at_once(admin_client, active_key):
    admin_client.post(reverse("console_key_revoke", args=[active_key.id]))
    active_key.refresh_from_db()
    assert active_key.status == "revoked"
    page = admin_client.get(reverse("console")).content.decode()
    assert "No gateway API key is active" in page


def test_it_puts_a_retiring_key_in_reserve_only_after_a_fresh_check(
        admin_client, simulator, active_key):
    new = gateway_key_add(name="next", secret=SIM_STANDBY_KEY)
    admin_client.post(reverse("console_key_activate", args=[new.id]))
    admin_client.post(reverse("console_key_standby", args=[active_key.id]))
    active_key.refresh_from_db()
    assert active_key.status == "standby"
    assert active_key.verified_at is None and active_key.retiring_until is None


def test_it_renders_the_keys_table_alone_for_htmx(admin_client, active_key):
    response = admin_client.get(reverse("console_keys"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<table" in body and "<html" not in body
    assert active_key.masked in body


def test_it_enforces_csrf_on_console_forms(admin_user, active_key):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(reverse("console_key_revoke", args=[active_key.id]))
    assert response.status_code == 403
    active_key.refresh_from_db()
    assert active_key.status == "active"


def test_it_resumes_dispatch_after_a_balance_pause(admin_client, active_key, project, crew):
    DispatchPause.objects.create(reason="balance", detail="insufficient balance")
    job = JobFactory(project=project, created_by=crew.member, status="waiting",
                     wait_reason="balance")
    page = admin_client.get(reverse("console")).content.decode()
    assert "Dispatch is paused" in page
    assert "The gateway balance is exhausted" in page
    response = admin_client.post(reverse("console_dispatch_resume"), follow=True)
    assert "1 waiting job(s) sent again" in response.content.decode()
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.QUEUED
    assert not DispatchPause.objects.filter(cleared_at__isnull=True).exists()


def test_it_renders_the_console_for_a_chinese_browser(admin_client, active_key):
    response = admin_client.get(reverse("console"), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 200
    assert 'lang="zh-hans"' in response.content.decode()


def test_it_offers_no_primary_activate_button_for_a_key_the_gateway_refused(admin_client,
                                                                          simulator):
    admin_client.post(reverse("console_key_add"), {"name": "backup-2026-12-wrong",
                                                   "secret": "not-a-key-the-gateway-knows"})
    admin_client.post(reverse("console_key_add"), {"name": "backup-2026-12",
                                                   "secret": SIM_STANDBY_KEY})
    refused = GatewayKey.objects.get(name="backup-2026-12-wrong")
    accepted = GatewayKey.objects.get(name="backup-2026-12")
    table = admin_client.get(reverse("console_keys")).content.decode()

    def row(key) -> str:
        return table.split(f'id="key-{key.id}"')[1].split("</tr>")[0]

    assert 'class="small primary">Activate' in row(accepted)
    assert 'class="small primary">Activate' not in row(refused)
    assert "Failing" in row(refused)  # a refused key fails at once (verification marks it)
    # A standby key whose last check was refused (before that rule, or refused while it
    # was in reserve) says so, and its Activate button does not invite a click.
    GatewayKey.objects.filter(pk=accepted.pk).update(last_error="auth (401): no such key",
                                                     last_error_at=timezone.now())
    table = admin_client.get(reverse("console_keys")).content.decode()
    assert 'class="small primary">Activate' not in row(accepted)
    assert "failed verification" in row(accepted)
    # The stored error's code part in words; the gateway's own words after it.
    assert "Key refused (401): " in row(refused) and "auth (401" not in row(refused)
    # Names, fingerprints and dates stay whole instead of wrapping mid-word.
    assert '<td class="key-name nowrap">backup-2026-12-wrong</td>' in row(refused)
    assert row(refused).count('class="nowrap"') >= 2
