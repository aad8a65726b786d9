"""Generation settings recovered from a PNG's text chunks: AUTOMATIC1111 / Forge / Civitai
`parameters` infotext, ComfyUI `prompt` (API graph) or `workflow` (UI graph), InvokeAI
`invokeai_metadata` or the older `sd-metadata`.

    read_generation_metadata(image.info) -> GenerationMetadata | None
    read_png_generation_metadata(png_bytes) -> GenerationMetadata | None

Hand-written on purpose, linear in its input and bounded in work. The PyPI readers were
judged and left out of production: sd-parsers 0.6 (MIT, only Pillow) splits quoted
settings on their commas, raises ValueError (not its ParserError) when "Negative prompt:"
appears twice, takes 6 s on a 180 KB `Hashes: {` line (its Hashes pattern backtracks
quadratically), reads ComfyUI only when both graphs are present and walks graphs
recursively without limits. sd-prompt-reader is a Tk desktop app that pins Pillow 10.3.
sd-parsers stays as a dev dependency: the tests read our writer's cards with it.

Every text is capped before it is parsed (MAX_TEXT_CHARS, MAX_JSON_CHARS); an oversized
chunk is not read at all, since a cut infotext loses its settings line. JSON rejects NaN
and Infinity, ComfyUI graphs are capped (comfyui_graph.MAX_GRAPH_NODES), and numbers
outside sane ranges read as None.
"""

import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from PIL import Image

from prompts.workspace.formats.comfyui_graph import comfyui_sampler_settings
from prompts.workspace.formats.generator_formats import (
    a1111_label_from_a1111_settings,
    a1111_label_from_comfyui,
    a1111_label_from_invokeai,
)

# Real infotexts are a few KB; 64 KiB leaves room for long prompts and LoRA hash lists.
MAX_TEXT_CHARS = 64 * 1024
# ComfyUI UI workflows of a few hundred nodes run to several hundred KB.
MAX_JSON_CHARS = 2 * 1024 * 1024
STEPS_RANGE = (1, 1000)
SIZE_RANGE = (1, 16384)
CFG_RANGE = (0.0, 100.0)
# ComfyUI's seed range (KSampler: 0 … 0xffffffffffffffff); A1111's -1 means "random".
SEED_RANGE = (0, 2**64 - 1)
_NUMBER_CHARS = frozenset("0123456789.+-eE")
_NEGATIVE_PREFIX = "Negative prompt:"


@dataclass(frozen=True)
class GenerationMetadata:
    source: str  # "a1111" | "comfyui" | "invokeai"
    positive_prompt: str | None
    negative_prompt: str | None
    steps: int | None
    sampler: str | None
    cfg_scale: float | None
    seed: int | None
    width: int | None
    height: int | None


def read_generation_metadata(chunks: Mapping[str, object]) -> GenerationMetadata | None:
    """The first format found, A1111 first (ComfyUI savers that also write `parameters`
    write it for A1111-style readers); None when no chunk is recognisable."""
    for reader in (_from_a1111, _from_comfyui, _from_invokeai):
        found = reader(chunks)
        if found is not None:
            return found
    return None


def read_png_generation_metadata(png: bytes) -> GenerationMetadata | None:
    """Reads only the text chunks before the pixel data, never the pixels: Pillow's
    `image.text` would decode the whole image to reach chunks written after it."""
    try:
        with Image.open(io.BytesIO(png)) as image:
            if image.format != "PNG":
                return None
            chunks = {key: value for key, value in image.info.items() if isinstance(value, str)}
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return None
    return read_generation_metadata(chunks)


def _chunk(chunks: Mapping[str, object], key: str, limit: int) -> str | None:
    value = chunks.get(key)
    return value if isinstance(value, str) and len(value) <= limit else None


# Numbers -------------------------------------------------------------------------------

def _int(value: object, bounds: tuple[int, int]) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if value.is_integer() else None
    elif isinstance(value, str):
        text = value.strip()
        digits = text.removeprefix("-")
        # 2**64 has 20 digits; longer text is refused before int() parses it.
        value = int(text) if 0 < len(digits) <= 20 and digits.isascii() and digits.isdigit() else None
    if not isinstance(value, int):
        return None
    return value if bounds[0] <= value <= bounds[1] else None


def _float(value: object, bounds: tuple[float, float]) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, str):
            text = value.strip()
            if not 0 < len(text) <= 32 or not _NUMBER_CHARS.issuperset(text):
                return None
            value = float(text)
        if not isinstance(value, int | float):
            return None
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and bounds[0] <= number <= bounds[1] else None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


# AUTOMATIC1111 / Forge / Civitai -------------------------------------------------------

def _from_a1111(chunks: Mapping[str, object]) -> GenerationMetadata | None:
    text = _chunk(chunks, "parameters", MAX_TEXT_CHARS)
    if text is None or not text.strip():
        return None
    lines = text.strip().split("\n")
    settings_at, settings = _settings_line(lines)
    prompt, negative = _a1111_prompts(lines[:settings_at])
    width, _times, height = settings.get("Size", "").partition("x")
    sampler = _text(settings.get("Sampler", ""))
    return GenerationMetadata(
        source="a1111",
        positive_prompt=prompt or None,
        negative_prompt=negative or None,
        steps=_int(settings.get("Steps"), STEPS_RANGE),
        sampler=sampler and a1111_label_from_a1111_settings(sampler, settings.get("Schedule type", "")),
        cfg_scale=_float(settings.get("CFG scale"), CFG_RANGE),
        seed=_int(settings.get("Seed"), SEED_RANGE),
        width=_int(width, SIZE_RANGE),
        height=_int(height, SIZE_RANGE),
    )


def _settings_line(lines: list[str]) -> tuple[int, dict[str, str]]:
    """The last line holding `Steps:` with at least three settings, as A1111 and Civitai
    read it (lines after it are extensions' notes); each line is split at most once."""
    for index in range(len(lines) - 1, -1, -1):
        if "Steps:" in lines[index]:
            settings = _a1111_settings(lines[index])
            if "Steps" in settings and len(settings) >= 3:
                return index, settings
    return len(lines), {}


def _a1111_prompts(lines: list[str]) -> tuple[str, str]:
    """A1111 starts the negative prompt at a line beginning "Negative prompt:"."""
    prompt: list[str] = []
    negative: list[str] = []
    target = prompt
    for raw in lines:
        line = raw.strip()
        if target is prompt and line.startswith(_NEGATIVE_PREFIX):
            target, line = negative, line[len(_NEGATIVE_PREFIX):].strip()
        target.append(line)
    return "\n".join(prompt).strip(), "\n".join(negative).strip()


def _a1111_settings(line: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for item in _split_settings(line):
        key, colon, value = item.partition(":")
        key = key.strip()
        if colon and _is_setting_key(key):
            settings[key] = _unquote(value.strip())
    return settings


def _split_settings(line: str) -> list[str]:
    """`Key: v, Key: "a, b"` split on commas outside quotes in one left-to-right pass (no
    regex: A1111's own pattern backtracks quadratically). As in that pattern, a quote opens
    only where a value starts; one never closed leaves the rest to split as plain text."""
    items: list[str] = []
    start = 0
    colon_seen = awaiting_value = quoted = escaped = False
    quote_start = 0
    for index, char in enumerate(line):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == ",":
            items.append(line[start:index])
            start, colon_seen, awaiting_value = index + 1, False, False
        elif awaiting_value and char != " ":
            awaiting_value, quoted, quote_start = False, char == '"', start
        elif char == ":" and not colon_seen:
            colon_seen = awaiting_value = True
    if quoted:
        return items + line[quote_start:].split(",")
    return items + [line[start:]]


def _is_setting_key(key: str) -> bool:
    """A1111's key pattern `\\w[\\w \\-/]+`, checked without a regex."""
    return (2 <= len(key) <= 64 and (key[0].isalnum() or key[0] == "_")
            and all(char.isalnum() or char in " _-/" for char in key))


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            unquoted = json.loads(value)
        except ValueError:
            return value
        return unquoted if isinstance(unquoted, str) else value
    return value


# JSON (ComfyUI, InvokeAI) -------------------------------------------------------------

def _json_object(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        parsed = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _from_comfyui(chunks: Mapping[str, object]) -> GenerationMetadata | None:
    found = comfyui_sampler_settings(_json_object(_chunk(chunks, "prompt", MAX_JSON_CHARS)),
                                     _json_object(_chunk(chunks, "workflow", MAX_JSON_CHARS)))
    if found is None:
        return None
    sampler_name = _text(found.sampler_name)
    scheduler = _text(found.scheduler) or ""
    return GenerationMetadata(
        source="comfyui",
        positive_prompt=found.positive_prompt,
        negative_prompt=found.negative_prompt,
        steps=_int(found.steps, STEPS_RANGE),
        sampler=sampler_name and a1111_label_from_comfyui(sampler_name, scheduler),
        cfg_scale=_float(found.cfg, CFG_RANGE),
        seed=_int(found.seed, SEED_RANGE),
        width=_int(found.width, SIZE_RANGE),
        height=_int(found.height, SIZE_RANGE),
    )


# InvokeAI -------------------------------------------------------------------------------

def _from_invokeai(chunks: Mapping[str, object]) -> GenerationMetadata | None:
    current = _json_object(_chunk(chunks, "invokeai_metadata", MAX_JSON_CHARS))
    if current is not None:
        found = _invokeai(current, current.get("positive_prompt"), current.get("negative_prompt"),
                          current.get("scheduler"))
    else:
        legacy = _json_object(_chunk(chunks, "sd-metadata", MAX_JSON_CHARS))
        image = legacy.get("image") if legacy else None
        if not isinstance(image, dict):
            return None
        positive, negative = _split_bracketed(_legacy_prompt(image.get("prompt")))
        found = _invokeai(image, positive, negative, image.get("sampler"))
    values = (found.positive_prompt, found.negative_prompt, found.steps, found.sampler,
              found.cfg_scale, found.seed, found.width, found.height)
    return found if any(value is not None for value in values) else None


def _invokeai(fields: dict, positive: object, negative: object, scheduler: object) -> GenerationMetadata:
    return GenerationMetadata(
        source="invokeai",
        positive_prompt=_text(positive),
        negative_prompt=_text(negative),
        steps=_int(fields.get("steps"), STEPS_RANGE),
        sampler=a1111_label_from_invokeai(scheduler) if isinstance(scheduler, str) and scheduler else None,
        cfg_scale=_float(fields.get("cfg_scale"), CFG_RANGE),
        seed=_int(fields.get("seed"), SEED_RANGE),
        width=_int(fields.get("width"), SIZE_RANGE),
        height=_int(fields.get("height"), SIZE_RANGE),
    )


def _legacy_prompt(prompt: object) -> str:
    """InvokeAI 2.x stores [{"prompt": text, "weight": w}, …] (or plain text)."""
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], dict):
        prompt = prompt[0].get("prompt")
    return prompt if isinstance(prompt, str) else ""


def _split_bracketed(text: str) -> tuple[str, str]:
    """Legacy InvokeAI writes negative terms inside [brackets] in the one prompt."""
    outside: list[str] = []
    inside: list[str] = []
    depth = 0
    for char in text:
        if char == "[":
            depth += 1
            inside.append(" ")
        elif char == "]" and depth:
            depth -= 1
            inside.append(" ")
        else:
            (inside if depth else outside).append(char)
    return " ".join("".join(outside).split()), " ".join("".join(inside).split())
