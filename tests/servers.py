"""Starting real servers on loopback for tests and `make bench`."""

import glob
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import requests

PROJECT = Path(__file__).resolve().parent.parent


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
