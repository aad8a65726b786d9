"""The simulator's routes: chat completions as a sequence of named checks, models, the usage
log, and the loopback-only control endpoints."""

from __future__ import annotations

import json
import math
import time
from urllib.parse import parse_qs, urlsplit

from .answers import completion, content_filtered
from .base_handler import CHAT_PATH, HANDLED, GatewayRequestHandler
from .chat_request import is_flagged, largest_image_bytes, loads_json, user_text
from .script import DEFAULT_ERROR_CODES, scripted_bill
from .usage_log import log_access_refusal

LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")
MODELS_CREATED = 1751155200  # 2025-06-29, fixed so responses are reproducible
OWNER = "grokweb-simulator"
BAD_GATEWAY_HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


class SimulatorHandler(GatewayRequestHandler):
    # --- routing -----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._begin()
        if self.route == "/v1/models":
            self._models()
        elif self.route == "/api/log/self":
            self._usage_log()
        elif self.route == "/_sim/stats":
            self._control(lambda body: self.state.stats())
        elif self.route == "/_sim/config":
            self._control(lambda body: self.state.public_config())
        elif self.route == "/_sim/log":
            self._control(lambda body: self.state.log_entries())
        else:
            self._not_found()

    def do_POST(self) -> None:
        self._begin()
        if self.route == CHAT_PATH:
            self._chat()
        elif self.route == "/_sim/reset":
            self._control(lambda body: self.state.reset() or {"ok": True})
        elif self.route == "/_sim/script":
            self._control(lambda body: self.state.add_script(body) or {"ok": True})
        elif self.route == "/_sim/config":
            self._control(self._configure)
        else:
            self._read_body(self.state.config.max_body_bytes)
            self._not_found()

    # --- chat completions --------------------------------------------------------------

    def _chat(self) -> None:
        self.config = self.state.config
        raw = self._read_body(self.config.max_body_bytes)
        self.body_too_large = raw is None
        self.chat_request = loads_json(raw) if raw is not None else None
        self.key = self._bearer()
        scripted = self.state.receive(self.key)
        if scripted is not None:
            self._scripted(scripted)
            return
        for step in self.CHAT_STEPS:
            if step(self) == HANDLED:
                return

    def _check_auth(self) -> str | None:
        self.key = self._bearer()
        keys = self.state.config.keys
        if self.key and (not keys or self.key in keys):
            return None
        return self._error(401, "invalid_api_key", "Incorrect API key provided.")

    def _check_body_size(self) -> str | None:
        if not self.body_too_large:
            return None
        limit = self.config.max_body_bytes
        return self._error(413, "request_too_large", f"Request body exceeds {limit} bytes.")

    def _check_shape(self) -> str | None:
        request = self.chat_request
        if isinstance(request, dict) and isinstance(request.get("messages"), list):
            return None
        message = "Request body must be JSON with a messages list."
        return self._error(400, "invalid_request_error", message)

    def _check_model(self) -> str | None:
        model = self.chat_request.get("model")
        if model in self.config.models:
            return None
        return self._error(400, "model_not_found", f"The model `{model}` does not exist.")

    def _check_quota(self) -> str | None:
        if not self.config.insufficient_quota:
            return None
        message = "Insufficient balance: please top up your account."
        return self._error(402, "insufficient_quota", message)

    def _check_rate(self) -> str | None:
        wait_s = self.state.take_rate_slot()
        if wait_s is None:
            return None
        message = f"Rate limit of {self.config.rpm} requests per minute reached."
        retry_after = {"Retry-After": str(max(1, math.ceil(wait_s)))}
        return self._error(429, "rate_limit_exceeded", message, headers=retry_after)

    def _check_image_size(self) -> str | None:
        limit = self.config.max_image_bytes
        if largest_image_bytes(self.chat_request) <= limit:
            return None
        return self._error(413, "image_too_large", f"An image exceeds {limit} bytes.")

    def _wait_latency(self) -> None:
        if self.config.latency_ms:
            time.sleep(self.config.latency_ms / 1000)

    def _inject_fault(self) -> str | None:
        kind = self.state.pick_fault()
        if kind is None:
            return None
        body = self._completion(self.chat_request)
        if kind == "truncated":  # the gateway did the work; only the answer was cut
            self._charge(body["usage"], body["model"])
        return self._fault(kind, body)

    def _moderate(self) -> str | None:
        if not is_flagged(user_text(self.chat_request), self.config.flagged_words):
            return None
        style = self.config.moderation_style
        if style == "finish_reason":  # real gateways bill the prompt of a filtered answer
            body = content_filtered(self._completion(self.chat_request))
            self._charge(body["usage"], body["model"])
            return self._send_json(200, body)
        if style == "sensitive_words":
            return self._error(
                400, "sensitive_words_detected", "输入内容包含敏感词，请修改后重试。"
            )
        message = "Your request was rejected by the safety moderation system."
        return self._error(400, "content_policy_violation", message)

    def _answer(self) -> str:
        body = self._completion(self.chat_request)
        self._charge(body["usage"], body["model"])
        return self._send_json(200, body)

    CHAT_STEPS = (
        _check_auth,
        _check_body_size,
        _check_shape,
        _check_model,
        _check_quota,
        _check_rate,
        _check_image_size,
        _wait_latency,
        _inject_fault,
        _moderate,
        _answer,
    )

    def _completion(self, request: dict, usage: dict | None = None) -> dict:
        return completion(request, self.config.seed, self.completion_id, usage)

    # --- scripted answers and faults ---------------------------------------------------

    def _scripted(self, entry: dict) -> None:
        if entry.get("delay_ms"):
            time.sleep(entry["delay_ms"] / 1000)
        request = self.chat_request if isinstance(self.chat_request, dict) else {"messages": []}
        body = self._completion(request, entry.get("usage"))
        self._charge(scripted_bill(entry, body["usage"]), body["model"])
        if entry.get("fault"):
            self._fault(entry["fault"], body)
            return
        status = entry.get("status", 200)
        headers = {str(k): str(v) for k, v in (entry.get("headers") or {}).items()}
        if "body" in entry:
            self._send_scripted_body(status, entry["body"], headers)
        elif status != 200:
            code = DEFAULT_ERROR_CODES.get(status, "error")
            self._error(status, code, f"Scripted HTTP {status}.", headers=headers)
        else:
            choice = body["choices"][0]
            if "finish_reason" in entry:
                choice["finish_reason"] = entry["finish_reason"]
            if "content" in entry:
                choice["message"] = {"role": "assistant", "content": entry["content"]}
            self._send_json(200, body, headers)

    def _send_scripted_body(self, status: int, body, headers: dict) -> None:
        if isinstance(body, str):
            self._send(status, body.encode(), "text/plain; charset=utf-8", headers)
        else:
            self._send_json(status, body, headers)

    def _fault(self, kind: str, body: dict) -> str:
        self.state.faulted(kind)
        if kind == "overload":
            message = "The model cluster is temporarily overloaded."
            return self._error(503, "model_overloaded", message)
        if kind == "html":
            self._send(502, BAD_GATEWAY_HTML, "text/html", {})
        elif kind == "truncated":
            self._send_truncated(json.dumps(body).encode())
        else:  # disconnect: nothing is written; billed only when a script says so
            self._bill_unanswered()
            self.close_connection = True
            self._log_line(0, "disconnect")
        return HANDLED

    def _send_truncated(self, data: bytes) -> None:
        """Half the body under a Content-Length that promises more; billed, not "answered"."""
        self._bill_unanswered()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data) + 512))
        self._send_id_headers()
        self._write(data[: len(data) // 2])
        self.close_connection = True
        self._log_line(200, "truncated")

    def _bill_unanswered(self) -> None:
        charge = self._take_charge()
        if charge is not None:
            self.state.bill(charge)

    # --- other routes ------------------------------------------------------------------

    def _models(self) -> None:
        if self._check_auth() == HANDLED:
            return
        data = [
            {"id": model, "object": "model", "created": MODELS_CREATED, "owned_by": OWNER}
            for model in self.state.config.models
        ]
        self._send_json(200, {"object": "list", "data": data})

    def _usage_log(self) -> None:
        authorization = self.headers.get("Authorization", "")
        refusal = log_access_refusal(authorization, self.state.config.log_token)
        if refusal is not None:
            self._send_json(*refusal)
            return
        page = self.state.log_page(parse_qs(urlsplit(self.path).query))
        self._send_json(200, {"success": True, "message": "", "data": page})

    def _configure(self, body) -> dict:
        if not isinstance(body, dict):
            raise ValueError("config must be a JSON object")
        self.state.configure(**body)
        return self.state.public_config()

    def _control(self, action) -> None:
        raw = self._read_body(1024 * 1024)
        if self.client_address[0] not in LOOPBACK:
            self._error(403, "forbidden", "Control endpoints answer loopback clients only.")
            return
        try:
            result = action(loads_json(raw) if raw else None)
        except (ValueError, TypeError) as exc:
            self._error(400, "invalid_request_error", str(exc))
            return
        self._send_json(200, result)

    def _not_found(self) -> None:
        self._error(404, "not_found", f"No route for {self.command} {self.path}.")
