"""Zammad's webhook over HTTP: the emulator posts real, signed deliveries to the running app."""

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid

import pytest
import requests

from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import running_api
from tests.support.regions import put_region

CACHE = 1  # MESSAGE_CACHE_SECONDS of the server under test


@pytest.fixture(scope="module")
def api(dynamodb_local, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("webhook") / "server.log"
    with running_api(dynamodb_local, log_path, MESSAGE_CACHE_SECONDS=CACHE, API_RATE_LIMIT_WINDOW=100000) as (
        url,
        admin,
        _env,
    ):
        yield url, admin


@pytest.fixture
def region(api):
    """A region of its own, whose emulated Zammad delivers webhooks to the app."""
    url, admin = api
    with ZammadEmulator(token="zammad-token") as zammad:
        slug = "w" + uuid.uuid4().hex[:12]
        token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        put_region(url, admin, zammad, slug, zammad_webhook_token=token, zammad_webhook_secret=secret)
        hook = "%s/api/v3/webhook/zammad/?token=%s" % (url, token)
        zammad.configure_webhook(hook, secret)
        chat_url = "%s/api/v3/%s/de/chat/%s/" % (url, slug, uuid.uuid4())
        yield type(
            "Region",
            (),
            {
                "slug": slug,
                "zammad": zammad,
                "hook": hook,
                "secret": secret,
                "token": token,
                "chat_url": chat_url,
                "admin_url": "%s/api/v3/admin/regions/%s" % (url, slug),
                "admin": admin,
            },
        )


def post(region, text):
    response = requests.post(region.chat_url, files={"message": (None, text)}, timeout=30)
    assert response.status_code == 200, response.text
    region.zammad.wait_for_webhooks()
    return response.json()


def poll(region):
    response = requests.get(region.chat_url, timeout=30)
    timing = dict(re.findall(r'(\w+);desc="(\d+) calls?"', response.headers["Server-Timing"]))
    return response, int(timing["zammad"])


def only_ticket(region):
    [ticket] = region.zammad.tickets.values()
    return ticket


def last_delivery(region):
    return list(region.zammad.deliveries.values())[-1]


def test_an_agent_reply_by_webhook_is_in_the_next_poll_without_asking_zammad(region):
    post(region, "Hallo")
    assert [d["statuses"] for d in region.zammad.deliveries.values()] == [[200]]  # the user's own
    time.sleep(CACHE + 0.2)  # past MESSAGE_CACHE_SECONDS: only the webhook can make this fresh
    poll(region)
    reply = region.zammad.add_article(only_ticket(region)["id"], "<p>Antwort</p>")
    region.zammad.wait_for_webhooks()
    assert last_delivery(region)["statuses"] == [200]
    time.sleep(CACHE + 0.2)
    response, zammad_calls = poll(region)
    assert zammad_calls == 0
    assert [(m["id"], m["content"], m["role"]) for m in response.json()["messages"]][-1] == (
        reply["id"],
        "<p>Antwort</p>",
        "agent",
    )


def test_internal_notes_are_never_visible(region):
    post(region, "Hallo")
    region.zammad.add_article(only_ticket(region)["id"], "internal: do not show", internal=True)
    region.zammad.wait_for_webhooks()
    assert last_delivery(region)["statuses"] == [200]
    time.sleep(CACHE + 0.2)
    response, _ = poll(region)
    assert "do not show" not in response.text


def deliver(region, body, headers=None, url=None):
    return requests.post(
        url or region.hook,
        data=body,
        timeout=10,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def signed(region, body):
    return {
        "X-Hub-Signature": "sha1=" + hmac.new(region.secret.encode(), body, hashlib.sha1).hexdigest(),
        "X-Zammad-Delivery": uuid.uuid4().hex,
        "X-Zammad-Trigger": "Integreat Chat",
    }


def agent_payload(region, body="<p>forged?</p>"):
    ticket = only_ticket(region)
    article = {
        "id": 9999,
        "ticket_id": ticket["id"],
        "body": body,
        "content_type": "text/html",
        "sender": "Agent",
        "internal": False,
        "subject": "",
        "created_at": "2026-11-26T10:00:00.000Z",
    }
    return json.dumps({"ticket": ticket, "article": article}).encode()


@pytest.mark.parametrize("case", ["unsigned", "wrong signature", "wrong secret", "unknown token", "no token"])
def test_bad_deliveries_are_401_and_store_nothing(region, case):
    post(region, "Hallo")
    body = agent_payload(region)
    headers = signed(region, body)
    url = None
    if case == "unsigned":
        headers.pop("X-Hub-Signature")
    elif case == "wrong signature":
        headers["X-Hub-Signature"] = "sha1=" + "0" * 40
    elif case == "wrong secret":
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(b"other", body, hashlib.sha1).hexdigest()
    elif case == "unknown token":
        url = region.hook.replace(region.token, secrets.token_urlsafe(24))
    else:
        url = region.hook.split("?")[0]
    response = deliver(region, body, headers, url)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid webhook token or signature."}
    time.sleep(CACHE + 0.2)
    assert "forged?" not in poll(region)[0].text
    # To the region's own URL, a refusal is its Zammad signing with another secret: recorded
    # for `manage doctor`; to an unknown URL it names no region and writes nothing.
    shown = requests.get(region.admin_url, headers=region.admin, timeout=10).json()
    refused_at = shown["zammad_webhook_last_refused_at"]
    assert (refused_at is not None) == (case not in ("unknown token", "no token")), shown


def test_a_signed_delivery_is_answered_with_region_and_actions(region):
    post(region, "Hallo")
    body = agent_payload(region, "<p>signed</p>")
    response = deliver(region, body, signed(region, body))
    assert response.status_code == 200
    assert response.json() == {"region": region.slug, "actions": ["article 9999: agent message stored"]}


def test_the_same_delivery_twice_is_processed_once(region):
    post(region, "Hallo")
    region.zammad.add_article(only_ticket(region)["id"], "<p>once</p>")
    region.zammad.wait_for_webhooks()
    delivery_id = list(region.zammad.deliveries)[-1]
    assert region.zammad.redeliver(delivery_id) == 200
    repeated = deliver(
        region,
        region.zammad.deliveries[delivery_id]["body"],
        region.zammad.deliveries[delivery_id]["headers"],
    )
    assert repeated.json()["actions"] == ["delivery %s: already processed" % delivery_id]
    # A new delivery of an article already stored (another trigger) stores nothing either.
    body = region.zammad.deliveries[delivery_id]["body"]
    again = deliver(region, body, signed(region, body))
    assert again.json()["actions"][0].endswith("already stored")
    response, _ = poll(region)
    assert [m["content"] for m in response.json()["messages"]].count("<p>once</p>") == 1


def test_the_user_s_own_article_and_unknown_tickets(region):
    post(region, "Hallo")
    own = region.zammad.deliveries[next(iter(region.zammad.deliveries))]
    assert json.loads(own["body"])["article"]["sender"] == "Customer"
    body = own["body"]
    response = deliver(region, body, signed(region, body))
    assert response.json()["actions"] == ["article %d: already stored" % json.loads(body)["article"]["id"]]
    payload = json.loads(body)
    payload["ticket"]["id"] = 424242
    payload["ticket"]["title"] = "some other ticket"
    payload["article"].update(id=5555, sender="Agent")
    body = json.dumps(payload).encode()
    response = deliver(region, body, signed(region, body))
    assert response.status_code == 200
    assert response.json()["actions"] == ["ticket 424242: no chat of this region has it, ignored"]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'{"ticket": {"id": "x"}}', b'{"ticket": {"id": 1}, "article": {"id": "x"}}'],
)
def test_a_malformed_payload_is_400(region, body):
    post(region, "Hallo")
    response = deliver(region, body, signed(region, body))
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


def test_without_a_working_webhook_polls_ask_zammad_again_after_the_cache(api):
    url, admin = api
    with ZammadEmulator(token="zammad-token") as zammad:
        slug = put_region(url, admin, zammad)
        chat_url = "%s/api/v3/%s/de/chat/%s/" % (url, slug, uuid.uuid4())
        requests.post(chat_url, files={"message": (None, "Hallo")}, timeout=30)
        time.sleep(CACHE + 0.2)
        response = requests.get(chat_url, timeout=30)
        assert 'zammad;desc="1 call"' in response.headers["Server-Timing"]
