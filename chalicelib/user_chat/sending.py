"""A later message, to the chat's ticket, sent once however often the app sends it.

Every message has a send mark (marks.py). A message whose mark is being sent right now is
that message: it waits for it and answers with its result; so is a mark sent a moment ago
(or an Idempotency-Key ever). A send that went unanswered is looked for in the ticket
before it is sent again.
"""

from typing import Any

from chalicelib.storage.models import RegionRecord, entries
from chalicelib.user_chat.context import ChatContext, Outgoing, typing_job, waiting
from chalicelib.user_chat.marks import SendMark
from chalicelib.user_chat.records import StoredMessage, UserChatRecord, highest_article_id
from chalicelib.user_chat.store import ChatGone
from chalicelib.user_chat.tickets import id_of
from chalicelib.user_chat.views import ChatView
from chalicelib.user_chat.zammad import OutcomeUnknown, ZammadClient
from chalicelib.web.errors import GatewayTimeout


class Sending:
    def __init__(self, context: ChatContext):
        self._context = context

    def just_sent(self, chat: UserChatRecord, mark: SendMark) -> bool:
        """An Idempotency-Key already sent, or the same text sent a moment ago."""
        sent_at = entries(chat.sent).get(mark)
        repeat_after = mark.repeat_after(self._context.clock())
        return sent_at is not None and (repeat_after is None or sent_at >= repeat_after)

    def send(
        self,
        region: RegionRecord,
        zammad: ZammadClient,
        chat: UserChatRecord,
        outgoing: Outgoing,
        give_up_at: float,
    ) -> ChatView:
        """Send to the chat's ticket. `ChatGone` when the chat changed before anything was
        sent; `TicketGone` when Zammad deleted the ticket."""
        context, store, mark = self._context, self._context.store, outgoing.mark
        if mark in entries(chat.unanswered) and self._found_unanswered(zammad, chat, outgoing):
            return context.view(region, chat)
        now = context.clock()
        until = now + context.lease_seconds()
        if not store.begin_send(chat, mark, now, until, sent_before=mark.repeat_after(now)):
            return self._wait_for_send(region, chat, mark, give_up_at)
        changes: dict[str, Any] = {}
        if outgoing.language != chat.language:
            changes["language_slug"] = outgoing.language
        if outgoing.consent is not None and outgoing.consent != bool(chat.evaluation_consent):
            changes["evaluation_consent"] = outgoing.consent
        ticket_id = int(chat.ticket_id)
        try:
            if changes:  # before the message: a failure here has sent nothing
                zammad.update_ticket(ticket_id, changes)
            article = zammad.add_article(ticket_id, outgoing.article)
            article_id = id_of(article)
        except OutcomeUnknown:
            store.abandon_send(chat, mark, unanswered_after=highest_article_id(chat))
            raise
        except BaseException:
            store.abandon_send(chat, mark)
            raise
        message = outgoing.stored(article_id, article.get("created_at"), answer=article)
        chat.language = outgoing.language  # the job answers in the language just used
        job = context.bot_job(region, chat, article_id)
        try:
            store.finish_send(
                chat,
                mark,
                message,
                context.clock(),
                outgoing.language,
                outgoing.consent,
                bot_job=typing_job(job),
            )
            context.enqueue(chat, job)
        except ChatGone:  # forgotten meanwhile; the message did reach the ticket
            chat.messages = list(chat.messages or []) + [StoredMessage(**message)]
        if not chat.messages_stored:
            chat.messages = context.messages_from_zammad(zammad, chat)
        return context.view(region, chat)

    def _found_unanswered(self, zammad: ZammadClient, chat: UserChatRecord, outgoing: Outgoing) -> bool:
        """Whether an earlier, unanswered send of this message reached the ticket after all
        (then the chat is refreshed from Zammad and nothing is sent again)."""
        context = self._context
        after = entries(chat.unanswered)[outgoing.mark]
        articles = context.articles(zammad, chat)
        found = any(
            isinstance(a, dict)
            and a.get("sender") == "Customer"
            and a.get("body") == outgoing.body
            and isinstance(a.get("id"), int)
            and a["id"] > after
            for a in articles
        )
        if found:
            context.store.replace_messages(
                chat, context.messages(articles), context.clock(), settled_mark=outgoing.mark
            )
        return found

    def _wait_for_send(
        self, region: RegionRecord, chat: UserChatRecord, mark: SendMark, give_up_at: float
    ) -> ChatView:
        """The same message is being sent by another request: its answer is ours."""
        context = self._context
        sent_before = entries(chat.sent).get(mark)  # an earlier send of the same text
        for _ in waiting(give_up_at):
            fresh = context.store.get(chat.chat_key)
            if fresh is None or fresh.generation != chat.generation:
                raise ChatGone()
            sending = entries(fresh.sending)
            if mark not in sending or sending[mark] < context.clock():
                sent = entries(fresh.sent).get(mark)
                if sent not in (None, sent_before) and mark not in entries(fresh.unanswered):
                    return context.view(region, fresh)
                raise ChatGone()  # the other request failed: try it ourselves
        raise GatewayTimeout()
