"""The regions table in memory (tests/contract holds it to `DynamoRegionTable`'s promises)."""

import threading
from typing import Any

from chalicelib.platform.times import utc_datetime
from chalicelib.storage.models import RegionRecord


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

    def mark_webhook_seen(
        self, slug: str, at: float, verified: bool = True, article: str | None = None
    ) -> bool:
        with self._lock:
            if slug not in self._items:
                return False
            item = self._items[slug]
            item["webhook_seen_at" if verified else "webhook_refused_at"] = {"N": repr(at)}
            if not verified:
                item.pop("webhook_refused_article", None)
                if article:
                    item["webhook_refused_article"] = {"S": article}
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

    def take_setup_lease(self, slug: str, now: float, until: float) -> bool:
        with self._lock:
            item = self._items.get(slug)
            held = item is not None and "zammad_setup_until" in item
            if item is None or (held and float(item["zammad_setup_until"]["N"]) >= now):
                return False
            item["zammad_setup_until"] = {"N": repr(until)}
            return True

    def end_setup_lease(self, slug: str) -> None:
        with self._lock:
            if slug in self._items:
                self._items[slug].pop("zammad_setup_until", None)
