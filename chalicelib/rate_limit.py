"""Per-client rate limit of the app endpoints (SPEC §8): a fixed window, counted in
DynamoDB so that every instance shares it, with atomic increments.

Cheap for the many, exact for the few. Each instance first counts a client's requests
itself and adds them to the shared counter in batches of BATCH = limit / 10 (12 for 120 a
minute), or at once when what it knows of the shared count plus its own would pass the
limit. So a device polling every 15 s costs no DynamoDB write at all, a client near the
limit is checked against the shared count on every request, and one instance alone
refuses exactly at the limit. Across instances, each may let through fewer than BATCH
requests the others have not seen: a client is refused after at most
limit + (BATCH - 1) x (instances - 1) requests in a window (docs/behaviour.md, "Rate limit").

A client is its IPv4 address, or its IPv6 /64 network: one subscriber commonly holds a whole
/64 and could otherwise take a fresh bucket per address. Once a client is over the limit,
this instance answers 429 until the window ends without writing to DynamoDB again.
"""

import hashlib
import ipaddress
import math
import threading
from collections.abc import Callable

from chalicelib.platform import telemetry
from chalicelib.platform.config import Settings
from chalicelib.platform.times import utc_datetime
from chalicelib.storage.small_tables import Counters
from chalicelib.web.errors import TooManyRequests
from chalicelib.web.http import Request

_MAX_BLOCKED = 10_000  # bound the instance's memory of limited clients
_MAX_TRACKED = 100_000  # clients counted here in one window; beyond, each request is written


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
    def __init__(self, settings: Settings, clock: Callable[[], float], counters: Counters):
        self._counters = counters
        self._limit = settings.rate_limit_requests
        self._window = settings.rate_limit_window_minutes * 60
        self._header = settings.trusted_ip_header
        self._proxies = settings.trusted_proxy_count
        self._clock = clock
        self._blocked: dict[str, float] = {}  # client digest -> end of its window
        self._batch = max(1, self._limit // 10)
        self._window_start: int | None = None
        self._unsent: dict[str, int] = {}  # counter key -> requests seen here, not yet added
        self._known: dict[str, int] = {}  # counter key -> the shared count at our last add
        self._lock = threading.Lock()

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

    def client_of(self, request: Request) -> str:
        """What a client is counted as: a digest of its address (or IPv6 /64), never the address."""
        return hashlib.sha256(client_bucket(self.client_ip(request)).encode("utf-8")).hexdigest()[:32]

    def check(self, request: Request) -> None:
        self.check_client(self.client_of(request))

    def check_client(self, client: str) -> None:
        """Count one request of the client (`client_of`); 429 over the limit. The WebSocket
        channel counts each subscription so, against the same budget as the HTTP routes."""
        now = self._clock()
        window_start = int(now // self._window * self._window)
        window_end = window_start + self._window
        # Only a digest of the client is stored, and only until its window is over.
        blocked_until = self._blocked.get(client)
        if blocked_until is not None and now < blocked_until:
            raise self._too_many(window_end, now)
        key = "%s#%d" % (client, window_start)
        with self._lock:
            if window_start != self._window_start:  # a new window: forget the last one
                self._window_start, self._unsent, self._known = window_start, {}, {}
            unsent = self._unsent.get(key, 0) + 1
            room = key in self._unsent or len(self._unsent) < _MAX_TRACKED  # else: counted at once
            if room and unsent < self._batch and self._known.get(key, 0) + unsent <= self._limit:
                self._unsent[key] = unsent  # far from the limit: counted here only
                return
            self._unsent[key] = 0
        count = self._counters.increment(key, utc_datetime(window_end + 60), amount=unsent)
        with self._lock:
            self._known[key] = count
        if count > self._limit:
            if len(self._blocked) >= _MAX_BLOCKED:
                self._blocked.clear()
            self._blocked[client] = window_end
            raise self._too_many(window_end, now)

    @staticmethod
    def _too_many(window_end: float, now: float) -> TooManyRequests:
        telemetry.count("RateLimited")
        return TooManyRequests(headers={"Retry-After": str(max(1, math.ceil(window_end - now)))})
