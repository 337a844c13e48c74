"""Handlers of the author chat (SPEC §5): bearer tokens with role `author` or `admin`."""

from chalicelib.author_chat.service import parse_limit
from chalicelib.web.http import Request, Response

ROLES = ("author", "admin")


def _caller(api, request: Request):
    return api.auth.require(request.header("authorization"), *ROLES)


def list_messages(api, request: Request) -> Response:
    reader = _caller(api, request)
    limit = parse_limit(request.query.get("limit"))
    return Response(200, api.author_chat.history(reader, limit, request.query.get("cursor") or None))


def post_message(api, request: Request) -> Response:
    author = _caller(api, request)
    return Response(201, api.author_chat.post(author, request.json_object().get("text")))


def mark_read(api, request: Request) -> Response:
    return Response(200, api.author_chat.mark_read(_caller(api, request)))


def delete_message(api, request: Request) -> Response:
    caller = _caller(api, request)
    return Response(200, api.author_chat.delete(caller, request.path_params["message_id"]))
