"""Every page in a real browser, with a month of work in it (tests/showcase.py): on a 390 px
phone nothing is wider than the screen, and no page logs an error in the console (a missing
favicon, a script error, a failed request), in English and in Chinese.

With SCREENSHOT_DIR set it also saves every page in both languages at 1366 px and 390 px,
for people to look at: SCREENSHOT_DIR=/tmp/shots .venv/bin/pytest tests/browser/test_every_page.py
"""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.showcase import build_showcase

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
LANGUAGES = {"en": "en-US", "zh": "zh-CN"}
# Pages whose status is the point: the 404 page, and forms shown again with their errors.
EXPECTED_STATUS = {"not found": 404, "generate: too long, split offer": 422,
                   "new batch: two sources": 422}


@pytest.fixture
def showcase(crew, admin_user, price):
    return build_showcase(manager=crew.manager, member=crew.member, admin=admin_user,
                          team=crew.team)


def _session_cookie(user, base_url: str) -> list[dict]:
    """Sign in without the login form: the session Django's test client makes."""
    if user is None:
        return []
    client = Client()
    client.force_login(user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [{"name": settings.SESSION_COOKIE_NAME, "value": value, "url": base_url}]


class Tour:
    """One browser context per person and language; records what went wrong on each page."""

    def __init__(self, browser, base_url: str, user, language: str, viewport: dict):
        self.context = browser.new_context(base_url=base_url, locale=LANGUAGES[language],
                                           viewport=viewport)
        self.context.add_cookies(_session_cookie(user, base_url))
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.problems: list[str] = []
        self.current = ""
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(
            f"{self.current}: script error {error}"))
        self.page.on("response", self._response)

    def _console(self, message):
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(f"{self.current}: console error {message.text}")

    def _response(self, response):
        expected = EXPECTED_STATUS.get(self.current)
        if response.status >= 400 and not (expected and response.request.resource_type
                                           == "document" and response.status == expected):
            self.problems.append(f"{self.current}: {response.status} {response.url}")

    def visit(self, page_spec, *, settle: bool = False):
        """Open the page; `settle` also waits for what loads after it (estimates, charts)."""
        self.current = page_spec.name
        if page_spec.method == "get":
            self.page.goto(page_spec.url, wait_until="domcontentloaded")
        else:
            self._post(page_spec)
        # Deferred scripts run after the stylesheets: by DOMContentLoaded the layout is final.
        self.page.wait_for_load_state("networkidle" if settle else "domcontentloaded")

    def _post(self, page_spec):
        """A form the page would send: built in a light page, with its CSRF token and files."""
        self.page.goto("/accounts/tokens/", wait_until="domcontentloaded")
        fields = {key: value for key, value in page_spec.data.items()
                  if not isinstance(value, tuple)}
        files = {key: [value[0], value[1].decode()] for key, value in page_spec.data.items()
                 if isinstance(value, tuple)}
        with self.page.expect_navigation():
            self.page.evaluate("""([url, fields, files]) => {
                const form = Object.assign(document.createElement("form"), {
                    method: "post", action: url, enctype: "multipart/form-data"});
                const add = (name, value) => form.append(Object.assign(
                    document.createElement("input"), {type: "hidden", name, value}));
                add("csrfmiddlewaretoken",
                    document.querySelector("[name=csrfmiddlewaretoken]").value);
                Object.entries(fields).forEach(([name, value]) => add(name, value));
                Object.entries(files).forEach(([name, [filename, text]]) => {
                    const input = Object.assign(document.createElement("input"),
                                                {type: "file", name});
                    const transfer = new DataTransfer();
                    transfer.items.add(new File([text], filename, {type: "text/csv"}));
                    input.files = transfer.files;
                    form.append(input);
                });
                document.body.append(form);
                form.submit();
            }""", [page_spec.url, fields, files])

    def overflow(self) -> int:
        """How many pixels the page is wider than the window (0 when it fits)."""
        return self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")

    def close(self):
        self.context.close()


def _people(showcase) -> dict:
    return {"member": showcase.member, "manager": showcase.manager, "admin": showcase.admin,
            "anonymous": None, "loner": showcase.loner}


def test_every_page_fits_a_phone_and_logs_no_errors(browser, live_server, showcase):
    problems = []
    people = _people(showcase)
    for language in LANGUAGES:
        for role, pages in showcase.pages.items():
            tour = Tour(browser, live_server.url, people[role], language, PHONE)
            try:
                for page_spec in pages:
                    if page_spec.htmx:
                        continue  # fragments are shown inside their pages
                    tour.visit(page_spec)
                    wider = tour.overflow()
                    if wider > 0:
                        problems.append(f"{language} {role}: {page_spec.name} is {wider} px "
                                        f"wider than a 390 px phone")
                problems += [f"{language} {role}: {problem}" for problem in tour.problems]
            finally:
                tour.close()
    assert not problems, "\n".join(problems)


@pytest.mark.skipif(not os.environ.get("SCREENSHOT_DIR"),
                    reason="set SCREENSHOT_DIR to save screenshots of every page")
def test_it_saves_a_screenshot_of_every_page(browser, live_server, showcase):
    folder = Path(os.environ["SCREENSHOT_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    people = _people(showcase)
    for language in LANGUAGES:
        for size, viewport in (("1366", DESKTOP), ("390", PHONE)):
            for role, pages in showcase.pages.items():
                tour = Tour(browser, live_server.url, people[role], language, viewport)
                try:
                    for number, page_spec in enumerate(pages, start=1):
                        if page_spec.htmx:
                            continue
                        tour.visit(page_spec, settle=True)
                        name = re.sub(r"[^a-z0-9]+", "-", page_spec.name.lower()).strip("-")
                        tour.page.screenshot(path=folder / f"{language}-{size}-{role}-"
                                             f"{number:02d}-{name}.png", full_page=True)
                finally:
                    tour.close()
