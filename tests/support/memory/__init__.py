"""Every table's in-memory twin, in one `Stores`, and the services wired on them: the rules
without DynamoDB (tests/contract shows the twins keep the same promises). The twins live
here, not in chalicelib/: they never ship in a deployment package (tests/integration/test_package.py)."""

import time
from collections.abc import Callable
from typing import NamedTuple

from chalicelib.chatbot.queue import JobQueue
from chalicelib.platform.config import Settings
from chalicelib.services import Services
from tests.support.memory.author_chat import MemoryAuthorMessages, MemoryAuthorVisits
from tests.support.memory.chat_store import MemoryChatStore
from tests.support.memory.chatbot import MemoryJobLedger, MemoryJobQueue
from tests.support.memory.connections import MemoryConnections
from tests.support.memory.regions import MemoryRegionTable
from tests.support.memory.small_tables import (
    MemoryCounters,
    MemoryDeliveries,
    MemoryDraws,
    MemoryTicketDeletions,
)


class MemoryStores(NamedTuple):
    """The twins, one per table: services.Stores, made at once (nothing here is costly to make)."""

    regions: MemoryRegionTable
    chats: MemoryChatStore
    author_messages: MemoryAuthorMessages
    author_visits: MemoryAuthorVisits
    counters: MemoryCounters
    draws: MemoryDraws
    deliveries: MemoryDeliveries
    chatbot_jobs: MemoryJobLedger
    ticket_deletions: MemoryTicketDeletions
    connections: MemoryConnections


def memory_stores(settings: Settings) -> MemoryStores:
    return MemoryStores(
        MemoryRegionTable(),
        MemoryChatStore(settings),
        MemoryAuthorMessages(),
        MemoryAuthorVisits(),
        MemoryCounters(),
        MemoryDraws(),
        MemoryDeliveries(),
        MemoryJobLedger(),
        MemoryTicketDeletions(),
        MemoryConnections(),
    )


def memory_services(
    settings: Settings, clock: Callable[[], float] = time.time, queue: JobQueue | None = None
) -> Services:
    return Services(settings, clock, memory_stores(settings), queue or MemoryJobQueue())
