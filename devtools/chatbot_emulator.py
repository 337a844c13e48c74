"""An emulator of the Integreat chatbot service (integreat-chat) over real HTTP on
127.0.0.1, for tests and `make dev`:

    python -m devtools.chatbot_emulator --port 8003 --delay 3

    POST /chatanswers/extract_answer/    {"messages": [...], "language", "region"}
         -> {"status": "success", "answer": "<p>[<language>] ...</p><ul>sources</ul>",
             "automatic_answers": true, "rag_sources": [...]}
         A last message that asks for a human ("human", "Mensch", "person") gets
         `automatic_answers: false`, as the real service hands over.
    POST /chatanswers/translate_message/ {"message", "source_language", "target_language"}
         -> {"status": "success", "translation": "[<target>] <message>"}

Answers are deterministic and come after `delay` seconds (the real service takes ~20 s).
Controls (no authentication; loopback only):
    PUT    /_emulator/faults  {"status": 500, "body": "garbage"|"error", "delay": 0,
                               "count": null, "request": "/chatanswers/translate_message/"}
    DELETE /_emulator/faults
    GET    /_emulator/state   the requests received
"""

import argparse
import html
import json
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from devtools.loopback_server import LoopbackServer

_HUMAN = re.compile(r"\b(human|mensch|person)\b", re.IGNORECASE)


class ChatbotEmulator(LoopbackServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0):
        super().__init__(host, port)
        self.handler = _Handler
        self.delay = delay
        self.requests: list[tuple[str, Any]] = []

    def set_fault(
        self,
        status: int | None = None,
        body: str | None = None,
        delay: float = 0.0,
        count: int | None = None,
        request: str | None = None,
    ) -> None:
        """Fail the next `count` requests (all, when None) that start with `request`:
        with `status` (and any body), with a 200 whose `body` is "garbage" (not JSON) or
        "error" (`{"status": "error"}`), and/or after `delay` seconds."""
        with self._lock:
            self._fault = {"status": status, "body": body, "delay": delay, "count": count, "request": request}

    def calls(self, path: str) -> list[Any]:
        with self._lock:
            return [body for seen, body in self.requests if seen == path]

    @staticmethod
    def answer(body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return 400, {"status": "error", "message": "messages are required"}
        last = body["messages"][-1]
        text = last.get("content", "") if isinstance(last, dict) else ""
        language, region = str(body.get("language", "")), str(body.get("region", ""))
        if _HUMAN.search(text):
            return 200, {
                "status": "success",
                "answer": "<p>[%s] A person from the team will answer you soon.</p>" % html.escape(language),
                "automatic_answers": False,
                "rag_sources": [],
            }
        source = "https://integreat.app/%s/%s/chat-help/" % (region, language)
        return 200, {
            "status": "success",
            "answer": '<p>[%s] Automatic answer to: %s</p>\n<ul><li><a href="%s">Help</a></li></ul>'
            % (html.escape(language), html.escape(text), source),
            "automatic_answers": True,
            "rag_sources": [source],
            "messages": body["messages"],
        }

    @staticmethod
    def translate(body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not all(
            isinstance(body.get(field), str) for field in ("message", "source_language", "target_language")
        ):
            return 422, {
                "status": "error",
                "reason": "message, source_language and target_language are required",
            }
        return 200, {
            "status": "success",
            "translation": "[%s] %s" % (body["target_language"], body["message"]),
        }


class _Handler(BaseHTTPRequestHandler):
    emulator: ChatbotEmulator
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *_args) -> None:
        pass

    def _send(self, status: int, body: Any, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if raw is None else "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        emulator = self.emulator
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length)) if length else None
        except ValueError:
            return self._send(400, {"status": "error", "message": "invalid JSON"})
        path = self.path.partition("?")[0]
        if path.startswith("/_emulator/"):
            return self._control(path, body if isinstance(body, dict) else {})
        with emulator._lock:
            emulator.requests.append((path, body))
        fault = emulator._take_fault(path)
        time.sleep(fault.get("delay") or emulator.delay)
        if fault.get("body") == "garbage":
            return self._send(fault.get("status") or 200, None, raw=b"<html>Bad Gateway</html>")
        if fault.get("status") or fault.get("body") == "error":
            return self._send(fault.get("status") or 200, {"status": "error", "message": "emulated failure"})
        if self.command == "POST" and path == "/chatanswers/extract_answer/":
            return self._send(*emulator.answer(body))
        if self.command == "POST" and path == "/chatanswers/translate_message/":
            return self._send(*emulator.translate(body))
        return self._send(404, {"status": "error", "message": "not found"})

    def _control(self, path: str, body: dict[str, Any]) -> None:
        emulator = self.emulator
        if path == "/_emulator/faults" and self.command == "PUT":
            emulator.set_fault(
                body.get("status"),
                body.get("body"),
                float(body.get("delay") or 0),
                body.get("count"),
                body.get("request"),
            )
            return self._send(200, {"fault": emulator._fault})
        if path == "/_emulator/faults" and self.command == "DELETE":
            emulator.clear_faults()
            return self._send(200, {"fault": {}})
        if path == "/_emulator/state" and self.command == "GET":
            with emulator._lock:
                return self._send(200, {"requests": [{"path": p, "body": b} for p, b in emulator.requests]})
        return self._send(404, {"status": "error", "message": "no such control"})

    do_GET = do_POST = do_PUT = do_DELETE = _handle


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.chatbot_emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8003)
    parser.add_argument("--delay", type=float, default=3.0, help="seconds before each answer")
    args = parser.parse_args()
    emulator = ChatbotEmulator(port=args.port, delay=args.delay).start()
    emulator.serve_until_interrupted("chatbot emulator on %s" % emulator.url)


if __name__ == "__main__":
    main()
