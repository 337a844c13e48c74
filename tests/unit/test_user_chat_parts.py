"""The user chat's pure parts, with no table and no Zammad: send marks, titles, and how
a ticket is recognised as the one an unanswered creation made."""

from datetime import UTC, datetime

import pytest

from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat.marks import KEY_MARK_SECONDS, RESEND_GRACE_SECONDS, TEXT_MARK_SECONDS, SendMark
from chalicelib.user_chat.records import UserChatRecord
from chalicelib.user_chat.states import ChatState
from chalicelib.user_chat.tickets import (
    SETTLE_CLOCK_MARGIN_SECONDS,
    device_of_title,
    id_of,
    made_for,
    ticket_title,
)
from chalicelib.web.errors import BadGateway

NOW = 1_800_000_000.0


def test_a_mark_names_its_kind_and_the_same_input_gives_the_same_mark():
    text, key = SendMark.of("yes", None), SendMark.of("yes", "key-1")
    assert text.startswith("t") and not text.of_key
    assert key.startswith("k") and key.of_key
    assert text == SendMark.of("yes", None) and text != SendMark.of("no", None)
    assert key == SendMark.of("other text", "key-1")  # the key decides, not the text
    assert len(text) == len(key) == 41


def test_a_text_may_be_sent_again_after_the_grace_a_key_never():
    text, key = SendMark.of("yes", None), SendMark.of("yes", "key-1")
    assert text.repeat_after(NOW) == NOW - RESEND_GRACE_SECONDS
    assert key.repeat_after(NOW) is None


def test_a_stored_mark_read_back_as_a_string_keeps_its_rules():
    stored = str(SendMark.of("yes", "key-1"))  # as DynamoDB gives it back
    assert SendMark(stored).kept_seconds == KEY_MARK_SECONDS
    assert SendMark(str(SendMark.of("yes", None))).kept_seconds == TEXT_MARK_SECONDS
    assert not SendMark(stored).expired(NOW - KEY_MARK_SECONDS, NOW)
    assert SendMark(stored).expired(NOW - KEY_MARK_SECONDS - 1, NOW)


def test_chat_states_are_stored_as_their_names():
    assert [state.value for state in ChatState] == ["creating", "uncertain", "open"]
    assert ChatState.OPEN == "open"  # what older items hold compares equal


@pytest.mark.parametrize("device_id", ["3f1c7a52-1b0e-4c39", "a", "with] bracket"])
def test_a_title_gives_back_its_device(device_id):
    assert device_of_title(ticket_title("de", device_id)) == device_id.rpartition("] ")[2]


@pytest.mark.parametrize("title", [None, 7, "", "Another ticket", "[Integreat Chat] [de] "])
def test_a_title_not_ours_gives_no_device(title):
    assert device_of_title(title) is None


def _ticket(**fields):
    created = datetime.fromtimestamp(NOW, UTC).isoformat().replace("+00:00", "Z")
    return {
        "id": 9,
        "title": ticket_title("de", "dev"),
        "region_slug": "augsburg",
        "created_at": created,
    } | fields


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, True),
        ({"region_slug": None}, True),  # a Zammad without the attribute
        ({"region_slug": "berlin"}, False),
        ({"title": ticket_title("en", "dev")}, False),
        ({"id": "9"}, False),
        ({"created_at": "yesterday"}, False),
        ({"created_at": "2020-01-01T00:00:00Z"}, False),  # an expired chat's ticket
    ],
)
def test_a_ticket_is_the_claims_only_with_its_title_region_and_a_later_time(fields, expected):
    chat = UserChatRecord("augsburg#dev", language="de", claimed_at=NOW + SETTLE_CLOCK_MARGIN_SECONDS - 1)
    region = RegionRecord("augsburg")
    assert made_for(_ticket(**fields), chat, ticket_title("de", "dev"), region) is expected


@pytest.mark.parametrize("answer", [None, [], {}, {"id": "1"}, {"id": None}])
def test_a_write_answered_without_an_id_is_502(answer):
    with pytest.raises(BadGateway):
        id_of(answer)
    assert id_of({"id": 3}) == 3
