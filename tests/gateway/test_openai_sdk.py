"""The simulator must look like the real gateway to the official SDK, not only to our client."""

import json

import openai
import pytest

from prompts.gateway import parse_prompt_spec
from prompts.gateway.payloads import RESPONSE_FORMAT
from prompts.gateway.spec import PROMPT_SPEC_SCHEMA

from .conftest import KEY, MODEL

MESSAGES = [
    {"role": "system", "content": "You are a text-to-image prompt engineer."},
    {"role": "user", "content": "Portrait of a potter in her studio, soft window light"},
]


@pytest.fixture
def sdk(sim):
    return openai.OpenAI(base_url=sim.base_url, api_key=KEY, max_retries=0, timeout=5)


def test_it_answers_structured_output_requests(sdk):
    completion = sdk.chat.completions.create(
        model=MODEL, messages=MESSAGES, response_format=RESPONSE_FORMAT, temperature=0.6
    )

    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert json.loads(choice.message.content)["positive_prompt"].startswith("Portrait of a potter")
    assert completion.usage.prompt_tokens > 0
    assert parse_prompt_spec(choice.message.model_dump()).width % 8 == 0


def test_it_answers_tool_requests_with_a_tool_call(sdk):
    tools = [
        {
            "type": "function",
            "function": {"name": "save_prompt_spec", "parameters": PROMPT_SPEC_SCHEMA},
        }
    ]

    completion = sdk.chat.completions.create(model=MODEL, messages=MESSAGES, tools=tools)

    choice = completion.choices[0]
    call = choice.message.tool_calls[0]
    assert choice.finish_reason == "tool_calls"
    assert call.function.name == "save_prompt_spec"
    assert parse_prompt_spec(choice.message.model_dump()).steps >= 1


def test_it_lists_models(sdk):
    assert [model.id for model in sdk.models.list()] == [MODEL]


def test_it_raises_the_sdk_errors_for_auth_and_rate_limit(sim, sdk):
    sim.script([{"status": 429, "headers": {"Retry-After": "1"}}])
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model=MODEL, messages=MESSAGES)

    stranger = openai.OpenAI(base_url=sim.base_url, api_key="sk-stranger", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()
