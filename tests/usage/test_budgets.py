"""Budgets: warn once at the level, refuse at 100%, resume when raised, months in Shanghai."""

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, Budget
from prompts.models import DailyUsage, GenerationJob
from prompts.pipeline.creation import JobRefused, JobSpec, job_create
from prompts.pipeline.run import job_run
from prompts.pipeline.sweeper import jobs_sweep
from prompts.usage.budget_status import budget_banners
from prompts.usage.budgets import budget_exceeded, budget_set, budget_warnings_send, spent_in_month
from tests.clock import local
from tests.factories import JobFactory, UserFactory


def _spend(charge, crew, project, yuan: int, user=None):
    """Spend ¥`yuan` at ¥2 per 1M input tokens."""
    charge(user=user or crew.member, project=project, prompt=yuan * 500_000, completion=0)


def test_it_warns_the_managers_once_a_month_at_the_warn_level(crew, project, price, charge,
                                                               member_client):
    budget_set(team=crew.team, monthly_limit=Decimal("10"), actor=crew.manager)
    crew.manager.email = "mia@example.com"
    crew.manager.save()
    _spend(charge, crew, project, 7)
    budget_warnings_send()
    assert mail.outbox == []  # 70% < 80%

    _spend(charge, crew, project, 2)
    budget_warnings_send()
    budget_warnings_send()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["mia@example.com"]  # managers only, not the member
    assert "90%" in mail.outbox[0].subject and "¥9.00 of ¥10.00" in mail.outbox[0].body

    html = member_client.get(reverse("home")).content.decode()
    assert "The team has used 90% of its monthly budget (¥9.00 of ¥10.00)." in html
    assert "banner-warning" in html


def test_it_warns_again_when_the_limit_changes_and_again_next_month(crew, project, price,
                                                                     charge):
    budget = budget_set(team=crew.team, monthly_limit=Decimal("10"), actor=crew.manager)
    _spend(charge, crew, project, 9)
    assert budget_warnings_send() == 1
    assert budget_warnings_send() == 0
    budget_set(team=crew.team, monthly_limit=Decimal("11"), actor=crew.manager)
    assert budget_warnings_send() == 1  # the new limit re-arms the warning
    budget.refresh_from_db()
    assert budget.warned_for_month.day == 1
    assert budget_warnings_send(day=date(2099, 1, 5)) == 0  # nothing spent that month


def test_it_refuses_new_jobs_at_100_percent(crew, project, price, charge, member_client):
    budget_set(team=crew.team, monthly_limit=Decimal("5"), actor=crew.manager)
    _spend(charge, crew, project, 5)
    with pytest.raises(JobRefused) as refused:
        job_create(user=crew.member, project=project, spec=JobSpec(brief="A red kite"))
    assert refused.value.code == "budget_exceeded"
    assert "¥5" in str(refused.value.message)
    html = member_client.get(reverse("home")).content.decode()
    assert "The team&#x27;s monthly budget of ¥5.00 is used up" in html
    assert "banner-error" in html


def test_it_refuses_only_the_user_whose_own_budget_is_used_up(crew, project, price, charge):
    budget_set(team=crew.team, user=crew.member, monthly_limit=Decimal("1"), actor=crew.manager)
    _spend(charge, crew, project, 1)
    assert budget_exceeded(team_id=crew.team.id, user_id=crew.member.id).user == crew.member
    assert budget_exceeded(team_id=crew.team.id, user_id=crew.manager.id) is None
    texts = [b["text"] for b in budget_banners(team_id=crew.team.id, user_id=crew.member.id)]
    assert texts == ["Your monthly budget of ¥1.00 is used up: your new jobs are refused and "
                     "your queued ones wait until a manager raises it or the month turns."]
    assert budget_banners(team_id=crew.team.id, user_id=crew.manager.id) == []


def test_it_parks_queued_jobs_and_resumes_them_when_the_limit_is_raised(crew, project, price,
                                                                        charge, gateway):
    job = JobFactory(project=project, created_by=crew.member)
    budget_set(team=crew.team, monthly_limit=Decimal("3"), actor=crew.manager)
    _spend(charge, crew, project, 3)

    assert job_run(job.id) == "waiting"
    job.refresh_from_db()
    assert (job.status, job.wait_reason) == ("waiting", "budget")
    jobs_sweep()
    job.refresh_from_db()
    assert job.status == "waiting"  # still over the limit

    budget_set(team=crew.team, monthly_limit=Decimal("50"), actor=crew.manager)
    jobs_sweep()
    job.refresh_from_db()
    assert (job.status, job.wait_reason) == ("queued", "")


def test_it_starts_a_new_month_at_midnight_in_shanghai(crew, project, price, charge):
    # 23:59 and 00:01 local are 15:59 and 16:01 UTC on the same UTC day.
    charge(user=crew.member, project=project, at=local(2026, 1, 31, 23, 59), prompt=500_000,
           completion=0)
    charge(user=crew.member, project=project, at=local(2026, 2, 1, 0, 1), prompt=1_000_000,
           completion=0)
    assert sorted(DailyUsage.objects.values_list("day", flat=True)) == [
        date(2026, 1, 31), date(2026, 2, 1)]
    assert spent_in_month(team_id=crew.team.id, day=date(2026, 1, 31)).team == Decimal("1")
    assert spent_in_month(team_id=crew.team.id, day=date(2026, 2, 1)).team == Decimal("2")

    budget_set(team=crew.team, monthly_limit=Decimal("1"), actor=crew.manager)
    assert budget_exceeded(team_id=crew.team.id, user_id=crew.member.id,
                           day=date(2026, 1, 31)) is not None
    assert budget_exceeded(team_id=crew.team.id, user_id=crew.member.id,
                           day=date(2026, 3, 1)) is None  # the month turned: reset


def test_it_lets_a_manager_set_a_budget_on_the_page_with_csrf(crew):
    client = Client(enforce_csrf_checks=True)
    client.force_login(crew.manager)
    url = f"{reverse('budget_list')}?team={crew.team.pk}"
    data = {"user": crew.member.pk, "monthly_limit": "250.50", "warn_at_percent": "90"}
    assert client.post(url, data).status_code == 403  # no CSRF token

    client.get(url)
    data["csrfmiddlewaretoken"] = client.cookies["csrftoken"].value
    response = client.post(url, data)
    assert response.status_code == 302
    budget = Budget.objects.get(team=crew.team, user=crew.member)
    assert (budget.monthly_limit, budget.warn_at) == (Decimal("250.50"), Decimal("0.90"))
    event = AuditEvent.objects.get(action="budget.set")
    assert event.actor == crew.manager
    assert event.before is None and event.after["monthly_limit"] == "250.50"

    page = client.get(url).content.decode()
    assert "ming" in page and "¥250.50" in page and "90%" in page


def test_it_explains_a_bad_budget_on_the_page(crew, manager_client):
    url = f"{reverse('budget_list')}?team={crew.team.pk}"
    stranger = UserFactory(username="stranger")
    page = manager_client.post(url, {"user": stranger.pk, "monthly_limit": "-1",
                                     "warn_at_percent": "150"})
    assert page.status_code == 200
    errors = page.context["form"].errors
    assert set(errors) == {"user", "monthly_limit", "warn_at_percent"}
    assert not Budget.objects.exists()


def test_it_lets_a_site_admin_manage_any_teams_budget(crew, admin_user):
    client = Client()
    client.force_login(admin_user)
    url = f"{reverse('budget_list')}?team={crew.other_team.pk}"
    assert client.post(url, {"user": "", "monthly_limit": "99",
                             "warn_at_percent": "80"}).status_code == 302
    assert Budget.objects.get(team=crew.other_team, user=None).monthly_limit == Decimal("99")


def test_it_removes_a_budget_only_for_its_managers(crew, client):
    budget = budget_set(team=crew.team, monthly_limit=Decimal("5"), actor=crew.manager)
    url = reverse("budget_delete", args=[budget.pk])
    for outsider in (crew.member, crew.outsider):
        client.force_login(outsider)
        assert client.post(url).status_code == 404
    client.force_login(crew.manager)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    assert not Budget.objects.exists()
    assert AuditEvent.objects.filter(action="budget.remove").count() == 1


def test_it_sets_budgets_with_manage_py_budget(crew, capsys):
    call_command("budget", "set", "--team", "Pixel Foundry", "--monthly-rmb", "500")
    call_command("budget", "set", "--team", "Pixel Foundry", "--user", "ming",
                 "--monthly-rmb", "80", "--warn-at", "0.9")
    team_budget = Budget.objects.get(team=crew.team, user=None)
    assert (team_budget.monthly_limit, team_budget.warn_at) == (Decimal("500"), Decimal("0.80"))
    assert Budget.objects.get(user=crew.member).warn_at == Decimal("0.90")
    assert AuditEvent.objects.filter(action="budget.set").count() == 2
    call_command("budget", "list")
    out = capsys.readouterr().out
    assert "Pixel Foundry" in out and "ming" in out and "¥      500.00" in out
    with pytest.raises(CommandError, match="not a member"):
        call_command("budget", "set", "--team", "Pixel Foundry", "--user", "otto",
                     "--monthly-rmb", "1")
    with pytest.raises(CommandError, match="No team"):
        call_command("budget", "set", "--team", "Nope", "--monthly-rmb", "1")
    assert GenerationJob.objects.count() == 0
