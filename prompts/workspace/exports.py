"""Prompt records in the formats image tools read: A1111 infotext, ComfyUI API-format
workflow JSON, PNG prompt cards (both in one picture), CSV (UTF-8 with BOM, so Excel shows
Chinese) and JSONL.

Plain functions over records; the views choose which records and wrap the bytes.
"""

import io
import itertools
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from grokweb.csvexport import csv_bytes
from prompts.models import PromptRecord
from prompts.workspace.formats import pngcard
from prompts.workspace.formats.pngcard import CardValues
from prompts.workspace.selectors.jobs import record_as_dict

VISUAL_FEATURE_COLUMNS = ("face", "hairstyle", "lighting", "palette", "composition",
                          "style_direction")
CSV_COLUMNS = (
    "id", "project", "author", "created_at", "brief", "positive_prompt", "negative_prompt",
    "width", "height", "steps", "cfg_scale", "sampler", "style", "seed", "needs_review", "tags",
    *VISUAL_FEATURE_COLUMNS,
)


def card_values(record: PromptRecord) -> CardValues:
    """A record's settings as the PNG card, the A1111 text and the ComfyUI graph write them;
    the checkpoint is its house style's (else pngcard's placeholder)."""
    version = record.job.style_version
    return CardValues(
        positive_prompt=record.positive_prompt or record.raw_text,
        negative_prompt=record.negative_prompt, steps=record.steps, sampler=record.sampler,
        cfg_scale=record.cfg_scale, seed=record.seed, width=record.width,
        height=record.height, checkpoint=version.checkpoint if version else "",
        title=f"{record.project.name} · #{record.pk}",
    )


def a1111_infotext(record: PromptRecord) -> str:
    """`prompt\nNegative prompt: …\nSteps: …, Sampler: …, CFG scale: …, Seed: …, Size: WxH`."""
    return pngcard.a1111_infotext(card_values(record))


def comfyui_workflow(record: PromptRecord) -> dict:
    """The record as a ComfyUI API-format prompt (POST /prompt, or "Load" in the UI)."""
    return pngcard.comfyui_api_graph(card_values(record))


def record_png_card(record: PromptRecord) -> bytes:
    """The card: the record's first reference as the picture, else a drawn card."""
    reference = next(iter(record.job.references.all()), None)
    image = None
    if reference is not None:
        with reference.send_file.open("rb") as handle:
            image = handle.read()
    return pngcard.png_card(card_values(record), image=image)


def _record_row(record: PromptRecord) -> dict:
    features = record.visual_features or {}
    return {
        "id": record.pk,
        "project": record.project.name,
        "author": record.author.get_username(),
        "created_at": _local_time(record),
        "brief": record.job.brief,
        "positive_prompt": record.positive_prompt,
        "negative_prompt": record.negative_prompt,
        "width": record.width,
        "height": record.height,
        "steps": record.steps,
        "cfg_scale": record.cfg_scale,
        "sampler": record.sampler,
        "style": record.style,
        "seed": record.seed,
        # What spreadsheets and other tools read as a boolean, not Python's "False".
        "needs_review": "true" if record.needs_review else "false",
        "tags": ";".join(tag.name for tag in record.tags.all()),
        **{key: features.get(key, "") for key in VISUAL_FEATURE_COLUMNS},
    }


def _local_time(record: PromptRecord) -> str:
    """In the site's time zone with its offset (2026-11-20T10:00:00+08:00), as pages show it."""
    return timezone.localtime(record.created_at).isoformat(timespec="seconds")


def records_csv(records: Iterable[PromptRecord]) -> bytes:
    rows = ([_record_row(record)[column] for column in CSV_COLUMNS] for record in records)
    return csv_bytes(itertools.chain([CSV_COLUMNS], rows))


def records_jsonl(records: Iterable[PromptRecord]) -> bytes:
    lines = []
    for record in records:
        row = record_as_dict(record)
        row.update(
            project=record.project.name, author=record.author.get_username(),
            created_at=_local_time(record), brief=record.job.brief,
            job_id=record.job_id, tags=[tag.name for tag in record.tags.all()],
        )
        lines.append(json.dumps(row, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content_type: str
    content: bytes


FORMATS = ("a1111", "comfyui", "png", "csv", "jsonl")


def export_records(records: list[PromptRecord], *, fmt: str, stem: str) -> ExportFile:
    """One record in A1111 or ComfyUI format is one file; several are a zip of such files,
    because both tools read one prompt per file. CSV and JSONL hold any number."""
    if fmt == "csv":
        return ExportFile(f"{stem}.csv", "text/csv; charset=utf-8", records_csv(records))
    if fmt == "jsonl":
        return ExportFile(f"{stem}.jsonl", "application/x-ndjson; charset=utf-8",
                          records_jsonl(records))
    if fmt == "png":
        cards = [(f"record-{r.pk}.png", record_png_card(r)) for r in records]
        if len(cards) == 1:
            return ExportFile(f"{stem}.png", "image/png", cards[0][1])
        return ExportFile(f"{stem}-png.zip", "application/zip", pngcard.png_cards_zip(cards))
    if fmt == "a1111":
        files = [(f"record-{r.pk}.txt", a1111_infotext(r).encode("utf-8")) for r in records]
        single = ("text/plain; charset=utf-8", ".txt")
    elif fmt == "comfyui":
        files = [
            (f"record-{r.pk}.json",
             json.dumps(comfyui_workflow(r), ensure_ascii=False, indent=2).encode("utf-8"))
            for r in records
        ]
        single = ("application/json", ".json")
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    if len(files) == 1:
        return ExportFile(f"{stem}{single[1]}", single[0], files[0][1])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(name, content)
    return ExportFile(f"{stem}-{fmt}.zip", "application/zip", buffer.getvalue())
