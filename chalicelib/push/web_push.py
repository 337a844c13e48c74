"""Web Push (docs/push.md): one message to a browser's push service. The payload is
encrypted for the subscription (RFC 8291, aes128gcm, by http_ece: one small module) and the
request carries a VAPID token (RFC 8292: an ES256 JWT, signed with PyJWT, which ships
already). pywebpush would do the same with aiohttp and eight packages more (docs/push.md,
"Libraries").
"""

import base64
import json
from typing import Any
from urllib.parse import urlsplit

import requests

from chalicelib.push.fcm import Outcome, retry_after
from chalicelib.push.targets import base64url_bytes

TTL_SECONDS = 86400  # how long the push service keeps a message for a device that is off
VAPID_SECONDS = 12 * 3600  # a token's lifetime (RFC 8292 allows up to 24 hours)


class VapidError(ValueError):
    """VAPID_PRIVATE_KEY is no P-256 private key (PEM, or the raw key in base64url)."""


def vapid_key(value: str) -> Any:
    """The VAPID private key: PEM, or its 32 raw bytes in base64url (as web-push tools print it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    text = value.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = ec.derive_private_key(int.from_bytes(base64url_bytes(text), "big"), ec.SECP256R1())
    except (ValueError, TypeError):
        raise VapidError("VAPID_PRIVATE_KEY is not a P-256 private key (PEM or base64url)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise VapidError("VAPID_PRIVATE_KEY must be a P-256 key")
    return key


def public_key(key: Any) -> str:
    """The key a browser subscribes with (`applicationServerKey`): the uncompressed point, base64url."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return "%s://%s" % (parts.scheme, parts.netloc)


class WebPushClient:
    def __init__(self, key: Any, subject: str, session: requests.Session, timeout: float, clock):
        self._key = key
        self._public = public_key(key)
        self._subject = subject
        self._session = session
        self._timeout = timeout
        self._clock = clock

    def _authorization(self, endpoint: str) -> str:
        import jwt

        claims = {"aud": origin(endpoint), "exp": int(self._clock()) + VAPID_SECONDS, "sub": self._subject}
        return "vapid t=%s, k=%s" % (jwt.encode(claims, self._key, algorithm="ES256"), self._public)

    def send(self, target: dict[str, str], payload: dict[str, Any], topic: str) -> Outcome:
        import http_ece
        from cryptography.hazmat.primitives.asymmetric import ec

        body = http_ece.encrypt(
            json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            private_key=ec.generate_private_key(ec.SECP256R1()),  # a fresh key per message
            dh=base64url_bytes(target["p256dh"]),
            auth_secret=base64url_bytes(target["auth"]),
            version="aes128gcm",
        )
        headers = {
            "Authorization": self._authorization(target["endpoint"]),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(TTL_SECONDS),
            "Urgency": "high",
            "Topic": topic,  # a newer push of the chat replaces one still waiting (RFC 8030, 5.4)
        }
        try:
            answer = self._session.post(
                target["endpoint"], data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            )
        except requests.RequestException as error:
            return Outcome("retry", "no answer (%s)" % type(error).__name__)
        status = answer.status_code
        if status in (200, 201, 202):
            return Outcome("sent", "sent")
        if status in (404, 410):
            return Outcome("gone", str(status))
        if status == 429:
            return Outcome("retry", "429", max(60.0, retry_after(answer) or 0.0))
        if status >= 500:
            return Outcome("retry", str(status), retry_after(answer))
        if status in (401, 403):
            return Outcome("auth_failed", str(status))  # the VAPID key is not the one subscribed with
        return Outcome("invalid", str(status))
