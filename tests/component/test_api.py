"""The API through the Chalice adapter and through ChatApi itself, on moto (in process)."""

import json
import logging

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.api import ChatApi
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.web.http import Request
from tests.conftest import JWT_SECRET
from tests.support.regions import chat_region

SECRETS = {
    "zammad_access_token": "zammad-token-SECRET-1",
    "zammad_webhook_token": "webhook-token-SECRET-2",
    "zammad_webhook_secret": "webhook-secret-SECRET-3",
}


def bearer(*roles, sub="alice"):
    return {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, sub, roles)}


ADMIN = bearer("admin")


@pytest.fixture
def chalice_app(monkeypatch):
    monkeypatch.setenv("AUTH_JWT_SECRET", JWT_SECRET)
    with mock_aws():
        import app as app_module

        # app.py read its settings at import; give it this test's (secret included).
        app_module.api = ChatApi(aws_services(load_settings({"AUTH_JWT_SECRET": JWT_SECRET})))
        create_tables(ALL_MODELS)
        with Client(app_module.app) as client:
            yield client


@pytest.fixture
def api():
    with mock_aws():
        chat_api = ChatApi(
            aws_services(
                load_settings(
                    {"AUTH_JWT_SECRET": JWT_SECRET, "SERVER_TIMING": "1", "CHAT_TABLE_PREFIX": "unit-"}
                )
            )
        )
        create_tables(ALL_MODELS)
        yield chat_api


def call(api, method, route, params=None, body=b"", headers=None):
    response = api.handle(Request(method, route, params or {}, headers=headers or {}, body=body))
    return response.status, response.body, response.headers


def put_region(client, slug="augsburg", **fields):
    return client.http.put("/api/v3/admin/regions/" + slug, headers=ADMIN, body=json.dumps(fields))


def test_region_lifecycle(chalice_app):
    response = put_region(
        chalice_app,
        name="Augsburg",
        zammad_url="https://zammad.example.org/",
        integreat_chat_enabled=True,
        chat_beta_tester_percentage=50,
        **SECRETS,
    )
    assert response.status_code == 200
    region = json.loads(response.body)
    assert region["slug"] == "augsburg" and region["name"] == "Augsburg"
    assert region["zammad_url"] == "https://zammad.example.org"
    assert region["chat_configured"] is True
    assert region["zammad_access_token_set"] is True

    listed = json.loads(chalice_app.http.get("/api/v3/admin/regions", headers=ADMIN).body)
    assert [r["slug"] for r in listed["regions"]] == ["augsburg"]

    deleted = chalice_app.http.delete("/api/v3/admin/regions/augsburg", headers=ADMIN)
    assert deleted.status_code == 200
    assert chalice_app.http.get("/api/v3/admin/regions/augsburg", headers=ADMIN).status_code == 404


def test_put_keeps_fields_left_out_and_null_clears(chalice_app):
    put_region(chalice_app, zammad_url="https://z.example.org", integreat_chat_enabled=True, **SECRETS)
    region = json.loads(put_region(chalice_app, name="Renamed").body)
    assert region["name"] == "Renamed"
    assert region["zammad_access_token_set"] is True and region["chat_configured"] is True
    region = json.loads(put_region(chalice_app, zammad_access_token=None).body)
    assert region["zammad_access_token_set"] is False and region["chat_configured"] is False


def test_secrets_are_never_returned_nor_logged(chalice_app, caplog):
    caplog.set_level(logging.INFO)
    bodies = [
        put_region(chalice_app, zammad_url="https://z.example.org", **SECRETS).body,
        chalice_app.http.get("/api/v3/admin/regions/augsburg", headers=ADMIN).body,
        chalice_app.http.get("/api/v3/admin/regions", headers=ADMIN).body,
    ]
    token = ADMIN["Authorization"].split()[1]
    for secret in list(SECRETS.values()) + [token]:
        assert all(secret.encode() not in body for body in bodies)
        assert secret not in caplog.text
    assert caplog.text.count('"event": "request"') == 3


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"chat_beta_tester_percentage": 101}, "chat_beta_tester_percentage"),
        ({"chat_beta_tester_percentage": -1}, "chat_beta_tester_percentage"),
        ({"chat_beta_tester_percentage": "50"}, "chat_beta_tester_percentage"),
        ({"chat_beta_tester_percentage": True}, "chat_beta_tester_percentage"),
        ({"integreat_chat_enabled": "yes"}, "integreat_chat_enabled"),
        ({"zammad_url": "ftp://z.example.org"}, "zammad_url"),
        ({"zammad_url": 5}, "zammad_url"),
        ({"name": "x" * 201}, "name"),
        ({"zammad_webhook_token": "short"}, "zammad_webhook_token"),
        ({"zammad_webhook_token": "w" * 20}, "zammad_webhook_secret is required"),
        ({"zammad_webhook_token": "w" * 20, "zammad_webhook_secret": "short"}, "zammad_webhook_secret"),
        ({"name": "Augsburg \udfff"}, "not valid Unicode"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_region_fields_are_400(chalice_app, fields, message):
    response = put_region(chalice_app, **fields)
    assert response.status_code == 400
    assert message in json.loads(response.body)["error"]
    assert chalice_app.http.get("/api/v3/admin/regions/augsburg", headers=ADMIN).status_code == 404


def test_an_invalid_slug_is_400(chalice_app):
    response = put_region(chalice_app, slug="Not%20A%20Slug")
    assert response.status_code == 400


def test_a_webhook_token_used_by_another_region_is_409(chalice_app):
    hook = {"zammad_webhook_token": "w" * 20, "zammad_webhook_secret": "s" * 20}
    assert put_region(chalice_app, "a", **hook).status_code == 200
    assert put_region(chalice_app, "a", **hook).status_code == 200
    response = put_region(chalice_app, "b", **hook)
    assert response.status_code == 409
    assert "error" in json.loads(response.body)


@pytest.mark.parametrize(
    "headers, status",
    [
        ({}, 401),
        (bearer("author"), 403),
        ({"Authorization": "Bearer x.y.z"}, 401),
    ],
)
def test_admin_routes_need_the_admin_role(chalice_app, headers, status):
    for method, path in [
        ("get", "/api/v3/admin/regions"),
        ("get", "/api/v3/admin/regions/a"),
        ("put", "/api/v3/admin/regions/a"),
        ("delete", "/api/v3/admin/regions/a"),
    ]:
        response = getattr(chalice_app.http, method)(path, headers=headers, body=b"{}")
        assert response.status_code == status
        assert set(json.loads(response.body)) == {"error"}
    assert chalice_app.http.get("/api/v3/admin/regions", headers=ADMIN).body == b'{"regions":[]}'


def test_an_unknown_method_is_a_json_405(chalice_app):
    response = chalice_app.http.post("/api/v3/admin/regions", headers=ADMIN, body=b"{}")
    assert response.status_code == 405
    assert json.loads(response.body) == {"error": "Method not allowed."}
    assert response.headers["Allow"] == "GET"
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "Malformed JSON body."),
        (b"[1, 2]", "The JSON body must be an object."),
        (b"", "A JSON body is required."),
        (b"\xff\xfe", "Malformed JSON body."),
    ],
)
def test_a_bad_json_body_is_400(chalice_app, body, message):
    for content_type in ("application/json", "text/plain"):
        response = chalice_app.http.put(
            "/api/v3/admin/regions/augsburg", body=body, headers={**ADMIN, "Content-Type": content_type}
        )
        assert response.status_code == 400
        assert json.loads(response.body) == {"error": message}


def test_a_huge_body_is_413(api):
    status, body, _ = call(
        api,
        "PUT",
        "/api/v3/admin/regions/{slug}",
        {"slug": "a"},
        body=b" " * (1024 * 1024 + 1),
        headers=ADMIN,
    )
    assert (status, body) == (413, {"error": "Request body too large."})


def test_an_unknown_route_is_a_json_404(api):
    response = api.handle_path("GET", "/api/v3/nothing/here")
    assert (response.status, response.body) == (404, {"error": "Not found."})


def test_an_unexpected_failure_is_a_json_500_with_one_log_line(caplog):
    caplog.set_level(logging.INFO)
    with mock_aws():
        api = ChatApi(aws_services(load_settings({"AUTH_JWT_SECRET": JWT_SECRET})))
        # A regions table of another shape (a bug of ours, or someone's hand): its key is
        # not `slug`, so DynamoDB refuses the read as invalid. Nothing passing: a 500.
        boto3.client("dynamodb").create_table(
            TableName="integreat-chat-regions",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        status, body, headers = call(
            api, "GET", "/api/v3/admin/regions/{slug}", {"slug": "augsburg"}, headers=ADMIN
        )
    assert (status, body) == (500, {"error": "Internal server error."})
    errors = [json.loads(r.message) for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0]["request_id"] == headers["X-Request-Id"]
    assert errors[0]["error_type"] == "GetError"


def test_a_missing_table_is_a_503_whose_log_line_says_how_to_make_it(caplog):
    caplog.set_level(logging.INFO)
    with mock_aws():  # no tables at all
        api = ChatApi(
            aws_services(load_settings({"AUTH_JWT_SECRET": JWT_SECRET, "CHAT_TABLE_PREFIX": "stage-x-"}))
        )
        status, _body, headers = call(api, "GET", "/api/v3/admin/regions", headers=ADMIN)
    assert status == 503 and headers["Retry-After"] == "2"
    errors = [json.loads(r.message) for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        {
            "event": "table_missing",
            "table": "stage-x-regions",
            "create_with": "CHAT_TABLE_PREFIX=stage-x- python -m functions.manage create-tables",
            "trace_id": headers["X-Request-Id"],  # tied to its request (docs/operating.md)
        }
    ]


def test_every_response_has_a_request_id_and_one_log_line(api, caplog):
    caplog.set_level(logging.INFO)
    _, _, first = call(api, "GET", "/api/v3/admin/regions", headers=ADMIN)
    _, _, second = call(api, "GET", "/api/v3/admin/regions", headers={"X-Request-Id": "client-chosen-id-1"})
    _, _, third = call(api, "GET", "/api/v3/admin/regions", headers={"X-Request-Id": "bad id\n"})
    assert len(first["X-Request-Id"]) == 32
    assert second["X-Request-Id"] == "client-chosen-id-1"
    assert third["X-Request-Id"] != "bad id\n" and len(third["X-Request-Id"]) == 32
    lines = [json.loads(r.message) for r in caplog.records if r.name == "integreat_chat"]
    assert [line["status"] for line in lines] == [200, 401, 401]
    assert lines[0]["route"] == "/api/v3/admin/regions"
    assert lines[0]["method"] == "GET"
    assert lines[0]["request_id"] == first["X-Request-Id"]
    assert lines[0]["duration_ms"] >= 0


def test_the_log_line_names_the_route_template_not_the_path(api, caplog):
    caplog.set_level(logging.INFO)
    call(api, "GET", "/api/v3/admin/regions/{slug}", {"slug": "device-like-1234"}, headers=ADMIN)
    assert "device-like-1234" not in caplog.text
    assert "/api/v3/admin/regions/{slug}" in caplog.text


def test_server_timing_counts_dynamodb_calls(api):
    _, _, headers = call(api, "GET", "/api/v3/admin/regions", headers=ADMIN)
    timing = headers["Server-Timing"]
    assert timing.startswith('ddb;desc="1 call";dur=')
    assert 'zammad;desc="0 calls";dur=0.0' in timing
    _, _, headers = call(
        api,
        "PUT",
        "/api/v3/admin/regions/{slug}",
        {"slug": "a"},
        body=b'{"zammad_webhook_token": "wwwwwwwwwwwwwwwwwwww", '
        b'"zammad_webhook_secret": "ssssssssssssssssssss"}',
        headers=ADMIN,
    )
    # get, index query, put, and this month's chatbot words
    assert headers["Server-Timing"].startswith('ddb;desc="4 calls"')


def test_no_server_timing_unless_asked(chalice_app):
    response = chalice_app.http.get("/api/v3/admin/regions", headers=ADMIN)
    assert "Server-Timing" not in response.headers


def test_the_lambda_queue_consumer_answers_a_queued_job(chalice_app, monkeypatch):
    """app.py's on_sqs_message function, invoked with the event Lambda's SQS mapping sends."""
    import app as app_module
    from chalicelib.chatbot.queue import SqsJobQueue
    from devtools.chatbot_emulator import ChatbotEmulator
    from devtools.zammad_emulator import ZammadEmulator

    with ZammadEmulator(token="t") as zammad, ChatbotEmulator() as bot:
        settings = load_settings({"AUTH_JWT_SECRET": JWT_SECRET, "INTEGREAT_CHAT_BACKEND_URL": bot.url})
        queue = SqsJobQueue(settings)
        queue.create()
        monkeypatch.setattr(app_module, "api", ChatApi(aws_services(settings, queue=queue)))
        app_module.api.services.regions.put("augsburg", chat_region(zammad, chatbot_enabled=True))
        chat = "/api/v3/augsburg/de/chat/device-1/"
        sent = chalice_app.http.post(
            chat, body=json.dumps({"message": "Hallo"}), headers={"Content-Type": "application/json"}
        )
        assert json.loads(sent.body)["chatbot_typing"] is True
        [delivery] = queue.receive(wait_seconds=0)
        event = chalice_app.events.generate_sqs_event(
            message_bodies=[delivery.body], queue_name=settings.chatbot_queue_name
        )
        assert chalice_app.lambda_.invoke("chatbot_worker", event).payload == {"batchItemFailures": []}
        answered = json.loads(chalice_app.http.get(chat).body)
        assert answered["chatbot_typing"] is False
        assert [m["automatic_answer"] for m in answered["messages"]] == [False, True]

        # A job that fails (Zammad cannot be reached) is named in the answer, so only it comes
        # again; the rest of the batch (here an S3 test notification) is done.
        second = "/api/v3/augsburg/de/chat/device-2/"
        chalice_app.http.post(
            second, body=json.dumps({"message": "Hallo"}), headers={"Content-Type": "application/json"}
        )
        [delivery] = queue.receive(wait_seconds=0)
        s3_test = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})
        event = chalice_app.events.generate_sqs_event(
            message_bodies=[s3_test, delivery.body], queue_name=settings.chatbot_queue_name
        )
        zammad.refuse_connections()
        answer = chalice_app.lambda_.invoke("chatbot_worker", event).payload
        assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}


def test_a_forged_forwarded_for_never_yields_a_fresh_bucket_in_a_lambda_event(chalice_app, monkeypatch):
    """API Gateway appends the address it saw to the client's X-Forwarded-For."""
    import app as app_module

    settings = load_settings({"TRUSTED_IP_HEADER": "X-Forwarded-For", "API_RATE_LIMIT_WINDOW": "3"})
    monkeypatch.setattr(app_module, "api", ChatApi(aws_services(settings)))
    path = "/api/v3/nowhere/device-1/is_chat_enabled/"

    def status(forwarded):
        return chalice_app.http.get(path, headers={"X-Forwarded-For": forwarded}).status_code

    assert [status("10.9.9.%d, 198.51.100.7" % n) for n in range(3)] == [404] * 3
    assert status("10.9.9.77, 198.51.100.7") == 429  # same client, new forged value
    assert status("10.9.9.1, 198.51.100.8") == 404  # another client


@pytest.mark.parametrize(
    "header, proxies, value, client",
    [
        ("X-Forwarded-For", 1, "6.6.6.6, 203.0.113.5", "203.0.113.5"),
        ("X-Forwarded-For", 2, "6.6.6.6, 203.0.113.5, 10.0.0.2", "203.0.113.5"),  # nginx, then the gateway
        ("X-Forwarded-For", 2, "203.0.113.5", "short X-Forwarded-For"),  # bypassed a proxy: one shared bucket
        ("X-Forwarded-For", 1, None, "short X-Forwarded-For"),
        ("X-Real-IP", 1, "203.0.113.5", "203.0.113.5"),  # the header nginx sets itself
    ],
)
def test_the_client_is_counted_from_the_right(header, proxies, value, client):
    from chalicelib.rate_limit import RateLimiter

    settings = load_settings({"TRUSTED_IP_HEADER": header, "TRUSTED_PROXY_COUNT": str(proxies)})
    headers = {header: value} if value is not None else {}
    limiter = RateLimiter(settings, clock=lambda: 0.0, counters=object())  # type: ignore[arg-type]
    assert limiter.client_ip(Request("GET", "/", {}, headers=headers, source_ip="10.0.0.9")) == client
