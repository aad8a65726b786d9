"""What the simulator bills, and the ids that let a ledger find each billed call."""

import json
import socket
import time

import pytest
import requests

from .conftest import KEY, chat_payload


def post_chat(sim, key=KEY, headers=None, **payload):
    all_headers = {"Authorization": f"Bearer {key}", **(headers or {})}
    return requests.post(
        f"{sim.base_url}/chat/completions",
        json=chat_payload(**payload),
        headers=all_headers,
        timeout=5,
    )


def wait_for_stats(sim, condition, timeout_s=5.0):
    """Poll /_sim/stats until ``condition(stats)`` holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats = requests.get(f"{sim.root_url}/_sim/stats", timeout=2).json()
        if condition(stats):
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"stats never matched within {timeout_s} s: {stats}")
        time.sleep(0.02)


# --- request ids ---------------------------------------------------------------------------


def test_it_echoes_the_clients_request_id_and_adds_its_own(sim):
    response = post_chat(sim, headers={"X-Request-Id": "job-42-attempt-1"})

    gateway_id = response.headers["X-Oneapi-Request-Id"]
    assert response.headers["x-request-id"] == "job-42-attempt-1"
    assert gateway_id.startswith("sim-")
    assert response.json()["id"].startswith("chatcmpl-")
    assert sim.usage_log()[0]["request_id"] == "job-42-attempt-1"


def test_it_takes_the_idempotency_key_when_no_request_id_is_sent(sim):
    response = post_chat(sim, headers={"Idempotency-Key": "job-42-attempt-2"})

    assert response.headers["x-request-id"] == "job-42-attempt-2"
    assert sim.usage_log()[0]["request_id"] == "job-42-attempt-2"


def test_it_logs_its_own_id_when_the_client_sends_none(sim):
    first = post_chat(sim)
    second = post_chat(sim)

    gateway_ids = [r.headers["X-Oneapi-Request-Id"] for r in (first, second)]
    assert [r.headers["x-request-id"] for r in (first, second)] == gateway_ids
    assert [entry["request_id"] for entry in sim.usage_log()] == gateway_ids
    assert gateway_ids[0] != gateway_ids[1]


@pytest.mark.parametrize(
    "script, key",
    [
        (None, "sk-wrong-key"),
        ([{"status": 503}], KEY),
        ([{"status": 429, "headers": {"Retry-After": "2"}}], KEY),
        ([{"status": 200, "body": "plain text"}], KEY),
        ([{"fault": "html"}], KEY),
    ],
)
def test_every_chat_answer_carries_both_ids(sim, script, key):
    if script:
        sim.script(script)

    response = post_chat(sim, key=key, headers={"X-Request-Id": "job-5-attempt-3"})

    assert response.headers["X-Oneapi-Request-Id"].startswith("sim-")
    assert response.headers["x-request-id"] == "job-5-attempt-3"


# --- billed or not, by outcome ---------------------------------------------------------------

NOT_BILLED = {
    "wrong key 401": ({}, None, {"key": "sk-wrong-key"}),
    "balance 402": ({"insufficient_quota": True}, None, {}),
    "body 413": ({"max_body_bytes": 2048}, None, {"brief": "lighthouse " * 500}),
    "wrong model 400": ({}, None, {"model": "grok-9"}),
    "moderation 400": ({}, None, {"brief": "An explicit nude figure study"}),
    "sensitive words 400": ({"moderation_style": "sensitive_words"}, None, {"brief": "gore"}),
    "overload fault": ({}, [{"fault": "overload"}], {}),
    "html fault": ({}, [{"fault": "html"}], {}),
    "disconnect fault": ({}, [{"fault": "disconnect"}], {}),
    "scripted 500": ({}, [{"status": 500}], {}),
    "scripted body without usage": ({}, [{"body": {"id": "chatcmpl-1", "choices": []}}], {}),
}


@pytest.mark.parametrize("config, script, request_args", NOT_BILLED.values(), ids=NOT_BILLED)
def test_it_does_not_bill_refusals_and_faults(sim, config, script, request_args):
    sim.configure(**config)
    if script:
        sim.script(script)

    try:
        post_chat(sim, **request_args)
    except requests.ConnectionError:
        pass  # the disconnect fault

    assert sim.stats()["received"] == 1
    assert sim.stats()["billed"] == 0


def test_it_does_not_bill_a_rate_limited_call(sim):
    sim.configure(rpm=1)

    statuses = [post_chat(sim).status_code for _ in range(2)]

    assert statuses == [200, 429]
    assert sim.stats()["billed"] == 1


BILLED = {
    "answer": ({}, None, {}),
    "scripted answer": ({}, [{"status": 200, "content": "not json"}], {}),
    "content filter": ({"moderation_style": "finish_reason"}, None, {"brief": "NSFW poster"}),
}


@pytest.mark.parametrize("config, script, request_args", BILLED.values(), ids=BILLED)
def test_it_bills_answers_with_the_usage_they_report(sim, config, script, request_args):
    sim.configure(**config)
    if script:
        sim.script(script)

    usage = post_chat(sim, **request_args).json()["usage"]

    (entry,) = sim.usage_log()
    assert entry["prompt_tokens"] == usage["prompt_tokens"] > 0
    assert entry["completion_tokens"] == usage["completion_tokens"]
    assert entry["quota"] == usage["prompt_tokens"] + 2 * usage["completion_tokens"]


def test_it_bills_a_truncated_answer(sim):
    sim.script([{"fault": "truncated"}])

    with pytest.raises(requests.RequestException):
        post_chat(sim).json()

    (entry,) = sim.usage_log()
    assert entry["prompt_tokens"] > 0 and entry["completion_tokens"] > 0
    assert sim.stats()["answered"] == 0


def test_it_bills_exactly_the_random_faults_that_truncate(sim):
    sim.configure(fault_rate=1.0)

    for _ in range(12):
        try:
            post_chat(sim).json()
        except requests.RequestException:
            pass

    stats = sim.stats()
    assert sum(stats["faults"].values()) == 12
    assert stats["billed"] == stats["faults"].get("truncated", 0)


def test_it_bills_a_client_that_hangs_up_during_the_latency(sim):
    sim.configure(latency_ms=1000)
    body = json.dumps(chat_payload()).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\n"
        f"Host: {sim.host}:{sim.port}\r\n"
        f"Authorization: Bearer {KEY}\r\n"
        "X-Request-Id: job-13-attempt-1\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )

    with socket.create_connection((sim.host, sim.port), timeout=5) as conn:
        conn.sendall(head.encode() + body)
    billed_when_gone = sim.stats()["billed"]
    stats = wait_for_stats(sim, lambda stats: stats["billed"] == 1)

    (entry,) = sim.usage_log()
    assert billed_when_gone == 0
    assert stats["received"] == 1
    assert entry["request_id"] == "job-13-attempt-1"
    assert entry["use_time"] >= 1  # whole seconds, the latency included
    sim.configure(latency_ms=0)
    assert post_chat(sim).status_code == 200  # the simulator carries on


# --- scripted billing ------------------------------------------------------------------------


def test_a_script_sets_the_usage_answered_and_billed(sim):
    sim.script([{"usage": {"prompt_tokens": 300, "completion_tokens": 90}}])

    usage = post_chat(sim).json()["usage"]

    (entry,) = sim.usage_log()
    assert usage == {"prompt_tokens": 300, "completion_tokens": 90, "total_tokens": 390}
    assert (entry["prompt_tokens"], entry["completion_tokens"], entry["quota"]) == (300, 90, 480)


def test_a_script_can_answer_without_billing(sim):
    sim.script([{"usage": {"prompt_tokens": 300, "completion_tokens": 90}, "billed": False}])

    response = post_chat(sim)

    assert response.status_code == 200 and response.json()["usage"]["prompt_tokens"] == 300
    assert sim.stats()["billed"] == 0


def test_a_script_can_make_the_log_disagree_with_the_answer(sim):
    sim.script(
        [
            {
                "usage": {"prompt_tokens": 300, "completion_tokens": 90},
                "log_tokens": {"prompt_tokens": 300, "completion_tokens": 120},
            }
        ]
    )

    usage = post_chat(sim).json()["usage"]

    (entry,) = sim.usage_log()
    assert usage["completion_tokens"] == 90
    assert (entry["completion_tokens"], entry["quota"]) == (120, 540)


def test_a_script_can_bill_a_call_whose_connection_drops(sim):
    sim.script(
        [
            {
                "fault": "disconnect",
                "billed": True,
                "usage": {"prompt_tokens": 50, "completion_tokens": 25},
            }
        ]
    )

    with pytest.raises(requests.ConnectionError):
        post_chat(sim, headers={"X-Request-Id": "job-3-attempt-1"})

    (entry,) = sim.usage_log()
    assert (entry["request_id"], entry["prompt_tokens"], entry["completion_tokens"]) == (
        "job-3-attempt-1",
        50,
        25,
    )


def test_a_scripted_body_is_billed_by_its_own_usage(sim):
    body = {
        "id": "chatcmpl-1",
        "choices": [],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3},
    }
    sim.script([{"body": body}])

    assert post_chat(sim).json() == body
    (entry,) = sim.usage_log()
    assert (entry["prompt_tokens"], entry["completion_tokens"]) == (7, 3)


@pytest.mark.parametrize(
    "entry",
    [
        {"usage": {"prompt_tokens": -1, "completion_tokens": 0}},
        {"usage": {"prompt_tokens": 10}},
        {"log_tokens": {"prompt_tokens": "10", "completion_tokens": 1}},
        {"billed": "no"},
    ],
)
def test_it_rejects_malformed_billing_in_a_script(sim, entry):
    response = requests.post(f"{sim.root_url}/_sim/script", json=[entry], timeout=5)

    assert response.status_code == 400
    with pytest.raises(ValueError):
        sim.script([entry])
