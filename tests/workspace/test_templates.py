"""Brief templates: `{variables}` parsed and refused by name, one field per variable, a
CSV batch whose header names the variables, records that keep template and values."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AuditEvent
from prompts.models import BriefTemplate, GenerationJob
from prompts.workspace.services.templates import (
    TemplateRefused,
    template_create,
    template_render,
    template_variables,
)
from tests.workspace.conftest import make_record

BODY = "Portrait of {subject} in {setting}, {lens}"


@pytest.fixture
def template(crew):
    return template_create(team=crew.team, user=crew.member, name="Product portrait",
                           body=BODY, task_type="strict")


def csv_file(text: str, name: str = "rows.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


# Parsing and rendering -----------------------------------------------------------------

def test_it_lists_the_variables_in_order_of_first_use():
    assert template_variables("{b} and {a}, then {b} again; 主体：{主体}") == ["b", "a", "主体"]


def test_it_keeps_doubled_braces_as_literal_braces():
    body = "JSON like {{\"k\": 1}} for {subject}"
    assert template_variables(body) == ["subject"]
    assert template_render(body, {"subject": "a teapot"}) == 'JSON like {"k": 1} for a teapot'


def test_it_inserts_values_as_they_are_never_as_template_text():
    assert template_render("A {x}", {"x": "{y} and }}"}) == "A {y} and }}"


@pytest.mark.parametrize("body,code", [
    ("Portrait of {subject", "unclosed_brace"),
    ("Portrait of {sub {ject}", "unclosed_brace"),
    ("Portrait of subject}", "stray_brace"),
    ("Portrait of { subject }", "bad_variable"),
    ("Portrait of {}", "bad_variable"),
    ("Portrait of {a-b}", "bad_variable"),
])
def test_it_refuses_a_malformed_template_saying_why(body, code):
    with pytest.raises(TemplateRefused) as refused:
        template_variables(body)
    assert refused.value.code == code and refused.value.field == "body"


def test_it_refuses_a_missing_variable_by_its_name():
    with pytest.raises(TemplateRefused) as refused:
        template_render(BODY, {"subject": "a teapot", "setting": "  ", "lens": "85mm"})
    assert refused.value.code == "missing_variable"
    assert refused.value.field == "setting"
    assert "“setting”" in str(refused.value.message)


def test_it_scans_a_long_template_in_linear_time():
    body = "{a}" + "x{{" * 20_000
    assert template_variables(body) == ["a"]


# Saving ---------------------------------------------------------------------------------

def test_it_saves_a_template_with_its_variables_and_audits_it(template, crew):
    assert template.variables == ["subject", "setting", "lens"]
    event = AuditEvent.objects.get(action="template.create")
    assert event.actor == crew.member and event.after["body"] == BODY


def test_it_refuses_a_template_without_variables(member_client):
    response = member_client.post(reverse("template_list"), {
        "name": "Plain", "body": "A teapot on a table", "task_type": "balanced"})
    assert response.status_code == 422
    assert "at least one variable in braces" in response.content.decode()
    assert not BriefTemplate.objects.exists()


def test_it_shows_a_syntax_error_on_the_template_field(member_client):
    response = member_client.post(reverse("template_list"), {
        "name": "Broken", "body": "A {subject", "task_type": "balanced"})
    assert response.status_code == 422
    assert "Write {{ for a literal brace" in response.content.decode()


# Generating from a template ----------------------------------------------------------------

def test_it_shows_one_field_per_variable(member_client, project, template):
    page = member_client.get(reverse("template_generate", args=[project.id, template.id]))
    html = page.content.decode()
    for name in ("subject", "setting", "lens"):
        assert f'name="v_{name}"' in html
    assert re.search(r'<input type="radio" name="task_type" value="strict"[^>]*checked', html)


def test_it_generates_one_job_from_the_values_and_keeps_them(member_client, project, template):
    response = member_client.post(reverse("template_generate", args=[project.id, template.id]), {
        "v_subject": "a jade teapot", "v_setting": "a tea house", "v_lens": "85mm",
        "task_type": "strict"})
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.id}/"
    assert job.brief == "Portrait of a jade teapot in a tea house, 85mm"
    assert job.template == template
    assert job.template_values == {"subject": "a jade teapot", "setting": "a tea house",
                                   "lens": "85mm"}


def test_it_refuses_an_empty_variable_on_its_field(member_client, project, template):
    response = member_client.post(reverse("template_generate", args=[project.id, template.id]), {
        "v_subject": "a jade teapot", "v_setting": "", "v_lens": "85mm", "task_type": "strict"})
    assert response.status_code == 422
    assert not GenerationJob.objects.exists()


def test_it_does_not_use_another_teams_template(outsider_client, crew, project, template):
    from tests.factories import ProjectFactory

    their_project = ProjectFactory(team=crew.other_team)
    for name in ("template_generate", "template_batch"):
        assert outsider_client.get(reverse(name, args=[their_project.id, template.id])) \
            .status_code == 404


# A batch from a CSV ------------------------------------------------------------------------

def test_it_makes_one_job_per_csv_row(member_client, project, template):
    rows = "lens,Subject,setting,notes\n" + "\n".join(
        f"85mm,product {n},studio {n},ignored" for n in range(1, 21)) + "\n\n"
    response = member_client.post(reverse("template_batch", args=[project.id, template.id]), {
        "csv_file": csv_file(rows), "task_type": "balanced", "title": "Spring line"})
    assert response.status_code == 302
    jobs = list(GenerationJob.objects.order_by("id"))
    assert len(jobs) == 20
    assert jobs[0].brief == "Portrait of product 1 in studio 1, 85mm"
    assert jobs[19].template_values == {"subject": "product 20", "setting": "studio 20",
                                        "lens": "85mm"}
    assert {job.template_id for job in jobs} == {template.id}
    assert jobs[0].batch.title == "Spring line"


def test_it_refuses_the_whole_batch_naming_the_bad_rows(member_client, project, template):
    rows = ("subject,setting,lens\n"
            "teapot,tea house,85mm\n"
            "cup,,35mm\n"
            "\n"
            "bowl,kitchen,\n")
    response = member_client.post(reverse("template_batch", args=[project.id, template.id]), {
        "csv_file": csv_file(rows), "task_type": "balanced"})
    html = response.content.decode()
    assert response.status_code == 422
    assert "Row 3: The variable “setting” has no value." in html
    assert "Row 5: The variable “lens” has no value." in html
    assert not GenerationJob.objects.exists()


def test_it_refuses_a_header_missing_a_variable(member_client, project, template):
    response = member_client.post(reverse("template_batch", args=[project.id, template.id]), {
        "csv_file": csv_file("subject,lens\nteapot,85mm\n"), "task_type": "balanced"})
    assert response.status_code == 422
    assert "Missing: setting." in response.content.decode()


def test_it_names_the_csv_row_when_the_pipeline_refuses_one(member_client, project, template):
    from prompts.models import BlockedTerm

    BlockedTerm.objects.create(term="forbidden")
    rows = "subject,setting,lens\nteapot,tea house,85mm\n\ncup,forbidden place,35mm\n"
    response = member_client.post(reverse("template_batch", args=[project.id, template.id]), {
        "csv_file": csv_file(rows), "task_type": "balanced"})
    assert response.status_code == 422
    assert "Row 4:" in response.content.decode()
    assert not GenerationJob.objects.exists()


def test_it_reads_a_gbk_csv(member_client, project, template):
    rows = "subject,setting,lens\n青花瓷茶壶,茶馆,85mm\n".encode("gb18030")
    response = member_client.post(reverse("template_batch", args=[project.id, template.id]), {
        "csv_file": SimpleUploadedFile("rows.csv", rows), "task_type": "balanced"})
    assert response.status_code == 302
    assert GenerationJob.objects.get().brief == "Portrait of 青花瓷茶壶 in 茶馆, 85mm"


# The library ----------------------------------------------------------------------------

def test_the_library_filters_by_template(member_client, project, crew, template):
    from_template = make_record(project, crew.member, positive_prompt="from the template")
    GenerationJob.objects.filter(pk=from_template.job_id).update(template=template)
    make_record(project, crew.member, positive_prompt="written by hand")
    html = member_client.get(reverse("library"), {"template": template.id}).content.decode()
    assert "from the template" in html and "written by hand" not in html
