"""Handlers of the author chat (SPEC §5). Caller: a bearer token with role `author` or
`admin`, checked by the dispatcher (see routes.py), which hands over who it is."""

from typing import TYPE_CHECKING

from chalicelib.author_chat import widget
from chalicelib.services import Services
from chalicelib.web.errors import BadRequest
from chalicelib.web.http import Request, Response
from chalicelib.web.numbers import whole_number
from chalicelib.web.routing import ANYONE, AUTHOR, Route

if TYPE_CHECKING:  # the caller's type only: a poll's cold start loads no token code
    from chalicelib.platform.auth import Principal

DEFAULT_LIMIT, MAX_LIMIT = 50, 100  # messages per page of the history


def parse_limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    limit = whole_number(value, 3)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise BadRequest("limit must be a whole number from 1 to %d." % MAX_LIMIT)
    return limit


def list_messages(services: Services, request: Request, reader: "Principal") -> Response:
    limit = parse_limit(request.query.get("limit"))
    return Response(200, services.author_chat.history(reader, limit, request.query.get("cursor") or None))


def post_message(services: Services, request: Request, author: "Principal") -> Response:
    body = request.json_object()
    if "text" not in body:
        near = sorted(set(body) & {"message", "content", "body"})
        hint = " (not %r)" % near[0] if near else ""
        raise BadRequest('The message goes in the field "text"%s: {"text": "..."}.' % hint)
    return Response(201, services.author_chat.post(author, body["text"]))


def mark_read(services: Services, request: Request, reader: "Principal") -> Response:
    return Response(200, services.author_chat.mark_read(reader))


def delete_message(services: Services, request: Request, caller: "Principal") -> Response:
    return Response(200, services.author_chat.delete(caller, request.path_params["message_id"]))


ROUTES = [
    Route("GET", "/api/v3/author-chat/messages", AUTHOR, list_messages),
    Route("POST", "/api/v3/author-chat/messages", AUTHOR, post_message),
    Route("DELETE", "/api/v3/author-chat/messages/{message_id}", AUTHOR, delete_message),
    Route("POST", "/api/v3/author-chat/read", AUTHOR, mark_read),
    Route("GET", "/api/v3/author-chat/widget", ANYONE, widget.page),
    Route("GET", "/api/v3/author-chat/widget/{file}", ANYONE, widget.asset),
]
