"""The WSGI app under a production WSGI server (gunicorn), on DynamoDB Local."""
import subprocess
import sys
import uuid

import pytest
import requests

from chalicelib.config import load_settings
from chalicelib.storage.connection import bind_models
from chalicelib.storage.models import ALL_MODELS
from chalicelib.storage.tables import create_tables
from functions.zammad_emulator import ZammadEmulator
from tests.conftest import JWT_SECRET, PROJECT, free_port, python_env, unique_prefix, wait_for_http
from tests.unit.test_api import bearer


@pytest.fixture(scope="module")
def gunicorn(dynamodb_local, tmp_path_factory):
    env = {"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local, "CHAT_TABLE_PREFIX": unique_prefix(),
           "AUTH_JWT_SECRET": JWT_SECRET}
    bind_models(ALL_MODELS, load_settings(env))
    create_tables(ALL_MODELS)
    port = free_port()
    log = open(tmp_path_factory.mktemp("gunicorn") / "gunicorn.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:%d" % port, "--workers", "2",
         "--threads", "4", "functions.wsgi:application"],
        cwd=str(PROJECT), env=python_env(**env), stdout=log, stderr=subprocess.STDOUT)
    url = "http://127.0.0.1:%d" % port
    try:
        wait_for_http(url, process=process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_gunicorn_serves_the_api(gunicorn):
    admin = bearer("admin")
    with ZammadEmulator(token="g") as zammad:
        slug = "g" + uuid.uuid4().hex[:8]
        put = requests.put("%s/api/v3/admin/regions/%s" % (gunicorn, slug), headers=admin, timeout=10,
                           json={"integreat_chat_enabled": True, "zammad_url": zammad.url,
                                 "zammad_access_token": "g"})
        assert put.status_code == 200
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
        [sys.executable, "-c", "import functions.wsgi"], cwd=str(PROJECT), capture_output=True, text=True,
        env=python_env(AWS_ENDPOINT_URL_DYNAMODB=dynamodb_local, ZAMMAD_TIMEOUT_SECONDS="soon"), timeout=60)
    assert result.returncode != 0 and "ZAMMAD_TIMEOUT_SECONDS" in result.stderr
