"""A local OpenAI-compatible gateway for `make run`, demos, drills and tests.

It speaks the same HTTP as the real gateway (chat/completions and models) and can
misbehave on purpose: rate limits, injected faults, moderation in the three styles
gateways use, an exhausted balance, oversized payloads, and scripted responses.
Standard library only, so it runs wherever the app runs.

Control endpoints (loopback clients only, no auth):
  GET  /_sim/stats   {"received", "answered", "by_status", "by_key", "faults", "billed",
                     "billed_tokens": {"prompt_tokens", "completion_tokens", "total_tokens"}};
                     "received" counts chat requests, "answered" those that got a complete
                     response, "billed" the entries of the usage log
  GET  /_sim/log     every usage log entry, oldest first (a JSON list)
  POST /_sim/reset   restore the startup config; clear stats, script, rate window and usage log
  POST /_sim/script  a JSON list of forced responses for the next chat requests, in order:
                     {"status", "body"?, "headers"?, "finish_reason"?, "content"?, "delay_ms"?,
                      "fault"? ("overload" | "html" | "truncated" | "disconnect"),
                      "usage"? {"prompt_tokens", "completion_tokens"}: the answer's usage and
                               what is billed (a scripted "body" is sent as given; then
                               "usage" sets only the bill),
                      "billed"? false: no log entry; true: a log entry whatever the outcome,
                      "log_tokens"? {"prompt_tokens", "completion_tokens"}: what the log
                               records instead of the answer's usage (token drift)}
  POST /_sim/config  change config fields at run time, e.g. {"keys": [...], "rpm": 5,
                     "log_token": "..."}

Request ids: the gateway gives every call its own id, sent back in `X-Oneapi-Request-Id`
(one-api/new-api's header). `x-request-id` echoes the client's `X-Request-Id` (else its
`Idempotency-Key`) when it sent one, else repeats the gateway's id. A completion's body `id`
is `chatcmpl-…`.

Usage log (one-api/new-api's consumption log): one entry per billed chat call,
  {"id", "created_at", "type": 2, "model_name", "token_name": "key-…<last 4 of the key>",
   "prompt_tokens", "completion_tokens", "quota", "use_time", "request_id", "other": "{}"}
where quota = prompt_tokens + 2 × completion_tokens, use_time is whole seconds, and
request_id is the client's id when it sent one (as above), else the gateway's. Billed: 200
answers, including finish_reason "content_filter", and truncated answers (the work was done;
only the connection failed). Not billed: 400/401/402/413/429 refusals and the overload, html
and disconnect faults. An entry is logged after the latency and before the answer is
written, so a client that is gone by then is billed all the same.
With `log_file` (`--log-file`) the log is also kept in that JSONL file, loaded at start, so a
restarted simulator still serves what it billed before (POST /_sim/reset empties it too).
  GET /api/log/self?p=1&page_size=100&type=2&start_timestamp=…&end_timestamp=…
  with `Authorization: Bearer <log_token>` answers {"success": true, "message": "",
  "data": {"items", "total", "page", "page_size"}}, newest first, timestamps inclusive,
  page_size at most 100. No token: 401, a wrong one: 200, both {"success": false, ...}.
"""

from .answers import generate_spec
from .config import (
    DEFAULT_FLAGGED_WORDS,
    DEFAULT_LOG_TOKEN,
    DEFAULT_MODELS,
    FAULT_KINDS,
    MODERATION_STYLES,
    RANDOM_FAULT_WEIGHTS,
    RATE_WINDOW_S,
    TOKENS_PER_IMAGE,
    SimulatorConfig,
    key_fingerprint,
)
from .handler import SimulatorHandler
from .server import SimulatorHandle, SimulatorServer, start_simulator
from .state import SimulatorState
from .usage_log import quota

__all__ = [
    "DEFAULT_FLAGGED_WORDS",
    "DEFAULT_LOG_TOKEN",
    "DEFAULT_MODELS",
    "FAULT_KINDS",
    "MODERATION_STYLES",
    "RANDOM_FAULT_WEIGHTS",
    "RATE_WINDOW_S",
    "TOKENS_PER_IMAGE",
    "SimulatorConfig",
    "SimulatorHandle",
    "SimulatorHandler",
    "SimulatorServer",
    "SimulatorState",
    "generate_spec",
    "key_fingerprint",
    "quota",
    "start_simulator",
]
