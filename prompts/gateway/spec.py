"""The prompt spec the model returns, its JSON schema, and a tolerant parser.

Models do not always honour ``response_format``: some answer in prose with a fenced
JSON block, some through a function call. The parser accepts all three shapes and
coerces near-miss values (``"30"`` for 30, a width of 1020 for 1024) instead of
failing the job over them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, replace

from .errors import SpecParseError

DIMENSION_MIN, DIMENSION_MAX = 64, 4096
STEPS_MIN, STEPS_MAX = 1, 150
CFG_MIN, CFG_MAX = 1.0, 30.0
VISUAL_FEATURE_KEYS = ("face", "hairstyle", "lighting", "palette", "composition", "style_direction")
# What a record can hold (the columns' sizes, and prompts no image tool takes longer): a
# value beyond them is cut and the record marked for review, never an error after the
# gateway has billed the answer.
SEED_MAX = 2**63 - 1
TEXT_LIMITS = {"positive_prompt": 20_000, "negative_prompt": 20_000, "sampler": 60,
               "style": 200}
VISUAL_FEATURE_MAX_CHARS = 2_000

_DIMENSION = {
    "type": "integer",
    "minimum": DIMENSION_MIN,
    "maximum": DIMENSION_MAX,
    "multipleOf": 8,
}

PROMPT_SPEC_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "positive_prompt": {"type": "string"},
        "negative_prompt": {"type": "string"},
        "width": _DIMENSION,
        "height": _DIMENSION,
        "steps": {"type": "integer", "minimum": STEPS_MIN, "maximum": STEPS_MAX},
        "cfg_scale": {"type": "number", "minimum": CFG_MIN, "maximum": CFG_MAX},
        "sampler": {"type": "string"},
        "style": {"type": "string"},
        "seed": {"type": ["integer", "null"]},
        "visual_features": {
            "type": ["object", "null"],
            "properties": {key: {"type": "string"} for key in VISUAL_FEATURE_KEYS},
            "required": list(VISUAL_FEATURE_KEYS),
            "additionalProperties": False,
        },
    },
    # Strict structured output requires every property to be listed as required.
    "required": [
        "positive_prompt",
        "negative_prompt",
        "width",
        "height",
        "steps",
        "cfg_scale",
        "sampler",
        "style",
        "seed",
        "visual_features",
    ],
    "additionalProperties": False,
}

# Used when the model leaves an optional field out; the A1111 defaults for SDXL-sized output.
DEFAULTS = {
    "negative_prompt": "",
    "width": 1024,
    "height": 1024,
    "steps": 30,
    "cfg_scale": 7.0,
    "sampler": "DPM++ 2M Karras",
    "style": "",
    "seed": None,
    "visual_features": None,
}


@dataclass
class PromptSpec:
    positive_prompt: str
    negative_prompt: str = DEFAULTS["negative_prompt"]
    width: int = DEFAULTS["width"]
    height: int = DEFAULTS["height"]
    steps: int = DEFAULTS["steps"]
    cfg_scale: float = DEFAULTS["cfg_scale"]
    sampler: str = DEFAULTS["sampler"]
    style: str = DEFAULTS["style"]
    seed: int | None = None
    visual_features: dict[str, str] | None = None
    # A value was cut to fit (see TEXT_LIMITS): a person should look at the record.
    needs_review: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n(.*?)```", re.DOTALL)


def parse_prompt_spec(message: dict) -> PromptSpec:
    """Read a PromptSpec from a chat ``message`` (``choices[0].message``).

    Raises SpecParseError, carrying the raw text, when no candidate yields a spec.
    """
    raw_texts = []
    problems = []
    for raw in _candidates(message):
        raw_texts.append(raw)
        for obj in _json_objects(raw):
            try:
                return _coerce(obj)
            except ValueError as exc:
                problems.append(str(exc))
    raw_text = "\n".join(raw_texts)
    reason = problems[0] if problems else "no JSON object found in the reply"
    raise SpecParseError(f"reply is not a valid prompt spec: {reason}", raw_text=raw_text)


def _candidates(message: dict):
    """Texts that may hold the spec, most specific first."""
    for call in message.get("tool_calls") or []:
        arguments = ((call or {}).get("function") or {}).get("arguments")
        if isinstance(arguments, str) and arguments.strip():
            yield arguments
        elif isinstance(arguments, dict):
            yield json.dumps(arguments)
    legacy = message.get("function_call") or {}
    if isinstance(legacy, dict) and isinstance(legacy.get("arguments"), str):
        yield legacy["arguments"]
    content = message_text(message)
    if content.strip():
        yield content


def message_text(message: dict) -> str:
    """The text of a message whose content is a string or a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _json_objects(text: str):
    """JSON objects in ``text``: the whole text first, then each fenced block."""
    stripped = text.strip()
    yield from _loads_object(stripped)
    for match in _FENCE.finditer(text):
        yield from _loads_object(match.group(2).strip())


def _loads_object(text: str):
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return
    if isinstance(value, dict):
        yield value


def _coerce(obj: dict) -> PromptSpec:
    positive = obj.get("positive_prompt")
    if not isinstance(positive, str) or not positive.strip():
        raise ValueError("positive_prompt is missing or empty")
    values = {**DEFAULTS, **{k: v for k, v in obj.items() if k in DEFAULTS and v is not None}}
    texts = {name: _text(positive if name == "positive_prompt" else values[name], name)
             for name in TEXT_LIMITS}
    fitted = {name: text[:TEXT_LIMITS[name]] for name, text in texts.items()}
    features, features_cut = _visual_features(values["visual_features"])
    return PromptSpec(
        positive_prompt=fitted["positive_prompt"],
        negative_prompt=fitted["negative_prompt"],
        width=_dimension(values["width"], "width"),
        height=_dimension(values["height"], "height"),
        steps=_clamp(round(_number(values["steps"], "steps")), STEPS_MIN, STEPS_MAX),
        cfg_scale=round(_clamp(_number(values["cfg_scale"], "cfg_scale"), CFG_MIN, CFG_MAX), 1),
        sampler=fitted["sampler"] or DEFAULTS["sampler"],
        style=fitted["style"],
        seed=_seed(values["seed"]),
        visual_features=features,
        needs_review=features_cut or fitted != texts,
    )


def _text(value, name: str) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(item.strip() for item in value)  # keyword lists are a common near-miss
    raise ValueError(f"{name} is not text")


def _number(value, name: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} is not a number")
    if isinstance(value, str):
        value = value.strip()
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} is not a finite number")
    return number


def _clamp(value, low, high):
    return max(low, min(high, value))


def _dimension(value, name: str) -> int:
    rounded = round(_number(value, name) / 8) * 8
    return int(_clamp(rounded, DIMENSION_MIN, DIMENSION_MAX))


def _seed(value) -> int | None:
    """A seed a 64-bit column holds; -1 ("random" in A1111), junk or out of range: None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        seed = value
    else:
        try:
            seed = int(_number(value, "seed"))
        except ValueError:
            return None
    return seed if 0 <= seed <= SEED_MAX else None


def _visual_features(value) -> tuple[dict[str, str] | None, bool]:
    """The six features as text, each cut to VISUAL_FEATURE_MAX_CHARS; and whether any was."""
    if not isinstance(value, dict):
        return None, False
    features = {key: str(value.get(key) or "").strip() for key in VISUAL_FEATURE_KEYS}
    cut = any(len(text) > VISUAL_FEATURE_MAX_CHARS for text in features.values())
    return {key: text[:VISUAL_FEATURE_MAX_CHARS] for key, text in features.items()}, cut


# House styles ----------------------------------------------------------------------------

# Terms are separated by commas (also Chinese ones) or new lines.
_TERM_SEPARATORS = str.maketrans({"，": ",", "、": ",", "；": ",", ";": ",", "\n": ","})


@dataclass(frozen=True)
class HouseRules:
    """A team's house style as plain values: terms as comma-separated text; None or ""
    where the style does not say. `aspect` (w, h) applies only without a width and height."""

    negative_terms: str = ""
    style_words: str = ""
    width: int | None = None
    height: int | None = None
    aspect: tuple[int, int] | None = None
    sampler: str = ""
    steps: int | None = None
    cfg_scale: float | None = None


def split_terms(text: str) -> list[str]:
    """`"blurry, extra fingers，水印"` → ["blurry", "extra fingers", "水印"]."""
    return [" ".join(term.split()) for term in text.translate(_TERM_SEPARATORS).split(",")
            if term.strip()]


def _with_terms(text: str, terms: str) -> str:
    """`text` with every term of `terms` it lacks appended (compared case-insensitively,
    term by term), in the style's order."""
    present = {term.casefold() for term in split_terms(text)}
    missing = []
    for term in split_terms(terms):
        if term.casefold() not in present:
            missing.append(term)
            present.add(term.casefold())
    if not missing:
        return text
    return ", ".join([text.strip().rstrip(",").strip(), *missing]) if text.strip() \
        else ", ".join(missing)


def _aspect_size(width: int, height: int, aspect: tuple[int, int]) -> tuple[int, int]:
    """The record's long side kept, the other side set by the aspect, multiples of 8."""
    long_side = max(width, height)
    ratio_w, ratio_h = aspect
    if ratio_w >= ratio_h:
        new_w, new_h = long_side, long_side * ratio_h / ratio_w
    else:
        new_w, new_h = long_side * ratio_w / ratio_h, long_side
    return (_clamp(round(new_w / 8) * 8, DIMENSION_MIN, DIMENSION_MAX),
            _clamp(round(new_h / 8) * 8, DIMENSION_MIN, DIMENSION_MAX))


def enforce_house_style(spec: PromptSpec, rules: HouseRules | None) -> PromptSpec:
    """The spec as the house style requires: its missing negative terms and style words
    appended, its size (or aspect), sampler, steps and CFG set. Without rules, unchanged."""
    if rules is None:
        return spec
    changes: dict = {
        "negative_prompt": _with_terms(spec.negative_prompt, rules.negative_terms),
        "positive_prompt": _with_terms(spec.positive_prompt, rules.style_words),
    }
    if rules.width and rules.height:
        changes.update(width=rules.width, height=rules.height)
    elif rules.aspect:
        changes["width"], changes["height"] = _aspect_size(spec.width, spec.height, rules.aspect)
    if rules.sampler.strip():
        changes["sampler"] = rules.sampler.strip()
    if rules.steps is not None:
        changes["steps"] = rules.steps
    if rules.cfg_scale is not None:
        changes["cfg_scale"] = rules.cfg_scale
    return replace(spec, **changes)
