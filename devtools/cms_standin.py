"""A stand-in for the Integreat CMS, for tests: on loopback, it answers its public regions
endpoint in the CMS's shape, and every other path with where the request landed, so a test
can tell which side of a reverse proxy served it.

    GET /api/v3/regions/   [{"id", "name", "path": <slug>, "live", "prefix",
                             "name_without_prefix", "is_chat_enabled", "zammad_privacy_policy",
                             ...}, ...]   (the CMS's transform_region, archived regions left out)
    anything else          {"served_by": "cms", "method", "path", "headers"}
"""

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from devtools.loopback_server import LoopbackServer


def cms_region(
    slug: str, name: str, chat: bool, privacy_policy: str = "", region_id: int = 1
) -> dict[str, Any]:
    """One region as the CMS's regions endpoint shows it."""
    return {
        "id": region_id,
        "name": "Stadt %s" % name,
        "path": slug,
        "live": True,
        "prefix": "Stadt",
        "name_without_prefix": name,
        "plz": "86150",
        "extras": False,
        "events": True,
        "pois": True,
        "push_notifications": True,
        "longitude": 10.89,
        "latitude": 48.37,
        "bounding_box": [[10.7, 48.2], [11.0, 48.5]],
        "aliases": {},
        "tunews": False,
        "external_news": False,
        "languages": [],
        "is_chat_enabled": chat,
        "zammad_privacy_policy": privacy_policy,
    }


class CmsStandIn(LoopbackServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.handler = _Handler
        self.regions: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []

    def set_fault(
        self, status: int, body: Any = None, count: int | None = None, request: str | None = None
    ) -> None:
        """Answer the next `count` requests (all, when None) starting with `request` with
        `status` and `body` (JSON, or bytes as they are)."""
        with self._lock:
            self._fault = {"status": status, "body": body, "count": count, "request": request}


class _Handler(BaseHTTPRequestHandler):
    emulator: CmsStandIn
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *_args) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.partition("?")[0]
        cms = self.emulator
        with cms._lock:
            cms.requests.append((self.command, self.path))
        fault = cms._take_fault("%s %s" % (self.command, path))
        if fault.get("status"):
            status, body = fault["status"], fault.get("body") or {"detail": "emulated failure"}
        elif path == "/api/v3/regions/" and self.command == "GET":
            status, body = 200, cms.regions
        else:
            status, body = (
                200,
                {
                    "served_by": "cms",
                    "method": self.command,
                    "path": self.path,
                    "headers": {name.lower(): value for name, value in self.headers.items()},
                },
            )
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = _handle
