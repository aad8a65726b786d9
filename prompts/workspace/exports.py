"""Prompt records in the formats image tools read: A1111 infotext, ComfyUI API-format
workflow JSON, CSV (UTF-8 with BOM, so Excel shows Chinese) and JSONL.

Plain functions over records; the views choose which records and wrap the bytes.
"""

import hashlib
import io
import itertools
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

from grokweb.csvexport import csv_bytes
from prompts.models import PromptRecord
from prompts.workspace.selectors.jobs import record_as_dict

# A1111 writes -1 for "random seed".
RANDOM_SEED = -1
# A checkpoint name every ComfyUI install understands as a placeholder to swap for its own.
COMFYUI_CHECKPOINT = "sd_xl_base_1.0.safetensors"

# A1111 sampler names → ComfyUI KSampler sampler_name; the scheduler comes from the suffix.
_COMFYUI_SAMPLERS = {
    "euler": "euler",
    "euler a": "euler_ancestral",
    "heun": "heun",
    "lms": "lms",
    "dpm2": "dpm_2",
    "dpm2 a": "dpm_2_ancestral",
    "dpm fast": "dpm_fast",
    "dpm adaptive": "dpm_adaptive",
    "dpm++ 2s a": "dpmpp_2s_ancestral",
    "dpm++ 2m": "dpmpp_2m",
    "dpm++ sde": "dpmpp_sde",
    "dpm++ 2m sde": "dpmpp_2m_sde",
    "dpm++ 2m sde heun": "dpmpp_2m_sde",
    "dpm++ 3m sde": "dpmpp_3m_sde",
    "ddim": "ddim",
    "ddpm": "ddpm",
    "plms": "euler",
    "unipc": "uni_pc",
    "lcm": "lcm",
}
_SCHEDULERS = {"karras": "karras", "exponential": "exponential", "sgm uniform": "sgm_uniform",
               "uniform": "normal"}
DEFAULT_SAMPLER = ("euler", "normal")
VISUAL_FEATURE_COLUMNS = ("face", "hairstyle", "lighting", "palette", "composition",
                          "style_direction")
CSV_COLUMNS = (
    "id", "project", "author", "created_at", "brief", "positive_prompt", "negative_prompt",
    "width", "height", "steps", "cfg_scale", "sampler", "style", "seed", "needs_review", "tags",
    *VISUAL_FEATURE_COLUMNS,
)


def comfyui_sampler(name: str) -> tuple[str, str]:
    """("DPM++ 2M Karras") → ("dpmpp_2m", "karras"); unknown names → euler/normal."""
    lowered = " ".join(name.lower().split())
    scheduler = "normal"
    for suffix, comfy_scheduler in _SCHEDULERS.items():
        if lowered.endswith(" " + suffix):
            lowered, scheduler = lowered[: -len(suffix) - 1], comfy_scheduler
            break
    if lowered not in _COMFYUI_SAMPLERS:
        return DEFAULT_SAMPLER
    sampler = _COMFYUI_SAMPLERS[lowered]
    if sampler == "ddim" and scheduler == "normal":
        scheduler = "ddim_uniform"
    return sampler, scheduler


def _a1111_value(value) -> str:
    """A1111 quotes a setting that holds a comma or a quote."""
    text = str(value)
    if "," in text or '"' in text or "\n" in text:
        return json.dumps(text, ensure_ascii=False)
    return text


def a1111_infotext(record: PromptRecord) -> str:
    """`prompt\\nNegative prompt: …\\nSteps: …, Sampler: …, CFG scale: …, Seed: …, Size: WxH`."""
    lines = [record.positive_prompt or record.raw_text]
    if record.negative_prompt:
        lines.append(f"Negative prompt: {record.negative_prompt}")
    settings = []
    if record.steps is not None:
        settings.append(f"Steps: {record.steps}")
    if record.sampler:
        settings.append(f"Sampler: {_a1111_value(record.sampler)}")
    if record.cfg_scale is not None:
        settings.append(f"CFG scale: {record.cfg_scale}")
    settings.append(f"Seed: {record.seed if record.seed is not None else RANDOM_SEED}")
    if record.width and record.height:
        settings.append(f"Size: {record.width}x{record.height}")
    lines.append(", ".join(settings))
    return "\n".join(lines)


def _fixed_seed(record: PromptRecord) -> int:
    """ComfyUI needs a number: a record without a seed gets one derived from its id, so
    exporting it twice gives the same workflow."""
    if record.seed is not None and record.seed >= 0:
        return record.seed
    digest = hashlib.sha256(f"grokweb-record-{record.pk}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def comfyui_workflow(record: PromptRecord) -> dict:
    """The record as a ComfyUI API-format prompt (POST /prompt, or "Load" in the UI)."""
    sampler_name, scheduler = comfyui_sampler(record.sampler or "")
    return {
        "4": {"class_type": "CheckpointLoaderSimple",
              "inputs": {"ckpt_name": COMFYUI_CHECKPOINT},
              "_meta": {"title": "Load Checkpoint"}},
        "6": {"class_type": "CLIPTextEncode",
              "inputs": {"text": record.positive_prompt or record.raw_text, "clip": ["4", 1]},
              "_meta": {"title": "Positive prompt"}},
        "7": {"class_type": "CLIPTextEncode",
              "inputs": {"text": record.negative_prompt, "clip": ["4", 1]},
              "_meta": {"title": "Negative prompt"}},
        "5": {"class_type": "EmptyLatentImage",
              "inputs": {"width": record.width or 1024, "height": record.height or 1024,
                         "batch_size": 1},
              "_meta": {"title": "Empty Latent Image"}},
        "3": {"class_type": "KSampler",
              "inputs": {"seed": _fixed_seed(record), "steps": record.steps or 30,
                         "cfg": float(record.cfg_scale) if record.cfg_scale is not None else 7.0,
                         "sampler_name": sampler_name, "scheduler": scheduler, "denoise": 1.0,
                         "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
                         "latent_image": ["5", 0]},
              "_meta": {"title": "KSampler"}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]},
              "_meta": {"title": "VAE Decode"}},
        "9": {"class_type": "SaveImage",
              "inputs": {"filename_prefix": f"grokweb_{record.pk}", "images": ["8", 0]},
              "_meta": {"title": "Save Image"}},
    }


def _record_row(record: PromptRecord) -> dict:
    features = record.visual_features or {}
    return {
        "id": record.pk,
        "project": record.project.name,
        "author": record.author.get_username(),
        "created_at": record.created_at.isoformat(),
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
        "needs_review": record.needs_review,
        "tags": ";".join(tag.name for tag in record.tags.all()),
        **{key: features.get(key, "") for key in VISUAL_FEATURE_COLUMNS},
    }


def records_csv(records: Iterable[PromptRecord]) -> bytes:
    rows = ([_record_row(record)[column] for column in CSV_COLUMNS] for record in records)
    return csv_bytes(itertools.chain([CSV_COLUMNS], rows))


def records_jsonl(records: Iterable[PromptRecord]) -> bytes:
    lines = []
    for record in records:
        row = record_as_dict(record)
        row.update(
            project=record.project.name, author=record.author.get_username(),
            created_at=record.created_at.isoformat(), brief=record.job.brief,
            job_id=record.job_id, tags=[tag.name for tag in record.tags.all()],
        )
        lines.append(json.dumps(row, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content_type: str
    content: bytes


FORMATS = ("a1111", "comfyui", "csv", "jsonl")


def export_records(records: list[PromptRecord], *, fmt: str, stem: str) -> ExportFile:
    """One record in A1111 or ComfyUI format is one file; several are a zip of such files,
    because both tools read one prompt per file. CSV and JSONL hold any number."""
    if fmt == "csv":
        return ExportFile(f"{stem}.csv", "text/csv; charset=utf-8", records_csv(records))
    if fmt == "jsonl":
        return ExportFile(f"{stem}.jsonl", "application/x-ndjson; charset=utf-8",
                          records_jsonl(records))
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
