"""Real-time delivery (docs/realtime.md): a WebSocket channel beside the polls, which stay.

A client connects, then subscribes with one message: a device to its chat (region,
language and device id, as its poll names them), an author to the author chat (its
token). When something the client would poll for changes (an agent's reply by the webhook,
the chatbot's answer, a later message of the device, which starts the chatbot's typing, the
chat's deletion, an author's post or deletion), every connection of that channel gets
one small event; the client then polls once, with its ETag. Events carry no content: the
poll stays the one way to the messages (links, typing and all), and an event is the same
few bytes whatever the chat holds.

Limits: a frame of at most 128 KB (API Gateway's), `WEBSOCKET_MESSAGES_PER_MINUTE` messages
per connection, `WEBSOCKET_CONNECTIONS_PER_CHAT` connections per chat and per author; a subscription to
a chat that does not exist, or with a bad token, is refused. A failed send never fails the
caller; a connection that is gone is forgotten.
"""

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from chalicelib.platform import telemetry, tracing
from chalicelib.platform.auth import Authenticator
from chalicelib.platform.times import utc_datetime
from chalicelib.realtime.connections import AUTHOR_CHANNEL, Connections, chat_channel
from chalicelib.realtime.sender import ConnectionSender
from chalicelib.storage.small_tables import Counters
from chalicelib.web.errors import ApiError, BadRequest
from chalicelib.web.http import Request, parse_json

log = logging.getLogger("integreat_chat")

MAX_FRAME_BYTES = 128 * 1024  # API Gateway's WebSocket frame limit
CONNECTION_SECONDS = 2 * 3600  # API Gateway closes a connection after two hours
_ROLES = ("author", "admin")


class Realtime:
    def __init__(
        self,
        connections: Connections,
        counters: Counters,
        sender: ConnectionSender | None,
        auth: Authenticator,
        clock: Callable[[], float],
        chat_of: Callable[[str, str, str], str | None],
        chat_etag: Callable[[str], str | None],
        per_chat: int = 5,
        per_minute: int = 30,
        limit_client: Callable[[str], None] = lambda _client: None,
        client_of: Callable[[Request], str] = lambda request: request.source_ip,
    ):
        """`chat_of(region, language, device)`: the chat's key when it exists (else None);
        `chat_etag(chat key)`: the ETag its poll would answer with now."""
        self._connections = connections
        self._counters = counters
        self._sender = sender
        self._auth = auth
        self._clock = clock
        self._chat_of = chat_of
        self._chat_etag = chat_etag
        self._per_chat = per_chat
        self._per_minute = per_minute
        # Counts one request of a client (the API's rate limiter): a connection and each
        # subscription count as the HTTP routes count, so subscribing is no faster way to
        # learn which chats exist than polling them.
        self._limit_client = limit_client
        self._client_of = client_of  # the digest the limiter counts a request's client as

    @property
    def enabled(self) -> bool:
        return self._sender is not None

    # --- a client's messages ----------------------------------------------------------
    def connected(self, connection_id: str, handshake: Request) -> bool:
        """A new connection (its handshake: only it carries the client's headers, e.g.
        X-Forwarded-For behind CloudFront); False when the client is over its limit (the
        connection is refused). Its client is kept for the limit of its subscriptions."""
        client = self._client_of(handshake)
        try:
            self._limit_client(client)
        except ApiError:
            return False
        self._connections.connected(
            connection_id, client, utc_datetime(self._clock() + CONNECTION_SECONDS + 600)
        )
        return True

    def received(self, connection_id: str, frame: bytes) -> dict[str, Any]:
        """The answer to one message of a client (sent back on its connection)."""
        if len(frame) > MAX_FRAME_BYTES:
            return _error("A message may be at most 128 KB.")
        minute = int(self._clock() // 60)
        counted = self._counters.increment(
            "ws#%s#%d" % (connection_id, minute), utc_datetime((minute + 2) * 60)
        )
        if counted > self._per_minute:
            return _error("Too many messages. Please try again later.")
        try:
            message = parse_json(frame)  # the HTTP bodies' parser: nesting and text checked
        except BadRequest:
            return _error("A message must be a JSON object.")
        if not isinstance(message, dict):
            return _error("A message must be a JSON object.")
        action = message.get("action")
        if action == "ping":
            return {"type": "pong"}
        if action != "subscribe":
            return _error('Send {"action": "subscribe", ...} or {"action": "ping"}.')
        try:
            client = self._connections.client_of(connection_id)
            if client is not None:
                self._limit_client(client)
            channel, group = self._channel(message)
        except ApiError as error:
            return _error(error.message)
        now = self._clock()
        expires_at = utc_datetime(now + CONNECTION_SECONDS + 600)
        if not self._connections.add(connection_id, channel, expires_at, group, self._per_chat, now):
            return _error("Too many connections to this chat.")
        return {"type": "subscribed", "channel": "author_chat" if channel == AUTHOR_CHANNEL else "chat"}

    def _channel(self, message: dict[str, Any]) -> tuple[str, str]:
        """The channel, and the group whose places limit it: the chat, or the author (every
        author has places of their own in the one author channel)."""
        if "token" in message:
            token = message["token"]
            if not isinstance(token, str):
                return _refuse("Authentication required.")
            author = self._auth.require("Bearer " + token, *_ROLES)  # 401/403 as the API's
            return AUTHOR_CHANNEL, "author:" + hashlib.sha256(author.sub.encode("utf-8")).hexdigest()[:32]
        region, language, device = (message.get(name) for name in ("region", "language", "device_id"))
        if not (isinstance(region, str) and isinstance(language, str) and isinstance(device, str)):
            return _refuse("Subscribe with region, language and device_id, or with an author's token.")
        key = self._chat_of(region, language, device)
        if key is None:
            return _refuse("Chat not found.")
        channel = chat_channel(key)
        return channel, channel

    def answer(self, connection_id: str, reply: dict[str, Any]) -> None:
        """Send a message's answer back on its connection (API Gateway: a separate post)."""
        self._send([connection_id], reply)

    def disconnected(self, connection_id: str) -> None:
        self._connections.remove(connection_id)

    # --- events -----------------------------------------------------------------------
    def chat_changed(self, chat_key: str) -> int:
        """Tell the chat's connections its poll's new ETag; how many were told."""
        return self._tell(chat_channel(chat_key), lambda: {"type": "chat", "etag": self._chat_etag(chat_key)})

    def chat_deleted(self, chat_key: str) -> int:
        """The chat was deleted on request: tell its connections (`etag` null; their poll
        is 404 now), then forget them."""
        return self._tell(chat_channel(chat_key), lambda: {"type": "chat", "etag": None}, forget=True)

    def author_changed(self, change: str, message_id: str) -> int:
        return self._tell(AUTHOR_CHANNEL, lambda: {"type": "author_chat", "change": change, "id": message_id})

    def _tell(self, channel: str, event: Callable[[], dict[str, Any]], forget: bool = False) -> int:
        """Send the event (made only when anyone listens) to the channel's connections, and
        forget them after if asked; how many were told. Never raises: a failed event never
        fails the webhook, the chatbot's job or the request that stored."""
        try:
            ids = self._connections.of_channel(channel)
            told = self._send(ids, event()) if ids else 0
            for connection_id in ids if forget else []:
                self._connections.remove(connection_id)
            return told
        except Exception as error:
            telemetry.count("RealtimeSends", Outcome="failed")
            log.warning(json.dumps({"event": "realtime_failed", "error": type(error).__name__}))
            return 0

    def _send(self, ids: list[str], event: dict[str, Any]) -> int:
        if self._sender is None:
            return 0
        trace_id = tracing.current()  # the message's way, followed to the client (docs/operating.md)
        data = json.dumps({**event, "trace_id": trace_id} if trace_id else event).encode("utf-8")
        told = 0
        for connection_id in ids:
            if self._sender.send(connection_id, data):
                told += 1
                telemetry.count("RealtimeSends", Outcome="sent")
            else:
                telemetry.count("RealtimeSends", Outcome="gone")
                self._connections.remove(connection_id)  # gone: API Gateway closed it
        return told


def _error(message: str) -> dict[str, Any]:
    return {"type": "error", "error": message}


def _refuse(message: str):
    raise ApiError(message)
