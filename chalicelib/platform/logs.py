"""Logging set-up shared by the entry points: our JSON lines at INFO, through whatever
handler the platform installed (Lambda's, `chalice local`'s), or stderr when there is none.

Nothing personal is logged (docs/privacy.md, "Nothing personal in logs"): our lines name
route templates, never paths, bodies, device ids, IPs or tokens; where a line must let
lines of one chat be told apart it carries `chat_digest`, keyed so that it cannot be
turned back into a device id. urllib3's own warnings are silenced: a retried request's
warning prints its URL, and Zammad's search URL holds a device id.
"""

import hashlib
import hmac
import logging

from chalicelib.platform import tracing


class TraceIdFilter(logging.Filter):
    """Adds the current trace (platform/tracing.py) to our JSON lines as `trace_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        trace_id = tracing.current()
        message = record.msg
        is_ours = isinstance(message, str) and message.startswith("{") and message.endswith("}")
        if trace_id and is_ours and '"trace_id"' not in message:
            # The id's shape (tracing.TRACE_ID) needs no escaping in JSON.
            separator = ", " if message.strip("{} ") else ""
            record.msg = '%s%s"trace_id": "%s"}' % (message[:-1], separator, trace_id)
        return True


_TRACE_IDS = TraceIdFilter()


def configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(message)s")
    ours = logging.getLogger("integreat_chat")
    ours.setLevel(logging.INFO)
    if _TRACE_IDS not in ours.filters:
        ours.addFilter(_TRACE_IDS)
    logging.getLogger("urllib3").setLevel(logging.ERROR)


def chat_digest(key: str, chat_key: str) -> str:
    """A chat's name for log lines: an HMAC of its key (region and device id) under `key`
    (the region's Zammad token), stable for correlation, useless without the token."""
    return hmac.new(key.encode("utf-8"), b"log\n" + chat_key.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
