"""Compare 2–4 records side by side: word-level prompt differences, settings that differ
marked, costs and ratings; a linkable URL; another team's record makes it a 404."""

import re

import pytest
from django.urls import reverse

from prompts.models import Rating
from prompts.workspace.selectors.compare import comparison, parse_compare_ids
from tests.factories import ProjectFactory
from tests.workspace.conftest import make_record


@pytest.fixture
def pair(project, crew):
    first = make_record(project, crew.member,
                        positive_prompt="portrait of a tea farmer, morning mist, 35mm")
    second = make_record(project, crew.member,
                         positive_prompt="portrait of a tea farmer, golden hour, 35mm",
                         steps=24)
    return first, second


def test_it_shows_two_records_with_the_changed_words_marked(member_client, pair):
    first, second = pair
    response = member_client.get(reverse("compare"), {"ids": f"{first.id},{second.id}"})
    html = response.content.decode()
    assert response.status_code == 200
    assert '<del class="diff-del">morning mist</del>' in html
    assert '<ins class="diff-ins">golden hour</ins>' in html
    assert f"/compare/?ids={first.id},{second.id}" in html  # the link to share


def test_it_marks_only_the_settings_that_differ(pair):
    rows = {str(row["label"]): row for row in comparison(list(pair)).settings}
    assert rows["Steps"]["differs"] and rows["Steps"]["values"] == ["30", "24"]
    assert not rows["Sampler"]["differs"] and not rows["Size"]["differs"]


def test_it_shows_cost_and_rating_per_record(member_client, project, crew, price):
    first, second = make_record(project, crew.member), make_record(project, crew.member)
    Rating.objects.create(record=second, user=crew.manager, stars=5)
    html = member_client.get(reverse("compare"), {"ids": [first.id, second.id]}).content.decode()
    assert "5.0 ★" in html
    cost_row = re.search(r'<tr id="compare-cost">.*?</tr>', html, re.S).group(0)
    assert cost_row.count("¥0.0036") == 2  # 1000 in × ¥2/M + 200 out × ¥8/M


def test_it_takes_up_to_four_and_keeps_their_order(member_client, project, crew):
    records = [make_record(project, crew.member, positive_prompt=f"take {n}") for n in range(4)]
    ids = ",".join(str(r.id) for r in reversed(records))
    html = member_client.get(reverse("compare"), {"ids": ids}).content.decode()
    positions = [html.index(f"Record #{r.id}<") for r in reversed(records)]
    assert positions == sorted(positions)


@pytest.mark.parametrize("ids", ["", "5", "1,2,3,4,5", "1,x", "0,1"])
def test_it_asks_for_two_to_four_records(member_client, project, crew, ids):
    for _ in range(5):
        make_record(project, crew.member)
    response = member_client.get(reverse("compare"), {"ids": ids})
    assert response.status_code == 400
    assert "Pick 2 to 4 records" in response.content.decode()


def test_a_record_of_another_team_makes_it_a_404(member_client, pair, crew):
    theirs = make_record(ProjectFactory(team=crew.other_team), crew.outsider)
    response = member_client.get(reverse("compare"), {"ids": f"{pair[0].id},{theirs.id}"})
    assert response.status_code == 404
    assert "morning mist" not in response.content.decode()


def test_an_outsider_sees_nothing_of_ours(outsider_client, pair):
    response = outsider_client.get(reverse("compare"), {"ids": f"{pair[0].id},{pair[1].id}"})
    assert response.status_code == 404


def test_it_reads_ids_in_both_url_shapes():
    assert parse_compare_ids(["3,5", "9", "5"]) == [3, 5, 9]
    assert parse_compare_ids(["3,-1"]) is None
    assert parse_compare_ids(["3,²"]) is None


def test_the_record_page_links_to_its_rerun_chain(member_client, project, crew):
    parent = make_record(project, crew.member)
    child = make_record(project, crew.member, positive_prompt="re-run")
    child.job.parent = parent.job
    child.job.save()
    html = member_client.get(reverse("record_detail", args=[child.id])).content.decode()
    assert f"/compare/?ids={parent.id},{child.id}" in html
