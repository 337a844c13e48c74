"""Plain request and response objects: what every entry point (Chalice, WSGI) adapts to."""
import json
from typing import Any, Dict, Optional

from .errors import BadRequest


class Request:
    # Plain classes, not dataclasses: generating those costs a cold start milliseconds.
    __slots__ = ("method", "route", "path_params", "query", "headers", "body", "source_ip",
                 "request_id")

    def __init__(self, method: str, route: str, path_params: Optional[Dict[str, str]] = None,
                 query: Optional[Dict[str, str]] = None, headers: Optional[Dict[str, str]] = None,
                 body: bytes = b"", source_ip: str = "", request_id: str = ""):
        self.method = method.upper()
        self.route = route  # the route template, e.g. "/api/v3/admin/regions/{slug}"
        self.path_params = path_params or {}
        self.query = query or {}
        self.headers = {name.lower(): value for name, value in (headers or {}).items()}
        self.body = body
        self.source_ip = source_ip
        self.request_id = request_id

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def json_object(self) -> Dict[str, Any]:
        """The body as a JSON object; 400 for anything else."""
        if not self.body.strip():
            raise BadRequest("A JSON body is required.")
        try:
            value = json.loads(self.body)
        except ValueError:
            raise BadRequest("Malformed JSON body.") from None
        if not isinstance(value, dict):
            raise BadRequest("The JSON body must be an object.")
        return value


class Response:
    __slots__ = ("status", "body", "headers")

    def __init__(self, status: int = 200, body: Any = None, headers: Optional[Dict[str, str]] = None):
        self.status = status
        self.body = body  # JSON-serialisable, or None for an empty body
        self.headers = headers if headers is not None else {}

    def body_bytes(self) -> bytes:
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
