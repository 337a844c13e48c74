"""Writing what a CMS dump holds (cms_dump.py) into our tables, so a region moves over
without losing a conversation (docs/migrating.md).

Every write is conditional or compares first, so a second run adds nothing and a run that
was stopped finishes when run again. The import never calls Zammad.

What a second import (docs/migrating.md, step 5) may change, and what it leaves:
- a region's setting the CMS changed since the last import is written; one changed here
  since is kept (the CMS's differs: printed). The record holds a digest of each setting as
  the import last read it (`cms_imported`), so the two can be told apart;
- a chat keeps following the CMS while nobody wrote to it here (its `last_activity` is
  still the imported one): its ticket's newer last message moves its retention on, a newer
  CMS chat of the device replaces it, and one gone from the CMS goes here too. A chat
  written to here, or begun here, is ours and stays (counted `kept`);
- a draw is never drawn again; an author message has an id made from its CMS pk.
Each change to what is here (a setting, a chat replaced or removed) is printed.

How a chat and a draw are written, and a second import's rules for one written before,
are the user chat's (user_chat/cms_chats.py); this counts and prints what they did.
"""

import hashlib
import json
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.author_chat.store import ROOM, AuthorMessageRecord, DuplicateMessage, DynamoAuthorMessages
from chalicelib.migration.cms_dump import CmsAuthorMessage, CmsDraw, CmsDump, CmsRegion, Refused
from chalicelib.platform.times import utc_datetime
from chalicelib.regions.service import Regions
from chalicelib.storage.models import entries
from chalicelib.user_chat.ports import ImportedChat
from chalicelib.web.errors import ApiError, Conflict

if TYPE_CHECKING:
    from chalicelib.user_chat.service import CmsChats

PROGRESS_EVERY = 500  # records between two lines of progress
WRITERS = 8  # writes in flight at once


class ImportReport(NamedTuple):
    # (region, kind, outcome) -> how many; region "" for the author chat and other models.
    # Kinds: settings, chats, draws, author messages. Outcomes: new (written, or with
    # --dry-run to be written), here (already), updated (its ticket's last message was
    # newer in the CMS), replaced (by the device's newer CMS chat), gone (from the CMS,
    # removed here), kept (the device's chat here is ours), expired, superseded, older
    # (than the window), unchanged.
    counts: Counter
    refused: list[Refused]
    # What changed here, or would with --dry-run, and what was kept against the CMS:
    # ("changed" or "kept", the words), one line each.
    notes: list[tuple[str, str]]


def setting_digest(name: str, value: Any) -> str:
    """What `cms_imported` holds of a setting: enough to see it changed, not its value
    (the Zammad token is one)."""
    return hashlib.sha256(json.dumps([name, value]).encode()).hexdigest()[:32]


def _device(region: str, device: str) -> str:
    return "%s %s…" % (region, device[:8])


def author_message_id(message: CmsAuthorMessage) -> str:
    """Its id here: the send time, then 8 hex digits made from its CMS pk (the same on
    every run, so a second run finds it)."""
    suffix = hashlib.sha256(b"cms.chatmessage %d" % message.pk).hexdigest()[:8]
    return "%013d-%s" % (int(message.sent_at * 1000), suffix)


class CmsImport:
    def __init__(
        self,
        regions: Regions,
        chats: "CmsChats",
        *,
        history_days: int,
        dry_run: bool = False,
    ):
        """`chats`: the user chat's part for the switch-over (UserChats.cms_chats)."""
        self._regions = regions
        self._chats = chats
        self._history_seconds = history_days * 86400
        self._dry_run = dry_run
        self._counts: Counter = Counter()
        self._notes: list[tuple[str, str]] = []
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
                    region.slug, self._settings(region).changes or {"name": region.settings.get("name")}
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
        self._notes = []
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
            *((self._gone, (dump, region)) for region in sorted(written_regions)),
        ]
        total = done + len(steps)
        with ThreadPoolExecutor(WRITERS) as writers:  # each write is one round trip: overlap them
            for _written in writers.map(lambda step: step[0](step[1]), steps):
                done += 1
                if done % PROGRESS_EVERY == 0:
                    progress(done, total)
        progress(done, total)
        return ImportReport(self._counts, refused, sorted(self._notes))

    def _count(self, region: str, kind: str, outcome: str) -> None:
        with self._lock:
            self._counts[(region, kind, outcome)] += 1

    def _note(self, verb: str, words: str) -> None:
        with self._lock:
            self._notes.append((verb, words))

    # --- one record each ------------------------------------------------------------
    def _settings(self, region: CmsRegion) -> "_Settings":
        """What to write of the region's settings: the CMS's where this side has the value
        the last import read (or none was ever read), ours where it was changed here since."""
        stored = self._regions.find(region.slug)
        read_before = entries(stored.cms_imported) if stored else {}
        changes: dict[str, Any] = {}
        kept = []
        for name, value in region.settings.items():
            if stored is None:
                changes[name] = value
                continue
            here = getattr(stored, name)
            if here == value:
                continue
            if name in read_before and read_before[name] != setting_digest(name, here):
                kept.append(name)  # changed here since the last import
            else:
                changes[name] = value
        if region.settings.get("zammad_webhook_token") and not (stored and stored.zammad_webhook_secret):
            # The CMS's webhook is unsigned; ours needs a signature (docs/migrating.md):
            # a secret of our own, set in Zammad by `manage zammad-setup`.
            changes["zammad_webhook_secret"] = secrets.token_urlsafe(32)
        digests = {name: setting_digest(name, value) for name, value in region.settings.items()}
        overwritten = sorted(set(changes) & set(region.settings)) if stored is not None else []
        return _Settings(
            changes, overwritten, kept, digests, stored is not None and dict(read_before) != digests
        )

    def _region(self, region: CmsRegion) -> None:
        settings = self._settings(region)
        if settings.overwritten:
            self._note(
                "changed", "region %s: %s set to the CMS's" % (region.slug, ", ".join(settings.overwritten))
            )
        if settings.kept:
            self._note(
                "kept",
                "region %s: %s changed here since the last import; the CMS's differ%s"
                % (region.slug, ", ".join(settings.kept), "s" if len(settings.kept) == 1 else ""),
            )
        if not settings.changes and not settings.digests_differ:
            self._count(region.slug, "settings", "unchanged")
            return
        self._count(region.slug, "settings", "new" if settings.changes else "unchanged")
        if not self._dry_run:
            self._regions.put(region.slug, settings.changes, cms_imported=settings.digests)

    def _chat(self, chat: ImportedChat) -> None:
        written = self._chats.write(chat, self._dry_run)
        if written.replaced_ticket is not None:
            self._note(
                "changed",
                "chat %s: the device's newer chat in the CMS (ticket %d) replaces ticket %s"
                % (_device(chat.region, chat.device_id), chat.ticket_id, written.replaced_ticket),
            )
        self._count(chat.region, "chats", written.outcome)

    def _gone(self, job: tuple[CmsDump, str]) -> None:
        """Chats imported before whose device the CMS has no chat for any more (and the
        dump is not older than their import): removed here as there. The ticket stays in
        Zammad; the import never calls it."""
        dump, region = job
        in_the_cms = lambda device: (region, device) in dump.chat_devices  # noqa: E731
        for gone in self._chats.gone(region, in_the_cms, dump.newest_chat, self._dry_run):
            self._note(
                "changed",
                "chat %s: gone from the CMS, so removed here (ticket %s stays in Zammad)"
                % (_device(region, gone.device_id), gone.ticket_id),
            )
            if gone.removed:
                self._count(region, "chats", "gone")

    def _draw(self, draw: CmsDraw) -> None:
        self._count(
            draw.region,
            "draws",
            self._chats.write_draw(draw.region, draw.device_id, draw.enabled, self._dry_run),
        )

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


class _Settings(NamedTuple):
    changes: dict[str, Any]  # to write
    overwritten: list[str]  # of those, settings the region here had another value of
    kept: list[str]  # the CMS's differs, ours was changed here since the last import
    digests: dict[str, str]  # what `cms_imported` is to hold
    digests_differ: bool  # a region here whose `cms_imported` is not that
