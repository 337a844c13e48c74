"""The API's description, OpenAPI 3.1 (`openapi.json` beside this module, in the package),
served at `GET /api/v3/openapi.json`. Tests check it against the route table and against
real responses, and `make test` fuzzes the running app from it."""

import json
from pathlib import Path
from typing import Any

from chalicelib.web.http import Request, Response

DOCUMENT = Path(__file__).with_name("openapi.json")
_loaded: dict[str, Any] | None = None


def document() -> dict[str, Any]:
    global _loaded
    if _loaded is None:  # read on first use, not at a cold start
        _loaded = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return _loaded


def serve(_services: object, _request: Request, _anyone: None) -> Response:
    return Response(200, document())
