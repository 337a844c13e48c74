"""The recording of the real Integreat CMS (tests/fixtures/cms, made by
devtools/cms/record.py), served again: its dump with every time moved by the same offset to
now (so a chat recorded as live is live today; the recording's ages stay as they were), and
its Zammad as the emulator. The dump's Zammad URL becomes the test's emulator's."""

import json
import re
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from devtools.loopback_server import LoopbackServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cms"
TIME_FIELDS = {
    "cms.userchat": ("created_timestamp", "last_message_timestamp"),
    "cms.chatmessage": ("sent_datetime",),
}


def recording() -> dict[str, Any]:
    return json.loads((FIXTURES / "zammad.json").read_text())


def answers() -> dict[str, Any]:
    """What the CMS answered, per device: its role in the recording, region, language,
    `is_chat_enabled` (for devices it drew) and a poll (status and body)."""
    return json.loads((FIXTURES / "answers.json").read_text())


def records(now: float, zammad_url: str) -> list[dict[str, Any]]:
    from datetime import UTC, datetime, timedelta

    offset = timedelta(seconds=now - recording()["recorded_at"])
    dump = json.loads((FIXTURES / "dump.json").read_text())
    for record in dump:
        fields = record["fields"]
        for name in TIME_FIELDS.get(record["model"], ()):
            if fields.get(name):
                moved = datetime.fromisoformat(fields[name]).astimezone(UTC) + offset
                fields[name] = moved.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if record["model"] == "cms.region" and fields.get("zammad_url"):
            fields["zammad_url"] = zammad_url
    return dump


def dump_file(path: Path, now: float, zammad_url: str, change=None) -> Path:
    """The dump written to `path`; `change(records)` may edit it first (a bad dump)."""
    dump = records(now, zammad_url)
    if change is not None:
        change(dump)
    path.write_text(json.dumps(dump, ensure_ascii=False))
    return path


def manage(env: dict[str, str], *args: str):
    """`python -m functions.manage ...` as an operator runs it, on these tables."""
    from tests.conftest import python_env, run_python

    return run_python("-m", "functions.manage", *args, env=python_env(**env), timeout=300)


def manage_here(*argv: str) -> tuple[int, str]:
    """`functions.manage` run in this process (quicker than `manage`): its exit status, and
    what it printed to stdout and stderr, in that order."""
    import contextlib
    import io
    import sys

    from functions import manage as commands

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = commands.run(list(argv), out=sys.stdout)
    return status, out.getvalue() + err.getvalue()


def load_zammad(emulator) -> None:
    recorded = recording()
    emulator.attributes = dict(recorded["attributes"])
    emulator.load(recorded["tickets"], recorded["articles"])


def synthetic(chats: int, now: float, zammad_url: str) -> list[dict[str, Any]]:
    """The recorded dump with `chats` more live chats (each with a draw) in Augsburg, made
    from the shape of its records: the size of a large region's import."""
    dump = records(now, zammad_url)
    chat = next(r for r in dump if r["model"] == "cms.userchat" and r["fields"]["region"] == 1)
    draw = next(r for r in dump if r["model"] == "cms.abtester")
    for number in range(chats):
        device = "synthetic-%06d" % number
        fields = dict(chat["fields"], device_id=device, zammad_id=100000 + number)
        dump.append({"model": "cms.userchat", "pk": 100000 + number, "fields": fields})
        dump.append(
            {"model": "cms.abtester", "pk": 100000 + number, "fields": dict(draw["fields"], device_id=device)}
        )
    return dump


def scan(env: dict[str, str], name: str) -> list[dict[str, Any]]:
    """Every item of one of the app's tables (DynamoDB Local), in a fixed order."""
    import boto3

    client = boto3.client(
        "dynamodb",
        endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"],
        region_name="eu-central-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    pages = client.get_paginator("scan").paginate(TableName=env["CHAT_TABLE_PREFIX"] + name)
    return sorted((item for page in pages for item in page["Items"]), key=repr)


# Django's own answer when a view raises, with DEBUG off (the CMS in production).
SERVER_ERROR = (
    "<!doctype html><html><head><title>Server Error (500)</title></head>"
    "<body><h1>Server Error (500)</h1></body></html>"
)


class _ReplayHandler(BaseHTTPRequestHandler):
    emulator: "CmsReplay"

    def log_message(self, *_args) -> None:  # quiet: the test reads `requests`
        pass

    def _answer(self) -> None:
        self.emulator.requests.append("%s %s" % (self.command, self.path))
        status, body = 405, {"error": "The recording answers GET only."}
        if self.command == "GET":
            status, body = self.emulator.recorded_answer(self.path)
        html = isinstance(body, str)
        data = body.encode() if html else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if html else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


class CmsReplay(LoopbackServer):
    """The CMS's app API as recorded (answers.json), served on loopback: what it answered
    to each poll and each `is_chat_enabled`. It answers GET only and keeps every request
    line, so a test sees that nothing was sent to it."""

    handler = _ReplayHandler

    def __init__(self) -> None:
        super().__init__()
        self.answers = answers()
        self.requests: list[str] = []
        dump = json.loads((FIXTURES / "dump.json").read_text())
        self.languages = {r["fields"]["slug"] for r in dump if r["model"] == "cms.language"}

    def recorded_answer(self, path: str) -> tuple[int, Any]:
        """As the CMS answers: a poll in a language the CMS has not (its Language.DoesNotExist,
        "None" among them) is its 500 page; a device in another region than its chat's is
        not recorded (404)."""
        poll = re.fullmatch(r"/api/v3/([^/]+)/([^/]+)/chat/([^/]+)/", path)
        enabled = re.fullmatch(r"/api/v3/([^/]+)/([^/]+)/is_chat_enabled/", path)
        if poll and poll.group(2) not in self.languages:
            return 500, SERVER_ERROR
        device = poll.group(3) if poll else enabled.group(2) if enabled else None
        seen = self.answers.get(device) if device else None
        found = poll or enabled
        if seen is None or found is None or seen["region"] != found.group(1):
            return 404, {"error": "Not recorded."}
        answer = seen["poll"] if poll else seen["is_chat_enabled"]
        return (answer["status"], answer["body"]) if answer else (404, {"error": "Not recorded."})
