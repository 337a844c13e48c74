"""The Zammad emulator answers over real HTTP in the shapes recorded from a real Zammad."""

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

FIXTURES = Path(__file__).resolve().parents[2] / "devtools" / "zammad_fixtures"


def recorded(name, method, path):
    for interaction in json.loads((FIXTURES / name).read_text())["interactions"]:
        if interaction["method"] == method and interaction["path"] == path:
            return interaction
    raise LookupError(path)


@pytest.fixture
def session(zammad):
    session = requests.Session()
    session.headers["Authorization"] = "Token token=%s" % zammad.token
    return session


def new_ticket(zammad, session, **extra):
    body = {
        "title": "[Integreat Chat] [de] device",
        "group": "integreat-chat",
        "customer": "johndoe@example.com",
        "region_slug": "augsburg",
        "language_slug": "de",
        "article": {
            "body": "Hallo",
            "content_type": "text/html",
            "type": "web",
            "internal": False,
            "sender": "Customer",
            "subject": "app user message",
        },
        **extra,
    }
    return session.post(zammad.url + "/api/v1/tickets", json=body, timeout=5)


def test_users_me_is_the_recording(zammad, session):
    response = session.get(zammad.url + "/api/v1/users/me", timeout=5)
    assert response.status_code == 200
    assert response.json() == recorded("users.json", "GET", "/api/v1/users/me")["response_body"]


def test_ticket_create_get_update_delete_have_the_recorded_shapes(zammad, session):
    created = new_ticket(zammad, session)
    assert created.status_code == 201
    assert created.headers["Content-Type"] == "application/json; charset=utf-8"
    ticket = created.json()
    shape = recorded("tickets.json", "POST", "/api/v1/tickets")["response_body"]
    assert set(ticket) == set(shape) | {"region_slug", "language_slug"}
    assert ticket["title"] == "[Integreat Chat] [de] device"
    assert len(ticket["article_ids"]) == ticket["article_count"] == 1

    fetched = session.get("%s/api/v1/tickets/%d" % (zammad.url, ticket["id"]), timeout=5).json()
    shape = recorded("tickets.json", "GET", "/api/v1/tickets/1")["response_body"]
    assert set(fetched) == set(shape) | {"region_slug", "language_slug"}

    updated = session.put(
        "%s/api/v1/tickets/%d" % (zammad.url, ticket["id"]), json={"evaluation_consent": True}, timeout=5
    )
    assert updated.status_code == 200
    assert updated.json()["evaluation_consent"] is True
    assert set(recorded("tickets.json", "PUT", "/api/v1/tickets/5")["response_body"]) <= set(updated.json())

    deleted = session.delete("%s/api/v1/tickets/%d" % (zammad.url, ticket["id"]), timeout=5)
    assert (deleted.status_code, deleted.text, deleted.headers["Content-Type"]) == (200, "", "text/html")
    gone = session.get("%s/api/v1/tickets/%d" % (zammad.url, ticket["id"]), timeout=5)
    assert gone.status_code == 404
    assert set(gone.json()) == {"error", "error_human"}
    assert (
        session.get(
            "%s/api/v1/ticket_articles/by_ticket/%d" % (zammad.url, ticket["id"]), timeout=5
        ).status_code
        == 404
    )


def test_articles_customer_agent_and_internal(zammad, session):
    ticket = new_ticket(zammad, session).json()
    article = session.post(
        zammad.url + "/api/v1/ticket_articles",
        timeout=5,
        json={
            "ticket_id": ticket["id"],
            "body": "Second",
            "content_type": "text/html",
            "type": "web",
            "internal": False,
            "sender": "Customer",
            "subject": "app user message",
        },
    )
    assert article.status_code == 201
    assert article.json()["sender"] == "Customer"
    reply = requests.post(
        "%s/_emulator/tickets/%d/articles" % (zammad.url, ticket["id"]),
        json={"body": "<p>Answer</p>"},
        timeout=5,
    )
    assert reply.status_code == 201
    zammad.add_article(ticket["id"], "internal note", internal=True)
    articles = session.get(
        "%s/api/v1/ticket_articles/by_ticket/%d" % (zammad.url, ticket["id"]), timeout=5
    ).json()
    assert [(a["body"], a["sender"], a["internal"]) for a in articles] == [
        ("Hallo", "Customer", False),
        ("Second", "Customer", False),
        ("<p>Answer</p>", "Agent", False),
        ("internal note", "Agent", True),
    ]
    assert {
        "id",
        "ticket_id",
        "subject",
        "content_type",
        "created_at",
        "type",
        "sender",
        "internal",
        "body",
        "from",
        "attachments",
    } <= set(articles[0])
    assert articles[0]["subject"] == "app user message"


def test_a_bad_token_is_401_and_no_token_403(zammad):
    bad = requests.get(
        zammad.url + "/api/v1/users/me", timeout=5, headers={"Authorization": "Token token=wrong"}
    )
    assert bad.status_code == 401
    assert set(bad.json()) == {"error", "error_human"}
    assert requests.get(zammad.url + "/api/v1/users/me", timeout=5).status_code == 403


def test_an_unknown_group_is_422(zammad, session):
    response = new_ticket(zammad, session, group="nope")
    assert response.status_code == 422
    assert "group" in response.json()["error"]


def test_faults_errors_slowness_and_refused_connections(zammad, session):
    zammad.set_fault(status=500, count=1)
    assert session.get(zammad.url + "/api/v1/users/me", timeout=5).status_code == 500
    assert session.get(zammad.url + "/api/v1/users/me", timeout=5).status_code == 200

    requests.put(zammad.url + "/_emulator/faults", json={"delay": 0.3}, timeout=5)
    started = time.monotonic()
    assert session.get(zammad.url + "/api/v1/users/me", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.3
    requests.delete(zammad.url + "/_emulator/faults", timeout=5)

    zammad.refuse_connections()
    with pytest.raises(requests.ConnectionError):
        requests.get(zammad.url + "/api/v1/users/me", timeout=5)
    zammad.accept_connections()
    assert session.get(zammad.url + "/api/v1/users/me", timeout=5).status_code == 200
    assert zammad.api_request_count() == 4  # the refused one never arrived


# --- the admin API (devtools/zammad_admin.py; docs.zammad.org's shapes) ----------------------
@contextmanager
def receiver():
    """An HTTP endpoint on loopback that keeps what is posted to it: (headers, body)."""
    received = []

    class Keep(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keep)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield "http://127.0.0.1:%d/hook" % server.server_port, received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def admin(zammad):
    session = requests.Session()
    session.headers["Authorization"] = "Token token=%s" % zammad.admin_token
    return session


def test_the_admin_api_is_the_admins_only(zammad, session, admin):
    groups = admin.get(zammad.url + "/api/v1/groups", timeout=5)
    assert groups.status_code == 200 and {"Users", "integreat-chat"} <= {g["name"] for g in groups.json()}
    refused = session.get(zammad.url + "/api/v1/webhooks", timeout=5)
    assert refused.status_code == 403 and refused.json()["error"] == "Not authorized (user)!"
    written = session.post(zammad.url + "/api/v1/groups", json={"name": "sneaky"}, timeout=5)
    assert written.status_code == 403 and zammad.admin.group_id("sneaky") is None


def test_a_group_made_by_the_admin_api_takes_tickets(zammad, session, admin):
    made = admin.post(zammad.url + "/api/v1/groups", json={"name": "beratung"}, timeout=5)
    assert made.status_code == 201 and made.json()["active"] is True
    again = admin.post(zammad.url + "/api/v1/groups", json={"name": "beratung"}, timeout=5)
    assert again.status_code == 422
    ticket = new_ticket(zammad, session, group="beratung").json()
    assert ticket["group_id"] == made.json()["id"]


def test_an_attribute_is_on_new_tickets_only_after_the_migration(zammad, session, admin):
    attribute = {
        "name": "chat_topic", "object": "Ticket", "display": "Topic", "data_type": "input",
        "data_option": {"type": "text", "maxlength": 120, "null": True},
    }  # fmt: skip
    made = admin.post(zammad.url + "/api/v1/object_manager_attributes", json=attribute, timeout=5).json()
    assert made["to_create"] is True
    assert "chat_topic" not in new_ticket(zammad, session).json()
    migrated = admin.post(zammad.url + "/api/v1/object_manager_attributes_execute_migrations", timeout=5)
    assert migrated.status_code == 200
    assert new_ticket(zammad, session, chat_topic="housing").json()["chat_topic"] == "housing"


def test_a_webhook_hides_its_secret_and_a_trigger_makes_it_deliver_signed(zammad, session, admin):
    import hashlib
    import hmac

    with receiver() as (url, received):
        hook = {"name": "Integreat Chat", "endpoint": url, "signature_token": "s3cret", "ssl_verify": True}
        webhook = admin.post(zammad.url + "/api/v1/webhooks", json=hook, timeout=5).json()
        assert webhook["signature_token"] == "**********"
        assert (
            admin.get(zammad.url + "/api/v1/webhooks/%d" % webhook["id"], timeout=5).json()["signature_token"]
            == "**********"
        )
        new_ticket(zammad, session)
        zammad.wait_for_webhooks()
        assert received == []  # no trigger calls it yet
        trigger = {
            "name": "Integreat Chat: new tickets",
            "condition": {"ticket.action": {"operator": "is", "value": "create"}},
            "perform": {"notification.webhook": {"webhook_id": webhook["id"]}},
        }
        assert admin.post(zammad.url + "/api/v1/triggers", json=trigger, timeout=5).status_code == 201
        new_ticket(zammad, session)
        zammad.wait_for_webhooks()
        [(headers, body)] = received
        expected = "sha1=" + hmac.new(b"s3cret", body, hashlib.sha1).hexdigest()
        assert headers["X-Hub-Signature"] == expected


def test_a_trigger_fires_only_for_the_tickets_its_conditions_name(zammad, session, admin):
    """Zammad's triggers are and-selectors on the ticket's attributes and the new article: one
    for a region's tickets calls its webhook for those alone, once per article."""
    with receiver() as (url, received):
        hooks = [
            admin.post(
                zammad.url + "/api/v1/webhooks", json={"name": n, "endpoint": url + "/" + n}, timeout=5
            ).json()
            for n in ("augsburg", "muenchen")
        ]
        for hook in hooks:
            trigger = {
                "name": "to " + hook["name"],
                "condition": {
                    "article.action": {"operator": "is", "value": "create"},
                    "ticket.region_slug": {"operator": "is", "value": hook["name"]},
                    "article.subject": {"operator": "does not contain", "value": "automatically generated"},
                },
                "perform": {"notification.webhook": {"webhook_id": hook["id"]}},
            }
            assert admin.post(zammad.url + "/api/v1/triggers", json=trigger, timeout=5).status_code == 201
        ticket = new_ticket(zammad, session, region_slug="muenchen").json()
        zammad.add_article(ticket["id"], "Antwort")
        zammad.add_article(ticket["id"], "Bot", subject="automatically generated message")
        zammad.wait_for_webhooks()
    assert [d["url"].rsplit("/", 1)[-1] for d in zammad.deliveries.values()] == ["muenchen", "muenchen"]
    assert len(received) == 2  # the first article and the agent's; not the automatic one
