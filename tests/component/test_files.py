"""Files in the user chat (docs/files.md), in process: ChatApi on moto (DynamoDB and S3),
the Zammad emulator over loopback, the app's uploads posted to moto's S3 as the app posts
them to the bucket. The HTTP end to end is tests/integration/test_files_http.py."""

import html
import json
import re
import time
from base64 import b64decode
from urllib.parse import quote_plus

import boto3
import pytest
import requests
from moto import mock_aws

from chalicelib import jobs
from chalicelib.api import ChatApi
from chalicelib.platform.config import load_settings
from chalicelib.platform.times import utc_datetime
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.web.http import Request
from tests.support.clock import Clock
from tests.support.files import pdf, png, upload
from tests.support.regions import chat_region
from tests.support.signing import webhook_delivery

CHAT = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
FORM = CHAT + "/attachments"
FILE = CHAT + "/attachments/{article_id}/{attachment_id}"
BUCKET = "integreat-chat-files-test"
HOUR = 3600


@pytest.fixture
def world(zammad, request):
    clock = Clock(now=time.time())  # S3 stamps uploads with the real time
    env = {"ATTACHMENT_BUCKET": BUCKET, "ATTACHMENT_MAX_BYTES": "100000"}
    env.update(getattr(request, "param", {}))  # more settings, by indirect parametrisation
    with mock_aws():
        boto3.client("s3", region_name="eu-central-1").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        api = ChatApi(aws_services(load_settings(env), clock=clock))
        create_tables(ALL_MODELS)
        api.services.regions.put(
            "augsburg",
            chat_region(
                zammad,
                zammad_webhook_token="hook-token-for-tests",
                zammad_webhook_secret="hook-secret-for-the-tests",
            ),
        )
        yield api, clock


def call(api, method, template, body=None, device="device-1", query=None, **params):
    response = api.handle(
        Request(
            method,
            template,
            {"region": "augsburg", "language_or_device": "de", "device_id": device, **params},
            query=query,
            headers={"Content-Type": "application/json"},
            body=json.dumps(body).encode() if body is not None else b"",
        )
    )
    return response


def form(api, name="letter.png", content_type="image/png", size=71, device="device-1"):
    response = call(api, "POST", FORM, {"filename": name, "content_type": content_type, "size": size}, device)
    return response.status, response.body


def uploaded(api, data, name, content_type, device="device-1"):
    status, body = form(api, name, content_type, len(data), device)
    assert status == 201, body
    assert upload(body, data).status_code == 204
    return body["id"]


def send(api, text, ids, device="device-1"):
    response = call(api, "POST", CHAT, {"message": text, "attachments": ids}, device)
    return response.status, response.body


def poll(api, device="device-1"):
    response = call(api, "GET", CHAT, device=device)
    return response.status, response.body


def download(api, url, device=None):
    """Follow a message's link as the app does (the path and its query)."""
    path, _, query = url.partition("?")
    parts = path.strip("/").split("/")  # api v3 region language chat device attachments article file
    params = dict(pair.split("=") for pair in query.split("&"))
    return call(
        api,
        "GET",
        FILE,
        device=device or parts[5],
        query=params,
        article_id=parts[7],
        attachment_id=parts[8],
    )


def test_a_png_and_a_pdf_reach_zammad_as_one_article_with_both_files(world, zammad):
    api, _clock = world
    send(api, "Hallo", [])
    ids = [
        uploaded(api, png(), "Brief.png", "image/png"),
        uploaded(api, pdf(), "Bescheid.pdf", "application/pdf"),
    ]
    before = zammad.api_request_count()
    status, chat = send(api, "Können Sie mir das erklären?", ids)
    assert status == 200, chat
    article = zammad.articles[max(zammad.articles)]
    files = {entry["filename"]: zammad.files[entry["id"]] for entry in article["attachments"]}
    assert files["Brief.png"].data == png() and files["Brief.png"].content_type == "image/png"
    assert files["Bescheid.pdf"].data == pdf() and files["Bescheid.pdf"].content_type == "application/pdf"
    assert zammad.api_request_count() - before == 1  # the files cost no call of their own
    message = chat["messages"][-1]
    assert [(f["name"], f["type"], f["size"]) for f in message["attachments"]] == [
        ("Brief.png", "image/png", len(png())),
        ("Bescheid.pdf", "application/pdf", len(pdf())),
    ]


def test_an_upload_belongs_to_an_open_chat_of_a_device_the_chat_is_enabled_for(world, zammad):
    api, _clock = world
    assert form(api) == (404, {"error": "Chat not found."})  # nothing to belong to yet
    status, body = send(api, "Hallo", ["a" * 22])  # nor can a first message carry one
    assert status == 400 and "first message" in body["error"] and zammad.tickets == {}
    send(api, "Hallo", [])
    assert form(api)[0] == 201
    draws = api.services.user_chats._draws  # as if is_chat_enabled had said no to this device
    draws.forget("augsburg#device-1")
    draws.draw_once("augsburg#device-1", False, utc_datetime(time.time() + HOUR))
    assert form(api) == (403, {"error": "The chat is not enabled for this device."})


def test_a_later_message_with_a_file_is_one_zammad_call(world, zammad):
    api, _clock = world
    send(api, "Hallo", [])
    before = zammad.api_request_count()
    status, chat = send(api, "", [uploaded(api, pdf(), "Antrag.pdf", "application/pdf")])
    assert status == 200
    assert zammad.api_request_count() - before == 1
    last = chat["messages"][-1]
    assert last["content"] == "Antrag.pdf"  # files alone: the article names them
    assert last["attachments"][0]["name"] == "Antrag.pdf"


def test_an_agents_pdf_is_downloadable_by_that_device_only_and_not_after_its_link_expires(world, zammad):
    api, clock = world
    send(api, "Hallo", [])
    send(api, "Hallo", [], device="device-2")
    ticket_id = next(iter(zammad.tickets))
    zammad.add_article(
        ticket_id,
        "<p>Das Formular</p>",
        attachments=[
            {"filename": "Formular.pdf", "data": _b64(pdf("Formular")), "mime-type": "application/pdf"}
        ],
    )
    clock.now += 61  # past the cache window: the poll reads the ticket
    (file,) = poll(api)[1]["messages"][-1]["attachments"]
    assert (file["name"], file["type"]) == ("Formular.pdf", "application/pdf")

    response = download(api, file["url"])
    assert response.status == 302
    got = requests.get(response.headers["Location"], timeout=10)
    assert got.status_code == 200 and got.content == pdf("Formular")
    assert "Formular.pdf" in got.headers["Content-Disposition"]
    before = zammad.api_request_count()
    assert download(api, file["url"]).status == 302  # the copy is kept: Zammad is not asked again
    assert zammad.api_request_count() == before

    # Another device: the link is not its own (403); its own chat has no such file (404).
    assert download(api, file["url"], device="device-2").status == 403
    assert download(api, _resigned(api, file["url"], "device-2"), device="device-2").status == 404
    # A link altered in any part is refused.
    assert download(api, file["url"].replace("signature=", "signature=0")).status == 403
    assert download(api, file["url"].replace("expires=", "expires=9")).status == 403
    clock.now += 2 * HOUR + 1  # past its expiry (one to two hours)
    assert download(api, file["url"]).status == 403
    fresh = poll(api)[1]["messages"][-1]["attachments"][0]["url"]
    assert fresh != file["url"] and download(api, fresh).status == 302


def _agent_sends_a_form(zammad, body):
    zammad.add_article(
        next(iter(zammad.tickets)),
        body,
        attachments=[
            {"filename": "Formular <1>.pdf", "data": _b64(pdf("Formular")), "mime-type": "application/pdf"}
        ],
    )


@pytest.mark.parametrize("body", ["", "<p> </p>", "<p>&nbsp;<br></p>"])
def test_an_agents_file_without_words_is_named_in_the_content_today_s_app_reads(world, zammad, body):
    """Today's app reads `content` only: an empty agent bubble would hide the form."""
    api, clock = world
    send(api, "Hallo", [])
    _agent_sends_a_form(zammad, body)
    clock.now += 61
    message = poll(api)[1]["messages"][-1]
    assert message["content"] == "<p>Datei: Formular &lt;1&gt;.pdf</p>"  # no address known: no link
    assert [file["name"] for file in message["attachments"]] == ["Formular <1>.pdf"]


@pytest.mark.parametrize("world", [{"PUBLIC_BASE_URL": "https://cms.example"}], indirect=True)
def test_with_a_public_address_the_name_is_a_link_that_downloads_the_file(world, zammad):
    api, clock = world
    send(api, "Hallo", [])
    _agent_sends_a_form(zammad, "<p> </p>")
    clock.now += 61
    message = poll(api)[1]["messages"][-1]
    (file,) = message["attachments"]
    assert file["url"].startswith("/api/v3/")  # as before, for a client that reads attachments
    link = html.unescape(re.search(r'<a href="([^"]+)"', message["content"]).group(1))
    assert link == "https://cms.example" + file["url"]  # absolute: the web app's origin is another
    assert (
        message["content"].startswith("<p>Datei: <a href=")
        and "Formular &lt;1&gt;.pdf</a>" in message["content"]
    )
    response = download(api, link.removeprefix("https://cms.example"))
    assert response.status == 302
    assert requests.get(response.headers["Location"], timeout=10).content == pdf("Formular")
    clock.now += 2 * HOUR + 1  # each poll makes the link afresh, as attachments' urls
    fresh = html.unescape(re.search(r'<a href="([^"]+)"', poll(api)[1]["messages"][-1]["content"]).group(1))
    assert fresh != link and download(api, fresh.removeprefix("https://cms.example")).status == 302


def test_an_agents_words_with_a_file_stay_and_the_file_is_named_after_them(world, zammad):
    api, clock = world
    send(api, "Hallo", [])
    _agent_sends_a_form(zammad, "<p>Bitte <b>ausfüllen</b>.</p>")
    clock.now += 61
    assert poll(api)[1]["messages"][-1]["content"] == (
        "<p>Bitte <b>ausfüllen</b>.</p><p>Datei: Formular &lt;1&gt;.pdf</p>"
    )


def test_the_file_is_named_in_the_chat_s_language_and_the_person_s_own_stays_as_it_was(world, zammad):
    api, clock = world
    response = call(api, "POST", CHAT, {"message": "Hello"}, language_or_device="ar")
    assert response.status == 200, response.body
    file_id = uploaded(api, pdf("Brief"), "Brief.pdf", "application/pdf")
    sent = call(api, "POST", CHAT, {"message": "", "attachments": [file_id]}, language_or_device="ar")
    assert sent.status == 200, sent.body
    _agent_sends_a_form(zammad, "")
    clock.now += 61
    messages = call(api, "GET", CHAT, language_or_device="ar").body["messages"]
    assert messages[-1]["content"] == "<p>ملف: Formular &lt;1&gt;.pdf</p>"
    assert messages[-2]["role"] == "user" and messages[-2]["content"] == "Brief.pdf"


def test_a_page_named_as_one_but_checked_as_a_pdf_travels_as_a_pdf(world, zammad):
    """The name must agree with the type its content was checked as: Zammad, the agents'
    computers and the download open a file by its name."""
    api, clock = world
    send(api, "Hallo", [])
    status, body = form(api, "Bescheid.html", "application/pdf", len(pdf()))
    assert status == 201 and body["filename"] == "Bescheid.html.pdf"
    assert upload(body, pdf()).status_code == 204
    status, chat = send(api, "Mein Bescheid", [body["id"]])
    assert status == 200, chat
    (file,) = zammad.articles[max(zammad.articles)]["attachments"]
    assert file["filename"] == "Bescheid.html.pdf"
    assert chat["messages"][-1]["attachments"][0]["name"] == "Bescheid.html.pdf"
    clock.now += 61
    got = requests.get(
        download(api, poll(api)[1]["messages"][-1]["attachments"][0]["url"]).headers["Location"]
    )
    assert "Bescheid.html.pdf" in got.headers["Content-Disposition"]


def test_an_agents_file_of_another_type_is_served_to_be_saved_never_rendered(world, zammad):
    api, clock = world
    send(api, "Hallo", [])
    page = b"<html><script>alert(document.domain)</script></html>"
    zammad.add_article(
        next(iter(zammad.tickets)),
        "Seite",
        attachments=[{"filename": "info.html", "data": _b64(page), "mime-type": "text/html"}],
    )
    clock.now += 61
    (file,) = poll(api)[1]["messages"][-1]["attachments"]
    response = download(api, file["url"])
    assert response.status == 302 and response.headers["X-Content-Type-Options"] == "nosniff"
    got = requests.get(response.headers["Location"], timeout=10)
    assert got.status_code == 200 and got.content == page
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"].startswith("attachment;")


def test_a_link_is_read_strictly_and_bad_spellings_are_refused_not_failed(world, zammad):
    """Each spelling of a link but the one written is refused (403, or 404 for a path that
    names no file); none is a 500."""
    api, clock = world
    send(api, "Hallo", [])
    zammad.add_article(
        next(iter(zammad.tickets)),
        "Formular",
        attachments=[{"filename": "F.pdf", "data": _b64(pdf()), "mime-type": "application/pdf"}],
    )
    clock.now += 61
    url = poll(api)[1]["messages"][-1]["attachments"][0]["url"]
    path, _, query = url.partition("?")
    params = dict(pair.split("=") for pair in query.split("&"))
    parts = path.strip("/").split("/")
    expires = params["expires"]
    arabic_indic = expires.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))

    def get(article=parts[7], **changed):
        query = dict(params, **changed)
        return call(api, "GET", FILE, query=query, article_id=article, attachment_id=parts[8]).status

    assert get() == 302
    assert get(signature="é") == 403
    assert get(signature="\u00e9" * 32) == 403
    assert get(signature=params["signature"].upper()) == 403
    assert get(expires="²") == 403
    assert get(expires=arabic_indic) == 403
    assert get(expires="0" + expires) == 403
    assert get(expires=" " + expires) == 403
    assert get(article=parts[7].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))) == 404
    assert get(article="0" + parts[7]) == 404


def test_files_of_internal_notes_are_never_shown(world, zammad):
    api, clock = world
    send(api, "Hallo", [])
    ticket_id = next(iter(zammad.tickets))
    zammad.add_article(
        ticket_id,
        "intern",
        internal=True,
        attachments=[{"filename": "Akte.pdf", "data": _b64(pdf()), "mime-type": "application/pdf"}],
    )
    clock.now += 61
    status, chat = poll(api)
    assert status == 200 and all("attachments" not in m for m in chat["messages"])
    internal_id = max(zammad.articles)
    file_id = zammad.articles[internal_id]["attachments"][0]["id"]
    url = _signed_url(api, "device-1", internal_id, file_id)
    assert download(api, url).status == 404


def test_a_webhook_delivery_brings_an_agents_file_without_a_zammad_call_per_poll(world, zammad):
    api, _clock = world
    send(api, "Hallo", [])
    ticket_id = next(iter(zammad.tickets))
    article = zammad.add_article(
        ticket_id,
        "Bitte ausfüllen",
        attachments=[{"filename": "F.png", "data": _b64(png()), "mime-type": "image/png"}],
    )
    response = api.handle(
        webhook_delivery(
            zammad, ticket_id, article, "hook-token-for-tests", "hook-secret-for-the-tests", "d-1"
        )
    )
    assert response.status == 200, response.body
    before = zammad.api_request_count()
    for _ in range(3):
        assert poll(api)[1]["messages"][-1]["attachments"][0]["name"] == "F.png"
    assert zammad.api_request_count() == before


def test_a_device_with_no_chat_cannot_download(world, zammad):
    api, _clock = world
    assert download(api, _signed_url(api, "device-9", 1, 1)).status == 404


def test_files_go_when_their_chat_goes(world, zammad):
    api, clock = world
    send(api, "Hallo", [])
    send(api, "Foto", [uploaded(api, png(), "a.png", "image/png")])
    zammad.add_article(
        next(iter(zammad.tickets)),
        "x",
        attachments=[{"filename": "b.pdf", "data": _b64(pdf()), "mime-type": "application/pdf"}],
    )
    clock.now += 61
    assert download(api, poll(api)[1]["messages"][-1]["attachments"][0]["url"]).status == 302
    s3 = boto3.client("s3", region_name="eu-central-1")
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 2  # the upload and the copy
    clock.now += 31 * 86400
    report = jobs.forget_expired_chats(api.services)
    assert report["forgotten"] == 1 and report["files"] == 2
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


# --- bad input: each a clear JSON 4xx, nothing stored --------------------------------
@pytest.mark.parametrize(
    "name, content_type, size, status, error",
    [
        ("../../etc/passwd", "image/png", 10, 400, "A file name must not contain a path."),
        ("a\\b.png", "image/png", 10, 400, "A file name must not contain a path."),
        ("bild\x00.png", "image/png", 10, 400, "A file name must not contain control characters."),
        ("bild\u202e.png", "image/png", 10, 400, "A file name must not contain control characters."),
        ("zwei\u2028zeilen.png", "image/png", 10, 400, "A file name must not contain line breaks."),
        ("bild.png", "image/png", "\u00b2", 400, "size must be the file's size in bytes."),
        ("bild.png", "image/png", "\u0661\u0660", 400, "size must be the file's size in bytes."),
        ("", "image/png", 10, 400, "A file name is required."),
        ("x" * 201, "image/png", 10, 400, "A file name may have at most 200 characters."),
        ("page.html", "text/html", 10, 415, "Files may be images (JPEG, PNG, GIF, WebP, HEIC) or PDF."),
        ("empty.png", "image/png", 0, 400, "The file is empty."),
        ("big.png", "image/png", 100001, 413, "A file may be at most 0.1 MB."),
        ("big.png", "image/png", "many", 400, "size must be the file's size in bytes."),
    ],
)
def test_a_bad_upload_request_is_refused(world, name, content_type, size, status, error):
    api, _clock = world
    send(api, "Hallo", [])
    assert form(api, name, content_type, size) == (status, {"error": error})


def test_without_a_bucket_files_are_switched_off(zammad):
    with mock_aws():
        api = ChatApi(aws_services(load_settings({}), clock=Clock(now=time.time())))
        create_tables(ALL_MODELS)
        api.services.regions.put("augsburg", chat_region(zammad))
        assert form(api) == (503, {"error": "Files are not enabled for this chat."})
        assert send(api, "Hallo", ["a" * 22])[0] == 503
        assert zammad.tickets == {}


@pytest.mark.parametrize(
    "ids, error",
    [
        (["A" * 22], "A file this message names was not uploaded to this chat, or has expired."),
        (["../x"], "Not an upload id: attachments must name files uploaded to this chat."),
        (["a" * 22, "b" * 22, "c" * 22, "d" * 22], "A message may carry at most 3 files."),
        (["a" * 22, "a" * 22], "A message names the same file twice."),
        ("not a list", "Not an upload id: attachments must name files uploaded to this chat."),
        ([7], "attachments must be a list of upload ids."),
    ],
)
def test_a_message_naming_files_it_may_not_is_refused_and_nothing_is_sent(world, zammad, ids, error):
    api, _clock = world
    send(api, "Hallo", [])
    assert send(api, "Noch was", ids) == (400, {"error": error})
    assert [len(ticket["article_ids"]) for ticket in zammad.tickets.values()] == [1]


def test_another_devices_upload_cannot_be_named(world, zammad):
    api, _clock = world
    send(api, "Hallo", [], device="device-2")
    send(api, "Hallo", [])
    theirs = uploaded(api, png(), "a.png", "image/png", device="device-2")
    assert send(api, "Noch was", [theirs])[0] == 400
    assert [len(ticket["article_ids"]) for ticket in zammad.tickets.values()] == [1, 1]


@pytest.mark.parametrize(
    "data, declared, status, error",
    [
        (pdf(), "image/png", 415, "A file's content does not match its type (image/png)."),
        (
            b"<script>alert(1)</script>",
            "application/pdf",
            415,
            "A file's content does not match its type (application/pdf).",
        ),
        (b"", "image/png", 400, "The file is empty."),
        (png() + b"\x00" * 100000, "image/png", 413, "A file may be at most 0.1 MB."),
        (png(), "image/png", 400, "A file's size is not the size its upload form was made for."),
        (
            b"%PDF-1.4\n<html><script>alert(1)</script>",
            "application/pdf",
            415,
            "A file's content does not match its type (application/pdf).",
        ),
    ],
)
def test_an_upload_that_is_not_what_it_claims_is_refused_when_named(
    world, zammad, data, declared, status, error
):
    """S3 enforces the form's size and type in AWS; moto does not, and neither would a
    client that lies: the message checks the content itself."""
    api, _clock = world
    send(api, "Hallo", [])
    status_form, body = form(api, "f", declared, 10)
    assert status_form == 201
    assert upload(body, data).status_code == 204
    assert send(api, "Noch was", [body["id"]]) == (status, {"error": error})
    assert [len(ticket["article_ids"]) for ticket in zammad.tickets.values()] == [1]


def test_an_upload_older_than_a_day_has_expired(world, zammad):
    api, clock = world
    send(api, "Hallo", [])
    upload_id = uploaded(api, png(), "a.png", "image/png")
    clock.now = time.time() + 86400 - 5  # S3 stamps the upload with the real time
    assert send(api, "Hallo", [upload_id])[0] == 200  # a day old, nearly: still there
    second = uploaded(api, png(), "b.png", "image/png")
    clock.now = time.time() + 86400 + 5
    assert send(api, "Noch eins", [second])[0] == 400
    assert [len(ticket["article_ids"]) for ticket in zammad.tickets.values()] == [2]


def test_a_failed_zammad_call_keeps_the_upload_for_a_retry(world, zammad):
    api, _clock = world
    send(api, "Hallo", [])
    upload_id = uploaded(api, png(), "a.png", "image/png")
    zammad.set_fault(500, count=1, request="POST /api/v1/ticket_articles")
    assert send(api, "Foto", [upload_id])[0] == 502
    status, chat = send(api, "Foto", [upload_id])
    assert status == 200 and chat["messages"][-1]["attachments"][0]["name"] == "a.png"


# --- helpers ---------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    from base64 import b64encode

    return b64encode(data).decode()


def _signed_url(api, device, article_id, file_id):
    from chalicelib.attachments.links import FileRef, link_path

    ref = FileRef("augsburg", device, article_id, file_id)
    token = api.services.regions.find("augsburg").zammad_access_token
    return link_path("de", ref, token, api.services.clock(), 3600)


def _resigned(api, url, device):
    parts = url.split("?")[0].strip("/").split("/")
    return _signed_url(api, device, int(parts[7]), int(parts[8]))


assert b64decode  # the emulator's files are compared as bytes


def _s3_event(*keys, name="ObjectCreated:Post"):
    """The message S3 sends the queue for new objects (keys form-encoded, as S3 does)."""
    records = [
        {"eventSource": "aws:s3", "eventName": name, "s3": {"object": {"key": quote_plus(key), "size": 71}}}
        for key in keys
    ]
    return json.dumps({"Records": records})


def test_an_upload_stays_only_while_its_chat_is_open_and_not_being_deleted(world, zammad):
    api, clock = world
    store = api.services.user_chats.store
    s3 = boto3.client("s3", region_name="eu-central-1")
    keys = {}
    for device in ("device-1", "device-2"):
        send(api, "Hallo", [], device)
        _status, body = form(api, device=device)
        assert upload(body, png()).status_code == 204
        keys[device] = body["upload"]["fields"]["key"]
    leaving = store.get("augsburg#device-2")
    assert store.begin_deletion(leaving, clock.now, clock.now + 30)  # a DELETE in flight
    # Keys no form made: another ticket under device-1's digest, and no key of ours at all.
    digest, ticket = keys["device-1"].split("/")[2:4]
    forged = ["uploads/augsburg/%s/%d/x" % (digest, int(ticket) + 1), "uploads/augsburg/ä b+c"]
    for key in forged:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")

    report = jobs.run_chatbot_job(api.services, _s3_event(keys["device-1"], keys["device-2"], *forged))
    assert report == {"job": "uploads", "kept": 1, "deleted": 3}
    left = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert left == [keys["device-1"]]
    assert send(api, "Foto", [keys["device-1"].rsplit("/", 1)[1]])[0] == 200


def test_s3s_test_message_and_other_events_delete_nothing(world, zammad):
    api, _clock = world
    send(api, "Hallo", [])
    _status, body = form(api)
    assert upload(body, png()).status_code == 204
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    assert jobs.run_chatbot_job(api.services, test_event) == {"job": "uploads", "kept": 0, "deleted": 0}
    removed = _s3_event(body["upload"]["fields"]["key"], name="ObjectRemoved:Delete")
    assert jobs.run_chatbot_job(api.services, removed) == {"job": "uploads", "kept": 0, "deleted": 0}
    files = boto3.client("s3", region_name="eu-central-1").list_objects_v2(Bucket=BUCKET)
    assert files["KeyCount"] == 1
