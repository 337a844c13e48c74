"""The app user chat (SPEC §4): one Zammad ticket per chat of a device in a region.

A chat lives in one DynamoDB item (`UserChatRecord`) together with its messages, so a
poll inside `MESSAGE_CACHE_SECONDS` is one GetItem and no Zammad call.

Exactly one ticket per chat: the first message claims the chat with a conditional write
(state "creating", a lease). Only the claimant calls Zammad; requests that lose the claim
wait for the chat to open. The app resends unsynced messages, so a message identical to
the last one sent within RESEND_SECONDS is taken as that resend: answered with the chat,
not sent again. If the ticket cannot be created the claim is withdrawn: no chat is left
without a ticket, and a failed request never counts as activity.
"""
import hashlib
import html
import random
import time
from typing import Any, Callable, Dict, List, Optional

from pynamodb.exceptions import PutError

from .chat_store import ChatStore, chat_key, condition_failed
from .config import Settings
from .errors import GatewayTimeout, NotFound, ServiceUnavailable
from .regions import chat_configured
from .storage.models import ChatAssignmentRecord, RegionRecord, StoredMessage, UserChatRecord
from .times import utc_datetime
from .zammad import TicketGone, ZammadClient, ZammadConnections

USER_ARTICLE_SUBJECT = "app user message"
AUTOMATIC_ANSWER_SUBJECT = "automatically generated message"
RESEND_SECONDS = 30
# While a region's Zammad webhook works (a valid delivery within this time), it tells us of
# every agent message, and a chat's stored messages are served for up to this long before
# Zammad is asked again: the bound on how late a lost delivery can show.
WEBHOOK_TRUST_SECONDS = 6 * 3600
ASSIGNMENT_DAYS = 365
_WAIT_STEP_SECONDS = 0.05
_CLAIM_ATTEMPTS = 5


def escape_user_text(text: str) -> str:
    """Plain text as safe HTML: escaped, newlines as <br>."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return html.escape(text, quote=True).replace("\n", "<br>")


def article_message(article: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """A Zammad article as the app's message, or None for an internal one."""
    if article.get("internal"):
        return None
    body = article.get("body") or ""
    is_html = (article.get("content_type") or "").lower().startswith("text/html")
    return {
        "id": int(article["id"]),
        "content": body if is_html else escape_user_text(body),
        "role": "user" if article.get("sender") == "Customer" else "agent",
        "automatic_answer": (article.get("subject") or "") == AUTOMATIC_ANSWER_SUBJECT,
        "created_at": article.get("created_at") or "",
    }


def message_view(message) -> Dict[str, Any]:
    return {"id": int(message.id), "content": message.content,
            "user_is_author": message.role == "user", "automatic_answer": bool(message.automatic_answer),
            "role": message.role, "created_at": message.created_at}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class UserChats:
    def __init__(self, settings: Settings, connections: ZammadConnections,
                 clock: Callable[[], float] = time.time, draw: Callable[[], float] = random.random):
        self._settings = settings
        self._connections = connections
        self._clock = clock
        self._draw = draw
        self.store = ChatStore(settings)

    # --- is_chat_enabled --------------------------------------------------------------
    def is_chat_enabled(self, region: RegionRecord, device_id: str) -> bool:
        """Drawn once per device (while the region's chat is configured), then sticky."""
        if not chat_configured(region):
            return False
        key = chat_key(region.slug, device_id)
        try:
            return bool(ChatAssignmentRecord.get(key).enabled)
        except ChatAssignmentRecord.DoesNotExist:
            pass
        enabled = self._draw() < int(region.chat_beta_tester_percentage) / 100
        record = ChatAssignmentRecord(key, enabled=enabled,
                                      expires_at=utc_datetime(self._clock() + ASSIGNMENT_DAYS * 86400))
        try:
            record.save(condition=ChatAssignmentRecord.assignment_key.does_not_exist())
        except PutError as error:
            if not condition_failed(error):
                raise
            return bool(ChatAssignmentRecord.get(key, consistent_read=True).enabled)
        return enabled

    # --- the chat ---------------------------------------------------------------------
    def poll(self, region: RegionRecord, device_id: str) -> Dict[str, Any]:
        self._require_configured(region)
        chat = self.store.get(chat_key(region.slug, device_id))
        if not self._usable(chat):
            raise NotFound("Chat not found.")
        now = self._clock()
        if not chat.messages_stored:
            chat.messages = self._messages_from_zammad(self._zammad(region), chat)
        elif now - chat.messages_fetched_at >= self._cache_seconds(region, now):
            messages = self._messages_from_zammad(self._zammad(region), chat)
            self.store.replace_messages(chat, messages, now)
        return self._view(region, chat)

    def _cache_seconds(self, region: RegionRecord, now: float) -> float:
        seen = region.webhook_seen_at
        if seen is not None and now - seen < WEBHOOK_TRUST_SECONDS:
            return max(self._settings.message_cache_seconds, WEBHOOK_TRUST_SECONDS)
        return self._settings.message_cache_seconds

    def _messages_from_zammad(self, zammad: ZammadClient, chat: UserChatRecord) -> List[StoredMessage]:
        try:
            articles = zammad.articles(int(chat.ticket_id))
        except TicketGone:
            self.store.forget(chat)
            raise NotFound("Chat not found.") from None
        return [StoredMessage(**message) for message in map(article_message, articles) if message]

    def send(self, region: RegionRecord, language: str, device_id: str, text: str,
             consent: Optional[bool]) -> Dict[str, Any]:
        self._require_configured(region)
        key = chat_key(region.slug, device_id)
        zammad = self._zammad(region)
        digest = _digest(text)
        # Requests waiting for another's claim give up with it: the budget and a margin.
        give_up_at = time.monotonic() + self._settings.zammad_timeout_seconds + 0.5
        chat = self.store.get(key)
        for _attempt in range(_CLAIM_ATTEMPTS):
            if chat is not None and chat.state == "creating" and chat.lease_until > self._clock():
                chat = self._wait_for_claim(key, give_up_at)
                continue
            if self._usable(chat):
                if self._is_resend(chat, digest):
                    return self._view(region, chat)
                try:
                    return self._send_to_ticket(region, zammad, chat, language, text, digest, consent)
                except TicketGone:  # Zammad deleted the ticket: this message starts a new chat
                    self.store.forget(chat)
                    chat = self.store.get(key)
                    continue
            claim = self.store.claim(key, chat, language, consent, self._clock(),
                                      lease_seconds=self._settings.zammad_timeout_seconds + 5)
            if claim is None:  # another request claimed it first
                chat = self.store.get(key)
                continue
            return self._create_ticket(region, zammad, claim, device_id, language, text, digest, consent)
        raise GatewayTimeout()

    # --- steps ------------------------------------------------------------------------
    def _create_ticket(self, region, zammad: ZammadClient, claim: UserChatRecord, device_id: str,
                       language: str, text: str, digest: str, consent: Optional[bool]):
        body = escape_user_text(text)
        try:
            fields = {
                "title": "[Integreat Chat] [%s] %s" % (language, device_id),
                "group": region.ticket_group or self._settings.ticket_group,
                "customer": zammad.api_user_login(),
                "region_slug": region.slug,
                "language_slug": language,
            }
            if consent is not None:
                fields["evaluation_consent"] = consent
            ticket = zammad.create_ticket(fields, self._user_article(body))
        except BaseException:
            self.store.withdraw(claim)
            raise
        now = self._clock()
        article_ids = ticket.get("article_ids") or [0]
        message = {"id": int(article_ids[0]), "content": body, "role": "user",
                   "automatic_answer": False, "created_at": ticket.get("created_at") or ""}
        self.store.open(claim, int(ticket["id"]), message, digest, now)
        return self._view(region, claim)  # update() refreshed it from DynamoDB's answer

    def _send_to_ticket(self, region, zammad: ZammadClient, chat: UserChatRecord, language: str,
                        text: str, digest: str, consent: Optional[bool]):
        changes: Dict[str, Any] = {}
        if language != chat.language:
            changes["language_slug"] = language
        if consent is not None and consent != bool(chat.evaluation_consent):
            changes["evaluation_consent"] = consent
        ticket_id = int(chat.ticket_id)
        if changes:  # before the message: a failure here has sent nothing
            zammad.update_ticket(ticket_id, changes)
        article = zammad.add_article(ticket_id, self._user_article(escape_user_text(text)))
        message = article_message(article)
        self.store.append(chat, message, digest, self._clock(), language, consent)
        if not chat.messages_stored:
            chat.messages = self._messages_from_zammad(zammad, chat)
        return self._view(region, chat)

    def _wait_for_claim(self, key: str, give_up_at: float) -> Optional[UserChatRecord]:
        step = _WAIT_STEP_SECONDS
        while time.monotonic() < give_up_at:
            time.sleep(step)
            step = min(step * 2, 0.4)  # back off: many waiters must not slow the claimant
            chat = self.store.get(key)
            if chat is None or chat.state != "creating" or chat.lease_until <= self._clock():
                return chat
        raise GatewayTimeout()

    @staticmethod
    def _user_article(body_html: str) -> Dict[str, Any]:
        return {"body": body_html, "content_type": "text/html", "type": "web",
                "internal": False, "sender": "Customer", "subject": USER_ARTICLE_SUBJECT}

    def _is_resend(self, chat: UserChatRecord, digest: str) -> bool:
        return chat.last_message_digest == digest and \
            self._clock() - chat.last_activity < RESEND_SECONDS

    def _usable(self, chat: Optional[UserChatRecord]) -> bool:
        return chat is not None and chat.state == "open" and \
            chat.last_activity + self.store.retention_seconds > self._clock()

    def _zammad(self, region: RegionRecord) -> ZammadClient:
        connection = self._connections.get(region.zammad_url, region.zammad_access_token)
        return ZammadClient(connection, self._settings.zammad_timeout_seconds)

    @staticmethod
    def _require_configured(region: RegionRecord) -> None:
        if not chat_configured(region):
            raise ServiceUnavailable("No chat server is configured for your region.")

    @staticmethod
    def _view(region: RegionRecord, chat: UserChatRecord) -> Dict[str, Any]:
        return {
            # By article id: messages learnt from webhooks may arrive out of order.
            "messages": [message_view(message)
                         for message in sorted(chat.messages or [], key=lambda m: int(m.id))],
            "evaluation_consent": bool(chat.evaluation_consent),
            "chatbot_typing": False,
            "ticket_url": "%s/#ticket/zoom/%d" % (region.zammad_url, int(chat.ticket_id)),
        }
