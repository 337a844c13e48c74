"""What CMS authors receive (SPEC §5), as types: the wire shape in one place."""

from typing import TypedDict


class SenderView(TypedDict):
    id: str
    name: str
    email: str


class AuthorMessageView(TypedDict):
    id: str  # "<send time, ms, 13 digits>-<8 hex>"
    text: str
    sent_at: str  # ISO 8601 UTC
    sender: SenderView
    unread: bool
    can_delete: bool


class HistoryView(TypedDict):
    messages: list[AuthorMessageView]  # newest first
    unread_count: int
    last_visited_at: str | None
    history_days: int
    next_cursor: str | None


class ReadView(TypedDict):
    last_visited_at: str
    previous_visited_at: str | None


class DeletedView(TypedDict):
    success: bool
    status: str
