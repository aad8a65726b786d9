import re

from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Team, User
from accounts.services import api_token_create
from tests.conftest import ADMIN_PASSWORD


def _can_sign_in(username: str, password: str) -> bool:
    response = Client().post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302


def test_it_creates_a_user_with_a_password_who_can_sign_in(admin_client, db):
    response = admin_client.post(reverse("console_user_create"),
                                 {"username": "nina", "email": "", "password": "a-Fine-pass-2025"},
                                 follow=True)
    assert "Created nina." in response.content.decode()
    assert _can_sign_in("nina", "a-Fine-pass-2025")


def test_it_invites_a_user_who_chooses_a_password_from_the_email(
        admin_client, client, db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("console_user_create"),
                          {"username": "ivy", "email": "ivy@example.com"})
    user = User.objects.get(username="ivy")
    assert not user.has_usable_password()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ivy@example.com"]
    link = re.search(r"https?://\S+(/accounts/password/\S+/)", mail.outbox[0].body).group(1)
    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": "ivy-Chooses-2025",
                                      "new_password2": "ivy-Chooses-2025"})
    assert response.status_code == 302
    assert _can_sign_in("ivy", "ivy-Chooses-2025")


def test_it_requires_a_strong_password_for_site_admins(admin_client, db, settings):
    weak_for_admins = "plainpassword1"
    response = admin_client.post(reverse("console_user_create"), {
        "username": "root2", "password": weak_for_admins, "is_staff": "on"})
    assert response.status_code == 400
    assert "Site admins need a strong password" in response.content.decode()
    assert weak_for_admins not in response.content.decode()
    admin_client.post(reverse("console_user_create"),
                      {"username": "member2", "password": weak_for_admins})
    assert User.objects.filter(username="member2", is_staff=False).exists()
    settings.ADMIN_STRONG_PASSWORDS = False
    admin_client.post(reverse("console_user_create"), {
        "username": "root3", "password": weak_for_admins, "is_staff": "on"})
    assert User.objects.filter(username="root3", is_staff=True).exists()
    assert len(ADMIN_PASSWORD) >= settings.ADMIN_PASSWORD_MIN_LENGTH


def test_it_needs_a_password_or_an_email(admin_client, db):
    response = admin_client.post(reverse("console_user_create"), {"username": "ghost"})
    assert response.status_code == 400
    assert "Give a password, or an e-mail address" in response.content.decode()


def test_it_adds_a_user_to_a_team_and_changes_the_role(admin_client, crew):
    night = Team.objects.create(name="Night Shift")
    admin_client.post(reverse("console_membership_set"),
                      {"user": "ming", "team": night.id, "role": "member"})
    assert Membership.objects.get(user=crew.member, team=night).role == "member"
    response = admin_client.post(reverse("console_membership_set"),
                                 {"user": "ming", "team": night.id, "role": "manager"},
                                 follow=True)
    assert "ming is Manager of Night Shift." in response.content.decode()
    assert Membership.objects.get(user=crew.member, team=night).role == "manager"
    response = admin_client.post(reverse("console_membership_set"),
                                 {"user": "ming", "team": night.id, "role": "owner"})
    assert response.status_code == 400


def test_it_deactivates_a_user_whose_session_and_tokens_stop_at_once(admin_client, crew,
                                                                     project):
    token = api_token_create(user=crew.member, name="ci")[1]
    member = Client()
    member.force_login(crew.member)
    api = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert api.get("/api/v1/usage", **auth).status_code == 200
    admin_client.post(reverse("console_user_active", args=[crew.member.id]), {"active": "0"})
    assert api.get("/api/v1/usage", **auth).status_code == 401
    assert member.get("/").status_code == 302  # signed out
    # Re-activating gives back the account, not the old session or token
    # (tests/security/test_access.py has the attack this stops).
    admin_client.post(reverse("console_user_active", args=[crew.member.id]), {"active": "1"})
    assert api.get("/api/v1/usage", **auth).status_code == 401
    assert member.get("/").status_code == 302


def test_it_will_not_let_an_admin_lock_themselves_out(admin_client, admin_user):
    response = admin_client.post(reverse("console_user_active", args=[admin_user.id]),
                                 {"active": "0"}, follow=True)
    assert "You cannot deactivate yourself." in response.content.decode()
    admin_client.post(reverse("console_user_staff", args=[admin_user.id]), {"is_staff": "0"})
    admin_user.refresh_from_db()
    assert admin_user.is_active and admin_user.is_staff


def test_it_lists_users_with_their_teams(admin_client, crew):
    body = admin_client.get(reverse("console_users")).content.decode()
    assert "Pixel Foundry" in body and "Elsewhere Inc" in body and "otto" in body
