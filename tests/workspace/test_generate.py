"""Generate: the form, the live estimate, refusals with their reason, the split offer."""

from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from accounts.models import Budget
from prompts.gateway.kept_settings import (
    brief_with_kept_settings,
    kept_settings_clean,
    split_kept_settings,
)
from prompts.gateway.limits import INPUT_TOKEN_LIMIT
from prompts.models import BlockedTerm, GenerationJob
from prompts.pipeline.creation import JobSpec, job_estimate_tokens
from prompts.usage.ledger import CallFacts, ledger_record
from prompts.workspace.services.references import reference_upload
from tests.factories import JobFactory, ModelPriceFactory
from tests.workspace.conftest import image_bytes


def reference_for(project, user):
    return reference_upload(project=project, user=user, data=image_bytes("JPEG"),
                            original_name="harbour.jpg").reference


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


LONG_BRIEF = "\n".join(f"第{n}个场景：城市夜景，霓虹灯，雨后的街道。" * 40 for n in range(1, 300))


def test_it_refuses_over_the_token_guard_and_offers_a_batch(member_client, project):
    response = member_client.post(reverse("generate", args=[project.id]),
                                  {"brief": LONG_BRIEF, "task_type": "balanced"})
    page = response.content.decode()
    assert response.status_code == 422
    assert "one request must stay under 200,000" in page
    assert 'id="split-submit"' in page and 'name="split_long" value="1"' in page
    assert not GenerationJob.objects.exists()
    over = estimate(member_client, project, brief=LONG_BRIEF)
    assert "Over the limit" in over


def test_it_really_splits_a_brief_too_long_for_one_request_into_rows_that_fit(
        member_client, project, crew):
    # A paragraph of 210,000 Chinese characters (210,000 tokens) and one of 408,000 English
    # characters (over the 400,000 characters a brief may have): neither fits one request,
    # and neither has a line break to split at.
    one_paragraph = "城市夜景，霓虹灯，雨后的街道。" * 14000
    long_english = "A harbour at night with lanterns. " * 12000
    brief = f"{one_paragraph}\n\n{long_english}\n\nA short third item."
    response = member_client.post(reverse("batch_new", args=[project.id]), {
        "prefill": "1", "split_long": "1", "text": brief, "task_type": "strict"})
    assert response.status_code == 200
    form = response.context["form"]
    rows = [row for row in form.initial["text"].split("\n\n") if row.strip()]
    assert len(rows) >= 4 and rows[-1] == "A short third item."
    assert form.initial["split"] == "paragraph"
    assert f"The brief was split into {len(rows)} briefs" in response.content.decode()
    for row in rows:
        assert job_estimate_tokens(JobSpec(brief=row)) < INPUT_TOKEN_LIMIT
        assert row == row.strip() and (row.endswith("。") or row.endswith(".")), row[-20:]
    # Nothing lost, nothing doubled: the rows are the brief, cut between sentences.
    assert "".join(rows).replace(" ", "") == brief.replace("\n", "").replace(" ", "")

    created = member_client.post(reverse("batch_new", args=[project.id]), {
        "text": form.initial["text"], "split": "paragraph", "task_type": "strict"})
    assert created.status_code == 302  # no loop back to "too long"
    assert GenerationJob.objects.count() == len(rows)


def test_it_keeps_the_references_and_kept_settings_on_every_split_row(member_client, project,
                                                                      crew):
    reference = reference_for(project, crew.member)
    kept = kept_settings_clean(negative_prompt="blurry", steps=24, seed=7)
    brief = brief_with_kept_settings("Harbour at night. " * 40000, kept)
    page = member_client.post(reverse("batch_new", args=[project.id]), {
        "prefill": "1", "split_long": "1", "text": brief, "task_type": "balanced",
        "references": [reference.id]})
    form = page.context["form"]
    rows = form.initial["text"].split("\n\n")
    assert len(rows) > 1 and form.initial["references"] == [reference.id]
    for row in rows:
        assert split_kept_settings(row)[1] == kept
        assert job_estimate_tokens(JobSpec(brief=row, references=[reference])) < INPUT_TOKEN_LIMIT


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


def spend(user, project, prompt_tokens: int) -> None:
    """A call through the real ledger (and its rollup, which budgets read)."""
    job = JobFactory(project=project, created_by=user, status="succeeded")
    ledger_record(job=job, attempt=1, facts=CallFacts(
        outcome="ok", started_at=timezone.now(), key_id=None, prompt_tokens=prompt_tokens))


def test_it_warns_before_sending_when_the_job_could_pass_a_budget(member_client, project,
                                                                  crew):
    ModelPriceFactory()  # ¥2 / ¥8 per million: a cat brief costs at most ~¥0.0096
    Budget.objects.create(team=crew.team, monthly_limit=Decimal("1.00"))
    assert "budget" not in estimate(member_client, project)
    Budget.objects.create(team=crew.team, user=crew.member, monthly_limit=Decimal("0.01"))
    spend(crew.member, project, 2500)  # ¥0.005 spent
    page = estimate(member_client, project)
    assert ("more than the ¥0.005 left in your monthly budget of ¥0.01: jobs wait once it is "
            "used up.") in page
    assert "team's monthly budget" not in page
    spend(crew.member, project, 2500)  # used up
    page = estimate(member_client, project)
    assert "Your monthly budget of ¥0.01 is used up: this will be refused." in page


def test_it_sends_the_settings_to_keep_with_the_brief(member_client, project):
    member_client.post(reverse("generate", args=[project.id]), {
        "brief": "A lantern festival", "task_type": "balanced",
        "keep_negative_prompt": "blurry", "keep_steps": "24", "keep_sampler": "Euler a",
        "keep_cfg_scale": "6.5", "keep_seed": "4242", "keep_width": "832",
        "keep_height": "1216"})
    job = GenerationJob.objects.get()
    assert job.brief == ("A lantern festival\n\nKeep these settings:\n- Negative prompt: blurry\n"
                         "- Steps: 24\n- Sampler: Euler a\n- CFG scale: 6.5\n- Seed: 4242\n"
                         "- Size: 832x1216")
    page = member_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert '<pre id="job-brief">A lantern festival</pre>' in page
    kept = page.split('id="job-brief-kept"')[1]
    assert "<dt>Steps</dt><dd>24</dd>" in kept and "<dd>832×1216</dd>" in kept


def test_it_refuses_half_a_size_to_keep(member_client, project):
    response = member_client.post(reverse("generate", args=[project.id]), {
        "brief": "A lantern festival", "task_type": "balanced", "keep_width": "832"})
    assert response.status_code == 200
    assert "Give both width and height, or neither." in response.content.decode()
    assert not GenerationJob.objects.exists()
