"""The one HTTP client for the OpenAI-compatible gateway.

``GatewayClient.chat`` returns a GatewayResult or raises a GatewayError subclass whose
``outcome`` follows the table in DESIGN.md ("Gateway responses"). It never retries:
what to do with an error is decided by the caller, in one place.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from requests.adapters import HTTPAdapter

from .errors import (
    UNREACHABLE,
    AuthError,
    BalanceError,
    GatewayError,
    InvalidRequestError,
    ModerationError,
    RateLimitedError,
    TooLargeError,
    TransientError,
)
from .spec import message_text

logger = logging.getLogger(__name__)

POOL_SIZE = 32
MODERATION_CODES = frozenset(
    {"content_policy_violation", "content_filter", "sensitive_words_detected"}
)
MODERATION_MESSAGE = re.compile(r"moderation|sensitive|违规|敏感", re.IGNORECASE)
BALANCE_CODES = frozenset({"insufficient_quota", "insufficient_user_quota", "insufficient_balance"})
BALANCE_MESSAGE = re.compile(r"insufficient balance|余额不足|额度不足|quota", re.IGNORECASE)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
# A header value requests would refuse; its exception text would quote the key.
_KEY_PATTERN = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True)
class GatewayResult:
    message: dict
    content: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    request_id: str
    http_status: int
    latency_ms: int


class GatewayClient:
    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        timeout_s: float,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = (connect_timeout_s, timeout_s)
        self.session = requests.Session()
        # Retries belong to the job, which records one ledger row per attempt.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": "grokweb-gateway-client"}
        )

    def close(self) -> None:
        self.session.close()

    def chat(self, api_key: str, payload: dict, *, request_id: str = "") -> GatewayResult:
        """One chat completion. `request_id` (ours, a UUID) goes out as X-Request-Id and
        Idempotency-Key, so the gateway's log names the call and a gateway that honours the
        key answers a repeat with the first answer instead of billing it again."""
        body = {**payload, "model": payload.get("model") or self.model}
        headers = {"X-Request-Id": request_id, "Idempotency-Key": request_id} if request_id else {}
        response, latency_ms = self._send(api_key, "POST", "/chat/completions", body, headers)
        data = self._json_body(response, latency_ms, "POST", "/chat/completions")
        request_id = _request_id(response, data, ours=request_id)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise TransientError(
                "gateway answered 200 without choices",
                http_status=response.status_code,
                request_id=request_id,
                latency_ms=latency_ms,
            )
        prompt_tokens, completion_tokens = _usage(data)
        choice = choices[0]
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        finish_reason = str(choice.get("finish_reason") or "")
        if finish_reason == "content_filter":
            raise ModerationError(
                "gateway moderation stopped the reply (finish_reason content_filter)",
                http_status=response.status_code,
                code="content_filter",
                request_id=request_id,
                latency_ms=latency_ms,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
        self._log("POST", "/chat/completions", response.status_code, latency_ms, request_id, "ok")
        return GatewayResult(
            message=message,
            content=message_text(message),
            finish_reason=finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            request_id=request_id,
            http_status=response.status_code,
            latency_ms=latency_ms,
        )

    def list_models(self, api_key: str) -> list[str]:
        response, latency_ms = self._send(api_key, "GET", "/models", None)
        data = self._json_body(response, latency_ms, "GET", "/models")
        self._log(
            "GET", "/models", response.status_code, latency_ms, _request_id(response, data), "ok"
        )
        return [
            str(item["id"])
            for item in data.get("data") or []
            if isinstance(item, dict) and "id" in item
        ]

    def _send(self, api_key: str, method: str, path: str, body: dict | None,
              headers: dict | None = None):
        if not isinstance(api_key, str) or not _KEY_PATTERN.match(api_key):
            raise AuthError("API key is empty or contains characters not allowed in a header")
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                json=body,
                headers={"Authorization": f"Bearer {api_key}", **(headers or {})},
                timeout=self.timeout,
                allow_redirects=False,
            )
            response.content  # noqa: B018 -- read the whole body inside the try: truncation raises here
        except requests.Timeout as exc:
            error = TransientError(f"gateway timed out ({type(exc).__name__})")
        except requests.ConnectionError as exc:
            # Refused or reset before an answer: the gateway is unreachable, not just slow.
            error = TransientError(f"network error: {type(exc).__name__}", code=UNREACHABLE)
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            error = TransientError(f"network error: {type(exc).__name__}")
        except requests.RequestException as exc:
            error = InvalidRequestError(f"request could not be sent: {type(exc).__name__}")
        else:
            latency_ms = _elapsed_ms(started)
            if not 200 <= response.status_code < 300:
                error = _http_error(response, api_key, latency_ms,
                                    ours=(headers or {}).get("X-Request-Id", ""))
                self._log(
                    method, path, response.status_code, latency_ms, error.request_id, error.outcome
                )
                raise error
            return response, latency_ms
        error.latency_ms = _elapsed_ms(started)
        self._log(method, path, None, error.latency_ms, "", error.outcome)
        raise error

    def _json_body(
        self, response: requests.Response, latency_ms: int, method: str, path: str
    ) -> dict:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            error = TransientError(
                f"gateway answered {response.status_code} with a non-JSON body",
                http_status=response.status_code,
                request_id=response.headers.get("x-request-id", ""),
                latency_ms=latency_ms,
            )
            self._log(
                method, path, response.status_code, latency_ms, error.request_id, error.outcome
            )
            raise error
        return data

    def _log(self, method, path, status, latency_ms, request_id, outcome) -> None:
        logger.info(
            "gateway %s %s status=%s outcome=%s latency_ms=%d request_id=%s",
            method,
            path,
            status,
            outcome,
            latency_ms,
            request_id or "-",
        )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def _http_error(response: requests.Response, api_key: str, latency_ms: int,
                ours: str = "") -> GatewayError:
    status = response.status_code
    code, message, data = _error_details(response)
    message = _scrub(message, api_key) or f"HTTP {status}"
    prompt_tokens, completion_tokens = _usage(data)
    kwargs = {
        "http_status": status,
        "code": code,
        "request_id": _request_id(response, data, ours=ours),
        "latency_ms": latency_ms,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
    }
    error_class = _classify(status, code, message)
    if error_class in (RateLimitedError, TransientError):
        kwargs["retry_after_s"] = parse_retry_after(response.headers.get("Retry-After"))
    return error_class(message, **kwargs)


def _classify(status: int, code: str, message: str) -> type[GatewayError]:
    if status in (400, 403, 451) and (
        code in MODERATION_CODES or MODERATION_MESSAGE.search(message)
    ):
        return ModerationError
    if status == 401 or (status == 403 and code == "invalid_api_key"):
        return AuthError
    if status == 402 or (
        status == 403 and (code in BALANCE_CODES or BALANCE_MESSAGE.search(message))
    ):
        return BalanceError
    if status == 429 and code in BALANCE_CODES:
        # OpenAI-style gateways answer an empty balance with 429 insufficient_quota;
        # retrying it only burns attempts, so it pauses dispatch like a 402.
        return BalanceError
    if status == 413:
        return TooLargeError
    if status == 429:
        return RateLimitedError
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientError
    return InvalidRequestError  # 400, 404, 422, other 4xx, and redirects (a wrong base URL)


def _error_details(response: requests.Response) -> tuple[str, str, dict]:
    """(code, message, parsed body) from an error response in any of the usual shapes."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        kind = "HTML" if "html" in response.headers.get("Content-Type", "") else "non-JSON"
        return "", f"HTTP {response.status_code} with a {kind} body", {}
    error = data.get("error")
    if isinstance(error, dict):
        code, message = error.get("code") or error.get("type"), error.get("message")
    else:
        code, message = data.get("code"), error if isinstance(error, str) else data.get("message")
    return str(code or ""), str(message or ""), data


def _scrub(text: str, api_key: str) -> str:
    return text.replace(api_key, "[redacted]") if api_key else text


def _request_id(response: requests.Response, data: dict | None, ours: str = "") -> str:
    """The gateway's own id for the call: one-api/new-api's X-Oneapi-Request-Id, else an
    X-Request-Id that is not just ours echoed back, else the body's id."""
    for header in ("x-oneapi-request-id", "x-request-id"):
        value = response.headers.get(header, "")
        if value and value != ours:
            return value
    return str((data or {}).get("id") or "")


def _usage(data: dict | None) -> tuple[int, int]:
    usage = (data or {}).get("usage")
    if not isinstance(usage, dict):
        return 0, 0
    return _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
