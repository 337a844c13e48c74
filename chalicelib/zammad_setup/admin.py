"""Zammad's admin REST API, as docs.zammad.org describes it, for the objects the chat needs:
groups, ticket object attributes (and their migration), webhooks, triggers, schedulers
(`jobs`), and who the token is (`/api/v1/users/me`). One session per Zammad, a timeout on
every call, and every failure in words an operator can act on; the token never appears in one.

Reads that meet a gateway error (502, 503, 504) or a broken-off answer are tried again
twice, a moment apart (urllib3's Retry): a Zammad restarting should not fail an hourly check.
Writes are tried again only when no connection was made (nothing reached Zammad)."""

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

TIMEOUT_SECONDS = 15.0


class AdminError(Exception):
    """Zammad refused or failed; the message says what to do, without the token.
    `forbidden`: the token is valid but lacks the permission (403)."""

    def __init__(self, message: str, forbidden: bool = False):
        super().__init__(message)
        self.forbidden = forbidden


class ZammadAdmin:
    def __init__(self, base_url: str, token: str, timeout: float = TIMEOUT_SECONDS):
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._session = requests.Session()
        self._session.headers.update({"Authorization": "Token token=%s" % token})
        retry = Retry(
            total=2, connect=2, read=2, status=2, other=0, backoff_factor=0.3,
            allowed_methods=frozenset({"GET"}), status_forcelist=(502, 503, 504), raise_on_status=False,
        )  # fmt: skip
        self._session.mount("http://", HTTPAdapter(max_retries=retry))
        self._session.mount("https://", HTTPAdapter(max_retries=retry))

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        url = self.base_url + path
        try:
            response = self._session.request(method, url, json=body, timeout=self._timeout)
        except requests.Timeout:
            raise AdminError(
                "Zammad at %s did not answer within %.0f s" % (self.base_url, self._timeout)
            ) from None
        except requests.RequestException as error:
            raise AdminError(
                "Zammad at %s cannot be reached (%s)" % (self.base_url, type(error).__name__)
            ) from None
        if response.status_code == 401:
            raise AdminError("Zammad refuses the token: it is unknown, revoked or expired")
        if response.status_code == 403:
            raise AdminError(
                "the token may not %s %s: it needs the admin permission for it (admin.%s)"
                % (method, path, _permission(path)),
                forbidden=True,
            )
        if response.status_code >= 500:
            raise AdminError("Zammad failed with %d on %s %s" % (response.status_code, method, path))
        if response.status_code >= 400:
            raise AdminError(
                "Zammad refused %s %s (%d): %s" % (method, path, response.status_code, _said(response))
            )
        try:
            return response.json() if response.content else None
        except ValueError:
            raise AdminError("Zammad's answer to %s %s is not JSON" % (method, path)) from None

    def me(self) -> dict[str, Any]:
        return self._call("GET", "/api/v1/users/me")

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


def _said(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "no JSON"
    return str(body.get("error_human") or body.get("error") or "")[:200] if isinstance(body, dict) else ""
