"""One contract, three engines: every store interface keeps the same promises in memory,
on moto and on Amazon's DynamoDB Local. The in-memory twins are what the offline tier runs
the rules on; this suite is why that is honest."""

import threading
from datetime import UTC, datetime

import pytest

from chalicelib.author_chat.store import AuthorMessageRecord, DuplicateMessage
from chalicelib.platform.config import load_settings
from chalicelib.services import DynamoStores
from chalicelib.storage.models import RegionRecord
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from tests.conftest import unique_prefix
from tests.support.memory import memory_stores

LATER = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "moto", "dynamodb-local"])
def stores(request):
    if request.param == "memory":
        return memory_stores(load_settings({}))
    endpoint = request.getfixturevalue("moto_server" if request.param == "moto" else "dynamodb_local")
    settings = load_settings({"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "CHAT_TABLE_PREFIX": unique_prefix()})
    stores = DynamoStores(settings)  # binds the models to these tables
    create_tables(ALL_MODELS)
    return stores


def message(message_id, sender="alice"):
    return AuthorMessageRecord(
        "room", message_id, text="text of " + message_id, sender_id=sender, sender_name=sender.title(),
        sender_email="", sent_at=LATER, expires_at=LATER,
    )  # fmt: skip


def ids(records):
    return [record.message_id for record in records]


def test_author_messages_are_a_key_range(stores):
    messages = stores.author_messages
    for index, sender in enumerate(["alice", "bob", "alice", "carol", "bob"]):
        messages.add(message("%013d-0000000%d" % (1000 + index, index), sender))
    every = ["0000000001004-00000004", "0000000001003-00000003", "0000000001002-00000002",
             "0000000001001-00000001", "0000000001000-00000000"]  # fmt: skip
    assert ids(messages.page("0", None, 10)[0]) == every  # newest first
    page, read = messages.page("0", None, 2)
    assert ids(page) == every[:2] and read == 2
    assert ids(messages.page("0", every[1], 2)[0]) == every[2:4]  # strictly below
    assert ids(messages.page(every[2], None, 10)[0]) == every[:2]  # strictly above
    assert messages.count("0", not_sender="alice") == 3
    assert messages.count(every[2], not_sender="bob") == 1
    assert messages.get(every[0]).text == "text of " + every[0]
    assert messages.get("0000000009999-00000000") is None
    with pytest.raises(DuplicateMessage):
        messages.add(message(every[0]))
    messages.delete(every[0])
    messages.delete(every[0])  # deleting what is gone is fine
    assert messages.get(every[0]) is None
    assert messages.purge(every[2]) == 2
    assert ids(messages.page("0", None, 10)[0]) == every[1:3]


def test_author_visits(stores):
    visits = stores.author_visits
    assert visits.last_visit("alice") is None
    visits.record_visit("alice", datetime(2026, 11, 27, 10, 0, 0, 123000, tzinfo=UTC))
    visits.record_visit("alice", LATER)
    assert visits.last_visit("alice") == LATER
    assert visits.last_visit("bob") is None


def test_counters_count_atomically(stores):
    counters = stores.counters
    assert [counters.increment("a#0", LATER) for _ in range(3)] == [1, 2, 3]
    assert counters.increment("b#0", LATER) == 1
    seen = []
    threads = [
        threading.Thread(target=lambda: seen.append(counters.increment("c#0", LATER))) for _ in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 11))


def test_a_draw_is_made_once(stores):
    draws = stores.draws
    assert draws.get("r#device") is None
    assert draws.draw_once("r#device", True, LATER) is True
    assert draws.draw_once("r#device", False, LATER) is True  # the first one stays
    assert draws.get("r#device") is True
    assert draws.draw_once("r#other", False, LATER) is False


def test_deliveries_are_remembered(stores):
    deliveries = stores.deliveries
    assert not deliveries.seen("r#d1")
    deliveries.remember("r#d1", LATER)
    deliveries.remember("r#d1", LATER)
    assert deliveries.seen("r#d1") and not deliveries.seen("r#d2")


def test_regions_are_found_by_slug_and_by_webhook_token(stores):
    table = stores.regions
    assert table.find("augsburg") is None and table.all() == []
    for slug, token in (("berlin", None), ("augsburg", "t" * 20)):
        table.save(RegionRecord(slug, name=slug.title(), updated_at=LATER, zammad_webhook_token=token))
    found = table.find("augsburg")
    assert (found.name, found.zammad_webhook_token, found.updated_at) == ("Augsburg", "t" * 20, LATER)
    found.name = "changed, not saved"
    assert table.find("augsburg").name == "Augsburg"  # a copy, as DynamoDB gives
    assert [record.slug for record in table.all()] == ["augsburg", "berlin"]
    assert table.slugs_with_webhook_token("t" * 20) == ["augsburg"]
    assert table.slugs_with_webhook_token("u" * 20) == []
    assert table.mark_webhook_seen("augsburg", 1_800_000_000.5) is True
    assert table.find("augsburg").webhook_seen_at == 1_800_000_000.5
    assert table.mark_webhook_seen("augsburg", 1_800_000_060.0, verified=False) is True
    found = table.find("augsburg")
    assert (found.webhook_seen_at, found.webhook_refused_at) == (1_800_000_000.5, 1_800_000_060.0)
    table.delete("berlin")
    assert table.mark_webhook_seen("berlin", 1.0) is False
    assert table.find("berlin") is None  # not recreated by the update


@pytest.mark.parametrize("stores", ["memory", "dynamodb-local"], indirect=True)
def test_copies_of_a_chatbot_job_that_begin_at_once_get_one_lease(stores):
    # Not on moto: its conditional update is not atomic between threads (seen as two leases
    # in one of a few runs); the conditional write itself is one DynamoDB call.
    now, start = 1_800_000_000.0, threading.Barrier(8)
    leases = []

    def begin():
        start.wait()
        leases.append(stores.chatbot_jobs.begin("job-at-once", now, now + 60, LATER))

    copies = [threading.Thread(target=begin) for _ in range(8)]
    for copy in copies:
        copy.start()
    for copy in copies:
        copy.join()
    assert sorted(leases, key=repr) == [(False, None)] + [None] * 7


def test_a_chatbot_job_is_taken_once_and_resumed_where_it_stopped(stores):
    ledger, now = stores.chatbot_jobs, 1_800_000_000.0
    assert ledger.begin("job-1", now, now + 60, LATER) == (False, None)
    assert ledger.begin("job-1", now + 1, now + 61, LATER) is None  # leased to the first
    ledger.noted("job-1")
    ledger.posting("job-1", 41)
    ledger.release("job-1")  # the first failed: a redelivery takes it over at once
    assert ledger.begin("job-1", now + 2, now + 62, LATER) == (True, 41)
    assert ledger.begin("job-1", now + 100, now + 160, LATER) == (True, 41)  # lease ran out
    ledger.done("job-1")
    assert ledger.begin("job-1", now + 1000, now + 1060, LATER) is None
    assert ledger.begin("job-2", now, now + 60, LATER) == (False, None)


def test_counters_add_amounts_and_read_back(stores):
    counters = stores.counters
    assert counters.value("words#a") == 0
    assert counters.increment("words#a", LATER, amount=12) == 12
    assert counters.increment("words#a", LATER, amount=3) == 15
    assert counters.value("words#a") == 15


def test_what_the_cms_lists_is_recorded_and_nothing_else_is_touched(stores):
    regions, now = stores.regions, 1_800_000_000.0
    secret = RegionRecord("augsburg", name="A", zammad_access_token="kept", updated_at=LATER)
    regions.save(secret)
    regions.sync_from_cms("augsburg", "Stadt Augsburg", True, "https://a.example/privacy", now)
    regions.sync_from_cms("neu", "Neustadt", False, None, now)
    augsburg, neu = regions.find("augsburg"), regions.find("neu")
    assert (augsburg.name, augsburg.zammad_access_token, augsburg.zammad_privacy_policy) == (
        "Stadt Augsburg",
        "kept",
        "https://a.example/privacy",
    )
    assert (augsburg.cms_listed, augsburg.cms_chat_enabled, augsburg.cms_synced_at) == (True, True, now)
    assert (neu.name, neu.cms_chat_enabled, neu.integreat_chat_enabled, neu.updated_at is not None) == (
        "Neustadt",
        False,
        False,
        True,
    )
    regions.mark_unlisted("augsburg", now + 1)
    regions.mark_unlisted("gone", now + 1)  # never recreates a region
    assert regions.find("augsburg").cms_listed is False and regions.find("gone") is None


def test_a_draw_can_be_forgotten_once(stores):
    stores.draws.draw_once("augsburg#device-1", True, LATER)
    assert stores.draws.forget("augsburg#device-1") is True
    assert stores.draws.get("augsburg#device-1") is None
    assert stores.draws.forget("augsburg#device-1") is False  # nothing left: a second delete finds nothing


def test_one_zammad_setup_holds_a_region_at_a_time(stores):
    regions, now = stores.regions, 1_800_000_000.0
    regions.save(RegionRecord("augsburg", name="A", updated_at=LATER))
    assert regions.take_setup_lease("augsburg", now, now + 120)
    assert not regions.take_setup_lease("augsburg", now + 1, now + 121)  # the other setup waits
    assert regions.take_setup_lease("augsburg", now + 121, now + 241)  # one that died is taken over
    regions.end_setup_lease("augsburg")
    assert regions.find("augsburg").zammad_setup_until is None
    assert regions.take_setup_lease("augsburg", now + 122, now + 242)
    assert not regions.take_setup_lease("gone", now, now + 120)  # never makes a region
    regions.end_setup_lease("gone")
    assert regions.find("gone") is None


def test_ticket_deletions_come_due_by_region_and_time(stores):
    deletions = stores.ticket_deletions
    deletions.schedule("augsburg", 7, 1000.0, LATER)
    deletions.schedule("augsburg", 8, 2000.0, LATER)
    deletions.schedule("berlin", 9, 500.0, LATER)
    assert deletions.due("augsburg", 999) == []
    assert deletions.due("augsburg", 1500) == [7]
    assert deletions.due("augsburg", 2000) == [7, 8]  # oldest first
    deletions.done("augsburg", 7)
    assert deletions.due("augsburg", 5000) == [8] and deletions.due("berlin", 5000) == [9]


NOW = LATER.timestamp() - 3600


def test_connections_are_found_by_channel_and_forgotten_once(stores):
    connections = stores.connections
    assert connections.add("c1", "chat:a", LATER, "chat:a", 5, NOW)
    assert connections.add("c2", "chat:a", LATER, "chat:a", 5, NOW)
    assert connections.add("c3", "author", LATER, "author:alice", 5, NOW)
    assert sorted(connections.of_channel("chat:a")) == ["c1", "c2"]
    assert connections.remove("c1") is True and connections.remove("c1") is False
    assert connections.of_channel("chat:a") == ["c2"] and connections.of_channel("chat:b") == []


def test_a_groups_places_are_limited_freed_and_moved(stores):
    connections = stores.connections
    assert [connections.add(c, "author", LATER, "author:alice", 2, NOW) for c in ("a1", "a2", "a3")] == [
        True,
        True,
        False,
    ]
    assert connections.add("b1", "author", LATER, "author:bob", 2, NOW)  # each author their own
    assert connections.add("a1", "author", LATER, "author:alice", 2, NOW)  # its own place again
    assert connections.remove("a2") and connections.add("a3", "author", LATER, "author:alice", 2, NOW)
    assert connections.add("a1", "chat:x", LATER, "chat:x", 2, NOW)  # moved: its old place is free
    assert connections.add("a4", "author", LATER, "author:alice", 2, NOW)
    assert sorted(connections.of_channel("author")) == ["a3", "a4", "b1"]
    # Places of connections that ended without a word (past their time) are taken again.
    assert not connections.add("a5", "author", LATER, "author:alice", 2, NOW)
    assert connections.add("a5", "author", LATER, "author:alice", 2, LATER.timestamp() + 1)


def test_simultaneous_subscriptions_never_pass_the_limit(stores):
    """Twelve at once for five places: five (a count, then a write, let six or more in)."""
    from concurrent.futures import ThreadPoolExecutor

    def subscribe(number):
        return stores.connections.add("c%d" % number, "chat:busy", LATER, "chat:busy", 5, NOW)

    with ThreadPoolExecutor(max_workers=12) as pool:
        taken = list(pool.map(subscribe, range(12)))
    assert taken.count(True) == 5 and len(stores.connections.of_channel("chat:busy")) == 5
