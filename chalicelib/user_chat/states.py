"""The life of a chat item (the `state` attribute of `UserChatRecord`)."""

from enum import StrEnum


class ChatState(StrEnum):
    # A request is creating the ticket, under its lease; others wait for it.
    CREATING = "creating"
    # Creating the ticket went unanswered: Zammad may have made it. Settled by finding the
    # ticket (Zammad's search, or its webhook) or, after a while, by ruling it out.
    UNCERTAIN = "uncertain"
    # The chat has its ticket.
    OPEN = "open"
