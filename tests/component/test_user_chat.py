"""User chat rules that need a clock: ChatApi in process on moto, with an injected clock,
and the Zammad emulator over HTTP (the network edge)."""

import json
import time

import pytest
from moto import mock_aws

from chalicelib.api import ChatApi
from chalicelib.platform.config import load_settings
from chalicelib.platform.safe_html import escape_user_text
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.user_chat.articles import article_message
from chalicelib.web.http import Request
from devtools.zammad_emulator import ZammadEmulator
from tests.component.worlds import chat_world
from tests.support.clock import Clock
from tests.support.regions import chat_region

CHAT = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
DAY = 86400


@pytest.fixture
def zammad():
    with ZammadEmulator(token="t") as emulator:
        yield emulator


@pytest.fixture(params=["memory", "moto"])
def world(request, zammad):
    """Each rule twice: on the in-memory stores with no network but the emulated Zammad on
    127.0.0.1, and on DynamoDB (moto)."""
    clock = Clock()
    settings = load_settings({"SERVER_TIMING": "1"})
    region = chat_region(zammad)
    with chat_world(request.param, settings, clock, region, offline=True) as api:
        yield api, clock


def send(api, text, device="device-1", language="de", headers=None):
    body = json.dumps({"message": text}).encode()
    response = api.handle(
        Request(
            "POST",
            CHAT,
            {"region": "augsburg", "language_or_device": language, "device_id": device},
            headers={"Content-Type": "application/json", **(headers or {})},
            body=body,
        )
    )
    return response.status, response.body


def poll(api, device="device-1"):
    response = api.handle(
        Request("GET", CHAT, {"region": "augsburg", "language_or_device": "de", "device_id": device})
    )
    return response.status, response.body


def test_a_chat_expires_after_the_retention_and_the_next_post_opens_a_new_ticket(world, zammad):
    api, clock = world
    send(api, "first")
    clock.now += 29 * DAY
    assert poll(api)[0] == 200
    clock.now += 2 * DAY  # 31 days after the last message
    assert poll(api) == (404, {"error": "Chat not found."})
    status, body = send(api, "after expiry")
    assert status == 200
    assert [m["content"] for m in body["messages"]] == ["after expiry"]
    assert len(zammad.tickets) == 2


def test_a_message_keeps_the_chat_alive(world):
    api, clock = world
    send(api, "first")
    clock.now += 20 * DAY
    send(api, "second")
    clock.now += 20 * DAY
    assert poll(api)[0] == 200


def test_a_failed_request_does_not_count_as_activity(world, zammad):
    api, clock = world
    send(api, "first")
    clock.now += 20 * DAY
    zammad.set_fault(status=500)
    assert send(api, "fails")[0] == 502
    zammad.clear_faults()
    clock.now += 11 * DAY
    assert poll(api)[0] == 404


def test_a_deliberate_repeat_is_sent_a_repeated_idempotency_key_is_not(world, zammad):
    api, clock = world
    send(api, "yes")
    clock.now += 4
    status, body = send(api, "yes")  # a double tap, or a copy racing the first: one message
    assert status == 200 and [m["content"] for m in body["messages"]] == ["yes"]
    clock.now += 2
    status, body = send(api, "yes")  # written again on purpose: both reach the agent
    assert status == 200 and [m["content"] for m in body["messages"]] == ["yes", "yes"]
    keyed = {"Idempotency-Key": "app-message-42"}
    assert len(send(api, "maybe", headers=keyed)[1]["messages"]) == 3
    clock.now += 3600
    status, body = send(api, "maybe", headers=keyed)  # the client's retry of the same message
    assert status == 200 and len(body["messages"]) == 3
    assert len(send(api, "maybe", headers={"Idempotency-Key": "app-message-43"})[1]["messages"]) == 4
    [ticket] = zammad.tickets.values()
    assert len(ticket["article_ids"]) == 4
    assert send(api, "x", headers={"Idempotency-Key": "not ascii é"})[0] == 400


def test_polls_ask_zammad_once_per_cache_window(world, zammad):
    api, clock = world
    send(api, "hello")
    [ticket] = zammad.tickets.values()
    zammad.add_article(ticket["id"], "reply")
    before = zammad.api_request_count()
    clock.now += 30
    assert len(poll(api)[1]["messages"]) == 1  # inside the 60 s window: stored copy
    clock.now += 31
    assert len(poll(api)[1]["messages"]) == 2
    assert len(poll(api)[1]["messages"]) == 2
    assert zammad.api_request_count() == before + 1


def test_a_chat_too_large_for_one_item_is_served_from_zammad(world, zammad):
    api, clock = world
    for index in range(12):  # 10,000 characters, 40 KB escaped: past DynamoDB's 400 KB item limit
        clock.now += 60
        status, _ = send(api, "%02d" % index + "<" * 9998)
        assert status == 200
    record = api.services.user_chats.store.get("augsburg#device-1")
    assert record.messages == [] and record.messages_stored is False
    status, body = poll(api)
    assert status == 200 and len(body["messages"]) == 12
    clock.now += 60
    status, body = send(api, "one more")
    assert [m["content"] for m in body["messages"]][-2:] == ["11" + "&lt;" * 9998, "one more"]
    assert len(body["messages"]) == 13


def test_escape_user_text():
    assert escape_user_text("a<b>\r\nc & 'd'\re") == "a&lt;b&gt;<br>c &amp; &#x27;d&#x27;<br>e"


def test_article_mapping():
    article = {
        "id": 7,
        "body": "x\ny",
        "content_type": "text/plain",
        "sender": "Agent",
        "subject": "automatically generated message",
        "internal": False,
        "created_at": "2026-11-26T10:00:00.123Z",
    }
    assert article_message(article) == {
        "id": 7,
        "content": "x<br>y",
        "role": "agent",
        "automatic_answer": True,
        "created_at": "2026-11-26T10:00:00.123Z",
    }
    assert article_message(dict(article, internal=True)) is None
    assert article_message(dict(article, sender="Customer", content_type="text/html"))["role"] == "user"


@pytest.mark.parametrize(
    "percentage, draw, expected",
    [(50, 0.49, True), (50, 0.5, False), (0, 0.0, False), (100, 0.999, True), (1, 0.0099, True)],
)
def test_is_chat_enabled_draws_against_the_percentage(zammad, percentage, draw, expected):
    from chalicelib.storage.small_tables import DynamoDraws, DynamoTicketDeletions
    from chalicelib.user_chat.service import UserChats
    from chalicelib.user_chat.store import ChatStore

    with mock_aws():
        api = ChatApi(aws_services(load_settings({})))
        create_tables(ALL_MODELS)
        region = api.services.regions.put(
            "augsburg", chat_region(zammad, chat_beta_tester_percentage=percentage)
        )

        def chats_drawing(value):
            return UserChats(
                api.settings,
                clock=time.time,
                chats=ChatStore(api.settings),
                draws=DynamoDraws(),
                ticket_deletions=DynamoTicketDeletions(),
                draw=lambda: value,
            )

        chats = chats_drawing(draw)
        assert chats.is_chat_enabled(region, "device") is expected
        # Sticky: a different draw later does not change the stored answer.
        again = chats_drawing(1 - draw)
        assert again.is_chat_enabled(region, "device") is expected


def test_a_failed_read_is_retried_a_failed_write_is_not(world, zammad):
    api, clock = world
    send(api, "hello")
    clock.now += 61
    zammad.set_fault(status=503, count=1)
    assert poll(api)[0] == 200
    by_ticket = [r for r in zammad.requests if r[1].startswith("/api/v1/ticket_articles/by_ticket/")]
    assert len(by_ticket) == 2  # the 503, then the retry that worked
    zammad.set_fault(status=500, count=1)
    assert send(api, "not sent")[0] == 502
    posts = [r for r in zammad.requests if r == ("POST", "/api/v1/ticket_articles")]
    assert len(posts) == 1  # the write that reached Zammad is not repeated
    assert send(api, "sent later")[0] == 200


def test_a_refused_connection_on_a_write_is_502_within_the_budget(world, zammad):
    api, _clock = world
    send(api, "hello")
    zammad.refuse_connections()
    started = time.monotonic()
    assert send(api, "nobody there")[0] == 502
    assert time.monotonic() - started < 10 + 1
    zammad.accept_connections()


def test_the_budget_is_shared_so_a_slow_zammad_still_answers_in_time():
    from chalicelib.user_chat.zammad import ZammadClient, ZammadConnection
    from chalicelib.web.errors import GatewayTimeout

    now = [0.0]
    client = ZammadClient(ZammadConnection("http://zammad.invalid", "t"), 10.0, clock=lambda: now[0])
    connect, read = client._timeouts()
    # Only a failed connect is retried, so a read (GET or write) gets nearly all the budget.
    assert 2 * connect + read <= 10.0 + 1e-9 and read >= 8.0  # before: 4.0, half kept for a retry
    now[0] = 6.0
    connect, read = client._timeouts()
    assert 2 * connect + read <= 4.0 + 1e-9 and read >= 3.0
    now[0] = 9.99
    with pytest.raises(GatewayTimeout):  # too little left to start another call
        client._timeouts()


def test_an_unchanged_chat_is_a_304_without_a_body(world, zammad):
    api, clock = world
    send(api, "Hallo")
    chat = {"region": "augsburg", "language_or_device": "de", "device_id": "device-1"}
    first = api.handle(Request("GET", CHAT, chat))
    etag = first.headers["ETag"]
    assert first.status == 200 and first.headers["Cache-Control"] == "no-cache"
    again = api.handle(Request("GET", CHAT, chat, headers={"if-none-match": etag}))
    assert (again.status, again.body_bytes(), again.headers["ETag"]) == (304, b"", etag)
    weak = api.handle(Request("GET", CHAT, chat, headers={"if-none-match": 'W/"other", W/' + etag}))
    assert weak.status == 304  # as browsers send it back
    zammad.add_article(1, "<p>Antwort</p>")
    clock.now += 120  # past the cache window: the new article is read
    changed = api.handle(Request("GET", CHAT, chat, headers={"if-none-match": etag}))
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert [m["content"] for m in changed.body["messages"]] == ["Hallo", "<p>Antwort</p>"]
