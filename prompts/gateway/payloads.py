"""Build the chat/completions request body for one prompt-spec generation."""

from __future__ import annotations

import base64
import math

from .spec import PROMPT_SPEC_SCHEMA, HouseRules, split_terms

SYSTEM_PROMPT = (
    "You are a text-to-image prompt engineer. Turn the user's brief into one prompt spec for a "
    "Stable Diffusion style image generator. Write positive_prompt as comma-separated, concrete "
    "visual keywords: subject, framing, lighting, palette, style and quality. Write "
    "negative_prompt as the defects to avoid; for people include distorted faces, asymmetric "
    "eyes and extra fingers. Choose width and height (multiples of 8, 64 to 4096) to suit the "
    "subject, steps from 1 to 150, cfg_scale from 1 to 30, a sampler name, a short style label, "
    "and seed null unless the brief asks for a fixed seed. Reply with the JSON object for the "
    "prompt_spec schema only."
)
TEXT_ONLY_INSTRUCTION = " No reference images are attached: set visual_features to null."
IMAGES_INSTRUCTION = (
    " Reference images are attached: extract visual_features from them (face, hairstyle, "
    "lighting, palette, composition, style_direction) and keep positive_prompt faithful to "
    "those features so faces and style stay consistent across generations."
)
REPAIR_INSTRUCTION = (
    "Your previous reply could not be read as a prompt_spec. Return ONLY one valid JSON object "
    "for the prompt_spec schema: no prose, no code fence, no comments."
)

RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "prompt_spec", "strict": True, "schema": PROMPT_SPEC_SCHEMA},
}


def system_prompt(*, with_images: bool, house_style: HouseRules | None = None) -> str:
    text = SYSTEM_PROMPT + (IMAGES_INSTRUCTION if with_images else TEXT_ONLY_INSTRUCTION)
    return text + house_style_instruction(house_style) if house_style else text


def house_style_instruction(rules: HouseRules) -> str:
    """The team's house style, told to the model so it writes with it (the pipeline still
    enforces it on the answer)."""
    parts = []
    if words := split_terms(rules.style_words):
        parts.append("work these style words into positive_prompt: " + ", ".join(words))
    if terms := split_terms(rules.negative_terms):
        parts.append("negative_prompt must include: " + ", ".join(terms))
    if rules.width and rules.height:
        parts.append(f"width {rules.width} and height {rules.height}")
    elif rules.aspect:
        parts.append(f"an aspect ratio of {rules.aspect[0]}:{rules.aspect[1]}")
    if rules.sampler.strip():
        parts.append(f"sampler {rules.sampler.strip()}")
    if rules.steps is not None:
        parts.append(f"steps {rules.steps}")
    if rules.cfg_scale is not None:
        parts.append(f"cfg_scale {rules.cfg_scale:g}")
    if not parts:
        return ""
    return " Follow the team's house style: " + "; ".join(parts) + "."


def image_data_url(data: bytes, mime: str = "image/jpeg") -> str:
    if not mime.startswith("image/"):
        raise ValueError(f"not an image MIME type: {mime}")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def build_chat_payload(
    *,
    model: str,
    brief: str,
    images: list[str],
    temperature: float,
    max_tokens: int,
    repair_of: str | None = None,
    house_style: HouseRules | None = None,
) -> dict:
    """The request body. With ``repair_of`` (the previous raw reply), the model is shown its
    reply and asked for the JSON alone; the caller chooses the lower temperature. With a
    ``house_style``, the system prompt carries its rules."""
    if not brief or not brief.strip():
        raise ValueError("brief is empty")
    if not math.isfinite(temperature) or not 0 <= temperature <= 2:
        raise ValueError("temperature must be between 0 and 2")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError("max_tokens must be a positive integer")
    for url in images:
        _check_image_url(url)

    if images:
        user_content: str | list = [{"type": "text", "text": brief}] + [
            {"type": "image_url", "image_url": {"url": url}} for url in images
        ]
    else:
        user_content = brief
    messages = [
        {"role": "system",
         "content": system_prompt(with_images=bool(images), house_style=house_style)},
        {"role": "user", "content": user_content},
    ]
    if repair_of is not None:
        messages += [
            {"role": "assistant", "content": repair_of},
            {"role": "user", "content": REPAIR_INSTRUCTION},
        ]
    return {
        "model": model,
        "messages": messages,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "response_format": RESPONSE_FORMAT,
    }


def _check_image_url(url: str) -> None:
    if not isinstance(url, str):
        raise ValueError("an image must be a data URL or an https URL")
    if url.startswith("data:image/") and ";base64," in url[:100]:
        return
    if url.startswith("https://") and len(url) > len("https://"):
        return
    raise ValueError(f"an image must be a data URL or an https URL, not {url[:40]!r}")
