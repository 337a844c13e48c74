"""The small bookkeeping tables behind one-method interfaces, each with an in-memory twin
that keeps the same promises (tests/contract runs one suite against both, and DynamoDB
Local). Their items expire by DynamoDB's TTL; the twins keep everything (a test's life).

- `Counters` (rate-limits): an atomic increment, shared by every instance (rate limits,
  and the chatbot's words per region and month).
- `Draws` (chat-assignments): a value written once; later writers read the first.
- `Deliveries` (webhook-deliveries): ids remembered for a while.
- `TicketDeletions` (ticket-deletions): tickets to delete from Zammad later, by due time.
"""

import threading
from datetime import datetime
from typing import Protocol

from pynamodb.exceptions import PutError

from chalicelib.storage.conditions import delete_if
from chalicelib.storage.models import (
    ChatAssignmentRecord,
    RateLimitCounter,
    TicketDeletionRecord,
    WebhookDeliveryRecord,
)


class Counters(Protocol):
    def increment(self, key: str, expires_at: datetime, amount: int = 1) -> int:
        """Add to the counter (created at 0) and return its new value, atomically."""

    def value(self, key: str) -> int:
        """The counter's value (0 when it does not exist)."""


class Draws(Protocol):
    def get(self, key: str) -> bool | None: ...

    def draw_once(self, key: str, value: bool, expires_at: datetime) -> bool:
        """Store the value unless one is stored; the value stored either way."""

    def forget(self, key: str) -> bool:
        """Delete the draw; whether there was one."""


class Deliveries(Protocol):
    def seen(self, key: str) -> bool: ...

    def remember(self, key: str, expires_at: datetime) -> None: ...


class TicketDeletions(Protocol):
    def schedule(self, region: str, ticket_id: int, delete_after: float, expires_at: datetime) -> None: ...

    def due(self, region: str, now: float) -> list[int]:
        """The region's tickets whose time has come, oldest first."""

    def done(self, region: str, ticket_id: int) -> None: ...


class DynamoCounters:
    def increment(self, key: str, expires_at: datetime, amount: int = 1) -> int:
        counter = RateLimitCounter(key)
        counter.update(
            actions=[RateLimitCounter.requests.add(amount), RateLimitCounter.expires_at.set(expires_at)]
        )
        return int(counter.requests)

    def value(self, key: str) -> int:
        try:
            return int(RateLimitCounter.get(key).requests)
        except RateLimitCounter.DoesNotExist:
            return 0


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


class DynamoDraws:
    def get(self, key: str) -> bool | None:
        try:
            return bool(ChatAssignmentRecord.get(key).enabled)
        except ChatAssignmentRecord.DoesNotExist:
            return None

    def draw_once(self, key: str, value: bool, expires_at: datetime) -> bool:
        record = ChatAssignmentRecord(key, enabled=value, expires_at=expires_at)
        try:
            record.save(condition=ChatAssignmentRecord.assignment_key.does_not_exist())
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            return bool(ChatAssignmentRecord.get(key, consistent_read=True).enabled)
        return value

    def forget(self, key: str) -> bool:
        return delete_if(ChatAssignmentRecord(key), ChatAssignmentRecord.assignment_key.exists())


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


class DynamoDeliveries:
    def seen(self, key: str) -> bool:
        try:
            WebhookDeliveryRecord.get(key)
            return True
        except WebhookDeliveryRecord.DoesNotExist:
            return False

    def remember(self, key: str, expires_at: datetime) -> None:
        WebhookDeliveryRecord(key, expires_at=expires_at).save()


class DynamoTicketDeletions:
    def schedule(self, region: str, ticket_id: int, delete_after: float, expires_at: datetime) -> None:
        TicketDeletionRecord(
            "%s#%d" % (region, ticket_id),
            region_slug=region,
            ticket_id=ticket_id,
            delete_after=delete_after,
            expires_at=expires_at,
        ).save()

    def due(self, region: str, now: float) -> list[int]:
        hits = TicketDeletionRecord.due_index.query(region, TicketDeletionRecord.delete_after <= now)
        return [int(hit.deletion_key.rpartition("#")[2]) for hit in hits]

    def done(self, region: str, ticket_id: int) -> None:
        TicketDeletionRecord("%s#%d" % (region, ticket_id)).delete()


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
