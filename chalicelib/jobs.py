"""Scheduled work, as plain functions of the services: Chalice schedules them in AWS
(app.py), `python -m functions.jobs` runs them anywhere else. Each reports what it did and
is safe to run twice or at the same time as itself (deletes are idempotent or conditional).

DynamoDB's TTL deletes expired items in AWS and in DynamoDB Local, but late (days), and moto
(`make dev`) never does; reads check expiry themselves. These jobs delete the two kinds of
data the spec names, by key-range queries: author messages past the window, and user chats
past their retention. The small bookkeeping tables (rate-limit counters, webhook delivery
ids, is_chat_enabled draws) are left to TTL alone.
"""

from collections.abc import Callable
from typing import Any

from chalicelib.services import Services


def purge_author_messages(services: Services) -> dict[str, Any]:
    return {"job": "purge-author-messages", "deleted": services.author_chat.purge_expired()}


def forget_expired_chats(services: Services) -> dict[str, Any]:
    inactive_since = services.clock() - services.user_chats.store.retention_seconds
    regions = [region.slug for region in services.regions.list()]
    forgotten = sum(services.user_chats.store.forget_inactive(slug, inactive_since) for slug in regions)
    return {"job": "forget-expired-chats", "regions": len(regions), "forgotten": forgotten}


JOBS: dict[str, Callable[[Services], dict[str, Any]]] = {
    "purge-author-messages": purge_author_messages,
    "forget-expired-chats": forget_expired_chats,
}
