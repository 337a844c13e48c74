"""Beside the CMS, on one host: Debian's nginx (installed by `make nginx`), started here on
loopback with the repository's own configuration (deploy/nginx/), in front of the app
(gunicorn on DynamoDB Local) and of a stand-in CMS. The app's real request shapes must
reach the right side, and a forged X-Forwarded-For or X-Real-IP must not buy a client a
fresh rate-limit bucket."""

import http.client
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from websockets.sync.client import connect

from devtools.cms_standin import CmsStandIn
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import PROJECT, assert_nothing_personal, free_port, python_env, running_api
from tests.support.regions import put_region
from tests.support.servers import wait_for_http

NGINX_FILES = PROJECT / "deploy" / "nginx"
LIMIT = 5  # API_RATE_LIMIT_WINDOW of the app under test


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None:
        pytest.fail("nginx is not installed: run `make nginx` (make test does)")
    return found


def nginx_conf(directory: Path, listen: int, chat_port: int, cms_port: int, realtime_port: int) -> Path:
    """The repository's files as an operator installs them, with loopback upstreams."""
    for name in ("integreat-chat.locations.conf", "integreat-chat.proxy.conf"):
        shutil.copy(NGINX_FILES / name, directory / name)
    site = (NGINX_FILES / "cms-site.example.conf").read_text()
    for placeholder, value in {
        "CHAT_UPSTREAM": "127.0.0.1:%d" % chat_port,
        "LISTEN": "127.0.0.1:%d" % listen,
        "CHAT_SCHEME": "http",
        "CHAT_HOST": "chat.internal",
        "CMS_UPSTREAM": "127.0.0.1:%d" % cms_port,
        "REALTIME_UPSTREAM": "127.0.0.1:%d" % realtime_port,
        "REALTIME_SCHEME": "http",
        "REALTIME_HOST": "realtime.internal",
        "REALTIME_PATH": "/",
    }.items():
        site = site.replace(placeholder, value)
    (directory / "cms-site.conf").write_text(site)
    temp = {name: directory / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(
        """daemon off;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
%(user)s
events { worker_connections 256; }
http {
    access_log %(dir)s/access.log;
    client_body_temp_path %(body)s;
    proxy_temp_path %(proxy)s;
    fastcgi_temp_path %(fastcgi)s;
    uwsgi_temp_path %(uwsgi)s;
    scgi_temp_path %(scgi)s;
    include cms-site.conf;
}
"""
        % dict(dir=directory, user="user root;" if os.getuid() == 0 else "", **temp)
    )
    return conf


@pytest.fixture(scope="module")
def host(dynamodb_local, tmp_path_factory):
    """(nginx URL, admin headers, the backend's URL, the stand-in CMS, the WebSocket
    server's log): the app under gunicorn and `python -m functions.websocket` behind nginx,
    as on a VM or in containers (docs/deploying.md)."""
    directory = tmp_path_factory.mktemp("nginx")
    management_port = free_port()
    settings = {
        "API_RATE_LIMIT_WINDOW": LIMIT,
        "TRUSTED_IP_HEADER": "X-Forwarded-For",
        "TRUSTED_PROXY_COUNT": 1,
        "WEBSOCKET_ENDPOINT": "http://127.0.0.1:%d" % management_port,
    }
    with (
        CmsStandIn() as cms,
        running_api(dynamodb_local, directory / "app.log", server="gunicorn", **settings) as (
            url,
            admin,
            env,
        ),
        open(directory / "websocket.log", "w") as channel_log,
    ):
        realtime_port = free_port()
        channel = subprocess.Popen(
            [sys.executable, "-m", "functions.websocket", "--port", str(realtime_port),
             "--management-port", str(management_port)],
            cwd=str(PROJECT), env=python_env(**env), stdout=channel_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        listen = free_port()
        conf = nginx_conf(directory, listen, int(url.rsplit(":", 1)[1]), cms.port, realtime_port)
        nginx = subprocess.Popen(
            [nginx_binary(), "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        front = "http://127.0.0.1:%d" % listen
        try:
            wait_for_http(front, process=nginx, seconds=20)
            wait_for_http("http://127.0.0.1:%d" % realtime_port, process=channel, seconds=20)
            yield front, admin, url, cms, directory / "websocket.log"
        finally:
            nginx.terminate()
            nginx.wait(timeout=20)
            channel.terminate()
            channel.wait(timeout=30)


def served_by(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "neither"
    return (
        "cms"
        if isinstance(body, (list, dict)) and (isinstance(body, list) or "served_by" in body)
        else "chat"
    )


def test_the_app_s_requests_reach_the_right_side(host):
    front, admin, backend, _cms, _channel_log = host
    with ZammadEmulator(token="zammad-token") as zammad:
        slug = put_region(backend, admin, zammad)
        device = uuid.uuid4()
        chat = "%s/api/v3/%s/de/chat/%s/" % (front, slug, device)
        # The chat: as the app sends it (multipart), with and without the slash.
        sent = requests.post(chat, files={"message": (None, "Hallo")}, timeout=30)
        assert sent.status_code == 200 and sent.json()["messages"][0]["content"] == "Hallo"
        assert len(zammad.tickets) == 1
        assert requests.get(chat, timeout=10).json()["messages"][0]["content"] == "Hallo"
        assert requests.get(chat.rstrip("/"), timeout=10).status_code == 200
    assert (
        served_by(requests.get("%s/api/v3/%s/zh-CN/chat/%s/" % (front, slug, uuid.uuid4()), timeout=10))
        == "chat"
    )
    hook = requests.post(front + "/api/v3/webhook/zammad/?token=nope-nope-nope-nope", json={}, timeout=10)
    assert hook.status_code == 401 and served_by(hook) == "chat"
    # Its files (docs/files.md): the upload form and a file's link (503: no bucket here).
    author = requests.get(front + "/api/v3/author-chat/messages", timeout=10)
    assert author.status_code == 401 and served_by(author) == "chat"
    # Everything else is the CMS's: its regions (with is_chat_enabled), pages, the rest.
    for path in (
        "/api/v3/regions/",
        "/api/v3/%s/%s/is_chat_enabled/" % (slug, device),
        "/api/v3/%s/de/pages/" % slug,
        "/api/v3/%s/de/chat/" % slug,  # no device id: not a chat path
        "/api/v3/admin/regions",  # the admin API is not offered on the CMS's host
        "/augsburg/de/willkommen/",
    ):
        response = requests.get(front + path, timeout=10)
        assert served_by(response) == "cms", path


def raw_request(
    front: str, method: str, path: str, headers: dict, source: str, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A request from a chosen loopback address (another client, as nginx sees it)."""
    host, port = front.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def raw_get(front: str, path: str, headers: dict, source: str = "127.0.0.1") -> int:
    return raw_request(front, "GET", path, headers, source)[0]


def test_the_files_of_a_chat_reach_the_backend(host):
    """The upload form and a file's link (docs/files.md), from a client of their own (the
    rate limit here is 5 a minute): answered by the backend, not the CMS."""
    front, _admin, _backend, _cms, _channel_log = host
    chat = "/api/v3/augsburg/de/chat/%s/" % uuid.uuid4()
    host_name, port = front.removeprefix("http://").split(":")
    answers = []
    for method, path, body in (
        ("POST", chat + "attachments/", b'{"filename": "a.png", "content_type": "image/png", "size": 5}'),
        ("GET", chat + "attachments/57/3/?expires=1&signature=x", None),
    ):
        connection = http.client.HTTPConnection(
            host_name, int(port), timeout=10, source_address=("127.0.0.5", 0)
        )
        try:
            connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            answers.append((response.status, json.loads(response.read())))
        finally:
            connection.close()
    # No such region behind this nginx: the backend's own answer, not the CMS's.
    assert answers == [(404, {"error": "Region not found."})] * 2


def test_the_push_paths_reach_the_backend(host):
    """A chat's push target and the Web Push key (docs/push.md), from a client of its own:
    answered by the backend (push is off behind this nginx), not the CMS."""
    front, _admin, _backend, _cms, _channel_log = host
    chat = "/api/v3/augsburg/de/chat/%s/" % uuid.uuid4()
    answers = []
    for method, path in (
        ("POST", chat + "push/"),
        ("DELETE", chat + "push"),
        ("GET", "/api/v3/push/vapid-public-key/"),
    ):
        status, _headers, body = raw_request(
            front, method, path, {"Content-Type": "application/json"}, "127.0.0.6", b'{"fcm_token": "x"}'
        )
        answers.append((status, json.loads(body)))
    assert answers == [
        (404, {"error": "Region not found."}),
        (404, {"error": "Region not found."}),
        (503, {"error": "Web push is not enabled here."}),
    ]


def test_the_real_time_channel_is_on_the_cms_host_too(host):
    """A device subscribes at wss://<CMS host>/api/v3/realtime/ (docs/realtime.md); an agent's
    reply, brought by Zammad's webhook through nginx, arrives as an event through nginx, and
    the poll's ETag is the event's. From a client of its own (the rate limit is 5 a minute)."""
    front, admin, backend, _cms, channel_log = host
    token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    with ZammadEmulator(token="zammad-token") as zammad:
        slug = put_region(backend, admin, zammad, zammad_webhook_token=token, zammad_webhook_secret=secret)
        zammad.configure_webhook("%s/api/v3/webhook/zammad/?token=%s" % (front, token), secret)
        device = str(uuid.uuid4())
        chat = "/api/v3/%s/de/chat/%s/" % (slug, device)
        json_body = {"Content-Type": "application/json"}
        status, _headers, _body = raw_request(
            front, "POST", chat, json_body, "127.0.0.6", json.dumps({"message": "Hallo"}).encode()
        )
        assert status == 200
        subscribe = {"action": "subscribe", "region": slug, "language": "de", "device_id": device}
        realtime = front.replace("http://", "ws://") + "/api/v3/realtime/"
        # Connecting counts against the address's limit as a request does: from its own address.
        with connect(realtime, open_timeout=5, source_address=("127.0.0.7", 0)) as client:
            client.send(json.dumps(subscribe))
            assert json.loads(client.recv(timeout=5)) == {"type": "subscribed", "channel": "chat"}
            [ticket_id] = zammad.tickets
            zammad.add_article(ticket_id, "<p>Hallo vom Team</p>")  # the webhook brings it
            event = json.loads(client.recv(timeout=10))
        status, headers, body = raw_request(front, "GET", chat, {}, "127.0.0.6")
    assert status == 200 and json.loads(body)["messages"][-1]["content"] == "<p>Hallo vom Team</p>"
    assert dict(event, trace_id=None) == {"type": "chat", "etag": headers["ETag"], "trace_id": None}
    # Any other path there is not the channel; the channel's log holds nothing personal.
    assert served_by(requests.get(front + "/api/v3/realtime/other", timeout=10)) == "cms"
    assert_nothing_personal(channel_log.read_text(), device, "Hallo")


def test_a_forged_forwarded_for_or_real_ip_never_buys_a_fresh_bucket(host):
    front, _admin, _backend, _cms, _channel_log = host
    path = "/api/v3/nowhere/de/chat/%s/" % uuid.uuid4()  # rate limited before the region is looked up
    if time.time() % 60 > 50:  # the limit's window is one fixed minute: do not straddle its end
        time.sleep(60 - time.time() % 60 + 0.1)
    forged = [
        {"X-Forwarded-For": "203.0.113.%d" % n, "X-Real-IP": "198.51.100.%d" % n} for n in range(LIMIT + 1)
    ]
    # One client (127.0.0.3 as nginx sees it), a new forged value in each request.
    statuses = [raw_get(front, path, headers, source="127.0.0.3") for headers in forged]
    assert statuses == [404] * LIMIT + [429]
    # Another address, as nginx sees it, is another client with its own budget.
    assert raw_get(front, path, {"X-Forwarded-For": "203.0.113.1"}, source="127.0.0.4") == 404


def test_the_configuration_passes_nginx_s_own_check(host, tmp_path):
    conf = nginx_conf(tmp_path, free_port(), free_port(), free_port(), free_port())
    result = subprocess.run(
        [nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert json.dumps(result.stderr).count("syntax is ok") == 1
