"""A job's page: live status, attempts, the timeline in words, cancel, retry, explanations."""

from django.urls import reverse
from django.utils import timezone

from prompts.models import GatewayCall, GenerationJob
from prompts.pipeline.creation import JobSpec, job_create
from prompts.pipeline.run import job_run
from prompts.usage.money import yuan
from prompts.workspace.services.references import reference_upload
from tests.conftest import drain
from tests.workspace.conftest import image_bytes


def status_fragment(client, job) -> str:
    return client.get(reverse("job_status", args=[job.id]),
                      HTTP_HX_REQUEST="true").content.decode()


def test_it_polls_while_the_job_runs_and_stops_when_it_ends(member_client, project, crew,
                                                            gateway):
    job = job_create(user=crew.member, project=project, spec=JobSpec(brief="a red kite"))
    fragment = status_fragment(member_client, job)
    assert 'hx-trigger="every 1500ms"' in fragment and "Queued" in fragment
    assert "<html" not in fragment  # the fragment alone, for htmx
    assert drain(job.id) == "succeeded"
    fragment = status_fragment(member_client, job)
    assert "hx-trigger" not in fragment
    assert "Succeeded" in fragment and "Open the prompt record" in fragment


def test_it_tells_the_timeline_with_retry_after_and_backoff(member_client, project, crew,
                                                            gateway):
    gateway.script([{"status": 429, "headers": {"Retry-After": "12"}}, {"status": 503}])
    job = job_create(user=crew.member, project=project, spec=JobSpec(brief="a red kite"))
    assert drain(job.id) == "succeeded"
    page = member_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "429 — waited 12 s per Retry-After" in page
    assert "503 — retried after" in page
    assert "succeeded" in page
    assert "3 attempts" in page


def test_it_explains_a_rejection_and_shows_the_gateways_words(member_client, project, crew,
                                                              gateway):
    gateway.script([{"status": 400, "body": {"error": {"code": "content_policy_violation",
                                                      "message": "flagged by policy X"}}}])
    job = job_create(user=crew.member, project=project, spec=JobSpec(brief="a red kite"))
    assert drain(job.id) == "rejected"
    page = member_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "content filter refused this brief" in page
    assert "What the gateway said" in page and "flagged by policy X" in page
    assert "400 — rejected by the content filter" in page


def test_it_cancels_a_queued_job_and_not_a_finished_one(member_client, queued_job):
    member_client.post(reverse("job_cancel", args=[queued_job.id]))
    queued_job.refresh_from_db()
    assert queued_job.status == "cancelled"
    response = member_client.post(reverse("job_cancel", args=[queued_job.id]), follow=True)
    assert "Only a queued or waiting job can be cancelled." in response.content.decode()


def test_it_retries_a_failed_job(member_client, project, crew):
    job = GenerationJob.objects.create(
        project=project, created_by=crew.member, brief="x", temperature="0.65",
        model="grok-build-0.1", status="failed", error_code="transient",
        error_message="The gateway failed 5 times in a row")
    page = member_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "kept failing" in page and "Retry" in page
    member_client.post(reverse("job_retry", args=[job.id]))
    job.refresh_from_db()
    assert job.status == "queued" and job.error_code == ""


def test_it_explains_why_a_job_waits(member_client, project, crew):
    job = GenerationJob.objects.create(
        project=project, created_by=crew.member, brief="x", temperature="0.65",
        model="grok-build-0.1", status="waiting", wait_reason="budget")
    page = member_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "does not cover the most this job can cost" in page
    assert "Cancel" in page


def test_it_shows_retrying_with_the_next_attempt_and_the_last_error(member_client, project,
                                                                    crew, gateway):
    gateway.script([{"status": 503, "body": {"error": {"message": "upstream overloaded"}}}])
    job = job_create(user=crew.member, project=project, spec=JobSpec(brief="a red kite"))
    job_run(job.id)  # one attempt: 503, retried later
    job.refresh_from_db()
    assert job.status == "queued" and job.next_attempt_at is not None
    fragment = status_fragment(member_client, job)
    assert '<span class="badge status-retrying" id="job-status-badge">Retrying</span>' in fragment
    at = timezone.localtime(job.next_attempt_at).strftime("%H:%M:%S")
    assert f"The next attempt starts at {at}." in fragment
    assert "Last error: 503 — retried after" in fragment
    assert "upstream overloaded" in fragment
    listing = member_client.get(reverse("job_list")).content.decode()
    assert "status-retrying" in listing.split(f'id="job-row-{job.id}"')[1].split("</tr>")[0]
    assert drain(job.id) == "succeeded"
    assert "status-retrying" not in status_fragment(member_client, job)


def test_it_shows_what_a_finished_job_sent_and_cost(member_client, project, crew, gateway,
                                                    price):
    reference = reference_upload(project=project, user=crew.member, data=image_bytes("JPEG"),
                                 original_name="kite.jpg").reference
    job = job_create(user=crew.member, project=project,
                     spec=JobSpec(brief="a red kite", references=[reference]))
    assert 'id="job-actuals"' not in status_fragment(member_client, job)  # not before it ends
    assert drain(job.id) == "succeeded"
    call = GatewayCall.objects.get(job=job)
    fragment = status_fragment(member_client, job)
    assert f'<dd id="job-input-tokens">{call.prompt_tokens:,}</dd>' in fragment
    assert f'<dd id="job-output-tokens">{call.completion_tokens:,}</dd>' in fragment
    assert f"¥{yuan(call.cost)}" in fragment.split('id="job-cost"')[1].split("</dd>")[0]
    sent = fragment.split('id="job-references"')[1].split("</dd>")[0]
    assert reverse("reference_image", args=[reference.id, "thumbnail"]) in sent
    assert 'title="kite.jpg"' in sent


def test_it_groups_thousands_in_a_jobs_token_counts(member_client, project, crew):
    job = job_create(user=crew.member, project=project, spec=JobSpec(brief="词" * 5000))
    page = member_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert f'<dd id="job-estimated-tokens">{job.estimated_input_tokens:,}</dd>' in page
    assert job.estimated_input_tokens > 1000
