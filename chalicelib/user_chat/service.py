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
from chalicelib.storage.models import RegionRecord, attachment_fields, entries
from chalicelib.storage.small_tables import Draws, TicketDeletions

# What Zammad's configuration must agree with (chalicelib/zammad_setup): the subject of the
# chatbot's articles (its trigger skips them) and the tag the retention marks a ticket with
# for Zammad's scheduler to delete.
from chalicelib.user_chat.articles import AUTOMATIC_ANSWER_SUBJECT as AUTOMATIC_ANSWER_SUBJECT
from chalicelib.user_chat.context import ChatContext, Outgoing
from chalicelib.user_chat.marks import SendMark
from chalicelib.user_chat.opening import Opening
from chalicelib.user_chat.records import ASSIGNMENT_DAYS, UserChatRecord, chat_key, deleting
from chalicelib.user_chat.sending import Sending
from chalicelib.user_chat.states import ChatState
from chalicelib.user_chat.store import ChatGone
from chalicelib.user_chat.tickets import DELETE_TAG as DELETE_TAG
from chalicelib.user_chat.views import ChatView
from chalicelib.user_chat.zammad import TicketGone, ZammadConnections
from chalicelib.web.errors import BadGateway, Busy, Forbidden, GatewayTimeout, NotFound, ServiceUnavailable

if TYPE_CHECKING:  # the interfaces, for the types only: a cold start needs none
    from chalicelib.user_chat.bot_turns import BotTicket
    from chalicelib.user_chat.cms_chats import CmsChats
    from chalicelib.user_chat.learned_articles import Learned
    from chalicelib.user_chat.live import LiveChats
    from chalicelib.user_chat.ports import ChatbotPort, Chats, FilesPort
    from chalicelib.user_chat.push_turns import PushTurn

# While a region's Zammad webhook works (a valid delivery within this time), it tells us of
# every agent message, and a chat's stored messages are served for up to this long before
# Zammad is asked again: the bound on how late a lost delivery can show.
WEBHOOK_TRUST_SECONDS = 6 * 3600
_ATTEMPTS = 6


class UserChats:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float],
        chats: "Chats",
        draws: Draws,
        ticket_deletions: TicketDeletions,
        draw: Callable[[], float] = random.random,
        events: Events | None = None,
        chatbot: Callable[[], "ChatbotPort | None"] = lambda: None,
        files: Callable[[], "FilesPort | None"] = lambda: None,
    ):
        """`chatbot`, `files`: the features beside it, asked for when first needed (ports.py);
        `draw`: is_chat_enabled's dice. Zammad is reached through one pool of connections
        per instance, kept across requests (zammad.py)."""
        connections = ZammadConnections()
        self._context = ChatContext(settings, connections, clock, chats, events or Events(), chatbot, files)
        self.opening = Opening(self._context)
        self._sending = Sending(self._context)
        self._ticket_deletions = ticket_deletions
        self._draws = draws
        self._draw = draw
        self.store = chats

    def forget_expired(self, regions: list[RegionRecord], dry_run: bool = False) -> dict[str, Any]:
        """The retention job (retention.py): chats past it forgotten, their tickets closed,
        and deleted or tagged in Zammad when closed long enough; what it did, counted."""
        from chalicelib.user_chat.retention import Retention  # loaded by the job, not by a cold start

        return Retention(self._context, self._ticket_deletions).run(regions, dry_run=dry_run)

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
        context.seen(chat)  # no push for what this poll shows (chalicelib/push)
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

    # --- the chatbot's jobs (chalicelib/chatbot) ---------------------------------------
    def bot_chat(self, key: str, generation: int) -> UserChatRecord | None:
        """The chat a job was queued for, while it is that chat and a poll would show it."""
        chat = self._context.current(key, consistent=True)
        return chat if chat is not None and chat.generation == generation else None

    def bot_ticket(self, region: RegionRecord, chat: UserChatRecord) -> "BotTicket":
        """A job's writes to the chat's ticket (bot_turns.py)."""
        from chalicelib.user_chat.bot_turns import BotTicket  # the worker's only

        return BotTicket(self._context, region, chat)

    def end_bot_job(
        self, chat: UserChatRecord, job_id: str | None, message: dict[str, Any] | None, handover: bool = False
    ) -> None:
        """A job is done: its answer (if any) joins the chat, and the chat's connections and
        push hear of it."""
        from chalicelib.user_chat.bot_turns import end_bot_job

        end_bot_job(self._context, chat, job_id, message, handover, tell=True)

    def drop_bot_job(self, chat: UserChatRecord, job_id: str) -> None:
        """The job never got queued: the chat stops showing it typing (the request that sent
        the message tells its connections)."""
        from chalicelib.user_chat.bot_turns import end_bot_job

        end_bot_job(self._context, chat, job_id, None, handover=False, tell=False)

    # --- the switch-over (chalicelib/migration) ----------------------------------------
    def cms_chats(self, retention_seconds: float) -> "CmsChats":
        """The import's and the switch back's reads and writes of chats and draws
        (cms_chats.py): imported chats expire `retention_seconds` after their last message."""
        from chalicelib.user_chat.cms_chats import CmsChats  # the operator's commands only

        return CmsChats(self._context, self._draws, retention_seconds)

    # --- the webhook (chalicelib/webhook) -----------------------------------------------
    def learn_article(
        self, region: RegionRecord, ticket: dict[str, Any], article: dict[str, Any]
    ) -> "Learned":
        """An article Zammad's webhook told of, joined to its chat (learned_articles.py)."""
        from chalicelib.user_chat.learned_articles import LearnedArticles  # the webhook's only

        return LearnedArticles(self._context, self.opening).learn(region, ticket, article)

    # --- real time (chalicelib/realtime) -----------------------------------------------
    def live_chats(self, region_of: Callable[[str], RegionRecord | None]) -> "LiveChats":
        """What real time asks of the user chat (live.py); `region_of`: a region by its slug."""
        from chalicelib.user_chat.live import LiveChats  # the first event's, not a cold start's

        return LiveChats(self._context, region_of=region_of)

    # --- push (chalicelib/push) --------------------------------------------------------
    def set_push_target(self, region: RegionRecord, device_id: str, target: dict[str, str] | None) -> None:
        """The device's one push target (None: none) on its open chat; 404 without one."""
        _require_configured(region)
        chat = self._context.current(chat_key(region.slug, device_id), consistent=True)
        if chat is None or not self.store.set_push_target(chat, target, self._context.clock()):
            raise NotFound("Chat not found.")

    def has_push_target(self, chat: UserChatRecord) -> bool:
        return bool(entries(chat.push_target))

    def take_push(self, key: str, generation: int, article_id: int, claimed: int | None = None) -> "PushTurn":
        """For push's job: whether the chat still wants a push for the answer, taken by this
        job only (push_turns.py)."""
        from chalicelib.user_chat.push_turns import take_push  # the worker's only

        return take_push(self._context, key, generation, article_id, claimed)

    def forget_push_target(self, chat: UserChatRecord, target: dict[str, str]) -> None:
        """The push service said the target is gone: forgotten, unless another was set since."""
        self.store.set_push_target(chat, None, self._context.clock(), only_if=target)

    # --- files (chalicelib/attachments) -----------------------------------------------
    def ticket_for_files(self, region: RegionRecord, device_id: str) -> int:
        """The ticket of the device's open chat, which its uploads belong to (and go with):
        no chat, no upload; nor for a device is_chat_enabled said no to."""
        _require_configured(region)
        key = chat_key(region.slug, device_id)
        if self._draws.get(key) is False:
            raise Forbidden("The chat is not enabled for this device.")
        chat = self._context.current(key)
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
