"""Keeping under the gateway account's limits, shared by every worker through the cache.

A 429's Retry-After pauses sending for everyone using that key, not only the job that got it.
"""

import time

from django.core.cache import cache


def pause_cache_key(key_id: int) -> str:
    return f"limiter:pause:{key_id}"


def limiter_pause(*, key_id: int, seconds: float) -> None:
    until = time.time() + seconds
    current = cache.get(pause_cache_key(key_id))
    if current is None or current < until:
        cache.set(pause_cache_key(key_id), until, timeout=int(seconds) + 5)


def limiter_wait_s(*, key_id: int) -> float:
    until = cache.get(pause_cache_key(key_id))
    return max(0.0, until - time.time()) if until else 0.0
