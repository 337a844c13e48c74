"""A new chat: exactly one ticket, even when the first message comes several times at once.

The first message claims the chat with a conditional write (`ChatState.CREATING`, under a
lease). Only the claimant calls Zammad, with the message as the ticket's first article;
requests that lose the claim wait for it. If Zammad refuses, the claim is withdrawn: no
chat is left without a ticket, and a failed request never counts as activity. If the
creation went unanswered, Zammad may still have made the ticket: the chat stays
`ChatState.UNCERTAIN` until the ticket is found (Zammad's search, or its webhook) or, after
SETTLE_SECONDS, ruled out.
"""

from typing import Any, TypeGuard

from chalicelib.platform.telemetry import name_request
from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat.context import ChatContext, Outgoing, typing_job, waiting
from chalicelib.user_chat.records import NewChat, UserChatRecord
from chalicelib.user_chat.states import ChatState
from chalicelib.user_chat.store import ChatGone
from chalicelib.user_chat.tickets import find_made_ticket, id_of, ticket_title
from chalicelib.user_chat.views import ChatView
from chalicelib.user_chat.zammad import OutcomeUnknown, ZammadClient
from chalicelib.web.errors import Busy, GatewayTimeout

# An unanswered ticket creation is ruled out only this long after it began: Zammad may
# finish a slow request late, and its search index lags the database by seconds.
SETTLE_SECONDS = 120


class Opening:
    def __init__(self, context: ChatContext):
        self._context = context

    def claim(
        self, key: str, previous: UserChatRecord | None, region: RegionRecord, outgoing: Outgoing
    ) -> UserChatRecord | None:
        """This request's claim of a new chat in place of `previous`; None if another won."""
        context = self._context
        new = NewChat(
            key, outgoing.language, outgoing.consent, outgoing.mark, context.automatic_answers(region)
        )
        return context.store.claim(new, previous, context.clock(), lease_seconds=context.lease_seconds())

    def create_ticket(
        self,
        region: RegionRecord,
        zammad: ZammadClient,
        claim: UserChatRecord,
        device_id: str,
        outgoing: Outgoing,
    ) -> ChatView:
        context = self._context
        try:
            fields: dict[str, Any] = {
                "title": ticket_title(outgoing.language, device_id),
                "group": region.ticket_group or context.settings.ticket_group,
                "customer": zammad.api_user_login(),
                "region_slug": region.slug,
                "language_slug": outgoing.language,
            }
            if outgoing.consent is not None:
                fields["evaluation_consent"] = outgoing.consent
            if context.automatic_answers(region):
                fields["automatic_answers"] = bool(claim.automatic_answers)  # as the CMS mirrors it
            name_request("first_message")
            ticket = zammad.create_ticket(fields, outgoing.article)
            ticket_id = id_of(ticket)
        except OutcomeUnknown:
            context.store.leave_uncertain(claim, context.clock())
            raise
        except BaseException:
            context.store.withdraw(claim)
            raise
        now = context.clock()
        article_ids = ticket.get("article_ids") or [0]
        message = outgoing.stored(article_ids[0], ticket.get("created_at"))
        claim.ticket_id = ticket_id
        job = context.bot_job(region, claim, message["id"])
        try:
            context.store.open(claim, ticket_id, [message], now, fetched_at=now, bot_job=typing_job(job))
        except ChatGone:  # the claim outlived its lease and was taken over
            raise Busy() from None
        context.enqueue(claim, job)
        if outgoing.files:  # a new ticket's answer lists no files: Zammad's article does
            context.store.replace_messages(
                claim, context.messages_from_zammad(zammad, claim), context.clock()
            )
        return context.view(region, claim)  # open() refreshed it from DynamoDB's answer

    def wait_for_claim(self, key: str, give_up_at: float) -> UserChatRecord | None:
        """The chat once the request that claimed it is done (or its lease ran out)."""
        context = self._context
        for _ in waiting(give_up_at):
            chat = context.store.get(key)
            if chat is None or chat.state != ChatState.CREATING or chat.lease_until <= context.clock():
                return chat
        raise GatewayTimeout()

    def joined(
        self, chat: UserChatRecord | None, claim: UserChatRecord, outgoing: Outgoing
    ) -> TypeGuard[UserChatRecord]:
        """Whether the claim that was waited for opened the chat with this very message."""
        return (
            chat is not None
            and chat.generation == claim.generation
            and claim.creating_mark == outgoing.mark
            and self._context.usable(chat)
        )

    # --- an uncertain chat --------------------------------------------------------------
    def settle(
        self, region: RegionRecord, zammad: ZammadClient, chat: UserChatRecord, device_id: str
    ) -> UserChatRecord | None:
        """An uncertain chat, settled: open with the ticket Zammad made after all; None
        once ruled out (the claim is withdrawn); 504 while it cannot be told yet."""
        context = self._context
        ticket = find_made_ticket(zammad, region, chat, device_id)
        if ticket is not None:
            messages = context.messages_from_zammad(zammad, chat, ticket_id=int(ticket["id"]))
            self.adopt(chat, int(ticket["id"]), messages)
        elif context.clock() - (chat.claimed_at or 0) >= SETTLE_SECONDS:
            context.store.withdraw(chat)
        else:
            raise GatewayTimeout()
        return context.store.get(chat.chat_key)

    def adopt(self, chat: UserChatRecord, ticket_id: int, messages: list[Any]) -> None:
        """Open an uncertain chat with the ticket Zammad made after all."""
        now = self._context.clock()
        try:
            self._context.store.open(
                chat, ticket_id, messages, chat.claimed_at or now, fetched_at=now if messages else 0
            )
        except ChatGone:
            pass  # settled by another request meanwhile
