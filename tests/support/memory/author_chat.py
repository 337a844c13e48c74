"""The author chat's tables in memory: `AuthorMessages` and `AuthorVisits` kept in dicts
(tests/contract holds them to the DynamoDB stores' promises)."""

import threading
from datetime import datetime

from chalicelib.author_chat.store import AuthorMessageRecord, DuplicateMessage


class MemoryAuthorMessages:
    def __init__(self) -> None:
        self._messages: dict[str, AuthorMessageRecord] = {}
        self._lock = threading.Lock()

    def add(self, message: AuthorMessageRecord) -> None:
        with self._lock:
            if message.message_id in self._messages:
                raise DuplicateMessage(message.message_id)
            self._messages[message.message_id] = message

    def page(self, above: str, below: str | None, limit: int) -> tuple[list[AuthorMessageRecord], int]:
        with self._lock:
            ids = sorted(
                (i for i in self._messages if i > above and (below is None or i < below)), reverse=True
            )
            found = [self._messages[i] for i in ids[:limit]]
        return found, len(found)

    def count(self, above: str, not_sender: str) -> int:
        with self._lock:
            return sum(1 for i, m in self._messages.items() if i > above and m.sender_id != not_sender)

    def get(self, message_id: str) -> AuthorMessageRecord | None:
        with self._lock:
            return self._messages.get(message_id)

    def delete(self, message_id: str) -> None:
        with self._lock:
            self._messages.pop(message_id, None)

    def purge(self, below: str) -> int:
        with self._lock:
            expired = [i for i in self._messages if i < below]
            for message_id in expired:
                del self._messages[message_id]
        return len(expired)


class MemoryAuthorVisits:
    def __init__(self) -> None:
        self._visits: dict[str, datetime] = {}

    def last_visit(self, user_id: str) -> datetime | None:
        return self._visits.get(user_id)

    def record_visit(self, user_id: str, at: datetime) -> None:
        self._visits[user_id] = at
