"""Files in the user chat end to end over HTTP (docs/files.md): the app's requests to the
running app (Chalice's local server, DynamoDB Local), its uploads straight to S3 (moto's
server, as `make dev` runs it), Zammad emulated over HTTP with its signed webhook."""

import secrets
import time
import uuid

import pytest
import requests

from chalicelib.attachments.bucket import FileBucket
from chalicelib.attachments.links import FileRef, link_path
from chalicelib.platform.config import load_settings
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import running_api
from tests.support.files import pdf, png, upload
from tests.support.regions import put_region

BUCKET = "integreat-chat-files-http"


@pytest.fixture(scope="module")
def zammad():
    with ZammadEmulator(token="zammad-files-token") as emulator:
        yield emulator


@pytest.fixture(scope="module")
def api(dynamodb_local, moto_server, zammad, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("files") / "server.log"
    files = {"ATTACHMENT_BUCKET": BUCKET, "AWS_ENDPOINT_URL_S3": moto_server, "API_RATE_LIMIT_WINDOW": 100000}
    print(FileBucket(load_settings({name: str(value) for name, value in files.items()})).create())
    with running_api(dynamodb_local, log_path, **files) as (url, admin, _env):
        token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        region = put_region(url, admin, zammad, zammad_webhook_token=token, zammad_webhook_secret=secret)
        zammad.configure_webhook("%s/api/v3/webhook/zammad/?token=%s" % (url, token), secret)
        yield url, region


class Device:
    """One device's chat, spoken to as the app does (multipart forms)."""

    def __init__(self, api):
        self.base, self.region = api
        self.id = str(uuid.uuid4())

    @property
    def chat(self):
        return "%s/api/v3/%s/de/chat/%s/" % (self.base, self.region, self.id)

    def upload(self, data, name, content_type):
        fields = {
            "filename": (None, name),
            "content_type": (None, content_type),
            "size": (None, str(len(data))),
        }
        response = requests.post(self.chat + "attachments/", files=fields, timeout=10)
        assert response.status_code == 201, response.text
        form = response.json()
        assert form["upload"]["url"].startswith("http://127.0.0.1:")  # the bucket, not this API
        assert upload(form, data).status_code == 204
        return form["id"]

    def send(self, text, ids):
        fields = {"message": (None, text), "attachments": (None, ",".join(ids))}
        return requests.post(self.chat, files=fields, timeout=30)

    def poll(self):
        return requests.get(self.chat, timeout=10)

    def get(self, path):
        return requests.get(self.base + path, allow_redirects=False, timeout=10)


def test_a_png_and_a_pdf_go_to_zammad_as_one_article(api, zammad):
    device = Device(api)
    assert device.send("Ich habe einen Brief bekommen", []).status_code == 200
    ids = [
        device.upload(png(), "Brief.png", "image/png"),
        device.upload(pdf(), "Bescheid.pdf", "application/pdf"),
    ]
    response = device.send("Was steht in dem Brief?", ids)
    assert response.status_code == 200, response.text
    ticket = next(t for t in zammad.state()["tickets"].values() if device.id in t["title"])
    article = zammad.articles[ticket["article_ids"][-1]]
    assert [(f["filename"], zammad.files[f["id"]].data) for f in article["attachments"]] == [
        ("Brief.png", png()),
        ("Bescheid.pdf", pdf()),
    ]
    message = response.json()["messages"][-1]
    assert [f["name"] for f in message["attachments"]] == ["Brief.png", "Bescheid.pdf"]


def test_an_agents_pdf_is_downloadable_by_that_device_and_by_no_other(api, zammad):
    device, other = Device(api), Device(api)
    assert device.send("Ich brauche das Formular", []).status_code == 200
    assert other.send("Hallo", []).status_code == 200
    ticket_id = next(i for i, t in zammad.tickets.items() if device.id in t["title"])
    form = pdf("Antrag auf Wohngeld")
    data = __import__("base64").b64encode(form).decode()
    zammad.add_article(
        ticket_id,
        "<p>Hier</p>",
        attachments=[{"filename": "Antrag.pdf", "data": data, "mime-type": "application/pdf"}],
    )
    zammad.wait_for_webhooks()
    (file,) = device.poll().json()["messages"][-1]["attachments"]
    assert (file["name"], file["type"], file["size"]) == ("Antrag.pdf", "application/pdf", len(form))

    response = device.get(file["url"])
    assert response.status_code == 302
    got = requests.get(response.headers["Location"], timeout=10)  # straight from the bucket
    assert got.status_code == 200 and got.content == form

    # The other device: with the link as it is (403), or signed for itself (404: not its file).
    stolen = file["url"].replace(device.id, other.id)
    assert other.get(stolen).status_code == 403
    article_id, file_id = (int(part) for part in file["url"].split("?")[0].strip("/").split("/")[-2:])
    own = link_path("de", FileRef(api[1], other.id, article_id, file_id), zammad.token, time.time(), 3600)
    assert other.get(own).status_code == 404
    # An ended link, however it is signed, gives nothing.
    ended = link_path(
        "de", FileRef(api[1], device.id, article_id, file_id), zammad.token, time.time() - 3 * 3600, 3600
    )
    response = device.get(ended)
    assert response.status_code == 403 and response.json() == {
        "error": "This link is not valid, or it has expired."
    }


def test_bad_files_are_clear_json_errors_and_nothing_reaches_zammad(api, zammad):
    device = Device(api)
    assert device.send("Hallo", []).status_code == 200
    bad_form = requests.post(
        device.chat + "attachments/",
        json={"filename": "../x.png", "content_type": "image/png", "size": 5},
        timeout=10,
    )
    assert bad_form.status_code == 400 and bad_form.json() == {
        "error": "A file name must not contain a path."
    }
    lying = device.upload(pdf(), "bild.png", "image/png")  # a PDF declared as a PNG
    response = device.send("Noch was", [lying])
    assert response.status_code == 415 and "does not match" in response.json()["error"]
    assert device.send("Noch was", ["x" * 22]).status_code == 400
    (ticket,) = [t for t in zammad.state()["tickets"].values() if device.id in t["title"]]
    assert len(ticket["article_ids"]) == 1  # the first message only
    assert [m["content"] for m in device.poll().json()["messages"]] == ["Hallo"]
