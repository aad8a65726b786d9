"""The issue's "done means", walked end to end against the bundled simulator and a real
Celery worker: a template and a 20-row CSV make 20 records in one house style; two are
compared; the best is submitted and a manager approves it; a client opens a share link; a
pipeline receives the signed record.approved webhook; the PNG card reads back in A1111's
and ComfyUI's formats with the right prompt."""

import io
import json
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from sd_parsers import ParserManager
from sd_parsers.parsers import AUTOMATIC1111Parser, ComfyUIParser

from prompts.models import BriefTemplate, GenerationJob, HouseStyle, PromptRecord
from tests.processes import wait_until
from tests.workspace.test_webhooks import readme_verifier

ROWS = 20


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def read(parser, png: bytes):
    return ParserManager(managed_parsers=[parser]).parse(io.BytesIO(png))


def test_a_template_batch_in_one_house_style_reaches_a_client_and_a_pipeline(
        celery_worker_thread, webhook_receiver, crew, project, settings):
    member, manager = logged_in(crew.member), logged_in(crew.manager)

    # A manager sets the team's house style and a webhook for the pipeline.
    manager.post(reverse("style_list"), {
        "name": "Spring catalogue", "negative_terms": "logo, signature, extra fingers",
        "style_words": "soft window light", "width": 832, "height": 1216,
        "sampler": "DPM++ 2M Karras", "steps": 28, "cfg_scale": "6.5",
        "checkpoint": "juggernautXL_v9.safetensors"})
    style = HouseStyle.objects.get()
    manager.post(reverse("webhook_list"), {"url": webhook_receiver.url,
                                           "events": ["record.approved"], "is_active": "on"})
    secret = re.search(r"whsec_[\w-]+", manager.get(
        reverse("webhook_detail", args=[crew.team.webhook_endpoints.get().id]))
        .content.decode()).group(0)

    # A member writes a template and sends a 20-row CSV.
    member.post(reverse("template_list"), {
        "name": "Product shot", "body": "Studio photo of {product} on {surface}, {angle}",
        "task_type": "balanced", "style": style.id})
    template = BriefTemplate.objects.get()
    rows = "product,surface,angle\n" + "\n".join(
        f"teapot no. {n},{'linen' if n % 2 else 'slate'},three-quarter view"
        for n in range(1, ROWS + 1))
    response = member.post(reverse("template_batch", args=[project.id, template.id]), {
        "csv_file": SimpleUploadedFile("shots.csv", rows.encode()), "task_type": "balanced",
        "style": style.id})
    assert response.status_code == 302

    wait_until(lambda: GenerationJob.objects.filter(status="succeeded").count() == ROWS, 60,
               "the batch")
    records = list(PromptRecord.objects.select_related("job").order_by("id"))
    assert len(records) == ROWS
    version = style.current_version()
    for record in records:  # one house style, enforced on every answer
        assert record.job.style_version == version and record.job.template == template
        assert {"logo", "signature", "extra fingers"} <= {
            term.strip() for term in record.negative_prompt.split(",")}
        assert (record.width, record.height, record.sampler, record.steps) == (
            832, 1216, "DPM++ 2M Karras", 28)

    # Compare two, submit the better one, a manager approves it.
    first, best = records[0], records[1]
    compare = member.get(reverse("compare"), {"ids": f"{first.id},{best.id}"})
    assert compare.status_code == 200 and "diff-ins" in compare.content.decode()
    member.post(reverse("record_submit", args=[best.id]), {"comment": "the slate one"})
    manager.post(reverse("record_decide", args=[best.id]), {"decision": "approve"})
    best.refresh_from_db()
    assert best.review_status == "approved" and best.approved_by == crew.manager

    # The client opens a share link, with no account.
    member.post(reverse("record_share", args=[best.id]), {"label": "client", "days": "7"})
    url = re.search(r'value="(http[^"]+/s/[^"]+)"',
                    member.get(reverse("share_list")).content.decode()).group(1)
    shared = Client().get(url)
    assert shared.status_code == 200 and best.positive_prompt in shared.content.decode()

    # The pipeline receives the signed record.approved webhook.
    wait_until(lambda: webhook_receiver.requests, 30, "the webhook")
    [request] = webhook_receiver.requests
    assert readme_verifier()(secret, request["headers"]["X-GrokWeb-Signature"], request["body"])
    event = json.loads(request["body"])
    assert event["type"] == "record.approved" and event["data"]["record"]["id"] == best.id

    # The PNG card drops into A1111's PNG Info and ComfyUI with the right prompt.
    png = member.get(reverse("record_export", args=[best.id, "png"])).content
    a1111, comfy = read(AUTOMATIC1111Parser, png), read(ComfyUIParser, png)
    assert a1111.full_prompt == comfy.full_prompt == best.positive_prompt
    assert a1111.full_negative_prompt == comfy.full_negative_prompt == best.negative_prompt
    assert comfy.samplers[0].model.name == "juggernautXL_v9.safetensors"
