"""The composition root: every service of one instance (a Lambda cold start, a WSGI
worker), built once, each handed what it uses. Handlers receive `Services` and reach each
service by a typed attribute, so "go to definition" leads from a route to its rules.

This is the one place that chooses the stores: `Services` takes them, and no constructor
below it falls back to DynamoDB by itself. `aws_services` is the deployed wiring (DynamoDB
tables, the SQS queue); the tests wire in-memory twins (tests/memory.py) the same way."""

import time
from collections.abc import Callable
from typing import NamedTuple

from chalicelib.attachments.bucket import FileBucket
from chalicelib.attachments.service import Attachments
from chalicelib.author_chat.service import AuthorChat
from chalicelib.author_chat.store import (
    AuthorMessages,
    AuthorVisits,
    DynamoAuthorMessages,
    DynamoAuthorVisits,
)
from chalicelib.chatbot.ledger import DynamoJobLedger, JobLedger
from chalicelib.chatbot.queue import JobQueue, SqsJobQueue
from chalicelib.chatbot.service import Chatbot
from chalicelib.platform.auth import Authenticator
from chalicelib.platform.config import Settings
from chalicelib.rate_limit import RateLimiter
from chalicelib.regions.service import Regions
from chalicelib.regions.store import DynamoRegionTable, RegionCache, RegionTable
from chalicelib.storage.connection import bind_models
from chalicelib.storage.models import ALL_MODELS
from chalicelib.storage.small_tables import (
    Counters,
    Deliveries,
    Draws,
    DynamoCounters,
    DynamoDeliveries,
    DynamoDraws,
    DynamoTicketDeletions,
    TicketDeletions,
)
from chalicelib.user_chat.service import UserChats
from chalicelib.user_chat.store import Chats, ChatStore
from chalicelib.user_chat.zammad import ZammadConnections
from chalicelib.webhook.service import ZammadWebhook


class Stores(NamedTuple):
    """Every table, behind an interface with an in-memory twin that keeps the same promises
    (tests/contract)."""

    regions: RegionTable
    chats: Chats
    author_messages: AuthorMessages
    author_visits: AuthorVisits
    counters: Counters
    draws: Draws
    deliveries: Deliveries
    chatbot_jobs: JobLedger
    ticket_deletions: TicketDeletions


def dynamo_stores(settings: Settings) -> Stores:
    bind_models(ALL_MODELS, settings)  # one shared, counted DynamoDB client; no I/O
    return Stores(
        DynamoRegionTable(),
        ChatStore(settings),
        DynamoAuthorMessages(),
        DynamoAuthorVisits(),
        DynamoCounters(),
        DynamoDraws(),
        DynamoDeliveries(),
        DynamoJobLedger(),
        DynamoTicketDeletions(),
    )


def aws_services(
    settings: Settings, clock: Callable[[], float] = time.time, queue: JobQueue | None = None
) -> "Services":
    """The deployed wiring: the DynamoDB tables, and chatbot jobs on SQS (unless `queue`)."""
    return Services(settings, clock, dynamo_stores(settings), queue or SqsJobQueue(settings))


class Services:
    """`clock` (epoch seconds) drives every business time: tests travel in time with it.
    `queue`: where chatbot jobs go."""

    def __init__(self, settings: Settings, clock: Callable[[], float], stores: Stores, queue: JobQueue):
        self.settings = settings
        self.clock = clock
        self.auth = Authenticator(settings)
        self.rate_limiter = RateLimiter(settings, clock, stores.counters)
        self.regions = Regions(clock, stores.regions)
        self.region_cache = RegionCache(self.regions.find)
        self.zammad = ZammadConnections()
        self.user_chats = UserChats(
            settings, self.zammad, clock, stores.draws, stores.chats, stores.ticket_deletions
        )
        self.queue = queue
        self.chatbot = Chatbot(
            settings,
            stores.chats,
            stores.chatbot_jobs,
            stores.counters,
            self.queue,
            self.zammad,
            self.regions.find,
            clock,
        )
        self.user_chats.chatbot = self.chatbot
        # Files, when a bucket is configured (ATTACHMENT_BUCKET); S3 is reached as Zammad
        # is, by an adapter of its own, made on first use.
        bucket = FileBucket(settings) if settings.attachment_bucket else None
        self.attachments = Attachments(settings, clock, bucket)
        self.user_chats.attachments = self.attachments
        self.webhook = ZammadWebhook(
            self.user_chats, self.region_cache, stores.regions, clock, stores.deliveries
        )
        self.author_chat = AuthorChat(settings, clock, stores.author_messages, stores.author_visits)
