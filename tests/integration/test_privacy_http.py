"""A person's data over HTTP (docs/privacy.md): delete on request against the running app
(Chalice's local server, DynamoDB Local, S3 on moto, Zammad emulated with its signed
webhook), and its log read afterwards for anything personal, the very texts sent included."""

import secrets
import uuid

import requests

from chalicelib.attachments.bucket import FileBucket
from chalicelib.platform.config import load_settings
from tests.conftest import assert_nothing_personal, running_api
from tests.support.files import png, upload
from tests.support.regions import put_region

TEXT = "Mein Name ist Amira Haddad, Telefon 0151 2345678"  # what must never reach a log
FILE_NAME = "Aufenthaltstitel Amira.png"


def test_delete_on_request_over_http_and_nothing_personal_in_the_log(
    dynamodb_local, moto_server, zammad, tmp_path
):
    files = {
        "ATTACHMENT_BUCKET": "privacy-files",
        "AWS_ENDPOINT_URL_S3": moto_server,
        "ZAMMAD_TIMEOUT_SECONDS": "2",
    }
    FileBucket(load_settings(files)).create()
    log_path = tmp_path / "server.log"
    device, other = str(uuid.uuid4()), str(uuid.uuid4())
    with running_api(dynamodb_local, log_path, **files) as (url, admin, _env):
        token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        region = put_region(
            url,
            admin,
            zammad,
            chat_beta_tester_percentage=100,
            zammad_webhook_token=token,
            zammad_webhook_secret=secret,
        )
        zammad.configure_webhook("%s/api/v3/webhook/zammad/?token=%s" % (url, token), secret)
        chat = "%s/api/v3/%s/de/chat/%s/" % (url, region, device)
        assert (
            requests.get("%s/api/v3/%s/%s/is_chat_enabled/" % (url, region, device), timeout=10).status_code
            == 200
        )
        assert requests.post(chat, files={"message": (None, TEXT)}, timeout=30).status_code == 200
        form = requests.post(
            chat + "attachments/",
            json={"filename": FILE_NAME, "content_type": "image/png", "size": 71},
            timeout=10,
        )
        assert upload(form.json(), png()).status_code == 204
        sent = requests.post(
            chat, files={"message": (None, TEXT), "attachments": (None, form.json()["id"])}, timeout=30
        )
        assert sent.status_code == 200
        requests.post(
            "%s/api/v3/%s/de/chat/%s/" % (url, region, other), files={"message": (None, "Hallo")}, timeout=30
        )
        [ticket_id] = [i for i, t in zammad.tickets.items() if device in t["title"]]
        zammad.add_article(ticket_id, "<p>%s, wir melden uns.</p>" % TEXT)  # the webhook brings it
        zammad.wait_for_webhooks()
        zammad.set_fault(500, count=1, request="PUT /api/v1/tickets/%d" % ticket_id)
        assert requests.delete(chat, timeout=30).status_code == 502  # Zammad failed: nothing deleted
        assert requests.get(chat, timeout=10).status_code == 200

        deleted = requests.delete(chat, timeout=30)
        assert deleted.status_code == 200 and deleted.json() == {
            "success": True,
            "status": "The chat was deleted.",
        }
        assert requests.get(chat, timeout=10).json() == {"error": "Chat not found."}
        assert requests.delete(chat, timeout=30).status_code == 404  # a second time
        assert zammad.tickets[ticket_id]["state"] == "closed"
        assert zammad.articles[zammad.tickets[ticket_id]["article_ids"][-1]]["internal"] is True
        # The other device's chat is untouched: deleting needs its own id.
        assert requests.get("%s/api/v3/%s/de/chat/%s/" % (url, region, other), timeout=10).status_code == 200
    log = log_path.read_text()
    assert '"event": "chat_deleted"' in log  # the deletion is recorded, by digest only
    assert_nothing_personal(log, TEXT, "Amira", FILE_NAME, device, other)
