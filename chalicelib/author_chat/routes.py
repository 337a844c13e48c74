"""Handlers of the author chat (SPEC §5). Caller: a bearer token with role `author` or
`admin`, checked by the dispatcher (see routes.py), which hands over who it is."""

from chalicelib.author_chat import widget
from chalicelib.author_chat.service import parse_limit
from chalicelib.platform.auth import Principal
from chalicelib.services import Services
from chalicelib.web.errors import BadRequest
from chalicelib.web.http import Request, Response
from chalicelib.web.routing import ANYONE, AUTHOR, Route


def list_messages(services: Services, request: Request, reader: Principal) -> Response:
    limit = parse_limit(request.query.get("limit"))
    return Response(200, services.author_chat.history(reader, limit, request.query.get("cursor") or None))


def post_message(services: Services, request: Request, author: Principal) -> Response:
    body = request.json_object()
    if "text" not in body:
        near = sorted(set(body) & {"message", "content", "body"})
        hint = " (not %r)" % near[0] if near else ""
        raise BadRequest('The message goes in the field "text"%s: {"text": "..."}.' % hint)
    return Response(201, services.author_chat.post(author, body["text"]))


def mark_read(services: Services, request: Request, reader: Principal) -> Response:
    return Response(200, services.author_chat.mark_read(reader))


def delete_message(services: Services, request: Request, caller: Principal) -> Response:
    return Response(200, services.author_chat.delete(caller, request.path_params["message_id"]))


ROUTES = [
    Route("GET", "/api/v3/author-chat/messages", AUTHOR, list_messages),
    Route("POST", "/api/v3/author-chat/messages", AUTHOR, post_message),
    Route("DELETE", "/api/v3/author-chat/messages/{message_id}", AUTHOR, delete_message),
    Route("POST", "/api/v3/author-chat/read", AUTHOR, mark_read),
    Route("GET", "/api/v3/author-chat/widget", ANYONE, widget.page),
    Route("GET", "/api/v3/author-chat/widget/{file}", ANYONE, widget.asset),
]
