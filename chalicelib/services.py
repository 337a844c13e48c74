"""The composition root: every service of one instance (a Lambda cold start, a WSGI
worker), built once, each handed what it uses. Handlers receive `Services` and reach each
service by a typed attribute, so "go to definition" leads from a route to its rules.

This is the one place that chooses the stores: `Services` takes them, and no constructor
below it falls back to DynamoDB by itself. `aws_services` is the deployed wiring (DynamoDB
tables, the SQS queue); the tests wire in-memory twins (tests/support/memory/) the same way."""

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from chalicelib.platform.config import Settings
from chalicelib.platform.events import AnswerStored, AuthorChatChanged, ChatChanged, ChatDeleted, Events
from chalicelib.platform.telemetry import EmfWriter, Sink
from chalicelib.rate_limit import RateLimiter
from chalicelib.regions.service import Regions
from chalicelib.regions.store import DynamoRegionTable, RegionCache, RegionTable
from chalicelib.storage.connection import bind_models
from chalicelib.storage.small_tables import (
    Counters,
    Draws,
    DynamoCounters,
    DynamoDraws,
    DynamoTicketDeletions,
    TicketDeletions,
)
from chalicelib.user_chat.service import UserChats
from chalicelib.user_chat.store import ChatStore

if TYPE_CHECKING:  # the interfaces, for the types only: a cold start needs none
    from chalicelib.attachments.service import Attachments
    from chalicelib.author_chat.service import AuthorChat
    from chalicelib.author_chat.store import AuthorMessages, AuthorVisits
    from chalicelib.chatbot.ledger import JobLedger
    from chalicelib.chatbot.queue import JobQueue
    from chalicelib.chatbot.service import Chatbot
    from chalicelib.platform.auth import Authenticator
    from chalicelib.push.service import Pushes
    from chalicelib.realtime.connections import Connections
    from chalicelib.realtime.service import Realtime
    from chalicelib.user_chat.ports import Chats
    from chalicelib.user_chat.service import LiveChats
    from chalicelib.webhook.deliveries import Deliveries
    from chalicelib.webhook.service import ZammadWebhook


class Stores(Protocol):
    """Every table, behind an interface with an in-memory twin in tests/support/memory/ that keeps
    the same promises (tests/contract)."""

    @property
    def regions(self) -> RegionTable: ...
    @property
    def chats(self) -> "Chats": ...
    @property
    def author_messages(self) -> "AuthorMessages": ...
    @property
    def author_visits(self) -> "AuthorVisits": ...
    @property
    def counters(self) -> Counters: ...
    @property
    def draws(self) -> Draws: ...
    @property
    def deliveries(self) -> "Deliveries": ...
    @property
    def chatbot_jobs(self) -> "JobLedger": ...
    @property
    def ticket_deletions(self) -> TicketDeletions: ...
    @property
    def connections(self) -> "Connections": ...


class DynamoStores:
    """The tables on DynamoDB. Those a poll never touches (the author chat's, the webhook's
    deliveries, the chatbot's, real time's) are made, their modules imported, on first use,
    as `Services` makes its parts."""

    def __init__(self, settings: Settings):
        # One shared, counted DynamoDB client; no I/O. A table imported later is bound on import.
        bind_models((), settings)
        self.regions: RegionTable = DynamoRegionTable()
        self.chats: Chats = ChatStore(settings)
        self.counters: Counters = DynamoCounters()
        self.draws: Draws = DynamoDraws()
        self.ticket_deletions: TicketDeletions = DynamoTicketDeletions()

    @functools.cached_property
    def author_messages(self) -> "AuthorMessages":
        from chalicelib.author_chat.store import DynamoAuthorMessages

        return DynamoAuthorMessages()

    @functools.cached_property
    def author_visits(self) -> "AuthorVisits":
        from chalicelib.author_chat.store import DynamoAuthorVisits

        return DynamoAuthorVisits()

    @functools.cached_property
    def deliveries(self) -> "Deliveries":
        from chalicelib.webhook.deliveries import DynamoDeliveries

        return DynamoDeliveries()

    @functools.cached_property
    def chatbot_jobs(self) -> "JobLedger":
        from chalicelib.chatbot.ledger import DynamoJobLedger

        return DynamoJobLedger()

    @functools.cached_property
    def connections(self) -> "Connections":
        from chalicelib.realtime.connections import DynamoConnections

        return DynamoConnections()


def metrics_sink(metrics: str) -> Sink | None:
    """Where the METRICS setting sends each invocation's figures (platform/telemetry.py)."""
    if metrics == "emf":
        return EmfWriter()
    if metrics == "prometheus":  # prometheus_client is a server dependency: never on Lambda
        from chalicelib.platform.prometheus import PrometheusSink

        return PrometheusSink()
    return None


def aws_services(
    settings: Settings, clock: Callable[[], float] = time.time, queue: "JobQueue | None" = None
) -> "Services":
    """The deployed wiring: the DynamoDB tables, and chatbot jobs on SQS (unless `queue`)."""
    return Services(settings, clock, DynamoStores(settings), queue)


class Services:
    """`clock` (epoch seconds) drives every business time: tests travel in time with it.
    `queue`: where chatbot jobs go (None: the chatbot's SQS queue).

    What a poll never needs (the chatbot and its queue, the webhook, the author chat, files,
    real time) is made on first use: a cold start imports and builds only the poll's part.
    There is one way of making a part on first use, a `cached_property` (here and in
    `DynamoStores`). A part that needs another before that one is made gets a getter of the
    other's property (`lambda: self.chatbot`), never the part itself."""

    def __init__(
        self, settings: Settings, clock: Callable[[], float], stores: Stores, queue: "JobQueue | None" = None
    ):
        self.settings = settings
        self.clock = clock
        self._stores = stores
        self.metrics = metrics_sink(settings.metrics)  # where each invocation's figures go
        self.rate_limiter = RateLimiter(settings, clock, stores.counters)
        self.regions = Regions(clock, stores.regions)
        self.region_cache = RegionCache(self.regions.find)
        # What the features tell each other: real time listens (docs/realtime.md), made on
        # the first event, so a cold start that stores nothing never loads it.
        self.events = Events()
        if settings.websocket_endpoint:
            self.events.subscribe(
                ChatChanged, lambda event: self.live_chats.changed(event.chat_key, self.realtime.chat_changed)
            )
            self.events.subscribe(ChatDeleted, lambda event: self.realtime.chat_deleted(event.chat_key))
            self.events.subscribe(
                AuthorChatChanged, lambda event: self.realtime.author_changed(event.change, event.message_id)
            )
        if settings.push_enabled:
            self.events.subscribe(
                AnswerStored, lambda event: self.pushes.answer_stored(event.chat, event.article_id)
            )
        self._queue = queue
        self.user_chats = UserChats(
            settings,
            clock=clock,
            chats=stores.chats,
            draws=stores.draws,
            ticket_deletions=stores.ticket_deletions,
            events=self.events,
            chatbot=lambda: self.chatbot,
            # Files (docs/files.md): made on first use, as a poll's links or a deletion need them.
            files=lambda: self.attachments if settings.attachment_bucket else None,
        )

    # Made on first use: most cold starts serve polls, which need none of these (import time).
    @functools.cached_property
    def auth(self) -> "Authenticator":
        """Bearer tokens: only the author chat's and the admin's routes ask for one."""
        from chalicelib.platform.auth import Authenticator

        return Authenticator(self.settings)

    @functools.cached_property
    def queue(self) -> "JobQueue":
        if self._queue is not None:
            return self._queue
        from chalicelib.chatbot.queue import SqsJobQueue

        return SqsJobQueue(self.settings)

    @functools.cached_property
    def chatbot(self) -> "Chatbot":
        from chalicelib.chatbot.service import Chatbot

        return Chatbot(
            self.settings,
            user_chats=self.user_chats,
            ledger=self._stores.chatbot_jobs,
            counters=self._stores.counters,
            queue=self.queue,
            find_region=self.regions.find,
            clock=self.clock,
        )

    @functools.cached_property
    def webhook(self) -> "ZammadWebhook":
        from chalicelib.webhook.service import ZammadWebhook

        stores = self._stores
        return ZammadWebhook(
            self.user_chats, self.region_cache, stores.regions, self.clock, stores.deliveries, self.chatbot,
        )  # fmt: skip

    @functools.cached_property
    def pushes(self) -> "Pushes":
        """Push (docs/push.md): targets are registered by requests, pushes sent by the worker."""
        from chalicelib.push.service import Pushes

        return Pushes(self.settings, self.user_chats, lambda: self.queue, self.clock)

    @functools.cached_property
    def author_chat(self) -> "AuthorChat":
        from chalicelib.author_chat.service import AuthorChat

        stores = self._stores
        return AuthorChat(
            self.settings, self.clock, stores.author_messages, stores.author_visits, self.events
        )

    @functools.cached_property
    def attachments(self) -> "Attachments":
        """Files (ATTACHMENT_BUCKET); S3 is reached by an adapter of its own, as Zammad is."""
        from chalicelib.attachments.bucket import FileBucket
        from chalicelib.attachments.service import Attachments

        bucket = FileBucket(self.settings) if self.settings.attachment_bucket else None
        return Attachments(self.settings, self.clock, bucket)

    @functools.cached_property
    def live_chats(self) -> "LiveChats":
        """What real time asks of the user chat (user_chat/live.py)."""
        return self.user_chats.live_chats(self.region_cache.get)

    @functools.cached_property
    def realtime(self) -> "Realtime":
        """The WebSocket channel's handlers and events (WEBSOCKET_ENDPOINT: where sends go)."""
        from chalicelib.realtime.sender import ManagementApiSender
        from chalicelib.realtime.service import Realtime

        settings = self.settings
        return Realtime(
            self._stores.connections,
            self._stores.counters,
            ManagementApiSender(settings) if settings.websocket_endpoint else None,
            self.auth,
            self.clock,
            chat_of=self.live_chats.chat_of,
            chat_etag=self.live_chats.etag,
            per_chat=settings.websocket_connections_per_chat,
            per_minute=settings.websocket_messages_per_minute,
            limit_client=self.rate_limiter.check_client,
            client_of=self.rate_limiter.client_of,
        )
