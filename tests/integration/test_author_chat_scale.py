"""The author history window on Amazon's DynamoDB Local, at scale."""

import time

from chalicelib.api import ChatApi
from chalicelib.author_chat.store import AuthorMessageRecord
from chalicelib.platform.auth import Principal
from chalicelib.platform.config import load_settings
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from tests.conftest import unique_prefix
from tests.support import author_history


def test_the_history_query_reads_only_the_window(dynamodb_local):
    settings = load_settings(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local,
            "CHAT_TABLE_PREFIX": unique_prefix(),
            "AUTHOR_CHAT_HISTORY_DAYS": "7",
        }
    )
    now = time.time()
    api = ChatApi(aws_services(settings, clock=lambda: now))
    create_tables(ALL_MODELS)
    author_history.seed(now, old=3_000, recent=50, window_days=7)  # make bench: 10,000

    page, next_id, scanned = api.services.author_chat.read_page(50, None)
    assert (len(page), next_id, scanned) == (50, None, 50)
    page, next_id, scanned = api.services.author_chat.read_page(20, None)
    assert (len(page), scanned) == (20, 21)  # one more than asked tells there is a next page

    reader = Principal("bob", "Bob", "", ("author",))
    history = api.services.author_chat.history(reader, 100, None)
    assert len(history["messages"]) == 50 and history["next_cursor"] is None
    assert history["unread_count"] == 50

    # The scheduled purge removes what is past the window with a key-range query.
    assert api.services.author_chat.purge_expired() == 3_000
    assert AuthorMessageRecord.count("room") == 50
