"""An operator's first hour, scripted: what went wrong for a new user trying it, each
checked here (issue 12). `make dev`'s happy path is in test_dev.py."""

import json
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.conftest import JWT_SECRET, PROJECT, free_port, python_env, run_python


def dev(*args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "devtools.dev", *args],
        cwd=str(PROJECT),
        env=env or python_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_make_dev_with_a_port_taken_stops_at_once_naming_the_setting():
    for option, setting in (("--port", "PORT"), ("--dynamodb-port", "DYNAMODB_PORT")):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            others = ["--zammad-port", "0", "--chatbot-port", "0"]
            ports = {"--port": str(free_port()), "--dynamodb-port": "0", option: str(port)}
            started = time.monotonic()
            result = dev(*[x for pair in ports.items() for x in pair], *others, timeout=30)
        assert result.returncode == 1 and time.monotonic() - started < 20
        assert result.stderr.strip() == (
            "make dev: port %d is in use (another make dev?); choose another: make dev %s=<port>"
            % (port, setting)
        )
        assert "Ready" not in result.stdout


def test_make_dev_with_a_bad_setting_says_so_in_one_line():
    result = dev("--port", str(free_port()), env=python_env(AUTH_JWT_SECRET="too-short"))
    assert result.returncode == 1
    assert result.stderr.strip() == "configuration error: AUTH_JWT_SECRET must be at least 32 bytes long"


def test_chalice_local_with_a_bad_setting_says_so_in_one_line():
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("chalice")),
            "local",
            "--no-autoreload",
            "--port",
            str(free_port()),
        ],
        cwd=str(PROJECT),
        env=python_env(API_RATE_LIMIT_WINDOW="-1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "configuration error: API_RATE_LIMIT_WINDOW must be at least 1, got -1" in result.stderr.splitlines()
    )


def chalice_local(endpoint: str, log: Path):
    """Plain `chalice local`, as a new user starts it (stage dev, Chalice's default)."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("chalice")), "local", "--no-autoreload", "--port", str(port)],
        cwd=str(PROJECT),
        env=python_env(AWS_ENDPOINT_URL_DYNAMODB=endpoint, AUTH_JWT_SECRET=JWT_SECRET),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    return process, "http://127.0.0.1:%d" % port


@contextmanager
def plain_chalice_local(endpoint: str, log: Path):
    from tests.support.servers import wait_for_http

    process, url = chalice_local(endpoint, log)
    try:
        wait_for_http(url, process=process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_plain_chalice_local_and_plain_manage_agree_on_the_tables(dynamodb_local, moto_server, tmp_path):
    """Plain `chalice local` (stage dev) and plain `manage create-tables` both use the default
    prefix, integreat-chat-. A table that is missing is a 503, and the log says how to make it."""
    from chalicelib.platform.auth import issue_hs256_token

    admin = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "op", ["admin"])}
    # On a DynamoDB without the tables (moto's server here): 503, and the way out.
    with plain_chalice_local(moto_server, tmp_path / "missing.log") as url:
        response = requests.get(url + "/api/v3/admin/regions", headers=admin, timeout=10)
        assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    [missing] = [
        json.loads(line)
        for line in (tmp_path / "missing.log").read_text().splitlines()
        if "table_missing" in line
    ]
    assert missing.pop("trace_id") == response.headers["X-Request-Id"]  # tied to its request
    assert missing == {
        "event": "table_missing",
        "table": "integreat-chat-regions",
        "create_with": "CHAT_TABLE_PREFIX=integreat-chat- python -m functions.manage create-tables",
    }
    # Plain `manage create-tables` makes exactly the tables plain `chalice local` uses.
    made = run_python(
        "-m", "functions.manage", "create-tables", env=python_env(AWS_ENDPOINT_URL_DYNAMODB=dynamodb_local)
    )
    assert made.returncode == 0, made.stderr
    assert all(re.match(r"(integreat-chat-(?!dev-)\S+: |queue )", line) for line in made.stdout.splitlines())
    with plain_chalice_local(dynamodb_local, tmp_path / "ok.log") as url:
        assert requests.get(url + "/api/v3/admin/regions", headers=admin, timeout=10).status_code == 200


def test_plain_chalice_local_answers_unknown_paths_with_our_json_404_and_serves_the_widget_folder(
    moto_server, tmp_path
):
    with plain_chalice_local(moto_server, tmp_path / "local.log") as url:
        for path in ("/", "/nothing", "/api", "/api/v3/nowhere/at/all", "/a/b/c/d/e/f/g/h"):
            for method in ("GET", "POST"):
                response = requests.request(method, url + path, timeout=10)
                assert response.status_code == 404, (method, path, response.text)
                assert response.json() == {"error": "Not found."}, (method, path)
                assert response.headers["X-Request-Id"]
        # A real route still wins over the catch-alls at its depth.
        assert requests.get(url + "/api/v3/openapi.json", timeout=10).json()["openapi"] == "3.1.0"
        page = requests.get(url + "/api/v3/author-chat/widget/", timeout=10)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert '<script src="widget.js"' in page.text
        # Without the slash, the page's relative links would miss the folder: sent there.
        bare = requests.get(url + "/api/v3/author-chat/widget", timeout=10, allow_redirects=False)
        assert bare.status_code == 308 and bare.headers["Location"] == "widget/"
        followed = requests.get(url + "/api/v3/author-chat/widget", timeout=10)
        assert followed.url.endswith("/api/v3/author-chat/widget/") and followed.status_code == 200
        assert requests.get(followed.url + "widget.js", timeout=10).status_code == 200


def processes_running(*words: str) -> list[int]:
    """The processes whose command line has each of these words."""
    import os

    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            arguments = Path("/proc/%s/cmdline" % pid).read_bytes().decode(errors="replace").split("\0")
        except OSError:  # ended meanwhile
            continue
        if all(word in arguments for word in words):
            found.append(int(pid))
    return found


def test_make_dev_stops_with_an_error_when_the_api_server_dies():
    import os
    import signal

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.dev", "--port", str(port), "--zammad-port", "0",
         "--dynamodb-port", "0", "--chatbot-port", "0"],
        cwd=str(PROJECT),
        env=python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            if line.startswith("Ready."):
                break
        # The API server (devtools.local on that port) dies, as it would on a crash.
        [server] = processes_running("devtools.local", str(port))
        os.kill(server, signal.SIGKILL)
        rest = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    assert "make dev: the API server stopped (exit code -9); stopping everything" in rest
