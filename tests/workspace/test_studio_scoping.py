"""Every studio view: outsiders get 404 (never 403) and change nothing, every form needs
its CSRF token, anonymous visitors are sent to the login page."""

import pytest
from django.test import Client
from django.urls import reverse

from prompts.models import PromptRecord
from prompts.workspace.services.reviews import record_review_decide, record_submit
from prompts.workspace.services.shares import share_link_create
from prompts.workspace.services.styles import StyleRules, style_create
from prompts.workspace.services.templates import template_create
from prompts.workspace.services.webhooks import webhook_endpoint_create
from tests.workspace.conftest import make_record


@pytest.fixture
def objects(project, crew, webhook_receiver):
    record = make_record(project, crew.member)
    pending = make_record(project, crew.member)
    record_submit(record=pending, user=crew.member)
    approved = make_record(project, crew.member)
    record_submit(record=approved, user=crew.member)
    record_review_decide(record=approved, user=crew.manager, decision="approve")
    template = template_create(team=crew.team, user=crew.member, name="T", body="A {x}",
                               task_type="balanced")
    style = style_create(team=crew.team, user=crew.manager, name="S",
                         rules=StyleRules(negative_terms="logo"))
    link, _token = share_link_create(user=crew.member, record=approved)
    endpoint, _secret = webhook_endpoint_create(team=crew.team, user=crew.manager,
                                                url=webhook_receiver.url,
                                                events=["job.succeeded"])
    return {"project_id": project.id, "record_id": record.id, "pending_id": pending.id,
            "approved_id": approved.id, "template_id": template.id, "style_id": style.id,
            "link_id": link.id, "endpoint_id": endpoint.id}


OBJECT_VIEWS = [
    ("GET", "template_edit", ["template_id"], {}),
    ("POST", "template_edit", ["template_id"], {"name": "Mine", "body": "B {y}",
                                                "task_type": "strict"}),
    ("POST", "template_archive", ["template_id"], {"archive": "1"}),
    ("GET", "template_generate", ["project_id", "template_id"], {}),
    ("POST", "template_generate", ["project_id", "template_id"], {"v_x": "y",
                                                                  "task_type": "balanced"}),
    ("GET", "template_batch", ["project_id", "template_id"], {}),
    ("GET", "style_detail", ["style_id"], {}),
    ("POST", "style_detail", ["style_id"], {"negative_terms": "theirs"}),
    ("POST", "style_archive", ["style_id"], {"archive": "1"}),
    ("POST", "project_style", ["project_id"], {"style": ""}),
    ("GET", "record_edit", ["record_id"], {}),
    ("POST", "record_edit", ["record_id"], {"positive_prompt": "taken over"}),
    ("POST", "record_submit", ["record_id"], {}),
    ("POST", "record_withdraw", ["pending_id"], {}),
    ("POST", "record_decide", ["pending_id"], {"decision": "approve"}),
    ("POST", "record_revoke", ["approved_id"], {"comment": "not ours to take back"}),
    ("POST", "record_share", ["approved_id"], {"days": "7"}),
    ("POST", "project_share", ["project_id"], {"days": "7"}),
    ("POST", "share_revoke", ["link_id"], {}),
    ("GET", "webhook_detail", ["endpoint_id"], {}),
    ("POST", "webhook_detail", ["endpoint_id"], {"url": "https://example.com/x",
                                                 "events": ["job.failed"]}),
    ("POST", "webhook_test", ["endpoint_id"], {}),
    ("POST", "webhook_rotate", ["endpoint_id"], {}),
    ("POST", "webhook_delete", ["endpoint_id"], {}),
    ("GET", "record_export", ["record_id", "png"], {}),
]


def url_for(name, args, objects):
    return reverse(name, args=[objects.get(arg, arg) for arg in args])


@pytest.mark.parametrize("method,name,args,data", OBJECT_VIEWS,
                         ids=[f"{m} {n}" for m, n, _a, _d in OBJECT_VIEWS])
def test_it_answers_404_to_outsiders(outsider_client, objects, method, name, args, data):
    url = url_for(name, args, objects)
    response = outsider_client.get(url) if method == "GET" else outsider_client.post(url, data)
    assert response.status_code == 404


def test_outsiders_change_nothing(outsider_client, objects, crew):
    from accounts.models import AuditEvent

    before = AuditEvent.objects.count()
    for method, name, args, data in OBJECT_VIEWS:
        if method == "POST":
            outsider_client.post(url_for(name, args, objects), data)
    assert AuditEvent.objects.count() == before
    assert PromptRecord.objects.get(pk=objects["pending_id"]).review_status == "pending"


def test_the_outsiders_own_lists_show_nothing_of_ours(outsider_client, objects):
    for name in ("template_list", "style_list", "review_queue", "house_library", "share_list",
                 "webhook_list", "studio"):
        html = outsider_client.get(reverse(name)).content.decode()
        assert f"/records/{objects['approved_id']}/" not in html
        assert f"/studio/templates/{objects['template_id']}/" not in html
        assert f"/studio/styles/{objects['style_id']}/" not in html


FORMS = [(name, args, data) for method, name, args, data in OBJECT_VIEWS if method == "POST"]
FORMS += [("template_list", [], {"name": "N", "body": "{a}", "task_type": "balanced"}),
          ("style_list", [], {"name": "N", "negative_terms": "x"}),
          ("reviewer_add", [], {"user": "1"}),
          ("webhook_list", [], {"url": "https://example.com", "events": ["job.failed"]})]


@pytest.mark.parametrize("name,args,data", FORMS, ids=[name for name, _a, _d in FORMS])
def test_every_form_needs_its_csrf_token(crew, objects, name, args, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(crew.manager)
    assert client.post(url_for(name, args, objects), data).status_code == 403


@pytest.mark.parametrize("name", ["studio", "template_list", "style_list", "review_queue",
                                  "house_library", "share_list", "webhook_list", "compare"])
def test_lists_send_anonymous_visitors_to_login(db, name):
    response = Client().get(reverse(name))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
