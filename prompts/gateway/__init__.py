"""The only code that speaks HTTP to a gateway. Imports no Django: plain values in,
dataclasses out, typed errors raised."""

from .client import GatewayClient, GatewayResult, parse_retry_after
from .errors import (
    AuthError,
    BalanceError,
    GatewayError,
    InvalidRequestError,
    ModerationError,
    RateLimitedError,
    SpecParseError,
    TooLargeError,
    TransientError,
)
from .payloads import build_chat_payload, image_data_url
from .spec import PromptSpec, parse_prompt_spec

__all__ = [
    "AuthError",
    "BalanceError",
    "GatewayClient",
    "GatewayError",
    "GatewayResult",
    "InvalidRequestError",
    "ModerationError",
    "PromptSpec",
    "RateLimitedError",
    "SpecParseError",
    "TooLargeError",
    "TransientError",
    "build_chat_payload",
    "image_data_url",
    "parse_prompt_spec",
    "parse_retry_after",
]
