"""Refusals before any call: they cost nothing and lose nothing."""

import pytest

from prompts.models import BlockedTerm, GenerationJob, ModerationHold
from prompts.pipeline.creation import JobRefused, JobSpec, batch_create, job_create
from prompts.pipeline.moderation import hold_release
from tests.conftest import drain
from tests.pipeline.conftest import reload

pytestmark = pytest.mark.django_db


def test_it_refuses_a_request_over_the_token_guard_before_any_call(gateway, crew, project):
    brief = "画" * 210_000  # one token per CJK character: over 200,000
    with pytest.raises(JobRefused) as refused:
        job_create(user=crew.member, project=project, spec=JobSpec(brief=brief))
    assert refused.value.code == "too_many_tokens"
    assert "200,000" in str(refused.value.message)
    assert GenerationJob.objects.count() == 0
    assert gateway.stats()["received"] == 0


def test_it_estimates_tokens_high_and_stores_the_estimate(gateway, make_job):
    brief = "A quiet tea house interior, warm lamplight, wooden beams. " * 20
    job = make_job(brief=brief)
    assert job.estimated_input_tokens >= len(brief) / 4
    drain(job.id)
    call = reload(job).calls.get()
    assert job.estimated_input_tokens >= call.prompt_tokens


def test_it_refuses_a_blocked_term_at_no_cost(gateway, crew, project):
    BlockedTerm.objects.create(term="Gore")
    with pytest.raises(JobRefused) as refused:
        job_create(user=crew.member, project=project,
                   spec=JobSpec(brief="a battlefield full of gore"))
    assert refused.value.code == "blocked_term"
    assert "Nothing was charged" in str(refused.value.message)
    assert gateway.stats()["received"] == 0


def test_it_refuses_a_blocked_chinese_term(gateway, crew, project):
    BlockedTerm.objects.create(term="血腥")
    with pytest.raises(JobRefused):
        job_create(user=crew.member, project=project, spec=JobSpec(brief="一个血腥的场面"))


def test_it_holds_a_users_jobs_after_repeated_moderation_rejections(gateway, make_job, crew,
                                                                   settings):
    settings.MODERATION_BREAKER_LIMIT = 3
    for n in range(3):
        job = make_job(brief=f"nsfw photo {n}")
        assert drain(job.id) == "rejected"
    hold = ModerationHold.objects.get(user=crew.member)
    held = make_job(brief="a harmless landscape")
    assert held.status == "waiting" and held.wait_reason == "moderation_hold"
    assert drain(held.id) == "waiting"
    # Another member of the team is not affected.
    other = make_job(brief="a harmless landscape", user=crew.manager)
    assert drain(other.id) == "succeeded"
    assert hold_release(hold=hold, released_by=crew.manager) == 1
    assert reload(held).status == "queued"
    assert drain(held.id) == "succeeded"


def test_it_validates_a_whole_batch_before_creating_any_job(gateway, crew, project):
    BlockedTerm.objects.create(term="gore")
    specs = [JobSpec(brief="first brief"), JobSpec(brief="second, with gore"),
             JobSpec(brief="third")]
    with pytest.raises(JobRefused) as refused:
        batch_create(user=crew.member, project=project, specs=specs)
    assert "Row 2" in str(refused.value.message)
    assert GenerationJob.objects.count() == 0


def test_it_creates_one_job_per_batch_row(gateway, crew, project):
    specs = [JobSpec(brief=f"brief {n}", task_type="strict") for n in range(5)]
    batch = batch_create(user=crew.member, project=project, specs=specs, title="five")
    jobs = list(batch.jobs.order_by("id"))
    assert [j.brief for j in jobs] == [f"brief {n}" for n in range(5)]
    assert {str(j.temperature) for j in jobs} == {"0.55"}
    for job in jobs:
        assert drain(job.id) == "succeeded"


def test_it_refuses_a_person_reference_without_consent(gateway, crew, project):
    import io

    from PIL import Image

    from prompts.workspace.services.references import reference_confirm_consent, reference_create

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), "tan").save(buffer, "PNG")
    ref, _ = reference_create(project=project, user=crew.member, data=buffer.getvalue(),
                              original_name="face.png", shows_person=True)
    with pytest.raises(JobRefused) as refused:
        job_create(user=crew.member, project=project,
                   spec=JobSpec(brief="match this face", references=[ref]))
    assert refused.value.code == "consent_missing"
    reference_confirm_consent(reference=ref, user=crew.member)
    job = job_create(user=crew.member, project=project,
                     spec=JobSpec(brief="match this face", references=[ref]))
    assert drain(job.id) == "succeeded"


def test_it_records_the_model_and_refuses_one_not_enabled(gateway, crew, project, settings):
    from prompts.models import GatewayModel

    job = job_create(user=crew.member, project=project, spec=JobSpec(brief="a fox"))
    assert job.model == settings.GATEWAY_MODEL
    with pytest.raises(JobRefused) as refused:
        job_create(user=crew.member, project=project,
                   spec=JobSpec(brief="a fox", model="grok-build-9"))
    assert refused.value.code == "unknown_model"
    GatewayModel.objects.create(name="grok-build-9", enabled=True)
    job = job_create(user=crew.member, project=project,
                     spec=JobSpec(brief="a fox", model="grok-build-9"))
    assert job.model == "grok-build-9"
