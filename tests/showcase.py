"""A team with a realistic month of work, for tests that look at every page: the Chinese
check (tests/grokweb/test_every_page_in_chinese.py) and the browser's tour
(tests/browser/test_every_page.py).

`build_showcase()` writes it through the services (so the audit log fills itself) and
returns the pages to visit per person. User data is kept clear of the words GrokWeb's own
English uses, so a check that discounts user data cannot discount a missing translation.
"""

import io
import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from PIL import Image, PngImagePlugin

from accounts.models import ApiToken, AuditEvent, GatewayKey, Membership, Team, User
from accounts.services import api_token_create, membership_set
from prompts.models import (
    Batch,
    Comment,
    DispatchPause,
    GatewayCall,
    GenerationJob,
    ModelPrice,
    ModerationHold,
    Project,
    PromptRecord,
    Rating,
    ReconciliationRun,
    Tag,
)
from prompts.models.pricing import EXAMPLE_PRICE_NOTE
from prompts.models.workspace import DEMO_PROJECT_DESCRIPTION
from prompts.pipeline.keys import gateway_key_add
from prompts.usage.budgets import budget_set
from prompts.usage.ledger import CallFacts, ledger_open, ledger_record, price_in_force
from prompts.usage.prices import price_set
from prompts.usage.reconciliation.runs import reconciliation_run
from prompts.workspace.services.records import record_favourite_toggle
from prompts.workspace.services.references import reference_upload
from prompts.workspace.services.reviews import (
    record_review_decide,
    record_submit,
    reviewer_add,
)
from prompts.workspace.services.shares import share_link_create
from prompts.workspace.services.styles import StyleRules, style_create
from prompts.workspace.services.templates import template_create
from prompts.workspace.services.webhooks import webhook_endpoint_create
from tests.factories import JobFactory, UserFactory
from tests.workspace.conftest import image_bytes, make_record

LONG_BRIEF = "\n".join(f"第{n}个场景：城市夜景，霓虹灯，雨后的街道。" * 40 for n in range(1, 300))


@dataclass
class Page:
    name: str
    url: str
    method: str = "get"
    data: dict = field(default_factory=dict)
    htmx: bool = False


@dataclass
class Showcase:
    team: Team
    manager: User
    member: User
    admin: User
    loner: User
    project: Project
    pages: dict[str, list[Page]]


def _png_with_prompt() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "paper lanterns drifting, koi pond, moonlit\n"
                                "Negative prompt: smudged, watermark\n"
                                "Steps: 28, Sampler: Euler a, CFG scale: 6.5, Seed: 90210, "
                                "Size: 832x1216")
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 60, 90)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def _call(job, attempt, outcome, status, prompt=1000, completion=0, message="", delay=None):
    ledger_record(job=job, attempt=attempt, facts=CallFacts(
        outcome=outcome, started_at=timezone.now(), key_id=None, http_status=status,
        prompt_tokens=prompt, completion_tokens=completion, error_message=message,
        retry_delay_s=delay))


def build_showcase(*, manager: User, member: User, admin: User, team: Team) -> Showcase:
    now = timezone.now()
    admin.is_superuser = True  # as seed_demo's admin: Django admin lists every model
    admin.save(update_fields=["is_superuser"])
    lei = UserFactory(username="lei")
    membership_set(team=team, user=lei, role=Membership.Role.MEMBER, actor=admin)
    loner = UserFactory(username="nova")

    # The gateway: keys in every state, a failed verification, a paused dispatch.
    primary = gateway_key_add(name="primary-2026-12", secret="sk-showcase-primary-7f3a",
                              activate=True, actor=admin)
    backup = gateway_key_add(name="backup-2026-11", secret="sk-showcase-backup-19c2",
                             actor=admin)
    GatewayKey.objects.filter(pk=backup.pk).update(
        last_error="auth (401 invalid_api_key): 无效的令牌",
        last_error_at=now)
    gateway_key_add(name="spare-2027-01", secret="sk-showcase-spare-88d1", actor=admin)
    DispatchPause.objects.create(reason="balance", detail="余额不足 (quota 0)")
    price_set(model="grok-build-0.2", input_per_mtok=Decimal("3"), output_per_mtok=Decimal("9"),
              actor=admin)
    ModelPrice.objects.create(model="grok-mini-9", input_per_mtok=Decimal("1"),
                              output_per_mtok=Decimal("2"), effective_from=now - timedelta(days=9),
                              is_example=True, note=EXAMPLE_PRICE_NOTE)

    project = Project.objects.create(team=team, name="Lantern Harbour", created_by=member,
                                     description="Koi pond stills, moonlit piers")
    Project.objects.create(team=team, name="Koi Atelier", description=DEMO_PROJECT_DESCRIPTION)
    Project.objects.create(team=team, name="Winter Koi", archived_at=now)

    harbour = reference_upload(project=project, user=member, data=image_bytes("JPEG"),
                               original_name="harbour-dusk-wide-establishing-shot-v3.jpg"
                               ).reference
    lanterns = reference_upload(project=project, user=member, data=_png_with_prompt(),
                                original_name="koi-lanterns.png").reference
    reference_upload(project=project, user=member, original_name="portrait-qiu.jpg",
                     data=image_bytes("JPEG", size=(400, 600)), shows_person=True)

    # Records: one with everything, a re-run of it with other settings, one to review.
    hero = make_record(project, member, brief="Koi pond, moonrise, paper lanterns drifting",
                       calls=(("transient", 503), ("ok", 200)),
                       positive_prompt="koi pond, moonrise, paper lanterns, 85mm",
                       negative_prompt="smudged, watermark", style="ukiyo-e",
                       visual_features={"face": "serene", "hairstyle": "braided bun",
                                        "lighting": "lantern glow", "palette": "vermilion, jade",
                                        "composition": "diagonal pier",
                                        "style_direction": "woodblock"})
    hero.job.references.set([harbour, lanterns])
    night = Tag.objects.create(team=team, name="moonlit")
    hero.tags.add(night, Tag.objects.create(team=team, name="koi"))
    Rating.objects.create(record=hero, user=manager, stars=4)
    Comment.objects.create(record=hero, author=manager, body="Warmer lanterns, tinier koi")
    record_favourite_toggle(record=hero, user=member)
    rerun_job = JobFactory(
        project=project, created_by=member, parent=hero.job, status="succeeded",
        task_type="strict", temperature=Decimal("0.55"), finished_at=now,
        brief="Koi pond, moonrise, paper lanterns drifting\n\nKeep these settings:\n"
              "- Negative prompt: smudged, watermark\n- Steps: 24\n- Seed: 90210")
    _call(rerun_job, 1, "ok", 200, completion=180)
    PromptRecord.objects.create(
        job=rerun_job, project=project, author=member, width=832, height=1216, steps=24,
        positive_prompt="koi pond, moonrise, paper lanterns, silk mist, 50mm",
        negative_prompt="smudged, watermark", cfg_scale=Decimal("6.5"), sampler="DPM++ 2M Karras",
        style="ukiyo-e", seed=90210)
    make_record(project, member, brief="Pier silhouettes, fog", positive_prompt="",
                negative_prompt="", needs_review=True, raw_text="{pier: fog",
                visual_features=None)

    # Jobs in every state, including one between two attempts.
    JobFactory(project=project, created_by=member, status="failed", attempts=1,
               brief="Koi sketch, ink wash", error_code="invalid",
               error_message="image_url unreachable", finished_at=now)
    JobFactory(project=project, created_by=member, status="waiting", wait_reason="budget",
               brief="Moonlit pier, drizzle")
    retrying = JobFactory(project=project, created_by=member, status="queued", attempts=1,
                          next_attempt_at=now + timedelta(seconds=40),
                          brief="Koi pond, dawn haze")
    _call(retrying, 1, "transient", 503, message="upstream overloaded", delay=40)
    JobFactory(project=project, created_by=member, status="cancelled", brief="Lantern fog",
               finished_at=now)
    batch = Batch.objects.create(project=project, created_by=member, title="Koi catalogue")
    for brief, status in (("Koi, crimson", "succeeded"), ("Koi, gold", "failed"),
                          ("Koi, white", "queued")):
        job = JobFactory(project=project, created_by=member, batch=batch, brief=brief,
                         status=status, attempts=1, error_code="invalid" if status == "failed"
                         else "", error_message="bad koi" if status == "failed" else "")
        if status == "succeeded":
            _call(job, 1, "ok", 200, completion=150)
            PromptRecord.objects.create(job=job, project=project, author=member,
                                        positive_prompt="koi, crimson scales, 35mm")

    # A member on hold after moderation rejections.
    for n in range(3):
        rejected = JobFactory(project=project, created_by=lei, status="rejected",
                              brief=f"Koi pond variant {n + 1}", error_code="moderation",
                              error_message="content_policy_violation", finished_at=now)
        _call(rejected, 1, "moderation", 400, prompt=800)
    ModerationHold.objects.create(user=lei, team=team)
    JobFactory(project=project, created_by=lei, status="waiting",
               wait_reason="moderation_hold", brief="Koi pond variant 4")

    studio = _studio(team=team, manager=manager, member=member, lei=lei, hero=hero,
                     rerun=PromptRecord.objects.get(job=rerun_job))

    run = _reconciled(project=project, member=member, now=now)

    budget_set(team=team, monthly_limit=Decimal("0.03"), warn_at=Decimal("0.5"), actor=manager)
    budget_set(team=team, user=member, monthly_limit=Decimal("0.01"), actor=manager)
    api_token_create(user=member, name="nightly-koi-export")

    job_of = {status: GenerationJob.objects.filter(project=project, status=status,
                                                   batch__isnull=True).first()
              for status in ("failed", "waiting", "queued", "cancelled")}
    records = {"hero": hero, "rerun": PromptRecord.objects.get(job=rerun_job),
               "review": PromptRecord.objects.get(needs_review=True)}
    pages = _pages(project=project, batch=batch, job_of=job_of, records=records,
                   lanterns=lanterns, team=team, hold=ModerationHold.objects.get(), run=run,
                   **studio)
    assert AuditEvent.objects.exists() and ApiToken.objects.exists()
    assert GatewayCall.objects.filter(outcome="moderation").count() == 3
    assert primary.status == "active"
    return Showcase(team=team, manager=manager, member=member, admin=admin, loner=loner,
                    project=project, pages=pages)


def _studio(*, team, manager, member, lei, hero, rerun) -> dict:
    """The studio's things: a house style, a template, a review, a share link, a webhook."""
    style = style_create(team=team, user=manager, name="Koi lacquer", rules=StyleRules(
        negative_terms="watermark, smudged", style_words="lacquer sheen, gold leaf",
        width=832, height=1216, sampler="DPM++ 2M Karras", steps=28,
        checkpoint="sd_xl_base_1.0.safetensors"))
    template = template_create(team=team, user=manager, name="Koi poster",
                               body="Poster: {fish} beside {scenery}, {focal}",
                               task_type="balanced", style=style)
    reviewer_add(team=team, user=lei, actor=manager)
    record_submit(record=hero, user=member, comment="鲤鱼主图，请审核")
    record_review_decide(record=hero, user=manager, decision="approve", comment="通过")
    record_submit(record=rerun, user=member)  # waits in the review queue
    share_link_create(user=manager, record=hero, label="客户预览")
    webhook, _secret = webhook_endpoint_create(
        team=team, user=manager, url="https://93.184.216.34/hooks/koi",
        events=["job.succeeded", "record.approved"], description="Koi pipeline")
    return {"style": style, "template": template, "webhook": webhook}


def _reconciled(*, project, member, now) -> ReconciliationRun:
    """A call whose worker died (unconfirmed until reconciled), and a reconciliation of the
    last two days against a downloaded log with one call the ledger does not have."""
    lost = JobFactory(project=project, created_by=member, status="queued", attempts=1,
                      brief="Koi pond, thunder")
    call = ledger_open(job=lost, attempt=1, team_id=project.team_id, key_id=None,
                       price=price_in_force(lost.model, now), started_at=now)
    GatewayCall.objects.filter(pk=call.pk).update(state="unknown")
    log = [{"created_at": int((now - timedelta(minutes=30)).timestamp()),
            "model_name": lost.model, "prompt_tokens": 2000, "completion_tokens": 300,
            "request_id": "koi-gw-7781"}]
    today = timezone.localdate(now)
    return reconciliation_run(since=today - timedelta(days=1), until=today,
                              file_data=json.dumps(log).encode(), filename="koi-usage.json")


def _pages(*, project, batch, job_of, records, lanterns, team, hold, style, template,
           webhook, run) -> dict[str, list[Page]]:
    generate = reverse("generate", args=[project.id])
    member = [
        Page("dashboard", reverse("home")),
        Page("projects", reverse("project_list")),
        Page("archived projects", reverse("project_list") + "?archived=1"),
        Page("project", reverse("project_detail", args=[project.id])),
        Page("generate", generate),
        Page("generate from a PNG", f"{generate}?from_reference={lanterns.id}"),
        Page("generate: too long, split offer", generate, "post",
             {"brief": LONG_BRIEF, "task_type": "balanced"}),
        Page("generate estimate", reverse("generate_estimate", args=[project.id]), "post",
             {"brief": "Koi pond, dusk", "task_type": "creative", "temperature": "0.9"},
             htmx=True),
        Page("re-run with edits", reverse("record_rerun", args=[records["hero"].id])),
        Page("jobs", reverse("job_list")),
        *[Page(f"job: {status}", reverse("job_detail", args=[job.id]))
          for status, job in job_of.items()],
        Page("job: succeeded", reverse("job_detail", args=[records["hero"].job_id])),
        Page("library", reverse("library")),
        Page("record", reverse("record_detail", args=[records["hero"].id])),
        Page("record: re-run with diff", reverse("record_detail", args=[records["rerun"].id])),
        Page("record: needs review", reverse("record_detail", args=[records["review"].id])),
        Page("batches", reverse("batch_list")),
        Page("batch", reverse("batch_detail", args=[batch.id])),
        Page("new batch", reverse("batch_new", args=[project.id])),
        Page("new batch: split", reverse("batch_new", args=[project.id]), "post",
             {"prefill": "1", "split_long": "1", "text": LONG_BRIEF[:20000],
              "task_type": "balanced"}),
        Page("new batch: two sources", reverse("batch_new", args=[project.id]), "post",
             {"text": "Koi, blue", "split": "line", "task_type": "balanced",
              "csv_file": ("briefs.csv", b"brief\nKoi, green\n")}),
        Page("batch estimate", reverse("batch_estimate", args=[project.id]), "post",
             {"text": "Koi, blue\nKoi, green", "split": "line", "task_type": "balanced"},
             htmx=True),
        Page("API tokens", reverse("token_list")),
        Page("not found", "/no/such/page/"),
        Page("studio", reverse("studio")),
        Page("brief templates", reverse("template_list")),
        Page("generate from a template", reverse("template_generate",
                                                 args=[project.id, template.id])),
        Page("batch from a template", reverse("template_batch", args=[project.id, template.id])),
        Page("house styles", reverse("style_list")),
        Page("house style", reverse("style_detail", args=[style.id])),
        Page("compare", reverse("compare") + f"?ids={records['hero'].id},{records['rerun'].id}"),
        Page("house library", reverse("house_library")),
    ]
    manager = [
        Page("dashboard (manager)", reverse("home")),
        Page("usage report", reverse("usage_report")),
        Page("usage report by project", reverse("usage_report") + "?group_by=project"),
        Page("monthly statement", reverse("usage_statement")),
        Page("budgets", reverse("budget_list")),
        Page("moderation holds", reverse("hold_list")),
        Page("brief template", reverse("template_edit", args=[template.id])),
        Page("review queue", reverse("review_queue")),
        Page("share links", reverse("share_list")),
        Page("webhooks", reverse("webhook_list")),
        Page("webhook", reverse("webhook_detail", args=[webhook.id])),
        Page("reconciliation", reverse("reconciliation_list")),
        Page("reconciliation run", reverse("reconciliation_detail", args=[run.id])),
    ]
    admin = [
        Page("admin console", reverse("console")),
        Page("audit log", reverse("console_audit")),
        Page("users and teams", reverse("console_users")),
        Page("price book", reverse("price_book")),
        Page("report of a team", reverse("usage_report") + f"?team={team.id}"),
        Page("reconciliation, every team", reverse("reconciliation_list")),
        Page("reconciliation run, every team", reverse("reconciliation_detail", args=[run.id])),
        Page("Django admin", reverse("admin:index")),
    ]
    anonymous = [
        Page("log in", reverse("login")),
        Page("expired invitation", reverse("password_reset_confirm",
                                           args=["MQ", "set-password"])),
    ]
    loner = [Page("no team", reverse("project_list"))]
    assert hold.released_at is None
    return {"member": member, "manager": manager, "admin": admin, "anonymous": anonymous,
            "loner": loner}
