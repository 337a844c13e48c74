"""The small bookkeeping tables in memory (storage/small_tables.py): they keep everything
for a test's life, where DynamoDB's TTL would expire items."""

import threading
from datetime import datetime


class MemoryCounters:
    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def increment(self, key: str, expires_at: datetime, amount: int = 1) -> int:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + amount
            return self._counts[key]

    def value(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)


class MemoryDraws:
    def __init__(self) -> None:
        self._values: dict[str, bool] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bool | None:
        return self._values.get(key)

    def draw_once(self, key: str, value: bool, expires_at: datetime) -> bool:
        with self._lock:
            return self._values.setdefault(key, value)

    def forget(self, key: str) -> bool:
        with self._lock:
            return self._values.pop(key, None) is not None


class MemoryTicketDeletions:
    def __init__(self) -> None:
        self._due: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def schedule(self, region: str, ticket_id: int, delete_after: float, expires_at: datetime) -> None:
        with self._lock:
            self._due[(region, ticket_id)] = delete_after

    def due(self, region: str, now: float) -> list[int]:
        with self._lock:
            found = [(at, ticket) for (slug, ticket), at in self._due.items() if slug == region and at <= now]
        return [ticket for _at, ticket in sorted(found)]

    def done(self, region: str, ticket_id: int) -> None:
        with self._lock:
            self._due.pop((region, ticket_id), None)


class MemoryDeliveries:
    def __init__(self) -> None:
        self._keys: set[str] = set()

    def seen(self, key: str) -> bool:
        return key in self._keys

    def remember(self, key: str, expires_at: datetime) -> None:
        self._keys.add(key)
