"""Regions in DynamoDB, and the 30 s cache that spares app requests a region read.
Secrets are write-only, so a client that reads a region, changes its name and writes it
back must not erase the Zammad token (see rules.py)."""

import threading
import time
from collections.abc import Callable
from typing import Any

from chalicelib.platform.times import utc_datetime
from chalicelib.regions.rules import RESERVED_SLUGS, SLUG, check_changes, validate_slug
from chalicelib.storage.models import RegionRecord
from chalicelib.web.errors import BadRequest, Conflict, NotFound

CACHE_SECONDS = 30


class RegionStore:
    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock

    def get(self, slug: str) -> RegionRecord:
        validate_slug(slug)
        record = self.find(slug)
        if record is None:
            raise NotFound("Region not found.")
        return record

    def find(self, slug: str) -> RegionRecord | None:
        try:
            return RegionRecord.get(slug)
        except RegionRecord.DoesNotExist:
            return None

    def list(self) -> list[RegionRecord]:
        return sorted(RegionRecord.scan(), key=lambda record: record.slug)

    def put(self, slug: str, changes: dict[str, Any]) -> RegionRecord:
        validate_slug(slug)
        changes = check_changes(dict(changes))
        record = self.find(slug) or RegionRecord(slug, name=slug)
        for field, value in changes.items():
            setattr(record, field, value)
        if record.zammad_webhook_token and not record.zammad_webhook_secret:
            # A token travels in a URL; only the signature proves a delivery is Zammad's.
            raise BadRequest("zammad_webhook_secret is required when zammad_webhook_token is set.")
        if changes.get("zammad_webhook_token"):
            self._check_webhook_token_free(slug, changes["zammad_webhook_token"])
        record.updated_at = utc_datetime(self._clock())
        record.save()
        return record

    def delete(self, slug: str) -> None:
        record = self.get(slug)
        record.delete()

    @staticmethod
    def _check_webhook_token_free(slug: str, token: str) -> None:
        for other in RegionRecord.webhook_token_index.query(token, limit=2):
            if other.slug != slug:
                raise Conflict("zammad_webhook_token is already used by another region.")


class RegionCache:
    """Regions by slug, kept for CACHE_SECONDS per warm instance (unknown slugs too), so
    an app request costs no region read. An admin change reaches other instances within
    that time; the instance that made it forgets at once."""

    MAX_ENTRIES = 1000  # unknown slugs are cached too; bound what random ones can fill

    def __init__(
        self, store: RegionStore, clock: Callable[[], float] = time.monotonic, seconds: float = CACHE_SECONDS
    ):
        self._store = store
        self._clock = clock
        self._seconds = seconds
        self._entries: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def get(self, slug: str) -> RegionRecord | None:
        if not SLUG.match(slug) or slug in RESERVED_SLUGS:
            return None
        now = self._clock()
        with self._lock:
            entry = self._entries.get(slug)
        if entry is not None and now - entry[0] < self._seconds:
            return entry[1]
        record = self._store.find(slug)
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[slug] = (now, record)
        return record

    def forget(self, slug: str) -> None:
        with self._lock:
            self._entries.pop(slug, None)
