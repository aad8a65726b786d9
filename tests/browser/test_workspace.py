"""The content team's day in a real browser: project, reference, generate, live status,
favourite, A1111 download; and the same main page in Chinese."""

import re

from playwright.sync_api import expect

from prompts.models import Favourite, GenerationJob, Project, ReferenceImage
from prompts.workspace.formats.pngmeta import read_generation_metadata
from tests.conftest import PASSWORD
from tests.workspace.conftest import image_bytes


def test_a_member_generates_watches_the_status_favourites_and_exports(
        page, login, crew, celery_worker_thread, simulator, tmp_path):
    # celery_worker_thread: a real worker consumes what the page queues.
    simulator.configure(latency_ms=1500)  # slow enough to watch the status change
    reference = tmp_path / "harbour.jpg"
    reference.write_bytes(image_bytes("JPEG", size=(900, 600)))
    login("ming", PASSWORD)

    page.goto("/projects/")
    page.fill("#id_name", "Harbour Festival")
    page.click("#project-create button[type=submit]")
    expect(page.locator("main h1")).to_contain_text("Harbour Festival")
    project = Project.objects.get(name="Harbour Festival")

    page.set_input_files("#id_files", str(reference))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-results")).to_contain_text("uploaded.")
    ref = ReferenceImage.objects.get(project=project)
    expect(page.locator(f"#reference-{ref.id} img")).to_be_visible()

    page.click("text=Generate")
    page.fill("#id_brief", "Lanterns over the harbour at dusk, a fisherman mending nets")
    page.check(f"input[name=references][value='{ref.id}']")
    expect(page.locator("#estimate-tokens")).to_be_visible()
    page.click("#generate-submit")

    badge = page.locator("#job-status-badge")
    expect(badge).to_have_text(re.compile("Queued|Running"))
    page.evaluate("window.stillTheSamePage = true")
    expect(badge).to_have_text("Succeeded", timeout=20_000)
    assert page.evaluate("window.stillTheSamePage") is True  # updated in place, no reload
    expect(page.locator("#job-timeline")).to_contain_text("succeeded")
    job = GenerationJob.objects.get(project=project)
    assert list(job.references.all()) == [ref]

    page.click("#job-record-link")
    expect(page.locator("#positive-prompt")).not_to_be_empty()
    page.click(".favourite-form button")
    expect(page.locator(".favourite-form button")).to_have_attribute("aria-pressed", "true")
    assert Favourite.objects.filter(user=crew.member, record=job.record).exists()

    with page.expect_download() as download_info:
        page.click("#export-a1111")
    download = download_info.value
    assert download.suggested_filename == f"record-{job.record.id}.txt"
    text = open(download.path(), encoding="utf-8").read()
    metadata = read_generation_metadata({"parameters": text})
    assert metadata.positive_prompt == job.record.positive_prompt
    assert (metadata.width, metadata.height) == (job.record.width, job.record.height)


def test_the_generate_page_speaks_chinese(browser, live_server, crew, project):
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.fill("#id_username", "ming")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"/projects/{project.id}/generate/")
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(page.locator("main h1")).to_have_text("生成提示词记录")
        expect(page.locator("#generate-submit")).to_have_text("生成")
        expect(page.locator("label[for=id_brief]")).to_have_text("需求描述")
        expect(page.locator("#estimate")).to_contain_text("输入 Token（估算）")
        page.fill("#id_brief", "")
        # Past the browser's own check, so the server's translated error shows.
        page.evaluate("document.getElementById('generate-form').noValidate = true")
        page.click("#generate-submit")
        expect(page.locator(".errorlist").first).to_contain_text("这个字段是必填项。")
    finally:
        context.close()
