"""Removing a reference from a project: gone from the project page, the pickers and new jobs;
still shown on the jobs and records that used it; back when the same file is uploaded again."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from prompts.models import GenerationJob, ReferenceImage
from prompts.pipeline.creation import JobRefused, JobSpec, batch_create, job_create
from prompts.workspace.services.references import reference_archive, reference_create
from tests.workspace.conftest import image_bytes, make_record


@pytest.fixture
def reference(project, crew) -> ReferenceImage:
    ref, _created = reference_create(project=project, user=crew.member,
                                     data=image_bytes("JPEG"), original_name="harbour.jpg")
    return ref


def archive(client, reference):
    return client.post(reverse("reference_archive", args=[reference.id]))


def test_it_removes_a_reference_from_the_project_page(member_client, project, reference):
    page = member_client.get(reverse("project_detail", args=[project.id])).content.decode()
    assert f'id="reference-{reference.id}"' in page and "Remove" in page
    assert "data-confirm=" in page
    response = archive(member_client, reference)
    assert response.status_code == 302
    assert response["Location"].endswith(reverse("project_detail", args=[project.id])
                                         + "#references")
    page = member_client.get(response["Location"]).content.decode()
    assert f'id="reference-{reference.id}"' not in page
    assert "“harbour.jpg” removed from the project" in page
    reference.refresh_from_db()
    assert reference.archived_at is not None
    assert reference.thumbnail.storage.exists(reference.thumbnail.name)  # nothing deleted


def test_it_records_who_removed_it(member_client, crew, reference):
    archive(member_client, reference)
    event = AuditEvent.objects.get(action="reference.archive")
    assert event.actor == crew.member and event.target_id == str(reference.id)


def test_it_hides_a_removed_reference_from_the_pickers(member_client, project, crew, reference):
    kept, _created = reference_create(project=project, user=crew.member,
                                      data=image_bytes("PNG", size=(300, 300)),
                                      original_name="kept.png")
    reference_archive(reference=reference, user=crew.member)
    for name in ("generate", "batch_new"):
        page = member_client.get(reverse(name, args=[project.id])).content.decode()
        assert reverse("reference_image", args=[kept.id, "thumbnail"]) in page
        assert reverse("reference_image", args=[reference.id, "thumbnail"]) not in page


def test_it_refuses_a_removed_reference_when_generating(member_client, project, crew,
                                                        reference):
    reference_archive(reference=reference, user=crew.member)
    response = member_client.post(reverse("generate", args=[project.id]), {
        "brief": "a harbour at dawn", "task_type": "balanced", "references": [reference.id]})
    assert response.status_code == 200  # the picker no longer offers it: a form error
    assert not GenerationJob.objects.exists()


def test_it_refuses_a_removed_reference_in_job_create_and_batch_create(project, crew,
                                                                       reference):
    reference_archive(reference=reference, user=crew.member)
    spec = JobSpec(brief="a harbour at dawn", references=[reference])
    with pytest.raises(JobRefused) as refused:
        job_create(user=crew.member, project=project, spec=spec)
    assert refused.value.code == "reference_archived"
    assert "“harbour.jpg” was removed from this project" in refused.value.message
    with pytest.raises(JobRefused) as refused:
        batch_create(user=crew.member, project=project, specs=[spec])
    assert refused.value.code == "reference_archived"
    assert not GenerationJob.objects.exists()


def test_it_keeps_the_thumbnail_on_past_records(member_client, project, crew, reference):
    record = make_record(project, crew.member)
    record.job.references.add(reference)
    reference_archive(reference=reference, user=crew.member)
    page = member_client.get(reverse("record_detail", args=[record.id])).content.decode()
    thumbnail = reverse("reference_image", args=[reference.id, "thumbnail"])
    assert f'src="{thumbnail}"' in page
    response = member_client.get(thumbnail)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"


def test_it_brings_a_removed_reference_back_on_upload(member_client, project, crew, reference):
    reference_archive(reference=reference, user=crew.member)
    response = member_client.post(reverse("reference_upload", args=[project.id]), {
        "files": [SimpleUploadedFile("harbour-again.jpg", image_bytes("JPEG"))]}, follow=True)
    page = response.content.decode()
    assert "it is back in this project" in page
    assert f'id="reference-{reference.id}"' in page
    assert ReferenceImage.objects.filter(project=project).count() == 1
    reference.refresh_from_db()
    assert reference.archived_at is None
    job = job_create(user=crew.member, project=project,
                     spec=JobSpec(brief="a harbour at dawn", references=[reference]))
    assert list(job.references.all()) == [reference]


def test_it_is_a_404_for_outsiders(outsider_client, reference):
    assert archive(outsider_client, reference).status_code == 404
    reference.refresh_from_db()
    assert reference.archived_at is None


def test_it_only_removes_on_post(member_client, reference):
    response = member_client.get(reverse("reference_archive", args=[reference.id]))
    assert response.status_code == 405
    reference.refresh_from_db()
    assert reference.archived_at is None


def test_it_enforces_csrf(csrf_client, project, reference):
    assert archive(csrf_client, reference).status_code == 403
    reference.refresh_from_db()
    assert reference.archived_at is None
    page = csrf_client.get(reverse("project_detail", args=[project.id]))
    token = page.cookies["csrftoken"].value
    response = csrf_client.post(reverse("reference_archive", args=[reference.id]),
                                {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    reference.refresh_from_db()
    assert reference.archived_at is not None


def test_it_must_be_logged_in(reference):
    response = Client().post(reverse("reference_archive", args=[reference.id]))
    assert response.status_code == 302 and "login" in response["Location"]
    reference.refresh_from_db()
    assert reference.archived_at is None
