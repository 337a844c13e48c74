"""The user-chat table's item (`UserChatRecord`: a chat of a device in a region, with its
messages) and what names and makes one: its keys, a new chat's claim. store.py writes it."""

import uuid
from typing import Any, NamedTuple, TypeGuard

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.platform.times import utc_datetime
from chalicelib.storage.connection import table
from chalicelib.storage.models import OnDemand, StoredAttachment
from chalicelib.user_chat.states import ChatState


class TicketIndex(GlobalSecondaryIndex):
    """Finds a chat by its Zammad ticket (for the webhook); ticket ids are per Zammad, so the
    key is "<region>#<ticket id>"."""

    class Meta:
        index_name = "ticket"
        projection = KeysOnlyProjection()

    ticket_key = UnicodeAttribute(hash_key=True)


class ActivityIndex(GlobalSecondaryIndex):
    """A region's chats by last activity: the expired ones are a key-range query, not a scan."""

    class Meta:
        index_name = "activity"
        projection = KeysOnlyProjection()

    region_slug = UnicodeAttribute(hash_key=True)
    last_activity = NumberAttribute(range_key=True)


class StoredMessage(MapAttribute):
    """One message of a user chat as the app shows it (a Zammad article, mapped)."""

    id = NumberAttribute()
    content = UnicodeAttribute()
    role = UnicodeAttribute()  # "user" or "agent"
    automatic_answer = BooleanAttribute(default=False)
    created_at = UnicodeAttribute()
    attachments = ListAttribute(of=StoredAttachment, null=True)  # absent: none


@table
class UserChatRecord(Model):
    """The current chat of one device in one region, with its messages, in one item: a poll
    is one GetItem. `generation` counts the chats this device has had here; a new chat is
    claimed with a conditional write on it, so exactly one request creates the ticket.
    Every later write is conditional on the item (and its generation) still being there."""

    base_table_name = "user-chats"

    class Meta(OnDemand):
        table_name = "user-chats"

    chat_key = UnicodeAttribute(hash_key=True)  # "<region>#<device id>"
    region_slug = UnicodeAttribute()
    generation = NumberAttribute(default=1)
    state = UnicodeAttribute()  # a ChatState (chalicelib/user_chat/states.py)
    lease_id = UnicodeAttribute(null=True)  # the creating request's
    lease_until = NumberAttribute(null=True)  # epoch seconds; after it another may take over
    claimed_at = NumberAttribute(null=True)  # epoch seconds the ticket's creation began
    creating_mark = UnicodeAttribute(null=True)  # send mark of the message that opens the chat
    # Send marks ("t<digest of the text>" or "k<digest of an Idempotency-Key>") of messages
    # being sent now (mark -> lease end, epoch s), sent lately (mark -> when), and sent
    # without an answer (mark -> the highest article id known before: look above it).
    # `sending` holds every write to the ticket in flight: the chatbot's too ("b<job id>").
    sending: MapAttribute[str, Any] = MapAttribute(default=dict)
    sent: MapAttribute[str, Any] = MapAttribute(default=dict)
    unanswered: MapAttribute[str, Any] = MapAttribute(default=dict)
    # +1 whenever a write to the ticket begins; a deletion begins only if it is unchanged
    # since it saw no write in flight (docs/privacy.md, "Nothing after the deletion's note").
    writes_begun = NumberAttribute(null=True)
    deleting_until = NumberAttribute(null=True)  # a deletion's lease (epoch s): no write begins
    ticket_id = NumberAttribute(null=True)
    ticket_key = UnicodeAttribute(null=True)  # "<region>#<ticket id>", for TicketIndex
    language = UnicodeAttribute()
    evaluation_consent = BooleanAttribute(default=False)
    messages = ListAttribute(of=StoredMessage, default=list)
    # False once the messages outgrew DynamoDB's 400 KB item: from then on they are read
    # from Zammad on every request (a rare, very long chat).
    messages_stored = BooleanAttribute(default=True)
    messages_version = NumberAttribute(default=0)  # +1 on every change of `messages`
    messages_fetched_at = NumberAttribute(default=0)  # epoch seconds of the last Zammad read
    last_activity = NumberAttribute()  # epoch seconds of the last message sent
    expires_at = TTLAttribute()  # last activity + retention: DynamoDB forgets the chat
    # The chatbot answers while this is true (set when the chat opens, false once the bot
    # hands over to humans). `bot_jobs`: its queued jobs (job id -> queued at, epoch s):
    # the app's `chatbot_typing` while one is younger than the typing limit.
    automatic_answers = BooleanAttribute(default=False)
    bot_jobs: MapAttribute[str, Any] = MapAttribute(default=dict)
    # Imported from the Integreat CMS (migration/cms_import.py): the CMS's userchat pk and the
    # last activity as imported. A message sent here moves `last_activity` away from it; a
    # chat begun here has neither. A second import follows the CMS only where they are equal.
    cms_chat = NumberAttribute(null=True)
    cms_last_activity = NumberAttribute(null=True)
    # Push (chalicelib/push): the device's one target ({"kind": "fcm", "token"} or
    # {"kind": "web_push", "endpoint", "p256dh", "auth"}; personal data, so it lives and
    # goes with the chat), the newest agent's message a poll showed the device, and the
    # newest one a push went out for.
    push_target: MapAttribute[str, Any] = MapAttribute(null=True)
    push_seen = NumberAttribute(null=True)
    push_sent = NumberAttribute(null=True)

    ticket_index = TicketIndex()
    activity_index = ActivityIndex()


ASSIGNMENT_DAYS = 365  # a device's is_chat_enabled draw (keyed as its chat) is kept this long


def chat_key(region: str, device_id: str) -> str:
    return "%s#%s" % (region, device_id)


def ticket_key(region: str, ticket_id: int) -> str:
    return "%s#%d" % (region, ticket_id)


def usable(chat: UserChatRecord | None, now: float, retention_seconds: float) -> TypeGuard[UserChatRecord]:
    """An open chat that has not expired: what a poll shows, and all a job may work on (the
    one test of a chat's state every part makes: context.py, the chatbot, push)."""
    return chat is not None and chat.state == ChatState.OPEN and chat.last_activity + retention_seconds > now


def unseen_answers(chat: UserChatRecord) -> list[int]:
    """The ids of the agents' (and the chatbot's) messages no poll has shown the device yet."""
    seen = int(chat.push_seen or 0)
    return sorted(int(m.id) for m in chat.messages or [] if m.role == "agent" and int(m.id) > seen)


def highest_article_id(chat: UserChatRecord) -> int:
    """The newest article the chat knows of (0: none): a write that went unanswered is
    looked for above it."""
    return max((int(message.id) for message in chat.messages or []), default=0)


def deleting(chat: UserChatRecord, now: float) -> bool:
    return chat.deleting_until is not None and chat.deleting_until >= now


class NewChat(NamedTuple):
    """What a request claiming a new chat asks for: the chat's key, its language and the
    evaluation consent, the mark of the message that opens it (marks.py), and whether the
    chatbot answers it."""

    key: str
    language: str
    consent: bool | None
    mark: str
    automatic_answers: bool = False


def new_claim(
    new: NewChat, previous: UserChatRecord | None, now: float, lease_seconds: float, retention_seconds: float
) -> UserChatRecord:
    """The item of a chat being created (`ChatState.CREATING`, under a fresh lease)."""
    return UserChatRecord(
        new.key,
        region_slug=new.key.split("#", 1)[0],
        state=ChatState.CREATING,
        generation=(previous.generation + 1) if previous else 1,
        lease_id=uuid.uuid4().hex,
        lease_until=now + lease_seconds,
        claimed_at=now,
        creating_mark=new.mark,
        language=new.language,
        evaluation_consent=bool(new.consent),
        messages=[],
        last_activity=now,
        expires_at=utc_datetime(now + retention_seconds),
        automatic_answers=new.automatic_answers,
        bot_jobs={},
    )
