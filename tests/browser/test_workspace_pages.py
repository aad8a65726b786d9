"""What only a browser shows on the workspace pages: the re-run form's presets, the library's
select-all, the reference picker's captions, several files in one upload, the estimates
before anything is sent, a brief split into a batch, and ¥ on the dashboard's chart."""

import re
from decimal import Decimal

from playwright.sync_api import expect

from accounts.models import Budget
from prompts.models import Batch, GenerationJob, ReferenceImage
from prompts.usage.money import yuan
from prompts.workspace.services.references import reference_upload
from tests.factories import ModelPriceFactory
from tests.workspace.conftest import image_bytes, make_record


def test_choosing_another_task_type_on_a_re_run_applies_its_preset(as_user, crew, project):
    record = make_record(project, crew.member)  # its job: balanced, 0.65
    page = as_user(crew.member)
    page.goto(f"/records/{record.id}/rerun/")
    page.click("#advanced summary")
    expect(page.locator("#id_temperature")).to_have_value("")  # the preset, not a copy of it
    page.get_by_label("Strict reference matching").check()
    expect(page.locator("#id_temperature")).to_have_value("0.55")
    page.get_by_label("Creative exploration").check()
    expect(page.locator("#id_temperature")).to_have_value("0.70")
    page.get_by_label("Strict reference matching").check()
    page.click("#generate-submit")
    expect(page.locator("#job-status")).to_be_visible()
    assert GenerationJob.objects.get(parent=record.job).temperature == Decimal("0.55")


def test_the_library_selects_every_record_for_export(as_user, crew, project):
    records = [make_record(project, crew.member, positive_prompt=f"koi {n}") for n in range(3)]
    page = as_user(crew.member)
    page.goto("/library/")
    page.check("#select-all")
    for record in records:
        expect(page.locator(f"#record-row-{record.id} input[name=ids]")).to_be_checked()
    expect(page.locator("#selected-count")).to_have_text("3 selected")
    page.locator(f"#record-row-{records[0].id} input[name=ids]").uncheck()
    expect(page.locator("#select-all")).not_to_be_checked()
    page.check("#select-all")
    with page.expect_download() as download:
        page.click("#export-form button[value=csv]")
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert sorted(re.findall(r"koi \d", text)) == ["koi 0", "koi 1", "koi 2"]


def test_the_library_fits_a_phone_and_shows_each_records_pictures(as_user, crew, project):
    reference = reference_upload(project=project, user=crew.member, data=image_bytes("JPEG"),
                                 original_name="koi.jpg").reference
    record = make_record(project, crew.member)
    record.job.references.set([reference])
    page = as_user(crew.member, width=390)
    page.goto("/library/")
    thumb = page.locator(f"#record-row-{record.id} .library-thumbs img")
    expect(thumb).to_be_visible()
    thumb.evaluate("img => img.decode()")  # the picture loads (it is lazy-loaded) and shows
    assert thumb.evaluate("img => img.naturalWidth") > 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_reference_pickers_captions_stay_inside_their_cards(as_user, crew, project):
    name = "harbour-dusk-wide-establishing-shot-final-v3.jpg"
    reference_upload(project=project, user=crew.member, data=image_bytes("JPEG"),
                     original_name=name)
    page = as_user(crew.member)
    page.goto(f"/projects/{project.id}/generate/")
    card = page.locator(".reference-choice").first
    caption = card.locator(".caption")
    box, text = card.bounding_box(), caption.bounding_box()
    assert text["x"] + text["width"] <= box["x"] + box["width"]
    assert caption.evaluate("el => el.scrollWidth > el.clientWidth")  # cut with an ellipsis
    expect(card).to_have_attribute("title", name)  # the whole name on hover


def test_several_files_are_stored_or_refused_one_by_one_and_a_reload_repeats_nothing(
        as_user, crew, project, tmp_path):
    files = {"koi.jpg": image_bytes("JPEG"), "empty.png": b"",
             "notes.jpg": b"not a picture" * 40, "pond.png": image_bytes("PNG")}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    page = as_user(crew.member)
    page.goto(f"/projects/{project.id}/")
    page.set_input_files("#id_files", [str(tmp_path / name) for name in files])
    page.click("#upload-form button[type=submit]")
    results = page.locator("#upload-results")
    expect(results).to_contain_text("empty.png: This file is empty.")
    expect(results).to_contain_text("notes.jpg: This file is not a JPEG, PNG or WebP image.")
    expect(results).to_contain_text("koi.jpg: uploaded.")
    assert page.url.endswith(f"/projects/{project.id}/#references")  # redirected after POST
    assert set(ReferenceImage.objects.values_list("original_name", flat=True)) == {
        "koi.jpg", "pond.png"}
    page.reload()
    expect(page.locator("#upload-results")).to_have_count(0)
    assert ReferenceImage.objects.count() == 2


def test_a_new_api_token_is_shown_once_after_a_redirect(as_user, crew):
    page = as_user(crew.member)
    page.goto("/accounts/tokens/")
    page.fill("#id_name", "nightly")
    page.click("text=Create token")
    expect(page.locator("#token-plaintext")).to_contain_text("gw_")
    plaintext = page.locator("#token-plaintext").inner_text()
    assert page.url.endswith("/accounts/tokens/") and plaintext not in page.url
    page.reload()
    expect(page.locator("#token-plaintext")).to_have_count(0)
    assert crew.member.api_tokens.count() == 1


def test_the_estimate_warns_about_the_budget_before_anything_is_sent(as_user, crew, project):
    ModelPriceFactory()
    Budget.objects.create(team=crew.team, user=crew.member, monthly_limit=Decimal("0.01"))
    page = as_user(crew.member)
    page.goto(f"/projects/{project.id}/generate/")
    page.fill("#id_brief", "Paper lanterns over a koi pond")
    page.click("#advanced summary")
    page.fill("#id_max_tokens", "4000")  # at most ¥0.032 more: past the ¥0.01 budget
    expect(page.locator("#estimate .budget-warning")).to_contain_text(
        "more than the ¥0.01 left in your monthly budget of ¥0.01")
    assert not GenerationJob.objects.exists()


def test_a_brief_too_long_for_one_request_becomes_a_batch_of_rows_that_fit(as_user, crew,
                                                                         project):
    ModelPriceFactory()
    page = as_user(crew.member)
    page.goto(f"/projects/{project.id}/generate/")
    page.evaluate("text => { document.getElementById('id_brief').value = text; }",
                  "夜景，霓虹灯，雨后的街道。" * 17000)  # 221,000 characters in one paragraph
    page.click("#generate-submit")
    expect(page.locator(".errorlist, .form-errors").first).to_contain_text("200,000")
    page.click("#split-submit")
    expect(page.locator("#split-rows")).to_contain_text("The brief was split into 2 briefs")
    expect(page.locator("#estimate-jobs")).to_have_text("2")
    page.click("#batch-submit")
    expect(page.locator("#batch-progress")).to_be_visible()
    batch = Batch.objects.get()
    assert batch.jobs.count() == 2


def test_the_dashboard_chart_and_its_labels_follow_the_money_rule(as_user, crew, project, price):
    make_record(project, crew.member)  # ¥0.0036 today
    page = as_user(crew.member)
    page.goto("/")
    page.wait_for_function("() => typeof Chart !== 'undefined' && Chart.getChart('usage-chart')")
    costs = page.evaluate("Chart.getChart('usage-chart').data.datasets[2].data")
    assert costs[-1] == 0.0036  # exact: not rounded to the cent, which would draw ¥0.00
    values = ["0", "0.0036", "0.05", "0.5", "0.000049", "0.99996", "12.4", "1234567.891"]
    shown = page.evaluate("values => values.map(v => window.GrokWeb.formatYuan(v))", values)
    assert shown == [yuan(Decimal(value)) for value in values]
