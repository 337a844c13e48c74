"""Per-client rate limit of the app endpoints (SPEC §8), counted in DynamoDB so that every
instance shares it: one atomic UpdateItem per request on a fixed-window counter."""
import hashlib
import math
from typing import Callable

from .config import Settings
from .errors import TooManyRequests
from .http import Request
from .storage.models import RateLimitCounter
from .times import utc_datetime


class RateLimiter:
    def __init__(self, settings: Settings, clock: Callable[[], float]):
        self._limit = settings.rate_limit_requests
        self._window = settings.rate_limit_window_minutes * 60
        self._header = settings.trusted_ip_header
        self._clock = clock

    def client_ip(self, request: Request) -> str:
        """The connection's source IP, or the first value of the trusted header. Without
        that header a request shares one bucket with every other such request, so leaving
        the header out is no way around the limit."""
        if not self._header:
            return request.source_ip or "unknown"
        value = (request.header(self._header) or "").split(",")[0].strip()
        return value or "missing %s" % self._header

    def check(self, request: Request) -> None:
        now = self._clock()
        window_start = int(now // self._window * self._window)
        # Only a digest of the IP is stored, and only until its window is over.
        client = hashlib.sha256(self.client_ip(request).encode("utf-8")).hexdigest()[:32]
        counter = RateLimitCounter("%s#%d" % (client, window_start))
        window_end = window_start + self._window
        counter.update(actions=[
            RateLimitCounter.count.add(1),
            RateLimitCounter.expires_at.set(utc_datetime(window_end + 60)),
        ])
        if counter.count > self._limit:
            retry_after = max(1, math.ceil(window_end - now))
            raise TooManyRequests(headers={"Retry-After": str(retry_after)})
