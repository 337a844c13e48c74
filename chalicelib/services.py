"""The composition root: every service of one instance (a Lambda cold start, a WSGI
worker), built once, each handed what it uses. Handlers receive `Services` and reach each
service by a typed attribute, so "go to definition" leads from a route to its rules."""

import time
from collections.abc import Callable

from chalicelib.author_chat.service import AuthorChat
from chalicelib.platform.auth import Authenticator
from chalicelib.platform.config import Settings
from chalicelib.platform.rate_limit import RateLimiter
from chalicelib.regions.store import RegionCache, RegionStore
from chalicelib.storage.connection import bind_models
from chalicelib.storage.models import ALL_MODELS
from chalicelib.user_chat.service import UserChats
from chalicelib.user_chat.zammad import ZammadConnections
from chalicelib.webhook.service import ZammadWebhook


class Services:
    """`clock` (epoch seconds) drives every business time: tests travel in time with it."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time):
        bind_models(ALL_MODELS, settings)  # one shared, counted DynamoDB client
        self.settings = settings
        self.clock = clock
        self.auth = Authenticator(settings)
        self.rate_limiter = RateLimiter(settings, clock)
        self.regions = RegionStore(clock)
        self.region_cache = RegionCache(self.regions)
        self.zammad = ZammadConnections()
        self.user_chats = UserChats(settings, self.zammad, clock)
        self.webhook = ZammadWebhook(self.user_chats, self.region_cache, clock)
        self.author_chat = AuthorChat(settings, clock)
