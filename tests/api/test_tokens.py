from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken


def test_it_shows_a_new_token_once_and_stores_only_its_hmac(member_client, crew):
    created = member_client.post(reverse("token_create"), {"name": "nightly batch"})
    # POST, then redirect: a reload cannot make a second token, and the URL holds no secret.
    assert created.status_code == 302 and created["Location"] == reverse("token_list")
    response = member_client.get(created["Location"])
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    token = ApiToken.objects.get()
    plaintext = body.split('id="token-plaintext">')[1].split("<")[0]
    assert plaintext.startswith("gw_" + token.prefix)
    assert "shown only this once" in body
    later = member_client.get(reverse("token_list")).content.decode()
    assert plaintext not in later and f"gw_{token.prefix}…" in later and "nightly batch" in later
    assert plaintext not in token.token_digest and len(token.token_digest) == 64
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        assert plaintext not in repr(cursor.fetchall())


def test_it_records_the_last_use_and_stops_a_revoked_token(member_client, crew, api):
    member_client.post(reverse("token_create"), {"name": "ci"})
    token = ApiToken.objects.get()
    page = member_client.post(reverse("token_create"), {"name": "second"},
                              follow=True).content.decode()
    plaintext = page.split('id="token-plaintext">')[1].split("<")[0]
    assert api("get", "usage", plaintext).status_code == 200
    second = ApiToken.objects.get(name="second")
    assert second.last_used_at is not None and token.last_used_at is None
    member_client.post(reverse("token_revoke", args=[second.id]))
    assert api("get", "usage", plaintext).status_code == 401
    assert "Revoked" in member_client.get(reverse("token_list")).content.decode()


def test_it_will_not_revoke_someone_elses_token(client, crew):
    client.force_login(crew.member)
    client.post(reverse("token_create"), {"name": "mine"})
    token = ApiToken.objects.get()
    client.force_login(crew.outsider)
    assert client.post(reverse("token_revoke", args=[token.id])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert "mine" not in client.get(reverse("token_list")).content.decode()


def test_it_enforces_csrf_on_the_token_forms(crew):
    client = Client(enforce_csrf_checks=True)
    client.force_login(crew.member)
    assert client.post(reverse("token_create"), {"name": "x"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_it_needs_a_name(member_client):
    response = member_client.post(reverse("token_create"), {"name": ""})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_it_sends_anonymous_visitors_to_sign_in(client, db):
    assert client.get(reverse("token_list")).status_code == 302
