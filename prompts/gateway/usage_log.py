"""The gateway's own usage log ("consumption log" of one-api / new-api), pulled or read from a file.

What the two servers answer, checked against their sources:
- songquanpeng/one-api (controller/log.go GetUserLogs, model/log.go): `GET /api/log/self`;
  `p` is 0-based; the page size is the server's (ItemsPerPage, 10) and `page_size` is ignored;
  `data` is a bare list, newest first; the self log omits `id` (it reads 0); `request_id` is
  one-api's own id (its `X-Oneapi-Request-Id` response header), not the X-Request-Id we send.
- QuantumNous/new-api (controller/log.go, common/page_info.go, model/log.go): `p` is 1-based
  (below 1 reads as 1), `page_size` is honoured; `data` is {"items", "total", "page",
  "page_size"}, newest first; the self log's `id` is `id % 1024`, so it is not unique;
  `request_id` is in some versions only; `other` is a JSON string in old versions, an object in
  new ones (we do not need it). An access token needs `New-Api-User: <user id>` beside it.
- Both answer a refused access token with HTTP 200 and {"success": false, "message": ...}.
- Consumption is type 2. new-api also writes type-2 adjustments for async tasks whose quota
  may be negative, so a negative quota is accepted; negative tokens are not.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests

from .usage_log_items import (
    CONSUMPTION,
    UsageLogEntry,
    UsageLogError,
    consumption_entries,
    numbered,
)

__all__ = [
    "UsageLogEntry",
    "UsageLogError",
    "default_log_url",
    "fetch_usage_log",
    "parse_usage_log_file",
    "quota_to_yuan",
    "sniff_encoding",
]

logger = logging.getLogger(__name__)

YUAN_PLACES = Decimal("0.000001")
SHANGHAI = ZoneInfo("Asia/Shanghai")
CSV_REQUIRED = ("created_at", "model_name", "prompt_tokens", "completion_tokens")
# A header value requests would refuse; its exception text would quote the token.
_HEADER_VALUE = re.compile(r"^[\x21-\x7e]+$")


def default_log_url(base_url: str) -> str:
    """`GATEWAY_BASE_URL` without its trailing `/v1`, plus `/api/log/self`."""
    base = base_url.strip().rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return base + "/api/log/self"


def quota_to_yuan(quota: int, quota_per_yuan: Decimal) -> Decimal:
    if quota_per_yuan <= 0:
        raise ValueError("quota_per_yuan must be positive")
    return (Decimal(quota) / quota_per_yuan).quantize(YUAN_PLACES, rounding=ROUND_HALF_UP)


# Pulling the log over HTTP -------------------------------------------------------------


def fetch_usage_log(
    *,
    url: str,
    token: str,
    start: datetime,
    end: datetime,
    user_id: str = "",
    page_size: int = 100,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (10, 60),
    max_pages: int = 100_000,
    chunk: timedelta = timedelta(hours=1),
) -> Iterator[UsageLogEntry]:
    """Consumption entries with start <= created_at < end, oldest first.

    The log pages newest first, so the period is read one `chunk` at a time, oldest chunk
    first, and each chunk is sorted before it is yielded: memory holds one chunk, and the
    matcher gets the time order it needs. Read a period that has ended: entries written
    while we page would shift the pages under us. Bad arguments raise here, at the call;
    HTTP and content errors raise UsageLogError while iterating.
    """
    if start.tzinfo is None or end.tzinfo is None or not start < end:
        raise ValueError("start and end must be aware datetimes with start < end")
    reader = _PageReader(
        session=session or requests.Session(),
        url=url,
        headers=_headers(token, user_id),
        token=token,
        timeout=timeout,
        page_size=page_size,
        max_pages=max_pages,
    )
    return _fetch(reader, _chunks(start, end, chunk), close=session is None)


def _fetch(reader: _PageReader, chunks, *, close: bool) -> Iterator[UsageLogEntry]:
    try:
        for low, high in chunks:
            entries = [
                entry
                for entry in consumption_entries(numbered(reader.items(low, high), "item"), UTC)
                if low <= entry.created_at.timestamp() <= high
            ]
            entries.sort(key=attrgetter("created_at"))
            yield from entries
    finally:
        if close:
            reader.session.close()


def _headers(token: str, user_id: str) -> dict[str, str]:
    if not isinstance(token, str) or not _HEADER_VALUE.match(token):
        raise UsageLogError("the log token is empty or has characters not allowed in a header")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if user_id:
        if not str(user_id).isdigit():
            raise UsageLogError("the log user id must be a number")
        headers["New-Api-User"] = str(user_id)
    return headers


def _chunks(start: datetime, end: datetime, chunk: timedelta) -> Iterator[tuple[int, int]]:
    """Inclusive [low, high] unix-second ranges, as the log's start/end_timestamp read them."""
    step = max(1, int(chunk.total_seconds()))
    low, last = math.ceil(start.timestamp()), math.ceil(end.timestamp()) - 1
    while low <= last:
        yield low, min(low + step - 1, last)
        low += step


class _PageReader:
    """Pages through one time range; learns once whether `p` counts from 0 or 1."""

    def __init__(self, *, session, url, headers, token, timeout, page_size, max_pages):
        self.session, self.url, self.headers, self.token = session, url, headers, token
        self.timeout, self.page_size, self.pages_left = timeout, page_size, max_pages
        self.zero_based: bool | None = None  # unknown until the first answer

    def items(self, low: int, high: int) -> list[dict]:
        page = 0 if self.zero_based else 1
        collected: list[dict] = []
        previous = None
        while True:
            data = self._get(page, low, high)
            if self.zero_based is None:
                self.zero_based = isinstance(data, list)
                if self.zero_based:  # one-api: p=1 was its second page; start again at 0
                    return self.items(low, high)
            items, done = _page_items(data, page_size=self.page_size, seen=len(collected))
            if items and items == previous:
                raise UsageLogError("the log answered the same page twice: it ignores `p`")
            collected.extend(items)
            if done:
                return collected
            previous, page = items, page + 1

    def _get(self, page: int, low: int, high: int):
        if self.pages_left <= 0:
            raise UsageLogError("the log has more pages than allowed: read a shorter period")
        self.pages_left -= 1
        params = {
            "p": page,
            "page_size": self.page_size,
            "type": CONSUMPTION,
            "start_timestamp": low,
            "end_timestamp": high,
        }
        logger.debug("usage log page %s for %s..%s", page, low, high)
        response = _send(self.session, self.url, params, self.headers, self.timeout)
        return _body(response, self.token)


def _send(session, url, params, headers, timeout) -> requests.Response:
    host = urlsplit(url).netloc or url
    try:
        response = session.get(
            url, params=params, headers=headers, timeout=timeout, allow_redirects=False
        )
        response.content  # noqa: B018 -- read the whole body here: a cut-off answer raises now
    except requests.Timeout:
        raise UsageLogError(f"the log at {host} did not answer in time") from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
        raise UsageLogError("the log's answer was cut off before its end") from None
    except requests.ConnectionError:
        raise UsageLogError(f"could not connect to the log at {host}") from None
    except requests.RequestException as exc:
        raise UsageLogError(f"the log request failed ({type(exc).__name__})") from None
    if response.status_code in (401, 403):
        raise UsageLogError(f"the log refused the token (HTTP {response.status_code})")
    if 300 <= response.status_code < 400:
        raise UsageLogError(
            f"the log answered a redirect (HTTP {response.status_code}): check the URL"
        )
    if response.status_code != 200:
        raise UsageLogError(f"the log answered HTTP {response.status_code}")
    return response


def _body(response: requests.Response, token: str):
    try:
        body = json.loads(response.content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        if "html" in response.headers.get("Content-Type", ""):
            raise UsageLogError("the log answered an HTML page, not JSON: check the URL") from None
        raise UsageLogError("the log answered a truncated or non-JSON body") from None
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        raise UsageLogError(
            "the log's answer has no `success` field: is this a one-api/new-api log?"
        )
    if not body["success"]:
        message = str(body.get("message") or "no message").replace(token, "[redacted]")
        raise UsageLogError(f"the log answered success=false: {message}")
    return body.get("data")


def _page_items(data, *, page_size: int, seen: int) -> tuple[list[dict], bool]:
    """(items, last page?) from one answer's `data`, in either server's shape."""
    if data is None:
        return [], True
    if isinstance(data, list):  # one-api: no total and its own page size, so read to an empty page
        return data, not data
    if isinstance(data, dict) and "items" in data and isinstance(data["items"] or [], list):
        items = data["items"] or []
        size = data.get("page_size") if isinstance(data.get("page_size"), int) else page_size
        total = data.get("total")
        reached = isinstance(total, int) and seen + len(items) >= total
        return items, not items or len(items) < size or reached
    raise UsageLogError("the log's `data` is neither a list nor a page of items")


# Reading an exported file --------------------------------------------------------------


def parse_usage_log_file(
    data: bytes, *, filename: str = "", default_tz: tzinfo = SHANGHAI
) -> list[UsageLogEntry]:
    """Every consumption entry of a JSON or CSV export, sorted oldest first.

    All of it is validated before anything is returned, so a bad file stores nothing.
    JSON: the log's answer, its `data`, or a bare list of items. CSV: a header with
    created_at, model_name, prompt_tokens, completion_tokens and optionally quota, cost,
    request_id, id, token_name, type. Times are unix seconds or ISO 8601; a time without an
    offset is read in `default_tz`.
    """
    name = filename.lower()
    if name.endswith(".json") or (not name.endswith(".csv") and _looks_like_json(data)):
        entries = list(consumption_entries(numbered(_json_items(data), "item"), default_tz))
    else:
        entries = list(consumption_entries(_csv_items(data), default_tz))
    entries.sort(key=attrgetter("created_at"))
    return entries


def sniff_encoding(data: bytes) -> str:
    """The encoding of `data`: "utf-8", or "gbk" (what Excel in China saves as CSV)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UsageLogError("the file is UTF-16-encoded: save it as CSV UTF-8 or plain CSV")
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        data.decode("gbk")
    except UnicodeDecodeError:
        raise UsageLogError(
            f"the file is neither UTF-8 nor GBK text (byte {utf8_error.start + 1} is not valid)"
        ) from None
    return "gbk"


def _looks_like_json(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def _json_items(data: bytes) -> list:
    if sniff_encoding(data) != "utf-8":
        raise UsageLogError("the JSON file is not UTF-8 (it looks GBK-encoded)")
    text = data.decode("utf-8-sig")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg.startswith("Unterminated string") or exc.pos >= len(text.rstrip()):
            raise UsageLogError(
                "the JSON file ends before it is complete: it is truncated"
            ) from None
        raise UsageLogError(f"the JSON file is malformed at line {exc.lineno}: {exc.msg}") from None
    if isinstance(body, dict) and body.get("success") is False:
        raise UsageLogError(
            f"the log answered success=false: {body.get('message') or 'no message'}"
        )
    if isinstance(body, dict) and "data" in body:
        body = body["data"]
    if isinstance(body, dict):
        body = body.get("items")
    if not isinstance(body, list):
        raise UsageLogError("the JSON file holds no list of log items")
    return body


def _csv_items(data: bytes) -> Iterator[tuple[str, dict]]:
    encoding = sniff_encoding(data)
    if encoding == "gbk":
        logger.info("usage log CSV read as GBK: it is not UTF-8")
    text = data.decode("utf-8-sig" if encoding == "utf-8" else "gbk")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in CSV_REQUIRED if name not in header]
        if missing:
            raise UsageLogError(f"line 1: the CSV has no column {', '.join(missing)}")
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if len(values) > len(header):
                raise UsageLogError(f"line {reader.line_num}: more values than columns")
            yield f"line {reader.line_num}", dict(zip(header, values, strict=False))
    except csv.Error as exc:
        raise UsageLogError(f"line {reader.line_num}: the CSV is malformed ({exc})") from None


# One item, from any source ---------------------------------------------------------------
