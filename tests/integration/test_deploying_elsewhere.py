"""docs/deploying.md's "Running it elsewhere" block, run as written from a fresh shell, on a
machine of its own: Linux namespaces give it a network and a /run of its own, so its fixed
ports and its metrics folder are the block's alone. moto's server at 127.0.0.1:8002 is the
DynamoDB and SQS the block names; nothing else is started for it."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import PROJECT

HEADING = "## Running it elsewhere"


def the_block() -> str:
    text = (PROJECT / "docs" / "deploying.md").read_text()
    section = text[text.index(HEADING) :]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


# Run inside the namespaces, once the block is running: what an operator would try first.
CHECKS = textwrap.dedent(
    """
    import json, socket, subprocess, time, urllib.error, urllib.request
    import boto3

    def get(path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:8000" + path, timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    deadline = time.monotonic() + 90
    while True:
        try:
            status, body = get("/api/v3/health")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    print("health", status, body)
    for _ in range(6):  # spread over gunicorn's two workers
        print("poll", get("/api/v3/nowhere/de/chat/device-1/")[0])
    status, metrics = get("/metrics")
    served = [line for line in metrics.splitlines() if line.startswith("integreat_chat_requests_total")]
    print("metrics", status, served)
    with socket.create_connection(("127.0.0.1", 8004), timeout=5):
        print("websocket listening")
    workers = subprocess.run(["pgrep", "-f", "functions.worker"], capture_output=True, text=True)
    print("chatbot worker running", bool(workers.stdout.split()))
    sqs = boto3.client("sqs", endpoint_url="http://127.0.0.1:8002", region_name="eu-central-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    print("queue", sqs.get_queue_url(QueueName="integreat-chat-chatbot")["QueueUrl"].rsplit("/", 1)[-1])
    """
)

DRIVER = """
set -eu
ip link set lo up
mount -t tmpfs tmpfs /run                # a /run of its own: the block writes there
python -m moto.server -H 127.0.0.1 -p 8002 >moto.log 2>&1 &
until python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8002/moto-api/')" 2>/dev/null
do sleep 0.2; done
(cd "$PROJECT" && exec bash -e "$WORK/block.sh") >block.log 2>&1 &
python "$WORK/checks.py"
ls /run/integreat-chat-metrics | sed 's/_[0-9]*\\.db$//' | sort -u | tr '\\n' ' '
"""


def test_the_elsewhere_block_runs_as_written(tmp_path):
    if shutil.which("unshare") is None or not os.path.exists("/usr/sbin/ip"):
        pytest.fail("needs util-linux's unshare and iproute2's ip (Debian's packages)")
    (tmp_path / "block.sh").write_text(the_block())
    (tmp_path / "checks.py").write_text(CHECKS)
    venv = os.path.dirname(sys.executable)
    env = {
        "PATH": "%s:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" % venv,  # the virtualenv as activated
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PROJECT": str(PROJECT),
        "WORK": str(tmp_path),
    }
    # -k: everything the driver started dies with it (the namespace's processes are its children).
    result = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--net", "--mount", "--fork", "--pid", "--kill-child",
         "--mount-proc", "bash", "-c", DRIVER],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    log = (tmp_path / "block.log").read_text() if (tmp_path / "block.log").exists() else ""
    assert result.returncode == 0, result.stdout + result.stderr + log[-4000:]
    out = result.stdout
    assert 'health 200 {"status":"ok"}' in out, out + log[-4000:]
    assert out.count("poll 404") == 6  # an unknown region, read from the tables the block made
    assert "metrics 200 " in out and 'integreat_chat_requests_total{kind="poll"} 6.0' in out, out
    assert "websocket listening" in out and "chatbot worker running True" in out
    assert "queue integreat-chat-chatbot" in out
    # The processes wrote their figures into the folder the block made (counters, histograms).
    assert "counter" in out.splitlines()[-1] and "histogram" in out.splitlines()[-1], out
    assert "Traceback" not in log, log[-4000:]
