"""Plain request and response objects: what every entry point (Chalice, WSGI) adapts to.

Input is checked here, at the edge, for the whole class of text that would poison stored
data: a JSON body is parsed by `parse_json`, which refuses deep nesting and text holding a
lone UTF-16 surrogate (what `JSON.stringify` makes of an emoji cut in half), and the
response encoder cannot fail on anything already stored.
"""

import json
import re
from typing import Any

from chalicelib.web.errors import BadRequest

MAX_JSON_DEPTH = 32  # far more than any of our bodies needs; bounded before anything recurses
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    """True for text that cannot be UTF-8 (a surrogate code point that pairs with nothing)."""
    return _SURROGATE.search(text) is not None


def replace_lone_surrogates(text: str) -> str:
    """For text we must keep but did not take as input (Zammad's): U+FFFD instead."""
    return _SURROGATE.sub("\ufffd", text)


def check_text_values(value: Any) -> Any:
    """400 if any string in a parsed body (keys too) holds a lone surrogate or the
    structure is nested deeper than MAX_JSON_DEPTH. Iterative: no recursion to exhaust."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest("The body is nested too deeply.")
        if isinstance(item, str):
            if has_lone_surrogate(item):
                raise BadRequest("The body holds text that is not valid Unicode.")
        elif isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return value


def parse_json(data: bytes) -> Any:
    """A JSON document from the wire; 400 for anything malformed, too deep or poisonous."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested beyond the parser's stack
        raise BadRequest("Malformed JSON body.") from None
    return check_text_values(value)


class Request:
    # Plain classes, not dataclasses: generating those costs a cold start milliseconds.
    __slots__ = (
        "body",
        "headers",
        "method",
        "path",
        "path_params",
        "query",
        "request_id",
        "route",
        "source_ip",
    )

    def __init__(
        self,
        method: str,
        route: str,
        path_params: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        source_ip: str = "",
        request_id: str = "",
        path: str = "",
    ):
        self.method = method.upper()
        self.route = route  # the route template, e.g. "/api/v3/admin/regions/{slug}"
        self.path_params = path_params or {}
        self.query = query or {}
        self.headers = {name.lower(): value for name, value in (headers or {}).items()}
        self.body = body
        self.source_ip = source_ip
        self.request_id = request_id
        # The concrete path as the client sent it ("" when the server does not say): only
        # for what the template loses, a trailing slash. Never logged (it holds device ids).
        self.path = path

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; 400 for anything else."""
        if not self.body.strip():
            raise BadRequest("A JSON body is required.")
        value = parse_json(self.body)
        if not isinstance(value, dict):
            raise BadRequest("The JSON body must be an object.")
        return value


class Response:
    __slots__ = ("_encoded", "body", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ):
        self.status = status
        self.body = body  # JSON-serialisable, or None for an empty body
        self.headers = headers if headers is not None else {}
        # `raw`: bytes sent as they are (a static file; its Content-Type in `headers`).
        self._encoded: bytes | None = raw

    def body_bytes(self) -> bytes:
        """The body as UTF-8 JSON. `ChatApi.handle` encodes it once, inside its error
        handling; the adapters get the same bytes again."""
        if self._encoded is None:
            self._encoded = encode_json(self.body)
        return self._encoded


def etag(body: bytes) -> str:
    """A strong ETag of a body: its digest (polls answer 304 when it is unchanged)."""
    import hashlib

    return '"%s"' % hashlib.sha256(body).hexdigest()[:32]


def encode_json(body: Any) -> bytes:
    """Compact UTF-8 JSON. Text that cannot be UTF-8 (a lone surrogate stored before input
    was checked, or sent by Zammad) is written as a JSON escape instead of failing."""
    if body is None:
        return b""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body, ensure_ascii=True, separators=(",", ":"), default=str).encode("ascii")
