"""The gateway's usage log: pulled page by page from a one-api/new-api server, or read from a file.

The servers are small stdlib HTTP servers on loopback that answer the way the real ones do
(new-api: 1-based `p`, a page object; one-api: 0-based `p`, a bare list of 10).
"""

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from prompts.gateway.usage_log import (
    UsageLogError,
    default_log_url,
    fetch_usage_log,
    parse_usage_log_file,
    quota_to_yuan,
    sniff_encoding,
)

TOKEN = "log-access-token-7f3a9c"
START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


@dataclass
class Reply:
    body: object = None  # dict/list → JSON; bytes as they are
    status: int = 200
    delay_s: float = 0.0
    cut_after: int | None = None  # announce the whole body, send this many bytes, hang up
    content_type: str = "application/json"


@dataclass
class LogServer:
    url: str
    requests: list = field(default_factory=list)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up is what some tests do on purpose


@pytest.fixture
def serve():
    servers = []

    def start(respond) -> LogServer:
        log = LogServer(url="")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = dict(parse_qsl(urlsplit(self.path).query))
                log.requests.append(
                    {
                        "path": urlsplit(self.path).path,
                        "query": query,
                        "headers": dict(self.headers),
                    }
                )
                reply = respond(query)
                body = (
                    reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                )
                time.sleep(reply.delay_s)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if reply.cut_after is None else body[: reply.cut_after])
                self.close_connection = reply.cut_after is not None

            def log_message(self, *args):
                pass

        server = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        log.url = f"http://127.0.0.1:{server.server_address[1]}/api/log/self"
        return log

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def item(n: int, at: datetime, **overrides) -> dict:
    return {
        "id": n % 1024,
        "created_at": int(at.timestamp()),
        "type": 2,
        "model_name": "grok-build-0.1",
        "token_name": "grokweb",
        "prompt_tokens": 1000 + n,
        "completion_tokens": 200,
        "quota": 700 + n,
        "use_time": 3,
        "request_id": f"req-{n}",
        "other": "{}",
        **overrides,
    }


def in_range(items: list[dict], query: dict) -> list[dict]:
    """What both servers select: type and timestamps filtered, newest first."""
    low, high = int(query["start_timestamp"]), int(query["end_timestamp"])
    chosen = [
        i for i in items if low <= i["created_at"] <= high and i["type"] == int(query["type"])
    ]
    return sorted(chosen, key=lambda i: i["created_at"], reverse=True)


def new_api(items: list[dict]):
    def respond(query):
        page, size = max(1, int(query["p"])), int(query["page_size"])
        chosen = in_range(items, query)
        return Reply(
            {
                "success": True,
                "message": "",
                "data": {
                    "page": page,
                    "page_size": size,
                    "total": len(chosen),
                    "items": chosen[(page - 1) * size : page * size],
                },
            }
        )

    return respond


def one_api(items: list[dict]):
    def respond(query):
        page = max(0, int(query["p"]))
        chosen = in_range(items, query)
        return Reply({"success": True, "message": "", "data": chosen[page * 10 : page * 10 + 10]})

    return respond


def fetch(server: LogServer, **kwargs) -> list:
    return list(
        fetch_usage_log(**{"url": server.url, "token": TOKEN, "start": START, "end": END, **kwargs})
    )


# Pulling ------------------------------------------------------------------------------


def test_it_pages_a_new_api_log_until_its_total_and_yields_oldest_first(serve):
    items = [item(n, START + timedelta(seconds=10 * n)) for n in range(250)]
    server = serve(new_api(items))

    entries = fetch(server)

    assert [e.prompt_tokens for e in entries] == [1000 + n for n in range(250)]
    assert [r["query"]["p"] for r in server.requests] == ["1", "2", "3"]
    first = entries[0]
    assert first.created_at == START and first.created_at.tzinfo is UTC
    assert (first.model, first.quota, first.request_id, first.gateway_id) == (
        "grok-build-0.1",
        700,
        "req-0",
        "0",
    )
    assert first.cost is None


def test_it_reads_one_api_pages_which_count_from_zero(serve):
    items = [item(n, START + timedelta(seconds=n)) for n in range(25)]
    server = serve(one_api(items))

    entries = fetch(server)

    assert sorted(e.prompt_tokens for e in entries) == [1000 + n for n in range(25)]
    # p=1 showed a bare list (one-api): read again from p=0 to an empty page.
    assert [r["query"]["p"] for r in server.requests] == ["1", "0", "1", "2", "3"]


def test_it_reads_a_long_period_one_chunk_at_a_time_in_time_order(serve):
    items = [item(n, START + timedelta(minutes=20 * n)) for n in range(9)]
    server = serve(new_api(items))

    entries = fetch(server, end=START + timedelta(hours=3), chunk=timedelta(hours=1))

    assert [e.created_at for e in entries] == [START + timedelta(minutes=20 * n) for n in range(9)]
    ranges = [
        (int(r["query"]["start_timestamp"]), int(r["query"]["end_timestamp"]))
        for r in server.requests
    ]
    hour, start = 3600, int(START.timestamp())
    assert ranges == [(start + k * hour, start + (k + 1) * hour - 1) for k in range(3)]


def test_it_keeps_consumption_entries_only(serve):
    items = [item(1, START), item(2, START + timedelta(seconds=5), type=5)]
    server = serve(lambda query: Reply({"success": True, "data": {"items": items, "total": 2}}))

    assert [e.prompt_tokens for e in fetch(server)] == [1001]
    assert server.requests[0]["query"]["type"] == "2"


def test_it_sends_the_access_token_and_the_new_api_user(serve):
    server = serve(new_api([]))

    fetch(server, user_id="42")

    headers = server.requests[0]["headers"]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["New-Api-User"] == "42"


def test_it_reports_success_false_with_the_servers_message_but_never_the_token(serve):
    server = serve(
        lambda query: Reply(
            {"success": False, "message": f"无权进行此操作，access token {TOKEN} 无效"}
        )
    )

    with pytest.raises(UsageLogError) as caught:
        fetch(server)

    assert str(caught.value).startswith("the log answered success=false: 无权进行此操作")
    assert TOKEN not in str(caught.value)


def test_it_reports_an_answer_cut_off_before_its_end(serve):
    body = {"success": True, "data": {"items": [item(1, START)], "total": 1}}
    server = serve(lambda query: Reply(body, cut_after=40))

    with pytest.raises(UsageLogError, match="cut off"):
        fetch(server)


def test_it_reports_a_body_that_is_not_json(serve):
    server = serve(
        lambda query: Reply(
            b'{"success": true, "data": {"items": [',
        )
    )

    with pytest.raises(UsageLogError, match="truncated or non-JSON"):
        fetch(server)


def test_it_reports_a_login_page_instead_of_the_log(serve):
    server = serve(lambda query: Reply(b"<html>login</html>", content_type="text/html"))

    with pytest.raises(UsageLogError, match="HTML page"):
        fetch(server)


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, "refused the token (HTTP 401)"), (502, "answered HTTP 502"), (302, "redirect")],
)
def test_it_reports_http_errors(serve, status, message):
    server = serve(lambda query: Reply({"success": False}, status=status))

    with pytest.raises(UsageLogError, match=re.escape(message)):
        fetch(server)


def test_it_gives_up_on_a_slow_log_after_the_read_timeout(serve):
    server = serve(lambda query: Reply(new_api([])(query).body, delay_s=2))

    began = time.monotonic()
    with pytest.raises(UsageLogError, match="did not answer in time"):
        fetch(server, timeout=(1, 0.3))
    assert time.monotonic() - began < 1.5


def test_it_stops_at_max_pages(serve):
    items = [item(n, START + timedelta(seconds=n)) for n in range(50)]
    server = serve(new_api(items))

    with pytest.raises(UsageLogError, match="more pages than allowed"):
        fetch(server, page_size=10, max_pages=3)
    assert len(server.requests) == 3


def test_it_refuses_a_token_that_cannot_be_a_header_without_quoting_it():
    with pytest.raises(UsageLogError) as caught:
        fetch_usage_log(
            url="http://127.0.0.1:9/api/log/self", token="abc\nsecret-part", start=START, end=END
        )
    assert "secret-part" not in str(caught.value)


def test_it_derives_the_log_url_from_the_gateway_base_url():
    assert default_log_url("https://gw.example.com/v1") == "https://gw.example.com/api/log/self"
    assert default_log_url("https://gw.example.com/v1/") == "https://gw.example.com/api/log/self"
    assert default_log_url("http://127.0.0.1:8900") == "http://127.0.0.1:8900/api/log/self"


def test_it_converts_quota_to_yuan_rounding_half_up():
    assert quota_to_yuan(500_000, Decimal(500_000)) == Decimal("1.000000")
    # 0.0000005 rounds up (banker's rounding would give 0.000000).
    assert quota_to_yuan(1, Decimal(2_000_000)) == Decimal("0.000001")
    assert quota_to_yuan(-250, Decimal(100_000)) == Decimal("-0.002500")


# Files --------------------------------------------------------------------------------


def test_it_reads_a_saved_new_api_page_sorted_oldest_first():
    page = {
        "success": True,
        "data": {
            "items": [
                item(2, START + timedelta(seconds=60)),
                item(1, START),
                item(3, START, type=1),
            ],
            "total": 3,
            "page": 1,
            "page_size": 100,
        },
    }

    entries = parse_usage_log_file(json.dumps(page).encode(), filename="log.json")

    assert [(e.prompt_tokens, e.created_at) for e in entries] == [
        (1001, START),
        (1002, START + timedelta(seconds=60)),
    ]


def test_it_reads_a_bare_list_and_a_data_list():
    items = [item(1, START)]
    assert len(parse_usage_log_file(json.dumps(items).encode())) == 1
    assert len(parse_usage_log_file(json.dumps({"data": items}).encode())) == 1


def test_it_refuses_truncated_json():
    data = json.dumps([item(1, START), item(2, START)]).encode()[:-30]

    with pytest.raises(UsageLogError, match="truncated"):
        parse_usage_log_file(data, filename="log.json")


def test_it_reads_csv_with_a_bom_and_times_as_unix_seconds_or_iso():
    text = (
        "created_at,model_name,prompt_tokens,completion_tokens,cost,request_id\n"
        f"{int(START.timestamp())},grok-build-0.1,10,5,0.000060,r1\n"
        "2026-03-01 12:00:00,grok-build-0.1,11,5,,r2\n"
        "2026-03-01T09:00:00+09:00,grok-build-0.1,12,5,0.1,r3\n"
    )

    entries = parse_usage_log_file(b"\xef\xbb\xbf" + text.encode(), filename="log.csv")

    by_id = {e.request_id: e for e in entries}
    assert by_id["r1"].created_at == START
    assert by_id["r1"].cost == Decimal("0.000060")
    # No offset: read in Asia/Shanghai, UTC+8.
    assert by_id["r2"].created_at == datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    assert by_id["r2"].cost is None
    assert by_id["r3"].created_at == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    assert [e.request_id for e in entries] == ["r1", "r3", "r2"]


def test_it_decodes_a_gbk_csv_as_excel_saves_it():
    text = (
        "created_at,model_name,prompt_tokens,completion_tokens,token_name\n"
        "2026-03-01 08:00:00,grok-build-0.1,10,5,设计组令牌\n"
    )
    data = text.encode("gbk")

    assert sniff_encoding(data) == "gbk"
    [entry] = parse_usage_log_file(data, filename="导出.csv")
    assert entry.token_name == "设计组令牌"
    assert entry.created_at == START


def test_it_refuses_text_that_is_neither_utf8_nor_gbk():
    with pytest.raises(UsageLogError, match="neither UTF-8 nor GBK"):
        parse_usage_log_file(b"created_at,model_name\n\xff\xfe\xff,x\n", filename="log.csv")
    with pytest.raises(UsageLogError, match="UTF-16"):
        parse_usage_log_file("created_at".encode("utf-16"), filename="log.csv")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1772323200,m,12.5,5", "line 3: prompt_tokens is not a whole number"),
        ("1772323200,m,12,-5", "line 3: completion_tokens is negative"),
        ("1772323200,m,12", "line 3: completion_tokens is missing"),
        ("yesterday,m,12,5", "line 3: created_at is neither unix seconds nor ISO 8601"),
        ("1772323200,m,12,5,NaN", "line 3: cost is not a finite number"),
        ("1772323200,m,12,5,¥3", "line 3: cost is not a number"),
    ],
)
def test_it_names_the_line_of_a_bad_value(row, message):
    text = f"created_at,model_name,prompt_tokens,completion_tokens,cost\n1772323200,m,1,1,\n{row}\n"

    with pytest.raises(UsageLogError) as caught:
        parse_usage_log_file(text.encode(), filename="log.csv")
    assert str(caught.value) == message


def test_it_names_the_item_of_a_bad_json_value():
    items = [item(1, START), item(2, START, prompt_tokens="many")]

    with pytest.raises(UsageLogError, match="^item 2: prompt_tokens is not a whole number$"):
        parse_usage_log_file(json.dumps(items).encode())


def test_it_refuses_a_csv_without_the_required_columns():
    with pytest.raises(UsageLogError, match="no column model_name, completion_tokens"):
        parse_usage_log_file(b"created_at,prompt_tokens\n1772323200,5\n", filename="log.csv")
