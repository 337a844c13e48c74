"""Firebase Cloud Messaging, HTTP v1 (docs/push.md): one message to one registration token.

The access token comes from the service account itself: a JWT it signs (RS256, with PyJWT
and cryptography, both shipped already) is exchanged at its `token_uri` for an OAuth2
token, kept until a minute before it expires. firebase-admin and google-auth would do the
same with 35 and 4 more packages (docs/push.md, "Libraries").

What FCM answers is read by its `details[].errorCode`, as FCM documents them:
https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
"""

import hashlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import requests

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_SECONDS = 3600  # the longest Google accepts
TOKEN_MARGIN_SECONDS = 60  # a token is renewed this long before it expires
MAX_ANSWER_BYTES = 64 * 1024


class CredentialsError(ValueError):
    """FCM_CREDENTIALS is no service account's JSON (or names no readable file of one)."""


class ServiceAccount(NamedTuple):
    project_id: str
    client_email: str
    private_key: str  # PEM
    private_key_id: str
    token_uri: str


def service_account(value: str) -> ServiceAccount:
    """FCM_CREDENTIALS: the service account's JSON, or the path of a file holding it."""
    text = value.strip()
    if not text.startswith("{"):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as error:
            raise CredentialsError(
                "FCM_CREDENTIALS names no readable file (%s)" % type(error).__name__
            ) from None
    try:
        found = json.loads(text)
    except ValueError:
        raise CredentialsError("FCM_CREDENTIALS is not JSON") from None
    fields = ("project_id", "client_email", "private_key", "private_key_id", "token_uri")
    if not isinstance(found, dict) or not all(
        isinstance(found.get(name), str) and found[name] for name in fields
    ):
        raise CredentialsError("FCM_CREDENTIALS must be a service account's JSON with %s" % ", ".join(fields))
    if not found["token_uri"].startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise CredentialsError("FCM_CREDENTIALS: token_uri must be https")
    return ServiceAccount(*(found[name] for name in fields))


class Outcome(NamedTuple):
    """What became of one send. `kind`: sent; gone (the target is no more: remove it);
    invalid (the message was refused: not retried); retry (after `retry_after` seconds,
    None: the caller's backoff); auth_failed (FCM's credentials for APNs or Web Push are
    wrong: counted for an alarm, not retried)."""

    kind: str
    reason: str
    retry_after: float | None = None


def collapse_key(chat_key: str) -> str:
    """One per chat, so a newer push replaces an older one on the phone; says nothing of it."""
    return "chat-" + hashlib.sha256(chat_key.encode("utf-8")).hexdigest()[:16]


def fcm_message(token: str, title: str, body: str, data: dict[str, str], collapse: str) -> dict[str, Any]:
    return {
        "message": {
            "token": token,
            "notification": {"title": title, "body": body},
            "data": data,
            "android": {"priority": "high", "collapse_key": collapse},
            "apns": {"headers": {"apns-priority": "10", "apns-collapse-id": collapse}},
        }
    }


def retry_after(answer: requests.Response) -> float | None:
    """The seconds an answer's Retry-After asks for (None: none, or a date we do not read)."""
    value = (answer.headers.get("Retry-After") or "").strip()
    return float(value) if value.isdigit() and len(value) <= 6 else None


def _error_code(answer: requests.Response) -> str:
    try:
        error = json.loads(answer.content[:MAX_ANSWER_BYTES]).get("error") or {}
        for detail in error.get("details") or []:
            if isinstance(detail, dict) and isinstance(detail.get("errorCode"), str):
                return detail["errorCode"]
        return str(error.get("status") or "")
    except (ValueError, AttributeError):
        return ""


class FcmClient:
    def __init__(
        self,
        account: ServiceAccount,
        url: str,
        session: requests.Session,
        timeout: float,
        clock: Callable[[], float] = time.time,
    ):
        self._account = account
        self._url = url.format(project_id=account.project_id)
        self._session = session
        self._timeout = timeout
        self._clock = clock
        self._token: tuple[str, float] | None = None  # (access token, expires at)
        self._lock = threading.Lock()

    def _access_token(self) -> str | None:
        """A valid OAuth2 token, or None when the token endpoint refused us."""
        import jwt  # PyJWT: loaded by the first push, not by a cold start

        with self._lock:
            now = self._clock()
            if self._token is not None and self._token[1] - TOKEN_MARGIN_SECONDS > now:
                return self._token[0]
            account = self._account
            assertion = jwt.encode(
                {
                    "iss": account.client_email,
                    "scope": SCOPE,
                    "aud": account.token_uri,
                    "iat": int(now),
                    "exp": int(now) + ASSERTION_SECONDS,
                },
                account.private_key,
                algorithm="RS256",
                headers={"kid": account.private_key_id},
            )
            answer = self._session.post(
                account.token_uri,
                data={"grant_type": GRANT_TYPE, "assertion": assertion},
                timeout=self._timeout,
                allow_redirects=False,
            )
            try:
                found = json.loads(answer.content[:MAX_ANSWER_BYTES]) if answer.status_code == 200 else {}
                token, lifetime = found["access_token"], float(found.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError, AttributeError):
                return None
            if not isinstance(token, str) or not token:
                return None
            self._token = (token, now + lifetime)
            return token

    def forget_token(self) -> None:
        with self._lock:
            self._token = None

    def send(self, message: dict[str, Any]) -> Outcome:
        try:
            return self._send(message, renewed=False)
        except requests.RequestException as error:
            return Outcome("retry", "no answer (%s)" % type(error).__name__)

    def _send(self, message: dict[str, Any], renewed: bool) -> Outcome:
        token = self._access_token()
        if token is None:
            return Outcome("retry", "the token endpoint refused the service account")
        answer = self._session.post(
            self._url,
            data=json.dumps(message),
            headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
            timeout=self._timeout,
            allow_redirects=False,
        )
        status = answer.status_code
        if status == 200:
            return Outcome("sent", "sent")
        code = _error_code(answer)
        if code == "THIRD_PARTY_AUTH_ERROR":  # a 401 too, but of APNs' or Web Push's credentials
            return Outcome("auth_failed", code)
        if status == 401 and not renewed:  # our token, revoked or expired early: once more
            self.forget_token()
            return self._send(message, renewed=True)
        if code in ("UNREGISTERED", "SENDER_ID_MISMATCH") or status == 404:
            return Outcome("gone", code or str(status))
        if code == "QUOTA_EXCEEDED" or status == 429:
            return Outcome("retry", code or "429", max(60.0, retry_after(answer) or 0.0))
        if code in ("UNAVAILABLE", "INTERNAL") or status >= 500:
            return Outcome("retry", code or str(status), retry_after(answer))
        return Outcome("invalid", code or str(status))
