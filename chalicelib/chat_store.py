"""Storage of the user chats: one DynamoDB item per chat of a device in a region, with
its messages, and the conditional writes that keep it consistent when requests race
(claiming a new chat, sending, refreshing from Zammad, the webhook, the clean-up job)."""
import uuid
from typing import Any, Dict, List, Optional

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from .config import Settings
from .storage.models import StoredMessage, UserChatRecord
from .times import utc_datetime


def chat_key(region: str, device_id: str) -> str:
    return "%s#%s" % (region, device_id)


def ticket_key(region: str, ticket_id: int) -> str:
    return "%s#%d" % (region, ticket_id)


def condition_failed(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def too_large(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ValidationException" and \
        "size" in (getattr(error, "cause_response_message", "") or "").lower()


def _delete_if(record: UserChatRecord, condition) -> bool:
    """Delete the item if the condition holds; False if it did not (or the item is gone)."""
    try:
        record.delete(condition=condition)
        return True
    except DeleteError as error:
        if not condition_failed(error):
            raise
        return False


class ChatStore:
    """The chat items and the conditional writes that keep them consistent."""

    def __init__(self, settings: Settings):
        self.retention_seconds = settings.ticket_retention_days * 86400

    def get(self, key: str) -> Optional[UserChatRecord]:
        try:
            return UserChatRecord.get(key, consistent_read=True)
        except UserChatRecord.DoesNotExist:
            return None

    def claim(self, key: str, previous: Optional[UserChatRecord], language: str,
              consent: Optional[bool], now: float, lease_seconds: float) -> Optional[UserChatRecord]:
        """Claim a new chat in place of `previous` (None: no item). None if another won."""
        record = UserChatRecord(
            key, region_slug=key.split("#", 1)[0], state="creating",
            generation=(previous.generation + 1) if previous else 1, lease_id=uuid.uuid4().hex, lease_until=now + lease_seconds, language=language,
            evaluation_consent=bool(consent), messages=[], last_activity=now,
            expires_at=utc_datetime(now + self.retention_seconds))
        if previous is None:
            condition = UserChatRecord.chat_key.does_not_exist()
        else:
            condition = UserChatRecord.generation == previous.generation
        try:
            record.save(condition=condition)
        except PutError as error:
            if condition_failed(error):
                return None
            raise
        return record

    def withdraw(self, claim: UserChatRecord) -> None:
        """Remove a claim whose ticket could not be created (unless someone took it over)."""
        _delete_if(claim, UserChatRecord.lease_id == claim.lease_id)

    def open(self, claim: UserChatRecord, ticket_id: int, message: Dict[str, Any], digest: str,
             now: float) -> None:
        claim.update(actions=[
            UserChatRecord.state.set("open"),
            UserChatRecord.ticket_id.set(ticket_id),
            UserChatRecord.ticket_key.set(ticket_key(claim.region_slug, ticket_id)),
            UserChatRecord.messages.set([message]),
            UserChatRecord.messages_version.add(1),
            UserChatRecord.messages_fetched_at.set(now),
            UserChatRecord.last_message_digest.set(digest),
            UserChatRecord.last_activity.set(now),
            UserChatRecord.expires_at.set(utc_datetime(now + self.retention_seconds)),
            UserChatRecord.lease_id.remove(),
            UserChatRecord.lease_until.remove(),
        ], condition=UserChatRecord.lease_id == claim.lease_id)

    def append(self, chat: UserChatRecord, message: Dict[str, Any], digest: str, now: float,
               language: str, consent: Optional[bool]) -> None:
        """Add a sent message (atomically: concurrent sends both stay) and the activity."""
        actions = [
            UserChatRecord.last_message_digest.set(digest),
            UserChatRecord.last_activity.set(now),
            UserChatRecord.expires_at.set(utc_datetime(now + self.retention_seconds)),
            UserChatRecord.language.set(language),
        ]
        if consent is not None:
            actions.append(UserChatRecord.evaluation_consent.set(consent))
        if not chat.messages_stored:
            chat.update(actions=actions)
            return
        try:
            chat.update(actions=actions + [
                UserChatRecord.messages.set(UserChatRecord.messages.append([message])),
                UserChatRecord.messages_version.add(1)])
        except UpdateError as error:
            if not too_large(error):
                raise
            chat.update(actions=actions + self._stop_storing())

    @staticmethod
    def _stop_storing() -> list:
        return [UserChatRecord.messages.set([]), UserChatRecord.messages_stored.set(False),
                UserChatRecord.messages_version.add(1)]

    def replace_messages(self, chat: UserChatRecord, messages: List[StoredMessage], now: float) -> None:
        """Store what Zammad said, unless a send changed the messages meanwhile."""
        try:
            chat.update(actions=[
                UserChatRecord.messages.set(messages),
                UserChatRecord.messages_version.add(1),
                UserChatRecord.messages_fetched_at.set(now),
            ], condition=UserChatRecord.messages_version == chat.messages_version)
        except UpdateError as error:
            if too_large(error):
                chat.update(actions=self._stop_storing())
            elif not condition_failed(error):
                raise
        chat.messages = messages  # answer with Zammad's list in any case

    def find_by_ticket(self, region: str, ticket_id: int) -> Optional[UserChatRecord]:
        """The open chat of a ticket (the index is read eventually consistent: the chat
        itself is then read consistently and checked)."""
        for hit in UserChatRecord.ticket_index.query(ticket_key(region, ticket_id), limit=1):
            chat = self.get(hit.chat_key)
            if chat is not None and chat.ticket_id == ticket_id:
                return chat
        return None

    def add_message(self, chat: UserChatRecord, message: StoredMessage) -> bool:
        """Add a message learnt from Zammad unless the chat has it; False if it had.
        Conditional on the messages' version, retried on a race: no message is lost."""
        for _attempt in range(5):
            if any(int(known.id) == int(message.id) for known in chat.messages):
                return False
            try:
                chat.update(actions=[
                    UserChatRecord.messages.set(list(chat.messages) + [message]),
                    UserChatRecord.messages_version.add(1),
                ], condition=UserChatRecord.messages_version == chat.messages_version)
                return True
            except UpdateError as error:
                if too_large(error):
                    chat.update(actions=self._stop_storing())
                    return True
                if not condition_failed(error):
                    raise
            fresh = self.get(chat.chat_key)
            if fresh is None or fresh.generation != chat.generation:
                return False
            chat = fresh
        raise RuntimeError("the chat's messages kept changing")

    def forget_inactive(self, region: str, inactive_since: float) -> int:
        """Delete the region's chats with no activity since then (an index range query);
        a chat that became active meanwhile is kept (conditional delete)."""
        hits = UserChatRecord.activity_index.query(region, UserChatRecord.last_activity < inactive_since)
        return sum(_delete_if(UserChatRecord(hit.chat_key), UserChatRecord.last_activity < inactive_since)
                   for hit in hits)

    def forget(self, chat: UserChatRecord) -> None:
        _delete_if(chat, UserChatRecord.generation == chat.generation)
