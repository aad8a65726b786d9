from tests.browser.test_every_page import PHONE, Tour, _people, showcase  # noqa: F401


def test_tmp(browser, live_server, showcase):  # noqa: F811
    people = _people(showcase)
    for role, names in (("admin", ["admin console"]), ("member", ["API tokens"])):
        tour = Tour(browser, live_server.url, people[role], "en", PHONE)
        for spec in showcase.pages[role]:
            if spec.name in names:
                tour.visit(spec)
                print(spec.name, tour.page.evaluate("""() => Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > 392).slice(0, 12).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right) + ' ' + (e.textContent||'').slice(0,40).replace(/\\s+/g,' '))"""))
        tour.close()
