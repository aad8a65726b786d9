from django.urls import reverse

from tests.conftest import PASSWORD


def test_it_sends_anonymous_visitors_to_the_login_page(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_logs_in_and_shows_the_team(client, crew):
    response = client.post(reverse("login"), {"username": "ming", "password": PASSWORD},
                           follow=True)
    assert response.status_code == 200
    assert "Pixel Foundry" in response.content.decode()


def test_it_explains_a_wrong_password(client, crew):
    response = client.post(reverse("login"), {"username": "ming", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_it_logs_out_with_a_post(member_client):
    response = member_client.post(reverse("logout"))
    assert response.status_code == 302
    assert member_client.get("/").status_code == 302


def test_it_serves_chinese_to_a_chinese_browser(client, db):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    body = response.content.decode()
    assert 'lang="zh-hans"' in body
    assert "登录" in body


def test_it_switches_language_with_the_switcher(member_client):
    response = member_client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"},
                                  follow=True)
    body = response.content.decode()
    assert 'lang="zh-hans"' in body
    assert "退出" in body
    response = member_client.post(reverse("set_language"), {"language": "en", "next": "/"},
                                  follow=True)
    assert "Log out" in response.content.decode()
