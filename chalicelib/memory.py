"""Every table's in-memory twin, in one `Stores`: `Services(settings, clock,
stores=memory_stores(settings))` runs the rules without DynamoDB (tests/contract shows the
twins keep the same promises). Not imported by the deployed entry points."""

from chalicelib.author_chat.store import MemoryAuthorMessages, MemoryAuthorVisits
from chalicelib.chatbot.ledger import MemoryJobLedger
from chalicelib.platform.config import Settings
from chalicelib.regions.store import MemoryRegionTable
from chalicelib.services import Stores
from chalicelib.storage.small_tables import MemoryCounters, MemoryDeliveries, MemoryDraws
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
    )
