"""An operator's first hour, scripted: what went wrong for a new user trying it, each
checked here (issue 12). `make dev`'s happy path is in test_dev.py."""

import json
import re
import socket
import subprocess
import sys
import time
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


def test_plain_chalice_local_and_manage_agree_on_the_tables(dynamodb_local, moto_server, tmp_path):
    """`chalice local` runs the stage dev (tables integreat-chat-dev-*); `manage --stage dev`
    makes those. A table that is missing is a 503, and the log says how to make it."""

    def chalice_local(endpoint: str, log: Path):
        port = free_port()
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("chalice")), "local", "--no-autoreload", "--port", str(port)],
            cwd=str(PROJECT),
            env=python_env(AWS_ENDPOINT_URL_DYNAMODB=endpoint, AUTH_JWT_SECRET=JWT_SECRET),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        return process, "http://127.0.0.1:%d" % port

    from chalicelib.platform.auth import issue_hs256_token
    from tests.servers import wait_for_http

    admin = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "op", ["admin"])}
    # On a DynamoDB without the dev tables (moto's server here): 503, and the way out.
    process, url = chalice_local(moto_server, tmp_path / "missing.log")
    try:
        wait_for_http(url, process=process)
        response = requests.get(url + "/api/v3/admin/regions", headers=admin, timeout=10)
        assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    finally:
        process.terminate()
        process.wait(timeout=20)
    [missing] = [
        json.loads(line)
        for line in (tmp_path / "missing.log").read_text().splitlines()
        if "table_missing" in line
    ]
    assert missing == {
        "event": "table_missing",
        "table": "integreat-chat-dev-regions",
        "create_with": "CHAT_TABLE_PREFIX=integreat-chat-dev- python -m functions.manage create-tables",
    }
    # `manage --stage dev create-tables` makes exactly the tables `chalice local` uses.
    made = run_python(
        "-m",
        "functions.manage",
        "--stage",
        "dev",
        "create-tables",
        env=python_env(AWS_ENDPOINT_URL_DYNAMODB=dynamodb_local),
    )
    assert made.returncode == 0, made.stderr
    assert all(re.match(r"(integreat-chat-dev-\S+: |queue )", line) for line in made.stdout.splitlines())
    process, url = chalice_local(dynamodb_local, tmp_path / "ok.log")
    try:
        wait_for_http(url, process=process)
        assert requests.get(url + "/api/v3/admin/regions", headers=admin, timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_readme_links_point_at_files_in_the_repository():
    readme = (PROJECT / "README.md").read_text()
    targets = re.findall(r"\]\(((?!https?://|#)[^)]+)\)", readme)
    assert "docs/SPEC.md" in targets
    for target in targets:
        assert (PROJECT / target).exists(), target


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
