"""Send marks: how a resend is told from a new message (docs/behaviour.md, "Resends").

Every message the app user sends has a mark, the digest of its `Idempotency-Key` when it
sent one, else of its text. The chat item keeps the marks being sent (`sending`), sent
(`sent`) and sent but unanswered (`unanswered`). A mark's kind decides how long it counts:
the same Idempotency-Key is that message for a day; the same text only for
RESEND_GRACE_SECONDS after it was sent (a double tap, or a copy that raced the first),
since people do write "yes" twice.
"""

import hashlib

RESEND_GRACE_SECONDS = 5
TEXT_MARK_SECONDS = 300  # how long a sent text's mark is kept: for requests that waited on it
KEY_MARK_SECONDS = 86400  # how long an Idempotency-Key is honoured


class SendMark(str):
    """A mark as stored in the chat item ("k…" of a key, "t…" of a text)."""

    __slots__ = ()

    @classmethod
    def of(cls, text: str, idempotency_key: str | None) -> "SendMark":
        if idempotency_key is not None:
            return cls("k" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40])
        return cls("t" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40])

    @property
    def of_key(self) -> bool:
        return self.startswith("k")

    @property
    def kept_seconds(self) -> int:
        """How long the item keeps this mark once sent."""
        return KEY_MARK_SECONDS if self.of_key else TEXT_MARK_SECONDS

    def repeat_after(self, now: float) -> float | None:
        """Sent before this time, the same message may be sent again (None: never again)."""
        return None if self.of_key else now - RESEND_GRACE_SECONDS

    def expired(self, sent_at: float, now: float) -> bool:
        """Whether a mark sent at `sent_at` may be dropped from the item now."""
        return now - sent_at > self.kept_seconds
