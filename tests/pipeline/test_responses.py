"""One test per row of DESIGN.md's response table, over real HTTP against the simulator."""

import json
from datetime import timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import GatewayKey
from prompts.models import DispatchPause, GatewayCall
from prompts.pipeline import run
from prompts.pipeline.creation import JobSpec, job_create
from prompts.pipeline.run import job_run
from tests.conftest import drain
from tests.pipeline.conftest import reload

pytestmark = pytest.mark.django_db


def calls(job):
    return list(GatewayCall.objects.filter(job=job).order_by("attempt"))


def test_it_turns_a_valid_answer_into_a_record_and_bills_it(gateway, make_job, price):
    job = make_job()
    assert drain(job.id) == "succeeded"
    job = reload(job)
    record = job.record
    assert record.positive_prompt and record.negative_prompt
    assert record.width % 8 == 0 and record.steps > 0 and record.sampler
    assert not record.needs_review
    [call] = calls(job)
    assert call.outcome == "ok" and call.http_status == 200
    assert call.prompt_tokens > 0 and call.completion_tokens > 0
    expected = (Decimal(call.prompt_tokens) * price.input_per_mtok
                + Decimal(call.completion_tokens) * price.output_per_mtok) / Decimal(1_000_000)
    assert call.cost == expected.quantize(Decimal("0.000001"))
    assert call.price == price
    assert call.request_id
    assert gateway.stats()["received"] == 1


def test_it_rejects_a_content_filter_finish_and_bills_reported_tokens(gateway, make_job, price):
    gateway.script([{"status": 200, "finish_reason": "content_filter"}])
    job = make_job()
    assert drain(job.id) == "rejected"
    [call] = calls(reload(job))
    assert call.outcome == "moderation"
    assert call.prompt_tokens > 0 and call.cost > 0
    assert reload(job).error_code == "moderation"
    assert gateway.stats()["received"] == 1


@pytest.mark.parametrize(
    "status, code",
    [(400, "content_policy_violation"), (403, "content_filter"), (451, "sensitive_words_detected")],
)
def test_it_rejects_moderation_errors_without_retrying(gateway, make_job, status, code):
    gateway.script([{"status": status,
                     "body": {"error": {"code": code, "message": "rejected by moderation"}}}])
    job = make_job()
    assert drain(job.id) == "rejected"
    assert len(calls(job)) == 1
    assert gateway.stats()["received"] == 1


@pytest.mark.parametrize("status", [400, 404, 422])
def test_it_fails_an_invalid_request_with_the_gateways_message(gateway, make_job, status):
    gateway.script([{"status": status,
                     "body": {"error": {"code": "invalid_parameter",
                                        "message": "model field is malformed"}}}])
    job = make_job()
    assert drain(job.id) == "failed"
    job = reload(job)
    assert job.error_code == "invalid"
    assert "model field is malformed" in job.error_message
    assert len(calls(job)) == 1


def test_it_parks_jobs_and_alerts_admins_when_the_key_is_refused(gateway, make_job, crew,
                                                                  active_key):
    crew.manager.is_staff = True
    crew.manager.save()
    gateway.script([{"status": 401}])
    job = make_job()
    assert drain(job.id) == "waiting"
    job = reload(job)
    assert job.wait_reason == "key"
    assert GatewayKey.objects.get(pk=active_key.pk).status == "failing"
    [call] = calls(job)
    assert call.outcome == "auth" and call.key_id == active_key.pk
    assert len(mail.outbox) == 1 and "refused" in mail.outbox[0].subject
    # A second job does not even call: there is no usable key.
    second = make_job()
    assert drain(second.id) == "waiting"
    assert gateway.stats()["received"] == 1


def test_it_pauses_all_dispatch_when_the_balance_is_exhausted(gateway, make_job):
    gateway.script([{"status": 402}])
    job = make_job()
    assert drain(job.id) == "waiting"
    assert reload(job).wait_reason == "balance"
    assert DispatchPause.objects.filter(cleared_at__isnull=True).count() == 1
    other = make_job(brief="Another brief: city skyline")
    assert drain(other.id) == "waiting"
    assert gateway.stats()["received"] == 1


def test_it_fails_a_413_with_a_hint(gateway, make_job):
    gateway.script([{"status": 413}])
    job = make_job()
    assert drain(job.id) == "failed"
    job = reload(job)
    assert job.error_code == "too_large"
    assert "smaller" in job.error_message


def test_it_waits_as_long_as_retry_after_seconds_says(gateway, make_job):
    gateway.script([{"status": 429, "headers": {"Retry-After": "7"}}])
    job = make_job()
    before = timezone.now()
    assert job_run(job.id) == "queued"
    job = reload(job)
    assert before + timedelta(seconds=6) < job.next_attempt_at < before + timedelta(seconds=9)
    [call] = calls(job)
    assert call.outcome == "rate_limited" and call.retry_delay_s == 7
    assert call.retry_after_honoured
    # Not yet due: another delivery claims nothing.
    assert job_run(job.id) is None
    assert drain(job.id) == "succeeded"


def test_it_waits_until_a_retry_after_http_date(gateway, make_job):
    when = timezone.now() + timedelta(seconds=20)
    gateway.script([{"status": 429, "headers": {"Retry-After": format_datetime(when, usegmt=True)}}])
    job = make_job()
    job_run(job.id)
    [call] = calls(job)
    assert 17 <= call.retry_delay_s <= 21
    assert call.retry_after_honoured


def test_it_caps_an_absurd_retry_after(gateway, make_job, settings):
    gateway.script([{"status": 429, "headers": {"Retry-After": "86400"}}])
    job = make_job()
    job_run(job.id)
    assert calls(job)[0].retry_delay_s == settings.GATEWAY_RETRY_AFTER_CAP_S


@pytest.mark.parametrize(
    "entry",
    [
        {"status": 500}, {"status": 502}, {"status": 503}, {"status": 504},
        {"fault": "html"}, {"fault": "truncated"}, {"fault": "disconnect"},
        {"status": 200, "body": {"id": "x", "object": "chat.completion", "choices": []}},
    ],
    ids=["500", "502", "503", "504", "html", "truncated", "disconnect", "no-choices"],
)
def test_it_retries_transient_failures_then_succeeds(gateway, make_job, entry):
    gateway.script([entry])
    job = make_job()
    assert drain(job.id) == "succeeded"
    first, second = calls(job)
    assert first.outcome == "transient" and second.outcome == "ok"
    assert first.retry_delay_s is not None and not first.retry_after_honoured
    assert reload(job).attempts == 2


def test_it_retries_a_timeout(gateway, make_job, settings):
    from prompts.pipeline.client import gateway_client

    settings.GATEWAY_TIMEOUT_S = 0.5
    gateway_client.cache_clear()
    gateway.script([{"status": 200, "delay_ms": 1500}])
    job = make_job()
    assert drain(job.id) == "succeeded"
    first, second = calls(job)
    assert first.outcome == "transient" and first.http_status is None
    assert first.latency_ms >= 400


def test_it_repairs_an_unparseable_answer_once(gateway, make_job):
    gateway.script([{"status": 200, "content": "Sure! Here are some ideas for your image..."}])
    job = make_job()
    assert drain(job.id) == "succeeded"
    job = reload(job)
    first, second = calls(job)
    assert first.outcome == "parse" and second.outcome == "ok"
    assert not job.record.needs_review and job.record.positive_prompt


def test_it_keeps_the_raw_text_for_review_when_the_repair_fails_too(gateway, make_job):
    gateway.script([{"status": 200, "content": "no json here"},
                    {"status": 200, "content": "still no json, sorry"}])
    job = make_job()
    assert drain(job.id) == "succeeded"
    job = reload(job)
    assert job.record.needs_review
    assert job.record.raw_text == "still no json, sorry"
    assert [c.outcome for c in calls(job)] == ["parse", "parse"]


def test_it_makes_the_record_keep_the_settings_the_brief_asks_for(gateway, crew, project):
    brief = ("Paper lanterns over a koi pond\n\nKeep these settings:\n"
             "- Negative prompt: smudged, watermark\n- Steps: 24\n- Sampler: Euler a\n"
             "- CFG scale: 6.5\n- Seed: 90210\n- Size: 832x1216")
    job = job_create(user=crew.member, project=project, spec=JobSpec(brief=brief))
    assert drain(job.id) == "succeeded"
    record = reload(job).record
    assert (record.negative_prompt, record.steps, record.sampler, record.cfg_scale,
            record.seed, record.width, record.height) == (
        "smudged, watermark", 24, "Euler a", Decimal("6.5"), 90210, 832, 1216)
    # The model was asked, in the brief it was sent: the record holds them whatever it said.
    payload = json.dumps(run._payload(reload(job), has_references=False))
    assert "Keep these settings:\\n- Negative prompt: smudged, watermark" in payload
