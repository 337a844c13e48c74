"""What the app's device id looks like (SPEC §4), for every part that reads one: the
routes, the real-time channel's subscriptions, the import from the CMS."""

import re

from chalicelib.web.errors import BadRequest

DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}\Z")


def device_id(value: str) -> str:
    """The device id, or 400."""
    if not DEVICE_ID.match(value):
        raise BadRequest("Invalid device id.")
    return value
