"""Every function of the stack, from the zip `make deploy` shipped, under AWS's runtime
interface client, with the events AWS sends it: the API (the app's requests and Zammad's
webhook), the chatbot's worker (an SQS batch with a job, an upload notification and a job
that fails), each scheduled job (EventBridge's Scheduled Event), and the WebSocket routes.
Against the stack's own tables and queue on the emulated account, and the Zammad emulator."""

import json
import time
import uuid

import pytest

from chalicelib.author_chat.store import ROOM, AuthorMessageRecord
from chalicelib.jobs import JOBS as JOB_TABLE
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.realtime.connections import ConnectionRecord
from chalicelib.user_chat.records import UserChatRecord
from devtools.chatbot_emulator import ChatbotEmulator
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import JWT_SECRET
from tests.rehearsal.events import (
    rest_event,
    s3_upload_notification,
    scheduled_event,
    sqs_event,
    websocket_event,
)
from tests.support.regions import chat_region

TABLES = "integreat-chat-"  # the prod stage's prefix
ADMIN = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "operator", ["admin"])}
DAY = 86400


class Api:
    """The API function and the REST API's body that routes to it."""

    def __init__(self, function, body):
        self.function, self.body = function, body

    def call(self, method, url, headers=None, body=None):
        answer = self.function.invoke(rest_event(self.body, method, url, headers, body))
        assert answer.error is None, answer.error
        result = answer.result
        text = result.get("body") or ""
        parsed = json.loads(text) if text and text[0] in "[{" else text
        return result["statusCode"], {k.lower(): v for k, v in result["headers"].items()}, parsed


@pytest.fixture(scope="module")
def zammads():
    with ZammadEmulator(token="agent-a") as up, ZammadEmulator(token="agent-b") as failing:
        yield up, failing


@pytest.fixture(scope="module")
def chatbot():
    with ChatbotEmulator() as bot:
        yield bot


@pytest.fixture(scope="module")
def api(start_function, deployed, chatbot):
    function = start_function("APIHandler", INTEGREAT_CHAT_BACKEND_URL=chatbot.url)
    try:
        yield Api(function, deployed.template["Resources"]["RestAPI"]["Properties"]["Body"])
    finally:
        function.stop()


@pytest.fixture(scope="module")
def regions(api, zammads):
    """Two regions made through the admin API, as an operator makes them: one whose Zammad
    works, one whose Zammad will fail; both with the chatbot."""
    slugs = {}
    for name, zammad in zip(("up", "failing"), zammads, strict=True):
        slug = "r%s%s" % (name, uuid.uuid4().hex[:6])
        fields = chat_region(
            zammad,
            chat_beta_tester_percentage=100,
            zammad_webhook_token="webhook-token-" + slug,
            zammad_webhook_secret="webhook-secret-" + slug,
            chatbot_enabled=True,
        )
        status, _, body = api.call(
            "PUT", "/api/v3/admin/regions/%s" % slug, {**ADMIN, "Content-Type": "application/json"},
            json.dumps(fields).encode(),
        )  # fmt: skip
        assert status == 200, body
        slugs[name] = slug
    return slugs


def multipart(fields):
    """A form as the Integreat app's FormData sends it."""
    boundary = "----formdata-integreat-%s" % uuid.uuid4().hex[:12]
    parts = "".join(
        '--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, name, value)
        for name, value in fields.items()
    )
    return {"Content-Type": "multipart/form-data; boundary=" + boundary}, (
        parts + "--%s--\r\n" % boundary
    ).encode()


def first_message(api, region, device, text="Guten Tag, ich brauche Hilfe"):
    headers, body = multipart({"message": text})
    status, _, answer = api.call("POST", "/api/v3/%s/de/chat/%s/" % (region, device), headers, body)
    assert status == 200, answer
    return answer


def test_the_api_answers_the_app_and_zammads_webhook(api, regions, zammads, account):
    up, _ = zammads
    region, device = regions["up"], str(uuid.uuid4())
    status, _, answer = api.call("GET", "/api/v3/%s/%s/is_chat_enabled/" % (region, device))
    assert (status, answer) == (200, {"is_chat_enabled": True})

    sent = first_message(api, region, device)
    assert sent["messages"][0]["content"] == "Guten Tag, ich brauche Hilfe"
    [ticket] = up.tickets.values()
    assert ticket["title"] and up.articles[ticket["article_ids"][0]]["body"] == "Guten Tag, ich brauche Hilfe"

    chat = "/api/v3/%s/de/chat/%s/" % (region, device)
    status, headers, polled = api.call("GET", chat)
    assert status == 200 and headers["etag"]
    status, _, _ = api.call("GET", chat, {"If-None-Match": headers["etag"]})
    assert status == 304  # the app's poll when nothing changed

    # An agent answers in Zammad; its webhook's delivery, as it posts it, through API Gateway.
    up.configure_webhook("http://127.0.0.1:9/unused", "webhook-secret-" + region)
    up.add_article(ticket["id"], "<p>Wir helfen Ihnen gern.</p>")
    up.wait_for_webhooks()
    [delivery] = [d for d in up.deliveries.values() if d["url"].endswith("/unused")]
    url = "/api/v3/webhook/zammad/?token=webhook-token-" + region
    status, _, body = api.call("POST", url, delivery["headers"], delivery["body"])
    assert status == 200, body
    status, _, polled = api.call("GET", chat, {"If-None-Match": headers["etag"]})
    assert status == 200 and len(polled["messages"]) == 2
    assert (
        polled["messages"][-1]["content"] == "<p>Wir helfen Ihnen gern.</p>"
    )  # sanitised, as the app shows it
    stored = account.client("dynamodb").get_item(
        TableName=TABLES + UserChatRecord.base_table_name, Key={"chat_key": {"S": "%s#%s" % (region, device)}}
    )["Item"]
    assert stored["ticket_id"]["N"] == str(ticket["id"])


def test_the_worker_answers_a_batch_and_names_the_message_that_failed(
    start_function, stack_functions, api, regions, zammads, account, chatbot
):
    failing = zammads[1]
    answered, stuck = str(uuid.uuid4()), str(uuid.uuid4())
    assert first_message(api, regions["up"], answered)["chatbot_typing"] is True
    assert first_message(api, regions["failing"], stuck)["chatbot_typing"] is True
    sqs = account.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=TABLES + "chatbot")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    jobs = {json.loads(m["Body"])["region"]: m for m in messages}
    bucket = stack_functions["ChatbotWorker"]["Environment"]["Variables"]["ATTACHMENT_BUCKET"]
    upload = {"MessageId": str(uuid.uuid4()), "Body": s3_upload_notification(bucket, "uploads/x/y.pdf", 10)}
    failing.refuse_connections()  # its job cannot reach Zammad: it must come again
    batch = sqs_event(queue_arn, [jobs[regions["up"]], upload, jobs[regions["failing"]]])
    # The queue reaches the worker as the stack wired it: one message at a time, failures reported.
    [mapping] = account.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    worker_arn = stack_functions["ChatbotWorker"]["FunctionArn"]
    assert (mapping["EventSourceArn"], mapping["FunctionArn"]) == (queue_arn, worker_arn)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and mapping["BatchSize"] == 1
    worker = start_function("ChatbotWorker", INTEGREAT_CHAT_BACKEND_URL=chatbot.url)
    try:
        answer = worker.invoke(batch)
    finally:
        worker.stop()
    assert answer.error is None, answer.error
    assert answer.result == {"batchItemFailures": [{"itemIdentifier": jobs[regions["failing"]]["MessageId"]}]}
    _, _, polled = api.call("GET", "/api/v3/%s/de/chat/%s/" % (regions["up"], answered))
    assert [m["automatic_answer"] for m in polled["messages"]] == [False, True]
    log = worker.log_path.read_text()
    assert '{"job": "uploads", "kept": 0, "deleted": 1}' in log and '"failed": "BadGateway"' in log


JOBS = ("PurgeAuthorMessages", "ForgetExpiredChats", "SyncCmsRegions", "ZammadDoctor")


@pytest.mark.parametrize("job", JOBS)
def test_each_scheduled_job_runs_from_its_rule(
    job, start_function, stack_functions, api, regions, zammads, account, chatbot
):
    """EventBridge's Scheduled Event, from the rule the stack made, to the job's function."""
    # The rule the stack made that targets this function, at the job's rate.
    events = account.client("events")
    function_arn = stack_functions[job]["FunctionArn"]
    [rule] = [
        rule
        for rule in events.list_rules()["Rules"]
        if [t["Arn"] for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]] == [function_arn]
    ]
    name = {
        "PurgeAuthorMessages": "purge-author-messages",
        "ForgetExpiredChats": "forget-expired-chats",
        "SyncCmsRegions": "sync-cms-regions",
        "ZammadDoctor": "zammad-doctor",
    }[job]
    assert rule["ScheduleExpression"] == "rate(%d minutes)" % JOB_TABLE[name].every_minutes
    rule_arn = rule["Arn"]
    dynamodb = account.client("dynamodb")
    if job == "PurgeAuthorMessages":
        old = _old_author_message(dynamodb)
        author = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "alice", ["author"])}
        status, _, fresh = api.call(
            "POST", "/api/v3/author-chat/messages", {**author, "Content-Type": "application/json"},
            json.dumps({"text": "Heute neu"}).encode(),
        )  # fmt: skip
        assert status in (200, 201), fresh
    if job == "ForgetExpiredChats":
        device = str(uuid.uuid4())
        first_message(api, regions["up"], device, "Eine alte Frage")
        key = {"chat_key": {"S": "%s#%s" % (regions["up"], device)}}
        table = TABLES + UserChatRecord.base_table_name
        ticket_id = int(dynamodb.get_item(TableName=table, Key=key)["Item"]["ticket_id"]["N"])
        dynamodb.update_item(
            TableName=table, Key=key, UpdateExpression="SET last_activity = :then",
            ExpressionAttributeValues={":then": {"N": str(int(time.time()) - 40 * DAY)}},
        )  # fmt: skip
    if job == "ZammadDoctor":
        zammads[1].refuse_connections()
    # What an operator sets beside the template (docs/deploying.md): without them the doctor
    # rightly finds every region failing.
    settings = {"PUBLIC_BASE_URL": "https://cms.example.org", "INTEGREAT_CHAT_BACKEND_URL": chatbot.url}
    function = start_function(job, **(settings if job == "ZammadDoctor" else {}))
    try:
        answer = function.invoke(scheduled_event(rule_arn))
    finally:
        function.stop()
    assert answer.error is None, answer.error
    report = answer.result
    assert report["job"] == name
    if job == "PurgeAuthorMessages":
        assert report["deleted"] >= 1
        table = TABLES + AuthorMessageRecord.base_table_name
        assert "Item" not in dynamodb.get_item(TableName=table, Key=old)
        left = dynamodb.query(
            TableName=table,
            KeyConditionExpression="room = :room",
            ExpressionAttributeValues={":room": {"S": ROOM}},
        )["Items"]
        assert [item["text"]["S"] for item in left] == ["Heute neu"]
    if job == "ForgetExpiredChats":
        assert report["forgotten"] == 1 and report["closed"] == 1
        assert "Item" not in dynamodb.get_item(TableName=table, Key=key)
        assert zammads[0].tickets[ticket_id]["state"] == "closed"
    if job == "SyncCmsRegions":
        assert report["skipped"] == "CMS_URL is not set"  # the template sets none; an operator may
    if job == "ZammadDoctor":
        assert report["failing"] == 1
        lines = [
            json.loads(line[line.index("{") :])
            for line in function.log_path.read_text().splitlines()
            if '"zammad-doctor"' in line
        ]
        assert [line["region"] for line in lines if "failed" in line] == [regions["failing"]]


def _old_author_message(dynamodb):
    """An author message written 40 days ago, as the API wrote it then."""
    then = time.time() - 40 * DAY
    message_id = "%013d-%s" % (int(then * 1000), uuid.uuid4().hex[:8])
    item = {
        "room": {"S": ROOM},
        "message_id": {"S": message_id},
        "text": {"S": "Vor langer Zeit"},
        "sender_id": {"S": "bob"},
        "sender_name": {"S": "Bob"},
        "sender_email": {"S": ""},
        "sent_at": {"S": time.strftime("%Y-%m-%dT%H:%M:%S.000000+0000", time.gmtime(then))},
        "expires_at": {"N": str(int(then) + 30 * DAY)},
    }
    dynamodb.put_item(TableName=TABLES + AuthorMessageRecord.base_table_name, Item=item)
    return {"room": item["room"], "message_id": item["message_id"]}


def test_the_websocket_routes_connect_subscribe_and_disconnect(
    start_function, api, regions, management_api, account
):
    device = str(uuid.uuid4())
    first_message(api, regions["up"], device)
    routes = {
        "$connect": "WebsocketConnect",
        "$default": "WebsocketMessage",
        "$disconnect": "WebsocketDisconnect",
    }
    functions = {route: start_function(name) for route, name in routes.items()}
    try:
        connection = "c-" + uuid.uuid4().hex[:10] + "="
        connected = functions["$connect"].invoke(websocket_event("$connect", connection))
        assert connected.result == {"statusCode": 200}, connected
        subscribe = {"action": "subscribe", "region": regions["up"], "language": "de", "device_id": device}
        answered = functions["$default"].invoke(
            websocket_event("$default", connection, json.dumps(subscribe))
        )
        assert answered.error is None and answered.result == {"statusCode": 200}
        assert (connection, {"type": "subscribed", "channel": "chat"}) in management_api.posted
        table = TABLES + ConnectionRecord.base_table_name
        stored = account.client("dynamodb").get_item(
            TableName=table, Key={"connection_id": {"S": connection}}
        )
        assert stored["Item"]["channel"]["S"].startswith("chat:")
        gone = functions["$disconnect"].invoke(websocket_event("$disconnect", connection))
        assert gone.result == {"statusCode": 200}
        assert "Item" not in account.client("dynamodb").get_item(
            TableName=table, Key={"connection_id": {"S": connection}}
        )
    finally:
        for function in functions.values():
            function.stop()
