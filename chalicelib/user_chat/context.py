"""What every part of a user-chat request shares (service.py, opening.py, sending.py): the
settings, the chat table, the clock, the events, the chatbot and the files (ports.py), and the steps they
all take: reaching the region's Zammad, reading its articles, answering with the chat."""

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeGuard

from chalicelib.platform.config import Settings
from chalicelib.platform.events import Events
from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat.articles import (
    USER_ARTICLE_SUBJECT,
    MalformedArticle,
    article_files,
    article_message,
    new_article,
)
from chalicelib.user_chat.marks import SendMark
from chalicelib.user_chat.records import StoredMessage, UserChatRecord, unseen_answers
from chalicelib.user_chat.records import usable as chat_usable
from chalicelib.user_chat.views import ChatView, chat_view, chatbot_typing
from chalicelib.user_chat.zammad import TicketGone, ZammadClient, ZammadConnections
from chalicelib.web.errors import BadGateway, NotFound

if TYPE_CHECKING:  # the interfaces, for the types only: a cold start needs none
    from chalicelib.user_chat.ports import BotJob, ChatbotPort, Chats, FilesPort

_WAIT_STEP_SECONDS = 0.05
_WAIT_STEP_LIMIT_SECONDS = 0.4


class Outgoing(NamedTuple):
    """A message the app user sends; `files` as Zammad's article takes them."""

    text: str
    language: str
    consent: bool | None
    mark: SendMark
    files: tuple[dict[str, Any], ...] = ()

    @property
    def body(self) -> str:  # as Zammad gets it; a message of files alone names them
        from chalicelib.platform.safe_html import escape_user_text  # a send's, not a poll's

        text = self.text if self.text.strip() else ", ".join(file["filename"] for file in self.files)
        return escape_user_text(text)

    @property
    def article(self) -> dict[str, Any]:
        article = new_article(self.body, "Customer", USER_ARTICLE_SUBJECT, kind="web")
        if self.files:
            article["attachments"] = list(self.files)
        return article

    def stored(self, article_id: Any, created_at: Any, answer: Any = None) -> dict[str, Any]:
        """The message as stored with the chat, from Zammad's answer to sending it (the
        article, which lists its files; a new ticket's answer does not)."""
        from chalicelib.platform.safe_html import sanitize_html

        message = {
            "id": int(article_id),
            "content": sanitize_html(self.body),
            "role": "user",
            "automatic_answer": False,
            "created_at": created_at if isinstance(created_at, str) else "",
        }
        if self.files and isinstance(answer, dict):
            try:
                files = article_files(answer)
            except MalformedArticle:
                raise BadGateway() from None
            if files:
                message["attachments"] = files
        return message


def waiting(give_up_at: float) -> Iterator[None]:
    """Sleep, longer each time (many waiters must not slow the request they wait for),
    until `give_up_at` (monotonic): a waiter looks again after each step."""
    step = _WAIT_STEP_SECONDS
    while time.monotonic() < give_up_at:
        time.sleep(step)
        step = min(step * 2, _WAIT_STEP_LIMIT_SECONDS)
        yield


class ChatContext:
    def __init__(
        self,
        settings: Settings,
        connections: ZammadConnections,
        clock: Callable[[], float],
        store: "Chats",
        events: Events,
        chatbot: Callable[[], "ChatbotPort | None"],
        files: Callable[[], "FilesPort | None"],
    ):
        self.settings = settings
        self.store = store
        self.clock = clock
        self.events = events
        self._chatbot = chatbot  # made on first use: a poll never needs it
        self._files = files  # made on first use (docs/files.md); None: files are off
        self._connections = connections

    @property
    def chatbot(self) -> "ChatbotPort | None":
        """None: no automatic answers in this deployment."""
        return self._chatbot()

    @property
    def attachments(self) -> "FilesPort | None":
        return self._files()

    def zammad(self, region: RegionRecord) -> ZammadClient:
        connection = self._connections.get(region.zammad_url, region.zammad_access_token)
        return ZammadClient(connection, self.settings.zammad_timeout_seconds)

    def lease_seconds(self) -> float:
        """How long a request may hold a claim or a send: its Zammad budget and a margin."""
        return self.settings.zammad_timeout_seconds + 5

    def usable(self, chat: UserChatRecord | None) -> TypeGuard[UserChatRecord]:
        """An open chat that has not expired."""
        return chat_usable(chat, self.clock(), self.store.retention_seconds)

    # --- Zammad's articles ------------------------------------------------------------
    def articles(self, zammad: ZammadClient, chat: UserChatRecord, ticket_id: int | None = None) -> list[Any]:
        try:
            articles = zammad.articles(ticket_id or int(chat.ticket_id))
        except TicketGone:  # Zammad deleted the ticket: the chat has expired
            self.store.forget(chat)
            raise NotFound("Chat not found.") from None
        if not isinstance(articles, list):
            raise BadGateway()
        return articles

    @staticmethod
    def messages(articles: list[Any]) -> list[StoredMessage]:
        try:
            return [StoredMessage(**message) for message in map(article_message, articles) if message]
        except MalformedArticle:
            raise BadGateway() from None

    def messages_from_zammad(
        self, zammad: ZammadClient, chat: UserChatRecord, ticket_id: int | None = None
    ) -> list[StoredMessage]:
        return self.messages(self.articles(zammad, chat, ticket_id))

    # --- the chatbot's job for a message (chalicelib/chatbot) ---------------------------
    def bot_job(self, region: RegionRecord, chat: UserChatRecord, article_id: int) -> "BotJob | None":
        chatbot = self.chatbot
        return chatbot.message_job(region, chat, article_id) if chatbot is not None else None

    def enqueue(self, chat: UserChatRecord, job: "BotJob | None") -> None:
        chatbot = self.chatbot
        if job is not None and chatbot is not None:
            chatbot.enqueue(chat, job)

    def automatic_answers(self, region: RegionRecord) -> bool:
        chatbot = self.chatbot
        return chatbot is not None and chatbot.enabled(region)

    # --- what the device saw (push: chalicelib/push) ------------------------------------
    def current(self, key: str, consistent: bool = False) -> UserChatRecord | None:
        """The chat of this key while a poll would show it (open, not expired)."""
        chat = self.store.get(key, consistent=consistent)
        return chat if self.usable(chat) else None

    def seen(self, chat: UserChatRecord) -> None:
        """The device was shown the chat's agents' messages (a poll, a real-time event): no
        push for them (a write only for a chat with a push target and an answer not yet
        marked)."""
        unseen = unseen_answers(chat) if chat.push_target is not None else []
        if unseen:
            self.store.mark_seen(chat, unseen[-1])

    # --- the answer -------------------------------------------------------------------
    def view(self, region: RegionRecord, chat: UserChatRecord) -> ChatView:
        return chat_view(region, chat, chatbot_typing(chat, self.clock()), self.attachments)


def typing_job(job: "BotJob | None") -> str | None:
    """The job's id when it will answer: the chat carries it (the typing indicator)."""
    return job.id if job is not None and job.answer else None
