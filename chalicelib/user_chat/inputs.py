"""What the app's path names look like (SPEC §4), for every part that reads one: the
routes (the chat's, files', push's), the real-time channel's subscriptions, the import
from the CMS."""

import re
from typing import Any

from chalicelib.regions.rules import LANGUAGE_SLUG, listed
from chalicelib.storage.models import RegionRecord
from chalicelib.web.errors import BadRequest, NotFound

DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}\Z")


def device_id(value: str) -> str:
    """The device id, or 400."""
    if not DEVICE_ID.match(value):
        raise BadRequest("Invalid device id.")
    return value


def language(value: str) -> str:
    """The language slug, or 400."""
    if not LANGUAGE_SLUG.match(value):
        raise BadRequest("Invalid language.")
    return value


def region(region_cache: Any, slug: str) -> "RegionRecord":
    """The region (RegionRecord) the app names, or 404: unknown here, or no longer in the CMS."""
    found = region_cache.get(slug)
    if found is None or not listed(found):
        raise NotFound("Region not found.")
    return found
