"""The simulator's settings: what it accepts, how it misbehaves, and the checks on both."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MODELS = ("grok-build-0.1",)
DEFAULT_FLAGGED_WORDS = ("nsfw", "nude", "explicit", "gore", "色情", "裸体", "血腥", "暴力")
DEFAULT_LOG_TOKEN = "sim-log-token-grokweb"
MODERATION_STYLES = ("http400", "finish_reason", "sensitive_words")
FAULT_KINDS = ("overload", "html", "truncated", "disconnect")
# Random faults: mostly the overload a busy gateway gives; "disconnect" is script-only.
RANDOM_FAULT_WEIGHTS = {"overload": 6, "html": 2, "truncated": 2}
TOKENS_PER_IMAGE = 765  # a 1024x1024 image under the 512-px tile formula
RATE_WINDOW_S = 60.0
NON_NEGATIVE_INTS = ("rpm", "latency_ms", "max_body_bytes", "max_image_bytes", "seed")


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
    log_token: str = DEFAULT_LOG_TOKEN  # the access token GET /api/log/self asks for
    log_file: str = ""  # keep the usage log in this JSONL file too (it survives a restart)

    def __post_init__(self) -> None:
        _validate(self)


def _validate(config: SimulatorConfig) -> None:
    if not all(isinstance(key, str) and key for key in config.keys):
        raise ValueError("keys must be non-empty strings")
    if not config.models or not all(isinstance(model, str) for model in config.models):
        raise ValueError("models must be a non-empty list of strings")
    for name in NON_NEGATIVE_INTS:
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
    if not isinstance(config.log_token, str) or not config.log_token:
        raise ValueError("log_token must be a non-empty string")
    if not isinstance(config.log_file, str):
        raise ValueError("log_file must be a path or empty")


def key_fingerprint(key: str) -> str:
    return f"…{key[-4:]}" if key else "(none)"
