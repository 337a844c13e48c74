"""The app user chat over HTTP: the running app on DynamoDB Local, Zammad emulated over HTTP.

Requests are made as the Integreat app makes them (multipart POST with `message`, GET).
"""

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import running_api
from tests.support.regions import put_region

BUDGET = 2  # ZAMMAD_TIMEOUT_SECONDS of the server under test
CACHE = 2  # MESSAGE_CACHE_SECONDS
ERROR = {"error": "An error occurred while attempting to connect to the chat server."}


@pytest.fixture(scope="module")
def zammad():
    with ZammadEmulator(token="zammad-token") as emulator:
        yield emulator


LOGS = {}


@pytest.fixture(scope="module")
def api(dynamodb_local, tmp_path_factory):
    log_path = LOGS["chat"] = tmp_path_factory.mktemp("chat") / "server.log"
    with running_api(
        dynamodb_local,
        log_path,
        ZAMMAD_TIMEOUT_SECONDS=BUDGET,
        MESSAGE_CACHE_SECONDS=CACHE,
        API_RATE_LIMIT_WINDOW=100000,
    ) as (url, admin, _env):
        yield url, admin


class Chat:
    """One device's chat in one region, spoken to as the app does."""

    def __init__(self, base, region, device=None, language="de"):
        self.base, self.region, self.language = base, region, language
        self.device = device or str(uuid.uuid4())

    @property
    def url(self):
        return "%s/api/v3/%s/%s/chat/%s/" % (self.base, self.region, self.language, self.device)

    def post(self, message, consent=None, **kwargs):
        fields = {"message": (None, message)}
        if consent is not None:
            fields["evaluation_consent"] = (None, "true" if consent else "false")
        return requests.post(self.url, files=fields, timeout=30, **kwargs)

    def get(self):
        return requests.get(self.url, timeout=30)


def make_region(api, emulator, token=None, **fields):
    url, admin = api
    fields = {"chat_beta_tester_percentage": 100, "zammad_access_token": token or emulator.token, **fields}
    return put_region(url, admin, emulator, **fields)


def calls(response):
    timing = response.headers["Server-Timing"]
    return {kind: int(n) for kind, n in re.findall(r'(\w+);desc="(\d+) calls?"', timing)}


def tickets_of(emulator, device):
    return [t for t in emulator.tickets.values() if t["title"].endswith(" " + device)]


def test_first_message_creates_one_ticket_with_the_article(api, zammad):
    chat = Chat(api[0], make_region(api, zammad))
    before = list(zammad.requests)
    response = chat.post("Hallo, ich brauche Hilfe")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"messages", "evaluation_consent", "chatbot_typing", "ticket_url"}
    [message] = body["messages"]
    assert set(message) == {"id", "content", "user_is_author", "automatic_answer", "role", "created_at"}
    assert (message["content"], message["user_is_author"], message["role"], message["automatic_answer"]) == (
        "Hallo, ich brauche Hilfe",
        True,
        "user",
        False,
    )
    assert isinstance(message["id"], int)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", message["created_at"])
    assert body["chatbot_typing"] is False and body["evaluation_consent"] is False

    [ticket] = tickets_of(zammad, chat.device)
    assert body["ticket_url"] == "%s/#ticket/zoom/%d" % (zammad.url, ticket["id"])
    assert ticket["title"] == "[Integreat Chat] [de] %s" % chat.device
    assert (ticket["region_slug"], ticket["language_slug"], ticket["customer_id"]) == (chat.region, "de", 3)
    [article] = [zammad.articles[i] for i in ticket["article_ids"]]
    assert (
        article["body"],
        article["content_type"],
        article["type"],
        article["internal"],
        article["sender"],
        article["subject"],
    ) == ("Hallo, ich brauche Hilfe", "text/html", "web", False, "Customer", "app user message")
    assert message["id"] == article["id"]
    made = [r for r in zammad.requests[len(before) :] if r[0] != "GET" or r[1] != "/api/v1/users/me"]
    assert made == [("POST", "/api/v1/tickets")]


def test_the_app_s_poll_and_later_messages(api, zammad):
    chat = Chat(api[0], make_region(api, zammad))
    assert chat.get().status_code == 404
    assert chat.get().json() == {"error": "Chat not found."}
    first = chat.post("one")
    assert calls(first)["zammad"] in (1, 2)  # + users/me, once per region and instance
    second = chat.post("two\nlines")
    assert second.status_code == 200
    assert calls(second)["zammad"] == 1
    assert [m["content"] for m in second.json()["messages"]] == ["one", "two<br>lines"]
    poll = chat.get()
    assert poll.status_code == 200
    assert poll.json() == second.json()
    assert calls(poll) == {
        "ddb": 1,
        "zammad": 0,
        "sqs": 0,
        "s3": 0,
        "ws": 0,
        "push": 0,
    }  # the chat; the rate limit writes nothing
    [ticket] = tickets_of(zammad, chat.device)
    assert len(ticket["article_ids"]) == 2


def test_agent_reply_visible_and_internal_note_hidden(api, zammad):
    chat = Chat(api[0], make_region(api, zammad))
    chat.post("Frage")
    [ticket] = tickets_of(zammad, chat.device)
    reply = zammad.add_article(ticket["id"], "<p>Antwort <b>vom</b> Team</p>")
    zammad.add_article(ticket["id"], "secret internal note", internal=True)
    zammad.add_article(
        ticket["id"], "Auto\nreply", content_type="text/plain", subject="automatically generated message"
    )
    time.sleep(CACHE + 0.2)
    poll = chat.get()
    assert calls(poll)["zammad"] == 1
    messages = poll.json()["messages"]
    assert [(m["content"], m["role"], m["user_is_author"], m["automatic_answer"]) for m in messages] == [
        ("Frage", "user", True, False),
        ("<p>Antwort <b>vom</b> Team</p>", "agent", False, False),
        ("Auto<br>reply", "agent", False, True),
    ]
    assert messages[1]["id"] == reply["id"]
    assert "secret internal note" not in poll.text
    assert calls(chat.get())["zammad"] == 0  # fresh again for CACHE seconds


def test_html_in_a_user_message_is_escaped(api, zammad):
    chat = Chat(api[0], make_region(api, zammad))
    response = chat.post('<script>alert("x")</script>\r\n& more')
    sent = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>&amp; more"
    # The app gets the same text through the sanitiser, which writes quotes plainly.
    assert response.json()["messages"][0]["content"] == sent.replace("&quot;", '"')
    [ticket] = tickets_of(zammad, chat.device)
    assert zammad.articles[ticket["article_ids"][0]]["body"] == sent


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/x-www-form-urlencoded", "message=urlencoded+text&evaluation_consent=true"),
        ("application/json", '{"message": "json text", "evaluation_consent": true}'),
    ],
)
def test_urlencoded_and_json_bodies(api, zammad, content_type, body):
    chat = Chat(api[0], make_region(api, zammad))
    response = requests.post(
        chat.url.rstrip("/"), data=body.encode(), timeout=30, headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text
    assert response.json()["evaluation_consent"] is True
    [ticket] = tickets_of(zammad, chat.device)
    assert ticket["evaluation_consent"] is True


def test_evaluation_consent_and_language_changes_update_the_ticket(api, zammad):
    region = make_region(api, zammad)
    chat = Chat(api[0], region)
    chat.post("hi")
    before = len(zammad.requests)
    response = chat.post("consent now", consent=True)
    assert response.json()["evaluation_consent"] is True
    english = Chat(api[0], region, device=chat.device, language="en")
    english.post("in English")
    [ticket] = tickets_of(zammad, chat.device)
    assert (ticket["evaluation_consent"], ticket["language_slug"]) == (True, "en")
    puts = [r for r in zammad.requests[before:] if r[0] == "PUT"]
    assert len(puts) == 2
    english.post("again in English", consent=True)  # nothing changed: no PUT
    assert len([r for r in zammad.requests[before:] if r[0] == "PUT"]) == 2
    assert len(ticket["article_ids"]) == 4


def test_the_same_device_in_two_regions_has_two_chats(api, zammad):
    device = str(uuid.uuid4())
    Chat(api[0], make_region(api, zammad), device).post("a")
    Chat(api[0], make_region(api, zammad), device).post("b")
    assert len(tickets_of(zammad, device)) == 2


def test_unknown_region_is_404_and_unconfigured_chat_503(api, zammad):
    assert Chat(api[0], "no-such-region").post("x").json() == {"error": "Region not found."}
    assert Chat(api[0], "no-such-region").get().status_code == 404
    for fields in ({"integreat_chat_enabled": False}, {"zammad_access_token": None}, {"zammad_url": None}):
        chat = Chat(api[0], make_region(api, zammad, **fields))
        for response in (chat.post("x"), chat.get()):
            assert response.status_code == 503
            assert response.json() == {"error": "No chat server is configured for your region."}


@pytest.mark.parametrize(
    "device, language",
    [
        ("bad!id", "de"),
        ("x" * 201, "de"),
        ("ok-device", "DE!"),
        ("ok-device", "deutsch-lang-too-long"),
    ],
)
def test_bad_device_id_or_language_is_400(api, zammad, device, language):
    chat = Chat(api[0], make_region(api, zammad), device=device, language=language)
    for response in (chat.post("x"), chat.get()):
        assert response.status_code == 400
        assert set(response.json()) == {"error"}


def test_zh_cn_and_uuid_devices_are_fine(api, zammad):
    chat = Chat(api[0], make_region(api, zammad), language="zh-CN")
    assert chat.post("你好").status_code == 200


@pytest.mark.parametrize(
    "headers, body",
    [
        ({"Content-Type": "multipart/form-data; boundary=xyz"}, b"--xyz\r\nbroken"),
        ({"Content-Type": "multipart/form-data"}, b"no boundary"),
        ({"Content-Type": "application/json"}, b"{not json"),
        ({"Content-Type": "application/json"}, b'{"message": 5}'),
        ({"Content-Type": "application/json"}, b'{"text": "wrong field"}'),
        ({"Content-Type": "application/json"}, b'{"message": "   "}'),
        ({"Content-Type": "application/json"}, b'{"message": "x", "evaluation_consent": "maybe"}'),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"message=%FF%FE"),
        ({"Content-Type": "text/csv"}, b"message,x"),
    ],
)
def test_a_malformed_body_is_400_and_sends_nothing(api, zammad, headers, body):
    chat = Chat(api[0], make_region(api, zammad))
    response = requests.post(chat.url, data=body, headers=headers, timeout=30)
    assert response.status_code in (400, 415)
    assert set(response.json()) == {"error"}
    assert tickets_of(zammad, chat.device) == []


def test_an_over_long_message_is_400(api, zammad):
    chat = Chat(api[0], make_region(api, zammad))
    assert chat.post("x" * 10_000).status_code == 200
    response = chat.post("y" * 10_001)
    assert response.status_code == 400
    assert "10000" in response.json()["error"]


def delete_in_zammad(zammad, ticket_id):
    """As Zammad's clean-up of old tickets does."""
    response = requests.delete(
        "%s/api/v1/tickets/%d" % (zammad.url, ticket_id),
        timeout=5,
        headers={"Authorization": "Token token=%s" % zammad.token},
    )
    assert response.status_code == 200


def test_a_deleted_ticket_expires_the_chat_and_the_next_post_starts_a_new_one(api, zammad):
    chat = Chat(api[0], make_region(api, zammad))
    chat.post("first chat")
    [old] = tickets_of(zammad, chat.device)
    delete_in_zammad(zammad, old["id"])
    time.sleep(CACHE + 0.2)
    assert chat.get().json() == {"error": "Chat not found."}
    response = chat.post("second chat")
    assert response.status_code == 200
    [new] = tickets_of(zammad, chat.device)
    assert new["id"] != old["id"]
    assert [m["content"] for m in response.json()["messages"]] == ["second chat"]


def test_a_deleted_ticket_found_on_post_starts_a_new_chat_with_that_message(api, zammad):
    chat = Chat(api[0], make_region(api, zammad))
    chat.post("first chat")
    [old] = tickets_of(zammad, chat.device)
    delete_in_zammad(zammad, old["id"])
    response = chat.post("into the void?")
    assert response.status_code == 200
    [new] = tickets_of(zammad, chat.device)
    assert [m["content"] for m in response.json()["messages"]] == ["into the void?"]
    assert response.json()["ticket_url"].endswith("/%d" % new["id"])


def test_twenty_concurrent_first_messages_make_one_ticket(api, zammad):
    chat = Chat(api[0], make_region(api, zammad))
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: chat.post("the same first message"), range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    [ticket] = tickets_of(zammad, chat.device)
    assert len(ticket["article_ids"]) == 1
    assert all(r.json()["messages"][0]["content"] == "the same first message" for r in responses)


@pytest.fixture
def faulty(api):
    with ZammadEmulator(token="faulty-token") as emulator:
        yield emulator


@pytest.mark.parametrize("fault", ["status 500", "wrong token", "timeout", "refused"])
@pytest.mark.parametrize("existing_chat", [False, True])
def test_zammad_failures_answer_502_or_504_in_time_and_write_nothing(api, faulty, fault, existing_chat):
    region = make_region(api, faulty, token="wrong" if fault == "wrong token" and not existing_chat else None)
    chat = Chat(api[0], region)
    if existing_chat:
        assert chat.post("before the fault").status_code == 200
        if fault == "wrong token":  # the region's token is revoked in Zammad
            faulty.token = "rotated"
    if fault == "status 500":
        faulty.set_fault(status=500)
    elif fault == "timeout":
        faulty.set_fault(delay=BUDGET + 1.5)
    elif fault == "refused":
        faulty.refuse_connections()
    started = time.monotonic()
    response = chat.post("lost?")
    elapsed = time.monotonic() - started
    assert response.status_code == (504 if fault == "timeout" else 502)
    assert response.json() == ERROR
    assert elapsed < BUDGET + 1
    faulty.clear_faults()
    faulty.accept_connections()
    faulty.token = "faulty-token"
    time.sleep(1.6 if fault == "timeout" else 0)  # let the slow request finish in the emulator
    poll = chat.get()
    if existing_chat:
        assert [m["content"] for m in poll.json()["messages"]] == ["before the fault"]
    else:
        assert poll.status_code == 404  # no chat without a ticket


def test_a_poll_needing_zammad_while_it_fails_is_502(api, faulty):
    chat = Chat(api[0], make_region(api, faulty))
    chat.post("hello")
    time.sleep(CACHE + 0.2)
    faulty.set_fault(status=503)
    response = chat.get()
    assert (response.status_code, response.json()) == (502, ERROR)
    faulty.clear_faults()
    assert chat.get().status_code == 200


def test_is_chat_enabled_is_drawn_once_and_sticky(api, zammad):
    url = api[0]
    always = make_region(api, zammad, chat_beta_tester_percentage=100)
    never = make_region(api, zammad, chat_beta_tester_percentage=0)
    device = str(uuid.uuid4())
    for slug, expected in ((always, True), (never, False)):
        for path in ("/api/v3/%s/%s/is_chat_enabled/", "/api/v3/%s/%s/is_chat_enabled"):
            response = requests.get(url + path % (slug, device), timeout=10)
            assert response.status_code == 200
            assert response.json() == {"is_chat_enabled": expected}
    # Sticky: the percentage changing afterwards does not change a device's answer.
    requests.put(
        "%s/api/v3/admin/regions/%s" % (url, never),
        headers=api[1],
        timeout=10,
        json={"chat_beta_tester_percentage": 100},
    )
    assert requests.get(url + "/api/v3/%s/%s/is_chat_enabled/" % (never, device), timeout=10).json() == {
        "is_chat_enabled": False
    }
    other = str(uuid.uuid4())
    assert requests.get(url + "/api/v3/%s/%s/is_chat_enabled/" % (never, other), timeout=10).json() == {
        "is_chat_enabled": True
    }


def test_is_chat_enabled_errors(api, zammad):
    url = api[0]
    response = requests.get(url + "/api/v3/no-such-region/%s/is_chat_enabled/" % uuid.uuid4(), timeout=10)
    assert (response.status_code, response.json()) == (404, {"error": "Region not found."})
    disabled = make_region(api, zammad, integreat_chat_enabled=False)
    response = requests.get(url + "/api/v3/%s/%s/is_chat_enabled/" % (disabled, uuid.uuid4()), timeout=10)
    assert response.json() == {"is_chat_enabled": False}
    response = requests.get(url + "/api/v3/%s/bad%%21id/is_chat_enabled/" % disabled, timeout=10)
    assert response.status_code == 400


@pytest.fixture(scope="module")
def limited_api(dynamodb_local, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("limited") / "server.log"
    with running_api(
        dynamodb_local, log_path, API_RATE_LIMIT_WINDOW=5, TRUSTED_IP_HEADER="X-Forwarded-For"
    ) as (url, admin, _env):
        yield url, admin


def test_rate_limit_per_client_ip_with_retry_after(limited_api, zammad):
    url, _admin = limited_api
    path = url + "/api/v3/%s/%s/is_chat_enabled/" % (make_region(limited_api, zammad), uuid.uuid4())

    if time.time() % 60 > 55:  # a fixed one-minute window: do not straddle its end
        time.sleep(60 - time.time() % 60 + 0.1)

    def ask(ip=None, forged="192.0.2.1"):
        # What the client wrote, then what our one proxy appended: the address it saw.
        headers = {"X-Forwarded-For": "%s, %s" % (forged, ip)} if ip else {}
        return requests.get(path, headers=headers, timeout=10)

    assert [ask("203.0.113.7", forged="192.0.2.%d" % n).status_code for n in range(5)] == [200] * 5
    limited = ask("203.0.113.7", forged="192.0.2.99")  # a new forged value is no new bucket
    assert limited.status_code == 429
    assert limited.json() == {"error": "Too many requests. Please try again later."}
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Another client (the value the proxy appended) has its own budget.
    assert ask("198.51.100.9").status_code == 200
    # Leaving the header out is no way around the limit: all such requests share one.
    assert [ask().status_code for _ in range(6)][-1] == 429
    # Only the app endpoints are limited.
    assert (
        requests.get(
            url + "/api/v3/admin/regions",
            headers=limited_api[1],
            timeout=10,
        ).status_code
        == 200
    )


def test_the_app_endpoints_allow_browsers_of_any_origin(api, zammad):
    chat = Chat(api[0], make_region(api, zammad))
    preflight = requests.options(
        chat.url,
        timeout=10,
        headers={"Origin": "https://integreat.app", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "DELETE, GET, POST"  # delete on request
    assert chat.post("from a browser").headers["Access-Control-Allow-Origin"] == "*"
    admin = requests.get(api[0] + "/api/v3/admin/regions", headers=api[1], timeout=10)
    assert "Access-Control-Allow-Origin" not in admin.headers


def test_logs_hold_no_device_id_and_no_zammad_token(api, zammad):
    chat = Chat(api[0], make_region(api, zammad, token=zammad.token), device="device-TRACE-4711")
    chat.post("Hallo")
    chat.get()
    Chat(api[0], "no-such-region", device=chat.device).get()
    requests.get("%s/api/v3/%s/%s/is_chat_enabled/" % (api[0], chat.region, chat.device), timeout=10)
    text = LOGS["chat"].read_text()
    assert '"route": "/api/v3/{region}/{language_or_device}/chat/{device_id}"' in text
    assert "TRACE-4711" not in text
    assert zammad.token not in text
