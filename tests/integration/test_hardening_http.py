"""Issue 9 against the running app (Chalice's local server and gunicorn) on DynamoDB Local,
Zammad emulated over HTTP: poisoned text, duplicates in flight, contention, DynamoDB and
Zammad going away."""

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from chalicelib.api import ChatApi
from chalicelib.author_chat.store import AuthorMessageRecord
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.platform.times import utc_datetime
from chalicelib.services import aws_services
from chalicelib.storage.connection import bind_models
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.web.http import Request
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import JWT_SECRET, running_api
from tests.support import servers
from tests.support.emf import EmfCapture
from tests.support.regions import put_region
from tests.support.signing import hub_signature

AUTHOR = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "alice", ["author"])}
BUSY = {"error": "This chat is busy. Please try again."}


@pytest.fixture(scope="module", params=["chalice", "gunicorn"])
def app(request, dynamodb_local, tmp_path_factory):
    log_path = tmp_path_factory.mktemp(request.param) / "server.log"
    with running_api(
        dynamodb_local, log_path, server=request.param, API_RATE_LIMIT_WINDOW=100000, ZAMMAD_TIMEOUT_SECONDS=3
    ) as (url, admin, env):
        # This process writes to the same tables (as data from before the fix would be there).
        bind_models(ALL_MODELS, load_settings(env))
        yield type("App", (), {"url": url, "admin": admin, "log": log_path})


@pytest.fixture(scope="module")
def zammad():
    with ZammadEmulator(token="zammad-token") as emulator:
        yield emulator


def make_region(app, zammad, **fields):
    slug = "h" + uuid.uuid4().hex[:12]
    token, secret = uuid.uuid4().hex + "-hook", uuid.uuid4().hex + "-secret"
    put_region(
        app.url, app.admin, zammad, slug, zammad_webhook_token=token, zammad_webhook_secret=secret, **fields
    )
    return type(
        "Region",
        (),
        {
            "slug": slug,
            "token": token,
            "secret": secret,
            "chat": "%s/api/v3/%s/de/chat/%s/" % (app.url, slug, uuid.uuid4()),
        },
    )


def post(url, text):
    return requests.post(url, files={"message": (None, text)}, timeout=30)


def test_poisoned_text_is_refused_and_old_poison_is_served(app):
    response = requests.post(
        app.url + "/api/v3/author-chat/messages",
        headers=AUTHOR,
        timeout=10,
        data=b'{"text": "half an emoji \\ud83d"}',
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "The body holds text that is not valid Unicode."},
    )
    # As it was stored before input was checked (DynamoDB Local keeps what it is given).
    now = time.time()
    AuthorMessageRecord(
        "room",
        "%013d-%s" % (int(now * 1000), uuid.uuid4().hex[:8]),
        text="x\udfff",
        sender_id="eve",
        sender_name="Eve",
        sent_at=utc_datetime(now),
        expires_at=utc_datetime(now + 86400),
    ).save()
    history = requests.get(app.url + "/api/v3/author-chat/messages", headers=AUTHOR, timeout=10)
    assert history.status_code == 200
    assert history.json()["messages"][0]["text"] == "x\udfff"  # a JSON escape, valid JSON
    request_id = history.headers["X-Request-Id"]
    [line] = [
        json.loads(line[line.index("{") :])
        for line in app.log.read_text().splitlines()
        if request_id in line and '"event": "request"' in line
    ]
    assert line["status"] == 200


def test_identical_messages_in_flight_are_sent_once(app, zammad):
    region = make_region(app, zammad)
    assert post(region.chat, "Hallo").status_code == 200
    zammad.set_fault(latency=0.5, count=1, request="POST /api/v1/ticket_articles")
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: post(region.chat, "Is anyone there?"), range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    [ticket] = [t for t in zammad.tickets.values() if t["region_slug"] == region.slug]
    bodies = [zammad.articles[i]["body"] for i in ticket["article_ids"]]
    assert bodies == ["Hallo", "Is anyone there?"]
    assert all(
        [m["content"] for m in r.json()["messages"]] == ["Hallo", "Is anyone there?"] for r in responses
    )


def test_deliveries_racing_for_one_chat_lose_nothing(app, zammad):
    region = make_region(app, zammad)
    assert post(region.chat, "Hallo").status_code == 200
    [ticket] = [t for t in zammad.tickets.values() if t["region_slug"] == region.slug]
    hook = "%s/api/v3/webhook/zammad/?token=%s" % (app.url, region.token)
    bodies = [
        json.dumps(
            {"ticket": ticket, "article": zammad.add_article(ticket["id"], "<p>%d</p>" % index)}
        ).encode()
        for index in range(19)
    ]

    def deliver(body):
        return requests.post(
            hook,
            data=body,
            timeout=30,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature": hub_signature(region.secret, body),
            },
        )

    pending = bodies
    for _round in range(10):  # as Zammad retries a delivery that was not answered 2xx
        with ThreadPoolExecutor(max_workers=19) as pool:
            answers = list(pool.map(deliver, pending))
        for answer in answers:
            assert answer.status_code in (200, 503), answer.text
            if answer.status_code == 503:
                assert answer.json() == BUSY and answer.headers["Retry-After"] == "1"
        pending = [body for body, answer in zip(pending, answers, strict=False) if answer.status_code != 200]
        if not pending:
            break
    assert pending == []
    contents = [m["content"] for m in requests.get(region.chat, timeout=10).json()["messages"]]
    assert contents == ["Hallo"] + ["<p>%d</p>" % index for index in range(19)]


def test_zammad_down_for_one_region_leaves_the_others_alone(app, zammad):
    with ZammadEmulator(token="down-token") as down:
        broken = make_region(app, down)
        working = make_region(app, zammad)
        assert post(broken.chat, "before").status_code == 200
        down.refuse_connections()
        assert post(broken.chat, "lost?").status_code == 502
        assert post(working.chat, "fine").status_code == 200
        assert (
            requests.get(app.url + "/api/v3/author-chat/messages", headers=AUTHOR, timeout=10).status_code
            == 200
        )
        down.accept_connections()
        assert post(broken.chat, "back").status_code == 200


def test_dynamodb_unreachable_is_a_503_and_recovers_by_itself(tmp_path):
    port = servers.free_port()
    endpoint = "http://127.0.0.1:%d" % port
    with running_api(endpoint, tmp_path / "server.log", server="gunicorn", create=False) as (url, admin, env):
        chat = "%s/api/v3/somewhere/de/chat/%s/" % (url, uuid.uuid4())
        for response in (
            requests.get(chat, timeout=30),
            post(chat, "hello?"),
            requests.get(url + "/api/v3/admin/regions", headers=admin, timeout=30),
        ):
            assert response.status_code == 503
            assert response.json() == {"error": "The service is busy or unavailable. Please try again later."}
            assert response.headers["Retry-After"] == "2"
        with servers.dynamodb_local(port=port):
            bind_models(ALL_MODELS, load_settings(env))
            create_tables(ALL_MODELS)
            assert requests.get(url + "/api/v3/admin/regions", headers=admin, timeout=30).json() == {
                "regions": []
            }
            assert requests.get(chat, timeout=30).json() == {"error": "Region not found."}


class _Throttling(BaseHTTPRequestHandler):
    """A DynamoDB endpoint that throttles every request, as DynamoDB does over its limits."""

    requests_seen = 0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).requests_seen += 1
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                "message": "Rate of requests exceeds the allowed throughput.",
            }
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


def test_dynamodb_throttling_is_a_503():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = ChatApi(
            aws_services(
                load_settings(
                    {
                        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:%d" % server.server_port,
                        "AUTH_JWT_SECRET": JWT_SECRET,
                    }
                )
            )
        )
        api.services.metrics = metrics = EmfCapture()
        response = api.handle(Request("GET", "/api/v3/author-chat/messages", headers=AUTHOR))
        assert (response.status, response.headers["Retry-After"]) == (503, "2")
        assert _Throttling.requests_seen >= 2  # botocore retried before giving up
        # Every throttled answer counts, those the retries got past too; the 503 is a server error.
        assert metrics.total("DynamoDBThrottles") == _Throttling.requests_seen
        assert metrics.total("ServerErrors", Kind="author_chat") == 1
    finally:
        server.shutdown()
        server.server_close()
