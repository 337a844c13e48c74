"""The author chat's two tables behind small interfaces (their in-memory twins, held to the
same promises by tests/contract, live in tests/support/memory/).

`author-messages`: one partition (the room), sorted by message id, which starts with the
send time, so every read here is a key range, never a scan. `author-visits`: when each
author last read the chat."""

from datetime import datetime
from typing import Protocol

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.storage.connection import table
from chalicelib.storage.models import OnDemand

ROOM = "room"


@table
class AuthorMessageRecord(Model):
    """A message of the author chat. All messages share one partition (one room), sorted by
    `message_id`, which starts with the send time: the history is one key-range query that
    reads only the window, newest first. See docs/behaviour.md, "Author chat"."""

    base_table_name = "author-messages"

    class Meta(OnDemand):
        table_name = "author-messages"

    room = UnicodeAttribute(hash_key=True)
    message_id = UnicodeAttribute(range_key=True)  # "<send time, ms, 13 digits>-<8 hex>"
    text = UnicodeAttribute()
    sender_id = UnicodeAttribute()
    sender_name = UnicodeAttribute()
    sender_email = UnicodeAttribute(default="")
    sent_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()  # send time + history window: DynamoDB deletes it


@table
class AuthorVisitRecord(Model):
    """When an author last read the chat (`POST /author-chat/read`): what is unread."""

    base_table_name = "author-visits"

    class Meta(OnDemand):
        table_name = "author-visits"

    user_id = UnicodeAttribute(hash_key=True)
    last_visited_at = UTCDateTimeAttribute()


class DuplicateMessage(Exception):
    """A message with this id exists already."""


class AuthorMessages(Protocol):
    def add(self, message: AuthorMessageRecord) -> None:
        """Store a new message; `DuplicateMessage` if its id is taken."""

    def page(self, above: str, below: str | None, limit: int) -> tuple[list[AuthorMessageRecord], int]:
        """Up to `limit` messages with `above < id < below` (no upper bound without
        `below`), newest first, and how many items the store read for them."""

    def count(self, above: str, not_sender: str) -> int:
        """How many messages above that id were sent by someone else."""

    def get(self, message_id: str) -> AuthorMessageRecord | None: ...

    def delete(self, message_id: str) -> None: ...

    def purge(self, below: str) -> int:
        """Delete every message below that id; how many."""


class AuthorVisits(Protocol):
    def last_visit(self, user_id: str) -> datetime | None: ...

    def record_visit(self, user_id: str, at: datetime) -> None: ...


class DynamoAuthorMessages:
    def add(self, message: AuthorMessageRecord) -> None:
        try:
            message.save(condition=AuthorMessageRecord.message_id.does_not_exist())
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise DuplicateMessage(message.message_id) from None
            raise

    def page(self, above: str, below: str | None, limit: int) -> tuple[list[AuthorMessageRecord], int]:
        start = {"room": {"S": ROOM}, "message_id": {"S": below}} if below else None
        results = AuthorMessageRecord.query(
            ROOM,
            AuthorMessageRecord.message_id > above,
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=start,
        )
        records = list(results)
        return records, results.page_iter.total_scanned_count

    def count(self, above: str, not_sender: str) -> int:
        return AuthorMessageRecord.count(
            ROOM,
            AuthorMessageRecord.message_id > above,
            filter_condition=AuthorMessageRecord.sender_id != not_sender,
        )

    def get(self, message_id: str) -> AuthorMessageRecord | None:
        try:
            return AuthorMessageRecord.get(ROOM, message_id)
        except AuthorMessageRecord.DoesNotExist:
            return None

    def delete(self, message_id: str) -> None:
        AuthorMessageRecord(ROOM, message_id).delete()

    def purge(self, below: str) -> int:
        expired = AuthorMessageRecord.query(
            ROOM, AuthorMessageRecord.message_id < below, attributes_to_get=["room", "message_id"]
        )
        count = 0
        with AuthorMessageRecord.batch_write() as batch:
            for record in expired:
                batch.delete(record)
                count += 1
        return count


class DynamoAuthorVisits:
    def last_visit(self, user_id: str) -> datetime | None:
        try:
            return AuthorVisitRecord.get(user_id).last_visited_at
        except AuthorVisitRecord.DoesNotExist:
            return None

    def record_visit(self, user_id: str, at: datetime) -> None:
        AuthorVisitRecord(user_id, last_visited_at=at).save()
