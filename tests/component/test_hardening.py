"""What an attacker's review and an unlucky user found (issue 9), in process: ChatApi on moto
with an injected clock, Zammad emulated over HTTP. Each test failed before its fix."""

import json
import threading
import time

import pytest
from moto import mock_aws

from chalicelib.api import ChatApi
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.platform.times import utc_datetime
from chalicelib.rate_limit import client_bucket
from chalicelib.services import aws_services
from chalicelib.storage.models import RegionRecord
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.user_chat.articles import article_message
from chalicelib.user_chat.opening import SETTLE_SECONDS
from chalicelib.user_chat.records import UserChatRecord
from chalicelib.web.http import Request, Response
from tests.conftest import JWT_SECRET
from tests.support.clock import Clock
from tests.support.emf import EmfCapture
from tests.support.regions import chat_region
from tests.support.signing import hub_signature
from tests.support.waiting import wait_for

CHAT = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
DEVICE = {"region": "augsburg", "language_or_device": "de", "device_id": "device-1"}
HOOK = "/api/v3/webhook/zammad"
TOKEN, SECRET = "hardening-webhook-token-0123", "hardening-webhook-secret-0123"
AUTHOR = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "alice", ["author"])}
ADMIN = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "root", ["admin"])}
BUDGET = 1.0  # ZAMMAD_TIMEOUT_SECONDS here
CREATE = "POST /api/v1/tickets"


@pytest.fixture
def world(zammad):
    clock = Clock(time.time())  # real time: Zammad's created_at is compared with the claim's
    with mock_aws():
        api = ChatApi(
            aws_services(
                load_settings(
                    {
                        "AUTH_JWT_SECRET": JWT_SECRET,
                        "SERVER_TIMING": "1",
                        "ZAMMAD_TIMEOUT_SECONDS": str(BUDGET),
                    }
                ),
                clock=clock,
            )
        )
        create_tables(ALL_MODELS)
        api.services.regions.put(
            "augsburg",
            chat_region(zammad, zammad_webhook_token=TOKEN, zammad_webhook_secret=SECRET),
        )
        yield api, clock


def send(api, text, headers=None):
    response = api.handle(
        Request(
            "POST",
            CHAT,
            DEVICE,
            body=json.dumps({"message": text}).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
    )
    return response.status, response.body


def poll(api):
    response = api.handle(Request("GET", CHAT, DEVICE))
    return response.status, response.body


def contents(body):
    return [message["content"] for message in body["messages"]]


def deliver(api, zammad, article, ticket=None, delivery=None):
    """A signed delivery, as Zammad's trigger makes it."""
    ticket = ticket or zammad.tickets[article["ticket_id"]]
    body = json.dumps({"ticket": ticket, "article": article}).encode()
    headers = {"X-Hub-Signature": hub_signature(SECRET, body)}
    if delivery:
        headers["X-Zammad-Delivery"] = delivery
    response = api.handle(Request("POST", HOOK, query={"token": TOKEN}, headers=headers, body=body))
    return response.status, response.body


# --- 1. one message must not take a chat down -----------------------------------------
def test_a_lone_surrogate_is_refused_and_the_author_chat_stays_up(world):
    api, _clock = world
    for text in ("x\udfff", "\ud83d", "ok \udc00 ok"):
        body = json.dumps({"text": text}).encode()  # "\\udfff" on the wire, as a browser sends
        response = api.handle(Request("POST", "/api/v3/author-chat/messages", headers=AUTHOR, body=body))
        assert (response.status, response.body) == (
            400,
            {"error": "The body holds text that is not valid Unicode."},
        )
    assert (
        api.handle(
            Request(
                "POST",
                "/api/v3/author-chat/messages",
                headers=AUTHOR,
                body=json.dumps({"text": "a whole emoji \U0001f600"}).encode(),
            )
        ).status
        == 201
    )
    history = api.handle(Request("GET", "/api/v3/author-chat/messages", headers=AUTHOR))
    assert history.status == 200 and json.loads(history.body_bytes())["messages"][0]["text"].endswith(
        "\U0001f600"
    )


def test_the_encoder_cannot_fail():
    assert json.loads(Response(200, {"a": "\udfff", "b": "ä"}).body_bytes()) == {"a": "\udfff", "b": "ä"}
    assert json.loads(Response(200, {"when": utc_datetime(0)}).body_bytes())["when"].startswith("1970")
    assert Response(200, {"b": "ä"}).body_bytes() == '{"b":"ä"}'.encode()  # UTF-8, not escapes


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/json", b'{"message": "x\\udfff"}'),
        ("application/x-www-form-urlencoded", b"message=x%ED%BF%BF"),
        (
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="message"\r\nContent-Type: text/plain; '
            b"charset=unicode_escape\r\n\r\nx\\udfff\r\n--b--\r\n",
        ),
        (
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="message"\r\nContent-Type: text/plain; '
            b"charset=no-such-charset\r\n\r\nhello\r\n--b--\r\n",
        ),
    ],
)
def test_poisonous_chat_messages_are_400_and_send_nothing(world, zammad, content_type, body):
    api, _clock = world
    response = api.handle(Request("POST", CHAT, DEVICE, headers={"Content-Type": content_type}, body=body))
    assert response.status == 400 and set(response.body) == {"error"}
    assert zammad.tickets == {}


def test_a_poisoned_webhook_article_is_400_and_the_chat_stays_up(world, zammad):
    api, _clock = world
    send(api, "Hallo")
    [ticket_id] = zammad.tickets
    article = zammad.add_article(ticket_id, "<p>ok</p>")
    status, _ = deliver(api, zammad, dict(article, id=article["id"] + 100, body="<p>\udfff</p>"))
    assert status == 400
    assert poll(api)[0] == 200 and send(api, "still here")[0] == 200


def test_agent_text_with_a_lone_surrogate_from_zammad_is_served(world, zammad, monkeypatch):
    api, clock = world
    send(api, "Hallo")
    [ticket_id] = zammad.tickets
    zammad.add_article(ticket_id, "<p>broken \udfff reply</p>")  # Zammad's API lets anyone do it
    clock.now += 61
    status, body = poll(api)
    assert status == 200 and contents(body)[-1] == "<p>broken \ufffd reply</p>"


# --- 2. a ticket creation that timed out is settled, never repeated -------------------
def test_a_timed_out_creation_that_zammad_completed_is_adopted_by_the_resend(world, zammad):
    api, _clock = world
    zammad.set_fault(delay=BUDGET + 0.3, count=1, request=CREATE)  # late, but it makes the ticket
    assert send(api, "first")[0] == 504
    assert UserChatRecord.get("augsburg#device-1").state == "uncertain"
    wait_for(lambda: len(zammad.tickets) == 1)
    status, body = send(api, "first")  # the app's resend
    assert status == 200 and contents(body) == ["first"]
    status, body = send(api, "second")
    assert status == 200 and contents(body) == ["first", "second"]
    assert len(zammad.tickets) == 1
    assert [r for r in zammad.requests if r[1] == "/api/v1/tickets/search"]


def test_a_creation_whose_answer_broke_off_is_settled_not_repeated(world, zammad):
    api, _clock = world
    zammad.set_fault(drop=True, count=1, request=CREATE)  # made, then the connection dropped
    status, body = send(api, "first")
    assert (status, body) == (
        502,
        {"error": "An error occurred while attempting to connect to the chat server."},
    )
    assert UserChatRecord.get("augsburg#device-1").state == "uncertain"
    status, body = send(api, "first")  # the app's resend finds the ticket instead of making one
    assert status == 200 and contents(body) == ["first"]
    assert len(zammad.tickets) == 1


def test_a_timed_out_creation_is_adopted_by_its_webhook_delivery(world, zammad):
    api, _clock = world
    zammad.set_fault(delay=BUDGET + 0.3, count=1, request=CREATE)
    assert send(api, "first")[0] == 504
    wait_for(lambda: len(zammad.tickets) == 1)
    [ticket] = zammad.tickets.values()
    first = zammad.articles[ticket["article_ids"][0]]
    status, body = deliver(api, zammad, first)
    assert status == 200, body
    reply = zammad.add_article(ticket["id"], "<p>Antwort</p>")
    assert deliver(api, zammad, reply)[1]["actions"] == ["article %d: agent message stored" % reply["id"]]
    status, body = poll(api)
    assert status == 200 and contents(body) == ["first", "<p>Antwort</p>"]
    assert send(api, "next")[0] == 200 and len(zammad.tickets) == 1


def test_a_timed_out_creation_zammad_never_made_is_ruled_out_after_the_settle_time(world, zammad):
    api, clock = world
    zammad.set_fault(status=500, delay=BUDGET + 0.3, count=1, request=CREATE)  # late, then failed
    assert send(api, "first")[0] == 504
    time.sleep(0.5)
    assert send(api, "first")[0] == 504  # cannot tell yet: Zammad may still finish it
    assert poll(api)[0] == 404
    assert zammad.tickets == {}
    clock.now += SETTLE_SECONDS
    status, body = send(api, "first")
    assert status == 200 and contents(body) == ["first"]
    assert len(zammad.tickets) == 1


def test_an_old_ticket_with_the_same_title_is_not_adopted(world, zammad):
    api, clock = world
    send(api, "long ago")
    clock.now += 31 * 86400  # the chat expired; its ticket is still in Zammad
    zammad.set_fault(status=500, delay=BUDGET + 0.3, count=1, request=CREATE)
    assert send(api, "new chat")[0] == 504
    time.sleep(0.5)
    clock.now += SETTLE_SECONDS
    status, body = send(api, "new chat")
    assert status == 200 and contents(body) == ["new chat"]
    assert len(zammad.tickets) == 2


def test_a_message_whose_send_went_unanswered_is_not_sent_twice(world, zammad):
    api, _clock = world
    send(api, "Hallo")
    zammad.set_fault(delay=BUDGET + 0.3, count=1)  # the article is made, the answer is late
    assert send(api, "are you there?")[0] == 504
    wait_for(lambda: len(zammad.articles) == 2)
    status, body = send(api, "are you there?")  # the app's resend
    assert status == 200 and contents(body) == ["Hallo", "are you there?"]
    assert len(zammad.articles) == 2
    status, body = send(api, "are you there?", headers={"Idempotency-Key": "another-one"})
    assert len(zammad.articles) == 3  # a new message: sent


# --- 3. what agents write is sanitised; a token alone writes nothing -----------------
@pytest.mark.parametrize(
    "body, expected",
    [
        ('<img src=x onerror="alert(1)">', ""),
        ('<p onclick="x()">Hi <script>alert(1)</script><b>you</b></p>', "<p>Hi <b>you</b></p>"),
        ('<a href="javascript:alert(1)">click</a>', '<a rel="noopener noreferrer nofollow">click</a>'),
        (
            '<a href="https://integreat.app/x" target="_top">ok</a>',
            '<a href="https://integreat.app/x" rel="noopener noreferrer nofollow">ok</a>',
        ),
        (
            "<ul><li><i>one</i></li></ul><br><div>two</div><style>*{}</style>",
            "<ul><li><i>one</i></li></ul><br><div>two</div>",
        ),
    ],
)
def test_article_html_is_sanitised(body, expected):
    article = {"id": 1, "body": body, "content_type": "text/html", "sender": "Agent"}
    assert article_message(article)["content"] == expected


def test_a_signed_delivery_with_a_script_is_stored_harmless(world, zammad):
    api, _clock = world
    send(api, "Hallo")
    [ticket_id] = zammad.tickets
    article = zammad.add_article(ticket_id, '<p>Hi<img src=x onerror="steal()"></p>')
    assert deliver(api, zammad, article)[0] == 200
    assert contents(poll(api)[1])[-1] == "<p>Hi</p>"


def test_a_region_with_a_token_but_no_secret_gets_no_delivery(world, zammad):
    api, _clock = world
    send(api, "Hallo")
    record = RegionRecord.get("augsburg")  # written before secrets were required
    record.zammad_webhook_secret = None
    record.save()
    api.services.region_cache.forget("augsburg")
    [ticket_id] = zammad.tickets
    article = zammad.add_article(ticket_id, "<p>forged?</p>")
    body = json.dumps({"ticket": zammad.tickets[ticket_id], "article": article}).encode()
    response = api.handle(Request("POST", HOOK, query={"token": TOKEN}, body=body))
    assert response.status == 401
    assert "forged" not in json.dumps(poll(api)[1])


# --- 5. no zombie items -----------------------------------------------------------------
def test_a_send_whose_chat_is_deleted_meanwhile_recreates_nothing(world, zammad):
    api, _clock = world
    send(api, "Hallo")
    zammad.set_fault(latency=0.4, count=1)
    answers = []
    sender = threading.Thread(target=lambda: answers.append(send(api, "while deleted")))
    sender.start()
    time.sleep(0.2)  # Zammad has the article; its answer is on its way
    UserChatRecord.get("augsburg#device-1").delete()  # the expiry job, or a concurrent forget
    sender.join()
    [(status, body)] = answers
    assert status == 200 and contents(body) == ["Hallo", "while deleted"]  # it did reach the ticket
    with pytest.raises(UserChatRecord.DoesNotExist):
        UserChatRecord.get("augsburg#device-1")


def test_a_refresh_whose_chat_is_deleted_meanwhile_recreates_nothing(world, zammad):
    api, clock = world
    send(api, "Hallo")
    clock.now += 61
    zammad.set_fault(latency=0.4, count=1)
    answers = []
    poller = threading.Thread(target=lambda: answers.append(poll(api)))
    poller.start()
    time.sleep(0.2)
    UserChatRecord.get("augsburg#device-1").delete()
    poller.join()
    assert answers[0][0] == 200
    with pytest.raises(UserChatRecord.DoesNotExist):
        UserChatRecord.get("augsburg#device-1")


# --- 6. customer articles made outside this backend ----------------------------------
def test_a_customer_article_made_in_zammad_is_shown(world, zammad):
    api, _clock = world
    send(api, "Hallo")
    [ticket_id] = zammad.tickets
    assert deliver(api, zammad, zammad.articles[zammad.tickets[ticket_id]["article_ids"][0]])[0] == 200
    by_mail = zammad.add_article(
        ticket_id, "a reply by e-mail", sender="Customer", content_type="text/plain", article_type="email"
    )
    _status, body = deliver(api, zammad, by_mail)
    assert body["actions"] == ["article %d: user message stored" % by_mail["id"]]
    _status, body = poll(api)
    assert contents(body) == ["Hallo", "a reply by e-mail"]
    assert [m["role"] for m in body["messages"]] == ["user", "user"]


# --- 7. every bad input is a 4xx with JSON -----------------------------------------------
DEEP = b'{"message": ' + b"[" * 1100 + b"]" * 1100 + b"}"
LIMIT = "limit must be a whole number from 1 to 100."
SLUG = "A region slug is 1-100 lower-case letters, digits, '-' or '_'."


@pytest.mark.parametrize(
    "method, route, params, query, headers, body, status, error",
    [
        ("POST", CHAT, DEVICE, {}, {"Content-Type": "application/json"}, DEEP, 400, "Malformed JSON body."),
        (
            "POST",
            CHAT,
            DEVICE,
            {},
            {"Content-Type": "application/json"},
            b'{"message": ' + b"[" * 40 + b"]" * 40 + b"}",
            400,
            "The body is nested too deeply.",
        ),
        ("POST", "/api/v3/author-chat/messages", {}, {}, AUTHOR, DEEP, 400, "Malformed JSON body."),
        ("GET", "/api/v3/author-chat/messages", {}, {"limit": "\u00b2"}, AUTHOR, b"", 400, LIMIT),
        ("GET", "/api/v3/author-chat/messages", {}, {"limit": "5\n"}, AUTHOR, b"", 400, LIMIT),
        (
            "GET",
            "/api/v3/author-chat/messages",
            {},
            {"cursor": "W" * 4000},
            AUTHOR,
            b"",
            400,
            "Invalid cursor.",
        ),
        ("GET", "/api/v3/admin/regions/{slug}", {"slug": "a" * 3000}, {}, ADMIN, b"", 400, SLUG),
        ("DELETE", "/api/v3/admin/regions/{slug}", {"slug": "a" * 3000}, {}, ADMIN, b"", 400, SLUG),
        (
            "POST",
            CHAT,
            dict(DEVICE, device_id="device-1\n"),
            {},
            {"Content-Type": "application/json"},
            b'{"message": "x"}',
            400,
            "Invalid device id.",
        ),
        (
            "POST",
            HOOK,
            {},
            {"token": TOKEN},
            {"X-Hub-Signature": "sha1=\u00e9\u00e9"},
            b"{}",
            401,
            "Invalid webhook token or signature.",
        ),
    ],
)
def test_bad_input_is_a_json_4xx(world, method, route, params, query, headers, body, status, error):
    api, _clock = world
    response = api.handle(Request(method, route, params, query=query, headers=headers, body=body))
    assert (response.status, json.loads(response.body_bytes())) == (status, {"error": error})
    assert set(json.loads(response.body_bytes())) == {"error"}


def test_a_deeply_nested_cursor_is_400(world):
    import base64

    api, _clock = world
    cursor = base64.urlsafe_b64encode(b"[" * 1100 + b"]" * 1100).decode()
    response = api.handle(
        Request("GET", "/api/v3/author-chat/messages", query={"cursor": cursor}, headers=AUTHOR)
    )
    assert (response.status, response.body) == (400, {"error": "Invalid cursor."})


@pytest.mark.parametrize(
    "change",
    [
        {"body": {"html": "<p>x</p>"}},
        {"content_type": 5},
        {"subject": ["x"]},
        {"created_at": 1},
        {"id": True},
        {"id": -1},
    ],
)
def test_a_signed_article_of_the_wrong_shape_is_400(world, zammad, change):
    api, _clock = world
    send(api, "Hallo")
    [ticket_id] = zammad.tickets
    article = dict(zammad.add_article(ticket_id, "<p>x</p>"), **change)
    status, body = deliver(api, zammad, article)
    assert status == 400 and body["error"].startswith("The article is malformed")


def test_webhook_contention_is_a_503_with_retry_after_and_the_retry_stores(world, zammad):
    api, _clock = world
    send(api, "Hallo")
    [ticket_id] = zammad.tickets
    client = UserChatRecord._get_connection().connection.client
    racing = threading.local()

    def another_writer_wins(params, **_kwargs):
        # At the client edge: just before each write of the chat, another writer changes it.
        if params.get("TableName") == UserChatRecord.Meta.table_name and not getattr(racing, "on", False):
            racing.on = True
            client.update_item(
                TableName=UserChatRecord.Meta.table_name,
                Key={"chat_key": {"S": "augsburg#device-1"}},
                UpdateExpression="ADD messages_version :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
            racing.on = False

    article = zammad.add_article(ticket_id, "<p>Antwort</p>")
    client.meta.events.register("provide-client-params.dynamodb.UpdateItem", another_writer_wins)
    try:
        status, body = deliver(api, zammad, article, delivery="d-busy")
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.UpdateItem", another_writer_wins)
    assert (status, body) == (503, {"error": "This chat is busy. Please try again."})
    status, body = deliver(api, zammad, article, delivery="d-busy")  # Zammad's retry
    assert status == 200 and body["actions"] == ["article %d: agent message stored" % article["id"]]
    assert contents(poll(api)[1]) == ["Hallo", "<p>Antwort</p>"]


# --- 8. rate limit --------------------------------------------------------------------------
def test_ipv6_clients_are_counted_per_64():
    assert (
        client_bucket("2001:db8:1:2:aaaa::1") == client_bucket("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert client_bucket("2001:db8:1:3::1") != client_bucket("2001:db8:1:2::1")
    assert client_bucket("::ffff:203.0.113.7") == client_bucket("203.0.113.7") == "203.0.113.7"
    assert client_bucket("missing X-Forwarded-For") == "missing X-Forwarded-For"


def test_a_limited_client_costs_no_more_dynamodb_writes(zammad):
    with mock_aws():
        api = ChatApi(
            aws_services(
                load_settings({"SERVER_TIMING": "1", "API_RATE_LIMIT_WINDOW": "3"}), clock=Clock(time.time())
            )
        )
        create_tables(ALL_MODELS)
        api.services.metrics = metrics = EmfCapture()
        path = {"region": "nowhere", "language_or_device": "device-1"}
        route = "/api/v3/{region}/{language_or_device}/is_chat_enabled"
        statuses, ddb = [], []
        for index in range(6):
            ip = "2001:db8:7:7:%x::1" % index  # a new address of the same /64 every time
            response = api.handle(Request("GET", route, path, source_ip=ip))
            statuses.append(response.status)
            ddb.append(response.headers["Server-Timing"].split('"')[1])
        assert statuses == [404, 404, 404, 429, 429, 429]
        assert ddb[-2:] == ["0 calls", "0 calls"]
        assert response.headers["Retry-After"].isdigit()
        assert metrics.total("RateLimited") == 3
        assert metrics.total("Errors", Kind="chat_enabled", Status="429") == 3


def test_refusals_are_counted_without_naming_anyone(world, zammad):
    api, _clock = world
    api.services.metrics = metrics = EmfCapture()
    body = json.dumps({"ticket": {"id": 1}, "article": {"id": 1}}).encode()
    forged = Request("POST", HOOK, query={"token": TOKEN}, headers={"X-Hub-Signature": "sha1=00"}, body=body)
    assert api.handle(forged).status == 401
    assert metrics.total("WebhookRefusals") == 1
    assert metrics.total("Errors", Kind="webhook", Status="401") == 1
    assert "augsburg" not in metrics.text.getvalue() and TOKEN not in metrics.text.getvalue()


def test_zammad_calls_are_counted_by_outcome_a_refused_token_and_a_timeout_apart(world, zammad):
    api, _clock = world
    api.services.metrics = metrics = EmfCapture()
    zammad.set_fault(status=401, count=1, request=CREATE)  # the region's token, revoked
    assert send(api, "Hallo")[0] == 502
    zammad.set_fault(delay=BUDGET + 1, count=1, request=CREATE)  # a Zammad too slow to answer
    assert send(api, "Hallo")[0] == 504
    assert metrics.total("ZammadCalls", Outcome="refused") == 1
    assert metrics.total("ZammadCalls", Outcome="timeout") == 1
    assert metrics.total("ZammadCalls", Outcome="5xx") == 0
    assert metrics.total("Errors", Kind="first_message", Status="502") == 1
