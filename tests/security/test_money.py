"""Money: nothing a user does twice is billed twice; every CSV is safe to open.

Each test replays a finding of the security review (issue 11) against the running app."""

import csv
import io
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.services import api_token_create
from prompts.models import Batch, GenerationJob, ReferenceImage, SubmissionKey
from prompts.pipeline.creation import JobSpec
from prompts.pipeline.submissions import job_create_once
from prompts.workspace.services.references import reference_archive, reference_create
from tests.factories import ProjectFactory
from tests.security.conftest import submission_token
from tests.workspace.conftest import image_bytes, make_record

# 1. Double submission ----------------------------------------------------------------------


def _generate(client, project, token, brief="A lighthouse at dusk"):
    return client.post(reverse("generate", args=[project.id]),
                       {"brief": brief, "task_type": "balanced", "submission_token": token})


def test_it_creates_one_job_when_generate_is_double_clicked(member_client, project):
    token = submission_token(member_client.get(reverse("generate", args=[project.id])))
    first = _generate(member_client, project, token)
    second = _generate(member_client, project, token)  # the second click, 32 ms later
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert GenerationJob.objects.count() == 1


def test_it_answers_back_and_resubmit_with_the_first_job(member_client, project):
    token = submission_token(member_client.get(reverse("generate", args=[project.id])))
    job_url = _generate(member_client, project, token)["Location"]
    # Back, then the browser sends the form again (even edited): the first job, explained.
    page = member_client.post(reverse("generate", args=[project.id]),
                              {"brief": "An edited brief", "task_type": "creative",
                               "submission_token": token}, follow=True)
    assert page.redirect_chain[-1][0] == job_url
    assert "This form was sent already" in page.content.decode()
    assert GenerationJob.objects.count() == 1
    # A freshly opened form is a new job.
    token = submission_token(member_client.get(reverse("generate", args=[project.id])))
    assert _generate(member_client, project, token)["Location"] != job_url
    assert GenerationJob.objects.count() == 2


def test_it_renders_a_new_token_with_every_form(member_client, project):
    url = reverse("generate", args=[project.id])
    assert submission_token(member_client.get(url)) != submission_token(member_client.get(url))


def test_it_marks_every_job_creating_form_to_disable_its_button(member_client, project, crew):
    record = make_record(project, crew.member)
    for url in (reverse("generate", args=[project.id]), reverse("record_rerun", args=[record.id]),
                reverse("batch_new", args=[project.id])):
        page = member_client.get(url).content.decode()
        assert "data-submit-once" in page and 'name="submission_token"' in page, url


def test_it_creates_one_job_when_a_rerun_is_sent_twice(member_client, project, crew):
    record = make_record(project, crew.member)
    url = reverse("record_rerun", args=[record.id])
    token = submission_token(member_client.get(url))
    data = {"brief": "Same keeper, at dawn", "task_type": "strict", "submission_token": token}
    first, second = member_client.post(url, data), member_client.post(url, data)
    assert first["Location"] == second["Location"]
    assert GenerationJob.objects.filter(parent=record.job).count() == 1


def test_it_creates_one_batch_when_the_batch_form_is_sent_twice(member_client, project):
    url = reverse("batch_new", args=[project.id])
    token = submission_token(member_client.get(url))
    data = {"text": "One\nTwo", "split": "line", "task_type": "balanced",
            "submission_token": token}
    first, second = member_client.post(url, data), member_client.post(url, data)
    assert first["Location"] == second["Location"]
    assert Batch.objects.count() == 1 and GenerationJob.objects.count() == 2


def test_it_gives_a_split_into_batch_form_its_own_token(member_client, project):
    page = member_client.post(reverse("batch_new", args=[project.id]),
                              {"prefill": "1", "text": "One\nTwo", "task_type": "balanced",
                               "split": "line"})
    assert submission_token(page)
    assert not Batch.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_creates_one_job_when_two_requests_race_with_one_token(crew, project):
    """Two requests with one token at the same moment (two web processes): one job, and
    both answer with it. The unique (user, key) decides, in the database."""
    barrier, results = threading.Barrier(2), []

    def submit():
        try:
            barrier.wait(timeout=10)
            results.append(job_create_once(user=crew.member, project=project,
                                           spec=JobSpec(brief="A race"), key="form:job:race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2
    assert {job.id for job, _created in results} == {GenerationJob.objects.get().id}
    assert sorted(created for _job, created in results) == [False, True]


# 1. The API's Idempotency-Key ------------------------------------------------------------


@pytest.fixture
def token(crew):
    return api_token_create(user=crew.member, name="pipeline")[1]


def _post_job(client, token, body, key=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    import json

    return client.post("/api/v1/jobs", json.dumps(body), content_type="application/json",
                       **headers)


def test_it_returns_the_same_job_for_a_repeated_idempotency_key(client, token, project):
    body = {"project": project.id, "brief": "A lighthouse at dusk", "temperature": 0.6}
    first = _post_job(client, token, body, key="9a1f-retry-1")
    # The client timed out and retries; key order and spacing do not matter.
    second = _post_job(client, token, dict(reversed(list(body.items()))), key="9a1f-retry-1")
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json() == second.json()
    assert second["Location"] == f"/api/v1/jobs/{first.json()['id']}"
    assert GenerationJob.objects.count() == 1


def test_it_refuses_a_reused_idempotency_key_with_another_body(client, token, project):
    _post_job(client, token, {"project": project.id, "brief": "One"}, key="k-1")
    response = _post_job(client, token, {"project": project.id, "brief": "Two"}, key="k-1")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in response.json()["error"]["message"]
    assert GenerationJob.objects.count() == 1


def test_it_keeps_idempotency_keys_per_user_and_for_24_hours(client, token, crew, project,
                                                              frozen_clock):
    body = {"project": project.id, "brief": "One"}
    first = _post_job(client, token, body, key="shared").json()["id"]
    manager_token = api_token_create(user=crew.manager, name="m")[1]
    assert _post_job(client, manager_token, body, key="shared").json()["id"] != first
    frozen_clock.shift(timedelta(hours=23))
    assert _post_job(client, token, body, key="shared").json()["id"] == first
    frozen_clock.shift(timedelta(hours=1, seconds=1))
    later = _post_job(client, token, body, key="shared")
    assert later.status_code == 202 and later.json()["id"] != first
    assert SubmissionKey.objects.filter(key="api:shared").count() == 2  # one per user


def test_it_forgets_keys_older_than_24_hours_in_the_sweep(client, token, project,
                                                          frozen_clock):
    from prompts.pipeline.sweeper import jobs_sweep

    body = {"project": project.id, "brief": "One"}
    old = _post_job(client, token, body, key="old").json()["id"]
    frozen_clock.shift(timedelta(hours=20))
    _post_job(client, token, body, key="recent")
    frozen_clock.shift(timedelta(hours=4, seconds=1))
    assert jobs_sweep()["submission_keys"] == 1
    assert list(SubmissionKey.objects.values_list("key", flat=True)) == ["api:recent"]
    assert jobs_sweep()["submission_keys"] == 0
    # The job the old key created is kept; the key may now make a new one.
    assert GenerationJob.objects.filter(pk=old).exists()
    assert _post_job(client, token, body, key="old").json()["id"] != old


def test_it_creates_a_job_per_request_without_a_key_and_refuses_a_bad_key(client, token,
                                                                         project):
    body = {"project": project.id, "brief": "One"}
    assert _post_job(client, token, body).status_code == 202
    assert _post_job(client, token, body).status_code == 202
    assert GenerationJob.objects.count() == 2
    response = _post_job(client, token, body, key="x" * 256)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"


def test_it_does_not_store_a_repeats_images_again(client, token, project):
    import base64

    image = "data:image/png;base64," + base64.b64encode(image_bytes("PNG")).decode()
    body = {"project": project.id, "brief": "Match it", "images": [image]}
    _post_job(client, token, body, key="img")
    _post_job(client, token, body, key="img")
    assert ReferenceImage.objects.count() == 1 and GenerationJob.objects.count() == 1


def test_it_documents_the_idempotency_key_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").json()
    create = document["paths"]["/jobs"]["post"]
    header = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and "24" in header["description"]
    assert "200" in create["responses"] and "202" in create["responses"]
    assert "idempotency_key_reused" in create["responses"]["422"]["description"]


# 3. CSV formula injection -----------------------------------------------------------------

EVIL = '=HYPERLINK("http://evil.example/","x")'


def _cells(raw: bytes) -> list[str]:
    rows = csv.reader(io.StringIO(raw.decode("utf-8-sig")))
    return [cell for row in rows for cell in row]


def _assert_inert(cells: list[str], *names: str) -> None:
    for name in names:
        assert name not in cells, f"{name!r} written as a live cell"
        assert "'" + name in cells, f"{name!r} missing"
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


@pytest.mark.parametrize("group_by", ["project", "detail"])
def test_it_neutralises_a_member_named_project_in_the_usage_csv(manager_client, crew, charge,
                                                                 price, group_by):
    evil = ProjectFactory(team=crew.team, name=EVIL)
    charge(user=crew.member, project=evil)
    today = timezone.localdate().isoformat()
    response = manager_client.get(reverse("usage_report_csv"), {
        "team": crew.team.pk, "since": today, "until": today, "group_by": group_by})
    _assert_inert(_cells(b"".join(response.streaming_content)), EVIL)


def test_it_neutralises_the_usage_report_command_csv(crew, charge, price):
    evil = ProjectFactory(team=crew.team, name="+cmd|' /C calc'!A0")
    charge(user=crew.member, project=evil)
    out = io.StringIO()
    today = timezone.localdate().isoformat()
    call_command("usage_report", "--team", crew.team.name, "--since", today, "--until", today,
                 "--group-by", "project", stdout=out)
    assert not out.getvalue().startswith("\ufeff")
    _assert_inert(_cells(out.getvalue().encode()), "+cmd|' /C calc'!A0")


def test_it_neutralises_token_and_reference_names_in_the_audit_csv(admin_client, crew,
                                                                    project):
    api_token_create(user=crew.member, name="=cmd|' /C calc'!A0")
    reference, _created = reference_create(project=project, user=crew.member,
                                           data=image_bytes(), original_name="-2+3+cmd.jpg")
    reference_archive(reference=reference, user=crew.member)
    assert AuditEvent.objects.filter(action="reference.archive").exists()
    response = admin_client.get(reverse("console_audit_export"))
    cells = _cells(b"".join(response.streaming_content))
    assert any(cell.startswith("'=cmd|' /C calc'!A0") for cell in cells)  # the token's name
    assert "'-2+3+cmd.jpg" in cells
    _assert_inert(cells)


def test_it_neutralises_a_record_whose_prompt_starts_with_minus(member_client, project, crew):
    record = make_record(project, crew.member, positive_prompt="-1+1 cmd|' /C calc'!A0",
                         negative_prompt="@SUM(1+1)")
    response = member_client.get(reverse("record_export", args=[record.id, "csv"]))
    cells = _cells(response.content)
    assert "'-1+1 cmd|' /C calc'!A0" in cells and "'@SUM(1+1)" in cells
    _assert_inert(cells)
