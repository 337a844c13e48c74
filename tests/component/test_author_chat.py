"""The author chat in process on moto, with an injected clock (time travel, no sleeping)."""

import json

import pytest
from moto import mock_aws

from chalicelib.api import ChatApi
from chalicelib.author_chat.store import AuthorMessageRecord
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.web.http import Request
from tests.conftest import JWT_SECRET
from tests.support.clock import Clock
from tests.support.memory import memory_services
from tests.support.offline import no_network

MESSAGES = "/api/v3/author-chat/messages"
MESSAGE = "/api/v3/author-chat/messages/{message_id}"
READ = "/api/v3/author-chat/read"
DAY = 86400


def token(sub, *roles, name=None, email=None):
    # Tokens are checked against the real time, the chat against the test's clock.
    return {
        "Authorization": "Bearer "
        + issue_hs256_token(
            JWT_SECRET, sub, roles, name=name or sub.title(), email=email or "%s@example.org" % sub
        )
    }


ALICE = token("alice", "author")
BOB = token("bob", "author")
ADMIN = token("root", "admin")


def _world(kind):
    clock = Clock()
    settings = load_settings({"AUTH_JWT_SECRET": JWT_SECRET})
    if kind == "memory":  # the rules alone: in-memory stores, no network at all
        with no_network():
            yield ChatApi(memory_services(settings, clock=clock)), clock
        return
    with mock_aws():
        api = ChatApi(aws_services(settings, clock=clock))
        create_tables(ALL_MODELS)
        yield api, clock


@pytest.fixture(params=["memory", "moto"])
def world(request):
    """Each rule twice: on the in-memory stores (fast, offline) and on DynamoDB (moto)."""
    yield from _world(request.param)


@pytest.fixture
def moto_world():
    """For tests that look into the table itself."""
    yield from _world("moto")


def call(api, method, route, headers, body=None, params=None, query=None):
    response = api.handle(
        Request(
            method,
            route,
            params or {},
            query=query or {},
            headers=headers,
            body=json.dumps(body).encode() if body is not None else b"",
        )
    )
    return response.status, response.body


def post(api, headers, text):
    status, body = call(api, "POST", MESSAGES, headers, {"text": text})
    assert status == 201, body
    return body


def history(api, headers, **query):
    status, body = call(api, "GET", MESSAGES, headers, query={k: str(v) for k, v in query.items()})
    assert status == 200, body
    return body


@pytest.mark.parametrize(
    "route, method, params",
    [
        (MESSAGES, "GET", {}),
        (MESSAGES, "POST", {}),
        (READ, "POST", {}),
        (MESSAGE, "DELETE", {"message_id": "1800000000000-abcdef01"}),
    ],
)
def test_tokens_and_roles_are_required(world, route, method, params):
    api, _ = world
    expired = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "a", ["author"], now=1_000)}
    tampered = {"Authorization": token("x", "author")["Authorization"] + "x"}
    for headers, status in [
        ({}, 401),
        ({"Authorization": "Bearer nope"}, 401),
        (expired, 401),
        (tampered, 401),
        (token("guest"), 403),
    ]:
        assert call(api, method, route, headers, {"text": "hi"}, params)[0] == status


def test_a_message_takes_its_sender_from_the_token(world):
    api, _ = world
    message = post(api, ALICE, "  Hallo zusammen  ")
    assert message["text"] == "Hallo zusammen"
    assert message["sender"] == {"id": "alice", "name": "Alice", "email": "alice@example.org"}
    assert message["sent_at"] == "2027-01-15T08:00:00.000Z"
    assert (message["unread"], message["can_delete"]) == (False, True)


@pytest.mark.parametrize(
    "body", [{"text": ""}, {"text": "   \n "}, {"text": "x" * 10_001}, {"text": 5}, {}, {"text": None}]
)
def test_text_limits(world, body):
    api, _ = world
    status, answer = call(api, "POST", MESSAGES, ALICE, body)
    assert status == 400 and set(answer) == {"error"}


@pytest.mark.parametrize("field", ["message", "content"])
def test_a_message_in_another_field_gets_a_hint(world, field):
    api, _ = world
    status, answer = call(api, "POST", MESSAGES, ALICE, {field: "Hallo"})
    assert (status, answer) == (
        400,
        {"error": 'The message goes in the field "text" (not %r): {"text": "..."}.' % field},
    )


def test_ten_thousand_characters_after_trimming_are_fine(world):
    api, _ = world
    assert len(post(api, ALICE, " " + "x" * 10_000 + " ")["text"]) == 10_000


def test_a_malformed_body_is_400(world):
    api, _ = world
    response = api.handle(Request("POST", MESSAGES, headers=ALICE, body=b"{oops"))
    assert (response.status, response.body) == (400, {"error": "Malformed JSON body."})


def test_newest_first_and_pagination_without_duplicates_or_gaps(world):
    api, clock = world
    sent = []
    for index in range(125):
        clock.now += 1
        sent.append(post(api, ALICE if index % 2 else BOB, "message %d" % index)["id"])
    seen, cursor, pages = [], None, 0
    while True:
        page = history(api, BOB, limit=50, **({"cursor": cursor} if cursor else {}))
        seen += [m["id"] for m in page["messages"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(sent))


def test_messages_sent_in_the_same_millisecond_are_all_kept(world):
    api, _ = world
    ids = [post(api, ALICE, "same time %d" % i)["id"] for i in range(5)]
    assert sorted(m["id"] for m in history(api, ALICE)["messages"]) == sorted(ids)
    assert len(set(ids)) == 5


def test_a_message_older_than_the_window_is_never_returned(moto_world):
    api, clock = moto_world
    old = post(api, ALICE, "old news")
    clock.now += 29 * DAY
    recent = post(api, ALICE, "recent")
    assert [m["id"] for m in history(api, BOB)["messages"]] == [recent["id"], old["id"]]
    clock.now += 1 * DAY + 1  # "old news" is 30 days and a second old; moto still holds it
    assert AuthorMessageRecord.get("room", old["id"]) is not None
    page = history(api, BOB)
    assert [m["id"] for m in page["messages"]] == [recent["id"]]
    assert page["history_days"] == 30 and page["unread_count"] == 1
    assert call(api, "DELETE", MESSAGE, ADMIN, params={"message_id": old["id"]})[0] == 404


def test_a_shortened_window_applies_to_messages_already_stored(moto_world):
    api, clock = moto_world
    old = post(api, ALICE, "ten days ago")
    clock.now += 10 * DAY
    new = post(api, ALICE, "today")
    shorter = ChatApi(
        aws_services(
            load_settings({"AUTH_JWT_SECRET": JWT_SECRET, "AUTHOR_CHAT_HISTORY_DAYS": "7"}), clock=clock
        )
    )
    page = history(shorter, BOB)
    assert [m["id"] for m in page["messages"]] == [new["id"]]
    assert page["history_days"] == 7
    assert AuthorMessageRecord.get("room", old["id"]).text == "ten days ago"


def test_every_message_carries_its_ttl(moto_world):
    api, clock = moto_world
    message = post(api, ALICE, "expires")
    raw = AuthorMessageRecord._get_connection().connection.client.get_item(
        TableName=AuthorMessageRecord.Meta.table_name,
        Key={"room": {"S": "room"}, "message_id": {"S": message["id"]}},
    )["Item"]
    assert int(raw["expires_at"]["N"]) == int(clock.now) + 30 * DAY


def test_delete_rules(world):
    api, _ = world
    mine = post(api, ALICE, "mine")["id"]
    other = post(api, ALICE, "also mine")["id"]
    assert call(api, "DELETE", MESSAGE, BOB, params={"message_id": mine})[0] == 403
    assert history(api, BOB)["messages"][0]["can_delete"] is False
    assert call(api, "DELETE", MESSAGE, ALICE, params={"message_id": mine}) == (
        200,
        {"success": True, "status": "The chat message was successfully deleted."},
    )
    assert call(api, "DELETE", MESSAGE, ADMIN, params={"message_id": other})[0] == 200
    assert history(api, ALICE)["messages"] == []
    for unknown in (mine, "1800000000000-00000000", "not-an-id"):
        status, body = call(api, "DELETE", MESSAGE, ADMIN, params={"message_id": unknown})
        assert (status, body) == (404, {"error": "Chat message not found."})


def test_unread_per_user(world):
    api, clock = world
    for text in ("a", "b", "c"):
        clock.now += 1
        post(api, ALICE, text)
    page = history(api, BOB)
    assert (page["unread_count"], page["last_visited_at"]) == (3, None)
    assert all(m["unread"] for m in page["messages"])
    assert history(api, ALICE)["unread_count"] == 0  # one's own messages are never unread
    clock.now += 1
    status, read = call(api, "POST", READ, BOB)
    assert status == 200
    assert read == {"last_visited_at": "2027-01-15T08:00:04.000Z", "previous_visited_at": None}
    clock.now += 1
    post(api, ALICE, "d")
    clock.now += 1  # within one millisecond the order of two messages is not defined
    post(api, BOB, "my own")
    page = history(api, BOB)
    assert page["unread_count"] == 1
    assert page["last_visited_at"] == "2027-01-15T08:00:04.000Z"
    assert [m["unread"] for m in page["messages"]] == [False, True, False, False, False]
    clock.now += 1
    assert call(api, "POST", READ, BOB)[1]["previous_visited_at"] == "2027-01-15T08:00:04.000Z"


def test_unread_count_beyond_the_page(world):
    api, clock = world
    for index in range(60):
        clock.now += 1
        post(api, ALICE, "m%d" % index)
    page = history(api, BOB, limit=10)
    assert len(page["messages"]) == 10 and page["unread_count"] == 60
    second = history(api, BOB, limit=10, cursor=page["next_cursor"])
    assert second["unread_count"] == 60


@pytest.mark.parametrize(
    "query",
    [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"cursor": "garbage!"}, {"cursor": "eyJtIjogMX0"}],
)
def test_bad_limit_or_cursor_is_400(world, query):
    api, _ = world
    status, body = call(api, "GET", MESSAGES, ALICE, query=query)
    assert status == 400 and set(body) == {"error"}


def test_purge_deletes_only_expired_messages_by_key_range(moto_world):
    api, clock = moto_world
    post(api, ALICE, "old")
    clock.now += 31 * DAY
    kept = post(api, ALICE, "new")
    assert api.services.author_chat.purge_expired() == 1
    assert [r.message_id for r in AuthorMessageRecord.query("room")] == [kept["id"]]
    assert api.services.author_chat.purge_expired() == 0
