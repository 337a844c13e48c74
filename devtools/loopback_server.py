"""What the emulators share: an HTTP server on loopback in a thread of its own (start,
stop, a with-block, a free port when asked for 0), and faults that hit the next `count`
requests whose request line starts with a given prefix."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class BackloggedHTTPServer(ThreadingHTTPServer):
    # socketserver's listen backlog is 5: a burst of connections (the API's threads all
    # calling Zammad at once, as the HTTP suite's bursts of first messages do) overflows it,
    # and the kernel drops or resets the rest before a thread can take them.
    request_queue_size = 128
    daemon_threads = True


class LoopbackServer:
    handler: type[BaseHTTPRequestHandler]  # subclasses name theirs; it gets `emulator` set

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self._port = port
        self._lock = threading.Lock()
        self._fault: dict[str, Any] = {}
        self._server: BackloggedHTTPServer | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return "http://%s:%d" % (self.host, self._port)

    def start(self):
        handler = type("Handler", (self.handler,), {"emulator": self})
        self._server = BackloggedHTTPServer((self.host, self._port), handler)
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def serve_until_interrupted(self, banner: str) -> None:
        """For `python -m devtools.<emulator>`: print the banner, serve until Ctrl-C."""
        print(banner, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            self.stop()

    def clear_faults(self) -> None:
        with self._lock:
            self._fault = {}

    def _take_fault(self, request_line: str) -> dict[str, Any]:
        """The fault for this request ({} for none), counted down if it has a count."""
        with self._lock:
            fault = dict(self._fault)
            if not fault or (fault.get("request") and not request_line.startswith(fault["request"])):
                return {}
            if fault.get("count") is not None:
                self._fault["count"] -= 1
                if self._fault["count"] <= 0:
                    self._fault = {}
            return fault
