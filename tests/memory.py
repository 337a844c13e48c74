"""Every table's in-memory twin, in one `Stores`, and the services wired on them: the rules
without DynamoDB (tests/contract shows the twins keep the same promises). The twins live
beside their stores in chalicelib/; only the tests assemble them."""

import time
from collections.abc import Callable

from chalicelib.author_chat.store import MemoryAuthorMessages, MemoryAuthorVisits
from chalicelib.chatbot.ledger import MemoryJobLedger
from chalicelib.chatbot.queue import JobQueue, MemoryJobQueue
from chalicelib.platform.config import Settings
from chalicelib.realtime.connections import MemoryConnections
from chalicelib.regions.store import MemoryRegionTable
from chalicelib.services import Services, Stores
from chalicelib.storage.small_tables import (
    MemoryCounters,
    MemoryDeliveries,
    MemoryDraws,
    MemoryTicketDeletions,
)
from chalicelib.user_chat.memory_store import MemoryChatStore


def memory_stores(settings: Settings) -> Stores:
    return Stores(
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
