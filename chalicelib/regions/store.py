"""The regions table behind a small interface (DynamoDB here; an in-memory twin in
tests/support/memory/ keeps the same promises: tests/contract), and the 30 s cache that spares app
requests a region read."""

import threading
import time
from collections.abc import Callable
from typing import Protocol

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib.platform.times import utc_datetime
from chalicelib.regions.rules import is_slug
from chalicelib.storage.conditions import condition_failed
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

    def mark_webhook_seen(
        self, slug: str, at: float, verified: bool = True, article: str | None = None
    ) -> bool:
        """Record a webhook delivery to the region's URL, `verified` or refused for its
        signature (with the article it claimed: webhook/service.py); False if the region is
        gone (nothing written)."""

    def sync_from_cms(
        self, slug: str, name: str, chat_enabled: bool, privacy_policy: str | None, at: float
    ) -> None:
        """Record what the CMS lists of a region (created if new; other fields kept)."""

    def mark_unlisted(self, slug: str, at: float) -> None:
        """The CMS no longer lists the region (kept, with its settings, in case it returns)."""

    def take_setup_lease(self, slug: str, now: float, until: float) -> bool:
        """Hold the region for one zammad-setup until `until`; False if another holds it (or
        the region is gone). A lease past its time is taken over (a setup that died)."""

    def end_setup_lease(self, slug: str) -> None: ...


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

    def mark_webhook_seen(
        self, slug: str, at: float, verified: bool = True, article: str | None = None
    ) -> bool:
        actions: list[Action]
        if verified:
            actions = [RegionRecord.webhook_seen_at.set(at)]
        else:
            refused = RegionRecord.webhook_refused_article
            actions = [
                RegionRecord.webhook_refused_at.set(at),
                refused.set(article) if article else refused.remove(),
            ]
        try:
            RegionRecord(slug).update(actions=actions, condition=RegionRecord.slug.exists())
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

    def take_setup_lease(self, slug: str, now: float, until: float) -> bool:
        lease = RegionRecord.zammad_setup_until
        try:
            RegionRecord(slug).update(
                actions=[lease.set(until)],
                condition=RegionRecord.slug.exists() & (lease.does_not_exist() | (lease < now)),
            )
        except UpdateError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def end_setup_lease(self, slug: str) -> None:
        try:
            RegionRecord(slug).update(
                actions=[RegionRecord.zammad_setup_until.remove()], condition=RegionRecord.slug.exists()
            )
        except UpdateError as error:
            if not condition_failed(error):
                raise


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
