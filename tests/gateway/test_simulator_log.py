"""The simulator's usage log: what GET /api/log/self serves, as new-api serves it."""

import time

import pytest
import requests

from prompts.gateway.simulator import DEFAULT_LOG_TOKEN
from prompts.gateway.simulator.usage_log import Charge, UsageLog

from .conftest import KEY, MODEL, chat_payload

NOT_LOGGED_IN = "无权进行此操作，未登录且未提供 access token"
TOKEN_INVALID = "无权进行此操作，access token 无效"


def post_chat(sim, request_id=None):
    headers = {"Authorization": f"Bearer {KEY}"}
    if request_id:
        headers["X-Request-Id"] = request_id
    response = requests.post(
        f"{sim.base_url}/chat/completions", json=chat_payload(), headers=headers, timeout=5
    )
    assert response.status_code == 200
    return response


def get_log(sim, authorization=f"Bearer {DEFAULT_LOG_TOKEN}", **params):
    headers = {"Authorization": authorization} if authorization else {}
    return requests.get(f"{sim.root_url}/api/log/self", params=params, headers=headers, timeout=5)


def page_ids(sim, **params):
    data = get_log(sim, **params).json()["data"]
    return [item["request_id"] for item in data["items"]]


def test_it_serves_billed_calls_newest_first_page_by_page(sim):
    for number in range(1, 6):
        post_chat(sim, request_id=f"call-{number}")

    response = get_log(sim, p=1, page_size=2, type=2)

    body = response.json()
    assert response.status_code == 200
    assert body["success"] is True and body["message"] == ""
    assert body["data"]["total"] == 5
    assert (body["data"]["page"], body["data"]["page_size"]) == (1, 2)
    assert [item["request_id"] for item in body["data"]["items"]] == ["call-5", "call-4"]
    assert page_ids(sim, p=2, page_size=2) == ["call-3", "call-2"]
    assert page_ids(sim, p=3, page_size=2) == ["call-1"]
    assert page_ids(sim, p=4, page_size=2) == []


@pytest.mark.parametrize(
    "params, page, page_size",
    [
        ({}, 1, 10),
        ({"page_size": 500}, 1, 100),
        ({"p": 0, "page_size": 0}, 1, 10),
        ({"p": "two", "page_size": "many"}, 1, 10),
        ({"p": 3, "page_size": 100}, 3, 100),
    ],
)
def test_it_reads_paging_like_new_api_and_caps_pages_at_100(sim, params, page, page_size):
    data = get_log(sim, **params).json()["data"]

    assert (data["page"], data["page_size"]) == (page, page_size)


def test_it_filters_by_type_and_inclusive_timestamps(sim):
    post_chat(sim)
    post_chat(sim)
    entries = sim.usage_log()
    last = entries[-1]["created_at"]

    def total(**params):
        return get_log(sim, **params).json()["data"]["total"]

    assert total(type=2) == total(type=0) == total() == 2
    assert total(type=1) == 0
    assert total(start_timestamp=last, end_timestamp=last) == sum(
        entry["created_at"] == last for entry in entries
    )
    assert total(start_timestamp=last + 1) == 0
    assert total(end_timestamp=last - 1) == sum(entry["created_at"] < last for entry in entries)


def test_it_filters_timestamps_inclusively_at_both_ends():
    times = iter([100, 200, 300])
    log = UsageLog(clock=lambda: next(times))
    for number in range(3):
        log.add(Charge(MODEL, "key-…0000", 1, 1, f"r{number}", 0))

    def created(**params):
        query = {name: [str(value)] for name, value in params.items()}
        return [item["created_at"] for item in log.page(query)["items"]]

    assert created(start_timestamp=200) == [300, 200]
    assert created(end_timestamp=200) == [200, 100]
    assert created(start_timestamp=200, end_timestamp=200) == [200]
    assert created(start_timestamp=301) == []


def test_it_shapes_an_entry_like_new_apis_consumption_log(sim):
    sim.script([{"usage": {"prompt_tokens": 120, "completion_tokens": 40}}])
    before = int(time.time())
    post_chat(sim, request_id="job-9-attempt-2")
    after = int(time.time())

    (entry,) = get_log(sim).json()["data"]["items"]

    assert before <= entry.pop("created_at") <= after
    assert 0 <= entry.pop("use_time") <= after - before + 1
    assert entry == {
        "id": 1,
        "type": 2,
        "model_name": MODEL,
        "token_name": f"key-…{KEY[-4:]}",
        "prompt_tokens": 120,
        "completion_tokens": 40,
        "quota": 120 + 2 * 40,
        "request_id": "job-9-attempt-2",
        "other": "{}",
    }
    assert KEY not in str(entry)


def test_it_refuses_a_missing_token_with_401_and_a_wrong_one_with_200(sim):
    post_chat(sim)

    missing = get_log(sim, authorization=None)
    wrong = get_log(sim, authorization="Bearer not-the-log-token")
    api_key = get_log(sim, authorization=f"Bearer {KEY}")

    assert missing.status_code == 401
    assert missing.json() == {"success": False, "message": NOT_LOGGED_IN}
    for refused in (wrong, api_key):
        assert refused.status_code == 200
        assert refused.json() == {"success": False, "message": TOKEN_INVALID}


def test_it_takes_a_log_token_changed_at_run_time_with_or_without_bearer(sim):
    post_chat(sim)

    config = requests.post(
        f"{sim.root_url}/_sim/config", json={"log_token": "drill-log-token-77"}, timeout=5
    )

    assert config.status_code == 200 and "drill-log-token-77" not in config.text
    assert get_log(sim).json()["success"] is False
    assert get_log(sim, authorization="Bearer drill-log-token-77").json()["data"]["total"] == 1
    assert get_log(sim, authorization="drill-log-token-77").json()["data"]["total"] == 1


def test_it_lists_the_whole_log_for_drills_and_clears_it_on_reset(sim):
    post_chat(sim, request_id="first")
    post_chat(sim, request_id="second")

    listed = requests.get(f"{sim.root_url}/_sim/log", timeout=5).json()
    requests.post(f"{sim.root_url}/_sim/reset", timeout=5)
    after_reset = requests.get(f"{sim.root_url}/_sim/log", timeout=5).json()
    post_chat(sim, request_id="third")

    assert [(entry["id"], entry["request_id"]) for entry in listed] == [
        (1, "first"),
        (2, "second"),
    ]
    assert after_reset == []
    assert [(entry["id"], entry["request_id"]) for entry in sim.usage_log()] == [(1, "third")]


def test_it_totals_billed_calls_and_tokens_in_stats(sim):
    sim.script(
        [
            {"usage": {"prompt_tokens": 10, "completion_tokens": 5}},
            {"usage": {"prompt_tokens": 20, "completion_tokens": 7}},
        ]
    )
    post_chat(sim)
    post_chat(sim)

    stats = requests.get(f"{sim.root_url}/_sim/stats", timeout=5).json()

    assert stats["billed"] == 2
    assert stats["billed_tokens"] == {
        "prompt_tokens": 30,
        "completion_tokens": 12,
        "total_tokens": 42,
    }


def test_it_keeps_its_log_in_a_file_across_a_restart(tmp_path):
    from prompts.gateway.simulator import SimulatorConfig, start_simulator

    path = str(tmp_path / "usage.jsonl")
    first = start_simulator(SimulatorConfig(keys=[KEY], log_file=path))
    try:
        post_chat(first, request_id="before-restart")
    finally:
        first.stop()
    second = start_simulator(SimulatorConfig(keys=[KEY], log_file=path))
    try:
        post_chat(second, request_id="after-restart")
        assert page_ids(second, page_size=10) == ["after-restart", "before-restart"]
        assert [entry["id"] for entry in second.usage_log()] == [1, 2]
        second.reset()  # a reset empties the file too
        assert second.usage_log() == [] and open(path).read() == ""
    finally:
        second.stop()
