"""The WebSocket channel anywhere but AWS (docs/realtime.md), over the same handlers as API
Gateway's WebSocket API: `Realtime.received` and `Realtime.disconnected` of
chalicelib/realtime. `make dev` and the tests run it too.

    python -m functions.websocket --host 0.0.0.0 --port 8004 --management-port 8005

- `ws://<host>:<port>/` (any path, so a proxy may keep its own, e.g. nginx's
  `/api/v3/realtime/`): clients connect, subscribe and get events. Frames over 128 KB close
  the connection (1009), and every connection is closed after two hours (1001), as API
  Gateway does; clients reconnect.
- `http://<management host>:<management port>`: API Gateway's management API, `POST` and
  `DELETE /@connections/<id>`. The API, the jobs and the worker send their events there
  through botocore (`WEBSOCKET_ENDPOINT=http://127.0.0.1:8005`). A connection that is gone
  answers 410 `GoneException`, as API Gateway does. It has no authentication: it listens on
  loopback unless `--management-host` says otherwise; keep it on a private network.

It reads the same environment as the API (tables, regions, tokens). One instance serves a
deployment: the senders reach one management address, and a connection held by another
instance would answer 410 and be forgotten.
"""

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import websockets
from websockets.asyncio.server import ServerConnection, serve

from chalicelib.platform import telemetry
from chalicelib.platform.config import load_settings
from chalicelib.platform.logs import configure_logging
from chalicelib.realtime.service import CONNECTION_SECONDS, MAX_FRAME_BYTES
from chalicelib.services import Services, aws_services
from chalicelib.web.http import Request

GOING_AWAY = 1001  # the close code at the two hours' end
TRY_AGAIN_LATER = 1013  # a client over its rate limit


class WebSocketServer:
    """The WebSocket server (in a thread with its own event loop) and the management API
    (a threaded HTTP server). Start and stop it, or use it in a with-block."""

    def __init__(
        self,
        services: Services,
        port: int = 0,
        management_port: int = 0,
        host: str = "127.0.0.1",
        management_host: str = "127.0.0.1",
        connection_seconds: float = CONNECTION_SECONDS,
    ):
        self.services = services
        self.host, self.ws_port = host, port
        self.management_host, self.management_port = management_host, management_port
        self.connection_seconds = connection_seconds
        self.clients: dict[str, ServerConnection] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Future | None = None
        self._thread: threading.Thread | None = None
        self._management: ThreadingHTTPServer | None = None

    @property
    def ws_url(self) -> str:
        return "ws://%s:%d/" % (self.host, self.ws_port)

    @property
    def management_url(self) -> str:
        return "http://%s:%d" % (self.management_host, self.management_port)

    def start(self) -> "WebSocketServer":
        handler = type("Handler", (_ManagementHandler,), {"channel": self})
        self._management = _ManagementServer((self.management_host, self.management_port), handler)
        self.management_port = self._management.server_address[1]
        threading.Thread(target=self._management.serve_forever, args=(0.05,), daemon=True).start()
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
        if self._management is not None:
            self._management.shutdown()
            self._management.server_close()
            self._management = None

    def __enter__(self) -> "WebSocketServer":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopped = self.loop.create_future()
        async with serve(self._client, self.host, self.ws_port, max_size=MAX_FRAME_BYTES) as server:
            self.ws_port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stopped

    async def _client(self, connection: ServerConnection) -> None:
        connection_id = secrets.token_urlsafe(12)  # API Gateway's ids are opaque like this
        self.clients[connection_id] = connection
        request = connection.request
        handshake = Request(
            "GET",
            "",
            headers=dict(request.headers.raw_items()) if request is not None else {},
            source_ip=str(connection.remote_address[0]) if connection.remote_address else "",
        )
        try:
            if not await asyncio.to_thread(
                self._measured, self.services.realtime.connected, connection_id, handshake
            ):
                await connection.close(TRY_AGAIN_LATER, "Too many requests. Please try again later.")
                return
            async with asyncio.timeout(self.connection_seconds):
                async for frame in connection:
                    data = frame.encode("utf-8") if isinstance(frame, str) else frame
                    # The handlers block on DynamoDB: off the event loop, as a Lambda would run them.
                    reply = await asyncio.to_thread(
                        self._measured, self.services.realtime.received, connection_id, data
                    )
                    await connection.send(json.dumps(reply))
        except TimeoutError:
            await connection.close(GOING_AWAY, "Connection lasted two hours; reconnect.")
        except websockets.ConnectionClosed:
            pass
        finally:
            self.clients.pop(connection_id, None)
            await asyncio.to_thread(self._measured, self.services.realtime.disconnected, connection_id)

    def _measured(self, handler: Callable[..., Any], *args: Any) -> Any:
        with telemetry.invocation(self.services.metrics, "realtime"):
            return handler(*args)

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

    def close(self, connection_id: str) -> bool:
        """From the management API's thread: close one connection; False when it is gone."""
        connection = self.clients.get(connection_id)
        if connection is None or self.loop is None:
            return False
        asyncio.run_coroutine_threadsafe(connection.close(), self.loop)
        return True


class _ManagementServer(ThreadingHTTPServer):
    request_queue_size = 128  # an event for every connection of a busy chat arrives at once
    daemon_threads = True


class _ManagementHandler(BaseHTTPRequestHandler):
    channel: WebSocketServer
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
        return unquote(found.group(1)) if found else None

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        connection_id = self._connection_id()
        if connection_id is None:
            return self._answer(404, {"message": "Not found"})
        if self.channel.push(connection_id, data):
            return self._answer(200)
        return self._answer(410, {"message": "Gone"}, error="GoneException")

    def do_DELETE(self) -> None:
        if self.channel.close(self._connection_id() or ""):
            return self._answer(204)
        return self._answer(410, {"message": "Gone"}, error="GoneException")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m functions.websocket",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="where clients connect (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8004)
    parser.add_argument("--management-host", default="127.0.0.1", help="keep it private (default 127.0.0.1)")
    parser.add_argument("--management-port", type=int, default=8005)
    args = parser.parse_args()
    configure_logging()
    services = aws_services(load_settings(os.environ))
    server = WebSocketServer(services, args.port, args.management_port, args.host, args.management_host)
    server.start()
    print("Listening at: %s" % server.ws_url.rstrip("/"), flush=True)
    print("Management API at: %s" % server.management_url, flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    server.stop()


if __name__ == "__main__":
    main()
