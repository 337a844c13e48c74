"""The real-time connections table in memory, places and limits included (tests/contract
holds it to `DynamoConnections`' promises)."""

import threading
from datetime import datetime


class MemoryConnections:
    def __init__(self) -> None:
        self._channels: dict[str, str] = {}  # connection id -> channel
        self._groups: dict[str, str] = {}  # connection id -> group
        self._places: dict[str, dict[str, float]] = {}  # group -> connection id -> until
        self._clients: dict[str, str] = {}  # connection id -> client
        self._lock = threading.Lock()

    def connected(self, connection_id: str, client: str, expires_at: datetime) -> None:
        with self._lock:
            self._clients[connection_id] = client

    def client_of(self, connection_id: str) -> str | None:
        with self._lock:
            return self._clients.get(connection_id)

    def add(
        self, connection_id: str, channel: str, expires_at: datetime, group: str, limit: int, now: float
    ) -> bool:
        with self._lock:
            places = self._places.setdefault(group, {})
            if connection_id not in places and len(places) >= limit:
                for cid in [cid for cid, until in places.items() if until < now]:
                    del places[cid]
                if len(places) >= limit:
                    return False
            places[connection_id] = expires_at.timestamp()
            previous = self._groups.get(connection_id)
            if previous is not None and previous != group:
                self._places.get(previous, {}).pop(connection_id, None)
            self._channels[connection_id], self._groups[connection_id] = channel, group
            return True

    def remove(self, connection_id: str) -> bool:
        with self._lock:
            self._clients.pop(connection_id, None)
            group = self._groups.pop(connection_id, None)
            if group is not None:
                self._places.get(group, {}).pop(connection_id, None)
            return self._channels.pop(connection_id, None) is not None

    def of_channel(self, channel: str) -> list[str]:
        with self._lock:
            return sorted(cid for cid, name in self._channels.items() if name == channel)
