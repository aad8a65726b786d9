"""Batches: pasted briefs or a CSV, every row checked before anything is created; progress,
cancel, retry-failed, a summary; a fixed number of queries for 200 jobs."""

from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Budget
from prompts.models import Batch, BlockedTerm, GenerationJob
from prompts.pipeline.creation import JobSpec, job_estimate_tokens
from prompts.usage.money import yuan
from tests.conftest import drain
from tests.factories import JobFactory, ModelPriceFactory
from tests.workspace.conftest import image_bytes, make_record


def create(client, project, **data):
    return client.post(reverse("batch_new", args=[project.id]),
                       {"split": "line", "task_type": "balanced", **data})


def csv_file(text: str, encoding="utf-8-sig") -> SimpleUploadedFile:
    return SimpleUploadedFile("briefs.csv", text.encode(encoding), content_type="text/csv")


def test_it_makes_one_job_per_line(member_client, project):
    response = create(member_client, project, text="a fox\n\n一只熊猫\n  a heron  ",
                      title="Animals")
    batch = Batch.objects.get()
    assert response["Location"] == reverse("batch_detail", args=[batch.id])
    assert list(batch.jobs.order_by("id").values_list("brief", flat=True)) == [
        "a fox", "一只熊猫", "a heron"]
    assert batch.title == "Animals"


def test_it_makes_one_job_per_paragraph(member_client, project):
    create(member_client, project, split="paragraph",
           text="a fox\nin snow\n\na heron\n   \nat dawn")
    assert list(GenerationJob.objects.order_by("id").values_list("brief", flat=True)) == [
        "a fox\nin snow", "a heron", "at dawn"]


def test_it_reads_a_csv_with_task_type_temperature_and_references(member_client, project,
                                                                  crew):
    from prompts.workspace.services.references import reference_create

    ref, _ = reference_create(project=project, user=crew.member, data=image_bytes(),
                              original_name="hero.jpg")
    create(member_client, project, csv_file=csv_file(
        "brief,task_type,temperature,references\n"
        "红衣女子,strict,,hero.jpg\n"
        "a city at night,creative,0.8,\n"))
    first, second = GenerationJob.objects.order_by("id")
    assert (first.task_type, str(first.temperature)) == ("strict", "0.55")
    assert list(first.references.all()) == [ref]
    assert (second.task_type, str(second.temperature), second.references.count()) == (
        "creative", "0.80", 0)


def test_it_reads_a_gbk_csv_from_chinese_excel(member_client, project):
    create(member_client, project, csv_file=csv_file("brief\n春天的樱花\n", encoding="gb18030"))
    assert GenerationJob.objects.get().brief == "春天的樱花"


def test_it_reports_every_malformed_csv_row_by_number_and_creates_nothing(member_client,
                                                                         project):
    response = create(member_client, project, csv_file=csv_file(
        "brief,task_type,temperature,references\n"
        "fine row,balanced,0.6,\n"
        ",strict,,\n"
        "bad type,wild,,\n"
        "bad temp,strict,hot,\n"
        "missing ref,strict,,nowhere.jpg\n"
        "too,many,cells,here,extra\n"))
    page = response.content.decode()
    assert response.status_code == 422
    assert "Nothing was created." in page
    assert "Row 3: the brief is empty." in page
    assert "Row 4: task type “wild” is not strict, balanced or creative." in page
    assert "Row 5: temperature “hot” is not a number from 0 to 2." in page
    assert "Row 6: no reference called “nowhere.jpg” in this project." in page
    assert "Row 7: it has more cells than the header." in page
    assert "Row 2" not in page
    assert not Batch.objects.exists() and not GenerationJob.objects.exists()


def test_it_refuses_a_csv_without_a_brief_column(member_client, project):
    page = create(member_client, project, csv_file=csv_file("prompt\nx\n")).content.decode()
    assert "needs a header row with a “brief” column" in page
    assert not Batch.objects.exists()


def test_it_refuses_pasted_briefs_and_a_csv_together(member_client, project):
    response = create(member_client, project, text="a fox\na heron",
                      csv_file=csv_file("brief\na panda\n"))
    assert response.status_code == 422
    assert ("You pasted briefs and chose a CSV file: a batch is made from one of them."
            in response.content.decode())
    assert not Batch.objects.exists()


def estimate(client, project, **data) -> str:
    return client.post(reverse("batch_estimate", args=[project.id]),
                       {"split": "line", "task_type": "balanced", **data},
                       HTTP_HX_REQUEST="true").content.decode()


def test_it_estimates_a_batch_before_creating_it(member_client, project, crew):
    ModelPriceFactory()  # ¥2 / ¥8 per million
    briefs = ["a fox in snow", "一只熊猫", "a heron at dawn"]
    page = estimate(member_client, project, text="\n".join(briefs))
    tokens = [job_estimate_tokens(JobSpec(brief=brief)) for brief in briefs]
    most = sum(Decimal(n) * 2 + 1024 * 8 for n in tokens) / 1_000_000
    assert '<dd id="estimate-jobs">3</dd>' in page
    assert f'<dd id="estimate-tokens">{sum(tokens):,}</dd>' in page
    assert f'<dd id="estimate-cost">¥{yuan(most)}</dd>' in page
    assert not Batch.objects.exists() and not GenerationJob.objects.exists()
    from_csv = estimate(member_client, project, csv_file=csv_file("brief\na fox\na heron\n"))
    assert '<dd id="estimate-jobs">2</dd>' in from_csv
    Budget.objects.create(team=crew.team, monthly_limit=Decimal("0.02"))
    assert "more than the ¥0.02 left in the team&#x27;s monthly budget" in estimate(
        member_client, project, text="\n".join(briefs))


def test_it_says_what_to_fix_before_it_can_estimate(member_client, project):
    page = estimate(member_client, project, csv_file=csv_file("title\nnot a brief\n"))
    assert "The estimate appears once the briefs can be read" in page
    assert "needs a header row with a “brief” column" in page


def test_it_names_the_users_row_when_the_job_service_refuses_one(member_client, project):
    BlockedTerm.objects.create(term="forbidden")
    response = create(member_client, project, text="fine\n\nalso fine\na forbidden thing")
    assert "Row 4: The brief contains “forbidden”" in response.content.decode()
    assert not Batch.objects.exists() and not GenerationJob.objects.exists()


def test_it_shows_progress_and_a_summary_when_done(member_client, project, crew, gateway):
    create(member_client, project, text="a fox\na heron\na crane")
    batch = Batch.objects.get()
    gateway.script([{"status": 400, "body": {"error": {"code": "content_policy_violation",
                                                        "message": "no"}}}])
    page = member_client.get(reverse("batch_detail", args=[batch.id])).content.decode()
    assert 'hx-trigger="every 2s"' in page and "batch-summary" not in page
    for job in batch.jobs.order_by("id"):
        drain(job.id)
    page = member_client.get(reverse("batch_progress", args=[batch.id])).content.decode()
    assert "hx-trigger" not in page
    assert 'id="count-succeeded">2<' in page and 'id="count-rejected">1<' in page
    assert "3 jobs: 2 succeeded, 0 failed, 1 rejected, 0 cancelled." in page
    assert "content filter refused" in page
    assert "unpriced calls: 3" in page


def test_it_cancels_the_jobs_not_started_and_retries_the_failed(member_client, project, crew):
    create(member_client, project, text="a\nb\nc")
    batch = Batch.objects.get()
    first, second, third = batch.jobs.order_by("id")
    GenerationJob.objects.filter(pk=first.pk).update(status="failed", error_code="transient")
    GenerationJob.objects.filter(pk=second.pk).update(status="running",
                                                      lease_until="2030-01-01T00:00Z")
    member_client.post(reverse("batch_cancel", args=[batch.id]))
    statuses = dict(batch.jobs.values_list("id", "status"))
    assert statuses == {first.id: "failed", second.id: "running", third.id: "cancelled"}
    response = member_client.post(reverse("batch_retry_failed", args=[batch.id]), follow=True)
    assert "1 failed job sent again." in response.content.decode()
    assert GenerationJob.objects.get(pk=first.pk).status == "queued"


def test_it_keeps_the_batch_pages_to_a_fixed_number_of_queries(member_client, project, crew,
                                                               django_assert_max_num_queries):
    batch = Batch.objects.create(project=project, created_by=crew.member, title="Big")
    for _n in range(200):
        record = make_record(project, crew.member, calls=())
        GenerationJob.objects.filter(pk=record.job_id).update(batch=batch)
    JobFactory(project=project, created_by=crew.member, batch=batch, status="queued")
    with django_assert_max_num_queries(15):
        page = member_client.get(reverse("batch_detail", args=[batch.id])).content.decode()
    assert page.count('class="badge status-succeeded"') == 100
    with django_assert_max_num_queries(12):
        member_client.get(reverse("batch_list"))
