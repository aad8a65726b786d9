"""Cost per accepted record: ¥ spent over the records someone favourited, exported or rated 4+
— each record counted once, by project and user, on the manager's report and in its CSV."""

from decimal import Decimal

from django.urls import reverse

from prompts.models import DailyUsage, PromptRecord
from tests.clock import local
from tests.factories import ProjectFactory


def _record(charge, user, project, *, at, prompt=1_000_000):
    """A call of ¥2 (at ¥2 per 1M input tokens) and the record it made."""
    call = charge(user=user, project=project, at=at, prompt=prompt, completion=0)
    return PromptRecord.objects.create(job=call.job, project=project, author=user,
                                       positive_prompt="a kite")


def _accepted() -> int:
    return sum(DailyUsage.objects.values_list("accepted_records", flat=True))


def test_it_counts_a_record_once_whether_favourited_exported_or_rated_well(
        frozen_clock, crew, project, price, charge, member_client, manager_browser):
    at = local(2026, 11, 20, 9)
    kept = _record(charge, crew.member, project, at=at)
    exported = _record(charge, crew.member, project, at=at)
    liked = _record(charge, crew.member, project, at=at)
    meh = _record(charge, crew.member, project, at=at)

    member_client.post(reverse("record_favourite", args=[kept.pk]))
    member_client.post(reverse("record_favourite", args=[kept.pk]))  # un-favourited: still kept
    manager_browser.post(reverse("record_favourite", args=[kept.pk]))
    member_client.post(reverse("record_rating", args=[kept.pk]), {"stars": 5})
    assert member_client.get(reverse("record_export", args=[exported.pk, "a1111"])).status_code == 200
    member_client.post(reverse("record_rating", args=[liked.pk]), {"stars": 4})
    member_client.post(reverse("record_rating", args=[meh.pk]), {"stars": 3})

    assert _accepted() == 3
    exported.refresh_from_db()
    assert exported.exported_at is not None and exported.accepted_at is not None
    meh.refresh_from_db()
    assert meh.accepted_at is None and meh.exported_at is None


def test_it_reports_the_cost_per_accepted_record_by_project_and_user(
        frozen_clock, crew, project, price, charge, member_client, manager_browser):
    other = ProjectFactory(team=crew.team, name="Autumn")
    at = local(2026, 11, 20, 9)
    records = [_record(charge, crew.member, project, at=at) for _n in range(3)]
    charge(user=crew.member, project=project, at=at, prompt=500_000, completion=0,
           outcome="transient")  # a retry: ¥1 of waste, in the cost all the same
    _record(charge, crew.manager, other, at=at)  # nobody kept it
    for record in records[:2]:
        member_client.post(reverse("record_favourite", args=[record.pk]))
    params = {"team": crew.team.pk, "since": "2026-11-01", "until": "2026-11-30"}

    by_project = manager_browser.get(reverse("usage_report"), {**params, "group_by": "project"})
    rows = {row.label: row for row in by_project.context["report"].rows}
    assert (rows["Spring Campaign"].accepted_records, rows["Spring Campaign"].cost_per_accepted) \
        == (2, Decimal("3.500000"))  # (3 × ¥2 + ¥1) / 2
    assert rows["Autumn"].cost_per_accepted is None
    assert "¥3.50" in by_project.content.decode()

    csv = manager_browser.get(reverse("usage_report_csv"), {**params, "group_by": "user"})
    lines = b"".join(csv.streaming_content).decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    assert header[-2:] == ["Accepted records", "¥ per accepted record"]
    ming = next(line for line in lines if line.startswith("ming,")).split(",")
    assert ming[-2:] == ["2", "3.500000"]
    mia = next(line for line in lines if line.startswith("mia,")).split(",")
    assert mia[-2:] == ["0", ""]
