"""A chat's Zammad ticket: its title, and how a ticket made by a creation that went
unanswered is recognised as this chat's (by Zammad's search, or by its webhook)."""

from datetime import datetime
from typing import Any

from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat.records import UserChatRecord
from chalicelib.user_chat.zammad import ZammadClient
from chalicelib.web.errors import BadGateway

# Tagged on a ticket for Zammad's own scheduler to delete, where our token may not delete
# (the retention; manage zammad-setup makes the scheduler's job).
DELETE_TAG = "integreat-chat-delete"
# A ticket found by its title is this chat's only if made after the claim (less this
# margin for clocks); an older one with the same title belongs to an expired chat.
SETTLE_CLOCK_MARGIN_SECONDS = 600


def ticket_title(language: str, device_id: str) -> str:
    return "[Integreat Chat] [%s] %s" % (language, device_id)


def device_of_title(title: Any) -> str | None:
    """The device id of a title we made, or None."""
    if not isinstance(title, str) or not title.startswith("[Integreat Chat] ["):
        return None
    _, _, device_id = title.rpartition("] ")
    return device_id or None


def made_for(ticket: dict[str, Any], chat: UserChatRecord, title: str, region: RegionRecord) -> bool:
    """Whether Zammad's ticket is the one this chat's claim created."""
    if ticket.get("title") != title or ticket.get("region_slug") not in (None, region.slug):
        return False
    if not isinstance(ticket.get("id"), int):
        return False
    try:
        created = datetime.fromisoformat(str(ticket.get("created_at")).replace("Z", "+00:00"))
    except ValueError:
        return False
    return created.timestamp() >= (chat.claimed_at or 0) - SETTLE_CLOCK_MARGIN_SECONDS


def find_made_ticket(
    zammad: ZammadClient, region: RegionRecord, chat: UserChatRecord, device_id: str
) -> dict[str, Any] | None:
    """The newest ticket Zammad's search finds that this chat's claim created, if any."""
    title = ticket_title(chat.language, device_id)
    newest = None
    for ticket in zammad.search_tickets(device_id):
        if (
            isinstance(ticket, dict)
            and made_for(ticket, chat, title, region)
            and (newest is None or ticket["id"] > newest["id"])
        ):
            newest = ticket
    return newest


def id_of(answer: Any) -> int:
    """The id in Zammad's answer to a write (a ticket or an article); 502 without one."""
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), int):
        raise BadGateway()
    return answer["id"]
