"""Generate: the form, the live estimate, refusals with their reason, the split offer."""

from decimal import Decimal

from django.urls import reverse

from prompts.models import BlockedTerm, GenerationJob
from tests.factories import ModelPriceFactory


def estimate(client, project, **data):
    return client.post(reverse("generate_estimate", args=[project.id]),
                       {"brief": "a cat", "task_type": "balanced", **data},
                       HTTP_HX_REQUEST="true").content.decode()


def test_it_creates_a_job_with_the_presets_temperature_and_shows_it(member_client, project):
    response = member_client.post(reverse("generate", args=[project.id]),
                                  {"brief": "一位穿旗袍的女子, 窗边柔光", "task_type": "strict"})
    job = GenerationJob.objects.get()
    assert response["Location"] == reverse("job_detail", args=[job.id])
    assert job.temperature == Decimal("0.55") and job.status == "queued"
    page = member_client.get(response["Location"]).content.decode()
    assert "一位穿旗袍的女子" in page and 'hx-trigger="every 1500ms"' in page


def test_it_uses_the_advanced_temperature_and_max_tokens(member_client, project):
    member_client.post(reverse("generate", args=[project.id]),
                       {"brief": "a cat", "task_type": "creative", "temperature": "0.9",
                        "max_tokens": "2048"})
    job = GenerationJob.objects.get()
    assert (job.temperature, job.max_tokens) == (Decimal("0.90"), 2048)


def test_it_estimates_tokens_and_an_upper_bound_in_yuan(member_client, project):
    ModelPriceFactory()  # ¥2 / ¥8 per million
    page = estimate(member_client, project, max_tokens="1000")
    from prompts.pipeline.creation import JobSpec, job_estimate_tokens

    tokens = job_estimate_tokens(JobSpec(brief="a cat"))
    expected = (Decimal(tokens) * 2 + Decimal(1000) * 8) / 1_000_000
    assert f"¥{expected:.4f}" in page
    assert f"{tokens:,}" in page


def test_it_says_unpriced_when_the_model_has_no_price(member_client, project):
    assert "unpriced" in estimate(member_client, project)


def test_it_warns_above_temperature_0_7(member_client, project):
    assert "facial consistency" not in estimate(member_client, project, task_type="creative")
    assert "facial consistency" in estimate(member_client, project, temperature="0.8")


def test_it_refuses_over_the_token_guard_and_offers_a_batch(member_client, project):
    brief = "\n".join(f"第{n}个场景：城市夜景，霓虹灯，雨后的街道" * 40 for n in range(1, 300))
    response = member_client.post(reverse("generate", args=[project.id]),
                                  {"brief": brief, "task_type": "balanced"})
    page = response.content.decode()
    assert response.status_code == 422
    assert "one request must stay under 200,000" in page
    assert "One brief per line" in page and 'name="prefill"' in page
    assert not GenerationJob.objects.exists()
    over = estimate(member_client, project, brief=brief)
    assert "Over the limit" in over


def test_it_hands_the_long_brief_to_the_batch_form_without_creating_anything(
        member_client, project):
    response = member_client.post(reverse("batch_new", args=[project.id]),
                                  {"prefill": "1", "text": "one\ntwo", "split": "line",
                                   "task_type": "strict"})
    assert response.status_code == 200
    assert "one\ntwo</textarea>" in response.content.decode()
    assert not GenerationJob.objects.exists()


def test_it_shows_the_reason_of_a_refusal(member_client, project):
    BlockedTerm.objects.create(term="forbiddenword")
    response = member_client.post(reverse("generate", args=[project.id]),
                                  {"brief": "a forbiddenword poster", "task_type": "balanced"})
    assert response.status_code == 422
    assert "which this site does not send to the gateway" in response.content.decode()


def test_it_shows_form_errors_for_bad_settings(member_client, project):
    response = member_client.post(reverse("generate", args=[project.id]),
                                  {"brief": "", "task_type": "wild", "temperature": "3"})
    page = response.content.decode()
    assert "This field is required." in page
    assert "Ensure this value is less than or equal to 2." in page
    assert not GenerationJob.objects.exists()
