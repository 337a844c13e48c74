"""An upload that lands after its chat was deleted
(docs/privacy.md, "Nothing after the deletion's note"): the form was fetched before the
DELETE, the file is sent after it. S3 (moto's server) tells the chatbot's queue of each
upload, and `python -m functions.worker`, in its own process, deletes the one whose chat is
gone and keeps the one of an open chat."""

import subprocess
import sys
import uuid

import requests

from chalicelib.attachments.bucket import UPLOADS, FileBucket
from chalicelib.chatbot.queue import SqsJobQueue
from chalicelib.platform.config import load_settings
from tests.conftest import PROJECT, python_env, running_api
from tests.support.files import png, upload
from tests.support.regions import put_region


def test_an_upload_after_the_deletion_is_deleted_on_arrival(dynamodb_local, moto_server, zammad, tmp_path):
    settings = {
        "ATTACHMENT_BUCKET": "late-" + uuid.uuid4().hex[:12],
        "AWS_ENDPOINT_URL_S3": moto_server,
        "AWS_ENDPOINT_URL_SQS": moto_server,
        "CHATBOT_QUEUE_NAME": "late" + uuid.uuid4().hex[:12],
    }
    with running_api(dynamodb_local, tmp_path / "api.log", **settings) as (url, admin, env):
        queue = SqsJobQueue(load_settings(env))
        print(queue.create())
        bucket = FileBucket(load_settings(env))
        print(bucket.create(notify_queue_arn=queue.arn))
        region = put_region(url, admin, zammad, chat_beta_tester_percentage=100)
        leaving, staying = str(uuid.uuid4()), str(uuid.uuid4())
        forms = {}
        for device in (leaving, staying):
            chat = "%s/api/v3/%s/de/chat/%s/" % (url, region, device)
            assert requests.post(chat, files={"message": (None, "Hallo")}, timeout=30).status_code == 200
            form = requests.post(
                chat + "attachments/",
                json={"filename": "a.png", "content_type": "image/png", "size": 71},
                timeout=10,
            )
            assert form.status_code == 201, form.text
            forms[device] = form.json()
        leaving_chat = "%s/api/v3/%s/de/chat/%s/" % (url, region, leaving)
        assert requests.delete(leaving_chat, timeout=30).status_code == 200
        for device in (leaving, staying):  # both land after the DELETE
            assert upload(forms[device], png()).status_code == 204
        assert len(bucket.describe_under(UPLOADS + region + "/")) == 2  # S3 takes the form

        with open(tmp_path / "worker.log", "w") as log:
            subprocess.run(
                [sys.executable, "-m", "functions.worker", "--once"],
                cwd=str(PROJECT),
                env=python_env(**env),
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=60,
                check=True,
            )
        [left] = bucket.describe_under(UPLOADS + region + "/")  # the deleted chat's is gone
        assert forms[staying]["upload"]["fields"]["key"] == left["key"]
        staying_chat = "%s/api/v3/%s/de/chat/%s/" % (url, region, staying)
        sent = requests.post(
            staying_chat,
            files={"message": (None, "Mein Foto"), "attachments": (None, forms[staying]["id"])},
            timeout=30,
        )
        assert sent.status_code == 200, sent.text
    worker_log = (tmp_path / "worker.log").read_text()
    assert '"job": "uploads", "kept": 0, "deleted": 1' in worker_log
    assert '"job": "uploads", "kept": 1, "deleted": 0' in worker_log
    assert region not in worker_log and leaving not in worker_log  # counts, no keys
