"""Hardening in a real browser: a double click creates one job, and pages work under the
Content-Security-Policy (no inline code: the handlers live in static/js/app.js)."""

from playwright.sync_api import expect

from accounts.models import GatewayKey, Membership
from prompts.models import Batch, GenerationJob
from tests.conftest import ADMIN_PASSWORD, PASSWORD
from tests.factories import JobFactory, MembershipFactory, TeamFactory
from tests.workspace.conftest import make_record


def test_a_double_click_on_generate_creates_one_job(page, login, crew, project):
    login("ming", PASSWORD)
    page.goto(f"/projects/{project.id}/generate/")
    page.fill("#id_brief", "Lanterns over the harbour at dusk")
    page.dblclick("#generate-submit")
    expect(page.locator("#job-status-badge")).to_be_visible()
    assert GenerationJob.objects.count() == 1
    # Back to the form kept in memory, and send it again: still the first job.
    page.go_back()
    expect(page.locator("#generate-submit")).to_be_enabled()
    page.click("#generate-submit")
    expect(page.locator("#job-status-badge")).to_be_visible()
    expect(page.locator(".messages")).to_contain_text("This form was sent already")
    assert GenerationJob.objects.count() == 1
    # A form opened afresh is a new job.
    page.goto(f"/projects/{project.id}/generate/")
    page.fill("#id_brief", "Lanterns over the harbour at dawn")
    page.click("#generate-submit")
    expect(page.locator("#job-status-badge")).to_be_visible()
    assert GenerationJob.objects.count() == 2


def test_pages_work_under_the_content_security_policy(page, login, crew, project, admin_user):
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    MembershipFactory(user=crew.member, team=TeamFactory(name="Night Shift"))
    record = make_record(project, crew.member)
    batch = Batch.objects.create(project=project, created_by=crew.member)
    for status in ("succeeded", "succeeded", "succeeded", "failed"):
        JobFactory(project=project, created_by=crew.member, batch=batch, status=status)
    login("ming", PASSWORD)
    for path in ("/", f"/projects/{project.id}/", f"/projects/{project.id}/generate/",
                 f"/records/{record.id}/", f"/batches/{batch.id}/", "/library/"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
    # Bar widths come from the stylesheet (data-w), not from inline styles.
    page.goto(f"/batches/{batch.id}/")
    share = page.evaluate("""() => {
        const bar = document.querySelector('#batch-progress .progress');
        return bar.querySelector('.p-done').getBoundingClientRect().width
               / bar.getBoundingClientRect().width; }""")
    assert abs(share - 0.75) < 0.02
    # The team menu switches on change (a data-autosubmit select, no inline onchange).
    page.goto("/projects/")
    page.select_option("#team-select", label="Night Shift")
    expect(page.locator("#team-select option:checked")).to_have_text("Night Shift")
    assert violations == []

    MembershipFactory(user=admin_user, team=crew.team, role=Membership.Role.MANAGER)
    GatewayKey.objects.create(name="spare", secret_encrypted="x", masked="sk-…0001",
                              fingerprint="f" * 12, status="standby")
    page.context.clear_cookies()
    login("ada", ADMIN_PASSWORD)
    page.goto("/console/")
    page.once("dialog", lambda dialog: dialog.dismiss())  # the confirm() from data-confirm
    page.click("#key-{} .danger".format(GatewayKey.objects.get(name="spare").id))
    assert GatewayKey.objects.get(name="spare").status == "standby"  # dismissed: not revoked
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#key-{} .danger".format(GatewayKey.objects.get(name="spare").id))
    page.wait_for_load_state()
    expect(page.locator("#key-{}".format(GatewayKey.objects.get(name="spare").id))).to_have_attribute(
        "data-status", "revoked")
    page.goto(f"/usage/budgets/?team={crew.team.id}")
    assert violations == []
