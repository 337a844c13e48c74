"""The WSGI app under a production WSGI server (gunicorn), on DynamoDB Local."""

import subprocess
import sys
import uuid

import pytest
import requests

from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import PROJECT, python_env, running_api
from tests.support.regions import put_region


@pytest.fixture(scope="module")
def gunicorn(dynamodb_local, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with running_api(dynamodb_local, log_path, server="gunicorn") as (url, admin, _env):
        yield url, admin


def test_gunicorn_serves_the_api(gunicorn):
    gunicorn, admin = gunicorn
    with ZammadEmulator(token="g") as zammad:
        slug = put_region(gunicorn, admin, zammad, "g" + uuid.uuid4().hex[:8])
        chat = "%s/api/v3/%s/de/chat/%s/" % (gunicorn, slug, uuid.uuid4())
        sent = requests.post(chat, files={"message": (None, "Hallo über gunicorn")}, timeout=30)
        assert sent.status_code == 200, sent.text
        assert sent.json()["messages"][0]["content"] == "Hallo über gunicorn"
        assert requests.get(chat, timeout=10).json() == sent.json()
    assert len(sent.headers["X-Request-Id"]) == 32
    missing = requests.get(gunicorn + "/no/such/path", timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"error": "Not found."})
    wrong = requests.patch(gunicorn + "/api/v3/admin/regions", headers=admin, timeout=10)
    assert (wrong.status_code, wrong.headers["Allow"]) == (405, "GET")


def test_a_bad_configuration_stops_the_worker(dynamodb_local):
    result = subprocess.run(
        [sys.executable, "-c", "import functions.wsgi"],
        cwd=str(PROJECT),
        capture_output=True,
        text=True,
        env=python_env(AWS_ENDPOINT_URL_DYNAMODB=dynamodb_local, ZAMMAD_TIMEOUT_SECONDS="soon"),
        timeout=60,
    )
    assert result.returncode != 0 and "ZAMMAD_TIMEOUT_SECONDS" in result.stderr
