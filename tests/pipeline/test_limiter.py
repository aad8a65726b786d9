"""The shared limiter: spacing at the rpm, tokens per minute corrected by real usage,
reservations vs deferrals, and one schedule for many workers."""

import threading
import time

import pytest
from django.conf import settings as django_settings

from prompts.pipeline.limiter import LocalLimiter, RedisLimiter

TOLERANCE_S = 0.03  # the clock moves between two calls in a busy test run


def test_it_spaces_requests_evenly_at_the_rpm(backend, settings):
    settings.GATEWAY_RPM = 600  # one every 100 ms, no burst
    slots = [backend.acquire(1, 0, 10) for _ in range(5)]
    assert all(slot.reserved for slot in slots)
    waits = [slot.wait_s for slot in slots]
    assert waits[0] == pytest.approx(0, abs=TOLERANCE_S)
    for earlier, later in zip(waits, waits[1:], strict=False):
        assert later - earlier == pytest.approx(0.1, abs=TOLERANCE_S)


def test_it_defers_without_taking_a_slot_when_the_wait_is_too_long(backend, settings):
    settings.GATEWAY_RPM = 60  # one a second
    assert backend.acquire(1, 0, 0.2).reserved
    deferred = backend.acquire(1, 0, 0.2)
    assert not deferred.reserved
    assert deferred.wait_s == pytest.approx(1.0, abs=TOLERANCE_S)
    # Nothing was taken: the next caller that can wait a second gets the same slot.
    assert backend.acquire(1, 0, 5).wait_s == pytest.approx(1.0, abs=TOLERANCE_S)
    assert backend.stats([1])[1]["deferred"] == 1


def test_it_keeps_each_gateway_key_on_its_own_schedule(backend, settings):
    settings.GATEWAY_RPM = 60
    assert backend.acquire(1, 0, 0).reserved
    assert backend.acquire(2, 0, 0).reserved
    assert not backend.acquire(1, 0, 0).reserved


def test_it_does_not_limit_at_zero(backend, settings):
    settings.GATEWAY_RPM = 0
    settings.GATEWAY_TPM = 0
    assert all(backend.acquire(1, 100_000, 0) == backend.acquire(1, 1, 0) for _ in range(50))
    assert backend.acquire(1, 1, 0).wait_s == 0


def test_it_holds_the_token_estimate_and_corrects_it_by_real_usage(backend, settings):
    settings.GATEWAY_RPM = 0
    settings.GATEWAY_TPM = 60_000  # 1 ms per token
    assert backend.acquire(1, 2_000, 10).wait_s == pytest.approx(0, abs=TOLERANCE_S)
    # The next request waits for the whole estimate...
    assert backend.acquire(1, 1, 0).wait_s == pytest.approx(2.0, abs=TOLERANCE_S)
    # ...until the call reports it used 500 tokens, not 2,000.
    backend.settle(1, 500 - 2_000)
    assert backend.acquire(1, 1, 0).wait_s == pytest.approx(0.5, abs=TOLERANCE_S)


def test_it_waits_for_whichever_limit_is_tighter(backend, settings):
    settings.GATEWAY_RPM = 600  # 100 ms per request
    settings.GATEWAY_TPM = 60_000  # 1 ms per token
    backend.acquire(1, 1_000, 10)
    assert backend.acquire(1, 10, 10).wait_s == pytest.approx(1.0, abs=TOLERANCE_S)
    assert backend.acquire(1, 10, 10).wait_s == pytest.approx(1.1, abs=TOLERANCE_S)


def test_it_pauses_every_caller_of_a_key_after_a_retry_after(backend, settings):
    settings.GATEWAY_RPM = 0
    backend.pause(1, 3)
    slot = backend.acquire(1, 0, 1)
    assert not slot.reserved and slot.wait_s == pytest.approx(3, abs=TOLERANCE_S)
    assert backend.pause_left_s(1) == pytest.approx(3, abs=TOLERANCE_S)
    backend.pause(1, 1)  # a shorter Retry-After never shortens the pause
    assert backend.pause_left_s(1) == pytest.approx(3, abs=TOLERANCE_S)
    assert backend.acquire(2, 0, 1).reserved
    assert backend.stats([1])[1]["paused"] == 1


def test_it_gives_many_threads_distinct_evenly_spaced_slots(backend, settings):
    settings.GATEWAY_RPM = 60_000  # 1 ms apart
    granted = []

    def worker():
        for _ in range(25):
            granted.append(backend.acquire(1, 0, 10).reserved)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert granted == [True] * 200
    # 200 distinct slots 1 ms apart: the next free slot is 200 ms after the first one.
    next_wait = backend.acquire(1, 0, 10).wait_s
    assert 0.2 - elapsed - TOLERANCE_S <= next_wait <= 0.2 + TOLERANCE_S
    assert backend.stats([1])[1]["granted"] == 201


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL")
def test_it_shares_one_schedule_between_workers_with_separate_connections(settings):
    """Two worker processes each have their own limiter and connection: Redis decides."""
    settings.GATEWAY_RPM = 600
    first, second = RedisLimiter(settings.REDIS_URL), RedisLimiter(settings.REDIS_URL)
    first.reset(1)
    try:
        waits = sorted([first.acquire(1, 0, 10).wait_s, second.acquire(1, 0, 10).wait_s,
                        first.acquire(1, 0, 10).wait_s, second.acquire(1, 0, 10).wait_s])
        assert [round(w, 1) for w in waits] == [0.0, 0.1, 0.2, 0.3]
        second.pause(1, 2)
        assert first.pause_left_s(1) == pytest.approx(2, abs=TOLERANCE_S)
    finally:
        first.reset(1)


def test_it_keeps_the_in_process_pause_where_the_cache_helpers_find_it(settings):
    from django.core.cache import cache

    from prompts.pipeline.limiter import pause_cache_key

    local = LocalLimiter()
    local.pause(7, 5)
    assert cache.get(pause_cache_key(7)) is not None
    cache.delete(pause_cache_key(7))
    assert local.pause_left_s(7) == 0


def test_it_pauses_a_key_longer_each_time_the_gateway_stays_unreachable(backend):
    assert backend.trip(1, 0.2, 0.5) == pytest.approx(0.2, abs=TOLERANCE_S)
    # Calls that were already on their way fail too: they do not lengthen the pause.
    assert backend.trip(1, 0.2, 0.5) <= 0.2 + TOLERANCE_S
    assert not backend.acquire(1, 0, 0).reserved
    time.sleep(0.25)
    assert backend.trip(1, 0.2, 0.5) == pytest.approx(0.4, abs=TOLERANCE_S)  # the probe failed
    time.sleep(0.45)
    assert backend.trip(1, 0.2, 0.5) == pytest.approx(0.5, abs=TOLERANCE_S)  # capped
    assert backend.acquire(2, 0, 0).reserved
