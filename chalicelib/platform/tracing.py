"""One trace id per message's way (docs/operating.md, "Following one message"): the request
that stores a message makes it (its X-Request-Id), and it travels with the message through
the chatbot's queue (the job's `trace_id`), the Zammad article (its `message_id`, which
Zammad keeps and sends back in the webhook's payload), the webhook and the real-time event.
Every log line written meanwhile carries it as `trace_id` (platform/logs.py adds it): an id
of our making, never the device id or the text.
"""

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager

TRACE_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}\Z")  # X-Request-Id's shape: safe in JSON and mail headers
# Text, compiled by re on first use: a poll reads no article's Message-ID.
_ARTICLE_MESSAGE_ID = r"^<([A-Za-z0-9._-]{8,128})@integreat-chat>\Z"

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)


def current() -> str | None:
    return _current.get()


@contextmanager
def traced(trace_id: str | None) -> Iterator[None]:
    """The block's work belongs to this trace (an id of another shape is ignored)."""
    token = _current.set(trace_id if isinstance(trace_id, str) and TRACE_ID.match(trace_id) else None)
    try:
        yield
    finally:
        _current.reset(token)


def article_message_id() -> str | None:
    """The Zammad article's `message_id` that carries the current trace (None: no trace)."""
    trace_id = _current.get()
    return "<%s@integreat-chat>" % trace_id if trace_id else None


def from_article(article: object) -> str | None:
    """The trace an article of ours carries (an agent's article carries none)."""
    value = article.get("message_id") if isinstance(article, dict) else None
    found = re.match(_ARTICLE_MESSAGE_ID, value) if isinstance(value, str) else None
    return found.group(1) if found else None
