import base64

import pytest

from prompts.gateway.limits import DEFAULT_MAX_TOKENS, DEFAULT_TASK_TYPE, TASK_PRESETS
from prompts.gateway.payloads import (
    REPAIR_INSTRUCTION,
    build_chat_payload,
    image_data_url,
)
from prompts.gateway.spec import PROMPT_SPEC_SCHEMA

from .conftest import MODEL, chat_payload

DATA_URL = image_data_url(b"\xff\xd8\xff\xe0fake-jpeg")
HTTPS_URL = "https://cdn.example.com/ref/face.png"


def test_it_builds_a_text_only_request_asking_for_the_schema():
    payload = chat_payload(
        brief="A lighthouse in fog", temperature=0.55, max_tokens=DEFAULT_MAX_TOKENS
    )

    system, user = payload["messages"]
    assert payload["model"] == MODEL
    assert payload["temperature"] == 0.55 and payload["max_tokens"] == 1024
    assert system["role"] == "system" and "text-to-image prompt engineer" in system["content"]
    assert "visual_features to null" in system["content"]
    assert user == {"role": "user", "content": "A lighthouse in fog"}
    assert payload["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "prompt_spec", "strict": True, "schema": PROMPT_SPEC_SCHEMA},
    }


def test_it_passes_data_urls_and_https_urls_as_image_parts():
    payload = chat_payload(brief="Match this face", images=[DATA_URL, HTTPS_URL])

    system, user = payload["messages"]
    assert "extract visual_features" in system["content"]
    assert user["content"] == [
        {"type": "text", "text": "Match this face"},
        {"type": "image_url", "image_url": {"url": DATA_URL}},
        {"type": "image_url", "image_url": {"url": HTTPS_URL}},
    ]


@pytest.mark.parametrize(
    "image",
    [
        "http://example.com/a.jpg",
        "/tmp/a.jpg",
        "file:///etc/passwd",
        "data:text/plain;base64,aGk=",
        "https://",
    ],
)
def test_it_refuses_images_that_are_not_data_or_https_urls(image):
    with pytest.raises(ValueError):
        chat_payload(images=[image])


def test_it_asks_for_json_only_when_repairing_a_reply():
    payload = chat_payload(brief="A lighthouse", repair_of="Sure! Here's a prompt: lighthouse...")

    assert [m["role"] for m in payload["messages"]] == ["system", "user", "assistant", "user"]
    assert payload["messages"][2]["content"] == "Sure! Here's a prompt: lighthouse..."
    assert payload["messages"][3]["content"] == REPAIR_INSTRUCTION
    assert "ONLY" in REPAIR_INSTRUCTION


@pytest.mark.parametrize(
    "kwargs",
    [{"brief": "  "}, {"temperature": 2.5}, {"temperature": float("nan")}, {"max_tokens": 0}],
)
def test_it_refuses_invalid_parameters(kwargs):
    with pytest.raises(ValueError):
        chat_payload(**kwargs)


def test_it_encodes_image_bytes_as_a_data_url():
    url = image_data_url(b"\x89PNG\r\n", "image/png")

    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == b"\x89PNG\r\n"
    with pytest.raises(ValueError):
        image_data_url(b"x", "text/html")


def test_it_offers_the_guide_temperature_presets():
    assert DEFAULT_TASK_TYPE == "balanced"
    assert [str(TASK_PRESETS[name]) for name in ("strict", "balanced", "creative")] == [
        "0.55",
        "0.65",
        "0.70",
    ]
    payload = build_chat_payload(
        model=MODEL, brief="b", images=[], temperature=float(TASK_PRESETS["strict"]), max_tokens=512
    )
    assert payload["temperature"] == 0.55
