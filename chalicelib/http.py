"""Plain request and response objects: what every entry point (Chalice, WSGI) adapts to."""
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from .errors import BadRequest


@dataclass
class Request:
    method: str
    route: str  # the route template, e.g. "/api/v3/admin/regions/{slug}"
    path_params: Dict[str, str] = field(default_factory=dict)
    query: Dict[str, str] = field(default_factory=dict)
    headers: Dict[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""
    source_ip: str = ""
    request_id: str = ""

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        self.headers = {name.lower(): value for name, value in self.headers.items()}

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


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-serialisable, or None for an empty body
    headers: Dict[str, str] = field(default_factory=dict)

    def body_bytes(self) -> bytes:
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
