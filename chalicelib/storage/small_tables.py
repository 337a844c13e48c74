"""The small bookkeeping tables behind one-method interfaces (tests/contract holds them and
their in-memory twins in tests/support/memory/ to one suite). Their items expire by DynamoDB's TTL.
(The webhook's deliveries, which a poll never reads, are beside the webhook: webhook/deliveries.py.)

- `Counters` (rate-limits): an atomic increment, shared by every instance (rate limits,
  and the chatbot's words per region and month).
- `Draws` (chat-assignments): a value written once; later writers read the first.
- `TicketDeletions` (ticket-deletions): tickets to delete from Zammad later, by due time.
"""

from datetime import datetime
from typing import Protocol

from pynamodb.exceptions import PutError

from chalicelib.storage.conditions import delete_if
from chalicelib.storage.models import (
    ChatAssignmentRecord,
    RateLimitCounter,
    TicketDeletionRecord,
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
