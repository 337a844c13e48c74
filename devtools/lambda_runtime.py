"""A function from the deployment zip, run as Lambda runs it: AWS's own runtime interface
client (`awslambdaric`, from PyPI) in a new Python process that sees the unpacked zip and the
runtime's own packages (no virtualenv), pulling its events from a small Lambda Runtime API of
ours on loopback (API version 2018-06-01, HTTP/1.1 with Content-Length, as the client needs).

    with LambdaFunction(zip_dir, "app.app", environment, runtime_dir) as function:
        answer = function.invoke(event)      # answer.result, or answer.error
        function.init_seconds                # process start to its first "next" request

Used by the rehearsal (tests/rehearsal/) and `make bench`. `make lambda-runtime` installs the
client into .cache/lambda-runtime/, the stand-in for Lambda's /var/runtime.
"""

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, NamedTuple

from devtools.loopback_server import LoopbackServer

API = "/2018-06-01/runtime"
ACCOUNT = "123456789012"


class Answer(NamedTuple):
    result: Any  # what the handler returned (JSON), None after an error
    error: dict[str, Any] | None  # the runtime's error document: errorType, errorMessage, ...
    seconds: float  # from handing out the event to the answer


class _Invocation:
    def __init__(self, event: Any, deadline_seconds: float):
        self.id = str(uuid.uuid4())
        self.body = json.dumps(event).encode("utf-8")
        self.deadline_ms = int((time.time() + deadline_seconds) * 1000)
        self.handed_out = 0.0
        self.done = threading.Event()
        self.answer: Answer | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the client crashed on HTTP/1.0 answers
    disable_nagle_algorithm = True
    emulator: "RuntimeApi"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path != API + "/invocation/next":
            self._reply(404, b'{"errorMessage": "unknown path"}')
            return
        invocation = self.emulator.next_invocation()
        if invocation is None:  # stopping: the function has been killed, or soon is
            self.close_connection = True
            return
        invocation.handed_out = time.monotonic()
        self._reply(
            200,
            invocation.body,
            {
                "Lambda-Runtime-Aws-Request-Id": invocation.id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": self.emulator.function_arn,
                "Lambda-Runtime-Trace-Id": "Root=1-%08x-%s;Parent=%s;Sampled=0"
                % (int(time.time()), uuid.uuid4().hex[:24], uuid.uuid4().hex[:16]),
            },
        )

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        document = json.loads(body) if body else None
        if self.path == API + "/init/error":
            self.emulator.init_error = document
            self._reply(202, b'{"status": "OK"}')
            return
        prefix = API + "/invocation/"
        invocation_id, _, outcome = self.path[len(prefix) :].partition("/")
        invocation = self.emulator.invocations.get(invocation_id)
        if not self.path.startswith(prefix) or invocation is None or outcome not in ("response", "error"):
            self._reply(404, b'{"errorMessage": "unknown invocation"}')
            return
        seconds = time.monotonic() - invocation.handed_out
        if outcome == "response":
            invocation.answer = Answer(document, None, seconds)
        else:
            invocation.answer = Answer(None, document, seconds)
        self._reply(202, b'{"status": "OK"}')
        invocation.done.set()


class RuntimeApi(LoopbackServer):
    """The Runtime API of one function instance: hands out one event at a time."""

    handler = _Handler

    def __init__(self, function_arn: str):
        super().__init__()
        self.function_arn = function_arn
        self.invocations: dict[str, _Invocation] = {}
        self.init_error: Any = None
        self.first_next_at: float | None = None
        self._queue: queue.Queue[_Invocation | None] = queue.Queue()

    def next_invocation(self) -> _Invocation | None:
        if self.first_next_at is None:
            self.first_next_at = time.monotonic()
        return self._queue.get()

    def submit(self, event: Any, deadline_seconds: float) -> _Invocation:
        invocation = _Invocation(event, deadline_seconds)
        self.invocations[invocation.id] = invocation
        self._queue.put(invocation)
        return invocation

    def stop(self) -> None:
        self._queue.put(None)  # a waiting "next" ends
        super().stop()


def lambda_environment(function_name: str, handler: str, memory_mb: int, zip_dir: Path) -> dict[str, str]:
    """The variables Lambda sets in every function's process (besides the function's own)."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + function_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/07/[$LATEST]" + uuid.uuid4().hex,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "LAMBDA_TASK_ROOT": str(zip_dir),
        "_HANDLER": handler,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only on Lambda: nothing is cached
    }


class LambdaFunction:
    """One instance of a function: its process under awslambdaric, and our Runtime API.
    `environment` is the function's own variables (as its template sets them) plus any
    the caller adds; Lambda's own are added here."""

    def __init__(
        self,
        zip_dir: Path,
        handler: str,
        environment: dict[str, str],
        runtime_dir: Path,
        function_name: str = "function",
        memory_mb: int = 512,
        timeout_seconds: float = 30.0,
        log_path: Path | None = None,
    ):
        self.zip_dir = zip_dir
        self.handler = handler
        self.timeout_seconds = timeout_seconds
        self.log_path = log_path
        arn = "arn:aws:lambda:eu-central-1:%s:function:%s" % (ACCOUNT, function_name)
        self.api = RuntimeApi(arn)
        self.environment = {
            **lambda_environment(function_name, handler, memory_mb, zip_dir),
            **environment,
            "PYTHONPATH": "%s:%s" % (zip_dir, runtime_dir),
        }
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self._log: Any = None

    def start(self) -> "LambdaFunction":
        self.api.start()
        self.environment["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:%d" % self.api.port
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 (closed in stop)
        self.started_at = time.monotonic()
        # -S: no site-packages of this machine's Python (nor of the virtualenv); the zip and
        # the runtime's folder come by PYTHONPATH, the zip first, as /var/task is on Lambda.
        self.process = subprocess.Popen(
            [sys.executable, "-S", "-m", "awslambdaric", self.handler],
            cwd=str(self.zip_dir),
            env=self.environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_until_ready(self, seconds: float = 60.0) -> None:
        """Until the function asks for its first event (its init is done), or fails its init."""
        deadline = time.monotonic() + seconds
        assert self.process is not None
        while self.api.first_next_at is None:
            if self.api.init_error is not None or self.process.poll() is not None:
                raise RuntimeError("%s failed its init: %s" % (self.handler, self.api.init_error))
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not finish its init within %d s" % (self.handler, seconds))
            time.sleep(0.005)

    @property
    def init_seconds(self) -> float:
        """Process start to its first request for an event: the init a cold start pays."""
        self.wait_until_ready()
        assert self.api.first_next_at is not None
        return self.api.first_next_at - self.started_at

    def invoke(self, event: Any) -> Answer:
        self.wait_until_ready()
        invocation = self.api.submit(event, self.timeout_seconds)
        if not invocation.done.wait(self.timeout_seconds + 5):
            raise RuntimeError("%s did not answer within its timeout" % self.handler)
        assert invocation.answer is not None
        return invocation.answer

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.api.stop()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()

    def __enter__(self) -> "LambdaFunction":
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


def runtime_dir() -> Path:
    """Where `make lambda-runtime` installed awslambdaric (LAMBDA_RUNTIME_DIR to override)."""
    project = Path(__file__).resolve().parent.parent
    folder = Path(os.environ.get("LAMBDA_RUNTIME_DIR", project / ".cache" / "lambda-runtime"))
    if not (folder / "awslambdaric").is_dir():
        raise RuntimeError("AWS's runtime interface client is not installed: run `make lambda-runtime`")
    return folder
