"""Keeping under the gateway account's limits: requests and tokens per minute, per key.

Every worker process on every host asks the same limiter before it sends. With REDIS_URL
the state lives in Redis and each decision is one atomic Lua script (GCRA on two
dimensions plus the Retry-After pause), so two workers can never both take the last slot.
Without REDIS_URL an in-process limiter serves the single embedded worker's threads.

GCRA in one paragraph: each key keeps a "theoretical arrival time" (TAT) per dimension. A
request may go when now ≥ TAT; sending it moves TAT on by cost × interval (interval =
60 s / limit; cost 1 for requests, the token estimate for tokens). There is no burst: at
GATEWAY_RPM=1200 requests leave every 50 ms, so no 60-second window ever holds more than
the limit, whether the gateway counts in fixed, sliding or bucketed windows.

A caller that may wait up to `max_wait_s` gets a reservation: its slot is taken and it
sleeps until then. One that would wait longer takes nothing and comes back later (the job
is re-scheduled, the worker thread stays free). A 429's Retry-After pauses the key for
everyone, and so does a gateway that refuses connections (`limiter_trip`, a circuit
breaker). GATEWAY_RPM / GATEWAY_TPM = 0 means no limit on that dimension.
"""

import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

KEY_PREFIX = "grokweb:limiter"
# When Redis cannot be asked, a job comes back after this long instead of sending blind.
UNREACHABLE_RETRY_S = 5.0
STAT_FIELDS = ("granted", "slept", "slept_ms", "deferred", "paused")


@dataclass(frozen=True)
class Slot:
    """The limiter's answer. `reserved`: the request may be sent after sleeping `wait_s`.
    Not reserved: nothing was taken; ask again in `wait_s` seconds."""

    wait_s: float
    reserved: bool


def pause_cache_key(key_id: int) -> str:
    """The cache key of a key's pause (value: the pause's end, ms since the epoch)."""
    return f"limiter:pause:{key_id}"


def _interval_ms(per_minute: int) -> float:
    return 60_000.0 / per_minute if per_minute > 0 else 0.0


# --- Redis: one script per decision ------------------------------------------------------

# KEYS: rpm TAT, tpm TAT, pause, stats.  ARGV: rpm interval ms, tpm interval ms, tokens,
# max wait ms. Returns {wait_ms, reserved (1/0)}. Times are Redis's clock, so hosts with
# skewed clocks still share one schedule.
ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local rpm_ms = tonumber(ARGV[1])
local tpm_ms = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local tat_r = tonumber(redis.call('GET', KEYS[1]) or 0)
local tat_t = tonumber(redis.call('GET', KEYS[2]) or 0)
local pause = tonumber(redis.call('GET', KEYS[3]) or 0)
local send_at = now
if pause > send_at then send_at = pause end
if rpm_ms > 0 and tat_r > send_at then send_at = tat_r end
if tpm_ms > 0 and tat_t > send_at then send_at = tat_t end
local wait = send_at - now
if wait > max_wait then
  redis.call('HINCRBY', KEYS[4], 'deferred', 1)
  if pause > now and pause >= send_at then redis.call('HINCRBY', KEYS[4], 'paused', 1) end
  return {math.ceil(wait), 0}
end
if rpm_ms > 0 then
  local new_tat = send_at + rpm_ms
  redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 60000)
end
if tpm_ms > 0 then
  local new_tat = send_at + tokens * tpm_ms
  redis.call('SET', KEYS[2], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 60000)
end
redis.call('HINCRBY', KEYS[4], 'granted', 1)
if wait > 0 then
  redis.call('HINCRBY', KEYS[4], 'slept', 1)
  redis.call('HINCRBY', KEYS[4], 'slept_ms', math.ceil(wait))
end
return {math.ceil(wait), 1}
"""

# KEYS: tpm TAT. ARGV: tpm interval ms, token difference (actual - reserved; may be < 0).
SETTLE_LUA = """
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat == 0 then return 0 end
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local new_tat = tat + tonumber(ARGV[2]) * tonumber(ARGV[1])
if new_tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 60000)
end
return 1
"""

# KEYS: pause. ARGV: seconds. Only ever lengthens a pause. Returns the pause's end in ms.
PAUSE_LUA = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local untl = math.ceil(now + tonumber(ARGV[1]) * 1000)
local current = tonumber(redis.call('GET', KEYS[1]) or 0)
if current >= untl then return current end
redis.call('SET', KEYS[1], untl, 'PX', math.ceil(untl - now) + 5000)
return untl
"""

# KEYS: pause, outage streak. ARGV: base s, cap s. A failure while the key is already paused
# (a request sent before the pause began) changes nothing; otherwise the streak grows and
# the pause doubles: base, 2 × base, … up to cap. Returns the pause's length in ms.
TRIP_LUA = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local current = tonumber(redis.call('GET', KEYS[1]) or 0)
if current > now then return math.ceil(current - now) end
local n = redis.call('INCR', KEYS[2])
local pause = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) * 2 ^ (n - 1)) * 1000
local untl = math.ceil(now + pause)
redis.call('SET', KEYS[1], untl, 'PX', math.ceil(pause) + 5000)
redis.call('PEXPIRE', KEYS[2], math.ceil(pause) + 30000)
return math.ceil(pause)
"""

# KEYS: pause. Returns the ms left.
PAUSE_LEFT_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]) or 0)
if current == 0 then return 0 end
local t = redis.call('TIME')
local left = current - (t[1] * 1000 + t[2] / 1000)
if left < 0 then return 0 end
return math.ceil(left)
"""


class RedisLimiter:
    def __init__(self, url: str) -> None:
        import redis

        self.errors = (redis.RedisError,)
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.acquire_script = self.client.register_script(ACQUIRE_LUA)
        self.settle_script = self.client.register_script(SETTLE_LUA)
        self.pause_script = self.client.register_script(PAUSE_LUA)
        self.pause_left_script = self.client.register_script(PAUSE_LEFT_LUA)
        self.trip_script = self.client.register_script(TRIP_LUA)

    @staticmethod
    def keys(key_id: int) -> list[str]:
        return [
            f"{KEY_PREFIX}:{key_id}:rpm",
            f"{KEY_PREFIX}:{key_id}:tpm",
            # The pause lives under the Django cache's own key (an int value is stored raw),
            # so cache.get/delete on pause_cache_key see the same pause.
            cache.make_key(pause_cache_key(key_id)),
            f"{KEY_PREFIX}:{key_id}:stats",
            f"{KEY_PREFIX}:{key_id}:outage",
        ]

    def acquire(self, key_id: int, tokens: int, max_wait_s: float) -> Slot:
        wait_ms, reserved = self.acquire_script(
            keys=self.keys(key_id),
            args=[_interval_ms(settings.GATEWAY_RPM), _interval_ms(settings.GATEWAY_TPM),
                  tokens, int(max_wait_s * 1000)],
        )
        return Slot(wait_s=int(wait_ms) / 1000, reserved=bool(reserved))

    def settle(self, key_id: int, difference: int) -> None:
        self.settle_script(keys=self.keys(key_id)[1:2],
                           args=[_interval_ms(settings.GATEWAY_TPM), difference])

    def pause(self, key_id: int, seconds: float) -> None:
        self.pause_script(keys=self.keys(key_id)[2:3], args=[seconds])

    def pause_left_s(self, key_id: int) -> float:
        return int(self.pause_left_script(keys=self.keys(key_id)[2:3])) / 1000

    def trip(self, key_id: int, base_s: float, cap_s: float) -> float:
        keys = self.keys(key_id)
        return int(self.trip_script(keys=[keys[2], keys[4]], args=[base_s, cap_s])) / 1000

    def stats(self, key_ids: list[int]) -> dict[int, dict[str, int]]:
        pipe = self.client.pipeline(transaction=False)
        for key_id in key_ids:
            pipe.hgetall(self.keys(key_id)[3])
        return {
            key_id: {field.decode(): int(value) for field, value in raw.items()}
            for key_id, raw in zip(key_ids, pipe.execute(), strict=True)
        }

    def reset(self, key_id: int) -> None:
        self.client.delete(*self.keys(key_id))


# --- In process: the embedded worker's threads ---------------------------------------------


class LocalLimiter:
    """The same decisions for the threads of one process. The pause is kept in the Django
    cache (local memory here) like the Redis one, so `pause_cache_key` works for both."""

    errors: tuple = ()

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tats: dict[tuple[int, str], float] = {}
        self.counters: dict[int, dict[str, int]] = {}
        self.outages: dict[int, tuple[int, float]] = {}  # key id -> (streak, forget at)

    def acquire(self, key_id: int, tokens: int, max_wait_s: float) -> Slot:
        rpm_ms = _interval_ms(settings.GATEWAY_RPM)
        tpm_ms = _interval_ms(settings.GATEWAY_TPM)
        with self.lock:
            now = time.time() * 1000
            pause = cache.get(pause_cache_key(key_id)) or 0
            send_at = max(now, pause,
                          self.tats.get((key_id, "rpm"), 0) if rpm_ms else 0,
                          self.tats.get((key_id, "tpm"), 0) if tpm_ms else 0)
            wait = send_at - now
            counters = self.counters.setdefault(key_id, dict.fromkeys(STAT_FIELDS, 0))
            if wait > max_wait_s * 1000:
                counters["deferred"] += 1
                counters["paused"] += int(pause > now and pause >= send_at)
                return Slot(wait_s=wait / 1000, reserved=False)
            if rpm_ms:
                self.tats[(key_id, "rpm")] = send_at + rpm_ms
            if tpm_ms:
                self.tats[(key_id, "tpm")] = send_at + tokens * tpm_ms
            counters["granted"] += 1
            if wait > 0:
                counters["slept"] += 1
                counters["slept_ms"] += int(wait)
            return Slot(wait_s=wait / 1000, reserved=True)

    def settle(self, key_id: int, difference: int) -> None:
        with self.lock:
            if (key_id, "tpm") in self.tats:
                self.tats[(key_id, "tpm")] += difference * _interval_ms(settings.GATEWAY_TPM)

    def pause(self, key_id: int, seconds: float) -> None:
        with self.lock:
            until = int(time.time() * 1000 + seconds * 1000)
            current = cache.get(pause_cache_key(key_id)) or 0
            if current < until:
                cache.set(pause_cache_key(key_id), until, timeout=int(seconds) + 5)

    def pause_left_s(self, key_id: int) -> float:
        until = cache.get(pause_cache_key(key_id)) or 0
        return max(0.0, until / 1000 - time.time())

    def trip(self, key_id: int, base_s: float, cap_s: float) -> float:
        with self.lock:
            now = time.time()
            left = (cache.get(pause_cache_key(key_id)) or 0) / 1000 - now
            if left > 0:
                return left
            streak, forget_at = self.outages.get(key_id, (0, 0.0))
            streak = streak + 1 if forget_at > now else 1
            pause = min(cap_s, base_s * 2 ** (streak - 1))
            self.outages[key_id] = (streak, now + pause + 30)
            cache.set(pause_cache_key(key_id), int((now + pause) * 1000),
                      timeout=int(pause) + 5)
            return pause

    def stats(self, key_ids: list[int]) -> dict[int, dict[str, int]]:
        with self.lock:
            return {key_id: dict(self.counters.get(key_id, {})) for key_id in key_ids}

    def reset(self, key_id: int) -> None:
        with self.lock:
            self.tats.pop((key_id, "rpm"), None)
            self.tats.pop((key_id, "tpm"), None)
            self.counters.pop(key_id, None)
            self.outages.pop(key_id, None)
        cache.delete(pause_cache_key(key_id))


@lru_cache(maxsize=4)
def _limiter_for(redis_url: str) -> RedisLimiter | LocalLimiter:
    return RedisLimiter(redis_url) if redis_url else LocalLimiter()


def limiter() -> RedisLimiter | LocalLimiter:
    """This process's limiter (one per REDIS_URL, so tests can switch)."""
    return _limiter_for(settings.REDIS_URL)


# --- The service ---------------------------------------------------------------------------


def limiter_acquire(*, key_id: int, tokens: int, max_wait_s: float | None = None) -> Slot:
    """Ask for one request of about `tokens` tokens (input estimate + max_tokens) on a key."""
    if max_wait_s is None:
        max_wait_s = settings.GATEWAY_LIMITER_MAX_SLEEP_S
    if settings.GATEWAY_TPM:
        # A request bigger than a minute's tokens would never fit; it costs one full minute.
        tokens = min(tokens, settings.GATEWAY_TPM)
    backend = limiter()
    try:
        return backend.acquire(key_id, max(tokens, 0), max_wait_s)
    except backend.errors:
        logger.warning("rate limiter unreachable: job deferred %ss", UNREACHABLE_RETRY_S,
                       exc_info=True)
        return Slot(wait_s=UNREACHABLE_RETRY_S, reserved=False)


def limiter_settle(*, key_id: int, reserved_tokens: int, used_tokens: int) -> None:
    """Correct the token dimension by what the call really used (the gateway's usage)."""
    if not settings.GATEWAY_TPM or used_tokens == reserved_tokens:
        return
    backend = limiter()
    try:
        backend.settle(key_id, used_tokens - min(reserved_tokens, settings.GATEWAY_TPM))
    except backend.errors:
        logger.warning("rate limiter unreachable: token usage not corrected", exc_info=True)


def limiter_pause(*, key_id: int, seconds: float) -> None:
    """The gateway said Retry-After: nobody sends on this key until then."""
    backend = limiter()
    try:
        backend.pause(key_id, seconds)
    except backend.errors:
        logger.warning("rate limiter unreachable: Retry-After not shared", exc_info=True)


def limiter_trip(*, key_id: int) -> float:
    """Nobody answered on this key (connection refused or reset): pause it for everyone, a
    circuit breaker. Each outage pause doubles (GATEWAY_BACKOFF_BASE_S … _CAP_S) while the
    gateway stays away, so only one probe per pause spends a job's attempt instead of every
    job burning its attempts against a dead gateway. Returns the pause in seconds."""
    backend = limiter()
    try:
        return backend.trip(key_id, settings.GATEWAY_BACKOFF_BASE_S,
                            settings.GATEWAY_BACKOFF_CAP_S)
    except backend.errors:
        logger.warning("rate limiter unreachable: outage pause not shared", exc_info=True)
        return 0.0


def limiter_wait_s(*, key_id: int) -> float:
    """Seconds left of a Retry-After pause on this key (0 when none)."""
    backend = limiter()
    try:
        return backend.pause_left_s(key_id)
    except backend.errors:
        return 0.0


def limiter_stats(*, key_ids: list[int]) -> dict[int, dict[str, int]]:
    """Counters per key: granted, slept (and slept_ms), deferred, paused. With Redis they
    cover every worker; in process, only this process's."""
    backend = limiter()
    try:
        return backend.stats(key_ids)
    except backend.errors:
        return {}
