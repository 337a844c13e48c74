"""The chatbot's rules (chalicelib/chatbot): each twice, on the in-memory twins with the
network off but loopback, and on moto (DynamoDB and SQS); the chatbot service and Zammad
are the emulators over real HTTP (the network edge). Jobs are taken from the queue and run
as the worker runs them, so a test can deliver one twice, or late."""

import json
import threading

import boto3
import pytest
from moto import mock_aws

from chalicelib.api import ChatApi
from chalicelib.chatbot.queue import SqsJobQueue
from chalicelib.chatbot.texts import FALLBACK_MESSAGES
from chalicelib.jobs import run_chatbot_job
from chalicelib.platform.config import load_settings
from chalicelib.platform.events import AnswerStored, ChatChanged
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.user_chat.deletion import DELETED_NOTE_SUBJECT
from chalicelib.user_chat.views import TYPING_SECONDS
from chalicelib.user_chat.zammad import OutcomeUnknown
from chalicelib.web.errors import BadGateway
from chalicelib.web.http import Request
from devtools.chatbot_emulator import ChatbotEmulator
from devtools.zammad_emulator import ZammadEmulator
from tests.support.clock import Clock
from tests.support.emf import EmfCapture, emf_lines, measured
from tests.support.memory import memory_services
from tests.support.memory.chatbot import MemoryJobQueue
from tests.support.offline import no_network
from tests.support.regions import chat_region
from tests.support.signing import hub_signature
from tests.support.waiting import in_thread, wait_for

CHAT = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
REGION = "/api/v3/admin/regions/{slug}"


@pytest.fixture
def zammad():
    with ZammadEmulator(token="t") as emulator:
        yield emulator


@pytest.fixture
def bot():
    with ChatbotEmulator() as emulator:
        yield emulator


class World:
    def __init__(self, api: ChatApi, clock: Clock, queue):
        self.api, self.clock, self.queue = api, clock, queue

    def region(self, **fields):
        self.api.services.regions.put("augsburg", fields)
        self.api.services.region_cache.forget("augsburg")

    def send(self, text, language="de", device="device-1"):
        response = self.api.handle(
            Request(
                "POST",
                CHAT,
                {"region": "augsburg", "language_or_device": language, "device_id": device},
                headers={"Content-Type": "application/json"},
                body=json.dumps({"message": text}).encode(),
            )
        )
        assert response.status == 200, response.body
        return response.body

    def poll(self, device="device-1"):
        response = self.api.handle(
            Request("GET", CHAT, {"region": "augsburg", "language_or_device": "de", "device_id": device})
        )
        assert response.status == 200, response.body
        return response.body

    def jobs(self) -> list[str]:
        """The queued jobs (as the queue delivers them), taken off the queue."""
        if isinstance(self.queue, MemoryJobQueue):
            return [json.dumps(job) for job in self.queue.take()]
        bodies = []
        while deliveries := self.queue.receive(wait_seconds=0):
            for delivery in deliveries:
                bodies.append(delivery.body)
                self.queue.delete(delivery.receipt)
        return bodies

    def run(self, body: str) -> str:
        return run_chatbot_job(self.api.services, body)["outcome"]

    def drain(self) -> list[str]:
        return [self.run(body) for body in self.jobs()]


@pytest.fixture(params=["memory", "moto"])
def world(request, zammad, bot):
    clock = Clock()
    settings = load_settings({"INTEGREAT_CHAT_BACKEND_URL": bot.url, "CHATBOT_TIMEOUT_SECONDS": "2"})
    region = chat_region(zammad, chatbot_enabled=True, default_language="de")
    if request.param == "memory":
        with no_network(loopback=True):
            queue = MemoryJobQueue()
            world = World(ChatApi(memory_services(settings, clock, queue)), clock, queue)
            world.region(**region)
            yield world
        return
    with mock_aws():
        queue = SqsJobQueue(settings)
        queue.create()
        world = World(ChatApi(aws_services(settings, clock, queue=queue)), clock, queue)
        create_tables(ALL_MODELS)
        world.region(**region)
        yield world


def visible(zammad, ticket_id=1):
    return [a for a in zammad.articles.values() if a["ticket_id"] == ticket_id and not a["internal"]]


def notes(zammad, ticket_id=1):
    return [a["body"] for a in zammad.articles.values() if a["ticket_id"] == ticket_id and a["internal"]]


def test_the_typing_flag_is_on_until_the_answer_is_stored(world, zammad, bot):
    first = world.send("Wo melde ich mich an?")
    assert first["chatbot_typing"] is True
    assert world.poll()["chatbot_typing"] is True
    assert world.drain() == ["answered"]
    chat = world.poll()
    assert chat["chatbot_typing"] is False
    _user, answer = chat["messages"]
    assert answer["automatic_answer"] is True and answer["role"] == "agent"
    assert "Automatic answer to: Wo melde ich mich an?" in answer["content"]
    [asked] = bot.calls("/chatanswers/extract_answer/")
    assert asked == {
        "messages": [{"role": "user", "content": "Wo melde ich mich an?"}],
        "language": "de",
        "region": "augsburg",
    }
    assert zammad.tickets[1]["automatic_answers"] is True  # mirrored, as the CMS keeps it
    [sources] = notes(zammad)
    assert "https://integreat.app/augsburg/de/chat-help/" in sources
    assert visible(zammad)[-1]["subject"] == "automatically generated message"


def test_a_stored_answer_is_an_event_for_the_chats_connections(world):
    """The chatbot tells real time (docs/realtime.md) once its answer is stored, so a
    connected device polls once instead of every 3 s while the bot types."""
    changed = []
    world.api.services.events.subscribe(ChatChanged, lambda event: changed.append(event.chat_key))
    world.send("Wo melde ich mich an?")
    assert changed == []  # queued: nothing stored yet
    assert world.drain() == ["answered"]
    assert changed == ["augsburg#device-1"]
    assert world.poll()["messages"][-1]["automatic_answer"] is True  # stored before the event


def test_a_job_the_queue_refuses_ends_the_typing_at_once_and_publishes_nothing(world, zammad, caplog):
    """The message reached the agents; only its automatic answer is lost. The chat stops
    showing the bot typing; no event goes out, as the send's answer already says so."""
    if isinstance(world.queue, MemoryJobQueue):
        world.queue.outage = ConnectionError("the queue is down")
    else:
        boto3.client("sqs", region_name="eu-central-1").delete_queue(QueueUrl=world.queue.url)
    changed, stored = [], []
    world.api.services.events.subscribe(ChatChanged, lambda event: changed.append(event.chat_key))
    world.api.services.events.subscribe(AnswerStored, lambda event: stored.append(event.article_id))
    world.send("Wo melde ich mich an?")
    assert world.poll()["chatbot_typing"] is False
    assert changed == [] and stored == []
    assert [a["body"] for a in visible(zammad)] == ["Wo melde ich mich an?"]
    assert '"event": "chatbot_queue_failed"' in caplog.text


def test_the_typing_flag_gives_up_after_a_minute(world):
    world.send("Hallo")
    world.clock.now += TYPING_SECONDS + 1
    assert world.poll()["chatbot_typing"] is False


def test_a_job_delivered_twice_answers_once(world, zammad):
    world.send("Hallo")
    [job] = world.jobs()
    assert world.run(job) == "answered"
    assert world.run(job) == "duplicate: done or running"
    assert len(visible(zammad)) == 2
    assert len(world.poll()["messages"]) == 2


def test_two_copies_of_a_job_at_once_answer_once(world, zammad, bot):
    if not isinstance(world.queue, MemoryJobQueue):
        # moto's conditional update is not atomic between threads (two leases in one of a few
        # runs); the lease itself is tested concurrently on DynamoDB Local (tests/contract).
        pytest.skip("moto in process does not serialise concurrent conditional writes")
    bot.delay = 0.3
    world.send("Hallo")
    [job] = world.jobs()
    outcomes: list[str] = []
    copies = [threading.Thread(target=lambda: outcomes.append(world.run(job))) for _ in range(2)]
    for thread in copies:
        thread.start()
    for thread in copies:
        thread.join()
    assert sorted(outcomes) == ["answered", "duplicate: done or running"]
    assert len(visible(zammad)) == 2


def test_two_messages_together_get_one_answer_each(world, zammad, bot):
    world.send("Erste Frage")
    world.clock.now += 1
    world.send("Zweite Frage")
    assert world.drain() == ["answered", "answered"]
    contents = [m["content"] for m in world.poll()["messages"]]
    assert len(contents) == 4 and sum("Automatic answer to" in c for c in contents) == 2
    second = bot.calls("/chatanswers/extract_answer/")[1]
    assert [m["content"] for m in second["messages"]] == ["Erste Frage", "Zweite Frage"]


def test_the_same_message_queued_twice_is_one_job(world):
    world.send("Hallo")
    world.send("Hallo")  # a double tap: the same message
    assert len(world.jobs()) == 1


def test_handover_stops_further_answers(world, zammad, bot):
    world.api.services.metrics = metrics = EmfCapture()
    world.send("I want to talk to a human")
    assert world.drain() == ["answered, handed over to humans"]
    assert metrics.total("ChatbotJobs", Outcome="handed_over") == 1
    chat = world.poll()
    assert "A person from the team" in chat["messages"][-1]["content"]
    assert zammad.tickets[1]["automatic_answers"] is False
    world.clock.now += 10
    later = world.send("Are you there?")
    assert later["chatbot_typing"] is False
    assert world.jobs() == []
    assert len(bot.calls("/chatanswers/extract_answer/")) == 1
    assert metrics.total("ChatbotJobs", Outcome="answered") == 0  # handed over, counted once


def test_a_message_in_another_language_is_noted_in_the_region_language(world, zammad, bot):
    answer = world.send("Where do I register?", language="en")
    assert answer["chatbot_typing"] is True
    assert world.drain() == ["translation noted, answered"]
    assert bot.calls("/chatanswers/translate_message/") == [
        {"message": "Where do I register?", "source_language": "en", "target_language": "de"}
    ]
    translation, _sources = notes(zammad)
    assert "Translation (en → de)" in translation and "[de] Where do I register?" in translation
    assert bot.calls("/chatanswers/extract_answer/")[0]["language"] == "en"
    assert all("[de] Where" not in m["content"] for m in world.poll()["messages"])  # notes stay internal


def test_a_human_chat_in_another_language_still_gets_notes_but_no_answers(world, zammad, bot):
    world.send("I want a human", language="en")
    world.drain()
    world.clock.now += 10
    assert world.send("Hello?", language="en")["chatbot_typing"] is False
    assert world.drain() == ["translation noted, no answer: the chat is with humans"]
    assert len(bot.calls("/chatanswers/extract_answer/")) == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 503, "body": "garbage"},
        {"body": "error"},
        {"body": "garbage"},
        {"delay": 3},  # past CHATBOT_TIMEOUT_SECONDS
    ],
    ids=["500", "503-html", "status-error", "not-json", "timeout"],
)
def test_every_service_fault_gets_the_fallback_once(world, zammad, bot, fault):
    bot.set_fault(**fault)
    world.send("Hallo")
    assert world.drain() == ["fallback answered"]
    messages = world.poll()["messages"]
    assert len(messages) == 2 and messages[1]["automatic_answer"] is True
    assert FALLBACK_MESSAGES["de"] in messages[1]["content"]


def test_the_fallback_speaks_the_chat_language_or_english(world):
    world.api.services.chatbot._client.base_url = "http://127.0.0.1:9"  # nothing listens there
    world.send("Hello", language="uk", device="ukrainian")
    world.send("Hello", language="sw", device="swahili")
    world.drain()
    assert FALLBACK_MESSAGES["uk"] in world.poll("ukrainian")["messages"][-1]["content"]
    assert FALLBACK_MESSAGES["en"] in world.poll("swahili")["messages"][-1]["content"]


def test_zammad_failing_leaves_the_job_for_a_redelivery_that_answers_once(world, zammad):
    world.send("Hallo")
    [job] = world.jobs()
    zammad.set_fault(status=500, request="POST /api/v1/ticket_articles")
    with pytest.raises(BadGateway):
        world.run(job)
    zammad.clear_faults()
    assert world.run(job) == "answered"
    assert len(visible(zammad)) == 2


def test_an_answer_whose_write_went_unanswered_is_found_not_written_again(world, zammad):
    world.send("Hallo")
    [job] = world.jobs()
    zammad.set_fault(drop=True, count=1, request="POST /api/v1/ticket_articles")
    with pytest.raises(OutcomeUnknown):
        world.run(job)  # Zammad wrote the answer; the connection broke before it said so
    assert world.run(job) == "answer found, written before"
    assert len(visible(zammad)) == 2
    assert len(world.poll()["messages"]) == 2


def test_the_words_budget_stops_automatic_answers(world, zammad, bot, request):
    world.region(chatbot_words_budget=5)
    world.send("Hallo")
    world.drain()
    admin = world.api.services.chatbot
    assert admin.words_used("augsburg") >= 5
    world.clock.now += 10
    assert world.send("Noch eine Frage")["chatbot_typing"] is False
    assert world.jobs() == []
    assert len(bot.calls("/chatanswers/extract_answer/")) == 1


def test_no_chatbot_without_the_region_switch(world, zammad, bot):
    world.region(chatbot_enabled=False)
    assert world.send("Hallo")["chatbot_typing"] is False
    assert world.jobs() == []
    assert "automatic_answers" not in zammad.tickets[1]


def test_a_message_that_is_not_a_job_is_dropped(world):
    assert run_chatbot_job(world.api.services, "not json")["dropped"]
    assert run_chatbot_job(world.api.services, json.dumps({"kind": "message"}))["dropped"]


def test_a_job_for_a_chat_that_expired_does_nothing(world, zammad, bot):
    world.send("Hallo")
    [job] = world.jobs()
    world.api.services.user_chats.store.forget(world.api.services.user_chats.store.get("augsburg#device-1"))
    assert world.run(job) == "chat gone"
    assert bot.calls("/chatanswers/extract_answer/") == []


def test_a_job_for_a_chat_past_its_retention_does_nothing_though_its_item_is_still_there(world, zammad, bot):
    """DynamoDB's TTL deletes late: the job tests the chat as a poll does (open and not expired)."""
    world.send("Hallo")
    [job] = world.jobs()
    world.clock.now += 31 * 86400
    assert world.api.services.user_chats.store.get("augsburg#device-1") is not None
    assert world.run(job) == "chat gone"
    assert bot.calls("/chatanswers/extract_answer/") == []


WEBHOOK_TOKEN, WEBHOOK_SECRET = "chatbot-webhook-token-0123", "chatbot-webhook-secret-0123"


def deliver(world, zammad, article):
    """Zammad's trigger delivering an article to the webhook, as its emulator shapes it."""
    body = json.dumps({"ticket": zammad.tickets[article["ticket_id"]], "article": article}).encode()
    response = world.api.handle(
        Request(
            "POST",
            "/api/v3/webhook/zammad",
            query={"token": WEBHOOK_TOKEN},
            headers={"X-Hub-Signature": hub_signature(WEBHOOK_SECRET, body)},
            body=body,
        )
    )
    assert response.status == 200, response.body
    return response.body["actions"]


def test_an_agent_reply_is_translated_and_our_own_articles_never_loop(world, zammad, bot):
    world.region(zammad_webhook_token=WEBHOOK_TOKEN, zammad_webhook_secret=WEBHOOK_SECRET)
    world.send("Where do I register?", language="en")
    world.drain()
    for article in list(zammad.articles.values()):  # the user's message, the answer, the notes
        deliver(world, zammad, article)
    assert world.jobs() == []  # nothing of ours (or the user's) is translated back
    reply = zammad.add_article(1, "<p>Im Bürgerbüro.</p>")
    assert deliver(world, zammad, reply)[-1] == "article %d: translation queued" % reply["id"]
    world.api.services.metrics = metrics = EmfCapture()
    assert world.drain() == ["reply translated"]
    assert metrics.total("ChatbotJobs", Outcome="translated") == 1
    [translated] = [a for a in zammad.articles.values() if a["id"] > reply["id"]]
    assert translated["subject"] == "automatically generated message" and not translated["internal"]
    assert "[en]" in translated["body"] and "Im Bürgerbüro." in translated["body"]
    assert deliver(world, zammad, translated) == ["article %d: already stored" % translated["id"]]
    assert world.jobs() == []
    messages = world.poll()["messages"]
    assert [m["automatic_answer"] for m in messages] == [False, True, False, True]
    assert "[en]" in messages[-1]["content"] and "Bürgerbüro" in messages[-1]["content"]


def test_a_reply_in_the_region_language_chat_is_not_translated(world, zammad, bot):
    world.region(zammad_webhook_token=WEBHOOK_TOKEN, zammad_webhook_secret=WEBHOOK_SECRET)
    world.send("Hallo")
    world.drain()
    deliver(world, zammad, zammad.add_article(1, "<p>Guten Tag</p>"))
    assert world.jobs() == []


def test_a_failed_reply_translation_adds_nothing_the_original_is_shown(world, zammad, bot):
    world.region(zammad_webhook_token=WEBHOOK_TOKEN, zammad_webhook_secret=WEBHOOK_SECRET)
    world.send("I want a human", language="en")
    world.drain()
    bot.set_fault(status=503)
    deliver(world, zammad, zammad.add_article(1, "<p>Guten Tag</p>"))
    assert world.drain() == ["translation failed"]
    assert world.poll()["messages"][-1]["content"] == "<p>Guten Tag</p>"


def test_the_worker_deletes_a_job_only_once_it_is_done(world, zammad):
    if isinstance(world.queue, MemoryJobQueue):
        pytest.skip("the worker consumes SQS (moto here)")
    from functions import worker

    world.send("Hallo")
    zammad.set_fault(status=500, request="POST /api/v1/ticket_articles")
    [delivery] = world.queue.receive(wait_seconds=0)
    assert worker.handle(world.api.services, world.queue, delivery) is False  # left to the queue
    counts = world.queue._sqs().get_queue_attributes(QueueUrl=world.queue.url, AttributeNames=["All"])
    assert counts["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
    zammad.clear_faults()
    assert worker.handle(world.api.services, world.queue, delivery) is True
    counts = world.queue._sqs().get_queue_attributes(QueueUrl=world.queue.url, AttributeNames=["All"])
    assert counts["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"


# --- a deletion of the chat while a job works (docs/privacy.md, "Nothing after the deletion's note")
def delete(world, device="device-1"):
    response = world.api.handle(
        Request("DELETE", CHAT, {"region": "augsburg", "language_or_device": "de", "device_id": device})
    )
    return response.status


def test_a_job_taken_before_the_deletion_posts_nothing_after_its_note(world, zammad, bot):
    world.send("Wo melde ich mich an?")
    [job] = world.jobs()
    bot.set_fault(delay=1.0, count=1, request="/chatanswers/extract_answer/")  # a slow answer
    worker, outcome = in_thread(lambda: world.run(job))
    wait_for(lambda: bot.calls("/chatanswers/extract_answer/"))  # the job is asking the service
    assert delete(world) == 200  # no write in flight yet: the deletion holds the chat
    worker.join()
    assert outcome == ["chat gone"]
    last = zammad.articles[zammad.tickets[1]["article_ids"][-1]]
    assert last["subject"] == DELETED_NOTE_SUBJECT and len(zammad.tickets[1]["article_ids"]) == 2


def test_a_deletion_while_the_job_posts_is_busy_until_it_has_posted(world, zammad, bot):
    world.send("Wo melde ich mich an?")
    [job] = world.jobs()
    zammad.set_fault(delay=1.0, count=1, request="POST /api/v1/ticket_articles")  # a slow post
    worker, outcome = in_thread(lambda: world.run(job))
    wait_for(lambda: ("POST", "/api/v1/ticket_articles") in zammad.requests)
    assert delete(world) == 503  # busy: try again a moment later
    worker.join()
    assert outcome == ["answered"]
    assert delete(world) == 200
    subjects = [zammad.articles[i]["subject"] for i in zammad.tickets[1]["article_ids"]]
    assert subjects[-1] == DELETED_NOTE_SUBJECT and "automatically generated message" in subjects


def test_the_jobs_are_counted_by_outcome_and_age_and_carry_the_message_trace(world, zammad, bot):
    world.api.services.metrics = metrics = EmfCapture()
    world.send("Hallo")
    [job] = world.jobs()
    assert json.loads(job)["trace_id"] and isinstance(json.loads(job)["queued_at"], float)
    zammad.set_fault(status=500, request="POST /api/v1/ticket_articles")
    with pytest.raises(BadGateway):
        world.run(job)
    zammad.clear_faults()
    assert world.run(job) == "answered"
    assert run_chatbot_job(world.api.services, "not json")["dropped"]
    assert [metrics.total("ChatbotJobs", Outcome=o) for o in ("failed", "answered", "dropped")] == [1, 1, 1]
    assert metrics.total("ZammadCalls", Outcome="5xx") == 1  # the worker's Zammad calls count too
    ages = measured(emf_lines(metrics.text.getvalue()), "ChatbotJobAge")
    assert len(ages) == 2 and all(0 <= age < 60 for age in ages)
    # The user's article and the answer carry the trace of the request that sent the message.
    trace = json.loads(job)["trace_id"]
    marked = [a for a in visible(zammad) if a["message_id"] == "<%s@integreat-chat>" % trace]
    assert [a["sender"] for a in marked] == ["Customer", "Agent"]
