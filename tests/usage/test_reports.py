"""The manager's report, monthly statement, CSV export and `manage.py usage_report`."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from prompts.usage.reports import CSV_COLUMNS, usage_report
from tests.clock import local
from tests.factories import ProjectFactory

MARCH = {"since": "2026-03-01", "until": "2026-03-31"}


@pytest.fixture
def march(crew, project, price, charge):
    """A month of mixed usage in Pixel Foundry, and some in Elsewhere Inc that must not show."""
    poster = ProjectFactory(team=crew.team, name="海报 Poster")
    charge(user=crew.member, project=project, at=local(2026, 3, 2), prompt=1000, completion=500)
    charge(user=crew.member, project=poster, at=local(2026, 3, 2, 23, 59), prompt=3000,
           completion=700)
    charge(user=crew.member, project=poster, at=local(2026, 3, 9), prompt=1234, completion=0,
           outcome="moderation")
    charge(user=crew.manager, project=project, at=local(2026, 3, 20), prompt=5000,
           completion=2500)
    charge(user=crew.manager, project=project, at=local(2026, 3, 21), prompt=0, completion=0,
           outcome="transient")
    charge(user=crew.member, project=project, at=local(2026, 3, 22), prompt=800,
           completion=100, model="mystery-model")  # no price: unpriced
    charge(user=crew.member, project=project, at=local(2026, 4, 1, 0, 1))  # April: outside
    elsewhere = ProjectFactory(team=crew.other_team, name="Other")
    charge(user=crew.outsider, project=elsewhere, at=local(2026, 3, 5), prompt=99_999)
    return poster


def _report_page(client, team, **params):
    return client.get(reverse("usage_report"), {"team": team.pk, **MARCH, **params})


EXPECTED_COST = (Decimal("0.006") + Decimal("0.0116") + Decimal("0.002468") + Decimal("0.03"))


def test_it_groups_by_user_project_model_and_day_with_totals_that_add_up(crew, march,
                                                                        manager_client):
    totals = set()
    for group_by in ("user", "project", "model", "day"):
        page = _report_page(manager_client, crew.team, group_by=group_by)
        assert page.status_code == 200
        report = page.context["report"]
        assert report.total.cost == sum((row.cost for row in report.rows), Decimal(0))
        assert report.total.calls == sum(row.calls for row in report.rows) == 6
        totals.add((report.total.cost, report.total.prompt_tokens,
                    report.total.completion_tokens, report.total.unpriced_calls))
    assert totals == {(EXPECTED_COST, 11_034, 3_800, 1)}

    by_user = usage_report(team=crew.team, since=local(2026, 3, 1).date(),
                           until=local(2026, 3, 31).date(), group_by="user")
    assert [(row.label, row.calls) for row in by_user.rows] == [("mia", 2), ("ming", 4)]
    by_day = _report_page(manager_client, crew.team, group_by="day").context["report"]
    # 23:59 local on the 2nd is still the 2nd, though it is 15:59 UTC.
    assert [row.label for row in by_day.rows][:2] == ["2026-03-02", "2026-03-09"]
    assert by_day.rows[0].calls == 2


def test_it_shows_unpriced_calls_loudly_instead_of_zero(crew, march, manager_client):
    html = _report_page(manager_client, crew.team, group_by="model").content.decode()
    assert "unpriced calls: 1" in html
    mystery_row = html[html.index("<td>mystery-model</td>"):]
    mystery_row = mystery_row[:mystery_row.index("</tr>")]
    assert "unpriced calls: 1" in mystery_row
    assert "¥" not in mystery_row.replace("Waste (¥)", "")


def test_it_shows_the_range_and_rejects_a_reversed_one(crew, march, manager_client):
    page = _report_page(manager_client, crew.team, since="2026-03-31", until="2026-03-01")
    assert page.status_code == 200
    assert page.context["report"] is None
    assert "The end date is before the start date." in page.content.decode()


def test_it_renders_the_report_table_alone_for_htmx(crew, march, manager_client):
    page = manager_client.get(reverse("usage_report"), {"team": crew.team.pk, **MARCH},
                              HTTP_HX_REQUEST="true")
    html = page.content.decode()
    assert "<html" not in html
    assert 'id="report"' in html and "2026-03-01 to 2026-03-31" in html


def test_it_defaults_to_this_month_of_the_current_team(crew, march, manager_client):
    page = manager_client.get(reverse("usage_report"))
    assert page.status_code == 200
    assert page.context["team"] == crew.team
    assert page.context["report"].since.day == 1


def _csv(response) -> tuple[bytes, list[list[str]]]:
    raw = b"".join(response.streaming_content)
    return raw, list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


@pytest.mark.parametrize("group_by", ["user", "project", "model", "day", "detail"])
def test_it_exports_a_csv_whose_total_equals_the_screen(crew, march, manager_client, group_by):
    screen = _report_page(manager_client, crew.team, group_by="user")
    screen_html = screen.content.decode()
    tfoot = screen_html[screen_html.index("<tfoot>"):screen_html.index("</tfoot>")]

    response = manager_client.get(reverse("usage_report_csv"),
                                  {"team": crew.team.pk, **MARCH, "group_by": group_by})
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    raw, rows = _csv(response)
    assert raw.startswith("\ufeff".encode())
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[-len(CSV_COLUMNS):] == [str(h) for _n, h in CSV_COLUMNS]
    cost_at = header.index("Cost (¥)")
    assert total[0] == "Total"
    assert Decimal(total[cost_at]) == EXPECTED_COST
    assert sum(Decimal(r[cost_at] or 0) for r in body) == Decimal(total[cost_at])
    shown = Decimal(total[cost_at]).quantize(Decimal("0.01"))
    assert f"¥{shown}" in tfoot
    assert int(total[header.index("Unpriced calls")]) == 1
    if group_by == "detail":
        assert header[:4] == ["Day", "User", "Project", "Model"]
        assert len(body) == 6
        unpriced_row = next(r for r in body if r[3] == "mystery-model")
        assert unpriced_row[cost_at] == ""  # never ¥0 for an unpriced call


def test_it_writes_chinese_csv_headers_when_the_ui_is_chinese(crew, march, manager_client):
    manager_client.cookies["django_language"] = "zh-hans"
    response = manager_client.get(reverse("usage_report_csv"),
                                  {"team": crew.team.pk, **MARCH, "group_by": "project"})
    _raw, rows = _csv(response)
    with translation.override("zh-hans"):
        expected = [gettext("Project")] + [str(h) for _n, h in CSV_COLUMNS]
        total = gettext("Total")
    assert rows[0] == expected
    assert rows[-1][0] == total
    assert "海报 Poster" in [row[0] for row in rows]
    assert expected[1] == "调用次数"


def test_it_prints_the_same_numbers_from_manage_py_usage_report(crew, march, manager_client):
    out = io.StringIO()
    call_command("usage_report", "--team", "Pixel Foundry", "--since", "2026-03-01",
                 "--until", "2026-03-31", "--group-by", "project", "--format", "json",
                 stdout=out)
    data = json.loads(out.getvalue())
    screen = _report_page(manager_client, crew.team, group_by="project").context["report"]
    assert Decimal(data["total"]["cost"]) == screen.total.cost == EXPECTED_COST
    assert [(r["label"], Decimal(r["cost"])) for r in data["rows"]] == [
        (row.label, row.cost) for row in screen.rows]
    assert data["total"]["unpriced_calls"] == 1

    out = io.StringIO()
    call_command("usage_report", "--team", "Pixel Foundry", "--since", "2026-03-01",
                 "--until", "2026-03-31", "--format", "csv", stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][0] == "User" and rows[-1][0] == "Total"
    assert Decimal(rows[-1][rows[0].index("Cost (¥)")]) == EXPECTED_COST


def test_it_explains_a_bad_usage_report_command(crew):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="No team"):
        call_command("usage_report", "--team", "Nobody")
    with pytest.raises(CommandError, match="before"):
        call_command("usage_report", "--team", "Pixel Foundry", "--since", "2026-03-02",
                     "--until", "2026-03-01")


def test_it_shows_the_monthly_statement(crew, march, manager_client):
    page = manager_client.get(reverse("usage_statement"), {"team": crew.team.pk,
                                                           "month": "2026-03"})
    assert page.status_code == 200
    statement = page.context["statement"]
    for report in (statement.by_user, statement.by_project, statement.by_model):
        assert report.total.cost == EXPECTED_COST
        assert report.total.calls == 6
    html = page.content.decode()
    assert "2026-03-01 to 2026-03-31" in html
    assert "unpriced calls: 1" in html
    assert [p.model for p in statement.prices] == ["grok-build-0.1"]
    assert statement.next_month is not None  # April 2026 is in the past


VIEWS = ["usage_report", "usage_report_csv", "usage_statement", "budget_list"]


@pytest.mark.parametrize("name", VIEWS)
def test_it_hides_a_teams_money_from_members_and_outsiders(crew, march, client, name):
    url = reverse(name)
    client.force_login(crew.member)
    assert client.get(url).status_code == 404  # a member of the team, not a manager
    assert client.get(url, {"team": crew.team.pk}).status_code == 404
    client.force_login(crew.outsider)
    assert client.get(url, {"team": crew.team.pk}).status_code == 404
    assert client.get(url, {"team": "x"}).status_code == 404
    assert client.get(url, {"team": crew.other_team.pk, **MARCH}).status_code == 200
    client.logout()
    assert client.get(url, {"team": crew.team.pk}).status_code == 302  # to the login page


def test_it_shows_an_outsider_only_their_own_team(crew, march, client):
    client.force_login(crew.outsider)
    report = client.get(reverse("usage_report"), MARCH).context["report"]
    assert report.team == crew.other_team
    assert report.total.prompt_tokens == 99_999


def test_it_lets_a_site_admin_open_any_teams_report(crew, march, admin_user):
    client = Client()
    client.force_login(admin_user)
    page = client.get(reverse("usage_report"), {"team": crew.team.pk, **MARCH})
    assert page.status_code == 200
    assert page.context["report"].total.cost == EXPECTED_COST


def test_it_opens_the_statement_on_this_month_without_complaining(crew, manager_client):
    page = manager_client.get(reverse("usage_statement"))
    assert page.status_code == 200
    assert page.context["statement"].month.day == 1
    assert "Choose a month as YYYY-MM." not in page.content.decode()
    bad = manager_client.get(reverse("usage_statement"), {"month": "March"})
    assert bad.context["statement"] is None
    assert "Choose a month as YYYY-MM." in bad.content.decode()
