"""The bundled simulator: what `make run`, demos and every other test rely on."""

import json

import pytest
import requests

from prompts.gateway import (
    AuthError,
    BalanceError,
    GatewayClient,
    InvalidRequestError,
    ModerationError,
    RateLimitedError,
    TooLargeError,
    TransientError,
    image_data_url,
    parse_prompt_spec,
)
from prompts.gateway.simulator import SimulatorConfig, start_simulator

from .conftest import KEY, MODEL, OTHER_KEY, chat_payload


def post_chat(sim, body, key=KEY):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.post(f"{sim.base_url}/chat/completions", json=body, headers=headers, timeout=5)


@pytest.mark.parametrize("key", ["sk-unknown", ""])
def test_it_answers_401_for_an_unknown_or_missing_key(sim, key):
    response = post_chat(sim, chat_payload(), key=key)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_it_accepts_any_key_when_none_are_configured(sim, client):
    sim.configure(keys=[])

    assert client.chat("sk-anything", chat_payload()).http_status == 200


def test_it_answers_400_model_not_found_for_a_wrong_model(sim, client):
    response = post_chat(sim, chat_payload(model="grok-9"))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_not_found"
    with pytest.raises(InvalidRequestError):
        client.chat(KEY, chat_payload(model="grok-9"))


def test_it_rate_limits_per_minute_with_retry_after(sim, client):
    sim.configure(rpm=2)
    client.chat(KEY, chat_payload())
    client.chat(KEY, chat_payload())

    response = post_chat(sim, chat_payload())

    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    with pytest.raises(RateLimitedError) as caught:
        client.chat(KEY, chat_payload())
    assert 1 <= caught.value.retry_after_s <= 60


@pytest.mark.parametrize("brief", ["An explicit nude figure study", "一张血腥暴力的海报"])
def test_it_moderates_with_http_400(sim, client, brief):
    response = post_chat(sim, chat_payload(brief=brief))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "content_policy_violation"
    with pytest.raises(ModerationError):
        client.chat(KEY, chat_payload(brief=brief))


@pytest.mark.parametrize("brief", ["NSFW pin-up poster", "色情海报"])
def test_it_moderates_with_finish_reason_content_filter_and_bills_the_prompt(sim, client, brief):
    sim.configure(moderation_style="finish_reason")

    with pytest.raises(ModerationError) as caught:
        client.chat(KEY, chat_payload(brief=brief))

    assert caught.value.http_status == 200
    assert caught.value.prompt_tokens > 0
    assert caught.value.completion_tokens == 0


@pytest.mark.parametrize("brief", ["gore splatter", "裸体人像"])
def test_it_moderates_with_sensitive_words_in_chinese(sim, client, brief):
    sim.configure(moderation_style="sensitive_words")

    response = post_chat(sim, chat_payload(brief=brief))

    error = response.json()["error"]
    assert response.status_code == 400
    assert error["code"] == "sensitive_words_detected"
    assert "敏感词" in error["message"]
    with pytest.raises(ModerationError):
        client.chat(KEY, chat_payload(brief=brief))


def test_it_answers_402_when_the_balance_is_exhausted(sim, client):
    sim.configure(insufficient_quota=True)

    response = post_chat(sim, chat_payload())

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_quota"
    with pytest.raises(BalanceError):
        client.chat(KEY, chat_payload())


def test_it_answers_413_for_an_oversized_body(sim, client):
    sim.configure(max_body_bytes=4096)

    with pytest.raises(TooLargeError) as caught:
        client.chat(KEY, chat_payload(brief="lighthouse " * 1000))

    assert caught.value.code == "request_too_large"
    assert client.chat(KEY, chat_payload()).http_status == 200  # the connection is still usable


def test_it_answers_413_for_an_image_over_5_mb(sim, client):
    too_big = image_data_url(b"\0" * (5 * 1024 * 1024 + 1))
    just_fits = image_data_url(b"\0" * (5 * 1024 * 1024))

    with pytest.raises(TooLargeError) as caught:
        client.chat(KEY, chat_payload(images=[too_big]))

    assert caught.value.code == "image_too_large"
    assert client.chat(KEY, chat_payload(images=[just_fits])).http_status == 200


def test_it_gives_the_same_spec_for_the_same_brief_and_seed(sim, client):
    first = client.chat(KEY, chat_payload(brief="UI dashboard for a bakery app"))
    second = client.chat(KEY, chat_payload(brief="UI dashboard for a bakery app"))
    other = client.chat(KEY, chat_payload(brief="UI dashboard for a florist app"))
    sim.configure(seed=8)
    reseeded = client.chat(KEY, chat_payload(brief="UI dashboard for a bakery app"))

    assert first.content == second.content
    assert other.content != first.content
    assert reseeded.content != first.content
    assert first.request_id != second.request_id


def test_it_describes_portraits_and_extracts_visual_features_from_images(sim, client):
    image = image_data_url(b"\xff\xd8fake")

    with_image = parse_prompt_spec(
        client.chat(KEY, chat_payload(brief="头像 portrait", images=[image])).message
    )
    text_only = parse_prompt_spec(
        client.chat(KEY, chat_payload(brief="portrait of a chef")).message
    )

    assert with_image.visual_features and all(with_image.visual_features.values())
    assert text_only.visual_features is None
    assert text_only.height > text_only.width
    assert "asymmetric eyes" in text_only.negative_prompt


def test_it_replies_in_prose_with_a_fenced_block_without_response_format(sim, client):
    payload = chat_payload()
    del payload["response_format"]

    result = client.chat(KEY, payload)

    assert "```json" in result.content
    assert parse_prompt_spec(result.message).positive_prompt


def test_it_counts_requests_by_status_and_key_fingerprint(sim, client):
    client.chat(KEY, chat_payload())
    client.chat(OTHER_KEY, chat_payload())
    with pytest.raises(AuthError):
        client.chat("sk-wrong-zzzz", chat_payload())
    sim.script([{"fault": "disconnect"}])
    with pytest.raises(TransientError):
        client.chat(KEY, chat_payload())

    stats = sim.stats()

    assert stats["received"] == 4
    assert stats["answered"] == 3
    assert stats["by_status"] == {"200": 2, "401": 1}
    assert stats["by_key"] == {f"…{KEY[-4:]}": 2, f"…{OTHER_KEY[-4:]}": 1, "…zzzz": 1}
    assert stats["faults"] == {"disconnect": 1}
    assert KEY not in json.dumps(stats)


def test_it_injects_only_transient_faults_at_full_fault_rate(sim, client):
    sim.configure(fault_rate=1.0)

    for _ in range(12):
        with pytest.raises(TransientError):
            client.chat(KEY, chat_payload())

    faults = sim.stats()["faults"]
    assert sum(faults.values()) == 12
    assert faults["overload"] == max(faults.values())


def test_it_adds_configured_latency(sim, client):
    sim.configure(latency_ms=150)

    assert client.chat(KEY, chat_payload()).latency_ms >= 150


def test_it_is_controlled_over_http_from_loopback(sim, client):
    root = sim.root_url
    script = [
        {"status": 429, "headers": {"Retry-After": "3"}},
        {"status": 200, "content": "not json"},
    ]

    assert requests.post(f"{root}/_sim/script", json=script, timeout=5).status_code == 200
    with pytest.raises(RateLimitedError):
        client.chat(KEY, chat_payload())
    assert client.chat(KEY, chat_payload()).content == "not json"

    config = requests.post(f"{root}/_sim/config", json={"insufficient_quota": True}, timeout=5)
    assert config.status_code == 200 and KEY not in config.text
    with pytest.raises(BalanceError):
        client.chat(KEY, chat_payload())

    assert requests.get(f"{root}/_sim/stats", timeout=5).json()["received"] == 3
    assert requests.post(f"{root}/_sim/reset", timeout=5).status_code == 200
    assert requests.get(f"{root}/_sim/stats", timeout=5).json()["received"] == 0
    assert client.chat(KEY, chat_payload()).http_status == 200


@pytest.mark.parametrize(
    "change", [{"fault_rate": 2}, {"moderation_style": "shout"}, {"rpm": -1}, {"no_such": 1}]
)
def test_it_rejects_invalid_config_changes(sim, change):
    root = sim.root_url

    response = requests.post(f"{root}/_sim/config", json=change, timeout=5)

    assert response.status_code == 400
    with pytest.raises(ValueError):
        sim.configure(**change)


def test_it_starts_and_stops_on_a_free_port():
    simulator = start_simulator(SimulatorConfig())
    gateway = GatewayClient(simulator.base_url, model=MODEL, timeout_s=5)
    try:
        assert simulator.base_url == f"http://127.0.0.1:{simulator.port}/v1"
        assert gateway.list_models("any-key") == [MODEL]
    finally:
        gateway.close()
        simulator.stop()
    with pytest.raises(TransientError):
        gateway.list_models("any-key")
