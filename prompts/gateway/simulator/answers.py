"""The simulated model's answer: a deterministic prompt spec inside a chat completion."""

from __future__ import annotations

import hashlib
import json
import random
import re
import time

from .chat_request import all_text, image_urls, rough_tokens, user_text
from .config import DEFAULT_MODELS, TOKENS_PER_IMAGE
from .vocabulary import (
    COMPOSITIONS,
    FACES,
    FRAMING,
    HAIRSTYLES,
    LIGHTING,
    MOOD_WORDS,
    NEGATIVE,
    PALETTES,
    PORTRAIT_WORDS,
    SAMPLERS,
    SIZES,
    STYLES,
    UI_WORDS,
)

STRUCTURED_FORMATS = ("json_schema", "json_object")


def _category(brief: str) -> str:
    lowered = brief.lower()
    for category, words in (("portrait", PORTRAIT_WORDS), ("ui", UI_WORDS), ("mood", MOOD_WORDS)):
        for word in words:
            if re.search(rf"\b{re.escape(word)}\b", lowered) if word.isascii() else word in lowered:
                return category
    return "scene"


def generate_spec(brief: str, *, image_count: int, seed: int) -> dict:
    """A plausible prompt spec, the same for the same brief, image count and seed."""
    digest = hashlib.sha256(f"{seed}\x00{image_count}\x00{brief}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    category = _category(brief)
    style = rng.choice(STYLES[category])
    lighting = rng.choice(LIGHTING)
    palette = rng.choice(PALETTES)
    subject = " ".join(brief.split())[:300] or "untitled subject"
    width, height = rng.choice(SIZES[category])
    spec = {
        "positive_prompt": ", ".join(
            [
                subject,
                rng.choice(FRAMING[category]),
                lighting,
                palette,
                style,
                "highly detailed, sharp focus, 8k",
            ]
        ),
        "negative_prompt": NEGATIVE[category],
        "width": width,
        "height": height,
        "steps": rng.randrange(20, 41),
        "cfg_scale": rng.randrange(10, 18) / 2,
        "sampler": rng.choice(SAMPLERS),
        "style": style,
        "seed": int.from_bytes(digest[8:12], "big"),
        "visual_features": None,
    }
    if image_count:
        spec["visual_features"] = {
            "face": rng.choice(FACES),
            "hairstyle": rng.choice(HAIRSTYLES),
            "lighting": lighting,
            "palette": palette,
            "composition": rng.choice(COMPOSITIONS),
            "style_direction": f"{style}, consistent with the {image_count} reference image(s)",
        }
    return spec


def _message(request: dict, spec_json: str, completion_id: str) -> tuple[dict, str, str]:
    """The assistant message in the form the request asked for, its finish reason and text."""
    tools = request.get("tools") or []
    if tools and request.get("tool_choice") != "none":
        function = (tools[0] or {}).get("function") or {}
        call = {
            "id": f"call_{completion_id[-12:]}",
            "type": "function",
            "function": {"name": function.get("name", "prompt_spec"), "arguments": spec_json},
        }
        return {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls", spec_json
    response_format = request.get("response_format") or {}
    if isinstance(response_format, dict) and response_format.get("type") in STRUCTURED_FORMATS:
        return {"role": "assistant", "content": spec_json}, "stop", spec_json
    output = f"Here is the prompt spec for your brief.\n\n```json\n{spec_json}\n```\n"
    return {"role": "assistant", "content": output}, "stop", output


def completion(request: dict, seed: int, completion_id: str, usage: dict | None = None) -> dict:
    """The chat completion body; ``usage`` (prompt and completion tokens) replaces the estimate."""
    image_count = len(image_urls(request))
    spec = generate_spec(user_text(request), image_count=image_count, seed=seed)
    message, finish_reason, output = _message(
        request, json.dumps(spec, ensure_ascii=False), completion_id
    )
    prompt_tokens = (
        rough_tokens(all_text(request))
        + 4 * len(request.get("messages") or [])
        + (TOKENS_PER_IMAGE * image_count)
    )
    completion_tokens = rough_tokens(output)
    if usage is not None:
        prompt_tokens, completion_tokens = usage["prompt_tokens"], usage["completion_tokens"]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model") or DEFAULT_MODELS[0],
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def content_filtered(body: dict) -> dict:
    """The completion as a filtering gateway returns it: no content, the prompt still billed."""
    body["choices"][0].update(
        finish_reason="content_filter", message={"role": "assistant", "content": ""}
    )
    body["usage"]["completion_tokens"] = 0
    body["usage"]["total_tokens"] = body["usage"]["prompt_tokens"]
    return body
