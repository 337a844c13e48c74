"""A poll refreshing from Zammad racing a webhook delivery, on DynamoDB Local: two app
instances in one process (one polling, one receiving the webhook), Zammad over HTTP.

The interleaving is forced: the poll's answer from Zammad is delayed (network latency),
so the poll takes Zammad's list, then the agent replies and the webhook stores the reply,
then the poll writes its older list. The reply must survive that write."""

import json
import threading
import time

from chalicelib.api import ChatApi
from chalicelib.platform.config import load_settings
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.user_chat.records import UserChatRecord
from chalicelib.web.http import Request
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import unique_prefix
from tests.support.regions import chat_region
from tests.support.signing import hub_signature

CHAT = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
PARAMS = {"region": "race", "language_or_device": "de", "device_id": "device-1"}
TOKEN, SECRET = "race-webhook-token-0123456789", "race-webhook-secret-0123456789"
LATENCY = 0.4


def test_a_poll_racing_a_webhook_loses_no_message(dynamodb_local):
    settings = load_settings(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local,
            "MESSAGE_CACHE_SECONDS": "0",
            "CHAT_TABLE_PREFIX": unique_prefix(),
            "API_RATE_LIMIT_WINDOW": "100000",
        }
    )
    with ZammadEmulator(token="z") as zammad:
        poller, receiver = ChatApi(aws_services(settings)), ChatApi(aws_services(settings))
        create_tables(ALL_MODELS)
        poller.services.regions.put(
            "race", chat_region(zammad, zammad_webhook_token=TOKEN, zammad_webhook_secret=SECRET)
        )
        sent = poller.handle(
            Request(
                "POST",
                CHAT,
                PARAMS,
                headers={"Content-Type": "application/json"},
                body=b'{"message": "Hallo"}',
            )
        )
        assert sent.status == 200
        [ticket_id] = zammad.tickets
        # The poller read the region before any delivery, so (cache 0) each of its polls asks
        # Zammad, while the receiver stores each reply that the webhook announces.
        zammad.set_fault(latency=LATENCY)
        replies = []
        for index in range(3):
            polled = []
            poll = threading.Thread(
                target=lambda polled=polled: polled.append(poller.handle(Request("GET", CHAT, PARAMS)).status)
            )
            poll.start()
            time.sleep(LATENCY / 2)  # Zammad has made the poll's answer; it is on its way
            article = zammad.add_article(ticket_id, "<p>reply %d</p>" % index)
            replies.append(article["id"])
            body = json.dumps({"ticket": zammad.tickets[ticket_id], "article": article}).encode()
            delivered = receiver.handle(
                Request(
                    "POST",
                    "/api/v3/webhook/zammad",
                    query={"token": TOKEN},
                    body=body,
                    headers={
                        "X-Zammad-Delivery": "d%d" % index,
                        "X-Hub-Signature": hub_signature(SECRET, body),
                    },
                )
            )
            assert delivered.body["actions"] == ["article %d: agent message stored" % article["id"]]
            poll.join()
            assert polled == [200]
            stored = [int(m.id) for m in UserChatRecord.get("race#device-1", consistent_read=True).messages]
            assert set(replies) <= set(stored), "a poll overwrote a reply the webhook stored"
