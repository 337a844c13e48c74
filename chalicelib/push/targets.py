"""A device's push target (docs/push.md), as the app registers it: an FCM registration token
(the native app) or a Web Push subscription (a browser, RFC 8030: `PushSubscription.toJSON()`).
Checked whole before anything is stored: a bad one is a 400 and nothing changes.

Stored as a small map on the chat (so it goes with the chat: its deletion, the retention,
the export): {"kind": "fcm", "token"} or {"kind": "web_push", "endpoint", "p256dh", "auth"}.
"""

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import urlsplit

from chalicelib.web.errors import BadRequest

FCM = "fcm"
WEB_PUSH = "web_push"
# FCM's registration tokens are about 160 characters of these; the limit leaves room.
_FCM_TOKEN = re.compile(r"^[A-Za-z0-9_:.-]{20,4096}\Z")
MAX_ENDPOINT_CHARACTERS = 2048
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}\Z")
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}\Z")
P256DH_BYTES = 65  # an uncompressed P-256 point: 0x04, x, y (RFC 8291, section 3.1)
AUTH_BYTES = 16  # the authentication secret (RFC 8291, section 3.2)


def base64url_bytes(value: str) -> bytes:
    """Base64url with or without its padding (browsers leave it out)."""
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _key(keys: dict[str, Any], name: str, size: int) -> str:
    value = keys.get(name)
    try:
        if not isinstance(value, str) or not _BASE64URL.match(value) or len(value) > 200:
            raise ValueError(name)
        raw = base64url_bytes(value)
    except (ValueError, binascii.Error):
        raise BadRequest("web_push.keys.%s must be base64url." % name) from None
    if len(raw) != size or (name == "p256dh" and raw[0] != 4):
        raise BadRequest(
            "web_push.keys.%s must be %d bytes%s." % (name, size, " (a P-256 key)" if size == 65 else "")
        )
    return value.rstrip("=")


_NOT_A_PUSH_SERVICE = "web_push.endpoint must be an https URL of a browser's push service."


def _endpoint(value: Any, hosts: tuple[str, ...]) -> str:
    """An https URL on a push service's host (`hosts`: WEB_PUSH_HOSTS), so that what the
    worker posts to is a push service, never a host of the registrant's choosing."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ENDPOINT_CHARACTERS:
        raise BadRequest(_NOT_A_PUSH_SERVICE)
    try:
        parts = urlsplit(value)
        _port = parts.port  # raises on a port that is no number
    except ValueError:
        raise BadRequest(_NOT_A_PUSH_SERVICE) from None
    host = (parts.hostname or "").lower()
    loopback = any(value.startswith(h + "/") for h in hosts if h.startswith("http://"))
    if (
        (parts.scheme != "https" and not loopback)
        or not _HOST.match(host)
        or parts.username is not None
        or parts.password is not None
        or parts.fragment
        or any(c.isspace() or not c.isprintable() for c in value)
        or not (loopback or any(host == h or host.endswith("." + h) for h in hosts if "://" not in h))
    ):
        raise BadRequest(_NOT_A_PUSH_SERVICE)
    return value


def web_push_target(subscription: Any, hosts: tuple[str, ...]) -> dict[str, str]:
    if isinstance(subscription, str):  # a form carries the subscription's JSON as text
        try:
            subscription = json.loads(subscription)
        except ValueError:
            raise BadRequest("web_push must be a subscription object (or its JSON).") from None
    if not isinstance(subscription, dict):
        raise BadRequest("web_push must be a subscription object (or its JSON).")
    unknown = sorted(set(subscription) - {"endpoint", "keys", "expirationTime"})
    if unknown:
        raise BadRequest("Unknown web_push field(s): %s." % ", ".join(unknown)[:200])
    keys = subscription.get("keys")
    if not isinstance(keys, dict):
        raise BadRequest("web_push.keys must hold p256dh and auth.")
    return {
        "kind": WEB_PUSH,
        "endpoint": _endpoint(subscription.get("endpoint"), hosts),
        "p256dh": _key(keys, "p256dh", P256DH_BYTES),
        "auth": _key(keys, "auth", AUTH_BYTES),
    }


def push_target(fields: dict[str, Any], hosts: tuple[str, ...]) -> dict[str, str]:
    """The target a registration's body names (its fields, JSON or form): exactly one of
    `fcm_token` and `web_push`."""
    unknown = sorted(set(fields) - {"fcm_token", "web_push"})
    if unknown:
        raise BadRequest("Unknown field(s): %s." % ", ".join(unknown)[:200])
    if ("fcm_token" in fields) == ("web_push" in fields):
        raise BadRequest("Send either fcm_token or web_push.")
    if "web_push" in fields:
        return web_push_target(fields["web_push"], hosts)
    token = fields["fcm_token"]
    if not isinstance(token, str) or not _FCM_TOKEN.match(token):
        raise BadRequest("fcm_token must be an FCM registration token.")
    return {"kind": FCM, "token": token}
