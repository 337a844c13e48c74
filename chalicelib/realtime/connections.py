"""Who is connected to which chat (docs/realtime.md): the WebSocket connections, each
subscribed to one channel, in DynamoDB with a TTL (API Gateway closes a connection after
two hours). A channel names a chat without its device id: a digest of region and device,
or the author chat's room."""

import hashlib
import threading
from datetime import datetime
from typing import Protocol

from chalicelib.storage.conditions import delete_if
from chalicelib.storage.models import ConnectionRecord

AUTHOR_CHANNEL = "author"


def chat_channel(chat_key: str) -> str:
    return "chat:" + hashlib.sha256(chat_key.encode("utf-8")).hexdigest()[:32]


class Connections(Protocol):
    def add(self, connection_id: str, channel: str, expires_at: datetime) -> None: ...

    def remove(self, connection_id: str) -> bool:
        """Forget the connection; whether it was known."""

    def of_channel(self, channel: str) -> list[str]:
        """The ids of the channel's connections."""


class DynamoConnections:
    def add(self, connection_id: str, channel: str, expires_at: datetime) -> None:
        ConnectionRecord(connection_id, channel=channel, expires_at=expires_at).save()

    def remove(self, connection_id: str) -> bool:
        return delete_if(ConnectionRecord(connection_id), ConnectionRecord.connection_id.exists())

    def of_channel(self, channel: str) -> list[str]:
        return [hit.connection_id for hit in ConnectionRecord.channel_index.query(channel)]


class MemoryConnections:
    def __init__(self) -> None:
        self._channels: dict[str, str] = {}  # connection id -> channel
        self._lock = threading.Lock()

    def add(self, connection_id: str, channel: str, expires_at: datetime) -> None:
        with self._lock:
            self._channels[connection_id] = channel

    def remove(self, connection_id: str) -> bool:
        with self._lock:
            return self._channels.pop(connection_id, None) is not None

    def of_channel(self, channel: str) -> list[str]:
        with self._lock:
            return sorted(cid for cid, name in self._channels.items() if name == channel)
