"""Who is connected to which chat (docs/realtime.md): the WebSocket connections, each
subscribed to one channel, in DynamoDB with a TTL (API Gateway closes a connection after
two hours). A channel names a chat without its device id: a digest of region and device,
or the author chat's room.

Limits are places: a group (a chat, or one author) has a place item whose map holds the
connections that took a place; a place is taken by one conditional write on the map's size,
so simultaneous subscriptions never get past the limit (a count, then a write, would), and
each author has places of their own in the one author channel."""

import hashlib
from datetime import datetime
from typing import Any, Protocol

from pynamodb.attributes import MapAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.storage.conditions import condition_failed, delete_if
from chalicelib.storage.connection import table
from chalicelib.storage.models import OnDemand

AUTHOR_CHANNEL = "author"


class ChannelIndex(GlobalSecondaryIndex):
    """The connections subscribed to a channel (a chat, or the author chat)."""

    class Meta:
        index_name = "channel"
        projection = KeysOnlyProjection()

    channel = UnicodeAttribute(hash_key=True)


@table
class ConnectionRecord(Model):
    """A WebSocket connection and the channel it subscribed to (docs/realtime.md)."""

    base_table_name = "ws-connections"

    class Meta(OnDemand):
        table_name = "ws-connections"

    connection_id = UnicodeAttribute(hash_key=True)  # or "place#<group>": a group's places
    channel = UnicodeAttribute(null=True)  # absent on a place item: the index skips it
    group = UnicodeAttribute(null=True)  # whose places the connection takes one of
    client = UnicodeAttribute(null=True)  # the rate limiter's digest of its address ($connect)
    # A place item's taken places (connection id -> until, epoch s): its size is the limit.
    members: MapAttribute[str, Any] = MapAttribute(null=True)
    expires_at = TTLAttribute()  # API Gateway closes a connection after two hours

    channel_index = ChannelIndex()


def chat_channel(chat_key: str) -> str:
    return "chat:" + hashlib.sha256(chat_key.encode("utf-8")).hexdigest()[:32]


def place_key(group: str) -> str:
    return "place#" + group


class Connections(Protocol):
    def connected(self, connection_id: str, client: str, expires_at: datetime) -> None:
        """A new connection, with its client as the rate limiter counts it."""

    def client_of(self, connection_id: str) -> str | None: ...

    def add(
        self, connection_id: str, channel: str, expires_at: datetime, group: str, limit: int, now: float
    ) -> bool:
        """Subscribe the connection to the channel, taking one of the `limit` places of its
        `group` (a chat, or one author) in one conditional write, so no burst gets past the
        limit; False when none is free. A connection that subscribes again moves."""

    def remove(self, connection_id: str) -> bool:
        """Forget the connection (and free its place); whether it was known."""

    def of_channel(self, channel: str) -> list[str]:
        """The ids of the channel's connections."""


class DynamoConnections:
    def connected(self, connection_id: str, client: str, expires_at: datetime) -> None:
        ConnectionRecord(connection_id, client=client, expires_at=expires_at).save()

    def client_of(self, connection_id: str) -> str | None:
        record = _get(connection_id)
        return record.client if record is not None else None

    def add(
        self, connection_id: str, channel: str, expires_at: datetime, group: str, limit: int, now: float
    ) -> bool:
        previous = _get(connection_id)
        if not self._take_place(group, connection_id, limit, expires_at, now):
            return False
        if previous is not None and previous.group and previous.group != group:
            _free_place(previous.group, connection_id)
        client = previous.client if previous is not None else None
        ConnectionRecord(
            connection_id, channel=channel, group=group, client=client, expires_at=expires_at
        ).save()
        return True

    @staticmethod
    def _take_place(group: str, connection_id: str, limit: int, expires_at: datetime, now: float) -> bool:
        places = ConnectionRecord(place_key(group))
        freed = False
        for _attempt in range(3):
            try:
                places.update(
                    actions=[
                        ConnectionRecord.members[connection_id].set(expires_at.timestamp()),
                        ConnectionRecord.expires_at.set(expires_at),  # the latest connection's
                    ],
                    condition=ConnectionRecord.members.does_not_exist()
                    | (size(ConnectionRecord.members) < limit)
                    | ConnectionRecord.members[connection_id].exists(),
                )
                return True
            except UpdateError as error:
                if _no_places_yet(error):  # the group's first connection: make its item
                    if _first_place(group, connection_id, expires_at):
                        return True
                    continue  # another made it meanwhile: take a place in it
                if not condition_failed(error):
                    raise
            if freed or not _free_expired(group, now):
                return False  # every place is taken
            freed = True
        return False

    def remove(self, connection_id: str) -> bool:
        record = _get(connection_id)
        if record is None or not delete_if(record, ConnectionRecord.connection_id.exists()):
            return False
        if record.group:
            _free_place(record.group, connection_id)
        return True

    def of_channel(self, channel: str) -> list[str]:
        return [hit.connection_id for hit in ConnectionRecord.channel_index.query(channel)]


def _get(connection_id: str) -> ConnectionRecord | None:
    try:
        return ConnectionRecord.get(connection_id)
    except ConnectionRecord.DoesNotExist:
        return None


def _no_places_yet(error: UpdateError) -> bool:
    # DynamoDB refuses to set a key of a map that does not exist (no item yet).
    return getattr(error, "cause_response_code", None) == "ValidationException" and "document path" in (
        getattr(error, "cause_response_message", "") or ""
    )


def _first_place(group: str, connection_id: str, expires_at: datetime) -> bool:
    record = ConnectionRecord(
        place_key(group), members={connection_id: expires_at.timestamp()}, expires_at=expires_at
    )
    try:
        record.save(condition=ConnectionRecord.connection_id.does_not_exist())
    except PutError as error:
        if not condition_failed(error):
            raise
        return False
    return True


def _free_place(group: str, connection_id: str) -> None:
    try:
        ConnectionRecord(place_key(group)).update(
            actions=[ConnectionRecord.members[connection_id].remove()],
            condition=ConnectionRecord.connection_id.exists(),
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise


def _free_expired(group: str, now: float) -> bool:
    """Free the places of connections that ended without a word (their TTL); whether any."""
    places = _get(place_key(group))
    if places is None or places.members is None:
        return False
    expired = [cid for cid, until in places.members.as_dict().items() if until < now]
    if not expired:
        return False
    places.update(actions=[ConnectionRecord.members[cid].remove() for cid in expired])
    return True
