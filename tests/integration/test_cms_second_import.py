"""What a second `import-cms` may change (docs/migrating.md, step 5), on DynamoDB Local: the
CMS's changes since the first import come over, an operator's changes here stay, and each
change to what is here is printed (the dry run's too, writing nothing)."""

import json
import os
import time

import pytest

from chalicelib.migration.cms_export import cms_time
from chalicelib.platform.config import load_settings
from chalicelib.storage.connection import bind_models
from chalicelib.storage.models import RegionRecord
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.user_chat.records import UserChatRecord, chat_key
from tests.conftest import unique_prefix
from tests.support import cms
from tests.support.cms import manage_here as run

ZAMMAD = "https://zammad.example"


@pytest.fixture
def tables(dynamodb_local, monkeypatch):
    values = {"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local, "CHAT_TABLE_PREFIX": unique_prefix()}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    bind_models(ALL_MODELS, load_settings(values))
    create_tables(ALL_MODELS)


def write(path, dump) -> str:
    path.write_text(json.dumps(dump, ensure_ascii=False))
    return str(path)


def live_chats(dump, region: str) -> list[dict]:
    """The region's chats the import takes: each device's newest row, with a message within
    the retention."""
    pk = next(r["pk"] for r in dump if r["model"] == "cms.region" and r["fields"]["slug"] == region)
    newest: dict[str, dict] = {}
    for record in dump:
        if record["model"] == "cms.userchat":
            device = record["fields"]["device_id"]
            if device not in newest or record["pk"] > newest[device]["pk"]:
                newest[device] = record
    cutoff = cms_time(time.time() - 25 * 86400)
    return [
        r
        for r in newest.values()
        if r["fields"]["region"] == pk and r["fields"]["last_message_timestamp"] > cutoff
    ]


def test_a_second_import_keeps_what_was_changed_here_and_takes_what_the_cms_changed(tables, tmp_path):
    now = time.time()
    first = cms.records(now, ZAMMAD)
    status, said = run("import-cms", write(tmp_path / "first.json", first), "--region", "augsburg")
    assert status == 0, said
    # The operator, between the imports: a new token, the chat switched off, a new webhook token.
    status, said = run(
        "region",
        "put",
        "augsburg",
        "--zammad-access-token",
        "token-set-here",
        "--disabled",
        "--webhook-token",
        "webhook-token-set-here-0001",
    )
    assert status == 0, said
    # The CMS, between the dumps: the region renamed.
    second = cms.records(now, ZAMMAD)
    region = next(r for r in second if r["model"] == "cms.region" and r["fields"]["slug"] == "augsburg")
    region["fields"]["name"] = "Augsburg, renamed in the CMS"

    status, said = run("import-cms", write(tmp_path / "second.json", second), "--region", "augsburg")
    assert status == 0, said
    stored = RegionRecord.get("augsburg")
    assert stored.name == "Augsburg, renamed in the CMS"
    assert stored.zammad_access_token == "token-set-here"
    assert stored.integreat_chat_enabled is False
    assert stored.zammad_webhook_token == "webhook-token-set-here-0001"
    assert "changed: region augsburg: name set to the CMS's" in said
    assert (
        "kept: region augsburg: integreat_chat_enabled, zammad_access_token, zammad_webhook_token "
        "changed here since the last import; the CMS's differ" in said
    )
    assert "token-set-here" not in said and region["fields"]["zammad_access_token"] not in said

    # A third run of the same dump changes nothing and says nothing of settings.
    status, said = run("import-cms", write(tmp_path / "second.json", second), "--region", "augsburg")
    assert status == 0 and "changed:" not in said, said


def test_a_second_import_follows_the_cms_for_chats_nobody_wrote_to_here(tables, tmp_path):
    now = time.time()
    first = cms.records(now, ZAMMAD)
    status, said = run("import-cms", write(tmp_path / "first.json", first), "--region", "augsburg")
    assert status == 0, said
    chats = live_chats(first, "augsburg")
    assert len(chats) >= 3, "the recording has three live chats in Augsburg"
    moved, gone, written_on = (c["fields"]["device_id"] for c in chats[:3])

    second = cms.records(now, ZAMMAD)
    highest = max(r["pk"] for r in second if r["model"] == "cms.userchat")
    ticket = max(r["fields"]["zammad_id"] for r in second if r["model"] == "cms.userchat") + 100
    old_ticket = next(c["fields"]["zammad_id"] for c in chats if c["fields"]["device_id"] == moved)
    newer = dict(next(c for c in chats if c["fields"]["device_id"] == moved)["fields"])
    newer.update(
        zammad_id=ticket, created_timestamp=cms_time(now - 60), last_message_timestamp=cms_time(now - 50)
    )
    second.append({"model": "cms.userchat", "pk": highest + 1, "fields": newer})
    second = [r for r in second if not (r["model"] == "cms.userchat" and r["fields"]["device_id"] == gone)]
    later = cms_time(now - 30)
    for record in second:
        if record["model"] == "cms.userchat" and record["fields"]["device_id"] == written_on:
            record["fields"]["last_message_timestamp"] = later
    # ... and one chat here was written to after the first import: ours from then on.
    ours = UserChatRecord.get(chat_key("augsburg", written_on))
    ours.update(actions=[UserChatRecord.last_activity.set(now - 10)])  # as a message sent here does

    dry_status, dry = run(
        "import-cms", write(tmp_path / "second.json", second), "--region", "augsburg", "--dry-run"
    )
    assert dry_status == 0, dry
    before = {c.chat_key: c.serialize() for c in UserChatRecord.scan()}
    assert (
        "to change: chat augsburg %s…: the device's newer chat in the CMS (ticket %d) replaces ticket %d"
        % (
            moved[:8],
            ticket,
            old_ticket,
        )
        in dry
    )
    assert "to change: chat augsburg %s…: gone from the CMS, so removed here" % gone[:8] in dry

    status, said = run("import-cms", str(tmp_path / "second.json"), "--region", "augsburg")
    assert status == 0, said
    assert said.replace("changed:", "to change:").count("to change: chat") == 2, said
    assert before != {c.chat_key: c.serialize() for c in UserChatRecord.scan()}
    replaced = UserChatRecord.get(chat_key("augsburg", moved))
    assert int(replaced.ticket_id) == ticket and replaced.generation == 2
    assert UserChatRecord.count(chat_key("augsburg", gone)) == 0
    kept = UserChatRecord.get(chat_key("augsburg", written_on))
    assert kept.last_activity == pytest.approx(now - 10)  # ours: newer than the CMS's last message


def test_the_dry_run_of_a_second_import_writes_nothing(tables, tmp_path):
    now = time.time()
    first = cms.records(now, ZAMMAD)
    assert run("import-cms", write(tmp_path / "first.json", first))[0] == 0
    run("region", "put", "augsburg", "--zammad-access-token", "token-set-here")
    second = cms.records(now, ZAMMAD)
    for record in second:
        if record["model"] == "cms.region":
            record["fields"]["zammad_privacy_policy"] = "https://example.org/privacy-new"
        if record["model"] == "cms.userchat":
            record["fields"]["last_message_timestamp"] = cms_time(now - 5)
    chats = {c.chat_key: c.serialize() for c in UserChatRecord.scan()}
    regions = {r.slug: r.serialize() for r in RegionRecord.scan()}
    status, said = run("import-cms", write(tmp_path / "second.json", second), "--dry-run")
    assert status == 0, said
    assert "to change: region augsburg: zammad_privacy_policy set to the CMS's" in said
    assert {c.chat_key: c.serialize() for c in UserChatRecord.scan()} == chats
    assert {r.slug: r.serialize() for r in RegionRecord.scan()} == regions


def test_the_retention_of_a_chat_the_person_wrote_on_in_the_cms_moves_on(tables, tmp_path):
    now = time.time()
    first = cms.records(now, ZAMMAD)
    assert run("import-cms", write(tmp_path / "first.json", first), "--region", "augsburg")[0] == 0
    device = live_chats(first, "augsburg")[0]["fields"]["device_id"]
    before = UserChatRecord.get(chat_key("augsburg", device))
    second = cms.records(now, ZAMMAD)
    for record in second:
        if record["model"] == "cms.userchat" and record["fields"]["device_id"] == device:
            record["fields"]["last_message_timestamp"] = cms_time(now - 5)
    status, said = run("import-cms", write(tmp_path / "second.json", second), "--region", "augsburg")
    assert status == 0, said
    after = UserChatRecord.get(chat_key("augsburg", device))
    assert after.last_activity == pytest.approx(now - 5, abs=0.01)
    assert after.last_activity > before.last_activity
    assert after.expires_at > before.expires_at
    assert after.ticket_id == before.ticket_id


def test_an_older_dump_removes_no_chat_the_cms_began_after_it(tables, tmp_path):
    now = time.time()
    older = cms.records(now, ZAMMAD)
    newer = cms.records(now, ZAMMAD)
    highest = max(r["pk"] for r in newer if r["model"] == "cms.userchat")
    ticket = max(r["fields"]["zammad_id"] for r in newer if r["model"] == "cms.userchat") + 100
    region = next(r["pk"] for r in newer if r["model"] == "cms.region" and r["fields"]["slug"] == "augsburg")
    language = next(r["pk"] for r in newer if r["model"] == "cms.language")
    device = "0f0e0d0c-0b0a-4908-8706-050403020100"
    newer.append(
        {
            "model": "cms.userchat",
            "pk": highest + 1,
            "fields": {
                "device_id": device,
                "zammad_id": ticket,
                "region": region,
                "language": language,
                "total_words_generated": 0,
                "created_timestamp": cms_time(now - 60),
                "last_message_timestamp": cms_time(now - 60),
            },
        }
    )
    assert run("import-cms", write(tmp_path / "newer.json", newer))[0] == 0
    status, said = run("import-cms", write(tmp_path / "older.json", older))
    assert status == 0, said
    assert UserChatRecord.count(chat_key("augsburg", device)) == 1, said
    assert "so removed here" not in said


class _SentMeanwhile:
    """The chats' store, where a message is sent here to a chat right after the import has
    read it: the import's write must not undo it."""

    def __init__(self, store, key: str, at: float):
        self._store, self._key, self._at = store, key, at

    def _send(self) -> None:
        fresh = self._store.get(self._key)
        fresh.update(actions=[UserChatRecord.last_activity.set(self._at)])  # as a send does

    def get(self, key: str, consistent: bool = True):
        found = self._store.get(key, consistent)
        if key == self._key:
            self._send()
        return found

    def active_since(self, region: str, since: float, limit=None, **rest):
        found = self._store.active_since(region, since, limit, **rest)
        self._send()
        return found

    def __getattr__(self, name):
        return getattr(self._store, name)


@pytest.mark.parametrize("change", ["replaced", "gone", "updated"])
def test_a_message_sent_here_while_the_import_decides_stays(tables, tmp_path, change):
    from chalicelib.migration.cms_dump import read_dump
    from chalicelib.migration.cms_import import CmsImport
    from chalicelib.services import DynamoStores, Services

    now = time.time()
    first = cms.records(now, ZAMMAD)
    assert run("import-cms", write(tmp_path / "first.json", first), "--region", "augsburg")[0] == 0
    device = live_chats(first, "augsburg")[0]["fields"]["device_id"]
    key = chat_key("augsburg", device)
    second = cms.records(now, ZAMMAD)
    mine = [r for r in second if r["model"] == "cms.userchat" and r["fields"]["device_id"] == device]
    if change == "replaced":
        newer = dict(mine[-1]["fields"], zammad_id=999, created_timestamp=cms_time(now - 60))
        second.append({"model": "cms.userchat", "pk": 10_000, "fields": newer})
    elif change == "gone":
        second = [r for r in second if r not in mine]
    else:
        mine[-1]["fields"]["last_message_timestamp"] = cms_time(now - 60)
    before = UserChatRecord.get(key)
    settings = load_settings(dict(os.environ))
    sent_at = now - 1
    stores = DynamoStores(settings)
    stores.chats = _SentMeanwhile(stores.chats, key, sent_at)
    services = Services(settings, time.time, stores)
    importer = CmsImport(
        services.regions,
        services.user_chats.cms_chats(settings.ticket_retention_days * 86400),
        history_days=settings.author_chat_history_days,
    )
    dump = read_dump(json.dumps(second).encode(), now, settings.ticket_retention_days, 30, {"augsburg"})
    importer.run(dump)
    after = UserChatRecord.get(key)  # still there, with its ticket and the message sent here
    assert after.ticket_id == before.ticket_id and after.last_activity == sent_at
