"""Firebase Cloud Messaging's HTTP v1 API and Google's OAuth2 token endpoint, on loopback,
as strict as the real ones where our client could go wrong (docs/push.md, "Test doubles"):

- `POST /token`: the service account's signed JWT (grant type jwt-bearer) is verified with
  the account's public key, and its claims: iss its e-mail, scope FCM's, aud the token URI,
  an exp within the hour. Answers `{"access_token", "expires_in", "token_type"}`.
- `POST /v1/projects/<project>/messages:send`: the Bearer token must be one it issued and
  not expired; the message must have exactly one target (`token`), `data` of strings only,
  at most 4,096 bytes of payload. Answers `{"name": "projects/<p>/messages/<n>"}`, or FCM's
  error JSON (`error.details[].errorCode`) when told to by `fail`.

    python -m devtools.fcm_standin --port 8010 --credentials-out /tmp/fcm.json

writes a service account for it (FCM_CREDENTIALS) and serves until Ctrl-C;
`GET /_standin/messages` lists the messages it accepted.
"""

import argparse
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from devtools.loopback_server import LoopbackServer

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_PAYLOAD_BYTES = 4096
_STATUS = {
    "UNREGISTERED": (404, "NOT_FOUND"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED"),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED"),
    "UNAVAILABLE": (503, "UNAVAILABLE"),
    "INTERNAL": (500, "INTERNAL"),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED"),
}


def new_key_pair() -> tuple[str, str]:
    """(private key PEM, public key PEM) of a fresh RSA key, as a service account has."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class _Handler(BaseHTTPRequestHandler):
    emulator: "FcmStandIn"
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args) -> None:
        pass

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/_standin/messages":  # for a person at `make dev`: what arrived
            self._answer(200, list(self.emulator.messages))
        else:
            self._answer(404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/token":
            self._answer(*self.emulator.token(body))
        elif self.path == "/v1/projects/%s/messages:send" % self.emulator.project_id:
            self._answer(*self.emulator.send(self.headers.get("Authorization") or "", body))
        else:
            self._answer(404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}})


class FcmStandIn(LoopbackServer):
    handler = _Handler

    def __init__(self, host: str = "127.0.0.1", port: int = 0, project_id: str = "integreat-test"):
        super().__init__(host, port)
        self.project_id = project_id
        self.client_email = "push@%s.iam.gserviceaccount.com" % project_id
        self.key_id = secrets.token_hex(20)
        self.private_key, self.public_key = new_key_pair()
        self.token_lifetime = 3600
        self.messages: list[dict[str, Any]] = []  # every message accepted, in order
        self.token_requests = 0
        self._tokens: dict[str, float] = {}  # access token -> expires at
        self._failures: list[tuple[str, float | None]] = []  # (errorCode, Retry-After) per next send
        self._sent = threading.Condition()

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    @property
    def send_url(self) -> str:
        return self.url + "/v1/projects/{project_id}/messages:send"

    def service_account(self) -> dict[str, str]:
        """FCM_CREDENTIALS for this stand-in (a Google service account's JSON fields)."""
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.key_id,
            "private_key": self.private_key,
            "client_email": self.client_email,
            "token_uri": self.token_uri,
        }

    def fail(self, code: str, times: int = 1, retry_after: float | None = None) -> None:
        """The next `times` sends answer FCM's error of that errorCode."""
        with self._lock:
            self._failures.extend([(code, retry_after)] * times)

    def revoke_tokens(self) -> None:
        """Every access token issued so far is refused from now on (401)."""
        with self._lock:
            self._tokens.clear()

    def wait_for(self, count: int, seconds: float) -> list[dict[str, Any]]:
        """The accepted messages once there are `count` (or when `seconds` have passed)."""
        deadline = time.monotonic() + seconds
        with self._sent:
            while len(self.messages) < count and time.monotonic() < deadline:
                self._sent.wait(deadline - time.monotonic())
            return list(self.messages)

    # --- the endpoints ----------------------------------------------------------------
    def token(self, body: bytes) -> tuple[int, dict[str, Any]]:
        import jwt

        form = parse_qs(body.decode("utf-8", "replace"))
        if form.get("grant_type") != [GRANT_TYPE] or len(form.get("assertion", [])) != 1:
            return 400, {"error": "unsupported_grant_type"}
        try:
            header = jwt.get_unverified_header(form["assertion"][0])
            claims = jwt.decode(
                form["assertion"][0],
                self.public_key,
                algorithms=["RS256"],
                audience=self.token_uri,
                issuer=self.client_email,
                options={"require": ["iss", "aud", "exp", "iat", "scope"]},
                leeway=300,  # a few minutes of clock skew, as Google's token endpoint allows
            )
        except jwt.PyJWTError as error:
            return 400, {"error": "invalid_grant", "error_description": str(error)}
        if header.get("kid") != self.key_id or claims["scope"] != SCOPE:
            return 400, {"error": "invalid_scope" if header.get("kid") == self.key_id else "invalid_grant"}
        if not 0 < claims["exp"] - time.time() <= 3600 + 60:
            return 400, {"error": "invalid_grant", "error_description": "exp more than an hour away"}
        token = "ya29." + secrets.token_urlsafe(32)
        with self._lock:
            self.token_requests += 1
            self._tokens[token] = time.time() + self.token_lifetime
        return 200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}

    def send(self, authorization: str, body: bytes) -> tuple[int, dict[str, Any]] | tuple[int, dict, dict]:
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            expires = self._tokens.get(token) if scheme == "Bearer" else None
        if expires is None or expires < time.time():
            return _error(401, "UNAUTHENTICATED", None, "Request had invalid authentication credentials.")
        try:
            message = json.loads(body)["message"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received.")
        problem = _invalid(message)
        if problem:
            return _error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", problem)
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            code, retry_after = failure
            status, name = _STATUS[code]
            answer = _error(status, name, code, "told to fail")
            return (*answer, {"Retry-After": str(int(retry_after))}) if retry_after is not None else answer
        with self._sent:
            self.messages.append(message)
            number = len(self.messages)
            self._sent.notify_all()
        return 200, {"name": "projects/%s/messages/0:%d" % (self.project_id, number)}


def _error(status: int, name: str, code: str | None, text: str) -> tuple[int, dict[str, Any]]:
    error: dict[str, Any] = {"code": status, "message": text, "status": name}
    if code:
        error["details"] = [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}
        ]
    return status, {"error": error}


def _invalid(message: Any) -> str | None:
    """What FCM would refuse in a message, or None."""
    if not isinstance(message, dict):
        return "message must be an object"
    targets = [name for name in ("token", "topic", "condition") if name in message]
    if len(targets) != 1 or not isinstance(message.get(targets[0]), str):
        return "exactly one of token, topic, condition"
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return "data values must be strings"
    payload = {k: v for k, v in message.items() if k in ("data", "notification")}
    if len(json.dumps(payload).encode()) > MAX_PAYLOAD_BYTES:
        return "message is too big"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.fcm_standin", description=__doc__)
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--credentials-out", required=True, help="write the service account's JSON here")
    args = parser.parse_args()
    standin = FcmStandIn(port=args.port).start()
    with open(args.credentials_out, "w", encoding="utf-8") as file:
        json.dump(standin.service_account(), file)
    standin.serve_until_interrupted("FCM stand-in on %s (FCM_URL=%s)" % (standin.url, standin.send_url))


if __name__ == "__main__":
    main()
