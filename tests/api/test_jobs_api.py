import base64
import io
from decimal import Decimal

from django.test import override_settings
from PIL import Image

from accounts.models import Budget
from prompts.models import GenerationJob, ReferenceImage
from prompts.usage.money import yuan
from prompts.workspace.services import references
from tests.conftest import drain
from tests.factories import JobFactory, ProjectFactory


def _png_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 40)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_it_queues_a_job_and_returns_it_with_its_record(api, member_token, project, gateway):
    response = api("post", "jobs", member_token, json={"project": project.id,
                                                      "brief": "A lighthouse at dusk"})
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    assert drain(job_id) == "succeeded"
    job = api("get", f"jobs/{job_id}", member_token).json()
    assert job["status"] == "succeeded" and job["attempts"] == 1
    assert job["record"]["positive_prompt"]


def test_it_finds_the_project_by_name(api, member_token, project):
    response = api("post", "jobs", member_token, json={"project": "Spring Campaign",
                                                      "brief": "A fox", "task_type": "strict"})
    assert response.status_code == 202
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert job.project == project and job.temperature == Decimal("0.55")


def test_it_refuses_requests_without_a_valid_token(api, member_token, project):
    for token in (None, "gw_not-a-real-token-at-all", member_token[:-2] + "xx"):
        response = api("get", "usage", token)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_hides_another_teams_job_and_project(api, member_token, outsider_token, project,
                                                 crew):
    job_id = api("post", "jobs", member_token,
                 json={"project": project.id, "brief": "A fox"}).json()["id"]
    response = api("get", f"jobs/{job_id}", outsider_token)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert api("get", "jobs/999999", member_token).status_code == 404
    response = api("post", "jobs", outsider_token, json={"project": project.id, "brief": "x"})
    assert response.status_code == 404
    assert not GenerationJob.objects.filter(created_by=crew.outsider).exists()


def test_it_explains_validation_errors(api, member_token, project):
    cases = [
        ({"brief": "no project"}, "invalid_field", "project"),
        ({"project": project.id}, "invalid_field", "brief"),
        ({"project": project.id, "brief": "x", "temperature": "warm"}, "invalid_field",
         "temperature"),
        ({"project": project.id, "brief": "x", "max_tokens": 1.5}, "invalid_field", "max_tokens"),
        ({"project": project.id, "brief": "x", "images": ["ftp://example.com/a.png"]},
         "invalid_field", "images"),
        ({"project": project.id, "brief": "x", "images": ["data:image/png;base64,@@@"]},
         "invalid_field", "images"),
    ]
    for body, code, field in cases:
        response = api("post", "jobs", member_token, json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["message"].startswith(field)
    response = api("post", "jobs", member_token, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert not GenerationJob.objects.exists()


def test_it_refuses_what_the_job_service_refuses_with_422(api, member_token, project):
    response = api("post", "jobs", member_token, json={"project": project.id, "brief": "  "})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "empty_brief"
    response = api("post", "jobs", member_token,
                   json={"project": project.id, "brief": "x", "task_type": "wild"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_task_type"


def test_it_refuses_a_job_over_the_budget_with_422(api, member_token, project, crew):
    Budget.objects.create(team=crew.team, monthly_limit=Decimal("0"))
    response = api("post", "jobs", member_token, json={"project": project.id, "brief": "x"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "budget_exceeded"
    assert "monthly budget" in response.json()["error"]["message"]


def test_it_refuses_too_many_input_tokens_with_413(api, member_token, project):
    # One token per CJK character: 250,000 characters are over the 200,000-token guard.
    response = api("post", "jobs", member_token,
                   json={"project": project.id, "brief": "灯塔" * 125_000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_many_tokens"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_it_refuses_a_body_that_is_too_large_with_413(api, member_token, project):
    response = api("post", "jobs", member_token, json={"project": project.id, "brief": "x" * 2000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_it_accepts_images_as_data_urls_and_https_links(api, member_token, project, gateway,
                                                       monkeypatch):
    # The link is fetched by GrokWeb (the one patch point: the guarded download) and stored
    # as a reference; the gateway is never handed a link to fetch.
    fetched = []
    link_image = io.BytesIO()
    Image.new("RGB", (80, 60), (10, 120, 200)).save(link_image, "JPEG")

    def fetch(url, *, max_bytes):
        fetched.append(url)
        return link_image.getvalue(), url

    monkeypatch.setattr(references, "fetch_reference_url", fetch)
    response = api("post", "jobs", member_token, json={
        "project": project.id, "brief": "Match this face",
        "images": [_png_data_url(), "https://images.example.com/ref.jpg"]})
    assert response.status_code == 202, response.json()
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert fetched == ["https://images.example.com/ref.jpg"]
    assert job.references.count() == 2
    assert job.image_urls == []
    linked = ReferenceImage.objects.get(source_url="https://images.example.com/ref.jpg")
    assert linked.project == project and linked.original_name == "ref.jpg"


def test_it_refuses_an_image_pillow_cannot_read_with_422(api, member_token, project):
    fake = "data:image/png;base64," + base64.b64encode(b"not an image at all").decode()
    response = api("post", "jobs", member_token,
                   json={"project": project.id, "brief": "x", "images": [fake]})
    assert response.status_code == 422
    assert response.json()["error"]["code"].startswith("image_")
    assert not GenerationJob.objects.exists()


def test_it_answers_errors_in_the_callers_language(api, member_token, project):
    response = api("get", "jobs/999999", member_token, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 404
    assert response.json()["error"]["message"] != ""
    response = api("get", "usage", None, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 401


def test_it_reports_the_callers_usage(api, member_token, project, gateway, crew):
    other = ProjectFactory(team=crew.team, name="Other")
    for target in (project, other):
        job_id = api("post", "jobs", member_token,
                     json={"project": target.id, "brief": "A fox"}).json()["id"]
        drain(job_id)
    usage = api("get", "usage", member_token).json()
    assert usage["calls"] == 2
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["unpriced_calls"] == 2
    assert api("get", "usage?since=2001-01-01&until=2001-01-31", member_token).json()["calls"] == 0


def test_it_validates_the_usage_period(api, member_token):
    assert api("get", "usage?since=yesterday", member_token).status_code == 400
    response = api("get", "usage?since=2025-02-01&until=2025-01-01", member_token)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_field"


def test_it_needs_no_csrf_token(member_token, project):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/jobs", data={"project": project.id, "brief": "x"},
                           content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {member_token}")
    assert response.status_code == 202


def test_it_answers_a_new_job_with_its_location(api, member_token, project):
    response = api("post", "jobs", member_token, json={"project": project.id, "brief": "A fox"})
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert response["Location"] == f"/api/v1/jobs/{job_id}"
    assert api("get", response["Location"].removeprefix("/api/v1/"), member_token).json()[
        "id"] == job_id


def test_it_names_the_project_it_cannot_find(api, member_token, outsider_token, project):
    for value in ("Winter Campaign", 987654):
        response = api("post", "jobs", member_token, json={"project": value, "brief": "A fox"})
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": "not_found", "message": f"No project “{value}” in your teams."}
    # Another team's project reads the same as a missing one.
    response = api("post", "jobs", outsider_token, json={"project": project.id, "brief": "x"})
    assert response.json()["error"]["message"] == f"No project “{project.id}” in your teams."
    response = api("get", "jobs?project=Winter%20Campaign", member_token)
    assert response.status_code == 404 and "Winter Campaign" in response.json()["error"]["message"]


def test_it_lists_the_callers_jobs_newest_first_in_pages(api, member_token, project, crew,
                                                          settings):
    other = ProjectFactory(team=crew.team, name="Autumn")
    older = JobFactory(project=project, created_by=crew.member, status="succeeded")
    JobFactory(project=project, created_by=crew.manager)  # a teammate's: not listed
    newer = [JobFactory(project=other, created_by=crew.member, status="failed",
                        error_code="invalid", error_message="bad request") for _ in range(2)]
    body = api("get", "jobs", member_token).json()
    assert body["count"] == 3 and body["page"] == 1 and body["pages"] == 1
    assert [job["id"] for job in body["results"]] == [newer[1].id, newer[0].id, older.id]
    assert body["results"][0]["project"] == {"id": other.id, "name": "Autumn"}
    assert body["results"][0]["error"] == {"code": "invalid", "message": "bad request"}
    assert body["next"] is None and body["previous"] is None

    assert [j["id"] for j in api("get", "jobs?status=succeeded", member_token).json()[
        "results"]] == [older.id]
    assert {j["id"] for j in api("get", "jobs?project=Autumn", member_token).json()[
        "results"]} == {job.id for job in newer}
    assert api("get", "jobs?since=2999-01-01", member_token).json()["count"] == 0


def test_it_pages_the_job_list_and_refuses_bad_filters(api, member_token, project, crew,
                                                        monkeypatch):
    monkeypatch.setattr("prompts.api.views.JOBS_PER_PAGE", 2)
    jobs = [JobFactory(project=project, created_by=crew.member) for _ in range(5)]
    first = api("get", "jobs?status=queued", member_token).json()
    assert first["pages"] == 3 and len(first["results"]) == 2
    assert first["next"] == "http://testserver/api/v1/jobs?status=queued&page=2"
    last = api("get", "jobs?status=queued&page=3", member_token).json()
    assert [job["id"] for job in last["results"]] == [jobs[0].id]
    assert last["previous"].endswith("page=2") and last["next"] is None
    assert api("get", "jobs?page=4", member_token).status_code == 404
    for query, field in (("status=done", "status"), ("page=0", "page"), ("page=x", "page"),
                         ("since=yesterday", "since")):
        response = api("get", f"jobs?{query}", member_token)
        assert response.status_code == 400, query
        assert response.json()["error"]["message"].startswith(f"{field}:")


def test_it_reports_a_jobs_tokens_and_cost_exactly_and_as_shown(api, member_token, project,
                                                                 gateway, price):
    job_id = api("post", "jobs", member_token,
                 json={"project": project.id, "brief": "A lighthouse at dusk"}).json()["id"]
    assert drain(job_id) == "succeeded"
    usage = api("get", f"jobs/{job_id}", member_token).json()["usage"]
    assert usage["calls"] == 1 and usage["prompt_tokens"] > 0
    cost = (Decimal(usage["prompt_tokens"]) * 2 + Decimal(usage["completion_tokens"]) * 8) / 10**6
    assert usage["cost_rmb"] == f"{cost:.6f}"
    assert usage["cost_display"] == f"¥{yuan(cost)}"
