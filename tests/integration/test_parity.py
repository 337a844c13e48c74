"""One suite of requests, every route with success and error cases, through the Chalice app
(its test client) and through the WSGI app: the same statuses, bodies and headers.

Each side runs in a fresh world of its own (moto, a new Zammad emulator, the same clock),
so values that differ by nature (author message ids, Zammad's timestamps and port) are
normalised before comparing.
"""

import hashlib
import hmac
import io
import json
import re
import sys
from urllib.parse import urlsplit
from wsgiref.util import setup_testing_defaults

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.api import ChatApi
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import JWT_SECRET
from tests.support.clock import Clock

ADMIN = "Bearer " + issue_hs256_token(JWT_SECRET, "root", ["admin"], name="Root")
ALICE = "Bearer " + issue_hs256_token(JWT_SECRET, "alice", ["author"], name="Alice")
BOB = "Bearer " + issue_hs256_token(JWT_SECRET, "bob", ["author"], name="Bob")
HOOK_TOKEN, HOOK_SECRET = "parity-webhook-token-0123", "parity-webhook-secret-0123"
DEVICE = "3f1c7a52-1b0e-4c39-9a51-2f7d1a9e0c44"
RELEVANT_HEADERS = (
    "content-type",
    "allow",
    "retry-after",
    "access-control-allow-origin",
    "access-control-allow-methods",
)


def multipart(fields):
    boundary = "parityboundary"
    body = (
        "".join(
            '--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, k, v)
            for k, v in fields.items()
        )
        + "--%s--\r\n" % boundary
    )
    return {"Content-Type": "multipart/form-data; boundary=" + boundary}, body.encode()


def signed(body):
    return {
        "Content-Type": "application/json",
        "X-Zammad-Delivery": "delivery-1",
        "X-Hub-Signature": "sha1=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha1).hexdigest(),
    }


def suite(zammad_url):
    """(method, path, headers, body) of every case; a callable body is made when reached."""
    region = {
        "name": "Parity",
        "integreat_chat_enabled": True,
        "zammad_url": zammad_url,
        "zammad_access_token": "parity-zammad",
        "chat_beta_tester_percentage": 100,
        "zammad_webhook_token": HOOK_TOKEN,
        "zammad_webhook_secret": HOOK_SECRET,
    }
    admin, alice, bob = {"Authorization": ADMIN}, {"Authorization": ALICE}, {"Authorization": BOB}
    as_json = {"Content-Type": "application/json"}
    chat = "/api/v3/parity/de/chat/%s/" % DEVICE
    form_headers, form_body = multipart({"message": "Hallo <b>Team</b>\nzweite Zeile"})
    hook_payload = json.dumps(
        {
            "ticket": {"id": 1, "title": "[Integreat Chat] [de] %s" % DEVICE},
            "article": {
                "id": 99,
                "ticket_id": 1,
                "body": "<p>Antwort</p>",
                "content_type": "text/html",
                "sender": "Agent",
                "internal": False,
                "subject": "",
                "created_at": "2027-01-15T08:00:01.000Z",
            },
        }
    ).encode()
    return [
        # admin
        ("PUT", "/api/v3/admin/regions/parity", {**admin, **as_json}, json.dumps(region).encode()),
        ("PUT", "/api/v3/admin/regions/off", {**admin, **as_json}, b'{"integreat_chat_enabled": false}'),
        ("PUT", "/api/v3/admin/regions/bad", {**admin, **as_json}, b'{"chat_beta_tester_percentage": 500}'),
        ("PUT", "/api/v3/admin/regions/bad", {**admin, **as_json}, b"{oops"),
        ("GET", "/api/v3/admin/regions/parity", admin, b""),
        ("GET", "/api/v3/admin/regions/", admin, b""),
        ("GET", "/api/v3/admin/regions/nowhere", admin, b""),
        ("GET", "/api/v3/admin/regions", {}, b""),
        ("GET", "/api/v3/admin/regions", alice, b""),
        ("POST", "/api/v3/admin/regions", admin, b""),
        ("DELETE", "/api/v3/admin/regions/nowhere", admin, b""),
        # app: is_chat_enabled and the chat
        ("GET", "/api/v3/parity/%s/is_chat_enabled/" % DEVICE, {}, b""),
        ("GET", "/api/v3/parity/%s/is_chat_enabled" % DEVICE, {}, b""),
        ("GET", "/api/v3/nowhere/%s/is_chat_enabled/" % DEVICE, {}, b""),
        ("GET", "/api/v3/parity/bad!device/is_chat_enabled/", {}, b""),
        ("GET", chat, {}, b""),
        ("POST", chat, form_headers, form_body),
        (
            "POST",
            chat.rstrip("/"),
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"message=zweite+Nachricht&evaluation_consent=true",
        ),
        ("POST", chat, as_json, b'{"message": "dritte"}'),
        ("POST", chat, as_json, b'{"message": ""}'),
        ("POST", chat, {"Content-Type": "text/csv"}, b"message"),
        ("GET", chat, {}, b""),
        ("GET", "/api/v3/parity/DE!/chat/%s/" % DEVICE, {}, b""),
        ("GET", "/api/v3/off/de/chat/%s/" % DEVICE, {}, b""),
        ("DELETE", chat, {}, b""),
        ("OPTIONS", chat, {"Origin": "https://integreat.app", "Access-Control-Request-Method": "POST"}, b""),
        # Zammad's webhook
        ("POST", "/api/v3/webhook/zammad/?token=" + HOOK_TOKEN, signed(hook_payload), hook_payload),
        ("POST", "/api/v3/webhook/zammad/?token=" + HOOK_TOKEN, signed(hook_payload), hook_payload),
        (
            "POST",
            "/api/v3/webhook/zammad/?token=" + HOOK_TOKEN,
            {"Content-Type": "application/json"},
            hook_payload,
        ),
        (
            "POST",
            "/api/v3/webhook/zammad/?token=unknown-token-0123456789",
            signed(hook_payload),
            hook_payload,
        ),
        ("POST", "/api/v3/webhook/zammad/?token=" + HOOK_TOKEN, signed(b"{oops"), b"{oops"),
        ("GET", chat, {}, b""),
        # author chat
        ("POST", "/api/v3/author-chat/messages", {**alice, **as_json}, b'{"text": "Hallo Autoren"}'),
        ("POST", "/api/v3/author-chat/messages", {**alice, **as_json}, b'{"text": "   "}'),
        ("GET", "/api/v3/author-chat/messages?limit=10", bob, b""),
        ("GET", "/api/v3/author-chat/messages?limit=0", bob, b""),
        ("GET", "/api/v3/author-chat/messages", {}, b""),
        ("POST", "/api/v3/author-chat/read", bob, b""),
        ("DELETE", "/api/v3/author-chat/messages/{first author message}", bob, b""),
        ("DELETE", "/api/v3/author-chat/messages/{first author message}", alice, b""),
        ("DELETE", "/api/v3/author-chat/messages/{first author message}", alice, b""),
        ("DELETE", "/api/v3/admin/regions/off", admin, b""),
    ]


def chalice_side(api, world):
    import app as app_module

    app_module.api = api
    client = Client(app_module.app)

    def send(method, path, headers, body):
        response = client.http.request(method, path, headers=headers, body=body)
        return response.status_code, response.headers, response.body

    return send


def wsgi_side(api, world):
    from functions.wsgi import make_application

    application = make_application(api)

    def send(method, path, headers, body):
        parts = urlsplit(path)
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.errors": sys.stderr,
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
        setup_testing_defaults(environ)
        answer = {}

        def start_response(status, response_headers):
            answer["status"], answer["headers"] = int(status.split()[0]), dict(response_headers)

        body_out = b"".join(application(environ, start_response))
        return answer["status"], answer["headers"], body_out

    return send


def run(side):
    """The whole suite in a fresh world; returns what each request answered, normalised."""
    with mock_aws(), ZammadEmulator(token="parity-zammad") as zammad:
        # Every reading a millisecond later, so successive author messages keep their order.
        api = ChatApi(aws_services(load_settings({"AUTH_JWT_SECRET": JWT_SECRET}), clock=Clock(step=0.001)))
        create_tables(ALL_MODELS)
        send = side(api, zammad)
        answers, first_author_message = [], None
        for method, path, headers, body in suite(zammad.url):
            if "{first author message}" in path:
                path = path.replace("{first author message}", first_author_message)
            status, response_headers, raw = send(method, path, headers, body)
            data = json.loads(raw) if raw else None
            if path == "/api/v3/author-chat/messages" and status == 201 and first_author_message is None:
                first_author_message = data["id"]
            text = json.dumps(data, sort_keys=True)
            text = text.replace(zammad.url, "<zammad>")
            text = re.sub(r"\d{13}-[0-9a-f]{8}", "<message id>", text)
            text = re.sub(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "<time>", text)
            headers_seen = {
                k.lower(): v for k, v in response_headers.items() if k.lower() in RELEVANT_HEADERS
            }
            assert "x-request-id" in {k.lower() for k in response_headers}
            shown_path = re.sub(r"\d{13}-[0-9a-f]{8}", "<message id>", path.split("?")[0])
            answers.append((method, shown_path, status, headers_seen, text))
        return answers


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_chalice_and_wsgi_answer_alike():
    through_chalice = run(chalice_side)
    through_wsgi = run(wsgi_side)
    assert len(through_chalice) == len(through_wsgi) == len(suite("x"))
    for chalice_answer, wsgi_answer in zip(through_chalice, through_wsgi, strict=False):
        assert chalice_answer == wsgi_answer
    statuses = {answer[2] for answer in through_wsgi}
    assert {200, 201, 400, 401, 403, 404, 405, 503} <= statuses  # the suite covers errors too


def test_unknown_paths_through_wsgi_are_a_json_404():
    with mock_aws():
        send = wsgi_side(ChatApi(aws_services(load_settings({}))), None)
        status, headers, body = send("GET", "/nothing/here", {}, b"")
    assert (status, json.loads(body), headers["Content-Type"]) == (
        404,
        {"error": "Not found."},
        "application/json",
    )
