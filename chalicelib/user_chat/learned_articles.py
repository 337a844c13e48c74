"""An article Zammad's webhook told of (chalicelib/webhook), joined to its chat: every
public article the chat does not have yet is stored, sanitised (agents' replies, and the
customer's own articles made outside this backend: an agent writing on their behalf, a
reply by e-mail). A delivery for a chat whose ticket creation went unanswered adopts that
ticket. Storing is idempotent: an article already stored is not stored again."""

from typing import Any, NamedTuple

from chalicelib.platform.events import AnswerStored, ChatChanged
from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat.articles import MalformedArticle, article_message
from chalicelib.user_chat.context import ChatContext
from chalicelib.user_chat.opening import Opening
from chalicelib.user_chat.records import StoredMessage, UserChatRecord, chat_key
from chalicelib.user_chat.states import ChatState
from chalicelib.user_chat.tickets import device_of_title, made_for, ticket_title
from chalicelib.web.errors import BadRequest, ServiceUnavailable


class ChatNotReady(ServiceUnavailable):
    """The ticket's chat is still being created: Zammad retries the delivery."""

    message = "The chat of this ticket is still being created; please retry."


class Learned(NamedTuple):
    """What came of an article: the log's words, and, when it was stored, its chat (as read
    before) and the message as stored (for the chatbot's translation of a reply)."""

    action: str
    chat: UserChatRecord | None = None
    message: dict[str, Any] | None = None


class LearnedArticles:
    def __init__(self, context: ChatContext, opening: Opening):
        self._context = context
        self._opening = opening

    def learn(self, region: RegionRecord, ticket: dict[str, Any], article: dict[str, Any]) -> Learned:
        """`ticket` has an int id; `article` is a non-empty object (the webhook checked)."""
        try:
            message = article_message(article)
        except MalformedArticle as error:
            raise BadRequest("The article is malformed: %s." % error) from None
        if message is None:
            return Learned("article %d: internal, skipped" % article["id"])
        try:
            chat = self._find_chat(region, ticket)
        except ChatNotReady:
            if message["role"] == "user":  # the article the ticket was created with
                return Learned(
                    "article %d: the first message, stored by the request creating the chat" % article["id"]
                )
            raise
        if chat is None:
            return Learned("ticket %d: no chat of this region has it, ignored" % ticket["id"])
        if not chat.messages_stored:
            return Learned("article %d: chat too long to store, read from Zammad" % article["id"])
        if not self._context.store.add_message(chat, StoredMessage(**message)):
            return Learned("article %d: already stored" % article["id"])
        events = self._context.events
        events.publish(ChatChanged(chat.chat_key))  # its connections poll once
        if message["role"] == "agent":
            events.publish(AnswerStored(chat, article["id"]))  # a push, if unseen
        return Learned("article %d: %s message stored" % (article["id"], message["role"]), chat, message)

    def _find_chat(self, region: RegionRecord, ticket: dict[str, Any]) -> UserChatRecord | None:
        store = self._context.store
        ticket_id = ticket["id"]
        chat = store.find_by_ticket(region.slug, ticket_id)
        if chat is not None:
            return chat
        # Just opened (the index lags a little), still being created, or its creation went
        # unanswered: go by the title.
        device_id = device_of_title(ticket.get("title"))
        if device_id is None:
            return None
        chat = store.get(chat_key(region.slug, device_id))
        if chat is not None and chat.state == ChatState.CREATING:
            raise ChatNotReady()
        if (
            chat is not None
            and chat.state == ChatState.UNCERTAIN
            and made_for(ticket, chat, ticket_title(chat.language, device_id), region)
        ):
            self._opening.adopt(chat, ticket_id, [])  # the next poll reads its articles
            chat = store.get(chat.chat_key)
        if chat is not None and chat.ticket_id == ticket_id:
            return chat
        return None
