"""Side by side: 2–4 records of the team, each against the first (the baseline)."""

from dataclasses import dataclass

from django.db.models import Avg, Count
from django.utils.translation import gettext_lazy as _

from accounts.access import parse_id
from prompts.models import PromptRecord, Rating
from prompts.workspace.selectors.jobs import job_costs
from prompts.workspace.selectors.library import word_diff

MIN_RECORDS, MAX_RECORDS = 2, 4


def _size(record):
    return f"{record.width}×{record.height}" if record.width else "–"


def _dash(value):
    return "–" if value in (None, "") else str(value)


def _template(record):
    job = record.job
    return f"{job.template.name}" if job.template_id else "–"


def _style(record):
    version = record.job.style_version
    return str(version) if version else "–"


SETTINGS = (
    (_("Size"), _size),
    (_("Steps"), lambda r: _dash(r.steps)),
    (_("CFG scale"), lambda r: _dash(r.cfg_scale)),
    (_("Sampler"), lambda r: _dash(r.sampler)),
    (_("Seed"), lambda r: _dash(r.seed)),
    (_("Style"), lambda r: _dash(r.style)),
    (_("Task type"), lambda r: r.job.get_task_type_display()),
    (_("Temperature"), lambda r: str(r.job.temperature)),
    (_("Model"), lambda r: r.job.model),
    (_("Template"), _template),
    (_("House style"), _style),
    (_("Review"), lambda r: r.get_review_status_display()),
)


@dataclass(frozen=True)
class Column:
    record: PromptRecord
    references: list
    positive: list  # word-diff segments against the baseline (plain for the baseline)
    negative: list
    costs: object
    rating_avg: float | None
    rating_count: int


@dataclass(frozen=True)
class Comparison:
    columns: list[Column]
    settings: list[dict]  # {"label", "values": [...], "differs": bool}
    ids: str


def comparison(records: list[PromptRecord]) -> Comparison:
    """The records as the compare page shows them; prompts diffed word by word against
    the first record, settings rows marked where any value differs."""
    loaded = (PromptRecord.objects.filter(pk__in=[r.pk for r in records])
              .select_related("job__template", "job__style_version__style", "project", "author")
              .prefetch_related("job__references").in_bulk())
    records = [loaded[record.pk] for record in records]
    baseline = records[0]
    ratings = {row["record"]: row for row in Rating.objects.filter(record__in=records)
               .values("record").annotate(avg=Avg("stars"), n=Count("id"))}
    columns = []
    for index, record in enumerate(records):
        same = index == 0
        columns.append(Column(
            record=record, references=list(record.job.references.all()),
            positive=_plain(record.positive_prompt) if same
            else word_diff(baseline.positive_prompt, record.positive_prompt),
            negative=_plain(record.negative_prompt) if same
            else word_diff(baseline.negative_prompt, record.negative_prompt),
            costs=job_costs(record.job),
            rating_avg=ratings.get(record.pk, {}).get("avg"),
            rating_count=ratings.get(record.pk, {}).get("n", 0),
        ))
    settings = []
    for label, value_of in SETTINGS:
        values = [value_of(record) for record in records]
        settings.append({"label": label, "values": values, "differs": len(set(values)) > 1})
    return Comparison(columns=columns, settings=settings,
                      ids=",".join(str(record.pk) for record in records))


def _plain(text: str) -> list[dict]:
    return [{"op": "equal", "text": text}] if text else []


def parse_compare_ids(values: list[str]) -> list[int] | None:
    """`?ids=3,5&ids=9` → [3, 5, 9], first occurrence kept; None when anything is not an id."""
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            record_id = parse_id(part)
            if record_id is None:
                return None
            if record_id not in ids:
                ids.append(record_id)
    return ids
