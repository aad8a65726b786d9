"""Reading a chat request as the gateway would: the brief, its images, its rough size."""

from __future__ import annotations

import json
import math
import re

_CJK = re.compile("[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def loads_json(raw: bytes | None):
    """The parsed body, or None when it is not JSON."""
    try:
        return json.loads(raw or b"")
    except (ValueError, RecursionError):
        return None


def _user_parts(request: dict):
    for message in request.get("messages") or []:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield {"type": "text", "text": content}
        elif isinstance(content, list):
            yield from (part for part in content if isinstance(part, dict))


def user_text(request: dict) -> str:
    """The brief: the first user message's text (a repair request adds a second one)."""
    for part in _user_parts(request):
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            return part["text"]
    return ""


def image_urls(request: dict) -> list[str]:
    urls = []
    for part in _user_parts(request):
        if part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str):
                urls.append(url)
    return urls


def largest_image_bytes(request: dict) -> int:
    """The decoded size of the largest base64 data-URL image (remote URLs count as 0)."""
    sizes = [0]
    for url in image_urls(request):
        if url.startswith("data:") and ";base64," in url:
            encoded = url.partition(";base64,")[2]
            sizes.append(len(encoded) * 3 // 4 - encoded[-2:].count("="))
    return max(sizes)


def is_flagged(text: str, words: list[str]) -> bool:
    lowered = text.lower()
    return any(word.lower() in lowered for word in words)


def all_text(request: dict) -> str:
    """Every message's text, system and assistant included: what the prompt is billed on."""
    texts = []
    for message in request.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [
                p.get("text", "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            ]
    return "\n".join(texts)


def rough_tokens(text: str) -> int:
    """One token per CJK character, one per four bytes of anything else."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil(len(_CJK.sub("", text).encode()) / 4)
