"""Typed errors raised by the gateway client.

Each error names an ``outcome``; the job service maps outcomes to what a job does
(see DESIGN.md, "Gateway responses"). Messages are operator-facing English and never
contain the API key.
"""

from __future__ import annotations

OUTCOMES = (
    "moderation",
    "invalid",
    "auth",
    "balance",
    "too_large",
    "rate_limited",
    "transient",
    "parse",
)

# Retrying these may succeed; every other outcome fails the same way again.
RETRYABLE_OUTCOMES = frozenset({"rate_limited", "transient"})
# The `code` of a transient error when the connection was refused or reset before an answer.
UNREACHABLE = "unreachable"


class GatewayError(Exception):
    outcome = "transient"

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: str = "",
        request_id: str = "",
        latency_ms: int = 0,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.code = code
        self.request_id = request_id
        self.latency_ms = latency_ms
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.retry_after_s = retry_after_s

    @property
    def permanent(self) -> bool:
        return self.outcome not in RETRYABLE_OUTCOMES

    def __str__(self) -> str:
        status = self.http_status if self.http_status is not None else "no status"
        code = f" {self.code}" if self.code else ""
        return f"{self.outcome} ({status}{code}): {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, http_status={self.http_status!r}, code={self.code!r})"


class ModerationError(GatewayError):
    outcome = "moderation"


class InvalidRequestError(GatewayError):
    outcome = "invalid"


class AuthError(GatewayError):
    outcome = "auth"


class BalanceError(GatewayError):
    outcome = "balance"


class TooLargeError(GatewayError):
    outcome = "too_large"


class RateLimitedError(GatewayError):
    outcome = "rate_limited"


class TransientError(GatewayError):
    outcome = "transient"


class SpecParseError(GatewayError):
    """The model answered, but no valid prompt spec could be read from the answer."""

    outcome = "parse"

    def __init__(self, message: str, *, raw_text: str = "", **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.raw_text = raw_text
