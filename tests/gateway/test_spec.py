import json

import pytest

from prompts.gateway import SpecParseError, parse_prompt_spec
from prompts.gateway.spec import VISUAL_FEATURE_KEYS

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

    assert spec.to_dict() == {**SPEC, "needs_review": False}


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


@pytest.mark.parametrize("seed", [1e30, 2**63, -5, "12abc", True])
def test_it_drops_a_seed_no_64_bit_column_holds(seed):
    spec = parse_prompt_spec({"content": json.dumps({**SPEC, "seed": seed})})
    assert spec.seed is None


def test_it_drops_a_seed_of_nan_without_failing_the_record():
    spec = parse_prompt_spec({"content": '{"positive_prompt": "a kite", "seed": NaN}'})
    assert (spec.positive_prompt, spec.seed) == ("a kite", None)


def test_it_cuts_text_to_what_a_record_holds_and_asks_for_review():
    spec = parse_prompt_spec({"content": json.dumps({
        **SPEC, "sampler": "S" * 500, "style": "y" * 300, "positive_prompt": "p" * 10_000_000,
        "visual_features": {key: "f" * 5000 for key in VISUAL_FEATURE_KEYS}})})
    assert (len(spec.sampler), len(spec.style), len(spec.positive_prompt)) == (60, 200, 20_000)
    assert {len(text) for text in spec.visual_features.values()} == {2000}
    assert spec.needs_review


def test_it_keeps_a_record_that_fits_out_of_review():
    assert parse_prompt_spec({"content": json.dumps(SPEC)}).needs_review is False


def test_it_reads_a_huge_number_as_not_a_number():
    with pytest.raises(SpecParseError):
        parse_prompt_spec({"content": json.dumps({**SPEC, "steps": 10**400})})
