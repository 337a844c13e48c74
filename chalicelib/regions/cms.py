"""Regions in step with the Integreat CMS (`CMS_URL`): the app learns from the CMS's public
regions endpoint which regions exist and whether each shows the chat, so this backend
follows the same list. A sync records, for every region the CMS lists, its name, privacy
policy and `is_chat_enabled`, and marks the regions it no longer lists; Zammad credentials
stay what the admin API set. The app's requests then get 404 for a region the CMS does not
list and 503 where the CMS does not show the chat: exactly when the app offers no chat.

A CMS that cannot be read, or lists no region at all, changes nothing (a broken CMS must
not switch every chat off).
"""

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import requests

from chalicelib.regions.rules import chat_configured, is_slug
from chalicelib.regions.store import RegionTable

REGIONS_PATH = "/api/v3/regions/"
TIMEOUT_SECONDS = (2.0, 20.0)  # connect, read: the list of every region is a large answer


class CmsUnavailable(Exception):
    """The CMS's regions could not be read (the message says why)."""


class CmsRegion(NamedTuple):
    slug: str
    name: str
    chat_enabled: bool
    privacy_policy: str | None


def fetch_cms_regions(cms_url: str, get: Callable[..., Any] = requests.get) -> tuple[list[CmsRegion], int]:
    """The regions the CMS lists, and how many of its entries were not usable."""
    try:
        response = get(
            cms_url.rstrip("/") + REGIONS_PATH,
            timeout=TIMEOUT_SECONDS,
            headers={"Accept": "application/json"},
        )
    except requests.RequestException as error:
        raise CmsUnavailable("%s: %s" % (REGIONS_PATH, type(error).__name__)) from None
    if response.status_code != 200:
        raise CmsUnavailable("%s: status %d" % (REGIONS_PATH, response.status_code))
    try:
        entries = response.json()
    except ValueError:
        raise CmsUnavailable("%s: not JSON" % REGIONS_PATH) from None
    if not isinstance(entries, list):
        raise CmsUnavailable("%s: not a list" % REGIONS_PATH)
    regions, skipped = [], 0
    for entry in entries:
        region = _cms_region(entry)
        if region is None:
            skipped += 1
        else:
            regions.append(region)
    if not regions:
        raise CmsUnavailable("%s: the CMS listed no region" % REGIONS_PATH)
    return regions, skipped


def _cms_region(entry: Any) -> CmsRegion | None:
    """A region as the CMS shows it (`path` is the slug); None when it is not that shape."""
    if not isinstance(entry, dict):
        return None
    slug, name, chat = entry.get("path"), entry.get("name"), entry.get("is_chat_enabled")
    policy = entry.get("zammad_privacy_policy")
    if not isinstance(slug, str) or not is_slug(slug.strip("/")) or not isinstance(name, str):
        return None
    if not isinstance(chat, bool) or not (policy is None or isinstance(policy, str)):
        return None
    return CmsRegion(slug.strip("/"), name[:200], chat, policy[:2000] if policy is not None else None)


def sync_regions(
    table: RegionTable, cms_regions: list[CmsRegion], clock: Callable[[], float] = time.time
) -> dict[str, Any]:
    now = clock()
    known = {record.slug: record for record in table.all()}
    created = []
    for region in cms_regions:
        if region.slug not in known:
            created.append(region.slug)
        table.sync_from_cms(region.slug, region.name, region.chat_enabled, region.privacy_policy, now)
    listed = {region.slug for region in cms_regions}
    unlisted = sorted(
        slug for slug, record in known.items() if slug not in listed and record.cms_listed is not False
    )
    for slug in unlisted:
        table.mark_unlisted(slug, now)
    # The CMS shows the chat, but this backend cannot serve it: an operator's to-do.
    synced = {record.slug: record for record in table.all()}
    missing = sorted(
        region.slug
        for region in cms_regions
        if region.chat_enabled and not chat_configured(synced[region.slug])
    )
    return {
        "listed": len(cms_regions),
        "created": created,
        "unlisted": unlisted,
        "chat_not_served_here": missing,
    }
