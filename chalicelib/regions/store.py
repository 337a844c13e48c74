"""Regions and their chat settings (SPEC §6), shared by the admin API and `manage region`.

PUT semantics: a field left out keeps its stored value (the defaults for a new region),
and `null` clears an optional one. Secrets are write-only, so a client that reads a
region, changes its name and writes it back must not erase the Zammad token.
"""

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from chalicelib.platform.times import iso_utc, utc_datetime
from chalicelib.storage.models import RegionRecord
from chalicelib.web.errors import BadRequest, Conflict, NotFound
from chalicelib.web.http import check_text_values

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}\Z")
# Path segments of other routes at the place of a region slug in /api/v3/{region}/...
RESERVED_SLUGS = frozenset({"admin", "author-chat", "webhook"})
CACHE_SECONDS = 30
MIN_WEBHOOK_SECRET = 16
SECRETS = ("zammad_access_token", "zammad_webhook_token", "zammad_webhook_secret")
_TEXT_FIELDS = {  # field: (may be null, max length)
    "name": (False, 200),
    "zammad_url": (True, 500),
    "zammad_access_token": (True, 500),
    "zammad_webhook_token": (True, 200),
    "zammad_webhook_secret": (True, 500),
    "zammad_privacy_policy": (False, 2000),
    "ticket_group": (True, 200),
}
_FIELDS = set(_TEXT_FIELDS) | {"integreat_chat_enabled", "chat_beta_tester_percentage"}
_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?\Z")
WEBHOOK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,200}\Z")


def validate_slug(slug: str) -> str:
    if not SLUG.match(slug or ""):
        raise BadRequest("A region slug is 1-100 lower-case letters, digits, '-' or '_'.")
    if slug in RESERVED_SLUGS:
        raise BadRequest("%r is reserved for other routes of the API." % slug)
    return slug


def public_view(record: RegionRecord) -> dict[str, Any]:
    """What the API shows of a region: every setting, and of each secret only whether it is set."""
    view = {
        "slug": record.slug,
        "name": record.name,
        "integreat_chat_enabled": bool(record.integreat_chat_enabled),
        "zammad_url": record.zammad_url,
        "chat_beta_tester_percentage": int(record.chat_beta_tester_percentage),
        "zammad_privacy_policy": record.zammad_privacy_policy,
        "ticket_group": record.ticket_group,
        "chat_configured": chat_configured(record),
        "updated_at": iso_utc(record.updated_at),
        # Whether Zammad's webhook works: the time of the last valid delivery.
        "zammad_webhook_last_delivery_at": iso_utc(utc_datetime(record.webhook_seen_at))
        if record.webhook_seen_at
        else None,
    }
    for secret in SECRETS:
        view[secret + "_set"] = bool(getattr(record, secret))
    return view


def chat_configured(record: RegionRecord) -> bool:
    return bool(record.integreat_chat_enabled and record.zammad_url and record.zammad_access_token)


def _check_changes(changes: dict[str, Any]) -> dict[str, Any]:
    check_text_values(changes)  # the CLI's arguments too: not only what came as JSON
    unknown = sorted(set(changes) - _FIELDS)
    if unknown:
        raise BadRequest("Unknown field(s): %s." % ", ".join(unknown))
    for field, (nullable, max_length) in _TEXT_FIELDS.items():
        if field not in changes:
            continue
        value = changes[field]
        if value is None and nullable:
            continue
        if not isinstance(value, str) or len(value) > max_length:
            raise BadRequest("%s must be a string of at most %d characters." % (field, max_length))
        if nullable and not value.strip():
            changes[field] = None  # an empty string clears, like null
    if changes.get("zammad_url") is not None:
        changes["zammad_url"] = changes["zammad_url"].rstrip("/")
        if not _URL.match(changes["zammad_url"]):
            raise BadRequest("zammad_url must be an http(s) URL.")
    if changes.get("zammad_webhook_token") is not None and not WEBHOOK_TOKEN.match(
        changes["zammad_webhook_token"]
    ):
        raise BadRequest("zammad_webhook_token must be 16-200 letters, digits, '-' or '_'.")
    secret = changes.get("zammad_webhook_secret")
    if secret is not None and len(secret.strip()) < MIN_WEBHOOK_SECRET:
        raise BadRequest("zammad_webhook_secret must be at least %d characters." % MIN_WEBHOOK_SECRET)
    if "integreat_chat_enabled" in changes and not isinstance(changes["integreat_chat_enabled"], bool):
        raise BadRequest("integreat_chat_enabled must be true or false.")
    if "chat_beta_tester_percentage" in changes:
        value = changes["chat_beta_tester_percentage"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise BadRequest("chat_beta_tester_percentage must be a whole number from 0 to 100.")
    return changes


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
        changes = _check_changes(dict(changes))
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
