"""Push end to end (docs/push.md), over real HTTP and a real queue: the app (gunicorn) on
DynamoDB Local, the queue on moto's server (SQS keeps each push job for its DelaySeconds),
`python -m functions.worker` in its own process, the Zammad emulator telling our webhook of
an agent's reply, and the FCM stand-in. The person never polls after her message: the push
arrives within the delay and a few seconds; had she polled, none would."""

import json
import secrets
import time
import uuid

import pytest
import requests
from websockets.sync.client import connect

from chalicelib.chatbot.queue import SqsJobQueue
from chalicelib.platform.config import load_settings
from chalicelib.services import aws_services
from devtools.fcm_standin import FcmStandIn
from devtools.zammad_emulator import ZammadEmulator
from functions.websocket import WebSocketServer
from tests.conftest import assert_nothing_personal, running_api
from tests.support.regions import put_region
from tests.support.servers import free_port, worker

DELAY = 2  # PUSH_DELAY_SECONDS here: short, so the test is
FCM_TOKEN = "fcm-registration-token-" + "y" * 140


@pytest.fixture(scope="module")
def system(dynamodb_local, moto_server, tmp_path_factory):
    logs = tmp_path_factory.mktemp("push")
    management_port = free_port()  # real time's management API, where the API's events go
    with FcmStandIn() as fcm:
        settings = {
            "FCM_CREDENTIALS": json.dumps(fcm.service_account()),
            "FCM_URL": fcm.send_url,
            "PUSH_DELAY_SECONDS": DELAY,
            "AWS_ENDPOINT_URL_SQS": moto_server,
            "CHATBOT_QUEUE_NAME": "q" + uuid.uuid4().hex[:12],
            "API_RATE_LIMIT_WINDOW": 100000,
            "WEBSOCKET_ENDPOINT": "http://127.0.0.1:%d" % management_port,
        }
        with running_api(dynamodb_local, logs / "api.log", server="gunicorn", **settings) as (
            url,
            admin,
            env,
        ):
            SqsJobQueue(load_settings(env)).create()
            with (
                worker(env, logs / "worker.log"),
                WebSocketServer(aws_services(load_settings(env)), management_port=management_port) as channel,
            ):
                yield url, admin, fcm, channel.ws_url
        worker_log = (logs / "worker.log").read_text()
        assert "Traceback" not in worker_log
        assert_nothing_personal(worker_log, FCM_TOKEN)


@pytest.fixture
def chat(system):
    url, admin, fcm, ws_url = system
    with ZammadEmulator(token="zammad-token") as zammad:
        token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        slug = put_region(url, admin, zammad, zammad_webhook_token=token, zammad_webhook_secret=secret)
        zammad.configure_webhook("%s/api/v3/webhook/zammad/?token=%s" % (url, token), secret)
        path = "%s/api/v3/%s/de/chat/%s/" % (url, slug, uuid.uuid4())
        assert requests.post(path, data={"message": "Hallo"}, timeout=30).status_code == 200
        registered = requests.post(path + "push/", json={"fcm_token": FCM_TOKEN}, timeout=10)
        assert registered.status_code == 200 and registered.json() == {"push": "fcm"}
        yield path, zammad, fcm, ws_url


def test_an_answer_never_polled_for_arrives_as_one_push_within_the_delay(chat):
    _path, zammad, fcm, _ws_url = chat
    before = len(fcm.messages)
    replied = time.monotonic()
    zammad.add_article(next(iter(zammad.tickets)), "<p>Ihr Termin ist am Montag.</p>")  # the webhook tells us
    arrived = fcm.wait_for(before + 1, DELAY + 10)
    took = time.monotonic() - replied
    assert len(arrived) == before + 1, "no push within %d s" % (DELAY + 10)
    assert took >= DELAY - 0.5  # not before the person had the delay to see it herself
    assert arrived[-1]["token"] == FCM_TOKEN and "Termin" not in json.dumps(arrived[-1])
    time.sleep(DELAY + 1)
    assert len(fcm.messages) == before + 1  # one push, not one per delivery or retry


def test_an_answer_polled_for_within_the_delay_makes_no_push(chat):
    path, zammad, fcm, _ws_url = chat
    before = len(fcm.messages)
    zammad.add_article(next(iter(zammad.tickets)), "<p>Bitte bringen Sie Ihren Pass mit.</p>")
    deadline = time.monotonic() + DELAY - 0.5
    while time.monotonic() < deadline:  # the app open: it polls, and shows the answer
        if "Pass" in json.dumps(requests.get(path, timeout=10).json()):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the answer did not reach a poll within the delay")
    time.sleep(DELAY + 3)
    assert len(fcm.messages) == before


def test_an_answer_told_to_the_open_app_by_an_event_makes_no_push(chat):
    """The app is open and subscribed: the webhook's event reaches it within the delay (it
    then polls; this test does not), which counts as seen."""
    path, zammad, fcm, ws_url = chat
    region, language, _chat, device = path.rstrip("/").split("/")[-4:]
    before = len(fcm.messages)
    with connect(ws_url, open_timeout=5) as channel:
        channel.send(
            json.dumps({"action": "subscribe", "region": region, "language": language, "device_id": device})
        )
        assert json.loads(channel.recv(timeout=5))["type"] == "subscribed"
        zammad.add_article(next(iter(zammad.tickets)), "<p>Die Unterlagen sind da.</p>")
        assert json.loads(channel.recv(timeout=DELAY))["type"] == "chat"
    time.sleep(DELAY + 3)
    assert len(fcm.messages) == before
