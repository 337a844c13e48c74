"""What the chatbot's jobs (chalicelib/chatbot) do to a chat and its ticket: the chatbot
decides what to write, the user chat how it is written (articles, their subject, the
announced write a deletion waits for) and what a finished job leaves on the chat."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.platform.events import AnswerStored, ChatChanged
from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat.articles import (
    AUTOMATIC_ANSWER_SUBJECT,
    MalformedArticle,
    article_message,
    new_article,
)
from chalicelib.user_chat.chat_writes import ChatGone
from chalicelib.user_chat.context import ChatContext
from chalicelib.user_chat.records import UserChatRecord, highest_article_id


class BotTicket:
    """A job's writes to its chat's ticket, as the chatbot's: visible answers are automatic
    articles (sender Agent, AUTOMATIC_ANSWER_SUBJECT: the app marks them, Zammad's trigger
    skips them), notes are internal."""

    def __init__(self, context: ChatContext, region: RegionRecord, chat: UserChatRecord):
        self._context = context
        self._chat = chat
        self._zammad = context.zammad(region)
        self._ticket_id = int(chat.ticket_id)

    @property
    def last_article_id(self) -> int:
        """The newest article the chat knows of (0: none): a write that went unanswered is
        looked for above it (`posted_after`)."""
        return highest_article_id(self._chat)

    @contextmanager
    def writing(self, job_id: str) -> Iterator[None]:
        """Writes to the ticket, announced on the chat first, as a message's send is
        (store.begin_send): a deletion of the chat waits for them, and once one has begun
        none starts (`ChatGone`: the chat is gone; `Busy`: it may stay, the job comes again).
        So nothing is posted after the deletion's note."""
        context, chat = self._context, self._chat
        mark = "b" + job_id
        now = context.clock()
        until = now + 3 * context.settings.zammad_timeout_seconds + 5  # at most three calls
        if not context.store.begin_send(chat, mark, now, until, sent_before=None):
            raise ChatGone()  # this job writes elsewhere right now (the ledger makes that rare)
        try:
            yield
        finally:
            context.store.abandon_send(chat, mark)

    def post(self, body_html: str) -> dict[str, Any] | None:
        """A visible automatic article; the message it is, or None when Zammad said yes
        without an article (the next poll reads it)."""
        article = self._zammad.add_article(
            self._ticket_id, new_article(body_html, "Agent", AUTOMATIC_ANSWER_SUBJECT)
        )
        try:
            return article_message(article)
        except MalformedArticle:
            return None

    def note(self, body_html: str) -> None:
        """An internal note for the agents."""
        self._zammad.add_article(
            self._ticket_id, new_article(body_html, "Agent", AUTOMATIC_ANSWER_SUBJECT, internal=True)
        )

    def hand_over(self) -> None:
        """Zammad's mirror of the chat's own flag: humans answer from now on."""
        self._zammad.update_ticket(self._ticket_id, {"automatic_answers": False})

    def posted_after(self, after: int) -> dict[str, Any] | None:
        """Our visible article of an earlier, unanswered write, if it reached the ticket."""
        for article in self._zammad.articles(self._ticket_id):
            if (
                isinstance(article, dict)
                and isinstance(article.get("id"), int)
                and article["id"] > after
                and article.get("subject") == AUTOMATIC_ANSWER_SUBJECT
                and not article.get("internal")
            ):
                return article_message(article)
        return None


def end_bot_job(
    context: ChatContext,
    chat: UserChatRecord,
    job_id: str | None,
    message: dict[str, Any] | None,
    handover: bool,
    tell: bool,
) -> None:
    """The job's answer (if any) joins the chat, its typing flag goes (`job_id`: the one
    it carried), `handover` gives the chat to humans for good; `tell`: its connections and
    push hear of it. A chat gone meanwhile has nobody to show it to."""
    try:
        context.store.finish_bot_job(chat, job_id, message, handover=handover)
    except ChatGone:
        return
    if tell:
        context.events.publish(ChatChanged(chat.chat_key))  # an answer, or typing ended: one poll
        if message is not None:
            context.events.publish(AnswerStored(chat, int(message["id"])))  # a push, if unseen
