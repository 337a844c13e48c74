"""What happened, told in process: a feature publishes an event after it stored something,
and whoever cares (Services subscribes the real-time channel and push) is called.
The features then know nothing of who listens, and nothing is wired by setting attributes.

A subscriber that fails is logged and never fails the publisher: an event is told after the
store, which is what counts."""

import json
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

log = logging.getLogger("integreat_chat")


class ChatChanged(NamedTuple):
    """A user chat's poll answers differently now (a message stored, typing ended)."""

    chat_key: str


class AnswerStored(NamedTuple):
    """An agent's reply or an automatic answer joined a user chat's messages (`chat`: its
    record as it was read), which its device may not have seen yet (push listens)."""

    chat: Any
    article_id: int


class ChatDeleted(NamedTuple):
    """A user chat was deleted on request."""

    chat_key: str


class AuthorChatChanged(NamedTuple):
    """An author message was posted or deleted (`change`: "posted" or "deleted")."""

    change: str
    message_id: str


class Events:
    def __init__(self) -> None:
        self._subscribers: dict[type, list[Callable[[Any], object]]] = {}

    def subscribe(self, kind: type, handler: Callable[[Any], object]) -> None:
        self._subscribers.setdefault(kind, []).append(handler)

    def publish(self, event: Any) -> None:
        for handler in self._subscribers.get(type(event), []):
            try:
                handler(event)
            except Exception as error:
                log.error(
                    json.dumps({"event": type(event).__name__, "subscriber_failed": type(error).__name__})
                )
