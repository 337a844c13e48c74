"""Starting real servers on loopback for tests and `make bench`."""

import glob
import json
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import requests

from devtools.loopback_server import LoopbackServer

PROJECT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, seconds: float = 60.0, process=None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("%s exited with %s" % (process.args, process.returncode))
        try:
            requests.get(url, timeout=1)
            return
        except (requests.ConnectionError, requests.Timeout):  # not listening, or still booting
            time.sleep(0.1)
    raise RuntimeError("%s did not answer within %d s" % (url, seconds))


def _dynamodb_local_home() -> Path:
    root = Path(os.environ.get("DYNAMODB_LOCAL_DIR", PROJECT / ".cache" / "dynamodb-local"))
    jars = glob.glob(str(root / "package" / "lib" / "dynamodb_local_*" / "DynamoDBLocal.jar"))
    if not jars:
        raise RuntimeError("DynamoDB Local is not installed: run `make dynamodb-local` (or `make test`)")
    return Path(jars[0]).parent


@contextmanager
def dynamodb_local(port: int = 0):
    """Amazon's DynamoDB Local, in memory, on a loopback port (a free one unless given);
    yields its endpoint."""
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("DynamoDB Local needs Java on PATH")
    home = _dynamodb_local_home()
    port = port or free_port()
    process = subprocess.Popen(
        [
            java,
            "-Djava.library.path=%s" % (home / "DynamoDBLocal_lib"),
            "-jar",
            str(home / "DynamoDBLocal.jar"),
            "-inMemory",
            "-sharedDb",
            "-port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=str(home),
    )
    endpoint = "http://127.0.0.1:%d" % port
    try:
        wait_for_http(endpoint, process=process)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=20)


class HostileHost(LoopbackServer):
    """A server on loopback: `answer(method, path)` gives (status, headers, body bytes), or
    sleeps; every request's method, path, Authorization header and body is kept in `seen`."""

    class handler(BaseHTTPRequestHandler):  # LoopbackServer's attribute
        protocol_version = "HTTP/1.1"
        emulator: "HostileHost"

        def _any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            self.emulator.seen.append((self.command, self.path, self.headers.get("Authorization"), body))
            status, headers, answer = self.emulator.answer(self.command, self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_PUT = _any

        def log_message(self, *_args):
            pass

    def __init__(self, answer):
        super().__init__()
        self.answer = answer
        self.seen: list = []


@contextmanager
def host(answer):
    with HostileHost(answer) as server:
        yield server.url, server.seen


def json_answer(value, status=200):
    return lambda _method, _path: (status, {"Content-Type": "application/json"}, json.dumps(value).encode())


@contextmanager
def worker(env: dict, log_path: Path):
    """`python -m functions.worker` consuming the queue `env` names, its output in `log_path`,
    stopped at the end of the block."""
    import sys

    from tests.conftest import python_env

    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "functions.worker", "--wait", "1"],
            cwd=str(PROJECT),
            env=python_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)
