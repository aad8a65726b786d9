"""The studio in a real browser: generating from a template, comparing records, approving
one, a client opening a share link; and every studio page at desktop and phone width in
both languages, with nothing wider than the screen and nothing the CSP refuses.

SCREENSHOTS_DIR=/some/folder keeps a screenshot of each page for a person to look at.
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from prompts.models import GenerationJob, PromptRecord
from prompts.workspace.services.references import reference_create
from prompts.workspace.services.reviews import record_review_decide, record_submit
from prompts.workspace.services.shares import share_link_create
from prompts.workspace.services.styles import StyleRules, style_create
from prompts.workspace.services.templates import template_create
from prompts.workspace.services.webhook_delivery import webhook_deliver, webhook_events_fan_out
from prompts.workspace.services.webhooks import webhook_endpoint_create
from tests.conftest import PASSWORD
from tests.workspace.conftest import image_bytes, make_record


def sign_in(browser, live_server, username: str, *, locale: str = "en-US", width: int = 1366):
    context = browser.new_context(base_url=live_server.url, locale=locale,
                                  viewport={"width": width, "height": 900},
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return context, page


def test_a_member_writes_a_template_and_generates_from_it(browser, live_server, crew, project):
    context, page = sign_in(browser, live_server, "ming")
    try:
        page.goto("/studio/")
        page.click("#hub-templates")
        page.fill("#id_name", "Product portrait")
        page.fill("#id_body", "Portrait of {subject} in {setting}, {lens}")
        page.click("#template-form button[type=submit]")
        expect(page.locator(".template-list")).to_contain_text("Product portrait")
        page.click(".template-use button[value=generate]")
        expect(page.locator("main h1")).to_contain_text("Generate from “Product portrait”")
        fields = page.locator(".variable-fields input")
        expect(fields).to_have_count(3)
        page.fill("input[name=v_subject]", "a jade teapot")
        page.fill("input[name=v_lens]", "85mm")
        # Past the browser's own check, so the server's answer shows.
        page.evaluate("document.getElementById('template-generate-form').noValidate = true")
        page.click("#template-generate-submit")
        # The empty variable is refused by name, on its field, and nothing is created.
        expect(page.locator(".errorlist")).to_contain_text("“setting”")
        assert not GenerationJob.objects.exists()
        page.fill("input[name=v_setting]", "a tea house")
        page.click("#template-generate-submit")
        expect(page.locator("#job-status-badge")).to_be_visible()
        job = GenerationJob.objects.get()
        assert job.brief == "Portrait of a jade teapot in a tea house, 85mm"
        assert job.template_values["lens"] == "85mm"
    finally:
        context.close()


def test_a_member_compares_two_records_from_the_library(browser, live_server, crew, project):
    first = make_record(project, crew.member,
                        positive_prompt="portrait of a tea farmer, morning mist, 35mm")
    second = make_record(project, crew.member,
                         positive_prompt="portrait of a tea farmer, golden hour, 35mm", steps=24)
    context, page = sign_in(browser, live_server, "ming")
    try:
        page.goto("/library/")
        page.check(f"#record-row-{first.id} input[name=ids]")
        page.check(f"#record-row-{second.id} input[name=ids]")
        page.click("#compare-ticked")
        expect(page.locator("main h1")).to_have_text("Compare records")
        assert re.search(rf"ids={first.id}&ids={second.id}|ids={second.id}&ids={first.id}",
                         page.url)
        expect(page.locator("ins.diff-ins").first).to_be_visible()
        changed = page.locator("table.compare tr.differs")
        expect(changed).to_have_count(1)
        expect(changed).to_contain_text("24")
        page.goto(page.locator("#compare-link a").get_attribute("href"))  # the link works
        expect(page.locator("#compare-table")).to_be_visible()
    finally:
        context.close()


def test_a_member_submits_a_manager_approves_and_revokes(browser, live_server, crew, project):
    record = make_record(project, crew.member)
    member, page = sign_in(browser, live_server, "ming")
    manager, lead = sign_in(browser, live_server, "mia")
    try:
        page.goto(f"/records/{record.id}/")
        page.fill("#submit-comment", "the best of the batch")
        page.click("#submit-review")
        expect(page.locator("#review-badge")).to_have_text("In review")

        lead.goto("/studio/reviews/")
        expect(lead.locator("#count-pending")).to_have_text("1")
        lead.locator(f"#review-{record.id} button[value=approve]").click()
        expect(lead.locator("#count-pending")).to_have_text("0")

        page.reload()
        expect(page.locator("#review-badge")).to_have_text("Approved")
        expect(page.locator("#approved-by")).to_contain_text("Approved by mia")
        expect(page.locator("#edit-link")).to_have_count(0)  # locked
        expect(page.locator("#rerun-link")).to_have_text("Re-run as a new version")
        assert PromptRecord.objects.get(pk=record.pk).approved_by == crew.manager
        expect(page.locator("#revoke-approval")).to_have_count(0)  # managers only

        # The manager takes it back, saying why; the author can edit it again.
        lead.goto(f"/records/{record.id}/")
        lead.click("#revoke-approval summary")
        lead.fill("#revoke-comment", "The client's logo is in the prompt")
        lead.click("#revoke-button")
        expect(lead.locator(".messages")).to_contain_text("Approval revoked")
        expect(lead.locator("#review-badge")).to_have_text("Changes requested")
        page.reload()
        expect(page.locator(".review-history")).to_contain_text("revoked the approval")
        expect(page.locator(".review-history")).to_contain_text("The client's logo")
        expect(page.locator("#edit-link")).to_be_visible()
    finally:
        member.close()
        manager.close()


def test_a_client_opens_a_share_link(browser, live_server, crew, project):
    record = make_record(project, crew.member, positive_prompt="a jade teapot, soft light")
    reference, _created = reference_create(project=project, user=crew.member,
                                           data=image_bytes("JPEG", (800, 600)),
                                           original_name="teapot.jpg")
    record.job.references.add(reference)
    record_submit(record=record, user=crew.member)
    record_review_decide(record=record, user=crew.manager, decision="approve")
    context, page = sign_in(browser, live_server, "ming")
    client = browser.new_context(locale="zh-CN")
    try:
        page.goto(f"/records/{record.id}/")
        page.fill("#share-label", "for the client")
        page.click("#share-form button[type=submit]")
        link = page.locator("#new-share-url").input_value()
        assert "/s/" in link

        shared = client.new_page()
        shared.goto(link)
        expect(shared.locator(f"#positive-{record.id}")).to_have_text("a jade teapot, soft light")
        expect(shared.locator("html")).to_have_attribute("lang", "zh-hans")
        image = shared.locator(".shared-record .thumbs img")
        expect(image).to_have_count(1)
        shared.wait_for_function("document.querySelector('.thumbs img').naturalWidth > 0")
        expect(shared.locator(".mainnav")).to_have_count(0)
        assert "¥" not in shared.content()

        page.goto("/studio/shares/")
        page.click(f"#share-{record.share_links.get().id} button")
        assert shared.goto(link).status == 404
    finally:
        context.close()
        client.close()


# Every page, both languages, desktop and phone ---------------------------------------------

@pytest.fixture
def studio(crew, project, webhook_receiver, price):
    style = style_create(team=crew.team, user=crew.manager, name="Spring catalogue",
                         rules=StyleRules(negative_terms="logo, signature", width=832,
                                          height=1216, sampler="DPM++ 2M Karras",
                                          checkpoint="juggernautXL_v9.safetensors"))
    template = template_create(team=crew.team, user=crew.member, name="Product portrait",
                               body="Studio photo of {product} on {surface}, {angle}",
                               task_type="balanced", style=style)
    reference, _created = reference_create(project=project, user=crew.member,
                                           data=image_bytes("JPEG", (800, 600)),
                                           original_name="teapot.jpg")
    records = []
    for n, words in enumerate(["morning mist, linen", "golden hour, slate", "soft rain, oak"]):
        record = make_record(project, crew.member, steps=28 + n,
                             positive_prompt=f"studio photo of a jade teapot, {words}, 85mm")
        record.job.references.add(reference)
        records.append(record)
    record_submit(record=records[1], user=crew.member)
    record_submit(record=records[2], user=crew.member)
    record_review_decide(record=records[2], user=crew.manager, decision="approve")
    _link, token = share_link_create(user=crew.member, record=records[2], label="Client A")
    endpoint, _secret = webhook_endpoint_create(team=crew.team, user=crew.manager,
                                                url=webhook_receiver.url,
                                                events=["record.approved", "job.succeeded"])
    record_submit(record=records[0], user=crew.member)
    record_review_decide(record=records[0], user=crew.manager, decision="approve")
    webhook_events_fan_out()
    for delivery in endpoint.deliveries.all():
        webhook_deliver(delivery.pk)
    draft = make_record(project, crew.member, positive_prompt="a draft, still being edited")
    ids = ",".join(str(record.id) for record in records)
    return {
        "studio": "/studio/", "templates": "/studio/templates/",
        "template-generate": f"/projects/{project.id}/templates/{template.id}/generate/",
        "template-batch": f"/projects/{project.id}/templates/{template.id}/batch/",
        "styles": "/studio/styles/", "style": f"/studio/styles/{style.id}/",
        "compare": f"/compare/?ids={ids}", "review-queue": "/studio/reviews/",
        "house-library": "/studio/house-library/", "shares": "/studio/shares/",
        "webhooks": "/studio/webhooks/", "webhook": f"/studio/webhooks/{endpoint.id}/",
        "record": f"/records/{records[1].id}/", "record-approved": f"/records/{records[2].id}/",
        "record-edit": f"/records/{draft.id}/edit/",
        "shared": f"/s/{token}/",
    }


@pytest.mark.parametrize("locale,language", [("en-US", "en"), ("zh-CN", "zh")])
@pytest.mark.parametrize("width", [1366, 390])
def test_every_studio_page_fits_the_screen(browser, live_server, crew, studio, locale,
                                           language, width):
    folder = os.environ.get("SCREENSHOTS_DIR")
    context, page = sign_in(browser, live_server, "mia", locale=locale, width=width)
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    try:
        for name, url in studio.items():
            response = page.goto(url)
            assert response.status == 200, url
            page.wait_for_load_state("load")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, f"{name} at {width} px is {overflow} px wider than the screen"
            if folder:
                Path(folder).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{folder}/{name}-{language}-{width}.png", full_page=True)
        assert violations == []  # no inline script, handler or style on any studio page
    finally:
        context.close()
