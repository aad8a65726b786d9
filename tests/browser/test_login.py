from playwright.sync_api import expect

from tests.conftest import PASSWORD


def test_it_logs_in_through_the_real_page_and_sees_the_team(page, login, crew):
    login("ming", PASSWORD)
    expect(page.locator("main h1")).to_contain_text("Pixel Foundry")
    expect(page.locator("#team-select")).to_have_value(str(crew.team.id))


def test_it_switches_to_chinese_from_the_menu(page, login, crew):
    login("ming", PASSWORD)
    page.select_option("#language-select", "zh-hans")
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
