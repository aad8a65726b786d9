"""Every workspace view: outsiders get 404 (never 403), every form needs its CSRF token,
and anonymous visitors are sent to the login page."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from prompts.models import Batch
from prompts.workspace.services.references import reference_create
from tests.workspace.conftest import image_bytes, make_record


@pytest.fixture
def objects(project, crew):
    record = make_record(project, crew.member)
    reference, _ = reference_create(project=project, user=crew.member, data=image_bytes(),
                                    original_name="a.jpg")
    batch = Batch.objects.create(project=project, created_by=crew.member)
    return {"project_id": project.id, "record_id": record.id, "job_id": record.job_id,
            "reference_id": reference.id, "batch_id": batch.id}


OBJECT_VIEWS = [
    ("GET", "project_detail", ["project_id"], {}),
    ("POST", "project_rename", ["project_id"], {"name": "Taken over"}),
    ("POST", "project_archive", ["project_id"], {"archive": "1"}),
    ("GET", "project_export", ["project_id", "csv"], {}),
    ("POST", "reference_upload", ["project_id"], {}),
    ("POST", "reference_from_url", ["project_id"], {"url": "https://example.com/a.jpg"}),
    ("GET", "reference_image", ["reference_id", "thumbnail"], {}),
    ("POST", "reference_consent", ["reference_id"], {"consent": "1"}),
    ("GET", "generate", ["project_id"], {}),
    ("POST", "generate", ["project_id"], {"brief": "x", "task_type": "balanced"}),
    ("POST", "generate_estimate", ["project_id"], {"brief": "x"}),
    ("GET", "job_detail", ["job_id"], {}),
    ("GET", "job_status", ["job_id"], {}),
    ("POST", "job_cancel", ["job_id"], {}),
    ("POST", "job_retry", ["job_id"], {}),
    ("GET", "record_detail", ["record_id"], {}),
    ("POST", "record_favourite", ["record_id"], {}),
    ("POST", "record_tags", ["record_id"], {"tags": "x"}),
    ("POST", "record_rating", ["record_id"], {"stars": "1"}),
    ("POST", "record_comment", ["record_id"], {"body": "x"}),
    ("GET", "record_rerun", ["record_id"], {}),
    ("POST", "record_rerun", ["record_id"], {"brief": "x", "task_type": "balanced"}),
    ("GET", "record_export", ["record_id", "a1111"], {}),
    ("GET", "batch_new", ["project_id"], {}),
    ("POST", "batch_new", ["project_id"], {"text": "x", "split": "line",
                                           "task_type": "balanced"}),
    ("GET", "batch_detail", ["batch_id"], {}),
    ("GET", "batch_progress", ["batch_id"], {}),
    ("POST", "batch_cancel", ["batch_id"], {}),
    ("POST", "batch_retry_failed", ["batch_id"], {}),
    ("GET", "batch_export", ["batch_id", "jsonl"], {}),
]


def url_for(name, args, objects):
    return reverse(name, args=[objects.get(arg, arg) for arg in args])


@pytest.mark.parametrize("method,name,args,data", OBJECT_VIEWS,
                         ids=[f"{m} {n}" for m, n, _a, _d in OBJECT_VIEWS])
def test_it_answers_404_to_outsiders(outsider_client, objects, method, name, args, data):
    url = url_for(name, args, objects)
    response = outsider_client.get(url) if method == "GET" else outsider_client.post(url, data)
    assert response.status_code == 404


def test_outsiders_change_nothing(outsider_client, objects, project):
    for method, name, args, data in OBJECT_VIEWS:
        if method == "POST":
            outsider_client.post(url_for(name, args, objects), data)
    project.refresh_from_db()
    assert project.name == "Spring Campaign" and project.archived_at is None
    assert project.jobs.count() == 1


FORMS = [(name, args, data) for method, name, args, data in OBJECT_VIEWS if method == "POST"]
FORMS.append(("project_list", [], {"name": "New"}))


@pytest.mark.parametrize("name,args,data", FORMS, ids=[name for name, _a, _d in FORMS])
def test_every_form_needs_its_csrf_token(csrf_client, objects, name, args, data):
    response = csrf_client.post(url_for(name, args, objects), data)
    assert response.status_code == 403


def test_a_form_with_its_token_goes_through(csrf_client, objects):
    page = csrf_client.get(reverse("record_detail", args=[objects["record_id"]]))
    token = page.cookies["csrftoken"].value
    response = csrf_client.post(reverse("record_comment", args=[objects["record_id"]]),
                                {"body": "hi", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


@pytest.mark.parametrize("name", ["project_list", "library", "batch_list"])
def test_lists_send_anonymous_visitors_to_login(db, name):
    response = Client().get(reverse(name))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_upload_by_an_outsider_stores_nothing(outsider_client, objects, settings):
    from prompts.models import ReferenceImage

    before = ReferenceImage.objects.count()
    outsider_client.post(reverse("reference_upload", args=[objects["project_id"]]),
                         {"files": [SimpleUploadedFile("x.jpg", image_bytes("JPEG", (99, 99)))]})
    assert ReferenceImage.objects.count() == before
