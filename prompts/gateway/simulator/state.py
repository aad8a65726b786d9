"""What the handler threads share: config, counters, script, rate window and usage log."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, fields, replace

from .config import RANDOM_FAULT_WEIGHTS, RATE_WINDOW_S, SimulatorConfig, key_fingerprint
from .script import validate_script
from .usage_log import Charge, UsageLog


class SimulatorState:
    """Every method takes the one lock, so counters, script and log stay consistent."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.initial = replace(config)
        self.lock = threading.Lock()
        self.usage_log = UsageLog(path=config.log_file)  # a log file kept from before
        self.reset(clear_log=False)

    def reset(self, clear_log: bool = True) -> None:
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
            if clear_log:
                self.usage_log.clear()

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
        validate_script(entries)
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
                "billed": len(self.usage_log.entries),
                "billed_tokens": self.usage_log.totals(),
            }

    def public_config(self) -> dict:
        with self.lock:
            config = asdict(self.config)
        config["keys"] = [key_fingerprint(key) for key in config["keys"]]
        config["log_token"] = key_fingerprint(config["log_token"])
        return config

    def receive(self, key: str) -> dict | None:
        """Count an arriving chat request; return the scripted response for it, if any."""
        with self.lock:
            self.received += 1
            self.by_key[key_fingerprint(key)] += 1
            return self.script.popleft() if self.script else None

    def answered_with(self, status: int, charge: Charge | None = None) -> None:
        """Count a complete answer and, when it is billed, log it in the same step."""
        with self.lock:
            self.answered += 1
            self.by_status[str(status)] += 1
            if charge is not None:
                self.usage_log.add(charge)

    def bill(self, charge: Charge) -> None:
        """Log a billed call whose answer never arrived whole (truncated, or cut by script)."""
        with self.lock:
            self.usage_log.add(charge)

    def faulted(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1

    def log_entries(self) -> list[dict]:
        with self.lock:
            return [dict(entry) for entry in self.usage_log.entries]

    def log_page(self, query: dict[str, list[str]]) -> dict:
        with self.lock:
            return self.usage_log.page(query)

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
