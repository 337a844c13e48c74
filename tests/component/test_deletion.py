"""Delete on request (docs/privacy.md, "Delete on request"), in process: ChatApi on the
in-memory stores and on moto (DynamoDB and S3), the Zammad emulator over loopback."""

import base64
import json
import time

import boto3
import pytest
from moto import mock_aws

from chalicelib.api import ChatApi
from chalicelib.platform.config import load_settings
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.user_chat.deletion import DELETED_NOTE_SUBJECT
from chalicelib.web.http import Request
from tests.support.clock import Clock
from tests.support.files import png, upload
from tests.support.memory import memory_services
from tests.support.regions import chat_region
from tests.support.waiting import in_thread, wait_for

CHAT = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
ENABLED = "/api/v3/{region}/{language_or_device}/is_chat_enabled"
BUCKET = "integreat-chat-files-deletion"


@pytest.fixture(params=["memory", "moto"])
def world(request, zammad):
    clock = Clock(now=time.time())
    region = chat_region(zammad, chat_beta_tester_percentage=100)
    with mock_aws():  # S3 for both; the memory world keeps its tables in memory
        boto3.client("s3", region_name="eu-central-1").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        settings = load_settings({"ATTACHMENT_BUCKET": BUCKET})
        if request.param == "memory":
            api = ChatApi(memory_services(settings, clock=clock))
        else:
            api = ChatApi(aws_services(settings, clock=clock))
            create_tables(ALL_MODELS)
        api.services.regions.put("augsburg", region)
        yield api


def call(api, method, device="device-1", body=None, template=CHAT):
    params = {"region": "augsburg", "language_or_device": "de", "device_id": device}
    if template == ENABLED:
        params = {"region": "augsburg", "language_or_device": device}
    response = api.handle(
        Request(
            method,
            template,
            params,
            headers={"Content-Type": "application/json"},
            body=json.dumps(body).encode() if body is not None else b"",
        )
    )
    return response.status, response.body


def test_delete_then_poll_is_404_and_the_ticket_is_closed_with_a_note(world, zammad):
    call(world, "GET", template=ENABLED)
    assert call(world, "POST", body={"message": "Hallo"})[0] == 200
    assert call(world, "DELETE") == (200, {"success": True, "status": "The chat was deleted."})
    assert call(world, "GET") == (404, {"error": "Chat not found."})
    (ticket,) = zammad.tickets.values()
    assert ticket["state"] == "closed"
    note = zammad.articles[ticket["article_ids"][-1]]
    assert note["internal"] is True and note["subject"] == DELETED_NOTE_SUBJECT
    assert world.services.user_chats._draws.get("augsburg#device-1") is None  # the draw is gone
    assert call(world, "DELETE") == (404, {"error": "Chat not found."})  # a second delete


def test_only_the_named_devices_chat_is_deleted(world, zammad):
    call(world, "POST", "device-1", {"message": "Hallo"})
    call(world, "POST", "device-2", {"message": "Hallo"})
    assert call(world, "DELETE", "device-2")[0] == 200
    assert call(world, "GET", "device-1")[0] == 200
    assert sorted(t.get("state", "new") for t in zammad.tickets.values()) == ["closed", "new"]
    assert call(world, "DELETE", "device-3") == (404, {"error": "Chat not found."})


def test_a_new_message_after_deletion_opens_a_new_ticket(world, zammad):
    call(world, "POST", body={"message": "Hallo"})
    call(world, "DELETE")
    status, chat = call(world, "POST", body={"message": "Neu"})
    assert status == 200 and [m["content"] for m in chat["messages"]] == ["Neu"]
    assert len(zammad.tickets) == 2


def test_a_failing_zammad_leaves_everything_for_the_retry(world, zammad):
    call(world, "POST", body={"message": "Hallo"})
    zammad.set_fault(500, count=1, request="PUT /api/v1/tickets/1")
    assert call(world, "DELETE")[0] == 502
    assert call(world, "GET")[0] == 200  # nothing deleted
    assert call(world, "DELETE")[0] == 200
    assert call(world, "GET")[0] == 404


def test_a_ticket_zammad_already_deleted_is_no_obstacle(world, zammad):
    call(world, "POST", body={"message": "Hallo"})
    zammad.api("DELETE", "/api/v1/tickets/1", None)
    assert call(world, "DELETE")[0] == 200


def test_where_the_region_allows_it_the_ticket_is_deleted(world, zammad):
    world.services.regions.put("augsburg", {"zammad_deletes_tickets": True})
    world.services.region_cache.forget("augsburg")
    call(world, "POST", body={"message": "Hallo"})
    assert call(world, "DELETE")[0] == 200
    assert zammad.tickets == {}


def test_a_draw_alone_is_deleted_too(world):
    assert call(world, "GET", template=ENABLED) == (200, {"is_chat_enabled": True})
    assert call(world, "DELETE")[0] == 200
    assert call(world, "DELETE")[0] == 404


def test_the_chats_files_are_deleted(world, zammad):
    call(world, "POST", body={"message": "Hallo"})
    status, form = call(
        world,
        "POST",
        body={"filename": "a.png", "content_type": "image/png", "size": 71},
        template=CHAT + "/attachments",
    )
    assert status == 201 and upload(form, png()).status_code == 204
    call(world, "POST", body={"message": "Brief", "attachments": [form["id"]]})
    s3 = boto3.client("s3", region_name="eu-central-1")
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1
    assert call(world, "DELETE")[0] == 200
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


# --- races with the deletion (docs/privacy.md, "Nothing after the deletion's note"), each made
# certain by a slowed emulator: the other request is inside Zammad when the DELETE comes.


def test_a_message_being_sent_makes_the_deletion_wait_and_lands_before_the_note(world, zammad):
    call(world, "POST", body={"message": "Hallo"})
    zammad.set_fault(delay=1.0, count=1, request="POST /api/v1/ticket_articles")
    sender, sent = in_thread(lambda: call(world, "POST", body={"message": "Noch eine Frage"}))
    wait_for(lambda: ("POST", "/api/v1/ticket_articles") in zammad.requests)
    status, body = call(world, "DELETE")
    assert (status, body) == (503, {"error": "This chat is busy. Please try again."})
    sender.join()
    assert sent[0][0] == 200
    assert call(world, "DELETE")[0] == 200
    bodies = [zammad.articles[i]["body"] for i in zammad.tickets[1]["article_ids"]]
    assert (
        bodies[1] == "Noch eine Frage"
        and zammad.articles[zammad.tickets[1]["article_ids"][-1]]["subject"] == DELETED_NOTE_SUBJECT
    )


def test_a_message_after_the_deletion_began_is_not_sent_to_the_closed_ticket(world, zammad):
    call(world, "POST", body={"message": "Hallo"})
    zammad.set_fault(delay=1.0, count=1, request="PUT /api/v1/tickets/1")  # the note, slowed
    deleter, deleted = in_thread(lambda: call(world, "DELETE"))
    wait_for(lambda: ("PUT", "/api/v1/tickets/1") in zammad.requests)
    assert call(world, "POST", body={"message": "Zu spät"})[0] == 503  # busy: sent again, a new chat
    deleter.join()
    assert deleted[0][0] == 200
    first, note = (zammad.articles[i] for i in zammad.tickets[1]["article_ids"])  # nothing between
    assert first["body"] == "Hallo" and note["subject"] == DELETED_NOTE_SUBJECT
    assert call(world, "POST", body={"message": "Zu spät"})[0] == 200
    assert len(zammad.tickets) == 2  # now it opens a new chat


def test_a_download_in_flight_leaves_no_copy_behind(world, zammad):
    call(world, "POST", body={"message": "Hallo"})
    zammad.add_article(
        1,
        "Formular",
        attachments=[
            {"filename": "F.png", "data": base64.b64encode(png()).decode(), "mime-type": "image/png"}
        ],
    )
    world.services.clock.now += 61  # past the cache: the poll reads the file list
    url = call(world, "GET")[1]["messages"][-1]["attachments"][0]["url"]
    path, _, query = url.partition("?")
    parts = path.strip("/").split("/")
    params = {"region": "augsburg", "language_or_device": "de", "device_id": "device-1"}
    params.update(article_id=parts[7], attachment_id=parts[8])
    request = Request("GET", CHAT + "/attachments/{article_id}/{attachment_id}", params,
                      query=dict(pair.split("=") for pair in query.split("&")))  # fmt: skip
    zammad.set_fault(delay=1.0, count=1, request="GET /api/v1/ticket_attachment")
    downloader, answered = in_thread(lambda: world.handle(request).status)
    wait_for(lambda: any(p.startswith("/api/v1/ticket_attachment") for _m, p in zammad.requests))
    assert call(world, "DELETE")[0] == 200
    downloader.join()
    assert answered == [404]  # the chat went while its file was copied: no link, no copy
    assert boto3.client("s3", region_name="eu-central-1").list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    assert call(world, "DELETE") == (404, {"error": "Chat not found."})
