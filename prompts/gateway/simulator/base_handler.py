"""HTTP plumbing under the simulator's routes: ids, bodies, answers, billing and logging."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from .config import key_fingerprint
from .usage_log import Charge

logger = logging.getLogger("prompts.gateway.simulator")

CHAT_PATH = "/v1/chat/completions"
HANDLED = "handled"  # what a chat step returns once it has answered
GATEWAY_ID_HEADER = "X-Oneapi-Request-Id"  # one-api/new-api's own id for a request
CLIENT_ID_HEADERS = ("X-Request-Id", "Idempotency-Key")
_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,128}")  # printable, no spaces: safe to echo


class GatewayRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can pool connections
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK and every answer took 40 ms more than --latency-ms says.
    disable_nagle_algorithm = True
    server_version = "GrokWebGatewaySimulator/1"

    @property
    def state(self):
        return self.server.state

    def _begin(self) -> None:
        self.started = time.monotonic()
        self.route = urlsplit(self.path).path
        self.key = ""
        self.charge_tokens: dict | None = None
        self.charge_model = ""
        self.client_gone = False
        hex_id = uuid.uuid4().hex[:24]
        self.gateway_id = f"sim-{hex_id}"
        self.completion_id = f"chatcmpl-{hex_id}"
        self.client_request_id = _client_request_id(self.headers)
        # x-request-id carries the client's own id back when it sent one, else the gateway's.
        self.request_id = self.client_request_id or self.gateway_id

    # --- reading -----------------------------------------------------------------------

    def _bearer(self) -> str:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def _read_body(self, limit: int) -> bytes | None:
        """The body, or None when over ``limit`` (drained so the client still reads the answer)."""
        length = int(self.headers.get("Content-Length") or 0)
        if length <= limit:
            return self.rfile.read(length)
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        return None

    # --- billing -----------------------------------------------------------------------

    def _charge(self, usage: dict | None, model: str) -> None:
        """Bill this call for ``usage`` when its answer is written (None: not billed)."""
        self.charge_tokens = usage
        self.charge_model = model

    def _take_charge(self) -> Charge | None:
        tokens, self.charge_tokens = self.charge_tokens, None
        if tokens is None:
            return None
        return Charge(
            model_name=self.charge_model,
            token_name=f"key-{key_fingerprint(self.key)}",
            prompt_tokens=tokens["prompt_tokens"],
            completion_tokens=tokens["completion_tokens"],
            request_id=self.request_id,
            use_time=int(time.monotonic() - self.started),
        )

    # --- writing -----------------------------------------------------------------------

    def _error(self, status: int, code: str, message: str, headers: dict | None = None) -> str:
        error_type = "invalid_request_error" if status < 500 else "server_error"
        body = {"error": {"message": message, "type": error_type, "code": code}}
        return self._send_json(status, body, headers or {})

    def _send_json(self, status: int, body, headers: dict | None = None) -> str:
        data = json.dumps(body, ensure_ascii=False).encode()
        self._send(status, data, "application/json", headers or {})
        return HANDLED

    def _send(self, status: int, data: bytes, content_type: str, headers: dict) -> None:
        if self.route == CHAT_PATH:
            # Counted and billed before writing: a client may read the reply and ask for stats
            # at once, and one that has gone away meanwhile was still served, so still billed.
            self.state.answered_with(status, self._take_charge())
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self._send_id_headers()
        for name, value in headers.items():
            self.send_header(name, value)
        self._write(data)
        self._log_line(status, "")

    def _send_id_headers(self) -> None:
        self.send_header(GATEWAY_ID_HEADER, self.gateway_id)
        self.send_header("x-request-id", self.request_id)

    def _write(self, data: bytes) -> None:
        """Finish the headers and write ``data``; a client that hung up is noted, not raised."""
        try:
            self.end_headers()
            self.wfile.write(data)
        except ConnectionError:
            self.client_gone = True
            self.close_connection = True

    def _log_line(self, status: int, note: str) -> None:
        latency_ms = int((time.monotonic() - self.started) * 1000)
        notes = [f"fault={note}"] if note else []
        if self.client_request_id:
            notes.append(f"client_request_id={self.client_request_id}")
        if self.client_gone:
            notes.append("client_gone")
        logger.info(
            "simulator %s %s %s key=%s latency_ms=%d request_id=%s%s",
            self.command,
            self.path,
            status or "-",
            key_fingerprint(self.key),
            latency_ms,
            self.gateway_id,
            "".join(f" {item}" for item in notes),
        )

    def log_request(self, code="-", size="-") -> None:
        """Each response is logged once by _log_line, with its key fingerprint."""

    def log_message(self, format, *args) -> None:
        logger.warning("simulator %s", format % args)


def _client_request_id(headers) -> str:
    """The client's id for this call: X-Request-Id, else Idempotency-Key, if echo-safe."""
    for name in CLIENT_ID_HEADERS:
        value = (headers.get(name) or "").strip()
        if _CLIENT_ID.fullmatch(value):
            return value
    return ""
