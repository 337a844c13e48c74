"""A person's chat, deleted on request (docs/privacy.md, "Delete on request"): the device
id is their only credential, so whoever holds it may delete the chat it names, and only it.

Zammad first, then ours: the ticket gets an internal note and is closed (or deleted, where
the region allows it, `zammad_deletes_tickets`), in one call; only then do our chat item,
its files and its `is_chat_enabled` draw go. A Zammad that fails leaves everything in place
for the retry (502/504), so nothing is left half deleted; a ticket Zammad already deleted
is no obstacle. Deleting again finds nothing: 404.

The note is the ticket's last article: the deletion begins only while no write to the
ticket is in flight (a message being sent, the chatbot posting; else 503 "busy", try again
a moment later), and once it has begun no write begins (store.py, `begin_deletion`).
"""

import json
import logging
from collections.abc import Callable

from chalicelib.platform.logs import chat_digest
from chalicelib.regions.rules import chat_configured
from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat.articles import new_article
from chalicelib.user_chat.context import ChatContext
from chalicelib.user_chat.opening import Opening
from chalicelib.user_chat.records import chat_key
from chalicelib.user_chat.states import ChatState
from chalicelib.user_chat.zammad import TicketGone, ZammadClient
from chalicelib.web.errors import Busy

log = logging.getLogger("integreat_chat")
DELETED_NOTE_SUBJECT = "Integreat Chat: deleted on request"
DELETED_NOTE = (
    "<p>The person deleted this chat in the Integreat app. Integreat Chat no longer holds "
    "it, and no further message can reach them here.</p>"
)


class Deletion:
    def __init__(self, context: ChatContext, opening: Opening):
        self._context = context
        self._opening = opening

    def delete(self, region: RegionRecord, device_id: str, forget_draw: Callable[[str], bool]) -> bool:
        """Delete the device's chat in the region; False when nothing was stored."""
        context = self._context
        key = chat_key(region.slug, device_id)
        chat = context.store.get(key)
        if chat is not None and chat.state == ChatState.CREATING and chat.lease_until > context.clock():
            raise Busy()  # its ticket is being made right now: delete it a moment later
        if chat is not None and chat.state == ChatState.UNCERTAIN and chat_configured(region):
            chat = self._opening.settle(region, context.zammad(region), chat, device_id)  # may be 504
        if chat is not None and chat.ticket_id and chat_configured(region):
            now = context.clock()
            if not context.store.begin_deletion(chat, now, now + context.lease_seconds()):
                raise Busy()  # a message or the chatbot is writing to the ticket right now
            try:
                retire_ticket(
                    region, context.zammad(region), int(chat.ticket_id), DELETED_NOTE_SUBJECT, DELETED_NOTE
                )
            except BaseException:
                context.store.end_deletion(chat)  # nothing deleted: writes may go on
                raise
        if chat is not None:
            context.store.forget(chat)
        # Files are deleted in any case; what the answer says (200 or 404) is whether there
        # was a chat or a draw: an upload that arrives late is deleted on arrival (files.md).
        files = context.attachments.forget(key) if context.attachments is not None else 0
        drawn = forget_draw(key)
        deleted = chat is not None or drawn
        if deleted:  # for the operator's record of requests; the chat by a keyed digest only
            digest = chat_digest(region.zammad_access_token or region.slug, key)
            ticket = (
                "none"
                if chat is None or not chat.ticket_id
                else "deleted"
                if region.zammad_deletes_tickets
                else "closed"
            )
            log.info(
                json.dumps(
                    {
                        "event": "chat_deleted",
                        "region": region.slug,
                        "chat_digest": digest,
                        "ticket": ticket,
                        "files": files,
                    }
                )
            )
        return deleted


def retire_ticket(
    region: RegionRecord, zammad: ZammadClient, ticket_id: int, subject: str, note: str
) -> None:
    """Close the ticket with an internal note, or delete it where the region lets its
    token; a ticket already gone is fine."""
    try:
        if region.zammad_deletes_tickets:
            zammad.delete_ticket(ticket_id)
        else:
            close_ticket(zammad, ticket_id, subject, note)
    except TicketGone:
        pass


def close_ticket(zammad: ZammadClient, ticket_id: int, subject: str, note: str) -> None:
    """Closed, with the internal note that says why, in one call (Zammad adds an `article`
    given with a ticket's update)."""
    article = new_article(note, "Agent", subject, internal=True)
    zammad.update_ticket(ticket_id, {"state": "closed", "article": article})
