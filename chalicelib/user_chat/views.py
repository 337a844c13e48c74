"""What the app receives (SPEC §4), as types: the wire shape in one place. Any change here
changes what the Integreat app reads; the OpenAPI document and the HTTP tests pin it."""

from typing import NotRequired, TypedDict


class AttachmentView(TypedDict):
    id: int  # Zammad's attachment id
    name: str
    type: str  # its MIME type
    size: int  # bytes
    url: str  # a path on this API: its signed, expiring download link (docs/files.md)


class MessageView(TypedDict):
    id: int  # the Zammad article id
    content: str  # safe HTML
    user_is_author: bool
    automatic_answer: bool
    role: str  # "user" or "agent"
    created_at: str
    attachments: NotRequired[list[AttachmentView]]  # only on a message with files


class ChatView(TypedDict):
    messages: list[MessageView]  # oldest first
    evaluation_consent: bool
    chatbot_typing: bool
    ticket_url: str
