from playwright.sync_api import expect

from accounts.models import GatewayKey
from prompts.pipeline.keys import gateway_key_add, gateway_key_verify
from tests.conftest import ADMIN_PASSWORD, SIM_STANDBY_KEY
from tests.factories import UserFactory


def test_it_rotates_the_key_in_the_console_and_shows_the_old_one_retiring(page, login, gateway,
                                                                         active_key):
    UserFactory(username="ada", is_staff=True, password=ADMIN_PASSWORD)
    login("ada", ADMIN_PASSWORD)
    page.get_by_role("link", name="Admin console").click()
    expect(page.locator(f"#key-{active_key.id}")).to_have_attribute("data-status", "active")

    page.fill("#id_name", "rotated-in-browser")
    page.fill("#id_secret", SIM_STANDBY_KEY)
    page.get_by_role("button", name="Add and verify").click()
    expect(page.locator(".messages")).to_contain_text("The gateway accepts rotated-in-browser")
    assert SIM_STANDBY_KEY not in page.content()
    assert page.input_value("#id_secret") == ""

    new = GatewayKey.objects.get(name="rotated-in-browser")
    page.locator(f"#key-{new.id}").get_by_role("button", name="Activate").click()
    expect(page.locator(f"#key-{new.id}")).to_have_attribute("data-status", "active")
    old_row = page.locator(f"#key-{active_key.id}")
    expect(old_row).to_have_attribute("data-status", "retiring")
    expect(old_row).to_contain_text("Retiring")


def _lines(locator) -> int:
    """How many lines of text an element takes."""
    return locator.evaluate("""el => {
        const range = document.createRange();
        range.selectNodeContents(el);
        return new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top))).size;
    }""")


def test_long_key_names_and_dates_stay_on_one_line_and_a_refused_key_is_not_pushed(
        as_user, admin_user, simulator):
    gateway_key_add(name="primary-2026-12-eu-west-backup", secret=SIM_STANDBY_KEY,
                    actor=admin_user)
    refused = gateway_key_add(name="wrong-key-2026-11-pasted-by-mistake",
                              secret="not-a-real-key-at-all", actor=admin_user)
    gateway_key_verify(key=refused, actor=admin_user)
    page = as_user(admin_user)
    page.goto("/console/")
    for row in page.locator("table.keys tbody tr").all():
        assert _lines(row.locator("td.key-name")) == 1
        assert _lines(row.locator("td").nth(4)) == 1  # created: date and time together
    refused_row = page.locator(f"#key-{refused.id}")
    expect(refused_row).to_contain_text("Failing")
    expect(refused_row.locator("button.primary")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
