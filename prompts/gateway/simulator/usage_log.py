"""The gateway's own usage log, shaped like one-api/new-api's consumption log.

One entry per billed chat call. The product reconciles its ledger against it, as it would
against a real gateway's ``GET /api/log/self``; the paging, filters, ordering and refusals
below follow new-api (controller/log.go GetUserLogs, model/log.go GetUserLogs,
common.GetPageQuery, middleware/auth.go authHelper).
"""

from __future__ import annotations

import hmac
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

LOG_TYPE_CONSUME = 2  # new-api's LogTypeConsume; 0 in a query means every type
DEFAULT_PAGE_SIZE = 10  # new-api's common.ItemsPerPage
MAX_PAGE_SIZE = 100
NOT_LOGGED_IN = "无权进行此操作，未登录且未提供 access token"
TOKEN_INVALID = "无权进行此操作，access token 无效"
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


def quota(prompt_tokens: int, completion_tokens: int) -> int:
    """The simulator's price in quota units: one per prompt token, two per completion token."""
    return prompt_tokens + 2 * completion_tokens


@dataclass(frozen=True)
class Charge:
    """A billed call, as the handler knows it when the answer is about to be written."""

    model_name: str
    token_name: str
    prompt_tokens: int
    completion_tokens: int
    request_id: str
    use_time: int


class UsageLog:
    """Entries in id order. Not locked itself: SimulatorState guards it with its lock.

    With a `path` the log outlives the process, as a real gateway's does: entries already in
    the file (one JSON object a line) are loaded, and each new one is appended as it is
    written. `clear()` empties both."""

    def __init__(self, clock: Callable[[], float] = time.time, path: str = "") -> None:
        self.clock = clock
        self.path = path
        self.entries: list[dict] = []
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as stored:
                self.entries = [json.loads(line) for line in stored if line.strip()]

    def clear(self) -> None:
        self.entries = []
        if self.path:
            open(self.path, "w").close()

    def add(self, charge: Charge) -> dict:
        entry = {
            "id": len(self.entries) + 1,
            "created_at": int(self.clock()),
            "type": LOG_TYPE_CONSUME,
            "model_name": charge.model_name,
            "token_name": charge.token_name,
            "prompt_tokens": charge.prompt_tokens,
            "completion_tokens": charge.completion_tokens,
            "quota": quota(charge.prompt_tokens, charge.completion_tokens),
            "use_time": charge.use_time,
            "request_id": charge.request_id,
            "other": "{}",
        }
        self.entries.append(entry)
        if self.path:
            with open(self.path, "a", encoding="utf-8") as stored:
                stored.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return entry

    def totals(self) -> dict:
        prompt = sum(entry["prompt_tokens"] for entry in self.entries)
        completion = sum(entry["completion_tokens"] for entry in self.entries)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def page(self, query: dict[str, list[str]]) -> dict:
        """One page of ``GET /api/log/self``, from its parsed query string."""
        page, page_size = _page_numbers(query)
        log_type = _integer(query, "type")
        start, end = _integer(query, "start_timestamp"), _integer(query, "end_timestamp")
        matching = [
            entry
            for entry in self.entries
            if (not log_type or entry["type"] == log_type)
            and (not start or entry["created_at"] >= start)
            and (not end or entry["created_at"] <= end)
        ]
        # new-api orders by "logs.id desc": newest first. (Its user view also shows id % 1024,
        # so a reconciler must match on request_id, never on id; the simulator keeps ids whole.)
        newest_first = matching[::-1]
        offset = (page - 1) * page_size
        items = [dict(entry) for entry in newest_first[offset : offset + page_size]]
        return {"items": items, "total": len(matching), "page": page, "page_size": page_size}


def _integer(query: dict[str, list[str]], name: str) -> int:
    """Go's strconv.Atoi as new-api uses it: anything unparsable is 0."""
    value = (query.get(name) or [""])[0]
    return int(value) if _INTEGER.fullmatch(value) else 0


def _page_numbers(query: dict[str, list[str]]) -> tuple[int, int]:
    page = max(_integer(query, "p"), 1)
    page_size = _integer(query, "page_size")
    if page_size < 1:
        page_size = DEFAULT_PAGE_SIZE
    return page, min(page_size, MAX_PAGE_SIZE)


def log_access_refusal(authorization: str, log_token: str) -> tuple[int, dict] | None:
    """new-api's refusal for a missing (401) or wrong (200) access token; None when it is right."""
    if not authorization.strip():
        return 401, {"success": False, "message": NOT_LOGGED_IN}
    scheme, _, rest = authorization.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else authorization.strip()
    if hmac.compare_digest(token.encode(), log_token.encode()):
        return None
    return 200, {"success": False, "message": TOKEN_INVALID}
