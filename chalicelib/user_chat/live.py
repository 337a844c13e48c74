"""What real time (chalicelib/realtime) asks of the user chat, so that neither it nor the
composition root knows the chat's rules: which chat a subscription names (the poll's own
checks), the ETag its poll answers with now (the poll's own digest), and that an event
reached the device's open app, which then counts as seen (no push for it: docs/push.md)."""

from collections.abc import Callable

from chalicelib.regions.rules import LANGUAGE_SLUG, chat_configured, listed
from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat.context import ChatContext
from chalicelib.user_chat.inputs import DEVICE_ID
from chalicelib.user_chat.records import chat_key
from chalicelib.user_chat.views import poll_answer


class LiveChats:
    def __init__(self, context: ChatContext, *, region_of: Callable[[str], RegionRecord | None]) -> None:
        self._context = context
        self._region_of = region_of
        self._push = context.settings.push_enabled  # with push off no chat has a target: nothing to mark

    def chat_of(self, region_slug: str, language: str, device_id: str) -> str | None:
        """The key of the chat a poll of these names would answer (None: it would be 404)."""
        if not (LANGUAGE_SLUG.match(language) and DEVICE_ID.match(device_id)):
            return None
        region = self._region_of(region_slug)
        if region is None or not listed(region) or not chat_configured(region):
            return None
        key = chat_key(region.slug, device_id)
        return key if self._context.current(key) is not None else None

    def etag(self, key: str) -> str | None:
        """The ETag the chat's poll answers with now."""
        region = self._region_of(key.partition("#")[0])
        # Strongly consistent, just after the write: a stale read could name the ETag a
        # client already has, and it would not poll.
        chat = self._context.current(key, consistent=True)
        if region is None or chat is None:
            return None
        return poll_answer(self._context.view(region, chat))[1]

    def changed(self, key: str, tell: Callable[[str], int]) -> None:
        """`tell` (real time's) sends the event to the chat's connections, and says to how
        many; an event that reached one counts as seen."""
        if tell(key) and self._push:
            chat = self._context.store.get(key)
            if chat is not None:
                self._context.seen(chat)
