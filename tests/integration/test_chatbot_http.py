"""The chatbot end to end, over real HTTP and a real queue: the app (gunicorn) on DynamoDB
Local, the queue on moto's server (SQS), `python -m functions.worker` consuming it in its
own process, and the Zammad and chatbot emulators. Nothing in between is ours but the code
under test."""

import json
import secrets
import threading
import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from chalicelib.chatbot.queue import SqsJobQueue
from chalicelib.platform.config import load_settings
from devtools.chatbot_emulator import ChatbotEmulator
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import running_api
from tests.support.regions import put_region
from tests.support.servers import worker


@pytest.fixture(scope="module")
def bot():
    with ChatbotEmulator(delay=0.5) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def system(dynamodb_local, moto_server, bot, tmp_path_factory):
    """The app and a worker, sharing tables and a queue of their own."""
    logs = tmp_path_factory.mktemp("chatbot")
    (logs / "metrics").mkdir()
    settings = {
        # /metrics sums gunicorn's workers and the worker process (docs/operating.md).
        "METRICS": "prometheus",
        "PROMETHEUS_MULTIPROC_DIR": str(logs / "metrics"),
        "INTEGREAT_CHAT_BACKEND_URL": bot.url,
        "AWS_ENDPOINT_URL_SQS": moto_server,
        "CHATBOT_QUEUE_NAME": "q" + uuid.uuid4().hex[:12],
        "API_RATE_LIMIT_WINDOW": 100000,
        "MESSAGE_CACHE_SECONDS": 1,
    }
    with running_api(dynamodb_local, logs / "api.log", server="gunicorn", **settings) as (url, admin, env):
        print(SqsJobQueue(load_settings(env)).create())
        with worker(env, logs / "worker.log"):
            yield url, admin, logs


@pytest.fixture
def region(system):
    url, admin, _logs = system
    with ZammadEmulator(token="zammad-token") as zammad:
        token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        slug = put_region(
            url,
            admin,
            zammad,
            zammad_webhook_token=token,
            zammad_webhook_secret=secret,
            chatbot_enabled=True,
            default_language="de",
        )
        zammad.configure_webhook("%s/api/v3/webhook/zammad/?token=%s" % (url, token), secret)
        yield slug, zammad


def chat_url(system, slug, language, device):
    return "%s/api/v3/%s/%s/chat/%s/" % (system[0], slug, language, device)


def wait_for(poll, condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while True:
        chat = poll()
        if condition(chat) or time.monotonic() > deadline:
            return chat
        time.sleep(0.2)


def test_an_answer_arrives_through_the_queue_while_the_app_sees_the_typing_flag(system, region, bot):
    slug, zammad = region
    url = chat_url(system, slug, "en", uuid.uuid4())
    sent = requests.post(url, files={"message": (None, "Where do I register?")}, timeout=30)
    assert sent.status_code == 200 and sent.json()["chatbot_typing"] is True
    chat = wait_for(lambda: requests.get(url, timeout=10).json(), lambda c: not c["chatbot_typing"])
    assert chat["chatbot_typing"] is False
    _user, answer = chat["messages"]
    assert (
        answer["automatic_answer"] is True
        and "[en] Automatic answer to: Where do I register?" in (answer["content"])
    )
    notes = [a["body"] for a in zammad.articles.values() if a["internal"]]
    assert any("[de] Where do I register?" in note for note in notes)  # for the agents
    # The agent replies in German: the app user gets it translated, and the webhook's
    # deliveries of our own articles never queue another job.
    zammad.add_article(1, "<p>Im Bürgerbüro.</p>")
    chat = wait_for(lambda: requests.get(url, timeout=10).json(), lambda c: len(c["messages"]) == 4)
    original, translated = chat["messages"][2:]
    assert original["automatic_answer"] is False and "Im Bürgerbüro" in original["content"]
    assert translated["automatic_answer"] is True and "[en]" in translated["content"]
    zammad.wait_for_webhooks()
    time.sleep(2)  # time for a loop to show, if there were one
    assert len(bot.calls("/chatanswers/translate_message/")) == 2
    assert all(status == [200] for status in (d["statuses"] for d in zammad.state()["deliveries"]))
    words = requests.get("%s/api/v3/admin/regions/%s" % (system[0], slug), headers=system[1], timeout=10)
    assert words.json()["chatbot_words_used"] > 0


def test_two_messages_at_once_get_one_answer_each(system, region, bot):
    slug, zammad = region
    url = chat_url(system, slug, "de", uuid.uuid4())
    requests.post(url, files={"message": (None, "Erste")}, timeout=30)
    sent: list[int] = []
    posts = [
        threading.Thread(
            target=lambda text=text: sent.append(
                requests.post(url, files={"message": (None, text)}, timeout=30).status_code
            )
        )
        for text in ("Zweite", "Dritte")
    ]
    for thread in posts:
        thread.start()
    for thread in posts:
        thread.join()
    assert sent == [200, 200]
    chat = wait_for(
        lambda: requests.get(url, timeout=10).json(),
        lambda c: not c["chatbot_typing"] and len(c["messages"]) >= 6,
    )
    answers = [m for m in chat["messages"] if m["automatic_answer"]]
    assert len(answers) == 3 and len(chat["messages"]) == 6
    time.sleep(1)
    assert len([a for a in zammad.articles.values() if not a["internal"]]) == 6


def _json_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_one_message_is_followed_by_its_trace_id_through_queue_zammad_and_webhook(system, region, bot):
    _url, _admin, logs = system
    slug, zammad = region
    device, trace = str(uuid.uuid4()), "trace-" + uuid.uuid4().hex
    chat = chat_url(system, slug, "de", device)
    sent = requests.post(
        chat, files={"message": (None, "Wo ist das Rathaus?")}, headers={"X-Request-Id": trace}
    )
    assert sent.status_code == 200 and sent.headers["X-Request-Id"] == trace
    answered = wait_for(lambda: requests.get(chat, timeout=10).json(), lambda c: not c["chatbot_typing"])
    assert len(answered["messages"]) == 2
    zammad.wait_for_webhooks()
    # The article of the message and the chatbot's answer carry it in Zammad ...
    ours = [a for a in zammad.articles.values() if a["message_id"] == "<%s@integreat-chat>" % trace]
    assert {a["sender"] for a in ours} >= {"Customer", "Agent"}
    time.sleep(1)  # the worker's and the webhook's lines are written
    api, worker = _json_lines(logs / "api.log"), _json_lines(logs / "worker.log")
    # ... and the API's, the worker's and the webhook's lines carry it.
    assert any(line.get("request_id") == trace and line.get("route") for line in api)
    assert any(line.get("event") == "webhook" and line.get("trace_id") == trace for line in api)
    job = [line for line in worker if line.get("trace_id") == trace]
    assert job and job[0]["job"] == "chatbot" and "answered" in job[0]["outcome"]
    text = (logs / "api.log").read_text() + (logs / "worker.log").read_text()
    assert device not in text and "Rathaus" not in text


def test_metrics_sum_the_api_and_the_worker_and_parse_with_prometheus_client(system, region, bot):
    url, _admin, _logs = system
    slug, _zammad = region
    chat = chat_url(system, slug, "de", uuid.uuid4())
    assert requests.post(chat, files={"message": (None, "Hallo")}, timeout=30).status_code == 200
    wait_for(lambda: requests.get(chat, timeout=10).json(), lambda c: not c["chatbot_typing"])
    time.sleep(0.5)
    scraped = requests.get(url + "/metrics", timeout=10)
    assert scraped.status_code == 200 and scraped.headers["Content-Type"].startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    assert samples[("integreat_chat_requests_total", (("kind", "first_message"),))] >= 1  # the API's
    assert samples[("integreat_chat_chatbot_jobs_total", (("outcome", "queued"),))] >= 1
    assert samples[("integreat_chat_chatbot_jobs_total", (("outcome", "answered"),))] >= 1  # the worker's
    assert samples[("integreat_chat_chatbot_job_age_seconds_count", ())] >= 1
    assert samples[("integreat_chat_zammad_calls_total", (("outcome", "ok"),))] >= 2
    assert slug not in scraped.text  # no region as a label
