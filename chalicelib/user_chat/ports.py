"""What the user chat asks of the features beside it, as it asks it: the chatbot (a job for
an app user's message, the typing flag) and the files (a message's links, a chat's files
forgotten). Services hands the real ones in; the user chat imports neither package, so the
chatbot and the files may import the user chat (tests/unit/test_layers.py: no circles)."""

from typing import Any, Protocol

from chalicelib.storage.models import RegionRecord, UserChatRecord


class ChatbotPort(Protocol):
    def enabled(self, region: RegionRecord) -> bool: ...

    def message_job(
        self, region: RegionRecord, chat: UserChatRecord, article_id: int
    ) -> dict[str, Any] | None: ...

    def enqueue(self, chat: UserChatRecord, job: dict[str, Any]) -> None: ...

    def typing(self, chat: UserChatRecord) -> bool: ...


class UploadOwnerPort(Protocol):
    @property
    def region(self) -> str: ...

    @property
    def ticket_id(self) -> int: ...

    def is_chat(self, chat_key: str, ticket_id: int) -> bool: ...


class FilesPort(Protocol):
    @property
    def enabled(self) -> bool: ...

    def views(
        self, region: RegionRecord, device_id: str, language: str, article_id: int, files: list[Any]
    ) -> list[dict[str, Any]]:
        """A message's files as the app lists them (views.AttachmentView)."""

    def forget(self, chat_key: str) -> int: ...

    def describe(self, chat_key: str) -> list[dict[str, Any]]: ...

    def upload_owner(self, key: str) -> UploadOwnerPort | None: ...

    def forget_upload(self, key: str) -> None: ...
