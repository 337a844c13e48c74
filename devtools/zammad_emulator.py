"""A Zammad emulator: the subset of Zammad's REST API v1 that Integreat Chat uses, over real
HTTP on 127.0.0.1, answering in the shapes recorded from a real Zammad (zammad_fixtures/).

    python -m devtools.zammad_emulator --port 8001 --token dev-zammad-token

Zammad API (header `Authorization: Token token=<token>`; a wrong token gives 401):
    GET    /api/v1/users/me
    POST   /api/v1/tickets                 (with an embedded `article`)
    GET    /api/v1/tickets/search?query=<words>&limit=<n>&expand=true  (every word in the title)
    GET    /api/v1/tickets/<id>
    PUT    /api/v1/tickets/<id>            (with an optional `article`, added as Zammad does)
    DELETE /api/v1/tickets/<id>            (200, empty text/html body)
    POST   /api/v1/ticket_articles         (`attachments`: [{filename, data (base64), mime-type}])
    GET    /api/v1/ticket_articles/by_ticket/<id>
    GET    /api/v1/ticket_attachment/<ticket>/<article>/<id>  (the file's bytes, as stored)
    POST   /api/v1/tags/add                {"object": "Ticket", "o_id": <id>, "item": "<tag>"}

Webhook: with a webhook URL set (`--webhook-url`, `configure_webhook`), every new article
is posted there as Zammad's trigger webhook does: `{"ticket": {...}, "article": {...}}` with
`X-Zammad-Trigger`, `X-Zammad-Delivery` and, with a secret, `X-Hub-Signature: sha1=<hmac>`.
Like a trigger without conditions it also posts internal notes and the customer's articles.

Controls for tests and people (no token; the server listens on loopback only):
    POST   /_emulator/tickets/<id>/articles  {"body": "...", "internal": false, "attachments": [...]}
                                         an agent reply or note, with files as the API takes them
    PUT    /_emulator/faults    {"status": 500, "delay": 0, "latency": 0, "count": null,
                                 "request": "POST /api/v1/tickets"}  faults on (request: optional)
    DELETE /_emulator/faults    switch them off
    PUT    /_emulator/webhook   {"url": "...", "secret": "..."}  where deliveries go
    POST   /_emulator/deliveries/<id>/repeat  deliver again, as Zammad's retry does
    GET    /_emulator/state     tickets, articles, deliveries and the requests received
The same controls exist as methods (`add_article`, `set_fault`, `refuse_connections`, ...).
"""

import argparse
import base64
import binascii
import copy
import hashlib
import hmac
import json
import queue
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs

from devtools.loopback_server import LoopbackServer
from devtools.zammad_admin import AdminObjects

FIXTURES = Path(__file__).with_name("zammad_fixtures")


def _recorded(name: str, method: str, path: str) -> Any:
    interactions = json.loads((FIXTURES / name).read_text())["interactions"]
    for interaction in interactions:
        if interaction["method"] == method and interaction["path"] == path:
            return interaction["response_body"]
    raise LookupError("%s %s not in %s" % (method, path, name))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(message: str) -> dict[str, str]:
    return {"error": message, "error_human": message}


class StoredFile(NamedTuple):
    """A file of an article, and what Zammad answers for it (not JSON)."""

    data: bytes
    content_type: str


class _Refused(ValueError):
    """Zammad's 422 for an article it will not store."""


def _stored_files(files: Any) -> list[tuple[str, str, bytes]]:
    """(name, type, bytes) of an article's `attachments`, as Zammad checks them."""
    if files in (None, []):
        return []
    if not isinstance(files, list):
        raise _Refused("Invalid attachments")
    found = []
    for index, file in enumerate(files):
        if not isinstance(file, dict) or not isinstance(file.get("filename"), str):
            raise _Refused("Attachment with index '%d' needs a filename" % index)
        try:
            data = base64.b64decode(str(file.get("data", "")), validate=True)
        except (binascii.Error, ValueError):
            raise _Refused("Invalid base64 for attachment with index '%d'" % index) from None
        found.append((file["filename"], str(file.get("mime-type") or "application/octet-stream"), data))
    return found


_SENDERS = {"Agent": 1, "Customer": 2, "System": 3}
_ARTICLE_TYPES = {"email": 1, "sms": 2, "chat": 3, "fax": 4, "phone": 5, "web": 11, "note": 10}


class ZammadEmulator(LoopbackServer):
    def __init__(
        self,
        token: str = "emulator-token",
        host: str = "127.0.0.1",
        port: int = 0,
        groups: tuple[str, ...] = ("Users", "integreat-chat"),
        attributes: dict[str, Any] | None = None,
        admin_token: str = "emulator-admin-token",
    ):
        super().__init__(host, port)
        self.handler = _Handler
        self.token = token
        self._me = _recorded("users.json", "GET", "/api/v1/users/me")
        self._agent = dict(
            self._me,
            id=4,
            login="agent@example.org",
            email="agent@example.org",
            firstname="Anna",
            lastname="Agent",
        )
        self._ticket_shape = _recorded("tickets.json", "POST", "/api/v1/tickets")
        self.admin_token = admin_token  # may use the admin API too (zammad_admin.py)
        # Ticket object attributes this Zammad was given (name -> default), as an admin
        # adds them: every new ticket carries each, as Zammad's ticket answers do.
        self.attributes = dict(attributes or {})
        self.admin = AdminObjects(groups, self.attributes)
        self.tickets: dict[int, dict[str, Any]] = {}
        self.articles: dict[int, dict[str, Any]] = {}
        self.files: dict[int, StoredFile] = {}  # by attachment id
        self._next_file = 1
        self.requests: list[tuple[str, str]] = []
        self._next_ticket = 1
        self._next_article = 1
        self._open_connections: set = set()
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.deliveries: dict[str, dict[str, Any]] = {}  # by delivery id, in order
        self._outbox: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._deliver_forever, daemon=True).start()

    # --- running -----------------------------------------------------------------------
    def stop(self) -> None:
        super().stop()
        # Kept-alive connections too: a stopped Zammad answers nothing at all.
        with self._lock:
            connections, self._open_connections = self._open_connections, set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def refuse_connections(self) -> None:
        """Close the listening socket: connections are refused until `accept_connections`."""
        self.stop()

    def accept_connections(self) -> None:
        if self._server is None:
            self.start()

    # --- controls ----------------------------------------------------------------------
    def set_fault(
        self,
        status: int | None = None,
        delay: float = 0.0,
        count: int | None = None,
        latency: float = 0.0,
        request: str | None = None,
        drop: bool = False,
    ) -> None:
        """Answer API requests with `status` (a Zammad error body) and/or after `delay` seconds
        (a slow Zammad: the answer is made after the wait), and/or with `latency` (a slow
        network: the answer is made at once, sent after the wait); for the next `count`
        requests, or until `clear_faults`; only requests that start with `request` (e.g.
        "POST /api/v1/tickets") when it is given. With `drop`, the request is carried out and
        the connection closed without an answer (a network that broke off mid-answer)."""
        with self._lock:
            self._fault = {
                "status": status,
                "delay": delay,
                "count": count,
                "latency": latency,
                "request": request,
                "drop": drop,
            }

    def add_article(
        self,
        ticket_id: int,
        body: str,
        internal: bool = False,
        sender: str = "Agent",
        content_type: str = "text/html",
        subject: str = "",
        article_type: str = "note",
        attachments: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Add an article as an agent would in Zammad's UI (a reply, or an internal note),
        with files as the API takes them ({filename, data (base64), mime-type})."""
        with self._lock:
            if ticket_id not in self.tickets:
                raise KeyError(ticket_id)
            author = self._agent if sender == "Agent" else self._me
            return self._create_article(
                ticket_id,
                {
                    "body": body,
                    "internal": internal,
                    "sender": sender,
                    "subject": subject,
                    "content_type": content_type,
                    "type": article_type,
                    "attachments": attachments or [],
                },
                author,
            )

    def run_schedulers(self) -> list[int]:
        """What Zammad's scheduler does when its time comes, for the schedulers that delete
        tagged tickets: the ids of the tickets deleted."""
        with self._lock:
            tags = set(self.admin.tags_deleted())
            doomed = [number for number, ticket in self.tickets.items() if tags & set(ticket.get("tags", []))]
            for number in doomed:
                for article_id in self.tickets.pop(number)["article_ids"]:
                    self.articles.pop(article_id, None)
            return doomed

    # --- webhooks ----------------------------------------------------------------------
    def configure_webhook(self, url: str | None, secret: str | None = None) -> None:
        with self._lock:
            self.webhook_url, self.webhook_secret = url, secret

    def _queue_delivery(self, ticket: dict[str, Any], article: dict[str, Any]) -> None:
        """Called with the lock held, when an article is created."""
        # The webhook a test set by hand, else those an admin made and an active trigger calls.
        targets = (
            [(self.webhook_url, self.webhook_secret)]
            if self.webhook_url
            else self.admin.webhook_targets(ticket, article)
        )
        for url, secret in targets:
            self._queue_one(ticket, article, url, secret)

    def _queue_one(
        self, ticket: dict[str, Any], article: dict[str, Any], url: str, secret: str | None
    ) -> None:
        body = json.dumps(
            {"ticket": self._ticket_view(ticket, with_ids=True), "article": copy.deepcopy(article)}
        ).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Zammad-Trigger": "Integreat Chat",
            "X-Zammad-Delivery": uuid.uuid4().hex,
            "User-Agent": "Zammad User Agent",
        }
        if secret:
            digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature"] = "sha1=%s" % digest
        delivery_id = headers["X-Zammad-Delivery"]
        self.deliveries[delivery_id] = {
            "url": url,
            "body": body,
            "headers": headers,
            "statuses": [],
        }
        self._outbox.put(delivery_id)

    def _deliver_forever(self) -> None:
        while True:
            delivery_id = self._outbox.get()
            try:
                self.redeliver(delivery_id)
            finally:
                self._outbox.task_done()

    def redeliver(self, delivery_id: str) -> int:
        """Post a delivery (again, as a retry does: same id, same body); returns the status."""
        delivery = self.deliveries[delivery_id]
        request = urllib.request.Request(
            delivery["url"], data=delivery["body"], headers=delivery["headers"], method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = 0  # not reachable
        delivery["statuses"].append(status)
        return status

    def wait_for_webhooks(self, timeout: float = 10.0) -> None:
        """Block until every queued delivery has been attempted."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError("webhook deliveries still pending")
            time.sleep(0.01)

    def api_request_count(self) -> int:
        return sum(1 for _method, path in self.requests if path.startswith("/api/"))

    # --- the Zammad API ----------------------------------------------------------------
    def _create_article(
        self, ticket_id: int, fields: dict[str, Any], author: dict[str, Any]
    ) -> dict[str, Any]:
        files = _stored_files(fields.get("attachments"))  # before anything is stored
        article_id = self._next_article
        self._next_article += 1
        sender = fields.get("sender") or "Customer"
        article_type = fields.get("type") or "note"
        message_id = fields.get("message_id") if isinstance(fields.get("message_id"), str) else None
        stamp = _now()
        article = {
            "id": article_id,
            "ticket_id": ticket_id,
            "type_id": _ARTICLE_TYPES.get(article_type, 10),
            "sender_id": _SENDERS.get(sender, 2),
            "from": "%s %s" % (author["firstname"], author["lastname"]),
            "to": None,
            "cc": None,
            "subject": fields.get("subject") or None,
            "reply_to": None,
            # Kept as given, as Zammad's article_create keeps it (param_cleanup lets it pass).
            "message_id": message_id,
            "message_id_md5": hashlib.md5(message_id.encode("utf-8")).hexdigest() if message_id else None,
            "in_reply_to": None,
            "content_type": fields.get("content_type") or "text/plain",
            "references": None,
            "body": fields.get("body") or "",
            "internal": bool(fields.get("internal", False)),
            "preferences": {},
            "updated_by_id": author["id"],
            "created_by_id": author["id"],
            "origin_by_id": None,
            "created_at": stamp,
            "updated_at": stamp,
            "attachments": [self._store_file(name, kind, data) for name, kind, data in files],
            "type": article_type,
            "sender": sender,
            "created_by": author["login"],
            "updated_by": author["login"],
            "time_unit": None,
        }
        self.articles[article_id] = article
        ticket = self.tickets[ticket_id]
        ticket["article_ids"].append(article_id)
        ticket["article_count"] = len(ticket["article_ids"])
        ticket["updated_at"] = stamp
        self._queue_delivery(ticket, article)
        return copy.deepcopy(article)

    def _store_file(self, name: str, content_type: str, data: bytes) -> dict[str, Any]:
        """Keep a file; its entry in the article, in Zammad's shape (a size as text)."""
        file_id = self._next_file
        self._next_file += 1
        self.files[file_id] = StoredFile(data, content_type)
        return {
            "id": file_id,
            "store_file_id": 1000 + file_id,
            "filename": name,
            "size": str(len(data)),
            "preferences": {"Content-Type": content_type, "Mime-Type": content_type},
        }

    def _file(self, ticket_id: int, article_id: int, file_id: int) -> tuple[int, Any]:
        article = self.articles.get(article_id)
        if ticket_id not in self.tickets or article is None or article["ticket_id"] != ticket_id:
            return 404, _error("Couldn't find Ticket::Article with 'id'=%d" % article_id)
        if file_id not in {entry["id"] for entry in article["attachments"]}:
            return 404, _error("No such file")
        return 200, self.files[file_id]

    def _ticket_view(self, ticket: dict[str, Any], with_ids: bool) -> dict[str, Any]:
        view = copy.deepcopy(ticket)
        if not with_ids:  # GET /tickets/<id> leaves these out, as the recording shows
            view.pop("article_ids", None)
            view.pop("ticket_time_accounting_ids", None)
        return view

    def api(self, method: str, path: str, body: Any, query: dict[str, str] | None = None) -> tuple[int, Any]:
        """Answer one authenticated API request: (status, JSON body or None for empty)."""
        with self._lock:
            if method == "GET" and path == "/api/v1/users/me":
                return 200, copy.deepcopy(self._me)
            if method == "GET" and path == "/api/v1/tickets/search":
                return 200, self._search(
                    (query or {}).get("query", ""), int((query or {}).get("limit") or 10)
                )
            if method == "POST" and path == "/api/v1/tickets":
                return self._create_ticket(body)
            if method == "POST" and path == "/api/v1/ticket_articles":
                ticket_id = body.get("ticket_id") if isinstance(body, dict) else None
                if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
                    return 422, _error("Need ticket_id!")
                if ticket_id not in self.tickets:
                    return 404, _error("Couldn't find Ticket with 'id'=%s" % ticket_id)
                try:
                    return 201, self._create_article(ticket_id, body, self._me)
                except _Refused as refused:
                    return 422, _error(str(refused))
            found = re.fullmatch(r"/api/v1/ticket_attachment/(\d+)/(\d+)/(\d+)", path)
            if found and method == "GET":
                return self._file(*(int(part) for part in found.groups()))
            if method == "POST" and path == "/api/v1/tags/add":
                body = body if isinstance(body, dict) else {}
                ticket = self.tickets.get(body.get("o_id")) if body.get("object") == "Ticket" else None
                if ticket is None:
                    return 404, _error("Couldn't find Ticket with 'id'=%s" % body.get("o_id"))
                tags = ticket.setdefault("tags", [])
                if body.get("item") not in tags:
                    tags.append(str(body.get("item")))
                return 201, True
            found = re.fullmatch(r"/api/v1/ticket_articles/(\d+)", path)
            if found and method == "GET":
                article = self.articles.get(int(found.group(1)))
                if article is None:
                    return 404, _error("Couldn't find Ticket::Article with 'id'=%s" % found.group(1))
                return 200, copy.deepcopy(article)
            found = re.fullmatch(r"/api/v1/ticket_articles/by_ticket/(\d+)", path)
            if found and method == "GET":
                ticket = self.tickets.get(int(found.group(1)))
                if ticket is None:
                    return 404, _error("Couldn't find Ticket with 'id'=%s" % found.group(1))
                return 200, [copy.deepcopy(self.articles[i]) for i in ticket["article_ids"]]
            found = re.fullmatch(r"/api/v1/tickets/(\d+)", path)
            if found:
                ticket_id = int(found.group(1))
                ticket = self.tickets.get(ticket_id)
                if ticket is None:
                    return 404, _error("Couldn't find Ticket with 'id'=%d" % ticket_id)
                if method == "GET":
                    return 200, self._ticket_view(ticket, with_ids=False)
                if method == "PUT":
                    if not isinstance(body, dict):
                        return 422, _error("Invalid payload")
                    article = body.get("article")
                    if article is not None and not isinstance(article, dict):
                        return 422, _error("Invalid article")
                    for key, value in body.items():
                        if key not in ("id", "article", "article_ids"):
                            ticket[key] = value
                    ticket["updated_at"] = _now()
                    if article is not None:  # Zammad adds an article with the update
                        try:
                            self._create_article(ticket_id, article, self._me)
                        except _Refused as refused:
                            return 422, _error(str(refused))
                    return 200, self._ticket_view(ticket, with_ids=True)
                if method == "DELETE":
                    for article_id in ticket["article_ids"]:
                        self.articles.pop(article_id, None)
                    del self.tickets[ticket_id]
                    return 200, None
            return 404, _error("No route matches [%s] %r" % (method, path))

    def _search(self, query: str, limit: int) -> list[dict[str, Any]]:
        """As Zammad's search with `expand=true` (the recorded shape): tickets whose title
        or number holds every word of the query, newest first."""
        words = query.lower().split()
        found = [
            ticket
            for ticket in self.tickets.values()
            if words and all(word in ticket["title"].lower() or word == ticket["number"] for word in words)
        ]
        found.sort(key=lambda ticket: ticket["id"], reverse=True)
        return [self._ticket_view(ticket, with_ids=True) for ticket in found[:limit]]

    def _create_ticket(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not body.get("title"):
            return 422, _error("Need title!")
        group = body.get("group")
        group_id = self.admin.group_id(group) if isinstance(group, str) else None
        if group_id is None:
            return 422, _error("No lookup value found for 'group': %s" % json.dumps(group))
        if body.get("customer") not in (self._me["login"], self._me["email"]):
            return 422, _error("No lookup value found for 'customer': %s" % json.dumps(body.get("customer")))
        article = body.get("article")
        if article is not None and not isinstance(article, dict):
            return 422, _error("Invalid article")
        ticket_id = self._next_ticket
        self._next_ticket += 1
        stamp = _now()
        ticket = copy.deepcopy(self._ticket_shape)
        ticket.update(dict.fromkeys(self.admin.ticket_attributes()))
        ticket.update(copy.deepcopy(self.attributes))
        ticket.update(
            {
                "id": ticket_id,
                "number": str(77000 + ticket_id),
                "title": body["title"],
                "group_id": group_id,
                "customer_id": self._me["id"],
                "created_by_id": self._me["id"],
                "updated_by_id": self._me["id"],
                "created_at": stamp,
                "updated_at": stamp,
                "article_ids": [],
                "article_count": 0,
            }
        )
        for key, value in body.items():  # custom attributes: region_slug, language_slug, ...
            if (
                key not in ticket or key in self.attributes or key in self.admin.ticket_attributes()
            ) and key not in (
                "article",
                "group",
                "customer",
                "state",
                "priority",
                "owner",
            ):
                ticket[key] = value
        if article is not None:
            try:
                _stored_files(article.get("attachments"))
            except _Refused as refused:
                return 422, _error(str(refused))
        self.tickets[ticket_id] = ticket
        if article is not None:
            self._create_article(ticket_id, article, self._me)
        return 201, self._ticket_view(ticket, with_ids=True)

    def load(self, tickets: dict[Any, dict[str, Any]], articles: dict[Any, dict[str, Any]]) -> None:
        """Hold these tickets and articles (as `state()` gave them, ids as JSON keys): a
        recorded Zammad, served again."""
        with self._lock:
            self.tickets = {int(key): copy.deepcopy(value) for key, value in tickets.items()}
            self.articles = {int(key): copy.deepcopy(value) for key, value in articles.items()}
            self._next_ticket = max(self.tickets, default=0) + 1
            self._next_article = max(self.articles, default=0) + 1

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "tickets": copy.deepcopy(self.tickets),
                "articles": copy.deepcopy(self.articles),
                "requests": ["%s %s" % request for request in self.requests],
                "webhook_url": self.webhook_url,
                "deliveries": [
                    {"id": key, "statuses": value["statuses"]} for key, value in self.deliveries.items()
                ],
            }


class _Handler(BaseHTTPRequestHandler):
    emulator: ZammadEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args) -> None:  # quiet: tests and `make dev` read their own logs
        pass

    def setup(self) -> None:
        super().setup()
        with self.emulator._lock:
            self.emulator._open_connections.add(self.connection)

    def finish(self) -> None:
        with self.emulator._lock:
            self.emulator._open_connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def _send(self, status: int, body: Any, content_type: str = "application/json; charset=utf-8") -> None:
        if isinstance(body, StoredFile):  # a file is its bytes, with its own type
            data, content_type = body.data, body.content_type
        else:
            data = b"" if body is None else json.dumps(body).encode("utf-8")
        if body is None:
            content_type = "text/html"
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (a timeout under test): nothing to answer
            self.close_connection = True

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        return json.loads(raw)

    def _handle(self) -> None:
        emulator = self.emulator
        path, _, query_string = self.path.partition("?")
        query = {name: values[0] for name, values in parse_qs(query_string).items()}
        try:
            body = self._body()
        except ValueError:
            return self._send(400, _error("Invalid JSON"))
        with emulator._lock:
            emulator.requests.append((self.command, path))
        if path.startswith("/_emulator/"):
            return self._control(path, body)
        fault = emulator._take_fault("%s %s" % (self.command, path))
        if fault.get("delay"):
            time.sleep(fault["delay"])
        if fault.get("status"):
            return self._send(fault["status"], _error("Emulated failure"))
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if not scheme:
            return self._send(403, _error("Authentication required"))
        token = token.replace("token=", "", 1)
        if scheme not in ("Token", "Bearer") or token not in (emulator.token, emulator.admin_token):
            return self._send(401, _error("Can't find User for Token"))
        if emulator.admin.is_admin_path(path):
            if token != emulator.admin_token:  # refused before anything is read or changed
                return self._send(403, _error("Not authorized (user)!"))
            with emulator._lock:
                status, answer = emulator.admin.answer(self.command, path, body) or (404, None)
        else:
            status, answer = emulator.api(self.command, path, body, query)
        if fault.get("latency"):
            time.sleep(fault["latency"])
        if fault.get("drop"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        self._send(status, answer)

    def _control(self, path: str, body: Any) -> None:
        emulator = self.emulator
        body = body if isinstance(body, dict) else {}
        found = re.fullmatch(r"/_emulator/tickets/(\d+)/articles", path)
        if found and self.command == "POST":
            try:
                article = emulator.add_article(
                    int(found.group(1)),
                    str(body.get("body", "")),
                    bool(body.get("internal", False)),
                    content_type=body.get("content_type", "text/html"),
                    attachments=body.get("attachments"),
                )
            except KeyError:
                return self._send(404, _error("No such ticket"))
            except _Refused as refused:
                return self._send(422, _error(str(refused)))
            return self._send(201, article)
        if path == "/_emulator/faults" and self.command == "PUT":
            emulator.set_fault(
                body.get("status"),
                float(body.get("delay") or 0),
                body.get("count"),
                float(body.get("latency") or 0),
                body.get("request"),
                bool(body.get("drop")),
            )
            return self._send(200, {"fault": emulator._fault})
        if path == "/_emulator/faults" and self.command == "DELETE":
            emulator.clear_faults()
            return self._send(200, {"fault": {}})
        if path == "/_emulator/webhook" and self.command == "PUT":
            emulator.configure_webhook(body.get("url"), body.get("secret"))
            return self._send(200, {"url": emulator.webhook_url})
        found = re.fullmatch(r"/_emulator/deliveries/([^/]+)/repeat", path)
        if found and self.command == "POST":
            if found.group(1) not in emulator.deliveries:
                return self._send(404, _error("No such delivery"))
            return self._send(200, {"status": emulator.redeliver(found.group(1))})
        if path == "/_emulator/state" and self.command == "GET":
            return self._send(200, emulator.state())
        return self._send(404, _error("No such control"))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.zammad_emulator", description="Serve the Zammad emulator on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--token", default="dev-zammad-token", help="the agent's token, the chat's (%(default)s)"
    )
    parser.add_argument(
        "--admin-token",
        default="dev-zammad-admin-token",
        help="the token that may use the admin API, for zammad-setup and doctor (%(default)s)",
    )
    parser.add_argument("--webhook-url", help="post every new article there")
    parser.add_argument("--webhook-secret", help="sign deliveries (X-Hub-Signature)")
    args = parser.parse_args()
    emulator = ZammadEmulator(token=args.token, port=args.port, admin_token=args.admin_token).start()
    emulator.configure_webhook(args.webhook_url, args.webhook_secret)
    emulator.serve_until_interrupted(
        "Zammad emulator on %s (agent token %s, admin token %s)"
        % (emulator.url, args.token, args.admin_token)
    )


if __name__ == "__main__":
    main()
