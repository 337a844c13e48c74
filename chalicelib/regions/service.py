"""Regions as the admin API and `manage region` see them: the rules (rules.py) applied to
the table (store.py). Secrets are write-only, so a client that reads a region, changes its
name and writes it back must not erase the Zammad token."""

from collections.abc import Callable
from typing import Any

from chalicelib.platform.times import utc_datetime
from chalicelib.regions.rules import check_changes, validate_slug
from chalicelib.regions.store import RegionTable
from chalicelib.storage.models import RegionRecord
from chalicelib.web.errors import BadRequest, Conflict, NotFound


class Regions:
    def __init__(self, clock: Callable[[], float], table: RegionTable):
        self._clock = clock
        self.table = table

    def get(self, slug: str) -> RegionRecord:
        validate_slug(slug)
        record = self.find(slug)
        if record is None:
            raise NotFound("Region not found.")
        return record

    def find(self, slug: str) -> RegionRecord | None:
        return self.table.find(slug)

    def list(self) -> list[RegionRecord]:
        return self.table.all()

    def put(
        self, slug: str, changes: dict[str, Any], cms_imported: dict[str, str] | None = None
    ) -> RegionRecord:
        """`cms_imported`: only the CMS import's, what it read of the CMS's settings."""
        record = self.check(slug, changes)
        if cms_imported is not None:
            record.cms_imported = cms_imported
        record.updated_at = utc_datetime(self._clock())
        self.table.save(record)
        return record

    def check(self, slug: str, changes: dict[str, Any]) -> RegionRecord:
        """The region as `put` would write it, checked (an ApiError if it may not be); no write."""
        validate_slug(slug)
        changes = check_changes(dict(changes))
        record = self.find(slug) or RegionRecord(slug, name=slug)
        for field, value in changes.items():
            setattr(record, field, value)
        if record.zammad_webhook_token and not record.zammad_webhook_secret:
            # A token travels in a URL; only the signature proves a delivery is Zammad's.
            raise BadRequest("zammad_webhook_secret is required when zammad_webhook_token is set.")
        token = changes.get("zammad_webhook_token")
        if token and any(other != slug for other in self.table.slugs_with_webhook_token(token)):
            raise Conflict("zammad_webhook_token is already used by another region.")
        return record

    def delete(self, slug: str) -> None:
        self.get(slug)
        self.table.delete(slug)
