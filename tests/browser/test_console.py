from playwright.sync_api import expect

from accounts.models import GatewayKey
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
