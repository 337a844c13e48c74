"""A browser's push service (RFC 8030) on loopback, for the tests and `make dev`: it makes
subscriptions as a browser's `PushManager.subscribe` would (a P-256 key pair and an auth
secret per subscription, an endpoint of its own), and for each push it receives checks the
VAPID token (RFC 8292: ES256 over aud = its origin, exp within a day, sub, signed with the
key in `k=`, which must be the one subscribed with) and decrypts the body with the
subscription's private key (RFC 8291, aes128gcm). What decrypts is kept in `received`.

    python -m devtools.web_push_standin --port 8011 --vapid-public-key KEY

`POST /_standin/subscribe` makes a subscription; `GET /_standin/received` lists what arrived.
"""

import argparse
import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from devtools.loopback_server import LoopbackServer


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Handler(BaseHTTPRequestHandler):
    emulator: "WebPushStandIn"
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args) -> None:
        pass

    def _json(self, value: Any) -> None:
        data = json.dumps(value, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/_standin/received":  # for a person at `make dev`: what arrived, decrypted
            self._json(
                [{"subscription": r["subscription"], "payload": r["payload"]} for r in self.emulator.received]
            )
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_standin/subscribe":  # what a browser's PushManager.subscribe gives
            self._json(self.emulator.subscribe())
            return
        status, text = self.emulator.receive(self.path, dict(self.headers), body)
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        if status == 201:
            self.send_header("Location", self.emulator.url + "/message/" + secrets.token_hex(8))
        self.end_headers()
        self.wfile.write(data)


class WebPushStandIn(LoopbackServer):
    handler = _Handler

    def __init__(self, application_server_key: str, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.application_server_key = application_server_key  # the VAPID public key subscribed with
        self._subscriptions: dict[str, tuple[Any, bytes]] = {}  # id -> (private key, auth secret)
        self._gone: set[str] = set()
        self.received: list[dict[str, Any]] = []  # {"subscription", "payload", "headers"}
        self.refused: list[str] = []  # why each refused push was refused
        self._arrived = threading.Condition()

    def subscribe(self) -> dict[str, Any]:
        """A subscription as `PushSubscription.toJSON()` gives it."""
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        key = ec.generate_private_key(ec.SECP256R1())
        auth = secrets.token_bytes(16)
        name = secrets.token_urlsafe(12)
        with self._lock:
            self._subscriptions[name] = (key, auth)
        raw = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {
            "endpoint": "%s/push/%s" % (self.url, name),
            "expirationTime": None,
            "keys": {"p256dh": _b64(raw), "auth": _b64(auth)},
        }

    def unsubscribe(self, subscription: dict[str, Any]) -> None:
        """The browser dropped it: pushes to it are answered 410 Gone from now on."""
        with self._lock:
            self._gone.add(subscription["endpoint"].rsplit("/", 1)[1])

    def wait_for(self, count: int, seconds: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        with self._arrived:
            while len(self.received) < count and time.monotonic() < deadline:
                self._arrived.wait(deadline - time.monotonic())
            return list(self.received)

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        import http_ece
        import jwt

        name = path.rsplit("/", 1)[-1] if path.startswith("/push/") else ""
        with self._lock:
            found, gone = self._subscriptions.get(name), name in self._gone
        if found is None or gone:
            return (410, "gone") if gone else (404, "no such subscription")
        lowered = {key.lower(): value for key, value in headers.items()}
        try:
            scheme, _, params = lowered.get("authorization", "").partition(" ")
            fields = dict(part.strip().split("=", 1) for part in params.split(","))
            if scheme != "vapid" or fields.get("k") != self.application_server_key:
                raise ValueError("not a VAPID token of the key subscribed with")
            from cryptography.hazmat.primitives.asymmetric import ec

            signer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(fields["k"]))
            claims = jwt.decode(
                fields["t"],
                signer,
                algorithms=["ES256"],
                audience=self.url,
                options={"require": ["exp", "sub"]},
            )
            if claims["exp"] - time.time() > 86400:
                raise ValueError("exp more than a day away")
            if lowered.get("content-encoding") != "aes128gcm" or not lowered.get("ttl", "").isdigit():
                raise ValueError("Content-Encoding aes128gcm and a TTL are required")
            key, auth = found
            payload = json.loads(
                http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm")
            )
        except Exception as error:
            with self._lock:
                self.refused.append("%s: %s" % (type(error).__name__, error))
            return 401 if "VAPID" in str(error) or isinstance(error, jwt.PyJWTError) else 400, "refused"
        with self._arrived:
            self.received.append({"subscription": name, "payload": payload, "headers": lowered})
            self._arrived.notify_all()
        return 201, ""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.web_push_standin", description=__doc__)
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--vapid-public-key", required=True)
    args = parser.parse_args()
    standin = WebPushStandIn(args.vapid_public_key, port=args.port).start()
    standin.serve_until_interrupted("Web Push stand-in on %s" % standin.url)


if __name__ == "__main__":
    main()
