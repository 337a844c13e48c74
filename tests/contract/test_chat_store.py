"""The user-chat store's promises, kept alike by `ChatStore` on moto and on DynamoDB Local
and by its in-memory twin: claims, leases, send marks, the messages' version, and that no
write brings back a chat that is gone."""

import pytest

from chalicelib.platform.config import load_settings
from chalicelib.storage.connection import bind_models
from chalicelib.storage.models import entries
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.user_chat.records import NewChat, StoredMessage, chat_key
from chalicelib.user_chat.store import ChatGone, ChatStore
from tests.conftest import unique_prefix
from tests.support.memory.chat_store import MemoryChatStore

NOW = 1_800_000_000.0
KEY = chat_key("augsburg", "device-1")


@pytest.fixture(params=["memory", "moto", "dynamodb-local"])
def chats(request):
    settings = load_settings({"CHAT_TABLE_PREFIX": unique_prefix()})
    if request.param == "memory":
        return MemoryChatStore(settings)
    endpoint = request.getfixturevalue("moto_server" if request.param == "moto" else "dynamodb_local")
    bind_models(ALL_MODELS, settings._replace(dynamodb_endpoint=endpoint))
    create_tables(ALL_MODELS)
    return ChatStore(settings)


def message(article_id, content="hi", role="user"):
    return {"id": article_id, "content": content, "role": role, "automatic_answer": False, "created_at": ""}


def opened(chats, ticket_id=7):
    claim = chats.claim(NewChat(KEY, "de", None, "tfirst"), None, NOW, lease_seconds=15)
    chats.open(claim, ticket_id, [message(1, "first")], NOW, fetched_at=NOW)
    return chats.get(KEY)


def contents(chat):
    return [m.content for m in chat.messages]


def test_one_claim_wins_and_a_withdrawn_claim_leaves_nothing(chats):
    claim = chats.claim(NewChat(KEY, "de", True, "tmark"), None, NOW, lease_seconds=15)
    assert (claim.state, claim.generation, claim.creating_mark) == ("creating", 1, "tmark")
    assert chats.claim(NewChat(KEY, "de", True, "tother"), None, NOW, lease_seconds=15) is None
    assert chats.get(KEY).lease_id == claim.lease_id
    assert chats.withdraw(claim) is True
    assert chats.get(KEY) is None
    assert chats.withdraw(claim) is False


def test_open_needs_the_lease_and_records_the_first_message(chats):
    claim = chats.claim(NewChat(KEY, "de", None, "tfirst"), None, NOW, lease_seconds=15)
    chats.leave_uncertain(claim, NOW + 1)
    assert chats.get(KEY).state == "uncertain"
    chats.open(claim, 7, [message(1, "first")], NOW, fetched_at=NOW)
    chat = chats.get(KEY)
    assert (chat.state, chat.ticket_id, chat.lease_id, contents(chat)) == ("open", 7, None, ["first"])
    assert entries(chat.sent) == {"tfirst": NOW}
    assert chats.find_by_ticket("augsburg", 7).chat_key == KEY
    assert chats.find_by_ticket("augsburg", 8) is None
    stale = claim
    stale.lease_id = "someone-else"
    with pytest.raises(ChatGone):
        chats.open(stale, 9, [], NOW, fetched_at=NOW)


def test_a_later_claim_replaces_an_expired_chat_by_generation(chats):
    chat = opened(chats)
    again = chats.claim(NewChat(KEY, "en", None, "tnew"), chat, NOW + 99, lease_seconds=15)
    assert again.generation == 2
    assert chats.claim(NewChat(KEY, "en", None, "tnewer"), chat, NOW + 99, lease_seconds=15) is None


def test_a_send_mark_is_held_by_one_request_at_a_time(chats):
    chat = opened(chats)
    other = chats.get(KEY)
    assert chats.begin_send(chat, "tyes", NOW, until=NOW + 15, sent_before=NOW - 5) is True
    assert chats.begin_send(other, "tyes", NOW + 1, until=NOW + 16, sent_before=NOW - 4) is False  # in flight
    assert (
        chats.begin_send(other, "tno", NOW + 1, until=NOW + 16, sent_before=NOW - 4) is True
    )  # another message
    assert (
        chats.begin_send(other, "tyes", NOW + 20, until=NOW + 35, sent_before=NOW + 15) is True
    )  # the lease ran out
    chats.finish_send(chat, "tyes", message(2, "yes"), NOW + 21, "en", True)
    stored = chats.get(KEY)
    assert contents(stored) == ["first", "yes"] and contents(chat) == ["first", "yes"]
    assert "tyes" not in entries(stored.sending) and entries(stored.sent)["tyes"] == NOW + 21
    assert (stored.language, stored.evaluation_consent, stored.last_activity) == ("en", True, NOW + 21)


def test_a_message_sent_a_moment_ago_is_not_sent_again_even_from_a_stale_read(chats):
    chat = opened(chats)
    stale = chats.get(KEY)  # a second request read the chat before the first finished
    assert chats.begin_send(chat, "tyes", NOW, until=NOW + 15, sent_before=NOW - 5)
    chats.finish_send(chat, "tyes", message(2, "yes"), NOW + 1, "de", None)
    assert chats.begin_send(stale, "tyes", NOW + 2, until=NOW + 17, sent_before=NOW - 3) is False
    assert (
        chats.begin_send(stale, "tyes", NOW + 9, until=NOW + 24, sent_before=NOW + 4) is True
    )  # later: again
    assert chats.begin_send(chat, "kkey", NOW, until=NOW + 15, sent_before=None)
    chats.finish_send(chat, "kkey", message(3, "keyed"), NOW + 1, "de", None)
    assert chats.begin_send(stale, "kkey", NOW + 9999, until=NOW + 10_014, sent_before=None) is False


def test_an_unanswered_send_is_remembered_with_where_to_look(chats):
    chat = opened(chats)
    assert chats.begin_send(chat, "tmaybe", NOW, until=NOW + 15, sent_before=NOW - 5)
    chats.abandon_send(chat, "tmaybe", unanswered_after=1)
    stored = chats.get(KEY)
    assert entries(stored.unanswered) == {"tmaybe": 1} and "tmaybe" not in entries(stored.sending)
    found = [StoredMessage(**message(1, "first")), StoredMessage(**message(2, "maybe"))]
    chats.replace_messages(stored, found, NOW + 1, settled_mark="tmaybe")
    settled = chats.get(KEY)
    assert entries(settled.unanswered) == {} and "tmaybe" in entries(settled.sent)
    assert contents(settled) == ["first", "maybe"]


def test_a_refresh_loses_to_a_change_made_meanwhile(chats):
    chat = opened(chats)
    stale = chats.get(KEY)
    assert chats.add_message(chat, StoredMessage(**message(5, "agent", "agent"))) is True
    assert chats.add_message(chat, StoredMessage(**message(5, "agent", "agent"))) is False  # known id
    chats.replace_messages(stale, [StoredMessage(**message(1, "first"))], NOW + 5)
    assert contents(chats.get(KEY)) == ["first", "agent"]  # the webhook's message stays


def test_nothing_brings_back_a_chat_that_is_gone(chats):
    chat = opened(chats)
    assert chats.begin_send(chat, "tlate", NOW, until=NOW + 15, sent_before=NOW - 5)
    chats.forget(chats.get(KEY))
    with pytest.raises(ChatGone):
        chats.finish_send(chat, "tlate", message(3, "late"), NOW + 1, "de", None)
    chats.abandon_send(chat, "tlate")
    chats.replace_messages(chat, [], NOW + 1)
    assert chats.add_message(chat, StoredMessage(**message(4))) is False
    chats.leave_uncertain(chat, NOW)
    assert chats.get(KEY) is None
    with pytest.raises(ChatGone):
        chats.begin_send(chat, "tother", NOW, until=NOW + 15, sent_before=NOW - 5)


def test_a_chat_outgrowing_the_item_stops_being_stored(chats):
    chat = opened(chats)
    for index in range(45):  # ~10 KB each: past DynamoDB's 400 KB
        chats.finish_send(chat, "t%d" % index, message(10 + index, "x" * 10_000), NOW + index, "de", None)
    stored = chats.get(KEY)
    assert stored.messages_stored is False and stored.messages == []


def test_a_chatbot_job_is_carried_by_the_chat_until_it_finishes(chats):
    claim = chats.claim(
        NewChat(KEY, "en", None, "tfirst", automatic_answers=True), None, NOW, lease_seconds=15
    )
    chats.open(claim, 7, [message(1, "first")], NOW, fetched_at=NOW, bot_job="job-1")
    chat = chats.get(KEY)
    assert chat.automatic_answers is True and entries(chat.bot_jobs) == {"job-1": NOW}
    chats.begin_send(chat, "tsecond", NOW + 1, NOW + 20, sent_before=None)
    chats.finish_send(chat, "tsecond", message(2, "second"), NOW + 1, "en", None, bot_job="job-2")
    assert entries(chats.get(KEY).bot_jobs) == {"job-1": NOW, "job-2": NOW + 1}
    answer = dict(message(3, "answer", role="agent"), automatic_answer=True)
    chats.finish_bot_job(chat, "job-1", answer, handover=False)
    chats.finish_bot_job(chat, "job-1", answer, handover=False)  # a redelivery: nothing twice
    chat = chats.get(KEY)
    assert entries(chat.bot_jobs) == {"job-2": NOW + 1}
    assert contents(chat) == ["first", "second", "answer"] and chat.messages[2].automatic_answer
    chats.finish_bot_job(chat, "job-2", None, handover=True)
    chat = chats.get(KEY)
    assert entries(chat.bot_jobs) == {} and chat.automatic_answers is False
    chats.forget(chat)
    with pytest.raises(ChatGone):
        chats.finish_bot_job(chat, None, message(4, "late", role="agent"), handover=False)
    assert chats.get(KEY) is None


def test_inactive_chats_are_read_by_region_then_forgotten_unless_active_again(chats):
    opened(chats)
    other = chats.claim(
        NewChat(chat_key("berlin", "device-2"), "de", None, "t"), None, NOW - 100, lease_seconds=1
    )
    (chat,) = chats.inactive("augsburg", NOW + 1)
    assert chat.chat_key == KEY and chat.ticket_id is not None
    assert chats.inactive("augsburg", NOW) == [] and chats.inactive("bonn", NOW + 1) == []
    assert chats.forget_if_inactive(chat, NOW) is False  # active since: kept
    assert chats.forget_if_inactive(chat, NOW + 1) is True
    assert chats.get(KEY) is None and chats.get(other.chat_key) is not None


def test_the_chats_active_since_come_whole_most_recent_first(chats):
    """Whole items, not what the activity index projects (its keys): compare-cms asked the
    real CMS for language "None" when it read the language off an index hit."""
    opened(chats)
    later = chats.claim(
        NewChat(chat_key("augsburg", "device-2"), "ar", None, "t2"), None, NOW + 50, lease_seconds=15
    )
    chats.open(later, 8, [message(1, "marhaba")], NOW + 50, fetched_at=NOW + 50)
    chats.claim(NewChat(chat_key("berlin", "device-3"), "de", None, "t3"), None, NOW + 60, lease_seconds=15)
    found = chats.active_since("augsburg", NOW - 10)
    assert [(c.chat_key, c.language, c.ticket_id) for c in found] == [
        (chat_key("augsburg", "device-2"), "ar", 8),
        (KEY, "de", 7),
    ]
    assert [c.chat_key for c in chats.active_since("augsburg", NOW - 10, limit=1)] == [later.chat_key]
    assert chats.active_since("augsburg", NOW + 50) == []
    skipped = chats.active_since("augsburg", NOW - 10, skip=lambda key: key == later.chat_key)
    assert [c.chat_key for c in skipped] == [KEY]


FCM_TARGET = {"kind": "fcm", "token": "fcm-token-of-device-1-abcdefgh"}


def test_a_push_target_is_kept_only_on_an_open_chat_and_replaced_only_while_it_is_the_same(chats):
    chat = opened(chats)
    assert chats.set_push_target(chat, FCM_TARGET, NOW) is True
    assert entries(chats.get(KEY).push_target) == FCM_TARGET
    other = {"kind": "fcm", "token": "fcm-token-registered-meanwhile"}
    assert chats.set_push_target(chats.get(KEY), other, NOW) is True
    # The old target found gone removes nothing: the device registered another meanwhile.
    assert chats.set_push_target(chats.get(KEY), None, NOW, only_if=FCM_TARGET) is False
    assert entries(chats.get(KEY).push_target) == other
    assert chats.set_push_target(chats.get(KEY), None, NOW, only_if=other) is True
    assert chats.get(KEY).push_target is None
    held = chats.get(KEY)
    assert chats.begin_deletion(held, NOW, NOW + 30) is True
    assert chats.set_push_target(chats.get(KEY), FCM_TARGET, NOW) is False  # being deleted


def test_one_push_is_claimed_per_answer_and_none_for_an_answer_a_poll_showed(chats):
    chat = opened(chats)
    assert chats.claim_push(chat, 2, NOW) is True
    assert chats.claim_push(chats.get(KEY), 2, NOW) is False  # a job delivered twice
    assert chats.claim_push(chats.get(KEY), 3, NOW) is True  # a later answer
    chats.mark_seen(chats.get(KEY), 5)
    chats.mark_seen(chats.get(KEY), 4)  # an older poll's answer does not go back
    assert chats.get(KEY).push_seen == 5
    assert chats.claim_push(chats.get(KEY), 5, NOW) is False  # seen
    stale = chats.get(KEY)
    chats.forget(chats.get(KEY))
    chats.mark_seen(stale, 9)  # gone: no write brings it back
    assert chats.claim_push(stale, 9, NOW) is False and chats.get(KEY) is None
