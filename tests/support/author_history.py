"""A large author chat history for the scale test and `make bench`: many messages older
than the window yet still stored (their TTL in the future, as after the window was
shortened), and a few inside it."""

import secrets
from datetime import UTC, datetime

from chalicelib.author_chat.service import ROOM
from chalicelib.author_chat.store import AuthorMessageRecord

DAY = 86400


def seed(now: float, old: int = 10_000, recent: int = 50, window_days: int = 7) -> None:
    def record(sent: float) -> AuthorMessageRecord:
        return AuthorMessageRecord(
            ROOM,
            "%013d-%s" % (int(sent * 1000), secrets.token_hex(4)),
            text="message",
            sender_id="alice",
            sender_name="Alice",
            sender_email="alice@example.org",
            sent_at=datetime.fromtimestamp(sent, UTC),
            expires_at=datetime.fromtimestamp(now + 30 * DAY, UTC),
        )

    oldest = now - (window_days + 20) * DAY
    with AuthorMessageRecord.batch_write() as batch:
        for index in range(old):  # spread over the 20 days before the window
            batch.save(record(oldest + index * (20 * DAY / old)))
        for index in range(recent):  # in the last hour
            batch.save(record(now - 3600 + index * 60))
