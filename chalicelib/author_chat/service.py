"""The author chat (SPEC §5): one room for CMS authors, only the last
`AUTHOR_CHAT_HISTORY_DAYS` ever shown.

The window is enforced twice: the history is a key-range query on the send time (message
ids start with it), so it reads only messages inside the window however many older ones
the table still holds; and every message carries a TTL so DynamoDB deletes it afterwards.
"""

import base64
import binascii
import json
import re
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.author_chat.store import (
    ROOM,
    AuthorMessageRecord,
    AuthorMessages,
    AuthorVisits,
)
from chalicelib.author_chat.views import AuthorMessageView, DeletedView, HistoryView, ReadView
from chalicelib.platform.auth import Principal
from chalicelib.platform.config import Settings
from chalicelib.platform.events import AuthorChatChanged, Events
from chalicelib.platform.times import iso_utc, utc_datetime
from chalicelib.web.errors import BadRequest, Forbidden, NotFound
from chalicelib.web.http import parse_json

MAX_TEXT_CHARACTERS = 10_000
_MESSAGE_ID = re.compile(r"^[0-9]{13}-[0-9a-f]{8}\Z")


def _key_at(seconds: float, after_all: bool = False) -> str:
    """The smallest message id of that millisecond, or (after_all) one above all of them."""
    return "%013d-%s" % (int(seconds * 1000), "~" if after_all else "")


def encode_cursor(message_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"m": message_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        value = parse_json(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        message_id = value["m"]
    except (BadRequest, ValueError, TypeError, KeyError, binascii.Error):
        raise BadRequest("Invalid cursor.") from None
    if not isinstance(message_id, str) or not _MESSAGE_ID.match(message_id):
        raise BadRequest("Invalid cursor.")
    return message_id


class AuthorChat:
    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float],
        messages: AuthorMessages,
        visits: AuthorVisits,
        events: Events | None = None,
    ):
        self.history_days = settings.author_chat_history_days
        self._clock = clock
        self._messages = messages
        self._visits = visits
        self._events = events or Events()  # AuthorChatChanged after each post and deletion

    def window_start(self) -> float:
        return self._clock() - self.history_days * 86400

    # --- the API ----------------------------------------------------------------------
    def post(self, author: Principal, text: Any) -> AuthorMessageView:
        text = text.strip() if isinstance(text, str) else ""
        if not 1 <= len(text) <= MAX_TEXT_CHARACTERS:
            raise BadRequest("text must be 1 to %d characters." % MAX_TEXT_CHARACTERS)
        now = self._clock()
        record = AuthorMessageRecord(
            ROOM,
            "%013d-%s" % (int(now * 1000), secrets.token_hex(4)),
            text=text,
            sender_id=author.sub,
            sender_name=author.name,
            sender_email=author.email,
            sent_at=utc_datetime(now),
            expires_at=utc_datetime(now + self.history_days * 86400),
        )
        self._messages.add(record)  # a new id: 8 random hex digits within one millisecond
        self._events.publish(AuthorChatChanged("posted", record.message_id))
        return self._view(record, author, unread_after=None)

    def history(self, reader: Principal, limit: int, cursor: str | None) -> HistoryView:
        page, next_id, _scanned = self.read_page(limit, decode_cursor(cursor) if cursor else None)
        visited = self._last_visit(reader.sub)
        unread_after = _key_at(visited.timestamp(), after_all=True) if visited else None
        if cursor is None and (next_id is None or (unread_after and page[-1].message_id <= unread_after)):
            unread_count = sum(1 for record in page if self._unread(record, reader, unread_after))
        else:  # the unread messages reach beyond this page: count them (a COUNT query)
            unread_count = self.count_unread(reader, unread_after)
        return {
            "messages": [self._view(record, reader, unread_after) for record in page],
            "unread_count": unread_count,
            "last_visited_at": iso_utc(visited) if visited else None,
            "history_days": self.history_days,
            "next_cursor": encode_cursor(next_id) if next_id else None,
        }

    def read_page(self, limit: int, before_id: str | None):
        """(messages newest first, id to continue before or None, items DynamoDB read)."""
        lower = _key_at(self.window_start())
        if before_id is not None and before_id <= lower:
            return [], None, 0
        # One more than asked for tells whether there is a next page without an empty one.
        records, scanned = self._messages.page(lower, before_id, limit + 1)
        next_id = records[limit - 1].message_id if len(records) > limit else None
        return records[:limit], next_id, scanned

    def count_unread(self, reader: Principal, unread_after: str | None) -> int:
        lower = max(_key_at(self.window_start()), unread_after or "")
        return self._messages.count(lower, not_sender=reader.sub)

    def mark_read(self, reader: Principal) -> ReadView:
        previous = self._last_visit(reader.sub)
        now = utc_datetime(self._clock())
        self._visits.record_visit(reader.sub, now)
        return {
            "last_visited_at": iso_utc(now),
            "previous_visited_at": iso_utc(previous) if previous else None,
        }

    def delete(self, caller: Principal, message_id: str) -> DeletedView:
        record = self._find(message_id)
        if record.sender_id != caller.sub and not caller.has_role("admin"):
            raise Forbidden("Only the sender or an admin may delete this message.")
        self._messages.delete(record.message_id)
        self._events.publish(AuthorChatChanged("deleted", record.message_id))
        return {"success": True, "status": "The chat message was successfully deleted."}

    # --- upkeep -----------------------------------------------------------------------
    def purge_expired(self) -> int:
        """Delete the messages older than the window (DynamoDB's TTL does this in AWS, late;
        moto never does). A key-range query on the send time: no table scan."""
        return self._messages.purge(_key_at(self.window_start()))

    # --- helpers ----------------------------------------------------------------------
    def _find(self, message_id: str) -> AuthorMessageRecord:
        if not _MESSAGE_ID.match(message_id) or message_id <= _key_at(self.window_start()):
            raise NotFound("Chat message not found.")
        record = self._messages.get(message_id)
        if record is None:
            raise NotFound("Chat message not found.")
        return record

    def _last_visit(self, user_id: str) -> datetime | None:
        return self._visits.last_visit(user_id)

    @staticmethod
    def _unread(record: AuthorMessageRecord, reader: Principal, unread_after: str | None) -> bool:
        return record.sender_id != reader.sub and (unread_after is None or record.message_id > unread_after)

    def _view(
        self, record: AuthorMessageRecord, reader: Principal, unread_after: str | None
    ) -> AuthorMessageView:
        return {
            "id": record.message_id,
            "text": record.text,
            "sent_at": iso_utc(record.sent_at),
            "sender": {"id": record.sender_id, "name": record.sender_name, "email": record.sender_email},
            "unread": self._unread(record, reader, unread_after),
            "can_delete": record.sender_id == reader.sub or reader.has_role("admin"),
        }
