"""Zammad's admin REST API, as docs.zammad.org describes it, for the objects the chat needs:
groups, ticket object attributes (and their migration), webhooks, triggers, schedulers
(`jobs`), and who the token is (`/api/v1/users/me`). One session per Zammad, a timeout on
every call, and every failure in words an operator can act on; the token never appears in one.

Reads that meet a gateway error (502, 503, 504) are tried again twice, a moment apart
(urllib3's Retry): a Zammad restarting should not fail an hourly check. A Zammad that does
not answer is not asked again (a hang is told as one), and writes are tried again only when
no connection was made (nothing reached Zammad).

What the token and the bodies may reach, and how long it may take, is bounded: no redirect
is followed (an admin write carries the webhook's secret and its URL token; a Zammad that
answers one with a redirect elsewhere is told in words, never obeyed), an answer is read up
to MAX_ANSWER_BYTES, and with a `deadline` no call outlasts it."""

import json
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

TIMEOUT_SECONDS = 15.0
MAX_ANSWER_BYTES = 5_000_000  # the largest list of objects a Zammad of ours has is a few hundred KB


class AdminError(Exception):
    """Zammad refused or failed; the message says what to do, without the token.
    `forbidden`: the token is valid but lacks the permission (403)."""

    def __init__(self, message: str, forbidden: bool = False, status: int | None = None):
        super().__init__(message)
        self.forbidden = forbidden
        self.status = status  # Zammad's answer, where it gave one


class ZammadAdmin:
    """`token_name`: whose token it is, for the words of a refusal ("the admin token", "the
    region's token"). `deadline`: time.monotonic() by which every call must have ended."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = TIMEOUT_SECONDS,
        token_name: str = "the token",
        deadline: float | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._token_name = token_name
        self._deadline = deadline
        self._session = requests.Session()
        self._session.headers.update({"Authorization": "Token token=%s" % token})
        retry = Retry(
            total=2, connect=2, read=False, status=2, other=0, backoff_factor=0.3, redirect=False,
            allowed_methods=frozenset({"GET"}), status_forcelist=(502, 503, 504), raise_on_status=False,
        )  # fmt: skip
        self._session.mount("http://", HTTPAdapter(max_retries=retry))
        self._session.mount("https://", HTTPAdapter(max_retries=retry))

    def _seconds(self) -> float:
        if self._deadline is None:
            return self._timeout
        left = self._deadline - time.monotonic()
        if left <= 0.05:
            raise AdminError("Zammad at %s was not asked: no time was left for it" % self.base_url)
        return min(self._timeout, left)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        url = self.base_url + path
        seconds = self._seconds()
        try:
            response = self._session.request(
                method, url, json=body, timeout=seconds, allow_redirects=False, stream=True
            )
            with response:
                content = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
        except (requests.Timeout, ReadTimeoutError):  # the latter while the body is read
            raise AdminError("Zammad at %s did not answer within %.0f s" % (self.base_url, seconds)) from None
        except requests.RequestException as error:
            raise AdminError(
                "Zammad at %s cannot be reached (%s)" % (self.base_url, type(error).__name__)
            ) from None
        except Exception as error:
            raise AdminError(
                "Zammad at %s broke off its answer to %s %s (%s)"
                % (self.base_url, method, path, type(error).__name__)
            ) from None
        if 300 <= response.status_code < 400:
            where = urlsplit(response.headers.get("Location", "")).netloc or "somewhere else"
            raise AdminError(
                "Zammad at %s answered %s %s with a redirect (%d) to %s: not followed, since the "
                "token and what is sent go to this Zammad only; set the region's Zammad URL to "
                "where it really is" % (self.base_url, method, path, response.status_code, where)
            )
        if len(content) > MAX_ANSWER_BYTES:
            raise AdminError(
                "Zammad's answer to %s %s is over %d MB: not read"
                % (method, path, MAX_ANSWER_BYTES // 1_000_000)
            )
        if response.status_code == 401:
            raise AdminError("Zammad refuses %s: it is unknown, revoked or expired" % self._token_name)
        if response.status_code == 403:
            raise AdminError(
                "%s may not %s %s: it needs the admin permission for it (admin.%s)"
                % (self._token_name[0].upper() + self._token_name[1:], method, path, _permission(path)),
                forbidden=True,
            )
        if response.status_code >= 500:
            raise AdminError("Zammad failed with %d on %s %s" % (response.status_code, method, path))
        if response.status_code >= 400:
            raise AdminError(
                "Zammad refused %s %s (%d): %s" % (method, path, response.status_code, _said(content)),
                status=response.status_code,
            )
        try:
            return json.loads(content) if content else None
        except ValueError:
            raise AdminError("Zammad's answer to %s %s is not JSON" % (method, path)) from None

    def me(self) -> dict[str, Any]:
        """Who the token is: a user, or an AdminError in words (never a list or a string)."""
        found = self._call("GET", "/api/v1/users/me")
        if not isinstance(found, dict):
            raise AdminError(
                "Zammad at %s answered users/me with no user (%s)" % (self.base_url, type(found).__name__)
            )
        return found

    def article(self, article_id: int) -> dict[str, Any] | None:
        """One ticket article, as the token may read it; None when Zammad has none of that id."""
        try:
            found = self._call("GET", "/api/v1/ticket_articles/%d" % article_id)
        except AdminError as error:
            if error.status == 404:
                return None
            raise
        if not isinstance(found, dict):
            raise AdminError("Zammad's answer to the article %d is no article" % article_id)
        return found

    def list(self, kind: str) -> list[dict[str, Any]]:
        found = self._call("GET", "/api/v1/%s" % kind)
        if not isinstance(found, list):
            raise AdminError("Zammad's list of %s is not a list" % kind)
        return [item for item in found if isinstance(item, dict)]

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/api/v1/%s" % kind, body)

    def update(self, kind: str, item_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", "/api/v1/%s/%d" % (kind, item_id), body)

    def migrate(self) -> None:
        """Zammad adds the columns of new or changed attributes only after this."""
        self._call("POST", "/api/v1/object_manager_attributes_execute_migrations")


def _permission(path: str) -> str:
    part = path.split("/")[3] if path.count("/") >= 3 else ""
    return {"groups": "group", "webhooks": "webhook", "triggers": "trigger", "jobs": "scheduler"}.get(
        part, "object"
    )


def _said(content: bytes) -> str:
    try:
        body = json.loads(content)
    except ValueError:
        return "no JSON"
    return str(body.get("error_human") or body.get("error") or "")[:200] if isinstance(body, dict) else ""
