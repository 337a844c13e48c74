"""Real time for the chatbot's answer (docs/realtime.md), end to end: the app (gunicorn) and
`python -m functions.worker` in their own processes, the queue on moto's server, DynamoDB
Local, the Zammad and chatbot emulators; both send their events to the local WebSocket
server's management API. A device that subscribed while the bot typed gets an event when
the answer is stored (and one when Zammad's webhook echoes it), and its poll shows it."""

import json
import secrets
import subprocess
import sys
import uuid

import requests
from websockets.sync.client import connect

from chalicelib.chatbot.queue import SqsJobQueue
from chalicelib.platform.config import load_settings
from chalicelib.services import aws_services
from devtools.chatbot_emulator import ChatbotEmulator
from devtools.zammad_emulator import ZammadEmulator
from functions.websocket import WebSocketServer
from tests.conftest import PROJECT, python_env, running_api
from tests.support.regions import put_region
from tests.support.servers import free_port


def test_the_chatbots_answer_arrives_as_an_event(dynamodb_local, moto_server, tmp_path):
    management_port = free_port()
    with ChatbotEmulator(delay=2.0) as bot, ZammadEmulator(token="rt-bot-zammad") as zammad:
        settings = {
            "INTEGREAT_CHAT_BACKEND_URL": bot.url,
            "AWS_ENDPOINT_URL_SQS": moto_server,
            "CHATBOT_QUEUE_NAME": "q" + uuid.uuid4().hex[:12],
            "API_RATE_LIMIT_WINDOW": 100000,
            "WEBSOCKET_ENDPOINT": "http://127.0.0.1:%d" % management_port,
        }
        with running_api(dynamodb_local, tmp_path / "api.log", server="gunicorn", **settings) as (
            url,
            admin,
            env,
        ):
            SqsJobQueue(load_settings(env)).create()
            with open(tmp_path / "worker.log", "w") as log:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "functions.worker", "--wait", "1"],
                    cwd=str(PROJECT), env=python_env(**env), stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
            try:
                with WebSocketServer(
                    aws_services(load_settings(env)), management_port=management_port
                ) as channel:
                    token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
                    region = put_region(
                        url, admin, zammad, zammad_webhook_token=token, zammad_webhook_secret=secret,
                        chatbot_enabled=True, default_language="de",
                    )  # fmt: skip
                    zammad.configure_webhook("%s/api/v3/webhook/zammad/?token=%s" % (url, token), secret)
                    device = str(uuid.uuid4())
                    chat = "%s/api/v3/%s/de/chat/%s/" % (url, region, device)
                    sent = requests.post(chat, files={"message": (None, "Wo melde ich mich an?")}, timeout=30)
                    assert sent.json()["chatbot_typing"] is True
                    subscribe = {
                        "action": "subscribe",
                        "region": region,
                        "language": "de",
                        "device_id": device,
                    }
                    with connect(channel.ws_url, open_timeout=5) as client:
                        client.send(json.dumps(subscribe))
                        assert json.loads(client.recv(timeout=5))["type"] == "subscribed"
                        # Two stores may each send an event, in either order: Zammad's webhook
                        # echoing the bot's article, and the worker ending the typing. A client
                        # polls on each; the last event's ETag is what the poll of the answer says.
                        events = [json.loads(client.recv(timeout=30))]
                        for _ in range(3):
                            poll = requests.get(chat, timeout=10)
                            body = poll.json()
                            if poll.headers["ETag"] == events[-1]["etag"] and not body["chatbot_typing"]:
                                break
                            events.append(json.loads(client.recv(timeout=10)))  # a later store's
                    assert {event["type"] for event in events} == {"chat"}
                    assert len(events) <= 2
                    assert (
                        body["chatbot_typing"] is False and body["messages"][-1]["automatic_answer"] is True
                    )
                    assert poll.headers["ETag"] == events[-1]["etag"]
            finally:
                worker.terminate()
                worker.wait(timeout=30)
