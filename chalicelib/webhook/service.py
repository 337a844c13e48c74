"""Zammad's webhook (SPEC §4): Zammad tells us of each new article, so polls need not ask it.

A delivery is authenticated by the region's webhook token (in the URL, found through an
index) and by `X-Hub-Signature` (HMAC-SHA1 of the raw body with the region's secret, which
every region with a token has). Processing is idempotent: an article already stored is
not stored again, and a delivery id already processed is skipped. What an article does to
its chat is the user chat's (user_chat/learned_articles.py); an agent's reply it stored
may queue the chatbot's translation here.
"""

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from chalicelib.chatbot.service import Chatbot
from chalicelib.platform import telemetry, tracing
from chalicelib.platform.times import utc_datetime
from chalicelib.regions.rules import WEBHOOK_TOKEN
from chalicelib.regions.store import RegionCache, RegionTable
from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat.service import UserChats
from chalicelib.web.errors import BadRequest, Unauthorized
from chalicelib.webhook.deliveries import Deliveries

log = logging.getLogger("integreat_chat")

DELIVERY_MEMORY_DAYS = 7
_DELIVERY_ID = re.compile(r"^[\x21-\x7e]{1,200}\Z")
# Write `webhook_seen_at` (or `webhook_refused_at`) at most this often per region and instance.
_SEEN_REFRESH_SECONDS = 60


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    scheme, _, received = (header or "").partition("=")
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest().encode("ascii")
    # As bytes: compare_digest refuses str with non-ASCII characters (a forged header).
    return scheme == "sha1" and hmac.compare_digest(
        expected, received.strip().lower().encode("utf-8", "replace")
    )


def _signed(region: RegionRecord, body: bytes, signature: str | None) -> bool:
    secret = region.zammad_webhook_secret
    return bool(secret) and signature_valid(secret or "", body, signature)


class ZammadWebhook:
    def __init__(
        self,
        chats: UserChats,
        region_cache: RegionCache,
        region_table: RegionTable,
        clock: Callable[[], float],
        deliveries: Deliveries,
        chatbot: Chatbot | None = None,
    ):
        self._deliveries = deliveries
        self._chatbot = chatbot
        self._table = region_table
        self._user_chats = chats
        self._regions = region_cache
        self._clock = clock

    def authenticate(self, token: str | None, body: bytes, signature: str | None) -> RegionRecord:
        """The region whose webhook this is; 401 for a wrong token or signature (and for a
        region without a secret: a token alone, in a URL, is not enough to write chats)."""
        if not token or not re.match(WEBHOOK_TOKEN, token):
            raise Unauthorized("Invalid webhook token or signature.")
        hits = self._table.slugs_with_webhook_token(token)
        region = self._regions.get(hits[0]) if hits else None
        if region is None or not hmac.compare_digest(region.zammad_webhook_token or "", token):
            raise Unauthorized("Invalid webhook token or signature.")
        if not _signed(region, body, signature):
            # The secret may have been rotated since this instance cached the region.
            self._regions.forget(region.slug)
            fresh = self._regions.get(region.slug)
            if fresh is None or not hmac.compare_digest(fresh.zammad_webhook_token or "", token):
                raise Unauthorized("Invalid webhook token or signature.")
            if not _signed(fresh, body, signature):
                # The URL is the region's, so this may be its Zammad signing with a secret we
                # do not hold (changed there), or someone who has the URL's token: recorded,
                # with the article it claims, for `manage doctor` to ask Zammad which. A body
                # that names no article is not Zammad's delivery, and is not recorded.
                claimed = claimed_article(body)
                if claimed is not None:
                    self._mark_seen(fresh, verified=False, article=claimed)
                telemetry.count("WebhookRefusals")
                raise Unauthorized("Invalid webhook token or signature.")
            region = fresh
        return region

    def process(self, region: RegionRecord, payload: Any, delivery_id: str | None) -> list[str]:
        if delivery_id is not None and not _DELIVERY_ID.match(delivery_id):
            raise BadRequest("Invalid X-Zammad-Delivery.")
        delivery_key = "%s#%s" % (region.slug, delivery_id) if delivery_id else None
        if delivery_key and self._deliveries.seen(delivery_key):
            return ["delivery %s: already processed" % delivery_id]
        article = payload.get("article") if isinstance(payload, dict) else None
        # An article of ours (a message, the chatbot's answer) goes on with its own trace.
        with tracing.traced(tracing.from_article(article) or tracing.current()):
            actions = self._article(region, payload)
            log.info(json.dumps({"event": "webhook", "region": region.slug, "actions": actions}))
        if delivery_key:
            self._deliveries.remember(
                delivery_key, utc_datetime(self._clock() + DELIVERY_MEMORY_DAYS * 86400)
            )
        self._mark_seen(region)
        return actions

    def _article(self, region: RegionRecord, payload: Any) -> list[str]:
        if not isinstance(payload, dict) or not isinstance(payload.get("ticket"), dict):
            raise BadRequest("The payload must be an object with a ticket.")
        ticket, article = payload["ticket"], payload.get("article")
        ticket_id = ticket.get("id")
        if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
            raise BadRequest("ticket.id must be a number.")
        if not isinstance(article, dict) or not article:
            return ["no article: nothing to do"]
        learned = self._user_chats.learn_article(region, ticket, article)
        actions = [learned.action]
        chatbot = self._chatbot
        if learned.chat is None or learned.message is None or chatbot is None:
            return actions
        job = chatbot.reply_job(region, learned.chat, learned.message)
        if job is not None:
            chatbot.enqueue(learned.chat, job)
            actions.append("article %d: translation queued" % article["id"])
        return actions

    def _mark_seen(self, region: RegionRecord, verified: bool = True, article: str | None = None) -> None:
        """Polls of this region trust stored messages while verified deliveries keep coming;
        refused ones tell `doctor` that Zammad's secret is not ours."""
        now = self._clock()
        last = region.webhook_seen_at if verified else region.webhook_refused_at
        if last is not None and now - last < _SEEN_REFRESH_SECONDS:
            return
        if self._table.mark_webhook_seen(region.slug, now, verified, article):  # False: deleted meanwhile
            setattr(region, "webhook_seen_at" if verified else "webhook_refused_at", now)


def claimed_article(body: bytes) -> str | None:
    """ "<ticket id>/<article id>/<digest of the article's body>" as an unverified delivery
    names them, or None. The digest lets doctor tell Zammad's own article from a made-up one
    that guessed an article's id (ids count up)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    parts = []
    for name in ("ticket", "article"):
        found = payload.get(name)
        value = found.get("id") if isinstance(found, dict) else None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 10**12:
            return None
        parts.append(str(value))
    return "/".join([*parts, _article_digest(payload["article"].get("body"))])


def claimed_article_id(claim: str | None) -> int | None:
    """The article id a recorded claim names (None: no claim, or not one of ours)."""
    parts = (claim or "").split("/")
    return int(parts[1]) if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit() else None


def is_claimed(claim: str, article: dict[str, Any]) -> bool:
    """Whether Zammad's article (as its API gives it) is the one the claim describes."""
    ticket_id, _article_id, digest = claim.split("/")
    return str(article.get("ticket_id")) == ticket_id and _article_digest(article.get("body")) == digest


def _article_digest(body: object) -> str:
    text = body if isinstance(body, str) else ""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
