"""Reading the real CMS's dump (chalicelib/migration/cms_dump.py): the recording of
integreat-cms 2026.10.0 (tests/fixtures/cms), and each kind of bad dump, refused by name."""

import json
import time

import pytest

from chalicelib.migration.cms_dump import DumpError, read_dump
from tests.support import cms

NOW = time.time()
ZAMMAD = "https://zammad.example"


def read(dump, regions=None):
    return read_dump(json.dumps(dump).encode(), NOW, 30, 30, regions)


def recorded():
    return cms.records(NOW, ZAMMAD)


def first(dump, model, **fields):
    return next(
        r for r in dump if r["model"] == model and all(r["fields"].get(k) == v for k, v in fields.items())
    )


def test_the_recorded_dump_reads_as_the_cms_reads_it():
    dump = read(recorded())
    assert dump.refused == []
    assert sorted(dump.regions) == ["augsburg", "muenchen", "nuernberg"]
    augsburg = dump.regions["augsburg"].settings
    assert augsburg["zammad_url"] == ZAMMAD and augsburg["chat_beta_tester_percentage"] == 50
    assert augsburg["zammad_privacy_policy"] == "https://augsburg.example/datenschutz"
    assert dump.regions["nuernberg"].settings["zammad_url"] is None  # "" in the CMS: none
    answers = cms.answers()
    live = {device for device, seen in answers.items() if seen["poll"]["status"] == 200}
    assert {chat.device_id for chat in dump.chats} == live
    [switched] = [
        chat for chat in dump.chats if answers[chat.device_id]["role"] == "changed the app's language"
    ]
    assert switched.language == "en"  # the language pk's slug, as the CMS changed it
    [again] = [chat for chat in dump.chats if "began again" in answers[chat.device_id]["role"]]
    assert again.ticket_id == 7  # the newest of the device's two chats
    assert dump.skipped[("muenchen", "chats", "expired")] == 1
    assert dump.skipped[("muenchen", "chats", "superseded")] == 1
    drawn = {
        device: seen["is_chat_enabled"]["body"]["is_chat_enabled"]
        for device, seen in answers.items()
        if seen["is_chat_enabled"]
    }
    assert {draw.device_id: draw.enabled for draw in dump.draws if draw.device_id in drawn} == drawn
    assert [m.sender_name for m in dump.author_messages] == [
        "redaktion2",
        "Amira Haddad",
        "redaktion2",
        "Amira Haddad",
    ]
    assert dump.skipped[("", "author messages", "older")] == 1
    assert {m.sender_id for m in dump.author_messages} == {"1", "2"}  # the silent user is not read


def test_a_region_filter_reads_that_regions_chats_and_draws_only():
    dump = read(recorded(), {"muenchen"})
    assert list(dump.regions) == ["muenchen"]
    assert {chat.region for chat in dump.chats} == {"muenchen"} and len(dump.chats) == 2
    assert {draw.region for draw in dump.draws} == {"muenchen"}
    assert len(dump.author_messages) == 4  # the author chat is the deployment's
    assert read(recorded(), {"hamburg"}).refused[-1].reason == "the dump holds no region of that slug"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"<html>Bad Gateway</html>", "not a whole JSON document"),
        (b'[{"model": "cms.region", "pk": 1, "fields": {"slug": "augs', "was the dump cut off?"),
        (b'{"model": "cms.region"}', "a dump is a JSON list of records; this file holds a dict"),
        (b"[" * 100000, "nested too deeply"),
    ],
)
def test_a_file_that_is_no_dump_is_refused_whole(data, message):
    with pytest.raises(DumpError, match=message.replace("?", r"\?")):
        read_dump(data, NOW, 30, 30)


def test_a_dump_cut_in_the_middle_is_refused_whole():
    data = json.dumps(recorded()).encode()
    with pytest.raises(DumpError, match="cut off"):
        read_dump(data[: len(data) // 2], NOW, 30, 30)


def _chat(dump, role):
    device = next(d for d, seen in cms.answers().items() if seen["role"] == role)
    return first(dump, "cms.userchat", device_id=device)


def _bad_region(dump):
    _chat(dump, "waiting for an answer")["fields"]["region"] = 99


def _null_region(dump):
    _chat(dump, "waiting for an answer")["fields"]["region"] = None


def _bad_language(dump):
    _chat(dump, "waiting for an answer")["fields"]["language"] = 42


def _true_region(dump):
    _chat(dump, "waiting for an answer")["fields"]["region"] = True  # it read as region 1


def _true_language(dump):
    _chat(dump, "waiting for an answer")["fields"]["language"] = True  # it read as language 1


def _huge_ticket(dump):
    _chat(dump, "waiting for an answer")["fields"]["zammad_id"] = 10**39  # past DynamoDB's 38 digits


def _bad_language_slug(dump):
    first(dump, "cms.language", slug="ar")["fields"]["slug"] = "../" + "x" * 3000 + "\n"


def _two_regions_one_slug(dump):
    first(dump, "cms.region", slug="nuernberg")["fields"]["slug"] = "muenchen"


def _one_ticket_under_two_names(dump):
    """muenchen's Zammad written as localhost, augsburg's as 127.0.0.1: one Zammad, and one
    ticket in both regions."""
    first(dump, "cms.region", slug="augsburg")["fields"]["zammad_url"] = "http://127.0.0.1:3000"
    first(dump, "cms.region", slug="muenchen")["fields"]["zammad_url"] = "http://localhost:3000"
    _chat(dump, "last message 10 days ago")["fields"]["zammad_id"] = _chat(dump, "waiting for an answer")[
        "fields"
    ]["zammad_id"]


def _text_ticket(dump):
    _chat(dump, "waiting for an answer")["fields"]["zammad_id"] = "1"


def _bool_ticket(dump):
    _chat(dump, "waiting for an answer")["fields"]["zammad_id"] = True


def _bad_device(dump):
    _chat(dump, "waiting for an answer")["fields"]["device_id"] = "../../etc"


def _twice(dump):
    dump.append(json.loads(json.dumps(_chat(dump, "waiting for an answer"))))


def _shared_ticket(dump):
    _chat(dump, "answered by an agent")["fields"]["zammad_id"] = _chat(dump, "waiting for an answer")[
        "fields"
    ]["zammad_id"]


def _bad_time(dump):
    _chat(dump, "waiting for an answer")["fields"]["last_message_timestamp"] = "yesterday"


def _year_9999(dump):
    # It passed every check and raised "year 10000 is out of range" mid-write.
    _chat(dump, "waiting for an answer")["fields"]["last_message_timestamp"] = "9999-12-31T23:59:59Z"


def _in_2100(dump):
    # The retention would never close this chat.
    _chat(dump, "waiting for an answer")["fields"]["last_message_timestamp"] = "2100-01-01T00:00:00Z"


def _before_2000(dump):
    _chat(dump, "waiting for an answer")["fields"]["created_timestamp"] = "1970-01-01T00:00:00Z"


def _message_in_2100(dump):
    first(dump, "cms.chatmessage", sender=2)["fields"]["sent_datetime"] = "2100-01-01T00:00:00Z"


def _no_sender(dump):
    first(dump, "cms.chatmessage", sender=2)["fields"]["sender"] = 77


def _lone_surrogate(dump):
    next(r for r in dump if r["model"] == "cms.chatmessage" and r["pk"] == 5)["fields"]["text"] = (
        "Hallo \ud800"
    )


def _bad_region_slug(dump):
    first(dump, "cms.region", slug="augsburg")["fields"]["slug"] = "Augsburg Stadt"


def _bad_percentage(dump):
    first(dump, "cms.region", slug="augsburg")["fields"]["chat_beta_tester_percentage"] = 150


def _bad_draw(dump):
    first(dump, "cms.abtester")["fields"]["is_tester"] = "yes"


def _no_pk(dump):
    first(dump, "cms.abtester")["pk"] = "x"


def _not_a_record(dump):
    dump.append(["cms.userchat", 1])


TIMES = "its timestamps are not dates and times between 2000 and now"


@pytest.mark.parametrize(
    "change, record, reason",
    [
        (_bad_region, "cms.userchat 1", "its region 99 is not in the dump"),
        (_null_region, "cms.userchat 1", "its region None is not in the dump"),
        (_bad_language, "cms.userchat 1", "its language 42 is not in the dump"),
        (_text_ticket, "cms.userchat 1", "its zammad_id '1' is not a ticket id"),
        (_bool_ticket, "cms.userchat 1", "its zammad_id True is not a ticket id"),
        (_bad_device, "cms.userchat 1", "its device_id is not one the app sends"),
        (_twice, "cms.userchat 1", "the dump holds this record twice"),
        (_shared_ticket, "cms.userchat 2", "its ticket 1 is also the chat of cms.userchat 1"),
        (_bad_time, "cms.userchat 1", TIMES),
        (_true_region, "cms.userchat 1", "its region True is not in the dump"),
        (_true_language, "cms.userchat 1", "its language True is not in the dump"),
        (_huge_ticket, "cms.userchat 1", "its zammad_id %r is not a ticket id" % 10**39),
        (_bad_language_slug, "cms.language 3", "its slug is not a language's (de, zh-CN)"),
        (_two_regions_one_slug, "cms.region 2", "another region of the dump has its slug"),
        (_two_regions_one_slug, "cms.region 3", "another region of the dump has its slug"),
        (_one_ticket_under_two_names, "cms.userchat 4", "its ticket 1 is also the chat of cms.userchat 1"),
        (_year_9999, "cms.userchat 1", TIMES),
        (_in_2100, "cms.userchat 1", TIMES),
        (_before_2000, "cms.userchat 1", TIMES),
        (
            _message_in_2100,
            "cms.chatmessage 2",
            "its sent_datetime is not a date and time between 2000 and now",
        ),
        (_no_sender, "cms.chatmessage 2", "its sender 77 is not in the dump"),
        (
            _lone_surrogate,
            "cms.chatmessage 5",
            "its text or its sender's name is not a text of 1 to 10000 characters",
        ),
        (_bad_region_slug, "cms.region 1", "A region slug is 1-100 lower-case letters, digits, '-' or '_'."),
        (
            _bad_percentage,
            "cms.region 1",
            "chat_beta_tester_percentage must be a whole number from 0 to 100.",
        ),
        (_bad_draw, "cms.abtester 1", "its is_tester is not true or false"),
        (_no_pk, "cms.abtester x", "its pk is not a positive integer"),
        (_not_a_record, "record 39", "not a record of a Django dump"),
    ],
)
def test_each_bad_record_is_refused_by_name(change, record, reason):
    dump = recorded()
    change(dump)
    assert (record, reason) in [tuple(refusal) for refusal in read(dump).refused]


def test_a_model_the_import_does_not_read_is_skipped_and_counted():
    dump = recorded() + [
        {"model": "cms.page", "pk": 1, "fields": {}},
        {"model": "cms.page", "pk": 2, "fields": {}},
    ]
    read_back = read(dump)
    assert read_back.refused == [] and read_back.skipped[("", "other models", "cms.page")] == 2


def test_an_older_cms_without_last_message_timestamp_is_read():
    dump = recorded()
    for record in dump:
        if record["model"] == "cms.userchat":
            del record["fields"]["last_message_timestamp"]
        if record["model"] == "cms.region":
            del record["fields"]["zammad_privacy_policy"]  # a field added later
    read_back = read(dump)
    assert read_back.refused == [] and len(read_back.chats) == 6  # the start stands in
    assert "zammad_privacy_policy" not in read_back.regions["augsburg"].settings  # left as it is here
