"""Settings a brief asks the model to keep: a block at the end of the brief text.

A brief started from a generator's PNG (or written by hand, or sent through the API)
can end with

    Keep these settings:
    - Negative prompt: blurry, lowres
    - Steps: 30
    - Sampler: DPM++ 2M Karras
    - CFG scale: 7
    - Seed: 1234
    - Size: 832x1216

The block travels in the brief, so the model reads it, the estimate counts it and the job
keeps it; the record is then made to hold these values whatever the model answered
(`kept_settings_apply`). Pages show the brief without the block and the settings as a list.
Parsing is one pass over the lines, from the end; a value out of the spec's ranges is
dropped rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .spec import CFG_MAX, CFG_MIN, DIMENSION_MAX, DIMENSION_MIN, STEPS_MAX, STEPS_MIN, PromptSpec

HEADER = "Keep these settings:"
SEED_MAX = 2**63 - 1  # what a record's seed column holds
SAMPLER_MAX_CHARS = 60
NEGATIVE_MAX_CHARS = 4000
_LABELS = {
    "negative_prompt": "Negative prompt",
    "steps": "Steps",
    "sampler": "Sampler",
    "cfg_scale": "CFG scale",
    "seed": "Seed",
    "size": "Size",
}
_BY_LABEL = {label.casefold(): name for name, label in _LABELS.items()}


@dataclass(frozen=True)
class KeptSettings:
    negative_prompt: str | None = None
    steps: int | None = None
    sampler: str | None = None
    cfg_scale: float | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, field.name) not in (None, "") for field in fields(self))


def kept_settings_clean(*, negative_prompt=None, steps=None, sampler=None, cfg_scale=None,
                        seed=None, width=None, height=None) -> KeptSettings:
    """Values from a form or a PNG, each kept only when the prompt spec allows it."""
    negative = " ".join(str(negative_prompt or "").split())[:NEGATIVE_MAX_CHARS]
    sampler_text = " ".join(str(sampler or "").split())
    size_ok = _within(width, DIMENSION_MIN, DIMENSION_MAX) and \
        _within(height, DIMENSION_MIN, DIMENSION_MAX)
    return KeptSettings(
        negative_prompt=negative or None,
        steps=int(steps) if _within(steps, STEPS_MIN, STEPS_MAX) else None,
        sampler=sampler_text if 0 < len(sampler_text) <= SAMPLER_MAX_CHARS else None,
        cfg_scale=float(cfg_scale) if _within(cfg_scale, CFG_MIN, CFG_MAX) else None,
        seed=int(seed) if _within(seed, 0, SEED_MAX) and float(seed).is_integer() else None,
        width=int(width) if size_ok else None,
        height=int(height) if size_ok else None,
    )


def _within(value, low, high) -> bool:
    try:
        return value is not None and not isinstance(value, bool) and low <= value <= high
    except TypeError:
        return False


def kept_settings_block(kept: KeptSettings) -> str:
    """The block to append to a brief; "" when nothing is kept."""
    if not kept:
        return ""
    lines = [HEADER]
    if kept.negative_prompt:
        lines.append(f"- {_LABELS['negative_prompt']}: {kept.negative_prompt}")
    if kept.steps is not None:
        lines.append(f"- {_LABELS['steps']}: {kept.steps}")
    if kept.sampler:
        lines.append(f"- {_LABELS['sampler']}: {kept.sampler}")
    if kept.cfg_scale is not None:
        lines.append(f"- {_LABELS['cfg_scale']}: {kept.cfg_scale:g}")
    if kept.seed is not None:
        lines.append(f"- {_LABELS['seed']}: {kept.seed}")
    if kept.width is not None and kept.height is not None:
        lines.append(f"- {_LABELS['size']}: {kept.width}x{kept.height}")
    return "\n".join(lines)


def brief_with_kept_settings(brief: str, kept: KeptSettings) -> str:
    block = kept_settings_block(kept)
    return f"{brief.strip()}\n\n{block}" if block else brief.strip()


def split_kept_settings(brief: str) -> tuple[str, KeptSettings]:
    """(the brief without its block, the settings it keeps). A brief without a block, or
    whose last lines are not a well-formed block, is returned whole."""
    lines = brief.rstrip().split("\n")
    values: dict[str, str] = {}
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index].strip()
        if line == HEADER:
            if not values:
                break
            return "\n".join(lines[:index]).rstrip(), _parsed(values)
        label, colon, value = line.removeprefix("- ").partition(":")
        name = _BY_LABEL.get(label.strip().casefold()) if line.startswith("- ") and colon else None
        if name is None or name in values:
            break
        values[name] = value.strip()
    return brief, KeptSettings()


def _parsed(values: dict[str, str]) -> KeptSettings:
    width, _x, height = values.get("size", "").lower().partition("x")
    return kept_settings_clean(
        negative_prompt=values.get("negative_prompt"),
        steps=_number(values.get("steps"), int),
        sampler=values.get("sampler"),
        cfg_scale=_number(values.get("cfg_scale"), float),
        seed=_number(values.get("seed"), int),
        width=_number(width, int),
        height=_number(height, int),
    )


def _number(text: str | None, kind):
    text = (text or "").strip()
    if not text or len(text) > 24:
        return None
    try:
        return kind(text)
    except ValueError:
        return None


def kept_settings_apply(spec: PromptSpec, kept: KeptSettings) -> PromptSpec:
    """The model's spec with the kept settings in place of its own."""
    changes = {name: getattr(kept, name) for name in
               ("negative_prompt", "steps", "sampler", "cfg_scale", "seed", "width", "height")
               if getattr(kept, name) not in (None, "")}
    return replace(spec, **changes)
