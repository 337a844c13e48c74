"""Download links of a chat's files (docs/files.md, "Downloads"): a path of the device's
own chat, with an expiry and an HMAC over both, so a link works for that chat only, cannot
be altered and ends.

The key is derived from the region's Zammad token (HMAC with a fixed label): nothing new
to keep secret, and rotating the token ends every link at once. Expiries are rounded up to
a whole step, so a chat's answer, and its ETag, stay the same within a step.
"""

import hashlib
import hmac
from typing import NamedTuple

_LABEL = b"integreat-chat file links v1"


class FileRef(NamedTuple):
    """A file of a visible article of one device's chat."""

    region: str
    device_id: str
    article_id: int
    attachment_id: int

    def message(self, expires: int) -> bytes:
        return ("%s\n%s\n%d\n%d\n%d" % (*self, expires)).encode("utf-8")


def _key(region_token: str) -> bytes:
    return hmac.new(region_token.encode("utf-8"), _LABEL, hashlib.sha256).digest()


def signature(region_token: str, ref: FileRef, expires: int) -> str:
    return hmac.new(_key(region_token), ref.message(expires), hashlib.sha256).hexdigest()[:32]


def expiry(now: float, link_seconds: int) -> int:
    """Between one and two steps from now, the same for every answer within a step."""
    return (int(now) // link_seconds + 2) * link_seconds


def link_path(language: str, ref: FileRef, region_token: str, now: float, link_seconds: int) -> str:
    expires = expiry(now, link_seconds)
    return "/api/v3/%s/%s/chat/%s/attachments/%d/%d/?expires=%d&signature=%s" % (
        ref.region,
        language,
        ref.device_id,
        ref.article_id,
        ref.attachment_id,
        expires,
        signature(region_token, ref, expires),
    )


def valid(region_token: str, ref: FileRef, expires: int, given: str, now: float) -> bool:
    """Whether the link is this file's and has not expired."""
    # As bytes: compare_digest raises on text that is not ASCII, and a link is the input.
    expected = signature(region_token, ref, expires).encode("ascii")
    return expires > now and hmac.compare_digest(expected, given.encode("utf-8", "replace"))
