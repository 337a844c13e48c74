"""Real time over HTTP and WebSocket (docs/realtime.md): the running app (Chalice's local
server, DynamoDB Local) sends its events through botocore to the local WebSocket server's
management API, as it would to API Gateway's; a client connected over a real WebSocket
gets them, then polls once."""

import json
import secrets
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.realtime.connections import DynamoConnections, chat_channel
from chalicelib.services import aws_services
from chalicelib.user_chat.records import chat_key
from devtools.zammad_emulator import ZammadEmulator
from functions.websocket import WebSocketServer
from tests.conftest import JWT_SECRET, running_api
from tests.support.emf import emf_lines, measured
from tests.support.regions import put_region
from tests.support.servers import free_port


@pytest.fixture(scope="module")
def zammad():
    with ZammadEmulator(token="realtime-zammad-token") as emulator:
        yield emulator


@pytest.fixture(scope="module")
def world(dynamodb_local, zammad, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("realtime") / "server.log"
    management_port = free_port()
    settings = {
        "WEBSOCKET_ENDPOINT": "http://127.0.0.1:%d" % management_port,
        "API_RATE_LIMIT_WINDOW": 100000,
        "METRICS": "emf",  # the sends' figures, in the server's log
    }
    with running_api(dynamodb_local, log_path, WEBSOCKET_MESSAGES_PER_MINUTE=8, **settings) as (
        url,
        admin,
        env,
    ):
        services = aws_services(load_settings(env))  # the same tables, as the server's own process
        with WebSocketServer(services, management_port=management_port) as channel:
            token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            region = put_region(url, admin, zammad, zammad_webhook_token=token, zammad_webhook_secret=secret)
            zammad.configure_webhook("%s/api/v3/webhook/zammad/?token=%s" % (url, token), secret)
            yield type(
                "World",
                (),
                {"url": url, "region": region, "channel": channel, "zammad": zammad, "log": log_path},
            )


@contextmanager
def subscribed(world, **fields):
    """A client connected and subscribed: (the connection, the server's answer)."""
    with connect(world.channel.ws_url, open_timeout=5) as client:
        client.send(json.dumps({"action": "subscribe", **fields}))
        yield client, json.loads(client.recv(timeout=5))


def test_an_agents_reply_arrives_as_an_event_and_the_next_poll_shows_it(world):
    device = str(uuid.uuid4())
    chat = "%s/api/v3/%s/de/chat/%s/" % (world.url, world.region, device)
    assert requests.post(chat, files={"message": (None, "Hallo")}, timeout=30).status_code == 200
    first = requests.get(chat, timeout=10)
    with subscribed(world, region=world.region, language="de", device_id=device) as (client, answer):
        assert answer == {"type": "subscribed", "channel": "chat"}
        [ticket_id] = [i for i, t in world.zammad.tickets.items() if device in t["title"]]
        started = time.monotonic()
        world.zammad.add_article(ticket_id, "<p>Hallo vom Team</p>")  # the webhook brings it
        event = json.loads(client.recv(timeout=10))
        latency = time.monotonic() - started
        assert event["type"] == "chat" and latency < 5
        assert len(event["trace_id"]) == 32  # the webhook delivery's request: the reply's trace
        poll = requests.get(chat, headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
        assert poll.status_code == 200 and "Hallo vom Team" in poll.text
        assert poll.headers["ETag"] == event["etag"]  # the event names the answer the poll gives
        assert requests.get(chat, headers={"If-None-Match": event["etag"]}, timeout=10).status_code == 304


def test_an_author_sees_another_authors_post_without_polling(world):
    alice = issue_hs256_token(JWT_SECRET, "alice", ["author"], name="Alice")
    bob = issue_hs256_token(JWT_SECRET, "bob", ["author"], name="Bob")
    with subscribed(world, token=bob) as (client, answer):
        assert answer == {"type": "subscribed", "channel": "author_chat"}
        posted = requests.post(
            world.url + "/api/v3/author-chat/messages",
            json={"text": "Hallo Bob"},
            headers={"Authorization": "Bearer " + alice},
            timeout=10,
        )
        event = json.loads(client.recv(timeout=10))
        assert event == {
            "type": "author_chat",
            "change": "posted",
            "id": posted.json()["id"],
            "trace_id": posted.headers["X-Request-Id"],  # the post's way, followed (docs/operating.md)
        }


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"region": "nowhere", "language": "de", "device_id": "device-1"}, "Chat not found."),
        (
            {"language": "de", "device_id": "device-1"},
            "Subscribe with region, language and device_id, or with an author's token.",
        ),
        ({"token": "not-a-token"}, "Authentication required."),
    ],
)
def test_a_subscription_to_nothing_or_with_a_bad_token_is_refused(world, fields, error):
    if "region" in fields:
        fields = dict(fields, region=world.region)  # a real region, a device without a chat
    with subscribed(world, **fields) as (_client, answer):
        assert answer == {"type": "error", "error": error}


def test_a_flood_of_messages_is_limited_and_a_large_frame_closes_the_connection(world):
    with connect(world.channel.ws_url, open_timeout=5) as client:
        answers = []
        for _ in range(10):  # the server under test allows 8 a minute
            client.send('{"action": "ping"}')
            answers.append(json.loads(client.recv(timeout=5)))
        assert answers[:8] == [{"type": "pong"}] * 8
        assert answers[8] == {"type": "error", "error": "Too many messages. Please try again later."}
    with connect(world.channel.ws_url, open_timeout=5, max_size=None) as client:
        client.send("x" * (128 * 1024 + 1))
        with pytest.raises(ConnectionClosed):  # 1009: message too big
            client.recv(timeout=5)


def test_a_connection_api_gateway_lost_is_forgotten_at_the_next_event(world):
    """API Gateway may drop a connection without calling $disconnect: its item stays. The
    next event's send answers 410 GoneException over HTTP and the item goes; the webhook
    still answers, and the live connection gets its event."""
    device = str(uuid.uuid4())
    chat = "%s/api/v3/%s/de/chat/%s/" % (world.url, world.region, device)
    assert requests.post(chat, files={"message": (None, "Hallo")}, timeout=30).status_code == 200
    connections = DynamoConnections()
    channel = chat_channel(chat_key(world.region, device))
    connections.add(
        "lost-connection-id", channel, datetime.now(UTC) + timedelta(hours=2), channel, 5, time.time()
    )
    with subscribed(world, region=world.region, language="de", device_id=device) as (client, answer):
        assert answer["type"] == "subscribed"
        assert len(connections.of_channel(channel)) == 2
        [ticket_id] = [i for i, t in world.zammad.tickets.items() if device in t["title"]]
        world.zammad.add_article(ticket_id, "<p>Noch da?</p>")
        assert json.loads(client.recv(timeout=10))["type"] == "chat"
        world.zammad.wait_for_webhooks()
        [live] = connections.of_channel(channel)
    assert live != "lost-connection-id"
    assert list(world.zammad.deliveries.values())[-1]["statuses"] == [200]
    documents = emf_lines(world.log.read_text())
    assert sum(measured(documents, "RealtimeSends", Outcome="gone")) >= 1
    assert sum(measured(documents, "RealtimeSends", Outcome="sent")) >= 1


def test_a_connection_is_closed_after_its_time_as_api_gateway_does(world):
    """functions/websocket.py closes a connection at its end (two hours; 1 s here) with 1001,
    and forgets it; the client reconnects."""
    device = str(uuid.uuid4())
    chat = "%s/api/v3/%s/de/chat/%s/" % (world.url, world.region, device)
    assert requests.post(chat, files={"message": (None, "Hallo")}, timeout=30).status_code == 200
    channel = chat_channel(chat_key(world.region, device))
    with WebSocketServer(world.channel.services, connection_seconds=1.0) as short:
        with connect(short.ws_url, open_timeout=5) as client:
            subscribe = {"action": "subscribe", "region": world.region, "language": "de", "device_id": device}
            client.send(json.dumps(subscribe))
            assert json.loads(client.recv(timeout=5))["type"] == "subscribed"
            assert len(DynamoConnections().of_channel(channel)) == 1
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        deadline = time.monotonic() + 10
        while DynamoConnections().of_channel(channel) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert DynamoConnections().of_channel(channel) == []


def test_a_later_message_and_the_deletion_reach_the_devices_other_connection(world):
    """A second tab of the same device: its message (an event whose ETag the next poll
    answers with), then the chat's deletion (etag null, the poll 404, the connection
    forgotten, a new subscription refused)."""
    device = str(uuid.uuid4())
    chat = "%s/api/v3/%s/de/chat/%s/" % (world.url, world.region, device)
    assert requests.post(chat, files={"message": (None, "Hallo")}, timeout=30).status_code == 200
    channel = chat_channel(chat_key(world.region, device))
    with subscribed(world, region=world.region, language="de", device_id=device) as (other_tab, answer):
        assert answer["type"] == "subscribed"
        sent = requests.post(chat, files={"message": (None, "Noch eine Frage")}, timeout=30)
        assert sent.status_code == 200
        # Zammad's webhook may bring the same article before the send has stored it: then it
        # stores it first, and that is an event too. The last event names what the poll says.
        events = [json.loads(other_tab.recv(timeout=10))]
        poll = requests.get(chat, timeout=10)
        if poll.headers["ETag"] != events[-1]["etag"]:
            events.append(json.loads(other_tab.recv(timeout=10)))
            poll = requests.get(chat, timeout=10)
        assert poll.json()["messages"][-1]["content"] == "Noch eine Frage"
        assert dict(events[-1], trace_id=None) == {
            "type": "chat",
            "etag": poll.headers["ETag"],
            "trace_id": None,
        }
        deleted = requests.delete(chat, timeout=30)
        assert deleted.status_code == 200
        last = json.loads(other_tab.recv(timeout=10))
        if last["etag"] == poll.headers["ETag"]:  # a second event of the same state, still unread
            last = json.loads(other_tab.recv(timeout=10))
        assert last == {"type": "chat", "etag": None, "trace_id": deleted.headers["X-Request-Id"]}
        assert requests.get(chat, timeout=10).status_code == 404
        assert DynamoConnections().of_channel(channel) == []
    with subscribed(world, region=world.region, language="de", device_id=device) as (_client, answer):
        assert answer == {"type": "error", "error": "Chat not found."}
