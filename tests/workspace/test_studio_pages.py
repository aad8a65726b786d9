"""Every studio page renders for the people who use it, in English and in Chinese, and the
Chinese pages carry no untranslated interface text."""

import re

import pytest
from django.urls import reverse

from prompts.workspace.services.reviews import record_review_decide, record_submit
from prompts.workspace.services.shares import share_link_create
from prompts.workspace.services.styles import StyleRules, style_create
from prompts.workspace.services.templates import template_create
from prompts.workspace.services.webhook_delivery import webhook_deliver, webhook_events_fan_out
from prompts.workspace.services.webhooks import webhook_endpoint_create
from tests.workspace.conftest import make_record


@pytest.fixture
def studio(project, crew, webhook_receiver, price):
    style = style_create(team=crew.team, user=crew.manager, name="Catalogue",
                         rules=StyleRules(negative_terms="logo", width=832, height=1216))
    template = template_create(team=crew.team, user=crew.member, name="Portrait",
                               body="Portrait of {subject}", task_type="balanced", style=style)
    first = make_record(project, crew.member)
    second = make_record(project, crew.member, positive_prompt="another take", steps=20)
    record_submit(record=second, user=crew.member)
    approved = make_record(project, crew.member, positive_prompt="approved one")
    record_submit(record=approved, user=crew.member)
    record_review_decide(record=approved, user=crew.manager, decision="approve")
    _link, token = share_link_create(user=crew.member, record=approved)
    endpoint, _secret = webhook_endpoint_create(team=crew.team, user=crew.manager,
                                                url=webhook_receiver.url,
                                                events=["record.approved"])
    record_submit(record=first, user=crew.member)
    record_review_decide(record=first, user=crew.manager, decision="approve")
    webhook_events_fan_out()
    for delivery in endpoint.deliveries.all():
        webhook_deliver(delivery.pk)
    return {"style": style, "template": template, "records": (first, second, approved),
            "token": token, "endpoint": endpoint, "project": project}


def pages(s) -> list[str]:
    first, second, approved = s["records"]
    project, template = s["project"], s["template"]
    return [
        reverse("studio"), reverse("template_list"), reverse("template_edit", args=[template.id]),
        reverse("template_generate", args=[project.id, template.id]),
        reverse("template_batch", args=[project.id, template.id]),
        reverse("style_list"), reverse("style_detail", args=[s["style"].id]),
        reverse("compare") + f"?ids={first.id},{second.id},{approved.id}",
        reverse("compare") + "?ids=1",
        reverse("record_edit", args=[make_record(s["project"], second.author).id]),
        reverse("review_queue"), reverse("house_library"), reverse("share_list"),
        reverse("webhook_list"), reverse("webhook_detail", args=[s["endpoint"].id]),
        reverse("shared", args=[s["token"]]),
    ]


def existing_pages_with_studio_parts(s) -> list[str]:
    """Pages of the workspace the studio adds to; other work owns their own wording."""
    first, second, _approved = s["records"]
    return [reverse("record_detail", args=[first.id]), reverse("record_detail", args=[second.id]),
            reverse("project_detail", args=[s["project"].id]),
            reverse("generate", args=[s["project"].id]), reverse("library")]


def test_every_page_renders_for_a_manager(manager_client, studio):
    for url in pages(studio) + existing_pages_with_studio_parts(studio):
        response = manager_client.get(url)
        assert response.status_code in (200, 400), url


# Words that may stay in English on a Chinese page: names, formats, units, user data.
ALLOWED = {"GrokWeb", "Token", "A1111", "ComfyUI", "CSV", "JSONL", "PNG", "CFG", "URL", "JSON",
           "README", "HMAC", "SHA256", "https", "X", "Signature", "v1", "evt",
           "webhook", "test", "job", "succeeded", "failed", "record", "approved", "budget",
           "warning", "whsec", "ms", "Catalogue", "Portrait", "subject", "DPM", "Karras", "M",
           "mia", "ming", "Pixel", "Foundry", "Spring", "Campaign", "answer", "hooks",
           "grokweb", "checked", "API", "Webhook", "UTF", "GBK", "juggernautXL", "safetensors",
           "compare", "ids", "s"}


def visible_words(html: str) -> set[str]:
    html = re.sub(r"<(script|style|pre|code|textarea|datalist|option)[^>]*>.*?</\1>", " ", html,
                  flags=re.S)
    # Token prefixes, masked secrets and URLs are set in monospace: data, not wording.
    html = re.sub(r'<(div|span|a|h1|td)[^>]*class="[^"]*mono[^"]*"[^>]*>.*?</\1>', " ", html,
                  flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    return set(re.findall(r"[A-Za-z][A-Za-z']+", html))


def test_the_chinese_pages_are_in_chinese(manager_client, studio):
    manager_client.cookies["django_language"] = "zh-hans"
    user_data = set(re.findall(r"[A-Za-z']+", studio["template"].body + " "
                               + studio["style"].current_version().negative_terms))
    for record in studio["records"]:
        user_data |= set(re.findall(r"[A-Za-z']+", record.positive_prompt + " "
                                    + record.negative_prompt + " " + record.job.brief + " "
                                    + record.style + " " + record.job.model))
    for url in pages(studio):
        html = manager_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        english = visible_words(html) - ALLOWED - user_data
        assert not english, f"{url}: {sorted(english)[:20]}"


def test_the_django_admin_shows_the_studio_without_its_secrets(admin_client, admin_user,
                                                                studio):
    admin_user.is_superuser = True
    admin_user.save()
    for model in ("housestyle", "brieftemplate", "sharelink", "webhookendpoint", "webhookevent",
                  "webhookdelivery", "webhookdeliveryattempt", "teamreviewer", "reviewstep"):
        assert admin_client.get(f"/admin/prompts/{model}/").status_code == 200, model
    endpoint = studio["endpoint"]
    page = admin_client.get(f"/admin/prompts/webhookendpoint/{endpoint.id}/change/")
    assert page.status_code == 200
    assert endpoint.secret_encrypted not in page.content.decode()
    style = admin_client.get(f"/admin/prompts/housestyle/{studio['style'].id}/change/")
    assert style.status_code == 200 and "logo" in style.content.decode()


def test_no_studio_page_has_inline_script_handler_or_style(manager_client, studio):
    from tests.security.test_access import INLINE

    for url in pages(studio):
        html = manager_client.get(url).content.decode()
        for pattern in INLINE:
            assert not pattern.search(html), f"{url}: {pattern.search(html).group(0)}"
