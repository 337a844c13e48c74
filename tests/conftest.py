"""Shared fixtures: real servers on 127.0.0.1 (DynamoDB Local, moto server, the Zammad
emulator, the API itself), each started by the tests that need it and stopped after."""

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import servers
from tests.support.servers import free_port, wait_for_http

PROJECT = Path(__file__).resolve().parent.parent

# Never reach real AWS from a test, whatever the developer's shell holds.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="eu-central-1"
)

JWT_SECRET = "test-secret-that-is-long-enough-for-hs256"


def unique_prefix() -> str:
    return "t%s-" % uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def dynamodb_local():
    """Amazon's DynamoDB Local (the real engine), in memory, on a free loopback port."""
    with servers.dynamodb_local() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def moto_server():
    """moto in server mode, as `make dev` runs it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield "http://%s:%d" % (host, port)
    finally:
        server.stop()


@pytest.fixture(params=["moto", "dynamodb-local"])
def dynamodb_endpoint(request):
    """Each storage test runs on moto and on DynamoDB Local."""
    return request.getfixturevalue("moto_server" if request.param == "moto" else "dynamodb_local")


@pytest.fixture
def zammad():
    from devtools.zammad_emulator import ZammadEmulator

    with ZammadEmulator(token="zammad-test-token") as emulator:
        yield emulator


def python_env(**overrides) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT)
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def run_python(*args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, *args],
        cwd=str(PROJECT),
        env=env or python_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


SERVERS = {  # how each server is started on a port
    "chalice": lambda port: ["-m", "devtools.local", "--host", "127.0.0.1", "--port", str(port)],
    "gunicorn": lambda port: [
        "-m",
        "gunicorn",
        "--bind",
        "127.0.0.1:%d" % port,
        "--workers",
        "2",
        "--threads",
        "4",
        "functions.wsgi:application",
    ],
}


@contextmanager
def running_api(
    dynamodb_endpoint: str, log_path: Path, server: str = "chalice", create: bool = True, **settings
):
    """The API served in its own process (Chalice's local server, or gunicorn with the WSGI
    app) on fresh tables of a unique prefix (made unless `create` is false). Yields (base
    URL, admin headers, environment)."""
    from chalicelib.platform.auth import issue_hs256_token
    from chalicelib.platform.config import load_settings
    from chalicelib.storage.connection import bind_models
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS

    env = {
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        "CHAT_TABLE_PREFIX": unique_prefix(),
        "AUTH_JWT_SECRET": JWT_SECRET,
        "SERVER_TIMING": "1",
        **{name: str(value) for name, value in settings.items()},
    }
    bind_models(ALL_MODELS, load_settings(env))
    if create:
        create_tables(ALL_MODELS)
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, *SERVERS[server](port)],
            cwd=str(PROJECT),
            env=python_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = "http://127.0.0.1:%d" % port
    admin = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "test-admin", ["admin"])}
    try:
        wait_for_http(url, process=process)
        yield url, admin, env
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert_nothing_personal(log_path.read_text())


# What no log line of the app may hold (docs/privacy.md, "Nothing personal in logs"): the
# HTTP tests' device ids are UUIDs, and a client's address, a bearer token or a secret
# would be as bad. Request ids are hex without dashes; the server's own "Serving on" line
# names the address it listens on, not a client's.
_PERSONAL = {
    "a device id (UUID)": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "an IP address": r"(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])",
    "a token": r"Bearer |eyJ[A-Za-z0-9_-]{10,}|token=",
}


def assert_nothing_personal(log: str, *also: str) -> None:
    """Every line of a server's log is free of device ids, addresses, tokens and `also`
    (texts the test sent)."""
    import re

    for number, line in enumerate(log.splitlines(), 1):
        own_address = (
            r"(Serving on|Listening at:|Management API at:) "
            r"(http|ws)://127\.0\.0\.1:\d+( \(\d+\))?$"
        )
        if re.search(own_address, line):
            continue  # the server's own address
        for what, pattern in _PERSONAL.items():
            assert not re.search(pattern, line), "log line %d holds %s: %s" % (number, what, line[:300])
        for text in also:
            assert text not in line, "log line %d holds %r" % (number, text)
