"""A local OpenAI-compatible gateway for `make run`, demos, drills and tests.

It speaks the same HTTP as the real gateway (chat/completions and models) and can
misbehave on purpose: rate limits, injected faults, moderation in the three styles
gateways use, an exhausted balance, oversized payloads, and scripted responses.
Standard library only, so it runs wherever the app runs.

Control endpoints (loopback clients only, no auth):
  GET  /_sim/stats   {"received", "answered", "by_status", "by_key", "faults"}; "received"
                     counts chat requests, "answered" those that got a complete response
  POST /_sim/reset   restore the startup config; clear stats, script and rate window
  POST /_sim/script  a JSON list of forced responses for the next chat requests, in order:
                     {"status", "body"?, "headers"?, "finish_reason"?, "content"?, "delay_ms"?,
                      "fault"? ("overload" | "html" | "truncated" | "disconnect")}
  POST /_sim/config  change config fields at run time, e.g. {"keys": [...], "rpm": 5}
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)

DEFAULT_MODELS = ("grok-build-0.1",)
DEFAULT_FLAGGED_WORDS = ("nsfw", "nude", "explicit", "gore", "色情", "裸体", "血腥", "暴力")
MODERATION_STYLES = ("http400", "finish_reason", "sensitive_words")
FAULT_KINDS = ("overload", "html", "truncated", "disconnect")
# Random faults: mostly the overload a busy gateway gives; "disconnect" is script-only.
RANDOM_FAULT_WEIGHTS = {"overload": 6, "html": 2, "truncated": 2}
TOKENS_PER_IMAGE = 765  # a 1024x1024 image under the 512-px tile formula
RATE_WINDOW_S = 60.0


@dataclass
class SimulatorConfig:
    keys: list[str] = field(default_factory=list)  # empty: any non-empty Bearer is accepted
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    rpm: int = 0  # 0: unlimited
    latency_ms: int = 0
    fault_rate: float = 0.0
    moderation_style: str = "http400"
    flagged_words: list[str] = field(default_factory=lambda: list(DEFAULT_FLAGGED_WORDS))
    insufficient_quota: bool = False
    max_body_bytes: int = 20 * 1024 * 1024
    max_image_bytes: int = 5 * 1024 * 1024
    seed: int = 0

    def __post_init__(self) -> None:
        _validate(self)


def _validate(config: SimulatorConfig) -> None:
    if not all(isinstance(key, str) and key for key in config.keys):
        raise ValueError("keys must be non-empty strings")
    if not config.models or not all(isinstance(model, str) for model in config.models):
        raise ValueError("models must be a non-empty list of strings")
    for name in ("rpm", "latency_ms", "max_body_bytes", "max_image_bytes", "seed"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer")
    if isinstance(config.fault_rate, bool) or not 0 <= config.fault_rate <= 1:
        raise ValueError("fault_rate must be between 0 and 1")
    if config.moderation_style not in MODERATION_STYLES:
        raise ValueError(f"moderation_style must be one of {', '.join(MODERATION_STYLES)}")
    if not isinstance(config.insufficient_quota, bool):
        raise ValueError("insufficient_quota must be a boolean")
    if not all(isinstance(word, str) and word for word in config.flagged_words):
        raise ValueError("flagged_words must be non-empty strings")


def key_fingerprint(key: str) -> str:
    return f"…{key[-4:]}" if key else "(none)"


class SimulatorState:
    """Config, counters, script and rate window shared by the handler threads."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.initial = replace(config)
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.config = replace(
                self.initial,
                keys=list(self.initial.keys),
                models=list(self.initial.models),
                flagged_words=list(self.initial.flagged_words),
            )
            self.random = random.Random(self.config.seed)
            self.script: deque[dict] = deque()
            self.window: deque[float] = deque()
            self.received = 0
            self.answered = 0
            self.by_status: Counter[str] = Counter()
            self.by_key: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()

    def configure(self, **changes) -> SimulatorConfig:
        names = {f.name for f in fields(SimulatorConfig)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown config fields: {', '.join(sorted(unknown))}")
        with self.lock:
            self.config = replace(self.config, **changes)  # __post_init__ validates
            if "seed" in changes:
                self.random = random.Random(self.config.seed)
            if "rpm" in changes:
                self.window.clear()
            return self.config

    def add_script(self, entries: list[dict]) -> None:
        if not isinstance(entries, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("status", 200), int)
            for entry in entries
        ):
            raise ValueError("script must be a list of objects with an integer status")
        for entry in entries:
            if entry.get("fault") not in (None, *FAULT_KINDS):
                raise ValueError(f"fault must be one of {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.script.extend(entries)

    def stats(self) -> dict:
        with self.lock:
            return {
                "received": self.received,
                "answered": self.answered,
                "by_status": dict(self.by_status),
                "by_key": dict(self.by_key),
                "faults": dict(self.faults),
            }

    def public_config(self) -> dict:
        with self.lock:
            config = asdict(self.config)
        config["keys"] = [key_fingerprint(key) for key in config["keys"]]
        return config

    def receive(self, key: str) -> dict | None:
        """Count an arriving chat request; return the scripted response for it, if any."""
        with self.lock:
            self.received += 1
            self.by_key[key_fingerprint(key)] += 1
            return self.script.popleft() if self.script else None

    def answered_with(self, status: int) -> None:
        with self.lock:
            self.answered += 1
            self.by_status[str(status)] += 1

    def faulted(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1

    def take_rate_slot(self) -> float | None:
        """None when under the rpm limit (the request is counted), else seconds to wait."""
        with self.lock:
            if not self.config.rpm:
                return None
            now = time.monotonic()
            while self.window and now - self.window[0] >= RATE_WINDOW_S:
                self.window.popleft()
            if len(self.window) >= self.config.rpm:
                return RATE_WINDOW_S - (now - self.window[0])
            self.window.append(now)
            return None

    def pick_fault(self) -> str | None:
        with self.lock:
            if self.random.random() >= self.config.fault_rate:
                return None
            kinds = list(RANDOM_FAULT_WEIGHTS)
            return self.random.choices(kinds, weights=[RANDOM_FAULT_WEIGHTS[k] for k in kinds])[0]


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, state: SimulatorState) -> None:
        self.state = state
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, SimulatorHandler)


class SimulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can pool connections
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK and every answer took 40 ms more than --latency-ms says.
    disable_nagle_algorithm = True
    server_version = "GrokWebGatewaySimulator/1"
    server: SimulatorServer

    # --- routing -----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._begin()
        if self.path == "/v1/models":
            self._models()
        elif self.path == "/_sim/stats":
            self._control(lambda body: self.state.stats())
        elif self.path == "/_sim/config":
            self._control(lambda body: self.state.public_config())
        else:
            self._not_found()

    def do_POST(self) -> None:
        self._begin()
        if self.path == "/v1/chat/completions":
            self._chat()
        elif self.path == "/_sim/reset":
            self._control(lambda body: self.state.reset() or {"ok": True})
        elif self.path == "/_sim/script":
            self._control(lambda body: self.state.add_script(body) or {"ok": True})
        elif self.path == "/_sim/config":
            self._control(self._configure)
        else:
            self._read_body(self.state.config.max_body_bytes)
            self._not_found()

    @property
    def state(self) -> SimulatorState:
        return self.server.state

    def _begin(self) -> None:
        self.started = time.monotonic()
        self.key = ""
        self.request_id = f"sim-{uuid.uuid4().hex[:24]}"

    # --- endpoints ---------------------------------------------------------------------

    def _models(self) -> None:
        if not self._authorized():
            return
        created = 1751155200  # 2025-06-29, fixed so responses are reproducible
        data = [
            {"id": model, "object": "model", "created": created, "owned_by": "grokweb-simulator"}
            for model in self.state.config.models
        ]
        self._send_json(200, {"object": "list", "data": data})

    def _chat(self) -> None:
        config = self.state.config
        raw = self._read_body(config.max_body_bytes)
        self.key = self._bearer()
        scripted = self.state.receive(self.key)
        request = _loads(raw) if raw is not None else None
        if scripted is not None:
            self._scripted(scripted, request)
            return
        if not self._authorized():
            return
        if raw is None:
            self._error(
                413, "request_too_large", f"Request body exceeds {config.max_body_bytes} bytes."
            )
            return
        if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
            self._error(
                400, "invalid_request_error", "Request body must be JSON with a messages list."
            )
            return
        if request.get("model") not in config.models:
            self._error(
                400, "model_not_found", f"The model `{request.get('model')}` does not exist."
            )
            return
        if config.insufficient_quota:
            self._error(
                402, "insufficient_quota", "Insufficient balance: please top up your account."
            )
            return
        wait_s = self.state.take_rate_slot()
        if wait_s is not None:
            self._error(
                429,
                "rate_limit_exceeded",
                f"Rate limit of {config.rpm} requests per minute reached.",
                headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
            )
            return
        oversized = _largest_image_bytes(request) > config.max_image_bytes
        if oversized:
            self._error(413, "image_too_large", f"An image exceeds {config.max_image_bytes} bytes.")
            return
        if config.latency_ms:
            time.sleep(config.latency_ms / 1000)
        fault = self.state.pick_fault()
        if fault:
            self._fault(fault)
            return
        brief = _user_text(request)
        if _is_flagged(brief, config.flagged_words):
            self._moderate(request, config.moderation_style)
            return
        self._send_json(200, _completion(request, config.seed, self.request_id))

    def _scripted(self, entry: dict, request) -> None:
        if entry.get("delay_ms"):
            time.sleep(entry["delay_ms"] / 1000)
        if entry.get("fault"):
            self._fault(entry["fault"])
            return
        status = entry.get("status", 200)
        headers = {str(k): str(v) for k, v in (entry.get("headers") or {}).items()}
        if "body" in entry:
            body = entry["body"]
            if isinstance(body, str):
                self._send(status, body.encode(), "text/plain; charset=utf-8", headers)
            else:
                self._send_json(status, body, headers)
            return
        if status != 200:
            code = SCRIPT_DEFAULT_CODES.get(status, "error")
            self._error(status, code, f"Scripted HTTP {status}.", headers=headers)
            return
        request = request if isinstance(request, dict) else {"messages": []}
        body = _completion(request, self.state.config.seed, self.request_id)
        choice = body["choices"][0]
        if "finish_reason" in entry:
            choice["finish_reason"] = entry["finish_reason"]
        if "content" in entry:
            choice["message"] = {"role": "assistant", "content": entry["content"]}
        self._send_json(200, body, headers)

    def _moderate(self, request: dict, style: str) -> None:
        if style == "finish_reason":
            body = _completion(request, self.state.config.seed, self.request_id)
            body["choices"][0].update(
                finish_reason="content_filter", message={"role": "assistant", "content": ""}
            )
            body["usage"]["completion_tokens"] = 0
            body["usage"]["total_tokens"] = body["usage"]["prompt_tokens"]
            self._send_json(200, body)
        elif style == "sensitive_words":
            self._error(400, "sensitive_words_detected", "输入内容包含敏感词，请修改后重试。")
        else:
            self._error(
                400,
                "content_policy_violation",
                "Your request was rejected by the safety moderation system.",
            )

    def _fault(self, kind: str) -> None:
        self.state.faulted(kind)
        if kind == "overload":
            self._error(503, "model_overloaded", "The model cluster is temporarily overloaded.")
        elif kind == "html":
            html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            self._send(502, html, "text/html", {})
        elif kind == "truncated":
            body = json.dumps(_completion({"messages": []}, 0, self.request_id)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) + 512))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            self._log_line(200, "truncated")
        else:
            self.close_connection = True
            self._log_line(0, "disconnect")

    def _configure(self, body) -> dict:
        if not isinstance(body, dict):
            raise ValueError("config must be a JSON object")
        self.state.configure(**body)
        return self.state.public_config()

    def _control(self, action) -> None:
        raw = self._read_body(1024 * 1024)
        if self.client_address[0] not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
            self._error(403, "forbidden", "Control endpoints answer loopback clients only.")
            return
        try:
            result = action(_loads(raw) if raw else None)
        except (ValueError, TypeError) as exc:
            self._error(400, "invalid_request_error", str(exc))
            return
        self._send_json(200, result)

    def _not_found(self) -> None:
        self._error(404, "not_found", f"No route for {self.command} {self.path}.")

    # --- helpers -----------------------------------------------------------------------

    def _bearer(self) -> str:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def _authorized(self) -> bool:
        self.key = self._bearer()
        keys = self.state.config.keys
        if self.key and (not keys or self.key in keys):
            return True
        self._error(401, "invalid_api_key", "Incorrect API key provided.")
        return False

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

    def _error(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        error_type = "invalid_request_error" if status < 500 else "server_error"
        body = {"error": {"message": message, "type": error_type, "code": code}}
        self._send_json(status, body, headers or {})

    def _send_json(self, status: int, body, headers: dict | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self._send(status, data, "application/json", headers or {})

    def _send(self, status: int, data: bytes, content_type: str, headers: dict) -> None:
        if self.path == "/v1/chat/completions":
            # Counted before writing: a client may read the reply and ask for stats at once.
            self.state.answered_with(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self.request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self._log_line(status, "")

    def _log_line(self, status: int, note: str) -> None:
        latency_ms = int((time.monotonic() - self.started) * 1000)
        logger.info(
            "simulator %s %s %s key=%s latency_ms=%d request_id=%s%s",
            self.command,
            self.path,
            status or "-",
            key_fingerprint(self.key),
            latency_ms,
            self.request_id,
            f" fault={note}" if note else "",
        )

    def log_request(self, code="-", size="-") -> None:
        """Each response is logged once by _log_line, with its key fingerprint."""

    def log_message(self, format, *args) -> None:
        logger.warning("simulator %s", format % args)


SCRIPT_DEFAULT_CODES = {
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


# --- request reading ---------------------------------------------------------------------


def _loads(raw: bytes | None):
    try:
        return json.loads(raw or b"")
    except (ValueError, RecursionError):
        return None


def _user_parts(request: dict):
    for message in request.get("messages") or []:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield {"type": "text", "text": content}
        elif isinstance(content, list):
            yield from (part for part in content if isinstance(part, dict))


def _user_text(request: dict) -> str:
    """The brief: the first user message's text (a repair request adds a second one)."""
    for part in _user_parts(request):
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            return part["text"]
    return ""


def _image_urls(request: dict) -> list[str]:
    urls = []
    for part in _user_parts(request):
        if part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str):
                urls.append(url)
    return urls


def _largest_image_bytes(request: dict) -> int:
    sizes = [0]
    for url in _image_urls(request):
        if url.startswith("data:") and ";base64," in url:
            encoded = url.partition(";base64,")[2]
            sizes.append(len(encoded) * 3 // 4 - encoded[-2:].count("="))
    return max(sizes)


def _is_flagged(text: str, words: list[str]) -> bool:
    lowered = text.lower()
    return any(word.lower() in lowered for word in words)


def _all_text(request: dict) -> str:
    texts = []
    for message in request.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [
                p.get("text", "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            ]
    return "\n".join(texts)


_CJK = re.compile("[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def _rough_tokens(text: str) -> int:
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil(len(_CJK.sub("", text).encode()) / 4)


# --- the generated answer ----------------------------------------------------------------

PORTRAIT_WORDS = (
    "portrait",
    "face",
    "headshot",
    "avatar",
    "selfie",
    "woman",
    "man",
    "girl",
    "boy",
    "人像",
    "肖像",
    "头像",
    "女孩",
    "男孩",
    "人物",
)
UI_WORDS = (
    "ui",
    "app",
    "screen",
    "dashboard",
    "website",
    "landing page",
    "wireframe",
    "interface",
    "界面",
    "网页",
    "应用",
)
MOOD_WORDS = ("mood board", "moodboard", "mood", "palette", "vibe", "aesthetic", "情绪板", "氛围")

STYLES = {
    "portrait": [
        "photorealistic portrait",
        "cinematic portrait",
        "editorial fashion photo",
        "soft film portrait",
    ],
    "ui": [
        "clean flat UI render",
        "glassmorphism UI mockup",
        "minimal product screenshot",
        "isometric app showcase",
    ],
    "mood": [
        "editorial mood board",
        "analog film collage",
        "muted minimalist board",
        "vibrant pop collage",
    ],
    "scene": [
        "cinematic still",
        "digital matte painting",
        "studio product photo",
        "atmospheric illustration",
    ],
}
FRAMING = {
    "portrait": [
        "head-and-shoulders framing, 85mm lens, shallow depth of field",
        "three-quarter view, 50mm lens, eye-level",
        "close-up, 105mm lens, soft bokeh",
    ],
    "ui": [
        "front-facing device frame, crisp typography, 8px grid alignment",
        "high-fidelity mockup, balanced whitespace, clear hierarchy",
    ],
    "mood": [
        "grid of swatches and texture samples, layered collage",
        "asymmetric collage, torn paper edges, annotated swatches",
    ],
    "scene": ["wide establishing shot, rule of thirds", "low-angle shot, leading lines"],
}
LIGHTING = [
    "soft window light",
    "golden hour rim light",
    "studio softbox lighting",
    "overcast diffused light",
    "neon accent lighting",
    "Rembrandt lighting",
]
PALETTES = [
    "warm earth tones",
    "cool teal and orange",
    "pastel palette",
    "monochrome with one accent",
    "muted sage and cream",
    "deep jewel tones",
]
NEGATIVE = {
    "portrait": "deformed face, asymmetric eyes, extra fingers, bad anatomy, plastic skin, blurry, "
    "lowres, watermark, text",
    "ui": "blurry text, misaligned elements, clutter, distorted icons, lowres, watermark",
    "mood": "clutter, muddy colors, low contrast, lowres, watermark, text artifacts",
    "scene": "blurry, lowres, jpeg artifacts, oversaturated, watermark, text",
}
SIZES = {
    "portrait": [(832, 1216), (896, 1152)],
    "ui": [(1216, 832), (1344, 768)],
    "mood": [(1024, 1024), (1152, 896)],
    "scene": [(1216, 832), (1024, 1024)],
}
SAMPLERS = ["DPM++ 2M Karras", "Euler a", "DPM++ SDE Karras", "UniPC"]
FACES = [
    "oval face, high cheekbones, almond eyes",
    "heart-shaped face, soft jawline, freckles",
    "square jaw, strong brows, deep-set eyes",
    "round face, dimples, wide smile",
]
HAIRSTYLES = [
    "shoulder-length wavy brown hair",
    "sleek black bob",
    "short textured crop",
    "long straight auburn hair",
    "loose curly updo",
]
COMPOSITIONS = [
    "centered subject, rule of thirds headroom",
    "off-center subject, negative space left",
    "tight crop, symmetrical balance",
]


def _category(brief: str) -> str:
    lowered = brief.lower()
    for category, words in (("portrait", PORTRAIT_WORDS), ("ui", UI_WORDS), ("mood", MOOD_WORDS)):
        for word in words:
            if re.search(rf"\b{re.escape(word)}\b", lowered) if word.isascii() else word in lowered:
                return category
    return "scene"


def generate_spec(brief: str, *, image_count: int, seed: int) -> dict:
    """A plausible prompt spec, the same for the same brief, image count and seed."""
    digest = hashlib.sha256(f"{seed}\x00{image_count}\x00{brief}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    category = _category(brief)
    style = rng.choice(STYLES[category])
    lighting = rng.choice(LIGHTING)
    palette = rng.choice(PALETTES)
    subject = " ".join(brief.split())[:300] or "untitled subject"
    width, height = rng.choice(SIZES[category])
    spec = {
        "positive_prompt": ", ".join(
            [
                subject,
                rng.choice(FRAMING[category]),
                lighting,
                palette,
                style,
                "highly detailed, sharp focus, 8k",
            ]
        ),
        "negative_prompt": NEGATIVE[category],
        "width": width,
        "height": height,
        "steps": rng.randrange(20, 41),
        "cfg_scale": rng.randrange(10, 18) / 2,
        "sampler": rng.choice(SAMPLERS),
        "style": style,
        "seed": int.from_bytes(digest[8:12], "big"),
        "visual_features": None,
    }
    if image_count:
        spec["visual_features"] = {
            "face": rng.choice(FACES),
            "hairstyle": rng.choice(HAIRSTYLES),
            "lighting": lighting,
            "palette": palette,
            "composition": rng.choice(COMPOSITIONS),
            "style_direction": f"{style}, consistent with the {image_count} reference image(s)",
        }
    return spec


def _completion(request: dict, seed: int, request_id: str) -> dict:
    brief = _user_text(request)
    image_count = len(_image_urls(request))
    spec_json = json.dumps(
        generate_spec(brief, image_count=image_count, seed=seed), ensure_ascii=False
    )
    response_format = request.get("response_format") or {}
    tools = request.get("tools") or []
    finish_reason = "stop"
    if tools and request.get("tool_choice") != "none":
        function = (tools[0] or {}).get("function") or {}
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"call_{request_id[-12:]}",
                    "type": "function",
                    "function": {
                        "name": function.get("name", "prompt_spec"),
                        "arguments": spec_json,
                    },
                }
            ],
        }
        finish_reason = "tool_calls"
        output = spec_json
    elif isinstance(response_format, dict) and response_format.get("type") in (
        "json_schema",
        "json_object",
    ):
        message = {"role": "assistant", "content": spec_json}
        output = spec_json
    else:
        output = f"Here is the prompt spec for your brief.\n\n```json\n{spec_json}\n```\n"
        message = {"role": "assistant", "content": output}
    prompt_tokens = (
        _rough_tokens(_all_text(request))
        + 4 * len(request.get("messages") or [])
        + (TOKENS_PER_IMAGE * image_count)
    )
    completion_tokens = _rough_tokens(output)
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model") or DEFAULT_MODELS[0],
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


# --- running it --------------------------------------------------------------------------


class SimulatorHandle:
    def __init__(self, server: SimulatorServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host, self.port = server.server_address[:2]
        self.base_url = f"http://{_url_host(self.host)}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    def stats(self) -> dict:
        return self._server.state.stats()

    def script(self, entries: list[dict]) -> None:
        self._server.state.add_script(entries)

    def configure(self, **changes) -> SimulatorConfig:
        return self._server.state.configure(**changes)

    def reset(self) -> None:
        self._server.state.reset()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def start_simulator(
    config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0
) -> SimulatorHandle:
    """Serve in a background daemon thread; ``port=0`` picks a free port."""
    server = SimulatorServer((host, port), SimulatorState(config))
    thread = threading.Thread(target=server.serve_forever, name="gateway-simulator", daemon=True)
    thread.start()
    logger.info(
        "gateway simulator listening on http://%s:%s/v1", _url_host(host), server.server_address[1]
    )
    return SimulatorHandle(server, thread)
