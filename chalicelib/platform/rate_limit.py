"""Per-client rate limit of the app endpoints (SPEC §8), counted in DynamoDB so that every
instance shares it: one atomic UpdateItem per request on a fixed-window counter.

A client is its IPv4 address, or its IPv6 /64 network: one subscriber commonly holds a whole
/64 and could otherwise take a fresh bucket per address. Once a client is over the limit,
this instance answers 429 until the window ends without writing to DynamoDB again.
"""

import hashlib
import ipaddress
import math
from collections.abc import Callable

from chalicelib.platform.config import Settings
from chalicelib.platform.times import utc_datetime
from chalicelib.storage.small_tables import Counters, DynamoCounters
from chalicelib.web.errors import TooManyRequests
from chalicelib.web.http import Request

_MAX_BLOCKED = 10_000  # bound the instance's memory of limited clients


def client_bucket(ip: str) -> str:
    """What is counted for an address: IPv4 as it is, IPv6 as its /64."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip  # not an address (a missing header's placeholder): counted as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimiter:
    def __init__(self, settings: Settings, clock: Callable[[], float], counters: Counters | None = None):
        self._counters: Counters = counters or DynamoCounters()
        self._limit = settings.rate_limit_requests
        self._window = settings.rate_limit_window_minutes * 60
        self._header = settings.trusted_ip_header
        self._proxies = settings.trusted_proxy_count
        self._clock = clock
        self._blocked: dict[str, float] = {}  # client digest -> end of its window

    def client_ip(self, request: Request) -> str:
        """The connection's source IP or, with a trusted header, its value `TRUSTED_PROXY_COUNT`
        places from the right. Proxies append the address they saw to X-Forwarded-For and
        keep what the client sent in front of it, so only the values our own proxies
        appended are true: the first is whatever the client wrote. A request whose header
        holds fewer values (it bypassed a proxy) shares one bucket with every such request,
        as do requests without the header, so neither is a way around the limit."""
        if not self._header:
            return request.source_ip or "unknown"
        values = [value.strip() for value in (request.header(self._header) or "").split(",")]
        values = [value for value in values if value]
        if len(values) < self._proxies:
            return "short %s" % self._header
        return values[-self._proxies]

    def check(self, request: Request) -> None:
        now = self._clock()
        window_start = int(now // self._window * self._window)
        window_end = window_start + self._window
        # Only a digest of the client is stored, and only until its window is over.
        client = hashlib.sha256(client_bucket(self.client_ip(request)).encode("utf-8")).hexdigest()[:32]
        blocked_until = self._blocked.get(client)
        if blocked_until is not None and now < blocked_until:
            raise self._too_many(window_end, now)
        count = self._counters.increment("%s#%d" % (client, window_start), utc_datetime(window_end + 60))
        if count > self._limit:
            if len(self._blocked) >= _MAX_BLOCKED:
                self._blocked.clear()
            self._blocked[client] = window_end
            raise self._too_many(window_end, now)

    @staticmethod
    def _too_many(window_end: float, now: float) -> TooManyRequests:
        return TooManyRequests(headers={"Retry-After": str(max(1, math.ceil(window_end - now)))})
