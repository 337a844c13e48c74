"""The WebSocket channel on this machine (docs/realtime.md), over the same handlers as API
Gateway's WebSocket API in AWS: `Realtime.received` and `Realtime.disconnected` of
chalicelib/realtime. Chalice's local server has no WebSockets, so this serves them:

    python -m devtools.ws_server --port 8004 --management-port 8005

- `ws://127.0.0.1:<port>/`: clients connect, subscribe, get events (`websockets` from PyPI;
  frames over 128 KB close the connection, as API Gateway's limit).
- `http://127.0.0.1:<management port>`: API Gateway's management API, `POST`/`DELETE
  /@connections/<id>`, which the app's `ManagementApiSender` calls through botocore with
  `WEBSOCKET_ENDPOINT` pointing here; a connection that is gone answers 410 `GoneException`
  as API Gateway does.

It reads the same environment as the API (tables, regions, tokens).
"""

import argparse
import asyncio
import json
import os
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection, serve

from chalicelib.platform.config import load_settings
from chalicelib.realtime.service import MAX_FRAME_BYTES
from chalicelib.services import Services, aws_services
from devtools.loopback_server import LoopbackServer


class WebSocketServer(LoopbackServer):
    """The WebSocket server (in a thread with its own event loop) and, as the loopback
    HTTP server, the management API."""

    def __init__(self, services: Services, port: int = 0, management_port: int = 0):
        super().__init__(port=management_port)
        self.handler = _ManagementHandler
        self.services = services
        self.ws_port = port
        self.clients: dict[str, ServerConnection] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Future | None = None
        self._thread: threading.Thread | None = None

    @property
    def ws_url(self) -> str:
        return "ws://127.0.0.1:%d/" % self.ws_port

    def start(self):
        super().start()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the WebSocket server did not start")
        return self

    def stop(self) -> None:
        if self.loop is not None and self._stopped is not None and not self._stopped.done():
            self.loop.call_soon_threadsafe(self._stopped.set_result, None)
            # Its connections close and their handlers finish (forgetting each connection)
            # before the caller stops what they need (DynamoDB).
            if self._thread is not None:
                self._thread.join(timeout=30)
        super().stop()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopped = self.loop.create_future()
        async with serve(self._client, "127.0.0.1", self.ws_port, max_size=MAX_FRAME_BYTES) as server:
            self.ws_port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stopped

    async def _client(self, connection: ServerConnection) -> None:
        connection_id = secrets.token_urlsafe(12)  # API Gateway's ids are opaque like this
        self.clients[connection_id] = connection
        try:
            async for frame in connection:
                data = frame.encode("utf-8") if isinstance(frame, str) else frame
                # The handlers block on DynamoDB: off the event loop, as a Lambda would run them.
                reply = await asyncio.to_thread(self.services.realtime.received, connection_id, data)
                await connection.send(json.dumps(reply))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.clients.pop(connection_id, None)
            await asyncio.to_thread(self.services.realtime.disconnected, connection_id)

    def push(self, connection_id: str, data: bytes) -> bool:
        """From the management API's thread: send one frame; False when it is gone."""
        connection = self.clients.get(connection_id)
        if connection is None or self.loop is None:
            return False
        future = asyncio.run_coroutine_threadsafe(connection.send(data.decode("utf-8")), self.loop)
        try:
            future.result(timeout=5)
        except Exception:
            return False
        return True


class _ManagementHandler(BaseHTTPRequestHandler):
    emulator: WebSocketServer
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args) -> None:  # quiet: connection ids are not for the log
        pass

    def _answer(self, status: int, body: dict[str, Any] | None = None, error: str | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if error:
            self.send_header("x-amzn-ErrorType", error)
        self.end_headers()
        self.wfile.write(data)

    def _connection_id(self) -> str | None:
        found = re.fullmatch(r"(?:/[^@]*)?/@connections/([^/?]+)", self.path)
        return found.group(1) if found else None

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        connection_id = self._connection_id()
        if connection_id is None:
            return self._answer(404, {"message": "Not found"})
        if self.emulator.push(connection_id, data):
            return self._answer(200)
        return self._answer(410, {"message": "Gone"}, error="GoneException")

    def do_DELETE(self) -> None:
        connection = self.emulator.clients.get(self._connection_id() or "")
        if connection is None or self.emulator.loop is None:
            return self._answer(410, {"message": "Gone"}, error="GoneException")
        asyncio.run_coroutine_threadsafe(connection.close(), self.emulator.loop)
        return self._answer(204)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.ws_server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8004)
    parser.add_argument("--management-port", type=int, default=8005)
    args = parser.parse_args()
    server = WebSocketServer(aws_services(load_settings(os.environ)), args.port, args.management_port).start()
    server.serve_until_interrupted(
        "WebSocket channel on %s (management API %s)" % (server.ws_url, server.url)
    )


if __name__ == "__main__":
    main()
