"""The rate limit's cost and its bound: light clients cost no DynamoDB write, one instance
refuses exactly at the limit, several let through at most BATCH - 1 each beyond it."""

import pytest

from chalicelib.platform.config import load_settings
from chalicelib.rate_limit import RateLimiter
from chalicelib.web.errors import TooManyRequests
from chalicelib.web.http import Request
from tests.support.memory.small_tables import MemoryCounters


class CountedCounters(MemoryCounters):
    """The in-memory twin of the shared counter, noting each write it takes."""

    def __init__(self):
        super().__init__()
        self.writes = 0

    def increment(self, key, expires_at, amount=1):
        self.writes += 1
        return super().increment(key, expires_at, amount)


def limiter(counters, clock, limit=120):
    return RateLimiter(load_settings({"API_RATE_LIMIT_WINDOW": str(limit)}), clock, counters)


def allowed(limiter_, ip, times):
    passed = 0
    for _ in range(times):
        try:
            limiter_.check(Request("GET", "/", {}, source_ip=ip))
            passed += 1
        except TooManyRequests:
            pass
    return passed


def test_two_thousand_devices_polling_every_15_seconds_cost_no_write():
    counters, now = CountedCounters(), [1_800_000_000.0]
    shared = limiter(counters, lambda: now[0])
    for _minute in range(5):
        for device in range(2000):
            assert allowed(shared, "10.%d.%d.1" % (device // 250, device % 250), 4) == 4
        now[0] += 60
    assert counters.writes == 0


def test_one_instance_refuses_exactly_at_the_limit_and_writes_about_once_per_batch():
    counters = CountedCounters()
    one = limiter(counters, lambda: 1_800_000_000.0)
    assert allowed(one, "203.0.113.5", 120) == 120
    assert counters.writes == 10  # 12 at a time
    assert allowed(one, "203.0.113.5", 1) == 0
    writes = counters.writes
    assert allowed(one, "203.0.113.5", 50) == 0 and counters.writes == writes  # refused: no write


@pytest.mark.parametrize("instances", [2, 5])
def test_several_instances_let_through_at_most_batch_minus_one_more_each(instances):
    counters = CountedCounters()
    fleet = [limiter(counters, lambda: 1_800_000_000.0) for _ in range(instances)]
    passed = 0
    for _round in range(100):  # the client's requests spread over the instances
        for each in fleet:
            passed += allowed(each, "198.51.100.9", 1)
    assert 120 <= passed <= 120 + 11 * (instances - 1)


def test_a_small_limit_is_counted_on_every_request():
    counters = CountedCounters()
    strict = limiter(counters, lambda: 1_800_000_000.0, limit=5)
    assert allowed(strict, "192.0.2.1", 7) == 5 and counters.writes == 6
