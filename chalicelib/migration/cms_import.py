"""Writing what a CMS dump holds (cms_dump.py) into our tables, so a region moves over
without losing a conversation (docs/migrating.md).

Every write is conditional or compares first, so a second run adds nothing and a run that
was stopped finishes when run again: a chat or a draw is put only where the device has
none here (one it has is kept and counted), an author message has an id made from its CMS
pk, a region is written only when its settings differ. The import never calls Zammad.

A chat is written as open, with no stored messages and none fetched (`messages_fetched_at`
0): its first poll reads the ticket's articles from Zammad, as every later one does after
the cache time. It keeps the CMS's ticket, language, start and last message time, so "a
new chat only after the retention without a message" goes on from where the CMS was.
"""

import hashlib
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from pynamodb.exceptions import PutError

from chalicelib.author_chat.store import ROOM, AuthorMessageRecord, DuplicateMessage, DynamoAuthorMessages
from chalicelib.migration.cms_dump import CmsAuthorMessage, CmsChat, CmsDraw, CmsDump, CmsRegion, Refused
from chalicelib.platform.times import utc_datetime
from chalicelib.regions.service import Regions
from chalicelib.storage.conditions import condition_failed
from chalicelib.storage.small_tables import Draws
from chalicelib.user_chat.ports import Chats
from chalicelib.user_chat.records import UserChatRecord, chat_key, ticket_key
from chalicelib.user_chat.service import ASSIGNMENT_DAYS
from chalicelib.user_chat.states import ChatState
from chalicelib.web.errors import ApiError, Conflict

PROGRESS_EVERY = 500  # records between two lines of progress
WRITERS = 8  # writes in flight at once


class ImportReport(NamedTuple):
    # (region, kind, outcome) -> how many; region "" for the author chat and other models.
    # Kinds: settings, chats, draws, author messages. Outcomes: new (written, or with
    # --dry-run to be written), here (already), kept (the device has another of ours),
    # expired, superseded, older (than the window), unchanged.
    counts: Counter
    refused: list[Refused]


def author_message_id(message: CmsAuthorMessage) -> str:
    """Its id here: the send time, then 8 hex digits made from its CMS pk (the same on
    every run, so a second run finds it)."""
    suffix = hashlib.sha256(b"cms.chatmessage %d" % message.pk).hexdigest()[:8]
    return "%013d-%s" % (int(message.sent_at * 1000), suffix)


class CmsImport:
    def __init__(
        self,
        regions: Regions,
        chats: Chats,
        draws: Draws,
        retention_days: int,
        history_days: int,
        clock: Callable[[], float],
        dry_run: bool = False,
    ):
        self._regions = regions
        self._chats = chats
        self._draws = draws
        self._retention_seconds = retention_days * 86400
        self._history_seconds = history_days * 86400
        self._clock = clock
        self._dry_run = dry_run
        self._counts: Counter = Counter()
        self._lock = threading.Lock()

    def check_regions(self, dump: CmsDump) -> list[Refused]:
        """What the regions' writes would refuse, found before any write (the dry run's
        too): a webhook token another region holds, here or in the dump, a setting refused."""
        refused = []
        holders = Counter(r.settings.get("zammad_webhook_token") for r in dump.regions.values())
        for region in dump.regions.values():
            token = region.settings.get("zammad_webhook_token")
            try:
                if token and holders[token] > 1:
                    raise Conflict("zammad_webhook_token is another region's in the dump too.")
                self._regions.check(
                    region.slug, self._changes(region) or {"name": region.settings.get("name")}
                )
            except ApiError as error:
                refused.append(Refused("cms.region %s" % region.slug, error.message))
        return refused

    def run(
        self,
        dump: CmsDump,
        progress: Callable[[int, int], object] = lambda done, total: None,
        skip_regions: frozenset[str] = frozenset(),
    ) -> ImportReport:
        """Import the dump; with refusals in it, nothing (the caller chose to skip them
        by passing a dump without them, and the regions check_regions refused as
        `skip_regions`, which take their chats and draws with them)."""
        self._counts = Counter(dump.skipped)
        refused: list[Refused] = []
        done = 0
        written_regions = set()
        for region in dump.regions.values():
            if region.slug in skip_regions:
                continue
            try:
                self._region(region)
                written_regions.add(region.slug)
            except ApiError as error:  # changed here since check_regions: refused all the same
                refused.append(Refused("cms.region %s" % region.slug, error.message))
            done += 1
        # A region that could not be written takes its chats and draws with it.
        steps: list[tuple[Callable[[Any], None], Any]] = [
            *((self._chat, chat) for chat in dump.chats if chat.region in written_regions),
            *((self._draw, draw) for draw in dump.draws if draw.region in written_regions),
            *((self._author_message, message) for message in dump.author_messages),
        ]
        total = done + len(steps)
        with ThreadPoolExecutor(WRITERS) as writers:  # each write is one round trip: overlap them
            for _written in writers.map(lambda step: step[0](step[1]), steps):
                done += 1
                if done % PROGRESS_EVERY == 0:
                    progress(done, total)
        progress(done, total)
        return ImportReport(self._counts, refused)

    def _count(self, region: str, kind: str, outcome: str) -> None:
        with self._lock:
            self._counts[(region, kind, outcome)] += 1

    # --- one record each ------------------------------------------------------------
    def _changes(self, region: CmsRegion) -> dict[str, Any]:
        stored = self._regions.find(region.slug)
        changes = {
            name: value
            for name, value in region.settings.items()
            if stored is None or getattr(stored, name) != value
        }
        if region.settings.get("zammad_webhook_token") and not (stored and stored.zammad_webhook_secret):
            # The CMS's webhook is unsigned; ours needs a signature (docs/migrating.md):
            # a secret of our own, set in Zammad by `manage zammad-setup`.
            changes["zammad_webhook_secret"] = secrets.token_urlsafe(32)
        return changes

    def _region(self, region: CmsRegion) -> None:
        changes = self._changes(region)
        if not changes:
            self._count(region.slug, "settings", "unchanged")
            return
        self._count(region.slug, "settings", "new")
        if not self._dry_run:
            self._regions.put(region.slug, changes)

    def _chat(self, chat: CmsChat) -> None:
        key = chat_key(chat.region, chat.device_id)
        record = UserChatRecord(
            key,
            region_slug=chat.region,
            generation=1,
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
        )
        if self._dry_run:
            stored = self._chats.get(key)
            self._count(chat.region, "chats", "new" if stored is None else _kept(stored, chat))
            return
        try:
            record.save(condition=UserChatRecord.chat_key.does_not_exist())
            self._count(chat.region, "chats", "new")
        except PutError as error:
            if not condition_failed(error):
                raise
            self._count(chat.region, "chats", _kept(self._chats.get(key), chat))

    def _draw(self, draw: CmsDraw) -> None:
        key = chat_key(draw.region, draw.device_id)
        stored = self._draws.get(key)
        if stored is None and not self._dry_run:
            expires_at = utc_datetime(self._clock() + ASSIGNMENT_DAYS * 86400)
            stored = self._draws.draw_once(key, draw.enabled, expires_at)
            self._count(draw.region, "draws", "new" if stored == draw.enabled else "kept")
        elif stored is None:
            self._count(draw.region, "draws", "new")
        else:
            self._count(draw.region, "draws", "here" if stored == draw.enabled else "kept")

    def _author_message(self, message: CmsAuthorMessage) -> None:
        record = AuthorMessageRecord(
            ROOM,
            author_message_id(message),
            text=message.text,
            sender_id=message.sender_id,
            sender_name=message.sender_name,
            sender_email=message.sender_email,
            sent_at=utc_datetime(message.sent_at),
            # From the send time, not the import's: it leaves when the CMS would stop showing it.
            expires_at=utc_datetime(message.sent_at + self._history_seconds),
        )
        store = DynamoAuthorMessages()
        if self._dry_run:
            present = store.get(record.message_id) is not None
            self._count("", "author messages", "here" if present else "new")
            return
        try:
            store.add(record)
            self._count("", "author messages", "new")
        except DuplicateMessage:
            self._count("", "author messages", "here")


def _kept(stored: UserChatRecord | None, chat: CmsChat) -> str:
    same = stored is not None and stored.ticket_id is not None and int(stored.ticket_id) == chat.ticket_id
    return "here" if same else "kept"  # kept: the device has another chat here
