"""The recording of the real Integreat CMS (tests/fixtures/cms, made by
devtools/cms/record.py), served again: its dump with every time moved by the same offset to
now (so a chat recorded as live is live today; the recording's ages stay as they were), and
its Zammad as the emulator. The dump's Zammad URL becomes the test's emulator's."""

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cms"
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
