import json

import pytest

from prompts.gateway import SpecParseError, parse_prompt_spec

SPEC = {
    "positive_prompt": "portrait of a violinist, golden hour",
    "negative_prompt": "extra fingers",
    "width": 832,
    "height": 1216,
    "steps": 30,
    "cfg_scale": 6.5,
    "sampler": "Euler a",
    "style": "cinematic",
    "seed": None,
    "visual_features": None,
}


def test_it_parses_json_schema_content():
    spec = parse_prompt_spec({"role": "assistant", "content": json.dumps(SPEC)})

    assert spec.to_dict() == SPEC


def test_it_parses_a_fenced_json_block_inside_prose():
    content = f"Here you go:\n\n```json\n{json.dumps(SPEC, indent=2)}\n```\nEnjoy!"

    assert parse_prompt_spec({"content": content}).width == 832


def test_it_parses_a_bare_fence():
    content = f"```\n{json.dumps(SPEC)}\n```"

    assert parse_prompt_spec({"content": content}).sampler == "Euler a"


def test_it_parses_a_tool_call():
    message = {
        "content": None,
        "tool_calls": [
            {"type": "function", "function": {"name": "prompt_spec", "arguments": json.dumps(SPEC)}}
        ],
    }

    assert parse_prompt_spec(message).style == "cinematic"


def test_it_parses_a_legacy_function_call():
    message = {
        "content": None,
        "function_call": {"name": "prompt_spec", "arguments": json.dumps(SPEC)},
    }

    assert parse_prompt_spec(message).steps == 30


def test_it_coerces_near_miss_values():
    loose = {
        **SPEC,
        "steps": "30",
        "width": 1020,
        "height": "770",
        "cfg_scale": "7.5",
        "seed": "1234",
        "negative_prompt": ["blurry", "lowres"],
        "visual_features": {"face": "oval", "lighting": "soft", "palette": None},
    }

    spec = parse_prompt_spec({"content": json.dumps(loose)})

    assert (spec.steps, spec.width, spec.height, spec.cfg_scale, spec.seed) == (
        30,
        1024,
        768,
        7.5,
        1234,
    )
    assert spec.negative_prompt == "blurry, lowres"
    assert spec.visual_features == {
        "face": "oval",
        "hairstyle": "",
        "lighting": "soft",
        "palette": "",
        "composition": "",
        "style_direction": "",
    }


def test_it_clamps_out_of_range_numbers_and_fills_missing_fields():
    spec = parse_prompt_spec(
        {"content": json.dumps({"positive_prompt": "a cat", "width": 10000, "steps": 0})}
    )

    assert (spec.width, spec.height, spec.steps, spec.cfg_scale) == (4096, 1024, 1, 7.0)


@pytest.mark.parametrize(
    "content",
    [
        "I can't help with that.",
        "```json\n{not json}\n```",
        json.dumps({"negative_prompt": "blurry"}),
        json.dumps({**SPEC, "steps": "many"}),
        json.dumps([SPEC]),
    ],
)
def test_it_raises_spec_parse_error_with_the_raw_text(content):
    with pytest.raises(SpecParseError) as caught:
        parse_prompt_spec({"content": content})

    assert caught.value.raw_text == content
    assert caught.value.outcome == "parse"
    assert caught.value.permanent


def test_it_raises_spec_parse_error_for_an_empty_message():
    with pytest.raises(SpecParseError):
        parse_prompt_spec({"content": None})
