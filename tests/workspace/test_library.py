"""The prompt library: search, filters, pagination, and a record's page with what
teammates do with it: favourite, tags, rating, comments, re-run with edits and its diff."""

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from prompts.models import Favourite, GenerationJob, PromptRecord, Tag
from tests.factories import JobFactory, ModelPriceFactory, ProjectFactory
from tests.workspace.conftest import make_record


def library(client, **params) -> str:
    return client.get(reverse("library"), params).content.decode()


def test_it_searches_briefs_and_prompt_text(member_client, project, crew):
    make_record(project, crew.member, brief="海边的灯塔", positive_prompt="lighthouse, sea")
    make_record(project, crew.manager, brief="a cat", positive_prompt="tabby cat, sofa")
    assert "tabby cat" in library(member_client, q="cat")
    assert "lighthouse, sea" not in library(member_client, q="cat")
    assert "lighthouse, sea" in library(member_client, q="灯塔")
    assert "lighthouse, sea" in library(member_client, q="SEA")


def test_it_filters_by_project_author_status_favourite_tag_and_date(member_client, project,
                                                                    crew):
    other = ProjectFactory(team=crew.team, name="Winter")
    mine = make_record(project, crew.member, positive_prompt="alpha prompt")
    theirs = make_record(other, crew.manager, positive_prompt="beta prompt")
    review = make_record(project, crew.manager, positive_prompt="", raw_text="gamma raw",
                         needs_review=True)
    PromptRecord.objects.filter(pk=theirs.pk).update(
        created_at=timezone.now() - timedelta(days=10))
    tag = Tag.objects.create(team=crew.team, name="hero")
    mine.tags.add(tag)
    Favourite.objects.create(user=crew.member, record=theirs)

    names = {mine.id: "alpha", theirs.id: "beta", review.id: "gamma"}

    def shown(**params):
        page = library(member_client, **params)
        return {name for pk, name in names.items() if f'id="record-row-{pk}"' in page}

    assert shown() == {"alpha", "beta", "gamma"}
    assert shown(project=other.id) == {"beta"}
    assert shown(author=crew.member.id) == {"alpha"}
    assert shown(status="needs_review") == {"gamma"}
    assert shown(favourites="on") == {"beta"}
    assert shown(tag=tag.id) == {"alpha"}
    today = timezone.localdate().isoformat()
    assert shown(date_from=today) == {"alpha", "gamma"}
    assert shown(date_to=(timezone.localdate() - timedelta(days=5)).isoformat()) == {"beta"}


def test_it_never_shows_another_teams_records(member_client, crew):
    elsewhere = ProjectFactory(team=crew.other_team, name="Elsewhere project")
    make_record(elsewhere, crew.outsider, positive_prompt="secret sauce")
    assert "secret sauce" not in library(member_client)
    assert "secret sauce" not in library(member_client, project=elsewhere.id)


def test_it_paginates_fifty_records_a_page(member_client, project, crew):
    for n in range(55):
        make_record(project, crew.member, positive_prompt=f"numbered prompt {n:03d}", calls=())
    first = library(member_client)
    assert first.count("record-row-") == 50 and "Page 1 of 2" in first
    second = library(member_client, page=2)
    assert second.count("record-row-") == 5 and "numbered prompt 000" in second


def test_it_keeps_the_library_page_to_a_fixed_number_of_queries(member_client, project, crew,
                                                                django_assert_max_num_queries):
    tag = Tag.objects.create(team=crew.team, name="hero")
    for n in range(200):
        record = make_record(project, crew.member if n % 2 else crew.manager, calls=())
        record.tags.add(tag)
    with django_assert_max_num_queries(15):
        response = member_client.get(reverse("library"), {"q": "lighthouse"})
    assert response.content.decode().count("record-row-") == 50


def test_it_toggles_a_favourite_per_user_with_htmx(member_client, record, crew):
    url = reverse("record_favourite", args=[record.id])
    fragment = member_client.post(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'aria-pressed="true"' in fragment and "<html" not in fragment
    assert Favourite.objects.filter(user=crew.member, record=record).exists()
    assert not Favourite.objects.filter(user=crew.manager).exists()
    member_client.post(url, HTTP_HX_REQUEST="true")
    assert not Favourite.objects.exists()


def test_it_tags_rates_and_comments(member_client, client, record, crew):
    member_client.post(reverse("record_tags", args=[record.id]), {"tags": "hero， night, hero"})
    assert sorted(record.tags.values_list("name", flat=True)) == ["hero", "night"]
    assert Tag.objects.filter(team=crew.team).count() == 2
    member_client.post(reverse("record_rating", args=[record.id]), {"stars": "4"})
    client.force_login(crew.manager)
    client.post(reverse("record_rating", args=[record.id]), {"stars": "5"})
    client.post(reverse("record_comment", args=[record.id]), {"body": "光线很好 👍"})
    page = member_client.get(reverse("record_detail", args=[record.id])).content.decode()
    assert "4.5 ★ from 2 ratings" in page
    assert "光线很好 👍" in page and "mia" in page


def test_it_refuses_a_rating_out_of_range_and_an_empty_comment(member_client, record):
    response = member_client.post(reverse("record_rating", args=[record.id]), {"stars": "9"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    response = member_client.post(reverse("record_comment", args=[record.id]), {"body": "  "})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    assert not record.comments.exists() and not record.ratings.exists()


def test_it_shows_every_field_and_what_retries_and_rejections_cost(member_client, project,
                                                                   crew):
    ModelPriceFactory()
    record = make_record(project, crew.member, calls=(("rate_limited", 429), ("ok", 200)))
    page = member_client.get(reverse("record_detail", args=[record.id])).content.decode()
    for text in ("portrait of an old lighthouse keeper", "blurry, extra fingers", "832×1216",
                 "DPM++ 2M Karras", "6.5", "12345", "cinematic", "weathered", "amber and teal",
                 'data-copy-target="positive-prompt"'):
        assert text in page, text
    # the successful call: 1000 in × ¥2/M + 200 out × ¥8/M; the 429 before it: 1000 in × ¥2/M
    assert "¥0.0036" in page and "¥0.002<" in page and "¥0.0056" in page


def test_it_reruns_with_edits_as_a_child_job_and_diffs_the_records(member_client, record,
                                                                   crew):
    form = member_client.get(reverse("record_rerun", args=[record.id])).content.decode()
    assert "A lighthouse keeper at dusk</textarea>" in form
    response = member_client.post(reverse("record_rerun", args=[record.id]),
                                  {"brief": "A lighthouse keeper at dawn", "task_type": "strict"})
    child = GenerationJob.objects.exclude(pk=record.job_id).get()
    assert response["Location"] == reverse("job_detail", args=[child.id])
    assert child.parent_id == record.job_id and child.brief == "A lighthouse keeper at dawn"
    child.status = "succeeded"
    child.save()
    new = PromptRecord.objects.create(
        job=child, project=record.project, author=crew.member, width=832, height=1216,
        positive_prompt="portrait of an old lighthouse keeper, blue hour, 85mm",
        negative_prompt="blurry, extra fingers", steps=30, cfg_scale=record.cfg_scale,
        sampler="DPM++ 2M Karras", style="cinematic", seed=12345)
    page = member_client.get(reverse("record_detail", args=[new.id])).content.decode()
    assert '<del class="diff-del">golden</del><ins class="diff-ins">blue</ins>' in page
    assert '<ins class="diff-ins">dawn</ins>' in page and '<del class="diff-del">dusk</del>' in page
    parent_page = member_client.get(reverse("record_detail", args=[record.id])).content.decode()
    assert reverse("record_detail", args=[new.id]) in parent_page


def test_it_shows_changed_settings_as_old_to_new_and_long_texts_word_by_word(
        member_client, record, crew):
    child = JobFactory(project=record.project, created_by=crew.member, parent=record.job,
                       brief=record.job.brief, task_type="strict", temperature=Decimal("0.55"),
                       status="succeeded")
    new = PromptRecord.objects.create(
        job=child, project=record.project, author=crew.member, width=832, height=1216,
        positive_prompt="portrait of an old lighthouse keeper, blue hour, 85mm",
        negative_prompt="blurry, extra fingers", steps=24, cfg_scale=record.cfg_scale,
        sampler="Euler a", style="cinematic", seed=None)
    page = member_client.get(reverse("record_detail", args=[new.id])).content.decode()

    def row(field: str) -> str:
        return page.split(f'id="diff-{field}"')[1].split("</tr>")[0]

    assert '<span class="diff-old">30</span>' in row("steps")
    assert '<span class="diff-new">24</span>' in row("steps")
    assert "diff-old\">DPM++ 2M Karras<" in row("sampler") and ">Euler a<" in row("sampler")
    assert "diff-old\">12345<" in row("seed") and "diff-new\">random<" in row("seed")
    assert ("diff-old\">Balanced<" in row("task_type")
            and "diff-new\">Strict reference matching<" in row("task_type"))
    assert "diff-old\">0.65<" in row("temperature") and "diff-new\">0.55<" in row("temperature")
    assert "<del" not in row("steps")  # a number is not diffed word by word
    assert '<del class="diff-del">golden</del>' in row("positive_prompt")
    for unchanged in ("brief", "negative_prompt", "size", "cfg_scale", "style"):
        assert f'id="diff-{unchanged}"' not in page


def test_it_labels_the_visual_features_in_the_readers_language(member_client, record):
    page = member_client.get(reverse("record_detail", args=[record.id])).content.decode()
    features = page.split('id="visual-features"')[1].split("</dl>")[0]
    assert "<dt>Face</dt><dd>weathered</dd>" in features
    assert "<dt>Style direction</dt><dd>film still</dd>" in features
    assert "style_direction" not in features
    page = member_client.get(reverse("record_detail", args=[record.id]),
                             HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    features = page.split('id="visual-features"')[1].split("</dl>")[0]
    assert "<dt>发型</dt><dd>grey beard</dd>" in features


def test_it_reruns_with_the_new_task_types_preset_unless_the_temperature_was_custom(
        member_client, record, crew):
    form = member_client.get(reverse("record_rerun", args=[record.id])).content.decode()
    assert 'name="temperature" step="0.05" min="0"' in form  # no value: the preset's
    member_client.post(reverse("record_rerun", args=[record.id]),
                       {"brief": record.job.brief, "task_type": "strict", "temperature": ""})
    assert GenerationJob.objects.get(parent=record.job).temperature == Decimal("0.55")

    record.job.temperature = Decimal("0.80")  # a temperature the user chose
    record.job.save()
    form = member_client.get(reverse("record_rerun", args=[record.id])).content.decode()
    assert 'name="temperature" value="0.80"' in form


def test_it_reruns_with_the_settings_the_parent_kept(member_client, record, crew):
    record.job.brief = ("A lighthouse keeper at dusk\n\nKeep these settings:\n- Steps: 24\n"
                        "- Seed: 99")
    record.job.save()
    form = member_client.get(reverse("record_rerun", args=[record.id])).content.decode()
    assert "A lighthouse keeper at dusk</textarea>" in form
    assert 'name="keep_steps" value="24"' in form and 'name="keep_seed" value="99"' in form
