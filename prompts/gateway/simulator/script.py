"""Scripted responses: what an entry may say, and what a scripted answer is billed for."""

from __future__ import annotations

from .config import FAULT_KINDS

TOKEN_FIELDS = ("prompt_tokens", "completion_tokens")
DEFAULT_ERROR_CODES = {
    400: "invalid_request_error",
    401: "invalid_api_key",
    402: "insufficient_quota",
    403: "forbidden",
    404: "not_found",
    413: "request_too_large",
    422: "unprocessable_entity",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "bad_gateway",
    503: "model_overloaded",
    504: "gateway_timeout",
}


def is_token_pair(value) -> bool:
    """A usage object with non-negative integer prompt and completion tokens."""
    return isinstance(value, dict) and all(
        isinstance(value.get(name), int)
        and not isinstance(value.get(name), bool)
        and value[name] >= 0
        for name in TOKEN_FIELDS
    )


def validate_script(entries) -> None:
    if not isinstance(entries, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("status", 200), int) for entry in entries
    ):
        raise ValueError("script must be a list of objects with an integer status")
    for entry in entries:
        if entry.get("fault") not in (None, *FAULT_KINDS):
            raise ValueError(f"fault must be one of {', '.join(FAULT_KINDS)}")
        for name in ("usage", "log_tokens"):
            if name in entry and not is_token_pair(entry[name]):
                raise ValueError(f"{name} needs non-negative integer {' and '.join(TOKEN_FIELDS)}")
        if not isinstance(entry.get("billed", False), bool):
            raise ValueError("billed must be a boolean")


def _answered_usage(entry: dict, generated_usage: dict) -> dict | None:
    """The usage of a scripted answer that a gateway bills: a 200 carrying usage, or a
    truncated answer (the work was done, only the connection failed)."""
    if entry.get("fault"):
        return generated_usage if entry["fault"] == "truncated" else None
    if entry.get("status", 200) != 200:
        return None
    if "body" not in entry:
        return generated_usage
    body = entry["body"]
    body_usage = body.get("usage") if isinstance(body, dict) else None
    return entry.get("usage") or (body_usage if is_token_pair(body_usage) else None)


def scripted_bill(entry: dict, generated_usage: dict) -> dict | None:
    """The prompt and completion tokens the log records for a scripted answer, or None.

    ``generated_usage`` is the usage of the completion the simulator would send for it (with
    the entry's ``usage`` already applied). ``billed`` overrides the outcome's rule either way;
    ``log_tokens`` makes the log disagree with the answer.
    """
    answered = _answered_usage(entry, generated_usage)
    if not entry.get("billed", answered is not None):
        return None
    tokens = entry.get("log_tokens") or answered or generated_usage
    return {name: tokens[name] for name in TOKEN_FIELDS}
