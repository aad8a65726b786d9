"""GatewayClient against the simulator over loopback: each row of the response table."""

import logging
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from prompts.gateway import (
    AuthError,
    BalanceError,
    GatewayClient,
    GatewayError,
    InvalidRequestError,
    ModerationError,
    RateLimitedError,
    TooLargeError,
    TransientError,
    parse_prompt_spec,
    parse_retry_after,
)

from .conftest import KEY, MODEL, chat_payload


def error_of(sim, client, entry) -> GatewayError:
    sim.script([entry])
    with pytest.raises(GatewayError) as caught:
        client.chat(KEY, chat_payload())
    return caught.value


def assert_no_key(error: GatewayError) -> None:
    for text in (str(error), repr(error), error.message, *map(str, error.args)):
        assert KEY not in text


def test_it_returns_the_reply_with_usage_and_request_id(sim, client):
    result = client.chat(KEY, chat_payload())

    assert result.http_status == 200
    assert result.finish_reason == "stop"
    assert result.request_id.startswith("sim-")
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert result.latency_ms >= 0
    assert parse_prompt_spec(result.message).positive_prompt.startswith("Portrait of a violinist")


def test_it_lists_models(sim, client):
    assert client.list_models(KEY) == [MODEL]


def test_it_raises_auth_error_when_listing_models_with_a_bad_key(sim, client):
    with pytest.raises(AuthError):
        client.list_models("sk-revoked")


def test_it_treats_finish_reason_content_filter_as_moderation_with_billed_tokens(sim, client):
    error = error_of(sim, client, {"status": 200, "finish_reason": "content_filter"})

    assert isinstance(error, ModerationError)
    assert error.permanent
    assert error.http_status == 200
    assert error.prompt_tokens > 0


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "content_policy_violation", "Rejected."),
        (403, "content_filter", "Rejected."),
        (451, "sensitive_words_detected", "Rejected."),
        (400, "", "Blocked by the moderation pipeline"),
        (400, "", "Request contains sensitive content"),
        (400, "", "内容违规"),
        (403, "", "包含敏感词"),
    ],
)
def test_it_classifies_moderation_rejections(sim, client, status, code, message):
    body = {"error": {"message": message, "code": code or None}}

    error = error_of(sim, client, {"status": status, "body": body})

    assert isinstance(error, ModerationError)
    assert error.outcome == "moderation"
    assert error.permanent


@pytest.mark.parametrize(
    ("status", "code"), [(401, "invalid_api_key"), (401, ""), (403, "invalid_api_key")]
)
def test_it_classifies_auth_failures(sim, client, status, code):
    error = error_of(
        sim, client, {"status": status, "body": {"error": {"message": "no", "code": code}}}
    )

    assert isinstance(error, AuthError)
    assert error.http_status == status


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (402, "", "Payment required"),
        (403, "insufficient_quota", "You exceeded your plan."),
        (403, "", "Insufficient balance, please recharge"),
        (403, "", "账户余额不足"),
        (403, "", "quota exhausted"),
        (429, "insufficient_quota", "You exceeded your current quota."),
    ],
)
def test_it_classifies_balance_exhaustion(sim, client, status, code, message):
    error = error_of(
        sim, client, {"status": status, "body": {"error": {"message": message, "code": code}}}
    )

    assert isinstance(error, BalanceError)
    assert error.permanent


def test_it_classifies_413_as_too_large(sim, client):
    error = error_of(sim, client, {"status": 413})

    assert isinstance(error, TooLargeError)
    assert error.http_status == 413


def test_it_reads_retry_after_seconds_on_429(sim, client):
    error = error_of(sim, client, {"status": 429, "headers": {"Retry-After": "7"}})

    assert isinstance(error, RateLimitedError)
    assert not error.permanent
    assert error.retry_after_s == 7.0


def test_it_reads_retry_after_http_date_on_429(sim, client):
    when = datetime.now(UTC) + timedelta(seconds=120)
    entry = {"status": 429, "headers": {"Retry-After": format_datetime(when, usegmt=True)}}

    error = error_of(sim, client, entry)

    assert isinstance(error, RateLimitedError)
    assert 100 <= error.retry_after_s <= 120


@pytest.mark.parametrize("headers", [{}, {"Retry-After": "soon"}])
def test_it_leaves_retry_after_unset_when_absent_or_unparseable(sim, client, headers):
    error = error_of(sim, client, {"status": 429, "headers": headers})

    assert isinstance(error, RateLimitedError)
    assert error.retry_after_s is None


def test_it_parses_retry_after_forms():
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)

    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("tomorrow-ish") is None
    assert parse_retry_after("nan") is None


@pytest.mark.parametrize("status", [400, 404, 422, 409, 418])
def test_it_classifies_other_client_errors_as_invalid_with_the_gateway_message(sim, client, status):
    body = {"error": {"message": "messages[0].content is required", "code": "bad_param"}}

    error = error_of(sim, client, {"status": status, "body": body})

    assert isinstance(error, InvalidRequestError)
    assert error.message == "messages[0].content is required"
    assert error.code == "bad_param"
    assert error.http_status == status


@pytest.mark.parametrize("status", [500, 502, 503, 504, 507])
def test_it_classifies_server_errors_as_transient(sim, client, status):
    error = error_of(sim, client, {"status": status})

    assert isinstance(error, TransientError)
    assert not error.permanent
    assert error.http_status == status
    assert error.request_id.startswith("sim-")


@pytest.mark.parametrize(
    "entry",
    [
        {"fault": "html"},
        {"fault": "overload"},
        {"fault": "truncated"},
        {"fault": "disconnect"},
        {"status": 200, "body": "<html>upstream hiccup</html>"},
        {"status": 200, "body": {"id": "chatcmpl-1", "object": "chat.completion"}},
        {"status": 200, "body": {"id": "chatcmpl-1", "choices": []}},
    ],
    ids=[
        "html-502",
        "overload-503",
        "truncated",
        "disconnect",
        "200-non-json",
        "200-no-choices",
        "200-empty-choices",
    ],
)
def test_it_classifies_broken_responses_as_transient(sim, client, entry):
    error = error_of(sim, client, entry)

    assert isinstance(error, TransientError)
    assert error.latency_ms >= 0


def test_it_classifies_a_timeout_as_transient_without_status(sim):
    impatient = GatewayClient(sim.base_url, model=MODEL, timeout_s=0.2)
    sim.script([{"status": 200, "delay_ms": 600}])

    with pytest.raises(TransientError) as caught:
        impatient.chat(KEY, chat_payload())

    assert caught.value.http_status is None
    assert caught.value.latency_ms >= 200
    assert "timed out (ReadTimeout)" in caught.value.message


def test_it_classifies_a_refused_connection_as_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once the socket closes
    offline = GatewayClient(f"http://127.0.0.1:{port}/v1", model=MODEL, timeout_s=2)

    with pytest.raises(TransientError) as caught:
        offline.chat(KEY, chat_payload())

    assert caught.value.http_status is None
    assert_no_key(caught.value)


def test_it_classifies_a_content_length_mismatch_from_a_raw_server_as_transient():
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_short():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b'Content-Length: 400\r\n\r\n{"choices": [{"mess'
            )

    thread = threading.Thread(target=answer_short, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    raw_client = GatewayClient(f"http://127.0.0.1:{port}/v1", model=MODEL, timeout_s=2)

    with pytest.raises(TransientError) as caught:
        raw_client.chat(KEY, chat_payload())

    thread.join(timeout=2)
    listener.close()
    assert "network error" in caught.value.message


def test_it_never_puts_the_key_in_errors_or_logs(sim, client, caplog):
    echoing = {
        "error": {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"}
    }
    sim.script([{"status": 401, "body": echoing}, {"status": 503}])
    caplog.set_level(logging.DEBUG)

    errors = []
    for _ in range(2):
        with pytest.raises(GatewayError) as caught:
            client.chat(KEY, chat_payload())
        errors.append(caught.value)

    assert isinstance(errors[0], AuthError) and "[redacted]" in errors[0].message
    for error in errors:
        assert_no_key(error)
    assert KEY not in caplog.text


def test_it_refuses_a_malformed_key_without_quoting_it(client):
    with pytest.raises(AuthError) as caught:
        client.chat("sk-has\nnewline", chat_payload())

    assert "newline" not in str(caught.value)
