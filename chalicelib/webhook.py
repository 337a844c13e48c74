"""Zammad's webhook (SPEC §4): Zammad tells us of each new article, so polls need not ask it.

A delivery is authenticated by the region's webhook token (in the URL, found through an
index) and, when the region has a secret, by `X-Hub-Signature` (HMAC-SHA1 of the raw body).
Processing is idempotent: an article already stored is not stored again, and a delivery
id already processed is skipped. Only agents' public articles are stored; the app user's
own ones are stored by the request that sent them.
"""
import hashlib
import hmac
import re
import time
from typing import Any, Callable, List, Optional

from pynamodb.exceptions import UpdateError

from .errors import BadRequest, ServiceUnavailable, Unauthorized
from .regions import RegionCache
from .storage.models import RegionRecord, StoredMessage, WebhookDeliveryRecord
from .times import utc_datetime
from .chat_store import ChatStore, chat_key, condition_failed
from .user_chat import article_message

DELIVERY_MEMORY_DAYS = 7
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,200}$")
_DELIVERY_ID = re.compile(r"^[\x21-\x7e]{1,200}$")
_TITLE = re.compile(r"^\[Integreat Chat\] \[[^\]]*\] ([A-Za-z0-9_-]{1,200})$")
_SEEN_REFRESH_SECONDS = 60  # write `webhook_seen_at` at most this often per region and instance


class ChatNotReady(ServiceUnavailable):
    """The ticket's chat is still being created: Zammad retries the delivery."""

    message = "The chat of this ticket is still being created; please retry."


def signature_valid(secret: str, body: bytes, header: Optional[str]) -> bool:
    scheme, _, received = (header or "").partition("=")
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()
    return scheme == "sha1" and hmac.compare_digest(expected, received.strip().lower())


class ZammadWebhook:
    def __init__(self, chats: ChatStore, region_cache: RegionCache,
                 clock: Callable[[], float] = time.time):
        self._chats = chats
        self._regions = region_cache
        self._clock = clock

    def authenticate(self, token: Optional[str], body: bytes, signature: Optional[str]) -> RegionRecord:
        """The region whose webhook this is; 401 for a wrong token or signature."""
        if not token or not _TOKEN.match(token):
            raise Unauthorized("Invalid webhook token or signature.")
        hits = list(RegionRecord.webhook_token_index.query(token, limit=1))
        region = self._regions.get(hits[0].slug) if hits else None
        if region is None or not hmac.compare_digest(region.zammad_webhook_token or "", token):
            raise Unauthorized("Invalid webhook token or signature.")
        if region.zammad_webhook_secret and not signature_valid(region.zammad_webhook_secret, body, signature):
            raise Unauthorized("Invalid webhook token or signature.")
        return region

    def process(self, region: RegionRecord, payload: Any, delivery_id: Optional[str]) -> List[str]:
        if delivery_id is not None and not _DELIVERY_ID.match(delivery_id):
            raise BadRequest("Invalid X-Zammad-Delivery.")
        delivery_key = "%s#%s" % (region.slug, delivery_id) if delivery_id else None
        if delivery_key and self._delivered(delivery_key):
            return ["delivery %s: already processed" % delivery_id]
        actions = self._article(region, payload)
        if delivery_key:
            WebhookDeliveryRecord(delivery_key, expires_at=utc_datetime(
                self._clock() + DELIVERY_MEMORY_DAYS * 86400)).save()
        self._mark_seen(region)
        return actions

    def _article(self, region: RegionRecord, payload: Any) -> List[str]:
        if not isinstance(payload, dict) or not isinstance(payload.get("ticket"), dict):
            raise BadRequest("The payload must be an object with a ticket.")
        ticket, article = payload["ticket"], payload.get("article")
        ticket_id = ticket.get("id")
        if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
            raise BadRequest("ticket.id must be a number.")
        if not isinstance(article, dict) or not article:
            return ["no article: nothing to do"]
        if not isinstance(article.get("id"), int):
            raise BadRequest("article.id must be a number.")
        sender = article.get("sender")
        if isinstance(sender, dict):  # some payload templates expand the sender object
            sender = sender.get("name")
        if article.get("internal"):
            return ["article %d: internal, skipped" % article["id"]]
        if sender == "Customer":
            return ["article %d: the app user's own, already stored" % article["id"]]
        chat = self._find_chat(region, ticket_id, ticket.get("title"))
        if chat is None:
            return ["ticket %d: no chat of this region has it, ignored" % ticket_id]
        if not chat.messages_stored:
            return ["article %d: chat too long to store, read from Zammad" % article["id"]]
        try:
            message = StoredMessage(**article_message(dict(article, sender=sender)))
        except (KeyError, TypeError, ValueError):
            raise BadRequest("The article is malformed.") from None
        if self._chats.add_message(chat, message):
            return ["article %d: agent message stored" % article["id"]]
        return ["article %d: already stored" % article["id"]]

    def _find_chat(self, region: RegionRecord, ticket_id: int, title: Any):
        chat = self._chats.find_by_ticket(region.slug, ticket_id)
        if chat is not None:
            return chat
        # Just opened (the index lags a little) or still being created: go by the title.
        match = _TITLE.match(title) if isinstance(title, str) else None
        if match is None:
            return None
        chat = self._chats.get(chat_key(region.slug, match.group(1)))
        if chat is not None and chat.state == "creating":
            raise ChatNotReady()
        if chat is not None and chat.ticket_id == ticket_id:
            return chat
        return None

    @staticmethod
    def _delivered(delivery_key: str) -> bool:
        try:
            WebhookDeliveryRecord.get(delivery_key)
            return True
        except WebhookDeliveryRecord.DoesNotExist:
            return False

    def _mark_seen(self, region: RegionRecord) -> None:
        """Polls of this region trust stored messages while deliveries keep coming."""
        now = self._clock()
        if region.webhook_seen_at is not None and now - region.webhook_seen_at < _SEEN_REFRESH_SECONDS:
            return
        try:
            RegionRecord(region.slug).update(actions=[RegionRecord.webhook_seen_at.set(now)],
                                             condition=RegionRecord.slug.exists())
        except UpdateError as error:
            if condition_failed(error):
                return  # the region was deleted meanwhile
            raise
        region.webhook_seen_at = now
