"""Zammad REST API v1 client: the calls Integreat Chat makes, nothing more.

- One `requests.Session` per Zammad (URL and token), kept for the life of a warm instance
  so connections are reused. Its urllib3 `Retry` retries any call whose connection could
  not be made (nothing was sent); a GET that got a 5xx is tried once more here, with what
  is left of the budget. A write that reached Zammad is never retried (a ticket must not
  be created twice).
- Every call of one request shares a deadline (`ZAMMAD_TIMEOUT_SECONDS` from the first
  call): no call starts after it, and the timeouts of all its attempts end by it.
- Failures become the errors of SPEC §4: a timeout 504, anything else 502; a 404 for a
  ticket is `TicketGone` (Zammad deleted it: the chat has expired). A write that was sent
  but never answered (a read timeout, a connection dropped mid-answer) raises an error that
  is also `OutcomeUnknown`: Zammad may have done it, so the caller must not assume either.
"""

import json
import logging
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from chalicelib.platform import telemetry
from chalicelib.platform.metrics import instrument_requests_session
from chalicelib.web.errors import BadGateway, GatewayTimeout

log = logging.getLogger("integreat_chat")

ATTEMPTS = 2  # a call is tried at most this often (see the module's docstring)
MAX_CONNECT_SECONDS = 1.0  # a connection is made in milliseconds, or not at all
_MIN_CALL_SECONDS = 0.05


class TicketGone(Exception):
    """Zammad answered 404 for the ticket."""


class OutcomeUnknown(Exception):
    """Mixed into the 502/504 of a write that was sent but not answered."""


class WriteTimedOut(GatewayTimeout, OutcomeUnknown):
    pass


class WriteBrokenOff(BadGateway, OutcomeUnknown):
    pass


class ZammadConnection:
    """The long-lived part: the session and the API user's login, per Zammad and token."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        # read=False: a read that timed out or broke off is not retried, whatever the
        # method (a write may have reached Zammad), and a timeout stays a timeout (504)
        # instead of becoming a connection error (502). other=0, status=0: nothing else is
        # retried by urllib3 (a GET's 5xx is retried in `_call`, within the budget).
        retry = Retry(
            total=ATTEMPTS - 1,
            connect=ATTEMPTS - 1,
            read=False,
            other=0,
            status=0,
            backoff_factor=0.05,
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        self.session = requests.Session()
        self.session.headers.update({"Authorization": "Token token=%s" % token, "Accept": "application/json"})
        self.session.trust_env = False  # no proxy or netrc from the environment
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        instrument_requests_session(self.session)
        self.login: str | None = None  # of GET /users/me, cached


class ZammadConnections:
    """Connections by (URL, token): a changed token gets fresh sessions."""

    def __init__(self):
        self._connections: dict[tuple[str, str], ZammadConnection] = {}
        self._lock = threading.Lock()

    def get(self, base_url: str, token: str) -> ZammadConnection:
        with self._lock:
            key = (base_url, token)
            if key not in self._connections:
                self._connections[key] = ZammadConnection(base_url, token)
            return self._connections[key]


class ZammadClient:
    """The Zammad calls of one request, sharing one time budget."""

    def __init__(self, connection: ZammadConnection, budget_seconds: float, clock=time.monotonic):
        self._connection = connection
        self._budget = budget_seconds
        self._clock = clock
        self._deadline: float | None = None

    # --- the API ----------------------------------------------------------------------
    def api_user_login(self) -> str:
        """Login of the token's user, the customer of new tickets (cached per connection)."""
        if self._connection.login is None:
            self._connection.login = self._call("GET", "/api/v1/users/me")["login"]
        return self._connection.login

    def create_ticket(self, fields: dict[str, Any], article: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/api/v1/tickets", dict(fields, article=article))

    def update_ticket(self, ticket_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", "/api/v1/tickets/%d" % ticket_id, fields, ticket_id=ticket_id)

    def delete_ticket(self, ticket_id: int) -> None:
        """Zammad answers 200 with an empty body; the token needs Zammad's admin rights."""
        self._call("DELETE", "/api/v1/tickets/%d" % ticket_id, ticket_id=ticket_id)

    def tag_ticket(self, ticket_id: int, tag: str) -> None:
        self._call(
            "POST",
            "/api/v1/tags/add",
            {"object": "Ticket", "o_id": ticket_id, "item": tag},
            ticket_id=ticket_id,
        )

    def add_article(self, ticket_id: int, article: dict[str, Any]) -> dict[str, Any]:
        return self._call(
            "POST", "/api/v1/ticket_articles", dict(article, ticket_id=ticket_id), ticket_id=ticket_id
        )

    def articles(self, ticket_id: int) -> list[dict[str, Any]]:
        return self._call("GET", "/api/v1/ticket_articles/by_ticket/%d" % ticket_id, ticket_id=ticket_id)

    def attachment(self, ticket_id: int, article_id: int, attachment_id: int, max_bytes: int) -> bytes:
        """A file of an article, as Zammad stores it (not JSON); 502 beyond `max_bytes`."""
        path = "/api/v1/ticket_attachment/%d/%d/%d" % (ticket_id, article_id, attachment_id)
        response = self._send("GET", path, None, None, stream=True)
        with response:
            if response.status_code == 404:
                raise TicketGone(ticket_id)
            if not 200 <= response.status_code < 300:
                _warn("zammad_error", "GET", path, status=response.status_code)
                raise BadGateway()
            data = response.raw.read(max_bytes + 1, decode_content=True)
        if len(data) > max_bytes:
            _warn("zammad_file_too_large", "GET", path)
            raise BadGateway()
        return data

    def search_tickets(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Tickets matching Zammad's full-text search, expanded (`title`, attributes)."""
        found = self._call(
            "GET", "/api/v1/tickets/search", params={"query": query, "limit": limit, "expand": "true"}
        )
        return found if isinstance(found, list) else []

    # --- transport --------------------------------------------------------------------
    def _timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts such that all attempts of the call end by the deadline:
        urllib3 retries only a failed connect, so the read gets all that is left after them."""
        now = self._clock()
        if self._deadline is None:
            self._deadline = now + self._budget
        remaining = self._deadline - now
        if remaining < _MIN_CALL_SECONDS:
            raise GatewayTimeout()
        connect = min(remaining / (4 * ATTEMPTS), MAX_CONNECT_SECONDS)
        return connect, remaining - ATTEMPTS * connect

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        ticket_id: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            response = self._send(method, path, body, params)
            if response.status_code == 404 and ticket_id is not None:
                raise TicketGone(ticket_id)
            if 200 <= response.status_code < 300:
                break
            _warn("zammad_error", method, path, status=response.status_code)
            # A read may be repeated (a 5xx is often passing); a write reached Zammad: never.
            if method != "GET" or response.status_code < 500 or attempt == ATTEMPTS:
                raise BadGateway()
            time.sleep(0.05)
        if method == "DELETE" and not response.content:
            return None  # Zammad's DELETE: 200, an empty text/html body
        try:
            return response.json()
        except ValueError:
            _warn("zammad_bad_body", method, path)
            raise BadGateway() from None

    def _send(self, method: str, path: str, body: Any, params: dict[str, Any] | None, stream: bool = False):
        url = self._connection.base_url + path
        try:
            return self._connection.session.request(
                method, url, json=body, params=params, timeout=self._timeouts(), stream=stream
            )
        except requests.ConnectTimeout:
            _no_answer("timeout", method, path)
            raise GatewayTimeout() from None
        except requests.Timeout:
            _no_answer("timeout", method, path)
            raise (GatewayTimeout() if method == "GET" else WriteTimedOut()) from None
        except requests.ConnectionError as error:
            _no_answer("unreachable", method, path, error=type(error).__name__)
            if method != "GET" and _sent(error):
                raise WriteBrokenOff() from None
            raise BadGateway() from None
        except requests.RequestException as error:
            _no_answer("unreachable", method, path, error=type(error).__name__)
            raise BadGateway() from None


def _sent(error: requests.ConnectionError) -> bool:
    """Whether the request went out before the connection failed (the answer broke off),
    as opposed to a connection that could not be made."""
    from urllib3.exceptions import NewConnectionError, ProtocolError

    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the cause
    return isinstance(reason, ProtocolError) and not isinstance(reason, NewConnectionError)


def _no_answer(outcome: str, method: str, path: str, **details) -> None:
    """A call Zammad did not answer: "timeout" or "unreachable", logged and counted (the
    answered ones are counted by the session's hook, platform/metrics.py)."""
    _warn("zammad_" + outcome, method, path, **details)
    telemetry.count("ZammadCalls", Outcome=outcome)


def _warn(event: str, method: str, path: str, **details) -> None:
    # The path with ids folded (groupable log lines); never the URL's host or the token.
    template = "/".join("<id>" if part.isdigit() else part for part in path.split("/"))
    log.warning(json.dumps(dict(event=event, method=method, path=template, **details)))
