"""House styles: versions written once, the project default, the choice on Generate, the
style enforced on a real answer, and the checkpoint the ComfyUI export loads."""

import json
from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.urls import reverse

from accounts.models import AuditEvent
from prompts.models import GenerationJob, HouseStyleVersion
from prompts.models.studio import HouseStyleVersionImmutable
from prompts.pipeline.creation import JobSpec, batch_create, job_create
from prompts.pipeline.run import _payload
from prompts.workspace.exports import comfyui_workflow
from prompts.workspace.services.styles import (
    StyleRefused,
    StyleRules,
    project_default_style_set,
    style_archive,
    style_create,
    style_version_add,
)
from tests.conftest import drain

RULES = StyleRules(negative_terms="logo, signature, extra fingers",
                   style_words="soft window light", width=832, height=1216,
                   sampler="DPM++ 2M Karras", steps=28, cfg_scale=Decimal("6.5"),
                   checkpoint="juggernautXL_v9.safetensors")


@pytest.fixture
def style(crew):
    return style_create(team=crew.team, user=crew.manager, name="Catalogue", rules=RULES)


def test_it_creates_a_style_with_version_one_and_audits_it(style, crew):
    version = style.current_version()
    assert version.number == 1 and version.negative_terms == "logo, signature, extra fingers"
    assert AuditEvent.objects.filter(action="style.create", actor=crew.manager).exists()


def test_a_change_is_a_new_version_and_old_versions_never_change(style, crew):
    first = style.current_version()
    second = style_version_add(style=style, user=crew.manager, note="warmer",
                               rules=StyleRules(negative_terms="watermark", steps=30))
    assert second.number == 2 and style.current_version() == second
    first.refresh_from_db()
    assert first.steps == 28  # untouched
    with pytest.raises(HouseStyleVersionImmutable):
        first.save()
    with pytest.raises(HouseStyleVersionImmutable):
        HouseStyleVersion.objects.filter(pk=first.pk).update(steps=1)


def test_the_database_refuses_a_half_size(style):
    with pytest.raises(IntegrityError):
        HouseStyleVersion.objects.create(style=style, number=9, width=832)


def test_it_refuses_an_empty_style(crew):
    with pytest.raises(StyleRefused):
        style_create(team=crew.team, user=crew.manager, name="Nothing", rules=StyleRules())


def test_the_style_page_adds_a_version_from_the_form(member_client, style):
    response = member_client.post(reverse("style_detail", args=[style.id]), {
        "negative_terms": "watermark, logo", "aspect": "3:4", "note": "portrait crops"})
    assert response.status_code == 302
    latest = style.current_version()
    assert (latest.number, latest.aspect, latest.width) == (2, "3:4", None)


def test_the_style_form_refuses_a_size_and_an_aspect_together(member_client, style):
    response = member_client.post(reverse("style_detail", args=[style.id]), {
        "width": "832", "height": "1216", "aspect": "3:4"})
    assert response.status_code == 422
    assert style.versions.count() == 1


def test_generate_preselects_the_projects_default_and_records_the_version(
        member_client, project, style, crew):
    project_default_style_set(project=project, style=style, user=crew.manager)
    page = member_client.get(reverse("generate", args=[project.id])).content.decode()
    assert f'<option value="{style.id}" selected>' in page
    member_client.post(reverse("generate", args=[project.id]), {
        "brief": "A jade teapot", "task_type": "balanced", "style": style.id})
    assert GenerationJob.objects.get().style_version == style.current_version()


def test_choosing_no_style_on_the_form_means_none(member_client, project, style, crew):
    project_default_style_set(project=project, style=style, user=crew.manager)
    member_client.post(reverse("generate", args=[project.id]), {
        "brief": "A jade teapot", "task_type": "balanced", "style": ""})
    assert GenerationJob.objects.get().style_version is None


def test_entry_points_without_a_choice_use_the_projects_default(project, style, crew):
    project_default_style_set(project=project, style=style, user=crew.manager)
    job = job_create(user=crew.member, project=project, spec=JobSpec(brief="A teapot"))
    batch = batch_create(user=crew.member, project=project,
                         specs=[JobSpec(brief="A cup"), JobSpec(brief="A bowl")])
    version = style.current_version()
    assert job.style_version == version
    assert {j.style_version_id for j in batch.jobs.all()} == {version.id}


def test_an_archived_style_is_dropped_as_the_default(project, style, crew):
    project_default_style_set(project=project, style=style, user=crew.manager)
    style_archive(style=style, user=crew.manager)
    project.refresh_from_db()
    assert project.default_style is None
    job = job_create(user=crew.member, project=project, spec=JobSpec(brief="A teapot"))
    assert job.style_version is None


def test_another_teams_style_is_refused(project, crew):
    theirs = style_create(team=crew.other_team, user=crew.outsider, name="Theirs", rules=RULES)
    with pytest.raises(StyleRefused):
        project_default_style_set(project=project, style=theirs, user=crew.manager)
    from prompts.pipeline.creation import JobRefused

    with pytest.raises(JobRefused) as refused:
        job_create(user=crew.member, project=project, spec=JobSpec(
            brief="A teapot", style_version=theirs.current_version(), use_project_style=False))
    assert refused.value.code == "style_unavailable"


def test_the_worker_sends_the_style_with_the_request(project, style, crew):
    job = job_create(user=crew.member, project=project, spec=JobSpec(
        brief="A jade teapot", style_version=style.current_version(), use_project_style=False))
    job = GenerationJob.objects.select_related("project", "style_version").get(pk=job.pk)
    system = _payload(job, has_references=False)["messages"][0]["content"]
    assert "negative_prompt must include: logo, signature, extra fingers" in system


def test_a_style_is_enforced_on_a_record_whose_answer_lacked_its_terms(gateway, project, style,
                                                                      crew):
    # The simulator writes its own negative prompt and size; the style's terms are not in it.
    job = job_create(user=crew.member, project=project, spec=JobSpec(
        brief="A jade teapot on linen", style_version=style.current_version(),
        use_project_style=False))
    assert drain(job.id) == "succeeded"
    record = GenerationJob.objects.get(pk=job.pk).record
    raw_negative = json.loads(record.raw_text)["negative_prompt"]
    assert "logo" not in raw_negative and "signature" not in raw_negative  # it lacked them
    terms = [term.strip() for term in record.negative_prompt.split(",")]
    assert {"logo", "signature", "extra fingers"} <= set(terms)
    assert record.negative_prompt.startswith(raw_negative.rstrip(", "))
    assert "soft window light" in record.positive_prompt
    assert (record.width, record.height, record.sampler, record.steps) == (
        832, 1216, "DPM++ 2M Karras", 28)
    assert record.cfg_scale == Decimal("6.5")
    assert record.job.style_version.number == 1


def test_the_comfyui_export_loads_the_styles_checkpoint(project, style, crew):
    from tests.workspace.conftest import make_record

    record = make_record(project, crew.member)
    assert comfyui_workflow(record)["4"]["inputs"]["ckpt_name"] == "sd_xl_base_1.0.safetensors"
    GenerationJob.objects.filter(pk=record.job_id).update(style_version=style.current_version())
    record.refresh_from_db()
    record.job.refresh_from_db()
    assert comfyui_workflow(record)["4"]["inputs"]["ckpt_name"] == "juggernautXL_v9.safetensors"


def test_the_project_page_sets_the_default_style(member_client, project, style):
    response = member_client.post(reverse("project_style", args=[project.id]),
                                  {"style": style.id})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.default_style == style
    assert AuditEvent.objects.filter(action="project.default_style").exists()
