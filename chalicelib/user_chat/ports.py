"""What the user chat asks of the features beside it, as it asks it: the chatbot (a job for
an app user's message, the typing flag) and the files (a message's links, a chat's files
forgotten). Services hands the real ones in; the user chat imports neither package, so the
chatbot and the files may import the user chat (tests/unit/test_layers.py: no circles).

And what the user chat hands the others: a chat as read (`UserChatRecord`, its fields to
read; its writes are the user chat's operations in service.py), a stored message, and a chat
as the CMS held it, which the switch-over reads from the CMS's dump and writes here."""

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat.records import NewChat, StoredMessage, UserChatRecord

__all__ = [
    "BotJob",
    "ChatbotPort",
    "Chats",
    "FilesPort",
    "ImportedChat",
    "StoredMessage",
    "UploadOwnerPort",
    "UserChatRecord",
]


class ImportedChat(NamedTuple):
    """A chat as the CMS holds it: its dump's (migration/cms_dump.py) and export's shape."""

    pk: int
    region: str
    device_id: str
    ticket_id: int
    language: str
    started_at: float  # epoch seconds
    last_message_at: float


class BotJob(Protocol):
    """Of a chatbot job, what the chat carries: its id, and whether it will answer (the
    app's typing indicator)."""

    @property
    def id(self) -> str: ...

    @property
    def answer(self) -> bool: ...


class ChatbotPort(Protocol):
    def enabled(self, region: RegionRecord) -> bool: ...

    def message_job(self, region: RegionRecord, chat: UserChatRecord, article_id: int) -> BotJob | None: ...

    def enqueue(self, chat: UserChatRecord, job: Any) -> None:
        """`job`: one `message_job` made."""


class UploadOwnerPort(Protocol):
    @property
    def region(self) -> str: ...

    @property
    def ticket_id(self) -> int: ...

    def is_chat(self, chat_key: str, ticket_id: int) -> bool: ...


class FilesPort(Protocol):
    @property
    def enabled(self) -> bool: ...

    @property
    def public_base_url(self) -> str | None:
        """Where this API is reached from outside (PUBLIC_BASE_URL), for absolute links."""

    def views(
        self, region: RegionRecord, device_id: str, language: str, article_id: int, files: list[Any]
    ) -> list[dict[str, Any]]:
        """A message's files as the app lists them (views.AttachmentView)."""

    def forget(self, chat_key: str) -> int: ...

    def describe(self, chat_key: str) -> list[dict[str, Any]]: ...

    def upload_owner(self, key: str) -> UploadOwnerPort | None: ...

    def forget_upload(self, key: str) -> None: ...


class Chats(Protocol):
    """The user-chat table: `ChatStore` on DynamoDB, or its in-memory twin
    (tests/support/memory/chat_store.py); tests/contract holds both to the promises documented
    on `ChatStore`."""

    retention_seconds: int

    def get(self, key: str, consistent: bool = True) -> UserChatRecord | None: ...

    def claim(
        self, new: NewChat, previous: UserChatRecord | None, now: float, lease_seconds: float
    ) -> UserChatRecord | None: ...

    def withdraw(self, claim: UserChatRecord) -> bool: ...

    def leave_uncertain(self, claim: UserChatRecord, now: float) -> None: ...

    def open(
        self,
        claim: UserChatRecord,
        ticket_id: int,
        messages: list[Any],
        now: float,
        fetched_at: float,
        bot_job: str | None = None,
    ) -> None: ...

    def begin_send(
        self, chat: UserChatRecord, mark: str, now: float, until: float, sent_before: float | None
    ) -> bool: ...

    def finish_send(
        self,
        chat: UserChatRecord,
        mark: str,
        message: dict[str, Any],
        now: float,
        language: str,
        consent: bool | None,
        bot_job: str | None = None,
    ) -> None: ...

    def abandon_send(self, chat: UserChatRecord, mark: str, unanswered_after: int | None = None) -> None: ...

    def begin_deletion(self, chat: UserChatRecord, now: float, until: float) -> bool: ...

    def end_deletion(self, chat: UserChatRecord) -> None: ...

    def replace_messages(
        self, chat: UserChatRecord, messages: list[StoredMessage], now: float, settled_mark: str | None = None
    ) -> None: ...

    def finish_bot_job(
        self, chat: UserChatRecord, job: str | None, message: dict[str, Any] | None, handover: bool
    ) -> None: ...

    def find_by_ticket(self, region: str, ticket_id: int) -> UserChatRecord | None: ...

    def add_message(self, chat: UserChatRecord, message: StoredMessage) -> bool: ...

    def inactive(self, region: str, inactive_since: float) -> list[UserChatRecord]: ...

    def active_since(
        self,
        region: str,
        since: float,
        limit: int | None = None,
        skip: Callable[[str], bool] = lambda _key: False,
    ) -> list[UserChatRecord]:
        """The region's chats active after `since`, the most recent first, whole (an index
        holds their keys only: each is read, unless `skip(its key)`), at most `limit`."""

    def forget_if_inactive(self, chat: UserChatRecord, inactive_since: float) -> bool: ...

    def set_push_target(
        self,
        chat: UserChatRecord,
        target: dict[str, str] | None,
        now: float,
        only_if: dict[str, str] | None = None,
    ) -> bool: ...

    def mark_seen(self, chat: UserChatRecord, article_id: int) -> None: ...

    def claim_push(self, chat: UserChatRecord, article_id: int, now: float) -> bool: ...

    def forget(self, chat: UserChatRecord) -> None: ...
