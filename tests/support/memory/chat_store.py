"""The user-chat table's in-memory twin: `ChatStore`'s promises (conditions on generation,
lease, send marks and the messages' version; DynamoDB's 400 KB item limit) kept in a dict,
so the user chat's rules can be tested without DynamoDB. tests/contract runs one suite
against this and against `ChatStore` on moto and DynamoDB Local.

Items are kept as DynamoDB would keep them (serialised), and every write refreshes the
caller's record from the stored item, as `Model.update` does with DynamoDB's answer."""

import json
import threading
from collections.abc import Callable
from typing import Any

from chalicelib.platform.config import Settings
from chalicelib.platform.times import utc_datetime
from chalicelib.storage.models import entries
from chalicelib.user_chat.marks import SendMark
from chalicelib.user_chat.records import (
    NewChat,
    StoredMessage,
    UserChatRecord,
    deleting,
    new_claim,
    ticket_key,
)
from chalicelib.user_chat.states import ChatState
from chalicelib.user_chat.store import ChatGone
from chalicelib.web.errors import Busy

ITEM_LIMIT_BYTES = 400 * 1024


def _as_dicts(messages: list[Any]) -> list[dict[str, Any]]:
    return [dict(m.attribute_values) if isinstance(m, StoredMessage) else dict(m) for m in messages]


class MemoryChatStore:
    def __init__(self, settings: Settings):
        self.retention_seconds = settings.ticket_retention_days * 86400
        self._items: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()

    # --- the engine: read, check, change, write back ------------------------------------
    def _load(self, key: str) -> UserChatRecord | None:
        item = self._items.get(key)
        return UserChatRecord.from_raw_data(json.loads(json.dumps(item))) if item is not None else None

    def _write(self, record: UserChatRecord, into: UserChatRecord | None = None) -> None:
        item = record.serialize()
        if len(json.dumps(item)) > ITEM_LIMIT_BYTES:
            raise _TooLarge()
        self._items[record.chat_key] = item
        if into is not None:  # as Model.update refreshes the caller's record
            into.deserialize(json.loads(json.dumps(item)))

    def _change(
        self,
        chat: UserChatRecord,
        condition: Callable[[UserChatRecord], bool],
        change: Callable[[UserChatRecord], None],
    ) -> None:
        """Apply `change` to the stored item if `condition` holds for it; `ChatGone` if not."""
        with self._lock:
            stored = self._load(chat.chat_key)
            if stored is None or not condition(stored):
                raise ChatGone()
            change(stored)
            self._write(stored, into=chat)

    def _change_appending(self, chat: UserChatRecord, change: Callable[..., None]) -> None:
        """`change(record, store_message)` on the same chat; a message that would outgrow
        the item is not stored, and the chat stops storing messages (as ChatStore does)."""
        same = lambda stored: stored.generation == chat.generation  # noqa: E731
        try:
            self._change(chat, same, change)
        except _TooLarge:
            self._change(chat, same, lambda record: change(record, store_message=False))

    def get(self, key: str, consistent: bool = True) -> UserChatRecord | None:
        with self._lock:
            return self._load(key)

    # --- a new chat ---------------------------------------------------------------------
    def claim(
        self, new: NewChat, previous: UserChatRecord | None, now: float, lease_seconds: float
    ) -> UserChatRecord | None:
        record = new_claim(new, previous, now, lease_seconds, self.retention_seconds)
        with self._lock:
            stored = self._load(new.key)
            if previous is None:
                taken = stored is not None
            else:
                taken = stored is None or stored.generation != previous.generation
            if taken:  # another request claimed it first
                return None
            self._write(record)
        return record

    def withdraw(self, claim: UserChatRecord) -> bool:
        with self._lock:
            stored = self._load(claim.chat_key)
            if stored is None or stored.lease_id != claim.lease_id:
                return False
            del self._items[claim.chat_key]
            return True

    def leave_uncertain(self, claim: UserChatRecord, now: float) -> None:
        def change(record: UserChatRecord) -> None:
            record.state, record.lease_until = ChatState.UNCERTAIN, now

        try:
            self._change(claim, lambda stored: stored.lease_id == claim.lease_id, change)
        except ChatGone:
            pass

    def open(
        self,
        claim: UserChatRecord,
        ticket_id: int,
        messages: list[Any],
        now: float,
        fetched_at: float,
        bot_job: str | None = None,
    ) -> None:
        def change(record: UserChatRecord) -> None:
            record.state, record.ticket_id = ChatState.OPEN, ticket_id
            record.ticket_key = ticket_key(claim.region_slug, ticket_id)
            record.messages = [StoredMessage(**m) for m in _as_dicts(messages)]
            record.messages_version = record.messages_version + 1
            record.messages_fetched_at, record.last_activity = fetched_at, now
            record.expires_at = utc_datetime(now + self.retention_seconds)
            record.lease_id = record.lease_until = None
            if claim.creating_mark:
                record.sent = dict(entries(record.sent), **{claim.creating_mark: now})
            if bot_job is not None:
                record.bot_jobs = {bot_job: now}

        self._change(claim, lambda stored: stored.lease_id == claim.lease_id, change)

    # --- a later message ----------------------------------------------------------------
    def begin_send(
        self, chat: UserChatRecord, mark: str, now: float, until: float, sent_before: float | None
    ) -> bool:
        with self._lock:
            stored = self._load(chat.chat_key)
            if stored is None or stored.generation != chat.generation or stored.state != ChatState.OPEN:
                raise ChatGone()
            if deleting(stored, now):
                raise Busy()
            sending, sent = entries(stored.sending), entries(stored.sent)
            if mark in sending and sending[mark] >= now:
                return False
            if mark in sent and (sent_before is None or sent[mark] >= sent_before):
                return False
            stored.sending = dict(sending, **{mark: until})
            stored.writes_begun = (stored.writes_begun or 0) + 1
            self._write(stored, into=chat)
            return True

    def begin_deletion(self, chat: UserChatRecord, now: float, until: float) -> bool:
        if any(lease >= now for lease in entries(chat.sending).values()):
            return False

        def unchanged(stored: UserChatRecord) -> bool:
            return (
                stored.generation == chat.generation
                and stored.writes_begun == chat.writes_begun
                and not deleting(stored, now)
            )

        def hold(record: UserChatRecord) -> None:
            record.deleting_until = until

        try:
            self._change(chat, unchanged, hold)
        except ChatGone:
            return False
        return True

    def end_deletion(self, chat: UserChatRecord) -> None:
        def release(record: UserChatRecord) -> None:
            record.deleting_until = None

        try:
            self._change(chat, lambda stored: stored.generation == chat.generation, release)
        except ChatGone:
            pass

    def finish_send(
        self,
        chat: UserChatRecord,
        mark: str,
        message: dict[str, Any],
        now: float,
        language: str,
        consent: bool | None,
        bot_job: str | None = None,
    ) -> None:
        def change(record: UserChatRecord, store_message: bool = True) -> None:
            sending = entries(record.sending)
            sending.pop(mark, None)
            sent = {
                old: at
                for old, at in entries(record.sent).items()
                if old == mark or not SendMark(old).expired(at, now)
            }
            sent[mark] = now
            unanswered = entries(record.unanswered)
            unanswered.pop(mark, None)
            record.sending, record.sent, record.unanswered = sending, sent, unanswered
            record.last_activity, record.language = now, language
            record.expires_at = utc_datetime(now + self.retention_seconds)
            if consent is not None:
                record.evaluation_consent = consent
            if bot_job is not None:
                record.bot_jobs = dict(entries(record.bot_jobs), **{bot_job: now})
            _append(record, message, store_message)

        self._change_appending(chat, change)

    def abandon_send(self, chat: UserChatRecord, mark: str, unanswered_after: int | None = None) -> None:
        def change(record: UserChatRecord) -> None:
            sending = entries(record.sending)
            sending.pop(mark, None)
            record.sending = sending
            if unanswered_after is not None:
                record.unanswered = dict(entries(record.unanswered), **{mark: unanswered_after})

        try:
            self._change(chat, lambda stored: stored.generation == chat.generation, change)
        except ChatGone:
            pass

    # --- messages learnt from Zammad ----------------------------------------------------
    def replace_messages(
        self, chat: UserChatRecord, messages: list[StoredMessage], now: float, settled_mark: str | None = None
    ) -> None:
        def change(record: UserChatRecord) -> None:
            record.messages = [StoredMessage(**m) for m in _as_dicts(messages)]
            record.messages_version = record.messages_version + 1
            record.messages_fetched_at = now
            if settled_mark is not None:
                unanswered = entries(record.unanswered)
                unanswered.pop(settled_mark, None)
                record.unanswered = unanswered
                record.sent = dict(entries(record.sent), **{settled_mark: now})

        try:
            self._change(chat, lambda stored: stored.messages_version == chat.messages_version, change)
        except ChatGone:
            pass
        except _TooLarge:
            self._give_up_storing(chat)
        chat.messages = messages

    def finish_bot_job(
        self, chat: UserChatRecord, job: str | None, message: dict[str, Any] | None, handover: bool
    ) -> None:
        def change(record: UserChatRecord, store_message: bool = True) -> None:
            jobs = entries(record.bot_jobs)
            jobs.pop(job or "", None)
            record.bot_jobs = jobs
            if handover:
                record.automatic_answers = False
            known = message is not None and any(int(m.id) == int(message["id"]) for m in chat.messages or [])
            if message is not None and not known:
                _append(record, message, store_message)

        self._change_appending(chat, change)

    def find_by_ticket(self, region: str, ticket_id: int) -> UserChatRecord | None:
        wanted = {"S": ticket_key(region, ticket_id)}
        with self._lock:
            for key, item in self._items.items():
                if item.get("ticket_key") == wanted:
                    return self._load(key)
        return None

    def add_message(self, chat: UserChatRecord, message: StoredMessage) -> bool:
        if any(int(known.id) == int(message.id) for known in chat.messages):
            return False
        with self._lock:  # one lock: the race DynamoDB's version condition settles cannot happen
            stored = self._load(chat.chat_key)
            if stored is None or stored.generation != chat.generation:
                return False
            if any(int(known.id) == int(message.id) for known in stored.messages):
                return False
            stored.messages = list(stored.messages) + [message]
            stored.messages_version = stored.messages_version + 1
            try:
                self._write(stored, into=chat)
            except _TooLarge:
                return self._give_up_storing(chat)
            return True

    def _give_up_storing(self, chat: UserChatRecord) -> bool:
        try:
            self._change(chat, lambda stored: stored.generation == chat.generation, _stop_storing)
            return True
        except ChatGone:
            return False

    # --- push ---------------------------------------------------------------------------
    def set_push_target(
        self,
        chat: UserChatRecord,
        target: dict[str, str] | None,
        now: float,
        only_if: dict[str, str] | None = None,
    ) -> bool:
        def allowed(stored: UserChatRecord) -> bool:
            if (
                stored.generation != chat.generation
                or stored.state != ChatState.OPEN
                or deleting(stored, now)
            ):
                return False
            if only_if is None:
                return True
            field = "token" if only_if["kind"] == "fcm" else "endpoint"
            return entries(stored.push_target).get(field) == only_if[field]

        def write(record: UserChatRecord) -> None:
            record.push_target = target or None

        try:
            self._change(chat, allowed, write)
            return True
        except ChatGone:
            return False

    def mark_seen(self, chat: UserChatRecord, article_id: int) -> None:
        def older(stored: UserChatRecord) -> bool:
            return stored.generation == chat.generation and int(stored.push_seen or 0) < article_id

        try:
            self._change(chat, older, lambda record: setattr(record, "push_seen", article_id))
        except ChatGone:
            pass

    def claim_push(self, chat: UserChatRecord, article_id: int, now: float) -> bool:
        def free(stored: UserChatRecord) -> bool:
            return (
                stored.generation == chat.generation
                and stored.state == ChatState.OPEN
                and not deleting(stored, now)
                and int(stored.push_sent or 0) < article_id
                and int(stored.push_seen or 0) < article_id
            )

        try:
            self._change(chat, free, lambda record: setattr(record, "push_sent", article_id))
            return True
        except ChatGone:
            return False

    # --- forgetting ---------------------------------------------------------------------
    def inactive(self, region: str, inactive_since: float) -> list[UserChatRecord]:
        with self._lock:
            found = [self._load(key) for key in list(self._items)]
        return [
            chat
            for chat in found
            if chat is not None and chat.region_slug == region and chat.last_activity < inactive_since
        ]

    def active_since(
        self,
        region: str,
        since: float,
        limit: int | None = None,
        skip: Callable[[str], bool] = lambda _key: False,
    ) -> list[UserChatRecord]:
        with self._lock:
            found = [self._load(key) for key in list(self._items) if not skip(key)]
        recent = [c for c in found if c is not None and c.region_slug == region and c.last_activity > since]
        recent.sort(key=lambda chat: chat.last_activity, reverse=True)
        return recent[:limit] if limit is not None else recent

    def forget_if_inactive(self, chat: UserChatRecord, inactive_since: float) -> bool:
        with self._lock:
            stored = self._load(chat.chat_key)
            if stored is None or stored.last_activity >= inactive_since:
                return False
            del self._items[chat.chat_key]
            return True

    def forget(self, chat: UserChatRecord) -> None:
        with self._lock:
            stored = self._load(chat.chat_key)
            if stored is not None and stored.generation == chat.generation:
                del self._items[chat.chat_key]


class _TooLarge(Exception):
    """The item would outgrow DynamoDB's 400 KB."""


def _append(record: UserChatRecord, message: dict[str, Any], store_message: bool) -> None:
    if not record.messages_stored:
        return
    if store_message:
        record.messages = list(record.messages or []) + [StoredMessage(**message)]
        record.messages_version = record.messages_version + 1
    else:
        _stop_storing(record)


def _stop_storing(record: UserChatRecord) -> None:
    record.messages, record.messages_stored = [], False
    record.messages_version = record.messages_version + 1
