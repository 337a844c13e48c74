"""The app user chat (SPEC §4): one Zammad ticket per chat of a device in a region.

A chat lives in one DynamoDB item (`UserChatRecord`) together with its messages, so a
poll inside `MESSAGE_CACHE_SECONDS` is one GetItem and no Zammad call. The parts:

- opening.py: a new chat, exactly one ticket (claim, create, or settle an uncertain one);
- sending.py: a later message to the ticket, sent once however often it comes (marks.py);
- context.py: what they share (the table, the clock, Zammad's articles, the answer).

`UserChats.send` is the loop that looks at the chat and hands it to the part its state
calls for, until one answers: a race with another request only means looking again.
"""

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.platform.config import Settings
from chalicelib.platform.events import ChatChanged, ChatDeleted, Events
from chalicelib.platform.times import utc_datetime
from chalicelib.regions.rules import chat_configured
from chalicelib.storage.models import RegionRecord, attachment_fields
from chalicelib.storage.small_tables import Draws, TicketDeletions
from chalicelib.user_chat.context import ChatContext, Outgoing
from chalicelib.user_chat.marks import SendMark
from chalicelib.user_chat.opening import Opening
from chalicelib.user_chat.records import UserChatRecord, chat_key, deleting, unseen_answers
from chalicelib.user_chat.sending import Sending
from chalicelib.user_chat.states import ChatState
from chalicelib.user_chat.store import ChatGone
from chalicelib.user_chat.views import ChatView
from chalicelib.user_chat.zammad import TicketGone, ZammadConnections
from chalicelib.web.errors import BadGateway, Busy, Forbidden, GatewayTimeout, NotFound, ServiceUnavailable

if TYPE_CHECKING:  # the interfaces, for the types only: a cold start needs none
    from chalicelib.user_chat.ports import ChatbotPort, Chats, FilesPort

# While a region's Zammad webhook works (a valid delivery within this time), it tells us of
# every agent message, and a chat's stored messages are served for up to this long before
# Zammad is asked again: the bound on how late a lost delivery can show.
WEBHOOK_TRUST_SECONDS = 6 * 3600
ASSIGNMENT_DAYS = 365
_ATTEMPTS = 6


class UserChats:
    def __init__(
        self,
        settings: Settings,
        connections: ZammadConnections,
        clock: Callable[[], float],
        draws: Draws,
        chats: "Chats",
        ticket_deletions: TicketDeletions,
        draw: Callable[[], float] = random.random,
        events: Events | None = None,
        chatbot: Callable[[], "ChatbotPort | None"] = lambda: None,
        files: Callable[[], "FilesPort | None"] = lambda: None,
    ):
        self._context = ChatContext(settings, connections, clock, chats, events or Events(), chatbot, files)
        self.opening = Opening(self._context)
        self._sending = Sending(self._context)
        self._ticket_deletions = ticket_deletions
        self._draws = draws
        self._draw = draw
        self.store = chats

    @property
    def retention(self):
        """The retention job's part (retention.py); loaded by the job, not by a cold start."""
        from chalicelib.user_chat.retention import Retention

        return Retention(self._context, self._ticket_deletions)

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
        expires_at = utc_datetime(self._context.clock() + ASSIGNMENT_DAYS * 86400)
        return self._draws.draw_once(key, enabled, expires_at)  # a racing first call may win

    # --- the chat ---------------------------------------------------------------------
    def poll(self, region: RegionRecord, device_id: str) -> ChatView:
        _require_configured(region)
        context = self._context
        chat = self.store.get(chat_key(region.slug, device_id), consistent=False)
        if chat is not None and chat.state == ChatState.UNCERTAIN:
            try:
                chat = self.opening.settle(region, context.zammad(region), chat, device_id)
            except (GatewayTimeout, BadGateway):  # not settled yet: no chat the app knows of
                raise NotFound("Chat not found.") from None
        if not context.usable(chat):
            raise NotFound("Chat not found.")
        now = context.clock()
        # Zammad is reached only when the stored messages will not do (a poll mostly is one read).
        if not chat.messages_stored:
            chat.messages = context.messages_from_zammad(context.zammad(region), chat)
        elif now - chat.messages_fetched_at >= self._cache_seconds(region, now):
            self.store.replace_messages(chat, context.messages_from_zammad(context.zammad(region), chat), now)
        view = context.view(region, chat)
        self._seen(chat)  # no push for what this poll shows (chalicelib/push)
        return view

    def send(
        self,
        region: RegionRecord,
        language: str,
        device_id: str,
        text: str,
        consent: bool | None,
        idempotency_key: str | None = None,
        files: tuple[dict[str, Any], ...] = (),
    ) -> ChatView:
        """`files`: as Zammad's article takes them (chalicelib/attachments). A resend is
        told by its text and its files' names and sizes (marks.py)."""
        _require_configured(region)
        context, opening = self._context, self.opening
        key = chat_key(region.slug, device_id)
        zammad = context.zammad(region)
        marked = text + "".join("\n%s %d" % (file["filename"], len(file["data"])) for file in files)
        outgoing = Outgoing(text, language, consent, SendMark.of(marked, idempotency_key), files)
        # Requests waiting for another's send give up with it: the budget and a margin.
        give_up_at = time.monotonic() + context.settings.zammad_timeout_seconds + 0.5
        chat = self.store.get(key)
        for _attempt in range(_ATTEMPTS):
            if chat is not None and chat.state == ChatState.CREATING and chat.lease_until > context.clock():
                claimed = chat
                chat = opening.wait_for_claim(key, give_up_at)
                if opening.joined(chat, claimed, outgoing):
                    return context.view(region, chat)
                continue
            if chat is not None and chat.state == ChatState.UNCERTAIN:
                chat = opening.settle(region, zammad, chat, device_id)
                if chat is not None and chat.creating_mark == outgoing.mark and context.usable(chat):
                    return context.view(region, chat)  # the resend of the message that opened it
                continue
            if context.usable(chat):
                if self._sending.just_sent(chat, outgoing.mark):
                    return context.view(region, chat)
                try:
                    view = self._sending.send(region, zammad, chat, outgoing, give_up_at)
                    # The device's other connections (a second tab): its message, and the
                    # chatbot typing. A first message has none: nobody can subscribe yet.
                    self._context.events.publish(ChatChanged(key))
                    return view
                except TicketGone:  # Zammad deleted the ticket: this message starts a new chat
                    self.store.forget(chat)
                except ChatGone:  # changed before anything was sent: look again
                    pass
                chat = self.store.get(key)
                continue
            claim = opening.claim(key, chat, region, outgoing)
            if claim is None:  # another request claimed it first
                chat = self.store.get(key)
                continue
            return opening.create_ticket(region, zammad, claim, device_id, outgoing)
        raise Busy()

    def delete(self, region: RegionRecord, device_id: str) -> None:
        """Delete on request (deletion.py): the chat, its ticket's closing, its files and
        draw; 404 when nothing was stored."""
        from chalicelib.user_chat.deletion import Deletion  # a rare request: loaded by it

        if not Deletion(self._context, self.opening).delete(region, device_id, self._draws.forget):
            raise NotFound("Chat not found.")
        self._context.events.publish(ChatDeleted(chat_key(region.slug, device_id)))

    def export(self, region: RegionRecord, device_id: str) -> dict[str, Any]:
        """Everything stored about the device in the region (GDPR Art. 15, `manage
        export`): the chat item as stored, the draw, the files, and the ticket's visible
        articles as Zammad holds them now."""
        key = chat_key(region.slug, device_id)
        chat = self.store.get(key)
        stored: dict[str, Any] = {
            "region": region.slug,
            "device_id": device_id,
            "chat": chat.to_simple_dict() if chat is not None else None,
            "is_chat_enabled_draw": self._draws.get(key),
            "files": self._context.attachments.describe(key) if self._context.attachments else [],
            "ticket": None,
        }
        if chat is not None and chat.ticket_id and chat_configured(region):
            zammad = self._context.zammad(region)
            try:
                articles = zammad.articles(int(chat.ticket_id))
            except TicketGone:
                articles = []
            stored["ticket"] = {
                "id": int(chat.ticket_id),
                "articles": [a for a in articles if isinstance(a, dict) and not a.get("internal")],
            }
        return stored

    # --- real time (chalicelib/realtime) -----------------------------------------------
    def current(self, key: str, consistent: bool = False) -> UserChatRecord | None:
        """The chat of this key while a poll would show it (open, not expired)."""
        chat = self.store.get(key, consistent=consistent)
        return chat if self._context.usable(chat) else None

    def view(self, region: RegionRecord, chat: UserChatRecord) -> ChatView:
        """What its poll answers, from what is stored (no Zammad call)."""
        return self._context.view(region, chat)

    # --- push (chalicelib/push) --------------------------------------------------------
    def set_push_target(self, region: RegionRecord, device_id: str, target: dict[str, str] | None) -> None:
        """The device's one push target (None: none) on its open chat; 404 without one."""
        _require_configured(region)
        chat = self.current(chat_key(region.slug, device_id), consistent=True)
        if chat is None or not self.store.set_push_target(chat, target, self._context.clock()):
            raise NotFound("Chat not found.")

    def shown_live(self, key: str) -> None:
        """A real-time event told the device's app of the chat's change (it polls at once):
        its agents' messages count as seen, as after a poll."""
        chat = self.store.get(key)
        if chat is not None:
            self._seen(chat)

    def _seen(self, chat: UserChatRecord) -> None:
        """The device was shown the chat's agents' messages: no push for them (a write only
        for a chat with a push target and an answer not yet marked)."""
        unseen = unseen_answers(chat) if chat.push_target is not None else []
        if unseen:
            self.store.mark_seen(chat, unseen[-1])

    # --- files (chalicelib/attachments) -----------------------------------------------
    def ticket_for_files(self, region: RegionRecord, device_id: str) -> int:
        """The ticket of the device's open chat, which its uploads belong to (and go with):
        no chat, no upload; nor for a device is_chat_enabled said no to."""
        _require_configured(region)
        key = chat_key(region.slug, device_id)
        if self._draws.get(key) is False:
            raise Forbidden("The chat is not enabled for this device.")
        chat = self.current(key)
        if chat is None:
            raise NotFound("Chat not found.")
        return int(chat.ticket_id)

    def chat_file(
        self, region: RegionRecord, device_id: str, article_id: int, attachment_id: int
    ) -> "ChatFile":
        """A file of a visible article of the device's current chat; 404 for any other."""
        _require_configured(region)
        context = self._context
        key = chat_key(region.slug, device_id)
        chat = self.store.get(key, consistent=False)
        if not context.usable(chat):
            raise NotFound("Chat not found.")
        zammad = context.zammad(region)
        messages = chat.messages if chat.messages_stored else context.messages_from_zammad(zammad, chat)
        ticket_id = int(chat.ticket_id)

        def still_open() -> bool:
            fresh = self.store.get(key)  # strongly consistent: after a deletion, gone
            return context.usable(fresh) and fresh.ticket_id == ticket_id

        for message in messages or []:
            for stored in (message.attachments or []) if int(message.id) == article_id else []:
                file = attachment_fields(stored)
                if int(file["id"]) == attachment_id:

                    def fetch(max_bytes: int) -> bytes:
                        try:
                            return zammad.attachment(ticket_id, article_id, attachment_id, max_bytes)
                        except TicketGone:
                            raise NotFound("Attachment not found.") from None

                    return ChatFile(ticket_id, dict(file), fetch, still_open)
        raise NotFound("Attachment not found.")

    def uploads_arrived(self, keys: list[str]) -> dict[str, int]:
        """S3 told of these uploads: each stays only if its chat is open and not being
        deleted, so an upload with a form fetched before a DELETE is gone on arrival."""
        attachments, kept, deleted = self._context.attachments, 0, 0
        if attachments is None or not attachments.enabled:
            return {"kept": 0, "deleted": 0}  # files are off: nothing of ours is there
        for key in keys:
            owner = attachments.upload_owner(key)
            chat = None if owner is None else self.store.find_by_ticket(owner.region, owner.ticket_id)
            if (
                owner is not None
                and self._context.usable(chat)
                and not deleting(chat, self._context.clock())
                and owner.is_chat(chat.chat_key, int(chat.ticket_id))
            ):
                kept += 1
            else:
                attachments.forget_upload(key)
                deleted += 1
        return {"kept": kept, "deleted": deleted}

    def _cache_seconds(self, region: RegionRecord, now: float) -> float:
        seen = region.webhook_seen_at
        cache_seconds = self._context.settings.message_cache_seconds
        if seen is not None and now - seen < WEBHOOK_TRUST_SECONDS:
            return max(cache_seconds, WEBHOOK_TRUST_SECONDS)
        return cache_seconds


class ChatFile(NamedTuple):
    ticket_id: int
    file: dict[str, Any]  # id, name, type, size
    fetch: Callable[[int], bytes]  # its bytes from Zammad, at most so many
    still_open: Callable[[], bool]  # whether the chat is still there, read now


def _require_configured(region: RegionRecord) -> None:
    if not chat_configured(region):
        raise ServiceUnavailable("No chat server is configured for your region.")
