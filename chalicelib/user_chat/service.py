"""The app user chat (SPEC §4): one Zammad ticket per chat of a device in a region.

A chat lives in one DynamoDB item (`UserChatRecord`) together with its messages, so a
poll inside `MESSAGE_CACHE_SECONDS` is one GetItem and no Zammad call.

Exactly one ticket per chat: the first message claims the chat with a conditional write
(state "creating", a lease). Only the claimant calls Zammad; requests that lose the claim
wait for the chat to open. If Zammad refuses, the claim is withdrawn: no chat is left
without a ticket, and a failed request never counts as activity. If creating the ticket
timed out, Zammad may still have made it: the chat stays "uncertain" until the ticket is
found (Zammad's search, or its webhook) or, after SETTLE_SECONDS, ruled out.

Resends (README, "Resends"): every message has a send mark, the digest of its text or of
its `Idempotency-Key`. A message whose mark is being sent right now is that message: it
waits for it and answers with its result. So is the same text within RESEND_GRACE_SECONDS
after it was sent, and the same Idempotency-Key for a day. Otherwise a message is sent
again (people write "yes" twice). A send that went unanswered is looked for in the ticket
before it is sent again.
"""

import hashlib
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypeGuard

from chalicelib.platform.config import Settings
from chalicelib.platform.times import utc_datetime
from chalicelib.regions.rules import chat_configured
from chalicelib.storage.models import RegionRecord, StoredMessage, UserChatRecord
from chalicelib.storage.small_tables import Draws
from chalicelib.user_chat.articles import (
    USER_ARTICLE_SUBJECT,
    MalformedArticle,
    article_message,
    escape_user_text,
    new_article,
    sanitize_html,
)
from chalicelib.user_chat.store import ChatGone, Chats, chat_key, entries, highest_article_id
from chalicelib.user_chat.views import ChatView, MessageView
from chalicelib.user_chat.zammad import OutcomeUnknown, TicketGone, ZammadClient, ZammadConnections
from chalicelib.web.errors import BadGateway, Busy, GatewayTimeout, NotFound, ServiceUnavailable

if TYPE_CHECKING:  # the chatbot imports the user chat; Services wires them together
    from chalicelib.chatbot.service import Chatbot

# While a region's Zammad webhook works (a valid delivery within this time), it tells us of
# every agent message, and a chat's stored messages are served for up to this long before
# Zammad is asked again: the bound on how late a lost delivery can show.
WEBHOOK_TRUST_SECONDS = 6 * 3600
ASSIGNMENT_DAYS = 365
# An unanswered ticket creation is ruled out only this long after it began: Zammad may
# finish a slow request late, and its search index lags the database by seconds.
SETTLE_SECONDS = 120
# A ticket found by its title is this chat's only if made after the claim (less this
# margin for clocks); an older one with the same title belongs to an expired chat.
SETTLE_CLOCK_MARGIN_SECONDS = 600
# The same text this soon after it was sent is that message again: a double tap, or a copy
# that raced the first (a connection retried by TCP after a second or three). Later, it is
# a new message: people do write "yes" twice.
RESEND_GRACE_SECONDS = 5
_WAIT_STEP_SECONDS = 0.05
_ATTEMPTS = 6


def ticket_title(language: str, device_id: str) -> str:
    return "[Integreat Chat] [%s] %s" % (language, device_id)


def device_of_title(title: Any) -> str | None:
    """The device id of a title we made, or None."""
    if not isinstance(title, str) or not title.startswith("[Integreat Chat] ["):
        return None
    _, _, device_id = title.rpartition("] ")
    return device_id or None


def message_view(message: StoredMessage) -> MessageView:
    return {
        "id": int(message.id),
        "content": message.content,
        "user_is_author": message.role == "user",
        "automatic_answer": bool(message.automatic_answer),
        "role": message.role,
        "created_at": message.created_at,
    }


def send_mark(text: str, idempotency_key: str | None) -> str:
    if idempotency_key is not None:
        return "k" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    return "t" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


class Outgoing(NamedTuple):
    """A message the app user sends."""

    text: str
    language: str
    consent: bool | None
    mark: str

    @property
    def body(self) -> str:  # as Zammad gets it
        return escape_user_text(self.text)


class UserChats:
    def __init__(
        self,
        settings: Settings,
        connections: ZammadConnections,
        clock: Callable[[], float],
        draws: Draws,
        chats: Chats,
        draw: Callable[[], float] = random.random,
    ):
        self.chatbot: Chatbot | None = None  # set by Services when the chatbot is wired in
        self._settings = settings
        self._draws = draws
        self._connections = connections
        self._clock = clock
        self._draw = draw
        self.store = chats

    # --- is_chat_enabled --------------------------------------------------------------
    def is_chat_enabled(self, region: RegionRecord, device_id: str) -> bool:
        """Drawn once per device (while the region's chat is configured), then sticky."""
        if not chat_configured(region):
            return False
        key = chat_key(region.slug, device_id)
        drawn = self._draws.get(key)
        if drawn is not None:
            return drawn
        enabled = self._draw() < int(region.chat_beta_tester_percentage) / 100
        expires_at = utc_datetime(self._clock() + ASSIGNMENT_DAYS * 86400)
        return self._draws.draw_once(key, enabled, expires_at)  # a racing first call may win

    # --- the chat ---------------------------------------------------------------------
    def poll(self, region: RegionRecord, device_id: str) -> ChatView:
        self._require_configured(region)
        chat = self.store.get(chat_key(region.slug, device_id), consistent=False)
        zammad = self._zammad(region)
        if chat is not None and chat.state == "uncertain":
            try:
                chat = self._settle(region, zammad, chat, device_id)
            except (GatewayTimeout, BadGateway):  # not settled yet: no chat the app knows of
                raise NotFound("Chat not found.") from None
        if not self._usable(chat):
            raise NotFound("Chat not found.")
        now = self._clock()
        if not chat.messages_stored:
            chat.messages = self._messages_from_zammad(zammad, chat)
        elif now - chat.messages_fetched_at >= self._cache_seconds(region, now):
            self.store.replace_messages(chat, self._messages_from_zammad(zammad, chat), now)
        return self._view(region, chat)

    def send(
        self,
        region: RegionRecord,
        language: str,
        device_id: str,
        text: str,
        consent: bool | None,
        idempotency_key: str | None = None,
    ) -> ChatView:
        self._require_configured(region)
        key = chat_key(region.slug, device_id)
        zammad = self._zammad(region)
        outgoing = Outgoing(text, language, consent, send_mark(text, idempotency_key))
        # Requests waiting for another's send give up with it: the budget and a margin.
        give_up_at = time.monotonic() + self._settings.zammad_timeout_seconds + 0.5
        chat = self.store.get(key)
        for _attempt in range(_ATTEMPTS):
            if chat is not None and chat.state == "creating" and chat.lease_until > self._clock():
                claimed = chat
                chat = self._wait_for_claim(key, give_up_at)
                if self._joined(chat, claimed, outgoing.mark):
                    return self._view(region, chat)
                continue
            if chat is not None and chat.state == "uncertain":
                chat = self._settle(region, zammad, chat, device_id)
                if chat is not None and chat.creating_mark == outgoing.mark and self._usable(chat):
                    return self._view(region, chat)  # the resend of the message that opened it
                continue
            if self._usable(chat):
                if self._just_sent(chat, outgoing.mark):
                    return self._view(region, chat)
                try:
                    return self._send_to_ticket(region, zammad, chat, outgoing, give_up_at)
                except TicketGone:  # Zammad deleted the ticket: this message starts a new chat
                    self.store.forget(chat)
                except ChatGone:  # changed before anything was sent: look again
                    pass
                chat = self.store.get(key)
                continue
            claim = self.store.claim(
                key,
                chat,
                language,
                consent,
                outgoing.mark,
                self._clock(),
                lease_seconds=self._settings.zammad_timeout_seconds + 5,
                automatic_answers=self.chatbot is not None and self.chatbot.enabled(region),
            )
            if claim is None:  # another request claimed it first
                chat = self.store.get(key)
                continue
            return self._create_ticket(region, zammad, claim, device_id, outgoing)
        raise Busy()

    # --- a new chat -------------------------------------------------------------------
    def _create_ticket(
        self,
        region: RegionRecord,
        zammad: ZammadClient,
        claim: UserChatRecord,
        device_id: str,
        outgoing: Outgoing,
    ) -> ChatView:
        try:
            fields: dict[str, Any] = {
                "title": ticket_title(outgoing.language, device_id),
                "group": region.ticket_group or self._settings.ticket_group,
                "customer": zammad.api_user_login(),
                "region_slug": region.slug,
                "language_slug": outgoing.language,
            }
            if outgoing.consent is not None:
                fields["evaluation_consent"] = outgoing.consent
            if self.chatbot is not None and self.chatbot.enabled(region):
                fields["automatic_answers"] = bool(claim.automatic_answers)  # as the CMS mirrors it
            ticket = zammad.create_ticket(fields, self._user_article(outgoing.body))
            ticket_id = _ticket_id(ticket)
        except OutcomeUnknown:
            self.store.leave_uncertain(claim, self._clock())
            raise
        except BaseException:
            self.store.withdraw(claim)
            raise
        now = self._clock()
        article_ids = ticket.get("article_ids") or [0]
        message = self._own_message(article_ids[0], ticket.get("created_at"), outgoing.body)
        claim.ticket_id = ticket_id
        job = self._bot_job(region, claim, message["id"])
        try:
            self.store.open(claim, ticket_id, [message], now, fetched_at=now, bot_job=_typing(job))
        except ChatGone:  # the claim outlived its lease and was taken over
            raise Busy() from None
        self._enqueue(claim, job)
        return self._view(region, claim)  # update() refreshed it from DynamoDB's answer

    def _settle(
        self, region: RegionRecord, zammad: ZammadClient, chat: UserChatRecord, device_id: str
    ) -> UserChatRecord | None:
        """An uncertain chat, settled: open with the ticket Zammad made after all; None
        once ruled out (the claim is withdrawn); 504 while it cannot be told yet."""
        ticket = self.find_uncertain_ticket(zammad, region, chat, device_id)
        if ticket is not None:
            messages = self._messages_from_zammad(zammad, chat, ticket_id=int(ticket["id"]))
            self.adopt(chat, int(ticket["id"]), messages)
        elif self._clock() - (chat.claimed_at or 0) >= SETTLE_SECONDS:
            self.store.withdraw(chat)
        else:
            raise GatewayTimeout()
        return self.store.get(chat.chat_key)

    def find_uncertain_ticket(
        self, zammad: ZammadClient, region: RegionRecord, chat: UserChatRecord, device_id: str
    ) -> dict[str, Any] | None:
        title = ticket_title(chat.language, device_id)
        newest = None
        for ticket in zammad.search_tickets(device_id):
            if (
                isinstance(ticket, dict)
                and self.made_for(ticket, chat, title, region)
                and (newest is None or ticket["id"] > newest["id"])
            ):
                newest = ticket
        return newest

    @staticmethod
    def made_for(ticket: dict[str, Any], chat: UserChatRecord, title: str, region: RegionRecord) -> bool:
        """Whether Zammad's ticket is the one this chat's claim created."""
        if ticket.get("title") != title or ticket.get("region_slug") not in (None, region.slug):
            return False
        if not isinstance(ticket.get("id"), int):
            return False
        try:
            created = datetime.fromisoformat(str(ticket.get("created_at")).replace("Z", "+00:00"))
        except ValueError:
            return False
        return created.timestamp() >= (chat.claimed_at or 0) - SETTLE_CLOCK_MARGIN_SECONDS

    def adopt(self, chat: UserChatRecord, ticket_id: int, messages: list[Any]) -> None:
        """Open an uncertain chat with the ticket Zammad made after all."""
        now = self._clock()
        try:
            self.store.open(
                chat, ticket_id, messages, chat.claimed_at or now, fetched_at=now if messages else 0
            )
        except ChatGone:
            pass  # settled by another request meanwhile

    # --- a later message --------------------------------------------------------------
    def _send_to_ticket(
        self,
        region: RegionRecord,
        zammad: ZammadClient,
        chat: UserChatRecord,
        outgoing: Outgoing,
        give_up_at: float,
    ) -> ChatView:
        mark = outgoing.mark
        if mark in entries(chat.unanswered) and self._found_unanswered(zammad, chat, outgoing):
            return self._view(region, chat)
        now = self._clock()
        until = now + self._settings.zammad_timeout_seconds + 5
        if not self.store.begin_send(chat, mark, now, until, sent_before=self._repeat_after(mark, now)):
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
            article = zammad.add_article(ticket_id, self._user_article(outgoing.body))
            article_id = _article_id(article)
        except OutcomeUnknown:
            self.store.abandon_send(chat, mark, unanswered_after=highest_article_id(chat))
            raise
        except BaseException:
            self.store.abandon_send(chat, mark)
            raise
        message = self._own_message(article_id, article.get("created_at"), outgoing.body)
        chat.language = outgoing.language  # the job answers in the language just used
        job = self._bot_job(region, chat, article_id)
        try:
            self.store.finish_send(
                chat, mark, message, self._clock(), outgoing.language, outgoing.consent, bot_job=_typing(job)
            )
            self._enqueue(chat, job)
        except ChatGone:  # forgotten meanwhile; the message did reach the ticket
            chat.messages = list(chat.messages or []) + [StoredMessage(**message)]
        if not chat.messages_stored:
            chat.messages = self._messages_from_zammad(zammad, chat)
        return self._view(region, chat)

    def _found_unanswered(self, zammad: ZammadClient, chat: UserChatRecord, outgoing: Outgoing) -> bool:
        """Whether an earlier, unanswered send of this message reached the ticket after all
        (then the chat is refreshed from Zammad and nothing is sent again)."""
        after = entries(chat.unanswered)[outgoing.mark]
        articles = self._articles(zammad, chat)
        found = any(
            isinstance(a, dict)
            and a.get("sender") == "Customer"
            and a.get("body") == outgoing.body
            and isinstance(a.get("id"), int)
            and a["id"] > after
            for a in articles
        )
        if found:
            self.store.replace_messages(
                chat, self._messages(articles), self._clock(), settled_mark=outgoing.mark
            )
        return found

    def _wait_for_send(
        self, region: RegionRecord, chat: UserChatRecord, mark: str, give_up_at: float
    ) -> ChatView:
        """The same message is being sent by another request: its answer is ours."""
        sent_before = entries(chat.sent).get(mark)  # an earlier send of the same text
        step = _WAIT_STEP_SECONDS
        while time.monotonic() < give_up_at:
            time.sleep(step)
            step = min(step * 2, 0.4)
            fresh = self.store.get(chat.chat_key)
            if fresh is None or fresh.generation != chat.generation:
                raise ChatGone()
            if mark not in entries(fresh.sending) or entries(fresh.sending)[mark] < self._clock():
                if entries(fresh.sent).get(mark) not in (None, sent_before) and mark not in entries(
                    fresh.unanswered
                ):
                    return self._view(region, fresh)
                raise ChatGone()  # the other request failed: try it ourselves
        raise GatewayTimeout()

    def _wait_for_claim(self, key: str, give_up_at: float) -> UserChatRecord | None:
        step = _WAIT_STEP_SECONDS
        while time.monotonic() < give_up_at:
            time.sleep(step)
            step = min(step * 2, 0.4)  # back off: many waiters must not slow the claimant
            chat = self.store.get(key)
            if chat is None or chat.state != "creating" or chat.lease_until <= self._clock():
                return chat
        raise GatewayTimeout()

    def _just_sent(self, chat: UserChatRecord, mark: str) -> bool:
        """An Idempotency-Key already sent, or the same text sent a moment ago."""
        sent_at = entries(chat.sent).get(mark)
        repeat_after = self._repeat_after(mark, self._clock())
        return sent_at is not None and (repeat_after is None or sent_at >= repeat_after)

    @staticmethod
    def _repeat_after(mark: str, now: float) -> float | None:
        """Sent before this time, the same message may be sent again (None: never again)."""
        return None if mark.startswith("k") else now - RESEND_GRACE_SECONDS

    def _joined(
        self, chat: UserChatRecord | None, claim: UserChatRecord, mark: str
    ) -> TypeGuard[UserChatRecord]:
        """Whether the claim that was waited for opened the chat with this very message."""
        return (
            chat is not None
            and chat.generation == claim.generation
            and claim.creating_mark == mark
            and self._usable(chat)
        )

    # --- the chatbot's job for a message (chalicelib/chatbot) ---------------------------
    def _bot_job(self, region: RegionRecord, chat: UserChatRecord, article_id: int) -> dict[str, Any] | None:
        return self.chatbot.message_job(region, chat, article_id) if self.chatbot is not None else None

    def _enqueue(self, chat: UserChatRecord, job: dict[str, Any] | None) -> None:
        if job is not None and self.chatbot is not None:
            self.chatbot.enqueue(chat, job)

    # --- Zammad's articles ------------------------------------------------------------
    def _articles(
        self, zammad: ZammadClient, chat: UserChatRecord, ticket_id: int | None = None
    ) -> list[Any]:
        try:
            articles = zammad.articles(ticket_id or int(chat.ticket_id))
        except TicketGone:
            self.store.forget(chat)
            raise NotFound("Chat not found.") from None
        if not isinstance(articles, list):
            raise BadGateway()
        return articles

    @staticmethod
    def _messages(articles: list[Any]) -> list[StoredMessage]:
        try:
            return [StoredMessage(**message) for message in map(article_message, articles) if message]
        except MalformedArticle:
            raise BadGateway() from None

    def _messages_from_zammad(
        self, zammad: ZammadClient, chat: UserChatRecord, ticket_id: int | None = None
    ) -> list[StoredMessage]:
        return self._messages(self._articles(zammad, chat, ticket_id))

    def _cache_seconds(self, region: RegionRecord, now: float) -> float:
        seen = region.webhook_seen_at
        if seen is not None and now - seen < WEBHOOK_TRUST_SECONDS:
            return max(self._settings.message_cache_seconds, WEBHOOK_TRUST_SECONDS)
        return self._settings.message_cache_seconds

    @staticmethod
    def _own_message(article_id: Any, created_at: Any, body_html: str) -> dict[str, Any]:
        """The app user's message as stored, from Zammad's answer to sending it."""
        return {
            "id": int(article_id),
            "content": sanitize_html(body_html),
            "role": "user",
            "automatic_answer": False,
            "created_at": created_at if isinstance(created_at, str) else "",
        }

    @staticmethod
    def _user_article(body_html: str) -> dict[str, Any]:
        return new_article(body_html, "Customer", USER_ARTICLE_SUBJECT, kind="web")

    def _usable(self, chat: UserChatRecord | None) -> TypeGuard[UserChatRecord]:
        return (
            chat is not None
            and chat.state == "open"
            and chat.last_activity + self.store.retention_seconds > self._clock()
        )

    def _zammad(self, region: RegionRecord) -> ZammadClient:
        connection = self._connections.get(region.zammad_url, region.zammad_access_token)
        return ZammadClient(connection, self._settings.zammad_timeout_seconds)

    @staticmethod
    def _require_configured(region: RegionRecord) -> None:
        if not chat_configured(region):
            raise ServiceUnavailable("No chat server is configured for your region.")

    def _view(self, region: RegionRecord, chat: UserChatRecord) -> ChatView:
        # By article id (webhook deliveries may arrive out of order), each id once (a
        # delivery of the user's own article may race the request that sent it).
        unique = {int(message.id): message for message in reversed(chat.messages or [])}
        return {
            "messages": [message_view(unique[article_id]) for article_id in sorted(unique)],
            "evaluation_consent": bool(chat.evaluation_consent),
            "chatbot_typing": self.chatbot is not None and self.chatbot.typing(chat),
            "ticket_url": "%s/#ticket/zoom/%d" % (region.zammad_url, int(chat.ticket_id)),
        }


def _typing(job: dict[str, Any] | None) -> str | None:
    """The job's id when it will answer: the chat carries it (the typing indicator)."""
    return job["id"] if job is not None and job["answer"] else None


def _ticket_id(ticket: Any) -> int:
    if not isinstance(ticket, dict) or not isinstance(ticket.get("id"), int):
        raise BadGateway()
    return ticket["id"]


def _article_id(article: Any) -> int:
    if not isinstance(article, dict) or not isinstance(article.get("id"), int):
        raise BadGateway()
    return article["id"]
