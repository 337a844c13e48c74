"""The switch-over's reads and writes of chats and draws (chalicelib/migration): a chat
of the CMS written here, a second import's rules for one written before, and the chats
a switch back gives the CMS.

An imported chat is open, with no stored messages and none fetched (`messages_fetched_at`
0): its first poll reads the ticket's articles from Zammad, as every later one does after
the cache time. It keeps the CMS's ticket, language, start and last message time, so "a
new chat only after the retention without a message" goes on from where the CMS was.
A chat nobody wrote to here since (its `last_activity` is still the imported one) follows
the CMS; every write is conditional on the chat as it was read."""

from collections.abc import Callable
from typing import NamedTuple

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.platform.times import utc_datetime
from chalicelib.storage.conditions import condition_failed, delete_if
from chalicelib.storage.small_tables import Draws
from chalicelib.user_chat.context import ChatContext
from chalicelib.user_chat.ports import ImportedChat
from chalicelib.user_chat.records import ASSIGNMENT_DAYS, UserChatRecord, chat_key, ticket_key
from chalicelib.user_chat.states import ChatState


class Written(NamedTuple):
    """`outcome`: new, here (the same, nothing to write), updated, replaced or kept (the
    device's chat here is ours); `replaced_ticket`: the ticket of the chat the CMS's
    newer one replaces."""

    outcome: str
    replaced_ticket: int | None = None


class Gone(NamedTuple):
    """A chat imported before that the CMS no longer has; `removed`: removed here (or,
    in a dry run, would be)."""

    device_id: str
    ticket_id: int
    removed: bool


class CmsChats:
    def __init__(self, context: ChatContext, draws: Draws, retention_seconds: float):
        self._context = context
        self._store = context.store
        self._draws = draws
        self._retention_seconds = retention_seconds

    # --- the import -------------------------------------------------------------------
    def write(self, chat: ImportedChat, dry_run: bool) -> Written:
        key = chat_key(chat.region, chat.device_id)
        if not dry_run:  # most chats are new (the first import): one write, no read
            try:
                self._record(chat, 1).save(condition=UserChatRecord.chat_key.does_not_exist())
                return Written("new")
            except PutError as error:
                if not condition_failed(error):
                    raise
        stored = self._store.get(key)
        outcome = _chat_outcome(stored, chat)
        written = Written(outcome, int(stored.ticket_id) if stored and outcome == "replaced" else None)
        if dry_run or outcome in ("here", "kept"):
            return written
        try:
            if outcome == "new":
                self._record(chat, 1).save(condition=UserChatRecord.chat_key.does_not_exist())
            elif outcome == "replaced":
                assert stored is not None
                self._record(chat, int(stored.generation) + 1).save(condition=_unchanged_since_read(stored))
            else:  # updated: the person wrote on in the CMS, into the same ticket
                assert stored is not None
                stored.update(
                    actions=[
                        UserChatRecord.last_activity.set(chat.last_message_at),
                        UserChatRecord.expires_at.set(
                            utc_datetime(chat.last_message_at + self._retention_seconds)
                        ),
                        UserChatRecord.language.set(chat.language),
                        UserChatRecord.cms_chat.set(chat.pk),
                        UserChatRecord.cms_last_activity.set(chat.last_message_at),
                    ],
                    condition=_unchanged_since_read(stored),
                )
            return written
        except (PutError, UpdateError) as error:
            if not condition_failed(error):
                raise
            # Written to here meanwhile (or by a run beside this one): what is here now stays.
            now_here = self._store.get(key)
            return written._replace(outcome="here" if _same_ticket(now_here, chat) else "kept")

    def gone(
        self, region: str, in_the_cms: Callable[[str], bool], newest_cms_chat: int, dry_run: bool
    ) -> list[Gone]:
        """The region's chats imported before and not written to here since, that the CMS
        has no chat for any more (`in_the_cms(a device id)`), unless the dump is older than
        their import (`newest_cms_chat`: its newest chat's pk): removed, the ticket stays."""
        since = self._context.clock() - self._retention_seconds
        found = []
        skip = lambda key: in_the_cms(key.split("#", 1)[1])  # noqa: E731  most: not even read
        for stored in self._store.active_since(region, since, skip=skip):
            if not _untouched(stored) or int(stored.cms_chat) > newest_cms_chat:
                continue
            condition = _unchanged_since_read(stored) & (UserChatRecord.cms_chat == stored.cms_chat)
            removed = dry_run or delete_if(stored, condition)
            found.append(Gone(stored.chat_key.split("#", 1)[1], int(stored.ticket_id), removed))
        return found

    def write_draw(self, region: str, device_id: str, enabled: bool, dry_run: bool) -> str:
        """The CMS's is_chat_enabled draw: new, here (the same) or kept (ours differs)."""
        key = chat_key(region, device_id)
        stored = self._draws.get(key)
        if stored is None and not dry_run:
            expires_at = utc_datetime(self._context.clock() + ASSIGNMENT_DAYS * 86400)
            stored = self._draws.draw_once(key, enabled, expires_at)
            return "new" if stored == enabled else "kept"
        if stored is None:
            return "new"
        return "here" if stored == enabled else "kept"

    # --- the comparison with the CMS ---------------------------------------------------
    def recent(self, region: str, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` of the region's chats within the retention, the most recent first:
        (device id, language)."""
        since = self._context.clock() - self._retention_seconds
        return [
            (chat.chat_key.split("#", 1)[1], chat.language)
            for chat in self._store.active_since(region, since, limit=limit)
        ]

    # --- the switch back --------------------------------------------------------------
    def open_since(self, region: str, since: float) -> list[UserChatRecord]:
        """The region's open chats with a ticket, active after `since`."""
        return [
            chat
            for chat in self._store.active_since(region, since)
            if chat.state == ChatState.OPEN and chat.ticket_id is not None
        ]

    def _record(self, chat: ImportedChat, generation: int) -> UserChatRecord:
        return UserChatRecord(
            chat_key(chat.region, chat.device_id),
            region_slug=chat.region,
            generation=generation,
            state=ChatState.OPEN,
            claimed_at=chat.started_at,
            ticket_id=chat.ticket_id,
            ticket_key=ticket_key(chat.region, chat.ticket_id),
            language=chat.language,
            evaluation_consent=False,
            messages=[],
            messages_fetched_at=0,
            last_activity=chat.last_message_at,
            expires_at=utc_datetime(chat.last_message_at + self._retention_seconds),
            automatic_answers=False,
            bot_jobs={},
            cms_chat=chat.pk,
            cms_last_activity=chat.last_message_at,
        )


def _untouched(stored: UserChatRecord) -> bool:
    """Imported and not written to here since: it follows the CMS."""
    return stored.cms_chat is not None and stored.last_activity == stored.cms_last_activity


def _unchanged_since_read(stored: UserChatRecord):
    return (UserChatRecord.generation == stored.generation) & (
        UserChatRecord.last_activity == stored.last_activity
    )


def _same_ticket(stored: UserChatRecord | None, chat: ImportedChat) -> bool:
    return stored is not None and stored.ticket_id is not None and int(stored.ticket_id) == chat.ticket_id


def _chat_outcome(stored: UserChatRecord | None, chat: ImportedChat) -> str:
    """What the import does with the device's CMS chat, given what is here."""
    if stored is None:
        return "new"
    if _same_ticket(stored, chat):
        # One ticket, written to on both sides: the newer last message moves the retention.
        return "updated" if chat.last_message_at > stored.last_activity else "here"
    if _untouched(stored) and chat.pk > int(stored.cms_chat):
        return "replaced"  # the device began a newer chat in the CMS; nothing was written here
    return "kept"  # the device's chat here is ours (begun or written to here)
