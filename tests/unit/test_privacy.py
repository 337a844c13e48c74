"""The parts of "nothing personal in logs" that need no server (docs/privacy.md)."""

import logging

import pytest

from chalicelib.platform.logs import chat_digest, configure_logging
from tests.conftest import assert_nothing_personal


def test_the_log_check_finds_each_kind_of_personal_data():
    assert_nothing_personal(
        '{"event": "request", "route": "/api/v3/{region}/...", "request_id": "ab12cd34ef56"}'
    )
    assert_nothing_personal("Serving on http://127.0.0.1:8000")  # the server's own address
    for line in (
        '{"path": "/api/v3/a/de/chat/0f8fad5b-d9cb-469f-a165-70867728950e/"}',
        "Connection pool is full, discarding connection: 10.1.2.3",
        "Authorization: Bearer abc",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0",
    ):
        with pytest.raises(AssertionError):
            assert_nothing_personal(line)
    with pytest.raises(AssertionError):
        assert_nothing_personal("the message was: Hallo Amira", "Amira")


def test_a_chat_digest_is_stable_keyed_and_not_the_device_id():
    one = chat_digest("region-token", "augsburg#0f8fad5b-d9cb-469f-a165-70867728950e")
    assert one == chat_digest("region-token", "augsburg#0f8fad5b-d9cb-469f-a165-70867728950e")
    assert one != chat_digest("another-token", "augsburg#0f8fad5b-d9cb-469f-a165-70867728950e")
    assert len(one) == 16 and "0f8fad5b" not in one


def test_urllib3_does_not_log_urls():
    configure_logging()
    assert logging.getLogger("urllib3").getEffectiveLevel() >= logging.ERROR


def test_a_region_states_one_number_for_its_privacy_text():
    from datetime import UTC, datetime

    from chalicelib.regions.rules import check_changes, public_view
    from chalicelib.storage.models import RegionRecord
    from chalicelib.web.errors import BadRequest

    record = RegionRecord("augsburg", name="Augsburg", updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    view = public_view(record, close_days=30)
    assert (view["retention_delete_days"], view["data_deleted_within_days"]) == (None, 121)  # 30 + 90 + a day
    record.retention_delete_days = 0
    assert public_view(record, close_days=30)["data_deleted_within_days"] == 31
    assert check_changes({"retention_delete_days": 10, "zammad_deletes_tickets": True})
    for bad in (
        {"retention_delete_days": -1},
        {"retention_delete_days": "9"},
        {"zammad_deletes_tickets": "yes"},
    ):
        with pytest.raises(BadRequest):
            check_changes(bad)


def test_the_widget_page_may_reach_only_the_configured_websocket_channel():
    from chalicelib.author_chat.widget import serve
    from chalicelib.platform.config import ConfigError, load_settings

    csp = serve("index.html", "'self'", "wss://ws.example.org/api").headers["Content-Security-Policy"]
    assert "connect-src 'self' wss://ws.example.org/api;" in csp
    assert "connect-src 'self';" in serve("index.html", "'self'").headers["Content-Security-Policy"]
    for bad in ("https://x", "wss://x; script-src *", "wss://x 'unsafe-inline'"):
        with pytest.raises(ConfigError, match="WEBSOCKET_URL"):
            load_settings({"WEBSOCKET_URL": bad})
