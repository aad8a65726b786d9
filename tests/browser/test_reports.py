"""A manager opens the team report, changes the date range, and downloads the CSV."""

from decimal import Decimal

from playwright.sync_api import expect

from prompts.usage.ledger import CallFacts, ledger_record
from tests.clock import local
from tests.conftest import PASSWORD
from tests.factories import JobFactory, ModelPriceFactory


def _charge(user, project, at, prompt):
    job = JobFactory(project=project, created_by=user)
    ledger_record(job=job, attempt=1, facts=CallFacts(
        outcome="ok", started_at=at, key_id=None, prompt_tokens=prompt, completion_tokens=0))


def test_it_changes_the_range_and_downloads_a_csv_that_adds_up(page, login, crew, project):
    ModelPriceFactory(input_per_mtok=Decimal("2"), output_per_mtok=Decimal("8"),
                      effective_from=local(2025, 1, 1, 0))
    _charge(crew.member, project, local(2026, 2, 10), 1_000_000)   # ¥2, February
    _charge(crew.member, project, local(2026, 3, 10), 2_500_000)   # ¥5, March
    _charge(crew.manager, project, local(2026, 3, 31, 23, 59), 1_234_567)  # ¥2.469134

    login("mia", PASSWORD)
    page.get_by_role("link", name="Reports").click()
    expect(page.locator("main h1")).to_contain_text("Pixel Foundry")

    page.fill("#id_since", "2026-03-01")
    page.fill("#id_until", "2026-03-31")
    page.click("#report-filters button[type=submit]")
    expect(page.locator("#report-range")).to_contain_text("2026-03-01 to 2026-03-31")
    expect(page.locator("[data-total=cost]")).to_have_text("¥7.47")
    assert "since=2026-03-01" in page.url  # the range survives a reload

    with page.expect_download() as download_info:
        page.click("#csv-grouped")
    download = download_info.value
    raw = open(download.path(), "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("User,Calls,")
    total = lines[-1].split(",")
    assert total[0] == "Total"
    assert Decimal(total[7]) == Decimal("7.469134")
    assert [line.split(",")[0] for line in lines[1:-1]] == ["mia", "ming"]
