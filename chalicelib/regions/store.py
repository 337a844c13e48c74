"""The regions table behind a small interface (DynamoDB, and an in-memory twin that keeps
the same promises: tests/contract), and the 30 s cache that spares app requests a region
read."""

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pynamodb.exceptions import UpdateError

from chalicelib.platform.times import utc_datetime
from chalicelib.regions.rules import is_slug
from chalicelib.storage.models import RegionRecord

CACHE_SECONDS = 30


class RegionTable(Protocol):
    def find(self, slug: str) -> RegionRecord | None: ...

    def all(self) -> list[RegionRecord]:
        """Every region, by slug (a scan: the table is small, and only admins list it)."""

    def save(self, record: RegionRecord) -> None: ...

    def delete(self, slug: str) -> None: ...

    def slugs_with_webhook_token(self, token: str) -> list[str]:
        """The regions (at most two) whose webhook token this is (an index, not a scan)."""

    def mark_webhook_seen(self, slug: str, at: float) -> bool:
        """Record a valid webhook delivery; False if the region is gone (nothing written)."""

    def sync_from_cms(
        self, slug: str, name: str, chat_enabled: bool, privacy_policy: str | None, at: float
    ) -> None:
        """Record what the CMS lists of a region (created if new; other fields kept)."""

    def mark_unlisted(self, slug: str, at: float) -> None:
        """The CMS no longer lists the region (kept, with its settings, in case it returns)."""


class DynamoRegionTable:
    def find(self, slug: str) -> RegionRecord | None:
        try:
            return RegionRecord.get(slug)
        except RegionRecord.DoesNotExist:
            return None

    def all(self) -> list[RegionRecord]:
        return sorted(RegionRecord.scan(), key=lambda record: record.slug)

    def save(self, record: RegionRecord) -> None:
        record.save()

    def delete(self, slug: str) -> None:
        RegionRecord(slug).delete()

    def slugs_with_webhook_token(self, token: str) -> list[str]:
        return [hit.slug for hit in RegionRecord.webhook_token_index.query(token, limit=2)]

    def mark_webhook_seen(self, slug: str, at: float) -> bool:
        try:
            RegionRecord(slug).update(
                actions=[RegionRecord.webhook_seen_at.set(at)], condition=RegionRecord.slug.exists()
            )
        except UpdateError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False  # deleted meanwhile: not recreated
            raise
        return True

    def sync_from_cms(
        self, slug: str, name: str, chat_enabled: bool, privacy_policy: str | None, at: float
    ) -> None:
        actions: list = [
            RegionRecord.name.set(name),
            RegionRecord.cms_listed.set(True),
            RegionRecord.cms_chat_enabled.set(chat_enabled),
            RegionRecord.cms_synced_at.set(at),
            RegionRecord.updated_at.set(RegionRecord.updated_at | utc_datetime(at)),
        ]
        if privacy_policy is not None:
            actions.append(RegionRecord.zammad_privacy_policy.set(privacy_policy))
        RegionRecord(slug).update(actions=actions)

    def mark_unlisted(self, slug: str, at: float) -> None:
        try:
            RegionRecord(slug).update(
                actions=[RegionRecord.cms_listed.set(False), RegionRecord.cms_synced_at.set(at)],
                condition=RegionRecord.slug.exists(),
            )
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise


class MemoryRegionTable:
    """Keeps each region as DynamoDB would (serialised), so callers get copies."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def find(self, slug: str) -> RegionRecord | None:
        with self._lock:
            item = self._items.get(slug)
        return RegionRecord.from_raw_data(item) if item is not None else None

    def all(self) -> list[RegionRecord]:
        with self._lock:
            items = [self._items[slug] for slug in sorted(self._items)]
        return [RegionRecord.from_raw_data(item) for item in items]

    def save(self, record: RegionRecord) -> None:
        with self._lock:
            self._items[record.slug] = record.serialize()

    def delete(self, slug: str) -> None:
        with self._lock:
            self._items.pop(slug, None)

    def slugs_with_webhook_token(self, token: str) -> list[str]:
        with self._lock:
            return sorted(
                slug for slug, item in self._items.items() if item.get("zammad_webhook_token") == {"S": token}
            )[:2]

    def mark_webhook_seen(self, slug: str, at: float) -> bool:
        with self._lock:
            if slug not in self._items:
                return False
            self._items[slug]["webhook_seen_at"] = {"N": repr(at)}
            return True

    def sync_from_cms(
        self, slug: str, name: str, chat_enabled: bool, privacy_policy: str | None, at: float
    ) -> None:
        with self._lock:
            item = self._items.get(slug)
            record = (
                RegionRecord.from_raw_data(item) if item else RegionRecord(slug, updated_at=utc_datetime(at))
            )
            record.name, record.cms_listed, record.cms_chat_enabled, record.cms_synced_at = (
                name,
                True,
                chat_enabled,
                at,
            )
            if privacy_policy is not None:
                record.zammad_privacy_policy = privacy_policy
            self._items[slug] = record.serialize()

    def mark_unlisted(self, slug: str, at: float) -> None:
        with self._lock:
            if slug in self._items:
                record = RegionRecord.from_raw_data(self._items[slug])
                record.cms_listed, record.cms_synced_at = False, at
                self._items[slug] = record.serialize()


class RegionCache:
    """Regions by slug, kept for CACHE_SECONDS per warm instance (unknown slugs too), so
    an app request costs no region read. An admin change reaches other instances within
    that time; the instance that made it forgets at once."""

    MAX_ENTRIES = 1000  # unknown slugs are cached too; bound what random ones can fill

    def __init__(
        self,
        find: Callable[[str], RegionRecord | None],
        clock: Callable[[], float] = time.monotonic,
        seconds: float = CACHE_SECONDS,
    ):
        self._find = find
        self._clock = clock
        self._seconds = seconds
        self._entries: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def get(self, slug: str) -> RegionRecord | None:
        """The region, or None for an unknown slug (or one that is not a slug at all)."""
        if not is_slug(slug):
            return None
        now = self._clock()
        with self._lock:
            entry = self._entries.get(slug)
        if entry is not None and now - entry[0] < self._seconds:
            return entry[1]
        record = self._find(slug)
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[slug] = (now, record)
        return record

    def forget(self, slug: str) -> None:
        with self._lock:
            self._entries.pop(slug, None)
