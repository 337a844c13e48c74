"""Push (docs/push.md), in process: ChatApi on moto's DynamoDB, the jobs on the queue's twin
(a test runs them as the worker would, once their delay has passed), and over loopback the
Zammad emulator, the FCM stand-in (its token endpoint checks our signed assertion) and a
browser's push service that decrypts what it gets. The worker on a real queue, with the
delay as SQS keeps it, is tests/integration/test_push_http.py."""

import base64
import json
import secrets
import time

import pytest
from moto import mock_aws

from chalicelib import jobs
from chalicelib.api import ChatApi
from chalicelib.platform.config import load_settings
from chalicelib.push.web_push import public_key, vapid_key
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.user_chat.records import UserChatRecord, chat_key
from chalicelib.web.http import Request
from devtools.fcm_standin import FcmStandIn
from devtools.web_push_standin import WebPushStandIn
from tests.support.clock import Clock
from tests.support.memory.chatbot import MemoryJobQueue
from tests.support.regions import chat_region
from tests.support.signing import webhook_delivery

CHAT = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
PUSH = CHAT + "/push"
DEVICE = "device-1"
FCM_TOKEN = "fcm-registration-token-" + "x" * 140
REPLY = "<p>Ihr Termin ist am Montag um 9 Uhr.</p>"
VAPID = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


@pytest.fixture
def fcm():
    with FcmStandIn() as standin:
        yield standin


@pytest.fixture
def browser_push():
    with WebPushStandIn(public_key(vapid_key(VAPID))) as standin:
        yield standin


@pytest.fixture
def world(zammad, fcm, browser_push):
    env = {
        "FCM_CREDENTIALS": json.dumps(fcm.service_account()),
        "FCM_URL": fcm.send_url,
        "VAPID_PRIVATE_KEY": VAPID,
        "VAPID_SUBJECT": "mailto:ops@example.org",
        "WEB_PUSH_HOSTS": browser_push.url + ",fcm.googleapis.com",
    }
    queue = MemoryJobQueue()
    with mock_aws():
        api = ChatApi(aws_services(load_settings(env), clock=Clock(now=time.time()), queue=queue))
        create_tables(ALL_MODELS)
        api.services.regions.put(
            "augsburg",
            chat_region(
                zammad,
                zammad_webhook_token="hook-token-for-tests",
                zammad_webhook_secret="hook-secret-for-the-tests",
            ),
        )
        yield api, queue


def call(api, method, template, body=None, device=DEVICE, language="de", content_type="application/json"):
    encoded = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    return api.handle(
        Request(
            method,
            template,
            {"region": "augsburg", "language_or_device": language, "device_id": device},
            headers={"Content-Type": content_type},
            body=encoded,
        )
    )


def chat_with_target(api, target, language="de"):
    assert call(api, "POST", CHAT, {"message": "Hallo"}, language=language).status == 200
    registered = call(api, "POST", PUSH, target, language=language)
    assert registered.status == 200, registered.body
    return registered.body


def agent_replies(api, zammad, body=REPLY, **article):
    """An article in Zammad (an agent's reply unless told otherwise), told by its webhook."""
    ticket_id = next(iter(zammad.tickets))
    made = zammad.add_article(ticket_id, body, **article)
    response = api.handle(
        webhook_delivery(zammad, ticket_id, made, "hook-token-for-tests", "hook-secret-for-the-tests")
    )
    assert response.status == 200, response.body
    return made["id"]


def run_due_jobs(api, queue):
    """What the worker does once the jobs' delay has passed: each queued job, in order."""
    reports = []
    while queued := queue.take():
        for job in queued:
            reports.append(jobs.run_chatbot_job(api.services, json.dumps(job)))
    return reports


def test_an_unseen_reply_makes_one_fcm_push_that_says_an_answer_came_not_what(world, zammad, fcm):
    api, queue = world
    assert chat_with_target(api, {"fcm_token": FCM_TOKEN}) == {"push": "fcm"}
    agent_replies(api, zammad)
    (job,) = queue.jobs
    assert job["kind"] == "push" and job["delay_seconds"] == 10  # PUSH_DELAY_SECONDS' default
    assert [r["outcome"] for r in run_due_jobs(api, queue)] == ["fcm: sent"]
    (message,) = fcm.messages
    assert message["token"] == FCM_TOKEN
    assert message["notification"] == {
        "title": "Neue Antwort",
        "body": "In Ihrem Chat gibt es eine neue Antwort. Öffnen Sie den Chat, um sie zu lesen.",
    }
    assert message["data"] == {"type": "chat", "city_code": "augsburg", "language_code": "de"}
    collapse = message["android"]["collapse_key"]
    assert message["android"]["priority"] == "high" and collapse.startswith("chat-")
    assert message["apns"]["headers"] == {"apns-priority": "10", "apns-collapse-id": collapse}
    assert DEVICE not in json.dumps(message) and "Termin" not in json.dumps(message)
    assert fcm.token_requests == 1


def test_a_reply_a_poll_showed_makes_no_push(world, zammad, fcm):
    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    agent_replies(api, zammad)
    polled = call(api, "GET", CHAT)
    assert polled.body["messages"][-1]["content"] == REPLY
    assert [r["outcome"] for r in run_due_jobs(api, queue)] == ["seen"]
    assert fcm.messages == []


def test_two_replies_within_the_delay_make_one_push(world, zammad, fcm):
    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    agent_replies(api, zammad)
    agent_replies(api, zammad, "<p>Und bringen Sie Ihren Pass mit.</p>")
    assert len(queue.jobs) == 2
    outcomes = [r["outcome"] for r in run_due_jobs(api, queue)]
    assert sorted(outcomes) == ["fcm: sent", "pushed already"] and len(fcm.messages) == 1


def test_an_article_delivered_again_queues_no_second_push(world, zammad, fcm):
    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    ticket_id = next(iter(zammad.tickets))
    article = zammad.add_article(ticket_id, REPLY)
    for _delivery in range(2):  # Zammad retries a delivery it thinks failed
        again = webhook_delivery(
            zammad, ticket_id, article, "hook-token-for-tests", "hook-secret-for-the-tests"
        )
        assert api.handle(again).status == 200
    assert len(queue.jobs) == 1
    assert [r["outcome"] for r in run_due_jobs(api, queue)] == ["fcm: sent"] and len(fcm.messages) == 1


def test_the_person_s_own_messages_and_internal_notes_make_no_push(world, zammad, fcm):
    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    assert call(api, "POST", CHAT, {"message": "Noch eine Frage"}).status == 200
    agent_replies(api, zammad, "<p>intern: Termin prüfen</p>", internal=True)
    agent_replies(api, zammad, "<p>per E-Mail geschrieben</p>", sender="Customer", article_type="email")
    assert len(call(api, "GET", CHAT).body["messages"]) == 3  # the customer's e-mail shows, no note
    assert queue.jobs == [] and fcm.messages == []


@pytest.mark.parametrize("code", ["UNREGISTERED", "SENDER_ID_MISMATCH"])
def test_an_unregistered_token_is_forgotten_and_the_next_reply_sends_nothing(world, zammad, fcm, code):
    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    fcm.fail(code)
    agent_replies(api, zammad)
    assert [r["outcome"] for r in run_due_jobs(api, queue)] == ["fcm: " + code]
    assert UserChatRecord.get(chat_key("augsburg", DEVICE)).push_target is None
    agent_replies(api, zammad, "<p>Noch etwas</p>")
    assert queue.jobs == [] and fcm.messages == []


@pytest.mark.parametrize(
    ("code", "retry_after", "delay"),
    [("UNAVAILABLE", 7, 7), ("INTERNAL", None, 30), ("QUOTA_EXCEEDED", 5, 60)],
)
def test_a_push_fcm_could_not_take_now_comes_again_later(world, zammad, fcm, code, retry_after, delay):
    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    fcm.fail(code, retry_after=retry_after)
    agent_replies(api, zammad)
    (first,) = queue.take()
    jobs.run_chatbot_job(api.services, json.dumps(first))
    (again,) = queue.jobs
    assert again["attempt"] == 1 and again["delay_seconds"] == delay
    assert [r["outcome"] for r in run_due_jobs(api, queue)] == ["fcm: sent"] and len(fcm.messages) == 1


def test_an_invalid_argument_is_logged_and_not_retried(world, zammad, fcm, caplog):
    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    fcm.fail("INVALID_ARGUMENT")
    agent_replies(api, zammad)
    assert [r["outcome"] for r in run_due_jobs(api, queue)] == ["fcm: INVALID_ARGUMENT"]
    assert queue.jobs == [] and FCM_TOKEN not in caplog.text


def test_a_web_push_decrypts_to_the_payload_at_the_browser_s_push_service(world, zammad, browser_push):
    api, queue = world
    subscription = browser_push.subscribe()
    assert chat_with_target(api, {"web_push": subscription}, language="ar") == {"push": "web_push"}
    agent_replies(api, zammad)
    assert [r["outcome"] for r in run_due_jobs(api, queue)] == ["web_push: sent"]
    (received,) = browser_push.received
    assert received["payload"] == {
        "title": "رد جديد",
        "body": "هناك رد جديد في محادثتك. افتح المحادثة لقراءته.",
        "data": {"type": "chat", "city_code": "augsburg", "language_code": "ar"},
    }
    assert received["headers"]["ttl"] == "86400" and received["headers"]["urgency"] == "high"
    browser_push.unsubscribe(subscription)  # 410 Gone from now on: the subscription is forgotten
    agent_replies(api, zammad, "<p>Noch etwas</p>")
    assert [r["outcome"] for r in run_due_jobs(api, queue)] == ["web_push: 410"]
    assert UserChatRecord.get(chat_key("augsburg", DEVICE)).push_target is None


def test_the_vapid_public_key_is_the_one_a_browser_subscribes_with(world, browser_push):
    api, _queue = world
    response = api.handle(Request("GET", "/api/v3/push/vapid-public-key", {}))
    assert response.status == 200 and response.body == {"public_key": browser_push.application_server_key}


def test_a_registration_replaces_the_earlier_and_delete_removes_it(world, zammad, fcm, browser_push):
    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    subscription = browser_push.subscribe()
    form = ("web_push=%s" % json.dumps(subscription)).replace("+", "%2B").encode()
    as_form = call(api, "POST", PUSH, form, content_type="application/x-www-form-urlencoded")
    assert as_form.status == 200 and as_form.body == {"push": "web_push"}
    agent_replies(api, zammad)
    run_due_jobs(api, queue)
    assert fcm.messages == [] and len(browser_push.received) == 1
    deleted = call(api, "DELETE", PUSH)
    assert deleted.status == 200 and deleted.body == {"push": None}
    agent_replies(api, zammad, "<p>Noch etwas</p>")
    assert queue.jobs == []


def test_a_deleted_chat_takes_its_target_and_its_pending_push_with_it(world, zammad, fcm):
    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    agent_replies(api, zammad)
    assert call(api, "DELETE", CHAT).status == 200
    assert [r["outcome"] for r in run_due_jobs(api, queue)] == ["chat gone"]
    assert fcm.messages == [] and UserChatRecord.count(chat_key("augsburg", DEVICE)) == 0


def test_without_an_open_chat_there_is_nothing_to_register(world):
    api, _queue = world
    response = call(api, "POST", PUSH, {"fcm_token": FCM_TOKEN})
    assert response.status == 404 and response.body == {"error": "Chat not found."}


def _p256dh():
    return WebPushStandIn("unused").subscribe()["keys"]["p256dh"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "Send either fcm_token or web_push."),
        ({"fcm_token": FCM_TOKEN, "web_push": {}}, "Send either fcm_token or web_push."),
        ({"fcm_token": ""}, "fcm_token must be an FCM registration token."),
        ({"fcm_token": "x" * 5000}, "fcm_token must be an FCM registration token."),
        (
            {"fcm_token": "token with spaces and more than twenty"},
            "fcm_token must be an FCM registration token.",
        ),
        ({"fcm_token": 12345}, "fcm_token must be an FCM registration token."),
        ({"token": FCM_TOKEN}, "Unknown field(s): token."),
        ({"web_push": "not json"}, "web_push must be a subscription object (or its JSON)."),
        (
            {"web_push": {"endpoint": "https://fcm.googleapis.com/x", "keys": {}}},
            "web_push.keys.p256dh must be base64url.",
        ),
    ],
)
def test_a_bad_registration_is_a_400_and_nothing_is_stored(world, body, error):
    api, _queue = world
    assert call(api, "POST", CHAT, {"message": "Hallo"}).status == 200
    response = call(api, "POST", PUSH, body)
    assert response.status == 400 and response.body == {"error": error}
    assert UserChatRecord.get(chat_key("augsburg", DEVICE)).push_target is None


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda s: s.update(endpoint=s["endpoint"].replace("http://", "https://")), "push service"),
        (lambda s: s.update(endpoint="https://attacker.example/x"), "push service"),
        (lambda s: s.update(endpoint="https://fcm.googleapis.com.attacker.example/x"), "push service"),
        (lambda s: s.update(endpoint=s["endpoint"] + "\n"), "push service"),
        (lambda s: s["keys"].update(p256dh=s["keys"]["p256dh"][:-4]), "p256dh must be 65 bytes"),
        (lambda s: s["keys"].update(p256dh="A" + s["keys"]["p256dh"][1:]), "p256dh must be 65 bytes"),
        (
            lambda s: s["keys"].update(auth=base64.urlsafe_b64encode(b"x" * 15).decode()),
            "auth must be 16 bytes",
        ),
        (lambda s: s["keys"].update(auth="not base64!"), "auth must be base64url"),
        (lambda s: s.update(extra=1), "Unknown web_push field(s): extra."),
    ],
)
def test_a_subscription_that_is_not_a_push_service_s_is_refused(world, browser_push, change, error):
    api, _queue = world
    assert call(api, "POST", CHAT, {"message": "Hallo"}).status == 200
    subscription = browser_push.subscribe()
    change(subscription)
    response = call(api, "POST", PUSH, {"web_push": subscription})
    assert response.status == 400 and error in response.body["error"]


def test_push_is_off_without_its_settings(zammad):
    with mock_aws():
        api = ChatApi(aws_services(load_settings({}), clock=Clock(now=time.time()), queue=MemoryJobQueue()))
        create_tables(ALL_MODELS)
        response = api.handle(Request("GET", "/api/v3/push/vapid-public-key", {}))
        assert response.status == 503 and response.body == {"error": "Web push is not enabled here."}


def test_a_push_target_is_in_the_person_s_export(world):
    api, _queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    region = api.services.regions.get("augsburg")
    exported = api.services.user_chats.export(region, DEVICE)
    assert exported["chat"]["push_target"] == {"kind": "fcm", "token": FCM_TOKEN}


def test_the_access_token_is_kept_until_shortly_before_it_expires(world, zammad, fcm):
    api, queue = world
    fcm.token_lifetime = 70  # renewed a minute before it expires: after 10 s here
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    agent_replies(api, zammad)
    run_due_jobs(api, queue)
    agent_replies(api, zammad, "<p>Zweite Antwort</p>")
    run_due_jobs(api, queue)
    assert (len(fcm.messages), fcm.token_requests) == (2, 1)  # one token for both
    api.services.clock.now += 11
    agent_replies(api, zammad, "<p>Dritte Antwort</p>")
    run_due_jobs(api, queue)
    assert (len(fcm.messages), fcm.token_requests) == (3, 2)


def test_a_third_party_auth_error_is_counted_for_its_alarm_and_not_retried(world, zammad, fcm):
    from chalicelib.platform import telemetry

    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    fcm.fail("THIRD_PARTY_AUTH_ERROR")
    agent_replies(api, zammad)
    [job] = queue.take()

    class Kept:
        def write(self, measures):
            self.measures = measures

    sink = Kept()
    with telemetry.measuring(sink):
        api.services.pushes.run(job)
    assert dict(sink.measures.values) == {("PushSends", (("Outcome", "auth_failed"),)): [1]}, (
        sink.measures.values
    )
    assert queue.jobs == [] and fcm.messages == []  # not queued again
    assert UserChatRecord.get(chat_key("augsburg", DEVICE)).push_target is not None  # kept


def test_an_access_token_fcm_no_longer_takes_is_renewed_once(world, zammad, fcm):
    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    agent_replies(api, zammad)
    run_due_jobs(api, queue)
    fcm.revoke_tokens()  # as Google may, before the token's expiry
    agent_replies(api, zammad, "<p>Zweite Antwort</p>")
    assert [r["outcome"] for r in run_due_jobs(api, queue)] == ["fcm: sent"]
    assert (len(fcm.messages), fcm.token_requests) == (2, 2)


def test_a_chat_that_expired_before_its_push_is_due_gets_none(world, zammad, fcm):
    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    agent_replies(api, zammad)
    api.services.clock.now += 31 * 86400  # past the retention: the poll would be 404 too
    assert [r["outcome"] for r in run_due_jobs(api, queue)] == ["chat gone"] and fcm.messages == []


@pytest.mark.parametrize("lease_left, outcome, sent", [(0, "chat gone", 0), (-1, "fcm: sent", 1)])
def test_a_deletion_s_lease_holds_back_the_push_up_to_its_last_second(
    world, zammad, fcm, lease_left, outcome, sent
):
    """A deletion's lease still holds at the second it ends, as the stores' conditions say
    (records.deleting: `>=`); a second later the deletion is over and the push goes."""
    api, queue = world
    chat_with_target(api, {"fcm_token": FCM_TOKEN})
    agent_replies(api, zammad)
    chat = UserChatRecord.get(chat_key("augsburg", DEVICE))
    chat.update(actions=[UserChatRecord.deleting_until.set(api.services.clock() + lease_left)])
    assert [r["outcome"] for r in run_due_jobs(api, queue)] == [outcome]
    assert len(fcm.messages) == sent
